/*
 * Wrap, unwrap and public keys: the hot path. Opened versions come from
 * the cache (keystore_cache.h); the store is read only on a miss and for
 * the periodic generation check (ks_refresh).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "hpke.h"
#include "keystore_internal.h"
#include "keystore_seal.h"
#include "sealflow/encoding.h"
#include "x25519.h"

/* Binding plus caller's aad up to this size is built on the stack. */
#define AAD_STACK 512
#define SYM_OVERHEAD (KS_SYM_RANDOM_LEN + SF_AEAD_TAG_LEN)
#define HPKE_OVERHEAD (SF_HPKE_ENC_LEN + SF_HPKE_TAG_LEN)
#define RSA_MAX_BYTES 512

_Static_assert(SYM_OVERHEAD == SF_KEYSTORE_SYM_OVERHEAD,
               "keystore.h documents the symmetric wrap size");
_Static_assert(HPKE_OVERHEAD == SF_KEYSTORE_X25519_OVERHEAD,
               "keystore.h documents the x25519 wrap size");
_Static_assert(KS_SYM_RANDOM_LEN - KS_SYM_SALT_LEN == SF_AEAD_NONCE_LEN,
               "the random prefix ends with the AEAD nonce");

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sf_status ks_refresh(struct sf_keystore *ks, bool force)
{
    int64_t now = now_ms();
    int64_t next = atomic_load(&ks->next_check_ms);
    int64_t gen = 0;
    sf_status rc;

    if (!force) {
        /* One thread checks; the others go on with the cache. */
        if (now < next || !atomic_compare_exchange_strong(
                              &ks->next_check_ms, &next,
                              now + (int64_t)atomic_load(&ks->refresh_ms))) {
            return SF_OK;
        }
    }
    pthread_mutex_lock(&ks->store_lock);
    rc = ks->store->ops->meta_get_int(ks->store, KS_META_GENERATION, &gen);
    if (rc == SF_OK && (uint64_t)gen != ks->generation) {
        ks_cache_flush(&ks->cache);
        ks->generation = (uint64_t)gen;
    }
    pthread_mutex_unlock(&ks->store_lock);
    if (rc != SF_OK) {
        atomic_store(&ks->next_check_ms, 0);
    }
    return rc;
}

/* Reads the key row and publishes a fresh cache entry; the caller gets a
 * reference. Runs under store_lock (see keystore_cache.h). */
static sf_status load_key(struct sf_keystore *ks, const char *name,
                          bool is_forced, struct ks_ckey **out)
{
    struct sf_key_info info;
    sf_status rc = SF_OK;

    pthread_mutex_lock(&ks->store_lock);
    *out = is_forced ? NULL : ks_cache_get(&ks->cache, name);
    if (*out == NULL) {
        rc = ks_read_key(ks, name, &info);
        if (rc == SF_OK) {
            rc = ks_ckey_new(&info, out);
        }
        if (rc == SF_OK) {
            rc = ks_cache_put(&ks->cache, *out);
        }
    }
    pthread_mutex_unlock(&ks->store_lock);
    if (rc != SF_OK) {
        ks_ckey_release(*out);
        *out = NULL;
    }
    return rc;
}

/* The cached entry for name (with a reference), loading it on a miss. The
 * name is checked only then: a hit proves it is a stored, valid name. */
static sf_status get_key(struct sf_keystore *ks, const char *name,
                         struct ks_ckey **out)
{
    sf_status rc;

    *out = ks_cache_get(&ks->cache, name);
    if (*out != NULL) {
        return SF_OK;
    }
    rc = sf_key_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    return load_key(ks, name, false, out);
}

/* Opens version v of k from the store and fills its slot. */
static sf_status load_version(struct sf_keystore *ks, struct ks_ckey *k,
                              uint32_t v, struct ks_cver **out)
{
    struct ks_version_row row = {0};
    struct sf_secret *material = NULL;
    struct ks_cver *cv = NULL;
    sf_status rc;

    pthread_mutex_lock(&ks->store_lock);
    rc = ks->store->ops->version_get(ks->store, k->info.name, v, &row);
    if (rc == SF_ERR_KEY_NOT_FOUND) {
        /* Trimmed or deleted by another handle since k was read. */
        ks_cache_drop(&ks->cache, k->info.name);
        rc = sf_fail(SF_ERR_KEY_VERSION,
                     "key '%s' version %u is no longer in the keystore",
                     k->info.name, (unsigned)v);
    }
    if (rc == SF_OK) {
        rc = ks_material_open(ks->seal_key, k->info.name, v, k->info.type,
                              row.created_at, row.sealed.data,
                              row.sealed.len, &material);
    }
    if (rc == SF_OK) {
        rc = ks_cver_new(k->info.type, v, material, &row.public_part, &cv);
        if (rc == SF_ERR_BAD_KEY) {
            rc = sf_fail(SF_ERR_STORE,
                         "key '%s' version %u: the stored key does not "
                         "match its public part; the keystore file was "
                         "modified",
                         k->info.name, (unsigned)v);
        }
    }
    if (rc == SF_OK) {
        *out = ks_ckey_set_version(k, cv);
    }
    pthread_mutex_unlock(&ks->store_lock);
    ks_version_row_free(&row);
    return rc;
}

static sf_status get_version(struct sf_keystore *ks, struct ks_ckey *k,
                             uint32_t v, struct ks_cver **out)
{
    *out = ks_ckey_version(k, v);
    if (*out != NULL) {
        return SF_OK;
    }
    return load_version(ks, k, v, out);
}

/* Checks that version v of k exists (not trimmed, not beyond latest). */
static sf_status check_exists(const struct ks_ckey *k, uint32_t v)
{
    const struct sf_key_info *i = &k->info;

    if (v == 0 || v > i->latest_version) {
        return sf_fail(SF_ERR_KEY_VERSION,
                       "key '%s' has no version %u (the latest is %u)", i->name,
                       (unsigned)v, (unsigned)i->latest_version);
    }
    if (v < i->min_available_version) {
        return sf_fail(SF_ERR_KEY_VERSION,
                       "key '%s' version %u was trimmed "
                       "(min_available_version %u)",
                       i->name, (unsigned)v,
                       (unsigned)i->min_available_version);
    }
    return SF_OK;
}

static sf_status check_decrypt(const struct ks_ckey *k, uint32_t v)
{
    sf_status rc = check_exists(k, v);

    if (rc == SF_OK && v < k->info.min_decryption_version) {
        rc = sf_fail(SF_ERR_KEY_VERSION,
                     "key '%s' version %u is below min_decryption_version %u",
                     k->info.name, (unsigned)v,
                     (unsigned)k->info.min_decryption_version);
    }
    return rc;
}

static sf_status check_encrypt(const struct ks_ckey *k, uint32_t v)
{
    uint32_t enc = k->info.min_encryption_version;
    sf_status rc = check_decrypt(k, v);

    if (rc == SF_OK && enc != 0 && v < enc) {
        rc = sf_fail(SF_ERR_KEY_VERSION,
                     "key '%s' version %u is below min_encryption_version %u",
                     k->info.name, (unsigned)v, (unsigned)enc);
    }
    return rc;
}

/*
 * Finds the key and opens version v (0: latest) after checking it with
 * check. A version newer than the cached row re-reads the key once, so
 * a rotation by another process is usable at once.
 */
static sf_status resolve(struct sf_keystore *ks, const char *name, uint32_t *v,
                         sf_status (*check)(const struct ks_ckey *, uint32_t),
                         struct ks_ckey **k, struct ks_cver **cv)
{
    sf_status rc;

    *cv = NULL;
    rc = ks_refresh(ks, false);
    if (rc == SF_OK) {
        rc = get_key(ks, name, k);
    }
    if (rc == SF_OK && *v > (*k)->info.latest_version) {
        ks_ckey_release(*k);
        rc = load_key(ks, name, true, k);
    }
    if (rc != SF_OK) {
        return rc;
    }
    if (*v == 0) {
        *v = (*k)->info.latest_version;
    }
    rc = check(*k, *v);
    if (rc == SF_OK) {
        rc = get_version(ks, *k, *v, cv);
    }
    if (rc != SF_OK) {
        ks_ckey_release(*k);
        *k = NULL;
    }
    return rc;
}

/* The associated data of a wrap: binding || caller's aad, on the stack
 * when small. */
struct full_aad {
    uint8_t stack[AAD_STACK];
    uint8_t *heap;
    const uint8_t *p;
    size_t len;
};

static sf_status build_aad(struct full_aad *fa, const struct ks_ckey *k,
                           uint32_t v, const uint8_t *aad, size_t aad_len)
{
    uint8_t binding[KS_BINDING_MAX];
    size_t n =
        ks_binding(KS_WRAP_LABEL, k->info.name, v, k->info.type, binding);
    uint8_t *dst = fa->stack;

    fa->heap = NULL;
    if (aad_len > sizeof fa->stack - n) {
        fa->heap = malloc(n + aad_len);
        if (fa->heap == NULL) {
            return SF_ERR_NOMEM;
        }
        dst = fa->heap;
    }
    memcpy(dst, binding, n);
    if (aad_len > 0) {
        memcpy(dst + n, aad, aad_len);
    }
    fa->p = dst;
    fa->len = n + aad_len;
    return SF_OK;
}

/*
 * Symmetric wrap (docs/KEYSTORE.md, "Wrapping"): r = 24 random bytes; the
 * subkey is HKDF-SHA256 of the version's key with r[0..12) as salt; the
 * AEAD nonce is r[12..24). Each wrap has its own key, so the 2^32 limit
 * of random 96-bit nonces under one key no longer applies to the version.
 * The subkey lives on the stack and is wiped before returning.
 */
static sf_status wrap_sym(struct ks_cver *cv, const struct full_aad *fa,
                          const uint8_t *pt, size_t pt_len, struct sf_buf *out)
{
    uint8_t subkey[KS_SYM_KEY_LEN];
    struct sf_aead *a = NULL;
    uint8_t *p;
    sf_status rc;

    rc = sf_buf_reserve(out, SYM_OVERHEAD + pt_len);
    if (rc != SF_OK) {
        return rc;
    }
    p = out->data + out->len;
    rc = sf_random(p, KS_SYM_RANDOM_LEN);
    if (rc == SF_OK) {
        rc = ks_sym_subkey(cv->secret, p, subkey);
    }
    if (rc == SF_OK) {
        rc = ks_cver_aead_take(cv, subkey, sizeof subkey, &a);
    }
    if (rc == SF_OK) {
        rc =
            sf_aead_seal(a, p + KS_SYM_SALT_LEN, fa->p, fa->len, pt, pt_len,
                         p + KS_SYM_RANDOM_LEN, p + KS_SYM_RANDOM_LEN + pt_len);
    }
    ks_cver_aead_give(cv, a);
    sf_wipe(subkey, sizeof subkey);
    if (rc == SF_OK) {
        out->len += SYM_OVERHEAD + pt_len;
    }
    return rc;
}

static sf_status wrap_x25519(struct ks_cver *cv, const struct full_aad *fa,
                             const uint8_t *pt, size_t pt_len,
                             struct sf_buf *out)
{
    uint8_t *p;
    sf_status rc;

    rc = sf_buf_reserve(out, HPKE_OVERHEAD + pt_len);
    if (rc != SF_OK) {
        return rc;
    }
    p = out->data + out->len;
    rc = sf_hpke_seal_base(SF_HPKE_AES_256_GCM, cv->pub,
                           (const uint8_t *)KS_X25519_INFO,
                           sizeof KS_X25519_INFO - 1, fa->p, fa->len, pt,
                           pt_len, p, p + SF_HPKE_ENC_LEN);
    if (rc == SF_OK) {
        out->len += HPKE_OVERHEAD + pt_len;
    }
    return rc;
}

sf_status sf_keystore_wrap(struct sf_keystore *ks, const char *name,
                           uint32_t version, const uint8_t *aad, size_t aad_len,
                           const uint8_t *pt, size_t pt_len, struct sf_buf *out,
                           uint32_t *used_version)
{
    struct full_aad fa = {.heap = NULL};
    struct ks_ckey *k = NULL;
    struct ks_cver *cv = NULL;
    size_t start;
    sf_status rc;

    if (ks == NULL || name == NULL || out == NULL ||
        (pt == NULL && pt_len > 0) || (aad == NULL && aad_len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (pt_len > SF_KEYSTORE_WRAP_MAX) {
        return sf_fail(SF_ERR_LIMIT, "a wrapped secret is at most %d bytes",
                       SF_KEYSTORE_WRAP_MAX);
    }
    start = out->len;

    rc = resolve(ks, name, &version, check_encrypt, &k, &cv);
    if (rc == SF_OK) {
        rc = build_aad(&fa, k, version, aad, aad_len);
    }
    if (rc != SF_OK) {
        goto out;
    }
    if (cv->type == SF_KEY_X25519) {
        rc = wrap_x25519(cv, &fa, pt, pt_len, out);
    } else if (cv->rsa != NULL) {
        rc = sf_rsa_oaep_encrypt(cv->rsa, fa.p, fa.len, pt, pt_len, false, out);
    } else {
        rc = wrap_sym(cv, &fa, pt, pt_len, out);
    }
    if (rc == SF_OK && used_version != NULL) {
        *used_version = version;
    }

out:
    if (rc != SF_OK && out->len > start) {
        sf_wipe(out->data + start, out->len - start);
        out->len = start;
    }
    free(fa.heap);
    ks_ckey_release(k);
    return rc;
}

static sf_status unwrap_sym(struct ks_cver *cv, const struct full_aad *fa,
                            const uint8_t *ct, size_t ct_len,
                            struct sf_secret **out)
{
    size_t pt_len = ct_len - SYM_OVERHEAD;
    const uint8_t *body = ct + KS_SYM_RANDOM_LEN;
    uint8_t subkey[KS_SYM_KEY_LEN];
    struct sf_aead *a = NULL;
    sf_status rc = SF_OK;

    if (pt_len > 0) {
        rc = sf_secret_new(pt_len, out);
    }
    if (rc == SF_OK) {
        rc = ks_sym_subkey(cv->secret, ct, subkey);
    }
    if (rc == SF_OK) {
        rc = ks_cver_aead_take(cv, subkey, sizeof subkey, &a);
    }
    if (rc == SF_OK) {
        rc = sf_aead_open(a, ct + KS_SYM_SALT_LEN, fa->p, fa->len, body, pt_len,
                          body + pt_len, sf_secret_data(*out));
    }
    ks_cver_aead_give(cv, a);
    sf_wipe(subkey, sizeof subkey);
    return rc;
}

/* HPKE base-mode open of enc(32) || ciphertext || tag with info and aad;
 * the caller checked ct_len against HPKE_OVERHEAD. */
static sf_status unwrap_x25519(struct ks_cver *cv, const uint8_t *info,
                               size_t info_len, const uint8_t *aad,
                               size_t aad_len, const uint8_t *ct, size_t ct_len,
                               struct sf_secret **out)
{
    size_t pt_len = ct_len - HPKE_OVERHEAD;
    sf_status rc = SF_OK;

    if (pt_len > 0) {
        rc = sf_secret_new(pt_len, out);
    }
    if (rc == SF_OK) {
        rc = sf_hpke_open_base(SF_HPKE_AES_256_GCM, sf_secret_cdata(cv->secret),
                               ct, info, info_len, aad, aad_len,
                               ct + SF_HPKE_ENC_LEN, ct_len - SF_HPKE_ENC_LEN,
                               sf_secret_data(*out));
    }
    return rc;
}

static sf_status unwrap_rsa(struct ks_cver *cv, const uint8_t *label,
                            size_t label_len, const uint8_t *ct, size_t ct_len,
                            struct sf_secret **out)
{
    uint8_t pt[RSA_MAX_BYTES];
    size_t pt_len = 0;
    sf_status rc;

    rc = sf_rsa_oaep_decrypt(cv->rsa, label, label_len, ct, ct_len, pt,
                             sizeof pt, &pt_len);
    if (rc == SF_OK && pt_len > 0) {
        rc = sf_secret_from(pt, pt_len, out);
    }
    sf_wipe(pt, sizeof pt);
    return rc;
}

/* Bytes a wrap adds to the secret under cv (RSA: none that is fixed). */
static size_t overhead(const struct ks_cver *cv)
{
    if (cv->type == SF_KEY_X25519) {
        return HPKE_OVERHEAD;
    }
    return cv->rsa != NULL ? 0 : SYM_OVERHEAD;
}

sf_status sf_keystore_unwrap(struct sf_keystore *ks, const char *name,
                             uint32_t version, const uint8_t *aad,
                             size_t aad_len, const uint8_t *ct, size_t ct_len,
                             struct sf_secret **out)
{
    struct full_aad fa = {.heap = NULL};
    struct ks_ckey *k = NULL;
    struct ks_cver *cv = NULL;
    sf_status rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (ks == NULL || name == NULL || out == NULL || ct == NULL ||
        (aad == NULL && aad_len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (version == 0) {
        return sf_fail(SF_ERR_KEY_VERSION,
                       "unwrapping needs the key version the data was "
                       "wrapped with");
    }

    rc = resolve(ks, name, &version, check_decrypt, &k, &cv);
    if (rc == SF_OK) {
        rc = build_aad(&fa, k, version, aad, aad_len);
    }
    if (rc != SF_OK) {
        goto out;
    }
    if (ct_len == 0 || ct_len < overhead(cv) ||
        ct_len - overhead(cv) > SF_KEYSTORE_WRAP_MAX) {
        rc = SF_ERR_AUTH;
    } else if (cv->type == SF_KEY_X25519) {
        rc = unwrap_x25519(cv, (const uint8_t *)KS_X25519_INFO,
                           sizeof KS_X25519_INFO - 1, fa.p, fa.len, ct, ct_len,
                           out);
    } else if (cv->rsa != NULL) {
        rc = unwrap_rsa(cv, fa.p, fa.len, ct, ct_len, out);
    } else {
        rc = unwrap_sym(cv, &fa, ct, ct_len, out);
    }
    /* A degenerate HPKE enc is malformed data like any other: the same
     * status, so the failure says nothing about why. */
    if (rc == SF_ERR_AUTH || rc == SF_ERR_BAD_KEY) {
        rc = sf_fail(SF_ERR_AUTH,
                     "cannot unwrap with key '%s' version %u: the wrapped "
                     "data or its associated data was changed, or it was "
                     "wrapped under another key or version",
                     k->info.name, (unsigned)version);
    }

out:
    if (rc != SF_OK) {
        sf_secret_free(*out);
        *out = NULL;
    }
    free(fa.heap);
    ks_ckey_release(k);
    return rc;
}

/*
 * Checks what sf_keystore_unwrap_external may not be given: info and
 * labels of the keystore's own wraps. Every wrap of sf_keystore_wrap
 * uses the info KS_X25519_INFO (x25519) or a label starting with the
 * binding's label and its NUL (RSA), so refusing them keeps the two
 * calls apart: an external unwrap never opens a keystore wrap, and a
 * grant of one is never a grant of the other.
 */
static sf_status check_external(const struct ks_ckey *k, const uint8_t *info,
                                size_t info_len, const uint8_t *aad,
                                size_t aad_len)
{
    static const uint8_t own_info[] = KS_X25519_INFO;
    static const uint8_t own_label[] = KS_WRAP_LABEL; /* with its NUL */

    if (!sf_key_type_is_asymmetric(k->info.type)) {
        return sf_fail(SF_ERR_KEY_TYPE,
                       "key '%s' is %s, a symmetric key: nothing can be "
                       "sealed to it from outside the keystore",
                       k->info.name, sf_key_type_name(k->info.type));
    }
    if (k->info.type == SF_KEY_X25519) {
        if (info_len == sizeof own_info - 1 &&
            memcmp(info, own_info, info_len) == 0) {
            return sf_fail(SF_ERR_INVALID_ARG,
                           "the HPKE info \"%s\" is reserved for the "
                           "keystore's own wraps (sf_keystore_unwrap)",
                           KS_X25519_INFO);
        }
        return SF_OK;
    }
    if (info_len != 0) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "key '%s' is an RSA key: RSA-OAEP takes no info, "
                       "only a label (aad)",
                       k->info.name);
    }
    if (aad_len >= sizeof own_label &&
        memcmp(aad, own_label, sizeof own_label) == 0) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "an OAEP label starting with \"%s\" is reserved for "
                       "the keystore's own wraps (sf_keystore_unwrap)",
                       KS_WRAP_LABEL);
    }
    return SF_OK;
}

sf_status sf_keystore_unwrap_external(struct sf_keystore *ks, const char *name,
                                      uint32_t version, const uint8_t *info,
                                      size_t info_len, const uint8_t *aad,
                                      size_t aad_len, const uint8_t *ct,
                                      size_t ct_len, struct sf_secret **out)
{
    struct ks_ckey *k = NULL;
    struct ks_cver *cv = NULL;
    sf_status rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (ks == NULL || name == NULL || out == NULL || ct == NULL ||
        (info == NULL && info_len > 0) || (aad == NULL && aad_len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (version == 0) {
        return sf_fail(SF_ERR_KEY_VERSION,
                       "unwrapping needs the key version the data was "
                       "sealed to");
    }

    rc = resolve(ks, name, &version, check_decrypt, &k, &cv);
    if (rc == SF_OK) {
        rc = check_external(k, info, info_len, aad, aad_len);
    }
    if (rc != SF_OK) {
        goto out;
    }
    if (cv->type == SF_KEY_X25519) {
        rc = ct_len < HPKE_OVERHEAD ||
                     ct_len - HPKE_OVERHEAD > SF_KEYSTORE_WRAP_MAX
                 ? SF_ERR_AUTH
                 : unwrap_x25519(cv, info, info_len, aad, aad_len, ct, ct_len,
                                 out);
    } else {
        rc = unwrap_rsa(cv, aad, aad_len, ct, ct_len, out);
    }
    /* As in sf_keystore_unwrap: one status whatever was wrong. */
    if (rc == SF_ERR_AUTH || rc == SF_ERR_BAD_KEY) {
        rc = sf_fail(SF_ERR_AUTH,
                     "cannot open the data sealed to key '%s' version %u: "
                     "it, its info or its associated data was changed, or "
                     "it was sealed to another key",
                     k->info.name, (unsigned)version);
    }

out:
    if (rc != SF_OK) {
        sf_secret_free(*out);
        *out = NULL;
    }
    ks_ckey_release(k);
    return rc;
}

sf_status sf_keystore_public_key(struct sf_keystore *ks, const char *name,
                                 uint32_t version, struct sf_buf *out)
{
    struct ks_ckey *k = NULL;
    struct ks_cver *cv = NULL;
    size_t start;
    sf_status rc;

    if (ks == NULL || name == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    start = out->len;

    rc = resolve(ks, name, &version, check_exists, &k, &cv);
    if (rc != SF_OK) {
        return rc;
    }
    if (!sf_key_type_is_asymmetric(cv->type)) {
        rc = sf_fail(SF_ERR_KEY_TYPE,
                     "key '%s' is %s, a symmetric key: it has no public key",
                     k->info.name, sf_key_type_name(cv->type));
    } else if (cv->type == SF_KEY_X25519) {
        rc = sf_buf_put_str(out, "sealflow-x25519:");
        if (rc == SF_OK) {
            rc = sf_b64_encode(SF_B64_URL, cv->pub, sizeof cv->pub, out);
        }
    } else {
        rc = sf_rsa_public_pem(cv->rsa, out);
    }
    if (rc != SF_OK) {
        out->len = start;
    }
    ks_ckey_release(k);
    return rc;
}
