/*
 * The keystore: named, typed, versioned key-encryption keys (KEKs).
 *
 * The embedded default is one SQLite file. Every key version's material is
 * stored encrypted under the root key (AES-256-GCM, with the key name,
 * version, type and the version's creation time as associated data), so
 * the file alone reveals nothing and an edited creation time is noticed,
 * and every key's settings carry a MAC under a key derived from the root
 * key, so settings edited in the file are refused (an older copy of the
 * whole file is not detected: docs/KEYSTORE.md, "Limitations").
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

/* Length of a root key in bytes. */
#define SF_ROOT_KEY_LEN 32

/* Largest secret sf_keystore_wrap accepts (RSA keys take far less: 318
 * bytes for rsa-3072, 446 for rsa-4096). */
#define SF_KEYSTORE_WRAP_MAX (1024 * 1024)

/* Bytes a wrap adds to the secret: symmetric keys (24 random bytes and
 * a 16-byte tag) and x25519 keys (HPKE enc and tag). An RSA wrap is the
 * modulus length (384 or 512 bytes) whatever the secret's size. */
#define SF_KEYSTORE_SYM_OVERHEAD 40
#define SF_KEYSTORE_X25519_OVERHEAD 48

/* How often, by default, a handle checks whether another handle or
 * process changed the keystore (see sf_keystore_set_refresh_ms). */
#define SF_KEYSTORE_REFRESH_MS 100

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
 *
 * '/' separates segments, and no segment may be "." or ".." either
 * ("a/../b" is refused), so a name never changes meaning when a URL path
 * holding it is normalised. A "non-ASCII letter" is any well-formed UTF-8
 * code point from U+00A1 up, except U+2000-U+200F, U+2028-U+202F,
 * U+205F-U+206F, U+3000, U+FEFF and U+FFF0-U+FFFF (spaces, separators,
 * format and special characters); docs/KEYSTORE.md has the full rule.
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

/* One available version of a key. */
struct sf_key_version_info {
    uint32_t version;
    int64_t created_at; /* Unix seconds */
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

/* Loads a root key file. CRLF line ends and trailing whitespace are
 * accepted. SF_ERR_ROOT_KEY (with the reason in sf_last_error()) when the
 * file is missing or unreadable, is not in the format, does not hold
 * exactly 32 bytes, or is accessible by group or others (the message says
 * to run chmod 600). *out receives a secret the caller frees. */
SF_API SF_MUST_CHECK sf_status sf_root_key_load(const char *path,
                                                struct sf_secret **out);

/* Appends the default keystore folder (no trailing NUL counted, but the
 * buffer is NUL-terminated): $SEALFLOW_HOME when set and not empty, else
 * $XDG_DATA_HOME/sealflow when XDG_DATA_HOME is an absolute path, else
 * $HOME/.local/share/sealflow. The folder is not created. The CLI keeps
 * keystore.db and root.key inside it. SF_ERR_INVALID_ARG when none of
 * these variables is set. */
SF_API SF_MUST_CHECK sf_status sf_keystore_default_path(struct sf_buf *dir);

/* Creates a new, empty keystore at path bound to root_key (which must be
 * SF_ROOT_KEY_LEN bytes: SF_ERR_ROOT_KEY otherwise). The file gets mode
 * 0600. Refuses an existing file (SF_ERR_IO); on any failure no file is
 * left behind. The handle keeps no copy of root_key, only keys derived
 * from it. */
SF_API SF_MUST_CHECK sf_status sf_keystore_create(
    const char *path, const struct sf_secret *root_key,
    struct sf_keystore **out);

/* Opens an existing keystore. SF_ERR_ROOT_KEY when root_key is not the one
 * it was created with; SF_ERR_STORE when the file is not a keystore (a
 * zero-byte file: "not a sealflow keystore (empty file)");
 * SF_ERR_IO when it does not exist; SF_ERR_UNSUPPORTED when its schema is
 * newer than this library, or an older one it no longer opens. A schema
 * version 2 file is upgraded in place, in one transaction, once the root
 * key proved right (docs/KEYSTORE.md, "Upgrading from schema version 2");
 * SF_ERR_STORE, leaving it unchanged, when a row was modified outside
 * sealflow. The file must be writable (SQLite's WAL mode writes beside it
 * even to read).
 *
 * The file is first opened read-only and checked (a meta table, a schema
 * version this library opens, the root key's check value) without any
 * write: only a file that passes is opened for writing and put in WAL
 * mode, so an empty file or another application's SQLite database is
 * refused and left as it was (beside a file already in WAL mode, SQLite's
 * reader may leave an empty -wal file and a -shm index).
 *
 * Every key's settings (the sf_key_info fields) carry a MAC under a key
 * derived from the root key. Every call that reads them from the file
 * (key_info, list, the changes, a wrap or unwrap that loads the key)
 * checks it first: SF_ERR_STORE ("the keystore settings for key 'X' were
 * modified outside sealflow") when they were edited. */
SF_API SF_MUST_CHECK sf_status sf_keystore_open(
    const char *path, const struct sf_secret *root_key,
    struct sf_keystore **out);

SF_API void sf_keystore_close(struct sf_keystore *ks);

/*
 * Sets how often this handle checks whether the keystore file was changed
 * by another handle or process (rotation, config, trim, delete); 0 checks
 * on every wrap and unwrap. The default is SF_KEYSTORE_REFRESH_MS. Such a
 * change is seen by wrap and unwrap on this handle at most ms milliseconds
 * after it was committed; every other call reads the file directly, and
 * changes made through this handle are seen at once. An unwrap of a
 * version newer than this handle knows re-reads the key at once.
 */
SF_API void sf_keystore_set_refresh_ms(struct sf_keystore *ks, unsigned ms);

/* Creates version 1 of a new key. */
SF_API SF_MUST_CHECK sf_status sf_keystore_create_key(
    struct sf_keystore *ks, const char *name, enum sf_key_type type,
    struct sf_key_info *info);

SF_API SF_MUST_CHECK sf_status sf_keystore_key_info(struct sf_keystore *ks,
                                                    const char *name,
                                                    struct sf_key_info *out);

/*
 * Lists the available versions of a key, min_available_version to
 * latest_version in ascending order, each with its creation time; *out
 * is malloc'd (free with free()) and *count is latest - min_available
 * + 1. Each time is authenticated: it is part of the associated data
 * that seals the version's material under the root key, so every version
 * row is opened (and its material wiped at once) on each call.
 * SF_ERR_KEY_NOT_FOUND, SF_ERR_KEY_NAME, SF_ERR_STORE (a settings MAC or
 * a version that does not authenticate, a missing version row: the file
 * was modified outside sealflow). On failure *out is NULL and *count 0.
 * Reads the file directly (no cache) inside one transaction that holds
 * the write lock while it reads, so no rotation or trim by another
 * process lands between the key row and its versions.
 */
SF_API SF_MUST_CHECK sf_status sf_keystore_versions(
    struct sf_keystore *ks, const char *name,
    struct sf_key_version_info **out, size_t *count);

/* Lists keys in name order; *out is malloc'd (free with free()). */
SF_API SF_MUST_CHECK sf_status sf_keystore_list(struct sf_keystore *ks,
                                                struct sf_key_info **out,
                                                size_t *count);

/* Adds a version in one transaction; *new_version may be NULL. New
 * material is generated before the transaction starts (RSA takes
 * seconds), so other writers wait only for the write itself. */
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
 * replayed under another key or version. The binding is
 * "sealflow kek v1" || 0x00 || u8 name length || name || u32 version (big
 * endian) || u8 type (the enum value); docs/KEYSTORE.md, "Wrapping".
 * Symmetric keys: out = r(24) || ciphertext || tag(16), r random; the
 * AEAD of the key's type uses the subkey HKDF-SHA256(IKM = the version's
 * key, salt = r[0..12), info "sealflow keystore wrap v1", 32 bytes), the
 * nonce r[12..24) and binding || aad as associated data. A fresh subkey
 * per wrap puts no practical limit on wraps per version.
 * x25519: out = HPKE base-mode enc(32) || ciphertext || tag(16)
 * (DHKEM-X25519, HKDF-SHA256, AES-256-GCM), info "sealflow kek x25519",
 * binding || aad as associated data.
 * RSA: OAEP-SHA256 (MGF1-SHA256) with label binding || aad; out is the
 * modulus length.
 * The wrapped bytes are appended to out; on failure out keeps its old
 * length. pt_len is 0 to SF_KEYSTORE_WRAP_MAX (SF_ERR_LIMIT above); pt
 * may be NULL when pt_len is 0. An empty secret is a valid message for
 * every type: its wrap is the overhead alone (symmetric, x25519) or one
 * modulus (RSA), and it still authenticates the binding and aad.
 * SF_ERR_KEY_NOT_FOUND,
 * SF_ERR_KEY_VERSION (a version that does not exist, was trimmed, or is
 * below min_decryption_version or min_encryption_version), SF_ERR_STORE
 * (the stored material failed authentication: the file was modified).
 * Uses cached key material: no file access per call (see
 * sf_keystore_set_refresh_ms).
 */
SF_API SF_MUST_CHECK sf_status sf_keystore_wrap(
    struct sf_keystore *ks, const char *name, uint32_t version,
    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
    struct sf_buf *out, uint32_t *used_version);

/* Unwraps what sf_keystore_wrap produced. version is the one wrap used (0
 * is SF_ERR_KEY_VERSION). SF_ERR_KEY_VERSION (message names key, version
 * and minimum, e.g. "key 'orders' version 1 is below
 * min_decryption_version 2") when version < min_decryption_version, was
 * trimmed, or is above the latest; SF_ERR_AUTH when the data or aad do
 * not match (one status for every such case, so it is no oracle).
 * *out receives the secret (caller frees); NULL on failure.
 *
 * Limitation: struct sf_secret cannot hold zero bytes (sf_secret_new
 * refuses a length of 0), so when the wrapped secret was empty this
 * returns SF_OK with *out NULL. sf_secret_len(NULL) is 0, so a caller
 * that checks the length it expects (a data key) refuses it as it
 * refuses any secret of the wrong size.
 */
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

/* Longest public key fingerprint, with its NUL ("x25519:" or "rsa:"
 * and 16 hex digits fit with room to spare). */
#define SF_KEYSTORE_FINGERPRINT_MAX 32

/*
 * Finds the asymmetric key version whose public key has this
 * fingerprint: "x25519:" followed by the first 8 bytes of SHA-256 of the
 * raw 32-byte public key, or "rsa:" followed by the first 8 bytes of
 * SHA-256 of its SubjectPublicKeyInfo DER, in lower-case hex; the key
 * id a partner's envelope writes when sealing to the string
 * sf_keystore_public_key gives (docs/FORMAT.md, "Stanzas"). Every
 * available version of every x25519 and RSA key is searched.
 * On success name_out receives the key's name and *version the version.
 * SF_ERR_KEY_NOT_FOUND when no available version has that fingerprint
 * (trimmed versions are gone); SF_ERR_KEY_VERSION when the version is
 * below the key's min_decryption_version, with the message unwrap gives
 * ("key 'inbox' version 1 is below min_decryption_version 2");
 * SF_ERR_STORE when a key's settings were modified outside sealflow.
 * On failure name_out is "" and *version 0.
 * The fingerprints are computed from the stored public parts and kept
 * in memory; after a change (through this handle at once, by another
 * handle or process as sf_keystore_set_refresh_ms says) they are read
 * again. A public part is checked against its private key when the
 * version is used (sf_keystore_unwrap_external), not here.
 */
SF_API SF_MUST_CHECK sf_status sf_keystore_find_public(
    struct sf_keystore *ks, const char *fingerprint,
    char name_out[SF_KEY_NAME_MAX + 1], uint32_t *version);

/*
 * Opens, with the private part of an asymmetric key version, what a
 * sender made with only its public key, without the keystore's binding
 * (which sf_keystore_unwrap always adds):
 * x25519: ct = enc(32) || ciphertext || tag(16), opened with RFC 9180
 * HPKE base mode (DHKEM-X25519, HKDF-SHA256, AES-256-GCM) with the
 * caller's info and aad. info may not be the keystore's own
 * "sealflow kek x25519" (SF_ERR_INVALID_ARG), so this call never opens
 * what sf_keystore_wrap produced.
 * RSA: RSAES-OAEP with SHA-256 and MGF1-SHA-256, label = aad; info must
 * be empty, and a label starting like the keystore's binding
 * ("sealflow kek v1" || 0x00) is refused (SF_ERR_INVALID_ARG), for the
 * same reason.
 * version must be given (0 is SF_ERR_KEY_VERSION) and is checked as for
 * sf_keystore_unwrap: SF_ERR_KEY_VERSION naming key, version and minimum
 * when it is below min_decryption_version, trimmed or above the latest.
 * SF_ERR_KEY_TYPE for a symmetric key; SF_ERR_AUTH (one status for
 * every such case) when ct, info or aad do not match.
 * *out receives the secret (caller frees), NULL on failure; an empty
 * secret gives SF_OK with *out NULL, as for sf_keystore_unwrap.
 */
SF_API SF_MUST_CHECK sf_status sf_keystore_unwrap_external(
    struct sf_keystore *ks, const char *name, uint32_t version,
    const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len, struct sf_secret **out);

#ifdef __cplusplus
}
#endif
#endif
