/*
 * Key management endpoints: keys, keys/:name and its config, rotate and
 * trim. Replies mirror Vault's key description so clients that read
 * latest_version or the keys map keep working.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "sealflow/buf.h"

/* Replies to a keystore failure; a missing key is 404. */
static void key_failed(struct sfd_reply *r, sf_status rc, const char *name)
{
    if (rc == SF_ERR_KEY_NOT_FOUND) {
        sfd_reply_error(r, 404, "encryption key not found: '%s'", name);
        return;
    }
    sfd_reply_status(r, rc);
}

static void rfc3339(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The "keys" map entry of one version: its creation time in Unix
 * seconds for symmetric keys, an object with the time and the public key
 * for asymmetric ones (as Vault does). */
static json_t *version_entry(struct sfd_req *rq, const struct sf_key_info *k,
                             const struct sf_key_version_info *vi)
{
    struct sf_buf pub = SF_BUF_INIT;
    char when[32];
    json_t *e;

    if (!sf_key_type_is_asymmetric(k->type)) {
        return json_integer((json_int_t)vi->created_at);
    }
    rfc3339(vi->created_at, when);
    if (sf_keystore_public_key(rq->srv->ks, k->name, vi->version, &pub) !=
            SF_OK || sf_buf_terminate(&pub) != SF_OK) {
        sf_buf_free(&pub);
        return json_pack("{s:s, s:s}", "creation_time", when, "name",
                         sf_key_type_name(k->type));
    }
    e = json_pack("{s:s, s:s, s:s}", "creation_time", when, "name",
                  sf_key_type_name(k->type), "public_key",
                  (const char *)pub.data);
    sf_buf_free(&pub);
    return e;
}

/* Maps every available version to its entry, from the keystore's
 * authenticated per-version creation times. */
static sf_status versions_map(struct sfd_req *rq, const struct sf_key_info *k,
                              json_t **out)
{
    struct sf_key_version_info *list = NULL;
    size_t n = 0;
    json_t *keys;
    sf_status rc;

    *out = NULL;
    rc = sf_keystore_versions(rq->srv->ks, k->name, &list, &n);
    if (rc != SF_OK) {
        return rc;
    }
    keys = json_object();
    for (size_t i = 0; keys != NULL && i < n; i++) {
        char num[16];

        snprintf(num, sizeof num, "%u", (unsigned)list[i].version);
        if (json_object_set_new(keys, num,
                                version_entry(rq, k, &list[i])) != 0) {
            json_decref(keys);
            keys = NULL;
        }
    }
    free(list);
    *out = keys;
    return keys != NULL ? SF_OK : SF_ERR_NOMEM;
}

/* Vault's key description; takes ownership of keys. */
static json_t *key_json(const struct sf_key_info *k, json_t *keys)
{
    return json_pack(
        "{s:b, s:I, s:b, s:b, s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:s, s:b,"
        " s:b, s:b, s:b, s:b, s:s}",
        "allow_plaintext_backup", 0, "auto_rotate_period",
        (json_int_t)k->rotation_period_s, "deletion_allowed",
        k->deletion_allowed, "derived", 0, "exportable", 0, "imported_key",
        0, "keys", keys, "latest_version",
        (json_int_t)k->latest_version, "min_available_version",
        (json_int_t)k->min_available_version, "min_decryption_version",
        (json_int_t)k->min_decryption_version, "min_encryption_version",
        (json_int_t)k->min_encryption_version, "name", k->name,
        "supports_decryption", 1, "supports_derivation", 0,
        "supports_encryption", 1, "supports_signing", 0,
        "convergent_encryption", 0, "type", sf_key_type_name(k->type));
}

/* Replies 200 with the description of k, or with the failure to read
 * its versions. */
static void reply_described(struct sfd_req *rq, struct sfd_reply *r,
                            const struct sf_key_info *k)
{
    json_t *keys = NULL;
    json_t *desc;
    sf_status rc = versions_map(rq, k, &keys);

    if (rc != SF_OK) {
        key_failed(r, rc, k->name);
        return;
    }
    desc = key_json(k, keys);
    if (desc == NULL) {
        sfd_reply_status(r, SF_ERR_NOMEM);
        return;
    }
    sfd_reply_data(r, desc);
}

/* Replies with the current description of the request's key. */
static void reply_key(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sf_key_info k;
    sf_status rc = sf_keystore_key_info(rq->srv->ks, rq->route.key, &k);

    if (rc != SF_OK) {
        key_failed(r, rc, rq->route.key);
        return;
    }
    rq->version = k.latest_version;
    reply_described(rq, r, &k);
}

void sfd_keys_read(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sf_key_info k;
    sf_status rc = sf_keystore_key_info(rq->srv->ks, rq->route.key, &k);

    if (rc == SF_ERR_KEY_NOT_FOUND) {
        r->status = 404;
        r->is_bare_404 = true;
        return;
    }
    if (rc != SF_OK) {
        sfd_reply_status(r, rc);
        return;
    }
    rq->version = k.latest_version;
    reply_described(rq, r, &k);
}

void sfd_keys_list(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sf_key_info *all = NULL;
    size_t count = 0;
    json_t *names;
    sf_status rc = sf_keystore_list(rq->srv->ks, &all, &count);

    if (rc != SF_OK) {
        sfd_reply_status(r, rc);
        return;
    }
    names = json_array();
    for (size_t i = 0; names != NULL && i < count; i++) {
        /* A token sees only the names its rules let it list. */
        if (sf_token_allows(&rq->token, SF_OP_LIST, all[i].name)) {
            json_array_append_new(names, json_string(all[i].name));
        }
    }
    free(all);
    if (json_array_size(names) == 0) {
        json_decref(names);
        r->status = 404;
        r->is_bare_404 = true;
        return;
    }
    sfd_reply_data(r, json_pack("{s:o}", "keys", names));
}

/* Refuses Vault key options sealflowd does not implement when set. */
static bool refuse_unsupported(json_t *body, struct sfd_reply *r)
{
    static const char *const options[] = {"derived", "convergent_encryption",
                                          "exportable",
                                          "allow_plaintext_backup"};

    for (size_t i = 0; i < 4; i++) {
        bool has = false;
        bool on = false;

        if (sfd_get_bool(body, options[i], &has, &on) != SF_OK || on) {
            sfd_reply_error(r, 400, "%s is not supported by sealflowd",
                            options[i]);
            return true;
        }
    }
    return false;
}

/* Reads the key type of a create or upsert (default aes256-gcm96). */
static bool read_type(json_t *body, enum sf_key_type *type,
                      struct sfd_reply *r)
{
    json_t *v = json_object_get(body, "type");
    const char *name = json_string_value(v);

    *type = SF_KEY_AES256_GCM96;
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (name == NULL || sf_key_type_parse(name, type) != SF_OK) {
        sfd_reply_error(r, 400, "unknown key type: use aes256-gcm96, "
                        "chacha20-poly1305, x25519, rsa-3072 or rsa-4096");
        return false;
    }
    return true;
}

void sfd_keys_create(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sf_key_config c = {.has_rotation_period = false};
    enum sf_key_type type;
    struct sf_key_info k;
    sf_status rc;

    if (refuse_unsupported(rq->body, r) || !read_type(rq->body, &type, r)) {
        return;
    }
    if (sfd_get_duration(rq->body, "auto_rotate_period",
                         &c.has_rotation_period, &c.rotation_period_s) !=
            SF_OK) {
        sfd_reply_error(r, 400, "auto_rotate_period must be seconds or a "
                        "duration such as \"24h\"");
        return;
    }
    rc = sf_keystore_create_key(rq->srv->ks, rq->route.key, type, &k);
    if (rc == SF_ERR_KEY_EXISTS) {
        reply_key(rq, r);
        sfd_reply_warn(r, "the key already existed and was not changed");
        return;
    }
    if (rc == SF_OK && c.has_rotation_period) {
        rc = sf_keystore_config(rq->srv->ks, rq->route.key, &c, &k);
    }
    if (rc != SF_OK) {
        sfd_reply_status(r, rc);
        return;
    }
    rq->version = 1;
    reply_described(rq, r, &k);
}

bool sfd_keys_upsert(struct sfd_req *rq, struct sfd_reply *r)
{
    enum sf_key_type type;
    enum sfd_op op = rq->op;
    sf_status rc;
    bool is_audited;

    if (!read_type(rq->body, &type, r)) {
        return false;
    }
    rq->op = SFD_OP_KEYS_CREATE;
    is_audited = sfd_audit_write(rq, "started", 0, NULL, 0);
    rq->op = op;
    if (!is_audited) {
        rq->is_audit_refused = true;
        sfd_reply_error(r, 503, "audit log unavailable: request refused "
                        "and not performed");
        return false;
    }
    rq->was_mutated = true;
    rc = sf_keystore_create_key(rq->srv->ks, rq->route.key, type, NULL);
    if (rc != SF_OK && rc != SF_ERR_KEY_EXISTS) {
        sfd_reply_status(r, rc);
        return false;
    }
    return true;
}

void sfd_keys_delete(struct sfd_req *rq, struct sfd_reply *r)
{
    sf_status rc = sf_keystore_delete(rq->srv->ks, rq->route.key);

    if (rc == SF_ERR_KEY_CONFIG) {
        sfd_reply_error(r, 400, "deletion is not allowed for this key: set "
                        "deletion_allowed with keys/%s/config first",
                        rq->route.key);
        return;
    }
    if (rc != SF_OK) {
        key_failed(r, rc, rq->route.key);
        return;
    }
    sfd_reply_empty(r);
}

/* Reads the config fields of the body into c. */
static bool read_config(json_t *body, struct sf_key_config *c,
                        struct sfd_reply *r)
{
    uint64_t v = 0;
    bool has = false;

    memset(c, 0, sizeof *c);
    if (sfd_get_uint(body, "min_decryption_version", UINT32_MAX,
                     &c->has_min_decryption_version, &v) != SF_OK) {
        goto bad;
    }
    c->min_decryption_version = (uint32_t)v;
    if (sfd_get_uint(body, "min_encryption_version", UINT32_MAX,
                     &c->has_min_encryption_version, &v) != SF_OK) {
        goto bad;
    }
    c->min_encryption_version = (uint32_t)v;
    if (sfd_get_bool(body, "deletion_allowed", &c->has_deletion_allowed,
                     &c->deletion_allowed) != SF_OK ||
            sfd_get_duration(body, "auto_rotate_period", &has, &v) !=
                SF_OK) {
        goto bad;
    }
    /* Limitation: the period is stored and reported, but no scheduler
     * rotates keys yet; rotate with keys/:name/rotate meanwhile. */
    c->has_rotation_period = has;
    c->rotation_period_s = v;
    return true;

bad:
    sfd_reply_error(r, 400, "invalid config: versions are whole numbers, "
                    "deletion_allowed is a boolean, auto_rotate_period is "
                    "seconds or a duration such as \"24h\"");
    return false;
}

void sfd_keys_config(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sf_key_config c;
    struct sf_key_info k;
    sf_status rc;

    if (refuse_unsupported(rq->body, r) || !read_config(rq->body, &c, r)) {
        return;
    }
    rc = sf_keystore_config(rq->srv->ks, rq->route.key, &c, &k);
    if (rc != SF_OK) {
        key_failed(r, rc, rq->route.key);
        return;
    }
    rq->version = k.latest_version;
    reply_described(rq, r, &k);
}

void sfd_keys_rotate(struct sfd_req *rq, struct sfd_reply *r)
{
    uint32_t v = 0;
    sf_status rc = sf_keystore_rotate(rq->srv->ks, rq->route.key, &v);

    if (rc != SF_OK) {
        key_failed(r, rc, rq->route.key);
        return;
    }
    reply_key(rq, r);
    rq->version = v;
}

void sfd_keys_trim(struct sfd_req *rq, struct sfd_reply *r)
{
    uint64_t v = 0;
    bool has = false;
    sf_status rc;

    if (sfd_get_uint(rq->body, "min_available_version", UINT32_MAX, &has,
                     &v) != SF_OK || !has || v == 0) {
        sfd_reply_error(r, 400, "min_available_version must be given as a "
                        "positive whole number");
        return;
    }
    rc = sf_keystore_trim(rq->srv->ks, rq->route.key, (uint32_t)v);
    if (rc != SF_OK) {
        key_failed(r, rc, rq->route.key);
        return;
    }
    reply_key(rq, r);
}
