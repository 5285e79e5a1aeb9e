/*
 * Fuzz target for the envelope header parser (untrusted bytes at the
 * start of every sealed file), through the internal parser and through
 * sf_envelope_inspect. Whatever parses must be self-consistent: every
 * field lies inside the input and within its documented limit.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "header.h"
#include "sealflow/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *data, size_t size, const uint8_t *p,
                  size_t len)
{
    return p >= data && len <= size && (size_t)(p - data) <= size - len;
}

static void check(const uint8_t *data, size_t size, const struct sf_header *h)
{
    if (h->total_len > size || h->total_len > SF_HEADER_MAX ||
            h->prefix_len >= h->mac_off || h->mac_off + 32 != h->total_len ||
            h->stanza_len < 1 || h->stanza_len > SF_STANZA_MAX ||
            h->context_len > SF_CONTEXT_MAX || h->frame_len < 1 ||
            h->frame_len > SF_FRAME_MAX) {
        __builtin_trap();
    }
    for (size_t i = 0; i < h->stanza_len; i++) {
        const struct sf_stanza *st = &h->stanzas[i];

        if (!inside(data, size, st->key_id, st->key_id_len) ||
                !inside(data, size, st->body, st->body_len) ||
                st->key_id_len > SF_KEY_ID_MAX ||
                st->body_len > SF_STANZA_BODY_MAX) {
            __builtin_trap();
        }
    }
    for (size_t i = 0; i < h->context_len; i++) {
        if (!inside(data, size, h->context[i].key, h->context[i].key_len) ||
                !inside(data, size, h->context[i].value,
                        h->context[i].value_len)) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sf_header h;
    struct sf_header_info info;
    size_t need = 0;

    if (sf_header_parse(data, size, &h, &need) == SF_OK) {
        if (need == 0) {
            check(data, size, &h);
        } else if (need <= size || need > SF_HEADER_MAX) {
            __builtin_trap();
        }
    }
    if (sf_envelope_inspect(data, size, &info) == SF_OK) {
        for (size_t i = 0; i < info.stanza_len; i++) {
            if (strlen(info.stanzas[i].key_id) == 0) {
                __builtin_trap();
            }
        }
        sf_header_info_free(&info);
    }
    return 0;
}
