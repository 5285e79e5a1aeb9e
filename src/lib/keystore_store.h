/*
 * Internal: the keystore's storage interface.
 *
 * The keystore logic (keystore.c, keystore_wrap.c) talks to storage only
 * through struct ks_store_ops, so another database (PostgreSQL, for
 * several sealflowd nodes) is one more implementation of these functions.
 * SQLite is the only one today (keystore_sqlite.c).
 *
 * A store is not thread-safe: the keystore serialises every call with its
 * own mutex. Writes happen only between begin and commit/rollback; begin
 * takes the database's write lock at once, so a read-modify-write inside a
 * transaction is serialised with every other writer, other processes
 * included. Reads outside a transaction see the latest committed state.
 *
 * Rows: struct ks_key_row is the key row, its settings (struct
 * sf_key_info) with their MAC, which the backend stores and returns as
 * given (the keystore computes and checks it); struct ks_version_row is
 * one version.
 * Functions return SF_ERR_KEY_NOT_FOUND (key_get, version_get) without
 * calling sf_fail, so the caller can word the message; any other failure
 * is SF_ERR_STORE with a message from the backend.
 */
#ifndef SF_KEYSTORE_STORE_H
#define SF_KEYSTORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/keystore.h"

/* The schema version this code reads and writes. Version 2 has the same
 * tables, but its version rows' material does not authenticate their
 * creation time; opening such a file upgrades it (keystore_upgrade.c). */
#define KS_SCHEMA_VERSION 3
#define KS_SCHEMA_UPGRADABLE 2

/* Meta keys. */
#define KS_META_SCHEMA "schema_version"
#define KS_META_CREATED "created_at"
#define KS_META_ROOT_CHECK "root_key_check"
#define KS_META_GENERATION "generation"

/* Length of a key row's settings MAC (HMAC-SHA256). */
#define KS_SETTINGS_MAC_LEN 32

struct ks_key_row {
    struct sf_key_info info;
    uint8_t mac[KS_SETTINGS_MAC_LEN];
};

struct ks_version_row {
    uint32_t version;
    int64_t created_at;
    struct sf_buf sealed;      /* nonce(12) || ciphertext || tag(16) */
    struct sf_buf public_part; /* empty for symmetric keys */
};

/* Wipes and frees the buffers of a row. */
void ks_version_row_free(struct ks_version_row *r);

struct ks_store;

struct ks_store_ops {
    const char *name;
    sf_status (*begin)(struct ks_store *s);
    sf_status (*commit)(struct ks_store *s);
    void (*rollback)(struct ks_store *s);
    /* Creates the tables of KS_SCHEMA_VERSION (inside a transaction). */
    sf_status (*create_schema)(struct ks_store *s);
    /* Meta values; a missing entry is SF_ERR_STORE. */
    sf_status (*meta_get_int)(struct ks_store *s, const char *k, int64_t *v);
    sf_status (*meta_get_blob)(struct ks_store *s, const char *k,
                               struct sf_buf *v);
    sf_status (*meta_put_int)(struct ks_store *s, const char *k, int64_t v);
    sf_status (*meta_put_blob)(struct ks_store *s, const char *k,
                               const uint8_t *p, size_t len);
    sf_status (*key_get)(struct ks_store *s, const char *name,
                         struct ks_key_row *out);
    /* Inserts (is_new) or updates the key row. */
    sf_status (*key_put)(struct ks_store *s, const struct ks_key_row *k,
                         bool is_new);
    /* Deletes the key row and all its versions. */
    sf_status (*key_delete)(struct ks_store *s, const char *name);
    /* All key rows in byte order of name; *out is malloc'd. */
    sf_status (*key_list)(struct ks_store *s, struct ks_key_row **out,
                          size_t *count);
    sf_status (*version_get)(struct ks_store *s, const char *name,
                             uint32_t version, struct ks_version_row *out);
    sf_status (*version_put)(struct ks_store *s, const char *name,
                             const struct ks_version_row *row);
    /* Deletes the versions below min_version. */
    sf_status (*version_trim)(struct ks_store *s, const char *name,
                              uint32_t min_version);
    /* Replaces the sealed material of an existing version row (the
     * schema upgrade only; a version is otherwise never changed).
     * SF_ERR_KEY_NOT_FOUND when there is no such row. */
    sf_status (*version_reseal)(struct ks_store *s, const char *name,
                                uint32_t version, const struct sf_buf *sealed);
    void (*close)(struct ks_store *s);
};

/* Every backend's state starts with this. */
struct ks_store {
    const struct ks_store_ops *ops;
    /* Fault injection for tests: when > 0, counts down on each write
     * call; the write that reaches 0 fails with SF_ERR_STORE, or ends
     * the process at once when fault_exits is set (a simulated crash). */
    int fault_countdown;
    bool fault_exits;
};

/* How ks_sqlite_open opens a file. */
enum ks_open_mode {
    /* Creates the file (it must not exist), in WAL mode. */
    KS_OPEN_CREATE,
    /* Opens an existing file read-only, to find out whether it is a
     * keystore before anything could change it: no journal mode change,
     * no write of any kind, so the store may only be read. */
    KS_OPEN_CHECK,
    /* Opens an existing file (already checked) for reading and writing,
     * in WAL mode. */
    KS_OPEN_WRITE
};

/* Opens an SQLite keystore file as mode says, with a busy timeout;
 * KS_OPEN_CREATE and KS_OPEN_WRITE also set WAL mode, FULL sync and
 * foreign keys. An existing file of zero bytes is SF_ERR_STORE ("not a
 * sealflow keystore (empty file)") before SQLite sees it, since SQLite
 * would take it for an empty database; a missing one is SF_ERR_IO. */
sf_status ks_sqlite_open(const char *path, enum ks_open_mode mode,
                         struct ks_store **out);

/* Removes an SQLite keystore file and its -wal, -shm and -journal files
 * (used when creating one failed half-way). */
void ks_sqlite_remove(const char *path);

/*
 * Write calls go through these wrappers, which apply the fault hook before
 * handing over to the backend. Reads call s->ops directly.
 */
sf_status ks_store_meta_put_int(struct ks_store *s, const char *k, int64_t v);
sf_status ks_store_meta_put_blob(struct ks_store *s, const char *k,
                                 const uint8_t *p, size_t len);
sf_status ks_store_key_put(struct ks_store *s, const struct ks_key_row *k,
                           bool is_new);
sf_status ks_store_key_delete(struct ks_store *s, const char *name);
sf_status ks_store_version_put(struct ks_store *s, const char *name,
                               const struct ks_version_row *row);
sf_status ks_store_version_trim(struct ks_store *s, const char *name,
                                uint32_t min_version);
sf_status ks_store_version_reseal(struct ks_store *s, const char *name,
                                  uint32_t version,
                                  const struct sf_buf *sealed);

/* Adds one to the generation counter (inside a transaction) and returns
 * the new value; every change does this so other handles notice it. */
sf_status ks_store_bump_generation(struct ks_store *s, uint64_t *gen);

#endif
