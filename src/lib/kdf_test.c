#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kdf.h"
#include "sealflow/secret.h"
#include "vectors.h"

struct hkdf_case {
    struct sf_buf ikm;
    struct sf_buf salt;
    struct sf_buf info;
    struct sf_buf okm;
};

static void hkdf_case_free(struct hkdf_case *c)
{
    sf_buf_free(&c->ikm);
    sf_buf_free(&c->salt);
    sf_buf_free(&c->info);
    sf_buf_free(&c->okm);
}

/* A valid case: the one-call HKDF and extract-then-expand both give okm. */
static void check_hkdf_valid(enum sf_md md, const struct hkdf_case *c,
                             size_t size)
{
    uint8_t out[255 * SF_MD_MAX_LEN];
    uint8_t prk[SF_MD_MAX_LEN];

    assert_int_equal(c->okm.len, size);
    assert_int_equal(sf_hkdf(md, c->salt.data, c->salt.len, c->ikm.data,
                             c->ikm.len, c->info.data, c->info.len, out, size),
                     SF_OK);
    assert_memory_equal(out, c->okm.data, size);
    memset(out, 0, sizeof out);
    assert_int_equal(sf_hkdf_extract(md, c->salt.data, c->salt.len, c->ikm.data,
                                     c->ikm.len, prk),
                     SF_OK);
    assert_int_equal(sf_hkdf_expand(md, prk, sf_md_len(md), c->info.data,
                                    c->info.len, out, size),
                     SF_OK);
    assert_memory_equal(out, c->okm.data, size);
}

/* An invalid case (output too long): both entry points refuse it. */
static void check_hkdf_invalid(enum sf_md md, const struct hkdf_case *c,
                               size_t size)
{
    static uint8_t out[300 * SF_MD_MAX_LEN];
    uint8_t prk[SF_MD_MAX_LEN];

    assert_true(size > 255 * sf_md_len(md) && size <= sizeof out);
    assert_int_equal(sf_hkdf(md, c->salt.data, c->salt.len, c->ikm.data,
                             c->ikm.len, c->info.data, c->info.len, out, size),
                     SF_ERR_LIMIT);
    memset(prk, 0x11, sizeof prk);
    assert_int_equal(sf_hkdf_expand(md, prk, sf_md_len(md), c->info.data,
                                    c->info.len, out, size),
                     SF_ERR_LIMIT);
}

static void run_hkdf_file(const char *file, enum sf_md md, int valid,
                          int invalid)
{
    int n_valid = 0;
    int n_invalid = 0;
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
        json_array_foreach(json_object_get(g, "tests"), j, t)
        {
            struct hkdf_case c = {0};
            long long size = vec_int_field(t, "size");

            assert_int_equal(vec_hex_field(t, "ikm", &c.ikm), SF_OK);
            assert_int_equal(vec_hex_field(t, "salt", &c.salt), SF_OK);
            assert_int_equal(vec_hex_field(t, "info", &c.info), SF_OK);
            assert_int_equal(vec_hex_field(t, "okm", &c.okm), SF_OK);
            assert_true(size >= 0);
            if (strcmp(vec_str_field(t, "result"), "valid") == 0) {
                check_hkdf_valid(md, &c, (size_t)size);
                n_valid++;
            } else {
                check_hkdf_invalid(md, &c, (size_t)size);
                n_invalid++;
            }
            hkdf_case_free(&c);
        }
    }
    printf("%s: %d valid, %d invalid run\n", file, n_valid, n_invalid);
    assert_int_equal(n_valid, valid);
    assert_int_equal(n_invalid, invalid);
    json_decref(doc);
}

static void test_hkdf_sha256_matches_wycheproof(void **state)
{
    (void)state;
    run_hkdf_file("wycheproof/hkdf_sha256_test.json", SF_MD_SHA256, 83, 3);
}

static void test_hkdf_sha512_matches_wycheproof(void **state)
{
    (void)state;
    run_hkdf_file("wycheproof/hkdf_sha512_test.json", SF_MD_SHA512, 80, 3);
}

/* Truncated-tag groups compare the first tagSize bits, as a verifier of a
 * truncated HMAC would; a valid case must match and an invalid one not. */
static int hmac_case(const json_t *t, size_t tag_len)
{
    struct sf_buf key = SF_BUF_INIT;
    struct sf_buf msg = SF_BUF_INIT;
    struct sf_buf tag = SF_BUF_INIT;
    uint8_t out[32];
    int is_valid = strcmp(vec_str_field(t, "result"), "valid") == 0;

    assert_int_equal(vec_hex_field(t, "key", &key), SF_OK);
    assert_int_equal(vec_hex_field(t, "msg", &msg), SF_OK);
    assert_int_equal(vec_hex_field(t, "tag", &tag), SF_OK);
    assert_int_equal(
        sf_hmac(SF_MD_SHA256, key.data, key.len, msg.data, msg.len, out),
        SF_OK);
    if (is_valid) {
        assert_int_equal(tag.len, tag_len);
        assert_memory_equal(out, tag.data, tag_len);
    } else {
        assert_false(tag.len == tag_len && memcmp(out, tag.data, tag_len) == 0);
    }
    sf_buf_free(&key);
    sf_buf_free(&msg);
    sf_buf_free(&tag);
    return is_valid;
}

static void test_hmac_sha256_matches_wycheproof(void **state)
{
    int n[2] = {0, 0};
    int n_truncated = 0;
    bool is_skipped;
    json_t *doc =
        vec_load_json("wycheproof/hmac_sha256_test.json", &is_skipped);
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
        long long bits = vec_int_field(g, "tagSize");

        assert_true(bits > 0 && bits <= 256 && bits % 8 == 0);
        json_array_foreach(json_object_get(g, "tests"), j, t)
        {
            n[hmac_case(t, (size_t)bits / 8)]++;
            n_truncated += bits < 256;
        }
    }
    printf("hmac_sha256: %d valid, %d invalid run (%d with truncated "
           "tags, prefix compared)\n",
           n[1], n[0], n_truncated);
    assert_int_equal(n[1], 66);
    assert_int_equal(n[0], 108);
    assert_int_equal(n_truncated, 87);
    json_decref(doc);
}

static void test_hash_matches_fips180_abc(void **state)
{
    static const uint8_t sha256_abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    static const uint8_t sha512_abc_head[8] = {0xdd, 0xaf, 0x35, 0xa1,
                                               0x93, 0x61, 0x7a, 0xba};
    uint8_t out[SF_MD_MAX_LEN];

    (void)state;
    assert_int_equal(sf_hash(SF_MD_SHA256, (const uint8_t *)"abc", 3, out),
                     SF_OK);
    assert_memory_equal(out, sha256_abc, sizeof sha256_abc);
    assert_int_equal(sf_hash(SF_MD_SHA512, (const uint8_t *)"abc", 3, out),
                     SF_OK);
    assert_memory_equal(out, sha512_abc_head, sizeof sha512_abc_head);
    assert_int_equal(sf_md_len(SF_MD_SHA512), 64);
    assert_int_equal(sf_md_len((enum sf_md)7), 0);
    assert_int_equal(sf_hash((enum sf_md)7, NULL, 0, out), SF_ERR_INVALID_ARG);
}

/* RFC 5869 appendix A.1, step by step. */
/*
 * sf_hkdf computes outputs of at most one hash block with a kept HMAC
 * context; longer ones, and extract/expand, go through OpenSSL's HKDF.
 * Both must agree for every length, salt and info shape.
 */
static void test_hkdf_short_path_agrees_with_extract_expand(void **state)
{
    static const enum sf_md mds[] = {SF_MD_SHA256, SF_MD_SHA512};
    uint8_t ikm[48];
    uint8_t salt[40];
    uint8_t info[70];
    uint8_t prk[SF_MD_MAX_LEN];
    uint8_t a[SF_MD_MAX_LEN];
    uint8_t b[SF_MD_MAX_LEN];

    (void)state;
    for (size_t m = 0; m < 2; m++) {
        size_t hlen = sf_md_len(mds[m]);

        for (size_t len = 1; len <= hlen; len += 7) {
            size_t salt_len = len % 3 == 0 ? 0 : len % sizeof salt;
            size_t info_len = (len * 5) % sizeof info;

            assert_int_equal(sf_random(ikm, sizeof ikm), SF_OK);
            assert_int_equal(sf_random(salt, sizeof salt), SF_OK);
            assert_int_equal(sf_random(info, sizeof info), SF_OK);
            assert_int_equal(sf_hkdf(mds[m], salt, salt_len, ikm, sizeof ikm,
                                     info, info_len, a, len),
                             SF_OK);
            assert_int_equal(sf_hkdf_extract(mds[m], salt, salt_len, ikm,
                                             sizeof ikm, prk),
                             SF_OK);
            assert_int_equal(sf_hkdf_expand(mds[m], prk, hlen, info,
                                            info_len, b, len),
                             SF_OK);
            assert_memory_equal(a, b, len);
        }
    }
}

static void test_hkdf_extract_expand_match_rfc5869_case1(void **state)
{
    static const uint8_t prk_exp[4] = {0x07, 0x77, 0x09, 0x36};
    static const uint8_t okm_exp[6] = {0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac};
    uint8_t ikm[22];
    uint8_t salt[13];
    uint8_t info[10];
    uint8_t prk[32];
    uint8_t okm[42];

    (void)state;
    memset(ikm, 0x0b, sizeof ikm);
    for (size_t i = 0; i < sizeof salt; i++) {
        salt[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < sizeof info; i++) {
        info[i] = (uint8_t)(0xf0 + i);
    }
    assert_int_equal(
        sf_hkdf_extract(SF_MD_SHA256, salt, sizeof salt, ikm, sizeof ikm, prk),
        SF_OK);
    assert_memory_equal(prk, prk_exp, sizeof prk_exp);
    assert_int_equal(sf_hkdf_expand(SF_MD_SHA256, prk, sizeof prk, info,
                                    sizeof info, okm, sizeof okm),
                     SF_OK);
    assert_memory_equal(okm, okm_exp, sizeof okm_exp);
    assert_int_equal(okm[41], 0x65);
}

static void test_hkdf_expand_limit_is_255_blocks(void **state)
{
    static uint8_t out[255 * 32 + 1];
    uint8_t prk[32];

    (void)state;
    memset(prk, 7, sizeof prk);
    assert_int_equal(
        sf_hkdf_expand(SF_MD_SHA256, prk, sizeof prk, NULL, 0, out, 255 * 32),
        SF_OK);
    assert_int_equal(sf_hkdf_expand(SF_MD_SHA256, prk, sizeof prk, NULL, 0, out,
                                    255 * 32 + 1),
                     SF_ERR_LIMIT);
    assert_int_equal(sf_hkdf_expand(SF_MD_SHA256, NULL, 0, NULL, 0, out, 8),
                     SF_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf_sha256_matches_wycheproof),
        cmocka_unit_test(test_hkdf_sha512_matches_wycheproof),
        cmocka_unit_test(test_hmac_sha256_matches_wycheproof),
        cmocka_unit_test(test_hash_matches_fips180_abc),
        cmocka_unit_test(test_hkdf_extract_expand_match_rfc5869_case1),
        cmocka_unit_test(test_hkdf_expand_limit_is_255_blocks),
        cmocka_unit_test(test_hkdf_short_path_agrees_with_extract_expand),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
