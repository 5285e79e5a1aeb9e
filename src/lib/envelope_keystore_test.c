/*
 * The envelope with keystore keys: KEK, X25519 and RSA keystore stanzas,
 * several recipient kinds in one file, retired versions, frames swapped
 * between files under one KEK, inspect and rewrap.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rsa_oaep.h"
#include "sealflow/encoding.h"
#include "sealflow/envelope.h"
#include "sealflow/keystore.h"

#define FRAME 64
#define TAG 16

struct store {
    char dir[256];
    struct sf_secret *root;
    struct sf_keystore *ks;
};

struct fixture {
    struct store a;
    struct store b; /* a second keystore with the same key names */
    struct sf_identity *ks_id;
    struct sf_identity *x_id;
    struct sf_recipient *x_rcpt;
    struct sf_identity *rsa_id;
    struct sf_recipient *rsa_rcpt;
};

static struct fixture F;

static int store_open(struct store *s)
{
    const char *tmp = getenv("TMPDIR");
    char db[320];

    snprintf(s->dir, sizeof s->dir, "%s/sf-env-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        return -1;
    }
    snprintf(db, sizeof db, "%s/keystore.db", s->dir);
    if (sf_secret_random(SF_ROOT_KEY_LEN, &s->root) != SF_OK ||
            sf_keystore_create(db, s->root, &s->ks) != SF_OK) {
        return -1;
    }
    return 0;
}

static void store_close(struct store *s)
{
    char path[600];
    struct dirent *e;
    DIR *d;

    sf_keystore_close(s->ks);
    sf_secret_free(s->root);
    d = opendir(s->dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
            (void)unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    (void)rmdir(s->dir);
}

static int make_rsa(void)
{
    struct sf_rsa_key *k = NULL;
    struct sf_buf pem = SF_BUF_INIT;
    struct sf_buf der = SF_BUF_INIT;
    struct sf_buf b64 = SF_BUF_INIT;
    int rc = -1;

    if (sf_rsa_generate(3072, &k) != SF_OK ||
            sf_rsa_public_pem(k, &pem) != SF_OK ||
            sf_recipient_parse((const char *)pem.data, pem.len,
                               &F.rsa_rcpt) != SF_OK ||
            sf_rsa_to_der(k, true, &der) != SF_OK ||
            sf_b64_encode(SF_B64_STD, der.data, der.len, &b64) != SF_OK) {
        goto out;
    }
    /* One long base64 line is valid PEM for OpenSSL. */
    sf_buf_reset(&pem);
    if (sf_buf_put_str(&pem, "-----BEGIN PRIVATE KEY-----\n") != SF_OK ||
            sf_buf_append(&pem, b64.data, b64.len) != SF_OK ||
            sf_buf_put_str(&pem, "\n-----END PRIVATE KEY-----\n") != SF_OK ||
            sf_identity_parse((const char *)pem.data, pem.len, &F.rsa_id) !=
                SF_OK) {
        goto out;
    }
    rc = 0;

out:
    sf_rsa_free(k);
    sf_buf_free(&pem);
    sf_buf_free(&der);
    sf_buf_free(&b64);
    return rc;
}

static int setup(void **state)
{
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    int rc = -1;

    (void)state;
    if (store_open(&F.a) != 0 || store_open(&F.b) != 0 ||
            sf_identity_keystore(F.a.ks, &F.ks_id) != SF_OK ||
            sf_identity_generate_x25519(&sec, &pub) != SF_OK ||
            sf_recipient_parse((const char *)pub.data, pub.len,
                               &F.x_rcpt) != SF_OK ||
            sf_identity_parse((const char *)sec.data, sec.len, &F.x_id) !=
                SF_OK ||
            make_rsa() != 0) {
        goto out;
    }
    rc = 0;

out:
    sf_buf_free(&sec);
    sf_buf_free(&pub);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    sf_identity_free(F.ks_id);
    sf_identity_free(F.x_id);
    sf_recipient_free(F.x_rcpt);
    sf_identity_free(F.rsa_id);
    sf_recipient_free(F.rsa_rcpt);
    store_close(&F.a);
    store_close(&F.b);
    return 0;
}

static void create_key(struct sf_keystore *ks, const char *name,
                       enum sf_key_type type)
{
    struct sf_key_info info;

    assert_int_equal(sf_keystore_create_key(ks, name, type, &info), SF_OK);
}

static void seal_to(struct sf_recipient *const *r, size_t n,
                    const uint8_t *pt, size_t len, struct sf_buf *out)
{
    struct sf_seal_opts o = {0, FRAME, NULL, 0, 1};

    assert_int_equal(sf_envelope_seal(&o, r, n, pt, len, out), SF_OK);
}

static void expect_opens(struct sf_identity *id, const struct sf_buf *m,
                         const char *want)
{
    struct sf_buf back = SF_BUF_INIT;

    assert_int_equal(sf_envelope_open(&id, 1, m->data, m->len, &back),
                     SF_OK);
    assert_int_equal(back.len, strlen(want));
    assert_memory_equal(back.data, want, back.len);
    sf_buf_free(&back);
}

static void test_kek_stanza_round_trip_and_inspect(void **state)
{
    static const char msg[] = "a record for the kek";
    struct sf_recipient *r = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_header_info info;

    (void)state;
    create_key(F.a.ks, "team/kek", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "team/kek", &r), SF_OK);
    seal_to(&r, 1, (const uint8_t *)msg, strlen(msg), &sealed);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &info),
                     SF_OK);
    assert_int_equal(info.format_version, 1);
    assert_int_equal(info.stanza_len, 1);
    assert_int_equal(info.stanzas[0].type, SF_STANZA_KEK);
    assert_string_equal(info.stanzas[0].key_id, "team/kek");
    assert_int_equal(info.stanzas[0].version, 1);
    sf_header_info_free(&info);
    expect_opens(F.ks_id, &sealed, msg);
    sf_recipient_free(r);
    sf_buf_free(&sealed);
}

static void test_unknown_key_is_refused_when_sealing(void **state)
{
    struct sf_recipient *r = (struct sf_recipient *)&r;

    (void)state;
    assert_int_equal(sf_recipient_keystore(F.a.ks, "no-such-key", &r),
                     SF_ERR_KEY_NOT_FOUND);
    assert_null(r);
}

/* KEK + external X25519 + external RSA in one file: each identity alone
 * opens it. */
static void test_each_of_three_recipient_kinds_opens_alone(void **state)
{
    static const char msg[] = "three ways in";
    struct sf_recipient *r[3] = {NULL, F.x_rcpt, F.rsa_rcpt};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_header_info info;

    (void)state;
    create_key(F.a.ks, "three", SF_KEY_CHACHA20_POLY1305);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "three", &r[0]), SF_OK);
    seal_to(r, 3, (const uint8_t *)msg, strlen(msg), &sealed);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &info),
                     SF_OK);
    assert_int_equal(info.stanza_len, 3);
    assert_int_equal(info.stanzas[0].type, SF_STANZA_KEK);
    assert_int_equal(info.stanzas[1].type, SF_STANZA_X25519);
    assert_int_equal(info.stanzas[2].type, SF_STANZA_RSA_OAEP);
    assert_memory_equal(info.stanzas[2].key_id, "rsa:", 4);
    sf_header_info_free(&info);
    expect_opens(F.ks_id, &sealed, msg);
    expect_opens(F.x_id, &sealed, msg);
    expect_opens(F.rsa_id, &sealed, msg);
    sf_recipient_free(r[0]);
    sf_buf_free(&sealed);
}

/* Keystore keys of the asymmetric types give X25519 and RSA stanzas that
 * name the key and version, opened through the keystore. */
static void test_asymmetric_keystore_keys_wrap_and_unwrap(void **state)
{
    static const char msg[] = "keystore public keys";
    struct sf_recipient *r[2] = {NULL, NULL};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_header_info info;

    (void)state;
    create_key(F.a.ks, "pk/x", SF_KEY_X25519);
    create_key(F.a.ks, "pk/rsa", SF_KEY_RSA_3072);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "pk/x", &r[0]), SF_OK);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "pk/rsa", &r[1]), SF_OK);
    for (size_t i = 0; i < 2; i++) {
        sf_buf_reset(&sealed);
        seal_to(&r[i], 1, (const uint8_t *)msg, strlen(msg), &sealed);
        assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len,
                                             &info), SF_OK);
        assert_int_equal(info.stanzas[0].type,
                         i == 0 ? SF_STANZA_X25519 : SF_STANZA_RSA_OAEP);
        assert_string_equal(info.stanzas[0].key_id,
                            i == 0 ? "pk/x" : "pk/rsa");
        assert_int_equal(info.stanzas[0].version, 1);
        sf_header_info_free(&info);
        expect_opens(F.ks_id, &sealed, msg);
    }
    sf_recipient_free(r[0]);
    sf_recipient_free(r[1]);
    sf_buf_free(&sealed);
}

/* The same key name in another keystore is another key: the stanza fails
 * to unwrap there (SF_ERR_AUTH), and a name it lacks gives SF_ERR_NO_KEY. */
static void test_other_keystore_cannot_open(void **state)
{
    struct sf_recipient *r = NULL;
    struct sf_identity *other = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;

    (void)state;
    create_key(F.a.ks, "shared-name", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "shared-name", &r),
                     SF_OK);
    seal_to(&r, 1, (const uint8_t *)"x", 1, &sealed);
    assert_int_equal(sf_identity_keystore(F.b.ks, &other), SF_OK);
    assert_int_equal(sf_envelope_open(&other, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_NO_KEY);
    assert_non_null(strstr(sf_last_error(), "shared-name"));
    create_key(F.b.ks, "shared-name", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_envelope_open(&other, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_AUTH);
    assert_int_equal(back.len, 0);
    sf_identity_free(other);
    sf_recipient_free(r);
    sf_buf_free(&sealed);
}

static void retire(struct sf_keystore *ks, const char *name, uint32_t min)
{
    struct sf_key_config c;
    struct sf_key_info info;

    memset(&c, 0, sizeof c);
    c.has_min_decryption_version = true;
    c.min_decryption_version = min;
    assert_int_equal(sf_keystore_config(ks, name, &c, &info), SF_OK);
}

static void test_retired_version_names_key_version_and_minimum(void **state)
{
    struct sf_recipient *r[2] = {NULL, F.x_rcpt};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_identity *both[2] = {F.ks_id, F.x_id};

    (void)state;
    create_key(F.a.ks, "retiring", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "retiring", &r[0]),
                     SF_OK);
    seal_to(r, 2, (const uint8_t *)"old", 3, &sealed);
    assert_int_equal(sf_keystore_rotate(F.a.ks, "retiring", NULL), SF_OK);
    retire(F.a.ks, "retiring", 2);
    assert_int_equal(sf_envelope_open(&F.ks_id, 1, sealed.data, sealed.len,
                                      &back), SF_ERR_KEY_VERSION);
    assert_non_null(strstr(sf_last_error(), "retiring"));
    assert_non_null(strstr(sf_last_error(), "1"));
    assert_non_null(strstr(sf_last_error(), "2"));
    assert_int_equal(back.len, 0);
    /* Another stanza that does open wins over the retired one. */
    assert_int_equal(sf_envelope_open(both, 2, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_int_equal(back.len, 3);
    sf_recipient_free(r[0]);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void test_frames_swapped_between_files_under_one_kek_fail(
    void **state)
{
    struct sf_recipient *r = NULL;
    struct sf_buf a = SF_BUF_INIT;
    struct sf_buf b = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_header_info ia;
    struct sf_header_info ib;
    uint8_t pt[3 * FRAME];

    (void)state;
    memset(pt, 'p', sizeof pt);
    create_key(F.a.ks, "swap", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "swap", &r), SF_OK);
    seal_to(&r, 1, pt, sizeof pt, &a);
    seal_to(&r, 1, pt, sizeof pt, &b);
    assert_int_equal(sf_envelope_inspect(a.data, a.len, &ia), SF_OK);
    assert_int_equal(sf_envelope_inspect(b.data, b.len, &ib), SF_OK);
    assert_int_equal(ia.header_len, ib.header_len);
    /* same plaintext, same key, same position: still different bytes */
    assert_memory_not_equal(a.data + ia.header_len, b.data + ib.header_len,
                            FRAME + TAG);
    memcpy(a.data + ia.header_len, b.data + ib.header_len, FRAME + TAG);
    assert_int_equal(sf_envelope_open(&F.ks_id, 1, a.data, a.len, &back),
                     SF_ERR_AUTH);
    /* a whole body moved under the other header fails too */
    memcpy(b.data + ib.header_len, a.data + ia.header_len,
           a.len - ia.header_len);
    assert_int_equal(sf_envelope_open(&F.ks_id, 1, b.data, b.len, &back),
                     SF_ERR_AUTH);
    sf_header_info_free(&ia);
    sf_header_info_free(&ib);
    sf_recipient_free(r);
    sf_buf_free(&a);
    sf_buf_free(&b);
    sf_buf_free(&back);
}

/* Header of old + body of old, with old's header replaced by hdr. */
static void splice(const struct sf_buf *old, size_t old_hlen,
                   const struct sf_buf *hdr, struct sf_buf *out)
{
    assert_int_equal(sf_buf_append(out, hdr->data, hdr->len), SF_OK);
    assert_int_equal(sf_buf_append(out, old->data + old_hlen,
                                   old->len - old_hlen), SF_OK);
}

static void test_rewrap_moves_stanzas_to_the_newest_version(void **state)
{
    static const char msg[] = "rewrap me, keep my body";
    struct sf_recipient *r[2] = {NULL, F.x_rcpt};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf hdr = SF_BUF_INIT;
    struct sf_buf again = SF_BUF_INIT;
    struct sf_buf moved = SF_BUF_INIT;
    struct sf_header_info before;
    struct sf_header_info after;
    size_t old_len = 0;
    bool changed = false;

    (void)state;
    create_key(F.a.ks, "rot", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "rot", &r[0]), SF_OK);
    seal_to(r, 2, (const uint8_t *)msg, strlen(msg), &sealed);
    assert_int_equal(sf_keystore_rotate(F.a.ks, "rot", NULL), SF_OK);
    assert_int_equal(sf_keystore_rotate(F.a.ks, "rot", NULL), SF_OK);
    assert_int_equal(sf_envelope_rewrap_header(sealed.data, sealed.len,
                                               &F.ks_id, 1, F.a.ks, NULL,
                                               &hdr, &old_len, &changed),
                     SF_OK);
    assert_true(changed);
    splice(&sealed, old_len, &hdr, &moved);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &before),
                     SF_OK);
    assert_int_equal(sf_envelope_inspect(moved.data, moved.len, &after),
                     SF_OK);
    assert_int_equal(after.stanzas[0].version, 3);
    assert_int_equal(before.stanzas[0].version, 1);
    /* message id, context and the external stanza are untouched */
    assert_memory_equal(after.message_id, before.message_id, 32);
    assert_string_equal(after.stanzas[1].key_id, before.stanzas[1].key_id);
    sf_header_info_free(&before);
    sf_header_info_free(&after);

    /* Version 1 retired: the old file no longer opens, the moved one
     * does, with either identity. */
    retire(F.a.ks, "rot", 3);
    expect_opens(F.ks_id, &moved, msg);
    expect_opens(F.x_id, &moved, msg);
    sf_buf_reset(&again);
    assert_int_equal(sf_envelope_open(&F.ks_id, 1, sealed.data, sealed.len,
                                      &again), SF_ERR_KEY_VERSION);

    /* Once moved, a second rewrap has nothing to do. */
    sf_buf_reset(&hdr);
    assert_int_equal(sf_envelope_rewrap_header(moved.data, moved.len,
                                               &F.ks_id, 1, F.a.ks, "rot",
                                               &hdr, &old_len, &changed),
                     SF_OK);
    assert_false(changed);
    assert_memory_equal(hdr.data, moved.data, old_len);
    sf_recipient_free(r[0]);
    sf_buf_free(&sealed);
    sf_buf_free(&hdr);
    sf_buf_free(&again);
    sf_buf_free(&moved);
}

/* Naming a key the file does not use changes nothing and hands back the
 * header as it was. */
static void test_rewrap_of_another_key_copies_the_header(void **state)
{
    struct sf_recipient *r = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf hdr = SF_BUF_INIT;
    size_t old_len = 0;
    bool changed = true;

    (void)state;
    create_key(F.a.ks, "stays", SF_KEY_AES256_GCM96);
    create_key(F.a.ks, "moves", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "stays", &r), SF_OK);
    seal_to(&r, 1, (const uint8_t *)"x", 1, &sealed);
    assert_int_equal(sf_keystore_rotate(F.a.ks, "stays", NULL), SF_OK);
    assert_int_equal(sf_keystore_rotate(F.a.ks, "moves", NULL), SF_OK);
    assert_int_equal(sf_envelope_rewrap_header(sealed.data, sealed.len,
                                               &F.ks_id, 1, F.a.ks, "moves",
                                               &hdr, &old_len, &changed),
                     SF_OK);
    assert_false(changed);
    assert_int_equal(hdr.len, old_len);
    assert_int_equal(old_len, sealed.len - 1 - TAG);
    assert_memory_equal(hdr.data, sealed.data, old_len);
    sf_recipient_free(r);
    sf_buf_free(&sealed);
    sf_buf_free(&hdr);
}

/* A header whose MAC does not verify is never re-MACed. */
static void test_rewrap_refuses_a_tampered_header(void **state)
{
    struct sf_recipient *r = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf hdr = SF_BUF_INIT;
    struct sf_header_info info;
    size_t old_len = 7;
    bool changed = true;

    (void)state;
    create_key(F.a.ks, "tamper", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_recipient_keystore(F.a.ks, "tamper", &r), SF_OK);
    seal_to(&r, 1, (const uint8_t *)"x", 1, &sealed);
    assert_int_equal(sf_keystore_rotate(F.a.ks, "tamper", NULL), SF_OK);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &info),
                     SF_OK);
    sealed.data[info.header_len - 40] ^= 1; /* in the commitment */
    assert_int_equal(sf_envelope_rewrap_header(sealed.data, sealed.len,
                                               &F.ks_id, 1, F.a.ks, NULL,
                                               &hdr, &old_len, &changed),
                     SF_ERR_AUTH);
    assert_int_equal(hdr.len, 0);
    assert_int_equal(old_len, 0);
    assert_false(changed);
    sealed.data[info.header_len - 40] ^= 1;
    sealed.data[info.header_len - 1] ^= 1; /* in the MAC */
    assert_int_equal(sf_envelope_rewrap_header(sealed.data, sealed.len,
                                               &F.ks_id, 1, F.a.ks, NULL,
                                               &hdr, &old_len, &changed),
                     SF_ERR_AUTH);
    sf_header_info_free(&info);
    sf_recipient_free(r);
    sf_buf_free(&sealed);
    sf_buf_free(&hdr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kek_stanza_round_trip_and_inspect),
        cmocka_unit_test(test_unknown_key_is_refused_when_sealing),
        cmocka_unit_test(test_each_of_three_recipient_kinds_opens_alone),
        cmocka_unit_test(test_asymmetric_keystore_keys_wrap_and_unwrap),
        cmocka_unit_test(test_other_keystore_cannot_open),
        cmocka_unit_test(test_retired_version_names_key_version_and_minimum),
        cmocka_unit_test(test_frames_swapped_between_files_under_one_kek_fail),
        cmocka_unit_test(test_rewrap_moves_stanzas_to_the_newest_version),
        cmocka_unit_test(test_rewrap_of_another_key_copies_the_header),
        cmocka_unit_test(test_rewrap_refuses_a_tampered_header),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
