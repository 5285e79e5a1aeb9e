/*
 * Helpers shared by the keystore test programs (never part of the
 * library): a private temporary folder per test, and a fixture holding a
 * fresh keystore bound to a random root key.
 */
#ifndef SF_KEYSTORE_TESTUTIL_H
#define SF_KEYSTORE_TESTUTIL_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealflow/keystore.h"

struct ks_fixture {
    char dir[256];
    char db[300];
    struct sf_secret *root;
    struct sf_keystore *ks;
};

/* Makes a private folder under $TMPDIR (or /tmp); aborts the test
 * program on failure, which cmocka reports. */
static inline void tu_mkdir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(dir, len, "%s/sf-ks-XXXXXX",
                     base != NULL && base[0] != '\0' ? base : "/tmp");

    if (n <= 0 || (size_t)n >= len || mkdtemp(dir) == NULL) {
        abort();
    }
}

/* Removes the folder and the files in it (it has no subfolders). */
static inline void tu_rmdir(const char *dir)
{
    char path[512];
    struct dirent *e;
    DIR *d = opendir(dir);

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            (void)unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    (void)rmdir(dir);
}

static inline int tu_setup(void **state)
{
    struct ks_fixture *f = calloc(1, sizeof *f);

    if (f == NULL) {
        return -1;
    }
    tu_mkdir(f->dir, sizeof f->dir);
    snprintf(f->db, sizeof f->db, "%s/keystore.db", f->dir);
    if (sf_secret_random(SF_ROOT_KEY_LEN, &f->root) != SF_OK ||
        sf_keystore_create(f->db, f->root, &f->ks) != SF_OK) {
        return -1;
    }
    *state = f;
    return 0;
}

static inline int tu_teardown(void **state)
{
    struct ks_fixture *f = *state;

    sf_keystore_close(f->ks);
    sf_secret_free(f->root);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* Appends every row of the query, as text, to a growing string. */
static inline int tu_snap_cb(void *arg, int n, char **vals, char **cols)
{
    char **acc = arg;
    size_t len = *acc == NULL ? 0 : strlen(*acc);

    (void)cols;
    for (int i = 0; i < n; i++) {
        const char *v = vals[i] == NULL ? "NULL" : vals[i];
        char *grown = realloc(*acc, len + strlen(v) + 2);

        if (grown == NULL) {
            return 1;
        }
        memcpy(grown + len, v, strlen(v));
        len += strlen(v);
        grown[len++] = (char)(i + 1 == n ? '\n' : '|');
        grown[len] = '\0';
        *acc = grown;
    }
    return 0;
}

/* The whole content of a keystore file as text (malloc'd), read through
 * a separate connection, to show that a failed change altered nothing. */
static inline char *tu_snapshot(const char *db_path)
{
    static const char sql[] =
        "SELECT k, quote(v) FROM meta ORDER BY k;"
        "SELECT name, type, created_at, latest_created_at, latest_version,"
        " min_available_version, min_decryption_version,"
        " min_encryption_version, deletion_allowed, rotation_period_s,"
        " hex(settings_mac) FROM keys ORDER BY name;"
        "SELECT name, version, created_at, hex(material), hex(public_part)"
        " FROM key_versions ORDER BY name, version;";
    char *acc = NULL;
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, sql, tu_snap_cb, &acc, NULL) != SQLITE_OK) {
        free(acc);
        acc = NULL;
    }
    sqlite3_close(db);
    return acc;
}

/* Runs SQL on the keystore file through a separate connection (to
 * tamper with it as an attacker with write access would); 0 on success. */
static inline int tu_sql(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(db_path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}

/* Reads the blob in the first column of the first row of sql into out
 * (at most max bytes), through a separate read-only connection; returns
 * its length, or -1 when there is no such row or it is too long. */
static inline int tu_blob(const char *db_path, const char *sql, uint8_t *out,
                          size_t max)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int len = -1;

    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_type(stmt, 0) == SQLITE_BLOB &&
        (size_t)sqlite3_column_bytes(stmt, 0) <= max) {
        len = sqlite3_column_bytes(stmt, 0);
        memcpy(out, sqlite3_column_blob(stmt, 0), (size_t)len);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return len;
}

/* Reads the integer in the first column of the first row of sql into
 * *out through a separate read-only connection; 0 on success, -1 when
 * there is no such row or the value is not an integer. */
static inline int tu_int(const char *db_path, const char *sql, int64_t *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = -1;

    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_type(stmt, 0) == SQLITE_INTEGER) {
        *out = sqlite3_column_int64(stmt, 0);
        rc = 0;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rc;
}

#endif
