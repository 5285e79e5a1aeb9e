/*
 * Internal: recipients and identities behind small vtables.
 *
 * A recipient wraps the data key into one stanza; an identity tries to
 * unwrap one stanza. The envelope knows nothing about key types: new
 * keyrings (a remote Vault-transit "kms:" keyring, a PKCS#11 "hsm:" one)
 * plug in by supplying ops and calling sf_recipient_new/sf_identity_new
 * from their own constructors.
 *
 * Key id convention (docs/FORMAT.md, "Stanzas"): a key id without ':' is
 * the name of a keystore key and carries its version (>= 1); a key id with
 * ':' belongs to another keyring ("x25519:<hex>", "rsa:<hex>", ...).
 */
#ifndef SF_RECIPIENT_H
#define SF_RECIPIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "header.h"
#include "sealflow/buf.h"
#include "sealflow/envelope.h"
#include "sealflow/secret.h"

/* What a recipient wraps, and for what header. */
struct sf_wrap_request {
    const uint8_t *prefix; /* header prefix: the stanza's AAD */
    size_t prefix_len;
    const uint8_t *dek; /* SF_DEK_LEN bytes, secret */
    /* Tests only: HPKE ephemeral key material; NULL draws it randomly. */
    const uint8_t *eph_ikm;
    size_t eph_ikm_len;
};

/* One wrapped key, before it is encoded into the header. */
struct sf_wrapped {
    uint8_t type;
    char key_id[SF_KEY_ID_MAX + 1];
    uint32_t version;
    struct sf_buf body;
};

struct sf_recipient_ops {
    /* Fills out (type, key id, version, body). */
    sf_status (*wrap)(void *impl, const struct sf_wrap_request *req,
                      struct sf_wrapped *out);
    void (*free)(void *impl);
};

struct sf_identity_ops {
    /* SF_OK: *dek holds the data key. SF_ERR_NO_KEY: the stanza is not for
     * this identity (no sf_fail needed). Any other status: it is, but
     * unwrapping failed; sf_last_error() says why. */
    sf_status (*unwrap)(void *impl, const struct sf_stanza *st,
                        const uint8_t *prefix, size_t prefix_len,
                        struct sf_secret **dek);
    void (*free)(void *impl);
};

/* Wraps impl; on failure impl is released with ops->free. */
SF_MUST_CHECK sf_status sf_recipient_new(const struct sf_recipient_ops *ops,
                                         void *impl,
                                         struct sf_recipient **out);
SF_MUST_CHECK sf_status sf_identity_new(const struct sf_identity_ops *ops,
                                        void *impl,
                                        struct sf_identity **out);

SF_MUST_CHECK sf_status sf_recipient_wrap(struct sf_recipient *r,
                                          const struct sf_wrap_request *req,
                                          struct sf_wrapped *out);
SF_MUST_CHECK sf_status sf_identity_unwrap(struct sf_identity *id,
                                           const struct sf_stanza *st,
                                           const uint8_t *prefix,
                                           size_t prefix_len,
                                           struct sf_secret **dek);

/* True for stanzas that name a keystore key: no ':' and version >= 1. */
bool sf_recipient_stanza_is_keystore(const struct sf_stanza *st);

/* True when the stanza's key id equals the C string id. */
bool sf_recipient_stanza_id_is(const struct sf_stanza *st, const char *id);

/* Writes "<kind>:<first 8 bytes of SHA-256(key) in hex>" to out. */
#define SF_FINGERPRINT_MAX 32
SF_MUST_CHECK sf_status sf_recipient_fingerprint(
    const char *kind, const uint8_t *key, size_t len,
    char out[SF_FINGERPRINT_MAX]);

/* "rsa:<hex>" over the key's SubjectPublicKeyInfo DER. */
struct sf_rsa_key;
SF_MUST_CHECK sf_status sf_recipient_fingerprint_rsa(
    const struct sf_rsa_key *k, char out[SF_FINGERPRINT_MAX]);

/* Finds the key in recipient or identity text: skips blank lines and lines
 * starting with '#'; a PEM block runs from its BEGIN line to the end; any
 * other key is one line, trimmed of spaces, tabs and CR. SF_ERR_FORMAT
 * when there is no key or more than one key line. what names the kind of
 * text in the message ("recipient", "identity"). */
SF_MUST_CHECK sf_status sf_recipient_text_find(const char *text, size_t len,
                                               const char *what,
                                               const char **key,
                                               size_t *key_len, bool *is_pem);

#define SF_X25519_RECIPIENT_PREFIX "sealflow-x25519:"
#define SF_X25519_SECRET_PREFIX "SEALFLOW-X25519-SECRET:"
#define SF_X25519_STANZA_INFO "sealflow v1 x25519 stanza"
/* enc (32) || AES-256-GCM ciphertext of the DEK (32) || tag (16) */
#define SF_X25519_BODY_LEN 80

#endif
