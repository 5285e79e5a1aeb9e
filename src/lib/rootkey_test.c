#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "keystore_testutil.h"
#include "rootkey.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"

/* The base64 of the bytes 0x00..0x1f. */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char dir[256];

static int setup(void **state)
{
    (void)state;
    tu_mkdir(dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    return 0;
}

static void path_in_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void assert_is_test_key(const struct sf_secret *k)
{
    uint8_t want[32];

    for (size_t i = 0; i < sizeof want; i++) {
        want[i] = (uint8_t)i;
    }
    assert_int_equal(sf_secret_len(k), 32);
    assert_memory_equal(sf_secret_cdata(k), want, 32);
}

static void test_root_key_create_writes_0600_and_loads_back(void **state)
{
    struct sf_secret *made = NULL;
    struct sf_secret *loaded = NULL;
    struct stat st;
    char path[300];
    char text[128] = {0};
    FILE *fp;

    (void)state;
    path_in_dir(path, sizeof path, "root.key");
    assert_int_equal(sf_root_key_create(path, &made), SF_OK);
    assert_int_equal(sf_secret_len(made), SF_ROOT_KEY_LEN);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_true(fread(text, 1, sizeof text - 1, fp) > 0);
    fclose(fp);
    assert_int_equal(strncmp(text, "sealflow root key v1\n", 21), 0);
    assert_int_equal(strlen(text), 21 + 44 + 1);

    assert_int_equal(sf_root_key_load(path, &loaded), SF_OK);
    assert_memory_equal(sf_secret_cdata(made), sf_secret_cdata(loaded), 32);
    sf_secret_free(made);
    sf_secret_free(loaded);
}

static void test_root_key_create_refuses_existing_file(void **state)
{
    struct sf_secret *k = NULL;
    char path[300];

    (void)state;
    path_in_dir(path, sizeof path, "exists.key");
    write_file(path, "keep me", 0600);
    assert_int_equal(sf_root_key_create(path, &k), SF_ERR_IO);
    assert_null(k);
    assert_non_null(strstr(sf_last_error(), "already exists"));
    /* The existing file is untouched. */
    assert_int_equal(sf_root_key_load(path, &k), SF_ERR_ROOT_KEY);
    assert_non_null(strstr(sf_last_error(), "not a root key file"));
}

static void test_root_key_load_accepts_crlf_and_trailing_space(void **state)
{
    static const char *const texts[] = {
        "sealflow root key v1\r\n" KEY_B64 "\r\n",
        "sealflow root key v1 \t\n" KEY_B64 "  \n\n\r\n",
        "sealflow root key v1\n" KEY_B64,
    };
    char path[300];

    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct sf_secret *k = NULL;

        snprintf(path, sizeof path, "%s/ok%zu.key", dir, i);
        write_file(path, texts[i], 0600);
        assert_int_equal(sf_root_key_load(path, &k), SF_OK);
        assert_is_test_key(k);
        sf_secret_free(k);
    }
}

static void test_root_key_load_refuses_malformed_files(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "not a root key file"},
        {"sealflow root key v2\n" KEY_B64 "\n", "not a root key file"},
        {" sealflow root key v1\n" KEY_B64 "\n", "not a root key file"},
        {"sealflow root key v1\n", "exactly 32 bytes"},
        {"sealflow root key v1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n",
         "exactly 32 bytes"},
        {"sealflow root key v1\n" KEY_B64 "AAAA\n", "exactly 32 bytes"},
        {"sealflow root key v1\n AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
         "Hh8=\n",
         "exactly 32 bytes"},
        {"sealflow root key v1\n" KEY_B64 "\nextra\n", "extra text"},
        {"sealflow root key v1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
         "Hh8*\n",
         "exactly 32 bytes"},
    };
    char path[300];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sf_secret *k = NULL;

        snprintf(path, sizeof path, "%s/bad%zu.key", dir, i);
        write_file(path, bad[i].text, 0600);
        assert_int_equal(sf_root_key_load(path, &k), SF_ERR_ROOT_KEY);
        assert_null(k);
        if (strstr(sf_last_error(), bad[i].why) == NULL) {
            fail_msg("case %zu: '%s' lacks '%s'", i, sf_last_error(),
                     bad[i].why);
        }
    }
}

static void test_root_key_load_refuses_group_or_other_access(void **state)
{
    static const mode_t modes[] = {0640, 0604, 0660, 0620, 0602, 0644};
    char path[300];

    (void)state;
    path_in_dir(path, sizeof path, "open.key");
    write_file(path, "sealflow root key v1\n" KEY_B64 "\n", 0600);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct sf_secret *k = NULL;

        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(sf_root_key_load(path, &k), SF_ERR_ROOT_KEY);
        assert_null(k);
        assert_non_null(strstr(sf_last_error(), "chmod 600"));
    }
    assert_int_equal(chmod(path, 0400), 0);
    {
        struct sf_secret *k = NULL;

        assert_int_equal(sf_root_key_load(path, &k), SF_OK);
        assert_is_test_key(k);
        sf_secret_free(k);
    }
}

static void test_root_key_load_reports_missing_file(void **state)
{
    struct sf_secret *k = NULL;
    char path[300];

    (void)state;
    path_in_dir(path, sizeof path, "missing.key");
    assert_int_equal(sf_root_key_load(path, &k), SF_ERR_ROOT_KEY);
    assert_null(k);
    assert_non_null(strstr(sf_last_error(), "cannot open root key file"));
    assert_int_equal(sf_root_key_load(dir, &k), SF_ERR_ROOT_KEY);
}

static void test_root_key_parse_works_on_bytes_and_refuses_nul(void **state)
{
    static const char good[] = "sealflow root key v1\n" KEY_B64 "\n";
    static const char nul[] = "sealflow root key v1\n" KEY_B64 "\n\0\n";
    struct sf_secret *k = NULL;

    (void)state;
    assert_int_equal(rootkey_parse("mem", good, sizeof good - 1, &k), SF_OK);
    assert_is_test_key(k);
    sf_secret_free(k);
    /* The length counts, not a terminating NUL: a NUL is text too. */
    assert_int_equal(rootkey_parse("mem", nul, sizeof nul - 1, &k),
                     SF_ERR_ROOT_KEY);
    assert_null(k);
    assert_int_equal(rootkey_parse("mem", good, 30, &k), SF_ERR_ROOT_KEY);
    assert_int_equal(rootkey_parse("mem", good, 0, &k), SF_ERR_ROOT_KEY);
}

/* Sets or clears an environment variable for the default-path test. */
static void set_env(const char *name, const char *value)
{
    if (value == NULL) {
        assert_int_equal(unsetenv(name), 0);
    } else {
        assert_int_equal(setenv(name, value, 1), 0);
    }
}

static void expect_default(const char *home, const char *xdg,
                           const char *sf_home, const char *want)
{
    struct sf_buf b = SF_BUF_INIT;

    set_env("HOME", home);
    set_env("XDG_DATA_HOME", xdg);
    set_env("SEALFLOW_HOME", sf_home);
    if (want == NULL) {
        assert_int_equal(sf_keystore_default_path(&b), SF_ERR_INVALID_ARG);
        assert_int_equal(b.len, 0);
    } else {
        assert_int_equal(sf_keystore_default_path(&b), SF_OK);
        assert_int_equal(b.len, strlen(want));
        assert_string_equal((const char *)b.data, want);
    }
    sf_buf_free(&b);
}

static void test_default_path_resolution_order(void **state)
{
    (void)state;
    expect_default("/h", "/x", "/s", "/s");
    expect_default("/h", "/x", "", "/x/sealflow");
    expect_default("/h", "/x", NULL, "/x/sealflow");
    expect_default("/h", "relative", NULL, "/h/.local/share/sealflow");
    expect_default("/h", NULL, NULL, "/h/.local/share/sealflow");
    expect_default(NULL, NULL, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_key_create_writes_0600_and_loads_back),
        cmocka_unit_test(test_root_key_create_refuses_existing_file),
        cmocka_unit_test(test_root_key_load_accepts_crlf_and_trailing_space),
        cmocka_unit_test(test_root_key_load_refuses_malformed_files),
        cmocka_unit_test(test_root_key_load_refuses_group_or_other_access),
        cmocka_unit_test(test_root_key_load_reports_missing_file),
        cmocka_unit_test(test_root_key_parse_works_on_bytes_and_refuses_nul),
        cmocka_unit_test(test_default_path_resolution_order),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
