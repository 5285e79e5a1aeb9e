#include <stdio.h>
#include <string.h>

#include "envelope_internal.h"
#include "error.h"
#include "kdf.h"
#include "recipient.h"

/* HKDF info labels (docs/FORMAT.md, "Key schedule"); each is followed by
 * the suite id as a big-endian u16, so one DEK under two suites gives
 * unrelated keys. */
static const char label_payload[] = "sealflow v1 payload key";
static const char label_commitment[] = "sealflow v1 key commitment";
static const char label_mac[] = "sealflow v1 header mac key";

static sf_status expand(const uint8_t *prk, const char *label,
                        uint16_t suite, uint8_t *out, size_t len)
{
    uint8_t info[64];
    size_t n = strlen(label);

    memcpy(info, label, n);
    info[n] = (uint8_t)(suite >> 8);
    info[n + 1] = (uint8_t)suite;
    return sf_hkdf_expand(SF_MD_SHA512, prk, SF_MD_MAX_LEN, info, n + 2, out,
                          len);
}

/* One extract and three expands: the same bytes as three full HKDF calls
 * with the three labels, for a third of the cost. */
sf_status sf_envelope_derive(uint16_t suite, const uint8_t *dek,
                             const uint8_t *message_id,
                             struct sf_msg_keys *k)
{
    uint8_t prk[SF_MD_MAX_LEN];
    sf_status rc;

    rc = sf_hkdf_extract(SF_MD_SHA512, message_id, SF_MESSAGE_ID_LEN, dek,
                         SF_DEK_LEN, prk);
    if (rc == SF_OK) {
        rc = expand(prk, label_payload, suite, k->payload,
                    sizeof k->payload);
    }
    if (rc == SF_OK) {
        rc = expand(prk, label_commitment, suite, k->commitment,
                    sizeof k->commitment);
    }
    if (rc == SF_OK) {
        rc = expand(prk, label_mac, suite, k->mac_key, sizeof k->mac_key);
    }
    sf_wipe(prk, sizeof prk);
    if (rc != SF_OK) {
        sf_wipe(k, sizeof *k);
    }
    return rc;
}

sf_status sf_envelope_mac(const uint8_t *mac_key, const uint8_t *p,
                          size_t len, uint8_t out[SF_HEADER_MAC_LEN])
{
    return sf_hmac(SF_MD_SHA256, mac_key, SF_HEADER_MAC_KEY_LEN, p, len,
                   out);
}

/*
 * The commitment is checked first: it proves this DEK is the one the
 * sender committed to, so no recipient can be handed a different key than
 * the others. Then the MAC proves every header byte (context, stanzas,
 * frame size) is as sealed. Only after both may any frame be opened.
 */
sf_status sf_envelope_verify(const struct sf_header *h, const uint8_t *p,
                             const struct sf_secret *dek,
                             struct sf_msg_keys *k)
{
    uint8_t mac[SF_HEADER_MAC_LEN];
    sf_status rc;

    if (sf_secret_len(dek) != SF_DEK_LEN) {
        return sf_fail(SF_ERR_AUTH, "envelope: the unwrapped data key has "
                       "%zu bytes, expected %d", sf_secret_len(dek),
                       SF_DEK_LEN);
    }
    rc = sf_envelope_derive(h->suite, sf_secret_cdata(dek), h->message_id,
                            k);
    if (rc != SF_OK) {
        return rc;
    }
    if (!sf_ct_equal(k->commitment, h->commitment, SF_COMMITMENT_LEN)) {
        rc = sf_fail(SF_ERR_AUTH, "envelope: the key commitment does not "
                     "match the unwrapped data key; the message is forged "
                     "or corrupt");
        goto out;
    }
    rc = sf_envelope_mac(k->mac_key, p, h->mac_off, mac);
    if (rc == SF_OK && !sf_ct_equal(mac, h->mac, SF_HEADER_MAC_LEN)) {
        rc = sf_fail(SF_ERR_AUTH, "envelope: the header MAC does not match; "
                     "the header (context, stanzas or frame size) was "
                     "changed");
    }

out:
    if (rc != SF_OK) {
        sf_wipe(k, sizeof *k);
    }
    return rc;
}

/* Which failure wins when no stanza opens: the one that tells the user
 * the most about what to do. */
static int rank(sf_status rc)
{
    switch (rc) {
    case SF_ERR_NO_KEY:
        return 0;
    case SF_ERR_KEY_VERSION:
        return 3;
    case SF_ERR_AUTH:
        return 2;
    default:
        return 1;
    }
}

/* "no identity fits ...: key ids a, b (+n more)" */
static sf_status no_key(const struct sf_header *h)
{
    char list[384];
    size_t at = 0;
    size_t i;

    list[0] = '\0';
    for (i = 0; i < h->stanza_len; i++) {
        const struct sf_stanza *st = &h->stanzas[i];
        int n;

        if (at + st->key_id_len + 32 >= sizeof list) {
            break;
        }
        if (st->version > 0) {
            n = snprintf(list + at, sizeof list - at, "%s%.*s version %lu",
                         i > 0 ? ", " : "", (int)st->key_id_len,
                         (const char *)st->key_id,
                         (unsigned long)st->version);
        } else {
            n = snprintf(list + at, sizeof list - at, "%s%.*s",
                         i > 0 ? ", " : "", (int)st->key_id_len,
                         (const char *)st->key_id);
        }
        at += n > 0 ? (size_t)n : 0;
    }
    return sf_fail(SF_ERR_NO_KEY, "no given identity can open this message; "
                   "it is sealed to: %s%s", list,
                   i < h->stanza_len ? ", ..." : "");
}

sf_status sf_envelope_find_dek(struct sf_identity *const *ids, size_t n,
                               const struct sf_header *h, const uint8_t *p,
                               struct sf_secret **dek)
{
    char why[512];
    sf_status worst = SF_ERR_NO_KEY;

    *dek = NULL;
    why[0] = '\0';
    for (size_t s = 0; s < h->stanza_len; s++) {
        for (size_t i = 0; i < n; i++) {
            sf_status rc = sf_identity_unwrap(ids[i], &h->stanzas[s], p,
                                              h->prefix_len, dek);

            if (rc == SF_OK) {
                return SF_OK;
            }
            if (rank(rc) > rank(worst)) {
                worst = rc;
                snprintf(why, sizeof why, "%s", sf_last_error());
            }
        }
    }
    if (worst == SF_ERR_NO_KEY) {
        return no_key(h);
    }
    return sf_fail(worst, "%s", why[0] != '\0' ? why : sf_status_str(worst));
}
