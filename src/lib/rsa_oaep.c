#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rsa_oaep.h"
#include "sealflow/secret.h"

/* Smallest modulus sealflow wraps with, and the largest OpenSSL handles. */
#define BITS_MIN 3072
#define MODULUS_MAX_LEN (16384 / 8)
/* OAEP overhead with SHA-256: two hashes and two bytes (RFC 8017 7.1.1). */
#define OAEP_OVERHEAD (2 * 32 + 2)
/* A PEM key of the largest modulus stays far below this. */
#define PEM_MAX (64 * 1024)

struct sf_rsa_key {
    EVP_PKEY *pkey;
    bool has_private;
};

/* Takes ownership of pkey; refuses keys that are not plain RSA. */
static sf_status wrap_key(EVP_PKEY *pkey, struct sf_rsa_key **out)
{
    BIGNUM *d = NULL;
    struct sf_rsa_key *k;

    if (!EVP_PKEY_is_a(pkey, "RSA")) {
        EVP_PKEY_free(pkey);
        return sf_fail(SF_ERR_FORMAT, "rsa: the key is not an RSA key");
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return SF_ERR_NOMEM;
    }
    k->pkey = pkey;
    k->has_private =
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
    BN_clear_free(d);
    ERR_clear_error();
    *out = k;
    return SF_OK;
}

sf_status sf_rsa_generate(unsigned bits, struct sf_rsa_key **out)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (bits != 3072 && bits != 4096) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "rsa generate: %u bits; use 3072 "
                       "or 4096",
                       bits);
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
        EVP_PKEY_generate(ctx, &pkey) != 1) {
        rc = sf_fail(SF_ERR_CRYPTO, "rsa generate: OpenSSL failed");
        goto out;
    }
    rc = wrap_key(pkey, out);

out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* Refuses interactive passphrase prompts: encrypted keys do not load. */
static int no_passphrase(char *buf, size_t size, size_t *len,
                         const OSSL_PARAM params[], void *arg)
{
    (void)buf;
    (void)size;
    (void)params;
    (void)arg;
    *len = 0;
    return 0;
}

/* Decodes one RSA key; the whole input must be consumed. structure may be
 * NULL to accept any. */
static sf_status decode(const char *input, const char *structure,
                        const uint8_t *data, size_t len,
                        struct sf_rsa_key **out)
{
    OSSL_DECODER_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p = data;
    size_t left = len;
    sf_status rc;

    ctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, input, structure, "RSA", 0, NULL,
                                        NULL);
    if (ctx == NULL ||
        OSSL_DECODER_CTX_set_passphrase_cb(ctx, no_passphrase, NULL) != 1) {
        rc = sf_fail(SF_ERR_CRYPTO, "rsa: cannot set up the %s decoder", input);
        goto out;
    }
    if (OSSL_DECODER_from_data(ctx, &p, &left) != 1 || pkey == NULL ||
        (left != 0 && strcmp(input, "DER") == 0)) {
        rc = sf_fail(SF_ERR_FORMAT,
                     "rsa: the %s input is not an RSA key "
                     "(%s)",
                     input, structure ? structure : "any form");
        goto out;
    }
    rc = wrap_key(pkey, out);
    pkey = NULL;

out:
    EVP_PKEY_free(pkey);
    OSSL_DECODER_CTX_free(ctx);
    return rc;
}

sf_status sf_rsa_from_der(const uint8_t *der, size_t der_len, bool is_private,
                          struct sf_rsa_key **out)
{
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (der == NULL || der_len == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "rsa: empty DER input");
    }
    rc = decode("DER", is_private ? "PrivateKeyInfo" : "SubjectPublicKeyInfo",
                der, der_len, out);
    if (rc == SF_OK && (*out)->has_private != is_private) {
        sf_rsa_free(*out);
        *out = NULL;
        rc = sf_fail(SF_ERR_FORMAT, "rsa: DER input is not a %s key",
                     is_private ? "private" : "public");
    }
    return rc;
}

/* Copies pem with every line's trailing spaces, tabs and carriage returns
 * dropped, so keys pasted from other systems (CRLF, padded lines) load. */
static sf_status normalise_pem(const char *pem, size_t pem_len,
                               struct sf_buf *out)
{
    size_t start = 0;
    sf_status rc = SF_OK;

    while (start < pem_len && rc == SF_OK) {
        const char *nl = memchr(pem + start, '\n', pem_len - start);
        size_t end = nl ? (size_t)(nl - pem) : pem_len;
        size_t keep = end;

        while (keep > start && (pem[keep - 1] == ' ' || pem[keep - 1] == '\t' ||
                                pem[keep - 1] == '\r')) {
            keep--;
        }
        rc = sf_buf_append(out, pem + start, keep - start);
        if (rc == SF_OK) {
            rc = sf_buf_put_u8(out, '\n');
        }
        start = end + 1;
    }
    return rc;
}

sf_status sf_rsa_from_pem(const char *pem, size_t pem_len,
                          struct sf_rsa_key **out)
{
    struct sf_buf norm = SF_BUF_INIT;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (pem == NULL || pem_len == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "rsa: empty PEM input");
    }
    if (pem_len > PEM_MAX) {
        return sf_fail(SF_ERR_LIMIT,
                       "rsa: PEM input of %zu bytes exceeds "
                       "%d",
                       pem_len, PEM_MAX);
    }
    rc = normalise_pem(pem, pem_len, &norm);
    if (rc != SF_OK) {
        goto out;
    }
    rc = decode("PEM", NULL, norm.data, norm.len, out);

out:
    sf_buf_free(&norm);
    return rc;
}

/* Encodes the key and appends the result to out. */
static sf_status encode(const struct sf_rsa_key *k, int selection,
                        const char *output, const char *structure,
                        struct sf_buf *out)
{
    OSSL_ENCODER_CTX *ctx = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    sf_status rc;

    ctx = OSSL_ENCODER_CTX_new_for_pkey(k->pkey, selection, output, structure,
                                        NULL);
    if (ctx == NULL || OSSL_ENCODER_to_data(ctx, &data, &len) != 1) {
        rc = sf_fail(SF_ERR_CRYPTO, "rsa: cannot encode the key as %s %s",
                     output, structure);
        goto out;
    }
    rc = sf_buf_append(out, data, len);

out:
    OPENSSL_clear_free(data, len);
    OSSL_ENCODER_CTX_free(ctx);
    return rc;
}

sf_status sf_rsa_to_der(const struct sf_rsa_key *k, bool is_private,
                        struct sf_buf *out)
{
    if (k == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    if (is_private && !k->has_private) {
        return sf_fail(SF_ERR_KEY_TYPE, "rsa: the key has no private part "
                                        "to export");
    }
    if (is_private) {
        return encode(k, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", out);
    }
    return encode(k, EVP_PKEY_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo", out);
}

sf_status sf_rsa_public_pem(const struct sf_rsa_key *k, struct sf_buf *out)
{
    sf_status rc;

    if (k == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = encode(k, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo", out);
    if (rc == SF_OK) {
        rc = sf_buf_terminate(out);
    }
    return rc;
}

unsigned sf_rsa_bits(const struct sf_rsa_key *k)
{
    int bits = k == NULL ? 0 : EVP_PKEY_get_bits(k->pkey);

    return bits > 0 ? (unsigned)bits : 0;
}

bool sf_rsa_has_private(const struct sf_rsa_key *k)
{
    return k != NULL && k->has_private;
}

/* A context for OAEP with SHA-256, MGF1-SHA-256 and the given label, set
 * up for encryption or decryption. NULL on failure. */
static EVP_PKEY_CTX *oaep_ctx(const struct sf_rsa_key *k, int is_enc,
                              const uint8_t *label, size_t label_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    void *copy = NULL;
    int ok = ctx != NULL;

    if (ok) {
        ok = is_enc ? EVP_PKEY_encrypt_init(ctx) == 1
                    : EVP_PKEY_decrypt_init(ctx) == 1;
    }
    ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) == 1;
    if (ok && label_len > 0) {
        /* OpenSSL takes ownership of the label copy on success. */
        copy = OPENSSL_memdup(label, label_len);
        ok = label_len <= INT_MAX && copy != NULL &&
             EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)label_len) > 0;
        if (!ok) {
            OPENSSL_free(copy);
        }
    }
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

static sf_status check_encrypt(const struct sf_rsa_key *k, size_t label_len,
                               size_t pt_len, bool allow_small)
{
    unsigned bits = sf_rsa_bits(k);
    size_t k_len = (bits + 7) / 8;

    if (bits < BITS_MIN && !allow_small) {
        return sf_fail(SF_ERR_BAD_KEY,
                       "rsa encrypt: a %u-bit key is below "
                       "the %d-bit minimum",
                       bits, BITS_MIN);
    }
    if (k_len < OAEP_OVERHEAD || pt_len > k_len - OAEP_OVERHEAD) {
        return sf_fail(SF_ERR_LIMIT,
                       "rsa encrypt: %zu bytes exceed the "
                       "OAEP limit of this %u-bit key",
                       pt_len, bits);
    }
    if (label_len > 1024 * 1024) {
        return sf_fail(SF_ERR_LIMIT, "rsa encrypt: label over 1 MiB");
    }
    return SF_OK;
}

sf_status sf_rsa_oaep_encrypt(const struct sf_rsa_key *k, const uint8_t *label,
                              size_t label_len, const uint8_t *pt,
                              size_t pt_len, bool allow_small,
                              struct sf_buf *out)
{
    EVP_PKEY_CTX *ctx = NULL;
    size_t ct_len;
    sf_status rc;

    if (k == NULL || out == NULL || (label == NULL && label_len > 0) ||
        (pt == NULL && pt_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "rsa encrypt: NULL argument");
    }
    rc = check_encrypt(k, label_len, pt_len, allow_small);
    if (rc != SF_OK) {
        return rc;
    }
    ct_len = (size_t)EVP_PKEY_get_size(k->pkey);
    rc = sf_buf_reserve(out, ct_len);
    if (rc != SF_OK) {
        return rc;
    }

    ctx = oaep_ctx(k, 1, label, label_len);
    if (ctx == NULL ||
        EVP_PKEY_encrypt(ctx, out->data + out->len, &ct_len,
                         pt_len > 0 ? pt : (const uint8_t *)"", pt_len) != 1) {
        rc = sf_fail(SF_ERR_CRYPTO, "rsa encrypt: OpenSSL OAEP failed");
        goto out;
    }
    out->len += ct_len;

out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

sf_status sf_rsa_oaep_decrypt(const struct sf_rsa_key *k, const uint8_t *label,
                              size_t label_len, const uint8_t *ct,
                              size_t ct_len, uint8_t *pt, size_t pt_max,
                              size_t *pt_len)
{
    uint8_t tmp[MODULUS_MAX_LEN];
    size_t tmp_len = sizeof tmp;
    EVP_PKEY_CTX *ctx = NULL;
    sf_status rc = SF_OK;

    if (k == NULL || pt_len == NULL || (pt == NULL && pt_max > 0) ||
        (label == NULL && label_len > 0) || ct == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "rsa decrypt: NULL argument");
    }
    *pt_len = 0;

    /* One status for every failure below, so that nothing about the
     * padding check leaks to the caller. */
    ctx = k->has_private ? oaep_ctx(k, 0, label, label_len) : NULL;
    if (ctx == NULL || ct_len != (size_t)EVP_PKEY_get_size(k->pkey) ||
        ct_len > sizeof tmp ||
        EVP_PKEY_decrypt(ctx, tmp, &tmp_len, ct, ct_len) != 1 ||
        tmp_len > pt_max) {
        rc = sf_fail(SF_ERR_AUTH,
                     "rsa decrypt: OAEP decryption failed "
                     "(wrong key or label, or a damaged ciphertext)");
        goto out;
    }
    if (tmp_len > 0) {
        memcpy(pt, tmp, tmp_len);
    }
    *pt_len = tmp_len;

out:
    if (rc != SF_OK) {
        sf_wipe(pt, pt_max);
    }
    sf_wipe(tmp, sizeof tmp);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

void sf_rsa_free(struct sf_rsa_key *k)
{
    if (k == NULL) {
        return;
    }
    EVP_PKEY_free(k->pkey);
    free(k);
}
