/*
 * Internal: the keystore handle, shared by keystore.c (lifecycle and
 * changes), keystore_wrap.c (wrap, unwrap, public keys) and
 * keystore_find.c (public key fingerprints).
 */
#ifndef SF_KEYSTORE_INTERNAL_H
#define SF_KEYSTORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "keystore_cache.h"
#include "keystore_store.h"
#include "sealflow/keystore.h"

/* One asymmetric key version by the fingerprint of its public key. */
struct ks_fp_entry {
    char fp[SF_KEYSTORE_FINGERPRINT_MAX];
    char name[SF_KEY_NAME_MAX + 1];
    uint32_t version;
    uint32_t min_decryption_version;
};

/* The fingerprints of every available asymmetric key version, sorted by
 * fingerprint, then name and version (keystore_find.c). */
struct ks_fp_index {
    struct ks_fp_entry *entries;
    size_t len;
    uint64_t generation; /* the handle's generation it was built at */
    bool is_built;
};

struct sf_keystore {
    struct ks_store *store;
    /* Serialises every use of store and every change of cache's table;
     * taken before the cache's lock, never after. */
    pthread_mutex_t store_lock;
    char *path;
    struct sf_secret *seal_key;     /* derived from the root key */
    struct sf_secret *settings_key; /* the same, for the settings MACs */
    struct ks_cache cache;
    struct ks_fp_index fp_index; /* under store_lock */
    /* The store's generation the cache reflects (under store_lock). */
    uint64_t generation;
    /* Monotonic time in ms when the generation is next compared. */
    atomic_int_fast64_t next_check_ms;
    atomic_uint refresh_ms;
};

/*
 * Compares the store's generation with the cache's, at most once per
 * refresh_ms (force: now), and empties the cache when another handle
 * changed the store. Failing to read it is an error: serving from a cache
 * that may be stale beyond the documented bound would be worse.
 */
sf_status ks_refresh(struct sf_keystore *ks, bool force);

/*
 * Reads the key row of name and checks its settings MAC; the caller
 * holds store_lock. SF_ERR_KEY_NOT_FOUND (with a message naming the key),
 * SF_ERR_STORE when the row was modified outside sealflow.
 */
sf_status ks_read_key(struct sf_keystore *ks, const char *name,
                      struct sf_key_info *info);

/*
 * Upgrades a schema version 2 file that was just opened (and whose root
 * key was checked) to KS_SCHEMA_VERSION, in one transaction: every
 * version's material is sealed again with its creation time in the
 * associated data. SF_ERR_STORE when a row was modified outside sealflow;
 * the file is then left as it was.
 */
sf_status ks_upgrade(struct sf_keystore *ks);

/* Frees the fingerprint index. */
void ks_fp_index_free(struct ks_fp_index *ix);

/* Test hook: makes the nth store write from now fail (exits: end the
 * process there instead, as a crash would). n = 0 disarms it. */
void ks_test_fail_after(struct sf_keystore *ks, int n, bool exits);

#endif
