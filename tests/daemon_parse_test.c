/*
 * Unit tests of sealflowd's parsers: routing, percent-decoding, values in
 * request bodies, ciphertexts, the transit associated data and the config
 * file. The daemon is a program, so its modules are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../src/daemon/config.c"
#include "../src/daemon/route.c"
#include "../src/daemon/transit_input.c"

static struct sfd_route route(const char *method, const char *path)
{
    struct sfd_route r;

    sfd_route_parse("transit", sfd_method_parse(method, false), path, &r);
    return r;
}

static void test_route_endpoints_and_methods(void **state)
{
    struct sfd_route r;

    (void)state;
    r = route("LIST", "/v1/transit/keys");
    assert_int_equal(r.ep, SFD_EP_KEYS);
    assert_int_equal(r.method, SFD_M_LIST);
    assert_int_equal(route("GET", "/v1/transit/keys/").ep, SFD_EP_KEYS);
    assert_int_equal(sfd_method_parse("GET", true), SFD_M_LIST);
    assert_int_equal(sfd_method_parse("PUT", false), SFD_M_WRITE);
    assert_int_equal(sfd_method_parse("PATCH", false), SFD_M_OTHER);
    r = route("POST", "/v1/transit/datakey/plaintext/k");
    assert_int_equal(r.ep, SFD_EP_DATAKEY);
    assert_true(r.is_plaintext_datakey);
    r = route("POST", "/v1/transit/datakey/wrapped/k");
    assert_false(r.is_plaintext_datakey);
    assert_string_equal(r.key, "k");
    assert_int_equal(route("GET", "/v1/sys/health").ep, SFD_EP_HEALTH);
    assert_int_equal(route("GET", "/v1/auth/token/lookup-self").ep,
                     SFD_EP_LOOKUP_SELF);
    r = route("POST", "/v1/sys/mounts/transit/");
    assert_int_equal(r.ep, SFD_EP_MOUNT);
    assert_string_equal(r.mount_path, "transit");
    assert_int_equal(route("GET", "/v1/other/keys").ep, SFD_EP_NONE);
    assert_int_equal(route("GET", "/v2/transit/keys").ep, SFD_EP_NONE);
    assert_int_equal(route("POST", "/v1/transit/encrypt/").ep, SFD_EP_NONE);
}

static void test_route_splits_key_and_suboperation(void **state)
{
    struct sfd_route r;

    (void)state;
    r = route("POST", "/v1/transit/keys/a/b/config");
    assert_int_equal(r.ep, SFD_EP_KEY_CONFIG);
    assert_string_equal(r.key, "a/b");
    r = route("PUT", "/v1/transit/keys/a/rotate");
    assert_int_equal(r.ep, SFD_EP_KEY_ROTATE);
    assert_string_equal(r.key, "a");
    r = route("POST", "/v1/transit/keys/x/trim");
    assert_int_equal(r.ep, SFD_EP_KEY_TRIM);
    /* A read never has a sub-operation: the whole rest is the name. */
    r = route("GET", "/v1/transit/keys/a/config");
    assert_int_equal(r.ep, SFD_EP_KEY);
    assert_string_equal(r.key, "a/config");
    /* An encoded slash keeps "config" inside the name. */
    r = route("POST", "/v1/transit/keys/a%2Fconfig");
    assert_int_equal(r.ep, SFD_EP_KEY);
    assert_string_equal(r.key, "a/config");
    assert_false(r.has_bad_key);
    r = route("POST", "/v1/transit/keys/config");
    assert_int_equal(r.ep, SFD_EP_KEY);
    assert_string_equal(r.key, "config");
}

static void test_route_decodes_and_checks_names(void **state)
{
    static const char *const bad[] = {
        "/v1/transit/keys/a%00b", "/v1/transit/keys/a%2",
        "/v1/transit/keys/%zz", "/v1/transit/keys/a//b",
        "/v1/transit/keys/a/../b",
        "/v1/transit/keys/sp%20ace", "/v1/transit/encrypt/trail/",
    };
    struct sfd_route r;

    (void)state;
    r = route("POST", "/v1/transit/encrypt/cl%C3%A9-%40x.y");
    assert_false(r.has_bad_key);
    assert_string_equal(r.key, "cl\xc3\xa9-@x.y");
    r = route("POST", "/v1/transit/encrypt/-lead");
    assert_string_equal(r.key, "-lead");
    assert_false(r.has_bad_key);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = route("POST", bad[i]);
        assert_true(r.has_bad_key);
        assert_true(r.error[0] != '\0');
    }
}

static void test_url_decode_limits(void **state)
{
    char out[4];

    (void)state;
    assert_int_equal(sfd_url_decode("abc", 3, out, sizeof out), SF_OK);
    assert_string_equal(out, "abc");
    assert_int_equal(sfd_url_decode("abcd", 4, out, sizeof out),
                     SF_ERR_FORMAT);
    assert_int_equal(sfd_url_decode("%41%4a", 6, out, sizeof out), SF_OK);
    assert_string_equal(out, "AJ");
    assert_int_equal(sfd_url_decode("a+b", 3, out, sizeof out), SF_OK);
    assert_string_equal(out, "a+b");
}

static void test_values_accept_json_and_strings(void **state)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:b, s:s, s:s, s:i, s:s}", "a", 7,
                          "b", "12", "c", "-1", "d", 1, "e", "false", "f",
                          "24h", "g", 90, "h", "3x");
    uint64_t v;
    bool has;
    bool on;

    (void)state;
    assert_int_equal(sfd_get_uint(o, "a", 10, &has, &v), SF_OK);
    assert_true(has);
    assert_int_equal(v, 7);
    assert_int_equal(sfd_get_uint(o, "b", 100, &has, &v), SF_OK);
    assert_int_equal(v, 12);
    assert_int_equal(sfd_get_uint(o, "b", 11, &has, &v), SF_ERR_FORMAT);
    assert_int_equal(sfd_get_uint(o, "c", 100, &has, &v), SF_ERR_FORMAT);
    assert_int_equal(sfd_get_uint(o, "none", 100, &has, &v), SF_OK);
    assert_false(has);
    assert_int_equal(sfd_get_bool(o, "d", &has, &on), SF_OK);
    assert_true(on);
    assert_int_equal(sfd_get_bool(o, "e", &has, &on), SF_OK);
    assert_true(has);
    assert_false(on);
    assert_int_equal(sfd_get_bool(o, "a", &has, &on), SF_ERR_FORMAT);
    assert_int_equal(sfd_get_duration(o, "f", &has, &v), SF_OK);
    assert_int_equal(v, 86400);
    assert_int_equal(sfd_get_duration(o, "g", &has, &v), SF_OK);
    assert_int_equal(v, 90);
    assert_int_equal(sfd_get_duration(o, "h", &has, &v), SF_ERR_FORMAT);
    json_decref(o);
}

static void test_body_and_batch_items(void **state)
{
    static const char text[] =
        "{\"batch_input\":[{\"plaintext\":\"aGk=\",\"reference\":\"r1\"},"
        "{\"context\":\"Yw==\"},5,{\"plaintext\":\"\",\"key_version\":\"2\"}]}";
    struct sfd_batch b;
    json_t *doc = NULL;
    char err[256];

    (void)state;
    assert_int_equal(sfd_body_parse((const uint8_t *)" \n", 2, &doc, err,
                                    sizeof err), SF_OK);
    assert_int_equal(json_object_size(doc), 0);
    json_decref(doc);
    assert_int_equal(sfd_body_parse((const uint8_t *)"[1]", 3, &doc, err,
                                    sizeof err), SF_ERR_FORMAT);
    assert_int_equal(sfd_body_parse((const uint8_t *)text, strlen(text), &doc,
                                    err, sizeof err), SF_OK);
    assert_int_equal(sfd_items_parse(doc, "plaintext", 10, &b, err,
                                     sizeof err), SF_OK);
    assert_true(b.is_batch);
    assert_int_equal(b.count, 4);
    assert_string_equal(b.items[0].value, "aGk=");
    assert_string_equal(json_string_value(b.items[0].reference), "r1");
    assert_true(b.items[1].has_error);
    assert_string_equal(b.items[1].error, "missing plaintext");
    assert_true(b.items[2].has_error);
    assert_false(b.items[3].has_error);
    assert_int_equal(b.items[3].key_version, 2);
    sfd_batch_free(&b);
    assert_int_equal(sfd_items_parse(doc, "plaintext", 3, &b, err,
                                     sizeof err), SF_ERR_LIMIT);
    json_decref(doc);
}

static void test_ciphertext_parse_and_format(void **state)
{
    struct sf_buf raw = SF_BUF_INIT;
    struct sf_buf text = SF_BUF_INIT;
    static const char *const bad[] = {
        "vault:v0:AAAA", "vault:v:AAAA", "vault:vx:AAAA", "vault:v1AAAA",
        "v1:AAAA", "vault:v1:AA=A", "vault:v99999999999:AAAA",
    };
    uint32_t v = 0;

    (void)state;
    assert_int_equal(sfd_ciphertext_parse("vault:v12:AQID", &v, &raw), SF_OK);
    assert_int_equal(v, 12);
    assert_int_equal(raw.len, 3);
    assert_int_equal(raw.data[2], 3);
    assert_int_equal(sfd_ciphertext_format(7, raw.data, raw.len, &text),
                     SF_OK);
    assert_string_equal((char *)text.data, "vault:v7:AQID");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sf_buf_reset(&raw);
        assert_int_not_equal(sfd_ciphertext_parse(bad[i], &v, &raw), SF_OK);
    }
    sf_buf_free(&raw);
    sf_buf_free(&text);
}

static void test_aad_layout(void **state)
{
    static const uint8_t want[] = {
        's', 'e', 'a', 'l', 'f', 'l', 'o', 'w', '-', 't', 'r', 'a', 'n', 's',
        'i', 't', 0, 0, 0, 0, 0, 2, 'c', 'x', 0, 0, 0, 1, 'd',
    };
    struct sf_buf aad = SF_BUF_INIT;

    (void)state;
    assert_int_equal(sfd_aad_build(NULL, 0, NULL, 0, &aad), SF_OK);
    assert_int_equal(aad.len, 0);
    assert_int_equal(sfd_aad_build((const uint8_t *)"cx", 2,
                                   (const uint8_t *)"d", 1, &aad),
                     SF_OK);
    assert_int_equal(aad.len, sizeof want);
    assert_memory_equal(aad.data, want, sizeof want);
    sf_buf_free(&aad);
}

static void test_config_file_and_errors(void **state)
{
    static const char good[] =
        "# comment\n\nlisten = \"127.0.0.1:9\"\r\nbatch_max=5\n"
        "insecure_plain_http = true\n  keystore =  /k.db  \n";
    struct sfd_config c;
    char err[256];

    (void)state;
    sfd_config_defaults(&c);
    assert_int_equal(sfd_config_parse(&c, good, strlen(good), "t.conf", err,
                                      sizeof err), SF_OK);
    assert_string_equal(c.listen, "127.0.0.1:9");
    assert_int_equal(c.batch_max, 5);
    assert_true(c.insecure_plain_http);
    assert_string_equal(c.keystore, "/k.db");
    assert_int_equal(sfd_config_parse(&c, "x = 1\n", 6, "t.conf", err,
                                      sizeof err), SF_ERR_FORMAT);
    assert_string_equal(err, "t.conf:1: unknown setting 'x'");
    assert_int_equal(sfd_config_parse(&c, "\nbatch_max = 0", 14, "t.conf",
                                      err, sizeof err), SF_ERR_FORMAT);
    assert_string_equal(err, "t.conf:2: batch_max must be a whole number "
                             "from 1 to 100000");
    assert_int_equal(sfd_config_set(&c, "mount", "a/b", err, sizeof err),
                     SF_ERR_FORMAT);
    assert_int_equal(sfd_config_set(&c, "log_level", "loud", err,
                                    sizeof err), SF_ERR_FORMAT);
    assert_int_equal(sfd_config_finish(&c, err, sizeof err), SF_ERR_FORMAT);
    assert_string_equal(err, "no root_key is configured: set it in the "
                             "config file or with --root-key (or use --dev)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_endpoints_and_methods),
        cmocka_unit_test(test_route_splits_key_and_suboperation),
        cmocka_unit_test(test_route_decodes_and_checks_names),
        cmocka_unit_test(test_url_decode_limits),
        cmocka_unit_test(test_values_accept_json_and_strings),
        cmocka_unit_test(test_body_and_batch_items),
        cmocka_unit_test(test_ciphertext_parse_and_format),
        cmocka_unit_test(test_aad_layout),
        cmocka_unit_test(test_config_file_and_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
