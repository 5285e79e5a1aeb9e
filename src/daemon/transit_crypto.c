/*
 * encrypt, decrypt and rewrap, single or batch.
 *
 * Each item is wrapped or unwrapped by the keystore; the ciphertext body
 * is exactly what sf_keystore_wrap returns, behind "vault:v<N>:". The
 * context and associated_data are bound as associated data (see
 * sfd_aad_build), so decrypting with different ones fails like tampering.
 *
 * An empty plaintext is wrapped as it is: the keystore wraps empty
 * secrets, and its unwrap returns SF_OK with no secret for them.
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"

#define MSG_AUTH "decryption failed: the ciphertext was changed, or the " \
    "context or associated_data differ from those it was encrypted with " \
    "(message authentication failed)"

/* What one item needs besides its main value. */
struct item_aad {
    struct sf_buf ctx;
    struct sf_buf ad;
    struct sf_buf aad;
};

typedef sf_status (*item_fn)(struct sfd_req *rq, const struct sfd_item *it,
                             uint32_t version, json_t *res);

/* Records an item's failure in res: {"error": "..."}. Returns rc. */
static sf_status item_error(json_t *res, sf_status rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sf_status item_error(json_t *res, sf_status rc, const char *fmt, ...)
{
    char msg[SFD_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object_set_new(res, "error", json_string(msg));
    return rc;
}

/* The message of the keystore's last failure, or the status text. */
static const char *why(sf_status rc)
{
    const char *s = sf_last_error();

    return s[0] != '\0' ? s : sf_status_str(rc);
}

/* Decodes an optional base64 value (NULL is empty). */
static bool decode_opt(const char *b64, struct sf_buf *out)
{
    if (b64 == NULL) {
        return true;
    }
    return sf_b64_decode(SF_B64_STD, b64, strlen(b64), out) == SF_OK;
}

/* Decodes context and associated_data and builds the associated data;
 * its flags byte, when there is one, is 0 (no flag is defined). */
static sf_status item_aad_build(const struct sfd_item *it,
                                struct item_aad *a, json_t *res)
{
    if (!decode_opt(it->context, &a->ctx)) {
        return item_error(res, SF_ERR_FORMAT, "context is not valid base64");
    }
    if (!decode_opt(it->associated_data, &a->ad)) {
        return item_error(res, SF_ERR_FORMAT, "associated_data is not "
                          "valid base64");
    }
    sf_buf_reset(&a->aad);
    if (sfd_aad_build(a->ctx.data, a->ctx.len, a->ad.data, a->ad.len,
                      &a->aad) != SF_OK) {
        return item_error(res, SF_ERR_NOMEM, "out of memory");
    }
    return SF_OK;
}

static void item_aad_free(struct item_aad *a)
{
    sf_buf_free(&a->ctx);
    sf_buf_free(&a->ad);
    sf_buf_free(&a->aad);
}

/* Wraps pt (empty allowed) and sets ciphertext and key_version in res. */
static sf_status wrap_into(struct sfd_req *rq, const struct sfd_item *it,
                           uint32_t version, const uint8_t *pt,
                           size_t pt_len, json_t *res)
{
    struct item_aad a = {SF_BUF_INIT, SF_BUF_INIT, SF_BUF_INIT};
    struct sf_buf wrapped = SF_BUF_INIT;
    struct sf_buf text = SF_BUF_INIT;
    uint32_t used = 0;
    sf_status rc = item_aad_build(it, &a, res);

    if (rc != SF_OK) {
        goto out;
    }
    rc = sf_keystore_wrap(rq->srv->ks, rq->route.key, version, a.aad.data,
                          a.aad.len, pt, pt_len, &wrapped, &used);
    if (rc == SF_OK) {
        rc = sfd_ciphertext_format(used, wrapped.data, wrapped.len, &text);
    }
    if (rc != SF_OK) {
        item_error(res, rc, "%s", why(rc));
        goto out;
    }
    json_object_set_new(res, "ciphertext", json_string((char *)text.data));
    json_object_set_new(res, "key_version", json_integer(used));
    rq->version = used;

out:
    item_aad_free(&a);
    sf_buf_free(&wrapped);
    sf_buf_free(&text);
    return rc;
}

/* Unwraps a parsed ciphertext; *pt stays NULL for an empty plaintext. */
static sf_status unwrap_ct(struct sfd_req *rq, const struct sfd_item *it,
                           uint32_t v, const struct sf_buf *raw,
                           struct sf_secret **pt, json_t *res)
{
    struct item_aad a = {SF_BUF_INIT, SF_BUF_INIT, SF_BUF_INIT};
    sf_status rc = item_aad_build(it, &a, res);

    if (rc == SF_OK) {
        rc = sf_keystore_unwrap(rq->srv->ks, rq->route.key, v, a.aad.data,
                                a.aad.len, raw->data, raw->len, pt);
    }
    item_aad_free(&a);
    return rc;
}

/* Opens the item's ciphertext; failures are recorded in res. On success
 * *pt is the plaintext, or NULL when it is empty. */
static sf_status open_item(struct sfd_req *rq, const struct sfd_item *it,
                           struct sf_secret **pt, json_t *res)
{
    struct sf_buf raw = SF_BUF_INIT;
    uint32_t v = 0;
    sf_status rc;

    *pt = NULL;
    if (sfd_ciphertext_parse(it->value, &v, &raw) != SF_OK) {
        sf_buf_free(&raw);
        return item_error(res, SF_ERR_FORMAT, "invalid ciphertext: "
                          "expected vault:v<version>:<base64>");
    }
    rc = unwrap_ct(rq, it, v, &raw, pt, res);
    sf_buf_free(&raw);
    if (rc == SF_OK || json_object_get(res, "error") != NULL) {
        return rc;
    }
    if (rc == SF_ERR_AUTH) {
        return item_error(res, rc, MSG_AUTH);
    }
    if (rc == SF_ERR_KEY_VERSION) {
        return item_error(res, rc, "ciphertext version %u is disallowed by "
                          "policy (too old, trimmed or unknown): %s",
                          (unsigned)v, why(rc));
    }
    return item_error(res, rc, "%s", why(rc));
}

static sf_status encrypt_one(struct sfd_req *rq, const struct sfd_item *it,
                             uint32_t version, json_t *res)
{
    struct sf_buf pt = SF_BUF_INIT;
    sf_status rc;

    if (sf_b64_decode(SF_B64_STD, it->value, strlen(it->value), &pt) !=
            SF_OK) {
        sf_buf_free(&pt);
        return item_error(res, SF_ERR_FORMAT, "plaintext is not valid "
                          "base64");
    }
    rc = wrap_into(rq, it, version, pt.data, pt.len, res);
    sf_buf_free(&pt);
    return rc;
}

static sf_status decrypt_one(struct sfd_req *rq, const struct sfd_item *it,
                             uint32_t version, json_t *res)
{
    struct sf_secret *pt = NULL;
    struct sf_buf b64 = SF_BUF_INIT;
    sf_status rc;

    (void)version;
    rc = open_item(rq, it, &pt, res);
    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_STD, sf_secret_cdata(pt),
                           sf_secret_len(pt), &b64);
    }
    if (rc == SF_OK) {
        json_object_set_new(res, "plaintext",
                            json_string((const char *)b64.data));
    }
    sf_secret_free(pt);
    sf_buf_free(&b64);
    return rc;
}

static sf_status rewrap_one(struct sfd_req *rq, const struct sfd_item *it,
                            uint32_t version, json_t *res)
{
    struct sf_secret *pt = NULL;
    sf_status rc;

    rc = open_item(rq, it, &pt, res);
    if (rc == SF_OK) {
        rc = wrap_into(rq, it, version, sf_secret_cdata(pt),
                       sf_secret_len(pt), res);
    }
    sf_secret_free(pt);
    return rc;
}

/* Outcome of running all items of a request. */
struct tally {
    size_t ok;
    size_t user_errors;
    size_t internal_errors;
    bool is_key_missing;
    unsigned single_status; /* status of the one item of a single call */
};

/* Runs one item into a new result object. */
static json_t *run_item(struct sfd_req *rq, const struct sfd_item *it,
                        uint32_t top_version, item_fn fn, struct tally *t)
{
    json_t *res = json_object();
    sf_status rc;

    if (res == NULL) {
        return NULL;
    }
    sf_clear_error();
    if (it->has_error) {
        rc = item_error(res, SF_ERR_FORMAT, "%s", it->error);
    } else {
        rc = fn(rq, it, it->key_version != 0 ? it->key_version
                                             : top_version, res);
    }
    t->is_key_missing |= rc == SF_ERR_KEY_NOT_FOUND;
    t->single_status = sfd_http_status(rc);
    if (rc == SF_OK) {
        t->ok++;
    } else if (t->single_status >= 500) {
        t->internal_errors++;
    } else {
        t->user_errors++;
    }
    if (it->reference != NULL) {
        json_object_set(res, "reference", it->reference);
    }
    return res;
}

/* The HTTP status of a batch, following Vault: 400 (500) when an item
 * failed, or partial_failure_response_code when some succeeded. */
static unsigned batch_status(const struct tally *t, json_t *body)
{
    unsigned status = t->user_errors > 0       ? 400
                      : t->internal_errors > 0 ? 500
                                               : 200;
    uint64_t code = 0;
    bool has = false;

    if (status != 200 && t->ok > 0 &&
            sfd_get_uint(body, "partial_failure_response_code", 599, &has,
                         &code) == SF_OK &&
            has && code >= 100) {
        status = (unsigned)code;
    }
    return status;
}

/* Replies for a single (non-batch) call from its one result. */
static void reply_single(struct sfd_reply *r, json_t *res,
                         const struct tally *t)
{
    json_t *err = json_object_get(res, "error");

    if (err != NULL) {
        sfd_reply_error(r, t->single_status, "%s", json_string_value(err));
        json_decref(res);
        return;
    }
    sfd_reply_data(r, res);
}

/* Runs the items of the request through fn. Returns false, leaving the
 * reply untouched, when the key does not exist. */
static bool run_items(struct sfd_req *rq, struct sfd_reply *r,
                      const char *field, item_fn fn)
{
    struct sfd_batch b;
    struct tally t = {0, 0, 0, false, 0};
    char err[SFD_ERROR_MAX];
    uint64_t top = 0;
    bool has = false;
    json_t *results = json_array();
    sf_status rc;

    rc = sfd_items_parse(rq->body, field, rq->srv->cfg->batch_max, &b, err,
                         sizeof err);
    if (rc == SF_OK && sfd_get_uint(rq->body, "key_version", UINT32_MAX,
                                    &has, &top) != SF_OK) {
        snprintf(err, sizeof err, "key_version must be a whole number");
        rc = SF_ERR_FORMAT;
    }
    if (rc != SF_OK || results == NULL) {
        sfd_reply_error(r, rc == SF_ERR_NOMEM ? 500 : 400, "%s", err);
        json_decref(results);
        sfd_batch_free(&b);
        return true;
    }
    rq->batch_count = b.is_batch ? b.count : 0;
    for (size_t i = 0; i < b.count && !t.is_key_missing; i++) {
        json_array_append_new(results, run_item(rq, &b.items[i],
                                                (uint32_t)top, fn, &t));
    }
    if (!t.is_key_missing && b.is_batch) {
        sfd_reply_data(r, json_pack("{s:O}", "batch_results", results));
        r->status = batch_status(&t, rq->body);
    } else if (!t.is_key_missing) {
        reply_single(r, json_incref(json_array_get(results, 0)), &t);
    }
    json_decref(results);
    sfd_batch_free(&b);
    return !t.is_key_missing;
}

/* Notes the sensitive inputs of a single call for the audit HMACs. */
static void note_audit_inputs(struct sfd_req *rq, const char *field)
{
    const char *ctx = json_string_value(json_object_get(rq->body,
                                                        "context"));
    const char *input = json_string_value(json_object_get(rq->body, field));

    if (json_object_get(rq->body, "batch_input") != NULL) {
        return;
    }
    if (ctx != NULL) {
        rq->audit_context = (const uint8_t *)ctx;
        rq->audit_context_len = strlen(ctx);
    }
    if (input != NULL && strcmp(field, "ciphertext") == 0) {
        rq->audit_input = (const uint8_t *)input;
        rq->audit_input_len = strlen(input);
    }
}

static void key_missing(struct sfd_req *rq, struct sfd_reply *r)
{
    sfd_reply_error(r, 404, "encryption key not found: '%s'", rq->route.key);
}

void sfd_encrypt(struct sfd_req *rq, struct sfd_reply *r)
{
    note_audit_inputs(rq, "plaintext");
    if (run_items(rq, r, "plaintext", encrypt_one)) {
        return;
    }
    /* Vault creates the key on first encrypt when the token may create
     * it. */
    if (!sf_token_allows(&rq->token, SF_OP_CREATE, rq->route.key)) {
        key_missing(rq, r);
        return;
    }
    if (sfd_keys_upsert(rq, r) && !run_items(rq, r, "plaintext",
                                             encrypt_one)) {
        key_missing(rq, r);
    }
}

void sfd_decrypt(struct sfd_req *rq, struct sfd_reply *r)
{
    note_audit_inputs(rq, "ciphertext");
    if (!run_items(rq, r, "ciphertext", decrypt_one)) {
        key_missing(rq, r);
    }
}

void sfd_rewrap(struct sfd_req *rq, struct sfd_reply *r)
{
    note_audit_inputs(rq, "ciphertext");
    if (!run_items(rq, r, "ciphertext", rewrap_one)) {
        key_missing(rq, r);
    }
}

/* Generates and wraps one data key of bits bits into res. */
static sf_status datakey_one(struct sfd_req *rq, const struct sfd_item *it,
                             uint32_t version, size_t bits, json_t *res)
{
    struct sf_secret *dk = NULL;
    struct sf_buf b64 = SF_BUF_INIT;
    sf_status rc;

    rc = sf_secret_random(bits / 8, &dk);
    if (rc == SF_OK) {
        rc = wrap_into(rq, it, version, sf_secret_cdata(dk),
                       sf_secret_len(dk), res);
    }
    if (rc == SF_OK && rq->route.is_plaintext_datakey) {
        rc = sf_b64_encode(SF_B64_STD, sf_secret_cdata(dk),
                           sf_secret_len(dk), &b64);
        if (rc == SF_OK) {
            json_object_set_new(res, "plaintext",
                                json_string((char *)b64.data));
        }
    }
    sf_secret_free(dk);
    sf_buf_free(&b64);
    return rc;
}

void sfd_datakey(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sfd_item it;
    uint64_t bits = 256;
    uint64_t version = 0;
    bool has = false;
    bool is_bad = false;
    json_t *res;
    sf_status rc;

    memset(&it, 0, sizeof it);
    it.context = json_string_value(json_object_get(rq->body, "context"));
    it.associated_data = json_string_value(
        json_object_get(rq->body, "associated_data"));
    is_bad |= sfd_get_uint(rq->body, "bits", 512, &has, &bits) != SF_OK;
    bits = has ? bits : 256;
    is_bad |= bits != 128 && bits != 256 && bits != 512;
    is_bad |= sfd_get_uint(rq->body, "key_version", UINT32_MAX, &has,
                           &version) != SF_OK;
    if (is_bad) {
        sfd_reply_error(r, 400, "bits must be 128, 256 or 512 and "
                        "key_version a whole number");
        return;
    }
    note_audit_inputs(rq, "plaintext");
    res = json_object();
    sf_clear_error();
    rc = datakey_one(rq, &it, (uint32_t)version, (size_t)bits, res);
    if (rc == SF_ERR_KEY_NOT_FOUND) {
        json_decref(res);
        key_missing(rq, r);
        return;
    }
    if (rc != SF_OK) {
        const char *msg = json_string_value(json_object_get(res, "error"));

        sfd_reply_error(r, sfd_http_status(rc), "%s",
                        msg != NULL ? msg : why(rc));
        json_decref(res);
        return;
    }
    sfd_reply_data(r, res);
}
