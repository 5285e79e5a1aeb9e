/*
 * Fuzz target for the field-token and "_sealflow" parsers: the input is
 * read as token text, as a "_sealflow" member, and as a record for the
 * tape parser. A round trip seals the input as a string value under a
 * fixed key and must open it back byte for byte, and a decoded token must
 * never authenticate under a key it was not sealed with.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sf_aead *fixed_aead(void)
{
    static const uint8_t key[REC_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    static struct sf_aead *a;

    if (a == NULL &&
            sf_aead_new(SF_AEAD_AES_256_GCM, key, sizeof key, &a) != SF_OK) {
        __builtin_trap();
    }
    return a;
}

static void round_trip(const uint8_t *data, size_t size)
{
    struct sf_buf tok = SF_BUF_INIT;
    struct sf_buf scratch = SF_BUF_INIT;
    struct sf_buf raw = SF_BUF_INIT;
    struct rec_token t;
    uint32_t counter = size > 0 ? data[0] * 1000u : 7;

    if (rec_token_seal(fixed_aead(), (uint32_t)(size % 300), counter,
                       (const uint8_t *)"aad", 3, REC_V_STRING, data, size,
                       &scratch, &tok) != SF_OK ||
            rec_token_decode((const char *)tok.data, tok.len, &raw, &t) !=
                SF_OK ||
            t.counter != counter ||
            rec_token_open(fixed_aead(), &t, (const uint8_t *)"aad", 3) !=
                SF_OK ||
            t.ct_len != size + 1 || t.ct[0] != REC_V_STRING ||
            (size > 0 && memcmp(t.ct + 1, data, size) != 0)) {
        __builtin_trap();
    }
    sf_buf_free(&tok);
    sf_buf_free(&scratch);
    sf_buf_free(&raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_buf raw = SF_BUF_INIT;
    struct rec_token t;
    struct rec_tape tape;
    struct rec_meta meta;
    struct tape_error err;
    const char *why;

    if (rec_token_decode((const char *)data, size, &raw, &t) == SF_OK &&
            rec_token_open(fixed_aead(), &t, (const uint8_t *)"x", 1) ==
                SF_OK) {
        __builtin_trap();  /* nobody sealed this under the fixed key */
    }
    sf_buf_free(&raw);
    memset(&tape, 0, sizeof tape);
    memset(&meta, 0, sizeof meta);
    if (rec_meta_parse_text(&tape, data, size, &meta, &why) == SF_OK &&
            meta.class_count > SF_POLICY_CLASS_MAX) {
        __builtin_trap();
    }
    if (rec_tape_parse(&tape, data, size, SF_RECORDS_DEPTH_MAX, &err) ==
            SF_OK && tape.ents[0].end + 1 != tape.n) {
        __builtin_trap();  /* one value, spanning the whole tape */
    }
    rec_tape_free(&tape);
    rec_meta_free(&meta);
    if (size <= 4096) {
        round_trip(data, size);
    }
    return 0;
}
