/*
 * Round-trip fuzz target: seals the input with parameters taken from its
 * first bytes (suite, frame size, threads, chunking, context) and opens
 * the result; anything but the input back is a bug.
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
static const char public[] =
    "sealflow-x25519:SY7MzkVS255I4DICppI8gMCPoRZr1QVgbkPTPBtZCG4";

struct keys {
    struct sf_identity *id;
    struct sf_recipient *rcpt;
};

static struct keys *keys(void)
{
    static struct keys k;

    if (k.id == NULL &&
            (sf_identity_parse(secret, sizeof secret - 1, &k.id) != SF_OK ||
             sf_recipient_parse(public, sizeof public - 1, &k.rcpt) !=
                 SF_OK)) {
        __builtin_trap();
    }
    return &k;
}

/* Feeds pt to a sealer in chunks of `chunk` bytes (0: all at once). */
static sf_status seal(const struct sf_seal_opts *o, struct sf_recipient *r,
                      const uint8_t *pt, size_t len, size_t chunk,
                      struct sf_buf *out)
{
    struct sf_sealer *s = NULL;
    sf_status rc = sf_sealer_new(o, &r, 1, &s);

    for (size_t at = 0; rc == SF_OK && at < len;) {
        size_t n = chunk == 0 || chunk > len - at ? len - at : chunk;

        rc = sf_sealer_update(s, pt + at, n, out);
        at += n;
    }
    if (rc == SF_OK) {
        rc = sf_sealer_final(s, out);
    }
    sf_sealer_free(s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keys *k = keys();
    struct sf_kv ctx[1] = {{"fuzz", "roundtrip"}};
    struct sf_seal_opts o;
    struct sf_open_opts oo;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;

    if (size < 3) {
        return 0;
    }
    memset(&o, 0, sizeof o);
    o.suite = (data[0] & 1) ? SF_SUITE_CHACHA20POLY1305 : SF_SUITE_AES256GCM;
    o.frame_len = 1u + data[1];
    o.threads = (data[0] & 2) ? 2 : 1;
    o.context = ctx;
    o.context_len = (data[0] & 4) ? 1 : 0;
    oo.threads = (data[0] & 8) ? 2 : 1;
    if (seal(&o, k->rcpt, data + 3, size - 3, data[2], &sealed) != SF_OK ||
            sf_envelope_open_opts(&oo, &k->id, 1, sealed.data, sealed.len,
                                  &back) != SF_OK ||
            back.len != size - 3 ||
            (back.len > 0 && memcmp(back.data, data + 3, back.len) != 0)) {
        __builtin_trap();
    }
    sf_buf_free(&sealed);
    sf_buf_free(&back);
    return 0;
}
