/*
 * The native file envelope: seal data to recipients, open it with
 * identities. Byte layout, derivations and limits: docs/FORMAT.md.
 *
 * A message has a header (magic, version, suite, frame size, message id,
 * encryption context, one stanza per wrapped data key, key commitment,
 * header MAC) and a framed body. Each message gets a fresh 256-bit data key
 * (DEK). Frames are sealed with a key derived from the DEK and message id;
 * the frame nonce is the frame counter and a last-frame flag.
 */
#ifndef SEALFLOW_ENVELOPE_H
#define SEALFLOW_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/keystore.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sf_suite {
    SF_SUITE_AES256GCM = 1,        /* default */
    SF_SUITE_CHACHA20POLY1305 = 2  /* for machines without AES-NI */
};

enum sf_stanza_type {
    SF_STANZA_KEK = 1,      /* symmetric KEK from a keystore */
    SF_STANZA_X25519 = 2,   /* HPKE to an X25519 public key */
    SF_STANZA_RSA_OAEP = 3  /* RSA-OAEP-SHA256 */
};

#define SF_FRAME_DEFAULT (64 * 1024)
#define SF_FRAME_MAX (16 * 1024 * 1024)
#define SF_STANZA_MAX 64
#define SF_CONTEXT_MAX 64

/* One key=value pair of the encryption context. Authenticated, never
 * encrypted, never secret. Keys are unique; the header stores them sorted. */
struct sf_kv {
    const char *key;
    const char *value;
};

/* ---- recipients: who can open what we seal -------------------------- */

/* A recipient wraps data keys; it can never unwrap. */
struct sf_recipient;

/* A keystore key by name (any type); the version is chosen at seal time:
 * the newest one allowed for encryption. ks must outlive the recipient. */
SF_API SF_MUST_CHECK sf_status sf_recipient_keystore(
    struct sf_keystore *ks, const char *name, struct sf_recipient **out);

/* A partner's public key: "sealflow-x25519:<base64url>" or an RSA public
 * key in PEM (3072 or 4096 bits). Leading and trailing whitespace and CRLF
 * line ends are accepted. SF_ERR_FORMAT names what was expected. */
SF_API SF_MUST_CHECK sf_status sf_recipient_parse(const char *text,
                                                  size_t len,
                                                  struct sf_recipient **out);

SF_API void sf_recipient_free(struct sf_recipient *r);

/* ---- identities: what can open ------------------------------------- */

struct sf_identity;

/* Unwraps stanzas that name keys in this keystore. */
SF_API SF_MUST_CHECK sf_status sf_identity_keystore(
    struct sf_keystore *ks, struct sf_identity **out);

/* A private key: "SEALFLOW-X25519-SECRET:<base64url>" or an RSA private
 * key in PEM. Whitespace and CRLF tolerated, as for recipients. */
SF_API SF_MUST_CHECK sf_status sf_identity_parse(const char *text,
                                                 size_t len,
                                                 struct sf_identity **out);

/* Creates a new X25519 identity; appends its secret string to secret_out
 * (secret: wipe it) and its recipient string to public_out. */
SF_API SF_MUST_CHECK sf_status sf_identity_generate_x25519(
    struct sf_buf *secret_out, struct sf_buf *public_out);

SF_API void sf_identity_free(struct sf_identity *id);

/* ---- sealing --------------------------------------------------------- */

struct sf_seal_opts {
    enum sf_suite suite;          /* 0 means SF_SUITE_AES256GCM */
    uint32_t frame_len;           /* 0 means SF_FRAME_DEFAULT */
    const struct sf_kv *context;  /* may be NULL when context_len is 0 */
    size_t context_len;
    unsigned threads;             /* 0 or 1: one thread; more: parallel */
};

struct sf_sealer;

/* Starts a message to n recipients (1..SF_STANZA_MAX). The header is
 * produced by the first update or final call. */
SF_API SF_MUST_CHECK sf_status sf_sealer_new(
    const struct sf_seal_opts *opts, struct sf_recipient *const *rcpts,
    size_t n, struct sf_sealer **out);

/* Appends the sealed form of in to out (whole frames only; the rest is
 * kept until more input or final). */
SF_API SF_MUST_CHECK sf_status sf_sealer_update(struct sf_sealer *s,
                                                const uint8_t *in,
                                                size_t len,
                                                struct sf_buf *out);

/* Appends the last frame. Without any update, this is the 0-byte
 * message. */
SF_API SF_MUST_CHECK sf_status sf_sealer_final(struct sf_sealer *s,
                                               struct sf_buf *out);

SF_API void sf_sealer_free(struct sf_sealer *s);

/* One-shot seal of a buffer. */
SF_API SF_MUST_CHECK sf_status sf_envelope_seal(
    const struct sf_seal_opts *opts, struct sf_recipient *const *rcpts,
    size_t n, const uint8_t *pt, size_t pt_len, struct sf_buf *out);

/* ---- opening ---------------------------------------------------------- */

struct sf_opener;

SF_API SF_MUST_CHECK sf_status sf_opener_new(struct sf_identity *const *ids,
                                             size_t n,
                                             struct sf_opener **out);

/* Feeds sealed bytes; appends authenticated plaintext to out. Plaintext is
 * released only after the key commitment and header MAC are verified, and
 * frame by frame after each frame's tag. */
SF_API SF_MUST_CHECK sf_status sf_opener_update(struct sf_opener *o,
                                                const uint8_t *in,
                                                size_t len,
                                                struct sf_buf *out);

/* Checks that the message ended with its final frame and nothing after
 * it; SF_ERR_AUTH for a truncated or extended message. */
SF_API SF_MUST_CHECK sf_status sf_opener_final(struct sf_opener *o,
                                               struct sf_buf *out);

SF_API void sf_opener_free(struct sf_opener *o);

/* One-shot open of a buffer. */
SF_API SF_MUST_CHECK sf_status sf_envelope_open(
    struct sf_identity *const *ids, size_t n, const uint8_t *msg,
    size_t msg_len, struct sf_buf *out);

/* ---- inspecting and rewrapping ----------------------------------------- */

struct sf_stanza_info {
    enum sf_stanza_type type;
    char key_id[SF_KEY_NAME_MAX + 1];
    uint32_t version;
};

struct sf_header_info {
    uint8_t format_version;
    enum sf_suite suite;
    uint32_t frame_len;
    uint8_t message_id[32];
    size_t header_len;
    size_t context_len;
    char **context_keys;     /* context_len entries */
    char **context_values;
    size_t stanza_len;
    struct sf_stanza_info *stanzas;
};

/* Parses a header from the start of buf (no key needed, nothing
 * verified). SF_ERR_FORMAT when incomplete or malformed. */
SF_API SF_MUST_CHECK sf_status sf_envelope_inspect(const uint8_t *buf,
                                                   size_t len,
                                                   struct sf_header_info *out);

SF_API void sf_header_info_free(struct sf_header_info *info);

/* Reads a header, unwraps the DEK with ids, re-wraps the stanzas that name
 * key_name (NULL: every keystore stanza) under that key's newest version,
 * and appends the new header to new_header. *old_header_len tells where the
 * unchanged body begins. *changed is false when nothing needed moving. */
SF_API SF_MUST_CHECK sf_status sf_envelope_rewrap_header(
    const uint8_t *buf, size_t len, struct sf_identity *const *ids, size_t n,
    struct sf_keystore *ks, const char *key_name, struct sf_buf *new_header,
    size_t *old_header_len, bool *changed);

#ifdef __cplusplus
}
#endif
#endif
