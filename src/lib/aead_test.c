#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aead.h"
#include "vectors.h"

/* Decoded fields of one Wycheproof AEAD test. */
struct aead_case {
    struct sf_buf key;
    struct sf_buf iv;
    struct sf_buf aad;
    struct sf_buf msg;
    struct sf_buf ct;
    struct sf_buf tag;
};

/* What one vector file must yield; exact, so zero cases cannot pass. */
struct aead_expect {
    const char *file;
    int is_chacha;
    int valid;
    int invalid;
    int skipped;
};

struct aead_tally {
    int valid;
    int invalid;
    int skipped;
};

static const uint8_t key32[32] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
    0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20};
static const uint8_t nonce0[SF_AEAD_NONCE_LEN] = {0};
static const enum sf_aead_alg all_algs[] = {
    SF_AEAD_AES_128_GCM, SF_AEAD_AES_192_GCM, SF_AEAD_AES_256_GCM,
    SF_AEAD_CHACHA20_POLY1305};

static void case_free(struct aead_case *c)
{
    sf_buf_free(&c->key);
    sf_buf_free(&c->iv);
    sf_buf_free(&c->aad);
    sf_buf_free(&c->msg);
    sf_buf_free(&c->ct);
    sf_buf_free(&c->tag);
}

static void case_load(const json_t *t, struct aead_case *c)
{
    assert_int_equal(vec_hex_field(t, "key", &c->key), SF_OK);
    assert_int_equal(vec_hex_field(t, "iv", &c->iv), SF_OK);
    assert_int_equal(vec_hex_field(t, "aad", &c->aad), SF_OK);
    assert_int_equal(vec_hex_field(t, "msg", &c->msg), SF_OK);
    assert_int_equal(vec_hex_field(t, "ct", &c->ct), SF_OK);
    assert_int_equal(vec_hex_field(t, "tag", &c->tag), SF_OK);
    assert_int_equal(c->iv.len, SF_AEAD_NONCE_LEN);
    assert_int_equal(c->tag.len, SF_AEAD_TAG_LEN);
}

static enum sf_aead_alg alg_for(int is_chacha, size_t key_len)
{
    if (is_chacha) {
        return SF_AEAD_CHACHA20_POLY1305;
    }
    return key_len == 16   ? SF_AEAD_AES_128_GCM
           : key_len == 24 ? SF_AEAD_AES_192_GCM
                           : SF_AEAD_AES_256_GCM;
}

/* Valid: sealing gives exactly ct and tag, and opening gives msg back. */
static void check_valid(struct sf_aead *a, const struct aead_case *c)
{
    uint8_t out[1024];
    uint8_t tag[SF_AEAD_TAG_LEN];

    assert_true(c->msg.len <= sizeof out);
    assert_int_equal(c->ct.len, c->msg.len);
    assert_int_equal(sf_aead_seal(a, c->iv.data, c->aad.data, c->aad.len,
                                  c->msg.data, c->msg.len, out, tag),
                     SF_OK);
    assert_memory_equal(out, c->ct.data, c->ct.len);
    assert_memory_equal(tag, c->tag.data, SF_AEAD_TAG_LEN);
    memset(out, 0xaa, sizeof out);
    assert_int_equal(sf_aead_open(a, c->iv.data, c->aad.data, c->aad.len,
                                  c->ct.data, c->ct.len, c->tag.data, out),
                     SF_OK);
    assert_memory_equal(out, c->msg.data, c->msg.len);
}

/* Invalid: opening fails with SF_ERR_AUTH and leaves no plaintext. */
static void check_invalid(struct sf_aead *a, const struct aead_case *c)
{
    static const uint8_t zero[1024];
    uint8_t out[1024];

    assert_true(c->ct.len <= sizeof out);
    memset(out, 0xaa, sizeof out);
    assert_int_equal(sf_aead_open(a, c->iv.data, c->aad.data, c->aad.len,
                                  c->ct.data, c->ct.len, c->tag.data, out),
                     SF_ERR_AUTH);
    assert_memory_equal(out, zero, c->ct.len);
}

/* One context per algorithm, re-keyed for every case: this also proves
 * that sf_aead_rekey fully replaces the key. */
static void run_case(struct sf_aead **ctxs, int is_chacha, const json_t *t,
                     struct aead_tally *tally)
{
    struct aead_case c = {0};
    enum sf_aead_alg alg;
    const char *result = vec_str_field(t, "result");

    case_load(t, &c);
    alg = alg_for(is_chacha, c.key.len);
    if (ctxs[alg] == NULL) {
        assert_int_equal(sf_aead_new(alg, c.key.data, c.key.len, &ctxs[alg]),
                         SF_OK);
    } else {
        assert_int_equal(sf_aead_rekey(ctxs[alg], c.key.data, c.key.len),
                         SF_OK);
    }
    if (strcmp(result, "valid") == 0) {
        check_valid(ctxs[alg], &c);
        tally->valid++;
    } else {
        assert_string_equal(result, "invalid");
        check_invalid(ctxs[alg], &c);
        tally->invalid++;
    }
    case_free(&c);
}

static void run_file(const struct aead_expect *e)
{
    struct sf_aead *ctxs[5] = {NULL};
    struct aead_tally tally = {0, 0, 0};
    bool is_skipped;
    json_t *doc = vec_load_json(e->file, &is_skipped);
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
        json_t *tests = json_object_get(g, "tests");

        if (vec_int_field(g, "ivSize") != 96) {
            tally.skipped += (int)json_array_size(tests);
            continue;
        }
        assert_int_equal(vec_int_field(g, "tagSize"), 128);
        json_array_foreach(tests, j, t)
        {
            run_case(ctxs, e->is_chacha, t, &tally);
        }
    }
    printf("%s: %d valid, %d invalid run; %d skipped (nonce not 96 bits)\n",
           e->file, tally.valid, tally.invalid, tally.skipped);
    assert_int_equal(tally.valid, e->valid);
    assert_int_equal(tally.invalid, e->invalid);
    assert_int_equal(tally.skipped, e->skipped);
    for (i = 0; i < 5; i++) {
        sf_aead_free(ctxs[i]);
    }
    json_decref(doc);
}

static void test_aes_gcm_matches_wycheproof_96bit_nonces(void **state)
{
    static const struct aead_expect e = {"wycheproof/aes_gcm_test.json", 0, 116,
                                         81, 119};

    (void)state;
    run_file(&e);
}

static void test_chacha20_poly1305_matches_wycheproof(void **state)
{
    static const struct aead_expect e = {
        "wycheproof/chacha20_poly1305_test.json", 1, 256, 60, 9};

    (void)state;
    run_file(&e);
}

/* Seals msg under alg with key32 (truncated to the key length). */
static struct sf_aead *seal_sample(enum sf_aead_alg alg, uint8_t *ct,
                                   uint8_t *tag)
{
    static const uint8_t msg[] = "sixteen by tes!";
    struct sf_aead *a = NULL;

    assert_int_equal(sf_aead_new(alg, key32, sf_aead_key_len(alg), &a), SF_OK);
    assert_int_equal(sf_aead_seal(a, nonce0, (const uint8_t *)"ad", 2, msg,
                                  sizeof msg, ct, tag),
                     SF_OK);
    return a;
}

static void test_open_rejects_flipped_tag_and_ciphertext(void **state)
{
    uint8_t ct[16];
    uint8_t tag[SF_AEAD_TAG_LEN];
    uint8_t pt[16];
    static const uint8_t zero[16];

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        struct sf_aead *a = seal_sample(all_algs[i], ct, tag);

        tag[15] ^= 0x01;
        assert_int_equal(sf_aead_open(a, nonce0, (const uint8_t *)"ad", 2, ct,
                                      sizeof ct, tag, pt),
                         SF_ERR_AUTH);
        assert_memory_equal(pt, zero, sizeof pt);
        tag[15] ^= 0x01;
        ct[0] ^= 0x80;
        assert_int_equal(sf_aead_open(a, nonce0, (const uint8_t *)"ad", 2, ct,
                                      sizeof ct, tag, pt),
                         SF_ERR_AUTH);
        ct[0] ^= 0x80;
        assert_int_equal(sf_aead_open(a, nonce0, (const uint8_t *)"aD", 2, ct,
                                      sizeof ct, tag, pt),
                         SF_ERR_AUTH);
        assert_int_equal(sf_aead_open(a, nonce0, (const uint8_t *)"ad", 2, ct,
                                      sizeof ct, tag, pt),
                         SF_OK);
        assert_string_equal((const char *)pt, "sixteen by tes!");
        sf_aead_free(a);
    }
}

static void test_open_rejects_wrong_key_and_rekey_restores(void **state)
{
    uint8_t other[32];
    uint8_t ct[16];
    uint8_t tag[SF_AEAD_TAG_LEN];
    uint8_t pt[16];

    (void)state;
    memcpy(other, key32, sizeof other);
    other[0] ^= 0x01;
    for (size_t i = 0; i < 4; i++) {
        struct sf_aead *a = seal_sample(all_algs[i], ct, tag);
        size_t key_len = sf_aead_key_len(all_algs[i]);

        assert_int_equal(sf_aead_rekey(a, other, key_len), SF_OK);
        assert_int_equal(sf_aead_open(a, nonce0, (const uint8_t *)"ad", 2, ct,
                                      sizeof ct, tag, pt),
                         SF_ERR_AUTH);
        assert_int_equal(sf_aead_rekey(a, key32, key_len), SF_OK);
        assert_int_equal(sf_aead_open(a, nonce0, (const uint8_t *)"ad", 2, ct,
                                      sizeof ct, tag, pt),
                         SF_OK);
        assert_string_equal((const char *)pt, "sixteen by tes!");
        assert_int_equal(sf_aead_rekey(a, key32, key_len - 1),
                         SF_ERR_INVALID_ARG);
        sf_aead_free(a);
    }
}

static void test_seal_in_place_and_empty_message_round_trip(void **state)
{
    uint8_t buf[40];
    uint8_t tag[SF_AEAD_TAG_LEN];
    uint8_t tag2[SF_AEAD_TAG_LEN];
    struct sf_aead *a = NULL;

    (void)state;
    memset(buf, 0x5c, sizeof buf);
    assert_int_equal(sf_aead_new(SF_AEAD_AES_256_GCM, key32, 32, &a), SF_OK);
    assert_int_equal(
        sf_aead_seal(a, nonce0, NULL, 0, buf, sizeof buf, buf, tag), SF_OK);
    assert_int_not_equal(buf[0], 0x5c);
    assert_int_equal(
        sf_aead_open(a, nonce0, NULL, 0, buf, sizeof buf, tag, buf), SF_OK);
    assert_int_equal(buf[0], 0x5c);
    assert_int_equal(buf[39], 0x5c);

    assert_int_equal(sf_aead_seal(a, nonce0, NULL, 0, NULL, 0, NULL, tag),
                     SF_OK);
    assert_int_equal(sf_aead_open(a, nonce0, NULL, 0, NULL, 0, tag, NULL),
                     SF_OK);
    assert_int_equal(
        sf_aead_seal(a, nonce0, (const uint8_t *)"x", 1, NULL, 0, NULL, tag2),
        SF_OK);
    assert_memory_not_equal(tag, tag2, sizeof tag);
    sf_aead_free(a);
}

static void test_new_rejects_bad_key_length_and_alg(void **state)
{
    struct sf_aead *a = (struct sf_aead *)&a;

    (void)state;
    assert_int_equal(sf_aead_new(SF_AEAD_AES_128_GCM, key32, 32, &a),
                     SF_ERR_INVALID_ARG);
    assert_null(a);
    assert_int_equal(sf_aead_new((enum sf_aead_alg)9, key32, 32, &a),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_aead_key_len((enum sf_aead_alg)0), 0);
    assert_int_equal(sf_aead_key_len(SF_AEAD_AES_192_GCM), 24);
    sf_aead_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_gcm_matches_wycheproof_96bit_nonces),
        cmocka_unit_test(test_chacha20_poly1305_matches_wycheproof),
        cmocka_unit_test(test_open_rejects_flipped_tag_and_ciphertext),
        cmocka_unit_test(test_open_rejects_wrong_key_and_rekey_restores),
        cmocka_unit_test(test_seal_in_place_and_empty_message_round_trip),
        cmocka_unit_test(test_new_rejects_bad_key_length_and_alg),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
