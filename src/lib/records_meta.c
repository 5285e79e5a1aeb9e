#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "records_internal.h"
#include "records_out.h"
#include "sealflow/encoding.h"

/* ---- writing ------------------------------------------------------------ */

/*
 * The "_sealflow" text is assembled from pieces rendered once: the
 * context when the sealer is made, the head of each class entry when its
 * keys are resolved, and a shared DEK's whole entry when it is drawn. Per
 * record only the record id and the record-scope stanzas are new. The
 * bytes are those yajl's generator writes (records_out.h).
 */

/* Appends a string literal (without its NUL). */
#define PUT_LIT(out, lit) sf_buf_append((out), (lit), sizeof(lit) - 1)

/* Appends "s" (escaped) to out. */
static sf_status put_json_str(struct sf_buf *out, const char *s, size_t len)
{
    sf_status rc = sf_buf_put_u8(out, '"');

    if (rc == SF_OK) {
        rc = rec_json_escape(out, (const uint8_t *)s, len);
    }
    return rc == SF_OK ? sf_buf_put_u8(out, '"') : rc;
}

/* Appends "BASE64URL" of len bytes. */
static sf_status put_json_b64(struct sf_buf *out, const uint8_t *p,
                              size_t len)
{
    sf_status rc = sf_buf_put_u8(out, '"');

    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_URL, p, len, out);
    }
    return rc == SF_OK ? sf_buf_put_u8(out, '"') : rc;
}

/* Appends ["KEY-ID",VERSION,"BODY"]; the body is base64url already. */
static sf_status put_stanza(struct sf_buf *out, const struct rec_stanza *st)
{
    sf_status rc = sf_buf_put_u8(out, '[');

    if (rc == SF_OK) {
        rc = put_json_str(out, st->key_id, strlen(st->key_id));
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, ',');
    }
    if (rc == SF_OK) {
        rc = rec_put_decimal(out, st->version);
    }
    if (rc == SF_OK) {
        rc = PUT_LIT(out, ",\"");
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, st->b64, st->b64_len);
    }
    return rc == SF_OK ? PUT_LIT(out, "\"]") : rc;
}

sf_status rec_meta_entry_head(struct sf_buf *head, const char *name,
                              unsigned suite)
{
    sf_status rc;

    head->len = 0;
    rc = PUT_LIT(head, "{\"n\":");
    if (rc == SF_OK) {
        rc = put_json_str(head, name, strlen(name));
    }
    if (rc == SF_OK) {
        rc = PUT_LIT(head, ",\"s\":");
    }
    if (rc == SF_OK) {
        rc = rec_put_decimal(head, suite);
    }
    return rc == SF_OK ? sf_buf_put_u8(head, ',') : rc;
}

sf_status rec_meta_put_entry(struct sf_buf *out, const struct sf_buf *head,
                             const uint8_t *dek_id,
                             const struct rec_stanza *st, size_t n)
{
    sf_status rc = sf_buf_append(out, head->data, head->len);

    if (rc == SF_OK && dek_id != NULL) {
        rc = PUT_LIT(out, "\"d\":");
        if (rc == SF_OK) {
            rc = put_json_b64(out, dek_id, REC_ID_LEN);
        }
        if (rc == SF_OK) {
            rc = sf_buf_put_u8(out, ',');
        }
    }
    if (rc == SF_OK) {
        rc = PUT_LIT(out, "\"k\":[");
    }
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        rc = i > 0 ? sf_buf_put_u8(out, ',') : SF_OK;
        if (rc == SF_OK) {
            rc = put_stanza(out, &st[i]);
        }
    }
    return rc == SF_OK ? PUT_LIT(out, "]}") : rc;
}

sf_status rec_meta_context(struct sf_buf *out, const struct sf_kv *ctx,
                           size_t ctx_len)
{
    sf_status rc = SF_OK;

    out->len = 0;
    if (ctx_len == 0) {
        return SF_OK;
    }
    rc = PUT_LIT(out, "\"x\":{");
    for (size_t i = 0; i < ctx_len && rc == SF_OK; i++) {
        rc = i > 0 ? sf_buf_put_u8(out, ',') : SF_OK;
        if (rc == SF_OK) {
            rc = put_json_str(out, ctx[i].key, strlen(ctx[i].key));
        }
        if (rc == SF_OK) {
            rc = sf_buf_put_u8(out, ':');
        }
        if (rc == SF_OK) {
            rc = put_json_str(out, ctx[i].value, strlen(ctx[i].value));
        }
    }
    return rc == SF_OK ? PUT_LIT(out, "},") : rc;
}

sf_status rec_meta_emit(struct sf_buf *out, const uint8_t rid[REC_ID_LEN],
                        const struct sf_buf *ctx_json,
                        struct rec_seal_slot *const *slots, size_t n)
{
    sf_status rc = PUT_LIT(out, "{\"v\":1,\"r\":");

    if (rc == SF_OK) {
        rc = put_json_b64(out, rid, REC_ID_LEN);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, ',');
    }
    if (rc == SF_OK && ctx_json->len > 0) {
        rc = sf_buf_append(out, ctx_json->data, ctx_json->len);
    }
    if (rc == SF_OK) {
        rc = PUT_LIT(out, "\"c\":[");
    }
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        rc = i > 0 ? sf_buf_put_u8(out, ',') : SF_OK;
        if (rc == SF_OK) {
            rc = rec_slot_entry(slots[i], out);
        }
    }
    return rc == SF_OK ? PUT_LIT(out, "]}") : rc;
}

/* ---- reading ------------------------------------------------------------ */

void rec_meta_free(struct rec_meta *m)
{
    free(m->stanzas);
    m->stanzas = NULL;
    m->stanza_len = 0;
    m->stanza_cap = 0;
}

uint8_t rec_stanza_type(const char *key_id)
{
    if (strchr(key_id, ':') == NULL) {
        return SF_STANZA_KEK;
    }
    if (strncmp(key_id, "x25519:", 7) == 0) {
        return SF_STANZA_X25519;
    }
    if (strncmp(key_id, "rsa:", 4) == 0) {
        return SF_STANZA_RSA_OAEP;
    }
    return 0;
}

/* A JSON integer in [0, max] written without sign, fraction or exponent. */
static bool get_uint(const struct rec_tape *t, size_t i, uint64_t max,
                     uint64_t *out)
{
    const char *s = rec_tape_str(t, i);
    size_t len = t->ents[i].len;
    uint64_t v = 0;

    if (t->ents[i].kind != TAPE_NUMBER || len == 0 || len > 10 ||
            (len > 1 && s[0] == '0')) {
        return false;
    }
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    *out = v;
    return v <= max;
}

static bool get_id(const struct rec_tape *t, size_t i, uint8_t *id)
{
    uint8_t raw[24];
    struct sf_buf b = {raw, 0, sizeof raw};

    if (t->ents[i].kind != TAPE_STRING || t->ents[i].len != 22 ||
            rec_b64url_decode(rec_tape_str(t, i), t->ents[i].len, &b) !=
                SF_OK || b.len != REC_ID_LEN ||
            b.data != raw) {
        return false;
    }
    memcpy(id, raw, REC_ID_LEN);
    return true;
}

static sf_status parse_stanza(const struct rec_tape *t, size_t i,
                              struct rec_meta *m, const char **why)
{
    struct rec_stanza *s;
    uint64_t version;
    size_t id = i + 1;
    size_t ver = id + 1;
    size_t body = ver + 1;

    if (t->ents[i].kind != TAPE_ARRAY || t->ents[i].end != body + 1 ||
            t->ents[id].kind != TAPE_STRING ||
            t->ents[body].kind != TAPE_STRING) {
        *why = "a stanza is not [\"KEY-ID\", VERSION, \"BODY\"]";
        return SF_ERR_FORMAT;
    }
    if (t->ents[id].len == 0 || t->ents[id].len > SF_KEY_ID_MAX ||
            memchr(rec_tape_str(t, id), 0, t->ents[id].len) != NULL ||
            !get_uint(t, ver, UINT32_MAX, &version) ||
            t->ents[body].len == 0) {
        *why = "a stanza has a bad key id, version or body";
        return SF_ERR_FORMAT;
    }
    if (m->stanza_len == m->stanza_cap) {
        size_t cap = m->stanza_cap == 0 ? 8 : m->stanza_cap * 2;
        struct rec_stanza *g = realloc(m->stanzas, cap * sizeof *g);

        if (g == NULL) {
            return SF_ERR_NOMEM;
        }
        m->stanzas = g;
        m->stanza_cap = cap;
    }
    s = &m->stanzas[m->stanza_len++];
    memcpy(s->key_id, rec_tape_str(t, id), t->ents[id].len + 1);
    s->version = (uint32_t)version;
    s->b64 = rec_tape_str(t, body);
    s->b64_len = t->ents[body].len;
    return SF_OK;
}

static sf_status parse_stanzas(const struct rec_tape *t, size_t i,
                               struct rec_meta *m,
                               struct rec_meta_class *c, const char **why)
{
    sf_status rc = SF_OK;

    if (t->ents[i].kind != TAPE_ARRAY || t->ents[i].end == i + 1) {
        *why = "a class has no stanza list \"k\"";
        return SF_ERR_FORMAT;
    }
    c->stanza_first = m->stanza_len;
    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k)) {
        if (m->stanza_len >= REC_META_STANZA_MAX) {
            *why = "too many stanzas";
            return SF_ERR_FORMAT;
        }
        rc = parse_stanza(t, k, m, why);
    }
    c->stanza_count = m->stanza_len - c->stanza_first;
    return rc;
}

static sf_status parse_class(const struct rec_tape *t, size_t i,
                             struct rec_meta *m, const char **why)
{
    struct rec_meta_class *c = &m->classes[m->class_count];
    bool has_name = false;
    bool has_suite = false;
    bool has_k = false;
    uint64_t suite = 0;
    sf_status rc = SF_OK;

    *why = "a class entry is malformed";
    if (t->ents[i].kind != TAPE_MAP) {
        return SF_ERR_FORMAT;
    }
    memset(c, 0, sizeof *c);
    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k + 1)) {
        size_t v = k + 1;

        if (rec_tape_key_is(t, k, "n") && t->ents[v].kind == TAPE_STRING &&
                t->ents[v].len >= 1 && t->ents[v].len <= SF_POLICY_NAME_MAX) {
            c->name = rec_tape_str(t, v);
            c->name_len = t->ents[v].len;
            has_name = true;
        } else if (rec_tape_key_is(t, k, "s") && get_uint(t, v, 255, &suite)
                   && rec_suite_alg((unsigned)suite) != 0) {
            c->suite = (unsigned)suite;
            has_suite = true;
        } else if (rec_tape_key_is(t, k, "d") && get_id(t, v, c->dek_id)) {
            c->has_dek_id = true;
        } else if (rec_tape_key_is(t, k, "k")) {
            rc = parse_stanzas(t, v, m, c, why);
            has_k = true;
        } else {
            return SF_ERR_FORMAT;
        }
    }
    if (rc == SF_OK && (!has_name || !has_suite || !has_k)) {
        rc = SF_ERR_FORMAT;
    }
    for (size_t j = 0; rc == SF_OK && j < m->class_count; j++) {
        if (m->classes[j].name_len == c->name_len &&
                memcmp(m->classes[j].name, c->name, c->name_len) == 0) {
            *why = "a class is listed twice";
            rc = SF_ERR_FORMAT;
        }
    }
    if (rc == SF_OK) {
        m->class_count++;
    }
    return rc;
}

static int kv_cmp(const struct sf_hdr_kv *a, const struct sf_hdr_kv *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);

    return c != 0 ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static sf_status parse_context(const struct rec_tape *t, size_t i,
                               struct rec_meta *m, const char **why)
{
    *why = "the context \"x\" is malformed or over its limits";
    if (t->ents[i].kind != TAPE_MAP) {
        return SF_ERR_FORMAT;
    }
    for (size_t k = i + 1; k < t->ents[i].end; k = rec_tape_next(t, k + 1)) {
        struct sf_hdr_kv kv;
        size_t at;

        if (t->ents[k + 1].kind != TAPE_STRING || m->ctx_len ==
                SF_CONTEXT_MAX || t->ents[k].len == 0 || t->ents[k].len >
                SF_CONTEXT_KEY_MAX || t->ents[k + 1].len >
                SF_CONTEXT_VALUE_MAX) {
            return SF_ERR_FORMAT;
        }
        kv.key = (const uint8_t *)rec_tape_str(t, k);
        kv.key_len = t->ents[k].len;
        kv.value = (const uint8_t *)rec_tape_str(t, k + 1);
        kv.value_len = t->ents[k + 1].len;
        /* Sorted by key, as the stanza AAD binds it. */
        at = m->ctx_len++;
        while (at > 0 && kv_cmp(&m->ctx[at - 1], &kv) > 0) {
            m->ctx[at] = m->ctx[at - 1];
            at--;
        }
        m->ctx[at] = kv;
    }
    return SF_OK;
}

static sf_status parse_member(const struct rec_tape *t, size_t k,
                              struct rec_meta *m, bool *has,
                              const char **why)
{
    size_t v = k + 1;
    uint64_t version;
    sf_status rc = SF_OK;

    if (rec_tape_key_is(t, k, "v")) {
        if (!get_uint(t, v, 255, &version) || version != 1) {
            *why = "unsupported \"_sealflow\" version (this reader knows 1)";
            return SF_ERR_UNSUPPORTED;
        }
    } else if (rec_tape_key_is(t, k, "r")) {
        has[1] = get_id(t, v, m->rid);
        *why = "the record id \"r\" is not 16 bytes of base64url";
        return has[1] ? SF_OK : SF_ERR_FORMAT;
    } else if (rec_tape_key_is(t, k, "x")) {
        return parse_context(t, v, m, why);
    } else if (rec_tape_key_is(t, k, "c") && t->ents[v].kind ==
               TAPE_ARRAY) {
        for (size_t c = v + 1; c < t->ents[v].end && rc == SF_OK;
             c = rec_tape_next(t, c)) {
            if (m->class_count == SF_POLICY_CLASS_MAX) {
                *why = "too many classes";
                return SF_ERR_FORMAT;
            }
            rc = parse_class(t, c, m, why);
        }
        has[2] = true;
        return rc;
    } else {
        *why = "unknown or malformed member in \"_sealflow\"";
        return SF_ERR_FORMAT;
    }
    has[0] = true;
    return SF_OK;
}

sf_status rec_meta_parse(const struct rec_tape *t, size_t i,
                         struct rec_meta *m, const char **why)
{
    bool has[3] = {false, false, false};
    sf_status rc = SF_OK;

    m->ctx_len = 0;
    m->class_count = 0;
    m->stanza_len = 0;
    *why = "\"_sealflow\" is not an object";
    if (t->ents[i].kind != TAPE_MAP) {
        return SF_ERR_FORMAT;
    }
    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k + 1)) {
        rc = parse_member(t, k, m, has, why);
    }
    if (rc == SF_OK && (!has[0] || !has[1] || !has[2])) {
        *why = "\"_sealflow\" lacks \"v\", \"r\" or \"c\"";
        rc = SF_ERR_FORMAT;
    }
    return rc;
}

sf_status rec_meta_parse_text(struct rec_tape *sub, const uint8_t *p,
                              size_t len, struct rec_meta *m,
                              const char **why)
{
    struct tape_error err;

    *why = "the \"_sealflow\" cell is not valid JSON";
    if (rec_tape_parse(sub, p, len, 8, &err) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    return rec_meta_parse(sub, 0, m, why);
}
