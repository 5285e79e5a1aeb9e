#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "sealflow/tokens.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sf-tokens-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/keystore.tokens", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_rule_parse_reads_glob_and_operations(void **state)
{
    struct sf_token_rule r;
    char text[200];

    (void)state;
    assert_int_equal(sf_token_rule_parse("app-*:encrypt,decrypt", &r),
                     SF_OK);
    assert_string_equal(r.glob, "app-*");
    assert_int_equal(r.ops, SF_OP_ENCRYPT | SF_OP_DECRYPT);
    assert_int_equal(sf_token_rule_format(&r, text, sizeof text), SF_OK);
    assert_string_equal(text, "app-*:encrypt,decrypt");

    assert_int_equal(sf_token_rule_parse("*:*", &r), SF_OK);
    assert_int_equal(r.ops, SF_OP_ALL);
    assert_int_equal(sf_token_rule_parse("a/b:datakey-wrapped,trim", &r),
                     SF_OK);
    assert_int_equal(r.ops, SF_OP_DATAKEY_WRAPPED | SF_OP_TRIM);
}

static void test_rule_parse_rejects_malformed_rules(void **state)
{
    static const char *const bad[] = {
        "app-*", ":encrypt", "app:", "app:encrypt,", "app:,encrypt",
        "app:encrypt,,decrypt", "app:sign", "app:Encrypt",
    };
    struct sf_token_rule r;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sf_token_rule_parse(bad[i], &r), SF_ERR_FORMAT);
        assert_int_equal(r.ops, 0);
        assert_string_equal(r.glob, "");
    }
}

static void test_op_names_round_trip(void **state)
{
    uint32_t op;

    (void)state;
    for (uint32_t bit = 1; bit & SF_OP_ALL; bit <<= 1) {
        const char *name = sf_token_op_name(bit);

        assert_non_null(name);
        assert_int_equal(sf_token_op_parse(name, &op), SF_OK);
        assert_int_equal(op, bit);
    }
    assert_null(sf_token_op_name(SF_OP_READ | SF_OP_LIST));
    assert_null(sf_token_op_name(1u << 12));
}

static struct sf_token_info with_rules(const char *const *rules, size_t n)
{
    struct sf_token_info t;

    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sf_token_rule_parse(rules[i], &t.rules[i]), SF_OK);
    }
    t.rule_count = n;
    return t;
}

static void test_allows_matches_glob_and_operation(void **state)
{
    static const char *const rules[] = {"app-*:encrypt,decrypt",
                                        "team/?/k:read", "exact:rotate"};
    struct sf_token_info t = with_rules(rules, 3);

    (void)state;
    assert_true(sf_token_allows(&t, SF_OP_ENCRYPT, "app-orders"));
    assert_true(sf_token_allows(&t, SF_OP_DECRYPT, "app-"));
    assert_true(sf_token_allows(&t, SF_OP_ENCRYPT, "app-a/b/c"));
    assert_false(sf_token_allows(&t, SF_OP_REWRAP, "app-orders"));
    assert_false(sf_token_allows(&t, SF_OP_ENCRYPT, "xapp-orders"));
    assert_true(sf_token_allows(&t, SF_OP_READ, "team/x/k"));
    assert_false(sf_token_allows(&t, SF_OP_READ, "team/xy/k"));
    assert_true(sf_token_allows(&t, SF_OP_ROTATE, "exact"));
    assert_false(sf_token_allows(&t, SF_OP_ROTATE, "exact2"));
    assert_false(sf_token_allows(&t, SF_OP_DELETE, "exact"));
    /* No particular key: any rule granting the operation counts. */
    assert_true(sf_token_allows(&t, SF_OP_READ, NULL));
    assert_false(sf_token_allows(&t, SF_OP_LIST, NULL));
}

static void test_allows_denies_by_default_and_root_allows_all(void **state)
{
    struct sf_token_info t;

    (void)state;
    memset(&t, 0, sizeof t);
    for (uint32_t bit = 1; bit & SF_OP_ALL; bit <<= 1) {
        assert_false(sf_token_allows(&t, bit, "k"));
    }
    t.is_root = true;
    for (uint32_t bit = 1; bit & SF_OP_ALL; bit <<= 1) {
        assert_true(sf_token_allows(&t, bit, "k"));
    }
    assert_false(sf_token_allows(&t, 0, "k"));
}

static void test_store_creates_and_finds_token(void **state)
{
    struct fixture *f = *state;
    static const char *const rules[] = {"app-*:encrypt"};
    struct sf_token_store *ts = NULL;
    struct sf_token_info made;
    struct sf_token_info got;
    char token[SF_TOKEN_LEN + 1];

    assert_int_equal(sf_token_store_open(f->path, &ts), SF_OK);
    assert_int_equal(sf_token_store_count(ts), 0);
    assert_int_equal(sf_token_create(ts, "ci", false, rules, 1, token,
                                     sizeof token, &made), SF_OK);
    assert_int_equal(strlen(token), SF_TOKEN_LEN);
    assert_memory_equal(token, "sfs.", 4);
    assert_int_equal(strlen(made.accessor), SF_TOKEN_ACCESSOR_LEN);

    assert_int_equal(sf_token_lookup(ts, token, &got), SF_OK);
    assert_string_equal(got.accessor, made.accessor);
    assert_string_equal(got.name, "ci");
    assert_false(got.is_root);
    assert_int_equal(got.rule_count, 1);
    assert_true(sf_token_allows(&got, SF_OP_ENCRYPT, "app-x"));

    token[10] ^= 1;
    assert_int_equal(sf_token_lookup(ts, token, &got), SF_ERR_DENIED);
    assert_string_equal(got.accessor, "");
    assert_int_equal(sf_token_lookup(ts, "", &got), SF_ERR_DENIED);
    sf_token_store_close(ts);
}

static void test_store_file_keeps_only_hash(void **state)
{
    struct fixture *f = *state;
    struct sf_token_store *ts = NULL;
    char token[SF_TOKEN_LEN + 1];
    char text[4096];
    struct stat st;
    FILE *fp;
    size_t n;

    assert_int_equal(sf_token_store_open(f->path, &ts), SF_OK);
    assert_int_equal(sf_token_create(ts, "root", true, NULL, 0, token,
                                     sizeof token, NULL), SF_OK);
    sf_token_store_close(ts);

    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fp = fopen(f->path, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_null(strstr(text, token));
    assert_null(strstr(text, token + 4));
    assert_non_null(strstr(text, "\"sha256\""));
}

static void test_store_reload_sees_other_writer_and_revoke(void **state)
{
    struct fixture *f = *state;
    static const char *const rules[] = {"*:read"};
    struct sf_token_store *a = NULL;
    struct sf_token_store *b = NULL;
    struct sf_token_info info;
    char token[SF_TOKEN_LEN + 1];

    assert_int_equal(sf_token_store_open(f->path, &a), SF_OK);
    assert_int_equal(sf_token_store_open(f->path, &b), SF_OK);
    assert_int_equal(sf_token_create(b, "reader", false, rules, 1, token,
                                     sizeof token, &info), SF_OK);
    assert_int_equal(sf_token_store_reload(a), SF_OK);
    assert_int_equal(sf_token_lookup(a, token, &info), SF_OK);

    assert_int_equal(sf_token_revoke(b, info.accessor), SF_OK);
    assert_int_equal(sf_token_revoke(b, info.accessor),
                     SF_ERR_KEY_NOT_FOUND);
    assert_int_equal(sf_token_store_reload(a), SF_OK);
    assert_int_equal(sf_token_lookup(a, token, &info), SF_ERR_DENIED);
    sf_token_store_close(a);
    sf_token_store_close(b);
}

static void test_store_lookup_picks_up_file_changes(void **state)
{
    struct fixture *f = *state;
    static const char *const rules[] = {"*:read"};
    struct timespec wait = {1, 200 * 1000 * 1000};
    struct sf_token_store *a = NULL;
    struct sf_token_store *b = NULL;
    struct sf_token_info info;
    char token[SF_TOKEN_LEN + 1];

    assert_int_equal(sf_token_store_open(f->path, &a), SF_OK);
    assert_int_equal(sf_token_store_open(f->path, &b), SF_OK);
    assert_int_equal(sf_token_create(b, "late", false, rules, 1, token,
                                     sizeof token, &info), SF_OK);
    /* No reload call: the lookup notices the file changed. */
    nanosleep(&wait, NULL);
    assert_int_equal(sf_token_lookup(a, token, &info), SF_OK);
    assert_int_equal(sf_token_revoke(b, info.accessor), SF_OK);
    nanosleep(&wait, NULL);
    assert_int_equal(sf_token_lookup(a, token, &info), SF_ERR_DENIED);
    sf_token_store_close(a);
    sf_token_store_close(b);
}

static void test_store_damaged_file_keeps_loaded_tokens(void **state)
{
    struct fixture *f = *state;
    struct sf_token_store *ts = NULL;
    struct sf_token_info info;
    char token[SF_TOKEN_LEN + 1];
    FILE *fp;

    assert_int_equal(sf_token_store_open(f->path, &ts), SF_OK);
    assert_int_equal(sf_token_create(ts, "root", true, NULL, 0, token,
                                     sizeof token, NULL), SF_OK);
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("{\"format\": \"sealflow-tokens\", \"version\": 1, \"tokens\": "
          "[{\"root\": true}]}\n", fp);
    fclose(fp);
    assert_int_equal(sf_token_store_reload(ts), SF_ERR_FORMAT);
    assert_int_equal(sf_token_lookup(ts, token, &info), SF_OK);
    assert_true(info.is_root);
    sf_token_store_close(ts);
}

static void test_create_rejects_bad_name_and_rules(void **state)
{
    struct fixture *f = *state;
    static const char *const bad_rule[] = {"app-*"};
    static const char *const good_rule[] = {"app-*:read"};
    struct sf_token_store *ts = NULL;
    char token[SF_TOKEN_LEN + 1];

    assert_int_equal(sf_token_store_open(f->path, &ts), SF_OK);
    assert_int_equal(sf_token_create(ts, "has space", false, good_rule, 1,
                                     token, sizeof token, NULL),
                     SF_ERR_FORMAT);
    assert_int_equal(sf_token_create(ts, "x", false, bad_rule, 1, token,
                                     sizeof token, NULL), SF_ERR_FORMAT);
    assert_int_equal(sf_token_create(ts, "x", false, NULL, 0, token,
                                     sizeof token, NULL), SF_ERR_LIMIT);
    assert_int_equal(sf_token_store_count(ts), 0);
    sf_token_store_close(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_parse_reads_glob_and_operations),
        cmocka_unit_test(test_rule_parse_rejects_malformed_rules),
        cmocka_unit_test(test_op_names_round_trip),
        cmocka_unit_test(test_allows_matches_glob_and_operation),
        cmocka_unit_test(test_allows_denies_by_default_and_root_allows_all),
        cmocka_unit_test_setup_teardown(test_store_creates_and_finds_token,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_file_keeps_only_hash,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_reload_sees_other_writer_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_lookup_picks_up_file_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_damaged_file_keeps_loaded_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_create_rejects_bad_name_and_rules, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
