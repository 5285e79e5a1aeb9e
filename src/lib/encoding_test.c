#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sealflow/encoding.h"

static void check_b64(enum sf_b64 abc, const char *raw, const char *enc)
{
    struct sf_buf out = SF_BUF_INIT;

    assert_int_equal(sf_b64_encode(abc, (const uint8_t *)raw, strlen(raw),
                                   &out), SF_OK);
    assert_string_equal((const char *)out.data, enc);
    sf_buf_reset(&out);
    assert_int_equal(sf_b64_decode(abc, enc, strlen(enc), &out), SF_OK);
    assert_int_equal(out.len, strlen(raw));
    assert_memory_equal(out.data, raw, out.len);
    sf_buf_free(&out);
}

static void test_b64_matches_rfc4648_vectors(void **state)
{
    (void)state;
    check_b64(SF_B64_STD, "", "");
    check_b64(SF_B64_STD, "f", "Zg==");
    check_b64(SF_B64_STD, "fo", "Zm8=");
    check_b64(SF_B64_STD, "foo", "Zm9v");
    check_b64(SF_B64_STD, "foobar", "Zm9vYmFy");
    check_b64(SF_B64_URL, "fo", "Zm8");
    check_b64(SF_B64_URL, "\xfb\xff", "-_8");
}

static void test_b64_decode_rejects_noncanonical(void **state)
{
    static const char *const bad_std[] = {"Zg=", "Zh==", "Z===", "Zm 9v",
                                          "Zm9v\n", "Zg==Zg==", "*g=="};
    static const char *const bad_url[] = {"Zg==", "Zh", "Z", "+_8"};
    struct sf_buf out = SF_BUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof bad_std / sizeof *bad_std; i++) {
        assert_int_equal(sf_b64_decode(SF_B64_STD, bad_std[i],
                                       strlen(bad_std[i]), &out),
                         SF_ERR_FORMAT);
        assert_int_equal(out.len, 0);
    }
    for (size_t i = 0; i < sizeof bad_url / sizeof *bad_url; i++) {
        assert_int_equal(sf_b64_decode(SF_B64_URL, bad_url[i],
                                       strlen(bad_url[i]), &out),
                         SF_ERR_FORMAT);
        assert_int_equal(out.len, 0);
    }
    sf_buf_free(&out);
}

static void test_hex_round_trip_and_rejects_bad_digits(void **state)
{
    const uint8_t raw[] = {0x00, 0x7f, 0xab, 0xff};
    struct sf_buf out = SF_BUF_INIT;

    (void)state;
    assert_int_equal(sf_hex_encode(raw, sizeof raw, &out), SF_OK);
    assert_string_equal((const char *)out.data, "007fabff");
    sf_buf_reset(&out);
    assert_int_equal(sf_hex_decode("007FABff", 8, &out), SF_OK);
    assert_memory_equal(out.data, raw, sizeof raw);
    sf_buf_reset(&out);
    assert_int_equal(sf_hex_decode("0g", 2, &out), SF_ERR_FORMAT);
    assert_int_equal(sf_hex_decode("abc", 3, &out), SF_ERR_FORMAT);
    assert_int_equal(out.len, 0);
    sf_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_matches_rfc4648_vectors),
        cmocka_unit_test(test_b64_decode_rejects_noncanonical),
        cmocka_unit_test(test_hex_round_trip_and_rejects_bad_digits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
