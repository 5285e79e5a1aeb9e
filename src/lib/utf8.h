/*
 * Internal: strict UTF-8 validation (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
#ifndef SF_UTF8_H
#define SF_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at p (len > 0 bytes available): returns its length
 * (1 to 4) and the code point in *cp, or 0 when it is not valid UTF-8. */
size_t sf_utf8_next(const uint8_t *p, size_t len, uint32_t *cp);

/* true when the len bytes at p are valid UTF-8; a NUL byte counts as
 * invalid unless allow_nul. */
bool sf_utf8_is_valid(const uint8_t *p, size_t len, bool allow_nul);

#endif
