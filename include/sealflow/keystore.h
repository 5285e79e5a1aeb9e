/*
 * The keystore: named, typed, versioned key-encryption keys (KEKs).
 *
 * The embedded default is one SQLite file. Every key version's material is
 * stored encrypted under the root key (AES-256-GCM, with the key name,
 * version and type as associated data), so the file alone reveals nothing.
 * A version is never changed in place: rotation adds one. Every change is
 * one transaction. Key material never leaves this module: callers ask the
 * keystore to wrap and unwrap.
 *
 * A struct sf_keystore may be shared by threads; calls are serialised
 * internally where SQLite needs it.
 */
#ifndef SEALFLOW_KEYSTORE_H
#define SEALFLOW_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/secret.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sf_key_type {
    SF_KEY_AES256_GCM96 = 1,     /* "aes256-gcm96" */
    SF_KEY_CHACHA20_POLY1305 = 2, /* "chacha20-poly1305" */
    SF_KEY_X25519 = 3,           /* "x25519": HPKE to the public part */
    SF_KEY_RSA_3072 = 4,         /* "rsa-3072": RSA-OAEP-SHA256 */
    SF_KEY_RSA_4096 = 5          /* "rsa-4096" */
};

#define SF_KEY_NAME_MAX 128

/* "aes256-gcm96" etc.; NULL for an unknown type. */
SF_API const char *sf_key_type_name(enum sf_key_type t);

/* Parses a type name. SF_ERR_UNSUPPORTED lists the accepted names in
 * sf_last_error(). */
SF_API SF_MUST_CHECK sf_status sf_key_type_parse(const char *name,
                                                 enum sf_key_type *out);

/* true for x25519 and RSA types. */
SF_API bool sf_key_type_is_asymmetric(enum sf_key_type t);

/*
 * The one key name grammar, enforced everywhere (CLI, policy, daemon):
 * 1 to 128 bytes of UTF-8; ASCII letters, digits and '-', '_', '.', '@',
 * '/', plus any non-ASCII letter; not "." or "..", no "//", no leading or
 * trailing '/'. SF_ERR_KEY_NAME with the allowed characters in
 * sf_last_error().
 */
SF_API SF_MUST_CHECK sf_status sf_key_name_check(const char *name);

struct sf_key_info {
    char name[SF_KEY_NAME_MAX + 1];
    enum sf_key_type type;
    uint32_t latest_version;          /* versions are 1..latest */
    uint32_t min_available_version;   /* versions below were trimmed */
    uint32_t min_decryption_version;  /* >= 1 */
    uint32_t min_encryption_version;  /* 0 means "latest" */
    bool deletion_allowed;
    uint64_t rotation_period_s;       /* 0 means no scheduled rotation */
    int64_t created_at;               /* Unix seconds, version 1 */
    int64_t latest_created_at;        /* Unix seconds, newest version */
};

/* Fields of a config change; only those with has_* set are changed. */
struct sf_key_config {
    bool has_min_decryption_version;
    uint32_t min_decryption_version;
    bool has_min_encryption_version;
    uint32_t min_encryption_version;
    bool has_deletion_allowed;
    bool deletion_allowed;
    bool has_rotation_period;
    uint64_t rotation_period_s;
};

struct sf_keystore;

/* Root key file: 32 random bytes, stored base64 with a header line, mode
 * 0600. Creating refuses to overwrite an existing file (SF_ERR_IO). */
SF_API SF_MUST_CHECK sf_status sf_root_key_create(const char *path,
                                                  struct sf_secret **out);
SF_API SF_MUST_CHECK sf_status sf_root_key_load(const char *path,
                                                struct sf_secret **out);

/* Creates a new, empty keystore at path bound to root_key. Refuses an
 * existing file. */
SF_API SF_MUST_CHECK sf_status sf_keystore_create(
    const char *path, const struct sf_secret *root_key,
    struct sf_keystore **out);

/* Opens an existing keystore. SF_ERR_ROOT_KEY when root_key is not the one
 * it was created with; SF_ERR_STORE when the file is not a keystore. */
SF_API SF_MUST_CHECK sf_status sf_keystore_open(
    const char *path, const struct sf_secret *root_key,
    struct sf_keystore **out);

SF_API void sf_keystore_close(struct sf_keystore *ks);

/* Creates version 1 of a new key. */
SF_API SF_MUST_CHECK sf_status sf_keystore_create_key(
    struct sf_keystore *ks, const char *name, enum sf_key_type type,
    struct sf_key_info *info);

SF_API SF_MUST_CHECK sf_status sf_keystore_key_info(struct sf_keystore *ks,
                                                    const char *name,
                                                    struct sf_key_info *out);

/* Lists keys in name order; *out is malloc'd (free with free()). */
SF_API SF_MUST_CHECK sf_status sf_keystore_list(struct sf_keystore *ks,
                                                struct sf_key_info **out,
                                                size_t *count);

/* Adds a version in one transaction; *new_version may be NULL. */
SF_API SF_MUST_CHECK sf_status sf_keystore_rotate(struct sf_keystore *ks,
                                                  const char *name,
                                                  uint32_t *new_version);

/* Applies a config change. The rule, checked on the result:
 * 1 <= min_decryption <= effective min_encryption <= latest, where a
 * min_encryption of 0 means latest. SF_ERR_KEY_CONFIG otherwise. */
SF_API SF_MUST_CHECK sf_status sf_keystore_config(
    struct sf_keystore *ks, const char *name, const struct sf_key_config *c,
    struct sf_key_info *info);

/* Deletes all versions; SF_ERR_KEY_CONFIG unless deletion_allowed. */
SF_API SF_MUST_CHECK sf_status sf_keystore_delete(struct sf_keystore *ks,
                                                  const char *name);

/* Removes versions below min_available (Vault "trim"); it may not exceed
 * min_decryption_version or min_encryption_version. */
SF_API SF_MUST_CHECK sf_status sf_keystore_trim(struct sf_keystore *ks,
                                                const char *name,
                                                uint32_t min_available);

/*
 * Wraps (encrypts) a short secret under a key. version 0 means the newest
 * version allowed for encryption; *used_version receives the version used.
 * The keystore always binds the key's name, version and type into the
 * associated data ahead of the caller's aad, so a wrapped secret cannot be
 * replayed under another key or version.
 * Symmetric keys: out = nonce(12) || ciphertext || tag(16), with aad bound.
 * x25519: out = HPKE base-mode enc(32) || ciphertext || tag(16), info
 * "sealflow kek x25519", aad bound. RSA: OAEP-SHA256 with label aad.
 */
SF_API SF_MUST_CHECK sf_status sf_keystore_wrap(
    struct sf_keystore *ks, const char *name, uint32_t version,
    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
    struct sf_buf *out, uint32_t *used_version);

/* Unwraps what sf_keystore_wrap produced. SF_ERR_KEY_VERSION (message
 * names key, version and minimum) when version < min_decryption_version;
 * SF_ERR_AUTH when the data or aad do not match. */
SF_API SF_MUST_CHECK sf_status sf_keystore_unwrap(
    struct sf_keystore *ks, const char *name, uint32_t version,
    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
    struct sf_secret **out);

/* Appends the public key of an asymmetric key version (0 = latest) in the
 * recipient string form (see envelope.h): "sealflow-x25519:..." or a PEM
 * public key for RSA. SF_ERR_KEY_TYPE for symmetric keys. */
SF_API SF_MUST_CHECK sf_status sf_keystore_public_key(
    struct sf_keystore *ks, const char *name, uint32_t version,
    struct sf_buf *out);

#ifdef __cplusplus
}
#endif
#endif
