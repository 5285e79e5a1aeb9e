/*
 * Building and serialising replies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define JSON_OUT (JSON_COMPACT | JSON_PRESERVE_ORDER)

void sfd_reply_error(struct sfd_reply *r, unsigned status, const char *fmt,
                     ...)
{
    va_list ap;

    json_decref(r->data);
    r->data = NULL;
    r->status = status;
    r->has_error = true;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

unsigned sfd_http_status(sf_status rc)
{
    switch (rc) {
    case SF_OK:
        return 200;
    case SF_ERR_DENIED:
        return 403;
    case SF_ERR_UNAVAILABLE:
    case SF_ERR_TIMEOUT:
        return 503;
    case SF_ERR_NOMEM:
    case SF_ERR_CRYPTO:
    case SF_ERR_STORE:
    case SF_ERR_IO:
    case SF_ERR_ROOT_KEY:
    case SF_ERR_REMOTE:
    case SF_ERR_INTERNAL:
        return 500;
    default:
        return 400;
    }
}

void sfd_reply_status(struct sfd_reply *r, sf_status rc)
{
    const char *why = sf_last_error();

    if (why[0] == '\0') {
        why = sf_status_str(rc);
    }
    sfd_reply_error(r, sfd_http_status(rc), "%s", why);
}

void sfd_reply_data(struct sfd_reply *r, json_t *data)
{
    json_decref(r->data);
    r->data = data;
    r->status = 200;
    r->has_error = false;
}

void sfd_reply_warn(struct sfd_reply *r, const char *text)
{
    if (r->warnings == NULL) {
        r->warnings = json_array();
    }
    if (r->warnings != NULL) {
        json_array_append_new(r->warnings, json_string(text));
    }
}

void sfd_reply_empty(struct sfd_reply *r)
{
    json_decref(r->data);
    r->data = NULL;
    r->status = 204;
    r->has_error = false;
}

void sfd_reply_clear(struct sfd_reply *r)
{
    json_decref(r->data);
    json_decref(r->body);
    json_decref(r->warnings);
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* Vault's envelope around data. */
static json_t *envelope(const struct sfd_reply *r, const char *request_id)
{
    return json_pack("{s:s, s:s, s:b, s:i, s:O?, s:n, s:O?, s:n}",
                     "request_id", request_id, "lease_id", "", "renewable",
                     0, "lease_duration", 0, "data", r->data, "wrap_info",
                     "warnings", r->warnings, "auth");
}

static json_t *errors(const struct sfd_reply *r)
{
    if (r->is_bare_404) {
        return json_pack("{s:[]}", "errors");
    }
    return json_pack("{s:[s]}", "errors", r->error);
}

void sfd_reply_render(const struct sfd_reply *r, const char *request_id,
                      char **out, size_t *out_len, const char **ctype)
{
    json_t *doc;

    *out = NULL;
    *out_len = 0;
    *ctype = "application/json";
    if (r->status == 204) {
        return;
    }
    if (r->text != NULL) {
        *out = strdup(r->text);
        *out_len = *out == NULL ? 0 : strlen(*out);
        *ctype = r->content_type;
        return;
    }
    if (r->has_error || r->is_bare_404) {
        doc = errors(r);
    } else if (r->body != NULL) {
        doc = json_incref(r->body);
    } else {
        doc = envelope(r, request_id);
    }
    *out = doc == NULL ? NULL : json_dumps(doc, JSON_OUT);
    *out_len = *out == NULL ? 0 : strlen(*out);
    json_decref(doc);
}
