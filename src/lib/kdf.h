/*
 * Hashes, HMAC and HKDF (RFC 5869) over OpenSSL EVP. Digest and MAC
 * algorithms are fetched once per process.
 */
#ifndef SF_KDF_H
#define SF_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

enum sf_md {
    SF_MD_SHA256 = 1,
    SF_MD_SHA512 = 2
};

#define SF_MD_MAX_LEN 64

/* Output length of md in bytes (32 or 64), 0 for an unknown md. */
size_t sf_md_len(enum sf_md md);

/* out receives sf_md_len(md) bytes. */
SF_MUST_CHECK sf_status sf_hash(enum sf_md md, const uint8_t *msg,
                                size_t msg_len, uint8_t *out);

/* out receives sf_md_len(md) bytes. key may be empty. */
SF_MUST_CHECK sf_status sf_hmac(enum sf_md md, const uint8_t *key,
                                size_t key_len, const uint8_t *msg,
                                size_t msg_len, uint8_t *out);

/* HKDF-Extract: prk receives sf_md_len(md) bytes. An empty salt means a
 * string of HashLen zeros, as RFC 5869 says. */
SF_MUST_CHECK sf_status sf_hkdf_extract(enum sf_md md, const uint8_t *salt,
                                        size_t salt_len, const uint8_t *ikm,
                                        size_t ikm_len, uint8_t *prk);

/* HKDF-Expand: out_len at most 255 * HashLen (SF_ERR_LIMIT otherwise).
 * prk must not be empty; out_len 0 succeeds and writes nothing. On failure
 * out is wiped. */
SF_MUST_CHECK sf_status sf_hkdf_expand(enum sf_md md, const uint8_t *prk,
                                       size_t prk_len, const uint8_t *info,
                                       size_t info_len, uint8_t *out,
                                       size_t out_len);

/* Extract then expand. */
SF_MUST_CHECK sf_status sf_hkdf(enum sf_md md, const uint8_t *salt,
                                size_t salt_len, const uint8_t *ikm,
                                size_t ikm_len, const uint8_t *info,
                                size_t info_len, uint8_t *out,
                                size_t out_len);

#endif
