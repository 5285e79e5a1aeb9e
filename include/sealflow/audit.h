/*
 * Tamper-evident audit log: one JSON object per line.
 *
 * Every line carries "seq" (1, 2, 3, ... across the whole log) and "prev",
 * the SHA-256 (hex) of the line before it, or 64 zeros for the very first
 * line. Checkpoint lines (type "checkpoint") add "mac", an HMAC-SHA256
 * under a key derived from the audit key over the line without its "mac"
 * member; since each line's hash covers the one before it, a checkpoint
 * seals everything written up to it. A checkpoint is written when the log
 * is opened and closed, every checkpoint_every entries and every
 * checkpoint_interval_s seconds with traffic. The exact line layout is in
 * docs/sealflowd.md.
 *
 * Values that may be sensitive (the encryption context, the input
 * ciphertext) are never written; their HMAC-SHA256 under a second derived
 * key is, so an investigator holding the audit key can check whether a
 * given value was used. Key material, plaintext and tokens never appear.
 *
 * Writes are group-committed: sf_audit_append() formats the entry in the
 * calling thread and hands it to one writer thread, which chains every
 * entry waiting at that moment, writes them with one write() and one
 * fdatasync(), then wakes exactly their callers. A caller returns only
 * once its entry is durable, or with an error when it is not, so a
 * service can refuse the request (fail closed). sf_audit_submit() does
 * the same without blocking: it calls back once the entry is durable, so
 * an event-driven server need not park a thread per waiting request.
 */
#ifndef SEALFLOW_AUDIT_H
#define SEALFLOW_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/secret.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SF_AUDIT_KEY_LEN 32
/* Longest line the writer produces and the verifier accepts. */
#define SF_AUDIT_LINE_MAX 8192

/* One audited request. Strings may be NULL (omitted from the line) and are
 * cut at 256 bytes. The caller keeps everything alive until
 * sf_audit_append() or sf_audit_submit() returns. */
struct sf_audit_event {
    const char *request_id;
    const char *accessor;  /* the token's accessor, never the token */
    const char *remote;    /* client address */
    const char *operation; /* e.g. "encrypt", "keys.create" */
    const char *key;       /* key name */
    uint32_t version;      /* key version used; 0 for none */
    const char *outcome;   /* "ok", "denied", "error", "started", ... */
    int status;            /* HTTP status; 0 for none */
    uint64_t latency_us;
    size_t batch_count;    /* items in a batch request; 0 for none */
    const char *error;     /* short, secret-free reason */
    const uint8_t *context; /* HMACed, never written; may be NULL */
    size_t context_len;
    const uint8_t *input;   /* HMACed, never written; may be NULL */
    size_t input_len;
};

struct sf_audit_options {
    uint32_t checkpoint_every;      /* entries; 0 means 1000 */
    uint32_t checkpoint_interval_s; /* seconds; 0 means 60 */
    bool no_sync;                   /* skip fdatasync: tests only */
};

struct sf_audit;

/* Derives the audit key (SF_AUDIT_KEY_LEN bytes) from a root key with
 * HKDF-SHA256, so whoever holds the root key can verify the log. */
SF_API SF_MUST_CHECK sf_status sf_audit_key_derive(
    const struct sf_secret *root_key, struct sf_secret **out);

/*
 * Opens (creating, mode 0600) the log at path for appending, continues the
 * chain from its last line, starts the writer thread and writes a "start"
 * checkpoint. opt may be NULL. SF_ERR_FORMAT when the last line is
 * incomplete or not an audit line (run sf_audit_verify_file()), SF_ERR_IO
 * when the file cannot be opened or written.
 */
SF_API SF_MUST_CHECK sf_status sf_audit_open(
    const char *path, const struct sf_secret *audit_key,
    const struct sf_audit_options *opt, struct sf_audit **out);

/*
 * Appends one entry and waits until it is durable. SF_ERR_IO when it could
 * not be written (the disk is full, the file or its folder was removed):
 * the entry is then not in the log and the caller must refuse the request.
 * When the path has been replaced by a new empty file (log rotation) the
 * writer continues there, starting with a "file_start" checkpoint. Safe to
 * call from many threads.
 */
SF_API SF_MUST_CHECK sf_status sf_audit_append(struct sf_audit *a,
                                               const struct sf_audit_event *ev);

/*
 * Called exactly once for an entry queued by sf_audit_submit(): rc is
 * SF_OK when the entry is durable, or SF_ERR_IO when it could not be
 * written (the entry is then not in the log), with why a secret-free
 * reason valid only during the call. Runs on the writer thread, after
 * the commit and without any lock held: it must be short, must not block
 * and must not call into the log.
 */
typedef void (*sf_audit_done_fn)(void *arg, sf_status rc, const char *why);

/*
 * Queues one entry without waiting. The entry is formatted (and its
 * sensitive values HMACed) before the call returns, so ev and everything
 * it points to may be released at once. On SF_OK, done(arg, ...) follows
 * exactly once, from the writer thread, possibly before this call
 * returns. Otherwise done is never called: SF_ERR_UNAVAILABLE when the
 * log is closing, SF_ERR_LIMIT when the line would exceed
 * SF_AUDIT_LINE_MAX, SF_ERR_NOMEM. Safe to call from many threads.
 */
SF_API SF_MUST_CHECK sf_status sf_audit_submit(struct sf_audit *a,
                                               const struct sf_audit_event *ev,
                                               sf_audit_done_fn done,
                                               void *arg);

/* Writes a checkpoint now and waits for it to be durable. */
SF_API SF_MUST_CHECK sf_status sf_audit_checkpoint(struct sf_audit *a);

/* Entries written since open (checkpoints excluded). */
SF_API uint64_t sf_audit_count(struct sf_audit *a);

/* Drains waiting entries, writes a "close" checkpoint, stops the writer
 * and closes the file. NULL is allowed. */
SF_API void sf_audit_close(struct sf_audit *a);

struct sf_audit_report {
    uint64_t lines;          /* lines checked */
    uint64_t checkpoints;    /* checkpoint lines among them */
    uint64_t first_seq;      /* seq of the first line */
    uint64_t last_seq;       /* seq of the last line */
    uint64_t unsealed_tail;  /* lines after the last checkpoint */
    bool macs_verified;      /* a key was given and every MAC matched */
    uint64_t bad_line;       /* 1-based line of the first problem, or 0 */
};

/*
 * Verifies a log: every line parses, seq increases by one, prev is the
 * hash of the line before, the first line starts the chain (prev all zeros
 * and seq 1, or a "file_start" checkpoint). With audit_key (may be NULL)
 * every checkpoint MAC is checked too; without it an attacker who rewrites
 * the whole chain cannot be detected, and macs_verified stays false.
 * Returns SF_OK, or SF_ERR_AUTH (edited, deleted, inserted or reordered
 * lines, bad MAC) or SF_ERR_FORMAT (a line that is not an audit line), with
 * the line number and reason in sf_last_error() and rep->bad_line. rep is
 * filled in either case.
 */
SF_API SF_MUST_CHECK sf_status sf_audit_verify_buf(
    const uint8_t *data, size_t len, const struct sf_secret *audit_key,
    struct sf_audit_report *rep);

/* As sf_audit_verify_buf(), reading the file at path line by line.
 * SF_ERR_IO when it cannot be read. */
SF_API SF_MUST_CHECK sf_status sf_audit_verify_file(
    const char *path, const struct sf_secret *audit_key,
    struct sf_audit_report *rep);

#ifdef __cplusplus
}
#endif
#endif
