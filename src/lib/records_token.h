/*
 * Internal: field tokens and the record key schedule (docs/RECORDS.md,
 * "Key schedule" and "Tokens").
 *
 *   field key  = HKDF-SHA256(salt = record id, ikm = DEK,
 *                info = "sealflow-records-v1 field" 00 suite(2) len(1)
 *                class)
 *   nonce      = 00 00 00 00 || counter (8 bytes, big-endian)
 *   field AAD  = record id (16) || len(1) class || canonical path
 *   plaintext  = value type (1) || value bytes
 *   token      = "sf1." base64url(varint slot || varint counter ||
 *                ciphertext || tag)
 *
 * Each record draws a random 128-bit id, so a DEK shared by many records
 * still gives every record its own field key; within a record and class
 * the counter never repeats, so no (key, nonce) pair is ever reused.
 */
#ifndef SF_RECORDS_TOKEN_H
#define SF_RECORDS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "header.h"
#include "sealflow/buf.h"
#include "sealflow/envelope.h"
#include "sealflow/status.h"

#define REC_ID_LEN 16
#define REC_KEY_LEN 32
#define REC_TOKEN_PREFIX_LEN 4
/* slot and counter (at most 5 bytes each), type, tag */
#define REC_TOKEN_OVERHEAD_MAX (5 + 5 + 1 + SF_AEAD_TAG_LEN)

/* Value types, the first plaintext byte of a token. */
enum rec_vtype {
    REC_V_STRING = 0,
    REC_V_NUMBER = 1,
    REC_V_TRUE = 2,
    REC_V_FALSE = 3,
    REC_V_NULL = 4,
    REC_V_OBJECT = 5,
    REC_V_ARRAY = 6
};

/* The AEAD of a suite; 0 for an unknown suite. */
enum sf_aead_alg rec_suite_alg(unsigned suite);

/* true when s starts with the token prefix. */
bool rec_is_token(const char *s, size_t len);

/* Derives the field key of one class in one record. On failure key is
 * wiped. */
SF_MUST_CHECK sf_status rec_field_key(unsigned suite, const uint8_t *dek,
                                      const uint8_t rid[REC_ID_LEN],
                                      const char *cls, size_t cls_len,
                                      uint8_t key[REC_KEY_LEN]);

/* Replaces aad with record id || len class || class || path. */
SF_MUST_CHECK sf_status rec_field_aad(struct sf_buf *aad,
                                      const uint8_t rid[REC_ID_LEN],
                                      const char *cls, size_t cls_len,
                                      const char *path, size_t path_len);

/* The associated data of every stanza of one class entry (docs/RECORDS.md,
 * "Stanzas"): scope 1 binds the record id, scope 2 a shared DEK's id.
 * ctx is sorted (sf_header_context). Replaces out. */
SF_MUST_CHECK sf_status rec_stanza_aad(struct sf_buf *out, unsigned scope,
                                       const uint8_t id[REC_ID_LEN],
                                       const char *cls, size_t cls_len,
                                       unsigned suite,
                                       const struct sf_hdr_kv *ctx,
                                       size_t n);

/* Seals one value and appends its token text to out. scratch is a work
 * buffer (left holding only ciphertext). SF_ERR_LIMIT for a value over
 * SF_RECORDS_RECORD_MAX bytes. */
SF_MUST_CHECK sf_status rec_token_seal(struct sf_aead *a, uint32_t slot,
                                       uint32_t counter, const uint8_t *aad,
                                       size_t aad_len, uint8_t vtype,
                                       const uint8_t *v, size_t v_len,
                                       struct sf_buf *scratch,
                                       struct sf_buf *out);

/* Strict base64url without padding, as sf_b64_decode(SF_B64_URL, ...):
 * appends the bytes to out; SF_ERR_FORMAT (out unchanged) otherwise. */
SF_MUST_CHECK sf_status rec_b64url_decode(const char *s, size_t len,
                                          struct sf_buf *out);

/* A decoded token; ct and tag point into the caller's raw buffer. */
struct rec_token {
    uint32_t slot;
    uint32_t counter;
    uint8_t *ct;
    size_t ct_len;
    const uint8_t *tag;
};

/* Decodes token text (with its prefix) into raw and tok. SF_ERR_FORMAT
 * for anything that is not a well-formed token. */
SF_MUST_CHECK sf_status rec_token_decode(const char *s, size_t len,
                                         struct sf_buf *raw,
                                         struct rec_token *tok);

/* Authenticates and decrypts in place: on SF_OK tok->ct holds the
 * plaintext (type byte first). SF_ERR_AUTH otherwise (wiped). */
SF_MUST_CHECK sf_status rec_token_open(struct sf_aead *a,
                                       struct rec_token *tok,
                                       const uint8_t *aad, size_t aad_len);

/* true for well-formed UTF-8 (NUL allowed: JSON strings may hold it). */
bool rec_utf8_is_valid(const uint8_t *p, size_t len);

/* true for text matching the JSON number grammar (RFC 8259). */
bool rec_number_is_valid(const char *p, size_t len);

#endif
