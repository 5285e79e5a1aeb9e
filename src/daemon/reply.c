/*
 * Building and serialising replies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "sealflow/buf.h"
#include "sealflow/secret.h"

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

/* Appends the compact JSON text of v (or null for NULL) to b. Dumps
 * straight into the buffer, growing it once when the first guess was
 * short, rather than through jansson's own growing string. */
static sf_status put_json(struct sf_buf *b, const json_t *v)
{
    size_t room;
    size_t n;

    if (v == NULL) {
        return sf_buf_append(b, "null", 4);
    }
    if (sf_buf_reserve(b, 256) != SF_OK) {
        return SF_ERR_NOMEM;
    }
    room = b->cap - b->len - 1;
    n = json_dumpb(v, (char *)b->data + b->len, room, JSON_OUT);
    if (n > room) {
        /* A cut dump may hold part of a secret past len, which the
         * buffer would not wipe when it grows. */
        sf_wipe(b->data + b->len, room);
        if (sf_buf_reserve(b, n) != SF_OK) {
            return SF_ERR_NOMEM;
        }
        n = json_dumpb(v, (char *)b->data + b->len, n, JSON_OUT);
    }
    if (n == 0) {
        sf_wipe(b->data + b->len, b->cap - b->len);
        return SF_ERR_NOMEM;
    }
    b->len += n;
    return SF_OK;
}

/* Vault's envelope around data, written as text: the envelope's own
 * members are fixed, and request_id holds only hex digits and dashes. */
static sf_status put_envelope(struct sf_buf *b, const struct sfd_reply *r,
                              const char *request_id)
{
    sf_status rc;

    rc = sf_buf_put_str(b, "{\"request_id\":\"");
    if (rc == SF_OK) {
        rc = sf_buf_put_str(b, request_id);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(b, "\",\"lease_id\":\"\",\"renewable\":false,"
                            "\"lease_duration\":0,\"data\":");
    }
    if (rc == SF_OK) {
        rc = put_json(b, r->data);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(b, ",\"wrap_info\":null,\"warnings\":");
    }
    if (rc == SF_OK) {
        rc = put_json(b, r->warnings);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(b, ",\"auth\":null}");
    }
    return rc;
}

static json_t *errors(const struct sfd_reply *r)
{
    if (r->is_bare_404) {
        return json_pack("{s:[]}", "errors");
    }
    return json_pack("{s:[s]}", "errors", r->error);
}

/* The JSON body of the reply into b. */
static sf_status put_reply(struct sf_buf *b, const struct sfd_reply *r,
                           const char *request_id)
{
    json_t *doc;
    sf_status rc;

    if (r->has_error || r->is_bare_404) {
        doc = errors(r);
        rc = doc == NULL ? SF_ERR_NOMEM : put_json(b, doc);
        json_decref(doc);
        return rc;
    }
    if (r->body != NULL) {
        return put_json(b, r->body);
    }
    return put_envelope(b, r, request_id);
}

void sfd_reply_render(const struct sfd_reply *r, const char *request_id,
                      char **out, size_t *out_len, const char **ctype)
{
    struct sf_buf b = SF_BUF_INIT;

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
    /* The text may hold plaintext or a data key: on failure it is wiped
     * with the buffer; on success the caller wipes it when it frees it. */
    if (put_reply(&b, r, request_id) != SF_OK ||
            sf_buf_terminate(&b) != SF_OK) {
        sf_buf_free(&b);
        return;
    }
    *out = (char *)b.data;
    *out_len = b.len;
}
