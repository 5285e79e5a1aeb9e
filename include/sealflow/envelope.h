/*
 * The native file envelope: seal data to recipients, open it with
 * identities. Byte layout, derivations and limits: docs/FORMAT.md.
 *
 * A message has a header (magic, version, suite, frame size, message id,
 * encryption context, one stanza per wrapped data key, key commitment,
 * header MAC) and a framed body. Each message gets a fresh 256-bit data key
 * (DEK). Frames are sealed with a key derived from the DEK and message id;
 * the frame nonce is the frame counter and a last-frame flag.
 *
 * Every function that fails leaves a secret-free explanation in
 * sf_last_error(). Plaintext is only ever appended to caller buffers after
 * it has been authenticated.
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

/* Stanza types. Readers skip stanzas of types they do not know, so a new
 * keyring can add a type without breaking older readers of the others. */
enum sf_stanza_type {
    SF_STANZA_KEK = 1,      /* symmetric KEK from a keystore */
    SF_STANZA_X25519 = 2,   /* HPKE to an X25519 public key */
    SF_STANZA_RSA_OAEP = 3, /* RSA-OAEP-SHA256 */
    SF_STANZA_REMOTE = 4    /* key service ("kms:NAME"), docs/REMOTE.md */
};

/* Limits of format version 1; docs/FORMAT.md says how each is checked. */
#define SF_FRAME_DEFAULT (64 * 1024)
#define SF_FRAME_MAX (16 * 1024 * 1024)
#define SF_STANZA_MAX 64
#define SF_CONTEXT_MAX 64
#define SF_CONTEXT_KEY_MAX 256       /* bytes of one context key (>= 1) */
#define SF_CONTEXT_VALUE_MAX 4096    /* bytes of one context value */
#define SF_CONTEXT_BYTES_MAX 16384   /* all encoded context pairs */
#define SF_KEY_ID_MAX 128            /* bytes of a stanza key id (>= 1) */
#define SF_STANZA_BODY_MAX 2048      /* bytes of a stanza body (>= 1) */
#define SF_HEADER_MAX (256 * 1024)   /* whole header */
#define SF_THREADS_MAX 64            /* larger thread counts are clamped */

/* One key=value pair of the encryption context. Authenticated, never
 * encrypted, never secret. Keys are unique; the header stores them sorted.
 * Both are NUL-terminated UTF-8. */
struct sf_kv {
    const char *key;
    const char *value;
};

/* ---- recipients: who can open what we seal -------------------------- */

/* A recipient wraps data keys; it can never unwrap. */
struct sf_recipient;

/* A keystore key by name (any type); the version is chosen at seal time:
 * the newest one allowed for encryption. ks must outlive the recipient.
 * SF_ERR_KEY_NOT_FOUND (or the keystore's status) when the key cannot be
 * read now. *out is NULL on failure. */
SF_API SF_MUST_CHECK sf_status sf_recipient_keystore(
    struct sf_keystore *ks, const char *name, struct sf_recipient **out);

/* A partner's public key: "sealflow-x25519:<base64url>" or an RSA public
 * key in PEM (3072 or 4096 bits). Leading and trailing whitespace and CRLF
 * line ends are accepted, and lines starting with '#' are comments.
 * SF_ERR_FORMAT names what was expected; SF_ERR_BAD_KEY for an RSA key of
 * another size or an X25519 key that cannot be used. *out is NULL on
 * failure. */
SF_API SF_MUST_CHECK sf_status sf_recipient_parse(const char *text,
                                                  size_t len,
                                                  struct sf_recipient **out);

/* NULL is allowed. */
SF_API void sf_recipient_free(struct sf_recipient *r);

/* ---- identities: what can open ------------------------------------- */

struct sf_identity;

/* Unwraps stanzas that name keys in this keystore (key ids without ':'),
 * and partner stanzas ("x25519:<hex>", "rsa:<hex>", version 0) sealed to
 * the exported public key of one of its x25519 or RSA keys. ks must
 * outlive the identity. */
SF_API SF_MUST_CHECK sf_status sf_identity_keystore(
    struct sf_keystore *ks, struct sf_identity **out);

/* A private key: "SEALFLOW-X25519-SECRET:<base64url>" or an RSA private
 * key in PEM. Whitespace, CRLF and '#' comment lines tolerated, as for
 * recipients. text is secret; the function keeps no pointer to it and
 * wipes its own copies. *out is NULL on failure. */
SF_API SF_MUST_CHECK sf_status sf_identity_parse(const char *text,
                                                 size_t len,
                                                 struct sf_identity **out);

/* Creates a new X25519 identity; appends its secret string to secret_out
 * (secret: wipe it) and its recipient string to public_out. Both are
 * single lines without a line end, NUL-terminated. */
SF_API SF_MUST_CHECK sf_status sf_identity_generate_x25519(
    struct sf_buf *secret_out, struct sf_buf *public_out);

/* Wipes and frees. NULL is allowed. */
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

/* Starts a message to n recipients (1..SF_STANZA_MAX). The data key is
 * drawn and wrapped here, so key errors surface now. The header is
 * produced by the first update or final call. opts may be NULL for the
 * defaults. SF_ERR_LIMIT for a frame size above SF_FRAME_MAX, too many
 * recipients or a context over its limits; SF_ERR_INVALID_ARG for a
 * duplicate or empty context key or invalid UTF-8. */
SF_API SF_MUST_CHECK sf_status sf_sealer_new(
    const struct sf_seal_opts *opts, struct sf_recipient *const *rcpts,
    size_t n, struct sf_sealer **out);

/* Appends the sealed form of in to out (whole frames only; the rest is
 * kept until more input or final). Memory stays bounded by a few frames
 * per thread whatever the input. SF_ERR_LIMIT when the message would need
 * more frames than the format allows (2^32). After a failure the sealer
 * refuses further calls. */
SF_API SF_MUST_CHECK sf_status sf_sealer_update(struct sf_sealer *s,
                                                const uint8_t *in,
                                                size_t len,
                                                struct sf_buf *out);

/* Appends the last frame. Without any update, this is the 0-byte
 * message. */
SF_API SF_MUST_CHECK sf_status sf_sealer_final(struct sf_sealer *s,
                                               struct sf_buf *out);

/* Wipes and frees. NULL is allowed. */
SF_API void sf_sealer_free(struct sf_sealer *s);

/* One-shot seal of a buffer. On failure out is as it was. */
SF_API SF_MUST_CHECK sf_status sf_envelope_seal(
    const struct sf_seal_opts *opts, struct sf_recipient *const *rcpts,
    size_t n, const uint8_t *pt, size_t pt_len, struct sf_buf *out);

/* ---- opening ---------------------------------------------------------- */

struct sf_open_opts {
    unsigned threads;             /* 0 or 1: one thread; more: parallel */
};

struct sf_opener;

/* n >= 1 identities, tried in order; they must outlive the opener. */
SF_API SF_MUST_CHECK sf_status sf_opener_new(struct sf_identity *const *ids,
                                             size_t n,
                                             struct sf_opener **out);

/* sf_opener_new with options (opts may be NULL). */
SF_API SF_MUST_CHECK sf_status sf_opener_new_opts(
    const struct sf_open_opts *opts, struct sf_identity *const *ids,
    size_t n, struct sf_opener **out);

/* Feeds sealed bytes; appends authenticated plaintext to out. Plaintext is
 * released only after the key commitment and header MAC are verified, and
 * frame by frame after each frame's tag.
 * Statuses: SF_ERR_FORMAT (not an envelope or malformed header),
 * SF_ERR_UNSUPPORTED (unknown version or suite), SF_ERR_NO_KEY (no
 * identity fits any stanza), SF_ERR_KEY_VERSION (the only fitting keystore
 * key version is retired; the message names key, version and minimum),
 * SF_ERR_AUTH (tampered header, context or frame, or wrong key). After a
 * failure the opener refuses further calls. */
SF_API SF_MUST_CHECK sf_status sf_opener_update(struct sf_opener *o,
                                                const uint8_t *in,
                                                size_t len,
                                                struct sf_buf *out);

/* Checks that the message ended with its final frame and nothing after
 * it; SF_ERR_AUTH for a truncated or extended message, SF_ERR_FORMAT
 * when the input was shorter than the 4-byte magic. */
SF_API SF_MUST_CHECK sf_status sf_opener_final(struct sf_opener *o,
                                               struct sf_buf *out);

/* Wipes and frees. NULL is allowed. */
SF_API void sf_opener_free(struct sf_opener *o);


/* One-shot open of a buffer. On failure out is as it was (any plaintext
 * appended on the way is wiped). */
SF_API SF_MUST_CHECK sf_status sf_envelope_open(
    struct sf_identity *const *ids, size_t n, const uint8_t *msg,
    size_t msg_len, struct sf_buf *out);

/* sf_envelope_open with options (opts may be NULL). */
SF_API SF_MUST_CHECK sf_status sf_envelope_open_opts(
    const struct sf_open_opts *opts, struct sf_identity *const *ids,
    size_t n, const uint8_t *msg, size_t msg_len, struct sf_buf *out);

/* ---- inspecting and rewrapping ----------------------------------------- */

struct sf_stanza_info {
    enum sf_stanza_type type;   /* may hold a type this reader lacks */
    char key_id[SF_KEY_NAME_MAX + 1];
    uint32_t version;           /* 0 for external recipients */
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
 * verified). SF_ERR_FORMAT when incomplete or malformed, SF_ERR_UNSUPPORTED
 * for an unknown version or suite. Holds no key material. On failure out
 * is zeroed; on success free it with sf_header_info_free. */
SF_API SF_MUST_CHECK sf_status sf_envelope_inspect(const uint8_t *buf,
                                                   size_t len,
                                                   struct sf_header_info *out);

/* Frees what sf_envelope_inspect allocated and zeroes info. */
SF_API void sf_header_info_free(struct sf_header_info *info);

/* The header of the message an opener is reading, once its commitment and
 * MAC have been verified, so the context and stanzas it shows are
 * authentic (as sf_envelope_inspect fills it). SF_ERR_INVALID_ARG before
 * that (no whole header read yet, or the opener failed). Free out with
 * sf_header_info_free. */
SF_API SF_MUST_CHECK sf_status sf_opener_info(const struct sf_opener *o,
                                              struct sf_header_info *out);

/* Reads a header, unwraps the DEK with ids, verifies the key commitment
 * and header MAC, re-wraps the stanzas that name key_name (NULL: every
 * keystore stanza) under that key's newest version, and appends the new
 * header to new_header. *old_header_len tells where the unchanged body
 * begins. *changed is false when nothing needed moving; new_header then
 * receives a copy of the old header. The message id and key commitment
 * stay; the MAC is recomputed. On failure new_header is as it was. */
SF_API SF_MUST_CHECK sf_status sf_envelope_rewrap_header(
    const uint8_t *buf, size_t len, struct sf_identity *const *ids, size_t n,
    struct sf_keystore *ks, const char *key_name, struct sf_buf *new_header,
    size_t *old_header_len, bool *changed);

#ifdef __cplusplus
}
#endif
#endif
