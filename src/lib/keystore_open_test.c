/*
 * Opening a file that is not a keystore changes nothing: it is checked
 * through a read-only connection first, and only a keystore is opened
 * for writing and put in WAL mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "keystore_testutil.h"
#include "sealflow/buf.h"
#include "sealflow/keystore.h"

/* The whole content of a file. */
static void slurp(const char *path, struct sf_buf *out)
{
    uint8_t chunk[4096];
    size_t n;
    FILE *fp = fopen(path, "rb");

    assert_non_null(fp);
    sf_buf_reset(out);
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        assert_int_equal(sf_buf_append(out, chunk, n), SF_OK);
    }
    fclose(fp);
}

/* True when path followed by suffix exists. */
static bool has_file(const char *path, const char *suffix)
{
    char p[600];
    struct stat st;

    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &st) == 0;
}

static void assert_no_sqlite_side_files(const char *path)
{
    assert_false(has_file(path, "-wal"));
    assert_false(has_file(path, "-shm"));
    assert_false(has_file(path, "-journal"));
}

/* Opening path with the fixture's root key fails with want, and the file
 * is byte for byte what it was. */
static void expect_refused_unchanged(struct ks_fixture *f, const char *path,
                                     sf_status want, const char *why)
{
    struct sf_buf before = SF_BUF_INIT;
    struct sf_buf after = SF_BUF_INIT;
    struct sf_keystore *ks = (struct sf_keystore *)&ks;

    slurp(path, &before);
    assert_int_equal(sf_keystore_open(path, f->root, &ks), want);
    assert_null(ks);
    assert_non_null(strstr(sf_last_error(), why));
    slurp(path, &after);
    assert_int_equal(after.len, before.len);
    if (before.len > 0) {
        assert_memory_equal(after.data, before.data, before.len);
    }
    sf_buf_free(&before);
    sf_buf_free(&after);
}

/* Runs sql on a new database at path in rollback-journal mode, as another
 * application would have made it. */
static void make_foreign_db(const char *path, const char *mode, const char *sql)
{
    char pragma[64];
    sqlite3 *db = NULL;

    snprintf(pragma, sizeof pragma, "PRAGMA journal_mode = %s", mode);
    assert_int_equal(sqlite3_open_v2(path, &db,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_open_refuses_empty_file_without_writing(void **state)
{
    struct ks_fixture *f = *state;
    char path[400];
    struct stat st;
    FILE *fp;

    snprintf(path, sizeof path, "%s/empty.db", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fclose(fp);

    expect_refused_unchanged(f, path, SF_ERR_STORE,
                             "not a sealflow keystore (empty file)");
    assert_non_null(strstr(sf_last_error(), path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_no_sqlite_side_files(path);
}

static void test_open_refuses_foreign_database_unchanged(void **state)
{
    struct ks_fixture *f = *state;
    char path[400];

    snprintf(path, sizeof path, "%s/orders.db", f->dir);
    make_foreign_db(path, "delete",
                    "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT);"
                    "INSERT INTO orders (item) VALUES ('tea'), ('cups');");
    assert_no_sqlite_side_files(path);

    expect_refused_unchanged(f, path, SF_ERR_STORE, "not a sealflow keystore");
    assert_no_sqlite_side_files(path);
    /* A second try finds it just the same. */
    expect_refused_unchanged(f, path, SF_ERR_STORE, "not a sealflow keystore");
    assert_no_sqlite_side_files(path);
}

/* A table named like the keystore's is not enough. */
static void test_open_refuses_foreign_meta_table_unchanged(void **state)
{
    struct ks_fixture *f = *state;
    char path[400];

    snprintf(path, sizeof path, "%s/app.db", f->dir);
    make_foreign_db(path, "delete",
                    "CREATE TABLE meta (k TEXT PRIMARY KEY, v);"
                    "INSERT INTO meta VALUES ('app_version', 7);");
    expect_refused_unchanged(f, path, SF_ERR_STORE,
                             "not a sealflow keystore (no schema version)");
    assert_no_sqlite_side_files(path);
}

static void test_open_refuses_text_file_unchanged(void **state)
{
    struct ks_fixture *f = *state;
    char path[400];
    FILE *fp;
    int i;

    snprintf(path, sizeof path, "%s/notes.db", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    for (i = 0; i < 200; i++) {
        fputs("plain text, not a database at all\n", fp);
    }
    fclose(fp);
    expect_refused_unchanged(f, path, SF_ERR_STORE, "not a sealflow keystore");
    assert_no_sqlite_side_files(path);
}

/* Another application's database already in WAL mode: the database file
 * is left as it was (SQLite's reader may leave its side files). */
static void test_open_refuses_foreign_wal_database_unchanged(void **state)
{
    struct ks_fixture *f = *state;
    char path[400];

    snprintf(path, sizeof path, "%s/wal.db", f->dir);
    make_foreign_db(path, "wal",
                    "CREATE TABLE events (at INTEGER, what TEXT);"
                    "INSERT INTO events VALUES (1, 'start');");
    expect_refused_unchanged(f, path, SF_ERR_STORE, "not a sealflow keystore");
}

static void test_wrong_root_key_leaves_keystore_unchanged(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_secret *other = NULL;
    struct sf_key_info info;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_AES256_GCM96, &info),
        SF_OK);
    sf_keystore_close(f->ks);
    f->ks = NULL;
    assert_int_equal(sf_secret_random(SF_ROOT_KEY_LEN, &other), SF_OK);
    sf_secret_free(f->root);
    f->root = other;
    expect_refused_unchanged(f, f->db, SF_ERR_ROOT_KEY, "wrong root key");
}

/* Byte 18 of an SQLite file is its write version: 2 in WAL mode. */
static int write_version(const char *path)
{
    struct sf_buf b = SF_BUF_INIT;
    int v;

    slurp(path, &b);
    assert_true(b.len >= 100);
    v = b.data[18];
    sf_buf_free(&b);
    return v;
}

/* A second handle opens the keystore while the first still holds its
 * changes in the write-ahead log: the read-only check must see them. */
static void test_keystore_opens_beside_a_live_handle_in_wal_mode(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_keystore *ks2 = NULL;
    struct sf_key_info info;

    assert_true(has_file(f->db, "-wal"));
    assert_int_equal(
        sf_keystore_create_key(f->ks, "live", SF_KEY_X25519, &info), SF_OK);
    assert_int_equal(sf_keystore_open(f->db, f->root, &ks2), SF_OK);
    assert_int_equal(sf_keystore_key_info(ks2, "live", &info), SF_OK);
    assert_int_equal(info.type, SF_KEY_X25519);
    assert_int_equal(sf_keystore_rotate(ks2, "live", NULL), SF_OK);
    assert_int_equal(sf_keystore_key_info(f->ks, "live", &info), SF_OK);
    assert_int_equal(info.latest_version, 2);
    sf_keystore_close(ks2);
    assert_int_equal(write_version(f->db), 2);
}

/* A closed keystore reopens, still in WAL mode, and the read-only check
 * left nothing behind once the last handle closed. */
static void test_keystore_reopens_in_wal_mode_and_cleans_up(void **state)
{
    struct ks_fixture *f = *state;
    struct sf_key_info info;

    assert_int_equal(
        sf_keystore_create_key(f->ks, "orders", SF_KEY_AES256_GCM96, &info),
        SF_OK);
    sf_keystore_close(f->ks);
    f->ks = NULL;
    assert_false(has_file(f->db, "-wal"));
    assert_int_equal(sf_keystore_open(f->db, f->root, &f->ks), SF_OK);
    assert_int_equal(sf_keystore_key_info(f->ks, "orders", &info), SF_OK);
    assert_int_equal(write_version(f->db), 2);
    sf_keystore_close(f->ks);
    f->ks = NULL;
    assert_no_sqlite_side_files(f->db);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_refuses_empty_file_without_writing),
        T(test_open_refuses_foreign_database_unchanged),
        T(test_open_refuses_foreign_meta_table_unchanged),
        T(test_open_refuses_text_file_unchanged),
        T(test_open_refuses_foreign_wal_database_unchanged),
        T(test_wrong_root_key_leaves_keystore_unchanged),
        T(test_keystore_opens_beside_a_live_handle_in_wal_mode),
        T(test_keystore_reopens_in_wal_mode_and_cleans_up),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
