#include <stdlib.h>
#include <string.h>

#include "envelope_frames.h"
#include "envelope_internal.h"
#include "error.h"
#include "header.h"

enum opener_state { OPENER_HEADER, OPENER_BODY, OPENER_DONE, OPENER_FAILED };

struct sf_opener {
    struct sf_identity **ids;
    size_t n;
    unsigned threads;
    enum opener_state state;
    sf_status failed_rc;
    struct sf_buf hbuf; /* header bytes so far, never more than need */
    size_t need;        /* header bytes needed before parsing again */
    struct sf_header *hdr;
    struct sf_frames *frames;
};

sf_status sf_opener_new_opts(const struct sf_open_opts *opts,
                             struct sf_identity *const *ids, size_t n,
                             struct sf_opener **out)
{
    struct sf_opener *o;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (ids == NULL || n == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "open: no identities given");
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == NULL) {
            return sf_fail(SF_ERR_INVALID_ARG, "open: identity %zu is NULL",
                           i);
        }
    }
    o = calloc(1, sizeof *o);
    if (o == NULL) {
        return SF_ERR_NOMEM;
    }
    o->ids = calloc(n, sizeof *o->ids);
    o->hdr = calloc(1, sizeof *o->hdr);
    if (o->ids == NULL || o->hdr == NULL) {
        sf_opener_free(o);
        return SF_ERR_NOMEM;
    }
    memcpy(o->ids, ids, n * sizeof *ids);
    o->n = n;
    o->threads = opts == NULL || opts->threads < 1 ? 1 : opts->threads;
    o->need = SF_MAGIC_LEN;
    *out = o;
    return SF_OK;
}

sf_status sf_opener_new(struct sf_identity *const *ids, size_t n,
                        struct sf_opener **out)
{
    return sf_opener_new_opts(NULL, ids, n, out);
}

/* The header is complete: find the DEK, verify commitment and MAC, and
 * only then set up the frame engine. */
static sf_status start_body(struct sf_opener *o)
{
    struct sf_secret *dek = NULL;
    struct sf_msg_keys k;
    sf_status rc;

    memset(&k, 0, sizeof k);
    rc = sf_envelope_find_dek(o->ids, o->n, o->hdr, o->hbuf.data, &dek);
    if (rc == SF_OK) {
        rc = sf_envelope_verify(o->hdr, o->hbuf.data, dek, &k);
    }
    if (rc == SF_OK) {
        rc = sf_frames_new(false, o->hdr->suite, k.payload,
                           o->hdr->frame_len, o->threads, &o->frames);
    }
    if (rc == SF_OK) {
        o->state = OPENER_BODY;
    }
    sf_wipe(&k, sizeof k);
    sf_secret_free(dek);
    return rc;
}

/*
 * Takes header bytes from the input, never more than the parser asked for,
 * so a huge first chunk is not copied and body bytes stay in the input.
 * Each length field is checked against its limit by the parser before the
 * bytes it announces are awaited.
 */
static sf_status feed_header(struct sf_opener *o, const uint8_t **in,
                             size_t *len)
{
    sf_status rc = SF_OK;

    while (*len > 0 && o->state == OPENER_HEADER && rc == SF_OK) {
        size_t k = o->need - o->hbuf.len;
        size_t need;

        k = k < *len ? k : *len;
        rc = sf_buf_append(&o->hbuf, *in, k);
        if (rc != SF_OK) {
            break;
        }
        *in += k;
        *len -= k;
        if (o->hbuf.len < o->need) {
            break;
        }
        rc = sf_header_parse(o->hbuf.data, o->hbuf.len, o->hdr, &need);
        if (rc == SF_OK && need == 0) {
            rc = start_body(o);
        } else if (rc == SF_OK) {
            o->need = need;
        }
    }
    return rc;
}

static sf_status check_state(const struct sf_opener *o)
{
    if (o->state == OPENER_FAILED) {
        return sf_fail(o->failed_rc, "open: this opener failed earlier; "
                       "nothing more can be read from it");
    }
    if (o->state == OPENER_DONE) {
        return sf_fail(SF_ERR_INVALID_ARG, "open: the message was already "
                       "finished");
    }
    return SF_OK;
}

sf_status sf_opener_update(struct sf_opener *o, const uint8_t *in,
                           size_t len, struct sf_buf *out)
{
    sf_status rc;

    if (o == NULL || out == NULL || (in == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    rc = check_state(o);
    if (rc != SF_OK) {
        return rc;
    }
    if (o->state == OPENER_HEADER) {
        rc = feed_header(o, &in, &len);
    }
    if (rc == SF_OK && len > 0) {
        rc = sf_frames_update(o->frames, in, len, out);
    }
    if (rc != SF_OK) {
        o->state = OPENER_FAILED;
        o->failed_rc = rc;
    }
    return rc;
}

sf_status sf_opener_final(struct sf_opener *o, struct sf_buf *out)
{
    sf_status rc;

    if (o == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = check_state(o);
    if (rc != SF_OK) {
        return rc;
    }
    if (o->state == OPENER_HEADER && o->hbuf.len < SF_MAGIC_LEN) {
        /* Too short to hold even the magic: not a sealflow message at
         * all. This is decided before any key is used and from the
         * length alone, so telling it apart from a damaged message
         * reveals nothing; a message cut after its magic still fails as
         * SF_ERR_AUTH below, like any other truncation. */
        rc = sf_fail(SF_ERR_FORMAT, "open: not a sealflow message: %zu "
                     "byte%s, too short to hold a header", o->hbuf.len,
                     o->hbuf.len == 1 ? "" : "s");
    } else if (o->state == OPENER_HEADER) {
        rc = sf_fail(SF_ERR_AUTH, "open: the message ends inside its header "
                     "(%zu bytes; at least %zu needed)", o->hbuf.len,
                     o->need);
    } else {
        rc = sf_frames_final(o->frames, out);
    }
    o->state = rc == SF_OK ? OPENER_DONE : OPENER_FAILED;
    o->failed_rc = rc;
    return rc;
}

sf_status sf_opener_info(const struct sf_opener *o,
                         struct sf_header_info *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof *out);
    }
    if (o == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    /* The frame engine exists only once the header has been verified. */
    if (o->frames == NULL || o->state == OPENER_FAILED) {
        return sf_fail(SF_ERR_INVALID_ARG, "open: the header has not been "
                       "read and verified yet");
    }
    return sf_envelope_info_from(o->hdr, out);
}

void sf_opener_free(struct sf_opener *o)
{
    if (o == NULL) {
        return;
    }
    sf_frames_free(o->frames);
    sf_buf_free(&o->hbuf);
    free(o->hdr);
    free(o->ids);
    free(o);
}

sf_status sf_envelope_open_opts(const struct sf_open_opts *opts,
                                struct sf_identity *const *ids, size_t n,
                                const uint8_t *msg, size_t msg_len,
                                struct sf_buf *out)
{
    struct sf_opener *o = NULL;
    size_t start;
    sf_status rc;

    if (out == NULL || (msg == NULL && msg_len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    start = out->len;
    rc = sf_opener_new_opts(opts, ids, n, &o);
    if (rc == SF_OK) {
        rc = sf_opener_update(o, msg, msg_len, out);
    }
    if (rc == SF_OK) {
        rc = sf_opener_final(o, out);
    }
    sf_opener_free(o);
    if (rc != SF_OK && out->len > start) {
        /* Frames that did authenticate are withdrawn too: a one-shot
         * caller gets all of the message or nothing. */
        sf_wipe(out->data + start, out->len - start);
        out->len = start;
    }
    return rc;
}

sf_status sf_envelope_open(struct sf_identity *const *ids, size_t n,
                           const uint8_t *msg, size_t msg_len,
                           struct sf_buf *out)
{
    return sf_envelope_open_opts(NULL, ids, n, msg, msg_len, out);
}
