/*
 * Parsing request bodies and transit values: JSON bodies, batch items,
 * integers and booleans given as JSON or as strings (as Vault accepts),
 * durations, "vault:vN:" ciphertexts and the associated data bound to a
 * wrap. Pure code with no I/O, driven directly by the fuzz target.
 */
#ifndef SFD_TRANSIT_INPUT_H
#define SFD_TRANSIT_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

#define SFD_ITEM_ERROR_MAX 200

/* One encrypt, decrypt or rewrap input. Pointers borrow from the body. */
struct sfd_item {
    const char *value;           /* plaintext (base64) or ciphertext */
    const char *context;         /* base64, or NULL */
    const char *associated_data; /* base64, or NULL */
    json_t *reference;           /* echoed back as given, or NULL */
    uint32_t key_version;        /* 0: not given */
    bool has_error;
    char error[SFD_ITEM_ERROR_MAX];
};

struct sfd_batch {
    bool is_batch;       /* batch_input was given */
    size_t count;
    struct sfd_item *items;
};

/*
 * Parses a request body into a JSON object; an empty body is {}.
 * SF_ERR_FORMAT (message in err) for anything but one JSON object.
 */
SF_MUST_CHECK sf_status sfd_body_parse(const uint8_t *p, size_t len,
                                       json_t **out, char *err,
                                       size_t err_max);

/*
 * Reads the items of an encrypt (field "plaintext"), decrypt or rewrap
 * (field "ciphertext") request: each element of batch_input when it is
 * present (1 to batch_max of them), else the body itself. A malformed
 * element gets has_error and its own message; a malformed batch as a
 * whole is SF_ERR_FORMAT or SF_ERR_LIMIT with the message in err.
 */
SF_MUST_CHECK sf_status sfd_items_parse(json_t *body, const char *field,
                                        size_t batch_max,
                                        struct sfd_batch *out, char *err,
                                        size_t err_max);

void sfd_batch_free(struct sfd_batch *b);

/* Reads an unsigned integer member given as a JSON integer or a decimal
 * string, at most max. *has is false (and SF_OK) when it is absent or
 * null. */
SF_MUST_CHECK sf_status sfd_get_uint(json_t *obj, const char *field,
                                     uint64_t max, bool *has, uint64_t *out);

/* Reads a boolean member given as true/false or "true"/"false". */
SF_MUST_CHECK sf_status sfd_get_bool(json_t *obj, const char *field,
                                     bool *has, bool *out);

/* Reads a duration: integer seconds, or a string such as "3600", "90s",
 * "30m", "24h" or "7d". */
SF_MUST_CHECK sf_status sfd_get_duration(json_t *obj, const char *field,
                                         bool *has, uint64_t *seconds);

/* Parses "vault:v<N>:<base64>"; raw receives the decoded bytes. */
SF_MUST_CHECK sf_status sfd_ciphertext_parse(const char *text,
                                             uint32_t *version,
                                             struct sf_buf *raw);

/* Appends "vault:v<N>:<base64 of p>" and a NUL. */
SF_MUST_CHECK sf_status sfd_ciphertext_format(uint32_t version,
                                              const uint8_t *p, size_t len,
                                              struct sf_buf *out);

/*
 * Builds the associated data bound into a transit wrap. Nothing (length
 * 0) when there is no context and no associated data; otherwise
 * "sealflow-transit" NUL, a flags byte (0; no flag is defined), then the
 * context and the associated data, each behind a 4-byte big-endian
 * length. A missing value and an empty one are the same.
 */
SF_MUST_CHECK sf_status sfd_aad_build(const uint8_t *ctx, size_t ctx_len,
                                      const uint8_t *ad, size_t ad_len,
                                      struct sf_buf *out);

#endif
