/*
 * Internal: how the keystore protects key material and key settings at
 * rest, the binding it puts in front of every wrap's associated data, and
 * the per-wrap key of symmetric wraps. docs/KEYSTORE.md ("Keys derived
 * from the root key", "Material sealing", "Settings MAC", "Wrapping") is
 * the specification; any change here is a new keystore format.
 */
#ifndef SF_KEYSTORE_SEAL_H
#define SF_KEYSTORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "keystore_store.h"
#include "sealflow/buf.h"
#include "sealflow/keystore.h"
#include "sealflow/secret.h"

#define KS_MATERIAL_LABEL "sealflow keystore material v2"
/* The label of schema version 2 files, read only to upgrade them. */
#define KS_MATERIAL_LABEL_V1 "sealflow keystore material v1"
#define KS_WRAP_LABEL "sealflow kek v1"
#define KS_SEAL_INFO "sealflow keystore material key v1"
#define KS_CHECK_LABEL "sealflow keystore root key check v1"
#define KS_CHECK_LEN 32
#define KS_X25519_INFO "sealflow kek x25519"
#define KS_SETTINGS_INFO "sealflow keystore settings mac key v1"
#define KS_SETTINGS_LABEL "sealflow keystore settings v1"
#define KS_SYM_WRAP_INFO "sealflow keystore wrap v1"

/* A symmetric wrap starts with KS_SYM_RANDOM_LEN random bytes: the HKDF
 * salt of its subkey (KS_SYM_SALT_LEN) and then the AEAD nonce. */
#define KS_SYM_SALT_LEN 12
#define KS_SYM_RANDOM_LEN (KS_SYM_SALT_LEN + 12)
#define KS_SYM_KEY_LEN 32

/* Longest settings MAC input: label, NUL, name length, name, type, four
 * u32 versions, deletion flag, u64 period, two i64 times. */
#define KS_SETTINGS_MAX                                                        \
    (sizeof KS_SETTINGS_LABEL + 1 + SF_KEY_NAME_MAX + 1 + 16 + 1 + 24)

/* Longest binding: label, NUL, name length, name, version, type. */
#define KS_BINDING_MAX (sizeof KS_MATERIAL_LABEL + 1 + SF_KEY_NAME_MAX + 5)

/* Longest material associated data: a binding and an i64 time. */
#define KS_MATERIAL_AAD_MAX (KS_BINDING_MAX + 8)

/*
 * From the root key, derives the material sealing key (HKDF-SHA256,
 * info KS_SEAL_INFO), the settings MAC key (HKDF-SHA256, info
 * KS_SETTINGS_INFO) and the check value stored in the keystore
 * (HMAC-SHA256 of KS_CHECK_LABEL). Separate derivations keep each key
 * unrelated to the others and to the one value stored in clear. On
 * failure both keys are NULL and check is wiped.
 */
sf_status ks_root_derive(const struct sf_secret *root,
                         struct sf_secret **seal_key,
                         struct sf_secret **settings_key,
                         uint8_t check[KS_CHECK_LEN]);

/* Writes the settings MAC input of k into out (KS_SETTINGS_MAX bytes)
 * and returns its length; docs/KEYSTORE.md, "Settings MAC". k->name must
 * pass sf_key_name_check. */
size_t ks_settings_encode(const struct sf_key_info *k, uint8_t *out);

/* Computes the settings MAC of row->info into row->mac. */
sf_status ks_settings_seal(const struct sf_secret *settings_key,
                           struct ks_key_row *row);

/*
 * Checks row->mac in constant time. SF_ERR_STORE ("the keystore settings
 * for key 'X' were modified outside sealflow") when it does not match.
 *
 * Limitation: the MAC shows that sealflow wrote these settings with this
 * root key, not that they are the newest: an older copy of the file, or
 * an older row of one key with its MAC, still passes. Detecting that
 * needs a monotonic counter kept outside the file, which the embedded
 * keystore has nowhere to keep; meanwhile file permissions and backups
 * out of an attacker's reach are the defence (docs/KEYSTORE.md).
 */
sf_status ks_settings_check(const struct sf_secret *settings_key,
                            const struct ks_key_row *row);

/* The subkey of one symmetric wrap: HKDF-SHA256 with the version's key
 * as IKM, salt (KS_SYM_SALT_LEN bytes, the start of the wrap) and info
 * KS_SYM_WRAP_INFO; KS_SYM_KEY_LEN bytes into subkey (secret: the
 * caller wipes it). */
sf_status ks_sym_subkey(const struct sf_secret *kek,
                        const uint8_t salt[KS_SYM_SALT_LEN],
                        uint8_t subkey[KS_SYM_KEY_LEN]);

/* Writes label || 0x00 || u8 name length || name || u32 version (big
 * endian) || u8 type into out (KS_BINDING_MAX bytes) and returns its
 * length. name must pass sf_key_name_check. */
size_t ks_binding(const char *label, const char *name, uint32_t version,
                  enum sf_key_type type, uint8_t *out);

/*
 * The associated data that seals a version's material: the
 * KS_MATERIAL_LABEL binding of name, version and type followed by the
 * version's creation time (i64, big endian), so the created_at column of
 * a version row is authenticated together with its material. Writes it
 * into out (KS_MATERIAL_AAD_MAX bytes) and returns its length.
 */
size_t ks_material_aad(const char *name, uint32_t version,
                       enum sf_key_type type, int64_t created_at,
                       uint8_t *out);

/* Seals material with AES-256-GCM under seal_key, a random nonce and
 * ks_material_aad() as associated data; appends nonce(12) || ciphertext
 * || tag(16) to sealed. */
sf_status ks_material_seal(const struct sf_secret *seal_key, const char *name,
                           uint32_t version, enum sf_key_type type,
                           int64_t created_at,
                           const struct sf_secret *material,
                           struct sf_buf *sealed);

/* Opens what ks_material_seal produced. SF_ERR_STORE (naming key and
 * version) when it fails authentication: the file was edited (material
 * or creation time), or rows were moved between keys, versions or
 * types. */
sf_status ks_material_open(const struct sf_secret *seal_key, const char *name,
                           uint32_t version, enum sf_key_type type,
                           int64_t created_at, const uint8_t *sealed,
                           size_t sealed_len, struct sf_secret **material);

/* Opens material sealed by schema version 2 (KS_MATERIAL_LABEL_V1
 * binding, no creation time); used only to upgrade such a file. The
 * same failures as ks_material_open. */
sf_status ks_material_open_v1(const struct sf_secret *seal_key,
                              const char *name, uint32_t version,
                              enum sf_key_type type, const uint8_t *sealed,
                              size_t sealed_len, struct sf_secret **material);

/* Generates the material of a new version: for symmetric types 32 random
 * bytes; for x25519 the private key (public part: the 32-byte public
 * key); for RSA the PKCS#8 DER private key (public part: the
 * SubjectPublicKeyInfo DER). RSA generation takes seconds: call it
 * outside any lock. */
sf_status ks_material_generate(enum sf_key_type type,
                               struct sf_secret **material,
                               struct sf_buf *public_part);

#endif
