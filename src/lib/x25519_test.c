#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vectors.h"
#include "x25519.h"

/* Runs one Wycheproof case; returns 1 when it was a zero-shared case that
 * was rejected, 0 when it matched the listed shared value. */
static int x25519_case(const json_t *t)
{
    static const uint8_t zero[SF_X25519_LEN];
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf priv = SF_BUF_INIT;
    struct sf_buf shared = SF_BUF_INIT;
    uint8_t out[SF_X25519_LEN];
    int is_zero = vec_has_flag(t, "ZeroSharedSecret");

    assert_int_equal(vec_hex_field(t, "public", &pub), SF_OK);
    assert_int_equal(vec_hex_field(t, "private", &priv), SF_OK);
    assert_int_equal(vec_hex_field(t, "shared", &shared), SF_OK);
    assert_int_equal(pub.len, SF_X25519_LEN);
    assert_int_equal(priv.len, SF_X25519_LEN);
    assert_int_equal(shared.len, SF_X25519_LEN);
    memset(out, 0xaa, sizeof out);
    if (is_zero) {
        assert_memory_equal(shared.data, zero, SF_X25519_LEN);
        assert_int_equal(sf_x25519_shared(priv.data, pub.data, out),
                         SF_ERR_BAD_KEY);
        assert_memory_equal(out, zero, sizeof out);
    } else {
        assert_int_equal(sf_x25519_shared(priv.data, pub.data, out), SF_OK);
        assert_memory_equal(out, shared.data, SF_X25519_LEN);
    }
    sf_buf_free(&pub);
    sf_buf_free(&priv);
    sf_buf_free(&shared);
    return is_zero;
}

static void test_x25519_matches_wycheproof_and_rejects_zero(void **state)
{
    int n_run = 0;
    int n_zero = 0;
    bool is_skipped;
    json_t *doc = vec_load_json("wycheproof/x25519_test.json", &is_skipped);
    size_t i;
    size_t j;
    json_t *g;
    json_t *t;

    (void)state;
    if (is_skipped) {
        return;
    }
    assert_non_null(doc);
    json_array_foreach(json_object_get(doc, "testGroups"), i, g)
    {
        assert_string_equal(vec_str_field(g, "curve"), "curve25519");
        json_array_foreach(json_object_get(g, "tests"), j, t)
        {
            const char *result = vec_str_field(t, "result");

            assert_true(strcmp(result, "valid") == 0 ||
                        strcmp(result, "acceptable") == 0);
            n_zero += x25519_case(t);
            n_run++;
        }
    }
    printf("x25519: %d cases run, %d zero-shared cases rejected\n", n_run,
           n_zero);
    assert_int_equal(n_run, 518);
    assert_int_equal(n_zero, 31);
    json_decref(doc);
}

/* RFC 7748 section 6.1: Alice's and Bob's keys and their shared secret. */
static void test_x25519_matches_rfc7748_diffie_hellman(void **state)
{
    struct sf_buf a_priv = SF_BUF_INIT;
    struct sf_buf a_pub = SF_BUF_INIT;
    struct sf_buf b_pub = SF_BUF_INIT;
    struct sf_buf k = SF_BUF_INIT;
    uint8_t out[SF_X25519_LEN];

    (void)state;
    assert_int_equal(vec_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992a"
                             "b177fba51db92c2a",
                             &a_priv),
                     SF_OK);
    assert_int_equal(vec_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4"
                             "eba4a98eaa9b4e6a",
                             &a_pub),
                     SF_OK);
    assert_int_equal(vec_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674d"
                             "adfc7e146f882b4f",
                             &b_pub),
                     SF_OK);
    assert_int_equal(vec_hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e33"
                             "76f09b3c1e161742",
                             &k),
                     SF_OK);
    assert_int_equal(sf_x25519_public(a_priv.data, out), SF_OK);
    assert_memory_equal(out, a_pub.data, SF_X25519_LEN);
    assert_int_equal(sf_x25519_shared(a_priv.data, b_pub.data, out), SF_OK);
    assert_memory_equal(out, k.data, SF_X25519_LEN);
    sf_buf_free(&a_priv);
    sf_buf_free(&a_pub);
    sf_buf_free(&b_pub);
    sf_buf_free(&k);
}

static void test_x25519_keygen_pairs_agree(void **state)
{
    uint8_t a_priv[SF_X25519_LEN];
    uint8_t a_pub[SF_X25519_LEN];
    uint8_t b_priv[SF_X25519_LEN];
    uint8_t b_pub[SF_X25519_LEN];
    uint8_t check[SF_X25519_LEN];
    uint8_t s1[SF_X25519_LEN];
    uint8_t s2[SF_X25519_LEN];

    (void)state;
    assert_int_equal(sf_x25519_keygen(a_priv, a_pub), SF_OK);
    assert_int_equal(sf_x25519_keygen(b_priv, b_pub), SF_OK);
    assert_memory_not_equal(a_pub, b_pub, SF_X25519_LEN);
    assert_int_equal(sf_x25519_public(a_priv, check), SF_OK);
    assert_memory_equal(check, a_pub, SF_X25519_LEN);
    assert_int_equal(sf_x25519_shared(a_priv, b_pub, s1), SF_OK);
    assert_int_equal(sf_x25519_shared(b_priv, a_pub, s2), SF_OK);
    assert_memory_equal(s1, s2, SF_X25519_LEN);
}

static void test_x25519_rejects_low_order_point_zero(void **state)
{
    static const uint8_t zero[SF_X25519_LEN];
    uint8_t priv[SF_X25519_LEN];
    uint8_t pub[SF_X25519_LEN];
    uint8_t out[SF_X25519_LEN];

    (void)state;
    assert_int_equal(sf_x25519_keygen(priv, pub), SF_OK);
    memset(out, 0xaa, sizeof out);
    assert_int_equal(sf_x25519_shared(priv, zero, out), SF_ERR_BAD_KEY);
    assert_memory_equal(out, zero, sizeof out);
    assert_int_equal(sf_x25519_shared(priv, NULL, out), SF_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_matches_wycheproof_and_rejects_zero),
        cmocka_unit_test(test_x25519_matches_rfc7748_diffie_hellman),
        cmocka_unit_test(test_x25519_keygen_pairs_agree),
        cmocka_unit_test(test_x25519_rejects_low_order_point_zero),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
