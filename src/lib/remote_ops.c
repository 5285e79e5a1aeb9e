#include <string.h>

#include "error.h"
#include "kdf.h"
#include "remote_internal.h"
#include "sealflow/encoding.h"

/* Data key sizes the datakey endpoint offers. */
static const unsigned datakey_bits[] = {128, 256, 512};

/* ---- cache keys --------------------------------------------------------- */

static sf_status digest(const char *label, const uint8_t *a, size_t a_len,
                        const uint8_t *b, size_t b_len,
                        uint8_t key[SF_DEKCACHE_KEY_LEN])
{
    struct sf_buf m = SF_BUF_INIT;
    sf_status rc = sf_buf_append(&m, label, strlen(label) + 1);

    if (rc == SF_OK) {
        rc = sf_buf_append(&m, a, a_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(&m, 0);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(&m, b, b_len);
    }
    if (rc == SF_OK) {
        rc = sf_hash(SF_MD_SHA256, m.data, m.len, key);
    }
    sf_buf_free(&m);
    return rc;
}

/* Data keys are cached per key name and size; the entry carries the KEK
 * version, and a newer version seen anywhere drops it. */
static sf_status datakey_key(const char *name, unsigned bits,
                             uint8_t key[SF_DEKCACHE_KEY_LEN])
{
    uint8_t b[2] = {(uint8_t)(bits >> 8), (uint8_t)bits};

    return digest("sealflow remote datakey", (const uint8_t *)name,
                  strlen(name), b, sizeof b, key);
}

sf_status sf_remote_unwrap_key(const char *name, const char *wrapped,
                               size_t len, uint8_t key[SF_DEKCACHE_KEY_LEN])
{
    return digest("sealflow remote unwrap", (const uint8_t *)name,
                  strlen(name), (const uint8_t *)wrapped, len, key);
}

static void note_version(struct sf_remote *r, const char *name,
                         uint32_t version)
{
    uint8_t key[SF_DEKCACHE_KEY_LEN];

    for (size_t i = 0; i < sizeof datakey_bits / sizeof *datakey_bits;
         i++) {
        if (datakey_key(name, datakey_bits[i], key) == SF_OK) {
            sf_dekcache_drop_older(r->deks, key, version);
        }
    }
}

/* ---- answer fields -------------------------------------------------- */

sf_status sf_remote_secret_of(const struct sf_remote *r, const json_t *obj,
                              size_t want, struct sf_secret **out)
{
    const json_t *v = json_object_get(obj, "plaintext");
    struct sf_buf raw = SF_BUF_INIT;
    sf_status rc = SF_ERR_REMOTE;

    if (json_is_string(v)) {
        rc = sf_b64_decode(SF_B64_STD, json_string_value(v),
                           json_string_length(v), &raw);
    }
    if (rc != SF_OK) {
        rc = sf_fail(SF_ERR_REMOTE, "key service at %s: answer without a "
                     "base64 \"plaintext\"", r->addr);
    } else if (raw.len == 0 || raw.len > 64 ||
               (want > 0 && raw.len != want)) {
        rc = sf_fail(SF_ERR_REMOTE, "key service at %s: returned a %zu-byte "
                     "key, expected %zu", r->addr, raw.len,
                     want > 0 ? want : (size_t)32);
    } else {
        rc = sf_secret_from(raw.data, raw.len, out);
    }
    sf_buf_free(&raw);
    return rc;
}

/* Appends the answer's "vault:vN:..." ciphertext and parses N. */
static sf_status wrapped_of(const struct sf_remote *r, const json_t *obj,
                            struct sf_buf *out, uint32_t *version)
{
    const json_t *v = json_object_get(obj, "ciphertext");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    sf_status rc;

    if (s == NULL || sf_remote_version_of(s, n, version) != SF_OK) {
        return sf_fail(SF_ERR_REMOTE, "key service at %s: answer without a "
                       "\"vault:vN:\" ciphertext", r->addr);
    }
    rc = sf_buf_append(out, s, n);
    return rc == SF_OK ? sf_buf_terminate(out) : rc;
}

static const json_t *data_of(const struct sf_rcall *c)
{
    return json_object_get(c->body, "data");
}

/* ---- encrypt ------------------------------------------------------------ */

/* Limitation: no "context" is sent, so transit keys created with
 * derived=true (or convergent encryption) cannot be used; the service
 * refuses such a request with 400 and the caller sees SF_ERR_REMOTE. */

sf_status sf_remote_encrypt(struct sf_remote *r, const char *name,
                            const uint8_t *pt, size_t len,
                            struct sf_buf *wrapped, uint32_t *version)
{
    struct sf_rcall c = {"encrypt", name, NULL, 0, NULL};
    struct sf_buf b64 = SF_BUF_INIT;
    size_t mark = wrapped->len;
    sf_status rc = sf_b64_encode(SF_B64_STD, pt, len, &b64);

    if (rc == SF_OK) {
        c.req = json_pack("{s:s%}", "plaintext", (const char *)b64.data,
                          b64.len);
        rc = c.req != NULL ? SF_OK : SF_ERR_NOMEM;
    }
    if (rc == SF_OK) {
        rc = sf_remote_call(r, &c);
    }
    if (rc == SF_OK) {
        rc = wrapped_of(r, data_of(&c), wrapped, version);
    }
    if (rc == SF_OK) {
        note_version(r, name, *version);
    } else {
        wrapped->len = mark;
    }
    sf_rcall_clear(&c);
    sf_buf_free(&b64);
    return rc;
}

/* ---- datakey ------------------------------------------------------------ */

struct datakey_ctx {
    struct sf_remote *r;
    const char *name;
    unsigned bits;
};

static sf_status fetch_datakey(void *arg, struct sf_dekcache_item *out)
{
    struct datakey_ctx *x = arg;
    struct sf_rcall c = {"datakey/plaintext", x->name, NULL, 0, NULL};
    sf_status rc;

    c.req = json_pack("{s:i}", "bits", (json_int_t)x->bits);
    rc = c.req != NULL ? sf_remote_call(x->r, &c) : SF_ERR_NOMEM;
    if (rc == SF_OK) {
        rc = sf_remote_secret_of(x->r, data_of(&c), x->bits / 8, &out->dek);
    }
    if (rc == SF_OK) {
        rc = wrapped_of(x->r, data_of(&c), &out->wrapped, &out->version);
    }
    sf_rcall_clear(&c);
    return rc;
}

static bool is_datakey_size(unsigned bits)
{
    return bits == 128 || bits == 256 || bits == 512;
}

sf_status sf_remote_datakey(struct sf_remote *r, const char *name,
                            unsigned bits, uint64_t data_len,
                            struct sf_secret **dek, struct sf_buf *wrapped,
                            uint32_t *version)
{
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};
    char nm[SF_REMOTE_NAME_MAX + 1];
    uint8_t key[SF_DEKCACHE_KEY_LEN];
    struct datakey_ctx x = {r, nm, bits};
    size_t mark;
    sf_status rc;

    if (dek == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *dek = NULL;
    if (r == NULL || wrapped == NULL || version == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    if (!is_datakey_size(bits)) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote datakey: %u bits; the "
                       "service offers 128, 256 or 512", bits);
    }
    mark = wrapped->len;
    rc = sf_remote_name(name, nm);
    if (rc == SF_OK) {
        rc = datakey_key(nm, bits, key);
    }
    if (rc == SF_OK) {
        rc = sf_dekcache_take(r->deks, key, data_len, fetch_datakey, &x,
                              &it);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(wrapped, it.wrapped.data, it.wrapped.len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_terminate(wrapped);
    }
    if (rc == SF_OK) {
        *dek = it.dek;
        it.dek = NULL;
        *version = it.version;
    } else {
        wrapped->len = mark;
    }
    sf_dekcache_item_clear(&it);
    return rc;
}

/* ---- decrypt, one at a time --------------------------------------------- */

struct unwrap_ctx {
    struct sf_remote *r;
    const char *name;
    const char *wrapped;
    size_t len;
    uint32_t version;
};

static sf_status fetch_unwrap(void *arg, struct sf_dekcache_item *out)
{
    struct unwrap_ctx *x = arg;
    struct sf_rcall c = {"decrypt", x->name, NULL, 0, NULL};
    sf_status rc;

    c.req = json_pack("{s:s%}", "ciphertext", x->wrapped, x->len);
    rc = c.req != NULL ? sf_remote_call(x->r, &c) : SF_ERR_NOMEM;
    if (rc == SF_OK) {
        rc = sf_remote_secret_of(x->r, data_of(&c), 0, &out->dek);
    }
    out->version = x->version;
    sf_rcall_clear(&c);
    return rc;
}

sf_status sf_remote_unwrap(struct sf_remote *r, const char *name,
                           const char *wrapped, size_t len,
                           struct sf_secret **dek)
{
    struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};
    struct unwrap_ctx x = {r, name, wrapped, len, 0};
    uint8_t key[SF_DEKCACHE_KEY_LEN];
    sf_status rc;

    *dek = NULL;
    rc = sf_remote_version_of(wrapped, len, &x.version);
    if (rc == SF_OK) {
        rc = sf_remote_unwrap_key(name, wrapped, len, key);
    }
    if (rc == SF_OK) {
        rc = sf_dekcache_take(r->unwraps, key, 0, fetch_unwrap, &x, &it);
    }
    if (rc == SF_OK) {
        *dek = it.dek;
        it.dek = NULL;
    }
    sf_dekcache_item_clear(&it);
    return rc;
}
