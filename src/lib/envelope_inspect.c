#include <stdlib.h>
#include <string.h>

#include "envelope_internal.h"
#include "error.h"
#include "header.h"
#include "recipient.h"

static char *dup_bytes(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s != NULL) {
        if (len > 0) {
            memcpy(s, p, len);
        }
        s[len] = '\0';
    }
    return s;
}

/* Parses a whole header or fails: inspect and rewrap need all of it. */
static sf_status parse_whole(const uint8_t *buf, size_t len,
                             struct sf_header *h)
{
    size_t need;
    sf_status rc = sf_header_parse(buf, len, h, &need);

    if (rc == SF_OK && need != 0) {
        rc = sf_fail(SF_ERR_FORMAT, "envelope header is incomplete: %zu "
                     "bytes given, at least %zu needed", len, need);
    }
    return rc;
}

static sf_status copy_context(const struct sf_header *h,
                              struct sf_header_info *out)
{
    if (h->context_len == 0) {
        return SF_OK;
    }
    out->context_keys = calloc(h->context_len, sizeof *out->context_keys);
    out->context_values = calloc(h->context_len,
                                 sizeof *out->context_values);
    if (out->context_keys == NULL || out->context_values == NULL) {
        return SF_ERR_NOMEM;
    }
    out->context_len = h->context_len;
    for (size_t i = 0; i < h->context_len; i++) {
        const struct sf_hdr_kv *kv = &h->context[i];

        out->context_keys[i] = dup_bytes(kv->key, kv->key_len);
        out->context_values[i] = dup_bytes(kv->value, kv->value_len);
        if (out->context_keys[i] == NULL || out->context_values[i] == NULL) {
            return SF_ERR_NOMEM;
        }
    }
    return SF_OK;
}

static sf_status copy_stanzas(const struct sf_header *h,
                              struct sf_header_info *out)
{
    out->stanzas = calloc(h->stanza_len, sizeof *out->stanzas);
    if (out->stanzas == NULL) {
        return SF_ERR_NOMEM;
    }
    out->stanza_len = h->stanza_len;
    for (size_t i = 0; i < h->stanza_len; i++) {
        const struct sf_stanza *st = &h->stanzas[i];

        out->stanzas[i].type = (enum sf_stanza_type)st->type;
        memcpy(out->stanzas[i].key_id, st->key_id, st->key_id_len);
        out->stanzas[i].key_id[st->key_id_len] = '\0';
        out->stanzas[i].version = st->version;
    }
    return SF_OK;
}

sf_status sf_envelope_info_from(const struct sf_header *h,
                                struct sf_header_info *out)
{
    sf_status rc;

    memset(out, 0, sizeof *out);
    out->format_version = h->version;
    out->suite = (enum sf_suite)h->suite;
    out->frame_len = h->frame_len;
    memcpy(out->message_id, h->message_id, SF_MESSAGE_ID_LEN);
    out->header_len = h->total_len;
    rc = copy_context(h, out);
    if (rc == SF_OK) {
        rc = copy_stanzas(h, out);
    }
    if (rc != SF_OK) {
        sf_header_info_free(out);
    }
    return rc;
}

sf_status sf_envelope_inspect(const uint8_t *buf, size_t len,
                              struct sf_header_info *out)
{
    struct sf_header *h = NULL;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (buf == NULL && len > 0) {
        return SF_ERR_INVALID_ARG;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        return SF_ERR_NOMEM;
    }
    rc = parse_whole(buf, len, h);
    if (rc == SF_OK) {
        rc = sf_envelope_info_from(h, out);
    }
    free(h);
    return rc;
}

void sf_header_info_free(struct sf_header_info *info)
{
    if (info == NULL) {
        return;
    }
    for (size_t i = 0; i < info->context_len; i++) {
        free(info->context_keys[i]);
        free(info->context_values[i]);
    }
    free(info->context_keys);
    free(info->context_values);
    free(info->stanzas);
    memset(info, 0, sizeof *info);
}

/* ---- rewrap ------------------------------------------------------------ */

struct rewrap {
    const uint8_t *buf;
    struct sf_header *h;
    struct sf_keystore *ks;
    const char *key_name;
    struct sf_secret *dek;
    struct sf_buf bodies[SF_STANZA_MAX];
    struct sf_stanza st[SF_STANZA_MAX];
    bool is_changed;
};

/*
 * Re-wraps one stanza when it names a keystore key that key_name selects
 * and a newer version exists. A keystore stanza for a key this keystore
 * does not hold is kept as it is.
 */
static sf_status rewrap_one(struct rewrap *r, size_t i)
{
    struct sf_stanza *st = &r->st[i];
    char name[SF_KEY_ID_MAX + 1];
    struct sf_key_info info;
    uint32_t used = 0;
    sf_status rc;

    *st = r->h->stanzas[i];
    if (!sf_recipient_stanza_is_keystore(st) ||
            (r->key_name != NULL &&
             !sf_recipient_stanza_id_is(st, r->key_name))) {
        return SF_OK;
    }
    memcpy(name, st->key_id, st->key_id_len);
    name[st->key_id_len] = '\0';
    rc = sf_keystore_key_info(r->ks, name, &info);
    if (rc == SF_ERR_KEY_NOT_FOUND && r->key_name == NULL) {
        return SF_OK;
    }
    if (rc != SF_OK || st->version >= info.latest_version) {
        return rc;
    }
    rc = sf_keystore_wrap(r->ks, name, 0, r->buf, r->h->prefix_len,
                          sf_secret_cdata(r->dek), SF_DEK_LEN,
                          &r->bodies[i], &used);
    if (rc == SF_OK && used != st->version) {
        st->version = used;
        st->body = r->bodies[i].data;
        st->body_len = r->bodies[i].len;
        r->is_changed = true;
    }
    return rc;
}

/* The new header: same prefix and commitment, new stanzas, new MAC under
 * the same MAC key (same DEK and message id). */
static sf_status write_header(struct rewrap *r, const struct sf_msg_keys *k,
                              struct sf_buf *out)
{
    uint8_t mac[SF_HEADER_MAC_LEN];
    sf_status rc = sf_buf_append(out, r->buf, r->h->prefix_len);

    if (rc == SF_OK) {
        rc = sf_header_put_stanzas(r->st, r->h->stanza_len, out);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, r->h->commitment, SF_COMMITMENT_LEN);
    }
    if (rc == SF_OK) {
        rc = sf_envelope_mac(k->mac_key, out->data, out->len, mac);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, mac, sizeof mac);
    }
    if (rc == SF_OK && out->len > SF_HEADER_MAX) {
        rc = sf_fail(SF_ERR_LIMIT, "rewrap: the new header would have %zu "
                     "bytes, more than %d", out->len, SF_HEADER_MAX);
    }
    return rc;
}

static sf_status rewrap_run(struct rewrap *r, struct sf_identity *const *ids,
                            size_t n, struct sf_buf *hdr)
{
    struct sf_msg_keys k;
    sf_status rc;

    memset(&k, 0, sizeof k);
    rc = sf_envelope_find_dek(ids, n, r->h, r->buf, &r->dek);
    if (rc == SF_OK) {
        /* Never re-MAC a header that was not authentic to begin with. */
        rc = sf_envelope_verify(r->h, r->buf, r->dek, &k);
    }
    for (size_t i = 0; rc == SF_OK && i < r->h->stanza_len; i++) {
        rc = rewrap_one(r, i);
    }
    if (rc == SF_OK) {
        rc = write_header(r, &k, hdr);
    }
    sf_wipe(&k, sizeof k);
    return rc;
}

sf_status sf_envelope_rewrap_header(const uint8_t *buf, size_t len,
                                    struct sf_identity *const *ids, size_t n,
                                    struct sf_keystore *ks,
                                    const char *key_name,
                                    struct sf_buf *new_header,
                                    size_t *old_header_len, bool *changed)
{
    struct sf_buf hdr = SF_BUF_INIT;
    struct rewrap *r = NULL;
    sf_status rc;

    if (buf == NULL || ids == NULL || n == 0 || ks == NULL ||
            new_header == NULL || old_header_len == NULL || changed == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *old_header_len = 0;
    *changed = false;
    r = calloc(1, sizeof *r);
    if (r == NULL || (r->h = calloc(1, sizeof *r->h)) == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    r->buf = buf;
    r->ks = ks;
    r->key_name = key_name;
    rc = parse_whole(buf, len, r->h);
    if (rc == SF_OK) {
        rc = rewrap_run(r, ids, n, &hdr);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(new_header, hdr.data, hdr.len);
    }
    if (rc == SF_OK) {
        *old_header_len = r->h->total_len;
        *changed = r->is_changed;
    }

out:
    for (size_t i = 0; r != NULL && i < SF_STANZA_MAX; i++) {
        sf_buf_free(&r->bodies[i]);
    }
    if (r != NULL) {
        sf_secret_free(r->dek);
        free(r->h);
    }
    free(r);
    sf_buf_free(&hdr);
    return rc;
}
