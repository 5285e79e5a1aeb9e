#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "aead.h"
#include "hpke.h"
#include "kdf.h"
#include "keystore_seal.h"
#include "keystore_testutil.h"
#include "rsa_oaep.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"

static const uint8_t aad[] = "record 42 / field card";
static const uint8_t secret32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                     23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void create(struct sf_keystore *ks, const char *name,
                   enum sf_key_type type)
{
    struct sf_key_info info;

    assert_int_equal(sf_keystore_create_key(ks, name, type, &info), SF_OK);
    assert_string_equal(info.name, name);
    assert_int_equal(info.type, type);
}

static void wrap(struct sf_keystore *ks, const char *name, uint32_t version,
                 struct sf_buf *out, uint32_t *used)
{
    sf_buf_reset(out);
    assert_int_equal(sf_keystore_wrap(ks, name, version, aad, sizeof aad,
                                      secret32, sizeof secret32, out, used),
                     SF_OK);
}

static void expect_unwrap(struct sf_keystore *ks, const char *name,
                          uint32_t version, const struct sf_buf *ct)
{
    struct sf_secret *pt = NULL;

    assert_int_equal(sf_keystore_unwrap(ks, name, version, aad, sizeof aad,
                                        ct->data, ct->len, &pt),
                     SF_OK);
    assert_int_equal(sf_secret_len(pt), sizeof secret32);
    assert_memory_equal(sf_secret_cdata(pt), secret32, sizeof secret32);
    sf_secret_free(pt);
}

static void expect_auth_failure(struct sf_keystore *ks, const char *name,
                                uint32_t version, const uint8_t *a,
                                size_t a_len, const uint8_t *ct, size_t ct_len)
{
    struct sf_secret *pt = (struct sf_secret *)1;

    assert_int_equal(
        sf_keystore_unwrap(ks, name, version, a, a_len, ct, ct_len, &pt),
        SF_ERR_AUTH);
    assert_null(pt);
}

/*
 * The round trip every key type must pass: the wrapped size is as
 * documented, the secret comes back, and a changed byte anywhere, a
 * truncation, another aad or no aad all fail.
 */
static void round_trip(struct sf_keystore *ks, const char *name,
                       enum sf_key_type type, size_t wrapped_len)
{
    struct sf_buf ct = SF_BUF_INIT;
    uint32_t used = 0;
    size_t spots[3];

    create(ks, name, type);
    wrap(ks, name, 0, &ct, &used);
    assert_int_equal(used, 1);
    assert_int_equal(ct.len, wrapped_len);
    expect_unwrap(ks, name, 1, &ct);

    expect_auth_failure(ks, name, 1, aad, sizeof aad - 1, ct.data, ct.len);
    expect_auth_failure(ks, name, 1, NULL, 0, ct.data, ct.len);
    expect_auth_failure(ks, name, 1, aad, sizeof aad, ct.data, ct.len - 1);
    expect_auth_failure(ks, name, 1, aad, sizeof aad, ct.data, 5);
    spots[0] = 0;
    spots[1] = ct.len / 2;
    spots[2] = ct.len - 1;
    for (size_t i = 0; i < 3; i++) {
        ct.data[spots[i]] ^= 0x01;
        expect_auth_failure(ks, name, 1, aad, sizeof aad, ct.data, ct.len);
        ct.data[spots[i]] ^= 0x01;
    }
    assert_non_null(strstr(sf_last_error(), name));
    expect_unwrap(ks, name, 1, &ct);
    sf_buf_free(&ct);
}

static void test_wrap_round_trip_aes256_gcm96(void **state)
{
    struct ks_fixture *f = *state;

    round_trip(f->ks, "orders", SF_KEY_AES256_GCM96, 24 + 32 + 16);
}

static void test_wrap_round_trip_chacha20_poly1305(void **state)
{
    struct ks_fixture *f = *state;

    round_trip(f->ks, "orders", SF_KEY_CHACHA20_POLY1305, 24 + 32 + 16);
}

static void test_wrap_round_trip_x25519(void **state)
{
    struct ks_fixture *f = *state;

    round_trip(f->ks, "partner", SF_KEY_X25519, 32 + 32 + 16);
}

static void test_x25519_unwrap_refuses_low_order_enc_as_auth(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;

    create(f->ks, "partner", SF_KEY_X25519);
    wrap(f->ks, "partner", 0, &ct, NULL);
    memset(ct.data, 0, 32); /* the all-zero point has order 1 */
    expect_auth_failure(f->ks, "partner", 1, aad, sizeof aad, ct.data, ct.len);
    memset(ct.data, 0, 32);
    ct.data[0] = 1; /* and so has u = 1 */
    expect_auth_failure(f->ks, "partner", 1, aad, sizeof aad, ct.data, ct.len);
    sf_buf_free(&ct);
}

static void test_wrap_round_trip_rsa_3072(void **state)
{
    struct ks_fixture *f = *state;

    round_trip(f->ks, "legacy", SF_KEY_RSA_3072, 384);
}

static void test_wrap_round_trip_rsa_4096(void **state)
{
    struct ks_fixture *f = *state;

    round_trip(f->ks, "legacy4k", SF_KEY_RSA_4096, 512);
}

static void test_wrap_binds_key_name_and_version(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;
    uint32_t v = 0;

    create(f->ks, "a", SF_KEY_AES256_GCM96);
    create(f->ks, "b", SF_KEY_AES256_GCM96);
    wrap(f->ks, "a", 0, &ct, NULL);
    expect_auth_failure(f->ks, "b", 1, aad, sizeof aad, ct.data, ct.len);

    /* The same key bytes under another version still fail: version 2 is
     * another key, and the binding names the version too. */
    assert_int_equal(sf_keystore_rotate(f->ks, "a", &v), SF_OK);
    assert_int_equal(v, 2);
    expect_auth_failure(f->ks, "a", 2, aad, sizeof aad, ct.data, ct.len);
    expect_unwrap(f->ks, "a", 1, &ct);
    sf_buf_free(&ct);
}

static void test_wrap_format_matches_documented_binding(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf raw = SF_BUF_INIT;
    uint8_t full[KS_BINDING_MAX + sizeof aad];
    uint8_t wrapped[32 + 32 + 16];
    size_t n;

    create(f->ks, "partner", SF_KEY_X25519);
    assert_int_equal(sf_keystore_public_key(f->ks, "partner", 0, &pub), SF_OK);
    assert_int_equal(sf_b64_decode(SF_B64_URL, (const char *)pub.data + 16,
                                   pub.len - 16, &raw),
                     SF_OK);
    assert_int_equal(raw.len, 32);

    /* A sender holding only the public key, following docs/KEYSTORE.md,
     * produces what the keystore unwraps. */
    n = ks_binding("sealflow kek v1", "partner", 1, SF_KEY_X25519, full);
    memcpy(full + n, aad, sizeof aad);
    assert_int_equal(sf_hpke_seal_base(SF_HPKE_AES_256_GCM, raw.data,
                                       (const uint8_t *)"sealflow kek x25519",
                                       19, full, n + sizeof aad, secret32,
                                       sizeof secret32, wrapped, wrapped + 32),
                     SF_OK);
    {
        struct sf_buf ct = {wrapped, sizeof wrapped, sizeof wrapped};

        expect_unwrap(f->ks, "partner", 1, &ct);
    }
    sf_buf_free(&pub);
    sf_buf_free(&raw);
}

static void test_rsa_wrap_uses_oaep_label_binding(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf pem = SF_BUF_INIT;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_rsa_key *pub = NULL;
    uint8_t full[KS_BINDING_MAX + sizeof aad];
    size_t n;

    create(f->ks, "legacy", SF_KEY_RSA_3072);
    assert_int_equal(sf_keystore_public_key(f->ks, "legacy", 1, &pem), SF_OK);
    assert_int_equal(
        strncmp((const char *)pem.data, "-----BEGIN PUBLIC KEY-----", 26), 0);
    assert_int_equal(sf_rsa_from_pem((const char *)pem.data, pem.len, &pub),
                     SF_OK);
    assert_int_equal(sf_rsa_bits(pub), 3072);
    assert_false(sf_rsa_has_private(pub));

    n = ks_binding("sealflow kek v1", "legacy", 1, SF_KEY_RSA_3072, full);
    memcpy(full + n, aad, sizeof aad);
    assert_int_equal(sf_rsa_oaep_encrypt(pub, full, n + sizeof aad, secret32,
                                         sizeof secret32, false, &ct),
                     SF_OK);
    expect_unwrap(f->ks, "legacy", 1, &ct);
    /* Without the binding in the label, it is refused. */
    sf_buf_reset(&ct);
    assert_int_equal(sf_rsa_oaep_encrypt(pub, aad, sizeof aad, secret32,
                                         sizeof secret32, false, &ct),
                     SF_OK);
    expect_auth_failure(f->ks, "legacy", 1, aad, sizeof aad, ct.data, ct.len);
    sf_rsa_free(pub);
    sf_buf_free(&pem);
    sf_buf_free(&ct);
}

static void test_public_key_forms(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf v1 = SF_BUF_INIT;
    struct sf_buf v2 = SF_BUF_INIT;
    struct sf_buf none = SF_BUF_INIT;

    create(f->ks, "partner", SF_KEY_X25519);
    create(f->ks, "sym", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_keystore_public_key(f->ks, "partner", 0, &v1), SF_OK);
    assert_int_equal(v1.len, 16 + 43);
    assert_int_equal(memcmp(v1.data, "sealflow-x25519:", 16), 0);
    assert_null(memchr(v1.data, '=', v1.len));

    assert_int_equal(sf_keystore_rotate(f->ks, "partner", NULL), SF_OK);
    assert_int_equal(sf_keystore_public_key(f->ks, "partner", 2, &v2), SF_OK);
    assert_false(v1.len == v2.len && memcmp(v1.data, v2.data, v1.len) == 0);
    sf_buf_reset(&v2);
    assert_int_equal(sf_keystore_public_key(f->ks, "partner", 1, &v2), SF_OK);
    assert_memory_equal(v1.data, v2.data, v1.len);

    assert_int_equal(sf_keystore_public_key(f->ks, "sym", 0, &none),
                     SF_ERR_KEY_TYPE);
    assert_int_equal(none.len, 0);
    assert_int_equal(sf_keystore_public_key(f->ks, "partner", 3, &none),
                     SF_ERR_KEY_VERSION);
    sf_buf_free(&v1);
    sf_buf_free(&v2);
}

static void test_rotate_then_unwrap_old_and_new(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf old_ct = SF_BUF_INIT;
    struct sf_buf new_ct = SF_BUF_INIT;
    struct sf_key_info info;
    uint32_t used = 0;
    uint32_t v = 0;

    create(f->ks, "orders", SF_KEY_CHACHA20_POLY1305);
    wrap(f->ks, "orders", 0, &old_ct, &used);
    assert_int_equal(used, 1);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", &v), SF_OK);
    assert_int_equal(v, 2);
    wrap(f->ks, "orders", 0, &new_ct, &used);
    assert_int_equal(used, 2);

    expect_unwrap(f->ks, "orders", 1, &old_ct);
    expect_unwrap(f->ks, "orders", 2, &new_ct);
    expect_auth_failure(f->ks, "orders", 1, aad, sizeof aad, new_ct.data,
                        new_ct.len);
    /* An explicit older version may still wrap while min_encryption is 0. */
    wrap(f->ks, "orders", 1, &new_ct, &used);
    assert_int_equal(used, 1);
    expect_unwrap(f->ks, "orders", 1, &new_ct);

    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info), SF_OK);
    assert_int_equal(info.latest_version, 2);
    assert_true(info.latest_created_at >= info.created_at);
    sf_buf_free(&old_ct);
    sf_buf_free(&new_ct);
}

static void test_unwrap_version_errors_name_key_and_version(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 2};
    struct sf_secret *pt = NULL;
    struct sf_buf ct = SF_BUF_INIT;

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    wrap(f->ks, "orders", 0, &ct, NULL);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);

    assert_int_equal(sf_keystore_unwrap(f->ks, "orders", 3, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_ERR_KEY_VERSION);
    assert_string_equal(sf_last_error(),
                        "key 'orders' has no version 3 (the latest is 2)");
    assert_int_equal(sf_keystore_unwrap(f->ks, "orders", 0, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_ERR_KEY_VERSION);

    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_unwrap(f->ks, "orders", 1, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_ERR_KEY_VERSION);
    assert_null(pt);
    assert_string_equal(
        sf_last_error(),
        "key 'orders' version 1 is below min_decryption_version 2");
    /* Wrapping with a retired version is refused as well. */
    assert_int_equal(sf_keystore_wrap(f->ks, "orders", 1, NULL, 0, secret32,
                                      sizeof secret32, &ct, NULL),
                     SF_ERR_KEY_VERSION);
    assert_int_equal(sf_keystore_unwrap(f->ks, "nope", 1, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_ERR_KEY_NOT_FOUND);
    assert_int_equal(sf_keystore_unwrap(f->ks, "no pe", 1, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_ERR_KEY_NAME);
    sf_buf_free(&ct);
}

static void test_wrap_rejects_bad_sizes_and_leaves_output(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf out = SF_BUF_INIT;
    static uint8_t big[SF_KEYSTORE_WRAP_MAX + 1];

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_buf_put_str(&out, "keep"), SF_OK);
    assert_int_equal(
        sf_keystore_wrap(f->ks, "orders", 0, NULL, 0, NULL, 1, &out, NULL),
        SF_ERR_INVALID_ARG);
    assert_int_equal(sf_keystore_wrap(f->ks, "orders", 0, NULL, 0, big,
                                      sizeof big, &out, NULL),
                     SF_ERR_LIMIT);
    assert_int_equal(sf_keystore_wrap(f->ks, "missing", 0, NULL, 0, secret32,
                                      sizeof secret32, &out, NULL),
                     SF_ERR_KEY_NOT_FOUND);
    assert_int_equal(out.len, 4);
    /* The largest secret wraps and unwraps. */
    assert_int_equal(sf_keystore_wrap(f->ks, "orders", 0, NULL, 0, big,
                                      SF_KEYSTORE_WRAP_MAX, &out, NULL),
                     SF_OK);
    assert_int_equal(out.len, 4 + 40 + SF_KEYSTORE_WRAP_MAX);
    sf_buf_free(&out);
}

static void test_create_key_defaults_and_refusals(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_info info;
    int64_t now = (int64_t)time(NULL);

    assert_int_equal(sf_keystore_create_key(f->ks, "team/app@prod",
                                            SF_KEY_AES256_GCM96, &info),
                     SF_OK);
    assert_int_equal(info.latest_version, 1);
    assert_int_equal(info.min_available_version, 1);
    assert_int_equal(info.min_decryption_version, 1);
    assert_int_equal(info.min_encryption_version, 0);
    assert_false(info.deletion_allowed);
    assert_int_equal(info.rotation_period_s, 0);
    assert_true(info.created_at >= now - 5 && info.created_at <= now + 5);
    assert_int_equal(info.latest_created_at, info.created_at);

    assert_int_equal(
        sf_keystore_create_key(f->ks, "team/app@prod", SF_KEY_X25519, NULL),
        SF_ERR_KEY_EXISTS);
    assert_non_null(strstr(sf_last_error(), "'team/app@prod'"));
    assert_int_equal(
        sf_keystore_create_key(f->ks, "a//b", SF_KEY_AES256_GCM96, NULL),
        SF_ERR_KEY_NAME);
    assert_int_equal(
        sf_keystore_create_key(f->ks, "t", (enum sf_key_type)42, NULL),
        SF_ERR_UNSUPPORTED);
    assert_int_equal(sf_keystore_key_info(f->ks, "team/app@prod", &info),
                     SF_OK);
    assert_int_equal(info.type, SF_KEY_AES256_GCM96);
}

static void test_list_returns_keys_in_name_order(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_info *list = NULL;
    size_t n = 99;

    assert_int_equal(sf_keystore_list(f->ks, &list, &n), SF_OK);
    assert_int_equal(n, 0);
    free(list);
    create(f->ks, "zeta", SF_KEY_AES256_GCM96);
    create(f->ks, "Alpha", SF_KEY_CHACHA20_POLY1305);
    create(f->ks, "alpha", SF_KEY_X25519);
    assert_int_equal(sf_keystore_rotate(f->ks, "zeta", NULL), SF_OK);
    assert_int_equal(sf_keystore_list(f->ks, &list, &n), SF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "Alpha");
    assert_string_equal(list[1].name, "alpha");
    assert_string_equal(list[2].name, "zeta");
    assert_int_equal(list[1].type, SF_KEY_X25519);
    assert_int_equal(list[2].latest_version, 2);
    free(list);
}

static void test_keystore_reopens_with_same_root_key(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_key_info info;
    struct stat st;

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    create(f->ks, "partner", SF_KEY_X25519);
    wrap(f->ks, "orders", 0, &ct, NULL);
    sf_keystore_close(f->ks);
    f->ks = NULL;

    assert_int_equal(stat(f->db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sf_keystore_open(f->db, f->root, &f->ks), SF_OK);
    expect_unwrap(f->ks, "orders", 1, &ct);
    assert_int_equal(sf_keystore_key_info(f->ks, "partner", &info), SF_OK);
    assert_int_equal(info.type, SF_KEY_X25519);
    sf_buf_free(&ct);
}

static void test_keystore_open_refuses_wrong_root_key(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;
    struct sf_secret *other = NULL;
    struct sf_secret *short_key = NULL;

    assert_int_equal(sf_secret_random(SF_ROOT_KEY_LEN, &other), SF_OK);
    assert_int_equal(sf_keystore_open(f->db, other, &ks), SF_ERR_ROOT_KEY);
    assert_null(ks);
    assert_non_null(strstr(sf_last_error(), "wrong root key"));
    assert_non_null(strstr(sf_last_error(), f->db));

    assert_int_equal(sf_secret_random(16, &short_key), SF_OK);
    assert_int_equal(sf_keystore_open(f->db, short_key, &ks), SF_ERR_ROOT_KEY);
    sf_secret_free(other);
    sf_secret_free(short_key);
}

static void test_keystore_open_refuses_other_files(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;
    char path[400];
    FILE *fp;

    snprintf(path, sizeof path, "%s/text.db", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("this is not a database, just some text that is long enough to "
          "fill the first page header of an SQLite file, or so it seems.\n",
          fp);
    fclose(fp);
    assert_int_equal(sf_keystore_open(path, f->root, &ks), SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "not a sealflow keystore"));

    snprintf(path, sizeof path, "%s/other.db", f->dir);
    assert_int_equal(tu_sql(path, "CREATE TABLE t (x)"), 0);
    assert_int_equal(sf_keystore_open(path, f->root, &ks), SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "not a sealflow keystore"));

    snprintf(path, sizeof path, "%s/missing.db", f->dir);
    assert_int_equal(sf_keystore_open(path, f->root, &ks), SF_ERR_IO);
    assert_null(ks);
    assert_non_null(strstr(sf_last_error(), "no keystore at"));
}

static void test_keystore_create_refuses_existing_file(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_keystore_create(f->db, f->root, &ks), SF_ERR_IO);
    assert_null(ks);
    assert_non_null(strstr(sf_last_error(), "already exists"));
    assert_int_equal(
        sf_keystore_key_info(f->ks, "orders", &(struct sf_key_info){0}), SF_OK);
}

static void test_keystore_schema_version_is_checked(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;

    assert_int_equal(
        tu_sql(f->db, "UPDATE meta SET v = 4 WHERE k = 'schema_version'"), 0);
    assert_int_equal(sf_keystore_open(f->db, f->root, &ks), SF_ERR_UNSUPPORTED);
    assert_non_null(strstr(sf_last_error(), "schema version 4"));
}

/* Appends v as len big-endian bytes (the docs' u32, u64, i64). */
static void put_be(uint8_t *buf, size_t *n, uint64_t v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[(*n)++] = (uint8_t)(v >> (8 * (len - 1 - i)));
    }
}

/*
 * The key of a symmetric version, recovered from the file and the root
 * key alone by following docs/KEYSTORE.md ("Keys derived from the root
 * key", "Material sealing": the binding and the version's creation
 * time), so the wrap tests below depend on the documented formats only.
 */
static void read_kek(const struct ks_fixture *f, const char *name,
                     enum sf_key_type type, uint8_t kek[32])
{
    static const char info[] = "sealflow keystore material key v1";
    uint8_t sealed[12 + 32 + 16];
    uint8_t seal_key[32];
    uint8_t ad[KS_BINDING_MAX + 8];
    struct sf_aead *a = NULL;
    int64_t created_at = 0;
    char sql[200];
    size_t n;

    snprintf(sql, sizeof sql,
             "SELECT material FROM key_versions WHERE name = '%s'"
             " AND version = 1",
             name);
    assert_int_equal(tu_blob(f->db, sql, sealed, sizeof sealed), sizeof sealed);
    snprintf(sql, sizeof sql,
             "SELECT created_at FROM key_versions WHERE name = '%s'"
             " AND version = 1",
             name);
    assert_int_equal(tu_int(f->db, sql, &created_at), 0);
    assert_int_equal(sf_hkdf(SF_MD_SHA256, NULL, 0, sf_secret_cdata(f->root),
                             32, (const uint8_t *)info, sizeof info - 1,
                             seal_key, sizeof seal_key),
                     SF_OK);
    n = ks_binding("sealflow keystore material v2", name, 1, type, ad);
    put_be(ad, &n, (uint64_t)created_at, 8);
    assert_int_equal(sf_aead_new(SF_AEAD_AES_256_GCM, seal_key, 32, &a), SF_OK);
    assert_int_equal(
        sf_aead_open(a, sealed, ad, n, sealed + 12, 32, sealed + 44, kek),
        SF_OK);
    sf_aead_free(a);
}

/* binding || aad of a wrap of version 1 of name; returns the length. */
static size_t wrap_ad(const char *name, enum sf_key_type type, uint8_t *out)
{
    size_t n = ks_binding("sealflow kek v1", name, 1, type, out);

    memcpy(out + n, aad, sizeof aad);
    return n + sizeof aad;
}

/*
 * A symmetric wrap is r(24) || ciphertext || tag(16) with the AEAD of the
 * key's type under HKDF-SHA256(IKM = version key, salt = r[0..12), info
 * "sealflow keystore wrap v1") and nonce r[12..24): what the keystore
 * wraps opens that way, what is made that way unwraps, and the former
 * format (the version key itself as AEAD key) is refused.
 */
static void sym_wrap_by_the_book(struct ks_fixture *f, enum sf_key_type type,
                                 enum sf_aead_alg alg)
{
    static const char info[] = "sealflow keystore wrap v1";
    uint8_t full[KS_BINDING_MAX + sizeof aad];
    uint8_t mine[24 + 32 + 16];
    uint8_t kek[32];
    uint8_t subkey[32];
    uint8_t pt[32];
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_buf ct2 = SF_BUF_INIT;
    struct sf_aead *a = NULL;
    size_t n = wrap_ad("book", type, full);

    create(f->ks, "book", type);
    wrap(f->ks, "book", 0, &ct, NULL);
    wrap(f->ks, "book", 0, &ct2, NULL);
    assert_int_equal(ct.len, 24 + 32 + 16);
    assert_memory_not_equal(ct.data, ct2.data, 24);
    read_kek(f, "book", type, kek);

    assert_int_equal(sf_hkdf(SF_MD_SHA256, ct.data, 12, kek, 32,
                             (const uint8_t *)info, sizeof info - 1, subkey,
                             32),
                     SF_OK);
    assert_int_equal(sf_aead_new(alg, subkey, 32, &a), SF_OK);
    assert_int_equal(sf_aead_open(a, ct.data + 12, full, n, ct.data + 24, 32,
                                  ct.data + 56, pt),
                     SF_OK);
    assert_memory_equal(pt, secret32, 32);

    assert_int_equal(sf_random(mine, 24), SF_OK);
    assert_int_equal(sf_hkdf(SF_MD_SHA256, mine, 12, kek, 32,
                             (const uint8_t *)info, sizeof info - 1, subkey,
                             32),
                     SF_OK);
    assert_int_equal(sf_aead_rekey(a, subkey, 32), SF_OK);
    assert_int_equal(
        sf_aead_seal(a, mine + 12, full, n, secret32, 32, mine + 24, mine + 56),
        SF_OK);
    expect_unwrap(f->ks, "book", 1, &(struct sf_buf){mine, sizeof mine, 0});

    assert_int_equal(sf_aead_rekey(a, kek, 32), SF_OK);
    assert_int_equal(
        sf_aead_seal(a, mine, full, n, secret32, 32, mine + 12, mine + 44),
        SF_OK);
    expect_auth_failure(f->ks, "book", 1, aad, sizeof aad, mine, 12 + 32 + 16);
    sf_aead_free(a);
    sf_buf_free(&ct);
    sf_buf_free(&ct2);
}

static void test_aes_wrap_follows_documented_derivation(void **state)
{
    sym_wrap_by_the_book(*state, SF_KEY_AES256_GCM96, SF_AEAD_AES_256_GCM);
}

static void test_chacha_wrap_follows_documented_derivation(void **state)
{
    sym_wrap_by_the_book(*state, SF_KEY_CHACHA20_POLY1305,
                         SF_AEAD_CHACHA20_POLY1305);
}

/*
 * The settings MAC stored with a key row is HMAC-SHA256 under
 * HKDF-SHA256(root key, info "sealflow keystore settings mac key v1") of
 * the encoding docs/KEYSTORE.md gives, built here byte by byte.
 */
static void test_settings_mac_matches_documented_encoding(void **state)
{
    static const char info[] = "sealflow keystore settings mac key v1";
    static const char label[] = "sealflow keystore settings v1";
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_deletion_allowed = true,
                              .deletion_allowed = true,
                              .has_rotation_period = true,
                              .rotation_period_s = 86400};
    struct sf_key_info k;
    uint8_t msg[256];
    uint8_t key[32];
    uint8_t want[32];
    uint8_t got[40];
    size_t n = 0;

    create(f->ks, "team/orders", SF_KEY_CHACHA20_POLY1305);
    assert_int_equal(sf_keystore_rotate(f->ks, "team/orders", NULL), SF_OK);
    assert_int_equal(sf_keystore_config(f->ks, "team/orders", &c, NULL), SF_OK);
    c = (struct sf_key_config){.has_min_decryption_version = true,
                               .min_decryption_version = 2,
                               .has_min_encryption_version = true,
                               .min_encryption_version = 2};
    assert_int_equal(sf_keystore_config(f->ks, "team/orders", &c, &k), SF_OK);

    memcpy(msg, label, sizeof label); /* with its NUL: the 0x00 */
    n = sizeof label;
    msg[n++] = 11;
    memcpy(msg + n, "team/orders", 11);
    n += 11;
    msg[n++] = 2;          /* chacha20-poly1305 */
    put_be(msg, &n, 2, 4); /* latest */
    put_be(msg, &n, 1, 4); /* min_available */
    put_be(msg, &n, 2, 4); /* min_decryption */
    put_be(msg, &n, 2, 4); /* min_encryption */
    msg[n++] = 1;          /* deletion_allowed */
    put_be(msg, &n, 86400, 8);
    put_be(msg, &n, (uint64_t)k.created_at, 8);
    put_be(msg, &n, (uint64_t)k.latest_created_at, 8);
    assert_int_equal(n, 30 + 1 + 11 + 1 + 16 + 1 + 24);

    assert_int_equal(sf_hkdf(SF_MD_SHA256, NULL, 0, sf_secret_cdata(f->root),
                             32, (const uint8_t *)info, sizeof info - 1, key,
                             sizeof key),
                     SF_OK);
    assert_int_equal(sf_hmac(SF_MD_SHA256, key, sizeof key, msg, n, want),
                     SF_OK);
    assert_int_equal(tu_blob(f->db,
                             "SELECT settings_mac FROM keys"
                             " WHERE name = 'team/orders'",
                             got, sizeof got),
                     32);
    assert_memory_equal(got, want, 32);
}

static void test_keystore_open_refuses_older_schema(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    assert_int_equal(
        tu_sql(f->db, "UPDATE meta SET v = 1 WHERE k = 'schema_version'"), 0);
    assert_int_equal(sf_keystore_open(f->db, f->root, &ks), SF_ERR_UNSUPPORTED);
    assert_null(ks);
    assert_non_null(strstr(sf_last_error(), "schema version 1, an older"));
    assert_non_null(strstr(sf_last_error(), "sealflow init"));
    assert_non_null(strstr(sf_last_error(), f->db));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_wrap_round_trip_aes256_gcm96),
        T(test_wrap_round_trip_chacha20_poly1305),
        T(test_wrap_round_trip_x25519),
        T(test_x25519_unwrap_refuses_low_order_enc_as_auth),
        T(test_wrap_round_trip_rsa_3072),
        T(test_wrap_round_trip_rsa_4096),
        T(test_wrap_binds_key_name_and_version),
        T(test_wrap_format_matches_documented_binding),
        T(test_rsa_wrap_uses_oaep_label_binding),
        T(test_public_key_forms),
        T(test_rotate_then_unwrap_old_and_new),
        T(test_unwrap_version_errors_name_key_and_version),
        T(test_wrap_rejects_bad_sizes_and_leaves_output),
        T(test_create_key_defaults_and_refusals),
        T(test_list_returns_keys_in_name_order),
        T(test_keystore_reopens_with_same_root_key),
        T(test_keystore_open_refuses_wrong_root_key),
        T(test_keystore_open_refuses_other_files),
        T(test_keystore_create_refuses_existing_file),
        T(test_keystore_schema_version_is_checked),
        T(test_aes_wrap_follows_documented_derivation),
        T(test_chacha_wrap_follows_documented_derivation),
        T(test_settings_mac_matches_documented_encoding),
        T(test_keystore_open_refuses_older_schema),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
