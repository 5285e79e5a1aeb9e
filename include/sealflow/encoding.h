/*
 * Base64 (RFC 4648) and hex encodings.
 *
 * Decoders are strict: no whitespace, canonical padding (standard alphabet)
 * or no padding (URL alphabet), no stray bits. They return SF_ERR_FORMAT
 * on any deviation and leave the output buffer unchanged.
 */
#ifndef SEALFLOW_ENCODING_H
#define SEALFLOW_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sf_b64 {
    SF_B64_STD = 0, /* '+', '/', with '=' padding */
    SF_B64_URL = 1  /* '-', '_', without padding */
};

/* Appends the encoding of p (and a terminating NUL not counted in len). */
SF_API SF_MUST_CHECK sf_status sf_b64_encode(enum sf_b64 alphabet,
                                             const uint8_t *p, size_t len,
                                             struct sf_buf *out);

/* Appends the decoding of the len characters at s. */
SF_API SF_MUST_CHECK sf_status sf_b64_decode(enum sf_b64 alphabet,
                                             const char *s, size_t len,
                                             struct sf_buf *out);

/* Lower-case hex; appends a terminating NUL not counted in len. */
SF_API SF_MUST_CHECK sf_status sf_hex_encode(const uint8_t *p, size_t len,
                                             struct sf_buf *out);

/* Accepts upper or lower case; an odd length is SF_ERR_FORMAT. */
SF_API SF_MUST_CHECK sf_status sf_hex_decode(const char *s, size_t len,
                                             struct sf_buf *out);

#ifdef __cplusplus
}
#endif
#endif
