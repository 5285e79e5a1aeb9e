/*
 * Helpers shared by the record test programs (never part of the library):
 * a fixture with a keystore, three KEKs, a partner identity and a loaded
 * policy; seal and open shortcuts that return NUL-terminated text; JSON
 * comparison after normalising through yajl; and small string edits used
 * to tamper with sealed records.
 */
#ifndef SF_RECORDS_TEST_UTIL_H
#define SF_RECORDS_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore_testutil.h"
#include "records_internal.h"
#include "sealflow/encoding.h"
#include "sealflow/records.h"

struct rt {
    struct ks_fixture *f;
    struct sf_policy *policy;
    struct sf_identity *ks_id;
    struct sf_identity *partner_id;
    char partner_pub[128];
    const struct sf_kv *ctx;
    size_t ctx_len;
    unsigned threads;
};

/* Loads a policy whose text holds "%s" where the partner's public key
 * goes; NULL (after printing why) when it does not load. */
static inline struct sf_policy *rt_policy(struct rt *t, const char *fmt)
{
    const char *at = strstr(fmt, "%s");
    size_t head = at != NULL ? (size_t)(at - fmt) : strlen(fmt);
    struct sf_policy *p = NULL;
    char yaml[8192];

    snprintf(yaml, sizeof yaml, "%.*s%s%s", (int)head, fmt,
             at != NULL ? t->partner_pub : "", at != NULL ? at + 2 : "");
    if (sf_policy_load_buffer(yaml, strlen(yaml), "test.yaml", &p) !=
            SF_OK) {
        fprintf(stderr, "policy: %s\n", sf_last_error());
        return NULL;
    }
    return p;
}

static inline int rt_setup(void **state, const char *yaml_fmt)
{
    struct rt *t = calloc(1, sizeof *t);
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_key_info info;
    void *fs = NULL;

    if (t == NULL || tu_setup(&fs) != 0) {
        return -1;
    }
    t->f = fs;
    t->threads = 1;
    if (sf_keystore_create_key(t->f->ks, "internal-kek", SF_KEY_AES256_GCM96,
                               &info) != SF_OK ||
        sf_keystore_create_key(t->f->ks, "conf-kek",
                               SF_KEY_CHACHA20_POLY1305, &info) != SF_OK ||
        sf_keystore_create_key(t->f->ks, "pii-kek", SF_KEY_AES256_GCM96,
                               &info) != SF_OK ||
        sf_identity_generate_x25519(&sec, &pub) != SF_OK ||
        sf_identity_parse((const char *)sec.data, sec.len, &t->partner_id) !=
            SF_OK ||
        sf_identity_keystore(t->f->ks, &t->ks_id) != SF_OK) {
        return -1;
    }
    snprintf(t->partner_pub, sizeof t->partner_pub, "%s",
             (const char *)pub.data);
    sf_buf_free(&sec);
    sf_buf_free(&pub);
    t->policy = rt_policy(t, yaml_fmt);
    if (t->policy == NULL) {
        return -1;
    }
    *state = t;
    return 0;
}

static inline int rt_teardown(void **state)
{
    struct rt *t = *state;
    void *fs = t->f;

    sf_policy_free(t->policy);
    sf_identity_free(t->ks_id);
    sf_identity_free(t->partner_id);
    tu_teardown(&fs);
    free(t);
    return 0;
}

static inline char *rt_text(struct sf_buf *b)
{
    char *s = malloc(b->len + 1);

    if (s != NULL) {
        memcpy(s, b->data, b->len);
        s[b->len] = '\0';
    }
    sf_buf_free(b);
    return s;
}

/* Seals text; returns the output (malloc'd) when expect is SF_OK, else
 * checks the status and returns NULL. */
static inline char *rt_seal(struct rt *t, const char *text,
                            enum sf_records_format fmt, sf_status expect)
{
    struct sf_records_seal_opts o = {fmt, t->ctx, t->ctx_len, t->threads,
                                     "in"};
    struct sf_record_sealer *s = NULL;
    struct sf_buf out = SF_BUF_INIT;
    sf_status rc = sf_record_sealer_new(t->policy, t->f->ks, &o, &s);

    if (rc == SF_OK) {
        rc = sf_records_seal_buffer(s, (const uint8_t *)text, strlen(text),
                                    &out, NULL);
    }
    sf_record_sealer_free(s);
    if (rc != expect) {
        fprintf(stderr, "seal: status %d (%s), expected %d\n", (int)rc,
                sf_last_error(), (int)expect);
    }
    assert_int_equal(rc, expect);
    if (rc != SF_OK) {
        sf_buf_free(&out);
        return NULL;
    }
    return rt_text(&out);
}

static inline char *rt_open_ids(struct rt *t, const char *text,
                                enum sf_records_format fmt,
                                const char *const *readers, size_t n,
                                bool strict, sf_status expect,
                                struct sf_records_stats *st,
                                struct sf_identity *const *ids, size_t nid)
{
    struct sf_records_open_opts o = {fmt, t->policy, readers, n, strict,
                                     t->threads, "sealed"};
    struct sf_record_opener *op = NULL;
    struct sf_buf out = SF_BUF_INIT;
    sf_status rc = sf_record_opener_new(&o, ids, nid, &op);

    if (rc == SF_OK) {
        rc = sf_records_open_buffer(op, (const uint8_t *)text, strlen(text),
                                    &out, st);
    }
    sf_record_opener_free(op);
    if (rc != expect) {
        fprintf(stderr, "open: status %d (%s), expected %d\n", (int)rc,
                sf_last_error(), (int)expect);
    }
    assert_int_equal(rc, expect);
    if (rc != SF_OK) {
        sf_buf_free(&out);
        return NULL;
    }
    return rt_text(&out);
}

static inline char *rt_open_stats(struct rt *t, const char *text,
                                  enum sf_records_format fmt,
                                  const char *const *readers, size_t n,
                                  bool strict, sf_status expect,
                                  struct sf_records_stats *st)
{
    return rt_open_ids(t, text, fmt, readers, n, strict, expect, st,
                       &t->ks_id, 1);
}

static inline char *rt_open(struct rt *t, const char *text,
                            enum sf_records_format fmt,
                            const char *const *readers, size_t n,
                            bool strict, sf_status expect)
{
    return rt_open_stats(t, text, fmt, readers, n, strict, expect, NULL);
}

static inline char *rt_open_partner(struct rt *t, const char *text,
                                    struct sf_records_stats *st)
{
    return rt_open_ids(t, text, SF_RECORDS_JSONL, NULL, 0, false, SF_OK, st,
                       &t->partner_id, 1);
}

/* Each line (or the whole text for a document) re-generated compactly. */
static inline char *rt_normalise(const char *text, bool by_line)
{
    struct rec_tape tape;
    struct tape_error err;
    struct sf_buf out = SF_BUF_INIT;
    yajl_gen g = yajl_gen_alloc(NULL);
    const char *p = text;

    memset(&tape, 0, sizeof tape);
    while (*p != '\0') {
        const char *nl = by_line ? strchr(p, '\n') : NULL;
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        const unsigned char *gb;
        size_t gl;

        yajl_gen_reset(g, NULL);
        yajl_gen_clear(g);
        assert_int_equal(rec_tape_parse(&tape, (const uint8_t *)p, len, 128,
                                        &err), SF_OK);
        assert_int_equal(rec_tape_emit(&tape, 0, g), SF_OK);
        yajl_gen_get_buf(g, &gb, &gl);
        assert_int_equal(sf_buf_append(&out, gb, gl), SF_OK);
        assert_int_equal(sf_buf_put_u8(&out, '\n'), SF_OK);
        p += len + (nl != NULL);
    }
    yajl_gen_free(g);
    rec_tape_free(&tape);
    return rt_text(&out);
}

static inline void rt_assert_same_json(const char *a, const char *b)
{
    char *na = rt_normalise(a, true);
    char *nb = rt_normalise(b, true);

    assert_string_equal(na, nb);
    free(na);
    free(nb);
}

static inline void rt_assert_same_doc(const char *a, const char *b)
{
    char *na = rt_normalise(a, false);
    char *nb = rt_normalise(b, false);

    assert_string_equal(na, nb);
    free(na);
    free(nb);
}

/* The string value of the first member named name (no escapes). */
static inline char *rt_member(const char *json, const char *name)
{
    char key[128];
    const char *p;
    const char *end;
    char *v;

    snprintf(key, sizeof key, "\"%s\":\"", name);
    p = strstr(json, key);
    assert_non_null(p);
    p += strlen(key);
    end = strchr(p, '"');
    assert_non_null(end);
    v = calloc(1, (size_t)(end - p) + 1);
    assert_non_null(v);
    memcpy(v, p, (size_t)(end - p));
    return v;
}

static inline char *rt_replace(const char *s, const char *from,
                               const char *to)
{
    const char *at = strstr(s, from);
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *r;

    assert_non_null(at);
    r = calloc(1, n + 1);
    assert_non_null(r);
    memcpy(r, s, (size_t)(at - s));
    memcpy(r + (at - s), to, strlen(to));
    memcpy(r + (at - s) + strlen(to), at + strlen(from),
           strlen(at + strlen(from)) + 1);
    return r;
}

static inline char *rt_replace_free(char *s, const char *from,
                                    const char *to)
{
    char *r = rt_replace(s, from, to);

    free(s);
    return r;
}

/* The token with its slot (first byte, a one-byte varint) replaced. */
static inline char *rt_token_set_slot(const char *tok, uint8_t slot)
{
    struct sf_buf raw = SF_BUF_INIT;
    struct sf_buf text = SF_BUF_INIT;

    assert_int_equal(sf_b64_decode(SF_B64_URL, tok + 4, strlen(tok) - 4,
                                   &raw), SF_OK);
    raw.data[0] = slot;
    assert_int_equal(sf_buf_put_str(&text, SF_TOKEN_PREFIX), SF_OK);
    assert_int_equal(sf_b64_encode(SF_B64_URL, raw.data, raw.len, &text),
                     SF_OK);
    sf_buf_free(&raw);
    return rt_text(&text);
}

#endif
