#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hpke.h"
#include "kdf.h"
#include "recipient.h"
#include "rsa_oaep.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"
#include "x25519.h"

struct sf_identity {
    const struct sf_identity_ops *ops;
    void *impl;
};

sf_status sf_identity_new(const struct sf_identity_ops *ops, void *impl,
                          struct sf_identity **out)
{
    struct sf_identity *id = calloc(1, sizeof *id);

    *out = NULL;
    if (id == NULL) {
        ops->free(impl);
        return SF_ERR_NOMEM;
    }
    id->ops = ops;
    id->impl = impl;
    *out = id;
    return SF_OK;
}

sf_status sf_identity_unwrap(struct sf_identity *id,
                             const struct sf_stanza *st,
                             const uint8_t *prefix, size_t prefix_len,
                             struct sf_secret **dek)
{
    *dek = NULL;
    return id->ops->unwrap(id->impl, st, prefix, prefix_len, dek);
}

void sf_identity_free(struct sf_identity *id)
{
    if (id == NULL) {
        return;
    }
    id->ops->free(id->impl);
    free(id);
}

/* ---- keystore keys ------------------------------------------------------ */

struct ks_identity {
    struct sf_keystore *ks;
};

/*
 * A partner stanza sealed to a keystore key's exported public key
 * (sf_keystore_public_key): the key id is the fingerprint, the body what
 * the partner recipients in recipient.c write, so it is opened with the
 * same info and aad (X25519) or label (RSA) and no keystore binding.
 * A fingerprint no keystore key has is SF_ERR_NO_KEY.
 */
static sf_status ks_unwrap_partner(struct sf_keystore *ks,
                                   const struct sf_stanza *st,
                                   const uint8_t *prefix, size_t prefix_len,
                                   struct sf_secret **dek)
{
    static const char info[] = SF_X25519_STANZA_INFO;
    bool is_x = st->type == SF_STANZA_X25519;
    const char *kind = is_x ? "x25519:" : "rsa:";
    char fp[SF_KEYSTORE_FINGERPRINT_MAX];
    char name[SF_KEY_NAME_MAX + 1];
    uint8_t label[32];
    uint32_t v = 0;
    sf_status rc;

    if (st->version != 0 || st->key_id_len >= sizeof fp ||
            (!is_x && st->type != SF_STANZA_RSA_OAEP)) {
        return SF_ERR_NO_KEY;
    }
    memcpy(fp, st->key_id, st->key_id_len);
    fp[st->key_id_len] = '\0';
    if (strncmp(fp, kind, strlen(kind)) != 0) {
        return SF_ERR_NO_KEY;
    }
    rc = sf_keystore_find_public(ks, fp, name, &v);
    if (rc == SF_OK && is_x && st->body_len != SF_X25519_BODY_LEN) {
        rc = sf_fail(SF_ERR_AUTH, "x25519 stanza for %s has %zu bytes, "
                     "expected %d", fp, st->body_len, SF_X25519_BODY_LEN);
    } else if (rc == SF_OK && is_x) {
        rc = sf_keystore_unwrap_external(ks, name, v, (const uint8_t *)info,
                                         sizeof info - 1, prefix, prefix_len,
                                         st->body, st->body_len, dek);
    } else if (rc == SF_OK) {
        rc = sf_hash(SF_MD_SHA256, prefix, prefix_len, label);
        if (rc == SF_OK) {
            rc = sf_keystore_unwrap_external(ks, name, v, NULL, 0, label,
                                             sizeof label, st->body,
                                             st->body_len, dek);
        }
    }
    if (rc == SF_OK && sf_secret_len(*dek) != SF_DEK_LEN) {
        sf_secret_free(*dek);
        *dek = NULL;
        rc = sf_fail(SF_ERR_AUTH, "the stanza for %s does not hold a data "
                     "key", fp);
    }
    return rc == SF_ERR_KEY_NOT_FOUND ? SF_ERR_NO_KEY : rc;
}

/*
 * Any stanza that names a keystore key goes to the keystore, whatever its
 * type: the keystore binds name, version and type into its own AAD, so a
 * stanza relabelled with another type fails to unwrap. Partner stanzas
 * ("x25519:<hex>", "rsa:<hex>", version 0) go to the keystore key with
 * that public key, if any.
 */
static sf_status ks_unwrap(void *impl, const struct sf_stanza *st,
                           const uint8_t *prefix, size_t prefix_len,
                           struct sf_secret **dek)
{
    struct ks_identity *k = impl;
    char name[SF_KEY_ID_MAX + 1];
    sf_status rc;

    if (!sf_recipient_stanza_is_keystore(st)) {
        return ks_unwrap_partner(k->ks, st, prefix, prefix_len, dek);
    }
    memcpy(name, st->key_id, st->key_id_len);
    name[st->key_id_len] = '\0';
    if (sf_key_name_check(name) != SF_OK) {
        return SF_ERR_NO_KEY;
    }
    rc = sf_keystore_unwrap(k->ks, name, st->version, prefix, prefix_len,
                            st->body, st->body_len, dek);
    return rc == SF_ERR_KEY_NOT_FOUND ? SF_ERR_NO_KEY : rc;
}

static void plain_free(void *impl)
{
    free(impl);
}

static const struct sf_identity_ops ks_identity_ops = {ks_unwrap,
                                                       plain_free};

sf_status sf_identity_keystore(struct sf_keystore *ks,
                               struct sf_identity **out)
{
    struct ks_identity *k;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (ks == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        return SF_ERR_NOMEM;
    }
    k->ks = ks;
    return sf_identity_new(&ks_identity_ops, k, out);
}

/* ---- X25519 secret keys ------------------------------------------------- */

struct x25519_identity {
    struct sf_secret *sk;
    char key_id[SF_FINGERPRINT_MAX];
};

static sf_status x25519_unwrap(void *impl, const struct sf_stanza *st,
                               const uint8_t *prefix, size_t prefix_len,
                               struct sf_secret **dek)
{
    static const char info[] = SF_X25519_STANZA_INFO;
    struct x25519_identity *x = impl;
    uint8_t pt[SF_DEK_LEN];
    sf_status rc;

    if (st->type != SF_STANZA_X25519 || st->version != 0 ||
            !sf_recipient_stanza_id_is(st, x->key_id)) {
        return SF_ERR_NO_KEY;
    }
    if (st->body_len != SF_X25519_BODY_LEN) {
        return sf_fail(SF_ERR_AUTH, "x25519 stanza for %s has %zu bytes, "
                       "expected %d", x->key_id, st->body_len,
                       SF_X25519_BODY_LEN);
    }
    rc = sf_hpke_open_base(SF_HPKE_AES_256_GCM, sf_secret_cdata(x->sk),
                           st->body, (const uint8_t *)info, sizeof info - 1,
                           prefix, prefix_len, st->body + SF_HPKE_ENC_LEN,
                           SF_X25519_BODY_LEN - SF_HPKE_ENC_LEN, pt);
    if (rc == SF_OK) {
        rc = sf_secret_from(pt, sizeof pt, dek);
    } else if (rc == SF_ERR_AUTH || rc == SF_ERR_BAD_KEY) {
        rc = sf_fail(SF_ERR_AUTH, "the x25519 stanza for %s does not "
                     "authenticate: the header or its context was changed",
                     x->key_id);
    }
    sf_wipe(pt, sizeof pt);
    return rc;
}

static void x25519_identity_free(void *impl)
{
    struct x25519_identity *x = impl;

    if (x != NULL) {
        sf_secret_free(x->sk);
        free(x);
    }
}

static const struct sf_identity_ops x25519_identity_ops = {
    x25519_unwrap, x25519_identity_free};

static sf_status parse_x25519(const char *p, size_t len,
                              struct sf_identity **out)
{
    static const size_t plen = sizeof SF_X25519_SECRET_PREFIX - 1;
    struct sf_buf raw = SF_BUF_INIT;
    struct x25519_identity *x = NULL;
    uint8_t pub[32];
    sf_status rc;

    rc = sf_b64_decode(SF_B64_URL, p + plen, len - plen, &raw);
    if (rc != SF_OK || raw.len != 32) {
        rc = sf_fail(SF_ERR_FORMAT, "identity: \"%s\" must be followed by "
                     "43 base64url characters (a 32-byte X25519 key)",
                     SF_X25519_SECRET_PREFIX);
        goto out;
    }
    x = calloc(1, sizeof *x);
    if (x == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    rc = sf_secret_from(raw.data, 32, &x->sk);
    if (rc == SF_OK) {
        rc = sf_x25519_public(raw.data, pub);
    }
    if (rc == SF_OK) {
        rc = sf_recipient_fingerprint("x25519", pub, sizeof pub,
                                      x->key_id);
    }
    if (rc == SF_OK) {
        rc = sf_identity_new(&x25519_identity_ops, x, out);
        x = NULL;
    }

out:
    x25519_identity_free(x);
    sf_buf_free(&raw);
    return rc;
}

/* ---- RSA private keys ---------------------------------------------------- */

struct rsa_identity {
    struct sf_rsa_key *key;
    char key_id[SF_FINGERPRINT_MAX];
};

static sf_status rsa_unwrap(void *impl, const struct sf_stanza *st,
                            const uint8_t *prefix, size_t prefix_len,
                            struct sf_secret **dek)
{
    struct rsa_identity *r = impl;
    uint8_t label[32];
    uint8_t pt[SF_DEK_LEN];
    size_t pt_len = 0;
    sf_status rc;

    if (st->type != SF_STANZA_RSA_OAEP || st->version != 0 ||
            !sf_recipient_stanza_id_is(st, r->key_id)) {
        return SF_ERR_NO_KEY;
    }
    rc = sf_hash(SF_MD_SHA256, prefix, prefix_len, label);
    if (rc == SF_OK) {
        rc = sf_rsa_oaep_decrypt(r->key, label, sizeof label, st->body,
                                 st->body_len, pt, sizeof pt, &pt_len);
    }
    if (rc == SF_OK && pt_len != SF_DEK_LEN) {
        rc = SF_ERR_AUTH;
    }
    if (rc == SF_OK) {
        rc = sf_secret_from(pt, SF_DEK_LEN, dek);
    } else if (rc == SF_ERR_AUTH) {
        rc = sf_fail(SF_ERR_AUTH, "the RSA stanza for %s does not "
                     "authenticate: the header or its context was changed",
                     r->key_id);
    }
    sf_wipe(pt, sizeof pt);
    return rc;
}

static void rsa_identity_free(void *impl)
{
    struct rsa_identity *r = impl;

    if (r != NULL) {
        sf_rsa_free(r->key);
        free(r);
    }
}

static const struct sf_identity_ops rsa_identity_ops = {rsa_unwrap,
                                                        rsa_identity_free};

static sf_status parse_rsa(const char *pem, size_t len,
                           struct sf_identity **out)
{
    struct rsa_identity *r = calloc(1, sizeof *r);
    sf_status rc;

    if (r == NULL) {
        return SF_ERR_NOMEM;
    }
    rc = sf_rsa_from_pem(pem, len, &r->key);
    if (rc == SF_OK && !sf_rsa_has_private(r->key)) {
        rc = sf_fail(SF_ERR_FORMAT, "identity: this is an RSA public key; "
                     "an identity is the private key");
    }
    if (rc == SF_OK) {
        rc = sf_recipient_fingerprint_rsa(r->key, r->key_id);
    }
    if (rc != SF_OK) {
        rsa_identity_free(r);
        return rc;
    }
    return sf_identity_new(&rsa_identity_ops, r, out);
}

sf_status sf_identity_parse(const char *text, size_t len,
                            struct sf_identity **out)
{
    static const size_t plen = sizeof SF_X25519_SECRET_PREFIX - 1;
    static const size_t rlen = sizeof SF_X25519_RECIPIENT_PREFIX - 1;
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
    rc = sf_recipient_text_find(text, len, "identity", &key, &key_len,
                                &is_pem);
    if (rc != SF_OK) {
        return rc;
    }
    if (is_pem) {
        return parse_rsa(key, key_len, out);
    }
    if (key_len >= plen && memcmp(key, SF_X25519_SECRET_PREFIX, plen) == 0) {
        return parse_x25519(key, key_len, out);
    }
    if (key_len >= rlen && memcmp(key, SF_X25519_RECIPIENT_PREFIX, rlen) ==
                               0) {
        return sf_fail(SF_ERR_FORMAT, "identity: this is a public recipient "
                       "(\"%s...\"); an identity is the secret key "
                       "(\"%s...\") that goes with it",
                       SF_X25519_RECIPIENT_PREFIX, SF_X25519_SECRET_PREFIX);
    }
    return sf_fail(SF_ERR_FORMAT, "identity: expected \"%s...\" or an RSA "
                   "private key in PEM (-----BEGIN PRIVATE KEY-----)",
                   SF_X25519_SECRET_PREFIX);
}

sf_status sf_identity_generate_x25519(struct sf_buf *secret_out,
                                      struct sf_buf *public_out)
{
    uint8_t sk[32];
    uint8_t pk[32];
    size_t secret_len;
    size_t public_len;
    sf_status rc;

    if (secret_out == NULL || public_out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    secret_len = secret_out->len;
    public_len = public_out->len;
    rc = sf_x25519_keygen(sk, pk);
    if (rc == SF_OK) {
        rc = sf_buf_put_str(secret_out, SF_X25519_SECRET_PREFIX);
    }
    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_URL, sk, sizeof sk, secret_out);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(public_out, SF_X25519_RECIPIENT_PREFIX);
    }
    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_URL, pk, sizeof pk, public_out);
    }
    if (rc != SF_OK && secret_out->len > secret_len) {
        sf_wipe(secret_out->data + secret_len, secret_out->len - secret_len);
    }
    if (rc != SF_OK) {
        secret_out->len = secret_len;
        public_out->len = public_len;
    }
    sf_wipe(sk, sizeof sk);
    return rc;
}
