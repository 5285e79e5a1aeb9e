#include <string.h>

#include "error.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

sf_status sf_b64_encode(enum sf_b64 alphabet, const uint8_t *p, size_t len,
                        struct sf_buf *out)
{
    const char *abc = alphabet == SF_B64_URL ? b64_url : b64_std;
    size_t full = len / 3;
    size_t rest = len % 3;
    char *o;
    sf_status rc;

    if (out == NULL || (p == NULL && len > 0) || len > SIZE_MAX / 2) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_buf_reserve(out, (full + 1) * 4);
    if (rc != SF_OK) {
        return rc;
    }
    o = (char *)out->data + out->len;
    for (size_t i = 0; i < full; i++, p += 3) {
        uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (rest > 0) {
        uint32_t v = (uint32_t)p[0] << 16 |
                     (rest == 2 ? (uint32_t)p[1] << 8 : 0);

        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        if (rest == 2) {
            *o++ = abc[(v >> 6) & 63];
        }
        if (alphabet == SF_B64_STD) {
            *o++ = '=';
            if (rest == 1) {
                *o++ = '=';
            }
        }
    }
    *o = '\0';
    out->len = (size_t)(o - (char *)out->data);
    return SF_OK;
}

/* Value of each byte in each alphabet, -1 for bytes outside it: one load
 * per character on decode. */
static const int8_t b64_values[2][256] = {
    {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
        -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
        -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
        41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    },
    {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
        -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
        -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
        41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    },
};

/*
 * Strict decoding: the character count must be what the encoder produces,
 * the unused low bits of the last character must be zero, and padding is
 * required (standard) or forbidden (URL), so each byte string has exactly
 * one accepted encoding.
 */
sf_status sf_b64_decode(enum sf_b64 alphabet, const char *s, size_t len,
                        struct sf_buf *out)
{
    const int8_t *values = b64_values[alphabet == SF_B64_URL];
    size_t start;
    uint32_t acc = 0;
    unsigned bits = 0;
    sf_status rc;

    if (out == NULL || (s == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (alphabet == SF_B64_STD) {
        if (len % 4 != 0) {
            return SF_ERR_FORMAT;
        }
        for (int i = 0; i < 2 && len > 0 && s[len - 1] == '='; i++) {
            len--;
        }
    }
    if (len % 4 == 1) {
        return SF_ERR_FORMAT;
    }
    start = out->len;
    rc = sf_buf_reserve(out, len / 4 * 3 + 3);
    if (rc != SF_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        int v = values[(uint8_t)s[i]];

        if (v < 0) {
            out->len = start;
            return SF_ERR_FORMAT;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0) {
        sf_wipe(out->data + start, out->len - start);
        out->len = start;
        return SF_ERR_FORMAT;
    }
    out->data[out->len] = 0;
    return SF_OK;
}

sf_status sf_hex_encode(const uint8_t *p, size_t len, struct sf_buf *out)
{
    static const char digits[] = "0123456789abcdef";
    sf_status rc;

    if (out == NULL || (p == NULL && len > 0) || len > SIZE_MAX / 4) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_buf_reserve(out, len * 2);
    if (rc != SF_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        out->data[out->len++] = (uint8_t)digits[p[i] >> 4];
        out->data[out->len++] = (uint8_t)digits[p[i] & 15];
    }
    out->data[out->len] = 0;
    return SF_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

sf_status sf_hex_decode(const char *s, size_t len, struct sf_buf *out)
{
    size_t start;
    sf_status rc;

    if (out == NULL || (s == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (len % 2 != 0) {
        return SF_ERR_FORMAT;
    }
    start = out->len;
    rc = sf_buf_reserve(out, len / 2);
    if (rc != SF_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_value(s[i]);
        int lo = hex_value(s[i + 1]);

        if (hi < 0 || lo < 0) {
            sf_wipe(out->data + start, out->len - start);
            out->len = start;
            return SF_ERR_FORMAT;
        }
        out->data[out->len++] = (uint8_t)(hi << 4 | lo);
    }
    out->data[out->len] = 0;
    return SF_OK;
}
