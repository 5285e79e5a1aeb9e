/*
 * Version rows: the list of a key's versions with their creation times,
 * and the upgrade of schema version 2 files, whose sealed material did
 * not yet authenticate each version's creation time (docs/KEYSTORE.md,
 * "Material sealing" and "Upgrading from schema version 2").
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keystore_internal.h"
#include "keystore_seal.h"

/* Reads version v of key k; a missing row below the latest version means
 * the file lost a row it must have. */
static sf_status read_version(struct sf_keystore *ks,
                              const struct sf_key_info *k, uint32_t v,
                              struct ks_version_row *row)
{
    sf_status rc = ks->store->ops->version_get(ks->store, k->name, v, row);

    if (rc == SF_ERR_KEY_NOT_FOUND) {
        rc = sf_fail(SF_ERR_STORE,
                     "keystore %s is damaged: key '%s' version %u is "
                     "missing; restore the keystore file from a backup",
                     ks->path, k->name, (unsigned)v);
    }
    return rc;
}

/* Reads version v and opens its material, which authenticates the
 * row's creation time; the material is wiped at once. */
static sf_status version_time(struct sf_keystore *ks,
                              const struct sf_key_info *k, uint32_t v,
                              int64_t *created_at)
{
    struct ks_version_row row = {0};
    struct sf_secret *material = NULL;
    sf_status rc = read_version(ks, k, v, &row);

    if (rc == SF_OK) {
        rc = ks_material_open(ks->seal_key, k->name, v, k->type,
                              row.created_at, row.sealed.data, row.sealed.len,
                              &material);
    }
    if (rc == SF_OK) {
        *created_at = row.created_at;
    }
    sf_secret_free(material);
    ks_version_row_free(&row);
    return rc;
}

/* Fills list (latest - min_available + 1 entries) from the store; the
 * caller holds store_lock and a transaction, so no trim or rotation by
 * another process can slip in between the key row and its versions. */
static sf_status read_versions(struct sf_keystore *ks, const char *name,
                               struct sf_key_version_info **out,
                               size_t *count)
{
    struct sf_key_version_info *list = NULL;
    struct sf_key_info k;
    size_t n;
    sf_status rc = ks_read_key(ks, name, &k);

    if (rc == SF_OK && k.min_available_version > k.latest_version) {
        rc = sf_fail(SF_ERR_STORE, "keystore %s is damaged: key '%s' has "
                     "no available version", ks->path, name);
    }
    if (rc != SF_OK) {
        return rc;
    }
    n = (size_t)(k.latest_version - k.min_available_version) + 1;
    list = calloc(n, sizeof *list);
    if (list == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        list[i].version = k.min_available_version + (uint32_t)i;
        rc = version_time(ks, &k, list[i].version, &list[i].created_at);
    }
    if (rc != SF_OK) {
        free(list);
        return rc;
    }
    *out = list;
    *count = n;
    return SF_OK;
}

sf_status sf_keystore_versions(struct sf_keystore *ks, const char *name,
                               struct sf_key_version_info **out,
                               size_t *count)
{
    struct ks_store *s;
    sf_status rc;

    if (ks == NULL || out == NULL || count == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    *count = 0;
    rc = sf_key_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    s = ks->store;
    pthread_mutex_lock(&ks->store_lock);
    rc = s->ops->begin(s);
    if (rc == SF_OK) {
        rc = read_versions(ks, name, out, count);
        s->ops->rollback(s);
    }
    pthread_mutex_unlock(&ks->store_lock);
    return rc;
}

/* ---- upgrading schema version 2 ------------------------------------------ */

/*
 * Re-seals version v of key k with the creation time in its associated
 * data. The times of version 1 and of the newest version must match the
 * key's settings, which their MAC authenticates.
 *
 * Limitation: schema version 2 authenticated no other version's time, so
 * those are taken as stored; one edited in the file before the upgrade
 * is sealed as it is (and can no longer change afterwards). Nothing
 * outside the file records them, so there is nothing to check against.
 */
static sf_status upgrade_version(struct sf_keystore *ks,
                                 const struct sf_key_info *k, uint32_t v)
{
    struct ks_version_row row = {0};
    struct sf_secret *material = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    sf_status rc = read_version(ks, k, v, &row);

    if (rc == SF_OK && ((v == 1 && row.created_at != k->created_at) ||
                        (v == k->latest_version &&
                         row.created_at != k->latest_created_at))) {
        rc = sf_fail(SF_ERR_STORE,
                     "the creation time of key '%s' version %u does not "
                     "match the key's settings: the keystore file was "
                     "modified outside sealflow; restore it from a backup",
                     k->name, (unsigned)v);
    }
    if (rc == SF_OK) {
        rc = ks_material_open_v1(ks->seal_key, k->name, v, k->type,
                                 row.sealed.data, row.sealed.len, &material);
    }
    if (rc == SF_OK) {
        rc = ks_material_seal(ks->seal_key, k->name, v, k->type,
                              row.created_at, material, &sealed);
    }
    if (rc == SF_OK) {
        rc = ks_store_version_reseal(ks->store, k->name, v, &sealed);
    }
    sf_secret_free(material);
    sf_buf_free(&sealed);
    ks_version_row_free(&row);
    return rc;
}

/* Re-seals every version of every key; the first failure stops it. */
static sf_status upgrade_keys(struct sf_keystore *ks)
{
    struct ks_key_row *rows = NULL;
    size_t n = 0;
    sf_status rc = ks->store->ops->key_list(ks->store, &rows, &n);

    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        const struct sf_key_info *k = &rows[i].info;

        rc = ks_settings_check(ks->settings_key, &rows[i]);
        for (uint32_t v = k->min_available_version;
             rc == SF_OK && v <= k->latest_version && v != 0; v++) {
            rc = upgrade_version(ks, k, v);
        }
    }
    free(rows);
    return rc;
}

sf_status ks_upgrade(struct sf_keystore *ks)
{
    struct ks_store *s = ks->store;
    int64_t schema = 0;
    uint64_t gen = 0;
    sf_status rc;

    pthread_mutex_lock(&ks->store_lock);
    rc = s->ops->begin(s);
    if (rc == SF_OK) {
        rc = s->ops->meta_get_int(s, KS_META_SCHEMA, &schema);
    }
    /* Another process may have upgraded the file since it was checked;
     * the schema is read again under the write lock. */
    if (rc == SF_OK && schema == KS_SCHEMA_UPGRADABLE) {
        rc = upgrade_keys(ks);
        if (rc == SF_OK) {
            rc = ks_store_meta_put_int(s, KS_META_SCHEMA, KS_SCHEMA_VERSION);
        }
        if (rc == SF_OK) {
            rc = ks_store_bump_generation(s, &gen);
        }
    } else if (rc == SF_OK && schema != KS_SCHEMA_VERSION) {
        rc = sf_fail(SF_ERR_STORE,
                     "keystore %s changed its schema version to %lld while "
                     "it was being opened; retry",
                     ks->path, (long long)schema);
    }
    if (rc == SF_OK) {
        rc = s->ops->commit(s);
    }
    if (rc != SF_OK) {
        s->ops->rollback(s);
    } else if (gen != 0) {
        ks->generation = gen;
    }
    pthread_mutex_unlock(&ks->store_lock);
    return rc;
}
