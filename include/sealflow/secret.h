/*
 * Secret memory, wiping and constant-time comparison.
 *
 * A struct sf_secret holds key bytes. Its bytes come from OpenSSL's secure
 * heap when one is available (locked, excluded from core dumps) and from
 * the normal heap otherwise; sf_secret_free() always wipes them first. There
 * is no way to free a secret without wiping it.
 */
#ifndef SEALFLOW_SECRET_H
#define SEALFLOW_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sf_secret;

/* Allocates len zero bytes of secret memory. *out is NULL on failure.
 * Returns SF_ERR_INVALID_ARG for len 0 or len above 1 MiB, SF_ERR_NOMEM. */
SF_API SF_MUST_CHECK sf_status sf_secret_new(size_t len,
                                             struct sf_secret **out);

/* Allocates len bytes of secret memory filled from the CSPRNG. */
SF_API SF_MUST_CHECK sf_status sf_secret_random(size_t len,
                                                struct sf_secret **out);

/* Copies len bytes into new secret memory. The caller still owns p and
 * should wipe it. */
SF_API SF_MUST_CHECK sf_status sf_secret_from(const uint8_t *p, size_t len,
                                              struct sf_secret **out);

/* Copies a secret. */
SF_API SF_MUST_CHECK sf_status sf_secret_dup(const struct sf_secret *s,
                                             struct sf_secret **out);

SF_API uint8_t *sf_secret_data(struct sf_secret *s);
SF_API const uint8_t *sf_secret_cdata(const struct sf_secret *s);
SF_API size_t sf_secret_len(const struct sf_secret *s);

/* Wipes and frees. NULL is allowed. */
SF_API void sf_secret_free(struct sf_secret *s);

/* Wipes len bytes at p in a way the compiler cannot remove. */
SF_API void sf_wipe(void *p, size_t len);

/* Constant-time equality of two len-byte buffers. */
SF_API bool sf_ct_equal(const void *a, const void *b, size_t len);

/* Fills p with len bytes from the CSPRNG. */
SF_API SF_MUST_CHECK sf_status sf_random(uint8_t *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
