#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>

#include "error.h"
#include "kdf.h"
#include "sealflow/secret.h"

/* The inputs of one HKDF call; absent parts have length 0. */
struct hkdf_in {
    const uint8_t *salt;
    size_t salt_len;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *info;
    size_t info_len;
};

static EVP_MD *mds[3];
static EVP_MAC *hmac_alg;
static EVP_KDF *hkdf_alg;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* Never read beyond a length of 0, but EVP wants a valid pointer for empty
 * inputs, and an all-zero salt of HashLen bytes is RFC 5869's default. */
static const uint8_t zeros[SF_MD_MAX_LEN];

/* Fetched once per process; the objects live until exit. */
static void fetch_algs(void)
{
    mds[SF_MD_SHA256] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    mds[SF_MD_SHA512] = EVP_MD_fetch(NULL, "SHA2-512", NULL);
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    hkdf_alg = EVP_KDF_fetch(NULL, "HKDF", NULL);
    ERR_clear_error();
}

static const char *md_name(enum sf_md md)
{
    return md == SF_MD_SHA256 ? "SHA2-256" : "SHA2-512";
}

size_t sf_md_len(enum sf_md md)
{
    switch (md) {
    case SF_MD_SHA256:
        return 32;
    case SF_MD_SHA512:
        return 64;
    }
    return 0;
}

/* Validates md and makes sure the algorithms are fetched. */
static sf_status ready(enum sf_md md)
{
    if (sf_md_len(md) == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "kdf: unknown digest %d", (int)md);
    }
    pthread_once(&fetch_once, fetch_algs);
    if (mds[md] == NULL || hmac_alg == NULL || hkdf_alg == NULL) {
        return sf_fail(SF_ERR_UNSUPPORTED,
                       "kdf: OpenSSL lacks %s, HMAC or "
                       "HKDF; check the provider configuration",
                       md_name(md));
    }
    return SF_OK;
}

static const uint8_t *nonnull(const uint8_t *p)
{
    return p == NULL ? zeros : p;
}

sf_status sf_hash(enum sf_md md, const uint8_t *msg, size_t msg_len,
                  uint8_t *out)
{
    unsigned int got = 0;
    sf_status rc;

    if (out == NULL || (msg == NULL && msg_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "hash: NULL buffer");
    }
    rc = ready(md);
    if (rc != SF_OK) {
        return rc;
    }
    if (EVP_Digest(nonnull(msg), msg_len, out, &got, mds[md], NULL) != 1 ||
        got != sf_md_len(md)) {
        return sf_fail(SF_ERR_CRYPTO, "hash: OpenSSL %s failed", md_name(md));
    }
    return SF_OK;
}

static sf_status mac_parts(enum sf_md md, const uint8_t *key, size_t key_len,
                           const uint8_t *m1, size_t l1, const uint8_t *m2,
                           size_t l2, uint8_t *out);

sf_status sf_hmac(enum sf_md md, const uint8_t *key, size_t key_len,
                  const uint8_t *msg, size_t msg_len, uint8_t *out)
{
    sf_status rc;

    if (out == NULL || (key == NULL && key_len > 0) ||
        (msg == NULL && msg_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "hmac: NULL buffer");
    }
    rc = ready(md);
    if (rc != SF_OK) {
        return rc;
    }
    return mac_parts(md, key, key_len, msg, msg_len, NULL, 0, out);
}

/* Runs OpenSSL's HKDF in the given mode. The key is the IKM for the
 * extracting modes and the PRK for expand-only. */
static sf_status hkdf_run(enum sf_md md, int mode, const struct hkdf_in *in,
                          uint8_t *out, size_t out_len)
{
    EVP_KDF_CTX *ctx = NULL;
    OSSL_PARAM params[6];
    OSSL_PARAM *p = params;
    sf_status rc = SF_OK;

    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                            (char *)md_name(md), 0);
    *p++ = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_KEY, (void *)nonnull(in->key), in->key_len);
    if (mode != EVP_KDF_HKDF_MODE_EXPAND_ONLY) {
        /* An explicit HashLen-zero salt, never an absent one. */
        *p++ = OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_SALT, (void *)(in->salt_len > 0 ? in->salt : zeros),
            in->salt_len > 0 ? in->salt_len : sf_md_len(md));
    }
    if (in->info_len > 0) {
        *p++ = OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_INFO, (void *)in->info, in->info_len);
    }
    *p = OSSL_PARAM_construct_end();

    ctx = EVP_KDF_CTX_new(hkdf_alg);
    if (ctx == NULL || EVP_KDF_derive(ctx, out, out_len, params) != 1) {
        rc =
            sf_fail(SF_ERR_CRYPTO, "hkdf: OpenSSL HKDF-%s failed", md_name(md));
        sf_wipe(out, out_len);
    }
    EVP_KDF_CTX_free(ctx);
    return rc;
}

/*
 * One HMAC context per thread and digest, made on first use and freed
 * when the thread exits. OpenSSL 3.0's HKDF provider fetches its digest
 * by name on every derive and cannot be duplicated, which costs about
 * 4 us per call; re-keying a kept HMAC context costs about 0.7 us, so
 * short HKDF outputs on hot paths (a per-wrap subkey) go this way.
 */
struct thread_macs {
    EVP_MAC_CTX *ctx[3];
};

static pthread_key_t macs_key;
static pthread_once_t macs_once = PTHREAD_ONCE_INIT;
static int macs_key_ok;

static void thread_macs_free(void *p)
{
    struct thread_macs *m = p;

    for (size_t i = 0; i < 3; i++) {
        EVP_MAC_CTX_free(m->ctx[i]);
    }
    free(m);
}

static void macs_key_init(void)
{
    macs_key_ok = pthread_key_create(&macs_key, thread_macs_free) == 0;
}

/* The calling thread's HMAC context for md (already checked by
 * ready()), or NULL when one cannot be made. */
static EVP_MAC_CTX *thread_mac(enum sf_md md)
{
    struct thread_macs *m;
    OSSL_PARAM params[2];

    pthread_once(&macs_once, macs_key_init);
    if (!macs_key_ok) {
        return NULL;
    }
    m = pthread_getspecific(macs_key);
    if (m == NULL) {
        m = calloc(1, sizeof *m);
        if (m == NULL || pthread_setspecific(macs_key, m) != 0) {
            free(m);
            return NULL;
        }
    }
    if (m->ctx[md] == NULL) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *)md_name(md), 0);
        params[1] = OSSL_PARAM_construct_end();
        m->ctx[md] = EVP_MAC_CTX_new(hmac_alg);
        if (m->ctx[md] != NULL &&
            EVP_MAC_CTX_set_params(m->ctx[md], params) != 1) {
            EVP_MAC_CTX_free(m->ctx[md]);
            m->ctx[md] = NULL;
        }
    }
    return m->ctx[md];
}

/* HMAC(key, m1 || m2) with the calling thread's kept context; out gets
 * sf_md_len(md) bytes. */
static sf_status mac_parts(enum sf_md md, const uint8_t *key, size_t key_len,
                           const uint8_t *m1, size_t l1, const uint8_t *m2,
                           size_t l2, uint8_t *out)
{
    EVP_MAC_CTX *c = thread_mac(md);
    size_t hlen = sf_md_len(md);
    size_t got = 0;

    if (c == NULL || EVP_MAC_init(c, nonnull(key), key_len, NULL) != 1 ||
        EVP_MAC_update(c, nonnull(m1), l1) != 1 ||
        EVP_MAC_update(c, nonnull(m2), l2) != 1 ||
        EVP_MAC_final(c, out, &got, hlen) != 1 || got != hlen) {
        sf_wipe(out, hlen);
        return sf_fail(SF_ERR_CRYPTO, "hmac: OpenSSL HMAC-%s failed",
                       md_name(md));
    }
    return SF_OK;
}

/* RFC 5869 Expand for out_len <= HashLen: the first out_len bytes of
 * T(1) = HMAC(PRK, info || 0x01). */
static sf_status expand_short(enum sf_md md, const uint8_t *prk,
                              size_t prk_len, const uint8_t *info,
                              size_t info_len, uint8_t *out, size_t out_len)
{
    static const uint8_t one = 1;
    uint8_t t[SF_MD_MAX_LEN];
    sf_status rc = mac_parts(md, prk, prk_len, info, info_len, &one, 1, t);

    if (rc == SF_OK) {
        memcpy(out, t, out_len);
    }
    sf_wipe(t, sizeof t);
    return rc;
}

/* RFC 5869 Extract (PRK = HMAC(salt, IKM), an empty salt meaning HashLen
 * zeros) then expand_short. */
static sf_status hkdf_short(enum sf_md md, const struct hkdf_in *in,
                            uint8_t *out, size_t out_len)
{
    size_t hlen = sf_md_len(md);
    uint8_t prk[SF_MD_MAX_LEN];
    sf_status rc;

    rc = mac_parts(md, in->salt_len > 0 ? in->salt : zeros,
                   in->salt_len > 0 ? in->salt_len : hlen, in->key,
                   in->key_len, NULL, 0, prk);
    if (rc == SF_OK) {
        rc = expand_short(md, prk, hlen, in->info, in->info_len, out,
                          out_len);
    }
    sf_wipe(prk, sizeof prk);
    return rc;
}

/* Common checks of expand and full HKDF: output size and NULL buffers. */
static sf_status check_expand(enum sf_md md, const uint8_t *info,
                              size_t info_len, const uint8_t *out,
                              size_t out_len)
{
    sf_status rc = ready(md);

    if (rc != SF_OK) {
        return rc;
    }
    if ((info == NULL && info_len > 0) || (out == NULL && out_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "hkdf: NULL buffer");
    }
    if (out_len > 255 * sf_md_len(md)) {
        return sf_fail(SF_ERR_LIMIT,
                       "hkdf: %zu output bytes exceed the "
                       "RFC 5869 limit of 255 * %zu",
                       out_len, sf_md_len(md));
    }
    return SF_OK;
}

sf_status sf_hkdf_extract(enum sf_md md, const uint8_t *salt, size_t salt_len,
                          const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
    struct hkdf_in in = {salt, salt_len, ikm, ikm_len, NULL, 0};
    sf_status rc = ready(md);

    if (rc != SF_OK) {
        return rc;
    }
    if (prk == NULL || (salt == NULL && salt_len > 0) ||
        (ikm == NULL && ikm_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "hkdf extract: NULL buffer");
    }
    return hkdf_run(md, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, &in, prk,
                    sf_md_len(md));
}

sf_status sf_hkdf_expand(enum sf_md md, const uint8_t *prk, size_t prk_len,
                         const uint8_t *info, size_t info_len, uint8_t *out,
                         size_t out_len)
{
    struct hkdf_in in = {NULL, 0, prk, prk_len, info, info_len};
    sf_status rc = check_expand(md, info, info_len, out, out_len);

    if (rc != SF_OK) {
        return rc;
    }
    if (prk == NULL || prk_len == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "hkdf expand: empty PRK");
    }
    if (out_len == 0) {
        return SF_OK;
    }
    if (out_len <= sf_md_len(md)) {
        return expand_short(md, prk, prk_len, info, info_len, out, out_len);
    }
    return hkdf_run(md, EVP_KDF_HKDF_MODE_EXPAND_ONLY, &in, out, out_len);
}

sf_status sf_hkdf(enum sf_md md, const uint8_t *salt, size_t salt_len,
                  const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
                  size_t info_len, uint8_t *out, size_t out_len)
{
    struct hkdf_in in = {salt, salt_len, ikm, ikm_len, info, info_len};
    sf_status rc = check_expand(md, info, info_len, out, out_len);

    if (rc != SF_OK) {
        return rc;
    }
    if ((salt == NULL && salt_len > 0) || (ikm == NULL && ikm_len > 0)) {
        return sf_fail(SF_ERR_INVALID_ARG, "hkdf: NULL buffer");
    }
    if (out_len == 0) {
        return SF_OK;
    }
    if (out_len <= sf_md_len(md)) {
        return hkdf_short(md, &in, out, out_len);
    }
    return hkdf_run(md, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, &in, out,
                    out_len);
}
