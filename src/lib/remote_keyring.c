#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "recipient.h"
#include "remote_internal.h"

/* ---- recipient: wrap with the encrypt endpoint -------------------------- */

struct remote_recipient {
    struct sf_remote *r;
    char name[SF_REMOTE_NAME_MAX + 1];
};

/*
 * The DEK goes to the service's encrypt endpoint with no context or
 * associated data: not every service supports associated data (Vault only
 * for some key types and versions), and none is needed. The stanza is
 * bound to its header all the same, because the DEK is fresh for this
 * message and the key commitment and header MAC, both derived from it,
 * cover every header byte: a stanza moved into another message yields a
 * DEK that fails that message's commitment.
 */
static sf_status remote_wrap(void *impl, const struct sf_wrap_request *req,
                             struct sf_wrapped *out)
{
    struct remote_recipient *x = impl;

    out->type = SF_STANZA_REMOTE;
    snprintf(out->key_id, sizeof out->key_id, "%s%s", SF_REMOTE_PREFIX,
             x->name);
    return sf_remote_encrypt(x->r, x->name, req->dek, SF_DEK_LEN, &out->body,
                             &out->version);
}

static void plain_free(void *impl)
{
    free(impl);
}

static const struct sf_recipient_ops remote_recipient_ops = {remote_wrap,
                                                             plain_free};

sf_status sf_recipient_remote(struct sf_remote *r, const char *name,
                              struct sf_recipient **out)
{
    struct remote_recipient *x;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (r == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    x = calloc(1, sizeof *x);
    if (x == NULL) {
        return SF_ERR_NOMEM;
    }
    x->r = r;
    rc = sf_remote_name(name, x->name);
    if (rc != SF_OK) {
        free(x);
        return rc;
    }
    return sf_recipient_new(&remote_recipient_ops, x, out);
}

/* ---- identity: unwrap with the decrypt endpoint ------------------------- */

struct remote_identity {
    struct sf_remote *r;
};

/* Copies NAME out of a "kms:NAME" key id; false for any other id. */
static bool stanza_name(const struct sf_stanza *st,
                        char name[SF_KEY_ID_MAX + 1])
{
    static const size_t plen = sizeof SF_REMOTE_PREFIX - 1;

    if (st->type != SF_STANZA_REMOTE || st->key_id_len <= plen ||
        memcmp(st->key_id, SF_REMOTE_PREFIX, plen) != 0) {
        return false;
    }
    memcpy(name, st->key_id + plen, st->key_id_len - plen);
    name[st->key_id_len - plen] = '\0';
    return true;
}

static sf_status remote_unwrap(void *impl, const struct sf_stanza *st,
                               const uint8_t *prefix, size_t prefix_len,
                               struct sf_secret **dek)
{
    struct remote_identity *x = impl;
    const char *body = (const char *)st->body;
    char raw[SF_KEY_ID_MAX + 1];
    char name[SF_REMOTE_NAME_MAX + 1];
    uint32_t version;
    sf_status rc;

    (void)prefix;
    (void)prefix_len;
    if (!stanza_name(st, raw)) {
        return SF_ERR_NO_KEY;
    }
    rc = sf_remote_name(raw, name);
    if (rc == SF_OK) {
        rc = sf_remote_version_of(body, st->body_len, &version);
    }
    if (rc == SF_OK && version != st->version) {
        rc = sf_fail(SF_ERR_AUTH, "remote stanza of \"%s%s\": version %lu "
                     "in the header but %lu in the wrapped key",
                     SF_REMOTE_PREFIX, name, (unsigned long)st->version,
                     (unsigned long)version);
    }
    if (rc == SF_OK) {
        rc = sf_remote_unwrap(x->r, name, body, st->body_len, dek);
    }
    if (rc == SF_OK && sf_secret_len(*dek) != SF_DEK_LEN) {
        sf_secret_free(*dek);
        *dek = NULL;
        rc = sf_fail(SF_ERR_AUTH, "remote stanza of \"%s%s\": the service "
                     "returned a key of the wrong size", SF_REMOTE_PREFIX,
                     name);
    }
    return rc;
}

static const struct sf_identity_ops remote_identity_ops = {remote_unwrap,
                                                           plain_free};

sf_status sf_identity_remote(struct sf_remote *r, struct sf_identity **out)
{
    struct remote_identity *x;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (r == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    x = calloc(1, sizeof *x);
    if (x == NULL) {
        return SF_ERR_NOMEM;
    }
    x->r = r;
    return sf_identity_new(&remote_identity_ops, x, out);
}
