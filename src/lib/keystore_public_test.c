/*
 * Keys found by public key fingerprint (sf_keystore_find_public) and
 * data sealed to an exported public key opened without the keystore's
 * binding (sf_keystore_unwrap_external).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hpke.h"
#include "kdf.h"
#include "keystore_testutil.h"
#include "rsa_oaep.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"
#include "x25519.h"

static const uint8_t info[] = "partner hpke info";
static const uint8_t aad[] = "partner associated data";
static const uint8_t msg[32] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
                                0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
                                0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};

static void create(struct sf_keystore *ks, const char *name,
                   enum sf_key_type type)
{
    struct sf_key_info i;

    assert_int_equal(sf_keystore_create_key(ks, name, type, &i), SF_OK);
}

static void retire(struct sf_keystore *ks, const char *name, uint32_t min)
{
    struct sf_key_config c;

    memset(&c, 0, sizeof c);
    c.has_min_decryption_version = true;
    c.min_decryption_version = min;
    assert_int_equal(sf_keystore_config(ks, name, &c, NULL), SF_OK);
}

/* The raw X25519 public key of a version, from its exported string. */
static void x25519_pub(struct sf_keystore *ks, const char *name, uint32_t v,
                       uint8_t pub[32])
{
    static const size_t plen = sizeof "sealflow-x25519:" - 1;
    struct sf_buf s = SF_BUF_INIT;
    struct sf_buf raw = SF_BUF_INIT;

    assert_int_equal(sf_keystore_public_key(ks, name, v, &s), SF_OK);
    assert_true(s.len > plen);
    assert_memory_equal(s.data, "sealflow-x25519:", plen);
    assert_int_equal(sf_b64_decode(SF_B64_URL, (const char *)s.data + plen,
                                   s.len - plen, &raw),
                     SF_OK);
    assert_int_equal(raw.len, 32);
    memcpy(pub, raw.data, 32);
    sf_buf_free(&s);
    sf_buf_free(&raw);
}

/* The RSA public key of a version, loaded from its exported PEM. */
static struct sf_rsa_key *rsa_pub(struct sf_keystore *ks, const char *name,
                                  uint32_t v)
{
    struct sf_buf pem = SF_BUF_INIT;
    struct sf_rsa_key *k = NULL;

    assert_int_equal(sf_keystore_public_key(ks, name, v, &pem), SF_OK);
    assert_int_equal(sf_rsa_from_pem((const char *)pem.data, pem.len, &k),
                     SF_OK);
    sf_buf_free(&pem);
    return k;
}

/* kind ":" lower-case hex of the first 8 bytes of SHA-256(key), worked
 * out here on its own, as docs/FORMAT.md states it. */
static void expected_fp(const char *kind, const uint8_t *key, size_t len,
                        char fp[SF_KEYSTORE_FINGERPRINT_MAX])
{
    uint8_t md[32];
    int at;

    assert_int_equal(sf_hash(SF_MD_SHA256, key, len, md), SF_OK);
    at = snprintf(fp, SF_KEYSTORE_FINGERPRINT_MAX, "%s:", kind);
    for (size_t i = 0; i < 8; i++) {
        at += snprintf(fp + at, (size_t)(SF_KEYSTORE_FINGERPRINT_MAX - at),
                       "%02x", md[i]);
    }
}

static void x25519_fp(struct sf_keystore *ks, const char *name, uint32_t v,
                      char fp[SF_KEYSTORE_FINGERPRINT_MAX])
{
    uint8_t pub[32];

    x25519_pub(ks, name, v, pub);
    expected_fp("x25519", pub, sizeof pub, fp);
}

static void rsa_fp(struct sf_keystore *ks, const char *name, uint32_t v,
                   char fp[SF_KEYSTORE_FINGERPRINT_MAX])
{
    struct sf_rsa_key *k = rsa_pub(ks, name, v);
    struct sf_buf der = SF_BUF_INIT;

    assert_int_equal(sf_rsa_to_der(k, false, &der), SF_OK);
    expected_fp("rsa", der.data, der.len, fp);
    sf_buf_free(&der);
    sf_rsa_free(k);
}

static void expect_found(struct sf_keystore *ks, const char *fp,
                         const char *name, uint32_t version)
{
    char got[SF_KEY_NAME_MAX + 1];
    uint32_t v = 99;

    assert_int_equal(sf_keystore_find_public(ks, fp, got, &v), SF_OK);
    assert_string_equal(got, name);
    assert_int_equal(v, version);
}

static void expect_not_found(struct sf_keystore *ks, const char *fp)
{
    char got[SF_KEY_NAME_MAX + 1] = "junk";
    uint32_t v = 99;

    assert_int_equal(sf_keystore_find_public(ks, fp, got, &v),
                     SF_ERR_KEY_NOT_FOUND);
    assert_string_equal(got, "");
    assert_int_equal(v, 0);
}

/* HPKE base-mode seal of msg to pub, as a partner would: enc || ct. */
static void hpke_seal(const uint8_t pub[32], const uint8_t *i, size_t i_len,
                      const uint8_t *a, size_t a_len, uint8_t out[80])
{
    assert_int_equal(sf_hpke_seal_base(SF_HPKE_AES_256_GCM, pub, i, i_len, a,
                                       a_len, msg, sizeof msg, out,
                                       out + SF_HPKE_ENC_LEN),
                     SF_OK);
}

static void expect_msg(struct sf_keystore *ks, const char *name, uint32_t v,
                       const uint8_t *i, size_t i_len, const uint8_t *a,
                       size_t a_len, const uint8_t *ct, size_t ct_len)
{
    struct sf_secret *out = NULL;

    assert_int_equal(sf_keystore_unwrap_external(ks, name, v, i, i_len, a,
                                                 a_len, ct, ct_len, &out),
                     SF_OK);
    assert_int_equal(sf_secret_len(out), sizeof msg);
    assert_memory_equal(sf_secret_cdata(out), msg, sizeof msg);
    sf_secret_free(out);
}

static void expect_fails(struct sf_keystore *ks, const char *name, uint32_t v,
                         const uint8_t *i, size_t i_len, const uint8_t *a,
                         size_t a_len, const uint8_t *ct, size_t ct_len,
                         sf_status want)
{
    struct sf_secret *out = (struct sf_secret *)&out;

    assert_int_equal(sf_keystore_unwrap_external(ks, name, v, i, i_len, a,
                                                 a_len, ct, ct_len, &out),
                     want);
    assert_null(out);
}

static void test_find_public_names_every_version_of_each_type(void **state)
{
    struct ks_fixture *f = *state;
    char fp[4][SF_KEYSTORE_FINGERPRINT_MAX];

    create(f->ks, "inbox", SF_KEY_X25519);
    create(f->ks, "vault/rsa", SF_KEY_RSA_3072);
    create(f->ks, "sym", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_keystore_rotate(f->ks, "inbox", NULL), SF_OK);
    x25519_fp(f->ks, "inbox", 1, fp[0]);
    x25519_fp(f->ks, "inbox", 2, fp[1]);
    rsa_fp(f->ks, "vault/rsa", 1, fp[2]);
    assert_int_equal(strlen(fp[0]), strlen("x25519:") + 16);
    assert_int_equal(strlen(fp[2]), strlen("rsa:") + 16);
    assert_string_not_equal(fp[0], fp[1]);

    expect_found(f->ks, fp[0], "inbox", 1);
    expect_found(f->ks, fp[1], "inbox", 2);
    expect_found(f->ks, fp[2], "vault/rsa", 1);
    /* The kind is part of the fingerprint. */
    memcpy(fp[3], "rsa:", 4);
    memcpy(fp[3] + 4, fp[0] + strlen("x25519:"), 17);
    expect_not_found(f->ks, fp[3]);
    expect_not_found(f->ks, "x25519:0000000000000000");
    expect_not_found(f->ks, "");
    expect_not_found(f->ks, "sym");
}

static void test_find_public_refuses_retired_and_forgets_trimmed(void **state)
{
    struct ks_fixture *f = *state;
    char fp1[SF_KEYSTORE_FINGERPRINT_MAX];
    char fp2[SF_KEYSTORE_FINGERPRINT_MAX];
    char name[SF_KEY_NAME_MAX + 1] = "junk";
    uint32_t v = 99;

    create(f->ks, "inbox", SF_KEY_X25519);
    x25519_fp(f->ks, "inbox", 1, fp1);
    expect_found(f->ks, fp1, "inbox", 1);
    assert_int_equal(sf_keystore_rotate(f->ks, "inbox", NULL), SF_OK);
    x25519_fp(f->ks, "inbox", 2, fp2);
    retire(f->ks, "inbox", 2);

    assert_int_equal(sf_keystore_find_public(f->ks, fp1, name, &v),
                     SF_ERR_KEY_VERSION);
    assert_string_equal(sf_last_error(), "key 'inbox' version 1 is below "
                                         "min_decryption_version 2");
    assert_string_equal(name, "");
    assert_int_equal(v, 0);
    expect_found(f->ks, fp2, "inbox", 2);

    assert_int_equal(sf_keystore_trim(f->ks, "inbox", 2), SF_OK);
    expect_not_found(f->ks, fp1);
    expect_found(f->ks, fp2, "inbox", 2);
}

/* Keys created, rotated or deleted by another handle are found (or no
 * longer found) once this handle checks for changes. */
static void test_find_public_sees_changes_by_another_handle(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks2 = NULL;
    struct sf_key_config c;
    char fp[SF_KEYSTORE_FINGERPRINT_MAX];

    sf_keystore_set_refresh_ms(f->ks, 0);
    expect_not_found(f->ks, "x25519:0000000000000000");
    assert_int_equal(sf_keystore_open(f->db, f->root, &ks2), SF_OK);
    create(ks2, "late", SF_KEY_X25519);
    x25519_fp(ks2, "late", 1, fp);
    expect_found(f->ks, fp, "late", 1);

    memset(&c, 0, sizeof c);
    c.has_deletion_allowed = true;
    c.deletion_allowed = true;
    assert_int_equal(sf_keystore_config(ks2, "late", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_delete(ks2, "late"), SF_OK);
    expect_not_found(f->ks, fp);
    sf_keystore_close(ks2);
}

static void test_unwrap_external_opens_hpke_sealed_to_export(void **state)
{
    struct ks_fixture *f = *state;
    uint8_t pub[32];
    uint8_t ct[80];

    create(f->ks, "inbox", SF_KEY_X25519);
    x25519_pub(f->ks, "inbox", 1, pub);
    hpke_seal(pub, info, sizeof info, aad, sizeof aad, ct);
    expect_msg(f->ks, "inbox", 1, info, sizeof info, aad, sizeof aad, ct,
               sizeof ct);

    expect_fails(f->ks, "inbox", 1, info, sizeof info, aad, sizeof aad - 1, ct,
                 sizeof ct, SF_ERR_AUTH);
    assert_non_null(strstr(sf_last_error(), "key 'inbox' version 1"));
    expect_fails(f->ks, "inbox", 1, info, sizeof info - 1, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_AUTH);
    expect_fails(f->ks, "inbox", 1, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct - 1, SF_ERR_AUTH);
    expect_fails(f->ks, "inbox", 1, info, sizeof info, aad, sizeof aad, ct, 47,
                 SF_ERR_AUTH);
    expect_fails(f->ks, "inbox", 0, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_KEY_VERSION);
    expect_fails(f->ks, "inbox", 2, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_KEY_VERSION);
    expect_fails(f->ks, "nobody", 1, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_KEY_NOT_FOUND);

    /* Empty info and aad are allowed. */
    hpke_seal(pub, NULL, 0, NULL, 0, ct);
    expect_msg(f->ks, "inbox", 1, NULL, 0, NULL, 0, ct, sizeof ct);
}

static void test_unwrap_external_opens_rsa_oaep_to_export(void **state)
{
    static const uint8_t label[] = "a partner's label";
    struct ks_fixture *f = *state;
    struct sf_rsa_key *pub;
    struct sf_buf ct = SF_BUF_INIT;
    uint8_t bad_label[sizeof label];

    create(f->ks, "vault/rsa", SF_KEY_RSA_3072);
    pub = rsa_pub(f->ks, "vault/rsa", 1);
    assert_int_equal(sf_rsa_oaep_encrypt(pub, label, sizeof label, msg,
                                         sizeof msg, false, &ct),
                     SF_OK);
    assert_int_equal(ct.len, 384);
    expect_msg(f->ks, "vault/rsa", 1, NULL, 0, label, sizeof label, ct.data,
               ct.len);

    memcpy(bad_label, label, sizeof label);
    bad_label[0] ^= 1;
    expect_fails(f->ks, "vault/rsa", 1, NULL, 0, bad_label, sizeof bad_label,
                 ct.data, ct.len, SF_ERR_AUTH);
    expect_fails(f->ks, "vault/rsa", 1, NULL, 0, label, sizeof label, ct.data,
                 ct.len - 1, SF_ERR_AUTH);
    /* OAEP has a label and no info. */
    expect_fails(f->ks, "vault/rsa", 1, info, sizeof info, label, sizeof label,
                 ct.data, ct.len, SF_ERR_INVALID_ARG);
    sf_rsa_free(pub);
    sf_buf_free(&ct);
}

static void test_unwrap_external_refuses_symmetric_keys(void **state)
{
    struct ks_fixture *f = *state;
    uint8_t ct[80] = {0};

    create(f->ks, "sym", SF_KEY_CHACHA20_POLY1305);
    expect_fails(f->ks, "sym", 1, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_KEY_TYPE);
    assert_non_null(strstr(sf_last_error(), "symmetric"));
}

static void test_unwrap_external_refuses_retired_version(void **state)
{
    struct ks_fixture *f = *state;
    uint8_t pub[32];
    uint8_t ct[80];

    create(f->ks, "inbox", SF_KEY_X25519);
    x25519_pub(f->ks, "inbox", 1, pub);
    hpke_seal(pub, info, sizeof info, aad, sizeof aad, ct);
    assert_int_equal(sf_keystore_rotate(f->ks, "inbox", NULL), SF_OK);
    expect_msg(f->ks, "inbox", 1, info, sizeof info, aad, sizeof aad, ct,
               sizeof ct);
    retire(f->ks, "inbox", 2);
    expect_fails(f->ks, "inbox", 1, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_KEY_VERSION);
    assert_string_equal(sf_last_error(), "key 'inbox' version 1 is below "
                                         "min_decryption_version 2");
}

/* What sf_keystore_wrap made cannot be opened through the external
 * call, not even by giving it the keystore's own info or binding. */
static void test_unwrap_external_never_opens_keystore_wraps(void **state)
{
    static const char own_info[] = "sealflow kek x25519";
    struct ks_fixture *f = *state;
    struct sf_buf w = SF_BUF_INIT;
    uint8_t label[64];
    size_t n = 0;

    create(f->ks, "inbox", SF_KEY_X25519);
    create(f->ks, "vault/rsa", SF_KEY_RSA_3072);
    assert_int_equal(sf_keystore_wrap(f->ks, "inbox", 1, aad, sizeof aad, msg,
                                      sizeof msg, &w, NULL),
                     SF_OK);
    expect_fails(f->ks, "inbox", 1, (const uint8_t *)own_info,
                 sizeof own_info - 1, aad, sizeof aad, w.data, w.len,
                 SF_ERR_INVALID_ARG);
    assert_non_null(strstr(sf_last_error(), "reserved"));
    expect_fails(f->ks, "inbox", 1, NULL, 0, aad, sizeof aad, w.data, w.len,
                 SF_ERR_AUTH);

    /* The RSA binding: "sealflow kek v1" 0x00, then the rest. */
    sf_buf_reset(&w);
    assert_int_equal(sf_keystore_wrap(f->ks, "vault/rsa", 1, NULL, 0, msg,
                                      sizeof msg, &w, NULL),
                     SF_OK);
    memcpy(label, "sealflow kek v1", 16);
    n = 16;
    label[n++] = 9;
    memcpy(label + n, "vault/rsa", 9);
    n += 9;
    label[n++] = 0;
    label[n++] = 0;
    label[n++] = 0;
    label[n++] = 1;
    label[n++] = SF_KEY_RSA_3072;
    expect_fails(f->ks, "vault/rsa", 1, NULL, 0, label, n, w.data, w.len,
                 SF_ERR_INVALID_ARG);
    assert_non_null(strstr(sf_last_error(), "reserved"));
    /* The same binding opens through sf_keystore_unwrap: it was right. */
    {
        struct sf_secret *out = NULL;

        assert_int_equal(sf_keystore_unwrap(f->ks, "vault/rsa", 1, NULL, 0,
                                            w.data, w.len, &out),
                         SF_OK);
        assert_int_equal(sf_secret_len(out), sizeof msg);
        sf_secret_free(out);
    }
    sf_buf_free(&w);
}

/* A public part edited in the file can make the lookup name a key, but
 * that key cannot open what was sealed to the planted public key. */
static void test_edited_public_part_is_refused_when_used(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks2 = NULL;
    struct sf_buf hex = SF_BUF_INIT;
    char sql[256];
    char fp[SF_KEYSTORE_FINGERPRINT_MAX];
    uint8_t sk[32];
    uint8_t pk[32];
    uint8_t ct[80];

    create(f->ks, "inbox", SF_KEY_X25519);
    assert_int_equal(sf_x25519_keygen(sk, pk), SF_OK);
    assert_int_equal(sf_hex_encode(pk, sizeof pk, &hex), SF_OK);
    snprintf(sql, sizeof sql,
             "UPDATE key_versions SET public_part = X'%s'"
             " WHERE name = 'inbox' AND version = 1",
             (const char *)hex.data);
    assert_int_equal(tu_sql(f->db, sql), 0);
    assert_int_equal(sf_keystore_open(f->db, f->root, &ks2), SF_OK);

    expected_fp("x25519", pk, sizeof pk, fp);
    expect_found(ks2, fp, "inbox", 1);
    hpke_seal(pk, info, sizeof info, aad, sizeof aad, ct);
    expect_fails(ks2, "inbox", 1, info, sizeof info, aad, sizeof aad, ct,
                 sizeof ct, SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "does not match its public"));
    sf_keystore_close(ks2);
    sf_buf_free(&hex);
    sf_wipe(sk, sizeof sk);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_find_public_names_every_version_of_each_type),
        T(test_find_public_refuses_retired_and_forgets_trimmed),
        T(test_find_public_sees_changes_by_another_handle),
        T(test_unwrap_external_opens_hpke_sealed_to_export),
        T(test_unwrap_external_opens_rsa_oaep_to_export),
        T(test_unwrap_external_refuses_symmetric_keys),
        T(test_unwrap_external_refuses_retired_version),
        T(test_unwrap_external_never_opens_keystore_wraps),
        T(test_edited_public_part_is_refused_when_used),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
