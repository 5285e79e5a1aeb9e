/*
 * Input the record sealer must refuse, with the record, line, byte and
 * path in the message; shared-DEK limits that are never exceeded; the
 * encryption context; and the size a token adds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "records_internal.h"
#include "records_test_util.h"

static const char policy_yaml[] =
    "version: 1\n"
    "classes:\n"
    "  public:\n"
    "    suite: none\n"
    "  confidential:\n"
    "    keys: [local:conf-kek]\n"
    "    require_context: [tenant]\n"
    "  restricted:\n"
    "    keys: [local:pii-kek]\n"
    "    dek_scope: {type: shared, max_age: 1h, max_records: 3,"
    " max_bytes: 100}\n"
    "rules:\n"
    "  - path: $.card\n"
    "    class: restricted\n"
    "  - path: $.email\n"
    "    class: confidential\n"
    "  - path: $.d.e\n"
    "    class: confidential\n"
    "default: public\n"
    "partners:\n"
    "  - name: research\n"
    "    recipient: recipient:%s\n"
    "    sees: [confidential]\n";

static const struct sf_kv tenant[] = {{"tenant", "acme"}};

static int setup(void **state)
{
    int rc = rt_setup(state, policy_yaml);
    struct rt *t = *state;

    if (rc == 0) {
        t->ctx = tenant;
        t->ctx_len = 1;
    }
    return rc;
}

static int teardown(void **state)
{
    return rt_teardown(state);
}

static void expect_parse_error(struct rt *t, const char *in,
                               enum sf_records_format fmt, const char *what,
                               const char *where)
{
    assert_null(rt_seal(t, in, fmt, SF_ERR_PARSE));
    if (strstr(sf_last_error(), what) == NULL ||
            strstr(sf_last_error(), where) == NULL) {
        fprintf(stderr, "message: %s\n", sf_last_error());
    }
    assert_non_null(strstr(sf_last_error(), what));
    assert_non_null(strstr(sf_last_error(), where));
}

static void test_duplicate_key_names_record_line_and_path(void **state)
{
    expect_parse_error(*state, "{\"a\":1}\n{\"a\":{\"b\":1,\"c\":2,\"b\":3}}\n",
                       SF_RECORDS_JSONL, "duplicate member name \"b\"",
                       "in: record 2 (line 2, byte 29), at $[\"a\"][\"b\"]");
}

static void test_duplicate_key_in_large_object_is_found(void **state)
{
    char in[4096];
    size_t n = 0;

    n += (size_t)snprintf(in + n, sizeof in - n, "{");
    for (int i = 0; i < 100; i++) {
        n += (size_t)snprintf(in + n, sizeof in - n, "\"k%d\":%d,", i, i);
    }
    snprintf(in + n, sizeof in - n, "\"k57\":0}");
    expect_parse_error(*state, in, SF_RECORDS_JSONL,
                       "duplicate member name \"k57\"", "at $[\"k57\"]");
}

static void test_invalid_utf8_is_refused(void **state)
{
    expect_parse_error(*state, "{\"ok\":1}\n{\"a\":\"\xC3\x28\"}\n",
                       SF_RECORDS_JSONL, "UTF8", "record 2");
}

static void test_unpaired_surrogate_is_refused(void **state)
{
    expect_parse_error(*state, "{\"a\":\"x\\ud800y\"}", SF_RECORDS_JSONL,
                       "surrogate", "record 1");
}

static void test_nesting_beyond_the_bound_is_refused(void **state)
{
    char in[512];
    size_t n = 0;

    n += (size_t)snprintf(in + n, sizeof in - n, "{\"a\":");
    for (int i = 0; i < SF_RECORDS_DEPTH_MAX; i++) {
        in[n++] = '[';
    }
    for (int i = 0; i < SF_RECORDS_DEPTH_MAX; i++) {
        in[n++] = ']';
    }
    snprintf(in + n, sizeof in - n, "}");
    expect_parse_error(*state, in, SF_RECORDS_JSONL,
                       "nesting deeper than 100", "record 1");
}

static void test_nesting_at_the_bound_is_sealed(void **state)
{
    struct rt *t = *state;
    char in[512];
    size_t n = 0;
    char *out;
    char *back;

    n += (size_t)snprintf(in + n, sizeof in - n, "{\"a\":");
    for (int i = 0; i < SF_RECORDS_DEPTH_MAX - 1; i++) {
        in[n++] = '[';
    }
    for (int i = 0; i < SF_RECORDS_DEPTH_MAX - 1; i++) {
        in[n++] = ']';
    }
    snprintf(in + n, sizeof in - n, ",\"card\":[[[1]]]}");
    out = rt_seal(t, in, SF_RECORDS_JSONL, SF_OK);
    back = rt_open(t, out, SF_RECORDS_JSONL, NULL, 0, true, SF_OK);
    rt_assert_same_json(in, back);
    free(out);
    free(back);
}

static void test_empty_and_blank_inputs_are_refused(void **state)
{
    struct rt *t = *state;

    assert_null(rt_seal(t, "", SF_RECORDS_JSONL, SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "empty"));
    assert_null(rt_seal(t, " \n\t", SF_RECORDS_JSON, SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "empty"));
    assert_null(rt_seal(t, "", SF_RECORDS_CSV, SF_ERR_PARSE));
    assert_null(rt_seal(t, "\xEF\xBB\xBF\n", SF_RECORDS_JSONL,
                        SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "empty"));
    expect_parse_error(t, "{\"a\":1}\n\n{\"a\":2}\n", SF_RECORDS_JSONL,
                       "empty line", "record 2 (line 2");
}

static void test_non_object_records_are_refused(void **state)
{
    expect_parse_error(*state, "{\"a\":1}\n[1,2]\n", SF_RECORDS_JSONL,
                       "must be a JSON object, found array", "record 2");
    expect_parse_error(*state, "\"text\"", SF_RECORDS_JSON,
                       "object or an array of objects", "in:");
    expect_parse_error(*state, "[{\"a\":1},3]", SF_RECORDS_JSON,
                       "found number", "record 2");
}

static void test_trailing_garbage_is_refused(void **state)
{
    expect_parse_error(*state, "{\"a\":1} x\n", SF_RECORDS_JSONL,
                       "trailing garbage", "record 1");
}

static void test_sealed_input_is_not_sealed_twice(void **state)
{
    struct rt *t = *state;
    char *once = rt_seal(t, "{\"card\":\"1\"}", SF_RECORDS_JSONL, SF_OK);

    expect_parse_error(t, once, SF_RECORDS_JSONL, "already has a "
                       "\"_sealflow\" member", "record 1");
    free(once);
}

static void test_clear_value_that_looks_like_a_token_is_refused(void **state)
{
    expect_parse_error(*state, "{\"x\":[\"sf1.abc\"]}", SF_RECORDS_JSONL,
                       "would be read as a token", "at $[\"x\"][0]");
}

/* Even a value that would be sealed: once opened it sits beside tokens
 * another reader still has to open. */
static void test_sealed_value_that_looks_like_a_token_is_refused(void **state)
{
    expect_parse_error(*state, "{\"card\":{\"a\":[\"sf1.x\"]}}",
                       SF_RECORDS_JSONL, "no string value may start with it",
                       "at $[\"card\"][\"a\"][0]");
    expect_parse_error(*state, "Id,Card\n1,sf1.\n", SF_RECORDS_CSV,
                       "no value may start with it", "at $[\"Card\"]");
}

static void test_missing_required_context_is_refused(void **state)
{
    struct rt *t = *state;

    t->ctx_len = 0;
    assert_null(rt_seal(t, "{\"a\":1}", SF_RECORDS_JSONL, SF_ERR_POLICY));
    assert_non_null(strstr(sf_last_error(), "requires the context key "
                           "'tenant'"));
    assert_non_null(strstr(sf_last_error(), "test.yaml:5:"));
}

/* The context is bound into the stanzas: editing it fails to open. */
static void test_edited_context_fails_to_open(void **state)
{
    struct rt *t = *state;
    char *out = rt_seal(t, "{\"email\":\"a@b\"}", SF_RECORDS_JSONL, SF_OK);
    char *bad = rt_replace(out, "\"tenant\":\"acme\"", "\"tenant\":\"evil\"");

    assert_non_null(strstr(out, "\"x\":{\"tenant\":\"acme\"}"));
    assert_null(rt_open(t, bad, SF_RECORDS_JSONL, NULL, 0, false,
                        SF_ERR_AUTH));
    free(out);
    free(bad);
}

/* Counts, per DEK id, the records and the plaintext bytes (type byte and
 * value) sealed under it, from the test's own knowledge of the input. */
struct dek_use {
    char id[32];
    unsigned records;
    unsigned bytes;
};

static size_t tally(const char *sealed, const unsigned *value_len,
                    struct dek_use *use, size_t max)
{
    size_t n = 0;
    size_t rec = 0;

    for (const char *p = strstr(sealed, "\"d\":\""); p != NULL;
         p = strstr(p + 1, "\"d\":\""), rec++) {
        size_t k = 0;

        while (k < n && strncmp(use[k].id, p + 5, 22) != 0) {
            k++;
        }
        if (k == n) {
            assert_true(n < max);
            memcpy(use[n].id, p + 5, 22);
            use[n].id[22] = '\0';
            n++;
        }
        use[k].records++;
        use[k].bytes += 1 + value_len[rec];
    }
    return n;
}

/* max_records 3 and max_bytes 100: 20 records of 40-byte cards need at
 * least 10 DEKs (two records each), and no DEK ever exceeds either. */
static void test_shared_dek_limits_are_never_exceeded(void **state)
{
    struct rt *t = *state;
    char in[4096];
    unsigned lens[64];
    struct dek_use use[64];
    size_t n = 0;
    size_t deks;
    char *out;

    for (unsigned i = 0; i < 20; i++) {
        lens[i] = 40 + (i % 3) * 10;
        n += (size_t)snprintf(in + n, sizeof in - n, "{\"card\":\"%0*u\"}\n",
                              (int)lens[i], i);
    }
    t->threads = 2;
    out = rt_seal(t, in, SF_RECORDS_JSONL, SF_OK);
    memset(use, 0, sizeof use);
    deks = tally(out, lens, use, 64);
    assert_true(deks >= 10);
    for (size_t k = 0; k < deks; k++) {
        assert_true(use[k].records <= 3);
        assert_true(use[k].bytes <= 100);
    }
    free(out);
}

/* Many records on two workers that share DEKs of three records each:
 * whatever the interleaving, no DEK serves a fourth record. */
static void test_shared_dek_record_limit_holds_across_workers(void **state)
{
    static const char yaml[] =
        "version: 1\n"
        "classes:\n"
        "  public: {suite: none}\n"
        "  restricted:\n"
        "    keys: [local:pii-kek]\n"
        "    dek_scope: {type: shared, max_age: 1h, max_records: 3,"
        " max_bytes: 1M}\n"
        "rules:\n"
        "  - {path: $.card, class: restricted}\n"
        "default: public\n";
    enum { N = 3000 };
    struct rt *t = *state;
    struct sf_policy *keep = t->policy;
    static unsigned lens[N];
    static struct dek_use use[N];
    char *in = malloc(N * 16);
    size_t n = 0;
    size_t deks;
    char *out;

    assert_non_null(in);
    for (unsigned i = 0; i < N; i++) {
        lens[i] = 1;
        n += (size_t)snprintf(in + n, 16, "{\"card\":\"%u\"}\n", i % 10);
    }
    t->policy = rt_policy(t, yaml);
    assert_non_null(t->policy);
    t->threads = 2;
    out = rt_seal(t, in, SF_RECORDS_JSONL, SF_OK);
    memset(use, 0, sizeof use);
    deks = tally(out, lens, use, N);
    assert_true(deks >= N / 3);
    for (size_t k = 0; k < deks; k++) {
        assert_true(use[k].records <= 3);
    }
    sf_policy_free(t->policy);
    t->policy = keep;
    free(out);
    free(in);
}

static void test_record_larger_than_a_shared_dek_is_refused(void **state)
{
    struct rt *t = *state;
    char in[512];

    snprintf(in, sizeof in, "{\"card\":\"%0120d\"}", 7);
    assert_null(rt_seal(t, in, SF_RECORDS_JSONL, SF_ERR_LIMIT));
    assert_non_null(strstr(sf_last_error(), "at most 100 bytes"));
    assert_non_null(strstr(sf_last_error(), "$[\"card\"]"));
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

static void test_shared_dek_is_replaced_at_max_age(void **state)
{
    struct rt *t = *state;
    struct sf_records_seal_opts o = {SF_RECORDS_JSONL, tenant, 1, 1, "in"};
    struct sf_record_sealer *s = NULL;
    struct sf_buf a = SF_BUF_INIT;
    struct sf_buf b = SF_BUF_INIT;
    struct sf_buf c = SF_BUF_INIT;
    char *sa;
    char *sb;
    char *sc;
    char *ta;
    char *tb;
    char *tc;

    fake_now = 1000000;
    rec_test_set_clock(fake_clock);
    assert_int_equal(sf_record_sealer_new(t->policy, t->f->ks, &o, &s),
                     SF_OK);
    assert_int_equal(sf_record_seal(s, (const uint8_t *)"{\"card\":\"1\"}",
                                    12, &a), SF_OK);
    fake_now += 3599;
    assert_int_equal(sf_record_seal(s, (const uint8_t *)"{\"card\":\"2\"}",
                                    12, &b), SF_OK);
    fake_now += 1;
    assert_int_equal(sf_record_seal(s, (const uint8_t *)"{\"card\":\"3\"}",
                                    12, &c), SF_OK);
    rec_test_set_clock(NULL);
    sa = rt_text(&a);
    sb = rt_text(&b);
    sc = rt_text(&c);
    ta = rt_member(sa, "d");
    tb = rt_member(sb, "d");
    tc = rt_member(sc, "d");
    assert_string_equal(ta, tb);
    assert_string_not_equal(tb, tc);
    sf_record_sealer_free(s);
    free(sa);
    free(sb);
    free(sc);
    free(ta);
    free(tb);
    free(tc);
}

/* Tokens stay compact: a card number or an e-mail address grows by at
 * most 40 bytes; one symmetric stanza takes at most 120 bytes. */
static void test_token_and_stanza_sizes_stay_within_targets(void **state)
{
    struct rt *t = *state;
    static const char in[] = "{\"card\":\"4111111111111111\"}";
    char *out = rt_seal(t, in, SF_RECORDS_JSONL, SF_OK);
    char *tok = rt_member(out, "card");
    const char *st = strstr(out, "[\"pii-kek\",");
    const char *st_end = st != NULL ? strstr(st, "]") : NULL;

    assert_true(strlen(tok) + 2 <= strlen("\"4111111111111111\"") + 40);
    assert_non_null(st_end);
    assert_true((size_t)(st_end - st) + 1 <= 120);
    free(tok);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_duplicate_key_names_record_line_and_path),
        T(test_duplicate_key_in_large_object_is_found),
        T(test_invalid_utf8_is_refused),
        T(test_unpaired_surrogate_is_refused),
        T(test_nesting_beyond_the_bound_is_refused),
        T(test_nesting_at_the_bound_is_sealed),
        T(test_empty_and_blank_inputs_are_refused),
        T(test_non_object_records_are_refused),
        T(test_trailing_garbage_is_refused),
        T(test_sealed_input_is_not_sealed_twice),
        T(test_clear_value_that_looks_like_a_token_is_refused),
        T(test_sealed_value_that_looks_like_a_token_is_refused),
        T(test_missing_required_context_is_refused),
        T(test_edited_context_fails_to_open),
        T(test_shared_dek_limits_are_never_exceeded),
        T(test_shared_dek_record_limit_holds_across_workers),
        T(test_record_larger_than_a_shared_dek_is_refused),
        T(test_shared_dek_is_replaced_at_max_age),
        T(test_token_and_stanza_sizes_stay_within_targets),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
