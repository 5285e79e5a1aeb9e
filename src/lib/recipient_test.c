/*
 * Recipient and identity text: the accepted forms (CRLF, blank lines,
 * trailing spaces, comments), the refused ones, key ids, and a round trip
 * through each key kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kdf.h"
#include "recipient.h"
#include "rsa_oaep.h"
#include "sealflow/encoding.h"
#include "sealflow/envelope.h"
#include "x25519.h"

static const char rsa2048_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1azD5TnjqMhJOtou3diQ\n"
    "WEeLk/YuDNfDDx0JqjtQNsxEvuCfsTvv/AGdZGirNkM4gChw3NSl74X/EexLfoJD\n"
    "XbBhc4Cwpt9s4Q/O3l76eAmae31PTjDpfoQgXt7EiPW58T2p+WTbwvrpfc04ZjRg\n"
    "LOT8ZR0r/Xb7hpUYti+qBDHNV10/ZZPm2WmqeBikETUWkrHh+RoXu00TAKwCrMcg\n"
    "ysJGRSUkHUcva7SqkCGHfCiZJoCgPlvLT7xhLRyYAkzwtKVi0DVH1InqULzD6Z/q\n"
    "jDr6jK8PrqWeQ1qQ9RyOQbVq7Qb+8hP35DV8Lxjxv0NDgeYHzutPyVzSXeBev784\n"
    "1wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

struct fixture {
    struct sf_buf x_secret;
    struct sf_buf x_public;
    struct sf_rsa_key *rsa;
    struct sf_buf rsa_public; /* PEM */
    struct sf_buf rsa_private; /* PEM, PKCS#8 */
};

static struct fixture F;

/* PEM-armours DER the way OpenSSL writes it, with the given line end. */
static void pem_armour(const char *label, const struct sf_buf *der,
                       const char *eol, struct sf_buf *out)
{
    struct sf_buf b64 = SF_BUF_INIT;
    char line[128];

    assert_int_equal(sf_b64_encode(SF_B64_STD, der->data, der->len, &b64),
                     SF_OK);
    snprintf(line, sizeof line, "-----BEGIN %s-----%s", label, eol);
    assert_int_equal(sf_buf_put_str(out, line), SF_OK);
    for (size_t at = 0; at < b64.len; at += 64) {
        size_t n = b64.len - at < 64 ? b64.len - at : 64;

        assert_int_equal(sf_buf_append(out, b64.data + at, n), SF_OK);
        assert_int_equal(sf_buf_put_str(out, eol), SF_OK);
    }
    snprintf(line, sizeof line, "-----END %s-----%s", label, eol);
    assert_int_equal(sf_buf_put_str(out, line), SF_OK);
    sf_buf_free(&b64);
}

static int setup(void **state)
{
    struct sf_buf der = SF_BUF_INIT;

    (void)state;
    if (sf_identity_generate_x25519(&F.x_secret, &F.x_public) != SF_OK ||
            sf_rsa_generate(3072, &F.rsa) != SF_OK ||
            sf_rsa_public_pem(F.rsa, &F.rsa_public) != SF_OK ||
            sf_buf_terminate(&F.rsa_public) != SF_OK ||
            sf_rsa_to_der(F.rsa, true, &der) != SF_OK) {
        return -1;
    }
    pem_armour("PRIVATE KEY", &der, "\n", &F.rsa_private);
    sf_buf_free(&der);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_buf_free(&F.x_secret);
    sf_buf_free(&F.x_public);
    sf_buf_free(&F.rsa_public);
    sf_buf_free(&F.rsa_private);
    sf_rsa_free(F.rsa);
    return 0;
}

/* Replaces every "\n" of text with eol and every line end with "  " eol
 * (trailing spaces), surrounded by blank lines and a comment. */
static void decorate(const char *text, size_t len, const char *eol,
                     struct sf_buf *out)
{
    assert_int_equal(sf_buf_put_str(out, eol), SF_OK);
    assert_int_equal(sf_buf_put_str(out, "# a comment line"), SF_OK);
    assert_int_equal(sf_buf_put_str(out, eol), SF_OK);
    assert_int_equal(sf_buf_put_str(out, "   "), SF_OK);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            assert_int_equal(sf_buf_put_str(out, "  "), SF_OK);
            assert_int_equal(sf_buf_put_str(out, eol), SF_OK);
        } else {
            assert_int_equal(sf_buf_append(out, &text[i], 1), SF_OK);
        }
    }
    assert_int_equal(sf_buf_put_str(out, " \t"), SF_OK);
    assert_int_equal(sf_buf_put_str(out, eol), SF_OK);
    assert_int_equal(sf_buf_put_str(out, eol), SF_OK);
}

/* Seals to r, checks the stanza's key id, opens with id. */
static void round_trip(struct sf_recipient *r, struct sf_identity *id,
                       const char *want_key_id, uint8_t want_type)
{
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct sf_header_info info;

    assert_int_equal(sf_envelope_seal(NULL, &r, 1, (const uint8_t *)"hello",
                                      5, &sealed), SF_OK);
    assert_int_equal(sf_envelope_inspect(sealed.data, sealed.len, &info),
                     SF_OK);
    assert_int_equal(info.stanzas[0].type, want_type);
    assert_string_equal(info.stanzas[0].key_id, want_key_id);
    assert_int_equal(info.stanzas[0].version, 0);
    sf_header_info_free(&info);
    assert_int_equal(sf_envelope_open(&id, 1, sealed.data, sealed.len,
                                      &back), SF_OK);
    assert_int_equal(back.len, 5);
    assert_memory_equal(back.data, "hello", 5);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

/* "kind:" and the first 8 bytes of SHA-256(key) in lower-case hex. */
static void expected_id(const char *kind, const uint8_t *key, size_t len,
                        char out[64])
{
    uint8_t md[32];
    struct sf_buf hex = SF_BUF_INIT;

    assert_int_equal(sf_hash(SF_MD_SHA256, key, len, md), SF_OK);
    assert_int_equal(sf_hex_encode(md, 8, &hex), SF_OK);
    snprintf(out, 64, "%s:%s", kind, (const char *)hex.data);
    sf_buf_free(&hex);
}

static void x25519_expected_id(char out[64])
{
    struct sf_buf raw = SF_BUF_INIT;
    const char *b64 = (const char *)F.x_public.data + 16;

    assert_int_equal(sf_b64_decode(SF_B64_URL, b64, strlen(b64), &raw),
                     SF_OK);
    assert_int_equal(raw.len, 32);
    expected_id("x25519", raw.data, raw.len, out);
    sf_buf_free(&raw);
}

static void test_x25519_text_tolerates_crlf_spaces_and_comments(void **state)
{
    static const char *const eols[] = {"\n", "\r\n"};
    char want[64];

    (void)state;
    x25519_expected_id(want);
    assert_int_equal(strlen(want), 7 + 16);
    for (size_t e = 0; e < 2; e++) {
        struct sf_buf pub = SF_BUF_INIT;
        struct sf_buf sec = SF_BUF_INIT;
        struct sf_recipient *r = NULL;
        struct sf_identity *id = NULL;

        decorate((const char *)F.x_public.data, F.x_public.len, eols[e],
                 &pub);
        decorate((const char *)F.x_secret.data, F.x_secret.len, eols[e],
                 &sec);
        assert_int_equal(sf_recipient_parse((const char *)pub.data, pub.len,
                                            &r), SF_OK);
        assert_int_equal(sf_identity_parse((const char *)sec.data, sec.len,
                                           &id), SF_OK);
        round_trip(r, id, want, SF_STANZA_X25519);
        sf_recipient_free(r);
        sf_identity_free(id);
        sf_buf_free(&pub);
        sf_buf_free(&sec);
    }
}

static void expect_recipient(const char *text, sf_status want)
{
    struct sf_recipient *r = (struct sf_recipient *)&r;

    assert_int_equal(sf_recipient_parse(text, strlen(text), &r), want);
    assert_null(r);
}

static void expect_identity(const char *text, sf_status want)
{
    struct sf_identity *id = (struct sf_identity *)&id;

    assert_int_equal(sf_identity_parse(text, strlen(text), &id), want);
    assert_null(id);
}

static void test_malformed_text_is_refused(void **state)
{
    char buf[256];
    const char *pub = (const char *)F.x_public.data;
    const char *sec = (const char *)F.x_secret.data;

    (void)state;
    expect_recipient("", SF_ERR_FORMAT);
    expect_recipient(" \r\n\r\n# only a comment\n", SF_ERR_FORMAT);
    expect_recipient("age1qqqq", SF_ERR_FORMAT);
    expect_recipient(sec, SF_ERR_FORMAT);
    expect_identity(pub, SF_ERR_FORMAT);
    /* one character short, one too many, a character outside the URL
     * alphabet, the prefix in the wrong case */
    snprintf(buf, sizeof buf, "%.*s", (int)F.x_public.len - 1, pub);
    expect_recipient(buf, SF_ERR_FORMAT);
    snprintf(buf, sizeof buf, "%sA", pub);
    expect_recipient(buf, SF_ERR_FORMAT);
    snprintf(buf, sizeof buf, "%s", pub);
    buf[20] = '+';
    expect_recipient(buf, SF_ERR_FORMAT);
    snprintf(buf, sizeof buf, "SEALFLOW-x25519:%s", pub + 16);
    expect_recipient(buf, SF_ERR_FORMAT);
    /* two keys in one text */
    snprintf(buf, sizeof buf, "%s\n%s\n", pub, pub);
    expect_recipient(buf, SF_ERR_FORMAT);
    snprintf(buf, sizeof buf, "%s\n%s\n", sec, sec);
    expect_identity(buf, SF_ERR_FORMAT);
    /* a space inside the key */
    snprintf(buf, sizeof buf, "%.20s %s", pub, pub + 20);
    expect_recipient(buf, SF_ERR_FORMAT);
}

static void test_rsa_pem_round_trip_with_crlf_and_trailing_spaces(
    void **state)
{
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf der = SF_BUF_INIT;
    struct sf_recipient *r = NULL;
    struct sf_identity *id = NULL;
    char want[64];

    (void)state;
    assert_int_equal(sf_rsa_to_der(F.rsa, false, &der), SF_OK);
    expected_id("rsa", der.data, der.len, want);
    decorate((const char *)F.rsa_public.data, F.rsa_public.len, "\r\n",
             &pub);
    decorate((const char *)F.rsa_private.data, F.rsa_private.len, "\r\n",
             &sec);
    assert_int_equal(sf_recipient_parse((const char *)pub.data, pub.len, &r),
                     SF_OK);
    assert_int_equal(sf_identity_parse((const char *)sec.data, sec.len, &id),
                     SF_OK);
    round_trip(r, id, want, SF_STANZA_RSA_OAEP);
    sf_recipient_free(r);
    sf_identity_free(id);
    sf_buf_free(&pub);
    sf_buf_free(&sec);
    sf_buf_free(&der);
}

static void test_rsa_small_keys_and_swapped_halves_are_refused(void **state)
{
    (void)state;
    expect_recipient(rsa2048_pub, SF_ERR_BAD_KEY);
    assert_non_null(strstr(sf_last_error(), "2048"));
    expect_recipient((const char *)F.rsa_private.data, SF_ERR_FORMAT);
    assert_non_null(strstr(sf_last_error(), "private"));
    expect_identity((const char *)F.rsa_public.data, SF_ERR_FORMAT);
    expect_recipient("-----BEGIN PUBLIC KEY-----\nAAAA\n"
                     "-----END PUBLIC KEY-----\n", SF_ERR_FORMAT);
}

/* The public string is the X25519 public key of the secret string. */
static void test_generated_strings_have_the_documented_form(void **state)
{
    struct sf_buf sk = SF_BUF_INIT;
    struct sf_buf pk = SF_BUF_INIT;
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    uint8_t derived[32];

    (void)state;
    assert_int_equal(sf_identity_generate_x25519(&sec, &pub), SF_OK);
    assert_int_equal(sec.len, strlen(SF_X25519_SECRET_PREFIX) + 43);
    assert_int_equal(pub.len, strlen(SF_X25519_RECIPIENT_PREFIX) + 43);
    assert_int_equal(strlen((const char *)sec.data), sec.len);
    assert_memory_equal(sec.data, "SEALFLOW-X25519-SECRET:", 23);
    assert_memory_equal(pub.data, "sealflow-x25519:", 16);
    assert_int_equal(sf_b64_decode(SF_B64_URL, (const char *)sec.data + 23,
                                   43, &sk), SF_OK);
    assert_int_equal(sf_b64_decode(SF_B64_URL, (const char *)pub.data + 16,
                                   43, &pk), SF_OK);
    assert_int_equal(sf_x25519_public(sk.data, derived), SF_OK);
    assert_memory_equal(derived, pk.data, 32);
    sf_buf_free(&sk);
    sf_buf_free(&pk);
    sf_buf_free(&sec);
    sf_buf_free(&pub);
}

static void test_key_text_find_reports_the_key_line(void **state)
{
    static const char pem[] = "#x\n-----BEGIN X-----\nAB\n"
                              "-----END X-----\r\n\r\n";
    const char *key;
    size_t len;
    bool is_pem;

    (void)state;
    assert_int_equal(sf_recipient_text_find("\r\n # c\r\n  abc \t\r\n\r\n",
                                            19, "recipient", &key, &len,
                                            &is_pem), SF_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(key, "abc", 3);
    assert_false(is_pem);
    assert_int_equal(sf_recipient_text_find(pem, strlen(pem), "identity",
                                            &key, &len, &is_pem), SF_OK);
    assert_true(is_pem);
    assert_int_equal(len, 36);
    assert_memory_equal(key, "-----BEGIN X-----", 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_text_tolerates_crlf_spaces_and_comments),
        cmocka_unit_test(test_malformed_text_is_refused),
        cmocka_unit_test(
            test_rsa_pem_round_trip_with_crlf_and_trailing_spaces),
        cmocka_unit_test(test_rsa_small_keys_and_swapped_halves_are_refused),
        cmocka_unit_test(test_generated_strings_have_the_documented_form),
        cmocka_unit_test(test_key_text_find_reports_the_key_line),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
