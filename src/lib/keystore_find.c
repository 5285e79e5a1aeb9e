/*
 * Finding a keystore key version by the fingerprint of its public key,
 * so a file a partner sealed to an exported public key
 * (sf_keystore_public_key) can be opened with the keystore. The
 * fingerprints are computed once from the stored public parts and kept
 * until the keystore changes (docs/KEYSTORE.md, "Partner files").
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kdf.h"
#include "keystore_internal.h"
#include "keystore_seal.h"

/* Bytes of SHA-256 a fingerprint shows, as hex. */
#define FP_HASH_BYTES 8

void ks_fp_index_free(struct ks_fp_index *ix)
{
    free(ix->entries);
    memset(ix, 0, sizeof *ix);
}

/* Writes kind ":" hex(SHA-256(pub)[0..8)) into fp; the same form the
 * envelope's partner recipients write as key id (docs/FORMAT.md). */
static sf_status fingerprint(const char *kind, const struct sf_buf *pub,
                             char fp[SF_KEYSTORE_FINGERPRINT_MAX])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t md[32];
    size_t at = strlen(kind);
    sf_status rc = sf_hash(SF_MD_SHA256, pub->data, pub->len, md);

    if (rc != SF_OK) {
        return rc;
    }
    memcpy(fp, kind, at);
    fp[at++] = ':';
    for (size_t i = 0; i < FP_HASH_BYTES; i++) {
        fp[at++] = digits[md[i] >> 4];
        fp[at++] = digits[md[i] & 15];
    }
    fp[at] = '\0';
    return SF_OK;
}

static sf_status push(struct ks_fp_index *ix, size_t *cap,
                      const struct ks_fp_entry *e)
{
    if (ix->len == *cap) {
        size_t ncap = *cap == 0 ? 16 : *cap * 2;
        struct ks_fp_entry *n = realloc(ix->entries, ncap * sizeof *n);

        if (n == NULL) {
            return SF_ERR_NOMEM;
        }
        ix->entries = n;
        *cap = ncap;
    }
    ix->entries[ix->len++] = *e;
    return SF_OK;
}

/* Adds every available version of the asymmetric key k. A version row
 * that is gone was trimmed since the key row was read: it is skipped,
 * as is one without a public part (a damaged row, refused when used). */
static sf_status add_key(struct sf_keystore *ks, const struct sf_key_info *k,
                         struct ks_fp_index *ix, size_t *cap)
{
    const char *kind = k->type == SF_KEY_X25519 ? "x25519" : "rsa";
    struct ks_fp_entry e;
    sf_status rc = SF_OK;

    memset(&e, 0, sizeof e);
    memcpy(e.name, k->name, strlen(k->name) + 1);
    e.min_decryption_version = k->min_decryption_version;
    for (uint32_t v = k->min_available_version;
         rc == SF_OK && v != 0 && v <= k->latest_version; v++) {
        struct ks_version_row row = {0};

        rc = ks->store->ops->version_get(ks->store, k->name, v, &row);
        if (rc == SF_ERR_KEY_NOT_FOUND) {
            rc = SF_OK;
        } else if (rc == SF_OK && row.public_part.len > 0) {
            e.version = v;
            rc = fingerprint(kind, &row.public_part, e.fp);
            if (rc == SF_OK) {
                rc = push(ix, cap, &e);
            }
        }
        ks_version_row_free(&row);
    }
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct ks_fp_entry *x = a;
    const struct ks_fp_entry *y = b;
    int c = strcmp(x->fp, y->fp);

    if (c == 0) {
        c = strcmp(x->name, y->name);
    }
    if (c == 0) {
        c = x->version < y->version ? -1 : x->version > y->version;
    }
    return c;
}

/*
 * Reads the fingerprints of every available asymmetric key version into
 * a new index; the caller holds store_lock. Every key row's settings MAC
 * is checked, as sf_keystore_list does: one row modified outside
 * sealflow fails the lookup rather than answer from doubtful settings.
 *
 * Limitation: any change to the keystore (a rotation of any key, a
 * config change) makes the next lookup read every asymmetric version's
 * public part again, one query each; fine for hundreds of versions, but
 * with many thousands the first partner file opened after each change
 * would wait for it.
 */
static sf_status build(struct sf_keystore *ks, struct ks_fp_index *ix)
{
    struct ks_key_row *rows = NULL;
    size_t n = 0;
    size_t cap = 0;
    sf_status rc = ks->store->ops->key_list(ks->store, &rows, &n);

    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        rc = ks_settings_check(ks->settings_key, &rows[i]);
        if (rc == SF_OK && sf_key_type_is_asymmetric(rows[i].info.type)) {
            rc = add_key(ks, &rows[i].info, ix, &cap);
        }
    }
    free(rows);
    if (rc == SF_OK && ix->len > 1) {
        qsort(ix->entries, ix->len, sizeof *ix->entries, entry_cmp);
    }
    return rc;
}

/* The first entry with fingerprint fp (the lowest name and version when
 * two versions share one), or NULL. */
static const struct ks_fp_entry *lookup(const struct ks_fp_index *ix,
                                        const char *fp)
{
    size_t lo = 0;
    size_t hi = ix->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(ix->entries[mid].fp, fp) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < ix->len && strcmp(ix->entries[lo].fp, fp) == 0) {
        return &ix->entries[lo];
    }
    return NULL;
}

/* Finds fp in the index, rebuilding it first when the keystore changed
 * since it was built; the caller holds store_lock. */
static sf_status find_locked(struct sf_keystore *ks, const char *fp,
                             struct ks_fp_entry *out)
{
    struct ks_fp_index *ix = &ks->fp_index;
    const struct ks_fp_entry *e;
    sf_status rc;

    if (!ix->is_built || ix->generation != ks->generation) {
        ks_fp_index_free(ix);
        rc = build(ks, ix);
        if (rc != SF_OK) {
            ks_fp_index_free(ix);
            return rc;
        }
        ix->generation = ks->generation;
        ix->is_built = true;
    }
    e = lookup(ix, fp);
    if (e == NULL) {
        return sf_fail(SF_ERR_KEY_NOT_FOUND,
                       "no key version in keystore %s has a public key "
                       "with that fingerprint",
                       ks->path);
    }
    *out = *e;
    return SF_OK;
}

sf_status sf_keystore_find_public(struct sf_keystore *ks,
                                  const char *fingerprint_str,
                                  char name_out[SF_KEY_NAME_MAX + 1],
                                  uint32_t *version)
{
    struct ks_fp_entry e;
    sf_status rc;

    if (ks == NULL || fingerprint_str == NULL || name_out == NULL ||
        version == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    name_out[0] = '\0';
    *version = 0;

    rc = ks_refresh(ks, false);
    if (rc != SF_OK) {
        return rc;
    }
    pthread_mutex_lock(&ks->store_lock);
    rc = find_locked(ks, fingerprint_str, &e);
    pthread_mutex_unlock(&ks->store_lock);
    if (rc == SF_OK && e.version < e.min_decryption_version) {
        rc = sf_fail(SF_ERR_KEY_VERSION,
                     "key '%s' version %u is below min_decryption_version %u",
                     e.name, (unsigned)e.version,
                     (unsigned)e.min_decryption_version);
    }
    if (rc == SF_OK) {
        memcpy(name_out, e.name, strlen(e.name) + 1);
        *version = e.version;
    }
    return rc;
}
