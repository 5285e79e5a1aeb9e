/*
 * Test helper: a small in-process stand-in for a Vault transit service on
 * 127.0.0.1, over libmicrohttpd.
 *
 * It serves POST /v1/transit/encrypt/NAME, decrypt/NAME (single and
 * batch_input) and datakey/plaintext/NAME for the keys added with
 * mock_transit_add_key, checks X-Vault-Token, and answers as Vault does:
 * "vault:vN:" ciphertexts, {"errors":[...]} bodies, 403 for a wrong
 * token, 404 for an unknown key, 400 for a ciphertext it did not make
 * (and for a batch in which any item failed, with every result).
 * Ciphertexts are handles into a table the mock keeps, not encryptions:
 * the mock tests the client, not cryptography.
 *
 * Tests steer it: count requests and connections, fail the next requests
 * with a status, delay answers, rotate a key, stop listening and start
 * again on the same port (the table survives).
 */
#ifndef SF_TEST_MOCK_TRANSIT_H
#define SF_TEST_MOCK_TRANSIT_H

#include <stdbool.h>
#include <stddef.h>

enum mock_op {
    MOCK_ENCRYPT = 0,
    MOCK_DECRYPT = 1,
    MOCK_DATAKEY = 2,
    MOCK_OTHER = 3,
    MOCK_OP_COUNT = 4
};

struct mock_transit;

/* Starts on 127.0.0.1 at a free port, accepting token. NULL on failure
 * (after printing why). */
struct mock_transit *mock_transit_start(const char *token);

/* Stops (if running) and frees. NULL is allowed. */
void mock_transit_free(struct mock_transit *m);

/* "http://127.0.0.1:PORT" */
const char *mock_transit_addr(const struct mock_transit *m);

/* Stops listening and closes every connection; state is kept. */
void mock_transit_stop(struct mock_transit *m);

/* Listens again on the same port; false on failure. */
bool mock_transit_restart(struct mock_transit *m);

/* Adds a key at version 1 (no effect when it exists). */
void mock_transit_add_key(struct mock_transit *m, const char *name);

/* Adds a version to a key; new ciphertexts name it. */
void mock_transit_rotate(struct mock_transit *m, const char *name);

/* The next count requests get HTTP status with {"errors":[text]}. */
void mock_transit_fail(struct mock_transit *m, unsigned status,
                       unsigned count, const char *text);

/* Every answer waits ms milliseconds first. */
void mock_transit_delay(struct mock_transit *m, unsigned ms);

/* Requests received for op (failed ones included). */
unsigned mock_transit_count(const struct mock_transit *m, enum mock_op op);

/* All requests received. */
unsigned mock_transit_total(const struct mock_transit *m);

/* TCP connections accepted. */
unsigned mock_transit_connections(const struct mock_transit *m);

/* Items in the last decrypt request with batch_input (0: none yet). */
unsigned mock_transit_last_batch(const struct mock_transit *m);

/* Sets every counter to 0. */
void mock_transit_reset_counts(struct mock_transit *m);

#endif
