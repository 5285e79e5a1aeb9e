/*
 * Internal: a cache of data keys obtained from a key service, so that the
 * network, the expensive part, is paid once per key and not once per
 * message.
 *
 * An entry holds a plaintext data key (in secret memory), its wrapped
 * form as the service returned it, and the version of the key-encryption
 * key (KEK) that wrapped it. It is served while it is within every limit:
 * age (since the service produced or confirmed it), uses and bytes. When
 * a lookup finds no usable entry, the caller's fetch function asks the
 * service for a new one; threads that miss on the same key while a fetch
 * is running wait for that fetch instead of starting their own, so N
 * concurrent misses cost one request.
 *
 * Grace: when a fetch fails because the service is unreachable
 * (SF_ERR_UNAVAILABLE or SF_ERR_TIMEOUT), an entry whose age is below
 * max_age + grace is served anyway. This bounds how long a key outlives
 * the service's last word on it, and keeps reads working through a short
 * outage. Caches that must not do this set grace to 0.
 *
 * Keys are 32-byte digests chosen by the caller (they already spread
 * well, so the table hashes them by their first bytes). Thread-safe.
 */
#ifndef SF_DEKCACHE_H
#define SF_DEKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/secret.h"
#include "sealflow/status.h"

#define SF_DEKCACHE_KEY_LEN 32

/* Milliseconds on a monotonic clock. */
typedef uint64_t (*sf_clock_fn)(void *arg);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t sf_clock_monotonic_ms(void *arg);

struct sf_dekcache_limits {
    uint64_t max_age_ms;  /* 0: nothing is ever served from the cache */
    uint64_t max_uses;    /* 0: no limit */
    uint64_t max_bytes;   /* 0: no limit */
    uint64_t grace_ms;    /* see above; 0: none */
    size_t max_entries;   /* >= 1; the least recently used goes first */
};

/* What a fetch produces and a lookup returns. */
struct sf_dekcache_item {
    struct sf_secret *dek;
    struct sf_buf wrapped; /* e.g. "vault:v3:..."; NUL-terminated */
    uint32_t version;      /* KEK version */
};

/* Frees the item's parts; the struct is reusable afterwards. */
void sf_dekcache_item_clear(struct sf_dekcache_item *it);

/* Asks the service for a fresh item. Called without any lock held. On
 * failure it leaves an explanation in sf_last_error(), which threads
 * waiting on this fetch receive too. */
typedef sf_status (*sf_dekcache_fetch_fn)(void *arg,
                                          struct sf_dekcache_item *out);

struct sf_dekcache_stats {
    uint64_t hits;
    uint64_t misses;     /* lookups that found no usable entry */
    uint64_t fetches;    /* fetch calls made */
    uint64_t coalesced;  /* misses served by another thread's fetch */
    uint64_t stale_hits; /* entries served within the grace period */
    size_t entries;
};

struct sf_dekcache;

/* clock NULL means sf_clock_monotonic_ms. */
SF_MUST_CHECK sf_status sf_dekcache_new(const struct sf_dekcache_limits *l,
                                        sf_clock_fn clock, void *clock_arg,
                                        struct sf_dekcache **out);

/* Wipes every key. NULL is allowed. No thread may be inside the cache. */
void sf_dekcache_free(struct sf_dekcache *c);

/*
 * Returns a copy of a usable entry for key, counting one use and bytes
 * more; or, on a miss, fetches one with fetch (or waits for the fetch
 * another thread is running), stores it and returns a copy. With fetch
 * NULL a miss returns SF_ERR_NO_KEY (a pure lookup; no grace either).
 * out must be empty; on failure it stays empty.
 */
SF_MUST_CHECK sf_status sf_dekcache_take(struct sf_dekcache *c,
                                         const uint8_t *key,
                                         uint64_t bytes,
                                         sf_dekcache_fetch_fn fetch,
                                         void *arg,
                                         struct sf_dekcache_item *out);

/* Stores a copy of item under key (replacing what was there) as fresh,
 * with no use counted. Callers may ignore a failure (SF_ERR_NOMEM): the
 * key is then simply not kept. */
sf_status sf_dekcache_put(struct sf_dekcache *c,
                                        const uint8_t *key,
                                        const struct sf_dekcache_item *item);

/* For a failed fetch that the caller ran itself: when rc says the service
 * is unreachable and an entry for key is within max_age + grace, returns
 * a copy of it (counted as a stale hit); otherwise returns rc. */
SF_MUST_CHECK sf_status sf_dekcache_stale(struct sf_dekcache *c,
                                          const uint8_t *key, sf_status rc,
                                          struct sf_dekcache_item *out);

/* Drops the entry for key if its KEK version is below version: a newer
 * KEK version has been seen, so new data must not use the old one. */
void sf_dekcache_drop_older(struct sf_dekcache *c, const uint8_t *key,
                            uint32_t version);

/* Drops (and wipes) every entry. */
void sf_dekcache_flush(struct sf_dekcache *c);

void sf_dekcache_stats(struct sf_dekcache *c, struct sf_dekcache_stats *out);

#endif
