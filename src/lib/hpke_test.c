#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hpke.h"
#include "vectors.h"

/* Decoded suite-level fields of one RFC 9180 vector entry. */
struct entry {
    enum sf_hpke_aead aead;
    struct sf_buf info;
    struct sf_buf psk;
    struct sf_buf psk_id;
    struct sf_buf enc;
    uint8_t sk_r[32];
    uint8_t pk_r[32];
    struct sf_hpke_psk psk_in;
    bool has_psk;
};

struct tally {
    int entries;
    int psk_entries;
    int encryptions;
    int exports;
};

static void entry_free(struct entry *e)
{
    sf_buf_free(&e->info);
    sf_buf_free(&e->psk);
    sf_buf_free(&e->psk_id);
    sf_buf_free(&e->enc);
}

/* DeriveKeyPair(ikm) must give exactly the listed sk and pk. */
static void check_derive(const json_t *v, const char *ikm_name,
                         const char *sk_name, const char *pk_name,
                         uint8_t sk[32], uint8_t pk[32])
{
    struct sf_buf ikm = SF_BUF_INIT;
    struct sf_buf want = SF_BUF_INIT;

    assert_int_equal(vec_hex_field(v, ikm_name, &ikm), SF_OK);
    assert_int_equal(sf_hpke_derive_keypair(ikm.data, ikm.len, sk, pk), SF_OK);
    assert_int_equal(vec_hex_field(v, sk_name, &want), SF_OK);
    assert_int_equal(want.len, 32);
    assert_memory_equal(sk, want.data, 32);
    assert_int_equal(vec_hex_field(v, pk_name, &want), SF_OK);
    assert_int_equal(want.len, 32);
    assert_memory_equal(pk, want.data, 32);
    sf_buf_free(&ikm);
    sf_buf_free(&want);
}

static void entry_load(const json_t *v, struct entry *e)
{
    long long mode = vec_int_field(v, "mode");
    long long aead = vec_int_field(v, "aead_id");

    assert_true(mode == 0 || mode == 1);
    assert_int_equal(vec_int_field(v, "kem_id"), SF_HPKE_KEM_X25519_SHA256);
    assert_int_equal(vec_int_field(v, "kdf_id"), SF_HPKE_KDF_SHA256);
    assert_true(aead >= 1 && aead <= 3);
    e->aead = (enum sf_hpke_aead)aead;
    assert_int_equal(vec_hex_field(v, "info", &e->info), SF_OK);
    assert_int_equal(vec_hex_field(v, "enc", &e->enc), SF_OK);
    assert_int_equal(e->enc.len, SF_HPKE_ENC_LEN);
    e->has_psk = mode == 1;
    if (e->has_psk) {
        assert_int_equal(vec_hex_field(v, "psk", &e->psk), SF_OK);
        assert_int_equal(vec_hex_field(v, "psk_id", &e->psk_id), SF_OK);
        e->psk_in.psk = e->psk.data;
        e->psk_in.psk_len = e->psk.len;
        e->psk_in.psk_id = e->psk_id.data;
        e->psk_in.psk_id_len = e->psk_id.len;
    }
}

/* Encryption seq must seal to exactly ct, and the receiver opens it. */
static void check_encryption(struct sf_hpke_ctx *s, struct sf_hpke_ctx *r,
                             const json_t *x)
{
    struct sf_buf aad = SF_BUF_INIT;
    struct sf_buf pt = SF_BUF_INIT;
    struct sf_buf ct = SF_BUF_INIT;
    uint8_t out[256];

    assert_int_equal(vec_hex_field(x, "aad", &aad), SF_OK);
    assert_int_equal(vec_hex_field(x, "pt", &pt), SF_OK);
    assert_int_equal(vec_hex_field(x, "ct", &ct), SF_OK);
    assert_int_equal(ct.len, pt.len + SF_HPKE_TAG_LEN);
    assert_true(ct.len <= sizeof out);
    assert_int_equal(sf_hpke_seal(s, aad.data, aad.len, pt.data, pt.len, out),
                     SF_OK);
    assert_memory_equal(out, ct.data, ct.len);
    memset(out, 0, sizeof out);
    assert_int_equal(sf_hpke_open(r, aad.data, aad.len, ct.data, ct.len, out),
                     SF_OK);
    assert_memory_equal(out, pt.data, pt.len);
    sf_buf_free(&aad);
    sf_buf_free(&pt);
    sf_buf_free(&ct);
}

/* Both sides must export exactly the listed value. */
static void check_export(struct sf_hpke_ctx *s, struct sf_hpke_ctx *r,
                         const json_t *x)
{
    struct sf_buf ctx = SF_BUF_INIT;
    struct sf_buf want = SF_BUF_INIT;
    uint8_t out[64];
    long long len = vec_int_field(x, "L");

    assert_int_equal(vec_hex_field(x, "exporter_context", &ctx), SF_OK);
    assert_int_equal(vec_hex_field(x, "exported_value", &want), SF_OK);
    assert_true(len > 0 && (size_t)len <= sizeof out);
    assert_int_equal(want.len, (size_t)len);
    assert_int_equal(sf_hpke_export(s, ctx.data, ctx.len, out, want.len),
                     SF_OK);
    assert_memory_equal(out, want.data, want.len);
    memset(out, 0, sizeof out);
    assert_int_equal(sf_hpke_export(r, ctx.data, ctx.len, out, want.len),
                     SF_OK);
    assert_memory_equal(out, want.data, want.len);
    sf_buf_free(&ctx);
    sf_buf_free(&want);
}

static void run_entry(const json_t *v, struct tally *t)
{
    struct entry e = {0};
    struct sf_hpke_ctx *s = NULL;
    struct sf_hpke_ctx *r = NULL;
    struct sf_buf ikm_e = SF_BUF_INIT;
    uint8_t sk_e[32];
    uint8_t pk_e[32];
    uint8_t enc[SF_HPKE_ENC_LEN];
    const struct sf_hpke_psk *psk;
    size_t i;
    json_t *x;

    entry_load(v, &e);
    psk = e.has_psk ? &e.psk_in : NULL;
    check_derive(v, "ikmR", "skRm", "pkRm", e.sk_r, e.pk_r);
    check_derive(v, "ikmE", "skEm", "pkEm", sk_e, pk_e);
    assert_int_equal(vec_hex_field(v, "ikmE", &ikm_e), SF_OK);
    assert_int_equal(sf_hpke_setup_sender(e.aead, e.pk_r, e.info.data,
                                          e.info.len, psk, ikm_e.data,
                                          ikm_e.len, enc, &s),
                     SF_OK);
    assert_memory_equal(enc, e.enc.data, SF_HPKE_ENC_LEN);
    assert_int_equal(sf_hpke_setup_receiver(e.aead, e.sk_r, enc, e.info.data,
                                            e.info.len, psk, &r),
                     SF_OK);
    json_array_foreach(json_object_get(v, "encryptions"), i, x)
    {
        check_encryption(s, r, x);
        t->encryptions++;
    }
    json_array_foreach(json_object_get(v, "exports"), i, x)
    {
        check_export(s, r, x);
        t->exports++;
    }
    t->entries++;
    t->psk_entries += e.has_psk;
    sf_hpke_ctx_free(s);
    sf_hpke_ctx_free(r);
    sf_buf_free(&ikm_e);
    entry_free(&e);
}

static void test_hpke_matches_rfc9180_vectors(void **state)
{
    struct tally t = {0, 0, 0, 0};
    bool is_skipped;
    json_t *doc = vec_load_json(
        "hpke/rfc9180-test-vectors-x25519-sha256-mode0-1.json", &is_skipped);
    size_t i;
    json_t *v;

    (void)state;
    if (is_skipped) {
        return;
    }
    assert_non_null(doc);
    json_array_foreach(doc, i, v)
    {
        run_entry(v, &t);
    }
    printf("hpke: %d entries (%d psk), %d encryptions, %d exports\n", t.entries,
           t.psk_entries, t.encryptions, t.exports);
    assert_int_equal(t.entries, 6);
    assert_int_equal(t.psk_entries, 3);
    assert_int_equal(t.encryptions, 6 * 257);
    assert_int_equal(t.exports, 6 * 3);
    json_decref(doc);
}

static const uint8_t ikm_a[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                  12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                  23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t msg[] = "wrapped data key";

/* A receiver key pair derived from ikm_a with its last byte set to tweak. */
static void keypair(uint8_t tweak, uint8_t sk[32], uint8_t pk[32])
{
    uint8_t ikm[32];

    memcpy(ikm, ikm_a, sizeof ikm);
    ikm[31] = tweak;
    assert_int_equal(sf_hpke_derive_keypair(ikm, sizeof ikm, sk, pk), SF_OK);
}

static void test_hpke_open_with_wrong_key_fails(void **state)
{
    static const uint8_t zero[sizeof msg];
    uint8_t sk[32];
    uint8_t pk[32];
    uint8_t sk2[32];
    uint8_t pk2[32];
    uint8_t enc[SF_HPKE_ENC_LEN];
    uint8_t ct[sizeof msg + SF_HPKE_TAG_LEN];
    uint8_t pt[sizeof msg];

    (void)state;
    keypair(1, sk, pk);
    keypair(2, sk2, pk2);
    assert_memory_not_equal(pk, pk2, 32);
    assert_int_equal(sf_hpke_seal_base(SF_HPKE_AES_256_GCM, pk,
                                       (const uint8_t *)"info", 4, NULL, 0, msg,
                                       sizeof msg, enc, ct),
                     SF_OK);
    memset(pt, 0xaa, sizeof pt);
    assert_int_equal(sf_hpke_open_base(SF_HPKE_AES_256_GCM, sk2, enc,
                                       (const uint8_t *)"info", 4, NULL, 0, ct,
                                       sizeof ct, pt),
                     SF_ERR_AUTH);
    assert_memory_equal(pt, zero, sizeof pt);
    assert_int_equal(sf_hpke_open_base(SF_HPKE_AES_256_GCM, sk, enc,
                                       (const uint8_t *)"infO", 4, NULL, 0, ct,
                                       sizeof ct, pt),
                     SF_ERR_AUTH);
    assert_int_equal(sf_hpke_open_base(SF_HPKE_AES_128_GCM, sk, enc,
                                       (const uint8_t *)"info", 4, NULL, 0, ct,
                                       sizeof ct, pt),
                     SF_ERR_AUTH);
    assert_int_equal(sf_hpke_open_base(SF_HPKE_AES_256_GCM, sk, enc,
                                       (const uint8_t *)"info", 4, NULL, 0, ct,
                                       sizeof ct, pt),
                     SF_OK);
    assert_memory_equal(pt, msg, sizeof msg);
}

/* A failed open leaves the sequence number alone: the next genuine
 * message still opens. A sender cannot open and a receiver cannot seal. */
static void test_hpke_failed_open_keeps_sequence(void **state)
{
    uint8_t sk[32];
    uint8_t pk[32];
    uint8_t enc[SF_HPKE_ENC_LEN];
    uint8_t ct0[sizeof msg + SF_HPKE_TAG_LEN];
    uint8_t ct1[sizeof msg + SF_HPKE_TAG_LEN];
    uint8_t pt[sizeof msg];
    struct sf_hpke_ctx *s = NULL;
    struct sf_hpke_ctx *r = NULL;

    (void)state;
    keypair(3, sk, pk);
    assert_int_equal(sf_hpke_setup_sender(SF_HPKE_CHACHA20_POLY1305, pk, NULL,
                                          0, NULL, NULL, 0, enc, &s),
                     SF_OK);
    assert_int_equal(sf_hpke_setup_receiver(SF_HPKE_CHACHA20_POLY1305, sk, enc,
                                            NULL, 0, NULL, &r),
                     SF_OK);
    assert_int_equal(sf_hpke_seal(s, NULL, 0, msg, sizeof msg, ct0), SF_OK);
    assert_int_equal(sf_hpke_seal(s, NULL, 0, msg, sizeof msg, ct1), SF_OK);
    assert_memory_not_equal(ct0, ct1, sizeof ct0);
    /* Out of order: ct1 under sequence 0 fails, then ct0 still opens. */
    assert_int_equal(sf_hpke_open(r, NULL, 0, ct1, sizeof ct1, pt),
                     SF_ERR_AUTH);
    ct0[0] ^= 1;
    assert_int_equal(sf_hpke_open(r, NULL, 0, ct0, sizeof ct0, pt),
                     SF_ERR_AUTH);
    ct0[0] ^= 1;
    assert_int_equal(sf_hpke_open(r, NULL, 0, ct0, sizeof ct0, pt), SF_OK);
    assert_int_equal(sf_hpke_open(r, NULL, 0, ct1, sizeof ct1, pt), SF_OK);
    assert_memory_equal(pt, msg, sizeof msg);
    assert_int_equal(sf_hpke_open(r, NULL, 0, ct1, SF_HPKE_TAG_LEN - 1, pt),
                     SF_ERR_AUTH);
    assert_int_equal(sf_hpke_seal(r, NULL, 0, msg, sizeof msg, ct0),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_hpke_open(s, NULL, 0, ct0, sizeof ct0, pt),
                     SF_ERR_INVALID_ARG);
    sf_hpke_ctx_free(s);
    sf_hpke_ctx_free(r);
}

static void test_hpke_psk_mode_needs_matching_psk(void **state)
{
    uint8_t psk_bytes[32];
    struct sf_hpke_psk psk = {psk_bytes, sizeof psk_bytes,
                              (const uint8_t *)"id-1", 4};
    struct sf_hpke_psk short_psk = {psk_bytes, 16, (const uint8_t *)"i", 1};
    struct sf_hpke_psk no_id = {psk_bytes, sizeof psk_bytes, NULL, 0};
    uint8_t sk[32];
    uint8_t pk[32];
    uint8_t enc[SF_HPKE_ENC_LEN];
    uint8_t out1[32];
    uint8_t out2[32];
    struct sf_hpke_ctx *s = NULL;
    struct sf_hpke_ctx *r = NULL;

    (void)state;
    memset(psk_bytes, 0x42, sizeof psk_bytes);
    keypair(4, sk, pk);
    assert_int_equal(sf_hpke_setup_sender(SF_HPKE_AES_128_GCM, pk, NULL, 0,
                                          &short_psk, NULL, 0, enc, &s),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_hpke_setup_sender(SF_HPKE_AES_128_GCM, pk, NULL, 0,
                                          &no_id, NULL, 0, enc, &s),
                     SF_ERR_INVALID_ARG);
    assert_null(s);
    assert_int_equal(sf_hpke_setup_sender(SF_HPKE_AES_128_GCM, pk, NULL, 0,
                                          &psk, NULL, 0, enc, &s),
                     SF_OK);
    /* Base mode on the receiver derives other keys: exports differ. */
    assert_int_equal(
        sf_hpke_setup_receiver(SF_HPKE_AES_128_GCM, sk, enc, NULL, 0, NULL, &r),
        SF_OK);
    assert_int_equal(sf_hpke_export(s, NULL, 0, out1, sizeof out1), SF_OK);
    assert_int_equal(sf_hpke_export(r, NULL, 0, out2, sizeof out2), SF_OK);
    assert_memory_not_equal(out1, out2, sizeof out1);
    sf_hpke_ctx_free(r);
    r = NULL;
    assert_int_equal(
        sf_hpke_setup_receiver(SF_HPKE_AES_128_GCM, sk, enc, NULL, 0, &psk, &r),
        SF_OK);
    assert_int_equal(sf_hpke_export(r, NULL, 0, out2, sizeof out2), SF_OK);
    assert_memory_equal(out1, out2, sizeof out1);
    assert_int_equal(
        sf_hpke_export(r, (const uint8_t *)"x", 1, out2, sizeof out2), SF_OK);
    assert_memory_not_equal(out1, out2, sizeof out1);
    assert_int_equal(sf_hpke_export(r, NULL, 0, out2, 255 * 32 + 1),
                     SF_ERR_LIMIT);
    sf_hpke_ctx_free(s);
    sf_hpke_ctx_free(r);
}

static void test_hpke_rejects_low_order_keys_and_unknown_aead(void **state)
{
    static const uint8_t zero_point[32];
    uint8_t sk[32];
    uint8_t pk[32];
    uint8_t enc[SF_HPKE_ENC_LEN];
    uint8_t ct[sizeof msg + SF_HPKE_TAG_LEN];
    struct sf_hpke_ctx *c = NULL;

    (void)state;
    keypair(5, sk, pk);
    assert_int_equal(sf_hpke_seal_base(SF_HPKE_AES_128_GCM, zero_point, NULL, 0,
                                       NULL, 0, msg, sizeof msg, enc, ct),
                     SF_ERR_BAD_KEY);
    assert_int_equal(sf_hpke_setup_receiver(SF_HPKE_AES_128_GCM, sk, zero_point,
                                            NULL, 0, NULL, &c),
                     SF_ERR_BAD_KEY);
    assert_null(c);
    assert_int_equal(sf_hpke_setup_sender((enum sf_hpke_aead)0xffff, pk, NULL,
                                          0, NULL, NULL, 0, enc, &c),
                     SF_ERR_UNSUPPORTED);
    assert_int_equal(sf_hpke_derive_keypair(ikm_a, 31, sk, pk),
                     SF_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hpke_matches_rfc9180_vectors),
        cmocka_unit_test(test_hpke_open_with_wrong_key_fails),
        cmocka_unit_test(test_hpke_failed_open_keeps_sequence),
        cmocka_unit_test(test_hpke_psk_mode_needs_matching_psk),
        cmocka_unit_test(test_hpke_rejects_low_order_keys_and_unknown_aead),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
