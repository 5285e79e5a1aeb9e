#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hpke.h"
#include "kdf.h"
#include "recipient.h"
#include "rsa_oaep.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"

struct sf_recipient {
    const struct sf_recipient_ops *ops;
    void *impl;
};

sf_status sf_recipient_new(const struct sf_recipient_ops *ops, void *impl,
                           struct sf_recipient **out)
{
    struct sf_recipient *r = calloc(1, sizeof *r);

    *out = NULL;
    if (r == NULL) {
        ops->free(impl);
        return SF_ERR_NOMEM;
    }
    r->ops = ops;
    r->impl = impl;
    *out = r;
    return SF_OK;
}

sf_status sf_recipient_wrap(struct sf_recipient *r,
                            const struct sf_wrap_request *req,
                            struct sf_wrapped *out)
{
    return r->ops->wrap(r->impl, req, out);
}

void sf_recipient_free(struct sf_recipient *r)
{
    if (r == NULL) {
        return;
    }
    r->ops->free(r->impl);
    free(r);
}

bool sf_recipient_stanza_is_keystore(const struct sf_stanza *st)
{
    return st->version >= 1 && memchr(st->key_id, ':', st->key_id_len) ==
                                   NULL;
}

bool sf_recipient_stanza_id_is(const struct sf_stanza *st, const char *id)
{
    size_t n = strlen(id);

    return st->key_id_len == n && memcmp(st->key_id, id, n) == 0;
}

sf_status sf_recipient_fingerprint(const char *kind, const uint8_t *key,
                                   size_t len, char out[SF_FINGERPRINT_MAX])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t md[32];
    size_t at = strlen(kind);
    sf_status rc;

    if (at + 1 + 16 >= SF_FINGERPRINT_MAX) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_hash(SF_MD_SHA256, key, len, md);
    if (rc != SF_OK) {
        return rc;
    }
    memcpy(out, kind, at);
    out[at++] = ':';
    for (size_t i = 0; i < 8; i++) {
        out[at++] = digits[md[i] >> 4];
        out[at++] = digits[md[i] & 15];
    }
    out[at] = '\0';
    return SF_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims spaces, tabs, CR and LF from both ends of [*p, *p + *len). */
static void trim(const char **p, size_t *len)
{
    while (*len > 0 && is_space(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*p)[*len - 1])) {
        (*len)--;
    }
}

sf_status sf_recipient_text_find(const char *text, size_t len,
                                 const char *what, const char **key,
                                 size_t *key_len, bool *is_pem)
{
    const char *end = text + len;
    const char *line = text;

    *key = NULL;
    *key_len = 0;
    *is_pem = false;
    while (text != NULL && line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *next = nl == NULL ? end : nl + 1;
        const char *p = line;
        size_t n = (size_t)((nl == NULL ? end : nl) - line);

        trim(&p, &n);
        line = next;
        if (n == 0 || p[0] == '#') {
            continue;
        }
        if (*key != NULL) {
            return sf_fail(SF_ERR_FORMAT, "%s text holds more than one key "
                           "line; give one key", what);
        }
        if (n >= 10 && memcmp(p, "-----BEGIN", 10) == 0) {
            *key = p;
            *key_len = (size_t)(end - p);
            trim(key, key_len);
            *is_pem = true;
            return SF_OK;
        }
        *key = p;
        *key_len = n;
    }
    if (*key == NULL) {
        return sf_fail(SF_ERR_FORMAT, "%s text holds no key", what);
    }
    return SF_OK;
}

/* ---- keystore keys ----------------------------------------------------- */

struct ks_recipient {
    struct sf_keystore *ks;
    char name[SF_KEY_NAME_MAX + 1];
    uint8_t type;
};

static sf_status ks_wrap(void *impl, const struct sf_wrap_request *req,
                         struct sf_wrapped *out)
{
    struct ks_recipient *k = impl;

    out->type = k->type;
    memcpy(out->key_id, k->name, sizeof k->name);
    return sf_keystore_wrap(k->ks, k->name, 0, req->prefix, req->prefix_len,
                            req->dek, SF_DEK_LEN, &out->body, &out->version);
}

static void plain_free(void *impl)
{
    free(impl);
}

static const struct sf_recipient_ops ks_recipient_ops = {ks_wrap,
                                                         plain_free};

static uint8_t stanza_type_of(enum sf_key_type t)
{
    switch (t) {
    case SF_KEY_X25519:
        return SF_STANZA_X25519;
    case SF_KEY_RSA_3072:
    case SF_KEY_RSA_4096:
        return SF_STANZA_RSA_OAEP;
    default:
        return SF_STANZA_KEK;
    }
}

sf_status sf_recipient_keystore(struct sf_keystore *ks, const char *name,
                                struct sf_recipient **out)
{
    struct ks_recipient *k;
    struct sf_key_info info;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (ks == NULL || name == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_key_name_check(name);
    if (rc == SF_OK) {
        rc = sf_keystore_key_info(ks, name, &info);
    }
    if (rc != SF_OK) {
        return rc;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        return SF_ERR_NOMEM;
    }
    k->ks = ks;
    memcpy(k->name, info.name, sizeof k->name);
    k->type = stanza_type_of(info.type);
    return sf_recipient_new(&ks_recipient_ops, k, out);
}

/* ---- X25519 public keys (HPKE) ------------------------------------------ */

struct x25519_recipient {
    uint8_t pub[32];
    char key_id[SF_FINGERPRINT_MAX];
};

static sf_status x25519_wrap(void *impl, const struct sf_wrap_request *req,
                             struct sf_wrapped *out)
{
    static const char info[] = SF_X25519_STANZA_INFO;
    struct x25519_recipient *x = impl;
    struct sf_hpke_ctx *ctx = NULL;
    uint8_t *body;
    sf_status rc;

    out->type = SF_STANZA_X25519;
    out->version = 0;
    memcpy(out->key_id, x->key_id, sizeof x->key_id);
    rc = sf_buf_reserve(&out->body, SF_X25519_BODY_LEN);
    if (rc != SF_OK) {
        return rc;
    }
    body = out->body.data + out->body.len;
    rc = sf_hpke_setup_sender(SF_HPKE_AES_256_GCM, x->pub,
                              (const uint8_t *)info, sizeof info - 1, NULL,
                              req->eph_ikm, req->eph_ikm_len, body, &ctx);
    if (rc == SF_OK) {
        rc = sf_hpke_seal(ctx, req->prefix, req->prefix_len, req->dek,
                          SF_DEK_LEN, body + SF_HPKE_ENC_LEN);
    }
    if (rc == SF_OK) {
        out->body.len += SF_X25519_BODY_LEN;
    }
    sf_hpke_ctx_free(ctx);
    return rc;
}

static const struct sf_recipient_ops x25519_recipient_ops = {x25519_wrap,
                                                             plain_free};

static sf_status parse_x25519(const char *p, size_t len,
                              struct sf_recipient **out)
{
    static const size_t plen = sizeof SF_X25519_RECIPIENT_PREFIX - 1;
    struct sf_buf raw = SF_BUF_INIT;
    struct x25519_recipient *x = NULL;
    sf_status rc;

    rc = sf_b64_decode(SF_B64_URL, p + plen, len - plen, &raw);
    if (rc != SF_OK || raw.len != 32) {
        rc = sf_fail(SF_ERR_FORMAT, "recipient: \"%s\" must be followed by "
                     "43 base64url characters (a 32-byte X25519 key)",
                     SF_X25519_RECIPIENT_PREFIX);
        goto out;
    }
    x = calloc(1, sizeof *x);
    if (x == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    memcpy(x->pub, raw.data, 32);
    rc = sf_recipient_fingerprint("x25519", x->pub, 32, x->key_id);
    if (rc == SF_OK) {
        rc = sf_recipient_new(&x25519_recipient_ops, x, out);
        x = NULL;
    }

out:
    free(x);
    sf_buf_free(&raw);
    return rc;
}

/* ---- RSA public keys (OAEP) ----------------------------------------- */

struct rsa_recipient {
    struct sf_rsa_key *key;
    char key_id[SF_FINGERPRINT_MAX];
};

static sf_status rsa_wrap(void *impl, const struct sf_wrap_request *req,
                          struct sf_wrapped *out)
{
    struct rsa_recipient *r = impl;
    uint8_t label[32];
    sf_status rc;

    out->type = SF_STANZA_RSA_OAEP;
    out->version = 0;
    memcpy(out->key_id, r->key_id, sizeof r->key_id);
    /* The label binds the stanza to this header, as the AAD does for the
     * other stanza types. */
    rc = sf_hash(SF_MD_SHA256, req->prefix, req->prefix_len, label);
    if (rc == SF_OK) {
        rc = sf_rsa_oaep_encrypt(r->key, label, sizeof label, req->dek,
                                 SF_DEK_LEN, false, &out->body);
    }
    return rc;
}

static void rsa_recipient_free(void *impl)
{
    struct rsa_recipient *r = impl;

    if (r != NULL) {
        sf_rsa_free(r->key);
        free(r);
    }
}

static const struct sf_recipient_ops rsa_recipient_ops = {
    rsa_wrap, rsa_recipient_free};

sf_status sf_recipient_fingerprint_rsa(const struct sf_rsa_key *k,
                                       char key_id[SF_FINGERPRINT_MAX])
{
    struct sf_buf der = SF_BUF_INIT;
    sf_status rc = sf_rsa_to_der(k, false, &der);

    if (rc == SF_OK) {
        rc = sf_recipient_fingerprint("rsa", der.data, der.len, key_id);
    }
    sf_buf_free(&der);
    return rc;
}

static sf_status parse_rsa(const char *pem, size_t len,
                           struct sf_recipient **out)
{
    struct rsa_recipient *r = calloc(1, sizeof *r);
    unsigned bits;
    sf_status rc;

    if (r == NULL) {
        return SF_ERR_NOMEM;
    }
    rc = sf_rsa_from_pem(pem, len, &r->key);
    if (rc != SF_OK) {
        goto out;
    }
    if (sf_rsa_has_private(r->key)) {
        rc = sf_fail(SF_ERR_FORMAT, "recipient: this is an RSA private key; "
                     "give the public key (openssl pkey -pubout)");
        goto out;
    }
    bits = sf_rsa_bits(r->key);
    if (bits != 3072 && bits != 4096) {
        rc = sf_fail(SF_ERR_BAD_KEY, "recipient: RSA key of %u bits; "
                     "sealflow wraps only to 3072- or 4096-bit keys", bits);
        goto out;
    }
    rc = sf_recipient_fingerprint_rsa(r->key, r->key_id);

out:
    if (rc != SF_OK) {
        rsa_recipient_free(r);
        return rc;
    }
    return sf_recipient_new(&rsa_recipient_ops, r, out);
}

/*
 * Skips a "public recipient:" label before the key, as on the line
 * 'sealflow identity generate' once printed to stderr, so a recipient
 * saved from there works as is.
 */
static void skip_label(const char **key, size_t *key_len)
{
    static const char label[] = "public recipient:";
    static const size_t llen = sizeof label - 1;

    if (*key_len > llen && memcmp(*key, label, llen) == 0) {
        *key += llen;
        *key_len -= llen;
        trim(key, key_len);
    }
}

sf_status sf_recipient_parse(const char *text, size_t len,
                             struct sf_recipient **out)
{
    static const size_t plen = sizeof SF_X25519_RECIPIENT_PREFIX - 1;
    static const size_t slen = sizeof SF_X25519_SECRET_PREFIX - 1;
    const char *key;
    size_t key_len;
    bool is_pem;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (text == NULL && len > 0) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_recipient_text_find(text, len, "recipient", &key, &key_len,
                                &is_pem);
    if (rc != SF_OK) {
        return rc;
    }
    if (is_pem) {
        return parse_rsa(key, key_len, out);
    }
    skip_label(&key, &key_len);
    if (key_len >= plen && memcmp(key, SF_X25519_RECIPIENT_PREFIX, plen) ==
                               0) {
        return parse_x25519(key, key_len, out);
    }
    if (key_len >= slen && memcmp(key, SF_X25519_SECRET_PREFIX, slen) == 0) {
        /* The key itself is never quoted: it is a secret. */
        return sf_fail(SF_ERR_FORMAT, "recipient: this is a secret identity, "
                       "not a public recipient; use its public recipient "
                       "(\"%s...\")", SF_X25519_RECIPIENT_PREFIX);
    }
    return sf_fail(SF_ERR_FORMAT, "recipient: expected \"%s...\" or an RSA "
                   "public key in PEM (-----BEGIN PUBLIC KEY-----)",
                   SF_X25519_RECIPIENT_PREFIX);
}
