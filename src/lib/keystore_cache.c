#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keystore_cache.h"
#include "x25519.h"

sf_status ks_cache_init(struct ks_cache *c)
{
    memset(c, 0, sizeof *c);
    if (pthread_rwlock_init(&c->lock, NULL) != 0) {
        return SF_ERR_NOMEM;
    }
    return SF_OK;
}

/* Removes every entry; the caller holds the write lock. */
static void clear_locked(struct ks_cache *c)
{
    for (size_t i = 0; i < c->len; i++) {
        ks_ckey_release(c->keys[i]);
    }
    c->len = 0;
}

void ks_cache_destroy(struct ks_cache *c)
{
    clear_locked(c);
    free(c->keys);
    c->keys = NULL;
    c->cap = 0;
    pthread_rwlock_destroy(&c->lock);
}

/* Binary search: the index of name, or where it would go (*found false).
 * Names compare as bytes, as the store orders them. */
static size_t find(const struct ks_cache *c, const char *name, bool *found)
{
    size_t lo = 0;
    size_t hi = c->len;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->keys[mid]->info.name, name);

        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

struct ks_ckey *ks_cache_get(struct ks_cache *c, const char *name)
{
    struct ks_ckey *k = NULL;
    bool found;
    size_t i;

    pthread_rwlock_rdlock(&c->lock);
    i = find(c, name, &found);
    if (found) {
        k = c->keys[i];
        atomic_fetch_add(&k->refs, 1);
    }
    pthread_rwlock_unlock(&c->lock);
    return k;
}

sf_status ks_cache_put(struct ks_cache *c, struct ks_ckey *k)
{
    sf_status rc = SF_OK;
    bool found;
    size_t i;

    pthread_rwlock_wrlock(&c->lock);
    i = find(c, k->info.name, &found);
    if (found) {
        ks_ckey_release(c->keys[i]);
    } else if (c->len == c->cap) {
        size_t ncap = c->cap == 0 ? 16 : c->cap * 2;
        struct ks_ckey **n = realloc(c->keys, ncap * sizeof *n);

        if (n == NULL) {
            rc = SF_ERR_NOMEM;
            goto out;
        }
        c->keys = n;
        c->cap = ncap;
    }
    if (!found) {
        memmove(c->keys + i + 1, c->keys + i, (c->len - i) * sizeof *c->keys);
        c->len++;
    }
    atomic_fetch_add(&k->refs, 1);
    c->keys[i] = k;

out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

void ks_cache_drop(struct ks_cache *c, const char *name)
{
    bool found;
    size_t i;

    pthread_rwlock_wrlock(&c->lock);
    i = find(c, name, &found);
    if (found) {
        ks_ckey_release(c->keys[i]);
        memmove(c->keys + i, c->keys + i + 1,
                (c->len - i - 1) * sizeof *c->keys);
        c->len--;
    }
    pthread_rwlock_unlock(&c->lock);
}

void ks_cache_flush(struct ks_cache *c)
{
    pthread_rwlock_wrlock(&c->lock);
    clear_locked(c);
    pthread_rwlock_unlock(&c->lock);
}

sf_status ks_ckey_new(const struct sf_key_info *info, struct ks_ckey **out)
{
    struct ks_ckey *k;

    *out = NULL;
    if (info->min_available_version < 1 ||
        info->min_available_version > info->latest_version) {
        return sf_fail(SF_ERR_STORE, "key '%s' has no available version",
                       info->name);
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        return SF_ERR_NOMEM;
    }
    k->info = *info;
    k->first = info->min_available_version;
    k->n_slots = (size_t)(info->latest_version - k->first) + 1;
    k->slots = calloc(k->n_slots, sizeof *k->slots);
    if (k->slots == NULL) {
        free(k);
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < k->n_slots; i++) {
        atomic_init(&k->slots[i], NULL);
    }
    atomic_init(&k->refs, 1);
    *out = k;
    return SF_OK;
}

void ks_ckey_release(struct ks_ckey *k)
{
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < k->n_slots; i++) {
        ks_cver_free(atomic_load(&k->slots[i]));
    }
    free(k->slots);
    free(k);
}

struct ks_cver *ks_ckey_version(struct ks_ckey *k, uint32_t v)
{
    if (v < k->first || v > k->info.latest_version) {
        return NULL;
    }
    return atomic_load(&k->slots[v - k->first]);
}

struct ks_cver *ks_ckey_set_version(struct ks_ckey *k, struct ks_cver *cv)
{
    struct ks_cver *expected = NULL;
    size_t i = (size_t)(cv->version - k->first);

    if (atomic_compare_exchange_strong(&k->slots[i], &expected, cv)) {
        return cv;
    }
    ks_cver_free(cv);
    return expected;
}

/* Checks that the stored public part is the one the private key gives,
 * so an edited public part cannot redirect wraps to another key. */
static sf_status open_asymmetric(struct ks_cver *cv,
                                 const struct sf_buf *public_part)
{
    struct sf_buf der = SF_BUF_INIT;
    sf_status rc;

    if (cv->type == SF_KEY_X25519) {
        if (sf_secret_len(cv->secret) != SF_X25519_LEN ||
            sf_x25519_public(sf_secret_cdata(cv->secret), cv->pub) != SF_OK ||
            public_part->len != SF_X25519_LEN ||
            memcmp(public_part->data, cv->pub, SF_X25519_LEN) != 0) {
            return SF_ERR_BAD_KEY;
        }
        return SF_OK;
    }
    rc = sf_rsa_from_der(sf_secret_cdata(cv->secret), sf_secret_len(cv->secret),
                         true, &cv->rsa);
    if (rc == SF_OK) {
        rc = sf_rsa_to_der(cv->rsa, false, &der);
    }
    if (rc == SF_OK && (der.len != public_part->len ||
                        memcmp(der.data, public_part->data, der.len) != 0 ||
                        sf_rsa_bits(cv->rsa) !=
                            (cv->type == SF_KEY_RSA_3072 ? 3072u : 4096u))) {
        rc = SF_ERR_BAD_KEY;
    }
    sf_buf_free(&der);
    return rc == SF_OK ? SF_OK : SF_ERR_BAD_KEY;
}

sf_status ks_cver_new(enum sf_key_type type, uint32_t version,
                      struct sf_secret *secret,
                      const struct sf_buf *public_part, struct ks_cver **out)
{
    struct ks_cver *cv;
    sf_status rc = SF_OK;

    *out = NULL;
    cv = calloc(1, sizeof *cv);
    if (cv == NULL) {
        sf_secret_free(secret);
        return SF_ERR_NOMEM;
    }
    cv->version = version;
    cv->type = type;
    cv->secret = secret;
    if (pthread_mutex_init(&cv->pool_lock, NULL) != 0) {
        sf_secret_free(secret);
        free(cv);
        return SF_ERR_NOMEM;
    }
    if (sf_key_type_is_asymmetric(type)) {
        rc = open_asymmetric(cv, public_part);
    } else if (sf_secret_len(secret) != 32 || public_part->len != 0) {
        rc = SF_ERR_BAD_KEY;
    }
    if (rc != SF_OK) {
        ks_cver_free(cv);
        return rc;
    }
    *out = cv;
    return SF_OK;
}

void ks_cver_free(struct ks_cver *cv)
{
    if (cv == NULL) {
        return;
    }
    for (size_t i = 0; i < cv->pool_len; i++) {
        sf_aead_free(cv->pool[i]);
    }
    sf_rsa_free(cv->rsa);
    sf_secret_free(cv->secret);
    sf_wipe(cv->pub, sizeof cv->pub);
    pthread_mutex_destroy(&cv->pool_lock);
    free(cv);
}

sf_status ks_cver_aead_take(struct ks_cver *cv, const uint8_t *key,
                            size_t key_len, struct sf_aead **a)
{
    enum sf_aead_alg alg = cv->type == SF_KEY_CHACHA20_POLY1305
                               ? SF_AEAD_CHACHA20_POLY1305
                               : SF_AEAD_AES_256_GCM;
    sf_status rc;

    *a = NULL;
    pthread_mutex_lock(&cv->pool_lock);
    if (cv->pool_len > 0) {
        *a = cv->pool[--cv->pool_len];
    }
    pthread_mutex_unlock(&cv->pool_lock);
    if (*a == NULL) {
        return sf_aead_new(alg, key, key_len, a);
    }
    rc = sf_aead_rekey(*a, key, key_len);
    if (rc != SF_OK) {
        sf_aead_free(*a);
        *a = NULL;
    }
    return rc;
}

void ks_cver_aead_give(struct ks_cver *cv, struct sf_aead *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&cv->pool_lock);
    if (cv->pool_len < KS_AEAD_POOL_MAX) {
        cv->pool[cv->pool_len++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&cv->pool_lock);
    sf_aead_free(a);
}
