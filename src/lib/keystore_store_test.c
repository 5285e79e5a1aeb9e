/*
 * The keystore file as others see it: rows edited or swapped by someone
 * with write access, a second handle (another process in real life) on
 * the same file, and threads sharing one handle.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "keystore_testutil.h"
#include "sealflow/keystore.h"

static const uint8_t secret24[24] = "twenty-four byte secret";

static void wrap(struct sf_keystore *ks, const char *name, uint32_t v,
                 struct sf_buf *out, uint32_t *used)
{
    sf_buf_reset(out);
    assert_int_equal(sf_keystore_wrap(ks, name, v, NULL, 0, secret24,
                                      sizeof secret24, out, used),
                     SF_OK);
}

static sf_status unwrap(struct sf_keystore *ks, const char *name, uint32_t v,
                        const struct sf_buf *ct)
{
    struct sf_secret *pt = NULL;
    sf_status rc =
        sf_keystore_unwrap(ks, name, v, NULL, 0, ct->data, ct->len, &pt);

    if (rc == SF_OK) {
        assert_memory_equal(sf_secret_cdata(pt), secret24, sizeof secret24);
    }
    sf_secret_free(pt);
    return rc;
}

/* Closes the fixture's handle, applies sql to the file, and reopens it,
 * so nothing cached hides the edit. */
static void tamper(struct ks_fixture *f, const char *sql)
{
    sf_keystore_close(f->ks);
    f->ks = NULL;
    assert_int_equal(tu_sql(f->db, sql), 0);
    assert_int_equal(sf_keystore_open(f->db, f->root, &f->ks), SF_OK);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void test_material_swapped_between_keys_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "a", SF_KEY_AES256_GCM96, NULL), SF_OK);
    assert_int_equal(
        sf_keystore_create_key(f->ks, "b", SF_KEY_AES256_GCM96, NULL), SF_OK);
    wrap(f->ks, "b", 1, &ct, NULL);
    /* Give key "a" the sealed material of key "b": the attacker hopes
     * "a" now opens what "b" wrapped (or the reverse). */
    tamper(f, "UPDATE key_versions SET material = (SELECT material FROM"
              " key_versions WHERE name = 'b' AND version = 1)"
              " WHERE name = 'a' AND version = 1");
    assert_int_equal(unwrap(f->ks, "a", 1, &ct), SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "key 'a' version 1"));
    assert_non_null(strstr(sf_last_error(), "failed authentication"));
    assert_int_equal(unwrap(f->ks, "b", 1, &ct), SF_OK);
    sf_buf_free(&ct);
}

static void test_material_swapped_between_versions_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "a", SF_KEY_CHACHA20_POLY1305, NULL),
        SF_OK);
    assert_int_equal(sf_keystore_rotate(f->ks, "a", NULL), SF_OK);
    wrap(f->ks, "a", 1, &ct, NULL);
    tamper(f, "CREATE TEMP TABLE s AS SELECT version, material"
              " FROM key_versions WHERE name = 'a';"
              "UPDATE key_versions SET material = (SELECT material FROM s"
              " WHERE s.version = 3 - key_versions.version)"
              " WHERE name = 'a'");
    assert_int_equal(unwrap(f->ks, "a", 1, &ct), SF_ERR_STORE);
    assert_int_equal(unwrap(f->ks, "a", 2, &ct), SF_ERR_STORE);
    sf_buf_free(&ct);
}

static void test_changed_key_type_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "a", SF_KEY_AES256_GCM96, NULL), SF_OK);
    wrap(f->ks, "a", 1, &ct, NULL);
    tamper(f, "UPDATE keys SET type = 'chacha20-poly1305' WHERE name = 'a'");
    assert_int_equal(unwrap(f->ks, "a", 1, &ct), SF_ERR_STORE);
    tamper(f, "UPDATE keys SET type = 'rot13' WHERE name = 'a'");
    assert_int_equal(unwrap(f->ks, "a", 1, &ct), SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "damaged"));
    sf_buf_free(&ct);
}

static void test_replaced_public_part_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf pub = SF_BUF_INIT;

    assert_int_equal(sf_keystore_create_key(f->ks, "p", SF_KEY_X25519, NULL),
                     SF_OK);
    assert_int_equal(sf_keystore_create_key(f->ks, "q", SF_KEY_X25519, NULL),
                     SF_OK);
    /* Point p's public part at q's key: wraps to p would reach q. */
    tamper(f, "UPDATE key_versions SET public_part = (SELECT public_part"
              " FROM key_versions WHERE name = 'q') WHERE name = 'p'");
    assert_int_equal(sf_keystore_public_key(f->ks, "p", 1, &pub), SF_ERR_STORE);
    assert_non_null(strstr(sf_last_error(), "public part"));
    assert_int_equal(sf_keystore_wrap(f->ks, "p", 0, NULL, 0, secret24,
                                      sizeof secret24, &pub, NULL),
                     SF_ERR_STORE);
    assert_int_equal(pub.len, 0);
    sf_buf_free(&pub);
}

static void test_second_handle_sees_rotation(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *other = NULL;
    struct sf_buf ct = SF_BUF_INIT;
    uint32_t used = 0;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_AES256_GCM96, NULL),
        SF_OK);
    assert_int_equal(sf_keystore_open(f->db, f->root, &other), SF_OK);
    wrap(other, "orders", 0, &ct, &used);
    assert_int_equal(used, 1);

    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    /* Once the bound has passed, the other handle wraps with the new
     * version. */
    sleep_ms(SF_KEYSTORE_REFRESH_MS + 50);
    wrap(other, "orders", 0, &ct, &used);
    assert_int_equal(used, 2);
    assert_int_equal(unwrap(f->ks, "orders", 2, &ct), SF_OK);

    /* With checks on every call, a rotation shows at once. */
    sf_keystore_set_refresh_ms(other, 0);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    wrap(other, "orders", 0, &ct, &used);
    assert_int_equal(used, 3);
    sf_keystore_close(other);
    sf_buf_free(&ct);
}

static void test_unwrap_of_newer_version_rereads_at_once(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *other = NULL;
    struct sf_buf ct = SF_BUF_INIT;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_X25519, NULL), SF_OK);
    assert_int_equal(sf_keystore_open(f->db, f->root, &other), SF_OK);
    sf_keystore_set_refresh_ms(other, 600000);
    wrap(other, "orders", 0, &ct, NULL);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    wrap(f->ks, "orders", 0, &ct, NULL);
    assert_int_equal(unwrap(other, "orders", 2, &ct), SF_OK);
    sf_keystore_close(other);
    sf_buf_free(&ct);
}

static void test_second_handle_sees_retirement_and_delete(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 2,
                              .has_deletion_allowed = true,
                              .deletion_allowed = true};
    struct sf_keystore *other = NULL;
    struct sf_buf ct = SF_BUF_INIT;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_AES256_GCM96, NULL),
        SF_OK);
    assert_int_equal(sf_keystore_open(f->db, f->root, &other), SF_OK);
    sf_keystore_set_refresh_ms(other, 0);
    wrap(other, "orders", 0, &ct, NULL);
    assert_int_equal(unwrap(other, "orders", 1, &ct), SF_OK);

    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(unwrap(other, "orders", 1, &ct), SF_ERR_KEY_VERSION);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_OK);
    assert_int_equal(sf_keystore_wrap(other, "orders", 0, NULL, 0, secret24,
                                      sizeof secret24, &ct, NULL),
                     SF_ERR_KEY_NOT_FOUND);
    sf_keystore_close(other);
    sf_buf_free(&ct);
}

struct worker {
    struct sf_keystore *ks;
    int failures;
    uint32_t max_version;
};

/* Wraps and unwraps in a loop while the main thread rotates. */
static void *work(void *arg)
{
    struct worker *w = arg;
    struct sf_buf ct = SF_BUF_INIT;

    for (int i = 0; i < 3000; i++) {
        struct sf_secret *pt = NULL;
        uint32_t v = 0;

        sf_buf_reset(&ct);
        if (sf_keystore_wrap(w->ks, "shared", 0, secret24, 8, secret24,
                             sizeof secret24, &ct, &v) != SF_OK ||
            sf_keystore_unwrap(w->ks, "shared", v, secret24, 8, ct.data, ct.len,
                               &pt) != SF_OK ||
            memcmp(sf_secret_cdata(pt), secret24, sizeof secret24) != 0) {
            w->failures++;
        }
        sf_secret_free(pt);
        w->max_version = v > w->max_version ? v : w->max_version;
    }
    sf_buf_free(&ct);
    return NULL;
}

static void test_threads_share_one_handle_during_rotation(void **state)
{
    struct ks_fixture *f = *state;
    struct worker w[4];
    pthread_t t[4];

    assert_int_equal(
        sf_keystore_create_key(f->ks, "shared", SF_KEY_AES256_GCM96, NULL),
        SF_OK);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.ks = f->ks};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sf_keystore_rotate(f->ks, "shared", NULL), SF_OK);
        sleep_ms(2);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        assert_true(w[i].max_version >= 1 && w[i].max_version <= 6);
    }
}

/* The message every detected settings edit leaves. */
static void expect_settings_edit(const char *name)
{
    char want[160];

    snprintf(want, sizeof want,
             "the keystore settings for key '%s' were modified outside "
             "sealflow",
             name);
    assert_non_null(strstr(sf_last_error(), want));
}

/*
 * Lowering min_decryption_version in the file would re-enable a retired
 * version; the settings MAC catches it on every path that loads the key.
 */
static void test_edited_min_decryption_version_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 2};
    struct sf_key_info *list = NULL;
    struct sf_key_info info;
    struct sf_buf ct = SF_BUF_INIT;
    size_t n = 0;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_AES256_GCM96, NULL),
        SF_OK);
    wrap(f->ks, "orders", 1, &ct, NULL);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_OK);
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(unwrap(f->ks, "orders", 1, &ct), SF_ERR_KEY_VERSION);

    tamper(f, "UPDATE keys SET min_decryption_version = 1"
              " WHERE name = 'orders'");
    assert_int_equal(unwrap(f->ks, "orders", 1, &ct), SF_ERR_STORE);
    expect_settings_edit("orders");
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info),
                     SF_ERR_STORE);
    expect_settings_edit("orders");
    assert_int_equal(sf_keystore_list(f->ks, &list, &n), SF_ERR_STORE);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", NULL), SF_ERR_STORE);

    /* Putting the value back restores the key. */
    tamper(f, "UPDATE keys SET min_decryption_version = 2"
              " WHERE name = 'orders'");
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info), SF_OK);
    assert_int_equal(info.min_decryption_version, 2);
    assert_int_equal(unwrap(f->ks, "orders", 1, &ct), SF_ERR_KEY_VERSION);
    sf_buf_free(&ct);
}

/* Setting deletion_allowed in the file does not let sealflow delete the
 * key: the delete is refused and every row stays. */
static void test_edited_deletion_allowed_is_detected(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;
    char *before;
    char *after;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_AES256_GCM96, NULL),
        SF_OK);
    wrap(f->ks, "orders", 1, &ct, NULL);
    tamper(f, "UPDATE keys SET deletion_allowed = 1 WHERE name = 'orders'");
    before = tu_snapshot(f->db);
    assert_non_null(before);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_ERR_STORE);
    expect_settings_edit("orders");
    after = tu_snapshot(f->db);
    assert_non_null(after);
    assert_string_equal(before, after);
    assert_non_null(strstr(after, "orders|1|"));

    tamper(f, "UPDATE keys SET deletion_allowed = 0 WHERE name = 'orders'");
    assert_int_equal(unwrap(f->ks, "orders", 1, &ct), SF_OK);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_ERR_KEY_CONFIG);
    free(before);
    free(after);
    sf_buf_free(&ct);
}

/* Every column the MAC covers, edited alone, is caught; so is a MAC
 * copied from a key whose other settings are identical. */
static void test_every_settings_column_is_authenticated(void **state)
{
    static const char *const edits[] = {
        "created_at = created_at - 1",
        "latest_created_at = latest_created_at + 1",
        "latest_version = 2",
        "min_available_version = 2",
        "min_decryption_version = 3",
        "min_encryption_version = 2",
        "deletion_allowed = 1",
        "rotation_period_s = 60",
        "type = 'chacha20-poly1305'",
        "settings_mac = zeroblob(32)",
        /* The whole row of another key: only the name differs. */
        "(type, created_at, latest_created_at, latest_version,"
        " min_available_version, min_decryption_version,"
        " min_encryption_version, deletion_allowed, rotation_period_s,"
        " settings_mac) = (SELECT type, created_at, latest_created_at,"
        " latest_version, min_available_version, min_decryption_version,"
        " min_encryption_version, deletion_allowed, rotation_period_s,"
        " settings_mac FROM keys WHERE name = 'twin')",
    };
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 2};
    char sql[600];

    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        struct sf_key_info info;

        assert_int_equal(
            sf_keystore_create_key(f->ks, "k", SF_KEY_AES256_GCM96, NULL),
            SF_OK);
        assert_int_equal(
            sf_keystore_create_key(f->ks, "twin", SF_KEY_AES256_GCM96, NULL),
            SF_OK);
        for (int r = 0; r < 2; r++) {
            assert_int_equal(sf_keystore_rotate(f->ks, "k", NULL), SF_OK);
            assert_int_equal(sf_keystore_rotate(f->ks, "twin", NULL), SF_OK);
        }
        assert_int_equal(sf_keystore_config(f->ks, "k", &c, NULL), SF_OK);
        assert_int_equal(sf_keystore_config(f->ks, "twin", &c, NULL), SF_OK);
        assert_int_equal(sf_keystore_key_info(f->ks, "k", &info), SF_OK);
        snprintf(sql, sizeof sql, "UPDATE keys SET %s WHERE name = 'k'",
                 edits[i]);
        tamper(f, sql);
        if (sf_keystore_key_info(f->ks, "k", &info) != SF_ERR_STORE) {
            fail_msg("edit %zu (%s) was not detected", i, edits[i]);
        }
        expect_settings_edit("k");
        tamper(f, "DELETE FROM key_versions; DELETE FROM keys");
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_material_swapped_between_keys_is_detected),
        T(test_material_swapped_between_versions_is_detected),
        T(test_changed_key_type_is_detected),
        T(test_replaced_public_part_is_detected),
        T(test_edited_min_decryption_version_is_detected),
        T(test_edited_deletion_allowed_is_detected),
        T(test_every_settings_column_is_authenticated),
        T(test_second_handle_sees_rotation),
        T(test_unwrap_of_newer_version_rereads_at_once),
        T(test_second_handle_sees_retirement_and_delete),
        T(test_threads_share_one_handle_during_rotation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
