#include <openssl/err.h>
#include <openssl/evp.h>

#include "error.h"
#include "sealflow/secret.h"
#include "x25519.h"

sf_status sf_x25519_keygen(uint8_t priv[SF_X25519_LEN],
                           uint8_t pub[SF_X25519_LEN])
{
    EVP_PKEY *key = NULL;
    size_t priv_len = SF_X25519_LEN;
    size_t pub_len = SF_X25519_LEN;
    sf_status rc = SF_OK;

    if (priv == NULL || pub == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "x25519 keygen: NULL buffer");
    }
    key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (key == NULL ||
        EVP_PKEY_get_raw_private_key(key, priv, &priv_len) != 1 ||
        EVP_PKEY_get_raw_public_key(key, pub, &pub_len) != 1 ||
        priv_len != SF_X25519_LEN || pub_len != SF_X25519_LEN) {
        rc = sf_fail(SF_ERR_CRYPTO, "x25519 keygen: OpenSSL failed");
        sf_wipe(priv, SF_X25519_LEN);
        sf_wipe(pub, SF_X25519_LEN);
    }
    EVP_PKEY_free(key);
    return rc;
}

sf_status sf_x25519_public(const uint8_t priv[SF_X25519_LEN],
                           uint8_t pub[SF_X25519_LEN])
{
    EVP_PKEY *key = NULL;
    size_t pub_len = SF_X25519_LEN;
    sf_status rc = SF_OK;

    if (priv == NULL || pub == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "x25519 public: NULL buffer");
    }
    key = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
                                          SF_X25519_LEN);
    if (key == NULL || EVP_PKEY_get_raw_public_key(key, pub, &pub_len) != 1 ||
        pub_len != SF_X25519_LEN) {
        rc = sf_fail(SF_ERR_CRYPTO, "x25519 public: OpenSSL failed");
        sf_wipe(pub, SF_X25519_LEN);
    }
    EVP_PKEY_free(key);
    return rc;
}

/* Runs the DH derivation; returns 0 when OpenSSL refuses it. OpenSSL
 * itself refuses an all-zero result, which is then reported by the caller
 * as a bad peer key. */
static int derive(EVP_PKEY *key, EVP_PKEY *peer, uint8_t *shared)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    size_t len = SF_X25519_LEN;
    int ok;

    /* Peer validation is off: X25519 accepts any 32-byte string (RFC 7748
     * section 5); degenerate points are caught by the zero check. */
    ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
         EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1 &&
         EVP_PKEY_derive(ctx, shared, &len) == 1 && len == SF_X25519_LEN;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

sf_status sf_x25519_shared(const uint8_t priv[SF_X25519_LEN],
                           const uint8_t peer[SF_X25519_LEN],
                           uint8_t shared[SF_X25519_LEN])
{
    static const uint8_t zero[SF_X25519_LEN];
    EVP_PKEY *key = NULL;
    EVP_PKEY *peer_key = NULL;
    sf_status rc = SF_OK;

    if (priv == NULL || peer == NULL || shared == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "x25519 shared: NULL buffer");
    }
    key = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
                                          SF_X25519_LEN);
    peer_key = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer,
                                              SF_X25519_LEN);
    if (key == NULL || peer_key == NULL) {
        rc = sf_fail(SF_ERR_CRYPTO, "x25519 shared: cannot load the keys");
        goto out;
    }
    /* A failed derivation with well-formed keys means a degenerate peer
     * key; the explicit zero check keeps the rule independent of OpenSSL's
     * own check, and is constant time so it reveals nothing of the value. */
    if (!derive(key, peer_key, shared) ||
        sf_ct_equal(shared, zero, SF_X25519_LEN)) {
        rc = sf_fail(SF_ERR_BAD_KEY, "x25519 shared: the peer public key "
                                     "is degenerate (all-zero shared secret)");
        goto out;
    }

out:
    if (rc != SF_OK) {
        sf_wipe(shared, SF_X25519_LEN);
    }
    EVP_PKEY_free(key);
    EVP_PKEY_free(peer_key);
    return rc;
}
