#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "error.h"
#include "sealflow/secret.h"

/* Largest update handed to EVP at once: its lengths are int. */
#define CHUNK_MAX (1 << 30)
/* GCM allows at most 2^36 - 32 bytes of plaintext per nonce (NIST SP
 * 800-38D); ChaCha20-Poly1305 allows more, and one bound serves both. */
#define MSG_MAX ((UINT64_C(1) << 36) - 32)

struct sf_aead {
    enum sf_aead_alg alg;
    EVP_CIPHER_CTX *ctx;
};

static const char *const cipher_names[] = {NULL, "AES-128-GCM", "AES-192-GCM",
                                           "AES-256-GCM", "ChaCha20-Poly1305"};

static EVP_CIPHER *ciphers[5];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* Fetching is costly (a provider lookup under a lock), so it happens once
 * per process; the fetched objects live until exit. */
static void fetch_ciphers(void)
{
    for (size_t i = 1; i < sizeof ciphers / sizeof *ciphers; i++) {
        ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
    }
    ERR_clear_error();
}

static const EVP_CIPHER *cipher_of(enum sf_aead_alg alg)
{
    if (sf_aead_key_len(alg) == 0) {
        return NULL;
    }
    pthread_once(&fetch_once, fetch_ciphers);
    return ciphers[alg];
}

size_t sf_aead_key_len(enum sf_aead_alg alg)
{
    switch (alg) {
    case SF_AEAD_AES_128_GCM:
        return 16;
    case SF_AEAD_AES_192_GCM:
        return 24;
    case SF_AEAD_AES_256_GCM:
    case SF_AEAD_CHACHA20_POLY1305:
        return 32;
    }
    return 0;
}

sf_status sf_aead_new(enum sf_aead_alg alg, const uint8_t *key, size_t key_len,
                      struct sf_aead **out)
{
    const EVP_CIPHER *cipher;
    struct sf_aead *a = NULL;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (key == NULL || key_len == 0 || key_len != sf_aead_key_len(alg)) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "aead: unknown algorithm %d or "
                       "key length %zu does not match it",
                       (int)alg, key_len);
    }
    cipher = cipher_of(alg);
    if (cipher == NULL) {
        return sf_fail(SF_ERR_UNSUPPORTED,
                       "aead: OpenSSL has no %s; check "
                       "the provider configuration",
                       cipher_names[alg]);
    }

    a = calloc(1, sizeof *a);
    if (a == NULL) {
        return SF_ERR_NOMEM;
    }
    a->alg = alg;
    a->ctx = EVP_CIPHER_CTX_new();
    if (a->ctx == NULL ||
        EVP_CipherInit_ex2(a->ctx, cipher, key, NULL, 1, NULL) != 1) {
        rc =
            sf_fail(SF_ERR_CRYPTO, "aead: cannot set up %s", cipher_names[alg]);
        goto out;
    }
    *out = a;
    a = NULL;
    rc = SF_OK;

out:
    sf_aead_free(a);
    return rc;
}

sf_status sf_aead_rekey(struct sf_aead *a, const uint8_t *key, size_t key_len)
{
    if (a == NULL || key == NULL || key_len != sf_aead_key_len(a->alg)) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "aead rekey: key length %zu does "
                       "not match the algorithm",
                       key_len);
    }
    /* A NULL cipher keeps the fetched algorithm and the context: only the
     * key schedule is replaced, nothing is allocated. */
    if (EVP_CipherInit_ex2(a->ctx, NULL, key, NULL, -1, NULL) != 1) {
        return sf_fail(SF_ERR_CRYPTO, "aead rekey: OpenSSL refused the key");
    }
    return SF_OK;
}

/* Feeds len bytes through EVP in int-sized chunks. out NULL feeds AAD. */
static int update(EVP_CIPHER_CTX *ctx, int is_enc, uint8_t *out,
                  const uint8_t *in, size_t len)
{
    while (len > 0) {
        int n = len > CHUNK_MAX ? CHUNK_MAX : (int)len;
        int got = 0;
        int ok = is_enc ? EVP_EncryptUpdate(ctx, out, &got, in, n)
                        : EVP_DecryptUpdate(ctx, out, &got, in, n);

        if (ok != 1 || (out != NULL && got != n)) {
            return 0;
        }
        in += n;
        out = out == NULL ? NULL : out + n;
        len -= (size_t)n;
    }
    return 1;
}

static sf_status check_args(const struct sf_aead *a, const uint8_t *nonce,
                            const uint8_t *aad, size_t aad_len,
                            const uint8_t *in, size_t in_len,
                            const uint8_t *out, const uint8_t *tag)
{
    if (a == NULL || nonce == NULL || tag == NULL ||
        (aad == NULL && aad_len > 0) ||
        ((in == NULL || out == NULL) && in_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "aead: NULL buffer with a "
                                           "non-zero length");
    }
    if ((uint64_t)in_len > MSG_MAX) {
        return sf_fail(SF_ERR_LIMIT,
                       "aead: message of %zu bytes exceeds "
                       "the per-nonce limit of 2^36 - 32",
                       in_len);
    }
    return SF_OK;
}

sf_status sf_aead_seal(struct sf_aead *a,
                       const uint8_t nonce[SF_AEAD_NONCE_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                       size_t pt_len, uint8_t *ct, uint8_t tag[SF_AEAD_TAG_LEN])
{
    uint8_t last[16];
    int got = 0;
    sf_status rc;

    rc = check_args(a, nonce, aad, aad_len, pt, pt_len, ct, tag);
    if (rc != SF_OK) {
        return rc;
    }
    if (EVP_EncryptInit_ex2(a->ctx, NULL, NULL, nonce, NULL) != 1 ||
        !update(a->ctx, 1, NULL, aad, aad_len) ||
        !update(a->ctx, 1, ct, pt, pt_len) ||
        EVP_EncryptFinal_ex(a->ctx, last, &got) != 1 || got != 0 ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, SF_AEAD_TAG_LEN,
                            tag) != 1) {
        rc = sf_fail(SF_ERR_CRYPTO, "aead seal: OpenSSL failed");
        goto out;
    }

out:
    if (rc != SF_OK) {
        sf_wipe(ct, pt_len);
        sf_wipe(tag, SF_AEAD_TAG_LEN);
    }
    return rc;
}

sf_status sf_aead_open(struct sf_aead *a,
                       const uint8_t nonce[SF_AEAD_NONCE_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                       size_t ct_len, const uint8_t tag[SF_AEAD_TAG_LEN],
                       uint8_t *pt)
{
    uint8_t tag_copy[SF_AEAD_TAG_LEN];
    uint8_t last[16];
    int got = 0;
    sf_status rc;

    rc = check_args(a, nonce, aad, aad_len, ct, ct_len, pt, tag);
    if (rc != SF_OK) {
        return rc;
    }
    /* EVP takes a non-const tag pointer; give it a copy. */
    memcpy(tag_copy, tag, sizeof tag_copy);
    if (EVP_DecryptInit_ex2(a->ctx, NULL, NULL, nonce, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, SF_AEAD_TAG_LEN,
                            tag_copy) != 1 ||
        !update(a->ctx, 0, NULL, aad, aad_len) ||
        !update(a->ctx, 0, pt, ct, ct_len)) {
        rc = sf_fail(SF_ERR_CRYPTO, "aead open: OpenSSL failed");
        goto out;
    }
    if (EVP_DecryptFinal_ex(a->ctx, last, &got) != 1 || got != 0) {
        rc = sf_fail(SF_ERR_AUTH,
                     "aead open: authentication failed (wrong "
                     "key, nonce, associated data, or tampered data)");
        goto out;
    }

out:
    if (rc != SF_OK) {
        /* Unauthenticated plaintext must never reach the caller. */
        sf_wipe(pt, ct_len);
    }
    return rc;
}

void sf_aead_free(struct sf_aead *a)
{
    if (a == NULL) {
        return;
    }
    /* Freeing the context makes the provider cleanse its key schedule. */
    EVP_CIPHER_CTX_free(a->ctx);
    free(a);
}
