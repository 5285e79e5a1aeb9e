#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "kdf.h"
#include "sealflow/audit.h"
#include "sealflow/secret.h"

#define MAX_LINES 64

struct fixture {
    char dir[64];
    char path[128];
    struct sf_secret *key;
};

/* A log split into lines (without their '\n'), for tampering. */
struct lines {
    char *line[MAX_LINES];
    size_t count;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint8_t raw[32];

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sf-audit-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/audit.log", f->dir);
    memset(raw, 0x42, sizeof raw);
    assert_int_equal(sf_secret_from(raw, sizeof raw, &f->key), SF_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    sf_secret_free(f->key);
    free(f);
    return 0;
}

static struct sf_audit_event event(const char *op, const char *key)
{
    struct sf_audit_event ev;

    memset(&ev, 0, sizeof ev);
    ev.request_id = "7c1e2a4e-0000-4000-8000-000000000001";
    ev.accessor = "0123456789abcdef01234567";
    ev.remote = "127.0.0.1";
    ev.operation = op;
    ev.key = key;
    ev.version = 1;
    ev.outcome = "ok";
    ev.status = 200;
    ev.latency_us = 42;
    return ev;
}

/* Writes start checkpoint, n entries and the close checkpoint. */
static void write_log(struct fixture *f, int n)
{
    struct sf_audit_options opt = {1000, 3600, false};
    struct sf_audit *a = NULL;

    assert_int_equal(sf_audit_open(f->path, f->key, &opt, &a), SF_OK);
    for (int i = 0; i < n; i++) {
        struct sf_audit_event ev = event("encrypt", "orders");

        assert_int_equal(sf_audit_append(a, &ev), SF_OK);
    }
    assert_int_equal(sf_audit_count(a), (uint64_t)n);
    sf_audit_close(a);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void split(char *text, struct lines *l)
{
    char *save = NULL;

    l->count = 0;
    for (char *s = strtok_r(text, "\n", &save); s != NULL;
         s = strtok_r(NULL, "\n", &save)) {
        assert_true(l->count < MAX_LINES);
        l->line[l->count++] = s;
    }
}

/* Joins lines back with '\n' after each and verifies the result. */
static sf_status verify_lines(const struct lines *l,
                              const struct sf_secret *key,
                              struct sf_audit_report *rep)
{
    size_t len = 0;
    char *buf;
    sf_status rc;

    for (size_t i = 0; i < l->count; i++) {
        len += strlen(l->line[i]) + 1;
    }
    buf = malloc(len + 1);
    assert_non_null(buf);
    len = 0;
    for (size_t i = 0; i < l->count; i++) {
        size_t n = strlen(l->line[i]);

        memcpy(buf + len, l->line[i], n);
        buf[len + n] = '\n';
        len += n + 1;
    }
    rc = sf_audit_verify_buf((const uint8_t *)buf, len, key, rep);
    free(buf);
    return rc;
}

static void test_audit_log_of_requests_verifies(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;

    write_log(f, 5);
    assert_int_equal(sf_audit_verify_file(f->path, f->key, &rep), SF_OK);
    assert_int_equal(rep.lines, 7);
    assert_int_equal(rep.checkpoints, 2);
    assert_int_equal(rep.first_seq, 1);
    assert_int_equal(rep.last_seq, 7);
    assert_int_equal(rep.unsealed_tail, 0);
    assert_true(rep.macs_verified);
    assert_int_equal(rep.bad_line, 0);
}

static void test_audit_line_holds_hmacs_not_sensitive_values(void **state)
{
    struct fixture *f = *state;
    struct sf_audit *a = NULL;
    struct sf_audit_event ev = event("decrypt", "orders");
    size_t len;
    char *text;

    ev.context = (const uint8_t *)"tenant-secret-ctx";
    ev.context_len = strlen("tenant-secret-ctx");
    ev.input = (const uint8_t *)"vault:v1:SECRETCIPHERTEXT";
    ev.input_len = strlen("vault:v1:SECRETCIPHERTEXT");
    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a), SF_OK);
    assert_int_equal(sf_audit_append(a, &ev), SF_OK);
    sf_audit_close(a);

    text = read_all(f->path, &len);
    assert_null(strstr(text, "tenant-secret-ctx"));
    assert_null(strstr(text, "SECRETCIPHERTEXT"));
    assert_non_null(strstr(text, "\"context_hmac\":\"hmac-sha256:"));
    assert_non_null(strstr(text, "\"input_hmac\":\"hmac-sha256:"));
    assert_non_null(strstr(text, "\"accessor\":\"0123456789abcdef01234567\""));
    assert_non_null(strstr(text, "\"operation\":\"decrypt\",\"key\":"
                                 "\"orders\",\"version\":1"));
    free(text);
}

/* Writes a 5-entry log and loads it split into its 7 lines. */
static char *load_lines(struct fixture *f, struct lines *l)
{
    size_t len;
    char *text;

    write_log(f, 5);
    text = read_all(f->path, &len);
    split(text, l);
    assert_int_equal(l->count, 7);
    return text;
}

static void test_audit_verify_detects_edited_line(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;
    struct lines l;
    char *text = load_lines(f, &l);
    char *p = strstr(l.line[2], "\"outcome\":\"ok\"");

    assert_non_null(p);
    memcpy(p, "\"outcome\":\"no\"", 14);
    assert_int_equal(verify_lines(&l, f->key, &rep), SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 4);
    assert_non_null(strstr(sf_last_error(), "line 4"));
    free(text);
}

static void test_audit_verify_detects_deleted_line(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;
    struct lines l;
    char *text = load_lines(f, &l);

    memmove(&l.line[3], &l.line[4], (l.count - 4) * sizeof l.line[0]);
    l.count--;
    assert_int_equal(verify_lines(&l, f->key, &rep), SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 4);
    free(text);
}

static void test_audit_verify_detects_reordered_lines(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;
    struct lines l;
    char *text = load_lines(f, &l);
    char *tmp = l.line[2];

    l.line[2] = l.line[3];
    l.line[3] = tmp;
    assert_int_equal(verify_lines(&l, f->key, &rep), SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 3);
    free(text);
}

static void test_audit_verify_detects_inserted_line(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;
    struct lines l;
    char *text = load_lines(f, &l);

    memmove(&l.line[4], &l.line[3], (l.count - 3) * sizeof l.line[0]);
    l.count++;
    assert_int_equal(verify_lines(&l, f->key, &rep), SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 5);
    free(text);
}

static void test_audit_verify_detects_removed_head(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;
    struct lines l;
    char *text = load_lines(f, &l);

    memmove(&l.line[0], &l.line[2], (l.count - 2) * sizeof l.line[0]);
    l.count -= 2;
    assert_int_equal(verify_lines(&l, f->key, &rep), SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 1);
    free(text);
}

/* Replaces the 64-hex prev value of line with the hash of before. */
static void relink(char *line, const char *before)
{
    uint8_t h[32];
    char *p = strstr(line, "\"prev\":\"");

    assert_non_null(p);
    p += 8;
    assert_int_equal(sf_hash(SF_MD_SHA256, (const uint8_t *)before,
                             strlen(before), h), SF_OK);
    for (size_t i = 0; i < 32; i++) {
        static const char hex[] = "0123456789abcdef";

        p[2 * i] = hex[h[i] >> 4];
        p[2 * i + 1] = hex[h[i] & 15];
    }
}

static void test_audit_rechained_edit_fails_only_with_key(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;
    struct lines l;
    char *text = load_lines(f, &l);
    char *p = strstr(l.line[2], "\"key\":\"orders\"");

    /* An attacker edits line 3 and recomputes every later prev. */
    assert_non_null(p);
    memcpy(p, "\"key\":\"ORDERS\"", 14);
    for (size_t i = 3; i < l.count; i++) {
        relink(l.line[i], l.line[i - 1]);
    }
    assert_int_equal(verify_lines(&l, NULL, &rep), SF_OK);
    assert_false(rep.macs_verified);
    assert_int_equal(verify_lines(&l, f->key, &rep), SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 7);
    free(text);
}

static void test_audit_verify_rejects_wrong_key(void **state)
{
    struct fixture *f = *state;
    struct sf_secret *other = NULL;
    struct sf_audit_report rep;
    uint8_t raw[32];

    write_log(f, 1);
    memset(raw, 0x43, sizeof raw);
    assert_int_equal(sf_secret_from(raw, sizeof raw, &other), SF_OK);
    assert_int_equal(sf_audit_verify_file(f->path, other, &rep),
                     SF_ERR_AUTH);
    assert_int_equal(rep.bad_line, 1);
    sf_secret_free(other);
}

static void test_audit_reopen_continues_the_chain(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_report rep;

    write_log(f, 2);
    write_log(f, 3);
    assert_int_equal(sf_audit_verify_file(f->path, f->key, &rep), SF_OK);
    assert_int_equal(rep.lines, 9);
    assert_int_equal(rep.checkpoints, 4);
    assert_int_equal(rep.last_seq, 9);
}

static void test_audit_open_refuses_incomplete_last_line(void **state)
{
    struct fixture *f = *state;
    struct sf_audit *a = NULL;
    FILE *fp;

    write_log(f, 1);
    fp = fopen(f->path, "a");
    assert_non_null(fp);
    fputs("{\"seq\":4,\"ty", fp);
    fclose(fp);
    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a),
                     SF_ERR_FORMAT);
    assert_null(a);
}

static void test_audit_fails_closed_when_folder_removed(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_event ev = event("keys.create", "k1");
    struct sf_audit_report rep;
    struct sf_audit *a = NULL;

    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a), SF_OK);
    assert_int_equal(sf_audit_append(a, &ev), SF_OK);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(rmdir(f->dir), 0);
    assert_int_equal(sf_audit_append(a, &ev), SF_ERR_IO);
    assert_int_equal(sf_audit_append(a, &ev), SF_ERR_IO);
    assert_int_equal(sf_audit_count(a), 1);

    /* Once the folder is back the log continues in a new file, which
     * starts with a sealed file_start checkpoint. */
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(sf_audit_append(a, &ev), SF_OK);
    sf_audit_close(a);
    assert_int_equal(sf_audit_verify_file(f->path, f->key, &rep), SF_OK);
    assert_int_equal(rep.lines, 3);
    assert_int_equal(rep.first_seq, 3);
    assert_int_equal(rep.checkpoints, 2);
}

static void test_audit_full_disk_refuses_entry(void **state)
{
    struct fixture *f = *state;
    struct sf_audit *a = NULL;

    if (access("/dev/full", W_OK) != 0) {
        print_message("SKIP: /dev/full is not available\n");
        return;
    }
    /* /dev/full fails every write with ENOSPC, so even the start
     * checkpoint cannot be written and open refuses. */
    assert_int_equal(sf_audit_open("/dev/full", f->key, NULL, &a),
                     SF_ERR_IO);
    assert_null(a);
}

struct worker {
    struct sf_audit *a;
    int n;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < w->n; i++) {
        struct sf_audit_event ev = event("encrypt", "concurrent");

        w->failures += sf_audit_append(w->a, &ev) != SF_OK;
    }
    return NULL;
}

static void test_audit_concurrent_appends_form_one_chain(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_options opt = {100, 3600, true};
    struct sf_audit_report rep;
    struct worker w[8];
    pthread_t t[8];
    struct sf_audit *a = NULL;

    assert_int_equal(sf_audit_open(f->path, f->key, &opt, &a), SF_OK);
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){a, 250, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(sf_audit_count(a), 2000);
    sf_audit_close(a);
    assert_int_equal(sf_audit_verify_file(f->path, f->key, &rep), SF_OK);
    assert_int_equal(rep.lines - rep.checkpoints, 2000);
    /* A checkpoint follows the batch that reaches 100 entries; a batch
     * holds at most one entry per thread, so at most 107 entries lie
     * between checkpoints: 18 periodic ones, plus start and close. */
    assert_true(rep.checkpoints >= 2 + 2000 / 107);
    assert_int_equal(rep.unsealed_tail, 0);
}

/* The request line of a one-entry log (its second line), parsed. */
static json_t *only_request_line(struct fixture *f, char **raw)
{
    size_t len;
    char *text = read_all(f->path, &len);
    char *start = strchr(text, '\n');
    char *end;
    json_t *doc;

    assert_non_null(start);
    start++;
    end = strchr(start, '\n');
    assert_non_null(end);
    *end = '\0';
    doc = json_loads(start, 0, NULL);
    assert_non_null(doc);
    *raw = strdup(start);
    free(text);
    return doc;
}

static void test_audit_line_escapes_awkward_strings_like_jansson(
    void **state)
{
    struct fixture *f = *state;
    struct sf_audit_event ev = event("encrypt", "schl\xc3\xbc" "ssel");
    struct sf_audit *a = NULL;
    char long_remote[301];
    char *raw = NULL;
    char *want;
    json_t *doc;
    json_t *again;

    memset(long_remote, 'a', 300);
    long_remote[300] = '\0';
    ev.remote = long_remote;
    ev.accessor = "\xff\xfe";
    ev.error = "say \"no\"\\ then\nnew line \x01 and \x7f";
    ev.batch_count = 3;
    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a), SF_OK);
    assert_int_equal(sf_audit_append(a, &ev), SF_OK);
    sf_audit_close(a);
    doc = only_request_line(f, &raw);

    assert_string_equal(json_string_value(json_object_get(doc, "key")),
                        "schl\xc3\xbc" "ssel");
    assert_non_null(strstr(raw, "\"key\":\"schl\\u00FCssel\""));
    assert_string_equal(json_string_value(json_object_get(doc, "error")),
                        ev.error);
    assert_int_equal(strlen(json_string_value(json_object_get(doc,
                                                              "remote"))),
                     256);
    assert_string_equal(json_string_value(json_object_get(doc, "accessor")),
                        "(not valid UTF-8)");
    assert_int_equal(json_integer_value(json_object_get(doc, "batch")), 3);

    /* Byte for byte what jansson writes for the same members. */
    again = json_deep_copy(doc);
    want = json_dumps(again, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                 JSON_ENSURE_ASCII);
    assert_string_equal(raw, want);
    free(want);
    json_decref(again);
    json_decref(doc);
    free(raw);
}

struct submitted {
    pthread_mutex_t mu;
    int calls;
    sf_status rc;
};

static void on_done(void *arg, sf_status rc, const char *why)
{
    struct submitted *s = arg;

    assert_non_null(why);
    pthread_mutex_lock(&s->mu);
    s->calls++;
    s->rc = rc;
    pthread_mutex_unlock(&s->mu);
}

static void test_audit_submit_calls_back_once_per_entry(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_event ev = event("keys.create", "k1");
    struct submitted s = {PTHREAD_MUTEX_INITIALIZER, 0, SF_ERR_INTERNAL};
    struct sf_audit_report rep;
    struct sf_audit *a = NULL;

    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a), SF_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sf_audit_submit(a, &ev, on_done, &s), SF_OK);
    }
    /* Close drains the queue, so every callback has run after it. */
    sf_audit_close(a);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.rc, SF_OK);
    assert_int_equal(sf_audit_verify_file(f->path, f->key, &rep), SF_OK);
    assert_int_equal(rep.lines, 5);
}

static void test_audit_submit_reports_failed_commit(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_event ev = event("encrypt", "k1");
    struct submitted s = {PTHREAD_MUTEX_INITIALIZER, 0, SF_OK};
    struct sf_audit *a = NULL;

    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a), SF_OK);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(rmdir(f->dir), 0);
    assert_int_equal(sf_audit_submit(a, &ev, on_done, &s), SF_OK);
    sf_audit_close(a);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc, SF_ERR_IO);
    assert_int_equal(mkdir(f->dir, 0700), 0);
}

static void test_audit_refuses_overlong_line_alone(void **state)
{
    struct fixture *f = *state;
    struct sf_audit_event ev = event("encrypt", "k1");
    struct sf_audit_event ok = event("encrypt", "k2");
    struct sf_audit *a = NULL;
    char ctl[257];

    /* 256 control bytes each become a 6-byte escape, in 8 members. */
    memset(ctl, 0x01, 256);
    ctl[256] = '\0';
    ev.request_id = ctl;
    ev.accessor = ctl;
    ev.remote = ctl;
    ev.key = ctl;
    ev.error = ctl;
    ev.outcome = ctl;
    assert_int_equal(sf_audit_open(f->path, f->key, NULL, &a), SF_OK);
    assert_int_equal(sf_audit_append(a, &ev), SF_ERR_LIMIT);
    assert_int_equal(sf_audit_append(a, &ok), SF_OK);
    assert_int_equal(sf_audit_count(a), 1);
    sf_audit_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_log_of_requests_verifies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_line_holds_hmacs_not_sensitive_values, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_verify_detects_edited_line, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_verify_detects_deleted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_verify_detects_reordered_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_verify_detects_inserted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_verify_detects_removed_head, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_rechained_edit_fails_only_with_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_verify_rejects_wrong_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_reopen_continues_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_open_refuses_incomplete_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_fails_closed_when_folder_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_full_disk_refuses_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_concurrent_appends_form_one_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_line_escapes_awkward_strings_like_jansson, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_submit_calls_back_once_per_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_submit_reports_failed_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_refuses_overlong_line_alone, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
