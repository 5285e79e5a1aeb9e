/*
 * The SQLite keystore backend: one file in WAL mode. Schema and rules:
 * docs/KEYSTORE.md, "Schema".
 *
 * Durability: synchronous=FULL, so a committed change survives a power
 * loss; a transaction cut short by a crash is rolled back by SQLite when
 * the file is next opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "keystore_store.h"

/* How long a writer waits for another connection's write lock. */
#define BUSY_TIMEOUT_MS 10000

struct sqlite_store {
    struct ks_store base;
    sqlite3 *db;
    char *path;
};

/* Schema versions 2 and 3 have the same tables: version 3 differs only
 * in the associated data sealing each version's material, which covers
 * the version's created_at (docs/KEYSTORE.md, "Material sealing"). */
static const char schema_sql[] =
    "CREATE TABLE meta ("
    " k TEXT PRIMARY KEY NOT NULL,"
    " v NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE keys ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " type TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " latest_created_at INTEGER NOT NULL,"
    " latest_version INTEGER NOT NULL CHECK (latest_version >= 1),"
    " min_available_version INTEGER NOT NULL"
    "  CHECK (min_available_version >= 1),"
    " min_decryption_version INTEGER NOT NULL,"
    " min_encryption_version INTEGER NOT NULL"
    "  CHECK (min_encryption_version >= 0),"
    " deletion_allowed INTEGER NOT NULL CHECK (deletion_allowed IN (0, 1)),"
    " rotation_period_s INTEGER NOT NULL CHECK (rotation_period_s >= 0),"
    " settings_mac BLOB NOT NULL CHECK (length(settings_mac) = 32),"
    " CHECK (min_decryption_version BETWEEN min_available_version"
    "  AND latest_version),"
    " CHECK (min_encryption_version <= latest_version)"
    ") WITHOUT ROWID;"
    "CREATE TABLE key_versions ("
    " name TEXT NOT NULL REFERENCES keys(name) ON DELETE CASCADE,"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " created_at INTEGER NOT NULL,"
    " material BLOB NOT NULL,"
    " public_part BLOB,"
    " PRIMARY KEY (name, version)"
    ") WITHOUT ROWID;";

#define KEY_COLUMNS                                                            \
    "name, type, created_at, latest_version, min_available_version,"           \
    " min_decryption_version, min_encryption_version, deletion_allowed,"       \
    " rotation_period_s, latest_created_at, settings_mac"

static struct sqlite_store *store_of(struct ks_store *s)
{
    return (struct sqlite_store *)s;
}

/* Records an SQLite failure. SQLite's messages name tables and
 * constraints, never values, so they carry no secrets. */
static sf_status db_fail(struct sqlite_store *st, const char *what)
{
    int code = sqlite3_errcode(st->db);

    if (code == SQLITE_NOTADB) {
        return sf_fail(SF_ERR_STORE,
                       "%s is not a sealflow keystore (not an SQLite "
                       "database)",
                       st->path);
    }
    if (code == SQLITE_BUSY) {
        return sf_fail(SF_ERR_STORE,
                       "keystore %s is locked by another process for "
                       "longer than %d ms while %s; retry",
                       st->path, BUSY_TIMEOUT_MS, what);
    }
    return sf_fail(SF_ERR_STORE, "keystore %s: %s failed: %s", st->path, what,
                   sqlite3_errmsg(st->db));
}

static sf_status exec(struct sqlite_store *st, const char *sql,
                      const char *what)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return db_fail(st, what);
    }
    return SF_OK;
}

static sf_status prepare(struct sqlite_store *st, const char *sql,
                         sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        *stmt = NULL;
        return db_fail(st, "preparing a statement");
    }
    return SF_OK;
}

/* Runs a statement that returns no rows. */
static sf_status step_done(struct sqlite_store *st, sqlite3_stmt *stmt,
                           const char *what)
{
    sf_status rc = SF_OK;

    if (sqlite3_step(stmt) != SQLITE_DONE) {
        rc = db_fail(st, what);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static sf_status sq_begin(struct ks_store *s)
{
    /* IMMEDIATE takes the write lock now, so the reads that decide a
     * change (latest version, config) cannot go stale before it commits. */
    return exec(store_of(s), "BEGIN IMMEDIATE", "starting a transaction");
}

static sf_status sq_commit(struct ks_store *s)
{
    return exec(store_of(s), "COMMIT", "committing");
}

static void sq_rollback(struct ks_store *s)
{
    struct sqlite_store *st = store_of(s);

    if (!sqlite3_get_autocommit(st->db)) {
        (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static sf_status sq_create_schema(struct ks_store *s)
{
    return exec(store_of(s), schema_sql, "creating the schema");
}

/* Prepares "SELECT v FROM meta WHERE k = ?" and steps to its row. */
static sf_status meta_row(struct sqlite_store *st, const char *k, int type,
                          sqlite3_stmt **stmt)
{
    sf_status rc = prepare(st, "SELECT v FROM meta WHERE k = ?", stmt);
    int step;

    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(*stmt, 1, k, -1, SQLITE_STATIC);
    step = sqlite3_step(*stmt);
    if (step == SQLITE_ROW && sqlite3_column_type(*stmt, 0) == type) {
        return SF_OK;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE
             ? sf_fail(SF_ERR_STORE,
                       "keystore %s is damaged: meta entry '%s' is missing "
                       "or of the wrong type",
                       st->path, k)
             : db_fail(st, "reading meta");
    sqlite3_finalize(*stmt);
    *stmt = NULL;
    return rc;
}

static sf_status sq_meta_get_int(struct ks_store *s, const char *k, int64_t *v)
{
    sqlite3_stmt *stmt = NULL;
    sf_status rc = meta_row(store_of(s), k, SQLITE_INTEGER, &stmt);

    if (rc == SF_OK) {
        *v = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
    }
    return rc;
}

static sf_status sq_meta_get_blob(struct ks_store *s, const char *k,
                                  struct sf_buf *v)
{
    sqlite3_stmt *stmt = NULL;
    sf_status rc = meta_row(store_of(s), k, SQLITE_BLOB, &stmt);

    if (rc == SF_OK) {
        rc = sf_buf_append(v, sqlite3_column_blob(stmt, 0),
                           (size_t)sqlite3_column_bytes(stmt, 0));
        sqlite3_finalize(stmt);
    }
    return rc;
}

#define META_UPSERT                                                            \
    "INSERT INTO meta (k, v) VALUES (?, ?)"                                    \
    " ON CONFLICT (k) DO UPDATE SET v = excluded.v"

static sf_status sq_meta_put_int(struct ks_store *s, const char *k, int64_t v)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc = prepare(st, META_UPSERT, &stmt);

    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, v);
    return step_done(st, stmt, "writing meta");
}

static sf_status sq_meta_put_blob(struct ks_store *s, const char *k,
                                  const uint8_t *p, size_t len)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc = prepare(st, META_UPSERT, &stmt);

    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, p, (int)len, SQLITE_STATIC);
    return step_done(st, stmt, "writing meta");
}

/* Reads a column that must hold an integer in [lo, hi]. */
static bool col_int(sqlite3_stmt *stmt, int i, int64_t lo, int64_t hi,
                    int64_t *v)
{
    if (sqlite3_column_type(stmt, i) != SQLITE_INTEGER) {
        return false;
    }
    *v = sqlite3_column_int64(stmt, i);
    return *v >= lo && *v <= hi;
}

/* Fills row from a row of KEY_COLUMNS; false when a value is out of
 * range, the type is unknown or the MAC has the wrong size (a damaged or
 * edited file). The MAC itself is checked by the keystore. */
static bool row_to_key(sqlite3_stmt *stmt, struct ks_key_row *row)
{
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    const char *type = (const char *)sqlite3_column_text(stmt, 1);
    struct sf_key_info *info = &row->info;
    int64_t v[10];
    bool ok;

    memset(row, 0, sizeof *row);
    if (name == NULL || type == NULL || strlen(name) > SF_KEY_NAME_MAX ||
        sf_key_type_parse(type, &info->type) != SF_OK) {
        return false;
    }
    memcpy(info->name, name, strlen(name) + 1);
    ok = col_int(stmt, 2, INT64_MIN, INT64_MAX, &v[2]) &&
         col_int(stmt, 3, 1, UINT32_MAX, &v[3]) &&
         col_int(stmt, 4, 1, UINT32_MAX, &v[4]) &&
         col_int(stmt, 5, 1, UINT32_MAX, &v[5]) &&
         col_int(stmt, 6, 0, UINT32_MAX, &v[6]) &&
         col_int(stmt, 7, 0, 1, &v[7]) &&
         col_int(stmt, 8, 0, INT64_MAX, &v[8]) &&
         col_int(stmt, 9, INT64_MIN, INT64_MAX, &v[9]) &&
         sqlite3_column_type(stmt, 10) == SQLITE_BLOB &&
         sqlite3_column_bytes(stmt, 10) == KS_SETTINGS_MAC_LEN;
    if (!ok) {
        return false;
    }
    info->created_at = v[2];
    info->latest_version = (uint32_t)v[3];
    info->min_available_version = (uint32_t)v[4];
    info->min_decryption_version = (uint32_t)v[5];
    info->min_encryption_version = (uint32_t)v[6];
    info->deletion_allowed = v[7] == 1;
    info->rotation_period_s = (uint64_t)v[8];
    info->latest_created_at = v[9];
    memcpy(row->mac, sqlite3_column_blob(stmt, 10), KS_SETTINGS_MAC_LEN);
    return true;
}

static sf_status damaged_key(struct sqlite_store *st, const char *what)
{
    return sf_fail(SF_ERR_STORE,
                   "keystore %s is damaged: a row of table keys has %s",
                   st->path, what);
}

static sf_status sq_key_get(struct ks_store *s, const char *name,
                            struct ks_key_row *out)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc;
    int step;

    rc = prepare(st, "SELECT " KEY_COLUMNS " FROM keys WHERE name = ?", &stmt);
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = SF_ERR_KEY_NOT_FOUND;
    } else if (step != SQLITE_ROW) {
        rc = db_fail(st, "reading a key");
    } else if (!row_to_key(stmt, out)) {
        rc = damaged_key(st, "values out of range");
    }
    sqlite3_finalize(stmt);
    return rc;
}

static sf_status sq_key_put(struct ks_store *s, const struct ks_key_row *row,
                            bool is_new)
{
    static const char insert_sql[] =
        "INSERT INTO keys (type, created_at, latest_version,"
        " min_available_version, min_decryption_version,"
        " min_encryption_version, deletion_allowed, rotation_period_s,"
        " latest_created_at, settings_mac, name)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    static const char update_sql[] =
        "UPDATE keys SET type = ?, created_at = ?, latest_version = ?,"
        " min_available_version = ?, min_decryption_version = ?,"
        " min_encryption_version = ?, deletion_allowed = ?,"
        " rotation_period_s = ?, latest_created_at = ?, settings_mac = ?"
        " WHERE name = ?";
    const struct sf_key_info *k = &row->info;
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc = prepare(st, is_new ? insert_sql : update_sql, &stmt);

    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, sf_key_type_name(k->type), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, k->created_at);
    sqlite3_bind_int64(stmt, 3, k->latest_version);
    sqlite3_bind_int64(stmt, 4, k->min_available_version);
    sqlite3_bind_int64(stmt, 5, k->min_decryption_version);
    sqlite3_bind_int64(stmt, 6, k->min_encryption_version);
    sqlite3_bind_int(stmt, 7, k->deletion_allowed ? 1 : 0);
    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)k->rotation_period_s);
    sqlite3_bind_int64(stmt, 9, k->latest_created_at);
    sqlite3_bind_blob(stmt, 10, row->mac, KS_SETTINGS_MAC_LEN, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, k->name, -1, SQLITE_STATIC);
    rc = step_done(st, stmt, "writing a key");
    if (rc == SF_OK && sqlite3_changes(st->db) != 1) {
        rc =
            sf_fail(SF_ERR_STORE, "keystore %s: key row not written", st->path);
    }
    return rc;
}

static sf_status sq_key_delete(struct ks_store *s, const char *name)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc;

    rc = prepare(st, "DELETE FROM key_versions WHERE name = ?", &stmt);
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    rc = step_done(st, stmt, "deleting key versions");
    if (rc == SF_OK) {
        rc = prepare(st, "DELETE FROM keys WHERE name = ?", &stmt);
    }
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    rc = step_done(st, stmt, "deleting a key");
    if (rc == SF_OK && sqlite3_changes(st->db) != 1) {
        rc = SF_ERR_KEY_NOT_FOUND;
    }
    return rc;
}

/* Appends one row to a growing array of key rows. */
static sf_status list_push(struct ks_key_row **arr, size_t *len, size_t *cap,
                           const struct ks_key_row *row)
{
    if (*len == *cap) {
        size_t ncap = *cap == 0 ? 16 : *cap * 2;
        struct ks_key_row *n = realloc(*arr, ncap * sizeof *n);

        if (n == NULL) {
            return SF_ERR_NOMEM;
        }
        *arr = n;
        *cap = ncap;
    }
    (*arr)[(*len)++] = *row;
    return SF_OK;
}

static sf_status sq_key_list(struct ks_store *s, struct ks_key_row **out,
                             size_t *count)
{
    struct sqlite_store *st = store_of(s);
    struct ks_key_row *arr = NULL;
    struct ks_key_row row;
    sqlite3_stmt *stmt = NULL;
    size_t len = 0;
    size_t cap = 0;
    sf_status rc;
    int step = SQLITE_DONE;

    rc = prepare(st, "SELECT " KEY_COLUMNS " FROM keys ORDER BY name", &stmt);
    while (rc == SF_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = row_to_key(stmt, &row) ? list_push(&arr, &len, &cap, &row)
                                    : damaged_key(st, "values out of range");
    }
    if (rc == SF_OK && step != SQLITE_DONE) {
        rc = db_fail(st, "listing keys");
    }
    sqlite3_finalize(stmt);
    if (rc != SF_OK) {
        free(arr);
        return rc;
    }
    *out = arr;
    *count = len;
    return SF_OK;
}

static sf_status sq_version_get(struct ks_store *s, const char *name,
                                uint32_t version, struct ks_version_row *out)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc;
    int step;

    rc = prepare(st,
                 "SELECT created_at, material, public_part FROM key_versions"
                 " WHERE name = ? AND version = ?",
                 &stmt);
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, version);
    step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = SF_ERR_KEY_NOT_FOUND;
    } else if (step != SQLITE_ROW) {
        rc = db_fail(st, "reading a key version");
    } else {
        out->version = version;
        out->created_at = sqlite3_column_int64(stmt, 0);
        rc = sf_buf_append(&out->sealed, sqlite3_column_blob(stmt, 1),
                           (size_t)sqlite3_column_bytes(stmt, 1));
    }
    if (rc == SF_OK && sqlite3_column_type(stmt, 2) == SQLITE_BLOB) {
        rc = sf_buf_append(&out->public_part, sqlite3_column_blob(stmt, 2),
                           (size_t)sqlite3_column_bytes(stmt, 2));
    }
    sqlite3_finalize(stmt);
    return rc;
}

static sf_status sq_version_put(struct ks_store *s, const char *name,
                                const struct ks_version_row *row)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc;

    rc = prepare(st,
                 "INSERT INTO key_versions (name, version, created_at,"
                 " material, public_part) VALUES (?, ?, ?, ?, ?)",
                 &stmt);
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, row->version);
    sqlite3_bind_int64(stmt, 3, row->created_at);
    sqlite3_bind_blob(stmt, 4, row->sealed.data, (int)row->sealed.len,
                      SQLITE_STATIC);
    if (row->public_part.len > 0) {
        sqlite3_bind_blob(stmt, 5, row->public_part.data,
                          (int)row->public_part.len, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(stmt, 5);
    }
    return step_done(st, stmt, "writing a key version");
}

static sf_status sq_version_trim(struct ks_store *s, const char *name,
                                 uint32_t min_version)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc;

    rc = prepare(st, "DELETE FROM key_versions WHERE name = ? AND version < ?",
                 &stmt);
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, min_version);
    return step_done(st, stmt, "trimming key versions");
}

static sf_status sq_version_reseal(struct ks_store *s, const char *name,
                                   uint32_t version,
                                   const struct sf_buf *sealed)
{
    struct sqlite_store *st = store_of(s);
    sqlite3_stmt *stmt = NULL;
    sf_status rc;

    rc = prepare(st,
                 "UPDATE key_versions SET material = ?"
                 " WHERE name = ? AND version = ?",
                 &stmt);
    if (rc != SF_OK) {
        return rc;
    }
    sqlite3_bind_blob(stmt, 1, sealed->data, (int)sealed->len, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, version);
    rc = step_done(st, stmt, "writing a key version");
    if (rc == SF_OK && sqlite3_changes(st->db) != 1) {
        rc = SF_ERR_KEY_NOT_FOUND;
    }
    return rc;
}

static void sq_close(struct ks_store *s)
{
    struct sqlite_store *st = store_of(s);

    if (st == NULL) {
        return;
    }
    sq_rollback(s);
    sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
}

static const struct ks_store_ops sqlite_ops = {
    .name = "sqlite",
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .create_schema = sq_create_schema,
    .meta_get_int = sq_meta_get_int,
    .meta_get_blob = sq_meta_get_blob,
    .meta_put_int = sq_meta_put_int,
    .meta_put_blob = sq_meta_put_blob,
    .key_get = sq_key_get,
    .key_put = sq_key_put,
    .key_delete = sq_key_delete,
    .key_list = sq_key_list,
    .version_get = sq_version_get,
    .version_put = sq_version_put,
    .version_trim = sq_version_trim,
    .version_reseal = sq_version_reseal,
    .close = sq_close,
};

/* Creates an empty file with mode 0600, refusing an existing one. SQLite
 * gives its -wal and -shm files the same mode. */
static sf_status create_file(const char *path)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0) {
        return sf_fail(SF_ERR_IO,
                       errno == EEXIST
                           ? "keystore %s already exists; refusing to "
                             "overwrite it"
                           : "cannot create keystore %s: %s",
                       path, strerror(errno));
    }
    (void)close(fd);
    return SF_OK;
}

/* Connection settings: WAL lets readers run beside a writer (the daemon
 * and the CLI share the file); FULL sync makes each commit durable. A
 * connection that only checks the file gets none of them: switching to
 * WAL writes the file, and it may not be a keystore at all. */
static sf_status configure(struct sqlite_store *st, enum ks_open_mode mode)
{
    sf_status rc;

    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (mode == KS_OPEN_CHECK) {
        return SF_OK;
    }
    rc = exec(st, "PRAGMA journal_mode = WAL", "opening");
    if (rc == SF_OK) {
        rc = exec(st, "PRAGMA synchronous = FULL", "opening");
    }
    if (rc == SF_OK) {
        rc = exec(st, "PRAGMA foreign_keys = ON", "opening");
    }
    return rc;
}

/* Checks that an existing file can be a keystore before SQLite opens
 * it: SQLite takes a file of zero bytes for an empty database and would
 * write its header into it. */
static sf_status check_existing(const char *path)
{
    struct stat sb;

    if (stat(path, &sb) != 0) {
        return sf_fail(SF_ERR_IO,
                       "no keystore at %s: %s (create one with: sealflow "
                       "init)",
                       path, strerror(errno));
    }
    if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
        return sf_fail(SF_ERR_STORE,
                       "%s is not a sealflow keystore (empty file)", path);
    }
    return SF_OK;
}

sf_status ks_sqlite_open(const char *path, enum ks_open_mode mode,
                         struct ks_store **out)
{
    int flags =
        mode == KS_OPEN_CHECK ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    bool is_new = mode == KS_OPEN_CREATE;
    struct sqlite_store *st = NULL;
    sf_status rc;

    *out = NULL;
    rc = is_new ? create_file(path) : check_existing(path);
    if (rc != SF_OK) {
        return rc;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    st->base.ops = &sqlite_ops;
    if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = st->db == NULL ? SF_ERR_NOMEM
                            : sf_fail(SF_ERR_IO,
                                      "cannot open keystore %s: "
                                      "%s",
                                      path, sqlite3_errmsg(st->db));
        goto out;
    }
    rc = configure(st, mode);

out:
    if (rc != SF_OK && st != NULL) {
        sqlite3_close_v2(st->db);
        free(st->path);
        free(st);
        st = NULL;
    }
    if (rc != SF_OK && is_new) {
        ks_sqlite_remove(path);
    }
    *out = (struct ks_store *)st;
    return rc;
}

void ks_sqlite_remove(const char *path)
{
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    char p[4096];

    (void)unlink(path);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        int n = snprintf(p, sizeof p, "%s%s", path, suffixes[i]);

        if (n > 0 && (size_t)n < sizeof p) {
            (void)unlink(p);
        }
    }
}
