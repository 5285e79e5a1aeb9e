/*
 * Streaming: JSON Lines and CSV through the worker pool, output in input
 * order, CRLF input, CSV quoting, JSON documents holding arrays of records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "records_internal.h"
#include "records_test_util.h"

static const char policy_yaml[] =
    "version: 1\n"
    "classes:\n"
    "  public:\n"
    "    suite: none\n"
    "  internal:\n"
    "    keys: [local:internal-kek]\n"
    "    dek_scope: {type: shared, max_age: 1h, max_records: 1000,"
    " max_bytes: 1M}\n"
    "  confidential:\n"
    "    keys: [local:conf-kek]\n"
    "rules:\n"
    "  - column: Email\n"
    "    class: confidential\n"
    "  - column: Note\n"
    "    class: confidential\n"
    "  - path: $.n\n"
    "    class: internal\n"
    "  - path: $.email\n"
    "    class: confidential\n"
    "default: public\n"
    "stages:\n"
    "  - name: ops\n"
    "    sees: [internal]\n"
    "partners:\n"
    "  - name: research\n"
    "    recipient: recipient:%s\n"
    "    sees: [confidential]\n";

static int setup(void **state)
{
    return rt_setup(state, policy_yaml);
}

static int teardown(void **state)
{
    return rt_teardown(state);
}

/* 3000 records on two workers come back in input order. */
static void test_parallel_output_keeps_input_order(void **state)
{
    struct rt *t = *state;
    size_t cap = 3000 * 64;
    char *in = malloc(cap);
    size_t n = 0;
    struct sf_records_stats st;
    char *out;
    char *back;
    const char *p;

    assert_non_null(in);
    for (int i = 0; i < 3000; i++) {
        n += (size_t)snprintf(in + n, cap - n, "{\"i\":%d,\"n\":%d,\"email\":"
                              "\"u%d@x.org\"}\n", i, i * 7, i);
    }
    t->threads = 2;
    out = rt_seal(t, in, SF_RECORDS_JSONL, SF_OK);
    p = out;
    for (int i = 0; i < 3000; i++) {
        char want[32];

        snprintf(want, sizeof want, "{\"i\":%d,", i);
        assert_memory_equal(p, want, strlen(want));
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    back = rt_open_stats(t, out, SF_RECORDS_JSONL, NULL, 0, true, SF_OK,
                         &st);
    assert_string_equal(back, in);
    assert_int_equal(st.records, 3000);
    assert_int_equal(st.tokens, 6000);
    assert_int_equal(st.bytes_in, strlen(out));
    assert_int_equal(st.bytes_out, strlen(in));
    free(in);
    free(out);
    free(back);
}

static void test_jsonl_with_crlf_round_trips(void **state)
{
    struct rt *t = *state;
    static const char in[] = "{\"n\":1,\"k\":\"a\"}\r\n{\"n\":2}\r\n";
    char *out = rt_seal(t, in, SF_RECORDS_JSONL, SF_OK);
    char *crlf = rt_replace(out, "}\n", "}\r\n");
    char *back = rt_open(t, crlf, SF_RECORDS_JSONL, NULL, 0, true, SF_OK);

    assert_string_equal(back, "{\"n\":1,\"k\":\"a\"}\n{\"n\":2}\n");
    free(out);
    free(crlf);
    free(back);
}

static void test_csv_round_trips_quotes_newlines_and_crlf(void **state)
{
    struct rt *t = *state;
    static const char in[] =
        "\xEF\xBB\xBFId,Email,Note,City\r\n"
        "1,a@b.org,\"says \"\"hi\"\", then, leaves\",\"Paris, FR\"\r\n"
        "2,,\"two\r\nlines\",  Lyon\r\n"
        "3,\xC3\xA9@x.fr,,\r\n";
    char *out = rt_seal(t, in, SF_RECORDS_CSV, SF_OK);
    char *back;

    assert_memory_equal(out, "Id,Email,Note,City,_sealflow\r\n1,sf1.", 35);
    assert_null(strstr(out, "a@b.org"));
    assert_null(strstr(out, "leaves"));
    assert_non_null(strstr(out, ",  Lyon,\"{"));
    back = rt_open(t, out, SF_RECORDS_CSV, NULL, 0, false, SF_OK);
    assert_string_equal(back, in + 3);  /* without the byte order mark */
    free(out);
    free(back);
}

/* A selective open keeps a "_sealflow" column for what stays sealed;
 * rows opened fully leave it empty. */
static void test_csv_selective_open_keeps_metadata_column(void **state)
{
    struct rt *t = *state;
    static const char *const readers[] = {"ops"};
    static const char in[] = "Id,Email\n1,a@b.org\n";
    char *out = rt_seal(t, in, SF_RECORDS_CSV, SF_OK);
    char *part = rt_open(t, out, SF_RECORDS_CSV, readers, 1, false, SF_OK);

    assert_memory_equal(part, "Id,Email,_sealflow\n1,sf1.", 25);
    assert_non_null(strstr(part, ",\"{\"\"v\"\":1"));
    free(out);
    free(part);
}

static void test_csv_full_open_refuses_to_drop_kept_tokens(void **state)
{
    struct rt *t = *state;
    static const char in[] = "Id,Email\n1,a@b.org\n";
    char *out = rt_seal(t, in, SF_RECORDS_CSV, SF_OK);
    struct sf_records_stats st;

    assert_null(rt_open_ids(t, out, SF_RECORDS_CSV, NULL, 0, false,
                            SF_ERR_NO_KEY, &st, NULL, 0));
    assert_non_null(strstr(sf_last_error(), "record 1"));
    free(out);
}

static void test_csv_errors_name_the_row(void **state)
{
    struct rt *t = *state;

    assert_null(rt_seal(t, "a,b\n1,2\n3\n", SF_RECORDS_CSV, SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "record 2 (line 3"));
    assert_non_null(strstr(sf_last_error(), "has 1 field(s)"));
    assert_null(rt_seal(t, "a,b\n1,\"x\"y\n", SF_RECORDS_CSV,
                        SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "malformed CSV"));
    assert_null(rt_seal(t, "a,b\n1,\"open\n", SF_RECORDS_CSV,
                        SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "quoted CSV field"));
    assert_null(rt_seal(t, "a,a\n1,2\n", SF_RECORDS_CSV, SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "same name"));
    assert_null(rt_seal(t, "a,Email\n1,\xFF\n", SF_RECORDS_CSV,
                        SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "at $[\"Email\"]"));
}

/* Opening must not keep one of two "_sealflow" columns as data: the
 * next open would take it for the metadata column and drop it. */
static void test_csv_open_refuses_two_metadata_columns(void **state)
{
    struct rt *t = *state;

    assert_null(rt_open(t, "_sealflow,J,_sealflow\n", SF_RECORDS_CSV, NULL,
                        0, false, SF_ERR_PARSE));
    assert_non_null(strstr(sf_last_error(), "column twice"));
}

/* A JSON document that is an array holds one record per element. */
static void test_json_array_document_round_trips(void **state)
{
    struct rt *t = *state;
    static const char in[] =
        "[{\"n\":1,\"email\":\"a@b\"},\n {\"n\":2,\"tags\":[]}]";
    char *out = rt_seal(t, in, SF_RECORDS_JSON, SF_OK);
    char *back = rt_open(t, out, SF_RECORDS_JSON, NULL, 0, true, SF_OK);

    assert_int_equal(out[0], '[');
    assert_non_null(strstr(out, "},{\"n\":\"sf1."));
    rt_assert_same_doc(in, back);
    free(out);
    free(back);
}

static void test_empty_json_array_is_an_empty_document(void **state)
{
    struct rt *t = *state;
    char *out = rt_seal(t, " [ ] ", SF_RECORDS_JSON, SF_OK);

    assert_string_equal(out, "[]\n");
    free(out);
}

/* Reads one byte at a time: records cross every read boundary. */
static sf_status slow_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    struct rec_membuf *m = arg;

    return rec_mem_read(arg, buf, cap > 0 && m->len > m->at ? 1 : cap, got);
}

static void test_tiny_reads_give_the_same_output_order(void **state)
{
    struct rt *t = *state;
    static const char in[] = "A,Email\n\"x\ny\",e@f\nz,\"q\"\"r\"\n";
    struct sf_records_seal_opts o = {SF_RECORDS_CSV, NULL, 0, 2, "in"};
    struct sf_record_sealer *s = NULL;
    struct sf_buf out = SF_BUF_INIT;
    struct rec_membuf m = {(const uint8_t *)in, strlen(in), 0, &out};
    struct sf_records_io io = {slow_read, &m, rec_mem_write, &m};
    char *text;
    char *back;

    assert_int_equal(sf_record_sealer_new(t->policy, t->f->ks, &o, &s),
                     SF_OK);
    assert_int_equal(sf_records_seal_stream(s, &io, NULL), SF_OK);
    sf_record_sealer_free(s);
    text = rt_text(&out);
    back = rt_open(t, text, SF_RECORDS_CSV, NULL, 0, true, SF_OK);
    assert_string_equal(back, in);
    free(text);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_parallel_output_keeps_input_order),
        T(test_jsonl_with_crlf_round_trips),
        T(test_csv_round_trips_quotes_newlines_and_crlf),
        T(test_csv_selective_open_keeps_metadata_column),
        T(test_csv_full_open_refuses_to_drop_kept_tokens),
        T(test_csv_errors_name_the_row),
        T(test_csv_open_refuses_two_metadata_columns),
        T(test_json_array_document_round_trips),
        T(test_empty_json_array_is_an_empty_document),
        T(test_tiny_reads_give_the_same_output_order),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
