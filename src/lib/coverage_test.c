/*
 * Coverage reports: every kind of finding on a sealed input, counts per
 * class and rule, both report forms, and explaining a record.
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

/* The policy the data was sealed with. */
static const char sealed_with[] =
    "version: 1\n"
    "classes:\n"
    "  public:\n"
    "    suite: none\n"
    "  internal:\n"
    "    keys: [local:internal-kek]\n"
    "  restricted:\n"
    "    keys: [local:pii-kek]\n"
    "rules:\n"
    "  - path: $.card\n"
    "    class: restricted\n"
    "  - path: $.total\n"
    "    class: internal\n"
    "  - column: Card\n"
    "    class: restricted\n"
    "default: public\n";

/* A stricter policy: email is confidential, total is restricted, the
 * restricted class also goes to a partner and must use ChaCha20. */
static const char checked_with[] =
    "version: 1\n"
    "classes:\n"
    "  public:\n"
    "    suite: none\n"
    "  internal:\n"
    "    keys: [local:internal-kek]\n"
    "    rotation: {kek: 1d}\n"
    "  confidential:\n"
    "    keys: [local:conf-kek]\n"
    "  restricted:\n"
    "    suite: chacha20-poly1305\n"
    "    keys: [local:pii-kek]\n"
    "rules:\n"
    "  - path: $.card\n"
    "    class: restricted\n"
    "  - path: $.total\n"
    "    class: restricted\n"
    "  - path: $.email\n"
    "    class: confidential\n"
    "  - column: Card\n"
    "    class: restricted\n"
    "  - column: Email\n"
    "    class: confidential\n"
    "default: public\n"
    "partners:\n"
    "  - name: research\n"
    "    recipient: recipient:%s\n"
    "    sees: [restricted]\n";

static int setup(void **state)
{
    return rt_setup(state, sealed_with);
}

static int teardown(void **state)
{
    return rt_teardown(state);
}

static struct sf_coverage *run(struct rt *t, const struct sf_policy *p,
                               const char *in, enum sf_records_format fmt,
                               int64_t now)
{
    struct sf_coverage_opts o = {fmt, t->f->ks, now, 0, 2, "sealed"};
    struct sf_coverage *c = NULL;

    assert_int_equal(sf_coverage_run_buffer(p, &o, (const uint8_t *)in,
                                            strlen(in), &c), SF_OK);
    return c;
}

static char *json_report(const struct sf_coverage *c)
{
    struct sf_buf b = SF_BUF_INIT;

    assert_int_equal(sf_coverage_json(c, &b), SF_OK);
    return rt_text(&b);
}

static void test_input_sealed_by_its_policy_has_no_violation(void **state)
{
    struct rt *t = *state;
    char *in = rt_seal(t, "{\"card\":\"4111\",\"total\":5,\"sku\":\"x\"}\n"
                       "{\"card\":\"4222\",\"total\":6}\n",
                       SF_RECORDS_JSONL, SF_OK);
    struct sf_coverage *c = run(t, t->policy, in, SF_RECORDS_JSONL, 0);
    char *js = json_report(c);

    assert_int_equal(sf_coverage_violations(c), 0);
    assert_non_null(strstr(js, "\"records\": 2"));
    assert_non_null(strstr(js, "\"class\": \"restricted\",\n"
                           "      \"suite\": \"aes-256-gcm\""));
    assert_non_null(strstr(js, "\"fields\": 2,\n      \"sealed\": 2"));
    free(js);
    sf_coverage_free(c);
    free(in);
}

/* Against the stricter policy: email clear, total sealed as internal, the
 * partner's stanza missing, the wrong suite for restricted. */
static void test_stricter_policy_finds_every_gap(void **state)
{
    struct rt *t = *state;
    struct sf_policy *strict = rt_policy(t, checked_with);
    char *in = rt_seal(t, "{\"card\":\"4111\",\"total\":5,"
                       "\"email\":\"a@b\"}\n", SF_RECORDS_JSONL, SF_OK);
    struct sf_coverage *c = run(t, strict, in, SF_RECORDS_JSONL, 0);
    struct sf_buf text = SF_BUF_INIT;
    char *js = json_report(c);

    assert_int_equal(sf_coverage_count(c, SF_FINDING_UNSEALED), 1);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_CLASS_MISMATCH), 1);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_WRONG_SUITE), 1);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_RECIPIENT_MISSING), 1);
    assert_int_equal(sf_coverage_violations(c), 4);
    assert_non_null(strstr(js, "\"kind\": \"unsealed\",\n      \"record\": 1,"
                           "\n      \"path\": \"$[\\\"email\\\"]\""));
    assert_non_null(strstr(js, "sealed as 'internal'; the policy says "
                           "'restricted'"));
    assert_int_equal(sf_coverage_text(c, &text), SF_OK);
    assert_non_null(strstr((const char *)text.data, "4 violation(s)"));
    assert_non_null(strstr((const char *)text.data,
                           "record 1 $[\"email\"]: unsealed [confidential]"));
    sf_buf_free(&text);
    free(js);
    sf_coverage_free(c);
    sf_policy_free(strict);
    free(in);
}

static void test_retired_kek_version_is_found(void **state)
{
    struct rt *t = *state;
    struct sf_key_config cfg = {true, 2, false, 0, false, false, false, 0};
    char *in = rt_seal(t, "{\"card\":\"4111\"}", SF_RECORDS_JSONL, SF_OK);
    struct sf_coverage *c;

    assert_int_equal(sf_keystore_rotate(t->f->ks, "pii-kek", NULL), SF_OK);
    assert_int_equal(sf_keystore_config(t->f->ks, "pii-kek", &cfg, NULL),
                     SF_OK);
    c = run(t, t->policy, in, SF_RECORDS_JSONL, 0);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_RETIRED_KEK), 1);
    assert_int_equal(sf_coverage_violations(c), 1);
    sf_coverage_free(c);
    free(in);
}

/* internal's KEK must rotate daily; the key is older than that. */
static void test_rotation_overdue_kek_is_found(void **state)
{
    struct rt *t = *state;
    static const char daily[] =
        "version: 1\n"
        "classes:\n"
        "  public:\n"
        "    suite: none\n"
        "  internal:\n"
        "    keys: [local:internal-kek]\n"
        "    rotation: {kek: 1d}\n"
        "rules:\n"
        "  - path: $.total\n"
        "    class: internal\n"
        "default: public\n";
    struct sf_policy *p = rt_policy(t, daily);
    char *in = rt_seal(t, "{\"total\":7}", SF_RECORDS_JSONL, SF_OK);
    struct sf_key_info info;
    struct sf_coverage *c;

    assert_non_null(p);
    assert_int_equal(sf_keystore_key_info(t->f->ks, "internal-kek", &info),
                     SF_OK);
    c = run(t, p, in, SF_RECORDS_JSONL, info.latest_created_at + 86000);
    assert_int_equal(sf_coverage_violations(c), 0);
    sf_coverage_free(c);
    c = run(t, p, in, SF_RECORDS_JSONL, info.latest_created_at + 86401);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_ROTATION_OVERDUE), 1);
    assert_int_equal(sf_coverage_violations(c), 1);
    sf_coverage_free(c);
    sf_policy_free(p);
    free(in);
}

static void test_unknown_class_and_malformed_token_are_found(void **state)
{
    struct rt *t = *state;
    char *in = rt_seal(t, "{\"card\":\"4111\",\"total\":1}",
                       SF_RECORDS_JSONL, SF_OK);
    char *tok = rt_member(in, "total");
    char *bad = rt_replace(in, "\"n\":\"restricted\"", "\"n\":\"secret\"");
    char *worse = rt_replace(bad, tok, "sf1.AA");
    struct sf_coverage *c = run(t, t->policy, worse, SF_RECORDS_JSONL, 0);

    assert_int_equal(sf_coverage_count(c, SF_FINDING_UNKNOWN_CLASS), 1);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_MALFORMED), 1);
    /* the card token now points at the unknown class: a mismatch */
    assert_int_equal(sf_coverage_count(c, SF_FINDING_CLASS_MISMATCH), 1);
    sf_coverage_free(c);
    free(in);
    free(tok);
    free(bad);
    free(worse);
}

static void test_csv_coverage_checks_columns(void **state)
{
    struct rt *t = *state;
    struct sf_policy *strict = rt_policy(t, checked_with);
    char *in = rt_seal(t, "Id,Card,Email\n1,4111,a@b\n2,4222,c@d\n",
                       SF_RECORDS_CSV, SF_OK);
    struct sf_coverage *c = run(t, strict, in, SF_RECORDS_CSV, 0);

    assert_int_equal(sf_coverage_count(c, SF_FINDING_UNSEALED), 2);
    assert_int_equal(sf_coverage_count(c, SF_FINDING_WRONG_SUITE), 2);
    sf_coverage_free(c);
    sf_policy_free(strict);
    free(in);
}

static void test_unsealed_input_counts_every_field(void **state)
{
    struct rt *t = *state;
    struct sf_coverage *c = run(t, t->policy, "[{\"card\":1},{\"card\":2}]",
                                SF_RECORDS_JSON, 0);
    char *js = json_report(c);

    assert_int_equal(sf_coverage_count(c, SF_FINDING_UNSEALED), 2);
    assert_non_null(strstr(js, "\"records_unsealed\": 2"));
    free(js);
    sf_coverage_free(c);
}

struct seen {
    char text[2048];
};

static sf_status note(void *arg, const struct sf_field_explain *f)
{
    struct seen *s = arg;
    size_t n = strlen(s->text);

    snprintf(s->text + n, sizeof s->text - n, "%s=%zu/%d/%s;", f->path,
             f->match.class_index, (int)f->protection, f->json_type);
    return SF_OK;
}

static void test_explain_reports_each_field(void **state)
{
    struct rt *t = *state;
    static const char rec[] = "{\"card\":{\"n\":1},\"total\":2,\"x\":[1]}";
    struct seen s;

    memset(&s, 0, sizeof s);
    assert_int_equal(sf_records_explain(t->policy, SF_RECORDS_JSON,
                                        (const uint8_t *)rec, strlen(rec),
                                        note, &s), SF_OK);
    assert_string_equal(s.text, "$[\"card\"]=2/3/object;"
                        "$[\"total\"]=1/2/number;$[\"x\"]=0/1/array;");
    memset(&s, 0, sizeof s);
    assert_int_equal(sf_records_explain(t->policy, SF_RECORDS_CSV,
                                        (const uint8_t *)"Id,Card\n1,2\n",
                                        12, note, &s), SF_OK);
    assert_string_equal(s.text, "$[\"Id\"]=0/1/string;"
                        "$[\"Card\"]=2/2/string;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_input_sealed_by_its_policy_has_no_violation),
        T(test_stricter_policy_finds_every_gap),
        T(test_retired_kek_version_is_found),
        T(test_rotation_overdue_kek_is_found),
        T(test_unknown_class_and_malformed_token_are_found),
        T(test_csv_coverage_checks_columns),
        T(test_unsealed_input_counts_every_field),
        T(test_explain_reports_each_field),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
