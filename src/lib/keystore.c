/*
 * The keystore: opening, and every change (create, rotate, config,
 * delete, trim). Each change is one store transaction that also bumps the
 * generation counter, so a crash at any point leaves the previous state
 * and other handles notice the change (docs/KEYSTORE.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "keystore_internal.h"
#include "keystore_seal.h"

typedef sf_status (*change_fn)(struct sf_keystore *ks, void *arg);

static void handle_free(struct sf_keystore *ks)
{
    if (ks == NULL) {
        return;
    }
    if (ks->store != NULL) {
        ks->store->ops->close(ks->store);
    }
    ks_cache_destroy(&ks->cache);
    ks_fp_index_free(&ks->fp_index);
    sf_secret_free(ks->seal_key);
    sf_secret_free(ks->settings_key);
    pthread_mutex_destroy(&ks->store_lock);
    free(ks->path);
    free(ks);
}

/* Allocates a handle and derives the root key's sealing key, settings
 * MAC key and check value; the store is attached by the caller. */
static sf_status handle_new(const char *path, const struct sf_secret *root_key,
                            uint8_t check[KS_CHECK_LEN],
                            struct sf_keystore **out)
{
    struct sf_keystore *ks = calloc(1, sizeof *ks);
    sf_status rc;

    *out = NULL;
    if (ks == NULL) {
        return SF_ERR_NOMEM;
    }
    if (pthread_mutex_init(&ks->store_lock, NULL) != 0) {
        free(ks);
        return SF_ERR_NOMEM;
    }
    rc = ks_cache_init(&ks->cache);
    if (rc != SF_OK) {
        pthread_mutex_destroy(&ks->store_lock);
        free(ks);
        return rc;
    }
    atomic_init(&ks->next_check_ms, 0);
    atomic_init(&ks->refresh_ms, SF_KEYSTORE_REFRESH_MS);
    ks->path = strdup(path);
    rc = ks->path == NULL ? SF_ERR_NOMEM
                          : ks_root_derive(root_key, &ks->seal_key,
                                           &ks->settings_key, check);
    if (rc != SF_OK) {
        handle_free(ks);
        return rc;
    }
    *out = ks;
    return SF_OK;
}

static sf_status init_meta(struct ks_store *s,
                           const uint8_t check[KS_CHECK_LEN])
{
    sf_status rc = s->ops->create_schema(s);

    if (rc == SF_OK) {
        rc = ks_store_meta_put_int(s, KS_META_SCHEMA, KS_SCHEMA_VERSION);
    }
    if (rc == SF_OK) {
        rc = ks_store_meta_put_int(s, KS_META_CREATED, (int64_t)time(NULL));
    }
    if (rc == SF_OK) {
        rc = ks_store_meta_put_blob(s, KS_META_ROOT_CHECK, check, KS_CHECK_LEN);
    }
    if (rc == SF_OK) {
        rc = ks_store_meta_put_int(s, KS_META_GENERATION, 0);
    }
    return rc;
}

sf_status sf_keystore_create(const char *path, const struct sf_secret *root_key,
                             struct sf_keystore **out)
{
    uint8_t check[KS_CHECK_LEN];
    struct sf_keystore *ks = NULL;
    bool is_created = false;
    sf_status rc;

    if (path == NULL || root_key == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;

    rc = handle_new(path, root_key, check, &ks);
    if (rc == SF_OK) {
        rc = ks_sqlite_open(path, KS_OPEN_CREATE, &ks->store);
        is_created = rc == SF_OK;
    }
    if (rc == SF_OK) {
        rc = ks->store->ops->begin(ks->store);
    }
    if (rc == SF_OK) {
        rc = init_meta(ks->store, check);
    }
    if (rc == SF_OK) {
        rc = ks->store->ops->commit(ks->store);
    }

    sf_wipe(check, sizeof check);
    if (rc != SF_OK) {
        handle_free(ks);
        if (is_created) {
            ks_sqlite_remove(path);
        }
        return rc;
    }
    *out = ks;
    return SF_OK;
}

/* Reads and checks the schema version and the root key check value of a
 * keystore being opened; only reads, so it is safe on any file. */
static sf_status verify_meta(struct sf_keystore *ks,
                             const uint8_t check[KS_CHECK_LEN], int64_t *schema)
{
    struct ks_store *s = ks->store;
    struct sf_buf stored = SF_BUF_INIT;
    sf_status rc;

    if (s->ops->meta_get_int(s, KS_META_SCHEMA, schema) != SF_OK) {
        return sf_fail(SF_ERR_STORE,
                       "%s is not a sealflow keystore (no schema version)",
                       ks->path);
    }
    if (*schema > KS_SCHEMA_VERSION) {
        return sf_fail(SF_ERR_UNSUPPORTED,
                       "keystore %s has schema version %lld; this sealflow "
                       "reads version %d (upgrade sealflow if it is newer)",
                       ks->path, (long long)*schema, KS_SCHEMA_VERSION);
    }
    if (*schema < KS_SCHEMA_UPGRADABLE) {
        /* Version 1 predates the settings MACs: its key rows cannot be
         * trusted, so they are not converted. */
        return sf_fail(SF_ERR_UNSUPPORTED,
                       "keystore %s has schema version %lld, an older "
                       "format that this sealflow (schema version %d) no "
                       "longer opens: it did not authenticate key settings "
                       "and cannot be converted; create a new keystore with "
                       "sealflow init",
                       ks->path, (long long)*schema, KS_SCHEMA_VERSION);
    }
    rc = s->ops->meta_get_blob(s, KS_META_ROOT_CHECK, &stored);
    if (rc == SF_OK && (stored.len != KS_CHECK_LEN ||
                        !sf_ct_equal(stored.data, check, KS_CHECK_LEN))) {
        rc = sf_fail(SF_ERR_ROOT_KEY,
                     "wrong root key for keystore %s: it was created with "
                     "another root key; use the root key file made "
                     "together with this keystore",
                     ks->path);
    }
    sf_buf_free(&stored);
    return rc;
}

/* Checks the keystore again on the connection that will write (the file
 * could have been replaced since the read-only check), reads the
 * generation, and upgrades a schema version 2 file. */
static sf_status check_meta(struct sf_keystore *ks,
                            const uint8_t check[KS_CHECK_LEN])
{
    struct ks_store *s = ks->store;
    int64_t schema = 0;
    int64_t gen = 0;
    sf_status rc = verify_meta(ks, check, &schema);

    if (rc == SF_OK) {
        rc = s->ops->meta_get_int(s, KS_META_GENERATION, &gen);
    }
    if (rc == SF_OK) {
        ks->generation = (uint64_t)gen;
    }
    /* Only after the root key proved right: the upgrade writes. */
    if (rc == SF_OK && schema == KS_SCHEMA_UPGRADABLE) {
        rc = ks_upgrade(ks);
    }
    return rc;
}

/*
 * Proves that path is a keystore made with this root key through a
 * read-only connection, before any connection that may write (and that
 * switches the file to WAL mode) touches it: a file that is not a
 * keystore, such as another application's database, is left exactly as
 * it was.
 *
 * Limitation: beside a file already in WAL mode, the read-only
 * connection creates SQLite's -wal and -shm files, and cannot remove
 * them when it closes; when the check fails they stay (empty) until the
 * database is next opened for writing. Removing them from here could
 * break another process that has that database open, so they are left.
 */
static sf_status check_read_only(struct sf_keystore *ks,
                                 const uint8_t check[KS_CHECK_LEN])
{
    int64_t schema = 0;
    sf_status rc = ks_sqlite_open(ks->path, KS_OPEN_CHECK, &ks->store);

    if (rc == SF_OK) {
        rc = verify_meta(ks, check, &schema);
    }
    if (ks->store != NULL) {
        ks->store->ops->close(ks->store);
        ks->store = NULL;
    }
    return rc;
}

sf_status sf_keystore_open(const char *path, const struct sf_secret *root_key,
                           struct sf_keystore **out)
{
    uint8_t check[KS_CHECK_LEN];
    struct sf_keystore *ks = NULL;
    sf_status rc;

    if (path == NULL || root_key == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;

    rc = handle_new(path, root_key, check, &ks);
    if (rc == SF_OK) {
        rc = check_read_only(ks, check);
    }
    if (rc == SF_OK) {
        rc = ks_sqlite_open(path, KS_OPEN_WRITE, &ks->store);
    }
    if (rc == SF_OK) {
        rc = check_meta(ks, check);
    }

    sf_wipe(check, sizeof check);
    if (rc != SF_OK) {
        handle_free(ks);
        return rc;
    }
    *out = ks;
    return SF_OK;
}

void sf_keystore_close(struct sf_keystore *ks)
{
    handle_free(ks);
}

void sf_keystore_set_refresh_ms(struct sf_keystore *ks, unsigned ms)
{
    if (ks == NULL) {
        return;
    }
    atomic_store(&ks->refresh_ms, ms);
    atomic_store(&ks->next_check_ms, 0);
}

void ks_test_fail_after(struct sf_keystore *ks, int n, bool exits)
{
    pthread_mutex_lock(&ks->store_lock);
    ks->store->fault_countdown = n;
    ks->store->fault_exits = exits;
    pthread_mutex_unlock(&ks->store_lock);
}

/* After a committed change of key name to generation gen: when that is
 * the only change since the cache was filled, forget just that key;
 * otherwise another handle changed something too, so forget all. */
static void after_change(struct sf_keystore *ks, const char *name, uint64_t gen)
{
    if (ks->generation + 1 == gen) {
        ks_cache_drop(&ks->cache, name);
    } else {
        ks_cache_flush(&ks->cache);
    }
    ks->generation = gen;
}

/* Runs fn inside one transaction that also bumps the generation; any
 * failure rolls everything back. */
static sf_status run_change(struct sf_keystore *ks, const char *name,
                            change_fn fn, void *arg)
{
    struct ks_store *s = ks->store;
    uint64_t gen = 0;
    sf_status rc;

    pthread_mutex_lock(&ks->store_lock);
    rc = s->ops->begin(s);
    if (rc == SF_OK) {
        rc = fn(ks, arg);
    }
    if (rc == SF_OK) {
        rc = ks_store_bump_generation(s, &gen);
    }
    if (rc == SF_OK) {
        rc = s->ops->commit(s);
    }
    if (rc != SF_OK) {
        s->ops->rollback(s);
    } else {
        after_change(ks, name, gen);
    }
    pthread_mutex_unlock(&ks->store_lock);
    return rc;
}

sf_status ks_read_key(struct sf_keystore *ks, const char *name,
                      struct sf_key_info *info)
{
    struct ks_key_row row;
    sf_status rc = ks->store->ops->key_get(ks->store, name, &row);

    if (rc == SF_ERR_KEY_NOT_FOUND) {
        rc = sf_fail(SF_ERR_KEY_NOT_FOUND, "no key named '%s' in keystore %s",
                     name, ks->path);
    }
    if (rc == SF_OK) {
        rc = ks_settings_check(ks->settings_key, &row);
    }
    if (rc == SF_OK) {
        *info = row.info;
    }
    return rc;
}

/* Writes a key row with its settings MAC; the caller holds a
 * transaction, so the MAC always changes together with the settings. */
static sf_status write_key(struct sf_keystore *ks, const struct sf_key_info *k,
                           bool is_new)
{
    struct ks_key_row row = {.info = *k};
    sf_status rc = ks_settings_seal(ks->settings_key, &row);

    if (rc == SF_OK) {
        rc = ks_store_key_put(ks->store, &row, is_new);
    }
    return rc;
}

/* ---- create and rotate ------------------------------------------------ */

struct new_version {
    const char *name;
    enum sf_key_type type;
    struct sf_secret *material;
    struct sf_buf public_part;
    int64_t now;
    struct sf_key_info info; /* result */
};

/* Seals and stores version v of the key; the caller holds a
 * transaction. */
static sf_status put_version(struct sf_keystore *ks, struct new_version *nv,
                             uint32_t v)
{
    struct ks_version_row row = {.version = v, .created_at = nv->now};
    sf_status rc;

    rc = ks_material_seal(ks->seal_key, nv->name, v, nv->type, nv->now,
                          nv->material, &row.sealed);
    if (rc == SF_OK) {
        rc = sf_buf_append(&row.public_part, nv->public_part.data,
                           nv->public_part.len);
    }
    if (rc == SF_OK) {
        rc = ks_store_version_put(ks->store, nv->name, &row);
    }
    ks_version_row_free(&row);
    return rc;
}

static sf_status create_change(struct sf_keystore *ks, void *arg)
{
    struct new_version *nv = arg;
    struct sf_key_info *k = &nv->info;
    struct ks_key_row old;
    sf_status rc;

    rc = ks->store->ops->key_get(ks->store, nv->name, &old);
    if (rc == SF_OK) {
        return sf_fail(SF_ERR_KEY_EXISTS, "a key named '%s' already exists",
                       nv->name);
    }
    if (rc != SF_ERR_KEY_NOT_FOUND) {
        return rc;
    }
    memset(k, 0, sizeof *k);
    memcpy(k->name, nv->name, strlen(nv->name) + 1);
    k->type = nv->type;
    k->latest_version = 1;
    k->min_available_version = 1;
    k->min_decryption_version = 1;
    k->created_at = nv->now;
    k->latest_created_at = nv->now;
    rc = write_key(ks, k, true);
    if (rc == SF_OK) {
        rc = put_version(ks, nv, 1);
    }
    return rc;
}

static sf_status rotate_change(struct sf_keystore *ks, void *arg)
{
    struct new_version *nv = arg;
    struct sf_key_info *k = &nv->info;
    sf_status rc;

    rc = ks_read_key(ks, nv->name, k);
    if (rc != SF_OK) {
        return rc;
    }
    if (k->type != nv->type) {
        return sf_fail(SF_ERR_STORE,
                       "key '%s' was replaced while it was being rotated; "
                       "retry",
                       nv->name);
    }
    if (k->latest_version == UINT32_MAX) {
        return sf_fail(SF_ERR_LIMIT, "key '%s' has reached the last version",
                       nv->name);
    }
    rc = put_version(ks, nv, k->latest_version + 1);
    if (rc == SF_OK) {
        k->latest_version++;
        k->latest_created_at = nv->now;
        rc = write_key(ks, k, false);
    }
    return rc;
}

/* Generates material outside any lock (RSA takes seconds), then runs the
 * change that stores it. */
static sf_status add_version(struct sf_keystore *ks, struct new_version *nv,
                             change_fn fn)
{
    sf_status rc;

    nv->now = (int64_t)time(NULL);
    rc = ks_material_generate(nv->type, &nv->material, &nv->public_part);
    if (rc == SF_OK) {
        rc = run_change(ks, nv->name, fn, nv);
    }
    sf_secret_free(nv->material);
    nv->material = NULL;
    sf_buf_free(&nv->public_part);
    return rc;
}

sf_status sf_keystore_create_key(struct sf_keystore *ks, const char *name,
                                 enum sf_key_type type,
                                 struct sf_key_info *info)
{
    struct new_version nv = {.name = name, .type = type};
    sf_status rc;

    if (ks == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_key_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    if (sf_key_type_name(type) == NULL) {
        return sf_fail(SF_ERR_UNSUPPORTED, "unknown key type %d", (int)type);
    }
    rc = add_version(ks, &nv, create_change);
    if (rc == SF_OK && info != NULL) {
        *info = nv.info;
    }
    return rc;
}

sf_status sf_keystore_rotate(struct sf_keystore *ks, const char *name,
                             uint32_t *new_version)
{
    struct new_version nv = {.name = name};
    sf_status rc;

    if (ks == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_keystore_key_info(ks, name, &nv.info);
    if (rc != SF_OK) {
        return rc;
    }
    nv.type = nv.info.type;
    rc = add_version(ks, &nv, rotate_change);
    if (rc == SF_OK && new_version != NULL) {
        *new_version = nv.info.latest_version;
    }
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

sf_status sf_keystore_key_info(struct sf_keystore *ks, const char *name,
                               struct sf_key_info *out)
{
    sf_status rc;

    if (ks == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_key_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    pthread_mutex_lock(&ks->store_lock);
    rc = ks_read_key(ks, name, out);
    pthread_mutex_unlock(&ks->store_lock);
    return rc;
}

/* Checks the settings MAC of every listed row and copies the settings
 * out; the first row that fails makes the whole list fail. */
static sf_status list_check(struct sf_keystore *ks, struct ks_key_row *rows,
                            size_t count, struct sf_key_info **out)
{
    struct sf_key_info *infos;
    sf_status rc = SF_OK;

    infos = malloc((count > 0 ? count : 1) * sizeof *infos);
    if (infos == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < count && rc == SF_OK; i++) {
        rc = ks_settings_check(ks->settings_key, &rows[i]);
        infos[i] = rows[i].info;
    }
    if (rc != SF_OK) {
        free(infos);
        return rc;
    }
    *out = infos;
    return SF_OK;
}

sf_status sf_keystore_list(struct sf_keystore *ks, struct sf_key_info **out,
                           size_t *count)
{
    struct ks_key_row *rows = NULL;
    size_t n = 0;
    sf_status rc;

    if (ks == NULL || out == NULL || count == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    *count = 0;
    pthread_mutex_lock(&ks->store_lock);
    rc = ks->store->ops->key_list(ks->store, &rows, &n);
    pthread_mutex_unlock(&ks->store_lock);
    if (rc == SF_OK) {
        rc = list_check(ks, rows, n, out);
    }
    if (rc == SF_OK) {
        *count = n;
    }
    free(rows);
    return rc;
}

/* ---- config ----------------------------------------------------------- */

struct config_change {
    const char *name;
    const struct sf_key_config *config;
    struct sf_key_info info; /* result */
};

/* Checks the version rule on a key row after a config change:
 * min_available <= min_decryption <= effective min_encryption <= latest,
 * with min_encryption 0 meaning latest. */
static sf_status check_versions(const struct sf_key_info *k)
{
    uint32_t enc = k->min_encryption_version;

    if (k->min_decryption_version < 1) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s': min_decryption_version must be at least 1",
                       k->name);
    }
    if (k->min_decryption_version < k->min_available_version) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s': min_decryption_version %u is below "
                       "min_available_version %u (older versions were "
                       "trimmed)",
                       k->name, (unsigned)k->min_decryption_version,
                       (unsigned)k->min_available_version);
    }
    if (k->min_decryption_version > k->latest_version ||
        enc > k->latest_version) {
        return sf_fail(
            SF_ERR_KEY_CONFIG,
            "key '%s': min_%s_version %u is above the latest "
            "version %u",
            k->name, enc > k->latest_version ? "encryption" : "decryption",
            (unsigned)(enc > k->latest_version ? enc
                                               : k->min_decryption_version),
            (unsigned)k->latest_version);
    }
    if (enc != 0 && enc < k->min_decryption_version) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s': min_encryption_version %u is below "
                       "min_decryption_version %u (0 means the latest)",
                       k->name, (unsigned)enc,
                       (unsigned)k->min_decryption_version);
    }
    return SF_OK;
}

static sf_status config_change(struct sf_keystore *ks, void *arg)
{
    struct config_change *cc = arg;
    const struct sf_key_config *c = cc->config;
    struct sf_key_info *k = &cc->info;
    sf_status rc;

    rc = ks_read_key(ks, cc->name, k);
    if (rc != SF_OK) {
        return rc;
    }
    if (c->has_min_decryption_version) {
        k->min_decryption_version = c->min_decryption_version;
    }
    if (c->has_min_encryption_version) {
        k->min_encryption_version = c->min_encryption_version;
    }
    if (c->has_deletion_allowed) {
        k->deletion_allowed = c->deletion_allowed;
    }
    if (c->has_rotation_period) {
        k->rotation_period_s = c->rotation_period_s;
    }
    rc = check_versions(k);
    if (rc == SF_OK && k->rotation_period_s > (uint64_t)INT64_MAX) {
        rc = sf_fail(SF_ERR_KEY_CONFIG, "key '%s': rotation period too long",
                     k->name);
    }
    if (rc == SF_OK) {
        rc = write_key(ks, k, false);
    }
    return rc;
}

sf_status sf_keystore_config(struct sf_keystore *ks, const char *name,
                             const struct sf_key_config *c,
                             struct sf_key_info *info)
{
    struct config_change cc = {.name = name, .config = c};
    sf_status rc;

    if (ks == NULL || c == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_key_name_check(name);
    if (rc == SF_OK) {
        rc = run_change(ks, name, config_change, &cc);
    }
    if (rc == SF_OK && info != NULL) {
        *info = cc.info;
    }
    return rc;
}

/* ---- delete and trim ---------------------------------------------------- */

static sf_status delete_change(struct sf_keystore *ks, void *arg)
{
    const char *name = arg;
    struct sf_key_info k;
    sf_status rc;

    rc = ks_read_key(ks, name, &k);
    if (rc != SF_OK) {
        return rc;
    }
    if (!k.deletion_allowed) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s' may not be deleted: deletion_allowed is "
                       "false; allow it first with: sealflow keys config %s "
                       "--deletion-allowed",
                       name, name);
    }
    return ks_store_key_delete(ks->store, name);
}

sf_status sf_keystore_delete(struct sf_keystore *ks, const char *name)
{
    sf_status rc;

    if (ks == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_key_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    return run_change(ks, name, delete_change, (void *)name);
}

struct trim_change {
    const char *name;
    uint32_t min_available;
};

/* Vault's trim rule: the new minimum may not exceed min_decryption, nor
 * min_encryption when that is set, and trimmed versions stay trimmed. */
static sf_status check_trim(const struct sf_key_info *k, uint32_t min)
{
    uint32_t enc = k->min_encryption_version;

    if (min < k->min_available_version) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s': versions below %u are already trimmed; "
                       "min_available_version cannot go back to %u",
                       k->name, (unsigned)k->min_available_version,
                       (unsigned)min);
    }
    if (min > k->min_decryption_version || (enc != 0 && min > enc)) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s': cannot trim to version %u, above "
                       "min_decryption_version %u or min_encryption_version "
                       "%u; raise those first",
                       k->name, (unsigned)min,
                       (unsigned)k->min_decryption_version, (unsigned)enc);
    }
    return SF_OK;
}

static sf_status trim_change(struct sf_keystore *ks, void *arg)
{
    struct trim_change *tc = arg;
    struct sf_key_info k;
    sf_status rc;

    rc = ks_read_key(ks, tc->name, &k);
    if (rc == SF_OK) {
        rc = check_trim(&k, tc->min_available);
    }
    if (rc == SF_OK) {
        rc = ks_store_version_trim(ks->store, tc->name, tc->min_available);
    }
    if (rc == SF_OK) {
        k.min_available_version = tc->min_available;
        rc = write_key(ks, &k, false);
    }
    return rc;
}

sf_status sf_keystore_trim(struct sf_keystore *ks, const char *name,
                           uint32_t min_available)
{
    struct trim_change tc = {.name = name, .min_available = min_available};
    sf_status rc;

    if (ks == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_key_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    if (min_available < 1) {
        return sf_fail(SF_ERR_KEY_CONFIG,
                       "key '%s': min_available_version must be at least 1",
                       name);
    }
    return run_change(ks, name, trim_change, &tc);
}
