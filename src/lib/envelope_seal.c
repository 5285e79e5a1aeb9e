#include <stdlib.h>
#include <string.h>

#include "envelope_frames.h"
#include "envelope_internal.h"
#include "error.h"
#include "header.h"
#include "recipient.h"

enum sealer_state { SEALER_OPEN, SEALER_DONE, SEALER_FAILED };

struct sf_sealer {
    struct sf_buf header;
    bool is_header_sent;
    enum sealer_state state;
    sf_status failed_rc;
    struct sf_frames *frames;
};

struct seal_params {
    uint16_t suite;
    uint32_t frame_len;
    unsigned threads;
};

static sf_status check_opts(const struct sf_seal_opts *opts, size_t n,
                            struct seal_params *p)
{
    p->suite = SF_SUITE_AES256GCM;
    p->frame_len = SF_FRAME_DEFAULT;
    p->threads = 1;
    if (n == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "seal: no recipients given");
    }
    if (n > SF_STANZA_MAX) {
        return sf_fail(SF_ERR_LIMIT, "seal: %zu recipients given, at most "
                       "%d", n, SF_STANZA_MAX);
    }
    if (opts == NULL) {
        return SF_OK;
    }
    if (opts->suite != 0 && opts->suite != SF_SUITE_AES256GCM &&
            opts->suite != SF_SUITE_CHACHA20POLY1305) {
        return sf_fail(SF_ERR_UNSUPPORTED, "seal: unknown suite %d (1 is "
                       "AES-256-GCM, 2 is ChaCha20-Poly1305)",
                       (int)opts->suite);
    }
    if (opts->frame_len > SF_FRAME_MAX) {
        return sf_fail(SF_ERR_LIMIT, "seal: frame size %u exceeds the "
                       "maximum of %d bytes", opts->frame_len, SF_FRAME_MAX);
    }
    if (opts->suite != 0) {
        p->suite = (uint16_t)opts->suite;
    }
    if (opts->frame_len != 0) {
        p->frame_len = opts->frame_len;
    }
    p->threads = opts->threads > SF_THREADS_MAX ? SF_THREADS_MAX
                                                : (opts->threads < 1
                                                       ? 1 : opts->threads);
    return SF_OK;
}

static void wrapped_free(struct sf_wrapped *w, size_t n)
{
    for (size_t i = 0; w != NULL && i < n; i++) {
        sf_buf_free(&w[i].body);
    }
    free(w);
}

/* Wraps the DEK for every recipient with the header prefix (the first
 * prefix_len bytes of header) as AAD, then appends the stanzas. */
static sf_status wrap_all(struct sf_recipient *const *rcpts, size_t n,
                          const uint8_t *dek,
                          const struct sf_envelope_fixed *fixed,
                          struct sf_buf *header)
{
    struct sf_wrapped *w = calloc(n, sizeof *w);
    struct sf_stanza *st = calloc(n, sizeof *st);
    struct sf_wrap_request req = {header->data, header->len, dek, NULL, 0};
    uint8_t ikm[33];
    sf_status rc = w == NULL || st == NULL ? SF_ERR_NOMEM : SF_OK;

    for (size_t i = 0; rc == SF_OK && i < n; i++) {
        if (rcpts[i] == NULL) {
            rc = sf_fail(SF_ERR_INVALID_ARG, "seal: recipient %zu is NULL",
                         i);
            break;
        }
        if (fixed != NULL) {
            memcpy(ikm, fixed->eph_seed, 32);
            ikm[32] = (uint8_t)i;
            req.eph_ikm = ikm;
            req.eph_ikm_len = sizeof ikm;
        }
        rc = sf_recipient_wrap(rcpts[i], &req, &w[i]);
        st[i].type = w[i].type;
        st[i].key_id = (const uint8_t *)w[i].key_id;
        st[i].key_id_len = strnlen(w[i].key_id, sizeof w[i].key_id);
        st[i].version = w[i].version;
        st[i].body = w[i].body.data;
        st[i].body_len = w[i].body.len;
    }
    /* The stanzas are appended only now: appending may move header->data,
     * which every wrap above used as its AAD. */
    if (rc == SF_OK) {
        rc = sf_header_put_stanzas(st, n, header);
    }
    wrapped_free(w, n);
    free(st);
    return rc;
}

/* Appends the key commitment and the header MAC over everything before
 * it. */
static sf_status finish_header(const struct sf_msg_keys *k,
                               struct sf_buf *header)
{
    uint8_t mac[SF_HEADER_MAC_LEN];
    sf_status rc = sf_buf_append(header, k->commitment, SF_COMMITMENT_LEN);

    if (rc == SF_OK) {
        rc = sf_envelope_mac(k->mac_key, header->data, header->len, mac);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(header, mac, sizeof mac);
    }
    if (rc == SF_OK && header->len > SF_HEADER_MAX) {
        rc = sf_fail(SF_ERR_LIMIT, "seal: the header would have %zu bytes, "
                     "more than %d", header->len, SF_HEADER_MAX);
    }
    return rc;
}

/* Draws (or, in tests, takes) the DEK and message id, writes the whole
 * header and derives the message keys. */
static sf_status build_header(const struct seal_params *p,
                              const struct sf_seal_opts *opts,
                              struct sf_recipient *const *rcpts, size_t n,
                              const struct sf_envelope_fixed *fixed,
                              struct sf_buf *header, struct sf_msg_keys *k)
{
    struct sf_hdr_kv ctx[SF_CONTEXT_MAX];
    size_t ctx_len = opts == NULL ? 0 : opts->context_len;
    uint8_t id[SF_MESSAGE_ID_LEN];
    struct sf_secret *dek = NULL;
    sf_status rc;

    rc = sf_header_context(opts == NULL ? NULL : opts->context, ctx_len,
                           ctx);
    if (rc != SF_OK) {
        return rc;
    }
    if (fixed != NULL) {
        memcpy(id, fixed->message_id, sizeof id);
        rc = sf_secret_from(fixed->dek, SF_DEK_LEN, &dek);
    } else {
        rc = sf_random(id, sizeof id);
        if (rc == SF_OK) {
            rc = sf_secret_random(SF_DEK_LEN, &dek);
        }
    }
    if (rc == SF_OK) {
        rc = sf_header_put_prefix(p->suite, p->frame_len, id, ctx, ctx_len,
                                  header);
    }
    if (rc == SF_OK) {
        rc = wrap_all(rcpts, n, sf_secret_cdata(dek), fixed, header);
    }
    if (rc == SF_OK) {
        rc = sf_envelope_derive(p->suite, sf_secret_cdata(dek), id, k);
    }
    if (rc == SF_OK) {
        rc = finish_header(k, header);
    }
    sf_secret_free(dek);
    return rc;
}

static sf_status sealer_create(const struct sf_seal_opts *opts,
                               struct sf_recipient *const *rcpts, size_t n,
                               const struct sf_envelope_fixed *fixed,
                               struct sf_sealer **out)
{
    struct sf_msg_keys k;
    struct seal_params p;
    struct sf_sealer *s = NULL;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (rcpts == NULL && n > 0) {
        return SF_ERR_INVALID_ARG;
    }
    rc = check_opts(opts, n, &p);
    if (rc != SF_OK) {
        return rc;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return SF_ERR_NOMEM;
    }
    memset(&k, 0, sizeof k);
    rc = build_header(&p, opts, rcpts, n, fixed, &s->header, &k);
    if (rc == SF_OK) {
        rc = sf_frames_new(true, p.suite, k.payload, p.frame_len, p.threads,
                           &s->frames);
    }
    sf_wipe(&k, sizeof k);
    if (rc != SF_OK) {
        sf_sealer_free(s);
        return rc;
    }
    *out = s;
    return SF_OK;
}

sf_status sf_sealer_new(const struct sf_seal_opts *opts,
                        struct sf_recipient *const *rcpts, size_t n,
                        struct sf_sealer **out)
{
    return sealer_create(opts, rcpts, n, NULL, out);
}

sf_status sf_sealer_new_fixed(const struct sf_seal_opts *opts,
                              struct sf_recipient *const *rcpts, size_t n,
                              const struct sf_envelope_fixed *fixed,
                              struct sf_sealer **out)
{
    if (fixed == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    return sealer_create(opts, rcpts, n, fixed, out);
}

static sf_status check_state(const struct sf_sealer *s)
{
    if (s->state == SEALER_FAILED) {
        return sf_fail(s->failed_rc, "seal: this sealer failed earlier; "
                       "start a new message");
    }
    if (s->state == SEALER_DONE) {
        return sf_fail(SF_ERR_INVALID_ARG, "seal: the message was already "
                       "finished");
    }
    return SF_OK;
}

static sf_status send_header(struct sf_sealer *s, struct sf_buf *out)
{
    sf_status rc;

    if (s->is_header_sent) {
        return SF_OK;
    }
    rc = sf_buf_append(out, s->header.data, s->header.len);
    s->is_header_sent = rc == SF_OK;
    return rc;
}

sf_status sf_sealer_update(struct sf_sealer *s, const uint8_t *in,
                           size_t len, struct sf_buf *out)
{
    sf_status rc;

    if (s == NULL || out == NULL || (in == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    rc = check_state(s);
    if (rc != SF_OK) {
        return rc;
    }
    rc = send_header(s, out);
    if (rc == SF_OK) {
        rc = sf_frames_update(s->frames, in, len, out);
    }
    if (rc != SF_OK) {
        s->state = SEALER_FAILED;
        s->failed_rc = rc;
    }
    return rc;
}

sf_status sf_sealer_final(struct sf_sealer *s, struct sf_buf *out)
{
    sf_status rc;

    if (s == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = check_state(s);
    if (rc != SF_OK) {
        return rc;
    }
    rc = send_header(s, out);
    if (rc == SF_OK) {
        rc = sf_frames_final(s->frames, out);
    }
    s->state = rc == SF_OK ? SEALER_DONE : SEALER_FAILED;
    s->failed_rc = rc;
    return rc;
}

void sf_sealer_free(struct sf_sealer *s)
{
    if (s == NULL) {
        return;
    }
    sf_frames_free(s->frames);
    sf_buf_free(&s->header);
    free(s);
}

sf_status sf_envelope_seal(const struct sf_seal_opts *opts,
                           struct sf_recipient *const *rcpts, size_t n,
                           const uint8_t *pt, size_t pt_len,
                           struct sf_buf *out)
{
    struct sf_sealer *s = NULL;
    size_t start;
    sf_status rc;

    if (out == NULL || (pt == NULL && pt_len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    start = out->len;
    rc = sf_sealer_new(opts, rcpts, n, &s);
    if (rc == SF_OK) {
        rc = sf_sealer_update(s, pt, pt_len, out);
    }
    if (rc == SF_OK) {
        rc = sf_sealer_final(s, out);
    }
    sf_sealer_free(s);
    if (rc != SF_OK) {
        out->len = start;
    }
    return rc;
}
