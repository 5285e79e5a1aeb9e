/*
 * The partner flow: a keystore x25519 or RSA key's public part is
 * exported (sf_keystore_public_key), a partner seals to that string as
 * to any recipient (sf_recipient_parse), and the keystore identity alone
 * opens the file.
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

#include "sealflow/envelope.h"
#include "sealflow/keystore.h"

#define FRAME 64

struct store {
    char dir[256];
    struct sf_secret *root;
    struct sf_keystore *ks;
    struct sf_identity *id;
};

/* Two keystores: a holds the keys, b is someone else's. */
static struct store A;
static struct store B;

static int store_open(struct store *s)
{
    const char *tmp = getenv("TMPDIR");
    char db[320];

    snprintf(s->dir, sizeof s->dir, "%s/sf-partner-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        return -1;
    }
    snprintf(db, sizeof db, "%s/keystore.db", s->dir);
    if (sf_secret_random(SF_ROOT_KEY_LEN, &s->root) != SF_OK ||
        sf_keystore_create(db, s->root, &s->ks) != SF_OK ||
        sf_identity_keystore(s->ks, &s->id) != SF_OK) {
        return -1;
    }
    return 0;
}

static void store_close(struct store *s)
{
    char path[600];
    struct dirent *e;
    DIR *d;

    sf_identity_free(s->id);
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

static int setup(void **state)
{
    (void)state;
    return store_open(&A) == 0 && store_open(&B) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    store_close(&A);
    store_close(&B);
    return 0;
}

static void create_key(struct sf_keystore *ks, const char *name,
                       enum sf_key_type type)
{
    struct sf_key_info info;

    assert_int_equal(sf_keystore_create_key(ks, name, type, &info), SF_OK);
}

/* What `sealflow keys export-public NAME --version v` prints, parsed as
 * the partner's `sealflow encrypt -r` parses it. */
static struct sf_recipient *exported(struct sf_keystore *ks, const char *name,
                                     uint32_t v)
{
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_recipient *r = NULL;

    assert_int_equal(sf_keystore_public_key(ks, name, v, &pub), SF_OK);
    assert_int_equal(sf_recipient_parse((const char *)pub.data, pub.len, &r),
                     SF_OK);
    sf_buf_free(&pub);
    return r;
}

static void seal_to(struct sf_recipient *r, const char *msg, struct sf_buf *out)
{
    struct sf_seal_opts o = {0, FRAME, NULL, 0, 1};

    assert_int_equal(
        sf_envelope_seal(&o, &r, 1, (const uint8_t *)msg, strlen(msg), out),
        SF_OK);
}

static void expect_opens(struct sf_identity *id, const struct sf_buf *m,
                         const char *want)
{
    struct sf_buf back = SF_BUF_INIT;

    assert_int_equal(sf_envelope_open(&id, 1, m->data, m->len, &back), SF_OK);
    assert_int_equal(back.len, strlen(want));
    assert_memory_equal(back.data, want, back.len);
    sf_buf_free(&back);
}

static void expect_refused(struct sf_identity *id, const struct sf_buf *m,
                           sf_status want)
{
    struct sf_buf back = SF_BUF_INIT;

    assert_int_equal(sf_envelope_open(&id, 1, m->data, m->len, &back), want);
    assert_int_equal(back.len, 0);
    sf_buf_free(&back);
}

/* The file holds one partner stanza: type, a key id of the given kind
 * (not the key's name) and version 0. */
static void expect_partner_stanza(const struct sf_buf *m, uint8_t type,
                                  const char *kind)
{
    struct sf_header_info info;

    assert_int_equal(sf_envelope_inspect(m->data, m->len, &info), SF_OK);
    assert_int_equal(info.stanza_len, 1);
    assert_int_equal(info.stanzas[0].type, type);
    assert_int_equal(info.stanzas[0].version, 0);
    assert_memory_equal(info.stanzas[0].key_id, kind, strlen(kind));
    assert_int_equal(strlen(info.stanzas[0].key_id), strlen(kind) + 16);
    sf_header_info_free(&info);
}

/* Opens with the keystore identity alone, then, with one header byte
 * changed (the message id, part of the stanza's associated data), the
 * stanza no longer opens. */
static void round_trip(const char *name, uint8_t type, const char *kind)
{
    static const char msg[] = "sealed by a partner to our public key";
    struct sf_recipient *r = exported(A.ks, name, 0);
    struct sf_buf sealed = SF_BUF_INIT;

    seal_to(r, msg, &sealed);
    expect_partner_stanza(&sealed, type, kind);
    expect_opens(A.id, &sealed, msg);

    sealed.data[11] ^= 0x01;
    expect_refused(A.id, &sealed, SF_ERR_AUTH);
    sf_recipient_free(r);
    sf_buf_free(&sealed);
}

static void test_x25519_export_opens_with_keystore_identity(void **state)
{
    (void)state;
    create_key(A.ks, "partner/x", SF_KEY_X25519);
    round_trip("partner/x", SF_STANZA_X25519, "x25519:");
}

static void test_rsa_export_opens_with_keystore_identity(void **state)
{
    (void)state;
    create_key(A.ks, "partner/rsa", SF_KEY_RSA_3072);
    round_trip("partner/rsa", SF_STANZA_RSA_OAEP, "rsa:");
}

static void retire(struct sf_keystore *ks, const char *name, uint32_t min)
{
    struct sf_key_config c;

    memset(&c, 0, sizeof c);
    c.has_min_decryption_version = true;
    c.min_decryption_version = min;
    assert_int_equal(sf_keystore_config(ks, name, &c, NULL), SF_OK);
}

/* A file sealed to version 1's export opens after a rotation, and fails
 * once version 1 is retired, naming key, version and minimum; a file
 * sealed to version 2's export still opens. */
static void retire_one(const char *name, enum sf_key_type type)
{
    char want[200];
    struct sf_recipient *r1;
    struct sf_recipient *r2;
    struct sf_buf old = SF_BUF_INIT;
    struct sf_buf cur = SF_BUF_INIT;

    create_key(A.ks, name, type);
    r1 = exported(A.ks, name, 1);
    seal_to(r1, "old", &old);
    assert_int_equal(sf_keystore_rotate(A.ks, name, NULL), SF_OK);
    r2 = exported(A.ks, name, 0);
    seal_to(r2, "new", &cur);
    expect_opens(A.id, &old, "old");
    expect_opens(A.id, &cur, "new");

    retire(A.ks, name, 2);
    expect_refused(A.id, &old, SF_ERR_KEY_VERSION);
    snprintf(want, sizeof want,
             "key '%s' version 1 is below min_decryption_version 2", name);
    assert_non_null(strstr(sf_last_error(), want));
    expect_opens(A.id, &cur, "new");
    sf_recipient_free(r1);
    sf_recipient_free(r2);
    sf_buf_free(&old);
    sf_buf_free(&cur);
}

static void test_retired_version_names_key_version_and_minimum(void **state)
{
    (void)state;
    retire_one("retiring/x", SF_KEY_X25519);
    retire_one("retiring/rsa", SF_KEY_RSA_3072);
}

/* A file sealed to a key this keystore does not hold: SF_ERR_NO_KEY,
 * for a stranger's X25519 key and for another keystore's RSA key. */
static void test_file_for_another_key_gives_no_key(void **state)
{
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_recipient *r = NULL;

    (void)state;
    create_key(A.ks, "mine/x", SF_KEY_X25519);
    create_key(A.ks, "mine/sym", SF_KEY_AES256_GCM96);
    assert_int_equal(sf_identity_generate_x25519(&sec, &pub), SF_OK);
    assert_int_equal(sf_recipient_parse((const char *)pub.data, pub.len, &r),
                     SF_OK);
    seal_to(r, "not for A", &sealed);
    expect_refused(A.id, &sealed, SF_ERR_NO_KEY);
    assert_non_null(strstr(sf_last_error(), "x25519:"));
    sf_recipient_free(r);

    create_key(B.ks, "theirs/rsa", SF_KEY_RSA_3072);
    r = exported(B.ks, "theirs/rsa", 0);
    sf_buf_reset(&sealed);
    seal_to(r, "for B only", &sealed);
    expect_refused(A.id, &sealed, SF_ERR_NO_KEY);
    expect_opens(B.id, &sealed, "for B only");
    sf_recipient_free(r);
    sf_wipe(sec.data, sec.len);
    sf_buf_free(&sec);
    sf_buf_free(&pub);
    sf_buf_free(&sealed);
}

/* A file with a keystore stanza and a partner stanza to the same
 * keystore: either opens it, the partner one on its own once the key
 * named by the other stanza is gone. */
static void test_keystore_and_partner_stanzas_together(void **state)
{
    static const char msg[] = "two ways into one keystore";
    struct sf_recipient *r[2] = {NULL, NULL};
    struct sf_seal_opts o = {0, FRAME, NULL, 0, 1};
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_key_config c;

    (void)state;
    create_key(A.ks, "both/kek", SF_KEY_AES256_GCM96);
    create_key(A.ks, "both/x", SF_KEY_X25519);
    assert_int_equal(sf_recipient_keystore(A.ks, "both/kek", &r[0]), SF_OK);
    r[1] = exported(A.ks, "both/x", 0);
    assert_int_equal(
        sf_envelope_seal(&o, r, 2, (const uint8_t *)msg, strlen(msg), &sealed),
        SF_OK);
    expect_opens(A.id, &sealed, msg);

    memset(&c, 0, sizeof c);
    c.has_deletion_allowed = true;
    c.deletion_allowed = true;
    assert_int_equal(sf_keystore_config(A.ks, "both/kek", &c, NULL), SF_OK);
    assert_int_equal(sf_keystore_delete(A.ks, "both/kek"), SF_OK);
    expect_opens(A.id, &sealed, msg);
    sf_recipient_free(r[0]);
    sf_recipient_free(r[1]);
    sf_buf_free(&sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_export_opens_with_keystore_identity),
        cmocka_unit_test(test_rsa_export_opens_with_keystore_identity),
        cmocka_unit_test(test_retired_version_names_key_version_and_minimum),
        cmocka_unit_test(test_file_for_another_key_gives_no_key),
        cmocka_unit_test(test_keystore_and_partner_stanzas_together),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
