/*
 * Fuzz target for opening sealed records (the untrusted input of every
 * `sealflow open`): the first byte picks JSON, JSON Lines or CSV, the rest
 * is the sealed input. The identity is fixed, so seeds sealed to its
 * public key reach the token layer. Opening must fail cleanly or produce
 * output that opens again to itself (a second open is a no-op).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealflow/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A test key, public on purpose: the seeds are sealed to its recipient
 * sealflow-x25519:SY7MzkVS255I4DICppI8gMCPoRZr1QVgbkPTPBtZCG4 */
static const char secret[] =
    "SEALFLOW-X25519-SECRET:GAXsZ_DKzec550c72k1vKzYWS7T1jwCbN1P3bj_HC2A";

static struct sf_identity *identity(void)
{
    static struct sf_identity *id;

    if (id == NULL &&
            sf_identity_parse(secret, sizeof secret - 1, &id) != SF_OK) {
        __builtin_trap();
    }
    return id;
}

static sf_status open_all(enum sf_records_format fmt, const uint8_t *in,
                          size_t len, struct sf_buf *out)
{
    struct sf_records_open_opts o = {fmt, NULL, NULL, 0, false, 1, "fuzz"};
    struct sf_identity *id = identity();
    struct sf_record_opener *op = NULL;
    sf_status rc = sf_record_opener_new(&o, &id, 1, &op);

    if (rc == SF_OK) {
        rc = sf_records_open_buffer(op, in, len, out, NULL);
    }
    sf_record_opener_free(op);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum sf_records_format fmts[] = {
        SF_RECORDS_JSON, SF_RECORDS_JSONL, SF_RECORDS_CSV};
    struct sf_buf once = SF_BUF_INIT;
    struct sf_buf twice = SF_BUF_INIT;
    enum sf_records_format fmt;

    if (size == 0) {
        return 0;
    }
    fmt = fmts[data[0] % 3];
    if (open_all(fmt, data + 1, size - 1, &once) != SF_OK) {
        if (once.len != 0) {
            __builtin_trap();  /* nothing is output on failure */
        }
        sf_buf_free(&once);
        return 0;
    }
    /* Whatever opened holds no token of this identity any more. */
    if (open_all(fmt, once.data, once.len, &twice) != SF_OK ||
            twice.len != once.len ||
            memcmp(twice.data, once.data, once.len) != 0) {
        __builtin_trap();
    }
    sf_buf_free(&once);
    sf_buf_free(&twice);
    return 0;
}
