/*
 * Internal: the framed body of an envelope (docs/FORMAT.md, "Body").
 *
 * A frame is frame_len plaintext bytes (the final frame 0..frame_len)
 * sealed with the payload key; its 12-byte nonce is seven zero bytes, the
 * frame counter (u32, big-endian, from 0) and a last-frame flag byte. The
 * engine takes input in any chunking and holds back the newest whole or
 * partial frame until it knows whether more follows, because only then is
 * it known which frame is the last. Buffers are bounded by a small batch of
 * frames per thread.
 */
#ifndef SF_ENVELOPE_FRAMES_H
#define SF_ENVELOPE_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

struct sf_frames;

/* Creates the engine for sealing (is_seal) or opening with the 32-byte
 * payload key of suite (1 or 2). threads is clamped to 1..SF_THREADS_MAX.
 * The key is copied into the AEAD contexts; the caller wipes its copy. */
SF_MUST_CHECK sf_status sf_frames_new(bool is_seal, uint16_t suite,
                                      const uint8_t *key, uint32_t frame_len,
                                      unsigned threads,
                                      struct sf_frames **out);

/* Consumes len bytes; appends every frame that is known not to be the last
 * (sealed frames, or authenticated plaintext) to out. */
SF_MUST_CHECK sf_status sf_frames_update(struct sf_frames *f,
                                         const uint8_t *in, size_t len,
                                         struct sf_buf *out);

/* Ends the stream: seals the held-back data as the final frame(s), or
 * checks that the held-back data ends with a valid final frame. */
SF_MUST_CHECK sf_status sf_frames_final(struct sf_frames *f,
                                        struct sf_buf *out);

/* Wipes and frees. NULL is allowed. */
void sf_frames_free(struct sf_frames *f);

#endif
