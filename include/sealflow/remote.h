/*
 * The remote keyring: key-encryption keys that live in a key service
 * speaking the HTTP API of Vault's transit engine (sealflowd, HashiCorp
 * Vault, OpenBao). Key material never leaves the service; sealflow sends
 * data keys to be wrapped or unwrapped and keeps only what the service
 * returns. docs/REMOTE.md describes the protocol, the caches, retries and
 * the circuit breaker in full.
 *
 * Remote keys are named "kms:NAME" where a policy or the CLI names keys;
 * NAME is the transit key name. A stanza that a remote key wrapped has
 * type SF_STANZA_REMOTE, key id "kms:NAME", version N taken from the
 * service's "vault:vN:" ciphertext, and that ciphertext string as its
 * body.
 *
 * Every function that fails leaves a secret-free explanation in
 * sf_last_error(): the service's own error text when it gave one, never
 * the token or any key.
 */
#ifndef SEALFLOW_REMOTE_H
#define SEALFLOW_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/envelope.h"
#include "sealflow/secret.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prefix of remote key ids: "kms:NAME". */
#define SF_REMOTE_PREFIX "kms:"

/* Longest NAME, so that "kms:NAME" fits a stanza key id. */
#define SF_REMOTE_NAME_MAX (SF_KEY_ID_MAX - 4)

struct sf_remote_opts {
    /* Where and who. addr and token are required. The token is secret:
     * it is copied once into the request headers and wiped when the
     * remote is freed. */
    const char *addr;            /* "https://kms.example:8200" */
    const char *token;           /* sent as X-Vault-Token */
    const char *mount;           /* transit mount path; "transit" */
    const char *vault_namespace; /* X-Vault-Namespace, or NULL */
    const char *ca_file;         /* PEM CA bundle, or NULL: system CAs */
    /* Plain http:// is refused except to a loopback address (the token
     * would cross the network in clear) unless this is set. */
    bool is_plain_http_allowed;

    /* Each attempt: connect within connect_timeout_ms, finish within
     * timeout_ms. Failed attempts (no connection, timeout, 5xx, 429) are
     * repeated up to retries more times, after a wait that doubles from
     * backoff_ms up to backoff_max_ms, with random jitter. 4xx answers
     * are final. */
    uint32_t connect_timeout_ms;  /* default 2000; must be > 0 */
    uint32_t timeout_ms;          /* default 10000; must be > 0 */
    uint32_t retries;             /* default 2 */
    uint32_t backoff_ms;          /* default 100 */
    uint32_t backoff_max_ms;      /* default 2000 */
    uint32_t connections_max;     /* idle connections kept; default 8 */
    uint32_t batch_max;           /* ciphertexts per decrypt; default 128 */

    /* Circuit breaker: after breaker_failures consecutive failed
     * attempts, calls fail at once with SF_ERR_UNAVAILABLE for
     * breaker_open_ms; then one call probes the service. 0 failures:
     * never opens. */
    uint32_t breaker_failures;    /* default 5 */
    uint32_t breaker_open_ms;     /* default 30000 */

    /* Data keys from sf_remote_datakey are reused while within all three
     * limits (0 uses or 0 bytes: no limit on that count; 0 age: never
     * reused). A KEK rotation reaches new data within dek_max_age_ms. */
    uint64_t dek_max_age_ms;      /* default 300000 (5 min) */
    uint64_t dek_max_uses;        /* default 10000 */
    uint64_t dek_max_bytes;       /* default 1 GiB */

    /* Unwrapped data keys are kept unwrap_ttl_ms (0: not kept). While the
     * service is unreachable, a kept key may still be used until
     * unwrap_ttl_ms + grace_ms after the service last unwrapped it. */
    uint64_t unwrap_ttl_ms;       /* default 300000 (5 min) */
    uint64_t grace_ms;            /* default 300000 (5 min) */
    uint32_t cache_entries_max;   /* per cache; default 4096 */
};

/* Fills every field with its default; addr and token stay NULL. */
SF_API void sf_remote_opts_default(struct sf_remote_opts *o);

/* Sets addr, token, ca_file and vault_namespace from SEALFLOW_ADDR,
 * SEALFLOW_TOKEN, SEALFLOW_CACERT and SEALFLOW_NAMESPACE, each falling
 * back to VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT and VAULT_NAMESPACE. The
 * pointers point into the environment: call sf_remote_new before
 * changing it.
 * Fields without a variable are left as they were. SF_ERR_INVALID_ARG
 * when no address or no token is set (the message names the
 * variables). */
SF_API SF_MUST_CHECK sf_status sf_remote_opts_from_env(
    struct sf_remote_opts *o);

/* A connection to one key service; thread-safe. No request is sent yet.
 * SF_ERR_INVALID_ARG names a bad option. */
struct sf_remote;

SF_API SF_MUST_CHECK sf_status sf_remote_new(const struct sf_remote_opts *o,
                                             struct sf_remote **out);

/* Wipes the token and every cached key. NULL is allowed. Recipients and
 * identities made from r must be freed first. */
SF_API void sf_remote_free(struct sf_remote *r);

/* A recipient that wraps each message's data key with the service's
 * encrypt endpoint under key NAME ("NAME" or "kms:NAME"). r must outlive
 * it. No request is made until a message is sealed. */
SF_API SF_MUST_CHECK sf_status sf_recipient_remote(struct sf_remote *r,
                                                   const char *name,
                                                   struct sf_recipient **out);

/* An identity that unwraps stanzas of type SF_STANZA_REMOTE with key id
 * "kms:NAME" through the service's decrypt endpoint, for any NAME; it
 * passes (SF_ERR_NO_KEY) on every other stanza. r must outlive it. */
SF_API SF_MUST_CHECK sf_status sf_identity_remote(struct sf_remote *r,
                                                  struct sf_identity **out);

/*
 * A data key for new data under remote key NAME, from the service's
 * datakey endpoint (bits: 128, 256 or 512) or from the cache. data_len is
 * how many bytes the caller will protect with it (counted against
 * dek_max_bytes). *dek receives the plaintext key (free it), wrapped the
 * service's ciphertext ("vault:vN:...", appended, NUL-terminated) and
 * *version N. Threads that miss on the same NAME and bits together share
 * one request. On failure *dek is NULL and wrapped is as it was.
 * SF_ERR_UNAVAILABLE at once while the circuit is open.
 */
SF_API SF_MUST_CHECK sf_status sf_remote_datakey(struct sf_remote *r,
                                                 const char *name,
                                                 unsigned bits,
                                                 uint64_t data_len,
                                                 struct sf_secret **dek,
                                                 struct sf_buf *wrapped,
                                                 uint32_t *version);

/* One wrapped key to unwrap. */
struct sf_remote_item {
    const char *name;        /* "NAME" or "kms:NAME" */
    const char *wrapped;     /* "vault:vN:..." */
    size_t wrapped_len;
    struct sf_secret *dek;   /* out: the data key (free it), or NULL */
    sf_status status;        /* out: this item's result */
};

/*
 * Unwraps n items: kept keys come from the cache; the others go to the
 * service in one decrypt request per key name (batch_input, at most
 * batch_max per request); repeated ciphertexts are sent once. Each item
 * gets its own status (SF_ERR_AUTH: the service refused this ciphertext).
 * Returns SF_OK when every item opened, else the status of the first
 * item that did not, with its explanation.
 */
SF_API SF_MUST_CHECK sf_status sf_remote_decrypt_batch(
    struct sf_remote *r, struct sf_remote_item *items, size_t n);

struct sf_remote_stats {
    uint64_t requests;        /* HTTP attempts made */
    uint64_t retries;         /* attempts that repeated a failed one */
    uint64_t failures;        /* attempts without a usable answer */
    uint64_t fast_failures;   /* calls refused by the open circuit */
    uint64_t breaker_opens;
    bool is_breaker_open;     /* open or half-open right now */
    uint64_t dek_hits;        /* sf_remote_datakey served from cache */
    uint64_t dek_misses;
    uint64_t unwrap_hits;     /* unwraps served from cache */
    uint64_t unwrap_misses;
    uint64_t stale_hits;      /* unwraps served in the grace period */
};

SF_API void sf_remote_stats(struct sf_remote *r, struct sf_remote_stats *out);

/* Forgets every cached data key (e.g. after revoking access). */
SF_API void sf_remote_flush(struct sf_remote *r);

#ifdef __cplusplus
}
#endif
#endif
