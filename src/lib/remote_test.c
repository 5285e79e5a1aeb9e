#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "mock_transit.h"
#include "remote_internal.h"
#include "sealflow/envelope.h"
#include "sealflow/log.h"
#include "sealflow/remote.h"

#define TOKEN "s.test-token-0123456789"

static const uint8_t message[] = "order 1001: 3 widgets, card ending 4242";

/* ---- fixture: a mock service and a client with a fake clock ------------ */

static _Atomic uint64_t fake_now = 100000;

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return atomic_load(&fake_now);
}

static void advance(uint64_t ms)
{
    atomic_fetch_add(&fake_now, ms);
}

struct fx {
    struct mock_transit *m;
    struct sf_remote *r;
    struct sf_remote_opts o;
};

/* Quick retries, a small breaker, and the mock's address. */
static void test_opts(struct fx *f)
{
    sf_remote_opts_default(&f->o);
    f->o.addr = mock_transit_addr(f->m);
    f->o.token = TOKEN;
    f->o.retries = 2;
    f->o.backoff_ms = 1;
    f->o.backoff_max_ms = 4;
    f->o.breaker_failures = 3;
    f->o.breaker_open_ms = 10000;
    f->o.timeout_ms = 3000;
}

static void connect_remote(struct fx *f)
{
    assert_int_equal(sf_remote_new(&f->o, &f->r), SF_OK);
    sf_remote_set_clock(f->r, fake_clock, NULL);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (f == NULL) {
        return -1;
    }
    f->m = mock_transit_start(TOKEN);
    if (f->m == NULL) {
        free(f);
        return -1;
    }
    mock_transit_add_key(f->m, "orders");
    mock_transit_add_key(f->m, "billing");
    test_opts(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    sf_remote_free(f->r);
    mock_transit_free(f->m);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static sf_status seal_to(struct sf_remote *r, const char *name,
                         struct sf_buf *out)
{
    struct sf_recipient *rc = NULL;
    sf_status st = sf_recipient_remote(r, name, &rc);

    if (st == SF_OK) {
        st = sf_envelope_seal(NULL, &rc, 1, message, sizeof message, out);
    }
    sf_recipient_free(rc);
    return st;
}

static sf_status open_with(struct sf_remote *r, const struct sf_buf *msg)
{
    struct sf_identity *id = NULL;
    struct sf_buf pt = SF_BUF_INIT;
    sf_status st = sf_identity_remote(r, &id);

    if (st == SF_OK) {
        st = sf_envelope_open(&id, 1, msg->data, msg->len, &pt);
    }
    if (st == SF_OK) {
        assert_int_equal(pt.len, sizeof message);
        assert_memory_equal(pt.data, message, sizeof message);
    }
    sf_buf_free(&pt);
    sf_identity_free(id);
    return st;
}

struct dk {
    struct sf_secret *dek;
    struct sf_buf wrapped;
    uint32_t version;
};

static sf_status datakey(struct sf_remote *r, const char *name,
                         uint64_t bytes, struct dk *out)
{
    sf_secret_free(out->dek);
    out->dek = NULL;
    sf_buf_reset(&out->wrapped);
    return sf_remote_datakey(r, name, 256, bytes, &out->dek, &out->wrapped,
                             &out->version);
}

static void dk_free(struct dk *d)
{
    sf_secret_free(d->dek);
    sf_buf_free(&d->wrapped);
}

static bool same_dek(const struct dk *a, const struct dk *b)
{
    return sf_secret_len(a->dek) == sf_secret_len(b->dek) &&
           memcmp(sf_secret_cdata(a->dek), sf_secret_cdata(b->dek),
                  sf_secret_len(a->dek)) == 0;
}

/* Where s first occurs in b, or NULL. */
static uint8_t *find(const struct sf_buf *b, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= b->len; i++) {
        if (memcmp(b->data + i, s, n) == 0) {
            return b->data + i;
        }
    }
    return NULL;
}

static uint64_t real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the envelope keyring ----------------------------------------------- */

static void test_envelope_round_trip_through_remote_key(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_header_info info;

    connect_remote(f);
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_OK);
    assert_int_equal(sf_envelope_inspect(msg.data, msg.len, &info), SF_OK);
    assert_int_equal(info.stanza_len, 1);
    assert_int_equal(info.stanzas[0].type, SF_STANZA_REMOTE);
    assert_string_equal(info.stanzas[0].key_id, "kms:orders");
    assert_int_equal(info.stanzas[0].version, 1);
    sf_header_info_free(&info);
    assert_int_equal(mock_transit_count(f->m, MOCK_ENCRYPT), 1);

    assert_int_equal(open_with(f->r, &msg), SF_OK);
    assert_int_equal(open_with(f->r, &msg), SF_OK);
    /* The second open used the kept key. */
    assert_int_equal(mock_transit_count(f->m, MOCK_DECRYPT), 1);
    sf_buf_free(&msg);
}

static void test_stanza_body_is_the_service_ciphertext(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    const uint8_t *at;

    connect_remote(f);
    mock_transit_rotate(f->m, "orders");
    mock_transit_rotate(f->m, "orders");
    assert_int_equal(seal_to(f->r, "kms:orders", &msg), SF_OK);
    at = find(&msg, "vault:v3:");
    assert_non_null(at);
    assert_null(find(&msg, "vault:v1:"));
    assert_int_equal(open_with(f->r, &msg), SF_OK);
    sf_buf_free(&msg);
}

static void test_remote_identity_passes_on_other_stanzas(void **state)
{
    struct fx *f = *state;
    struct sf_buf secret = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_recipient *x = NULL;

    connect_remote(f);
    assert_int_equal(sf_identity_generate_x25519(&secret, &pub), SF_OK);
    assert_int_equal(sf_recipient_parse((const char *)pub.data, pub.len, &x),
                     SF_OK);
    assert_int_equal(sf_envelope_seal(NULL, &x, 1, message, sizeof message,
                                      &msg),
                     SF_OK);
    assert_int_equal(open_with(f->r, &msg), SF_ERR_NO_KEY);
    assert_int_equal(mock_transit_total(f->m), 0);
    sf_recipient_free(x);
    sf_buf_free(&secret);
    sf_buf_free(&pub);
    sf_buf_free(&msg);
}

static void test_recipient_checks_key_names(void **state)
{
    struct fx *f = *state;
    struct sf_recipient *rc = NULL;

    connect_remote(f);
    assert_int_equal(sf_recipient_remote(f->r, "kms:", &rc),
                     SF_ERR_KEY_NAME);
    assert_null(rc);
    assert_int_equal(sf_recipient_remote(f->r, "a:b", &rc), SF_ERR_KEY_NAME);
    assert_int_equal(sf_recipient_remote(f->r, "kms:orders", &rc), SF_OK);
    sf_recipient_free(rc);
    assert_int_equal(mock_transit_total(f->m), 0);
}

static void test_requests_reuse_one_connection(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;

    connect_remote(f);
    for (int i = 0; i < 5; i++) {
        sf_buf_reset(&msg);
        assert_int_equal(seal_to(f->r, "orders", &msg), SF_OK);
    }
    assert_int_equal(mock_transit_count(f->m, MOCK_ENCRYPT), 5);
    assert_int_equal(mock_transit_connections(f->m), 1);
    sf_buf_free(&msg);
}

/* ---- the data key cache ------------------------------------------------- */

static void test_datakey_max_age_forces_new_request(void **state)
{
    struct fx *f = *state;
    struct dk a = {NULL, SF_BUF_INIT, 0};
    struct dk b = {NULL, SF_BUF_INIT, 0};

    f->o.dek_max_age_ms = 1000;
    connect_remote(f);
    assert_int_equal(datakey(f->r, "orders", 10, &a), SF_OK);
    assert_int_equal(sf_secret_len(a.dek), 32);
    advance(999);
    assert_int_equal(datakey(f->r, "orders", 10, &b), SF_OK);
    assert_true(same_dek(&a, &b));
    assert_string_equal((const char *)a.wrapped.data,
                        (const char *)b.wrapped.data);
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 1);
    advance(1);
    assert_int_equal(datakey(f->r, "orders", 10, &b), SF_OK);
    assert_false(same_dek(&a, &b));
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 2);
    dk_free(&a);
    dk_free(&b);
}

static void test_datakey_max_uses_forces_new_request(void **state)
{
    struct fx *f = *state;
    struct dk a = {NULL, SF_BUF_INIT, 0};
    struct dk b = {NULL, SF_BUF_INIT, 0};

    f->o.dek_max_uses = 2;
    connect_remote(f);
    assert_int_equal(datakey(f->r, "orders", 0, &a), SF_OK);
    assert_int_equal(datakey(f->r, "orders", 0, &b), SF_OK);
    assert_true(same_dek(&a, &b));
    assert_int_equal(datakey(f->r, "orders", 0, &b), SF_OK);
    assert_false(same_dek(&a, &b));
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 2);
    dk_free(&a);
    dk_free(&b);
}

static void test_datakey_max_bytes_forces_new_request(void **state)
{
    struct fx *f = *state;
    struct dk a = {NULL, SF_BUF_INIT, 0};
    struct dk b = {NULL, SF_BUF_INIT, 0};

    f->o.dek_max_bytes = 100;
    connect_remote(f);
    assert_int_equal(datakey(f->r, "orders", 60, &a), SF_OK);
    assert_int_equal(datakey(f->r, "orders", 40, &b), SF_OK);
    assert_true(same_dek(&a, &b));
    assert_int_equal(datakey(f->r, "orders", 1, &b), SF_OK);
    assert_false(same_dek(&a, &b));
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 2);
    dk_free(&a);
    dk_free(&b);
}

static void test_rotation_reaches_new_data_within_max_age(void **state)
{
    struct fx *f = *state;
    struct dk d = {NULL, SF_BUF_INIT, 0};

    f->o.dek_max_age_ms = 60000;
    connect_remote(f);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    assert_int_equal(d.version, 1);
    mock_transit_rotate(f->m, "orders");
    advance(59999); /* within the documented bound: still v1 */
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    assert_int_equal(d.version, 1);
    advance(1);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    assert_int_equal(d.version, 2);
    assert_memory_equal(d.wrapped.data, "vault:v2:", 9);
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 2);
    dk_free(&d);
}

static void test_newer_version_seen_on_wrap_drops_cached_datakey(
    void **state)
{
    struct fx *f = *state;
    struct dk d = {NULL, SF_BUF_INIT, 0};
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_header_info info;

    connect_remote(f);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    assert_int_equal(d.version, 1);
    mock_transit_rotate(f->m, "orders");
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_OK);
    assert_int_equal(sf_envelope_inspect(msg.data, msg.len, &info), SF_OK);
    assert_int_equal(info.stanzas[0].version, 2);
    sf_header_info_free(&info);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    assert_int_equal(d.version, 2);
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 2);
    dk_free(&d);
    sf_buf_free(&msg);
}

#define THREADS 8

struct racer {
    struct sf_remote *r;
    pthread_barrier_t *start;
    sf_status rc;
    char wrapped[128];
};

static void *race_datakey(void *arg)
{
    struct racer *t = arg;
    struct dk d = {NULL, SF_BUF_INIT, 0};

    pthread_barrier_wait(t->start);
    t->rc = datakey(t->r, "orders", 0, &d);
    if (t->rc == SF_OK) {
        snprintf(t->wrapped, sizeof t->wrapped, "%s",
                 (const char *)d.wrapped.data);
    }
    dk_free(&d);
    return NULL;
}

static void test_concurrent_datakey_misses_make_one_request(void **state)
{
    struct fx *f = *state;
    struct racer t[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_t start;

    connect_remote(f);
    mock_transit_delay(f->m, 200);
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct racer){f->r, &start, SF_ERR_INTERNAL, ""};
        assert_int_equal(pthread_create(&th[i], NULL, race_datakey, &t[i]),
                         0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 1);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(t[i].rc, SF_OK);
        assert_string_equal(t[i].wrapped, t[0].wrapped);
    }
}

/* ---- batch decrypt ------------------------------------------------------ */

/* n distinct data keys of name, wrapped by the service. */
static void make_keys(struct fx *f, const char *name, struct dk *d, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(datakey(f->r, name, 0, &d[i]), SF_OK);
    }
}

static void test_decrypt_batch_sends_each_ciphertext_once(void **state)
{
    struct fx *f = *state;
    struct dk d[3] = {{NULL, SF_BUF_INIT, 0}, {NULL, SF_BUF_INIT, 0},
                      {NULL, SF_BUF_INIT, 0}};
    struct sf_remote_item it[5];
    static const int which[5] = {0, 1, 0, 2, 1};

    f->o.dek_max_age_ms = 0; /* every datakey call is a new key */
    connect_remote(f);
    make_keys(f, "orders", d, 3);
    for (int i = 0; i < 5; i++) {
        it[i] = (struct sf_remote_item){
            "kms:orders", (const char *)d[which[i]].wrapped.data,
            d[which[i]].wrapped.len, NULL, SF_ERR_INTERNAL};
    }
    assert_int_equal(sf_remote_decrypt_batch(f->r, it, 5), SF_OK);
    assert_int_equal(mock_transit_count(f->m, MOCK_DECRYPT), 1);
    assert_int_equal(mock_transit_last_batch(f->m), 3);
    for (int i = 0; i < 5; i++) {
        struct dk got = {it[i].dek, SF_BUF_INIT, 0};

        assert_int_equal(it[i].status, SF_OK);
        assert_true(same_dek(&got, &d[which[i]]));
        sf_secret_free(it[i].dek);
    }
    /* All kept now: no request. */
    assert_int_equal(sf_remote_decrypt_batch(f->r, it, 5), SF_OK);
    assert_int_equal(mock_transit_count(f->m, MOCK_DECRYPT), 1);
    for (int i = 0; i < 5; i++) {
        sf_secret_free(it[i].dek);
    }
    for (int i = 0; i < 3; i++) {
        dk_free(&d[i]);
    }
}

static void test_decrypt_batch_splits_by_name_and_batch_max(void **state)
{
    struct fx *f = *state;
    struct dk d[5];
    struct sf_remote_item it[6];

    f->o.dek_max_age_ms = 0;
    f->o.batch_max = 2;
    connect_remote(f);
    memset(d, 0, sizeof d);
    make_keys(f, "orders", d, 4);
    make_keys(f, "billing", d + 4, 1);
    for (int i = 0; i < 5; i++) {
        it[i] = (struct sf_remote_item){i < 4 ? "orders" : "billing",
                                        (const char *)d[i].wrapped.data,
                                        d[i].wrapped.len, NULL,
                                        SF_ERR_INTERNAL};
    }
    it[5] = it[0];
    assert_int_equal(sf_remote_decrypt_batch(f->r, it, 6), SF_OK);
    /* orders: 4 distinct in 2 requests; billing: 1 request. */
    assert_int_equal(mock_transit_count(f->m, MOCK_DECRYPT), 3);
    for (int i = 0; i < 6; i++) {
        struct dk got = {it[i].dek, SF_BUF_INIT, 0};

        assert_true(same_dek(&got, &d[i < 5 ? i : 0]));
        sf_secret_free(it[i].dek);
    }
    for (int i = 0; i < 5; i++) {
        dk_free(&d[i]);
    }
}

static void test_decrypt_batch_reports_each_failure(void **state)
{
    struct fx *f = *state;
    struct dk d = {NULL, SF_BUF_INIT, 0};
    static const char forged[] = "vault:v1:AAAAAAAAAP8=";
    struct sf_remote_item it[3];

    connect_remote(f);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    it[0] = (struct sf_remote_item){"orders", (const char *)d.wrapped.data,
                                    d.wrapped.len, NULL, SF_ERR_INTERNAL};
    it[1] = (struct sf_remote_item){"orders", forged, sizeof forged - 1,
                                    NULL, SF_ERR_INTERNAL};
    it[2] = (struct sf_remote_item){"orders", "not a ciphertext", 16, NULL,
                                    SF_ERR_INTERNAL};
    assert_int_equal(sf_remote_decrypt_batch(f->r, it, 3), SF_ERR_AUTH);
    assert_non_null(strstr(sf_last_error(), "batch item 1:"));
    assert_non_null(strstr(sf_last_error(), "message authentication"));
    assert_int_equal(it[0].status, SF_OK);
    assert_non_null(it[0].dek);
    assert_int_equal(it[1].status, SF_ERR_AUTH);
    assert_null(it[1].dek);
    assert_int_equal(it[2].status, SF_ERR_AUTH); /* never sent */
    assert_int_equal(mock_transit_last_batch(f->m), 2);
    sf_secret_free(it[0].dek);
    dk_free(&d);
}

/* ---- errors and retries ------------------------------------------------- */

static void test_retries_on_500_then_succeeds(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_remote_stats st;

    connect_remote(f);
    mock_transit_fail(f->m, 500, 2, "temporary");
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_OK);
    assert_int_equal(mock_transit_count(f->m, MOCK_ENCRYPT), 3);
    sf_remote_stats(f->r, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.retries, 2);
    assert_false(st.is_breaker_open);
    assert_int_equal(open_with(f->r, &msg), SF_OK);
    sf_buf_free(&msg);
}

static void test_500_after_all_retries_carries_service_text(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;

    f->o.breaker_failures = 0;
    connect_remote(f);
    mock_transit_fail(f->m, 500, 3, "storage backend exploded");
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_ERR_REMOTE);
    assert_non_null(strstr(sf_last_error(), "HTTP 500"));
    assert_non_null(strstr(sf_last_error(), "storage backend exploded"));
    assert_int_equal(mock_transit_count(f->m, MOCK_ENCRYPT), 3);
    assert_int_equal(msg.len, 0);
}

static void test_503_after_retries_is_unavailable(void **state)
{
    struct fx *f = *state;
    struct dk d = {NULL, SF_BUF_INIT, 0};

    f->o.retries = 1;
    connect_remote(f);
    mock_transit_fail(f->m, 503, 2, "Vault is sealed");
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_ERR_UNAVAILABLE);
    assert_non_null(strstr(sf_last_error(), "Vault is sealed"));
    assert_null(d.dek);
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 2);
    dk_free(&d);
}

static void test_wrong_token_is_denied_without_retry(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;

    f->o.token = "s.wrong-token-secret-value";
    connect_remote(f);
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_ERR_DENIED);
    assert_non_null(strstr(sf_last_error(), "HTTP 403"));
    assert_non_null(strstr(sf_last_error(), "permission denied"));
    assert_null(strstr(sf_last_error(), "wrong-token"));
    assert_int_equal(mock_transit_count(f->m, MOCK_ENCRYPT), 1);
}

static void test_unknown_key_is_key_not_found(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    struct dk d = {NULL, SF_BUF_INIT, 0};

    connect_remote(f);
    assert_int_equal(seal_to(f->r, "nosuchkey", &msg),
                     SF_ERR_KEY_NOT_FOUND);
    assert_non_null(strstr(sf_last_error(), "HTTP 404"));
    assert_non_null(strstr(sf_last_error(), "\"nosuchkey\""));
    assert_int_equal(mock_transit_count(f->m, MOCK_ENCRYPT), 1);
    /* Vault's way: 400 with "encryption key not found". */
    mock_transit_fail(f->m, 400, 1, "encryption key not found");
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_ERR_KEY_NOT_FOUND);
    assert_int_equal(mock_transit_count(f->m, MOCK_DATAKEY), 1);
    dk_free(&d);
}

static void test_tampered_stanza_is_auth_failure(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    uint8_t *at;

    connect_remote(f);
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_OK);
    at = find(&msg, "vault:v1:");
    assert_non_null(at);
    at[9] = at[9] == 'B' ? 'C' : 'B'; /* another id: 400 from the mock */
    assert_int_equal(open_with(f->r, &msg), SF_ERR_AUTH);
    assert_non_null(strstr(sf_last_error(), "HTTP 400"));
    assert_int_equal(mock_transit_count(f->m, MOCK_DECRYPT), 1);
    at[9] = 'x';
    memcpy(at, "vault:v2:", 9); /* version differs from the header's */
    assert_int_equal(open_with(f->r, &msg), SF_ERR_AUTH);
    assert_int_equal(mock_transit_count(f->m, MOCK_DECRYPT), 1);
    sf_buf_free(&msg);
}

static void test_slow_service_times_out(void **state)
{
    struct fx *f = *state;
    struct dk d = {NULL, SF_BUF_INIT, 0};

    f->o.timeout_ms = 150;
    f->o.retries = 0;
    connect_remote(f);
    mock_transit_delay(f->m, 600);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_ERR_TIMEOUT);
    assert_non_null(strstr(sf_last_error(), "no answer within 150 ms"));
    mock_transit_delay(f->m, 0);
    dk_free(&d);
}

static void test_stopped_service_is_unavailable(void **state)
{
    struct fx *f = *state;
    struct dk d = {NULL, SF_BUF_INIT, 0};
    struct sf_remote_stats st;

    f->o.breaker_failures = 0;
    f->o.retries = 1;
    connect_remote(f);
    mock_transit_stop(f->m);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_ERR_UNAVAILABLE);
    assert_non_null(strstr(sf_last_error(), "unreachable"));
    sf_remote_stats(f->r, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.failures, 2);
    dk_free(&d);
}

/* ---- the circuit breaker ------------------------------------------------ */

static void expect_fast_failure(struct fx *f, const char *name)
{
    struct sf_buf msg = SF_BUF_INIT;
    uint64_t t0 = real_ms();
    char want[128];

    assert_int_equal(seal_to(f->r, name, &msg), SF_ERR_UNAVAILABLE);
    assert_true(real_ms() - t0 < 100);
    snprintf(want, sizeof want, "key service at %s unreachable; circuit "
             "open for ", mock_transit_addr(f->m));
    assert_non_null(strstr(sf_last_error(), want));
    sf_buf_free(&msg);
}

static char log_seen[256];

static void collect_log(void *ctx, enum sf_log_level level,
                        const char *event, const char *fields)
{
    size_t at = strlen(log_seen);

    (void)ctx;
    (void)fields;
    snprintf(log_seen + at, sizeof log_seen - at, "%d:%s ", (int)level,
             event);
}

static void test_breaker_fails_fast_and_grace_keeps_reads_going(
    void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_buf other = SF_BUF_INIT;
    struct dk d = {NULL, SF_BUF_INIT, 0};
    struct sf_remote_stats st;

    f->o.retries = 1;
    f->o.breaker_failures = 2;
    f->o.unwrap_ttl_ms = 1000;
    f->o.grace_ms = 5000;
    connect_remote(f);
    log_seen[0] = '\0';
    sf_log_set(collect_log, NULL, SF_LOG_DEBUG);
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_OK);
    assert_int_equal(open_with(f->r, &msg), SF_OK);
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);

    mock_transit_stop(f->m);
    assert_int_equal(seal_to(f->r, "orders", &other), SF_ERR_UNAVAILABLE);
    assert_non_null(strstr(sf_last_error(), "unreachable: "));
    assert_non_null(strstr(sf_last_error(), "; circuit open for 10s"));
    assert_string_equal(log_seen, "1:kms_circuit_open ");
    expect_fast_failure(f, "orders");
    expect_fast_failure(f, "billing");
    assert_non_null(strstr(sf_last_error(), "circuit open for 10s"));
    /* A kept data key is still handed out; a miss fails at once. */
    assert_int_equal(datakey(f->r, "orders", 0, &d), SF_OK);
    assert_int_equal(datakey(f->r, "billing", 0, &d), SF_ERR_UNAVAILABLE);
    assert_non_null(strstr(sf_last_error(), "circuit open for 10s"));

    assert_int_equal(open_with(f->r, &msg), SF_OK); /* fresh */
    advance(3000);
    assert_int_equal(open_with(f->r, &msg), SF_OK); /* stale, in grace */
    sf_remote_stats(f->r, &st);
    assert_int_equal(st.stale_hits, 1);
    assert_true(st.is_breaker_open);
    assert_int_equal(st.breaker_opens, 1);
    advance(3000); /* 6000 = ttl + grace: over */
    assert_int_equal(open_with(f->r, &msg), SF_ERR_UNAVAILABLE);
    assert_non_null(strstr(sf_last_error(), "circuit open"));

    assert_true(mock_transit_restart(f->m));
    advance(4000); /* the open time is over: the next call probes */
    assert_int_equal(seal_to(f->r, "orders", &other), SF_OK);
    sf_remote_stats(f->r, &st);
    assert_false(st.is_breaker_open);
    assert_string_equal(log_seen,
                        "1:kms_circuit_open 2:kms_circuit_closed ");
    sf_log_set(NULL, NULL, SF_LOG_ERROR);
    assert_int_equal(open_with(f->r, &msg), SF_OK);
    assert_int_equal(open_with(f->r, &other), SF_OK);
    sf_buf_free(&msg);
    sf_buf_free(&other);
    dk_free(&d);
}

static void test_failed_probe_keeps_breaker_open(void **state)
{
    struct fx *f = *state;
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_remote_stats st;

    f->o.retries = 0;
    f->o.breaker_failures = 1;
    connect_remote(f);
    mock_transit_stop(f->m);
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_ERR_UNAVAILABLE);
    expect_fast_failure(f, "orders");
    advance(10000);
    /* The probe goes out, fails, and the breaker opens again. */
    assert_int_equal(seal_to(f->r, "orders", &msg), SF_ERR_UNAVAILABLE);
    assert_non_null(strstr(sf_last_error(), "unreachable:"));
    expect_fast_failure(f, "orders");
    sf_remote_stats(f->r, &st);
    assert_int_equal(st.breaker_opens, 2);
    assert_int_equal(st.requests, 2);
    assert_true(mock_transit_restart(f->m));
}

/* ---- options ------------------------------------------------------------ */

static void test_options_from_environment(void **state)
{
    struct sf_remote_opts o;

    (void)state;
    unsetenv("SEALFLOW_ADDR");
    unsetenv("SEALFLOW_TOKEN");
    setenv("VAULT_ADDR", "https://vault.example:8200", 1);
    setenv("VAULT_TOKEN", "hvs.vault", 1);
    sf_remote_opts_default(&o);
    assert_int_equal(sf_remote_opts_from_env(&o), SF_OK);
    assert_string_equal(o.addr, "https://vault.example:8200");
    assert_string_equal(o.token, "hvs.vault");
    assert_string_equal(o.mount, "transit");
    setenv("SEALFLOW_ADDR", "https://kms.example:8200", 1);
    setenv("SEALFLOW_TOKEN", "s.sealflow", 1);
    assert_int_equal(sf_remote_opts_from_env(&o), SF_OK);
    assert_string_equal(o.addr, "https://kms.example:8200");
    assert_string_equal(o.token, "s.sealflow");
    unsetenv("SEALFLOW_TOKEN");
    unsetenv("VAULT_TOKEN");
    assert_int_equal(sf_remote_opts_from_env(&o), SF_ERR_INVALID_ARG);
    assert_non_null(strstr(sf_last_error(), "SEALFLOW_TOKEN"));
    unsetenv("SEALFLOW_ADDR");
    unsetenv("VAULT_ADDR");
}

static void test_bad_options_are_refused(void **state)
{
    struct sf_remote_opts o;
    struct sf_remote *r = NULL;

    (void)state;
    sf_remote_opts_default(&o);
    o.addr = "http://kms.example:8200";
    o.token = "s.token";
    assert_int_equal(sf_remote_new(&o, &r), SF_ERR_INVALID_ARG);
    assert_non_null(strstr(sf_last_error(), "in clear"));
    o.is_plain_http_allowed = true;
    assert_int_equal(sf_remote_new(&o, &r), SF_OK);
    sf_remote_free(r);
    o.addr = "https://user:pw@kms.example:8200";
    assert_int_equal(sf_remote_new(&o, &r), SF_ERR_INVALID_ARG);
    assert_null(strstr(sf_last_error(), "pw"));
    o.addr = "ftp://kms.example";
    assert_int_equal(sf_remote_new(&o, &r), SF_ERR_INVALID_ARG);
    o.addr = "https://kms.example:8200/";
    o.token = "s.token\r\nX-Injected: 1";
    assert_int_equal(sf_remote_new(&o, &r), SF_ERR_INVALID_ARG);
    assert_null(strstr(sf_last_error(), "Injected"));
    o.token = "s.token";
    o.mount = "../sys";
    assert_int_equal(sf_remote_new(&o, &r), SF_ERR_INVALID_ARG);
    o.mount = "team/transit";
    o.timeout_ms = 0;
    assert_int_equal(sf_remote_new(&o, &r), SF_ERR_INVALID_ARG);
    o.timeout_ms = 1000;
    assert_int_equal(sf_remote_new(&o, &r), SF_OK);
    assert_null(strstr(sf_last_error(), "s.token"));
    sf_remote_free(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_envelope_round_trip_through_remote_key),
        T(test_stanza_body_is_the_service_ciphertext),
        T(test_remote_identity_passes_on_other_stanzas),
        T(test_recipient_checks_key_names),
        T(test_requests_reuse_one_connection),
        T(test_datakey_max_age_forces_new_request),
        T(test_datakey_max_uses_forces_new_request),
        T(test_datakey_max_bytes_forces_new_request),
        T(test_rotation_reaches_new_data_within_max_age),
        T(test_newer_version_seen_on_wrap_drops_cached_datakey),
        T(test_concurrent_datakey_misses_make_one_request),
        T(test_decrypt_batch_sends_each_ciphertext_once),
        T(test_decrypt_batch_splits_by_name_and_batch_max),
        T(test_decrypt_batch_reports_each_failure),
        T(test_retries_on_500_then_succeeds),
        T(test_500_after_all_retries_carries_service_text),
        T(test_503_after_retries_is_unavailable),
        T(test_wrong_token_is_denied_without_retry),
        T(test_unknown_key_is_key_not_found),
        T(test_tampered_stanza_is_auth_failure),
        T(test_slow_service_times_out),
        T(test_stopped_service_is_unavailable),
        T(test_breaker_fails_fast_and_grace_keeps_reads_going),
        T(test_failed_probe_keeps_breaker_open),
        cmocka_unit_test(test_options_from_environment),
        cmocka_unit_test(test_bad_options_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
