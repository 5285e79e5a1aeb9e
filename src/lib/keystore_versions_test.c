/*
 * Version rows and their creation times (sf_keystore_versions), the
 * authentication of those times, the upgrade of schema version 2 files,
 * and empty secrets.
 *
 * The rows are rewritten here by following docs/KEYSTORE.md ("Material
 * sealing") with the root key, as only sealflow could, to give a version
 * a chosen time or to make the file a schema version 2 one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aead.h"
#include "kdf.h"
#include "keystore_testutil.h"
#include "sealflow/keystore.h"

#define T_2023 1700000000

static const uint8_t aad[] = "record 7 / field iban";
static const uint8_t secret16[16] = "sixteen byte key";

static void create(struct sf_keystore *ks, const char *name,
                   enum sf_key_type type)
{
    assert_int_equal(sf_keystore_create_key(ks, name, type, NULL), SF_OK);
}

static void put_be(uint8_t *buf, size_t *n, uint64_t v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[(*n)++] = (uint8_t)(v >> (8 * (len - 1 - i)));
    }
}

/* label || 0x00 || u8 len(name) || name || u32 version || u8 type, and
 * the creation time when with_time is set; docs/KEYSTORE.md. */
static size_t material_aad(const char *label, const char *name, uint32_t v,
                           enum sf_key_type type, bool with_time,
                           int64_t created_at, uint8_t *out)
{
    size_t n = strlen(label) + 1;

    memcpy(out, label, n);
    out[n++] = (uint8_t)strlen(name);
    memcpy(out + n, name, strlen(name));
    n += strlen(name);
    put_be(out, &n, v, 4);
    out[n++] = (uint8_t)type;
    if (with_time) {
        put_be(out, &n, (uint64_t)created_at, 8);
    }
    return n;
}

/*
 * Opens version v of name as stored (current format) and writes it back
 * sealed with the current format and new_time as its creation time, or,
 * with to_schema2, with the schema version 2 format and its time kept.
 * The keystore must not be open on a handle that cached the key.
 */
static void reseal(const struct ks_fixture *f, const char *name, uint32_t v,
                   enum sf_key_type type, bool to_schema2, int64_t new_time)
{
    static const char info[] = "sealflow keystore material key v1";
    uint8_t sealed[4096];
    uint8_t material[4096];
    uint8_t ad[300];
    uint8_t key[32];
    char sql[10000];
    struct sf_aead *a = NULL;
    int64_t old_time = 0;
    size_t ad_len;
    size_t m_len;
    int len;
    int n;

    snprintf(sql, sizeof sql,
             "SELECT material FROM key_versions WHERE name = '%s' AND"
             " version = %u",
             name, (unsigned)v);
    len = tu_blob(f->db, sql, sealed, sizeof sealed);
    assert_true(len > 28);
    m_len = (size_t)len - 28;
    snprintf(sql, sizeof sql,
             "SELECT created_at FROM key_versions WHERE name = '%s' AND"
             " version = %u",
             name, (unsigned)v);
    assert_int_equal(tu_int(f->db, sql, &old_time), 0);
    assert_int_equal(sf_hkdf(SF_MD_SHA256, NULL, 0, sf_secret_cdata(f->root),
                             32, (const uint8_t *)info, sizeof info - 1, key,
                             sizeof key),
                     SF_OK);
    assert_int_equal(sf_aead_new(SF_AEAD_AES_256_GCM, key, 32, &a), SF_OK);
    ad_len = material_aad("sealflow keystore material v2", name, v, type, true,
                          old_time, ad);
    assert_int_equal(sf_aead_open(a, sealed, ad, ad_len, sealed + 12, m_len,
                                  sealed + 12 + m_len, material),
                     SF_OK);

    if (to_schema2) {
        new_time = old_time;
        ad_len = material_aad("sealflow keystore material v1", name, v, type,
                              false, 0, ad);
    } else {
        ad_len = material_aad("sealflow keystore material v2", name, v, type,
                              true, new_time, ad);
    }
    assert_int_equal(sf_random(sealed, 12), SF_OK);
    assert_int_equal(sf_aead_seal(a, sealed, ad, ad_len, material, m_len,
                                  sealed + 12, sealed + 12 + m_len),
                     SF_OK);
    sf_aead_free(a);
    n = snprintf(sql, sizeof sql, "UPDATE key_versions SET created_at = %lld,"
                 " material = X'", (long long)new_time);
    for (size_t i = 0; i < (size_t)len; i++) {
        n += snprintf(sql + n, sizeof sql - (size_t)n, "%02x", sealed[i]);
    }
    snprintf(sql + n, sizeof sql - (size_t)n,
             "' WHERE name = '%s' AND version = %u", name, (unsigned)v);
    assert_int_equal(tu_sql(f->db, sql), 0);
    sf_wipe(material, sizeof material);
    sf_wipe(key, sizeof key);
}

static void close_ks(struct ks_fixture *f)
{
    sf_keystore_close(f->ks);
    f->ks = NULL;
}

static void reopen(struct ks_fixture *f)
{
    assert_int_equal(sf_keystore_open(f->db, f->root, &f->ks), SF_OK);
}

static int64_t meta_int(const struct ks_fixture *f, const char *k)
{
    char sql[100];
    int64_t v = -1;

    snprintf(sql, sizeof sql, "SELECT v FROM meta WHERE k = '%s'", k);
    assert_int_equal(tu_int(f->db, sql, &v), 0);
    return v;
}

static void wrap(struct sf_keystore *ks, const char *name, uint32_t v,
                 struct sf_buf *out)
{
    sf_buf_reset(out);
    assert_int_equal(sf_keystore_wrap(ks, name, v, aad, sizeof aad, secret16,
                                      sizeof secret16, out, NULL),
                     SF_OK);
}

static sf_status unwrap(struct sf_keystore *ks, const char *name, uint32_t v,
                        const struct sf_buf *ct)
{
    struct sf_secret *pt = NULL;
    sf_status rc = sf_keystore_unwrap(ks, name, v, aad, sizeof aad, ct->data,
                                      ct->len, &pt);

    if (rc == SF_OK) {
        assert_int_equal(sf_secret_len(pt), sizeof secret16);
        assert_memory_equal(sf_secret_cdata(pt), secret16, sizeof secret16);
    }
    sf_secret_free(pt);
    return rc;
}

/* ---- sf_keystore_versions ----------------------------------------------- */

static void test_versions_report_each_version_time(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_version_info *list = NULL;
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 2};
    struct sf_key_info k;
    size_t n = 0;

    create(f->ks, "orders", SF_KEY_CHACHA20_POLY1305);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    close_ks(f);
    reseal(f, "orders", 2, SF_KEY_CHACHA20_POLY1305, false, T_2023);
    reopen(f);
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &k), SF_OK);

    assert_int_equal(sf_keystore_versions(f->ks, "orders", &list, &n), SF_OK);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].version, 1);
    assert_int_equal(list[0].created_at, k.created_at);
    assert_int_equal(list[1].version, 2);
    assert_int_equal(list[1].created_at, T_2023);
    assert_int_equal(list[2].version, 3);
    assert_int_equal(list[2].created_at, k.latest_created_at);
    free(list);

    /* Trimmed versions are no longer listed. */
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 2), SF_OK);
    assert_int_equal(sf_keystore_versions(f->ks, "orders", &list, &n), SF_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 2);
    assert_int_equal(list[0].created_at, T_2023);
    assert_int_equal(list[1].version, 3);
    free(list);
}

static void test_versions_of_asymmetric_keys(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_version_info *list = NULL;
    struct sf_key_info k;
    size_t n = 0;

    create(f->ks, "partner", SF_KEY_X25519);
    assert_int_equal(sf_keystore_rotate(f->ks, "partner", NULL), SF_OK);
    assert_int_equal(sf_keystore_key_info(f->ks, "partner", &k), SF_OK);
    assert_int_equal(sf_keystore_versions(f->ks, "partner", &list, &n), SF_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].created_at, k.created_at);
    assert_int_equal(list[1].created_at, k.latest_created_at);
    free(list);
}

static void test_edited_version_time_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_version_info *list = (struct sf_key_version_info *)1;
    struct sf_buf ct = SF_BUF_INIT;
    size_t n = 9;

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    wrap(f->ks, "orders", 2, &ct);
    close_ks(f);
    /* Version 2's time is covered by no settings MAC, only by the
     * associated data of its material. */
    assert_int_equal(tu_sql(f->db, "UPDATE key_versions SET created_at ="
                                   " created_at - 86400 WHERE version = 2"),
                     0);
    reopen(f);

    assert_int_equal(sf_keystore_versions(f->ks, "orders", &list, &n),
                     SF_ERR_STORE);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_non_null(strstr(sf_last_error(), "version 2 failed"));
    assert_non_null(strstr(sf_last_error(), "creation time"));
    assert_int_equal(unwrap(f->ks, "orders", 2, &ct), SF_ERR_STORE);
    sf_buf_free(&ct);
}

static void test_versions_errors(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_version_info *list = NULL;
    size_t n = 0;

    create(f->ks, "orders", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_keystore_versions(f->ks, "nope", &list, &n),
                     SF_ERR_KEY_NOT_FOUND);
    assert_null(list);
    assert_int_equal(sf_keystore_versions(f->ks, "a//b", &list, &n),
                     SF_ERR_KEY_NAME);
    assert_int_equal(sf_keystore_versions(NULL, "orders", &list, &n),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_keystore_versions(f->ks, "orders", NULL, &n),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_keystore_versions(f->ks, "orders", &list, NULL),
                     SF_ERR_INVALID_ARG);

    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    close_ks(f);
    assert_int_equal(
        tu_sql(f->db, "DELETE FROM key_versions WHERE version = 1"), 0);
    reopen(f);
    assert_int_equal(sf_keystore_versions(f->ks, "orders", &list, &n),
                     SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "version 1 is missing"));
    assert_null(list);
}

/* ---- empty secrets ---------------------------------------------------- */

/* An empty secret wraps to the overhead alone (a modulus for RSA),
 * unwraps to SF_OK with no secret, and is still bound to key and aad. */
static void empty_round_trip(struct ks_fixture *f, const char *name,
                             enum sf_key_type type, size_t wrapped_len)
{
    struct sf_secret *pt = (struct sf_secret *)1;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_buf one = SF_BUF_INIT;
    static const uint8_t zero = 0;

    create(f->ks, name, type);
    assert_int_equal(sf_keystore_wrap(f->ks, name, 0, aad, sizeof aad, NULL,
                                      0, &ct, NULL),
                     SF_OK);
    assert_int_equal(ct.len, wrapped_len);
    assert_int_equal(sf_keystore_unwrap(f->ks, name, 1, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_OK);
    assert_null(pt);
    assert_int_equal(sf_secret_len(pt), 0);

    assert_int_equal(sf_keystore_unwrap(f->ks, name, 1, aad, sizeof aad - 1,
                                        ct.data, ct.len, &pt),
                     SF_ERR_AUTH);
    ct.data[ct.len - 1] ^= 1;
    assert_int_equal(sf_keystore_unwrap(f->ks, name, 1, aad, sizeof aad,
                                        ct.data, ct.len, &pt),
                     SF_ERR_AUTH);
    assert_int_equal(sf_keystore_unwrap(f->ks, name, 1, aad, sizeof aad,
                                        ct.data, ct.len - 1, &pt),
                     SF_ERR_AUTH);

    /* One zero byte stays one byte: never confused with empty. */
    assert_int_equal(sf_keystore_wrap(f->ks, name, 0, aad, sizeof aad, &zero,
                                      1, &one, NULL),
                     SF_OK);
    assert_int_equal(sf_keystore_unwrap(f->ks, name, 1, aad, sizeof aad,
                                        one.data, one.len, &pt),
                     SF_OK);
    assert_int_equal(sf_secret_len(pt), 1);
    assert_int_equal(sf_secret_cdata(pt)[0], 0);
    sf_secret_free(pt);
    sf_buf_free(&ct);
    sf_buf_free(&one);
}

static void test_empty_secret_aes256_gcm96(void **state)
{
    empty_round_trip(*state, "e-aes", SF_KEY_AES256_GCM96,
                     SF_KEYSTORE_SYM_OVERHEAD);
}

static void test_empty_secret_chacha20_poly1305(void **state)
{
    empty_round_trip(*state, "e-chacha", SF_KEY_CHACHA20_POLY1305,
                     SF_KEYSTORE_SYM_OVERHEAD);
}

static void test_empty_secret_x25519(void **state)
{
    empty_round_trip(*state, "e-x25519", SF_KEY_X25519,
                     SF_KEYSTORE_X25519_OVERHEAD);
}

static void test_empty_secret_rsa_3072(void **state)
{
    empty_round_trip(*state, "e-rsa", SF_KEY_RSA_3072, 384);
}

/* ---- upgrading schema version 2 -------------------------------------- */

/* Makes the fixture's file what schema version 2 wrote: every version
 * sealed without its creation time, and schema_version 2. */
static void make_schema2(struct ks_fixture *f)
{
    static const struct {
        const char *name;
        enum sf_key_type type;
        uint32_t versions;
    } keys[] = {{"a-orders", SF_KEY_AES256_GCM96, 3},
                {"b-partner", SF_KEY_X25519, 2}};

    close_ks(f);
    for (size_t i = 0; i < 2; i++) {
        for (uint32_t v = 1; v <= keys[i].versions; v++) {
            reseal(f, keys[i].name, v, keys[i].type, true, 0);
        }
    }
    assert_int_equal(
        tu_sql(f->db, "UPDATE meta SET v = 2 WHERE k = 'schema_version'"), 0);
}

static void two_keys(struct ks_fixture *f, struct sf_buf *ct)
{
    create(f->ks, "a-orders", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_keystore_rotate(f->ks, "a-orders", NULL), SF_OK);
    assert_int_equal(sf_keystore_rotate(f->ks, "a-orders", NULL), SF_OK);
    create(f->ks, "b-partner", SF_KEY_X25519);
    assert_int_equal(sf_keystore_rotate(f->ks, "b-partner", NULL), SF_OK);
    wrap(f->ks, "a-orders", 2, ct);
}

static void test_schema2_file_is_upgraded_on_open(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_version_info *list = NULL;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_keystore *plain = NULL;
    char *before = NULL;
    char *after = NULL;
    int64_t gen;
    size_t n = 0;

    two_keys(f, &ct);
    make_schema2(f);
    gen = meta_int(f, "generation");
    /* The old format does not open as the new one. */
    assert_int_equal(tu_sql(f->db, "UPDATE meta SET v = 3 WHERE"
                                   " k = 'schema_version'"),
                     0);
    assert_int_equal(sf_keystore_open(f->db, f->root, &plain), SF_OK);
    assert_int_equal(unwrap(plain, "a-orders", 2, &ct), SF_ERR_STORE);
    sf_keystore_close(plain);
    assert_int_equal(tu_sql(f->db, "UPDATE meta SET v = 2 WHERE"
                                   " k = 'schema_version'"),
                     0);

    reopen(f);
    assert_int_equal(meta_int(f, "schema_version"), 3);
    assert_int_equal(meta_int(f, "generation"), gen + 1);
    assert_int_equal(unwrap(f->ks, "a-orders", 2, &ct), SF_OK);
    assert_int_equal(sf_keystore_versions(f->ks, "b-partner", &list, &n),
                     SF_OK);
    assert_int_equal(n, 2);
    free(list);

    /* Opening again changes nothing. */
    close_ks(f);
    before = tu_snapshot(f->db);
    reopen(f);
    after = tu_snapshot(f->db);
    assert_non_null(before);
    assert_string_equal(before, after);
    free(before);
    free(after);
    sf_buf_free(&ct);
}

static void test_schema2_upgrade_refuses_edited_time(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;
    struct sf_buf ct = SF_BUF_INIT;
    char *before = NULL;
    char *after = NULL;

    two_keys(f, &ct);
    make_schema2(f);
    /* The last key's newest version: its time must equal the key's
     * latest_created_at, which the settings MAC covers. The first key is
     * re-sealed before this is found, and must be rolled back. */
    assert_int_equal(tu_sql(f->db, "UPDATE key_versions SET created_at ="
                                   " created_at + 5 WHERE name = 'b-partner'"
                                   " AND version = 2"),
                     0);
    before = tu_snapshot(f->db);
    assert_int_equal(sf_keystore_open(f->db, f->root, &ks), SF_ERR_STORE);
    assert_null(ks);
    assert_non_null(strstr(sf_last_error(), "creation time of key "
                                            "'b-partner' version 2"));
    after = tu_snapshot(f->db);
    assert_non_null(before);
    assert_string_equal(before, after);
    assert_int_equal(meta_int(f, "schema_version"), 2);
    free(before);
    free(after);
    sf_buf_free(&ct);
}

static void test_schema2_upgrade_needs_the_right_root_key(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks = NULL;
    struct sf_secret *other = NULL;
    struct sf_buf ct = SF_BUF_INIT;

    two_keys(f, &ct);
    make_schema2(f);
    assert_int_equal(sf_secret_random(SF_ROOT_KEY_LEN, &other), SF_OK);
    assert_int_equal(sf_keystore_open(f->db, other, &ks), SF_ERR_ROOT_KEY);
    assert_int_equal(meta_int(f, "schema_version"), 2);
    sf_secret_free(other);
    sf_buf_free(&ct);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_versions_report_each_version_time),
        T(test_versions_of_asymmetric_keys),
        T(test_edited_version_time_is_detected),
        T(test_versions_errors),
        T(test_empty_secret_aes256_gcm96),
        T(test_empty_secret_chacha20_poly1305),
        T(test_empty_secret_x25519),
        T(test_empty_secret_rsa_3072),
        T(test_schema2_file_is_upgraded_on_open),
        T(test_schema2_upgrade_refuses_edited_time),
        T(test_schema2_upgrade_needs_the_right_root_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
