/*
 * The remote keyring against the real key service: sealflowd in dev mode
 * on 127.0.0.1 (the binary named by SF_DAEMON). src/lib/remote_test.c
 * checks the client against a mock; this checks that the two halves of
 * the project agree on the wire: datakey, batched decrypt with per-item
 * results, "vault:vN:" versions that follow a rotation, and the unwrap
 * cache serving while the service is down.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sealflow/envelope.h"
#include "sealflow/remote.h"

static const uint8_t message[] = "invoice 77: 12 crates, paid by transfer";

/* The one sealflowd all tests share, started by the group setup. */
static struct {
    pid_t pid;
    char base[256];
    char addr[128];
    char token[128];
} d;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Copies the rest of the line after prefix in text to out; false when the
 * line is not there yet. */
static bool find_line(const char *text, const char *prefix, char *out,
                      size_t out_len)
{
    const char *p = strstr(text, prefix);
    size_t n;

    if (p == NULL) {
        return false;
    }
    p += strlen(prefix);
    while (*p == ' ') {
        p++;
    }
    n = strcspn(p, "\n");
    if (p[n] != '\n' || n == 0 || n >= out_len) {
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Reads what the daemon printed until the address and root token are
 * there (10 s at most). */
static bool read_banner(const char *path)
{
    char text[4096];
    size_t got;
    FILE *f;

    for (int i = 0; i < 200; i++) {
        f = fopen(path, "r");
        got = f != NULL ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f != NULL) {
            fclose(f);
        }
        text[got] = '\0';
        if (find_line(text, "Address:", d.addr, sizeof d.addr) &&
            find_line(text, "Root Token:", d.token, sizeof d.token)) {
            return true;
        }
        sleep_ms(50);
    }
    return false;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* POSTs body (or GETs when body is NULL) to path with the root token;
 * the HTTP status, or 0 without an answer. */
static long api(const char *path, const char *body)
{
    char url[512];
    char auth[192];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    long status = 0;

    if (c == NULL) {
        return 0;
    }
    snprintf(url, sizeof url, "%s%s", d.addr, path);
    snprintf(auth, sizeof auth, "X-Vault-Token: %s", d.token);
    h = curl_slist_append(h, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void stop_daemon(void)
{
    if (d.pid > 0) {
        kill(d.pid, SIGTERM);
        waitpid(d.pid, NULL, 0);
        d.pid = 0;
    }
}

/* The child: stdout to base/out, stderr to base/err, then sealflowd. */
static void exec_daemon(const char *bin)
{
    char path[512];
    char dev[512];
    int fd;

    snprintf(dev, sizeof dev, "%s/dev", d.base);
    snprintf(path, sizeof path, "%s/out", d.base);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
    }
    snprintf(path, sizeof path, "%s/err", d.base);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
    }
    execl(bin, "sealflowd", "--dev", "--dev-dir", dev, "--listen",
          "127.0.0.1:0", "--log-level", "warn", (char *)NULL);
    _exit(127);
}

static int start_daemon(void **state)
{
    const char *bin = getenv("SF_DAEMON");
    const char *tmp = getenv("TMPDIR");
    char out[512];

    (void)state;
    snprintf(d.base, sizeof d.base, "%s/sf-remote-daemon-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (bin == NULL || mkdtemp(d.base) == NULL) {
        return -1;
    }
    d.pid = fork();
    if (d.pid == 0) {
        exec_daemon(bin);
    }
    snprintf(out, sizeof out, "%s/out", d.base);
    if (d.pid < 0 || !read_banner(out)) {
        fprintf(stderr, "sealflowd did not start (see %s/err)\n", d.base);
        stop_daemon();
        return -1;
    }
    for (int i = 0; i < 100 && api("/v1/sys/health", NULL) != 200; i++) {
        sleep_ms(50);
    }
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int end_daemon(void **state)
{
    (void)state;
    stop_daemon();
    nftw(d.base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* A client with its own (empty) caches, failing fast when the service is
 * gone. */
static struct sf_remote *client(void)
{
    struct sf_remote_opts o;
    struct sf_remote *r = NULL;

    sf_remote_opts_default(&o);
    o.addr = d.addr;
    o.token = d.token;
    o.retries = 0;
    o.timeout_ms = 5000;
    assert_int_equal(sf_remote_new(&o, &r), SF_OK);
    return r;
}

static void create_key(const char *name)
{
    char path[256];

    snprintf(path, sizeof path, "/v1/transit/keys/%s", name);
    assert_int_equal(api(path, "{}"), 200);
}

/* A data key of key name from the service; wrapped gets its ciphertext. */
static struct sf_secret *datakey(struct sf_remote *r, const char *name,
                                 struct sf_buf *wrapped, uint32_t *version)
{
    struct sf_secret *dek = NULL;

    assert_int_equal(sf_remote_datakey(r, name, 256, 1000, &dek, wrapped,
                                       version),
                     SF_OK);
    assert_int_equal(sf_secret_len(dek), 32);
    return dek;
}

static void test_datakey_from_sealflowd_unwraps_to_the_same_key(void **state)
{
    struct sf_remote *r = client();
    struct sf_remote *other = client();
    struct sf_buf wrapped = SF_BUF_INIT;
    struct sf_remote_stats st;
    struct sf_secret *dek;
    uint32_t version = 0;

    (void)state;
    create_key("dk");
    dek = datakey(r, "kms:dk", &wrapped, &version);
    assert_int_equal(version, 1);
    assert_memory_equal(wrapped.data, "vault:v1:", 9);

    struct sf_remote_item item = {"dk", (const char *)wrapped.data,
                                  wrapped.len, NULL, SF_ERR_INTERNAL};
    assert_int_equal(sf_remote_decrypt_batch(other, &item, 1), SF_OK);
    assert_int_equal(item.status, SF_OK);
    assert_memory_equal(sf_secret_cdata(item.dek), sf_secret_cdata(dek), 32);
    sf_remote_stats(other, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.unwrap_misses, 1);

    sf_secret_free(item.dek);
    sf_secret_free(dek);
    sf_buf_free(&wrapped);
    sf_remote_free(other);
    sf_remote_free(r);
}

static void test_batch_from_sealflowd_reports_each_item(void **state)
{
    struct sf_remote *r = client();
    struct sf_remote *other = client();
    struct sf_buf wa = SF_BUF_INIT;
    struct sf_buf wb = SF_BUF_INIT;
    struct sf_remote_stats st;
    struct sf_secret *da;
    struct sf_secret *db;
    uint32_t v;

    (void)state;
    create_key("batch-a");
    create_key("batch-b");
    da = datakey(r, "batch-a", &wa, &v);
    db = datakey(r, "batch-b", &wb, &v);

    /* the same ciphertext twice, and one that key batch-a did not make */
    struct sf_remote_item items[3] = {
        {"batch-a", (const char *)wa.data, wa.len, NULL, SF_ERR_INTERNAL},
        {"batch-a", (const char *)wa.data, wa.len, NULL, SF_ERR_INTERNAL},
        {"batch-a", (const char *)wb.data, wb.len, NULL, SF_ERR_INTERNAL}};
    assert_int_equal(sf_remote_decrypt_batch(other, items, 3), SF_ERR_AUTH);
    assert_int_equal(items[0].status, SF_OK);
    assert_int_equal(items[1].status, SF_OK);
    assert_int_equal(items[2].status, SF_ERR_AUTH);
    assert_null(items[2].dek);
    assert_memory_equal(sf_secret_cdata(items[0].dek), sf_secret_cdata(da),
                        32);
    assert_memory_equal(sf_secret_cdata(items[1].dek), sf_secret_cdata(da),
                        32);
    sf_remote_stats(other, &st);
    assert_int_equal(st.requests, 1);

    for (int i = 0; i < 3; i++) {
        sf_secret_free(items[i].dek);
    }
    sf_secret_free(da);
    sf_secret_free(db);
    sf_buf_free(&wa);
    sf_buf_free(&wb);
    sf_remote_free(other);
    sf_remote_free(r);
}

/* Seals message to kms:env and checks the one stanza's version. */
static void seal_checked(struct sf_recipient *to, uint32_t version,
                         struct sf_buf *out)
{
    struct sf_header_info info;

    assert_int_equal(sf_envelope_seal(NULL, &to, 1, message, sizeof message,
                                      out),
                     SF_OK);
    assert_int_equal(sf_envelope_inspect(out->data, out->len, &info), SF_OK);
    assert_int_equal(info.stanza_len, 1);
    assert_int_equal(info.stanzas[0].type, SF_STANZA_REMOTE);
    assert_string_equal(info.stanzas[0].key_id, "kms:env");
    assert_int_equal(info.stanzas[0].version, version);
    sf_header_info_free(&info);
}

static void open_checked(struct sf_identity *me, const struct sf_buf *in)
{
    struct sf_buf pt = SF_BUF_INIT;

    assert_int_equal(sf_envelope_open(&me, 1, in->data, in->len, &pt),
                     SF_OK);
    assert_int_equal(pt.len, sizeof message);
    assert_memory_equal(pt.data, message, sizeof message);
    sf_buf_free(&pt);
}

static void test_envelope_through_sealflowd_follows_rotation(void **state)
{
    struct sf_remote *r = client();
    struct sf_remote *other = client();
    struct sf_recipient *to = NULL;
    struct sf_identity *me = NULL;
    struct sf_buf v1 = SF_BUF_INIT;
    struct sf_buf v2 = SF_BUF_INIT;

    (void)state;
    create_key("env");
    assert_int_equal(sf_recipient_remote(r, "kms:env", &to), SF_OK);
    seal_checked(to, 1, &v1);
    assert_int_equal(api("/v1/transit/keys/env/rotate", "{}"), 200);
    seal_checked(to, 2, &v2);

    assert_int_equal(sf_identity_remote(other, &me), SF_OK);
    open_checked(me, &v1);
    open_checked(me, &v2);

    sf_identity_free(me);
    sf_recipient_free(to);
    sf_buf_free(&v1);
    sf_buf_free(&v2);
    sf_remote_free(other);
    sf_remote_free(r);
}

/* Stops the daemon: keep this test last. */
static void test_unwrap_cache_serves_while_sealflowd_is_down(void **state)
{
    struct sf_remote *r = client();
    struct sf_remote *other = client();
    struct sf_buf w = SF_BUF_INIT;
    struct sf_buf w2 = SF_BUF_INIT;
    struct sf_remote_stats st;
    struct sf_secret *dek;
    struct sf_secret *none = NULL;
    uint32_t v;

    (void)state;
    create_key("kept");
    dek = datakey(r, "kept", &w, &v);
    struct sf_remote_item item = {"kept", (const char *)w.data, w.len, NULL,
                                  SF_ERR_INTERNAL};
    assert_int_equal(sf_remote_decrypt_batch(other, &item, 1), SF_OK);
    sf_secret_free(item.dek);
    item.dek = NULL;

    stop_daemon();
    assert_int_equal(sf_remote_decrypt_batch(other, &item, 1), SF_OK);
    assert_memory_equal(sf_secret_cdata(item.dek), sf_secret_cdata(dek), 32);
    sf_remote_stats(other, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.unwrap_hits, 1);
    assert_int_equal(sf_remote_datakey(other, "kept", 256, 1, &none, &w2,
                                       &v),
                     SF_ERR_UNAVAILABLE);
    assert_null(none);
    sf_remote_flush(other);
    sf_secret_free(item.dek);
    item.dek = NULL;
    assert_int_equal(sf_remote_decrypt_batch(other, &item, 1),
                     SF_ERR_UNAVAILABLE);

    sf_secret_free(dek);
    sf_buf_free(&w);
    sf_buf_free(&w2);
    sf_remote_free(other);
    sf_remote_free(r);
}

int main(void)
{
    const char *bin = getenv("SF_DAEMON");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datakey_from_sealflowd_unwraps_to_the_same_key),
        cmocka_unit_test(test_batch_from_sealflowd_reports_each_item),
        cmocka_unit_test(test_envelope_through_sealflowd_follows_rotation),
        cmocka_unit_test(test_unwrap_cache_serves_while_sealflowd_is_down),
    };

    if (bin == NULL || access(bin, X_OK) != 0) {
        printf("SKIP: remote keyring against sealflowd (SF_DAEMON does not "
               "name an executable sealflowd)\n");
        return 0;
    }
    return cmocka_run_group_tests(tests, start_daemon, end_daemon);
}
