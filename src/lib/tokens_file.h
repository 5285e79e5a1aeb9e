/*
 * Internal: the token file (JSON) and the in-memory token records.
 *
 * Layout:
 *   {"format": "sealflow-tokens", "version": 1, "tokens": [
 *     {"accessor": "<24 hex>", "sha256": "<64 hex>", "name": "ci",
 *      "root": false, "created": 1700000000,
 *      "rules": ["app-*:encrypt,decrypt"]}, ...]}
 */
#ifndef SF_TOKENS_FILE_H
#define SF_TOKENS_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"
#include "sealflow/tokens.h"

#define SF_TOKENS_MAX 10000

struct sf_token_rec {
    uint8_t hash[32]; /* SHA-256 of the token text */
    struct sf_token_info info;
};

/* Checks a token label: 1..SF_TOKEN_NAME_MAX printable ASCII bytes. */
SF_MUST_CHECK sf_status sf_token_name_check(const char *name);

/* Creates an empty token file (mode 0600) when none exists at path. */
SF_MUST_CHECK sf_status sf_token_file_ensure(const char *path);

/* Reads and validates the whole file; *recs is malloc'd. */
SF_MUST_CHECK sf_status sf_token_file_load(const char *path,
                                           struct sf_token_rec **recs,
                                           size_t *count);

/* Writes recs to a temporary file beside path, syncs it and renames it
 * over path, so readers see the old or the new file, never a mix. */
SF_MUST_CHECK sf_status sf_token_file_save(const char *path,
                                           const struct sf_token_rec *recs,
                                           size_t count);

/* Takes an exclusive flock on "<path>.lock"; *fd receives the lock. */
SF_MUST_CHECK sf_status sf_token_file_lock(const char *path, int *fd);

/* Releases a lock from sf_token_file_lock; -1 is ignored. */
void sf_token_file_unlock(int fd);

/* Appends one record, growing the array. */
SF_MUST_CHECK sf_status sf_token_recs_add(struct sf_token_rec **recs,
                                          size_t *count,
                                          const struct sf_token_rec *rec);

/* Wipes (the hashes) and frees an array of records. */
void sf_token_recs_free(struct sf_token_rec *recs, size_t count);

#endif
