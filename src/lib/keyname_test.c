#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sealflow/keystore.h"

static const char *const accepted[] = {
    "a",
    "orders",
    "Orders-2024",
    "-leading-hyphen",
    "trailing-hyphen-",
    "-",
    "a.b.c",
    "a..b",
    ".hidden",
    "trailing-dot.",
    "user@example.com",
    "team/app/key",
    "a/b",
    "_under_score_",
    "0123456789",
    "\xc3\xbc"
    "ber",                              /* "über" */
    "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", /* "ключ" */
    "\xe9\x8d\xb5",                     /* U+9375 (CJK) */
    "\xc2\xa1",                         /* U+00A1, first accepted */
    "\xe2\x80\xb0",                     /* U+2030, just after a gap */
    "\xe2\x81\xb0",                     /* U+2070, just after a gap */
    "\xe3\x80\x81",                     /* U+3001 */
    "\xef\xbf\xaf",                     /* U+FFEF, just before a gap */
    "\xf0\x9f\x94\x91",                 /* U+1F511 (four bytes) */
    "\xf4\x8f\xbf\xbf",                 /* U+10FFFF, the last code point */
    "a/\xc3\xa9t\xc3\xa9/b",
};

struct rejected_name {
    const char *name;
    const char *why; /* expected in sf_last_error() */
};

static const struct rejected_name rejected[] = {
    {"", "empty"},
    {".", "'.' or '..'"},
    {"..", "'.' or '..'"},
    {"./a", "'.' or '..'"},
    {"a/.", "'.' or '..'"},
    {"a/./b", "'.' or '..'"},
    {"a/../b", "'.' or '..'"},
    {"//", "leading '/'"},
    {"a//b", "empty segment"},
    {"/a", "leading '/'"},
    {"a/", "trailing '/'"},
    {"/", "leading '/'"},
    {"a b", "space at byte 1"},
    {" a", "space at byte 0"},
    {"a\tb", "control character at byte 1"},
    {"a\nb", "control character at byte 1"},
    {"a\rb", "control character"},
    {"\x01", "control character at byte 0"},
    {"a\x7f", "control character at byte 1"},
    {"a!b", "'!' at byte 1"},
    {"a:b", "':'"},
    {"a#b", "'#'"},
    {"a%b", "'%'"},
    {"a+b", "'+'"},
    {"a=b", "'='"},
    {"a\\b", "'\\'"},
    {"a*b", "'*'"},
    {"a?b", "'?'"},
    {"a'b", "'''"},
    {"a\"b", "'\"'"},
    {"a,b", "','"},
    {"a~b", "'~'"},
    {"\xff", "not valid UTF-8 at byte 0"},
    {"ab\xc3", "not valid UTF-8 at byte 2"}, /* truncated */
    {"\xc3(", "not valid UTF-8"},            /* bad continuation */
    {"\xc0\xaf", "not valid UTF-8"},         /* overlong '/' */
    {"\xe0\x80\xaf", "not valid UTF-8"},     /* overlong, 3 bytes */
    {"\xed\xa0\x80", "not valid UTF-8"},     /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", "not valid UTF-8"}, /* above U+10FFFF */
    {"\xc2\x85", "U+0085"},                  /* C1 control */
    {"\xc2\xa0", "U+00A0"},                  /* no-break space */
    {"a\xe2\x80\x80", "U+2000 (a space"},    /* en quad */
    {"\xe2\x80\x83", "U+2003"},              /* em space */
    {"\xe2\x80\x8b", "U+200B"},              /* zero width space */
    {"\xe2\x80\x8f", "U+200F"},              /* right-to-left mark */
    {"\xe2\x80\xa8", "U+2028"},              /* line separator */
    {"\xe2\x80\xae", "U+202E"},              /* RTL override */
    {"\xe2\x80\xaf", "U+202F"},              /* narrow NBSP */
    {"\xe2\x81\x9f", "U+205F"},              /* math space */
    {"\xe2\x81\xa6", "U+2066"},              /* isolate */
    {"\xe2\x81\xaf", "U+206F"},
    {"\xe3\x80\x80", "U+3000"}, /* ideographic space */
    {"\xef\xbb\xbf"
     "a",
     "U+FEFF"}, /* byte order mark */
    {"\xef\xbf\xb0", "U+FFF0"},
    {"\xef\xbf\xbd", "U+FFFD"}, /* replacement char */
    {"\xef\xbf\xbf", "U+FFFF"},
};

static void test_key_name_accepts_grammar(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        sf_status rc = sf_key_name_check(accepted[i]);

        if (rc != SF_OK) {
            fail_msg("rejected '%s': %s", accepted[i], sf_last_error());
        }
    }
}

static void test_key_name_rejects_with_reason(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        sf_status rc = sf_key_name_check(rejected[i].name);

        if (rc != SF_ERR_KEY_NAME) {
            fail_msg("accepted case %zu (rc %d)", i, (int)rc);
        }
        if (strstr(sf_last_error(), rejected[i].why) == NULL) {
            fail_msg("case %zu: '%s' lacks '%s'", i, sf_last_error(),
                     rejected[i].why);
        }
    }
}

static void test_key_name_error_lists_allowed_characters(void **state)
{
    (void)state;
    assert_int_equal(sf_key_name_check("a b"), SF_ERR_KEY_NAME);
    assert_non_null(strstr(sf_last_error(),
                           "ASCII letters and digits, '-', '_', '.', '@', "
                           "'/' and non-ASCII letters"));
    assert_non_null(strstr(sf_last_error(), "1 to 128 bytes"));
    assert_int_equal(sf_key_name_check(NULL), SF_ERR_KEY_NAME);
}

static void test_key_name_length_limit_is_128_bytes(void **state)
{
    char name[SF_KEY_NAME_MAX + 2];

    (void)state;
    memset(name, 'k', SF_KEY_NAME_MAX);
    name[SF_KEY_NAME_MAX] = '\0';
    assert_int_equal(sf_key_name_check(name), SF_OK);

    name[SF_KEY_NAME_MAX] = 'k';
    name[SF_KEY_NAME_MAX + 1] = '\0';
    assert_int_equal(sf_key_name_check(name), SF_ERR_KEY_NAME);
    assert_non_null(strstr(sf_last_error(), "longer than 128 bytes"));

    /* 126 ASCII bytes and a two-byte letter: exactly 128 bytes. */
    memset(name, 'k', 126);
    memcpy(name + 126, "\xc3\xa9", 3);
    assert_int_equal(sf_key_name_check(name), SF_OK);
    /* One more ASCII byte pushes the letter past the limit. */
    memset(name, 'k', 127);
    memcpy(name + 127, "\xc3\xa9", 3);
    assert_int_equal(sf_key_name_check(name), SF_ERR_KEY_NAME);
}

static void test_key_type_names_round_trip(void **state)
{
    static const enum sf_key_type all[] = {
        SF_KEY_AES256_GCM96, SF_KEY_CHACHA20_POLY1305, SF_KEY_X25519,
        SF_KEY_RSA_3072, SF_KEY_RSA_4096};
    enum sf_key_type t;

    (void)state;
    assert_string_equal(sf_key_type_name(SF_KEY_AES256_GCM96), "aes256-gcm96");
    assert_string_equal(sf_key_type_name(SF_KEY_CHACHA20_POLY1305),
                        "chacha20-poly1305");
    assert_string_equal(sf_key_type_name(SF_KEY_X25519), "x25519");
    assert_string_equal(sf_key_type_name(SF_KEY_RSA_3072), "rsa-3072");
    assert_string_equal(sf_key_type_name(SF_KEY_RSA_4096), "rsa-4096");
    assert_null(sf_key_type_name((enum sf_key_type)99));
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_int_equal(sf_key_type_parse(sf_key_type_name(all[i]), &t),
                         SF_OK);
        assert_int_equal(t, all[i]);
    }
    assert_false(sf_key_type_is_asymmetric(SF_KEY_AES256_GCM96));
    assert_false(sf_key_type_is_asymmetric(SF_KEY_CHACHA20_POLY1305));
    assert_true(sf_key_type_is_asymmetric(SF_KEY_X25519));
    assert_true(sf_key_type_is_asymmetric(SF_KEY_RSA_3072));
    assert_true(sf_key_type_is_asymmetric(SF_KEY_RSA_4096));
}

static void test_key_type_parse_lists_accepted_names(void **state)
{
    enum sf_key_type t = SF_KEY_X25519;

    (void)state;
    assert_int_equal(sf_key_type_parse("aes128-gcm96", &t), SF_ERR_UNSUPPORTED);
    assert_int_equal(t, SF_KEY_X25519);
    assert_non_null(strstr(sf_last_error(), "'aes128-gcm96'"));
    assert_non_null(strstr(sf_last_error(),
                           "aes256-gcm96, chacha20-poly1305, x25519, "
                           "rsa-3072, rsa-4096"));
    /* Case matters, and unprintable input is not echoed. */
    assert_int_equal(sf_key_type_parse("AES256-GCM96", &t), SF_ERR_UNSUPPORTED);
    assert_int_equal(sf_key_type_parse("x\x1b[2J", &t), SF_ERR_UNSUPPORTED);
    assert_null(strchr(sf_last_error(), '\x1b'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_name_accepts_grammar),
        cmocka_unit_test(test_key_name_rejects_with_reason),
        cmocka_unit_test(test_key_name_error_lists_allowed_characters),
        cmocka_unit_test(test_key_name_length_limit_is_128_bytes),
        cmocka_unit_test(test_key_type_names_round_trip),
        cmocka_unit_test(test_key_type_parse_lists_accepted_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
