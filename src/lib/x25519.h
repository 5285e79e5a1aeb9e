/*
 * X25519 (RFC 7748) over OpenSSL EVP_PKEY. Keys are raw 32-byte strings.
 */
#ifndef SF_X25519_H
#define SF_X25519_H

#include <stdint.h>

#include "sealflow/status.h"

#define SF_X25519_LEN 32

/* Generates a key pair. priv is secret: the caller wipes it. */
SF_MUST_CHECK sf_status sf_x25519_keygen(uint8_t priv[SF_X25519_LEN],
                                         uint8_t pub[SF_X25519_LEN]);

/* Computes the public key of priv. */
SF_MUST_CHECK sf_status sf_x25519_public(const uint8_t priv[SF_X25519_LEN],
                                         uint8_t pub[SF_X25519_LEN]);

/* Diffie-Hellman. An all-zero result (low-order or otherwise degenerate
 * peer key) is refused with SF_ERR_BAD_KEY and shared is wiped. */
SF_MUST_CHECK sf_status sf_x25519_shared(const uint8_t priv[SF_X25519_LEN],
                                         const uint8_t peer[SF_X25519_LEN],
                                         uint8_t shared[SF_X25519_LEN]);

#endif
