/*
 * Backend-independent parts of the keystore storage interface: the write
 * wrappers with their fault hook, and the generation counter.
 */
#include <unistd.h>

#include "error.h"
#include "keystore_store.h"

void ks_version_row_free(struct ks_version_row *r)
{
    if (r == NULL) {
        return;
    }
    sf_buf_free(&r->sealed);
    sf_buf_free(&r->public_part);
}

/* The fault hook: lets a test fail (or crash at) the nth write of a
 * change, to show that a change is all or nothing. */
static sf_status fault(struct ks_store *s)
{
    if (s->fault_countdown <= 0) {
        return SF_OK;
    }
    s->fault_countdown--;
    if (s->fault_countdown > 0) {
        return SF_OK;
    }
    if (s->fault_exits) {
        _exit(77);
    }
    return sf_fail(SF_ERR_STORE, "keystore write failed (injected fault)");
}

sf_status ks_store_meta_put_int(struct ks_store *s, const char *k, int64_t v)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->meta_put_int(s, k, v) : rc;
}

sf_status ks_store_meta_put_blob(struct ks_store *s, const char *k,
                                 const uint8_t *p, size_t len)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->meta_put_blob(s, k, p, len) : rc;
}

sf_status ks_store_key_put(struct ks_store *s, const struct ks_key_row *k,
                           bool is_new)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->key_put(s, k, is_new) : rc;
}

sf_status ks_store_key_delete(struct ks_store *s, const char *name)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->key_delete(s, name) : rc;
}

sf_status ks_store_version_put(struct ks_store *s, const char *name,
                               const struct ks_version_row *row)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->version_put(s, name, row) : rc;
}

sf_status ks_store_version_trim(struct ks_store *s, const char *name,
                                uint32_t min_version)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->version_trim(s, name, min_version) : rc;
}

sf_status ks_store_version_reseal(struct ks_store *s, const char *name,
                                  uint32_t version,
                                  const struct sf_buf *sealed)
{
    sf_status rc = fault(s);

    return rc == SF_OK ? s->ops->version_reseal(s, name, version, sealed)
                       : rc;
}

sf_status ks_store_bump_generation(struct ks_store *s, uint64_t *gen)
{
    int64_t v = 0;
    sf_status rc;

    rc = s->ops->meta_get_int(s, KS_META_GENERATION, &v);
    if (rc != SF_OK) {
        return rc;
    }
    if (v < 0 || v == INT64_MAX) {
        return sf_fail(SF_ERR_STORE, "keystore generation counter is "
                                     "damaged");
    }
    rc = ks_store_meta_put_int(s, KS_META_GENERATION, v + 1);
    if (rc == SF_OK) {
        *gen = (uint64_t)v + 1;
    }
    return rc;
}
