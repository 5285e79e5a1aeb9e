#include <string.h>

#include "error.h"
#include "kdf.h"
#include "records_token.h"
#include "utf8.h"
#include "sealflow/encoding.h"
#include "sealflow/records.h"
#include "sealflow/secret.h"

static const char field_label[] = "sealflow-records-v1 field";
static const char stanza_label[] = "sealflow-records-v1 dek";

enum sf_aead_alg rec_suite_alg(unsigned suite)
{
    switch (suite) {
    case SF_SUITE_AES256GCM:
        return SF_AEAD_AES_256_GCM;
    case SF_SUITE_CHACHA20POLY1305:
        return SF_AEAD_CHACHA20_POLY1305;
    default:
        return (enum sf_aead_alg)0;
    }
}

bool rec_is_token(const char *s, size_t len)
{
    return len >= REC_TOKEN_PREFIX_LEN &&
           memcmp(s, SF_TOKEN_PREFIX, REC_TOKEN_PREFIX_LEN) == 0;
}

sf_status rec_field_key(unsigned suite, const uint8_t *dek,
                        const uint8_t rid[REC_ID_LEN], const char *cls,
                        size_t cls_len, uint8_t key[REC_KEY_LEN])
{
    uint8_t info[sizeof field_label + 3 + 255];
    size_t n = sizeof field_label;  /* label and its NUL separator */

    if (cls_len == 0 || cls_len > 255) {
        return SF_ERR_INVALID_ARG;
    }
    memcpy(info, field_label, sizeof field_label);
    info[n++] = (uint8_t)(suite >> 8);
    info[n++] = (uint8_t)suite;
    info[n++] = (uint8_t)cls_len;
    memcpy(info + n, cls, cls_len);
    n += cls_len;
    return sf_hkdf(SF_MD_SHA256, rid, REC_ID_LEN, dek, SF_DEK_LEN, info, n,
                   key, REC_KEY_LEN);
}

sf_status rec_field_aad(struct sf_buf *aad, const uint8_t rid[REC_ID_LEN],
                        const char *cls, size_t cls_len, const char *path,
                        size_t path_len)
{
    uint8_t *p;
    sf_status rc;

    if (cls_len == 0 || cls_len > 255) {
        return SF_ERR_INVALID_ARG;
    }
    aad->len = 0;
    rc = sf_buf_reserve(aad, REC_ID_LEN + 1 + cls_len + path_len);
    if (rc != SF_OK) {
        return rc;
    }
    p = aad->data;
    memcpy(p, rid, REC_ID_LEN);
    p[REC_ID_LEN] = (uint8_t)cls_len;
    memcpy(p + REC_ID_LEN + 1, cls, cls_len);
    if (path_len > 0) {
        memcpy(p + REC_ID_LEN + 1 + cls_len, path, path_len);
    }
    aad->len = REC_ID_LEN + 1 + cls_len + path_len;
    return SF_OK;
}

sf_status rec_stanza_aad(struct sf_buf *out, unsigned scope,
                         const uint8_t id[REC_ID_LEN], const char *cls,
                         size_t cls_len, unsigned suite,
                         const struct sf_hdr_kv *ctx, size_t n)
{
    sf_status rc;

    if (cls_len == 0 || cls_len > 255 || n > SF_CONTEXT_MAX) {
        return SF_ERR_INVALID_ARG;
    }
    out->len = 0;
    rc = sf_buf_append(out, stanza_label, sizeof stanza_label);
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, (uint8_t)scope);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, id, REC_ID_LEN);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, (uint8_t)cls_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, cls, cls_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u16(out, (uint16_t)suite);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u16(out, (uint16_t)n);
    }
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
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

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Minimal LEB128 only, so each token has exactly one encoding. */
static size_t get_varint(const uint8_t *p, size_t len, uint32_t *v)
{
    uint64_t x = 0;

    for (size_t i = 0; i < len && i < 5; i++) {
        x |= (uint64_t)(p[i] & 0x7F) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            if ((i > 0 && p[i] == 0) || x > UINT32_MAX) {
                return 0;
            }
            *v = (uint32_t)x;
            return i + 1;
        }
    }
    return 0;
}

static void make_nonce(uint32_t counter, uint8_t nonce[SF_AEAD_NONCE_LEN])
{
    memset(nonce, 0, SF_AEAD_NONCE_LEN);
    for (size_t i = 0; i < 4; i++) {
        nonce[SF_AEAD_NONCE_LEN - 1 - i] = (uint8_t)(counter >> (8 * i));
    }
}

sf_status rec_token_seal(struct sf_aead *a, uint32_t slot, uint32_t counter,
                         const uint8_t *aad, size_t aad_len, uint8_t vtype,
                         const uint8_t *v, size_t v_len,
                         struct sf_buf *scratch, struct sf_buf *out)
{
    uint8_t nonce[SF_AEAD_NONCE_LEN];
    size_t head;
    uint8_t *p;
    sf_status rc;

    /* No wipe: after a seal in place the scratch holds only ciphertext,
     * and sf_aead_seal wipes it when sealing fails. */
    scratch->len = 0;
    if (v_len > SF_RECORDS_RECORD_MAX) {
        return SF_ERR_LIMIT;
    }
    rc = sf_buf_reserve(scratch, 10 + 1 + v_len + SF_AEAD_TAG_LEN);
    if (rc != SF_OK) {
        return rc;
    }
    p = scratch->data;
    head = put_varint(p, slot);
    head += put_varint(p + head, counter);
    p[head] = vtype;
    if (v_len > 0) {
        memcpy(p + head + 1, v, v_len);
    }
    make_nonce(counter, nonce);
    rc = sf_aead_seal(a, nonce, aad, aad_len, p + head, 1 + v_len,
                      p + head, p + head + 1 + v_len);
    if (rc != SF_OK) {
        return rc;
    }
    scratch->len = head + 1 + v_len + SF_AEAD_TAG_LEN;
    rc = sf_buf_append(out, SF_TOKEN_PREFIX, REC_TOKEN_PREFIX_LEN);
    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_URL, scratch->data, scratch->len, out);
    }
    return rc;
}

/* The opener's base64url decoding: the library's strict decoder (no
 * padding, no length of 4n + 1, unused low bits zero). */
sf_status rec_b64url_decode(const char *s, size_t len, struct sf_buf *out)
{
    return sf_b64_decode(SF_B64_URL, s, len, out);
}

sf_status rec_token_decode(const char *s, size_t len, struct sf_buf *raw,
                           struct rec_token *tok)
{
    size_t a;
    size_t b;

    sf_buf_reset(raw);
    if (!rec_is_token(s, len) ||
            rec_b64url_decode(s + REC_TOKEN_PREFIX_LEN,
                              len - REC_TOKEN_PREFIX_LEN, raw) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    a = get_varint(raw->data, raw->len, &tok->slot);
    if (a == 0) {
        return SF_ERR_FORMAT;
    }
    b = get_varint(raw->data + a, raw->len - a, &tok->counter);
    if (b == 0 || raw->len - a - b < 1 + SF_AEAD_TAG_LEN) {
        return SF_ERR_FORMAT;
    }
    tok->ct = raw->data + a + b;
    tok->ct_len = raw->len - a - b - SF_AEAD_TAG_LEN;
    tok->tag = tok->ct + tok->ct_len;
    return SF_OK;
}

sf_status rec_token_open(struct sf_aead *a, struct rec_token *tok,
                         const uint8_t *aad, size_t aad_len)
{
    uint8_t nonce[SF_AEAD_NONCE_LEN];

    make_nonce(tok->counter, nonce);
    return sf_aead_open(a, nonce, aad, aad_len, tok->ct, tok->ct_len,
                        tok->tag, tok->ct);
}

bool rec_utf8_is_valid(const uint8_t *p, size_t len)
{
    return sf_utf8_is_valid(p, len, true);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips one or more digits; false when there is none. */
static bool digits(const char *p, size_t len, size_t *i)
{
    size_t start = *i;

    while (*i < len && is_digit(p[*i])) {
        (*i)++;
    }
    return *i > start;
}

bool rec_number_is_valid(const char *p, size_t len)
{
    size_t i = 0;

    if (i < len && p[i] == '-') {
        i++;
    }
    if (i < len && p[i] == '0') {
        i++;
    } else if (!digits(p, len, &i)) {
        return false;
    }
    if (i < len && p[i] == '.') {
        i++;
        if (!digits(p, len, &i)) {
            return false;
        }
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        if (!digits(p, len, &i)) {
            return false;
        }
    }
    return i == len;
}
