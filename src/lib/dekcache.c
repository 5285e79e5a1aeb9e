#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dekcache.h"
#include "error.h"

/* Table sizes above this are refused: a cache that large is a mistake. */
#define DC_ENTRIES_MAX ((size_t)1 << 20)

struct dc_entry {
    uint8_t key[SF_DEKCACHE_KEY_LEN];
    struct sf_dekcache_item item;
    uint64_t born; /* when the service produced or confirmed it */
    uint64_t uses;
    uint64_t bytes;
    struct dc_entry *chain; /* next in the same bucket */
    struct dc_entry *newer; /* recency list: head is the most recent */
    struct dc_entry *older;
};

/* One fetch in progress; threads that miss on its key wait for it. */
struct dc_flight {
    uint8_t key[SF_DEKCACHE_KEY_LEN];
    bool is_done;
    sf_status rc;
    char why[256];
    size_t waiters;
    struct dc_flight *next;
};

struct sf_dekcache {
    struct sf_dekcache_limits lim;
    sf_clock_fn clock;
    void *clock_arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct dc_entry **buckets;
    size_t mask; /* bucket count - 1; the count is a power of two */
    struct dc_entry *head;
    struct dc_entry *tail;
    size_t len;
    struct dc_flight *flights;
    struct sf_dekcache_stats st;
};

uint64_t sf_clock_monotonic_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sf_dekcache_item_clear(struct sf_dekcache_item *it)
{
    sf_secret_free(it->dek);
    it->dek = NULL;
    sf_buf_free(&it->wrapped);
    it->version = 0;
}

static sf_status item_copy(const struct sf_dekcache_item *from,
                           struct sf_dekcache_item *to)
{
    sf_status rc = sf_secret_dup(from->dek, &to->dek);

    if (rc == SF_OK) {
        rc = sf_buf_append(&to->wrapped, from->wrapped.data,
                           from->wrapped.len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_terminate(&to->wrapped);
    }
    to->version = from->version;
    if (rc != SF_OK) {
        sf_dekcache_item_clear(to);
    }
    return rc;
}

sf_status sf_dekcache_new(const struct sf_dekcache_limits *l,
                          sf_clock_fn clock, void *clock_arg,
                          struct sf_dekcache **out)
{
    struct sf_dekcache *c;
    size_t n = 16;

    *out = NULL;
    if (l->max_entries == 0 || l->max_entries > DC_ENTRIES_MAX) {
        return sf_fail(SF_ERR_INVALID_ARG, "DEK cache: max entries must be "
                       "1..%zu", DC_ENTRIES_MAX);
    }
    while (n < l->max_entries) {
        n *= 2;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return SF_ERR_NOMEM;
    }
    c->buckets = calloc(n, sizeof *c->buckets);
    if (c->buckets == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->buckets);
        free(c);
        return SF_ERR_NOMEM;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c->buckets);
        free(c);
        return SF_ERR_NOMEM;
    }
    c->mask = n - 1;
    c->lim = *l;
    c->clock = clock != NULL ? clock : sf_clock_monotonic_ms;
    c->clock_arg = clock_arg;
    *out = c;
    return SF_OK;
}

/* ---- the table (all called with mu held) ------------------------------ */

static struct dc_entry **bucket_of(struct sf_dekcache *c, const uint8_t *key)
{
    uint64_t h;

    memcpy(&h, key, sizeof h);
    return &c->buckets[h & c->mask];
}

static struct dc_entry *find(struct sf_dekcache *c, const uint8_t *key)
{
    struct dc_entry *e = *bucket_of(c, key);

    while (e != NULL && memcmp(e->key, key, SF_DEKCACHE_KEY_LEN) != 0) {
        e = e->chain;
    }
    return e;
}

static void list_unlink(struct sf_dekcache *c, struct dc_entry *e)
{
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        c->head = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        c->tail = e->newer;
    }
    e->newer = NULL;
    e->older = NULL;
}

static void list_push(struct sf_dekcache *c, struct dc_entry *e)
{
    e->older = c->head;
    e->newer = NULL;
    if (c->head != NULL) {
        c->head->newer = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
}

static void remove_entry(struct sf_dekcache *c, struct dc_entry *e)
{
    struct dc_entry **p = bucket_of(c, e->key);

    while (*p != e) {
        p = &(*p)->chain;
    }
    *p = e->chain;
    list_unlink(c, e);
    sf_dekcache_item_clear(&e->item);
    free(e);
    c->len--;
}

/* Takes ownership of item's parts (also on failure, when it wipes
 * them). */
static sf_status insert(struct sf_dekcache *c, const uint8_t *key,
                        struct sf_dekcache_item *item,
                        struct dc_entry **out)
{
    struct dc_entry *e = find(c, key);
    struct dc_entry **b;

    if (e != NULL) {
        remove_entry(c, e);
    }
    if (c->len >= c->lim.max_entries) {
        remove_entry(c, c->tail);
    }
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        sf_dekcache_item_clear(item);
        return SF_ERR_NOMEM;
    }
    memcpy(e->key, key, SF_DEKCACHE_KEY_LEN);
    e->item = *item;
    memset(item, 0, sizeof *item);
    e->born = c->clock(c->clock_arg);
    b = bucket_of(c, key);
    e->chain = *b;
    *b = e;
    list_push(c, e);
    c->len++;
    *out = e;
    return SF_OK;
}

static uint64_t age_of(struct sf_dekcache *c, const struct dc_entry *e)
{
    uint64_t now = c->clock(c->clock_arg);

    return now > e->born ? now - e->born : 0;
}

static bool within_counts(struct sf_dekcache *c, const struct dc_entry *e,
                          uint64_t bytes)
{
    if (c->lim.max_uses > 0 && e->uses >= c->lim.max_uses) {
        return false;
    }
    return c->lim.max_bytes == 0 || (e->bytes <= c->lim.max_bytes &&
                                      bytes <= c->lim.max_bytes - e->bytes);
}

/* Counts one use of e and copies it out. */
static sf_status use(struct sf_dekcache *c, struct dc_entry *e,
                     uint64_t bytes, struct sf_dekcache_item *out)
{
    sf_status rc = item_copy(&e->item, out);

    if (rc == SF_OK) {
        e->uses++;
        e->bytes += bytes;
        list_unlink(c, e);
        list_push(c, e);
    }
    return rc;
}

/* SF_OK with a copy of a usable entry, or SF_ERR_NO_KEY. */
static sf_status lookup(struct sf_dekcache *c, const uint8_t *key,
                        uint64_t bytes, struct sf_dekcache_item *out)
{
    struct dc_entry *e = find(c, key);

    if (e == NULL || age_of(c, e) >= c->lim.max_age_ms ||
        !within_counts(c, e, bytes)) {
        return SF_ERR_NO_KEY;
    }
    return use(c, e, bytes, out);
}

static sf_status stale_locked(struct sf_dekcache *c, const uint8_t *key,
                              sf_status rc, struct sf_dekcache_item *out)
{
    struct dc_entry *e;

    if ((rc != SF_ERR_UNAVAILABLE && rc != SF_ERR_TIMEOUT) ||
        c->lim.grace_ms == 0) {
        return rc;
    }
    e = find(c, key);
    if (e == NULL || age_of(c, e) >= c->lim.max_age_ms + c->lim.grace_ms ||
        !within_counts(c, e, 0)) {
        return rc;
    }
    if (use(c, e, 0, out) != SF_OK) {
        return rc;
    }
    c->st.stale_hits++;
    sf_clear_error();
    return SF_OK;
}

/* ---- fetching ------------------------------------------------------- */

static void flight_finish(struct sf_dekcache *c, struct dc_flight *f,
                          sf_status rc)
{
    struct dc_flight **p = &c->flights;

    while (*p != f) {
        p = &(*p)->next;
    }
    *p = f->next;
    f->is_done = true;
    f->rc = rc;
    if (rc != SF_OK) {
        snprintf(f->why, sizeof f->why, "%s", sf_last_error());
    }
    pthread_cond_broadcast(&c->cv);
    if (f->waiters == 0) {
        free(f);
    }
}

/* Runs fetch with mu released; other threads that miss on key wait. */
static sf_status run_fetch(struct sf_dekcache *c, const uint8_t *key,
                           uint64_t bytes, sf_dekcache_fetch_fn fetch,
                           void *arg, struct sf_dekcache_item *out)
{
    struct sf_dekcache_item fresh = {NULL, SF_BUF_INIT, 0};
    struct dc_flight *f = calloc(1, sizeof *f);
    struct dc_entry *e = NULL;
    sf_status rc;

    if (f == NULL) {
        return SF_ERR_NOMEM;
    }
    memcpy(f->key, key, SF_DEKCACHE_KEY_LEN);
    f->next = c->flights;
    c->flights = f;
    c->st.fetches++;

    pthread_mutex_unlock(&c->mu);
    rc = fetch(arg, &fresh);
    pthread_mutex_lock(&c->mu);

    if (rc == SF_OK && fresh.dek == NULL) {
        rc = sf_fail(SF_ERR_INTERNAL, "DEK cache: fetch returned no key");
    }
    if (rc == SF_OK) {
        rc = insert(c, key, &fresh, &e);
    }
    if (rc == SF_OK) {
        rc = use(c, e, bytes, out);
    }
    sf_dekcache_item_clear(&fresh);
    flight_finish(c, f, rc);
    return rc == SF_OK ? rc : stale_locked(c, key, rc, out);
}

/* Waits for another thread's fetch; its failure becomes ours. */
static sf_status wait_flight(struct sf_dekcache *c, struct dc_flight *f)
{
    sf_status rc;

    f->waiters++;
    while (!f->is_done) {
        pthread_cond_wait(&c->cv, &c->mu);
    }
    f->waiters--;
    rc = f->rc;
    if (rc != SF_OK) {
        rc = sf_fail(rc, "%s", f->why[0] != '\0' ? f->why
                                                 : sf_status_str(rc));
    }
    if (f->waiters == 0) {
        free(f);
    }
    return rc;
}

static struct dc_flight *find_flight(struct sf_dekcache *c,
                                     const uint8_t *key)
{
    struct dc_flight *f = c->flights;

    while (f != NULL && memcmp(f->key, key, SF_DEKCACHE_KEY_LEN) != 0) {
        f = f->next;
    }
    return f;
}

sf_status sf_dekcache_take(struct sf_dekcache *c, const uint8_t *key,
                           uint64_t bytes, sf_dekcache_fetch_fn fetch,
                           void *arg, struct sf_dekcache_item *out)
{
    bool has_waited = false;
    struct dc_flight *f;
    sf_status rc;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        rc = lookup(c, key, bytes, out);
        if (rc == SF_OK) {
            c->st.hits++;
            c->st.coalesced += has_waited ? 1 : 0;
            break;
        }
        c->st.misses += has_waited ? 0 : 1;
        if (rc != SF_ERR_NO_KEY || fetch == NULL) {
            break;
        }
        f = find_flight(c, key);
        if (f == NULL) {
            rc = run_fetch(c, key, bytes, fetch, arg, out);
            break;
        }
        has_waited = true;
        rc = wait_flight(c, f);
        if (rc != SF_OK) {
            rc = stale_locked(c, key, rc, out);
            break;
        }
        /* The fetch stored an entry: look again (it may already be used
         * up by the fetcher and others, then this thread fetches). */
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

sf_status sf_dekcache_put(struct sf_dekcache *c, const uint8_t *key,
                          const struct sf_dekcache_item *item)
{
    struct sf_dekcache_item copy = {NULL, SF_BUF_INIT, 0};
    struct dc_entry *e;
    sf_status rc = item_copy(item, &copy);

    if (rc != SF_OK) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    rc = insert(c, key, &copy, &e);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

sf_status sf_dekcache_stale(struct sf_dekcache *c, const uint8_t *key,
                            sf_status rc, struct sf_dekcache_item *out)
{
    pthread_mutex_lock(&c->mu);
    rc = stale_locked(c, key, rc, out);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void sf_dekcache_drop_older(struct sf_dekcache *c, const uint8_t *key,
                            uint32_t version)
{
    struct dc_entry *e;

    pthread_mutex_lock(&c->mu);
    e = find(c, key);
    if (e != NULL && e->item.version < version) {
        remove_entry(c, e);
    }
    pthread_mutex_unlock(&c->mu);
}

void sf_dekcache_flush(struct sf_dekcache *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->head != NULL) {
        remove_entry(c, c->head);
    }
    pthread_mutex_unlock(&c->mu);
}

void sf_dekcache_stats(struct sf_dekcache *c, struct sf_dekcache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->entries = c->len;
    pthread_mutex_unlock(&c->mu);
}

void sf_dekcache_free(struct sf_dekcache *c)
{
    if (c == NULL) {
        return;
    }
    sf_dekcache_flush(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->buckets);
    free(c);
}
