/*
 * HPKE (RFC 9180) with DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256, for the
 * AEADs AES-128-GCM (0x0001), AES-256-GCM (0x0002) and ChaCha20-Poly1305
 * (0x0003). Base mode and PSK mode; the secret export interface.
 *
 * Composed from OpenSSL primitives (X25519, HKDF, AEAD); checked against
 * the RFC 9180 test vectors. A context's sequence number is checked before
 * it could wrap.
 */
#ifndef SF_HPKE_H
#define SF_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

#define SF_HPKE_KEM_X25519_SHA256 0x0020
#define SF_HPKE_KDF_SHA256 0x0001
#define SF_HPKE_ENC_LEN 32
#define SF_HPKE_TAG_LEN 16

enum sf_hpke_aead {
    SF_HPKE_AES_128_GCM = 0x0001,
    SF_HPKE_AES_256_GCM = 0x0002,
    SF_HPKE_CHACHA20_POLY1305 = 0x0003
};

struct sf_hpke_ctx;

/* PSK inputs for mode_psk; pass NULL for base mode. The psk must be at
 * least 32 bytes and psk_id non-empty (SF_ERR_INVALID_ARG otherwise). */
struct sf_hpke_psk {
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_id;
    size_t psk_id_len;
};

/* DeriveKeyPair(ikm) for the X25519 KEM. sk is secret. ikm must hold 32
 * to 65536 bytes (SF_ERR_INVALID_ARG otherwise). */
SF_MUST_CHECK sf_status sf_hpke_derive_keypair(const uint8_t *ikm,
                                               size_t ikm_len, uint8_t sk[32],
                                               uint8_t pk[32]);

/* SetupS: encapsulates to pkR and writes enc. ikm_e, when not NULL, derives
 * the ephemeral key deterministically (test vectors only); NULL draws it
 * from the CSPRNG. SF_ERR_BAD_KEY when pk_r is a low-order point (all-zero
 * DH output); SF_ERR_UNSUPPORTED for another AEAD id. info is at most 64
 * KiB. The context may only seal and export. */
SF_MUST_CHECK sf_status sf_hpke_setup_sender(
    enum sf_hpke_aead aead, const uint8_t pk_r[32], const uint8_t *info,
    size_t info_len, const struct sf_hpke_psk *psk, const uint8_t *ikm_e,
    size_t ikm_e_len, uint8_t enc[SF_HPKE_ENC_LEN],
    struct sf_hpke_ctx **out);

/* SetupR: decapsulates enc with skR (SF_ERR_BAD_KEY for a low-order enc).
 * A wrong key is only detected by sf_hpke_open. The context may only open
 * and export. */
SF_MUST_CHECK sf_status sf_hpke_setup_receiver(
    enum sf_hpke_aead aead, const uint8_t sk_r[32],
    const uint8_t enc[SF_HPKE_ENC_LEN], const uint8_t *info, size_t info_len,
    const struct sf_hpke_psk *psk, struct sf_hpke_ctx **out);

/* Seal: ct receives pt_len + SF_HPKE_TAG_LEN bytes. SF_ERR_LIMIT once the
 * sequence number would overflow. */
SF_MUST_CHECK sf_status sf_hpke_seal(struct sf_hpke_ctx *c,
                                     const uint8_t *aad, size_t aad_len,
                                     const uint8_t *pt, size_t pt_len,
                                     uint8_t *ct);

/* Open: pt receives ct_len - SF_HPKE_TAG_LEN bytes; SF_ERR_AUTH on a bad
 * tag (the sequence number does not advance then). */
SF_MUST_CHECK sf_status sf_hpke_open(struct sf_hpke_ctx *c,
                                     const uint8_t *aad, size_t aad_len,
                                     const uint8_t *ct, size_t ct_len,
                                     uint8_t *pt);

/* Secret export: out receives len bytes, at most 255 * 32 (SF_ERR_LIMIT
 * otherwise). The exporter context is at most 64 KiB. */
SF_MUST_CHECK sf_status sf_hpke_export(struct sf_hpke_ctx *c,
                                       const uint8_t *exporter_ctx,
                                       size_t exporter_ctx_len, uint8_t *out,
                                       size_t len);

void sf_hpke_ctx_free(struct sf_hpke_ctx *c);

/* Single-shot base-mode seal/open of one message. */
SF_MUST_CHECK sf_status sf_hpke_seal_base(
    enum sf_hpke_aead aead, const uint8_t pk_r[32], const uint8_t *info,
    size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
    size_t pt_len, uint8_t enc[SF_HPKE_ENC_LEN], uint8_t *ct);

SF_MUST_CHECK sf_status sf_hpke_open_base(
    enum sf_hpke_aead aead, const uint8_t sk_r[32],
    const uint8_t enc[SF_HPKE_ENC_LEN], const uint8_t *info, size_t info_len,
    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
    uint8_t *pt);

#endif
