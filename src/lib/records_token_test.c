/*
 * The pieces the record walkers use instead of slower general ones must
 * give the same bytes: the JSON writer against yajl's generator, the
 * incremental path text against sf_path_render, and the token decoder
 * against sf_b64_decode. Pools of random bytes drawn ahead are not
 * shared with a forked child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <yajl/yajl_gen.h>

#include "records_internal.h"
#include "records_out.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"

/* What yajl's generator writes for one string value. */
static void yajl_string(const uint8_t *s, size_t len, struct sf_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t n;

    assert_non_null(g);
    assert_int_equal(yajl_gen_string(g, s, len), yajl_gen_status_ok);
    assert_int_equal(yajl_gen_get_buf(g, &buf, &n), yajl_gen_status_ok);
    out->len = 0;
    assert_int_equal(sf_buf_append(out, buf, n), SF_OK);
    yajl_gen_free(g);
}

static void test_json_writer_escapes_every_byte_as_yajl(void **state)
{
    struct sf_buf want = SF_BUF_INIT;
    struct sf_buf got = SF_BUF_INIT;
    struct rec_out o;

    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        uint8_t s[3] = {'a', (uint8_t)c, 'z'};

        for (size_t off = 0; off < 2; off++) {
            yajl_string(s + off, 3 - 2 * off, &want);
            got.len = 0;
            rec_out_init(&o, &got);
            rec_out_string(&o, s + off, 3 - 2 * off);
            assert_int_equal(rec_out_status(&o), SF_OK);
            assert_int_equal(got.len, want.len);
            assert_memory_equal(got.data, want.data, want.len);
        }
    }
    sf_buf_free(&want);
    sf_buf_free(&got);
}

/* A document with every kind of value, nesting and escapes, written back
 * by the tape and the writer, equals what yajl's generator writes. */
static void test_json_writer_writes_a_tape_as_yajl(void **state)
{
    static const char doc[] =
        "{\"a\\\"b\":[1,-0,1e400,true,false,null,{}],\"c\\\\\":{\"d\":"
        "[[],{\"e\":\"\\u0001\\t\\n/\\u00e9\\ud83d\\ude00\"}]},"
        "\"\":\"x\\u001fy\\b\\f\\r\"}";
    struct rec_tape t;
    struct tape_error err;
    yajl_gen g = yajl_gen_alloc(NULL);
    struct sf_buf got = SF_BUF_INIT;
    struct rec_out o;
    const unsigned char *buf;
    size_t n;

    (void)state;
    memset(&t, 0, sizeof t);
    assert_int_equal(rec_tape_parse(&t, (const uint8_t *)doc,
                                    sizeof doc - 1, 10, &err), SF_OK);
    assert_int_equal(rec_tape_emit(&t, 0, g), SF_OK);
    assert_int_equal(yajl_gen_get_buf(g, &buf, &n), yajl_gen_status_ok);
    rec_out_init(&o, &got);
    rec_out_tape(&o, &t, 0);
    assert_int_equal(rec_out_status(&o), SF_OK);
    assert_int_equal(got.len, n);
    assert_memory_equal(got.data, buf, n);
    yajl_gen_free(g);
    rec_tape_free(&t);
    sf_buf_free(&got);
}

static void test_path_text_matches_sf_path_render(void **state)
{
    static const char *const names[] = {
        "", "a", "quo\"te", "back\\slash", "\x01" "ctl\x1f", "tab\t",
        "\xc3\xbc" "n\xc3\xaf" "code", "[x]", "$", "sp ace", "\x7f"};
    struct sf_path *path = NULL;
    struct sf_buf want = SF_BUF_INIT;
    struct sf_buf got = SF_BUF_INIT;
    size_t i;

    (void)state;
    assert_int_equal(sf_path_new(NULL, &path), SF_OK);
    assert_int_equal(sf_buf_append(&got, "$", 1), SF_OK);
    for (i = 0; i < sizeof names / sizeof *names; i++) {
        assert_int_equal(sf_path_push_member(path, names[i],
                                             strlen(names[i])), SF_OK);
        assert_int_equal(rec_path_append_member(&got, names[i],
                                                strlen(names[i])), SF_OK);
        assert_int_equal(sf_path_push_index(path, i * 1237), SF_OK);
        assert_int_equal(rec_path_append_index(&got, i * 1237), SF_OK);
    }
    assert_int_equal(sf_path_render(path, &want), SF_OK);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    sf_path_free(path);
    sf_buf_free(&want);
    sf_buf_free(&got);
}

/* A small deterministic generator, so that every run tests the same
 * strings. */
static uint32_t next(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 8;
}

static void test_token_decoder_accepts_exactly_what_sf_b64_decode_does(
    void **state)
{
    static const char chars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        "AQgw=+/ .\xff";
    struct sf_buf want = SF_BUF_INIT;
    struct sf_buf got = SF_BUF_INIT;
    uint32_t x = 7;
    unsigned ok = 0;

    (void)state;
    for (unsigned round = 0; round < 20000; round++) {
        char s[40];
        size_t len = next(&x) % sizeof s;
        sf_status a;
        sf_status b;

        for (size_t i = 0; i < len; i++) {
            /* Mostly valid characters, so that many strings decode. */
            bool is_valid = next(&x) % 100 < 97;
            uint32_t r = next(&x);

            s[i] = chars[is_valid ? r % 64 : 64 + r % (sizeof chars - 65)];
        }
        want.len = 0;
        got.len = 0;
        a = sf_b64_decode(SF_B64_URL, s, len, &want);
        b = rec_b64url_decode(s, len, &got);
        assert_int_equal(a, b);
        if (a == SF_OK) {
            ok++;
            assert_int_equal(got.len, want.len);
            assert_memory_equal(got.data, want.data, want.len);
        } else {
            assert_int_equal(got.len, 0);
        }
    }
    assert_true(ok > 1000);  /* both outcomes were exercised */
    sf_buf_free(&want);
    sf_buf_free(&got);
}

static void test_dek_pool_gives_distinct_keys(void **state)
{
    struct rec_dek_pool pool;
    uint8_t seen[3 * REC_DEK_POOL][SF_DEK_LEN];

    (void)state;
    memset(&pool, 0, sizeof pool);
    for (size_t i = 0; i < 3 * REC_DEK_POOL; i++) {
        assert_int_equal(rec_dek_pool_draw(&pool, seen[i]), SF_OK);
        for (size_t j = 0; j < i; j++) {
            assert_memory_not_equal(seen[i], seen[j], SF_DEK_LEN);
        }
    }
    rec_dek_pool_free(&pool);
    sf_wipe(seen, sizeof seen);
}

/* A child forked after the pool was filled draws other keys than its
 * parent: the two never seal with the same record-scope DEK. */
static void test_forked_child_does_not_reuse_pooled_deks(void **state)
{
    struct rec_dek_pool pool;
    uint8_t first[SF_DEK_LEN];
    uint8_t parent[SF_DEK_LEN];
    uint8_t child[SF_DEK_LEN];
    int fds[2];
    pid_t pid;
    int status = 0;
    unsigned gen;

    (void)state;
    memset(&pool, 0, sizeof pool);
    assert_int_equal(rec_dek_pool_draw(&pool, first), SF_OK);
    gen = rec_fork_generation();
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int is_ok = rec_fork_generation() != gen &&
                    rec_dek_pool_draw(&pool, child) == SF_OK &&
                    write(fds[1], child, sizeof child) ==
                        (ssize_t)sizeof child;

        _exit(is_ok ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
    assert_int_equal(rec_dek_pool_draw(&pool, parent), SF_OK);
    assert_int_equal(rec_fork_generation(), gen);
    assert_memory_not_equal(parent, child, SF_DEK_LEN);
    close(fds[0]);
    close(fds[1]);
    rec_dek_pool_free(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_writer_escapes_every_byte_as_yajl),
        cmocka_unit_test(test_json_writer_writes_a_tape_as_yajl),
        cmocka_unit_test(test_path_text_matches_sf_path_render),
        cmocka_unit_test(
            test_token_decoder_accepts_exactly_what_sf_b64_decode_does),
        cmocka_unit_test(test_dek_pool_gives_distinct_keys),
        cmocka_unit_test(test_forked_child_does_not_reuse_pooled_deks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
