#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "breaker.h"

static void fail_n(struct sf_breaker *b, unsigned n, uint64_t now)
{
    uint64_t wait;

    for (unsigned i = 0; i < n; i++) {
        assert_true(sf_breaker_allow(b, now, &wait));
        sf_breaker_failure(b, now);
    }
}

static void test_opens_after_threshold_consecutive_failures(void **state)
{
    struct sf_breaker b;
    uint64_t wait = 99;

    (void)state;
    assert_int_equal(sf_breaker_init(&b, 3, 1000), SF_OK);
    fail_n(&b, 2, 100);
    assert_int_equal(sf_breaker_state(&b, 100), SF_BREAKER_CLOSED);
    assert_true(sf_breaker_allow(&b, 100, &wait));
    assert_true(sf_breaker_failure(&b, 100)); /* this one opened it */
    assert_int_equal(sf_breaker_state(&b, 100), SF_BREAKER_OPEN);
    assert_false(sf_breaker_allow(&b, 400, &wait));
    assert_int_equal(wait, 700);
    assert_false(sf_breaker_allow(&b, 1099, &wait));
    assert_int_equal(wait, 1);
    assert_int_equal(sf_breaker_opens(&b), 1);
    sf_breaker_destroy(&b);
}

static void test_success_resets_the_failure_count(void **state)
{
    struct sf_breaker b;
    uint64_t wait;

    (void)state;
    assert_int_equal(sf_breaker_init(&b, 3, 1000), SF_OK);
    fail_n(&b, 2, 0);
    assert_true(sf_breaker_allow(&b, 0, &wait));
    assert_false(sf_breaker_success(&b)); /* it was closed already */
    fail_n(&b, 2, 0);
    assert_int_equal(sf_breaker_state(&b, 0), SF_BREAKER_CLOSED);
    fail_n(&b, 1, 0);
    assert_int_equal(sf_breaker_state(&b, 0), SF_BREAKER_OPEN);
    sf_breaker_destroy(&b);
}

static void test_half_open_lets_exactly_one_probe_through(void **state)
{
    struct sf_breaker b;
    uint64_t wait = 99;

    (void)state;
    assert_int_equal(sf_breaker_init(&b, 1, 1000), SF_OK);
    fail_n(&b, 1, 5000);
    assert_int_equal(sf_breaker_state(&b, 6000), SF_BREAKER_HALF_OPEN);
    assert_true(sf_breaker_allow(&b, 6000, &wait));  /* the probe */
    assert_false(sf_breaker_allow(&b, 6001, &wait)); /* everyone else */
    assert_int_equal(wait, 0);
    assert_true(sf_breaker_success(&b));
    assert_int_equal(sf_breaker_state(&b, 6002), SF_BREAKER_CLOSED);
    assert_true(sf_breaker_allow(&b, 6002, &wait));
    assert_true(sf_breaker_allow(&b, 6002, &wait));
    sf_breaker_destroy(&b);
}

static void test_failed_probe_reopens_for_full_period(void **state)
{
    struct sf_breaker b;
    uint64_t wait;

    (void)state;
    assert_int_equal(sf_breaker_init(&b, 2, 1000), SF_OK);
    fail_n(&b, 2, 0);
    assert_true(sf_breaker_allow(&b, 1500, &wait));
    sf_breaker_failure(&b, 1500);
    assert_int_equal(sf_breaker_state(&b, 1500), SF_BREAKER_OPEN);
    assert_false(sf_breaker_allow(&b, 2000, &wait));
    assert_int_equal(wait, 500);
    assert_int_equal(sf_breaker_state(&b, 2500), SF_BREAKER_HALF_OPEN);
    assert_int_equal(sf_breaker_opens(&b), 2);
    sf_breaker_destroy(&b);
}

static void test_late_failure_does_not_extend_open_time(void **state)
{
    struct sf_breaker b;
    uint64_t wait;

    (void)state;
    assert_int_equal(sf_breaker_init(&b, 1, 1000), SF_OK);
    assert_true(sf_breaker_allow(&b, 0, &wait));
    assert_true(sf_breaker_allow(&b, 0, &wait));
    assert_true(sf_breaker_failure(&b, 10));
    assert_false(sf_breaker_failure(&b, 900)); /* the second, late */
    assert_false(sf_breaker_allow(&b, 900, &wait));
    assert_int_equal(wait, 110);
    assert_int_equal(sf_breaker_opens(&b), 1);
    sf_breaker_destroy(&b);
}

static void test_threshold_zero_never_opens(void **state)
{
    struct sf_breaker b;
    uint64_t wait;

    (void)state;
    assert_int_equal(sf_breaker_init(&b, 0, 1000), SF_OK);
    fail_n(&b, 100, 0);
    assert_int_equal(sf_breaker_state(&b, 0), SF_BREAKER_CLOSED);
    assert_true(sf_breaker_allow(&b, 0, &wait));
    sf_breaker_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_threshold_consecutive_failures),
        cmocka_unit_test(test_success_resets_the_failure_count),
        cmocka_unit_test(test_half_open_lets_exactly_one_probe_through),
        cmocka_unit_test(test_failed_probe_reopens_for_full_period),
        cmocka_unit_test(test_late_failure_does_not_extend_open_time),
        cmocka_unit_test(test_threshold_zero_never_opens),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
