/*
 * Internal: the remote keyring's shared state and its one way to talk to
 * the key service (docs/REMOTE.md).
 *
 * remote.c          options, lifetime, names, statistics
 * remote_call.c     the request loop (breaker, retries, backoff) and the
 *                   mapping of HTTP answers to statuses
 * remote_ops.c      encrypt, datakey and single decrypt, with the caches
 *                   in front
 * remote_batch.c    sf_remote_decrypt_batch
 * remote_keyring.c  the "kms:" recipient and identity for the envelope
 */
#ifndef SF_REMOTE_INTERNAL_H
#define SF_REMOTE_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "breaker.h"
#include "dekcache.h"
#include "remote_http.h"
#include "sealflow/remote.h"

/* Longest "vault:vN:..." ciphertext accepted; a wrapped 512-bit key is
 * about 130 bytes, so this leaves room for any service's framing. */
#define SF_REMOTE_WRAPPED_MAX 2048

struct sf_remote {
    struct sf_remote_opts o; /* string fields are NULL: see below */
    char *addr;              /* without a trailing '/' */
    struct sf_http *http;
    struct sf_breaker breaker;
    struct sf_dekcache *deks;    /* sf_remote_datakey */
    struct sf_dekcache *unwraps; /* decrypt results */
    sf_clock_fn clock;
    void *clock_arg;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t retries;
    atomic_uint_fast64_t failures;
    atomic_uint_fast64_t fast_failures;
};

/* One call: POST <mount>/<op>/<name> with req as the JSON body. */
struct sf_rcall {
    const char *op;   /* "encrypt", "decrypt", "datakey/plaintext" */
    const char *name; /* a checked key name */
    json_t *req;      /* the caller's; sf_rcall_clear releases it */
    long status;      /* out: HTTP status of the last attempt, or 0 */
    json_t *body;     /* out: the parsed answer (any status), or NULL */
};

/*
 * Sends the call through the breaker with retries. SF_OK for a 2xx answer
 * whose body is an object with a "data" object. Otherwise the status that
 * the answer maps to (docs/REMOTE.md, "Errors"), with the service's error
 * text in sf_last_error(); c->body still holds a parsed error answer, so
 * a batch can read per-item results from a 400.
 */
SF_MUST_CHECK sf_status sf_remote_call(struct sf_remote *r,
                                       struct sf_rcall *c);

/* Wipes every string in req and body (they may hold key material in
 * base64) and releases both. */
void sf_rcall_clear(struct sf_rcall *c);

/* The remote's clock (milliseconds); arg is the struct sf_remote. */
uint64_t sf_remote_now(void *arg);

/* Tests only: replaces the clock used by the breaker and the caches.
 * Call before the remote is used by more than one thread. */
void sf_remote_set_clock(struct sf_remote *r, sf_clock_fn fn, void *arg);

/* Copies a remote key name ("NAME" or "kms:NAME") to out without the
 * prefix, after checking it (length, key name grammar). */
SF_MUST_CHECK sf_status sf_remote_name(const char *in,
                                       char out[SF_REMOTE_NAME_MAX + 1]);

/* Parses N from a "vault:vN:..." ciphertext of len bytes and checks the
 * rest is printable. SF_ERR_AUTH when it is not one (so a damaged stanza
 * fails like a forged one). */
SF_MUST_CHECK sf_status sf_remote_version_of(const char *wrapped,
                                             size_t len, uint32_t *version);

/* Wraps len bytes with the encrypt endpoint; appends the ciphertext
 * (NUL-terminated) to wrapped. Drops cached data keys of older KEK
 * versions of name once a newer version shows up. */
SF_MUST_CHECK sf_status sf_remote_encrypt(struct sf_remote *r,
                                          const char *name,
                                          const uint8_t *pt, size_t len,
                                          struct sf_buf *wrapped,
                                          uint32_t *version);

/* Unwraps one ciphertext of name, through the unwrap cache (concurrent
 * misses on the same ciphertext share one request; grace applies). */
SF_MUST_CHECK sf_status sf_remote_unwrap(struct sf_remote *r,
                                         const char *name,
                                         const char *wrapped, size_t len,
                                         struct sf_secret **dek);

/* The unwrap cache's key for one ciphertext of name. */
SF_MUST_CHECK sf_status sf_remote_unwrap_key(
    const char *name, const char *wrapped, size_t len,
    uint8_t key[SF_DEKCACHE_KEY_LEN]);

/* Decodes the base64 "plaintext" member of obj into a new secret of want
 * bytes (0: any length from 1 to 64). SF_ERR_REMOTE when it is not one. */
SF_MUST_CHECK sf_status sf_remote_secret_of(const struct sf_remote *r,
                                            const json_t *obj, size_t want,
                                            struct sf_secret **out);

#endif
