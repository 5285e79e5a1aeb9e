/*
 * Internal: how the keystore protects key material at rest, and the
 * binding it puts in front of every wrap's associated data.
 * docs/KEYSTORE.md, "Material sealing" and "Wrapping", is the
 * specification; any change here is a new keystore format.
 */
#ifndef SF_KEYSTORE_SEAL_H
#define SF_KEYSTORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/keystore.h"
#include "sealflow/secret.h"

#define KS_MATERIAL_LABEL "sealflow keystore material v1"
#define KS_WRAP_LABEL "sealflow kek v1"
#define KS_SEAL_INFO "sealflow keystore material key v1"
#define KS_CHECK_LABEL "sealflow keystore root key check v1"
#define KS_CHECK_LEN 32
#define KS_X25519_INFO "sealflow kek x25519"

/* Longest binding: label, NUL, name length, name, version, type. */
#define KS_BINDING_MAX (sizeof KS_MATERIAL_LABEL + 1 + SF_KEY_NAME_MAX + 5)

/*
 * From the root key, derives the material sealing key (HKDF-SHA256,
 * info KS_SEAL_INFO) and the check value stored in the keystore
 * (HMAC-SHA256 of KS_CHECK_LABEL). Separate derivations keep the one
 * value that is stored in clear unrelated to the sealing key.
 */
sf_status ks_root_derive(const struct sf_secret *root,
                         struct sf_secret **seal_key,
                         uint8_t check[KS_CHECK_LEN]);

/* Writes label || 0x00 || u8 name length || name || u32 version (big
 * endian) || u8 type into out (KS_BINDING_MAX bytes) and returns its
 * length. name must pass sf_key_name_check. */
size_t ks_binding(const char *label, const char *name, uint32_t version,
                  enum sf_key_type type, uint8_t *out);

/* Seals material with AES-256-GCM under seal_key, a random nonce and the
 * KS_MATERIAL_LABEL binding as associated data; appends nonce(12) ||
 * ciphertext || tag(16) to sealed. */
sf_status ks_material_seal(const struct sf_secret *seal_key, const char *name,
                           uint32_t version, enum sf_key_type type,
                           const struct sf_secret *material,
                           struct sf_buf *sealed);

/* Opens what ks_material_seal produced. SF_ERR_STORE (naming key and
 * version) when it fails authentication: the file was edited, or rows
 * were moved between keys, versions or types. */
sf_status ks_material_open(const struct sf_secret *seal_key, const char *name,
                           uint32_t version, enum sf_key_type type,
                           const uint8_t *sealed, size_t sealed_len,
                           struct sf_secret **material);

/* Generates the material of a new version: for symmetric types 32 random
 * bytes; for x25519 the private key (public part: the 32-byte public
 * key); for RSA the PKCS#8 DER private key (public part: the
 * SubjectPublicKeyInfo DER). RSA generation takes seconds: call it
 * outside any lock. */
sf_status ks_material_generate(enum sf_key_type type,
                               struct sf_secret **material,
                               struct sf_buf *public_part);

#endif
