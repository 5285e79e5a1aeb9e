#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rsa_oaep.h"
#include "vectors.h"

/* A 1024-bit test key in the PKCS#1 ("RSA ...") PEM forms, generated for
 * this test only: it checks those forms load, and that small keys are
 * refused for encryption unless the caller allows them. */
static const char rsa1024_pkcs1_priv[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQCZRKX6EPmZQSkQqIfYCd+JQA04SsApuVd2UbDHGh0RYc/gI2od\n"
    "s3P9Q+gvYOXDpsU/WUAkS6aAsuMZlFjpdUGZqIy45IDZj/o4MIYYokLISeozezFi\n"
    "TMIhy+I/WWeGZLPe2Lr/OCcgan8FlQAFfYTmg02e0ta9o2WppgyEaHtZqQIDAQAB\n"
    "AoGAZ6YlGJeiNCH8w2c1dsQ2h3rpdcgXbCALJdjY08y1G6wqCEnq2WsiZYQm4OOG\n"
    "fmmpus2Aswr17tMLAaFw/3Bsi5Gi4HxeiBsEluvtcmybuQqwFHGKUlfzZVXg/Fev\n"
    "xGuloWCIEQJGIhN9TGQ5ITvIG4V+wP5gvUQ0ZzbtqZx2QgECQQDIJRn+7ydN7dfA\n"
    "2Kfw5wkTLc/Hb3uBAlIgJGeAahZAaqtC60Uan/jes3M2GsneCl6chFvA252/LZqt\n"
    "6XSMr3cdAkEAxAqK8Eud9o+xTLfM9glG2Ph3eG6Ecv58oA9vpD3ItJYEySRIAscV\n"
    "SLPpykEQzgD1PyvtgcwzdKjtohEhLMGK/QJBALFnyZoijBlUaHjk0kAD2hRo+BLU\n"
    "a4nX78nT2vaFkoG4y2N+vXszL1rff5EGv8aUNHbSD65sPHBYURI0q/2EDrUCQQCK\n"
    "+qJnGmSBEHt0VPVUE12LohIoackyMOIvIuJVwItSIux/oF4Awhx/rzR180yzjpBO\n"
    "2ZiGJTrxYHUfKR+ouAkNAkBu4VDCCYcsGVfsF+PvUrZQilEWujv4tLcTzBV2Bwuz\n"
    "NuBnPIJZ/Hcgj0hz+qV/34Gln6dew4F8lo/dA32ehOpx\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char rsa1024_pkcs1_pub[] =
    "-----BEGIN RSA PUBLIC KEY-----\n"
    "MIGJAoGBAJlEpfoQ+ZlBKRCoh9gJ34lADThKwCm5V3ZRsMcaHRFhz+Ajah2zc/1D\n"
    "6C9g5cOmxT9ZQCRLpoCy4xmUWOl1QZmojLjkgNmP+jgwhhiiQshJ6jN7MWJMwiHL\n"
    "4j9ZZ4Zks97Yuv84JyBqfwWVAAV9hOaDTZ7S1r2jZammDIRoe1mpAgMBAAE=\n"
    "-----END RSA PUBLIC KEY-----\n";

static const char x25519_spki_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VuAyEAs9zUB/AcMmI5+rP9cSm245UvRXFJMcTLQYGCGrecwh8=\n"
    "-----END PUBLIC KEY-----\n";

static const uint8_t dek[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
                                0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

/* Rewrites text with CRLF line ends and two trailing spaces per line. */
static void to_crlf_padded(const char *text, struct sf_buf *out)
{
    sf_buf_reset(out);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\n') {
            assert_int_equal(sf_buf_append(out, "  \r\n", 4), SF_OK);
        } else {
            assert_int_equal(sf_buf_put_u8(out, (uint8_t)*p), SF_OK);
        }
    }
    assert_int_equal(sf_buf_terminate(out), SF_OK);
}

/* Encrypts dek to enc_key and checks dec_key recovers it; a wrong label
 * must then fail with SF_ERR_AUTH and leave no plaintext. */
static void check_round_trip(const struct sf_rsa_key *enc_key,
                             const struct sf_rsa_key *dec_key, bool allow_small)
{
    static const uint8_t zero[64];
    struct sf_buf ct = SF_BUF_INIT;
    uint8_t pt[64];
    size_t pt_len = 99;

    assert_int_equal(sf_rsa_oaep_encrypt(enc_key, (const uint8_t *)"ctx", 3,
                                         dek, sizeof dek, allow_small, &ct),
                     SF_OK);
    assert_int_equal(ct.len, (sf_rsa_bits(enc_key) + 7) / 8);
    assert_int_equal(sf_rsa_oaep_decrypt(dec_key, (const uint8_t *)"ctx", 3,
                                         ct.data, ct.len, pt, sizeof pt,
                                         &pt_len),
                     SF_OK);
    assert_int_equal(pt_len, sizeof dek);
    assert_memory_equal(pt, dek, sizeof dek);
    assert_int_equal(sf_rsa_oaep_decrypt(dec_key, (const uint8_t *)"ctX", 3,
                                         ct.data, ct.len, pt, sizeof pt,
                                         &pt_len),
                     SF_ERR_AUTH);
    assert_int_equal(pt_len, 0);
    assert_memory_equal(pt, zero, sizeof pt);
    sf_buf_free(&ct);
}

/* One Wycheproof decryption case; returns 1 for valid, 0 for invalid. */
static int oaep_case(const struct sf_rsa_key *k, const json_t *t)
{
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_buf label = SF_BUF_INIT;
    uint8_t pt[512];
    size_t pt_len = 0;
    int is_valid = strcmp(vec_str_field(t, "result"), "valid") == 0;
    sf_status rc;

    assert_int_equal(vec_hex_field(t, "msg", &msg), SF_OK);
    assert_int_equal(vec_hex_field(t, "ct", &ct), SF_OK);
    assert_int_equal(vec_hex_field(t, "label", &label), SF_OK);
    rc = sf_rsa_oaep_decrypt(k, label.data, label.len, ct.data, ct.len, pt,
                             sizeof pt, &pt_len);
    if (is_valid) {
        assert_int_equal(rc, SF_OK);
        assert_int_equal(pt_len, msg.len);
        assert_memory_equal(pt, msg.data, msg.len);
    } else {
        assert_string_equal(vec_str_field(t, "result"), "invalid");
        assert_int_equal(rc, SF_ERR_AUTH);
        assert_int_equal(pt_len, 0);
    }
    sf_buf_free(&msg);
    sf_buf_free(&ct);
    sf_buf_free(&label);
    return is_valid;
}

/* Loads the group's PKCS#8 key, and its PEM rewritten with CRLF and
 * trailing spaces, which must be the same key. */
static struct sf_rsa_key *load_group_key(const json_t *g)
{
    struct sf_buf der = SF_BUF_INIT;
    struct sf_buf pem = SF_BUF_INIT;
    struct sf_buf again = SF_BUF_INIT;
    struct sf_rsa_key *k = NULL;
    struct sf_rsa_key *k_pem = NULL;

    assert_int_equal(vec_hex_field(g, "privateKeyPkcs8", &der), SF_OK);
    assert_int_equal(sf_rsa_from_der(der.data, der.len, true, &k), SF_OK);
    assert_true(sf_rsa_has_private(k));
    assert_int_equal(sf_rsa_bits(k), vec_int_field(g, "keySize"));

    to_crlf_padded(vec_str_field(g, "privateKeyPem"), &pem);
    assert_int_equal(sf_rsa_from_pem((const char *)pem.data, pem.len, &k_pem),
                     SF_OK);
    assert_int_equal(sf_rsa_to_der(k_pem, true, &again), SF_OK);
    assert_int_equal(again.len, der.len);
    assert_memory_equal(again.data, der.data, der.len);
    sf_rsa_free(k_pem);
    sf_buf_free(&der);
    sf_buf_free(&pem);
    sf_buf_free(&again);
    return k;
}

static void run_oaep_file(const char *file, unsigned bits)
{
    int n[2] = {0, 0};
    bool is_skipped;
    json_t *doc = vec_load_json(file, &is_skipped);
    size_t i;
    size_t j;
    json_t *g;
    json_t *t;

    if (is_skipped) {
        return;
    }
    assert_non_null(doc);
    json_array_foreach(json_object_get(doc, "testGroups"), i, g)
    {
        struct sf_rsa_key *k = load_group_key(g);

        assert_int_equal(sf_rsa_bits(k), bits);
        assert_string_equal(vec_str_field(g, "sha"), "SHA-256");
        assert_string_equal(vec_str_field(g, "mgfSha"), "SHA-256");
        json_array_foreach(json_object_get(g, "tests"), j, t)
        {
            n[oaep_case(k, t)]++;
        }
        if (bits < 3072) {
            struct sf_buf ct = SF_BUF_INIT;

            assert_int_equal(
                sf_rsa_oaep_encrypt(k, NULL, 0, dek, sizeof dek, false, &ct),
                SF_ERR_BAD_KEY);
            assert_int_equal(ct.len, 0);
        }
        check_round_trip(k, k, true);
        sf_rsa_free(k);
    }
    printf("%s: %d valid, %d invalid run\n", file, n[1], n[0]);
    assert_int_equal(n[1], 18);
    assert_int_equal(n[0], 19);
    json_decref(doc);
}

static void test_oaep_2048_matches_wycheproof(void **state)
{
    (void)state;
    run_oaep_file("wycheproof/rsa_oaep_2048_sha256_mgf1sha256_test.json", 2048);
}

static void test_oaep_3072_matches_wycheproof(void **state)
{
    (void)state;
    run_oaep_file("wycheproof/rsa_oaep_3072_sha256_mgf1sha256_test.json", 3072);
}

/* The group shares one generated 3072-bit key: generation is slow. */
static int generate_3072(void **state)
{
    struct sf_rsa_key *k = NULL;

    if (sf_rsa_generate(3072, &k) != SF_OK) {
        return -1;
    }
    *state = k;
    return 0;
}

static int free_key(void **state)
{
    sf_rsa_free(*state);
    return 0;
}

static void test_generated_3072_round_trips_through_der(void **state)
{
    const struct sf_rsa_key *k = *state;
    struct sf_buf der = SF_BUF_INIT;
    struct sf_rsa_key *pub = NULL;
    struct sf_rsa_key *priv = NULL;

    assert_int_equal(sf_rsa_bits(k), 3072);
    assert_true(sf_rsa_has_private(k));
    check_round_trip(k, k, false);

    assert_int_equal(sf_rsa_to_der(k, false, &der), SF_OK);
    assert_int_equal(sf_rsa_from_der(der.data, der.len, false, &pub), SF_OK);
    assert_false(sf_rsa_has_private(pub));
    sf_buf_reset(&der);
    assert_int_equal(sf_rsa_to_der(pub, true, &der), SF_ERR_KEY_TYPE);
    assert_int_equal(sf_rsa_to_der(k, true, &der), SF_OK);
    assert_int_equal(sf_rsa_from_der(der.data, der.len, true, &priv), SF_OK);
    check_round_trip(pub, priv, false);
    sf_rsa_free(pub);

    /* The private DER is not a public key, and trailing bytes are refused. */
    assert_int_equal(sf_rsa_from_der(der.data, der.len, false, &pub),
                     SF_ERR_FORMAT);
    assert_null(pub);
    assert_int_equal(sf_buf_put_u8(&der, 0), SF_OK);
    sf_rsa_free(priv);
    assert_int_equal(sf_rsa_from_der(der.data, der.len, true, &priv),
                     SF_ERR_FORMAT);
    assert_null(priv);
    sf_buf_free(&der);
}

static void test_public_pem_with_crlf_and_trailing_spaces_loads(void **state)
{
    const struct sf_rsa_key *k = *state;
    struct sf_buf pem = SF_BUF_INIT;
    struct sf_buf messy = SF_BUF_INIT;
    struct sf_rsa_key *pub = NULL;

    assert_int_equal(sf_rsa_public_pem(k, &pem), SF_OK);
    assert_int_equal(
        strncmp((const char *)pem.data, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
    to_crlf_padded((const char *)pem.data, &messy);
    assert_non_null(strstr((const char *)messy.data, "  \r\n"));
    assert_int_equal(sf_rsa_from_pem((const char *)messy.data, messy.len, &pub),
                     SF_OK);
    assert_false(sf_rsa_has_private(pub));
    assert_int_equal(sf_rsa_bits(pub), 3072);
    check_round_trip(pub, k, false);
    sf_rsa_free(pub);
    sf_buf_free(&pem);
    sf_buf_free(&messy);
}

static void test_decrypt_failures_all_report_auth(void **state)
{
    const struct sf_rsa_key *k = *state;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_buf der = SF_BUF_INIT;
    struct sf_rsa_key *pub = NULL;
    uint8_t pt[512];
    size_t pt_len;

    assert_int_equal(
        sf_rsa_oaep_encrypt(k, NULL, 0, dek, sizeof dek, false, &ct), SF_OK);
    assert_int_equal(sf_rsa_oaep_decrypt(k, NULL, 0, ct.data, ct.len - 1, pt,
                                         sizeof pt, &pt_len),
                     SF_ERR_AUTH);
    assert_int_equal(sf_rsa_oaep_decrypt(k, NULL, 0, ct.data, ct.len, pt,
                                         sizeof dek - 1, &pt_len),
                     SF_ERR_AUTH);
    ct.data[ct.len / 2] ^= 0x04;
    assert_int_equal(sf_rsa_oaep_decrypt(k, NULL, 0, ct.data, ct.len, pt,
                                         sizeof pt, &pt_len),
                     SF_ERR_AUTH);
    ct.data[ct.len / 2] ^= 0x04;
    assert_int_equal(sf_rsa_to_der(k, false, &der), SF_OK);
    assert_int_equal(sf_rsa_from_der(der.data, der.len, false, &pub), SF_OK);
    assert_int_equal(sf_rsa_oaep_decrypt(pub, NULL, 0, ct.data, ct.len, pt,
                                         sizeof pt, &pt_len),
                     SF_ERR_AUTH);
    assert_int_equal(sf_rsa_oaep_decrypt(k, NULL, 0, ct.data, ct.len, pt,
                                         sizeof pt, &pt_len),
                     SF_OK);
    assert_int_equal(pt_len, sizeof dek);
    sf_rsa_free(pub);
    sf_buf_free(&ct);
    sf_buf_free(&der);
}

static void test_encrypt_rejects_oversized_plaintext(void **state)
{
    const struct sf_rsa_key *k = *state;
    static const uint8_t big[384 - 66 + 1];
    struct sf_buf ct = SF_BUF_INIT;

    assert_int_equal(
        sf_rsa_oaep_encrypt(k, NULL, 0, big, sizeof big, false, &ct),
        SF_ERR_LIMIT);
    assert_int_equal(
        sf_rsa_oaep_encrypt(k, NULL, 0, big, sizeof big - 1, false, &ct),
        SF_OK);
    assert_int_equal(ct.len, 384);
    sf_buf_free(&ct);
}

static void test_pkcs1_pem_forms_load_and_small_key_needs_opt_in(void **state)
{
    struct sf_rsa_key *priv = NULL;
    struct sf_rsa_key *pub = NULL;
    struct sf_buf ct = SF_BUF_INIT;

    (void)state;
    assert_int_equal(
        sf_rsa_from_pem(rsa1024_pkcs1_priv, strlen(rsa1024_pkcs1_priv), &priv),
        SF_OK);
    assert_int_equal(
        sf_rsa_from_pem(rsa1024_pkcs1_pub, strlen(rsa1024_pkcs1_pub), &pub),
        SF_OK);
    assert_true(sf_rsa_has_private(priv));
    assert_false(sf_rsa_has_private(pub));
    assert_int_equal(sf_rsa_bits(pub), 1024);
    assert_int_equal(
        sf_rsa_oaep_encrypt(pub, NULL, 0, dek, sizeof dek, false, &ct),
        SF_ERR_BAD_KEY);
    check_round_trip(pub, priv, true);
    sf_rsa_free(priv);
    sf_rsa_free(pub);
}

static void test_from_pem_rejects_non_rsa_and_garbage(void **state)
{
    static const char garbage[] = "-----BEGIN PUBLIC KEY-----\n"
                                  "bm90IGEga2V5\n"
                                  "-----END PUBLIC KEY-----\n";
    struct sf_rsa_key *k = NULL;

    (void)state;
    assert_int_equal(
        sf_rsa_from_pem(x25519_spki_pem, strlen(x25519_spki_pem), &k),
        SF_ERR_FORMAT);
    assert_null(k);
    assert_int_equal(sf_rsa_from_pem(garbage, strlen(garbage), &k),
                     SF_ERR_FORMAT);
    assert_int_equal(sf_rsa_from_pem("hello", 5, &k), SF_ERR_FORMAT);
    assert_null(k);
}

static void test_generate_4096_and_reject_other_sizes(void **state)
{
    struct sf_rsa_key *k = NULL;

    (void)state;
    assert_int_equal(sf_rsa_generate(2048, &k), SF_ERR_INVALID_ARG);
    assert_null(k);
    assert_int_equal(sf_rsa_generate(4096, &k), SF_OK);
    assert_int_equal(sf_rsa_bits(k), 4096);
    check_round_trip(k, k, false);
    sf_rsa_free(k);
}

int main(void)
{
    const struct CMUnitTest vectors[] = {
        cmocka_unit_test(test_oaep_2048_matches_wycheproof),
        cmocka_unit_test(test_oaep_3072_matches_wycheproof),
        cmocka_unit_test(test_pkcs1_pem_forms_load_and_small_key_needs_opt_in),
        cmocka_unit_test(test_from_pem_rejects_non_rsa_and_garbage),
        cmocka_unit_test(test_generate_4096_and_reject_other_sizes),
    };
    const struct CMUnitTest generated[] = {
        cmocka_unit_test(test_generated_3072_round_trips_through_der),
        cmocka_unit_test(test_public_pem_with_crlf_and_trailing_spaces_loads),
        cmocka_unit_test(test_decrypt_failures_all_report_auth),
        cmocka_unit_test(test_encrypt_rejects_oversized_plaintext),
    };
    int failed = cmocka_run_group_tests(vectors, NULL, NULL);

    failed += cmocka_run_group_tests(generated, generate_3072, free_key);
    return failed;
}
