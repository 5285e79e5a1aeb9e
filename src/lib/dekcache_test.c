#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dekcache.h"
#include "error.h"

/* ---- a fake clock and a fake key service ----------------------------- */

static _Atomic uint64_t fake_now = 1000;

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return atomic_load(&fake_now);
}

struct fake_service {
    atomic_uint calls;
    uint32_t version;
    sf_status fail_with;        /* SF_OK: succeed */
    struct sf_dekcache *cache;  /* for waiting on concurrent misses */
    uint64_t wait_misses;       /* block until this many misses */
};

/* Each fetch makes a distinct key: byte 0 is the call number. */
static sf_status fake_fetch(void *arg, struct sf_dekcache_item *out)
{
    struct fake_service *s = arg;
    unsigned n = atomic_fetch_add(&s->calls, 1) + 1;
    uint8_t key[32];
    char wrapped[64];
    sf_status rc;

    if (s->wait_misses > 0) {
        struct sf_dekcache_stats st;
        const struct timespec ms = {0, 1000000};

        for (int i = 0; i < 5000; i++) {
            sf_dekcache_stats(s->cache, &st);
            if (st.misses >= s->wait_misses) {
                break;
            }
            nanosleep(&ms, NULL);
        }
    }
    if (s->fail_with != SF_OK) {
        return sf_fail(s->fail_with, "fake service: failure %u", n);
    }
    memset(key, 0, sizeof key);
    key[0] = (uint8_t)n;
    rc = sf_secret_from(key, sizeof key, &out->dek);
    snprintf(wrapped, sizeof wrapped, "vault:v%u:call-%u",
             (unsigned)s->version, n);
    if (rc == SF_OK) {
        rc = sf_buf_put_str(&out->wrapped, wrapped);
    }
    out->version = s->version;
    return rc;
}

static const uint8_t key_a[SF_DEKCACHE_KEY_LEN] = {'a'};
static const uint8_t key_b[SF_DEKCACHE_KEY_LEN] = {'b'};

static struct sf_dekcache *new_cache(uint64_t age, uint64_t uses,
                                     uint64_t bytes, uint64_t grace,
                                     size_t entries)
{
    struct sf_dekcache_limits l = {age, uses, bytes, grace, entries};
    struct sf_dekcache *c = NULL;

    assert_int_equal(sf_dekcache_new(&l, fake_clock, NULL, &c), SF_OK);
    return c;
}

/* Takes key and checks which fetch produced the data key. */
static void expect_take(struct sf_dekcache *c, const uint8_t *key,
                        uint64_t bytes, struct fake_service *s,
                        unsigned from_call)
{
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};
    char wrapped[64];

    assert_int_equal(sf_dekcache_take(c, key, bytes, fake_fetch, s, &it),
                     SF_OK);
    assert_int_equal(sf_secret_len(it.dek), 32);
    assert_int_equal(sf_secret_cdata(it.dek)[0], from_call);
    snprintf(wrapped, sizeof wrapped, "vault:v%u:call-%u",
             (unsigned)s->version, from_call);
    assert_string_equal((const char *)it.wrapped.data, wrapped);
    sf_dekcache_item_clear(&it);
}

/* ---- tests -------------------------------------------------------------- */

static void test_second_take_is_served_from_cache(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 8);
    struct sf_dekcache_stats st;

    (void)state;
    expect_take(c, key_a, 10, &s, 1);
    expect_take(c, key_a, 10, &s, 1);
    expect_take(c, key_b, 10, &s, 2);
    assert_int_equal(atomic_load(&s.calls), 2);
    sf_dekcache_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.fetches, 2);
    assert_int_equal(st.entries, 2);
    sf_dekcache_free(c);
}

static void test_max_age_forces_new_fetch(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(500, 0, 0, 0, 8);

    (void)state;
    atomic_store(&fake_now, 1000);
    expect_take(c, key_a, 0, &s, 1);
    atomic_store(&fake_now, 1499);
    expect_take(c, key_a, 0, &s, 1);
    atomic_store(&fake_now, 1500);
    expect_take(c, key_a, 0, &s, 2);
    assert_int_equal(atomic_load(&s.calls), 2);
    sf_dekcache_free(c);
}

static void test_max_uses_forces_new_fetch(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 3, 0, 0, 8);

    (void)state;
    expect_take(c, key_a, 0, &s, 1);
    expect_take(c, key_a, 0, &s, 1);
    expect_take(c, key_a, 0, &s, 1);
    expect_take(c, key_a, 0, &s, 2);
    assert_int_equal(atomic_load(&s.calls), 2);
    sf_dekcache_free(c);
}

static void test_max_bytes_forces_new_fetch(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 0, 100, 0, 8);

    (void)state;
    expect_take(c, key_a, 40, &s, 1);
    expect_take(c, key_a, 60, &s, 1);  /* exactly 100 */
    expect_take(c, key_a, 1, &s, 2);   /* 101 would be over */
    expect_take(c, key_a, 500, &s, 3); /* alone over the limit */
    expect_take(c, key_a, 0, &s, 4);   /* the last one is used up */
    assert_int_equal(atomic_load(&s.calls), 4);
    sf_dekcache_free(c);
}

static void test_zero_max_age_fetches_every_time(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(0, 0, 0, 0, 8);

    (void)state;
    expect_take(c, key_a, 0, &s, 1);
    expect_take(c, key_a, 0, &s, 2);
    assert_int_equal(atomic_load(&s.calls), 2);
    sf_dekcache_free(c);
}

static void test_lookup_without_fetch_misses(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 8);
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};

    (void)state;
    assert_int_equal(sf_dekcache_take(c, key_a, 0, NULL, NULL, &it),
                     SF_ERR_NO_KEY);
    assert_null(it.dek);
    expect_take(c, key_a, 0, &s, 1);
    assert_int_equal(sf_dekcache_take(c, key_a, 0, NULL, NULL, &it), SF_OK);
    assert_int_equal(sf_secret_cdata(it.dek)[0], 1);
    sf_dekcache_item_clear(&it);
    sf_dekcache_free(c);
}

struct taker {
    struct sf_dekcache *c;
    struct fake_service *s;
    pthread_barrier_t *start;
    sf_status rc;
    uint8_t first_byte;
    char why[128];
};

static void *take_thread(void *arg)
{
    struct taker *t = arg;
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};

    pthread_barrier_wait(t->start);
    t->rc = sf_dekcache_take(t->c, key_a, 0, fake_fetch, t->s, &it);
    if (t->rc == SF_OK) {
        t->first_byte = sf_secret_cdata(it.dek)[0];
    } else {
        snprintf(t->why, sizeof t->why, "%s", sf_last_error());
    }
    sf_dekcache_item_clear(&it);
    return NULL;
}

#define THREADS 8

static void run_takers(struct sf_dekcache *c, struct fake_service *s,
                       struct taker *t)
{
    pthread_t th[THREADS];
    pthread_barrier_t start;

    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct taker){c, s, &start, SF_ERR_INTERNAL, 0, ""};
        assert_int_equal(pthread_create(&th[i], NULL, take_thread, &t[i]),
                         0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&start);
}

static void test_concurrent_misses_make_one_fetch(void **state)
{
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 8);
    struct fake_service s = {0, 1, SF_OK, c, THREADS};
    struct taker t[THREADS];
    struct sf_dekcache_stats st;

    (void)state;
    run_takers(c, &s, t);
    assert_int_equal(atomic_load(&s.calls), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(t[i].rc, SF_OK);
        assert_int_equal(t[i].first_byte, 1);
    }
    sf_dekcache_stats(c, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.misses, THREADS);
    assert_int_equal(st.coalesced, THREADS - 1);
    sf_dekcache_free(c);
}

static void test_failed_fetch_reaches_every_waiter(void **state)
{
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 8);
    struct fake_service s = {0, 1, SF_ERR_DENIED, c, THREADS};
    struct taker t[THREADS];

    (void)state;
    run_takers(c, &s, t);
    assert_int_equal(atomic_load(&s.calls), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(t[i].rc, SF_ERR_DENIED);
        assert_string_equal(t[i].why, "fake service: failure 1");
    }
    sf_dekcache_free(c);
}

static void test_grace_serves_stale_entry_while_service_is_down(
    void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(1000, 0, 0, 5000, 8);
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};
    struct sf_dekcache_stats st;

    (void)state;
    atomic_store(&fake_now, 10000);
    expect_take(c, key_a, 0, &s, 1);
    s.fail_with = SF_ERR_UNAVAILABLE;
    atomic_store(&fake_now, 15999); /* stale, within 1000 + 5000 */
    assert_int_equal(sf_dekcache_take(c, key_a, 0, fake_fetch, &s, &it),
                     SF_OK);
    assert_int_equal(sf_secret_cdata(it.dek)[0], 1);
    sf_dekcache_item_clear(&it);
    atomic_store(&fake_now, 16000); /* grace over */
    assert_int_equal(sf_dekcache_take(c, key_a, 0, fake_fetch, &s, &it),
                     SF_ERR_UNAVAILABLE);
    assert_null(it.dek);
    assert_string_equal(sf_last_error(), "fake service: failure 3");
    sf_dekcache_stats(c, &st);
    assert_int_equal(st.stale_hits, 1);
    assert_int_equal(atomic_load(&s.calls), 3);
    sf_dekcache_free(c);
}

static void test_grace_is_only_for_an_unreachable_service(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(1000, 0, 0, 5000, 8);
    struct sf_dekcache *strict = new_cache(1000, 0, 0, 0, 8);
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};

    (void)state;
    atomic_store(&fake_now, 10000);
    expect_take(c, key_a, 0, &s, 1);
    expect_take(strict, key_a, 0, &s, 2);
    atomic_store(&fake_now, 11500);
    s.fail_with = SF_ERR_DENIED; /* a refusal is an answer: no grace */
    assert_int_equal(sf_dekcache_take(c, key_a, 0, fake_fetch, &s, &it),
                     SF_ERR_DENIED);
    s.fail_with = SF_ERR_TIMEOUT;
    assert_int_equal(sf_dekcache_take(c, key_a, 0, fake_fetch, &s, &it),
                     SF_OK);
    sf_dekcache_item_clear(&it);
    assert_int_equal(
        sf_dekcache_take(strict, key_a, 0, fake_fetch, &s, &it),
        SF_ERR_TIMEOUT);
    assert_int_equal(sf_dekcache_stale(c, key_a, SF_ERR_UNAVAILABLE, &it),
                     SF_OK);
    sf_dekcache_item_clear(&it);
    assert_int_equal(sf_dekcache_stale(c, key_a, SF_ERR_AUTH, &it),
                     SF_ERR_AUTH);
    sf_dekcache_free(c);
    sf_dekcache_free(strict);
}

static void test_newer_kek_version_drops_entry(void **state)
{
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 8);

    (void)state;
    expect_take(c, key_a, 0, &s, 1);
    sf_dekcache_drop_older(c, key_a, 1); /* same version: kept */
    expect_take(c, key_a, 0, &s, 1);
    s.version = 2;
    sf_dekcache_drop_older(c, key_a, 2);
    expect_take(c, key_a, 0, &s, 2);
    assert_int_equal(atomic_load(&s.calls), 2);
    sf_dekcache_free(c);
}

static void test_least_recently_used_entry_is_evicted(void **state)
{
    static const uint8_t key_c[SF_DEKCACHE_KEY_LEN] = {'c'};
    struct fake_service s = {0, 1, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 2);
    struct sf_dekcache_stats st;

    (void)state;
    expect_take(c, key_a, 0, &s, 1);
    expect_take(c, key_b, 0, &s, 2);
    expect_take(c, key_a, 0, &s, 1); /* a is now the most recent */
    expect_take(c, key_c, 0, &s, 3); /* evicts b */
    expect_take(c, key_a, 0, &s, 1);
    expect_take(c, key_b, 0, &s, 4);
    sf_dekcache_stats(c, &st);
    assert_int_equal(st.entries, 2);
    sf_dekcache_free(c);
}

static void test_put_stores_a_fresh_entry(void **state)
{
    struct fake_service s = {0, 7, SF_OK, NULL, 0};
    struct sf_dekcache *c = new_cache(60000, 0, 0, 0, 4);
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 7};
    uint8_t key[32] = {99};

    (void)state;
    assert_int_equal(sf_secret_from(key, sizeof key, &it.dek), SF_OK);
    assert_int_equal(sf_buf_put_str(&it.wrapped, "vault:v7:x"), SF_OK);
    assert_int_equal(sf_dekcache_put(c, key_a, &it), SF_OK);
    sf_dekcache_item_clear(&it);
    assert_int_equal(sf_dekcache_take(c, key_a, 0, fake_fetch, &s, &it),
                     SF_OK);
    assert_int_equal(sf_secret_cdata(it.dek)[0], 99);
    assert_string_equal((const char *)it.wrapped.data, "vault:v7:x");
    assert_int_equal(it.version, 7);
    assert_int_equal(atomic_load(&s.calls), 0);
    sf_dekcache_item_clear(&it);
    sf_dekcache_free(c);
}

static void test_limits_are_checked(void **state)
{
    struct sf_dekcache_limits l = {1000, 0, 0, 0, 0};
    struct sf_dekcache *c = NULL;

    (void)state;
    assert_int_equal(sf_dekcache_new(&l, NULL, NULL, &c),
                     SF_ERR_INVALID_ARG);
    assert_null(c);
    l.max_entries = ((size_t)1 << 20) + 1;
    assert_int_equal(sf_dekcache_new(&l, NULL, NULL, &c),
                     SF_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_take_is_served_from_cache),
        cmocka_unit_test(test_max_age_forces_new_fetch),
        cmocka_unit_test(test_max_uses_forces_new_fetch),
        cmocka_unit_test(test_max_bytes_forces_new_fetch),
        cmocka_unit_test(test_zero_max_age_fetches_every_time),
        cmocka_unit_test(test_lookup_without_fetch_misses),
        cmocka_unit_test(test_concurrent_misses_make_one_fetch),
        cmocka_unit_test(test_failed_fetch_reaches_every_waiter),
        cmocka_unit_test(test_grace_serves_stale_entry_while_service_is_down),
        cmocka_unit_test(test_grace_is_only_for_an_unreachable_service),
        cmocka_unit_test(test_newer_kek_version_drops_entry),
        cmocka_unit_test(test_least_recently_used_entry_is_evicted),
        cmocka_unit_test(test_put_stores_a_fresh_entry),
        cmocka_unit_test(test_limits_are_checked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
