#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sealflow/keystore.h"
#include "sealflow/policy.h"
#include "sealflow/secret.h"

struct fixture {
    char dir[256];
    char db[300];
    struct sf_secret *root;
    struct sf_keystore *ks;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s/sf-policy-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/keystore.db", f->dir);
    if (sf_secret_random(SF_ROOT_KEY_LEN, &f->root) != SF_OK ||
            sf_keystore_create(f->db, f->root, &f->ks) != SF_OK) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[400];

    sf_keystore_close(f->ks);
    sf_secret_free(f->root);
    /* SQLite may leave a journal beside the database. */
    unlink(f->db);
    snprintf(path, sizeof path, "%s-journal", f->db);
    unlink(path);
    snprintf(path, sizeof path, "%s-wal", f->db);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", f->db);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char policy_yaml[] =
    "version: 1\n"
    "classes:\n"
    "  internal:\n"
    "    keys: [internal-kek, kms:remote/kek]\n"
    "  confidential:\n"
    "    keys:\n"
    "      - local:pii-kek\n"
    "      - hsm:pii-wrap\n"
    "      - local:team/pii-backup\n"
    "default: internal\n";

struct reports {
    int count;
    char first[512];
    char last[512];
};

static void collect(void *arg, const char *message)
{
    struct reports *r = arg;

    if (r->count == 0) {
        snprintf(r->first, sizeof r->first, "%s", message);
    }
    snprintf(r->last, sizeof r->last, "%s", message);
    r->count++;
}

static void test_check_keys_reports_each_missing_local_key(void **state)
{
    struct fixture *f = *state;
    struct sf_policy *p = NULL;
    struct reports r = {0, "", ""};

    assert_int_equal(sf_policy_load_buffer(policy_yaml,
                                           sizeof policy_yaml - 1,
                                           "p.yaml", &p),
                     SF_OK);
    assert_int_equal(sf_keystore_create_key(f->ks, "pii-kek",
                                            SF_KEY_AES256_GCM96, NULL),
                     SF_OK);
    assert_int_equal(sf_policy_check_keys(p, f->ks, collect, &r),
                     SF_ERR_KEY_NOT_FOUND);
    /* kms: and hsm: references are not looked up in the keystore. */
    assert_int_equal(r.count, 2);
    assert_string_equal(r.first, "p.yaml:4:12: class 'internal' names key "
                        "'internal-kek', which is not in the keystore; "
                        "create it with `sealflow keys create "
                        "internal-kek`");
    assert_string_equal(r.last, "p.yaml:9:9: class 'confidential' names "
                        "key 'local:team/pii-backup', which is not in the "
                        "keystore; create it with `sealflow keys create "
                        "team/pii-backup`");
    assert_string_equal(sf_last_error(), "p.yaml:4:12: class 'internal' "
                        "names key 'internal-kek', which is not in the "
                        "keystore");

    assert_int_equal(sf_keystore_create_key(f->ks, "internal-kek",
                                            SF_KEY_CHACHA20_POLY1305, NULL),
                     SF_OK);
    assert_int_equal(sf_keystore_create_key(f->ks, "team/pii-backup",
                                            SF_KEY_X25519, NULL),
                     SF_OK);
    r.count = 0;
    assert_int_equal(sf_policy_check_keys(p, f->ks, collect, &r), SF_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(sf_policy_check_keys(p, f->ks, NULL, NULL), SF_OK);
    assert_int_equal(sf_policy_check_keys(p, NULL, NULL, NULL),
                     SF_ERR_INVALID_ARG);
    sf_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_check_keys_reports_each_missing_local_key, setup,
            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
