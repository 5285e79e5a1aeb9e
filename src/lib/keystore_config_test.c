#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore_internal.h"
#include "keystore_testutil.h"
#include "sealflow/keystore.h"

static const uint8_t secret16[16] = "sixteen byte key";

/* Creates key "orders" with versions 1..latest. */
static void make_orders(struct sf_keystore *ks, uint32_t latest)
{
    assert_int_equal(
        sf_keystore_create_key(ks, "orders", SF_KEY_AES256_GCM96, NULL), SF_OK);
    for (uint32_t v = 2; v <= latest; v++) {
        uint32_t got = 0;

        assert_int_equal(sf_keystore_rotate(ks, "orders", &got), SF_OK);
        assert_int_equal(got, v);
    }
}

static void wrap_v(struct sf_keystore *ks, uint32_t v, struct sf_buf *out)
{
    sf_buf_reset(out);
    assert_int_equal(sf_keystore_wrap(ks, "orders", v, NULL, 0, secret16,
                                      sizeof secret16, out, NULL),
                     SF_OK);
}

static sf_status unwrap_v(struct sf_keystore *ks, uint32_t v,
                          const struct sf_buf *ct)
{
    struct sf_secret *pt = NULL;
    sf_status rc =
        sf_keystore_unwrap(ks, "orders", v, NULL, 0, ct->data, ct->len, &pt);

    if (rc == SF_OK) {
        assert_memory_equal(sf_secret_cdata(pt), secret16, sizeof secret16);
    }
    sf_secret_free(pt);
    return rc;
}

struct config_case {
    uint32_t latest;
    int min_dec; /* -1: leave unchanged */
    int min_enc;
    sf_status want;
    uint32_t want_dec;
    uint32_t want_enc;
    const char *why; /* in sf_last_error() on failure */
};

static const struct config_case config_cases[] = {
    {3, 1, 0, SF_OK, 1, 0, NULL},
    {3, 2, 0, SF_OK, 2, 0, NULL},
    {3, 3, 0, SF_OK, 3, 0, NULL},
    {3, 2, 2, SF_OK, 2, 2, NULL},
    {3, 2, 3, SF_OK, 2, 3, NULL},
    {3, 1, 3, SF_OK, 1, 3, NULL},
    {3, 3, 3, SF_OK, 3, 3, NULL},
    {3, -1, 2, SF_OK, 1, 2, NULL},
    {3, 2, -1, SF_OK, 2, 0, NULL},
    {1, 1, 1, SF_OK, 1, 1, NULL},
    {3, 0, -1, SF_ERR_KEY_CONFIG, 1, 0, "at least 1"},
    {3, 4, -1, SF_ERR_KEY_CONFIG, 1, 0,
     "min_decryption_version 4 is above the latest version 3"},
    {3, -1, 4, SF_ERR_KEY_CONFIG, 1, 0,
     "min_encryption_version 4 is above the latest version 3"},
    {3, 3, 2, SF_ERR_KEY_CONFIG, 1, 0,
     "min_encryption_version 2 is below min_decryption_version 3"},
    {3, 2, 1, SF_ERR_KEY_CONFIG, 1, 0,
     "min_encryption_version 1 is below min_decryption_version 2"},
    {1, 2, 0, SF_ERR_KEY_CONFIG, 1, 0, "above the latest version 1"},
};

static void test_config_version_rule_matrix(void **state)
{
    struct ks_fixture *f = *state;

    for (size_t i = 0; i < sizeof config_cases / sizeof config_cases[0]; i++) {
        const struct config_case *t = &config_cases[i];
        struct sf_key_config c = {0};
        struct sf_key_info info;
        char name[32];

        snprintf(name, sizeof name, "k%zu", i);
        assert_int_equal(
            sf_keystore_create_key(f->ks, name, SF_KEY_AES256_GCM96, NULL),
            SF_OK);
        for (uint32_t v = 2; v <= t->latest; v++) {
            assert_int_equal(sf_keystore_rotate(f->ks, name, NULL), SF_OK);
        }
        c.has_min_decryption_version = t->min_dec >= 0;
        c.min_decryption_version = (uint32_t)(t->min_dec < 0 ? 0 : t->min_dec);
        c.has_min_encryption_version = t->min_enc >= 0;
        c.min_encryption_version = (uint32_t)(t->min_enc < 0 ? 0 : t->min_enc);
        if (sf_keystore_config(f->ks, name, &c, NULL) != t->want) {
            fail_msg("case %zu: unexpected result: %s", i, sf_last_error());
        }
        if (t->why != NULL && strstr(sf_last_error(), t->why) == NULL) {
            fail_msg("case %zu: '%s' lacks '%s'", i, sf_last_error(), t->why);
        }
        assert_int_equal(sf_keystore_key_info(f->ks, name, &info), SF_OK);
        assert_int_equal(info.min_decryption_version, t->want_dec);
        assert_int_equal(info.min_encryption_version, t->want_enc);
    }
}

static void test_config_sets_flags_and_period(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_deletion_allowed = true,
                              .deletion_allowed = true,
                              .has_rotation_period = true,
                              .rotation_period_s = 86400};
    struct sf_key_info info;

    make_orders(f->ks, 1);
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, &info), SF_OK);
    assert_true(info.deletion_allowed);
    assert_int_equal(info.rotation_period_s, 86400);
    memset(&info, 0, sizeof info);
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info), SF_OK);
    assert_true(info.deletion_allowed);
    assert_int_equal(info.rotation_period_s, 86400);
    assert_int_equal(info.min_decryption_version, 1);

    c = (struct sf_key_config){.has_rotation_period = true,
                               .rotation_period_s = UINT64_MAX};
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL),
                     SF_ERR_KEY_CONFIG);
    assert_int_equal(sf_keystore_config(f->ks, "none", &c, NULL),
                     SF_ERR_KEY_NOT_FOUND);
}

static void test_min_encryption_steers_explicit_wraps(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_min_encryption_version = true,
                              .min_encryption_version = 2};
    struct sf_buf ct = SF_BUF_INIT;
    uint32_t used = 0;

    make_orders(f->ks, 3);
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_wrap(f->ks, "orders", 1, NULL, 0, secret16,
                                      sizeof secret16, &ct, &used),
                     SF_ERR_KEY_VERSION);
    assert_string_equal(
        sf_last_error(),
        "key 'orders' version 1 is below min_encryption_version 2");
    assert_int_equal(sf_keystore_wrap(f->ks, "orders", 0, NULL, 0, secret16,
                                      sizeof secret16, &ct, &used),
                     SF_OK);
    assert_int_equal(used, 3);
    sf_buf_free(&ct);
}

static void test_delete_refused_until_allowed(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_deletion_allowed = true,
                              .deletion_allowed = true};
    struct sf_key_info info;
    struct sf_buf ct = SF_BUF_INIT;

    make_orders(f->ks, 2);
    wrap_v(f->ks, 2, &ct);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_ERR_KEY_CONFIG);
    assert_non_null(strstr(sf_last_error(),
                           "sealflow keys config orders --deletion-allowed"));
    assert_int_equal(unwrap_v(f->ks, 2, &ct), SF_OK);

    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_OK);
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info),
                     SF_ERR_KEY_NOT_FOUND);
    assert_int_equal(unwrap_v(f->ks, 2, &ct), SF_ERR_KEY_NOT_FOUND);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_ERR_KEY_NOT_FOUND);

    /* A new key of the same name starts again at version 1 and cannot
     * open what the old one wrapped. */
    make_orders(f->ks, 2);
    assert_int_equal(unwrap_v(f->ks, 2, &ct), SF_ERR_AUTH);
    sf_buf_free(&ct);
}

static void test_trim_follows_vault_rules(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 3};
    struct sf_buf ct[5] = {SF_BUF_INIT, SF_BUF_INIT, SF_BUF_INIT, SF_BUF_INIT,
                           SF_BUF_INIT};
    struct sf_key_info info;

    make_orders(f->ks, 4);
    for (uint32_t v = 1; v <= 4; v++) {
        wrap_v(f->ks, v, &ct[v]);
    }
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 2), SF_ERR_KEY_CONFIG);
    assert_non_null(strstr(sf_last_error(), "raise those first"));
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 0), SF_ERR_KEY_CONFIG);

    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 3), SF_OK);
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info), SF_OK);
    assert_int_equal(info.min_available_version, 3);
    assert_int_equal(unwrap_v(f->ks, 2, &ct[2]), SF_ERR_KEY_VERSION);
    assert_string_equal(sf_last_error(), "key 'orders' version 2 was trimmed "
                                         "(min_available_version 3)");
    assert_int_equal(unwrap_v(f->ks, 3, &ct[3]), SF_OK);
    assert_int_equal(unwrap_v(f->ks, 4, &ct[4]), SF_OK);

    /* Trimmed stays trimmed; the same minimum again changes nothing. */
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 2), SF_ERR_KEY_CONFIG);
    assert_non_null(strstr(sf_last_error(), "already trimmed"));
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 3), SF_OK);
    c.min_decryption_version = 2;
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL),
                     SF_ERR_KEY_CONFIG);
    assert_non_null(strstr(sf_last_error(), "min_available_version 3"));

    /* min_encryption, when set, bounds trim as well. */
    c = (struct sf_key_config){.has_min_decryption_version = true,
                               .min_decryption_version = 4,
                               .has_min_encryption_version = true,
                               .min_encryption_version = 4};
    assert_int_equal(sf_keystore_config(f->ks, "orders", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 4), SF_OK);
    {
        char *snap = tu_snapshot(f->db);

        assert_non_null(snap);
        assert_null(strstr(snap, "orders|3|"));
        assert_non_null(strstr(snap, "orders|4|"));
        free(snap);
    }
    for (size_t i = 0; i < 5; i++) {
        sf_buf_free(&ct[i]);
    }
}

/* Each refused call leaves the file byte-for-byte as it was. */
static void test_failed_changes_leave_store_unchanged(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_config bad = {.has_min_decryption_version = true,
                                .min_decryption_version = 9};
    char *before;
    char *after;

    make_orders(f->ks, 2);
    before = tu_snapshot(f->db);
    assert_non_null(before);

    assert_int_equal(sf_keystore_rotate(f->ks, "missing", NULL),
                     SF_ERR_KEY_NOT_FOUND);
    assert_non_null(strstr(sf_last_error(), "no key named 'missing'"));
    assert_int_equal(sf_keystore_config(f->ks, "orders", &bad, NULL),
                     SF_ERR_KEY_CONFIG);
    assert_int_equal(sf_keystore_delete(f->ks, "orders"), SF_ERR_KEY_CONFIG);
    assert_int_equal(sf_keystore_trim(f->ks, "orders", 2), SF_ERR_KEY_CONFIG);
    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_X25519, NULL),
        SF_ERR_KEY_EXISTS);
    assert_int_equal(sf_keystore_rotate(f->ks, "bad name", NULL),
                     SF_ERR_KEY_NAME);

    after = tu_snapshot(f->db);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

typedef sf_status (*change)(struct sf_keystore *ks);

static sf_status do_rotate(struct sf_keystore *ks)
{
    return sf_keystore_rotate(ks, "orders", NULL);
}

static sf_status do_create(struct sf_keystore *ks)
{
    return sf_keystore_create_key(ks, "fresh", SF_KEY_X25519, NULL);
}

static sf_status do_config(struct sf_keystore *ks)
{
    struct sf_key_config c = {.has_min_decryption_version = true,
                              .min_decryption_version = 2,
                              .has_deletion_allowed = true,
                              .deletion_allowed = true};

    return sf_keystore_config(ks, "orders", &c, NULL);
}

static sf_status do_trim(struct sf_keystore *ks)
{
    return sf_keystore_trim(ks, "orders", 2);
}

static sf_status do_delete(struct sf_keystore *ks)
{
    return sf_keystore_delete(ks, "orders");
}

/*
 * Fails the change at each of its writes in turn and checks the file is
 * unchanged each time; then the change succeeds. The sequence is
 * rotate (3 writes), create (3), config (2), trim (3), delete (2).
 */
static void test_fault_at_any_write_rolls_back(void **state)
{
    static const struct {
        change fn;
        int writes;
    } steps[] = {{do_rotate, 3},
                 {do_create, 3},
                 {do_config, 2},
                 {do_trim, 3},
                 {do_delete, 2}};
    struct ks_fixture *f = *state;

    make_orders(f->ks, 2);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *before = tu_snapshot(f->db);

        for (int n = 1; n <= steps[i].writes; n++) {
            char *after;

            ks_test_fail_after(f->ks, n, false);
            assert_int_equal(steps[i].fn(f->ks), SF_ERR_STORE);
            assert_non_null(strstr(sf_last_error(), "injected"));
            after = tu_snapshot(f->db);
            assert_string_equal(before, after);
            free(after);
        }
        ks_test_fail_after(f->ks, steps[i].writes + 1, false);
        assert_int_equal(steps[i].fn(f->ks), SF_OK);
        ks_test_fail_after(f->ks, 0, false);
        free(before);
    }
}

/* A process killed in the middle of a rotation (after its version row
 * was written, before the key row) leaves no trace. */
static void test_crash_mid_rotation_loses_nothing(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_buf ct = SF_BUF_INIT;
    struct sf_key_info info;
    char *before;
    char *after;
    int status = 0;
    pid_t pid;

    make_orders(f->ks, 2);
    wrap_v(f->ks, 2, &ct);
    sf_keystore_close(f->ks);
    f->ks = NULL;
    before = tu_snapshot(f->db);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sf_keystore *ks = NULL;

        if (sf_keystore_open(f->db, f->root, &ks) != SF_OK) {
            _exit(1);
        }
        ks_test_fail_after(ks, 2, true);
        _exit(sf_keystore_rotate(ks, "orders", NULL) == SF_OK ? 2 : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 77);

    assert_int_equal(sf_keystore_open(f->db, f->root, &f->ks), SF_OK);
    after = tu_snapshot(f->db);
    assert_string_equal(before, after);
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info), SF_OK);
    assert_int_equal(info.latest_version, 2);
    assert_int_equal(unwrap_v(f->ks, 2, &ct), SF_OK);
    assert_int_equal(sf_keystore_rotate(f->ks, "orders", &info.latest_version),
                     SF_OK);
    assert_int_equal(info.latest_version, 3);
    free(before);
    free(after);
    sf_buf_free(&ct);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_version_rule_matrix),
        T(test_config_sets_flags_and_period),
        T(test_min_encryption_steers_explicit_wraps),
        T(test_delete_refused_until_allowed),
        T(test_trim_follows_vault_rules),
        T(test_failed_changes_leave_store_unchanged),
        T(test_fault_at_any_write_rolls_back),
        T(test_crash_mid_rotation_loses_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
