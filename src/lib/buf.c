#include <stdlib.h>
#include <string.h>

#include "sealflow/buf.h"
#include "sealflow/secret.h"

sf_status sf_buf_reserve(struct sf_buf *b, size_t extra)
{
    size_t need;
    size_t cap;
    uint8_t *p;

    if (b == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    if (extra > SIZE_MAX - b->len - 1) {
        return SF_ERR_NOMEM;
    }
    need = b->len + extra + 1; /* room for a terminating NUL */
    if (need <= b->cap) {
        return SF_OK;
    }
    cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    /* Grow by copy, not realloc, so the old bytes can be wiped. */
    p = malloc(cap);
    if (p == NULL) {
        return SF_ERR_NOMEM;
    }
    if (b->len > 0) {
        memcpy(p, b->data, b->len);
    }
    sf_wipe(b->data, b->len);
    free(b->data);
    b->data = p;
    b->cap = cap;
    return SF_OK;
}

sf_status sf_buf_append(struct sf_buf *b, const void *p, size_t len)
{
    sf_status rc;

    if (len == 0) {
        return b == NULL ? SF_ERR_INVALID_ARG : SF_OK;
    }
    if (p == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_buf_reserve(b, len);
    if (rc != SF_OK) {
        return rc;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return SF_OK;
}

sf_status sf_buf_put_u8(struct sf_buf *b, uint8_t v)
{
    return sf_buf_append(b, &v, 1);
}

sf_status sf_buf_put_u16(struct sf_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    return sf_buf_append(b, p, sizeof p);
}

sf_status sf_buf_put_u32(struct sf_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 8), (uint8_t)v};

    return sf_buf_append(b, p, sizeof p);
}

sf_status sf_buf_put_u64(struct sf_buf *b, uint64_t v)
{
    sf_status rc = sf_buf_put_u32(b, (uint32_t)(v >> 32));

    return rc != SF_OK ? rc : sf_buf_put_u32(b, (uint32_t)v);
}

sf_status sf_buf_terminate(struct sf_buf *b)
{
    sf_status rc = sf_buf_reserve(b, 0);

    if (rc == SF_OK) {
        b->data[b->len] = 0;
    }
    return rc;
}

sf_status sf_buf_put_str(struct sf_buf *b, const char *s)
{
    sf_status rc;

    if (s == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_buf_append(b, s, strlen(s));
    return rc != SF_OK ? rc : sf_buf_terminate(b);
}

void sf_buf_reset(struct sf_buf *b)
{
    if (b != NULL) {
        sf_wipe(b->data, b->len);
        b->len = 0;
    }
}

void sf_buf_consume(struct sf_buf *b, size_t n)
{
    if (b == NULL || n == 0) {
        return;
    }
    if (n >= b->len) {
        sf_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    sf_wipe(b->data + b->len - n, n);
    b->len -= n;
}

void sf_buf_free(struct sf_buf *b)
{
    if (b == NULL) {
        return;
    }
    sf_wipe(b->data, b->len);
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
