/*
 * Internal: the envelope header, byte for byte (docs/FORMAT.md, "Header").
 *
 * This module only encodes and decodes; it holds no keys and verifies
 * nothing cryptographic. A parsed header points into the caller's bytes,
 * so parsing allocates nothing and every length is checked against its
 * limit before it is used.
 */
#ifndef SF_HEADER_H
#define SF_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/envelope.h"
#include "sealflow/status.h"

#define SF_MAGIC "SFLW"
#define SF_MAGIC_LEN 4
#define SF_FORMAT_VERSION 1
#define SF_MESSAGE_ID_LEN 32
#define SF_DEK_LEN 32
#define SF_COMMITMENT_LEN 32
#define SF_HEADER_MAC_LEN 32
/* magic, version, suite, frame length, message id */
#define SF_HEADER_FIXED_LEN 43

/* One context pair as stored: bytes, not NUL-terminated. */
struct sf_hdr_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
};

/* One stanza as stored. */
struct sf_stanza {
    uint8_t type;
    const uint8_t *key_id;
    size_t key_id_len;
    uint32_t version;
    const uint8_t *body;
    size_t body_len;
};

struct sf_header {
    uint8_t version;
    uint16_t suite;
    uint32_t frame_len;
    const uint8_t *message_id;
    size_t context_len;
    struct sf_hdr_kv context[SF_CONTEXT_MAX];
    size_t stanza_len;
    struct sf_stanza stanzas[SF_STANZA_MAX];
    const uint8_t *commitment;
    const uint8_t *mac;
    size_t prefix_len; /* magic..context: the AAD of every stanza */
    size_t mac_off;    /* offset of the MAC = bytes the MAC covers */
    size_t total_len;  /* whole header */
};

/*
 * Parses the header at the start of p (len bytes; bytes after the header
 * are ignored). On SF_OK, *need is 0 and h is complete and points into p;
 * or *need > len and the bytes so far are well-formed but the header needs
 * at least *need bytes (h must not be used). Each call starts over, so a
 * streaming reader calls again once it holds *need bytes.
 * SF_ERR_FORMAT (malformed or over a limit) or SF_ERR_UNSUPPORTED
 * (version, suite), with the offset in sf_last_error().
 */
SF_MUST_CHECK sf_status sf_header_parse(const uint8_t *p, size_t len,
                                        struct sf_header *h, size_t *need);

/*
 * Validates the caller's context (limits, UTF-8, non-empty unique keys)
 * and writes it sorted bytewise by key into out (n entries, pointing into
 * the caller's strings). SF_ERR_LIMIT or SF_ERR_INVALID_ARG.
 */
SF_MUST_CHECK sf_status sf_header_context(const struct sf_kv *in, size_t n,
                                          struct sf_hdr_kv *out);

/* Appends magic..context (the header prefix). ctx must be sorted and
 * valid (see sf_header_context). */
SF_MUST_CHECK sf_status sf_header_put_prefix(uint16_t suite,
                                             uint32_t frame_len,
                                             const uint8_t *message_id,
                                             const struct sf_hdr_kv *ctx,
                                             size_t n, struct sf_buf *out);

/* Appends the stanza count and the n stanzas (1..SF_STANZA_MAX, each
 * within its limits: SF_ERR_LIMIT otherwise). */
SF_MUST_CHECK sf_status sf_header_put_stanzas(const struct sf_stanza *st,
                                              size_t n, struct sf_buf *out);

/* True when p holds len bytes of UTF-8 without NUL, overlong forms,
 * surrogates or code points above U+10FFFF. */
bool sf_header_utf8_is_valid(const uint8_t *p, size_t len);

#endif
