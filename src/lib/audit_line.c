/*
 * Building audit lines. Each line is compact JSON with members in a fixed
 * order; the chain hashes the exact bytes of a line, so the verifier never
 * needs to re-serialise anything except a checkpoint's body, which is the
 * line with its final "mac" member cut off. Request lines are built in
 * audit_body.c; checkpoints, which are rare, here with jansson.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_internal.h"
#include "error.h"
#include "kdf.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

static const char info_mac[] = "sealflow audit checkpoint v1";
static const char info_field[] = "sealflow audit field v1";
static const char info_root[] = "sealflow audit key v1";

sf_status sf_audit_key_derive(const struct sf_secret *root_key,
                              struct sf_secret **out)
{
    uint8_t key[SF_AUDIT_KEY_LEN];
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (sf_secret_len(root_key) < 16) {
        return sf_fail(SF_ERR_INVALID_ARG, "audit: the root key is missing "
                       "or too short");
    }
    rc = sf_hkdf(SF_MD_SHA256, NULL, 0, sf_secret_cdata(root_key),
                 sf_secret_len(root_key), (const uint8_t *)info_root,
                 sizeof info_root - 1, key, sizeof key);
    if (rc == SF_OK) {
        rc = sf_secret_from(key, sizeof key, out);
    }
    sf_wipe(key, sizeof key);
    return rc;
}

sf_status sf_audit_keys_derive(const struct sf_secret *key,
                               struct sf_audit_keys *out)
{
    const uint8_t *ikm = sf_secret_cdata(key);
    size_t ikm_len = sf_secret_len(key);
    sf_status rc;

    if (ikm == NULL || ikm_len < 16) {
        return sf_fail(SF_ERR_INVALID_ARG, "audit: the audit key must be "
                       "at least 16 bytes");
    }
    rc = sf_hkdf(SF_MD_SHA256, NULL, 0, ikm, ikm_len,
                 (const uint8_t *)info_mac, sizeof info_mac - 1, out->mac,
                 sizeof out->mac);
    if (rc == SF_OK) {
        rc = sf_hkdf(SF_MD_SHA256, NULL, 0, ikm, ikm_len,
                     (const uint8_t *)info_field, sizeof info_field - 1,
                     out->field, sizeof out->field);
    }
    if (rc != SF_OK) {
        sf_wipe(out, sizeof *out);
    }
    return rc;
}

void sf_audit_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void sf_audit_time_now(char out[40])
{
    /* The date and time of day change once a second; formatting them
     * (time zone conversion, strftime) is kept per thread. */
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[24];
    struct timespec ts;
    struct tm tm;
    unsigned us;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    us = (unsigned)(ts.tv_nsec / 1000) % 1000000u;
    snprintf(out, 40, "%s.%06uZ", cached, us);
}

/* Starts a line object with seq, time and type. */
static json_t *line_start(uint64_t seq, const char *time, const char *type)
{
    return json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)seq, "time",
                     time, "type", type);
}

/* Appends body, or for a sealed line body with its closing brace
 * replaced by the mac member. */
static sf_status put_body(const struct sf_audit_keys *k, char *body,
                          size_t len, bool is_sealed, struct sf_buf *out)
{
    char mac[SF_AUDIT_HEX_LEN + 1];
    sf_status rc = SF_OK;

    if (is_sealed) {
        rc = sf_audit_body_mac(k, body, len, mac);
        body[len - 1] = '\0'; /* drop the closing brace */
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(out, body);
    }
    if (rc == SF_OK && is_sealed) {
        rc = sf_buf_put_str(out, ",\"mac\":\"");
        if (rc == SF_OK) {
            rc = sf_buf_put_str(out, mac);
        }
        if (rc == SF_OK) {
            rc = sf_buf_put_str(out, "\"}");
        }
    }
    return rc;
}

/* Adds "prev", serialises obj, optionally seals it with a mac member,
 * appends it and '\n' to out and advances the chain. */
static sf_status finish_line(const struct sf_audit_keys *k, json_t *obj,
                             bool is_sealed, struct sf_audit_chain *ch,
                             struct sf_buf *out)
{
    char prev[SF_AUDIT_HEX_LEN + 1];
    char *body = NULL;
    size_t start = out->len;
    size_t len;
    sf_status rc = SF_ERR_NOMEM;

    sf_audit_hex(ch->head, sizeof ch->head, prev);
    if (json_object_set_new(obj, "prev", json_string(prev)) == 0) {
        body = json_dumps(obj, JSON_FLAGS);
    }
    if (body == NULL) {
        goto out;
    }
    len = strlen(body);
    if (len + SF_AUDIT_MAC_TAIL_LEN >= SF_AUDIT_LINE_MAX) {
        rc = sf_fail(SF_ERR_LIMIT, "audit: line longer than %d bytes",
                     SF_AUDIT_LINE_MAX);
        goto out;
    }
    rc = put_body(k, body, len, is_sealed, out);
    if (rc == SF_OK) {
        rc = sf_hash(SF_MD_SHA256, out->data + start, out->len - start,
                     ch->head);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(out, "\n");
    }

out:
    free(body);
    if (rc != SF_OK) {
        out->len = start;
    }
    return rc;
}

sf_status sf_audit_format_checkpoint(const struct sf_audit_keys *k,
                                     struct sf_audit_chain *ch,
                                     const char *time, const char *reason,
                                     bool file_start, struct sf_buf *out)
{
    struct sf_audit_chain next = *ch;
    json_t *obj;
    sf_status rc = SF_ERR_NOMEM;

    next.seq++;
    obj = line_start(next.seq, time, "checkpoint");
    if (obj != NULL &&
            json_object_set_new(obj, "reason", json_string(reason)) == 0 &&
            json_object_set_new(obj, "file_start",
                                json_boolean(file_start)) == 0) {
        rc = finish_line(k, obj, true, &next, out);
    }
    json_decref(obj);
    if (rc == SF_OK) {
        *ch = next;
    }
    return rc;
}

sf_status sf_audit_body_mac(const struct sf_audit_keys *k, const char *body,
                            size_t len, char hex[SF_AUDIT_HEX_LEN + 1])
{
    uint8_t mac[32];
    sf_status rc;

    rc = sf_hmac(SF_MD_SHA256, k->mac, sizeof k->mac, (const uint8_t *)body,
                 len, mac);
    if (rc == SF_OK) {
        sf_audit_hex(mac, sizeof mac, hex);
    }
    return rc;
}
