#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonpath.h"
#include "sealflow/policy.h"

#define CLASSES                                                            \
    "version: 1\n"                                                         \
    "classes:\n"                                                           \
    "  public: {suite: none}\n"                                            \
    "  internal: {keys: [k1]}\n"                                           \
    "  confidential: {keys: [k2]}\n"                                       \
    "  restricted: {keys: [k3]}\n"                                         \
    "default: internal\n"

enum { PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED };

static struct sf_policy *load(const char *yaml)
{
    struct sf_policy *p = NULL;

    if (sf_policy_load_buffer(yaml, strlen(yaml), "t.yaml", &p) != SF_OK) {
        fail_msg("policy refused: %s", sf_last_error());
    }
    return p;
}

/* Builds a path from a concrete path string. */
static struct sf_path *at(const struct sf_policy *p, const char *text)
{
    struct sf_path *path = NULL;

    assert_int_equal(sf_path_new(p, &path), SF_OK);
    if (sf_path_parse(path, text, strlen(text)) != SF_OK) {
        fail_msg("%s: %s", text, sf_last_error());
    }
    return path;
}

struct want {
    const char *path;
    size_t class_index;
    size_t rule_index;
    bool is_inherited;
    bool is_uniform;
};

static void check(const struct sf_policy *p, const struct want *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sf_path *path = at(p, w[i].path);
        struct sf_policy_match m;

        assert_int_equal(sf_policy_classify(p, path, NULL, NULL, &m), SF_OK);
        if (m.class_index != w[i].class_index ||
                m.rule_index != w[i].rule_index ||
                m.is_inherited != w[i].is_inherited ||
                m.is_subtree_uniform != w[i].is_uniform) {
            fail_msg("%s: got class %zu rule %zu inherited %d uniform %d",
                     w[i].path, m.class_index, m.rule_index, m.is_inherited,
                     m.is_subtree_uniform);
        }
        sf_path_free(path);
    }
}

#define NONE SF_POLICY_NO_RULE

static void test_exact_beats_wildcard_beats_descendant(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $..number, class: restricted}\n"
                               "  - {path: '$.payment.*.number', class: "
                               "confidential}\n"
                               "  - {path: $.payment.card.number, class: "
                               "public}\n");
    const struct want w[] = {
        /* "$..number" stays alive below: a deeper "number" would be
         * restricted, so these subtrees are not uniform. */
        {"$.payment.card.number", PUBLIC, 2, false, false},
        {"$.payment.token.number", CONFIDENTIAL, 1, false, false},
        {"$.shipping.number", RESTRICTED, 0, false, true},
        {"$.a.b.c.number", RESTRICTED, 0, false, true},
        {"$.payment.card", INTERNAL, NONE, false, false},
        {"$.payment", INTERNAL, NONE, false, false},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_rule_on_field_beats_rule_on_enclosing_object(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $.customer.loyalty_tier, class: "
                               "internal}\n"
                               "  - {path: $.customer, class: "
                               "confidential}\n"
                               "  - {path: $..ssn, class: restricted}\n");
    const struct want w[] = {
        {"$.customer", CONFIDENTIAL, 1, false, false},
        {"$.customer.name", CONFIDENTIAL, 1, true, false},
        {"$.customer.loyalty_tier", INTERNAL, 0, false, false},
        {"$.customer.loyalty_tier.level", INTERNAL, 0, true, false},
        /* "$..ssn" names the field; "$.customer" only encloses it. */
        {"$.customer.ssn", RESTRICTED, 2, false, true},
        {"$.customer.ssn.last4", RESTRICTED, 2, true, true},
        {"$.seller.ssn", RESTRICTED, 2, false, true},
        {"$.seller", INTERNAL, NONE, false, false},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_nearest_enclosing_rule_wins(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $.a, class: restricted}\n"
                               "  - {path: '$.*.b', class: public}\n"
                               "  - {path: $..c, class: confidential}\n");
    const struct want w[] = {
        {"$.a.b.x", PUBLIC, 1, true, false},
        {"$.a.x.y", RESTRICTED, 0, true, false},
        {"$.a.b.c.d", CONFIDENTIAL, 2, true, true},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_longer_descendant_pattern_beats_shorter(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $..id, class: public}\n"
                               "  - {path: $..patient..id, class: "
                               "restricted}\n");
    const struct want w[] = {
        {"$.order.id", PUBLIC, 0, false, false},
        {"$.patient.ref.id", RESTRICTED, 1, false, false},
        {"$.patient.id", RESTRICTED, 1, false, false},
        {"$.patient", INTERNAL, NONE, false, false},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_file_order_breaks_ties(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: '$.a.*', class: public}\n"
                               "  - {path: '$.*.b', class: restricted}\n");
    struct sf_policy *q = load(CLASSES "rules:\n"
                               "  - {path: '$.*.b', class: restricted}\n"
                               "  - {path: '$.a.*', class: public}\n");
    const struct want wp[] = {{"$.a.b", PUBLIC, 0, false, true},
                              {"$.x.b", RESTRICTED, 1, false, true},
                              {"$.a.x", PUBLIC, 0, false, true}};
    const struct want wq[] = {{"$.a.b", RESTRICTED, 0, false, true},
                              {"$.a.x", PUBLIC, 1, false, true}};

    (void)state;
    check(p, wp, sizeof wp / sizeof *wp);
    check(q, wq, sizeof wq / sizeof *wq);
    sf_policy_free(p);
    sf_policy_free(q);
}

static void test_container_rule_covers_subtree(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $.payment.card, class: "
                               "restricted}\n"
                               "  - {path: $.payment.card.brand, class: "
                               "restricted}\n"
                               "  - {path: $.order.lines, class: "
                               "confidential}\n"
                               "  - {path: '$.order.lines[*].note', class: "
                               "restricted}\n"
                               "  - {path: $..email, class: confidential}\n");
    const struct want w[] = {
        /* A deeper rule of the same class keeps the card uniform, but
         * "$..email" could still give a deeper field another class. */
        {"$.payment.card", RESTRICTED, 0, false, false},
        {"$.payment.card.number", RESTRICTED, 0, true, false},
        {"$.payment.card.brand", RESTRICTED, 1, false, false},
        {"$.payment.card.email", CONFIDENTIAL, 4, false, true},
        {"$.order.lines", CONFIDENTIAL, 2, false, false},
        {"$.order.lines[3]", CONFIDENTIAL, 2, true, false},
        {"$.order.lines[3].note", RESTRICTED, 3, false, false},
        {"$.order", INTERNAL, NONE, false, false},
        {"$.other.email", CONFIDENTIAL, 4, false, true},
    };
    struct sf_policy *q = load(CLASSES "rules:\n"
                               "  - {path: $.card, class: restricted}\n"
                               "  - {path: $.card.cvv, class: "
                               "restricted}\n"
                               "  - {path: $.name, class: public}\n");
    const struct want wq[] = {
        {"$.card", RESTRICTED, 0, false, true},
        {"$.card.number", RESTRICTED, 0, true, true},
        {"$.card.cvv", RESTRICTED, 1, false, true},
        {"$.name", PUBLIC, 2, false, true},
        {"$.other", INTERNAL, NONE, false, true},
        {"$", INTERNAL, NONE, false, false},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    check(q, wq, sizeof wq / sizeof *wq);
    sf_policy_free(p);
    sf_policy_free(q);
}

static void test_subtree_not_uniform_when_a_deeper_rule_wins(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $.card, class: confidential}\n"
                               "  - {path: $.card.number, class: "
                               "restricted}\n"
                               "  - {path: '$.card.history[*]', class: "
                               "public}\n");
    const struct want w[] = {
        {"$", INTERNAL, NONE, false, false},
        {"$.card", CONFIDENTIAL, 0, false, false},
        {"$.card.number", RESTRICTED, 1, false, true},
        {"$.card.history", CONFIDENTIAL, 0, true, false},
        {"$.card.history[0]", PUBLIC, 2, false, true},
        {"$.card.expiry", CONFIDENTIAL, 0, true, true},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_default_everywhere_without_rules(void **state)
{
    struct sf_policy *p = load(CLASSES);
    const struct want w[] = {{"$", INTERNAL, NONE, false, true},
                             {"$.a[1].b", INTERNAL, NONE, false, true}};

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_root_rule_covers_the_record(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $, class: confidential}\n"
                               "  - {path: $.id, class: public}\n");
    const struct want w[] = {{"$", CONFIDENTIAL, 0, false, false},
                             {"$.name", CONFIDENTIAL, 0, true, true},
                             {"$.id", PUBLIC, 1, false, true}};

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_indices_wildcards_and_quoted_names(void **state)
{
    struct sf_policy *p = load(
        CLASSES "rules:\n"
                "  - {path: '$.items[0].sku', class: restricted}\n"
                "  - {path: '$.items[*].sku', class: public}\n"
                "  - {path: '$.entry[*].resource.telecom[*].value', "
                "class: confidential}\n"
                "  - {path: \"$['odd key']['a\\\\u0000b']\", class: "
                "restricted}\n"
                "  - {path: '$.list.*', class: public}\n");
    const struct want w[] = {
        {"$.items[0].sku", RESTRICTED, 0, false, true},
        {"$.items[1].sku", PUBLIC, 1, false, true},
        {"$.items['0'].sku", PUBLIC, 1, false, true},
        {"$.entry[7].resource.telecom[2].value", CONFIDENTIAL, 2, false,
         true},
        {"$.entry[7].resource.telecom[2].system", INTERNAL, NONE, false,
         true},
        {"$.entry.x.resource.telecom[2].value", CONFIDENTIAL, 2, false,
         true},
        {"$['odd key']['a\\u0000b']", RESTRICTED, 3, false, true},
        {"$['odd key'].a", INTERNAL, NONE, false, true},
        {"$.list[4]", PUBLIC, 4, false, true},
        {"$.list.x", PUBLIC, 4, false, true},
    };

    (void)state;
    check(p, w, sizeof w / sizeof *w);
    sf_policy_free(p);
}

static void test_column_and_tag_rules(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {column: Email, class: confidential}\n"
                               "  - {tag: pan, class: restricted}\n"
                               "  - {path: $.Email.x, class: public}\n"
                               "  - {path: $.Email, class: public}\n");
    struct sf_path *path = at(p, "$.Email.x");
    struct sf_policy_match m;

    (void)state;
    assert_int_equal(sf_policy_classify(p, NULL, "Email", NULL, &m), SF_OK);
    assert_int_equal(m.class_index, CONFIDENTIAL);
    assert_int_equal(m.rule_index, 0);
    assert_true(m.is_subtree_uniform);
    assert_int_equal(sf_policy_classify(p, NULL, "email", NULL, &m), SF_OK);
    assert_int_equal(m.class_index, INTERNAL);
    assert_int_equal(m.rule_index, NONE);
    assert_int_equal(sf_policy_classify(p, NULL, NULL, "pan", &m), SF_OK);
    assert_int_equal(m.class_index, RESTRICTED);
    /* A tag beats any path; a longer exact path beats a column. */
    assert_int_equal(sf_policy_classify(p, path, "Email", "pan", &m), SF_OK);
    assert_int_equal(m.rule_index, 1);
    assert_false(m.is_inherited);
    assert_int_equal(sf_policy_classify(p, path, "Email", NULL, &m), SF_OK);
    assert_int_equal(m.rule_index, 2);
    assert_int_equal(m.class_index, PUBLIC);
    /* Same tier and length: the column rule comes first in the file. */
    sf_path_pop(path);
    assert_int_equal(sf_policy_classify(p, path, "Email", "other", &m),
                     SF_OK);
    assert_int_equal(m.rule_index, 0);
    sf_path_free(path);
    sf_policy_free(p);
}

static void test_push_pop_restores_each_level(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $..email, class: confidential}\n"
                               "  - {path: $.a.b, class: restricted}\n");
    struct sf_path *path = NULL;
    struct sf_policy_match m;

    (void)state;
    assert_int_equal(sf_path_new(p, &path), SF_OK);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(sf_path_push_member(path, "a", 1), SF_OK);
        assert_int_equal(sf_path_push_member(path, "b", 1), SF_OK);
        assert_int_equal(sf_policy_classify(p, path, NULL, NULL, &m), SF_OK);
        assert_int_equal(m.class_index, RESTRICTED);
        sf_path_pop(path);
        assert_int_equal(sf_path_push_member(path, "email", 5), SF_OK);
        assert_int_equal(sf_policy_classify(p, path, NULL, NULL, &m), SF_OK);
        assert_int_equal(m.class_index, CONFIDENTIAL);
        sf_path_pop(path);
        assert_int_equal(sf_path_push_index(path, 2), SF_OK);
        assert_int_equal(sf_policy_classify(p, path, NULL, NULL, &m), SF_OK);
        assert_int_equal(m.class_index, INTERNAL);
        sf_path_pop(path);
        sf_path_pop(path);
        assert_int_equal(sf_path_depth(path), 0);
        sf_path_pop(path);
        assert_int_equal(sf_path_depth(path), 0);
    }
    assert_int_equal(sf_path_push_member(path, "x", 1), SF_OK);
    sf_path_clear(path);
    assert_int_equal(sf_path_depth(path), 0);
    sf_path_free(path);
    sf_policy_free(p);
}

static void expect_render(struct sf_path *path, const char *want)
{
    struct sf_buf out = SF_BUF_INIT;

    assert_int_equal(sf_buf_put_str(&out, "X"), SF_OK);
    assert_int_equal(sf_path_render(path, &out), SF_OK);
    assert_int_equal(out.len, strlen(want) + 1);
    assert_string_equal((const char *)out.data + 1, want);
    sf_buf_free(&out);
}

static void test_render_and_parse_round_trip(void **state)
{
    struct sf_path *path = NULL;
    struct sf_path *back = NULL;
    struct sf_buf out = SF_BUF_INIT;
    const char *name;
    size_t len;
    size_t index;

    (void)state;
    assert_int_equal(sf_path_new(NULL, &path), SF_OK);
    assert_int_equal(sf_path_new(NULL, &back), SF_OK);
    expect_render(path, "$");
    assert_int_equal(sf_path_push_member(path, "items", 5), SF_OK);
    assert_int_equal(sf_path_push_index(path, 0), SF_OK);
    assert_int_equal(sf_path_push_member(path, "a\"b\\\n\x01/", 7), SF_OK);
    assert_int_equal(sf_path_push_member(path, "", 0), SF_OK);
    assert_int_equal(sf_path_push_member(path, "\0z", 2), SF_OK);
    expect_render(path, "$[\"items\"][0][\"a\\\"b\\\\\\n\\u0001/\"][\"\"]"
                        "[\"\\u0000z\"]");
    assert_int_equal(sf_path_segment(path, 1, &name, &len, &index), SF_OK);
    assert_null(name);
    assert_int_equal(index, 0);
    assert_int_equal(sf_path_segment(path, 4, &name, &len, &index), SF_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(name, "\0z", 2);
    assert_int_equal(sf_path_segment(path, 5, &name, &len, &index),
                     SF_ERR_INVALID_ARG);

    assert_int_equal(sf_path_render(path, &out), SF_OK);
    assert_int_equal(sf_path_parse(back, (const char *)out.data, out.len),
                     SF_OK);
    assert_int_equal(sf_path_depth(back), 5);
    expect_render(back, (const char *)out.data);
    sf_buf_free(&out);
    sf_path_free(path);
    sf_path_free(back);
}

static void test_path_parse_refuses_patterns(void **state)
{
    struct sf_path *path = NULL;

    (void)state;
    assert_int_equal(sf_path_new(NULL, &path), SF_OK);
    assert_int_equal(sf_path_parse(path, "$.a[*]", 6), SF_ERR_FORMAT);
    assert_string_equal(sf_last_error(), "a field path names one field: "
                        "wildcards and '..' are not allowed");
    assert_int_equal(sf_path_parse(path, "$.a[", 4), SF_ERR_FORMAT);
    assert_string_equal(sf_last_error(), "malformed field path: expected an "
                        "index, '*' or a quoted name after '[', found the "
                        "end of the path (character 5)");
    assert_int_equal(sf_path_depth(path), 0);
    sf_path_free(path);
}

static void test_classify_checks_arguments(void **state)
{
    struct sf_policy *p = load(CLASSES);
    struct sf_policy *q = load(CLASSES);
    struct sf_path *mine = at(p, "$.a");
    struct sf_path *bare = NULL;
    struct sf_policy_match m;

    (void)state;
    assert_int_equal(sf_path_new(NULL, &bare), SF_OK);
    assert_int_equal(sf_policy_classify(q, mine, NULL, NULL, &m),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_policy_classify(p, bare, NULL, NULL, &m),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_policy_classify(NULL, NULL, NULL, NULL, &m),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_policy_classify(p, mine, NULL, NULL, NULL),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_policy_classify(p, NULL, NULL, NULL, &m), SF_OK);
    assert_int_equal(m.class_index, INTERNAL);
    sf_path_free(mine);
    sf_path_free(bare);
    sf_policy_free(p);
    sf_policy_free(q);
}

static void test_depth_limit(void **state)
{
    struct sf_policy *p = load(CLASSES "rules:\n"
                               "  - {path: $..a..b, class: public}\n");
    struct sf_path *path = NULL;
    struct sf_policy_match m;

    (void)state;
    assert_int_equal(sf_path_new(p, &path), SF_OK);
    for (size_t i = 0; i < SF_PATH_DEPTH_MAX; i++) {
        assert_int_equal(sf_path_push_member(path, i % 2 ? "b" : "a", 1),
                         SF_OK);
    }
    assert_int_equal(sf_path_push_index(path, 1), SF_ERR_LIMIT);
    assert_int_equal(sf_path_depth(path), SF_PATH_DEPTH_MAX);
    assert_int_equal(sf_policy_classify(p, path, NULL, NULL, &m), SF_OK);
    assert_int_equal(m.class_index, PUBLIC);
    sf_path_free(path);
    sf_policy_free(p);
}

/* The example table of docs/POLICY.md, on the example policy itself. */
static void test_ecommerce_example_matches_docs(void **state)
{
    const char *src = getenv("SF_SOURCE_DIR");
    char file[1024];
    struct sf_policy *p = NULL;
    size_t idx[4];
    static const char *const names[] = {"public", "internal",
                                        "confidential", "restricted"};

    (void)state;
    if (src == NULL || src[0] == '\0') {
        printf("SKIP: example policy (SF_SOURCE_DIR is not set)\n");
        return;
    }
    snprintf(file, sizeof file, "%s/tests/vectors/policy/valid/"
             "ecommerce.yaml", src);
    assert_int_equal(sf_policy_load_file(file, &p), SF_OK);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sf_policy_class_find(p, names[i], &idx[i]), SF_OK);
    }
    {
        const struct want w[] = {
            {"$.order_id", idx[1], NONE, false, false},
            {"$.customer", idx[2], 1, false, false},
            {"$.customer.name", idx[2], 1, true, true},
            {"$.customer.email", idx[2], 3, false, true},
            {"$.customer.loyalty_tier", idx[1], 2, false, false},
            {"$.payment.card", idx[3], 0, false, false},
            {"$.payment.card.number", idx[3], 0, true, false},
            {"$.payment.amount", idx[1], NONE, false, false},
            {"$.items[0].sku", idx[0], 4, false, false},
            {"$.items[0].title", idx[0], 5, false, false},
            {"$.items[0].price", idx[1], NONE, false, false},
            {"$['gift message']", idx[2], 6, false, true},
        };

        check(p, w, sizeof w / sizeof *w);
    }
    assert_true(sf_policy_reader_can_see(p, "order-service", idx[1]));
    assert_true(sf_policy_reader_can_see(p, "order-service", idx[2]));
    assert_false(sf_policy_reader_can_see(p, "order-service", idx[3]));
    assert_true(sf_policy_reader_can_see(p, "acme-shipping", idx[2]));
    assert_true(sf_policy_reader_can_see(p, "web", idx[0]));
    assert_false(sf_policy_reader_can_see(p, "web", idx[1]));
    assert_int_equal(sf_policy_class_at(p, idx[2])->wrap_key_count, 2);
    sf_policy_free(p);
}

/* ---- the incremental matcher against the reference matcher ---------- */

/* xorshift64: a fixed sequence, so every run tests the same cases. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick(uint64_t *s, size_t n)
{
    return (size_t)(next_random(s) % n);
}

/* Appends one random pattern segment over the names a, b, c and the
 * indices 0, 1. */
static void random_segment(uint64_t *s, char *out, size_t max)
{
    static const char *const sel[] = {"a", "b", "c", "[0]", "[1]", "*"};
    const char *x = sel[pick(s, 6)];
    bool is_desc = pick(s, 4) == 0;
    size_t len = strlen(out);

    snprintf(out + len, max - len, "%s%s", is_desc ? ".." : x[0] == '[' ?
             "" : ".", x);
}

static struct sf_policy *random_policy(uint64_t *s, struct sf_jsonpath *jp,
                                       size_t *nrules)
{
    static const char *const classes[] = {"public", "internal",
                                          "confidential", "restricted"};
    char yaml[4096];
    struct sf_policy *p = NULL;

    while (p == NULL) {
        size_t used = (size_t)snprintf(yaml, sizeof yaml, "%s",
                                       CLASSES "rules:\n");

        *nrules = 1 + pick(s, 8);
        for (size_t r = 0; r < *nrules; r++) {
            char pat[128] = "$";
            size_t nseg = pick(s, 5);

            for (size_t k = 0; k < nseg; k++) {
                random_segment(s, pat, sizeof pat);
            }
            used += (size_t)snprintf(yaml + used, sizeof yaml - used,
                                     "  - {path: '%s', class: %s}\n", pat,
                                     classes[pick(s, 4)]);
        }
        /* Random rules may repeat a path; the loader refuses that. */
        if (sf_policy_load_buffer(yaml, used, "r.yaml", &p) != SF_OK) {
            assert_non_null(strstr(sf_last_error(), "selects the same"));
        }
    }
    for (size_t r = 0; r < *nrules; r++) {
        const char *pat = sf_policy_rule_at(p, r)->pattern;

        assert_int_equal(sf_jsonpath_parse(pat, strlen(pat), &jp[r], NULL),
                         SF_OK);
    }
    return p;
}

/* Precedence computed from scratch: smaller is better. */
static uint64_t ref_key(const struct sf_jsonpath *jp, size_t r)
{
    return ((uint64_t)(SF_TIER_TAG - sf_jsonpath_tier(jp)) << 48) |
           ((uint64_t)(0xffff - jp->len) << 32) | r;
}

/* The reference answer: every rule is tried on the field and on each
 * enclosing path with the backtracking matcher; the deepest level with a
 * match decides, then precedence among the rules matching there. */
static void ref_classify(const struct sf_policy *p,
                         const struct sf_jsonpath *jp, size_t nrules,
                         const struct sf_jp_field *f, size_t n,
                         struct sf_policy_match *m)
{
    m->rule_index = SF_POLICY_NO_RULE;
    m->is_inherited = false;
    for (size_t k = n + 1; k-- > 0 && m->rule_index == SF_POLICY_NO_RULE;) {
        uint64_t best = UINT64_MAX;

        for (size_t r = 0; r < nrules; r++) {
            if (sf_jsonpath_match(&jp[r], f, k) && ref_key(&jp[r], r) <
                    best) {
                best = ref_key(&jp[r], r);
                m->rule_index = r;
            }
        }
        m->is_inherited = m->rule_index != SF_POLICY_NO_RULE && k < n;
    }
    m->class_index = m->rule_index == SF_POLICY_NO_RULE
                         ? sf_policy_default_class(p)
                         : sf_policy_rule_at(p, m->rule_index)->class_index;
}

static void random_field(uint64_t *s, struct sf_jp_field *f)
{
    static const char *const names[] = {"a", "b", "c", "z"};
    size_t k = pick(s, 7);

    f->name = k < 4 ? names[k] : NULL;
    f->name_len = k < 4 ? 1 : 0;
    f->index = k == 4 ? 0 : k == 5 ? 1 : 7;
}

/* When the matcher calls a subtree uniform, every deeper field must have
 * the same class by the reference; checked on random extensions. */
static void check_uniform(const struct sf_policy *p,
                          const struct sf_jsonpath *jp, size_t nrules,
                          uint64_t *s, struct sf_jp_field *f, size_t n,
                          size_t cls)
{
    for (int t = 0; t < 20; t++) {
        size_t extra = 1 + pick(s, 4);
        struct sf_policy_match m;

        for (size_t i = 0; i < extra; i++) {
            random_field(s, &f[n + i]);
        }
        ref_classify(p, jp, nrules, f, n + extra, &m);
        assert_int_equal(m.class_index, cls);
    }
}

static void test_incremental_matcher_agrees_with_reference(void **state)
{
    uint64_t s = 0x9e3779b97f4a7c15u;

    (void)state;
    for (int round = 0; round < 300; round++) {
        struct sf_jsonpath jp[8];
        struct sf_jp_field f[16];
        struct sf_path *path = NULL;
        size_t nrules = 0;
        struct sf_policy *p = random_policy(&s, jp, &nrules);

        assert_int_equal(sf_path_new(p, &path), SF_OK);
        for (int t = 0; t < 20; t++) {
            size_t n = pick(&s, 6);
            struct sf_policy_match got;
            struct sf_policy_match want;

            sf_path_clear(path);
            for (size_t i = 0; i < n; i++) {
                random_field(&s, &f[i]);
                assert_int_equal(
                    f[i].name != NULL
                        ? sf_path_push_member(path, f[i].name, 1)
                        : sf_path_push_index(path, f[i].index),
                    SF_OK);
            }
            assert_int_equal(sf_policy_classify(p, path, NULL, NULL, &got),
                             SF_OK);
            ref_classify(p, jp, nrules, f, n, &want);
            assert_int_equal(got.rule_index, want.rule_index);
            assert_int_equal(got.class_index, want.class_index);
            assert_int_equal(got.is_inherited, want.is_inherited);
            if (got.is_subtree_uniform) {
                check_uniform(p, jp, nrules, &s, f, n, got.class_index);
            }
        }
        for (size_t r = 0; r < nrules; r++) {
            sf_jsonpath_free(&jp[r]);
        }
        sf_path_free(path);
        sf_policy_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_beats_wildcard_beats_descendant),
        cmocka_unit_test(test_rule_on_field_beats_rule_on_enclosing_object),
        cmocka_unit_test(test_nearest_enclosing_rule_wins),
        cmocka_unit_test(test_longer_descendant_pattern_beats_shorter),
        cmocka_unit_test(test_file_order_breaks_ties),
        cmocka_unit_test(test_container_rule_covers_subtree),
        cmocka_unit_test(test_subtree_not_uniform_when_a_deeper_rule_wins),
        cmocka_unit_test(test_default_everywhere_without_rules),
        cmocka_unit_test(test_root_rule_covers_the_record),
        cmocka_unit_test(test_indices_wildcards_and_quoted_names),
        cmocka_unit_test(test_column_and_tag_rules),
        cmocka_unit_test(test_push_pop_restores_each_level),
        cmocka_unit_test(test_render_and_parse_round_trip),
        cmocka_unit_test(test_path_parse_refuses_patterns),
        cmocka_unit_test(test_classify_checks_arguments),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_ecommerce_example_matches_docs),
        cmocka_unit_test(test_incremental_matcher_agrees_with_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
