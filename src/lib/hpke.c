/*
 * HPKE (RFC 9180), composed from the crypto modules: X25519 for the KEM,
 * HKDF-SHA256 for every derivation, AEAD for the payload. Section numbers
 * below refer to RFC 9180.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "error.h"
#include "hpke.h"
#include "kdf.h"
#include "sealflow/buf.h"
#include "sealflow/secret.h"
#include "x25519.h"

#define NH 32        /* HKDF-SHA256 output (Nh) and KEM Nsecret */
#define NN 12        /* AEAD nonce length (Nn) */
#define SUITE_MAX 10 /* "HPKE" and three 2-byte ids */
#define MODE_BASE 0x00
#define MODE_PSK 0x01
#define PSK_MIN 32 /* section 5.1.2: at least 32 bytes of entropy */
/* Bound on info, psk_id and exporter contexts, which are copied into the
 * labeled inputs. RFC 9180 asks for at least 64 bytes to be supported. */
#define INPUT_MAX (64 * 1024)

/* A suite_id: "KEM" || kem_id for the KEM, "HPKE" || ids otherwise. */
struct suite {
    uint8_t id[SUITE_MAX];
    size_t len;
};

struct sf_hpke_ctx {
    struct sf_aead *aead;
    bool is_sender;
    uint64_t seq;
    uint8_t base_nonce[NN];
    uint8_t exporter_secret[NH];
    struct suite suite;
};

static const uint8_t version_label[] = {'H', 'P', 'K', 'E', '-', 'v', '1'};

static struct suite kem_suite(void)
{
    struct suite s = {{'K', 'E', 'M', 0x00, 0x20}, 5};

    return s;
}

static struct suite hpke_suite(enum sf_hpke_aead aead)
{
    struct suite s = {
        {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, (uint8_t)aead}, 10};

    return s;
}

static size_t aead_key_len(enum sf_hpke_aead aead, enum sf_aead_alg *alg)
{
    switch (aead) {
    case SF_HPKE_AES_128_GCM:
        *alg = SF_AEAD_AES_128_GCM;
        return 16;
    case SF_HPKE_AES_256_GCM:
        *alg = SF_AEAD_AES_256_GCM;
        return 32;
    case SF_HPKE_CHACHA20_POLY1305:
        *alg = SF_AEAD_CHACHA20_POLY1305;
        return 32;
    }
    return 0;
}

/* Appends "HPKE-v1" || suite_id || label, the prefix of every labeled
 * input (section 4). */
static sf_status put_label(struct sf_buf *b, const struct suite *s,
                           const char *label)
{
    sf_status rc = sf_buf_append(b, version_label, sizeof version_label);

    if (rc == SF_OK) {
        rc = sf_buf_append(b, s->id, s->len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(b, label, strlen(label));
    }
    return rc;
}

/*
 * LabeledExtract(salt, label, ikm): prk receives NH bytes. HKDF-Extract
 * is HMAC(salt, IKM) with an empty salt meaning NH zero bytes (RFC 5869,
 * section 2.2); sf_hmac runs it on the calling thread's kept HMAC
 * context, where sf_hkdf_extract goes through OpenSSL's HKDF provider at
 * a few microseconds per call, and a wrap makes four of them.
 */
static sf_status labeled_extract(const struct suite *s, const uint8_t *salt,
                                 size_t salt_len, const char *label,
                                 const uint8_t *ikm, size_t ikm_len,
                                 uint8_t prk[NH])
{
    static const uint8_t zero_salt[NH];
    struct sf_buf in = SF_BUF_INIT;
    sf_status rc = put_label(&in, s, label);

    if (rc == SF_OK) {
        rc = sf_buf_append(&in, ikm, ikm_len);
    }
    if (rc == SF_OK) {
        rc = sf_hmac(SF_MD_SHA256, salt_len > 0 ? salt : zero_salt,
                     salt_len > 0 ? salt_len : NH, in.data, in.len, prk);
    }
    sf_buf_free(&in);
    return rc;
}

/* LabeledExpand(prk, label, info, L); L fits in two bytes. */
static sf_status labeled_expand(const struct suite *s, const uint8_t prk[NH],
                                const char *label, const uint8_t *info,
                                size_t info_len, uint8_t *out, size_t len)
{
    struct sf_buf in = SF_BUF_INIT;
    sf_status rc;

    if (len > 255 * NH) {
        return sf_fail(SF_ERR_LIMIT,
                       "hpke: %zu bytes exceed the HKDF "
                       "limit of %d",
                       len, 255 * NH);
    }
    rc = sf_buf_put_u16(&in, (uint16_t)len);
    if (rc == SF_OK) {
        rc = put_label(&in, s, label);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(&in, info, info_len);
    }
    if (rc == SF_OK) {
        rc = sf_hkdf_expand(SF_MD_SHA256, prk, NH, in.data, in.len, out, len);
    }
    sf_buf_free(&in);
    return rc;
}

sf_status sf_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
                                 uint8_t sk[32], uint8_t pk[32])
{
    struct suite s = kem_suite();
    uint8_t prk[NH];
    sf_status rc;

    if (ikm == NULL || sk == NULL || pk == NULL || ikm_len < 32 ||
        ikm_len > INPUT_MAX) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "hpke derive keypair: ikm must "
                       "be 32 to %d bytes",
                       INPUT_MAX);
    }
    /* Section 7.1.3: for X25519 the expanded bytes are the key as is. */
    rc = labeled_extract(&s, NULL, 0, "dkp_prk", ikm, ikm_len, prk);
    if (rc == SF_OK) {
        rc = labeled_expand(&s, prk, "sk", NULL, 0, sk, SF_X25519_LEN);
    }
    if (rc == SF_OK) {
        rc = sf_x25519_public(sk, pk);
    }
    if (rc != SF_OK) {
        sf_wipe(sk, SF_X25519_LEN);
    }
    sf_wipe(prk, sizeof prk);
    return rc;
}

/* DHKEM ExtractAndExpand (section 4.1) with kem_context = enc || pkR. */
static sf_status extract_and_expand(const uint8_t dh[32], const uint8_t enc[32],
                                    const uint8_t pk_r[32], uint8_t shared[NH])
{
    struct suite s = kem_suite();
    uint8_t kem_context[64];
    uint8_t prk[NH];
    sf_status rc;

    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, pk_r, 32);
    rc = labeled_extract(&s, NULL, 0, "eae_prk", dh, 32, prk);
    if (rc == SF_OK) {
        rc = labeled_expand(&s, prk, "shared_secret", kem_context,
                            sizeof kem_context, shared, NH);
    }
    sf_wipe(prk, sizeof prk);
    return rc;
}

/* Encap(pkR): a fresh (or, for test vectors, derived) ephemeral key. */
static sf_status encap(const uint8_t pk_r[32], const uint8_t *ikm_e,
                       size_t ikm_e_len, uint8_t enc[32], uint8_t shared[NH])
{
    uint8_t sk_e[32];
    uint8_t dh[32];
    sf_status rc;

    if (ikm_e != NULL) {
        rc = sf_hpke_derive_keypair(ikm_e, ikm_e_len, sk_e, enc);
    } else {
        rc = sf_x25519_keygen(sk_e, enc);
    }
    if (rc != SF_OK) {
        goto out;
    }
    /* An all-zero DH output (low-order pkR) is SF_ERR_BAD_KEY here. */
    rc = sf_x25519_shared(sk_e, pk_r, dh);
    if (rc == SF_OK) {
        rc = extract_and_expand(dh, enc, pk_r, shared);
    }

out:
    sf_wipe(sk_e, sizeof sk_e);
    sf_wipe(dh, sizeof dh);
    return rc;
}

/* Decap(enc, skR). */
static sf_status decap(const uint8_t enc[32], const uint8_t sk_r[32],
                       uint8_t shared[NH])
{
    uint8_t pk_r[32];
    uint8_t dh[32];
    sf_status rc;

    rc = sf_x25519_shared(sk_r, enc, dh);
    if (rc == SF_OK) {
        rc = sf_x25519_public(sk_r, pk_r);
    }
    if (rc == SF_OK) {
        rc = extract_and_expand(dh, enc, pk_r, shared);
    }
    sf_wipe(dh, sizeof dh);
    return rc;
}

/* VerifyPSKInputs (section 5.1): both parts or neither; the PSK must also
 * be long enough to carry 32 bytes of entropy. */
static sf_status check_inputs(const struct sf_hpke_psk *psk,
                              const uint8_t *info, size_t info_len)
{
    if ((info == NULL && info_len > 0) || info_len > INPUT_MAX) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "hpke: info missing or over %d "
                       "bytes",
                       INPUT_MAX);
    }
    if (psk == NULL) {
        return SF_OK;
    }
    if (psk->psk == NULL || psk->psk_id == NULL || psk->psk_len < PSK_MIN ||
        psk->psk_id_len == 0 || psk->psk_len > INPUT_MAX ||
        psk->psk_id_len > INPUT_MAX) {
        return sf_fail(SF_ERR_INVALID_ARG,
                       "hpke: PSK mode needs a psk of "
                       "at least %d bytes and a non-empty psk_id",
                       PSK_MIN);
    }
    return SF_OK;
}

/* key_schedule_context = mode || psk_id_hash || info_hash (section 5.1). */
static sf_status schedule_context(const struct suite *s,
                                  const struct sf_hpke_psk *psk,
                                  const uint8_t *info, size_t info_len,
                                  uint8_t ksc[1 + 2 * NH])
{
    sf_status rc;

    ksc[0] = psk == NULL ? MODE_BASE : MODE_PSK;
    rc = labeled_extract(s, NULL, 0, "psk_id_hash",
                         psk == NULL ? NULL : psk->psk_id,
                         psk == NULL ? 0 : psk->psk_id_len, ksc + 1);
    if (rc == SF_OK) {
        rc = labeled_extract(s, NULL, 0, "info_hash", info, info_len,
                             ksc + 1 + NH);
    }
    return rc;
}

/* Derives key, base_nonce and exporter_secret into a new context. */
static sf_status key_schedule(enum sf_hpke_aead aead, const uint8_t shared[NH],
                              const uint8_t *info, size_t info_len,
                              const struct sf_hpke_psk *psk,
                              struct sf_hpke_ctx *c)
{
    uint8_t ksc[1 + 2 * NH];
    uint8_t secret[NH];
    uint8_t key[32];
    enum sf_aead_alg alg = SF_AEAD_AES_128_GCM;
    size_t key_len = aead_key_len(aead, &alg);
    sf_status rc;

    c->suite = hpke_suite(aead);
    rc = schedule_context(&c->suite, psk, info, info_len, ksc);
    if (rc == SF_OK) {
        rc = labeled_extract(&c->suite, shared, NH, "secret",
                             psk == NULL ? NULL : psk->psk,
                             psk == NULL ? 0 : psk->psk_len, secret);
    }
    if (rc == SF_OK) {
        rc = labeled_expand(&c->suite, secret, "key", ksc, sizeof ksc, key,
                            key_len);
    }
    if (rc == SF_OK) {
        rc = labeled_expand(&c->suite, secret, "base_nonce", ksc, sizeof ksc,
                            c->base_nonce, NN);
    }
    if (rc == SF_OK) {
        rc = labeled_expand(&c->suite, secret, "exp", ksc, sizeof ksc,
                            c->exporter_secret, NH);
    }
    if (rc == SF_OK) {
        rc = sf_aead_new(alg, key, key_len, &c->aead);
    }
    sf_wipe(secret, sizeof secret);
    sf_wipe(key, sizeof key);
    return rc;
}

/* Common part of both setups: checks, then the key schedule. */
static sf_status setup(enum sf_hpke_aead aead, bool is_sender,
                       const uint8_t shared[NH], const uint8_t *info,
                       size_t info_len, const struct sf_hpke_psk *psk,
                       struct sf_hpke_ctx **out)
{
    struct sf_hpke_ctx *c = calloc(1, sizeof *c);
    sf_status rc;

    if (c == NULL) {
        return SF_ERR_NOMEM;
    }
    c->is_sender = is_sender;
    rc = key_schedule(aead, shared, info, info_len, psk, c);
    if (rc != SF_OK) {
        sf_hpke_ctx_free(c);
        return rc;
    }
    *out = c;
    return SF_OK;
}

static sf_status check_setup(enum sf_hpke_aead aead, const uint8_t *info,
                             size_t info_len, const struct sf_hpke_psk *psk,
                             struct sf_hpke_ctx **out)
{
    enum sf_aead_alg alg;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (aead_key_len(aead, &alg) == 0) {
        return sf_fail(SF_ERR_UNSUPPORTED,
                       "hpke: AEAD id 0x%04x is not "
                       "supported (use 0x0001, 0x0002 or 0x0003)",
                       (unsigned)aead);
    }
    return check_inputs(psk, info, info_len);
}

sf_status sf_hpke_setup_sender(enum sf_hpke_aead aead, const uint8_t pk_r[32],
                               const uint8_t *info, size_t info_len,
                               const struct sf_hpke_psk *psk,
                               const uint8_t *ikm_e, size_t ikm_e_len,
                               uint8_t enc[SF_HPKE_ENC_LEN],
                               struct sf_hpke_ctx **out)
{
    uint8_t shared[NH];
    sf_status rc = check_setup(aead, info, info_len, psk, out);

    if (rc != SF_OK) {
        return rc;
    }
    if (pk_r == NULL || enc == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "hpke setup sender: NULL key");
    }
    rc = encap(pk_r, ikm_e, ikm_e_len, enc, shared);
    if (rc == SF_OK) {
        rc = setup(aead, true, shared, info, info_len, psk, out);
    }
    if (rc != SF_OK) {
        sf_wipe(enc, SF_HPKE_ENC_LEN);
    }
    sf_wipe(shared, sizeof shared);
    return rc;
}

sf_status sf_hpke_setup_receiver(enum sf_hpke_aead aead, const uint8_t sk_r[32],
                                 const uint8_t enc[SF_HPKE_ENC_LEN],
                                 const uint8_t *info, size_t info_len,
                                 const struct sf_hpke_psk *psk,
                                 struct sf_hpke_ctx **out)
{
    uint8_t shared[NH];
    sf_status rc = check_setup(aead, info, info_len, psk, out);

    if (rc != SF_OK) {
        return rc;
    }
    if (sk_r == NULL || enc == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "hpke setup receiver: NULL key");
    }
    rc = decap(enc, sk_r, shared);
    if (rc == SF_OK) {
        rc = setup(aead, false, shared, info, info_len, psk, out);
    }
    sf_wipe(shared, sizeof shared);
    return rc;
}

/* ComputeNonce (section 5.2): base_nonce XOR I2OSP(seq, Nn). Refuses the
 * last sequence number so the counter can never wrap and reuse a nonce. */
static sf_status next_nonce(const struct sf_hpke_ctx *c, uint8_t nonce[NN])
{
    if (c->seq == UINT64_MAX) {
        return sf_fail(SF_ERR_LIMIT, "hpke: the context's message limit "
                                     "is reached; set up a new context");
    }
    memcpy(nonce, c->base_nonce, NN);
    for (size_t i = 0; i < 8; i++) {
        nonce[NN - 1 - i] ^= (uint8_t)(c->seq >> (8 * i));
    }
    return SF_OK;
}

sf_status sf_hpke_seal(struct sf_hpke_ctx *c, const uint8_t *aad,
                       size_t aad_len, const uint8_t *pt, size_t pt_len,
                       uint8_t *ct)
{
    uint8_t nonce[NN];
    sf_status rc;

    if (c == NULL || ct == NULL || !c->is_sender) {
        return sf_fail(SF_ERR_INVALID_ARG, "hpke seal: needs a sender "
                                           "context and an output buffer");
    }
    rc = next_nonce(c, nonce);
    if (rc == SF_OK) {
        rc = sf_aead_seal(c->aead, nonce, aad, aad_len, pt, pt_len, ct,
                          ct + pt_len);
    }
    if (rc == SF_OK) {
        c->seq++;
    }
    return rc;
}

sf_status sf_hpke_open(struct sf_hpke_ctx *c, const uint8_t *aad,
                       size_t aad_len, const uint8_t *ct, size_t ct_len,
                       uint8_t *pt)
{
    uint8_t nonce[NN];
    size_t pt_len;
    sf_status rc;

    if (c == NULL || ct == NULL || c->is_sender) {
        return sf_fail(SF_ERR_INVALID_ARG, "hpke open: needs a receiver "
                                           "context and a ciphertext");
    }
    if (ct_len < SF_HPKE_TAG_LEN) {
        return sf_fail(SF_ERR_AUTH, "hpke open: ciphertext shorter than "
                                    "the tag");
    }
    pt_len = ct_len - SF_HPKE_TAG_LEN;
    rc = next_nonce(c, nonce);
    if (rc == SF_OK) {
        rc = sf_aead_open(c->aead, nonce, aad, aad_len, ct, pt_len, ct + pt_len,
                          pt);
    }
    if (rc == SF_OK) {
        c->seq++;
    }
    return rc;
}

sf_status sf_hpke_export(struct sf_hpke_ctx *c, const uint8_t *exporter_ctx,
                         size_t exporter_ctx_len, uint8_t *out, size_t len)
{
    if (c == NULL || (out == NULL && len > 0) ||
        (exporter_ctx == NULL && exporter_ctx_len > 0) ||
        exporter_ctx_len > INPUT_MAX) {
        return sf_fail(SF_ERR_INVALID_ARG, "hpke export: bad arguments");
    }
    return labeled_expand(&c->suite, c->exporter_secret, "sec", exporter_ctx,
                          exporter_ctx_len, out, len);
}

void sf_hpke_ctx_free(struct sf_hpke_ctx *c)
{
    if (c == NULL) {
        return;
    }
    sf_aead_free(c->aead);
    sf_wipe(c, sizeof *c);
    free(c);
}

sf_status sf_hpke_seal_base(enum sf_hpke_aead aead, const uint8_t pk_r[32],
                            const uint8_t *info, size_t info_len,
                            const uint8_t *aad, size_t aad_len,
                            const uint8_t *pt, size_t pt_len,
                            uint8_t enc[SF_HPKE_ENC_LEN], uint8_t *ct)
{
    struct sf_hpke_ctx *c = NULL;
    sf_status rc;

    rc = sf_hpke_setup_sender(aead, pk_r, info, info_len, NULL, NULL, 0, enc,
                              &c);
    if (rc == SF_OK) {
        rc = sf_hpke_seal(c, aad, aad_len, pt, pt_len, ct);
    }
    sf_hpke_ctx_free(c);
    return rc;
}

sf_status sf_hpke_open_base(enum sf_hpke_aead aead, const uint8_t sk_r[32],
                            const uint8_t enc[SF_HPKE_ENC_LEN],
                            const uint8_t *info, size_t info_len,
                            const uint8_t *aad, size_t aad_len,
                            const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    struct sf_hpke_ctx *c = NULL;
    sf_status rc;

    rc = sf_hpke_setup_receiver(aead, sk_r, enc, info, info_len, NULL, &c);
    if (rc == SF_OK) {
        rc = sf_hpke_open(c, aad, aad_len, ct, ct_len, pt);
    }
    sf_hpke_ctx_free(c);
    return rc;
}
