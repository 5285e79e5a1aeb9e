/*
 * AEAD over OpenSSL EVP: AES-GCM (128/192/256-bit keys) and
 * ChaCha20-Poly1305, always with 96-bit nonces and 128-bit tags.
 *
 * Cipher algorithms are fetched once per process. A struct sf_aead keeps
 * one EVP_CIPHER_CTX and is re-keyed in place (sf_aead_rekey), so hot paths
 * allocate nothing per frame or per field. One context is used by one
 * thread at a time. The context holds key material and is wiped on free.
 */
#ifndef SF_AEAD_H
#define SF_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

#define SF_AEAD_NONCE_LEN 12
#define SF_AEAD_TAG_LEN 16

enum sf_aead_alg {
    SF_AEAD_AES_128_GCM = 1,
    SF_AEAD_AES_192_GCM = 2,
    SF_AEAD_AES_256_GCM = 3,
    SF_AEAD_CHACHA20_POLY1305 = 4
};

struct sf_aead;

/* Key length of alg in bytes, or 0 for an unknown alg. */
size_t sf_aead_key_len(enum sf_aead_alg alg);

/* Creates a context keyed with key (key_len must equal the alg's key
 * length: SF_ERR_INVALID_ARG otherwise). *out is NULL on failure. */
SF_MUST_CHECK sf_status sf_aead_new(enum sf_aead_alg alg, const uint8_t *key,
                                    size_t key_len, struct sf_aead **out);

/* Replaces the key (same alg) without allocating. SF_ERR_INVALID_ARG when
 * key_len does not match the alg. */
SF_MUST_CHECK sf_status sf_aead_rekey(struct sf_aead *a, const uint8_t *key,
                                      size_t key_len);

/* Encrypts pt_len bytes into ct (pt_len bytes; may equal pt) and writes a
 * 16-byte tag. aad may be NULL when aad_len is 0. The caller never reuses a
 * nonce under one key. SF_ERR_LIMIT above 2^36 - 32 bytes (the GCM bound,
 * applied to both algorithms); on failure ct and tag are wiped. */
SF_MUST_CHECK sf_status sf_aead_seal(struct sf_aead *a,
                                     const uint8_t nonce[SF_AEAD_NONCE_LEN],
                                     const uint8_t *aad, size_t aad_len,
                                     const uint8_t *pt, size_t pt_len,
                                     uint8_t *ct,
                                     uint8_t tag[SF_AEAD_TAG_LEN]);

/* Decrypts and verifies. Returns SF_ERR_AUTH on a bad tag; then pt holds
 * no plaintext (it is wiped). pt may equal ct. */
SF_MUST_CHECK sf_status sf_aead_open(struct sf_aead *a,
                                     const uint8_t nonce[SF_AEAD_NONCE_LEN],
                                     const uint8_t *aad, size_t aad_len,
                                     const uint8_t *ct, size_t ct_len,
                                     const uint8_t tag[SF_AEAD_TAG_LEN],
                                     uint8_t *pt);

/* Wipes and frees. NULL is allowed. */
void sf_aead_free(struct sf_aead *a);

#endif
