#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "header.h"
#include "utf8.h"

/*
 * A bounds-checked cursor over untrusted bytes. When a field runs past the
 * end of the input, need records how many bytes the header needs at least,
 * and the step returns SF_ERR_FORMAT without calling sf_fail:
 * sf_header_parse turns that into "wait for more" (need != 0), which no
 * real format error ever sets.
 */
struct reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    size_t need;
};

static bool take(struct reader *r, size_t n, const uint8_t **out)
{
    if (n > r->len - r->off) {
        r->need = r->off + n;
        return false;
    }
    *out = r->p + r->off;
    r->off += n;
    return true;
}

static bool take_u8(struct reader *r, uint8_t *v)
{
    const uint8_t *b;

    if (!take(r, 1, &b)) {
        return false;
    }
    *v = b[0];
    return true;
}

static bool take_u16(struct reader *r, uint16_t *v)
{
    const uint8_t *b;

    if (!take(r, 2, &b)) {
        return false;
    }
    *v = (uint16_t)((unsigned)b[0] << 8 | b[1]);
    return true;
}

static bool take_u32(struct reader *r, uint32_t *v)
{
    const uint8_t *b;

    if (!take(r, 4, &b)) {
        return false;
    }
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
         b[3];
    return true;
}

bool sf_header_utf8_is_valid(const uint8_t *p, size_t len)
{
    return sf_utf8_is_valid(p, len, false);
}

/* Key ids are shown to people (inspect, error text), so besides being
 * UTF-8 they may not hold ASCII control characters. */
static bool key_id_is_valid(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F) {
            return false;
        }
    }
    return sf_header_utf8_is_valid(p, len);
}

/* Bytewise order: the shorter of two strings with a common prefix comes
 * first. */
static int key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b,
                   size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

    if (c != 0) {
        return c;
    }
    return a_len < b_len ? -1 : (a_len > b_len ? 1 : 0);
}

static sf_status parse_fixed(struct reader *r, struct sf_header *h)
{
    const uint8_t *magic;
    uint8_t version;

    if (!take(r, SF_MAGIC_LEN, &magic)) {
        return SF_ERR_FORMAT;
    }
    if (memcmp(magic, SF_MAGIC, SF_MAGIC_LEN) != 0) {
        return sf_fail(SF_ERR_FORMAT, "not a sealflow envelope: the input "
                       "does not start with \"SFLW\"");
    }
    if (!take_u8(r, &version)) {
        return SF_ERR_FORMAT;
    }
    if (version != SF_FORMAT_VERSION) {
        return sf_fail(SF_ERR_UNSUPPORTED, "envelope format version %u is "
                       "not supported (this reader knows version %d)",
                       version, SF_FORMAT_VERSION);
    }
    h->version = version;
    if (!take_u16(r, &h->suite) || !take_u32(r, &h->frame_len) ||
            !take(r, SF_MESSAGE_ID_LEN, &h->message_id)) {
        return SF_ERR_FORMAT;
    }
    if (h->suite != SF_SUITE_AES256GCM &&
            h->suite != SF_SUITE_CHACHA20POLY1305) {
        return sf_fail(SF_ERR_UNSUPPORTED, "envelope header: unknown "
                       "algorithm suite %u at offset 5", h->suite);
    }
    if (h->frame_len == 0 || h->frame_len > SF_FRAME_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: frame size %u at "
                       "offset 7 is outside 1..%d", h->frame_len,
                       SF_FRAME_MAX);
    }
    return SF_OK;
}

/* One context pair; *total counts the encoded bytes of all pairs. */
static sf_status parse_pair(struct reader *r, struct sf_hdr_kv *kv,
                            size_t *total)
{
    uint16_t n;
    size_t at = r->off;

    if (!take_u16(r, &n)) {
        return SF_ERR_FORMAT;
    }
    if (n == 0 || n > SF_CONTEXT_KEY_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: context key length "
                       "%u at offset %zu is outside 1..%d", n, at,
                       SF_CONTEXT_KEY_MAX);
    }
    kv->key_len = n;
    *total += 2u + n;
    if (*total > SF_CONTEXT_BYTES_MAX || !take(r, n, &kv->key)) {
        goto check_total;
    }
    at = r->off;
    if (!take_u16(r, &n)) {
        return SF_ERR_FORMAT;
    }
    if (n > SF_CONTEXT_VALUE_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: context value "
                       "length %u at offset %zu exceeds %d", n, at,
                       SF_CONTEXT_VALUE_MAX);
    }
    kv->value_len = n;
    *total += 2u + n;
    if (*total > SF_CONTEXT_BYTES_MAX || !take(r, n, &kv->value)) {
        goto check_total;
    }
    if (!sf_header_utf8_is_valid(kv->key, kv->key_len) ||
            !sf_header_utf8_is_valid(kv->value, kv->value_len)) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: context pair at "
                       "offset %zu is not valid UTF-8", at);
    }
    return SF_OK;

check_total:
    if (*total > SF_CONTEXT_BYTES_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: the context "
                       "exceeds %d bytes", SF_CONTEXT_BYTES_MAX);
    }
    return SF_ERR_FORMAT;
}

static sf_status parse_context(struct reader *r, struct sf_header *h)
{
    uint16_t count;
    size_t total = 0;
    sf_status rc;

    if (!take_u16(r, &count)) {
        return SF_ERR_FORMAT;
    }
    if (count > SF_CONTEXT_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: %u context pairs "
                       "(at most %d)", count, SF_CONTEXT_MAX);
    }
    for (size_t i = 0; i < count; i++) {
        struct sf_hdr_kv *kv = &h->context[i];
        size_t at = r->off;

        rc = parse_pair(r, kv, &total);
        if (rc != SF_OK) {
            return rc;
        }
        if (i > 0 && key_cmp(kv[-1].key, kv[-1].key_len, kv->key,
                             kv->key_len) >= 0) {
            return sf_fail(SF_ERR_FORMAT, "envelope header: context keys "
                           "are not sorted and unique (pair at offset %zu)",
                           at);
        }
    }
    h->context_len = count;
    return SF_OK;
}

static sf_status parse_stanza(struct reader *r, struct sf_stanza *st)
{
    uint8_t id_len;
    uint16_t body_len;
    size_t at = r->off;

    if (!take_u8(r, &st->type) || !take_u8(r, &id_len)) {
        return SF_ERR_FORMAT;
    }
    if (st->type == 0 || id_len == 0 || id_len > SF_KEY_ID_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: stanza at offset "
                       "%zu has type 0 or a key id length outside 1..%d",
                       at, SF_KEY_ID_MAX);
    }
    st->key_id_len = id_len;
    if (!take(r, id_len, &st->key_id) || !take_u32(r, &st->version) ||
            !take_u16(r, &body_len)) {
        return SF_ERR_FORMAT;
    }
    if (!key_id_is_valid(st->key_id, st->key_id_len)) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: stanza at offset "
                       "%zu has a key id with control characters or "
                       "invalid UTF-8", at);
    }
    if (body_len == 0 || body_len > SF_STANZA_BODY_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: stanza at offset "
                       "%zu has a body length %u outside 1..%d", at,
                       body_len, SF_STANZA_BODY_MAX);
    }
    st->body_len = body_len;
    return take(r, body_len, &st->body) ? SF_OK : SF_ERR_FORMAT;
}

static sf_status parse_stanzas(struct reader *r, struct sf_header *h)
{
    uint16_t count;
    sf_status rc;

    if (!take_u16(r, &count)) {
        return SF_ERR_FORMAT;
    }
    if (count == 0 || count > SF_STANZA_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header: %u stanzas at "
                       "offset %zu (must be 1..%d)", count, r->off - 2,
                       SF_STANZA_MAX);
    }
    for (size_t i = 0; i < count; i++) {
        rc = parse_stanza(r, &h->stanzas[i]);
        if (rc != SF_OK) {
            return rc;
        }
    }
    h->stanza_len = count;
    return SF_OK;
}

static sf_status parse_all(struct reader *r, struct sf_header *h)
{
    sf_status rc = parse_fixed(r, h);

    if (rc == SF_OK) {
        rc = parse_context(r, h);
    }
    if (rc != SF_OK) {
        return rc;
    }
    h->prefix_len = r->off;
    rc = parse_stanzas(r, h);
    if (rc != SF_OK) {
        return rc;
    }
    if (!take(r, SF_COMMITMENT_LEN, &h->commitment)) {
        return SF_ERR_FORMAT;
    }
    h->mac_off = r->off;
    if (!take(r, SF_HEADER_MAC_LEN, &h->mac)) {
        return SF_ERR_FORMAT;
    }
    h->total_len = r->off;
    if (h->total_len > SF_HEADER_MAX) {
        return sf_fail(SF_ERR_FORMAT, "envelope header of %zu bytes exceeds "
                       "%d", h->total_len, SF_HEADER_MAX);
    }
    return SF_OK;
}

sf_status sf_header_parse(const uint8_t *p, size_t len, struct sf_header *h,
                          size_t *need)
{
    struct reader r = {p, len, 0, 0};
    sf_status rc;

    if (h == NULL || need == NULL || (p == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    memset(h, 0, sizeof *h);
    *need = 0;
    rc = parse_all(&r, h);
    if (rc == SF_ERR_FORMAT && r.need != 0) {
        /* Well-formed so far: the caller waits for r.need bytes. */
        memset(h, 0, sizeof *h);
        *need = r.need;
        return SF_OK;
    }
    if (rc != SF_OK) {
        memset(h, 0, sizeof *h);
    }
    return rc;
}

static int kv_order(const void *a, const void *b)
{
    const struct sf_hdr_kv *x = a;
    const struct sf_hdr_kv *y = b;

    return key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static sf_status check_pair(const struct sf_kv *kv, struct sf_hdr_kv *out)
{
    if (kv->key == NULL || kv->value == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "context: a key or value is "
                       "NULL");
    }
    out->key = (const uint8_t *)kv->key;
    out->key_len = strnlen(kv->key, SF_CONTEXT_KEY_MAX + 1);
    out->value = (const uint8_t *)kv->value;
    out->value_len = strnlen(kv->value, SF_CONTEXT_VALUE_MAX + 1);
    if (out->key_len == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "context: a key is empty");
    }
    if (out->key_len > SF_CONTEXT_KEY_MAX ||
            out->value_len > SF_CONTEXT_VALUE_MAX) {
        return sf_fail(SF_ERR_LIMIT, "context: a key is longer than %d "
                       "bytes or a value longer than %d bytes",
                       SF_CONTEXT_KEY_MAX, SF_CONTEXT_VALUE_MAX);
    }
    if (!sf_header_utf8_is_valid(out->key, out->key_len) ||
            !sf_header_utf8_is_valid(out->value, out->value_len)) {
        return sf_fail(SF_ERR_INVALID_ARG, "context: key or value of "
                       "\"%.64s\" is not valid UTF-8", kv->key);
    }
    return SF_OK;
}

sf_status sf_header_context(const struct sf_kv *in, size_t n,
                            struct sf_hdr_kv *out)
{
    size_t total = 0;
    sf_status rc;

    if (n > SF_CONTEXT_MAX) {
        return sf_fail(SF_ERR_LIMIT, "context: %zu pairs given, at most %d",
                       n, SF_CONTEXT_MAX);
    }
    if (n > 0 && (in == NULL || out == NULL)) {
        return SF_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        rc = check_pair(&in[i], &out[i]);
        if (rc != SF_OK) {
            return rc;
        }
        total += 4 + out[i].key_len + out[i].value_len;
    }
    if (total > SF_CONTEXT_BYTES_MAX) {
        return sf_fail(SF_ERR_LIMIT, "context: %zu encoded bytes, at most "
                       "%d", total, SF_CONTEXT_BYTES_MAX);
    }
    if (n > 1) {
        qsort(out, n, sizeof *out, kv_order);
    }
    for (size_t i = 1; i < n; i++) {
        if (kv_order(&out[i - 1], &out[i]) == 0) {
            return sf_fail(SF_ERR_INVALID_ARG, "context: key \"%.64s\" "
                           "appears twice", (const char *)out[i].key);
        }
    }
    return SF_OK;
}

sf_status sf_header_put_prefix(uint16_t suite, uint32_t frame_len,
                               const uint8_t *message_id,
                               const struct sf_hdr_kv *ctx, size_t n,
                               struct sf_buf *out)
{
    sf_status rc = sf_buf_append(out, SF_MAGIC, SF_MAGIC_LEN);

    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, SF_FORMAT_VERSION);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u16(out, suite);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u32(out, frame_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, message_id, SF_MESSAGE_ID_LEN);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u16(out, (uint16_t)n);
    }
    for (size_t i = 0; rc == SF_OK && i < n; i++) {
        rc = sf_buf_put_u16(out, (uint16_t)ctx[i].key_len);
        if (rc == SF_OK) {
            rc = sf_buf_append(out, ctx[i].key, ctx[i].key_len);
        }
        if (rc == SF_OK) {
            rc = sf_buf_put_u16(out, (uint16_t)ctx[i].value_len);
        }
        if (rc == SF_OK) {
            rc = sf_buf_append(out, ctx[i].value, ctx[i].value_len);
        }
    }
    return rc;
}

static sf_status put_stanza(const struct sf_stanza *st, struct sf_buf *out)
{
    sf_status rc;

    if (st->type == 0 || st->key_id_len == 0 ||
            st->key_id_len > SF_KEY_ID_MAX || st->body_len == 0 ||
            st->body_len > SF_STANZA_BODY_MAX) {
        return sf_fail(SF_ERR_LIMIT, "envelope: a stanza has a key id or "
                       "wrapped key outside the format limits (key id "
                       "1..%d, body 1..%d bytes)", SF_KEY_ID_MAX,
                       SF_STANZA_BODY_MAX);
    }
    rc = sf_buf_put_u8(out, st->type);
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, (uint8_t)st->key_id_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, st->key_id, st->key_id_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u32(out, st->version);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u16(out, (uint16_t)st->body_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, st->body, st->body_len);
    }
    return rc;
}

sf_status sf_header_put_stanzas(const struct sf_stanza *st, size_t n,
                                struct sf_buf *out)
{
    sf_status rc;

    if (n == 0 || n > SF_STANZA_MAX) {
        return sf_fail(SF_ERR_LIMIT, "envelope: %zu stanzas (must be "
                       "1..%d)", n, SF_STANZA_MAX);
    }
    rc = sf_buf_put_u16(out, (uint16_t)n);
    for (size_t i = 0; rc == SF_OK && i < n; i++) {
        rc = put_stanza(&st[i], out);
    }
    return rc;
}
