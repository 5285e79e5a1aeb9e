/*
 * Internal: what the envelope modules share (key schedule, header
 * verification, finding the data key) and the hooks that tests use to
 * pin randomness and limits. Nothing here is exported from the shared
 * library.
 */
#ifndef SF_ENVELOPE_INTERNAL_H
#define SF_ENVELOPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "header.h"
#include "sealflow/envelope.h"
#include "sealflow/secret.h"

#define SF_PAYLOAD_KEY_LEN 32
#define SF_HEADER_MAC_KEY_LEN 32

/* The per-message keys derived from the DEK (docs/FORMAT.md, "Key
 * schedule"). Secret: wipe with sf_wipe after use. */
struct sf_msg_keys {
    uint8_t payload[SF_PAYLOAD_KEY_LEN];
    uint8_t commitment[SF_COMMITMENT_LEN];
    uint8_t mac_key[SF_HEADER_MAC_KEY_LEN];
};

/* HKDF-SHA512(ikm = dek, salt = message id, info = label || suite). On
 * failure k is wiped. */
SF_MUST_CHECK sf_status sf_envelope_derive(uint16_t suite,
                                           const uint8_t *dek,
                                           const uint8_t *message_id,
                                           struct sf_msg_keys *k);

/* HMAC-SHA256 of the len header bytes at p under mac_key. */
SF_MUST_CHECK sf_status sf_envelope_mac(const uint8_t *mac_key,
                                        const uint8_t *p, size_t len,
                                        uint8_t out[SF_HEADER_MAC_LEN]);

/* Derives the keys from dek for the parsed header h over its bytes p,
 * checks the key commitment, then the header MAC, both in constant time.
 * SF_ERR_AUTH (k wiped) on any mismatch. */
SF_MUST_CHECK sf_status sf_envelope_verify(const struct sf_header *h,
                                           const uint8_t *p,
                                           const struct sf_secret *dek,
                                           struct sf_msg_keys *k);

/*
 * Tries every stanza of h with every identity until one yields a data key
 * of SF_DEK_LEN bytes. When none does: SF_ERR_KEY_VERSION if a fitting
 * keystore key version is retired, else SF_ERR_AUTH if a fitting key
 * failed to unwrap (tampered stanza or context), else another failure of
 * a fitting key, else SF_ERR_NO_KEY naming the stanzas' key ids.
 */
SF_MUST_CHECK sf_status sf_envelope_find_dek(struct sf_identity *const *ids,
                                             size_t n,
                                             const struct sf_header *h,
                                             const uint8_t *p,
                                             struct sf_secret **dek);

/* Copies what a parsed header says (never key material) into out; on
 * failure out is freed and zeroed. */
SF_MUST_CHECK sf_status sf_envelope_info_from(const struct sf_header *h,
                                              struct sf_header_info *out);

/* Test hook: fixed "random" inputs, for known-answer files. The HPKE
 * ephemeral key of X25519 stanza i is derived from eph_seed || u8(i). */
struct sf_envelope_fixed {
    uint8_t dek[SF_DEK_LEN];
    uint8_t message_id[SF_MESSAGE_ID_LEN];
    uint8_t eph_seed[32];
};

/* sf_sealer_new with fixed randomness. Tests only: a fixed DEK or message
 * id in real use would destroy every guarantee of the format. */
SF_MUST_CHECK sf_status sf_sealer_new_fixed(
    const struct sf_seal_opts *opts, struct sf_recipient *const *rcpts,
    size_t n, const struct sf_envelope_fixed *fixed, struct sf_sealer **out);

/* Test hook: engines created from now on allow at most limit frames per
 * message instead of 2^32 (0 restores 2^32). Not thread-safe. */
void sf_envelope_test_set_frame_limit(uint64_t limit);

#endif
