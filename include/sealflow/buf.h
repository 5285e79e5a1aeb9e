/*
 * Growable byte buffers.
 *
 * A struct sf_buf owns its bytes. It may hold plaintext, so sf_buf_free()
 * and sf_buf_reset() wipe what was written before releasing it. A zeroed
 * struct (SF_BUF_INIT) is an empty buffer.
 */
#ifndef SEALFLOW_BUF_H
#define SEALFLOW_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sf_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

#define SF_BUF_INIT {NULL, 0, 0}

/* Makes room for at least extra more bytes after len. */
SF_API SF_MUST_CHECK sf_status sf_buf_reserve(struct sf_buf *b, size_t extra);

/* Appends len bytes. On failure the buffer is unchanged. */
SF_API SF_MUST_CHECK sf_status sf_buf_append(struct sf_buf *b, const void *p,
                                             size_t len);

/* Appends big-endian integers. */
SF_API SF_MUST_CHECK sf_status sf_buf_put_u8(struct sf_buf *b, uint8_t v);
SF_API SF_MUST_CHECK sf_status sf_buf_put_u16(struct sf_buf *b, uint16_t v);
SF_API SF_MUST_CHECK sf_status sf_buf_put_u32(struct sf_buf *b, uint32_t v);
SF_API SF_MUST_CHECK sf_status sf_buf_put_u64(struct sf_buf *b, uint64_t v);

/* Appends a NUL-terminated string without its NUL, then keeps a NUL after
 * len so data can be read as a C string. */
SF_API SF_MUST_CHECK sf_status sf_buf_put_str(struct sf_buf *b,
                                              const char *s);

/* Ensures data[len] == 0 (room reserved, len unchanged) for C-string use. */
SF_API SF_MUST_CHECK sf_status sf_buf_terminate(struct sf_buf *b);

/* Wipes the contents and sets len to 0; keeps the allocation. */
SF_API void sf_buf_reset(struct sf_buf *b);

/* Removes the first n bytes (n <= len), moving the rest to the front. */
SF_API void sf_buf_consume(struct sf_buf *b, size_t n);

/* Wipes and frees; the buffer is empty and reusable afterwards. */
SF_API void sf_buf_free(struct sf_buf *b);

#ifdef __cplusplus
}
#endif
#endif
