/*
 * The envelope body and header end to end with one X25519 recipient:
 * round trips in every chunking, every single-bit flip, truncation,
 * extension, reordering, limits and threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope_internal.h"
#include "sealflow/envelope.h"

#define FRAME 64
#define TAG 16

struct keys {
    struct sf_recipient *rcpt;
    struct sf_identity *id;
    struct sf_identity *other; /* an unrelated identity */
};

static struct keys K;

static int setup(void **state)
{
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    int rc = -1;

    (void)state;
    if (sf_identity_generate_x25519(&sec, &pub) != SF_OK ||
            sf_recipient_parse((const char *)pub.data, pub.len, &K.rcpt) !=
                SF_OK ||
            sf_identity_parse((const char *)sec.data, sec.len, &K.id) !=
                SF_OK) {
        goto out;
    }
    sf_buf_reset(&sec);
    sf_buf_reset(&pub);
    if (sf_identity_generate_x25519(&sec, &pub) != SF_OK ||
            sf_identity_parse((const char *)sec.data, sec.len, &K.other) !=
                SF_OK) {
        goto out;
    }
    rc = 0;

out:
    sf_buf_free(&sec);
    sf_buf_free(&pub);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    sf_recipient_free(K.rcpt);
    sf_identity_free(K.id);
    sf_identity_free(K.other);
    return 0;
}

static uint8_t *pattern(size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 31u + 7u);
    }
    return p;
}

static struct sf_seal_opts opts_of(uint32_t frame_len, unsigned threads)
{
    struct sf_seal_opts o = {SF_SUITE_AES256GCM, frame_len, NULL, 0,
                             threads};

    return o;
}

/* Seals pt feeding chunk bytes at a time (0: all at once). */
static void seal_chunks(const struct sf_seal_opts *o, const uint8_t *pt,
                        size_t len, size_t chunk, struct sf_buf *out)
{
    struct sf_sealer *s = NULL;

    assert_int_equal(sf_sealer_new(o, &K.rcpt, 1, &s), SF_OK);
    for (size_t at = 0; at < len;) {
        size_t n = chunk == 0 || chunk > len - at ? len - at : chunk;

        assert_int_equal(sf_sealer_update(s, pt + at, n, out), SF_OK);
        at += n;
    }
    assert_int_equal(sf_sealer_final(s, out), SF_OK);
    sf_sealer_free(s);
}

/* Opens msg feeding chunk bytes at a time; returns the first failure. */
static sf_status open_chunks(const uint8_t *msg, size_t len, size_t chunk,
                             unsigned threads, struct sf_buf *out)
{
    struct sf_open_opts oo = {threads};
    struct sf_opener *o = NULL;
    sf_status rc = sf_opener_new_opts(&oo, &K.id, 1, &o);

    for (size_t at = 0; rc == SF_OK && at < len;) {
        size_t n = chunk == 0 || chunk > len - at ? len - at : chunk;

        rc = sf_opener_update(o, msg + at, n, out);
        at += n;
    }
    if (rc == SF_OK) {
        rc = sf_opener_final(o, out);
    }
    sf_opener_free(o);
    return rc;
}

static size_t frames_for(size_t len, size_t frame)
{
    return len == 0 ? 1 : (len + frame - 1) / frame;
}

static size_t header_len_of(const struct sf_buf *sealed)
{
    struct sf_header_info info;
    size_t n;

    assert_int_equal(sf_envelope_inspect(sealed->data, sealed->len, &info),
                     SF_OK);
    n = info.header_len;
    sf_header_info_free(&info);
    return n;
}

static void test_round_trip_at_frame_edges_in_every_chunking(void **state)
{
    static const size_t sizes[] = {0, 1, FRAME - 1, FRAME, FRAME + 1,
                                   2 * FRAME, 10 * FRAME + 7, 3000};
    static const size_t chunks[] = {1, 7, FRAME - 1, FRAME, FRAME + 1,
                                    FRAME + TAG, 1000, 0};
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *pt = pattern(sizes[i]);

        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            sf_buf_reset(&sealed);
            seal_chunks(&o, pt, sizes[i], chunks[c], &sealed);
            assert_int_equal(sealed.len, header_len_of(&sealed) + sizes[i] +
                                             TAG * frames_for(sizes[i],
                                                              FRAME));
            for (size_t d = 0; d < sizeof chunks / sizeof *chunks; d++) {
                sf_buf_reset(&back);
                assert_int_equal(open_chunks(sealed.data, sealed.len,
                                             chunks[d], 1, &back), SF_OK);
                assert_int_equal(back.len, sizes[i]);
                if (sizes[i] > 0) {
                    assert_memory_equal(back.data, pt, sizes[i]);
                }
            }
        }
        free(pt);
    }
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_one_shot_round_trip_and_empty_message(void **state)
{
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    uint8_t *pt = pattern(5000);

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 5000, &sealed),
                     SF_OK);
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_int_equal(back.len, 5000);
    assert_memory_equal(back.data, pt, 5000);

    /* The empty message is one empty final frame: header + 16 bytes. */
    sf_buf_reset(&sealed);
    sf_buf_reset(&back);
    assert_int_equal(sf_envelope_seal(NULL, &K.rcpt, 1, NULL, 0, &sealed),
                     SF_OK);
    assert_int_equal(sealed.len, header_len_of(&sealed) + TAG);
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_int_equal(back.len, 0);
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

/* With the randomness pinned, the sealed bytes cannot depend on how the
 * input was chunked or on the thread count. */
static void test_sealed_bytes_do_not_depend_on_chunking_or_threads(
    void **state)
{
    static const size_t chunks[] = {0, 1, 5, FRAME, 3 * FRAME + 1};
    struct sf_envelope_fixed fx;
    struct sf_buf first = SF_BUF_INIT;
    struct sf_buf other = SF_BUF_INIT;
    size_t len = 37 * FRAME + 5;
    uint8_t *pt = pattern(len);

    (void)state;
    memset(&fx, 0x5a, sizeof fx);
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct sf_seal_opts o = opts_of(FRAME, threads);

        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            struct sf_buf *dst = first.len == 0 ? &first : &other;
            struct sf_sealer *s = NULL;

            sf_buf_reset(&other);
            assert_int_equal(sf_sealer_new_fixed(&o, &K.rcpt, 1, &fx, &s),
                             SF_OK);
            for (size_t at = 0; at < len;) {
                size_t n = chunks[c] == 0 || chunks[c] > len - at
                               ? len - at : chunks[c];

                assert_int_equal(sf_sealer_update(s, pt + at, n, dst),
                                 SF_OK);
                at += n;
            }
            assert_int_equal(sf_sealer_final(s, dst), SF_OK);
            sf_sealer_free(s);
            assert_int_equal(dst->len, first.len);
            assert_memory_equal(dst->data, first.data, first.len);
        }
    }
    free(pt);
    sf_buf_free(&first);
    sf_buf_free(&other);
}

static void test_every_single_bit_flip_is_rejected(void **state)
{
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    uint8_t *pt = pattern(100);
    size_t tried = 0;
    size_t rejected = 0;

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 100, &sealed),
                     SF_OK);
    for (size_t i = 0; i < sealed.len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            sf_status rc;

            sealed.data[i] ^= (uint8_t)(1u << bit);
            rc = sf_envelope_open(&K.id, 1, sealed.data, sealed.len, &back);
            sealed.data[i] ^= (uint8_t)(1u << bit);
            tried++;
            rejected += rc != SF_OK;
            assert_int_equal(back.len, 0);
        }
    }
    assert_int_equal(tried, 8 * sealed.len);
    assert_int_equal(rejected, tried);
    /* The unflipped file still opens, so the rejections were the flips. */
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_int_equal(back.len, 100);
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_truncation_anywhere_is_rejected(void **state)
{
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    size_t hlen;
    uint8_t *pt = pattern(5 * FRAME);

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 5 * FRAME,
                                      &sealed), SF_OK);
    hlen = header_len_of(&sealed);
    /* Every prefix: inside the header, inside the stanza, at and between
     * frame boundaries. */
    for (size_t cut = 0; cut < sealed.len; cut++) {
        assert_int_not_equal(sf_envelope_open(&K.id, 1, sealed.data, cut,
                                              &back), SF_OK);
        assert_int_equal(back.len, 0);
    }
    /* At a frame boundary the streaming reader releases the whole frames
     * before it, then refuses the end. */
    for (size_t f = 0; f < 5; f++) {
        size_t cut = hlen + f * (FRAME + TAG);

        sf_buf_reset(&back);
        assert_int_equal(open_chunks(sealed.data, cut, 0, 1, &back),
                         SF_ERR_AUTH);
        assert_int_equal(back.len, f == 0 ? 0 : (f - 1) * FRAME);
    }
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void check_appended(size_t pt_len)
{
    static const size_t extra[] = {1, 15, 16, 17, FRAME + TAG, 1000};
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    uint8_t *pt = pattern(pt_len);
    uint8_t junk[1000];

    memset(junk, 0, sizeof junk);
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, pt_len, &sealed),
                     SF_OK);
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        size_t len = sealed.len;

        assert_int_equal(sf_buf_append(&sealed, junk, extra[i]), SF_OK);
        assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                          &back), SF_ERR_AUTH);
        assert_int_equal(back.len, 0);
        sealed.len = len;
    }
    /* A copy of the final frame appended is refused too. */
    assert_int_equal(sf_buf_reserve(&sealed, FRAME + TAG), SF_OK);
    {
        size_t last = pt_len % FRAME == 0 ? FRAME + TAG
                                          : pt_len % FRAME + TAG;

        memcpy(sealed.data + sealed.len, sealed.data + sealed.len - last,
               last);
        sealed.len += last;
    }
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_AUTH);
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_appended_bytes_are_rejected(void **state)
{
    (void)state;
    check_appended(0);
    check_appended(FRAME + 3);
    check_appended(2 * FRAME); /* exactly full final frame */
}

static void test_reordered_frames_are_rejected(void **state)
{
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    uint8_t *pt = pattern(3 * FRAME);
    uint8_t tmp[FRAME + TAG];
    uint8_t *f0;

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 3 * FRAME,
                                      &sealed), SF_OK);
    f0 = sealed.data + header_len_of(&sealed);
    memcpy(tmp, f0, sizeof tmp);
    memcpy(f0, f0 + sizeof tmp, sizeof tmp);
    memcpy(f0 + sizeof tmp, tmp, sizeof tmp);
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_AUTH);
    assert_int_equal(back.len, 0);
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

/* Two messages to the same recipient: a frame of one placed at the same
 * position in the other fails (each message has its own payload key). */
static void test_frames_swapped_between_messages_are_rejected(void **state)
{
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf a = SF_BUF_INIT;
    struct sf_buf b = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    uint8_t *pt = pattern(3 * FRAME);
    size_t ha;
    size_t hb;

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 3 * FRAME, &a),
                     SF_OK);
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 3 * FRAME, &b),
                     SF_OK);
    ha = header_len_of(&a);
    hb = header_len_of(&b);
    memcpy(a.data + ha + FRAME + TAG, b.data + hb + FRAME + TAG,
           FRAME + TAG);
    assert_int_equal(sf_envelope_open(&K.id, 1, a.data, a.len, &back),
                     SF_ERR_AUTH);
    free(pt);
    sf_buf_free(&a);
    sf_buf_free(&b);
    sf_buf_free(&back);
}

static void test_wrong_identity_gets_no_key(void **state)
{
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;

    (void)state;
    assert_int_equal(sf_envelope_seal(NULL, &K.rcpt, 1,
                                      (const uint8_t *)"hi", 2, &sealed),
                     SF_OK);
    assert_int_equal(sf_envelope_open(&K.other, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_NO_KEY);
    assert_non_null(strstr(sf_last_error(), "x25519:"));
    /* With the right identity among others, it opens. */
    {
        struct sf_identity *ids[2] = {K.other, K.id};

        assert_int_equal(sf_envelope_open(ids, 2, sealed.data, sealed.len,
                                          &back), SF_OK);
        assert_int_equal(back.len, 2);
    }
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

/* Finds needle in the sealed bytes, or fails the test. */
static size_t find(const struct sf_buf *b, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= b->len; i++) {
        if (memcmp(b->data + i, needle, n) == 0) {
            return i;
        }
    }
    fail_msg("\"%s\" not found", needle);
    return 0;
}

static void test_changed_context_is_rejected(void **state)
{
    struct sf_kv ctx[] = {{"tenant", "acme"}, {"class", "restricted"}};
    struct sf_seal_opts o = {0, FRAME, ctx, 2, 1};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_header_info info;

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, (const uint8_t *)"x",
                                      1, &sealed), SF_OK);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &info),
                     SF_OK);
    /* Stored sorted, never encrypted. */
    assert_int_equal(info.context_len, 2);
    assert_string_equal(info.context_keys[0], "class");
    assert_string_equal(info.context_values[0], "restricted");
    assert_string_equal(info.context_keys[1], "tenant");
    assert_string_equal(info.context_values[1], "acme");
    sf_header_info_free(&info);

    /* "acme" -> "acmf": still a well-formed header, but the stanza was
     * wrapped with the old context as AAD. */
    sealed.data[find(&sealed, "acme") + 3] = 'f';
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_AUTH);
    assert_int_equal(back.len, 0);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

/* The opener shows the verified header, and only once it is verified. */
static void test_opener_shows_the_verified_context(void **state)
{
    struct sf_kv ctx[] = {{"class", "pii"}};
    struct sf_seal_opts o = {0, FRAME, ctx, 1, 1};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_header_info info;
    struct sf_opener *op = NULL;

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, (const uint8_t *)"x",
                                      1, &sealed), SF_OK);
    assert_int_equal(sf_opener_new(&K.id, 1, &op), SF_OK);
    assert_int_equal(sf_opener_info(op, &info), SF_ERR_INVALID_ARG);
    assert_int_equal(sf_opener_update(op, sealed.data, header_len_of(&sealed)
                                      - 1, &back), SF_OK);
    assert_int_equal(sf_opener_info(op, &info), SF_ERR_INVALID_ARG);
    assert_int_equal(sf_opener_update(op, sealed.data +
                                      header_len_of(&sealed) - 1, 1, &back),
                     SF_OK);
    assert_int_equal(sf_opener_info(op, &info), SF_OK);
    assert_int_equal(info.context_len, 1);
    assert_string_equal(info.context_keys[0], "class");
    assert_string_equal(info.context_values[0], "pii");
    assert_int_equal(info.header_len, header_len_of(&sealed));
    assert_int_equal(back.len, 0);
    sf_header_info_free(&info);
    sf_opener_free(op);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_seal_refuses_bad_options(void **state)
{
    struct sf_kv dup[] = {{"a", "1"}, {"a", "2"}};
    struct sf_kv empty[] = {{"", "1"}};
    struct sf_kv bad_utf8[] = {{"k", "\xc3\x28"}};
    struct sf_kv many[SF_CONTEXT_MAX + 1];
    char names[SF_CONTEXT_MAX + 1][8];
    struct sf_recipient *r65[SF_STANZA_MAX + 1];
    struct sf_seal_opts o = opts_of(SF_FRAME_MAX + 1, 1);
    struct sf_buf out = SF_BUF_INIT;

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_ERR_LIMIT);
    o = opts_of(SF_FRAME_MAX, 1);
    o.suite = (enum sf_suite)3;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_ERR_UNSUPPORTED);
    assert_int_equal(sf_envelope_seal(NULL, &K.rcpt, 0, NULL, 0, &out),
                     SF_ERR_INVALID_ARG);
    for (size_t i = 0; i <= SF_STANZA_MAX; i++) {
        r65[i] = K.rcpt;
    }
    assert_int_equal(sf_envelope_seal(NULL, r65, SF_STANZA_MAX + 1, NULL, 0,
                                      &out), SF_ERR_LIMIT);
    assert_int_equal(sf_envelope_seal(NULL, r65, SF_STANZA_MAX, NULL, 0,
                                      &out), SF_OK);
    out.len = 0;

    o = opts_of(0, 1);
    o.context = dup;
    o.context_len = 2;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_ERR_INVALID_ARG);
    o.context = empty;
    o.context_len = 1;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_ERR_INVALID_ARG);
    o.context = bad_utf8;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_ERR_INVALID_ARG);
    for (size_t i = 0; i <= SF_CONTEXT_MAX; i++) {
        snprintf(names[i], sizeof names[i], "k%zu", i);
        many[i].key = names[i];
        many[i].value = "v";
    }
    o.context = many;
    o.context_len = SF_CONTEXT_MAX + 1;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_ERR_LIMIT);
    o.context_len = SF_CONTEXT_MAX;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, NULL, 0, &out),
                     SF_OK);
    sf_buf_free(&out);
}

static void test_frame_counter_limit_is_enforced(void **state)
{
    struct sf_seal_opts o = opts_of(FRAME, 1);
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_sealer *s = NULL;
    uint8_t *pt = pattern(3 * FRAME + 1);

    (void)state;
    sf_envelope_test_set_frame_limit(3);
    /* Exactly 3 frames fit, the last one full. */
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 3 * FRAME,
                                      &sealed), SF_OK);
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 3 * FRAME + 1,
                                      &back), SF_ERR_LIMIT);
    assert_non_null(strstr(sf_last_error(), "frame"));
    /* Streaming: refused as soon as the 4th frame becomes necessary. */
    assert_int_equal(sf_sealer_new(&o, &K.rcpt, 1, &s), SF_OK);
    assert_int_equal(sf_sealer_update(s, pt, 3 * FRAME, &back), SF_OK);
    assert_int_equal(sf_sealer_update(s, pt, 1, &back), SF_ERR_LIMIT);
    assert_int_equal(sf_sealer_final(s, &back), SF_ERR_LIMIT);
    sf_sealer_free(s);

    /* A reader with a limit of 2 refuses the 3-frame message. */
    sf_envelope_test_set_frame_limit(2);
    sf_buf_reset(&back);
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_AUTH);
    sf_envelope_test_set_frame_limit(0);
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_int_equal(back.len, 3 * FRAME);
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_threaded_output_opens_single_threaded_and_back(void **state)
{
    static const size_t frames[] = {FRAME, 4096};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    size_t len = 300 * 1024 + 17;
    uint8_t *pt = pattern(len);

    (void)state;
    for (size_t f = 0; f < 2; f++) {
        for (unsigned t = 1; t <= 2; t++) {
            struct sf_seal_opts o = opts_of((uint32_t)frames[f], t);

            sf_buf_reset(&sealed);
            seal_chunks(&o, pt, len, t == 1 ? 0 : 5000, &sealed);
            for (unsigned u = 1; u <= 3; u++) {
                sf_buf_reset(&back);
                assert_int_equal(open_chunks(sealed.data, sealed.len,
                                             u == 2 ? 777 : 0, u, &back),
                                 SF_OK);
                assert_int_equal(back.len, len);
                assert_memory_equal(back.data, pt, len);
            }
            /* A flipped tag deep in the body fails under threads too. */
            sealed.data[sealed.len - 40 * (frames[f] + TAG)] ^= 1;
            sf_buf_reset(&back);
            assert_int_equal(open_chunks(sealed.data, sealed.len, 0, 2,
                                         &back), SF_ERR_AUTH);
        }
    }
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_chacha_suite_round_trip(void **state)
{
    struct sf_seal_opts o = {SF_SUITE_CHACHA20POLY1305, FRAME, NULL, 0, 2};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_header_info info;
    uint8_t *pt = pattern(1000);

    (void)state;
    assert_int_equal(sf_envelope_seal(&o, &K.rcpt, 1, pt, 1000, &sealed),
                     SF_OK);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &info),
                     SF_OK);
    assert_int_equal(info.suite, SF_SUITE_CHACHA20POLY1305);
    assert_int_equal(info.frame_len, FRAME);
    assert_int_equal(info.stanza_len, 1);
    assert_int_equal(info.stanzas[0].type, SF_STANZA_X25519);
    assert_int_equal(info.stanzas[0].version, 0);
    sf_header_info_free(&info);
    assert_int_equal(sf_envelope_open(&K.id, 1, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_memory_equal(back.data, pt, 1000);
    free(pt);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_streams_refuse_use_after_end_or_failure(void **state)
{
    struct sf_sealer *s = NULL;
    struct sf_opener *o = NULL;
    struct sf_buf out = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;

    (void)state;
    assert_int_equal(sf_sealer_new(NULL, &K.rcpt, 1, &s), SF_OK);
    assert_int_equal(sf_sealer_final(s, &out), SF_OK);
    assert_int_equal(sf_sealer_update(s, (const uint8_t *)"x", 1, &out),
                     SF_ERR_INVALID_ARG);
    assert_int_equal(sf_sealer_final(s, &out), SF_ERR_INVALID_ARG);
    sf_sealer_free(s);

    assert_int_equal(sf_opener_new(&K.id, 1, &o), SF_OK);
    assert_int_equal(sf_opener_update(o, (const uint8_t *)"NOPE", 4, &back),
                     SF_ERR_FORMAT);
    assert_int_equal(sf_opener_update(o, out.data, out.len, &back),
                     SF_ERR_FORMAT);
    assert_int_equal(sf_opener_final(o, &back), SF_ERR_FORMAT);
    sf_opener_free(o);
    assert_int_equal(back.len, 0);
    sf_buf_free(&out);
    sf_buf_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_at_frame_edges_in_every_chunking),
        cmocka_unit_test(test_one_shot_round_trip_and_empty_message),
        cmocka_unit_test(
            test_sealed_bytes_do_not_depend_on_chunking_or_threads),
        cmocka_unit_test(test_every_single_bit_flip_is_rejected),
        cmocka_unit_test(test_truncation_anywhere_is_rejected),
        cmocka_unit_test(test_appended_bytes_are_rejected),
        cmocka_unit_test(test_reordered_frames_are_rejected),
        cmocka_unit_test(test_frames_swapped_between_messages_are_rejected),
        cmocka_unit_test(test_wrong_identity_gets_no_key),
        cmocka_unit_test(test_changed_context_is_rejected),
        cmocka_unit_test(test_opener_shows_the_verified_context),
        cmocka_unit_test(test_seal_refuses_bad_options),
        cmocka_unit_test(test_frame_counter_limit_is_enforced),
        cmocka_unit_test(test_threaded_output_opens_single_threaded_and_back),
        cmocka_unit_test(test_chacha_suite_round_trip),
        cmocka_unit_test(test_streams_refuse_use_after_end_or_failure),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
