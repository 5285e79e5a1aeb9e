/*
 * The header codec: exact bytes written, every field read back, every
 * limit refused on parse (before the bytes it announces arrive), and
 * incremental parsing that asks for exactly what it needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "header.h"

static const uint8_t msg_id[32] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* Builds a header with the writer: prefix, stanzas, then 32 bytes 0xcc
 * (commitment) and 32 bytes 0xdd (MAC). */
static void build(const struct sf_kv *ctx, size_t ctx_len,
                  const struct sf_stanza *st, size_t st_len,
                  struct sf_buf *out)
{
    struct sf_hdr_kv kv[SF_CONTEXT_MAX];
    uint8_t tail[64];

    memset(tail, 0xcc, 32);
    memset(tail + 32, 0xdd, 32);
    assert_int_equal(sf_header_context(ctx, ctx_len, kv), SF_OK);
    assert_int_equal(sf_header_put_prefix(SF_SUITE_AES256GCM, 4096, msg_id,
                                          kv, ctx_len, out), SF_OK);
    assert_int_equal(sf_header_put_stanzas(st, st_len, out), SF_OK);
    assert_int_equal(sf_buf_append(out, tail, sizeof tail), SF_OK);
}

static struct sf_stanza stanza(uint8_t type, const char *id, uint32_t ver,
                               const uint8_t *body, size_t body_len)
{
    struct sf_stanza st = {type, (const uint8_t *)id, strlen(id), ver, body,
                           body_len};

    return st;
}

static sf_status parse(const struct sf_buf *b, struct sf_header *h,
                       size_t *need)
{
    return sf_header_parse(b->data, b->len, h, need);
}

static void test_writes_the_documented_bytes(void **state)
{
    static const uint8_t body[3] = {0xaa, 0xbb, 0xcc};
    static const uint8_t want_prefix[] = {
        'S', 'F', 'L', 'W', 1, 0, 1, 0, 0, 0x10, 0};
    static const uint8_t want_rest[] = {
        0, 1, 0, 1, 'b', 0, 2, 'v', 'w',  /* context: 1 pair, "b"="vw" */
        0, 1,                             /* one stanza */
        1, 3, 'k', 'e', 'k', 0, 0, 0, 7,  /* type, key id, version */
        0, 3, 0xaa, 0xbb, 0xcc};          /* body */
    struct sf_kv ctx[] = {{"b", "vw"}};
    struct sf_stanza st = stanza(1, "kek", 7, body, sizeof body);
    struct sf_buf b = SF_BUF_INIT;

    (void)state;
    build(ctx, 1, &st, 1, &b);
    assert_int_equal(b.len, sizeof want_prefix + 32 + sizeof want_rest + 64);
    assert_memory_equal(b.data, want_prefix, sizeof want_prefix);
    assert_memory_equal(b.data + 11, msg_id, 32);
    assert_memory_equal(b.data + 43, want_rest, sizeof want_rest);
    sf_buf_free(&b);
}

static void test_parse_reads_back_every_field(void **state)
{
    static const uint8_t body1[80] = {1};
    static const uint8_t body2[2] = {9, 8};
    struct sf_kv ctx[] = {{"tenant", "acme"}, {"class", ""},
                          {"stage", "l\xc3\xa4nder"}};
    struct sf_stanza st[2] = {stanza(2, "x25519:0011223344556677", 0, body1,
                                     sizeof body1),
                              stanza(1, "team/kek", 3, body2, sizeof body2)};
    struct sf_buf b = SF_BUF_INIT;
    struct sf_header h;
    size_t need = 99;

    (void)state;
    build(ctx, 3, st, 2, &b);
    assert_int_equal(parse(&b, &h, &need), SF_OK);
    assert_int_equal(need, 0);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.suite, SF_SUITE_AES256GCM);
    assert_int_equal(h.frame_len, 4096);
    assert_memory_equal(h.message_id, msg_id, 32);
    assert_int_equal(h.context_len, 3);
    /* sorted bytewise on write */
    assert_memory_equal(h.context[0].key, "class", 5);
    assert_int_equal(h.context[0].value_len, 0);
    assert_memory_equal(h.context[1].key, "stage", 5);
    assert_memory_equal(h.context[2].key, "tenant", 6);
    assert_memory_equal(h.context[2].value, "acme", 4);
    assert_int_equal(h.stanza_len, 2);
    assert_int_equal(h.stanzas[0].type, 2);
    assert_int_equal(h.stanzas[0].key_id_len, 23);
    assert_int_equal(h.stanzas[0].version, 0);
    assert_int_equal(h.stanzas[0].body_len, 80);
    assert_int_equal(h.stanzas[1].version, 3);
    assert_memory_equal(h.stanzas[1].body, body2, 2);
    assert_int_equal(h.total_len, b.len);
    assert_int_equal(h.mac_off, b.len - 32);
    assert_ptr_equal(h.commitment, b.data + b.len - 64);
    assert_ptr_equal(h.mac, b.data + b.len - 32);
    /* prefix ends where the stanza count begins */
    assert_int_equal(b.data[h.prefix_len], 0);
    assert_int_equal(b.data[h.prefix_len + 1], 2);
    sf_buf_free(&b);
}

/* Every prefix of a valid header is "well-formed so far" and asks for more
 * than it has, never more than the whole header. */
static void test_parse_of_every_prefix_asks_for_more(void **state)
{
    static const uint8_t body[40] = {0};
    struct sf_kv ctx[] = {{"k", "v"}, {"zz", "long value"}};
    struct sf_stanza st = stanza(1, "kek", 1, body, sizeof body);
    struct sf_buf b = SF_BUF_INIT;
    struct sf_header h;
    size_t need;

    (void)state;
    build(ctx, 2, &st, 1, &b);
    for (size_t len = 0; len < b.len; len++) {
        assert_int_equal(sf_header_parse(b.data, len, &h, &need), SF_OK);
        assert_true(need > len);
        assert_true(need <= b.len);
    }
    assert_int_equal(parse(&b, &h, &need), SF_OK);
    assert_int_equal(need, 0);
    sf_buf_free(&b);
}

/* Patches the byte at off and expects status from the parser. */
static void expect_patched(const struct sf_buf *b, size_t off, uint8_t v,
                           sf_status want)
{
    struct sf_buf c = SF_BUF_INIT;
    struct sf_header h;
    size_t need;

    assert_int_equal(sf_buf_append(&c, b->data, b->len), SF_OK);
    c.data[off] = v;
    if (sf_header_parse(c.data, c.len, &h, &need) != want) {
        fail_msg("byte %zu set to %u: expected status %d", off, v,
                 (int)want);
    }
    sf_buf_free(&c);
}

static void test_parse_refuses_bad_fixed_fields(void **state)
{
    static const uint8_t body[4] = {0};
    struct sf_stanza st = stanza(1, "kek", 1, body, sizeof body);
    struct sf_buf b = SF_BUF_INIT;
    struct sf_header h;
    size_t need;

    (void)state;
    build(NULL, 0, &st, 1, &b);
    expect_patched(&b, 0, 'X', SF_ERR_FORMAT);        /* magic */
    expect_patched(&b, 4, 2, SF_ERR_UNSUPPORTED);     /* version */
    expect_patched(&b, 6, 3, SF_ERR_UNSUPPORTED);     /* suite 3 */
    expect_patched(&b, 6, 0, SF_ERR_UNSUPPORTED);     /* suite 0 */
    /* frame size 0 */
    b.data[9] = 0;
    expect_patched(&b, 10, 0, SF_ERR_FORMAT);
    /* frame size SF_FRAME_MAX is fine, one more is not */
    b.data[7] = 0x01, b.data[8] = 0, b.data[9] = 0, b.data[10] = 0;
    assert_int_equal(parse(&b, &h, &need), SF_OK);
    expect_patched(&b, 10, 1, SF_ERR_FORMAT);
    /* A bad magic is refused as soon as 4 bytes are there. */
    assert_int_equal(sf_header_parse((const uint8_t *)"SFLX", 4, &h, &need),
                     SF_ERR_FORMAT);
    sf_buf_free(&b);
}

static void test_parse_refuses_stanza_count_zero_and_above_max(void **state)
{
    static const uint8_t body[4] = {0};
    struct sf_stanza st = stanza(1, "kek", 1, body, sizeof body);
    struct sf_buf b = SF_BUF_INIT;
    struct sf_header h;
    size_t need;
    size_t at;

    (void)state;
    build(NULL, 0, &st, 1, &b);
    at = SF_HEADER_FIXED_LEN + 2; /* stanza count, after an empty context */
    expect_patched(&b, at + 1, 0, SF_ERR_FORMAT);
    expect_patched(&b, at + 1, SF_STANZA_MAX + 1, SF_ERR_FORMAT);
    /* refused from the count alone, before any stanza byte */
    b.data[at + 1] = SF_STANZA_MAX + 1;
    assert_int_equal(sf_header_parse(b.data, at + 2, &h, &need),
                     SF_ERR_FORMAT);
    /* and the writer refuses them too */
    assert_int_equal(sf_header_put_stanzas(&st, 0, &b), SF_ERR_LIMIT);
    assert_int_equal(sf_header_put_stanzas(&st, SF_STANZA_MAX + 1, &b),
                     SF_ERR_LIMIT);
    sf_buf_free(&b);
}

static void test_parse_refuses_bad_stanza_fields(void **state)
{
    static const uint8_t body[4] = {0};
    struct sf_stanza st = stanza(1, "kek", 1, body, sizeof body);
    struct sf_buf b = SF_BUF_INIT;
    size_t at = SF_HEADER_FIXED_LEN + 2 + 2;

    (void)state;
    build(NULL, 0, &st, 1, &b);
    expect_patched(&b, at, 0, SF_ERR_FORMAT);                /* type 0 */
    expect_patched(&b, at + 1, 0, SF_ERR_FORMAT);            /* id len 0 */
    expect_patched(&b, at + 1, SF_KEY_ID_MAX + 1, SF_ERR_FORMAT);
    expect_patched(&b, at + 2, 0x07, SF_ERR_FORMAT);         /* control */
    expect_patched(&b, at + 2, 0xff, SF_ERR_FORMAT);         /* not UTF-8 */
    expect_patched(&b, at + 10, 0, SF_ERR_FORMAT);           /* body 0 */
    /* body length 2049: refused before the body arrives */
    expect_patched(&b, at + 9, 0x08, SF_ERR_FORMAT);
    /* an unknown type is kept for readers to skip */
    expect_patched(&b, at, 200, SF_OK);
    sf_buf_free(&b);
}

/* Hand-made prefix: magic..message id, then the given context bytes. */
static void raw_prefix(const uint8_t *ctx, size_t ctx_len, struct sf_buf *b)
{
    assert_int_equal(sf_header_put_prefix(1, 64, msg_id, NULL, 0, b), SF_OK);
    b->len -= 2; /* drop the empty context count */
    assert_int_equal(sf_buf_append(b, ctx, ctx_len), SF_OK);
}

static sf_status parse_raw_context(const uint8_t *ctx, size_t ctx_len,
                                   size_t *need)
{
    static const uint8_t rest[] = {0, 1, 1, 1, 'k', 0, 0, 0, 1, 0, 1, 0};
    struct sf_buf b = SF_BUF_INIT;
    struct sf_header h;
    uint8_t tail[64] = {0};
    sf_status rc;

    raw_prefix(ctx, ctx_len, &b);
    assert_int_equal(sf_buf_append(&b, rest, sizeof rest), SF_OK);
    assert_int_equal(sf_buf_append(&b, tail, sizeof tail), SF_OK);
    rc = sf_header_parse(b.data, b.len, &h, need);
    sf_buf_free(&b);
    return rc;
}

static void test_parse_refuses_bad_context(void **state)
{
    static const uint8_t unsorted[] = {0, 2, 0, 1, 'b', 0, 0, 0, 1, 'a', 0,
                                       0};
    static const uint8_t dup[] = {0, 2, 0, 1, 'a', 0, 0, 0, 1, 'a', 0, 0};
    static const uint8_t prefix_first[] = {0, 2, 0, 1, 'a', 0, 0,
                                           0, 2, 'a', 'b', 0, 0};
    static const uint8_t empty_key[] = {0, 1, 0, 0, 0, 0};
    static const uint8_t bad_utf8[] = {0, 1, 0, 1, 'a', 0, 2, 0xc0, 0x80};
    static const uint8_t nul[] = {0, 1, 0, 1, 'a', 0, 1, 0};
    static const uint8_t key_too_long[] = {0, 1, 0x01, 0x01};
    static const uint8_t value_too_long[] = {0, 1, 0, 1, 'a', 0x10, 0x01};
    static const uint8_t too_many[] = {0, SF_CONTEXT_MAX + 1};
    size_t need;

    (void)state;
    assert_int_equal(parse_raw_context(prefix_first, sizeof prefix_first,
                                       &need), SF_OK);
    assert_int_equal(need, 0);
    assert_int_equal(parse_raw_context(unsorted, sizeof unsorted, &need),
                     SF_ERR_FORMAT);
    assert_int_equal(parse_raw_context(dup, sizeof dup, &need),
                     SF_ERR_FORMAT);
    assert_int_equal(parse_raw_context(empty_key, sizeof empty_key, &need),
                     SF_ERR_FORMAT);
    assert_int_equal(parse_raw_context(bad_utf8, sizeof bad_utf8, &need),
                     SF_ERR_FORMAT);
    assert_int_equal(parse_raw_context(nul, sizeof nul, &need),
                     SF_ERR_FORMAT);
    /* Over-long lengths and counts fail from the length field alone. */
    assert_int_equal(parse_raw_context(key_too_long, sizeof key_too_long,
                                       &need), SF_ERR_FORMAT);
    assert_int_equal(parse_raw_context(value_too_long,
                                       sizeof value_too_long, &need),
                     SF_ERR_FORMAT);
    assert_int_equal(parse_raw_context(too_many, sizeof too_many, &need),
                     SF_ERR_FORMAT);
}

/* 16 pairs of 1-byte keys and 1019-byte values: 16 * (4 + 1 + 1019) bytes
 * is the context limit exactly; one byte more is refused. */
static void test_context_total_bytes_limit_is_exact(void **state)
{
    static char values[17][1021];
    static char keys[17][2];
    struct sf_kv ctx[17];
    struct sf_hdr_kv kv[SF_CONTEXT_MAX];

    (void)state;
    for (size_t i = 0; i < 17; i++) {
        memset(values[i], 'v', 1020);
        values[i][1019] = '\0';
        keys[i][0] = (char)('a' + i);
        keys[i][1] = '\0';
        ctx[i].key = keys[i];
        ctx[i].value = values[i];
    }
    assert_int_equal(sf_header_context(ctx, 16, kv), SF_OK);
    values[0][1019] = 'v';
    assert_int_equal(sf_header_context(ctx, 16, kv), SF_ERR_LIMIT);
    keys[1][0] = 'a';
    assert_int_equal(sf_header_context(ctx + 1, 2, kv), SF_OK);
    assert_int_equal(sf_header_context(ctx, 2, kv), SF_ERR_INVALID_ARG);
}

static void test_utf8_validation(void **state)
{
    (void)state;
    assert_true(sf_header_utf8_is_valid((const uint8_t *)"", 0));
    assert_true(sf_header_utf8_is_valid((const uint8_t *)"a\xc3\xa4", 3));
    assert_true(sf_header_utf8_is_valid(
        (const uint8_t *)"\xf0\x9f\x98\x80", 4));
    assert_false(sf_header_utf8_is_valid((const uint8_t *)"\xc3", 1));
    assert_false(sf_header_utf8_is_valid((const uint8_t *)"\xe0\x80\x80",
                                         3)); /* overlong */
    assert_false(sf_header_utf8_is_valid((const uint8_t *)"\xed\xa0\x80",
                                         3)); /* surrogate */
    assert_false(sf_header_utf8_is_valid(
        (const uint8_t *)"\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(sf_header_utf8_is_valid((const uint8_t *)"a\0b", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_the_documented_bytes),
        cmocka_unit_test(test_parse_reads_back_every_field),
        cmocka_unit_test(test_parse_of_every_prefix_asks_for_more),
        cmocka_unit_test(test_parse_refuses_bad_fixed_fields),
        cmocka_unit_test(test_parse_refuses_stanza_count_zero_and_above_max),
        cmocka_unit_test(test_parse_refuses_bad_stanza_fields),
        cmocka_unit_test(test_parse_refuses_bad_context),
        cmocka_unit_test(test_context_total_bytes_limit_is_exact),
        cmocka_unit_test(test_utf8_validation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
