/*
 * A request's audit line, in two halves made by different threads.
 *
 * The requesting thread formats everything that does not depend on the
 * line's place in the chain (the "body": time, type and the event's
 * members, HMACs included), so that work runs on every core at once. The
 * single writer thread only wraps each body in its "seq" and "prev"
 * members and hashes the result (sf_audit_chain_body), which keeps the
 * serial part of a group commit short.
 *
 * The bytes are exactly those jansson writes with JSON_COMPACT,
 * JSON_PRESERVE_ORDER and JSON_ENSURE_ASCII: a string made only of
 * printable ASCII other than '"' and '\' is copied as it is, and any
 * other string is encoded by jansson itself.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "audit_internal.h"
#include "error.h"
#include "kdf.h"

#define FIELD_MAX 256
#define JSON_ONE (JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII)
/* What the writer adds around a body: {"seq":<20 digits>, ... ,"prev":
 * "<64 hex>"} */
#define WRAP_MAX (sizeof "{\"seq\":,,\"prev\":\"\"}" - 1 + 20 + \
                  SF_AUDIT_HEX_LEN)

/* A bounded output buffer; is_full records an overflow. */
struct out {
    char *p;
    size_t len;
    size_t max;
    bool is_full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->is_full || n > o->max - o->len) {
        o->is_full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_text(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
    char digits[24];
    size_t i = sizeof digits;

    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(o, digits + i, sizeof digits - i);
}

/* Whether s needs no escaping at all in a JSON string. */
static bool is_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

/* Appends s as a JSON string, cut at FIELD_MAX bytes. Text that is not
 * valid UTF-8 (e.g. a rejected key name) becomes a marker so the line
 * stays valid JSON. */
static void put_string(struct out *o, const char *s)
{
    size_t n = strnlen(s, FIELD_MAX);
    json_t *v;
    size_t got;

    if (is_plain(s, n)) {
        put(o, "\"", 1);
        put(o, s, n);
        put(o, "\"", 1);
        return;
    }
    v = json_stringn(s, n);
    if (v == NULL) {
        v = json_string("(not valid UTF-8)");
    }
    got = v == NULL ? 0 : json_dumpb(v, o->p + o->len, o->max - o->len,
                                     JSON_ONE);
    json_decref(v);
    if (got == 0 || got > o->max - o->len) {
        o->is_full = true;
        return;
    }
    o->len += got;
}

/* Appends ,"name":"value" when s is not NULL. */
static void put_member(struct out *o, const char *name, const char *s)
{
    if (s == NULL) {
        return;
    }
    put(o, ",\"", 2);
    put_text(o, name);
    put(o, "\":", 2);
    put_string(o, s);
}

/* Appends ,"name":v. */
static void put_number(struct out *o, const char *name, uint64_t v)
{
    put(o, ",\"", 2);
    put_text(o, name);
    put(o, "\":", 2);
    put_u64(o, v);
}

/* Appends ,"name":"hmac-sha256:<hex>" for a sensitive value. */
static sf_status put_hmac(struct out *o, const struct sf_audit_keys *k,
                          const char *name, const uint8_t *p, size_t len)
{
    uint8_t mac[32];
    char hex[SF_AUDIT_HEX_LEN + 1];
    sf_status rc;

    if (p == NULL) {
        return SF_OK;
    }
    rc = sf_hmac(SF_MD_SHA256, k->field, sizeof k->field, p, len, mac);
    if (rc == SF_OK) {
        sf_audit_hex(mac, sizeof mac, hex);
        put(o, ",\"", 2);
        put_text(o, name);
        put_text(o, "\":\"hmac-sha256:");
        put(o, hex, SF_AUDIT_HEX_LEN);
        put(o, "\"", 1);
    }
    sf_wipe(mac, sizeof mac);
    return rc;
}

/* The members describing the request, in the documented order. */
static void put_event(struct out *o, const struct sf_audit_event *ev)
{
    put_member(o, "request_id", ev->request_id);
    put_member(o, "accessor", ev->accessor);
    put_member(o, "remote", ev->remote);
    put_member(o, "operation", ev->operation);
    put_member(o, "key", ev->key);
    if (ev->version > 0) {
        put_number(o, "version", ev->version);
    }
    put_member(o, "outcome", ev->outcome);
    if (ev->status > 0) {
        put_number(o, "status", (uint64_t)ev->status);
    }
    put_number(o, "latency_us", ev->latency_us);
    if (ev->batch_count > 0) {
        put_number(o, "batch", ev->batch_count);
    }
    put_member(o, "error", ev->error);
}

sf_status sf_audit_format_body(const struct sf_audit_keys *k,
                               const char *time,
                               const struct sf_audit_event *ev, char *body,
                               size_t max, size_t *len)
{
    struct out o = {body, 0, max, false};
    sf_status rc;

    *len = 0;
    put_text(&o, "\"time\":");
    put_string(&o, time);
    put_text(&o, ",\"type\":\"request\"");
    put_event(&o, ev);
    rc = put_hmac(&o, k, "context_hmac", ev->context, ev->context_len);
    if (rc == SF_OK) {
        rc = put_hmac(&o, k, "input_hmac", ev->input, ev->input_len);
    }
    if (rc != SF_OK) {
        return rc;
    }
    if (o.is_full ||
            o.len + WRAP_MAX + SF_AUDIT_MAC_TAIL_LEN >= SF_AUDIT_LINE_MAX) {
        return sf_fail(SF_ERR_LIMIT, "audit: line longer than %d bytes",
                       SF_AUDIT_LINE_MAX);
    }
    *len = o.len;
    return SF_OK;
}

sf_status sf_audit_chain_body(struct sf_audit_chain *ch, const char *body,
                              size_t len, struct sf_buf *out)
{
    char prev[SF_AUDIT_HEX_LEN + 1];
    char head[48];
    uint8_t hash[SF_AUDIT_HASH_LEN];
    size_t start = out->len;
    int n;
    sf_status rc;

    sf_audit_hex(ch->head, sizeof ch->head, prev);
    n = snprintf(head, sizeof head, "{\"seq\":%llu,",
                 (unsigned long long)(ch->seq + 1));
    rc = sf_buf_reserve(out, (size_t)n + len + WRAP_MAX + 1);
    if (rc != SF_OK) {
        return rc;
    }
    memcpy(out->data + out->len, head, (size_t)n);
    memcpy(out->data + out->len + (size_t)n, body, len);
    out->len += (size_t)n + len;
    memcpy(out->data + out->len, ",\"prev\":\"", 9);
    memcpy(out->data + out->len + 9, prev, SF_AUDIT_HEX_LEN);
    memcpy(out->data + out->len + 9 + SF_AUDIT_HEX_LEN, "\"}", 2);
    out->len += 11 + SF_AUDIT_HEX_LEN;
    rc = sf_hash(SF_MD_SHA256, out->data + start, out->len - start, hash);
    if (rc != SF_OK) {
        out->len = start;
        return rc;
    }
    out->data[out->len++] = '\n';
    ch->seq++;
    memcpy(ch->head, hash, sizeof hash);
    return SF_OK;
}
