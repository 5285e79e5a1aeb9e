/*
 * Request body and value parsing for the transit endpoints. Every input
 * here comes from the network, so each reader checks type, range and
 * length before use and reports what was wrong without echoing values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealflow/encoding.h"
#include "transit_input.h"

#define AAD_MAGIC "sealflow-transit"
#define CIPHERTEXT_PREFIX "vault:v"

sf_status sfd_body_parse(const uint8_t *p, size_t len, json_t **out,
                         char *err, size_t err_max)
{
    json_error_t jerr;
    size_t i = 0;

    *out = NULL;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
                       p[i] == '\t')) {
        i++;
    }
    if (i == len) {
        *out = json_object();
        return *out == NULL ? SF_ERR_NOMEM : SF_OK;
    }
    *out = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL) {
        snprintf(err, err_max, "failed to parse JSON input: %s at line %d "
                 "column %d", jerr.text, jerr.line, jerr.column);
        return SF_ERR_FORMAT;
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        snprintf(err, err_max, "the request body must be a JSON object");
        return SF_ERR_FORMAT;
    }
    return SF_OK;
}

/* A string member, or NULL when absent or null; *is_bad when present
 * with another type. */
static const char *get_str(json_t *obj, const char *field, bool *is_bad)
{
    json_t *v = json_object_get(obj, field);

    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v)) {
        *is_bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* Fills one item from obj; problems are recorded in the item. */
static void parse_item(json_t *obj, const char *field, struct sfd_item *it)
{
    bool is_bad = false;
    bool has = false;
    uint64_t v = 0;

    memset(it, 0, sizeof *it);
    if (!json_is_object(obj)) {
        it->has_error = true;
        snprintf(it->error, sizeof it->error, "batch item is not an object");
        return;
    }
    it->reference = json_object_get(obj, "reference");
    it->value = get_str(obj, field, &is_bad);
    it->context = get_str(obj, "context", &is_bad);
    it->associated_data = get_str(obj, "associated_data", &is_bad);
    if (is_bad) {
        it->has_error = true;
        snprintf(it->error, sizeof it->error, "%s, context and "
                 "associated_data must be strings", field);
    } else if (it->value == NULL) {
        it->has_error = true;
        snprintf(it->error, sizeof it->error, "missing %s", field);
    } else if (sfd_get_uint(obj, "key_version", UINT32_MAX, &has, &v) !=
               SF_OK) {
        it->has_error = true;
        snprintf(it->error, sizeof it->error, "key_version must be a "
                 "non-negative integer");
    }
    it->key_version = (uint32_t)v;
}

sf_status sfd_items_parse(json_t *body, const char *field, size_t batch_max,
                          struct sfd_batch *out, char *err, size_t err_max)
{
    json_t *batch = json_object_get(body, "batch_input");
    size_t n;

    memset(out, 0, sizeof *out);
    out->is_batch = batch != NULL && !json_is_null(batch);
    if (!out->is_batch) {
        out->items = calloc(1, sizeof *out->items);
        if (out->items == NULL) {
            return SF_ERR_NOMEM;
        }
        out->count = 1;
        parse_item(body, field, &out->items[0]);
        return SF_OK;
    }
    n = json_array_size(batch);
    if (!json_is_array(batch) || n == 0) {
        snprintf(err, err_max, "batch_input must be a non-empty array");
        return SF_ERR_FORMAT;
    }
    if (n > batch_max) {
        snprintf(err, err_max, "batch_input has %zu items; the limit is %zu",
                 n, batch_max);
        return SF_ERR_LIMIT;
    }
    out->items = calloc(n, sizeof *out->items);
    if (out->items == NULL) {
        return SF_ERR_NOMEM;
    }
    out->count = n;
    for (size_t i = 0; i < n; i++) {
        parse_item(json_array_get(batch, i), field, &out->items[i]);
    }
    return SF_OK;
}

void sfd_batch_free(struct sfd_batch *b)
{
    free(b->items);
    memset(b, 0, sizeof *b);
}

/* Parses a decimal string with nothing around it. */
static sf_status parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9') {
        return SF_ERR_FORMAT;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return SF_ERR_FORMAT;
    }
    *out = (uint64_t)v;
    return SF_OK;
}

sf_status sfd_get_uint(json_t *obj, const char *field, uint64_t max,
                       bool *has, uint64_t *out)
{
    json_t *v = json_object_get(obj, field);

    *has = false;
    *out = 0;
    if (v == NULL || json_is_null(v)) {
        return SF_OK;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i < 0 || (uint64_t)i > max) {
            return SF_ERR_FORMAT;
        }
        *out = (uint64_t)i;
    } else if (!json_is_string(v) ||
               parse_decimal(json_string_value(v), max, out) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    *has = true;
    return SF_OK;
}

sf_status sfd_get_bool(json_t *obj, const char *field, bool *has, bool *out)
{
    json_t *v = json_object_get(obj, field);
    const char *s = json_string_value(v);

    *has = false;
    *out = false;
    if (v == NULL || json_is_null(v)) {
        return SF_OK;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
    } else if (s != NULL && (strcmp(s, "true") == 0 ||
                             strcmp(s, "false") == 0)) {
        *out = strcmp(s, "true") == 0;
    } else {
        return SF_ERR_FORMAT;
    }
    *has = true;
    return SF_OK;
}

/* Parses "90", "90s", "30m", "24h" or "7d" into seconds. */
static sf_status parse_duration(const char *s, uint64_t *seconds)
{
    static const char units[] = "smhd";
    static const uint64_t scale[] = {1, 60, 3600, 86400};
    char num[24];
    size_t len = strlen(s);
    const char *u;
    uint64_t v;

    if (len == 0 || len >= sizeof num) {
        return SF_ERR_FORMAT;
    }
    u = strchr(units, s[len - 1]);
    memcpy(num, s, len + 1);
    if (u != NULL) {
        num[len - 1] = '\0';
    }
    if (parse_decimal(num, UINT32_MAX, &v) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    *seconds = v * (u == NULL ? 1 : scale[u - units]);
    return SF_OK;
}

sf_status sfd_get_duration(json_t *obj, const char *field, bool *has,
                           uint64_t *seconds)
{
    json_t *v = json_object_get(obj, field);

    *has = false;
    *seconds = 0;
    if (v == NULL || json_is_null(v)) {
        return SF_OK;
    }
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0 ||
                json_integer_value(v) > (json_int_t)UINT32_MAX) {
            return SF_ERR_FORMAT;
        }
        *seconds = (uint64_t)json_integer_value(v);
    } else if (!json_is_string(v) ||
               parse_duration(json_string_value(v), seconds) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    *has = true;
    return SF_OK;
}

sf_status sfd_ciphertext_parse(const char *text, uint32_t *version,
                               struct sf_buf *raw)
{
    const char *p;
    const char *colon;
    char num[12];
    uint64_t v = 0;
    size_t n;

    *version = 0;
    if (text == NULL || strncmp(text, CIPHERTEXT_PREFIX,
                                sizeof CIPHERTEXT_PREFIX - 1) != 0) {
        return SF_ERR_FORMAT;
    }
    p = text + sizeof CIPHERTEXT_PREFIX - 1;
    colon = strchr(p, ':');
    n = colon == NULL ? 0 : (size_t)(colon - p);
    if (n == 0 || n >= sizeof num) {
        return SF_ERR_FORMAT;
    }
    memcpy(num, p, n);
    num[n] = '\0';
    if (parse_decimal(num, UINT32_MAX, &v) != SF_OK || v == 0) {
        return SF_ERR_FORMAT;
    }
    *version = (uint32_t)v;
    return sf_b64_decode(SF_B64_STD, colon + 1, strlen(colon + 1), raw);
}

sf_status sfd_ciphertext_format(uint32_t version, const uint8_t *p,
                                size_t len, struct sf_buf *out)
{
    char head[32];
    sf_status rc;

    snprintf(head, sizeof head, CIPHERTEXT_PREFIX "%u:", (unsigned)version);
    rc = sf_buf_put_str(out, head);
    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_STD, p, len, out);
    }
    return rc;
}

sf_status sfd_aad_build(const uint8_t *ctx, size_t ctx_len,
                        const uint8_t *ad, size_t ad_len,
                        struct sf_buf *out)
{
    sf_status rc;

    if (ctx_len == 0 && ad_len == 0) {
        return SF_OK;
    }
    if (ctx_len > UINT32_MAX || ad_len > UINT32_MAX) {
        return SF_ERR_LIMIT;
    }
    rc = sf_buf_append(out, AAD_MAGIC, sizeof AAD_MAGIC);
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, 0);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u32(out, (uint32_t)ctx_len);
    }
    if (rc == SF_OK && ctx_len > 0) {
        rc = sf_buf_append(out, ctx, ctx_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u32(out, (uint32_t)ad_len);
    }
    if (rc == SF_OK && ad_len > 0) {
        rc = sf_buf_append(out, ad, ad_len);
    }
    return rc;
}
