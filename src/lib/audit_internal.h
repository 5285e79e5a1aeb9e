/*
 * Internal: formatting and sealing audit lines, shared by the writer
 * (audit.c) and the verifier (audit_verify.c).
 */
#ifndef SF_AUDIT_INTERNAL_H
#define SF_AUDIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/audit.h"
#include "sealflow/buf.h"
#include "sealflow/secret.h"

#define SF_AUDIT_HASH_LEN 32
#define SF_AUDIT_HEX_LEN 64
/* The tail of a checkpoint line: ,"mac":"<64 hex>"} */
#define SF_AUDIT_MAC_TAIL_LEN (sizeof ",\"mac\":\"\"}" - 1 + SF_AUDIT_HEX_LEN)

/* Keys derived from the audit key: one seals checkpoints, the other
 * HMACs sensitive field values. Wipe with sf_wipe after use. */
struct sf_audit_keys {
    uint8_t mac[32];
    uint8_t field[32];
};

/* The end of the chain: the last line's seq and hash. */
struct sf_audit_chain {
    uint64_t seq;
    uint8_t head[SF_AUDIT_HASH_LEN];
};

SF_MUST_CHECK sf_status sf_audit_keys_derive(const struct sf_secret *key,
                                             struct sf_audit_keys *out);

/* Current UTC time as "2024-05-01T12:00:00.123456Z". */
void sf_audit_time_now(char out[40]);

/*
 * Formats the part of a request line that does not depend on its place in
 * the chain: the members from "time" to "input_hmac", without braces, into
 * body (max bytes, no NUL). Runs in the requesting thread. SF_ERR_LIMIT
 * when the whole line would exceed SF_AUDIT_LINE_MAX; *len is 0 on
 * failure.
 */
SF_MUST_CHECK sf_status sf_audit_format_body(
    const struct sf_audit_keys *k, const char *time,
    const struct sf_audit_event *ev, char *body, size_t max, size_t *len);

/* Appends the line {"seq":<next>,<body>,"prev":"<head>"} and its '\n' to
 * out and advances ch. On failure out and ch are unchanged. */
SF_MUST_CHECK sf_status sf_audit_chain_body(struct sf_audit_chain *ch,
                                            const char *body, size_t len,
                                            struct sf_buf *out);

/* Appends one checkpoint line (reason "start", "periodic", "close",
 * "request"; file_start marks the first line of a new file) and
 * advances ch. */
SF_MUST_CHECK sf_status sf_audit_format_checkpoint(
    const struct sf_audit_keys *k, struct sf_audit_chain *ch,
    const char *time, const char *reason, bool file_start,
    struct sf_buf *out);

/* HMAC-SHA256 of a checkpoint body (the line without its mac member) as
 * 64 hex digits and a NUL. */
SF_MUST_CHECK sf_status sf_audit_body_mac(const struct sf_audit_keys *k,
                                          const char *body, size_t len,
                                          char hex[SF_AUDIT_HEX_LEN + 1]);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void sf_audit_hex(const uint8_t *p, size_t n, char *out);

#endif
