#include <string.h>

#include "aead.h"
#include "error.h"
#include "kdf.h"
#include "keystore_seal.h"
#include "rsa_oaep.h"
#include "x25519.h"

#define SYM_KEY_LEN 32

/* One HKDF-SHA256 derivation from the root key into a new secret. */
static sf_status derive_key(const struct sf_secret *root, const char *info,
                            struct sf_secret **out)
{
    sf_status rc = sf_secret_new(SYM_KEY_LEN, out);

    if (rc == SF_OK) {
        rc = sf_hkdf(SF_MD_SHA256, NULL, 0, sf_secret_cdata(root),
                     SF_ROOT_KEY_LEN, (const uint8_t *)info, strlen(info),
                     sf_secret_data(*out), SYM_KEY_LEN);
    }
    return rc;
}

sf_status ks_root_derive(const struct sf_secret *root,
                         struct sf_secret **seal_key,
                         struct sf_secret **settings_key,
                         uint8_t check[KS_CHECK_LEN])
{
    sf_status rc;

    *seal_key = NULL;
    *settings_key = NULL;
    if (sf_secret_len(root) != SF_ROOT_KEY_LEN) {
        return sf_fail(SF_ERR_ROOT_KEY, "a root key is %d bytes, not %zu",
                       SF_ROOT_KEY_LEN, sf_secret_len(root));
    }
    rc = sf_hmac(SF_MD_SHA256, sf_secret_cdata(root), SF_ROOT_KEY_LEN,
                 (const uint8_t *)KS_CHECK_LABEL, sizeof KS_CHECK_LABEL - 1,
                 check);
    if (rc == SF_OK) {
        rc = derive_key(root, KS_SEAL_INFO, seal_key);
    }
    if (rc == SF_OK) {
        rc = derive_key(root, KS_SETTINGS_INFO, settings_key);
    }
    if (rc != SF_OK) {
        sf_secret_free(*seal_key);
        *seal_key = NULL;
        sf_secret_free(*settings_key);
        *settings_key = NULL;
        sf_wipe(check, KS_CHECK_LEN);
    }
    return rc;
}

/* Big-endian integers, as every format in docs/KEYSTORE.md has them. */
static size_t put_be(uint8_t *out, uint64_t v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
    }
    return len;
}

size_t ks_settings_encode(const struct sf_key_info *k, uint8_t *out)
{
    size_t label_len = sizeof KS_SETTINGS_LABEL - 1;
    size_t name_len = strnlen(k->name, SF_KEY_NAME_MAX);
    size_t n = 0;

    memcpy(out, KS_SETTINGS_LABEL, label_len);
    n += label_len;
    out[n++] = 0;
    out[n++] = (uint8_t)name_len;
    memcpy(out + n, k->name, name_len);
    n += name_len;
    out[n++] = (uint8_t)k->type;
    n += put_be(out + n, k->latest_version, 4);
    n += put_be(out + n, k->min_available_version, 4);
    n += put_be(out + n, k->min_decryption_version, 4);
    n += put_be(out + n, k->min_encryption_version, 4);
    out[n++] = k->deletion_allowed ? 1 : 0;
    n += put_be(out + n, k->rotation_period_s, 8);
    n += put_be(out + n, (uint64_t)k->created_at, 8);
    n += put_be(out + n, (uint64_t)k->latest_created_at, 8);
    return n;
}

sf_status ks_settings_seal(const struct sf_secret *settings_key,
                           struct ks_key_row *row)
{
    uint8_t msg[KS_SETTINGS_MAX];
    size_t n = ks_settings_encode(&row->info, msg);

    return sf_hmac(SF_MD_SHA256, sf_secret_cdata(settings_key),
                   sf_secret_len(settings_key), msg, n, row->mac);
}

sf_status ks_settings_check(const struct sf_secret *settings_key,
                            const struct ks_key_row *row)
{
    uint8_t msg[KS_SETTINGS_MAX];
    uint8_t mac[KS_SETTINGS_MAC_LEN];
    size_t n = ks_settings_encode(&row->info, msg);
    sf_status rc;

    rc = sf_hmac(SF_MD_SHA256, sf_secret_cdata(settings_key),
                 sf_secret_len(settings_key), msg, n, mac);
    if (rc == SF_OK && !sf_ct_equal(mac, row->mac, sizeof mac)) {
        rc = sf_fail(SF_ERR_STORE,
                     "the keystore settings for key '%s' were modified "
                     "outside sealflow (their MAC does not match); restore "
                     "the keystore file from a backup",
                     row->info.name);
    }
    sf_wipe(mac, sizeof mac);
    return rc;
}

sf_status ks_sym_subkey(const struct sf_secret *kek,
                        const uint8_t salt[KS_SYM_SALT_LEN],
                        uint8_t subkey[KS_SYM_KEY_LEN])
{
    return sf_hkdf(SF_MD_SHA256, salt, KS_SYM_SALT_LEN, sf_secret_cdata(kek),
                   sf_secret_len(kek), (const uint8_t *)KS_SYM_WRAP_INFO,
                   sizeof KS_SYM_WRAP_INFO - 1, subkey, KS_SYM_KEY_LEN);
}

size_t ks_binding(const char *label, const char *name, uint32_t version,
                  enum sf_key_type type, uint8_t *out)
{
    size_t label_len = strlen(label);
    size_t name_len = strnlen(name, SF_KEY_NAME_MAX);
    size_t n = 0;

    memcpy(out, label, label_len);
    n += label_len;
    out[n++] = 0;
    out[n++] = (uint8_t)name_len;
    memcpy(out + n, name, name_len);
    n += name_len;
    out[n++] = (uint8_t)(version >> 24);
    out[n++] = (uint8_t)(version >> 16);
    out[n++] = (uint8_t)(version >> 8);
    out[n++] = (uint8_t)version;
    out[n++] = (uint8_t)type;
    return n;
}

size_t ks_material_aad(const char *name, uint32_t version,
                       enum sf_key_type type, int64_t created_at,
                       uint8_t *out)
{
    size_t n = ks_binding(KS_MATERIAL_LABEL, name, version, type, out);

    return n + put_be(out + n, (uint64_t)created_at, 8);
}

sf_status ks_material_seal(const struct sf_secret *seal_key, const char *name,
                           uint32_t version, enum sf_key_type type,
                           int64_t created_at,
                           const struct sf_secret *material,
                           struct sf_buf *sealed)
{
    uint8_t aad[KS_MATERIAL_AAD_MAX];
    size_t aad_len;
    size_t pt_len = sf_secret_len(material);
    struct sf_aead *a = NULL;
    size_t start = sealed->len;
    uint8_t *p;
    sf_status rc;

    aad_len = ks_material_aad(name, version, type, created_at, aad);
    rc = sf_buf_reserve(sealed, SF_AEAD_NONCE_LEN + pt_len + SF_AEAD_TAG_LEN);
    if (rc == SF_OK) {
        rc = sf_aead_new(SF_AEAD_AES_256_GCM, sf_secret_cdata(seal_key),
                         sf_secret_len(seal_key), &a);
    }
    if (rc != SF_OK) {
        goto out;
    }
    p = sealed->data + start;
    rc = sf_random(p, SF_AEAD_NONCE_LEN);
    if (rc == SF_OK) {
        rc =
            sf_aead_seal(a, p, aad, aad_len, sf_secret_cdata(material), pt_len,
                         p + SF_AEAD_NONCE_LEN, p + SF_AEAD_NONCE_LEN + pt_len);
    }
    if (rc == SF_OK) {
        sealed->len = start + SF_AEAD_NONCE_LEN + pt_len + SF_AEAD_TAG_LEN;
    }

out:
    sf_aead_free(a);
    return rc;
}

/* Opens sealed material under the given associated data. */
static sf_status material_open(const struct sf_secret *seal_key,
                               const char *name, uint32_t version,
                               const uint8_t *aad, size_t aad_len,
                               const uint8_t *sealed, size_t sealed_len,
                               struct sf_secret **material)
{
    struct sf_aead *a = NULL;
    size_t pt_len;
    sf_status rc;

    *material = NULL;
    if (sealed_len <= SF_AEAD_NONCE_LEN + SF_AEAD_TAG_LEN) {
        rc = SF_ERR_AUTH;
        goto out;
    }
    pt_len = sealed_len - SF_AEAD_NONCE_LEN - SF_AEAD_TAG_LEN;
    rc = sf_aead_new(SF_AEAD_AES_256_GCM, sf_secret_cdata(seal_key),
                     sf_secret_len(seal_key), &a);
    if (rc == SF_OK) {
        rc = sf_secret_new(pt_len, material);
    }
    if (rc == SF_OK) {
        rc = sf_aead_open(a, sealed, aad, aad_len, sealed + SF_AEAD_NONCE_LEN,
                          pt_len, sealed + SF_AEAD_NONCE_LEN + pt_len,
                          sf_secret_data(*material));
    }

out:
    sf_aead_free(a);
    if (rc != SF_OK) {
        sf_secret_free(*material);
        *material = NULL;
    }
    if (rc == SF_ERR_AUTH) {
        rc = sf_fail(SF_ERR_STORE,
                     "the stored material of key '%s' version %u failed "
                     "authentication: the keystore file was modified (the "
                     "material or the version's creation time), or rows "
                     "were moved between keys or versions",
                     name, (unsigned)version);
    }
    return rc;
}

sf_status ks_material_open(const struct sf_secret *seal_key, const char *name,
                           uint32_t version, enum sf_key_type type,
                           int64_t created_at, const uint8_t *sealed,
                           size_t sealed_len, struct sf_secret **material)
{
    uint8_t aad[KS_MATERIAL_AAD_MAX];
    size_t aad_len = ks_material_aad(name, version, type, created_at, aad);

    return material_open(seal_key, name, version, aad, aad_len, sealed,
                         sealed_len, material);
}

sf_status ks_material_open_v1(const struct sf_secret *seal_key,
                              const char *name, uint32_t version,
                              enum sf_key_type type, const uint8_t *sealed,
                              size_t sealed_len, struct sf_secret **material)
{
    uint8_t aad[KS_BINDING_MAX];
    size_t aad_len =
        ks_binding(KS_MATERIAL_LABEL_V1, name, version, type, aad);

    return material_open(seal_key, name, version, aad, aad_len, sealed,
                         sealed_len, material);
}

static sf_status generate_x25519(struct sf_secret **material,
                                 struct sf_buf *public_part)
{
    uint8_t pub[SF_X25519_LEN];
    sf_status rc;

    rc = sf_secret_new(SF_X25519_LEN, material);
    if (rc == SF_OK) {
        rc = sf_x25519_keygen(sf_secret_data(*material), pub);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(public_part, pub, sizeof pub);
    }
    return rc;
}

static sf_status generate_rsa(unsigned bits, struct sf_secret **material,
                              struct sf_buf *public_part)
{
    struct sf_buf der = SF_BUF_INIT;
    struct sf_rsa_key *k = NULL;
    sf_status rc;

    rc = sf_rsa_generate(bits, &k);
    if (rc == SF_OK) {
        rc = sf_rsa_to_der(k, true, &der);
    }
    if (rc == SF_OK) {
        rc = sf_secret_from(der.data, der.len, material);
    }
    if (rc == SF_OK) {
        rc = sf_rsa_to_der(k, false, public_part);
    }
    sf_buf_free(&der);
    sf_rsa_free(k);
    return rc;
}

sf_status ks_material_generate(enum sf_key_type type,
                               struct sf_secret **material,
                               struct sf_buf *public_part)
{
    sf_status rc;

    *material = NULL;
    switch (type) {
    case SF_KEY_AES256_GCM96:
    case SF_KEY_CHACHA20_POLY1305:
        rc = sf_secret_random(SYM_KEY_LEN, material);
        break;
    case SF_KEY_X25519:
        rc = generate_x25519(material, public_part);
        break;
    case SF_KEY_RSA_3072:
        rc = generate_rsa(3072, material, public_part);
        break;
    case SF_KEY_RSA_4096:
        rc = generate_rsa(4096, material, public_part);
        break;
    default:
        rc = sf_fail(SF_ERR_UNSUPPORTED, "unknown key type %d", (int)type);
        break;
    }
    if (rc != SF_OK) {
        sf_secret_free(*material);
        *material = NULL;
        sf_buf_reset(public_part);
    }
    return rc;
}
