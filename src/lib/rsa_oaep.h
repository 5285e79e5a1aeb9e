/*
 * RSA key handling and RSAES-OAEP with SHA-256 and MGF1-SHA-256, over
 * OpenSSL EVP_PKEY. Keys travel as DER (PKCS#8 private, SubjectPublicKeyInfo
 * public) or PEM. sealflow wraps only with 3072- and 4096-bit keys; smaller
 * keys load (for test vectors) but sf_rsa_oaep_encrypt refuses them unless
 * allow_small is set by the caller.
 */
#ifndef SF_RSA_OAEP_H
#define SF_RSA_OAEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

struct sf_rsa_key;

/* Generates a key of 3072 or 4096 bits (SF_ERR_INVALID_ARG otherwise). */
SF_MUST_CHECK sf_status sf_rsa_generate(unsigned bits,
                                        struct sf_rsa_key **out);

/* Loads PKCS#8 DER (is_private) or SubjectPublicKeyInfo DER. */
SF_MUST_CHECK sf_status sf_rsa_from_der(const uint8_t *der, size_t der_len,
                                        bool is_private,
                                        struct sf_rsa_key **out);

/* Loads a PEM public key ("PUBLIC KEY" or "RSA PUBLIC KEY") or private
 * key ("PRIVATE KEY" or "RSA PRIVATE KEY"). CRLF line ends and trailing
 * spaces are accepted. SF_ERR_FORMAT when it is not an RSA key. */
SF_MUST_CHECK sf_status sf_rsa_from_pem(const char *pem, size_t pem_len,
                                        struct sf_rsa_key **out);

/* Appends the DER encoding. Asking for the private part of a public key is
 * SF_ERR_KEY_TYPE. Private DER is secret: the caller wipes it. */
SF_MUST_CHECK sf_status sf_rsa_to_der(const struct sf_rsa_key *k,
                                      bool is_private, struct sf_buf *out);

/* Appends the public key as PEM ("-----BEGIN PUBLIC KEY-----"). */
SF_MUST_CHECK sf_status sf_rsa_public_pem(const struct sf_rsa_key *k,
                                          struct sf_buf *out);

unsigned sf_rsa_bits(const struct sf_rsa_key *k);
bool sf_rsa_has_private(const struct sf_rsa_key *k);

/* OAEP encrypt: appends the ciphertext (modulus length bytes).
 * SF_ERR_BAD_KEY for a key under 3072 bits unless allow_small;
 * SF_ERR_LIMIT when pt_len exceeds modulus length - 66. */
SF_MUST_CHECK sf_status sf_rsa_oaep_encrypt(const struct sf_rsa_key *k,
                                            const uint8_t *label,
                                            size_t label_len,
                                            const uint8_t *pt, size_t pt_len,
                                            bool allow_small,
                                            struct sf_buf *out);

/* OAEP decrypt into pt (at most pt_max bytes). Any failure (including a
 * public-only key, a wrong ciphertext length or a plaintext longer than
 * pt_max) is SF_ERR_AUTH, *pt_len is 0 and pt is wiped, so padding errors
 * are not an oracle. Only NULL arguments give SF_ERR_INVALID_ARG. */
SF_MUST_CHECK sf_status sf_rsa_oaep_decrypt(const struct sf_rsa_key *k,
                                            const uint8_t *label,
                                            size_t label_len,
                                            const uint8_t *ct, size_t ct_len,
                                            uint8_t *pt, size_t pt_max,
                                            size_t *pt_len);

void sf_rsa_free(struct sf_rsa_key *k);

#endif
