#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jsonpath.h"
#include "sealflow/policy.h"

static struct sf_jsonpath parse_ok(const char *text)
{
    struct sf_jsonpath jp;
    struct sf_jp_error e;

    memset(&e, 0, sizeof e);
    if (sf_jsonpath_parse(text, strlen(text), &jp, &e) != SF_OK) {
        fail_msg("parsing %s: %s at %zu", text, e.msg, e.offset);
    }
    return jp;
}

static void check_member(const struct sf_jp_seg *s, const char *name,
                         size_t len, bool is_desc)
{
    assert_int_equal(s->kind, SF_JP_MEMBER);
    assert_int_equal(s->name_len, len);
    assert_memory_equal(s->name, name, len);
    assert_int_equal(s->is_descendant, is_desc);
}

static void test_parse_dotted_members(void **state)
{
    struct sf_jsonpath jp = parse_ok("$.payment.card.number");

    (void)state;
    assert_int_equal(jp.len, 3);
    check_member(&jp.segs[0], "payment", 7, false);
    check_member(&jp.segs[1], "card", 4, false);
    check_member(&jp.segs[2], "number", 6, false);
    assert_int_equal(sf_jsonpath_tier(&jp), SF_TIER_EXACT);
    sf_jsonpath_free(&jp);
}

static void test_parse_root_alone_has_no_segments(void **state)
{
    struct sf_jsonpath jp = parse_ok("$");

    (void)state;
    assert_int_equal(jp.len, 0);
    assert_int_equal(sf_jsonpath_tier(&jp), SF_TIER_EXACT);
    sf_jsonpath_free(&jp);
}

static void test_parse_recursive_descent(void **state)
{
    struct sf_jsonpath jp = parse_ok("$..email");

    (void)state;
    assert_int_equal(jp.len, 1);
    check_member(&jp.segs[0], "email", 5, true);
    assert_int_equal(sf_jsonpath_tier(&jp), SF_TIER_DESCENDANT);
    sf_jsonpath_free(&jp);

    jp = parse_ok("$..*");
    assert_int_equal(jp.segs[0].kind, SF_JP_WILDCARD);
    assert_true(jp.segs[0].is_descendant);
    sf_jsonpath_free(&jp);

    jp = parse_ok("$.a..[2]..['b c']");
    assert_int_equal(jp.len, 3);
    check_member(&jp.segs[0], "a", 1, false);
    assert_int_equal(jp.segs[1].kind, SF_JP_INDEX);
    assert_int_equal(jp.segs[1].index, 2);
    assert_true(jp.segs[1].is_descendant);
    check_member(&jp.segs[2], "b c", 3, true);
    sf_jsonpath_free(&jp);
}

static void test_parse_wildcards_both_spellings(void **state)
{
    struct sf_jsonpath jp = parse_ok("$.entry[*].resource.telecom.*.value");

    (void)state;
    assert_int_equal(jp.len, 6);
    check_member(&jp.segs[0], "entry", 5, false);
    assert_int_equal(jp.segs[1].kind, SF_JP_WILDCARD);
    assert_false(jp.segs[1].is_descendant);
    check_member(&jp.segs[2], "resource", 8, false);
    check_member(&jp.segs[3], "telecom", 7, false);
    assert_int_equal(jp.segs[4].kind, SF_JP_WILDCARD);
    check_member(&jp.segs[5], "value", 5, false);
    assert_int_equal(sf_jsonpath_tier(&jp), SF_TIER_WILDCARD);
    sf_jsonpath_free(&jp);

    jp = parse_ok("$.a.*");
    assert_int_equal(jp.segs[1].kind, SF_JP_WILDCARD);
    sf_jsonpath_free(&jp);
}

static void test_parse_indices(void **state)
{
    struct sf_jsonpath jp = parse_ok("$.items[0].sku");

    (void)state;
    assert_int_equal(jp.len, 3);
    assert_int_equal(jp.segs[1].kind, SF_JP_INDEX);
    assert_int_equal(jp.segs[1].index, 0);
    sf_jsonpath_free(&jp);

    jp = parse_ok("$[4294967295]");
    assert_int_equal(jp.segs[0].index, 4294967295u);
    sf_jsonpath_free(&jp);
}

static void test_parse_quoted_names_and_escapes(void **state)
{
    struct sf_jsonpath jp = parse_ok("$['odd key'][\"it's\"]['a\\'b']");

    (void)state;
    assert_int_equal(jp.len, 3);
    check_member(&jp.segs[0], "odd key", 7, false);
    check_member(&jp.segs[1], "it's", 4, false);
    check_member(&jp.segs[2], "a'b", 3, false);
    sf_jsonpath_free(&jp);

    jp = parse_ok("$['\\u00e9\\n\\t\\\\\\/\\\"\\ud83d\\ude00']");
    check_member(&jp.segs[0], "\xc3\xa9\n\t\\/\"\xf0\x9f\x98\x80", 11,
                 false);
    sf_jsonpath_free(&jp);

    jp = parse_ok("$['']['$.x[0]']['\\u0000']");
    check_member(&jp.segs[0], "", 0, false);
    check_member(&jp.segs[1], "$.x[0]", 6, false);
    check_member(&jp.segs[2], "\0", 1, false);
    sf_jsonpath_free(&jp);
}

static void test_parse_shorthand_allows_dash_and_utf8(void **state)
{
    struct sf_jsonpath jp = parse_ok("$.first-name.caf\xc3\xa9._x9");

    (void)state;
    check_member(&jp.segs[0], "first-name", 10, false);
    check_member(&jp.segs[1], "caf\xc3\xa9", 5, false);
    check_member(&jp.segs[2], "_x9", 3, false);
    sf_jsonpath_free(&jp);
}

struct bad_path {
    const char *text;
    size_t offset;
    const char *msg;
};

static const struct bad_path bad_paths[] = {
    {"", 0, "a JSON path starts with '$'"},
    {"payment.card", 0, "a JSON path starts with '$'"},
    {"$.", 2, "expected a member name or '*' after '.', found the end of "
              "the path"},
    {"$.a.", 4, "expected a member name or '*' after '.', found the end "
                "of the path"},
    {"$..", 3, "'..' must be followed by a member name, '*' or '[', found "
               "the end of the path"},
    {"$...a", 3, "'..' must be followed by a member name, '*' or '[', "
                 "found '.'"},
    {"$.a[", 4, "expected an index, '*' or a quoted name after '[', found "
                "the end of the path"},
    {"$.a[0", 5, "expected ']', found the end of the path"},
    {"$.a[01]", 4, "index has a leading zero"},
    {"$.a[-1]", 4, "negative indices are not supported"},
    {"$.a[?(@.x)]", 4, "filter expressions are not supported"},
    {"$.a[1:3]", 4, "array slices are not supported"},
    {"$.a[:3]", 4, "array slices are not supported"},
    {"$.a['x','y']", 7, "unions ('[a,b]') are not supported; write one "
                        "rule per path"},
    {"$.a[]", 4, "empty brackets; expected an index, '*' or a quoted name"},
    {"$.a['x]", 4, "unterminated quoted name"},
    {"$.a['\\q']", 5, "unknown escape in a quoted name; use \\\\ \\' \\\" "
                      "\\/ \\b \\f \\n \\r \\t or \\uXXXX"},
    {"$.a['\\u12']", 5, "\\u needs four hex digits"},
    {"$['\\udc00']", 3, "lone low surrogate in \\u escape"},
    {"$['\\ud800x']", 3, "high surrogate in \\u escape is not followed by "
                         "a low surrogate"},
    {"$.a[4294967296]", 4, "index is larger than 4294967295"},
    {"$.a b", 3, "unexpected ' '; expected '.', '..' or '['"},
    {"$a", 1, "unexpected 'a'; expected '.', '..' or '['"},
    {"$.['a']", 1, "'.' before '['; write $['name'] or $[0] without the "
                   "dot"},
    {"$.1abc", 2, "a member name after '.' cannot start with '1'; write "
                  "['name'] or [index]"},
    {"$.a[x]", 4, "expected an index, '*' or a quoted name after '[', "
                  "found 'x'"},
    {"$.a[*", 5, "expected ']', found the end of the path"},
};

static void test_parse_errors_name_offset_and_reason(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
        const struct bad_path *b = &bad_paths[i];
        struct sf_jsonpath jp;
        struct sf_jp_error e;

        memset(&e, 0, sizeof e);
        assert_int_equal(sf_jsonpath_parse(b->text, strlen(b->text), &jp,
                                           &e),
                         SF_ERR_FORMAT);
        if (strcmp(e.msg, b->msg) != 0 || e.offset != b->offset) {
            fail_msg("%s: got '%s' at %zu, want '%s' at %zu", b->text,
                     e.msg, e.offset, b->msg, b->offset);
        }
        assert_null(jp.segs);
        assert_int_equal(jp.len, 0);
    }
}

static void test_parse_refuses_control_character_in_quotes(void **state)
{
    static const char text[] = "$['a\nb']";
    struct sf_jsonpath jp;
    struct sf_jp_error e;

    (void)state;
    assert_int_equal(sf_jsonpath_parse(text, sizeof text - 1, &jp, &e),
                     SF_ERR_FORMAT);
    assert_int_equal(e.offset, 4);
    assert_string_equal(e.msg, "control character 0x0a in a quoted name; "
                        "write it as an escape");
}

static void test_parse_limits(void **state)
{
    char text[SF_JSONPATH_LEN_MAX + 2];
    struct sf_jsonpath jp;
    struct sf_jp_error e;
    size_t n = 1;

    (void)state;
    text[0] = '$';
    for (size_t i = 0; i < SF_JSONPATH_SEGMENT_MAX; i++) {
        text[n++] = '.';
        text[n++] = 'a';
    }
    jp = parse_ok("$");
    sf_jsonpath_free(&jp);
    assert_int_equal(sf_jsonpath_parse(text, n, &jp, &e), SF_OK);
    assert_int_equal(jp.len, SF_JSONPATH_SEGMENT_MAX);
    sf_jsonpath_free(&jp);
    text[n++] = '.';
    text[n++] = 'b';
    assert_int_equal(sf_jsonpath_parse(text, n, &jp, &e), SF_ERR_FORMAT);
    assert_string_equal(e.msg, "too many segments (at most 64)");
    assert_int_equal(e.offset, n - 1);

    memset(text, 'a', sizeof text);
    text[0] = '$';
    text[1] = '.';
    assert_int_equal(sf_jsonpath_parse(text, SF_JSONPATH_LEN_MAX + 1, &jp,
                                       &e),
                     SF_ERR_FORMAT);
    assert_string_equal(e.msg, "path is longer than 1024 bytes");
}

static void render(const struct sf_jp_field *f, size_t n, const char *want)
{
    struct sf_buf out = SF_BUF_INIT;

    assert_int_equal(sf_buf_append(&out, "$", 1), SF_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(
            f[i].name != NULL
                ? sf_jsonpath_append_member(&out, f[i].name, f[i].name_len)
                : sf_jsonpath_append_index(&out, f[i].index),
            SF_OK);
    }
    assert_int_equal(sf_buf_terminate(&out), SF_OK);
    assert_string_equal((const char *)out.data, want);
    sf_buf_free(&out);
}

static void test_render_escapes_like_json_stringify(void **state)
{
    const struct sf_jp_field plain[] = {{"items", 5, 0}, {NULL, 0, 12},
                                        {"sku", 3, 0}};
    const struct sf_jp_field odd[] = {
        {"a\"b\\c", 5, 0}, {"\b\t\n\f\r", 5, 0}, {"\x01\x1f\x7f", 3, 0},
        {"caf\xc3\xa9/'", 7, 0}, {"", 0, 0}, {"\0x", 2, 0}};

    (void)state;
    render(plain, 3, "$[\"items\"][12][\"sku\"]");
    render(odd, 6, "$[\"a\\\"b\\\\c\"][\"\\b\\t\\n\\f\\r\"]"
                   "[\"\\u0001\\u001f\x7f\"][\"caf\xc3\xa9/'\"][\"\"]"
                   "[\"\\u0000x\"]");
    render(NULL, 0, "$");
}

static bool matches(const char *pattern, const struct sf_jp_field *f,
                    size_t n)
{
    struct sf_jsonpath jp = parse_ok(pattern);
    bool m = sf_jsonpath_match(&jp, f, n);

    sf_jsonpath_free(&jp);
    return m;
}

static void test_reference_matcher(void **state)
{
    const struct sf_jp_field f[] = {{"entry", 5, 0}, {NULL, 0, 3},
                                    {"resource", 8, 0}, {"telecom", 7, 0},
                                    {NULL, 0, 0}, {"value", 5, 0}};

    (void)state;
    assert_true(matches("$.entry[*].resource.telecom[*].value", f, 6));
    assert_true(matches("$.entry[3].resource.telecom[0].value", f, 6));
    assert_true(matches("$..value", f, 6));
    assert_true(matches("$..telecom..value", f, 6));
    assert_true(matches("$.entry..value", f, 6));
    assert_true(matches("$..*", f, 6));
    assert_true(matches("$.*.*.*.*.*.*", f, 6));
    assert_true(matches("$", f, 0));
    assert_false(matches("$", f, 6));
    assert_false(matches("$.entry[2].resource.telecom[0].value", f, 6));
    assert_false(matches("$.entry.*", f, 6));
    assert_false(matches("$..telecom", f, 6));
    assert_false(matches("$.entry['3']", f, 2));
    assert_false(matches("$.*.*.*.*.*", f, 6));
    assert_true(matches("$.entry[*]", f, 2));
    assert_true(matches("$[\"entry\"]", f, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_dotted_members),
        cmocka_unit_test(test_parse_root_alone_has_no_segments),
        cmocka_unit_test(test_parse_recursive_descent),
        cmocka_unit_test(test_parse_wildcards_both_spellings),
        cmocka_unit_test(test_parse_indices),
        cmocka_unit_test(test_parse_quoted_names_and_escapes),
        cmocka_unit_test(test_parse_shorthand_allows_dash_and_utf8),
        cmocka_unit_test(test_parse_errors_name_offset_and_reason),
        cmocka_unit_test(test_parse_refuses_control_character_in_quotes),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_render_escapes_like_json_stringify),
        cmocka_unit_test(test_reference_matcher),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
