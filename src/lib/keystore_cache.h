/*
 * Internal: the keystore's in-memory cache of opened key versions, so a
 * wrap or unwrap costs one AEAD (or HPKE, or RSA) operation and no
 * database access.
 *
 * Entries (struct ks_ckey) are per key: a snapshot of the key row and one
 * slot per available version, filled when first used. An entry is never
 * changed once published except for filling empty slots (atomically);
 * a newer row replaces the whole entry. Entries are reference-counted:
 * a caller that got one from ks_cache_get may use it after the cache
 * dropped it, until it calls ks_ckey_release.
 *
 * Locking: lookups take the cache's read lock briefly. Every change to
 * the table (put, drop, flush) is made while the keystore's store mutex
 * is held as well, so a row read from the store can never be published
 * after a newer change has already invalidated it.
 */
#ifndef SF_KEYSTORE_CACHE_H
#define SF_KEYSTORE_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "rsa_oaep.h"
#include "sealflow/buf.h"
#include "sealflow/keystore.h"
#include "sealflow/secret.h"

/* Idle AEAD contexts kept per version: about one per thread that uses
 * it at the same moment. More threads still work; the extra contexts are
 * created and freed per call. A pooled context keeps the schedule of the
 * last subkey it was given; that subkey derives from the version's key,
 * which the same entry holds anyway, and contexts are wiped when freed. */
#define KS_AEAD_POOL_MAX 8

/* One opened key version. Immutable after creation apart from the pool. */
struct ks_cver {
    uint32_t version;
    enum sf_key_type type;
    struct sf_secret *secret; /* symmetric key, x25519 private key, or
                                 RSA PKCS#8 DER */
    uint8_t pub[32];          /* x25519 public key */
    struct sf_rsa_key *rsa;   /* RSA key pair */
    pthread_mutex_t pool_lock;
    size_t pool_len;
    struct sf_aead *pool[KS_AEAD_POOL_MAX];
};

struct ks_ckey {
    atomic_size_t refs;
    struct sf_key_info info;
    uint32_t first; /* slot 0 holds this version (min_available) */
    size_t n_slots; /* versions first..info.latest_version */
    _Atomic(struct ks_cver *) *slots;
};

struct ks_cache {
    pthread_rwlock_t lock;
    struct ks_ckey **keys; /* sorted by name */
    size_t len;
    size_t cap;
};

sf_status ks_cache_init(struct ks_cache *c);
void ks_cache_destroy(struct ks_cache *c);

/* The entry for name with a reference the caller releases, or NULL. */
struct ks_ckey *ks_cache_get(struct ks_cache *c, const char *name);

/* Publishes k, replacing any entry of the same name; the cache takes its
 * own reference. */
sf_status ks_cache_put(struct ks_cache *c, struct ks_ckey *k);

void ks_cache_drop(struct ks_cache *c, const char *name);
void ks_cache_flush(struct ks_cache *c);

/* A new entry for a key row, holding one reference for the caller. */
sf_status ks_ckey_new(const struct sf_key_info *info, struct ks_ckey **out);
void ks_ckey_release(struct ks_ckey *k);

/* The opened version v (first <= v <= latest), or NULL if not yet
 * loaded. */
struct ks_cver *ks_ckey_version(struct ks_ckey *k, uint32_t v);

/* Stores cv in its slot unless another thread was first; returns the
 * version now in the slot and frees cv if it lost. The entry owns it. */
struct ks_cver *ks_ckey_set_version(struct ks_ckey *k, struct ks_cver *cv);

/*
 * Opens a version from its material (ownership of secret moves to the
 * new entry, also on failure) and its stored public part, which must
 * match the one derived from the private key (SF_ERR_BAD_KEY otherwise,
 * as for unparsable material).
 */
sf_status ks_cver_new(enum sf_key_type type, uint32_t version,
                      struct sf_secret *secret,
                      const struct sf_buf *public_part, struct ks_cver **out);
void ks_cver_free(struct ks_cver *cv);

/*
 * Borrows an AEAD context of this (symmetric) version's algorithm, keyed
 * with key (a per-wrap subkey): a pooled context is re-keyed in place, so
 * the common path allocates nothing. Give it back with ks_cver_aead_give.
 */
sf_status ks_cver_aead_take(struct ks_cver *cv, const uint8_t *key,
                            size_t key_len, struct sf_aead **a);
void ks_cver_aead_give(struct ks_cver *cv, struct sf_aead *a);

#endif
