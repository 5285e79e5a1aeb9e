#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sealflow/buf.h"
#include "sealflow/secret.h"

static void test_secret_new_is_zeroed_and_sized(void **state)
{
    struct sf_secret *s = NULL;
    uint8_t zero[32] = {0};

    (void)state;
    assert_int_equal(sf_secret_new(32, &s), SF_OK);
    assert_int_equal(sf_secret_len(s), 32);
    assert_memory_equal(sf_secret_data(s), zero, 32);
    sf_secret_free(s);
}

static void test_secret_rejects_bad_lengths(void **state)
{
    struct sf_secret *s = (struct sf_secret *)1;

    (void)state;
    assert_int_equal(sf_secret_new(0, &s), SF_ERR_INVALID_ARG);
    assert_null(s);
    assert_int_equal(sf_secret_new((size_t)2 << 20, &s), SF_ERR_INVALID_ARG);
    assert_null(s);
}

static void test_secret_random_differs_each_time(void **state)
{
    struct sf_secret *a = NULL;
    struct sf_secret *b = NULL;

    (void)state;
    assert_int_equal(sf_secret_random(32, &a), SF_OK);
    assert_int_equal(sf_secret_random(32, &b), SF_OK);
    assert_false(sf_ct_equal(sf_secret_data(a), sf_secret_data(b), 32));
    sf_secret_free(a);
    sf_secret_free(b);
}

static void test_ct_equal_detects_one_bit(void **state)
{
    uint8_t a[64];
    uint8_t b[64];

    (void)state;
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(sf_ct_equal(a, b, sizeof a));
    for (size_t i = 0; i < sizeof a * 8; i++) {
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_false(sf_ct_equal(a, b, sizeof a));
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}

static void test_buf_grows_keeps_bytes_and_consumes(void **state)
{
    struct sf_buf b = SF_BUF_INIT;

    (void)state;
    for (uint32_t i = 0; i < 1000; i++) {
        assert_int_equal(sf_buf_put_u32(&b, i), SF_OK);
    }
    assert_int_equal(b.len, 4000);
    assert_int_equal(b.data[3996], 0);
    assert_int_equal(b.data[3999], (uint8_t)999);
    sf_buf_consume(&b, 3996);
    assert_int_equal(b.len, 4);
    assert_int_equal(b.data[2], 999 >> 8);
    sf_buf_free(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_new_is_zeroed_and_sized),
        cmocka_unit_test(test_secret_rejects_bad_lengths),
        cmocka_unit_test(test_secret_random_differs_each_time),
        cmocka_unit_test(test_ct_equal_detects_one_bit),
        cmocka_unit_test(test_buf_grows_keeps_bytes_and_consumes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
