/*
 * Fuzz target for opening sealed data (untrusted input of every decrypt):
 * one-shot, and streamed in chunks whose sizes come from the input. The
 * identity is fixed, so seeds sealed to it reach the frame layer. A
 * successful open must give the same plaintext both ways.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealflow/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* identity-1.txt of tests/vectors/envelope: a test key, public on purpose */
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

/* Streams data in chunks of 1 + (byte at the chunk start) % 97 bytes. */
static sf_status open_streamed(struct sf_identity *id, const uint8_t *data,
                               size_t size, struct sf_buf *out)
{
    struct sf_opener *o = NULL;
    sf_status rc = sf_opener_new(&id, 1, &o);

    for (size_t at = 0; rc == SF_OK && at < size;) {
        size_t n = 1 + data[at] % 97u;

        n = n < size - at ? n : size - at;
        rc = sf_opener_update(o, data + at, n, out);
        at += n;
    }
    if (rc == SF_OK) {
        rc = sf_opener_final(o, out);
    }
    sf_opener_free(o);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_identity *id = identity();
    struct sf_buf one = SF_BUF_INIT;
    struct sf_buf streamed = SF_BUF_INIT;
    sf_status a = sf_envelope_open(&id, 1, data, size, &one);
    sf_status b = open_streamed(id, data, size, &streamed);

    if ((a == SF_OK) != (b == SF_OK) || (a != SF_OK && one.len != 0) ||
            (a == SF_OK && (one.len != streamed.len ||
                            (one.len > 0 &&
                             memcmp(one.data, streamed.data, one.len) != 0)))) {
        __builtin_trap();
    }
    sf_buf_free(&one);
    sf_buf_free(&streamed);
    return 0;
}
