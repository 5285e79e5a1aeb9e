#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "envelope_frames.h"
#include "envelope_internal.h"
#include "envelope_workers.h"
#include "error.h"
#include "sealflow/envelope.h"
#include "sealflow/secret.h"

/* The counter is a u32, so a message has at most 2^32 frames. */
#define FRAME_LIMIT ((uint64_t)1 << 32)
/* Frames buffered per thread when the caller feeds small chunks: enough
 * to keep every thread busy between two wake-ups. Huge frames get one. */
#define BATCH_PER_THREAD 4
#define BATCH_FRAME_MAX (1024 * 1024)
/* and the held-back input never exceeds this, or one frame if larger */
#define BATCH_BYTES_MAX (32 * 1024 * 1024)

/* Test hook (envelope_internal.h); 0 means the format's limit. Read once
 * per engine, when it is created. */
static uint64_t frame_limit_override;

void sf_envelope_test_set_frame_limit(uint64_t limit)
{
    frame_limit_override = limit;
}

struct sf_frames {
    bool is_seal;
    uint32_t frame_len;
    size_t unit;     /* input bytes of a whole frame */
    size_t out_unit; /* output bytes of a whole frame */
    size_t cap;      /* bound of pend: a multiple of unit */
    unsigned threads;
    struct sf_aead *aead[SF_THREADS_MAX];
    struct sf_workers *workers;
    uint64_t counter; /* frames already processed */
    uint64_t limit;
    struct sf_buf pend; /* held-back input; plaintext when sealing */
};

/*
 * One batch of consecutive frames: n1 whole frames held back in the
 * engine's buffer, then the rest straight from the caller's input, so a
 * held-back frame never has to be processed on its own. Participants take
 * the next frame from a shared counter, so a thread that starts late or is
 * preempted only does less of the work.
 */
struct batch {
    struct sf_frames *f;
    const uint8_t *src1;
    size_t n1;
    const uint8_t *src2;
    uint8_t *dst;
    size_t n;
    size_t last_len; /* input bytes of the batch's last frame */
    bool is_final;   /* the batch's last frame is the message's last */
    atomic_size_t next;
    atomic_bool is_failed;
    sf_status rc[SF_THREADS_MAX];
    uint64_t bad[SF_THREADS_MAX];
};

static void frame_nonce(uint64_t counter, bool is_last,
                        uint8_t nonce[SF_AEAD_NONCE_LEN])
{
    memset(nonce, 0, SF_AEAD_NONCE_LEN);
    nonce[7] = (uint8_t)(counter >> 24);
    nonce[8] = (uint8_t)(counter >> 16);
    nonce[9] = (uint8_t)(counter >> 8);
    nonce[10] = (uint8_t)counter;
    nonce[11] = (uint8_t)is_last;
}

/* Frame i of the batch with one AEAD context. No allocation: the output
 * goes straight into the caller's reserved buffer. */
static sf_status run_frame(const struct batch *b, struct sf_aead *a,
                           size_t i)
{
    const struct sf_frames *f = b->f;
    bool is_last = b->is_final && i == b->n - 1;
    size_t in_len = i == b->n - 1 ? b->last_len : f->unit;
    const uint8_t *src = i < b->n1 ? b->src1 + i * f->unit
                                   : b->src2 + (i - b->n1) * f->unit;
    uint8_t *dst = b->dst + i * f->out_unit;
    uint8_t nonce[SF_AEAD_NONCE_LEN];
    size_t pt_len;

    frame_nonce(f->counter + i, is_last, nonce);
    if (f->is_seal) {
        return sf_aead_seal(a, nonce, NULL, 0, src, in_len, dst,
                            dst + in_len);
    }
    pt_len = in_len - SF_AEAD_TAG_LEN;
    return sf_aead_open(a, nonce, NULL, 0, src, pt_len, src + pt_len, dst);
}

static void run_share(void *arg, unsigned index)
{
    struct batch *b = arg;
    struct sf_aead *a = b->f->aead[index];

    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        sf_status rc;

        if (i >= b->n || atomic_load(&b->is_failed)) {
            break;
        }
        rc = run_frame(b, a, i);
        if (rc != SF_OK) {
            b->rc[index] = rc;
            b->bad[index] = b->f->counter + i;
            atomic_store(&b->is_failed, true);
            break;
        }
    }
}

/* Fails the batch with a failing frame's status. A frame that does not
 * authenticate says so in terms a user can act on. */
static sf_status batch_status(const struct batch *b)
{
    for (unsigned i = 0; i < b->f->threads; i++) {
        if (b->rc[i] == SF_ERR_AUTH) {
            return sf_fail(SF_ERR_AUTH, "envelope: frame %llu failed "
                           "authentication: the data is corrupt, truncated, "
                           "reordered or from another message",
                           (unsigned long long)b->bad[i]);
        }
        if (b->rc[i] != SF_OK) {
            return b->rc[i];
        }
    }
    return SF_OK;
}

static sf_status check_limit(const struct sf_frames *f, size_t n,
                             bool is_final)
{
    /* A non-final batch must leave room for at least one more frame. */
    uint64_t need = (uint64_t)n + (is_final ? 0 : 1);

    if (need <= f->limit && f->counter <= f->limit - need) {
        return SF_OK;
    }
    if (f->is_seal) {
        return sf_fail(SF_ERR_LIMIT, "envelope: the input needs more than "
                       "%llu frames of %u bytes; seal it with a larger "
                       "frame size (at most %d bytes)",
                       (unsigned long long)f->limit, f->frame_len,
                       SF_FRAME_MAX);
    }
    return sf_fail(SF_ERR_AUTH, "envelope: the message has more than %llu "
                   "frames, which no sealer writes",
                   (unsigned long long)f->limit);
}

/*
 * Processes n1 whole frames from src1, then n2 frames from src2 (all whole
 * but the batch's last, of last_len input bytes), and appends their
 * output. Opening wipes and drops the batch's output if any frame fails,
 * so unauthenticated bytes never reach the caller.
 */
static sf_status run_batch(struct sf_frames *f, const uint8_t *src1,
                           size_t n1, const uint8_t *src2, size_t n2,
                           size_t last_len, bool is_final, struct sf_buf *out)
{
    struct batch b;
    size_t n = n1 + n2;
    size_t out_len;
    sf_status rc = check_limit(f, n, is_final);

    if (rc != SF_OK) {
        return rc;
    }
    out_len = (n - 1) * f->out_unit + (f->is_seal
                                       ? last_len + SF_AEAD_TAG_LEN
                                       : last_len - SF_AEAD_TAG_LEN);
    rc = sf_buf_reserve(out, out_len);
    if (rc != SF_OK) {
        return rc;
    }
    memset(&b, 0, sizeof b);
    b.f = f;
    b.src1 = src1;
    b.n1 = n1;
    b.src2 = src2;
    b.dst = out->data + out->len;
    b.n = n;
    b.last_len = last_len;
    b.is_final = is_final;
    atomic_init(&b.next, 0);
    atomic_init(&b.is_failed, false);
    if (f->threads > 1 && n > 1 && f->workers == NULL) {
        /* Started on the first batch that can use them, so a message of
         * one frame never starts a thread. */
        rc = sf_workers_new(f->threads, &f->workers);
        if (rc != SF_OK) {
            return rc;
        }
    }
    if (f->workers != NULL && n > 1) {
        sf_workers_run(f->workers, run_share, &b);
    } else {
        run_share(&b, 0);
    }
    rc = batch_status(&b);
    if (rc != SF_OK) {
        sf_wipe(b.dst, out_len);
        return rc;
    }
    out->len += out_len;
    f->counter += n;
    return SF_OK;
}

/* Every held-back frame is whole and more input follows: none of them is
 * the last one. */
static sf_status flush(struct sf_frames *f, struct sf_buf *out)
{
    sf_status rc = run_batch(f, f->pend.data, f->pend.len / f->unit, NULL,
                             0, f->unit, false, out);

    /* Sealing overwrites the plaintext on the next fill and wipes it all
     * when freed, so no wipe is needed on this hot path. */
    f->pend.len = 0;
    return rc;
}

sf_status sf_frames_update(struct sf_frames *f, const uint8_t *in,
                           size_t len, struct sf_buf *out)
{
    sf_status rc = SF_OK;

    while (len > 0 && rc == SF_OK) {
        size_t held = f->pend.len;
        size_t k;

        if (held == f->cap) {
            rc = flush(f, out);
            continue;
        }
        if (held % f->unit == 0 && len > f->unit) {
            /* The held-back whole frames, then frames straight from the
             * caller's bytes, keeping 1..unit bytes back. */
            size_t n = (len - 1) / f->unit;

            rc = run_batch(f, f->pend.data, held / f->unit, in, n, f->unit,
                           false, out);
            f->pend.len = 0;
            in += n * f->unit;
            len -= n * f->unit;
            continue;
        }
        k = held % f->unit != 0 ? f->unit - held % f->unit : f->cap - held;
        k = k < len ? k : len;
        /* Grown on demand: a short message never allocates whole frames
         * of a large frame size. */
        rc = sf_buf_reserve(&f->pend, k);
        if (rc != SF_OK) {
            break;
        }
        memcpy(f->pend.data + held, in, k);
        f->pend.len += k;
        in += k;
        len -= k;
    }
    return rc;
}

sf_status sf_frames_final(struct sf_frames *f, struct sf_buf *out)
{
    static const uint8_t empty[1];
    size_t held = f->pend.len;
    size_t whole = held / f->unit;
    size_t rest = held % f->unit;
    sf_status rc;

    if (f->is_seal && held == 0) {
        rc = run_batch(f, empty, 1, NULL, 0, 0, true, out);
    } else if (f->is_seal || rest >= SF_AEAD_TAG_LEN ||
               (rest == 0 && whole > 0)) {
        rc = run_batch(f, f->pend.data, whole + (rest > 0 ? 1 : 0), NULL,
                       0, rest > 0 ? rest : f->unit, true, out);
    } else {
        rc = sf_fail(SF_ERR_AUTH, "envelope: the message is truncated: it "
                     "ends after frame %llu without a final frame",
                     (unsigned long long)f->counter);
    }
    f->pend.len = 0;
    return rc;
}

static sf_status new_contexts(struct sf_frames *f, uint16_t suite,
                              const uint8_t *key)
{
    enum sf_aead_alg alg = suite == SF_SUITE_CHACHA20POLY1305
                               ? SF_AEAD_CHACHA20_POLY1305
                               : SF_AEAD_AES_256_GCM;
    sf_status rc = SF_OK;

    for (unsigned i = 0; i < f->threads && rc == SF_OK; i++) {
        rc = sf_aead_new(alg, key, 32, &f->aead[i]);
    }
    return rc;
}

sf_status sf_frames_new(bool is_seal, uint16_t suite, const uint8_t *key,
                        uint32_t frame_len, unsigned threads,
                        struct sf_frames **out)
{
    struct sf_frames *f;
    size_t batch;
    sf_status rc;

    *out = NULL;
    if (frame_len == 0 || frame_len > SF_FRAME_MAX || key == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        return SF_ERR_NOMEM;
    }
    f->is_seal = is_seal;
    f->frame_len = frame_len;
    f->unit = is_seal ? frame_len : (size_t)frame_len + SF_AEAD_TAG_LEN;
    f->out_unit = is_seal ? (size_t)frame_len + SF_AEAD_TAG_LEN : frame_len;
    f->threads = threads < 1 ? 1 : (threads > SF_THREADS_MAX
                                        ? SF_THREADS_MAX : threads);
    f->limit = frame_limit_override != 0 ? frame_limit_override
                                         : FRAME_LIMIT;
    batch = f->threads == 1 ? 1 : f->threads * (frame_len > BATCH_FRAME_MAX
                                                ? 1 : BATCH_PER_THREAD);
    if (batch > 1 && batch * f->unit > BATCH_BYTES_MAX) {
        batch = BATCH_BYTES_MAX / f->unit > 1 ? BATCH_BYTES_MAX / f->unit
                                              : 1;
    }
    f->cap = batch * f->unit;
    rc = new_contexts(f, suite, key);
    if (rc != SF_OK) {
        sf_frames_free(f);
        return rc;
    }
    *out = f;
    return SF_OK;
}

void sf_frames_free(struct sf_frames *f)
{
    if (f == NULL) {
        return;
    }
    sf_workers_free(f->workers);
    for (unsigned i = 0; i < SF_THREADS_MAX; i++) {
        sf_aead_free(f->aead[i]);
    }
    /* pend.len is reset without wiping on the hot path; wipe it all. */
    sf_wipe(f->pend.data, f->pend.cap);
    sf_buf_free(&f->pend);
    free(f);
}
