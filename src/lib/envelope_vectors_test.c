/*
 * Frozen known-answer files (tests/vectors/envelope/): each must open to
 * its plaintext with every listed identity, and sealing the plaintext
 * again with the fixed DEK, message id and ephemeral seed of vectors.json
 * must give the file byte for byte, so the format cannot drift.
 *
 * With SF_ENVELOPE_WRITE_VECTORS=1 the files are (re)written first; that
 * is how they were made, once, and must not be needed again.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope_internal.h"
#include "sealflow/encoding.h"
#include "sealflow/envelope.h"
#include "vectors.h"

static char dir[1024];

static void path_of(const char *name, const char *ext, char *out,
                    size_t len)
{
    int n = snprintf(out, len, "%s/%s%s", dir, name, ext);

    assert_true(n > 0 && (size_t)n < len);
}

static void read_named(const char *name, const char *ext, struct sf_buf *out)
{
    char path[1200];

    path_of(name, ext, path, sizeof path);
    if (vec_read_file(path, out) != SF_OK) {
        fail_msg("cannot read %s", path);
    }
}

static void hex_field(const json_t *v, const char *key, uint8_t *out,
                      size_t len)
{
    struct sf_buf b = SF_BUF_INIT;

    assert_int_equal(vec_hex_field(v, key, &b), SF_OK);
    assert_int_equal(b.len, len);
    memcpy(out, b.data, len);
    sf_buf_free(&b);
}

/* Seals plain exactly as the vector says. */
static void seal_fixed(const json_t *v, const struct sf_buf *plain,
                       struct sf_buf *out)
{
    const json_t *files = json_object_get(v, "recipients");
    const json_t *ctx = json_object_get(v, "context");
    struct sf_recipient *r[4] = {NULL, NULL, NULL, NULL};
    struct sf_kv kv[8];
    struct sf_seal_opts o;
    struct sf_envelope_fixed fx;
    struct sf_sealer *s = NULL;
    const char *key;
    json_t *val;
    size_t n = 0;
    size_t i;

    assert_true(json_array_size(files) <= 4 && json_object_size(ctx) <= 8);
    json_array_foreach(files, i, val) {
        struct sf_buf text = SF_BUF_INIT;

        read_named(json_string_value(val), "", &text);
        assert_int_equal(sf_recipient_parse((const char *)text.data,
                                            text.len, &r[i]), SF_OK);
        sf_buf_free(&text);
    }
    json_object_foreach((json_t *)ctx, key, val) {
        kv[n].key = key;
        kv[n++].value = json_string_value(val);
    }
    memset(&o, 0, sizeof o);
    o.suite = (enum sf_suite)vec_int_field(v, "suite");
    o.frame_len = (uint32_t)vec_int_field(v, "frame_len");
    o.context = kv;
    o.context_len = n;
    hex_field(v, "dek", fx.dek, sizeof fx.dek);
    hex_field(v, "message_id", fx.message_id, sizeof fx.message_id);
    hex_field(v, "eph_seed", fx.eph_seed, sizeof fx.eph_seed);
    assert_int_equal(sf_sealer_new_fixed(&o, r, json_array_size(files), &fx,
                                         &s), SF_OK);
    assert_int_equal(sf_sealer_update(s, plain->data, plain->len, out),
                     SF_OK);
    assert_int_equal(sf_sealer_final(s, out), SF_OK);
    sf_sealer_free(s);
    for (i = 0; i < 4; i++) {
        sf_recipient_free(r[i]);
    }
}

static void write_file(const char *name, const struct sf_buf *b)
{
    char path[1200];
    FILE *f;

    path_of(name, ".sfl", path, sizeof path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
    assert_int_equal(fclose(f), 0);
    printf("wrote %s (%zu bytes)\n", path, b->len);
}

static void check_opens(const json_t *v, const struct sf_buf *sealed,
                        const struct sf_buf *plain)
{
    const json_t *files = json_object_get(v, "identities");
    struct sf_buf back = SF_BUF_INIT;
    json_t *val;
    size_t i;

    assert_true(json_array_size(files) > 0);
    json_array_foreach(files, i, val) {
        struct sf_buf text = SF_BUF_INIT;
        struct sf_identity *id = NULL;

        read_named(json_string_value(val), "", &text);
        assert_int_equal(sf_identity_parse((const char *)text.data,
                                           text.len, &id), SF_OK);
        sf_buf_reset(&back);
        assert_int_equal(sf_envelope_open(&id, 1, sealed->data, sealed->len,
                                          &back), SF_OK);
        assert_int_equal(back.len, plain->len);
        if (plain->len > 0) {
            assert_memory_equal(back.data, plain->data, plain->len);
        }
        sf_identity_free(id);
        sf_buf_free(&text);
    }
    sf_buf_free(&back);
}

/* The key schedule on its own: the listed outputs, from the listed DEK
 * and message id, and the commitment as stored in the file. */
static void check_keys(const json_t *v, const struct sf_buf *sealed,
                       size_t header_len)
{
    struct sf_msg_keys k;
    uint8_t dek[32];
    uint8_t id[32];
    uint8_t want[32];

    hex_field(v, "dek", dek, sizeof dek);
    hex_field(v, "message_id", id, sizeof id);
    assert_int_equal(sf_envelope_derive(
                         (uint16_t)vec_int_field(v, "suite"), dek, id, &k),
                     SF_OK);
    hex_field(v, "payload_key", want, sizeof want);
    assert_memory_equal(k.payload, want, sizeof want);
    hex_field(v, "header_mac_key", want, sizeof want);
    assert_memory_equal(k.mac_key, want, sizeof want);
    hex_field(v, "commitment", want, sizeof want);
    assert_memory_equal(k.commitment, want, sizeof want);
    assert_memory_equal(sealed->data + header_len - 64, want, sizeof want);
}

static void check_header(const json_t *v, const struct sf_buf *sealed)
{
    struct sf_header_info info;
    uint8_t id[32];

    hex_field(v, "message_id", id, sizeof id);
    assert_int_equal(sf_envelope_inspect(sealed->data, sealed->len, &info),
                     SF_OK);
    assert_int_equal(info.suite, vec_int_field(v, "suite"));
    assert_int_equal(info.frame_len, vec_int_field(v, "frame_len"));
    assert_memory_equal(info.message_id, id, sizeof id);
    assert_int_equal(info.stanza_len,
                     json_array_size(json_object_get(v, "recipients")));
    assert_int_equal(info.context_len,
                     json_object_size(json_object_get(v, "context")));
    for (size_t i = 1; i < info.context_len; i++) {
        assert_true(strcmp(info.context_keys[i - 1], info.context_keys[i]) <
                    0);
    }
    check_keys(v, sealed, info.header_len);
    sf_header_info_free(&info);
}

static void test_known_answer_files_open_and_reseal_identically(
    void **state)
{
    const char *src = getenv("SF_SOURCE_DIR");
    const char *write = getenv("SF_ENVELOPE_WRITE_VECTORS");
    char path[1200];
    json_t *doc;
    json_t *v;
    size_t i;

    (void)state;
    if (src == NULL || src[0] == '\0') {
        printf("SKIP: envelope known-answer files (SF_SOURCE_DIR unset)\n");
        return;
    }
    snprintf(dir, sizeof dir, "%s/tests/vectors/envelope", src);
    path_of("vectors", ".json", path, sizeof path);
    doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_true(json_array_size(json_object_get(doc, "vectors")) >= 4);
    json_array_foreach(json_object_get(doc, "vectors"), i, v) {
        const char *name = vec_str_field(v, "name");
        struct sf_buf plain = SF_BUF_INIT;
        struct sf_buf sealed = SF_BUF_INIT;
        struct sf_buf again = SF_BUF_INIT;

        read_named(name, ".plain", &plain);
        seal_fixed(v, &plain, &again);
        if (write != NULL && strcmp(write, "1") == 0) {
            write_file(name, &again);
        }
        read_named(name, ".sfl", &sealed);
        assert_int_equal(again.len, sealed.len);
        assert_memory_equal(again.data, sealed.data, sealed.len);
        check_header(v, &sealed);
        check_opens(v, &sealed, &plain);
        sf_buf_free(&plain);
        sf_buf_free(&sealed);
        sf_buf_free(&again);
    }
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer_files_open_and_reseal_identically),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
