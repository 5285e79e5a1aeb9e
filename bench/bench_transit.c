/*
 * The key service under load, beside the limits measured in the same run:
 * the same operation done in process by the library (sf_keystore_wrap and
 * unwrap of 32 bytes, sf_random for a data key) on one thread and on every
 * core, and one group commit of the audit log (a write and an fdatasync
 * on the filesystem that holds it), which every reply waits for.
 *
 * Starts `sealflowd --dev` (the sealflowd beside this program, or
 * $SF_DAEMON) on a loopback port the system picks, with its audit log in
 * a temporary folder ($TMPDIR or /tmp), creates an aes256-gcm96 key, and
 * drives datakey, encrypt (32 bytes) and decrypt with 32 keep-alive
 * HTTP/1.1 connections, one request in flight on each. The load generator
 * is one thread on non-blocking sockets and epoll, so it takes little of
 * the CPU the service needs; the CPU used by the service, the generator
 * and the rest of the machine is printed with each figure. Every latency
 * in the measured window is kept and sorted for p50 and p99. Batch
 * datakey (1000 keys per request) is measured when the service supports
 * it.
 *
 * Targets are printed beside the figures and never fail the run; the exit
 * status is 1 only when the service could not start or a request failed
 * (a non-2xx status, a broken connection, or no answer within 3 s).
 *
 * Usage: bench_transit [SECONDS]   (measured seconds per run, default 5)
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sealflow/buf.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"
#include "sealflow/secret.h"

#define CONNS 32
#define BATCH_CONNS 4
#define BATCH_KEYS 1000
#define WARM_NS 1000000000ull
#define DRAIN_NS 3000000000ull
#define LIMIT_NS 1000000000ull
#define LAT_MAX ((size_t)1 << 22)
#define RESP_MAX ((size_t)64 << 20)
#define PT_LEN 32
#define TARGET_OPS 25000.0
#define TARGET_P99_MS 2.0
#define TARGET_KEYS 250000.0
#define TMPFS_MAGIC_FS 0x01021994

enum op { OP_DATAKEY, OP_ENCRYPT, OP_DECRYPT, OP_COUNT };

static const char *const op_names[OP_COUNT] = {"datakey", "encrypt",
                                               "decrypt"};
static const char *const op_paths[OP_COUNT] = {
    "/v1/transit/datakey/plaintext/bench", "/v1/transit/encrypt/bench",
    "/v1/transit/decrypt/bench"};

static volatile sig_atomic_t is_stopping;

/* The service under test and the files of this run. */
struct service {
    pid_t pid;
    unsigned port;
    char token[128];
    char dir[PATH_MAX];
    char audit[PATH_MAX + 16];
};

/* One load generator connection: at most one request in flight. */
struct conn {
    int fd;
    size_t sent;
    bool is_waiting_out;
    uint64_t t0;
    size_t head;  /* header length, once it is in */
    size_t need;  /* whole response length, once the header is in */
    int status;
    char *buf;
    size_t len;
    size_t cap;
};

/* One load run: the request, and what was measured. */
struct load {
    const uint8_t *req;
    size_t req_len;
    unsigned conns;
    uint64_t run_ns;
    uint64_t *lat;     /* latencies (ns) of responses in the window */
    size_t lat_n;
    uint64_t done;     /* responses in the window */
    uint64_t responses; /* all responses, warm-up and drain included */
    uint64_t errors;   /* non-2xx responses, at any time */
    uint64_t failures; /* broken connections or responses, or none */
    int bad_status;
    char bad_body[200];
    double gen_cpu_s;
    double daemon_cpu_s;
    double machine_cpu_s; /* busy CPU seconds of the whole machine */
};

/* State of the event loop of one run. */
struct loop {
    struct load *ld;
    const struct service *svc;
    int ep;
    struct conn *c;
    size_t active;
    uint64_t t_warm;
    uint64_t t_end;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_self_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User plus system CPU seconds of a process, from /proc; -1 if unknown. */
static double cpu_of(pid_t pid)
{
    char path[64];
    char text[1024];
    unsigned long ut = 0;
    unsigned long st = 0;
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    p = strrchr(text, ')');
    /* After the name: state, then fields 4 to 13, then utime, stime. */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
                            "%*u %*u %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU seconds of the whole machine since boot (steal included:
 * it is CPU this run could not have); -1 if unknown. */
static double cpu_machine(void)
{
    unsigned long long v[8] = {0};
    unsigned long long busy = 0;
    FILE *f = fopen("/proc/stat", "r");
    int n = 0;

    if (f != NULL) {
        n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        fclose(f);
    }
    if (n != 8) {
        return -1;
    }
    for (int i = 0; i < 8; i++) {
        busy += i == 3 || i == 4 ? 0 : v[i]; /* not idle, not iowait */
    }
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

/* Cores that processes other than the service and this program kept
 * busy during the window: a run sharing the machine measures less. */
static double other_cores(const struct load *ld)
{
    double other = ld->machine_cpu_s - ld->daemon_cpu_s - ld->gen_cpu_s;

    return (other > 0 ? other : 0) / ((double)ld->run_ns / 1e9);
}

static void on_signal(int sig)
{
    (void)sig;
    is_stopping = 1;
}

/* ---- the limit: the same operations in process ---------------------- */

struct limit_job {
    struct sf_keystore *ks;
    enum op op;
    const uint8_t *ct;
    size_t ct_len;
    uint64_t until;
    uint64_t ops;
    sf_status rc;
};

static const uint8_t limit_pt[PT_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

/* One operation as the service does it, without HTTP, JSON or audit. */
static sf_status limit_once(struct limit_job *j, struct sf_buf *out)
{
    struct sf_secret *pt = NULL;
    uint8_t dk[PT_LEN];
    uint32_t used = 0;
    sf_status rc;

    sf_buf_reset(out);
    if (j->op == OP_DECRYPT) {
        rc = sf_keystore_unwrap(j->ks, "bench", 1, NULL, 0, j->ct,
                                j->ct_len, &pt);
        sf_secret_free(pt);
        return rc;
    }
    if (j->op == OP_ENCRYPT) {
        return sf_keystore_wrap(j->ks, "bench", 0, NULL, 0, limit_pt,
                                sizeof limit_pt, out, &used);
    }
    rc = sf_random(dk, sizeof dk);
    if (rc == SF_OK) {
        rc = sf_keystore_wrap(j->ks, "bench", 0, NULL, 0, dk, sizeof dk,
                              out, &used);
    }
    sf_wipe(dk, sizeof dk);
    return rc;
}

static void *limit_thread(void *arg)
{
    struct limit_job *j = arg;
    struct sf_buf out = SF_BUF_INIT;

    j->rc = SF_OK;
    while (j->rc == SF_OK && now_ns() < j->until) {
        for (int i = 0; i < 64 && j->rc == SF_OK; i++) {
            j->rc = limit_once(j, &out);
            j->ops++;
        }
    }
    sf_buf_free(&out);
    return NULL;
}

/* Operations per second of op on n threads; -1 on failure. */
static double limit_measure(struct limit_job *proto, unsigned n)
{
    struct limit_job jobs[64];
    pthread_t th[64];
    uint64_t t0 = now_ns();
    uint64_t ops = 0;
    bool is_ok = true;
    unsigned started = 0;

    n = n > 64 ? 64 : n;
    for (unsigned i = 0; i < n; i++) {
        jobs[i] = *proto;
        jobs[i].until = t0 + LIMIT_NS;
        if (pthread_create(&th[i], NULL, limit_thread, &jobs[i]) != 0) {
            is_ok = false;
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        ops += jobs[i].ops;
        is_ok = is_ok && jobs[i].rc == SF_OK;
    }
    if (!is_ok) {
        fprintf(stderr, "bench_transit: in-process %s failed: %s\n",
                op_names[proto->op], sf_last_error());
        return -1;
    }
    return (double)ops / ((double)(now_ns() - t0) / 1e9);
}

/* Measures every operation on one thread and on every core; rates are
 * [op][0] for one thread, [op][1] for all cores. */
static bool limit_run(const char *dir, unsigned cores,
                      double rates[OP_COUNT][2])
{
    char path[PATH_MAX + 16];
    struct sf_secret *root = NULL;
    struct sf_keystore *ks = NULL;
    struct sf_buf ct = SF_BUF_INIT;
    struct limit_job job;
    uint32_t used = 0;
    bool is_ok = false;

    snprintf(path, sizeof path, "%s/limit.db", dir);
    if (sf_secret_random(SF_ROOT_KEY_LEN, &root) != SF_OK ||
            sf_keystore_create(path, root, &ks) != SF_OK ||
            sf_keystore_create_key(ks, "bench", SF_KEY_AES256_GCM96,
                                   NULL) != SF_OK ||
            sf_keystore_wrap(ks, "bench", 0, NULL, 0, limit_pt,
                             sizeof limit_pt, &ct, &used) != SF_OK) {
        fprintf(stderr, "bench_transit: keystore: %s\n", sf_last_error());
        goto out;
    }
    memset(&job, 0, sizeof job);
    job.ks = ks;
    job.ct = ct.data;
    job.ct_len = ct.len;
    is_ok = true;
    for (int o = 0; o < OP_COUNT && is_ok && !is_stopping; o++) {
        job.op = (enum op)o;
        rates[o][0] = limit_measure(&job, 1);
        rates[o][1] = limit_measure(&job, cores);
        is_ok = rates[o][0] > 0 && rates[o][1] > 0;
    }

out:
    sf_buf_free(&ct);
    sf_keystore_close(ks);
    sf_secret_free(root);
    return is_ok && !is_stopping;
}

/* The audit log's own limit: the service answers a request only after
 * its entry is durable, and one group commit is one write and one
 * fdatasync. Measured here with commits of 32 entries (12 KiB), for half
 * a second, on the filesystem that holds the run's audit log. */
struct flush_limit {
    double p50_ms;
    double p99_ms;
    double per_s;
    bool is_tmpfs;
};

static int cmp_u64(const void *a, const void *b);

static bool flush_measure(const char *dir, struct flush_limit *fl)
{
    static uint64_t lat[20000];
    static const uint8_t chunk[12288];
    char path[PATH_MAX + 16];
    struct statfs fs;
    uint64_t t0 = now_ns();
    size_t n = 0;
    int fd;

    snprintf(path, sizeof path, "%s/flush.test", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    while (fd >= 0 && n < 20000 && now_ns() - t0 < LIMIT_NS / 2) {
        uint64_t t = now_ns();

        if ((n % 256 == 255 && ftruncate(fd, 0) != 0) ||
                write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk ||
                fdatasync(fd) != 0) {
            break;
        }
        lat[n++] = now_ns() - t;
    }
    if (fd >= 0) {
        close(fd);
    }
    (void)unlink(path);
    if (n < 10) {
        return false;
    }
    qsort(lat, n, sizeof lat[0], cmp_u64);
    fl->p50_ms = (double)lat[n / 2] / 1e6;
    fl->p99_ms = (double)lat[n * 99 / 100] / 1e6;
    fl->per_s = (double)n / ((double)(now_ns() - t0) / 1e9);
    fl->is_tmpfs = statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC_FS;
    return true;
}

/* ---- HTTP: requests and minimal response parsing --------------------- */

/* Parses a response header: 1 when it is complete (*status, *head, its
 * length, and *total, header plus Content-Length body, are set), 0 when
 * more bytes are needed, -1 for what this client does not handle.
 * Limitation: only Content-Length bodies are understood (sealflowd sends
 * no other kind); a chunked or close-delimited reply counts as a failed
 * response. */
static int parse_head(const char *p, size_t len, int *status, size_t *head,
                      size_t *total)
{
    size_t end = 0;
    unsigned long long cl = 0;
    bool has_cl = false;

    while (end + 4 <= len && memcmp(p + end, "\r\n\r\n", 4) != 0) {
        end++;
    }
    if (end + 4 > len) {
        return len > 16384 ? -1 : 0;
    }
    if (end < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
        return -1;
    }
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    for (size_t i = 0; i < end; i++) {
        if (p[i] == '\n' &&
                strncasecmp(p + i + 1, "content-length:", 15) == 0) {
            cl = strtoull(p + i + 16, NULL, 10);
            has_cl = true;
        }
    }
    if ((!has_cl && *status != 204) || cl > RESP_MAX) {
        return -1;
    }
    *head = end + 4;
    *total = end + 4 + (size_t)cl;
    return 1;
}

static sf_status request_build(struct sf_buf *out, const struct service *s,
                               const char *method, const char *path,
                               const char *body)
{
    char head[512];
    size_t blen = body == NULL ? 0 : strlen(body);
    int n;

    n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\n"
                 "Host: 127.0.0.1:%u\r\nX-Vault-Token: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n", method, path, s->port,
                 s->token, blen);
    if (n < 0 || (size_t)n >= sizeof head) {
        return SF_ERR_LIMIT;
    }
    sf_buf_reset(out);
    if (sf_buf_append(out, head, (size_t)n) != SF_OK ||
            (blen > 0 && sf_buf_append(out, body, blen) != SF_OK)) {
        return SF_ERR_NOMEM;
    }
    return SF_OK;
}

/* A TCP connection to the service, non-blocking when asked; -1 on error. */
static int conn_open(unsigned port, bool is_nonblocking)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
            (is_nonblocking && fcntl(fd, F_SETFL, O_NONBLOCK) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* One blocking request on its own connection. resp receives the body,
 * NUL-terminated. Returns the status, or -1 without a valid response. */
static int http_call(const struct service *s, const char *method,
                     const char *path, const char *body, struct sf_buf *resp)
{
    struct sf_buf req = SF_BUF_INIT;
    struct timeval tv = {10, 0};
    char chunk[16384];
    size_t head = 0;
    size_t total = 0;
    int status = -1;
    int state = 0;
    int fd = conn_open(s->port, false);

    sf_buf_reset(resp);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
                             sizeof tv) != 0 ||
            request_build(&req, s, method, path, body) != SF_OK ||
            !send_all(fd, req.data, req.len)) {
        state = -1;
        goto out;
    }
    while (state == 0 || resp->len < total) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);

        if (n <= 0 || sf_buf_append(resp, chunk, (size_t)n) != SF_OK) {
            state = -1;
            goto out;
        }
        if (state == 0) {
            state = parse_head((char *)resp->data, resp->len, &status,
                               &head, &total);
        }
        if (state < 0) {
            goto out;
        }
    }
    sf_buf_consume(resp, head);
    if (resp->len != total - head || sf_buf_terminate(resp) != SF_OK) {
        state = -1;
    }

out:
    sf_buf_free(&req);
    if (fd >= 0) {
        close(fd);
    }
    return state == 1 ? status : -1;
}

/* Calls the service; returns the parsed JSON reply (any status, *status
 * set), or NULL when there was no valid JSON reply. */
static json_t *call_json(const struct service *s, const char *method,
                         const char *path, const char *body, int *status)
{
    struct sf_buf resp = SF_BUF_INIT;
    json_t *root = NULL;

    *status = http_call(s, method, path, body, &resp);
    if (*status > 0 && resp.len > 0) {
        root = json_loadb((const char *)resp.data, resp.len, 0, NULL);
    }
    sf_buf_free(&resp);
    return root;
}

static const char *data_str(json_t *root, const char *name)
{
    return json_string_value(json_object_get(json_object_get(root, "data"),
                                             name));
}

/* ---- the load generator ---------------------------------------------- */

static void conn_close(struct loop *l, struct conn *c)
{
    if (c->fd >= 0) {
        (void)epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

/* Sends what is left of the request; waits for room when the socket is
 * full (a large batch body), and stops waiting once it is all out. */
static bool conn_write(struct loop *l, struct conn *c)
{
    struct epoll_event ev;
    bool is_short;

    while (c->sent < l->ld->req_len) {
        ssize_t n = send(c->fd, l->ld->req + c->sent,
                         l->ld->req_len - c->sent, MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            return false;
        }
        c->sent += (size_t)n;
    }
    is_short = c->sent < l->ld->req_len;
    if (is_short != c->is_waiting_out) {
        ev.events = EPOLLIN | (is_short ? (uint32_t)EPOLLOUT : 0u);
        ev.data.ptr = c;
        if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
            return false;
        }
        c->is_waiting_out = is_short;
    }
    return true;
}

static bool conn_start(struct loop *l, struct conn *c)
{
    c->t0 = now_ns();
    c->sent = 0;
    c->len = 0;
    c->need = 0;
    return conn_write(l, c);
}

/* Connects and starts the first request. */
static bool conn_connect(struct loop *l, struct conn *c)
{
    struct epoll_event ev;

    c->fd = conn_open(l->svc->port, true);
    if (c->fd < 0) {
        return false;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    c->is_waiting_out = false;
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    return conn_start(l, c);
}

/* A broken connection or response: counted, and the connection replaced
 * while the run lasts. */
static void conn_fail(struct loop *l, struct conn *c)
{
    l->ld->failures++;
    conn_close(l, c);
    if (now_ns() >= l->t_end || is_stopping || !conn_connect(l, c)) {
        conn_close(l, c);
        l->active--;
    }
}

/* Keeps the first refused response, to say why the run failed. */
static void note_error(struct load *ld, const struct conn *c)
{
    size_t n = c->need - c->head;

    if (ld->errors++ > 0) {
        return;
    }
    ld->bad_status = c->status;
    n = n < sizeof ld->bad_body - 1 ? n : sizeof ld->bad_body - 1;
    memcpy(ld->bad_body, c->buf + c->head, n);
    ld->bad_body[n] = '\0';
}

/* A whole response arrived at t: record it, then start the next request,
 * or close the connection when the run is over. */
static void conn_done(struct loop *l, struct conn *c, uint64_t t)
{
    struct load *ld = l->ld;

    ld->responses++;
    if (c->status < 200 || c->status > 299) {
        note_error(ld, c);
    }
    if (t >= l->t_warm && t < l->t_end) {
        ld->done++;
        if (ld->lat_n < LAT_MAX) {
            ld->lat[ld->lat_n++] = t - c->t0;
        }
    }
    if (c->len != c->need) {
        conn_fail(l, c);
    } else if (t < l->t_end && !is_stopping) {
        if (!conn_start(l, c)) {
            conn_fail(l, c);
        }
    } else {
        conn_close(l, c);
        l->active--;
    }
}

static bool conn_grow(struct conn *c)
{
    size_t cap = c->cap == 0 ? 8192 : c->cap * 2;
    char *p;

    if (cap > RESP_MAX + 16384) {
        return false;
    }
    p = realloc(c->buf, cap);
    if (p == NULL) {
        return false;
    }
    c->buf = p;
    c->cap = cap;
    return true;
}

static void conn_read(struct loop *l, struct conn *c)
{
    for (;;) {
        ssize_t n;

        if (c->len == c->cap && !conn_grow(c)) {
            conn_fail(l, c);
            return;
        }
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            conn_fail(l, c);
            return;
        }
        c->len += (size_t)n;
        if (c->need == 0 && parse_head(c->buf, c->len, &c->status,
                                       &c->head, &c->need) < 0) {
            conn_fail(l, c);
            return;
        }
        if (c->need != 0 && c->len >= c->need) {
            conn_done(l, c, now_ns());
            return;
        }
    }
}

static void loop_events(struct loop *l, int timeout_ms)
{
    struct epoll_event ev[64];
    int n = epoll_wait(l->ep, ev, 64, timeout_ms);

    for (int i = 0; i < n; i++) {
        struct conn *c = ev[i].data.ptr;

        if (c->fd < 0) {
            continue;
        }
        if ((ev[i].events & EPOLLOUT) != 0 && !conn_write(l, c)) {
            conn_fail(l, c);
            continue;
        }
        if ((ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
            conn_read(l, c);
        }
    }
}

/* Runs until the window ends, then lets requests in flight finish.
 * CPU use of both sides is sampled at the window's edges. */
static bool loop_run(struct loop *l)
{
    struct load *ld = l->ld;
    bool is_in = false;
    bool is_ended = false;
    double cpu0 = 0;
    double dcpu0 = 0;
    double mcpu0 = 0;

    while (!is_stopping) {
        uint64_t t = now_ns();

        if (!is_in && t >= l->t_warm) {
            is_in = true;
            cpu0 = cpu_self_s();
            dcpu0 = cpu_of(l->svc->pid);
            mcpu0 = cpu_machine();
        }
        if (!is_ended && t >= l->t_end) {
            is_ended = true;
            ld->gen_cpu_s = cpu_self_s() - cpu0;
            ld->daemon_cpu_s = cpu_of(l->svc->pid) - dcpu0;
            ld->machine_cpu_s = cpu_machine() - mcpu0;
        }
        /* Checked after the sampling: the last responses may all come
         * in one wakeup after the window closed. */
        if (l->active == 0 || t >= l->t_end + DRAIN_NS) {
            break;
        }
        loop_events(l, 20);
    }
    return is_ended && !is_stopping;
}

/* One run of ld->conns connections; false when it could not complete or
 * a request failed. */
static bool load_run(struct load *ld, const struct service *svc)
{
    struct loop l;
    bool is_done = false;

    memset(&l, 0, sizeof l);
    l.ld = ld;
    l.svc = svc;
    ld->lat_n = 0;
    ld->done = ld->responses = ld->errors = ld->failures = 0;
    l.ep = epoll_create1(0);
    l.c = calloc(ld->conns, sizeof *l.c);
    if (l.ep < 0 || l.c == NULL) {
        goto out;
    }
    l.t_warm = now_ns() + WARM_NS;
    l.t_end = l.t_warm + ld->run_ns;
    for (unsigned i = 0; i < ld->conns; i++) {
        l.c[i].fd = -1;
        if (conn_connect(&l, &l.c[i])) {
            l.active++;
        } else {
            ld->failures++;
        }
    }
    is_done = loop_run(&l);
    /* Still waiting after the drain: as good as no answer. */
    ld->failures += is_done ? l.active : 0;

out:
    for (unsigned i = 0; l.c != NULL && i < ld->conns; i++) {
        conn_close(&l, &l.c[i]);
        free(l.c[i].buf);
    }
    free(l.c);
    if (l.ep >= 0) {
        close(l.ep);
    }
    return is_done && ld->errors == 0 && ld->failures == 0;
}

/* ---- the service ---------------------------------------------------- */

/* $SF_DAEMON, or the sealflowd beside this program. */
static bool daemon_path(char *out, size_t max)
{
    const char *env = getenv("SF_DAEMON");
    char self[PATH_MAX];
    char *slash;
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        snprintf(out, max, "%s", env);
    } else {
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "bench_transit: cannot read /proc/self/exe\n");
            return false;
        }
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        snprintf(out, max, "%s/sealflowd", self);
    }
    if (access(out, X_OK) != 0) {
        fprintf(stderr, "bench_transit: no sealflowd at %s: build it "
                "(make) or set SF_DAEMON\n", out);
        return false;
    }
    return true;
}

/* Takes the address and the root token from the dev banner once both
 * lines are complete. */
static bool banner_parse(const char *text, struct service *s)
{
    const char *a = strstr(text, "Address:");
    const char *t = strstr(text, "Root Token:");
    const char *a_end = a == NULL ? NULL : strchr(a, '\n');
    const char *colon;
    size_t n;

    if (a_end == NULL || t == NULL || strchr(t, '\n') == NULL) {
        return false;
    }
    colon = a_end;
    while (colon > a && *colon != ':') {
        colon--;
    }
    s->port = (unsigned)strtoul(colon + 1, NULL, 10);
    t += strlen("Root Token:");
    t += strspn(t, " ");
    n = strcspn(t, " \r\n");
    if (s->port == 0 || s->port > 65535 || n == 0 ||
            n >= sizeof s->token) {
        return false;
    }
    memcpy(s->token, t, n);
    s->token[n] = '\0';
    return true;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* True while the service process runs; reaps it once it has exited. */
static bool daemon_alive(struct service *s)
{
    int st = 0;

    if (s->pid > 0 && waitpid(s->pid, &st, WNOHANG) == s->pid) {
        fprintf(stderr, "bench_transit: sealflowd exited (status %d)\n",
                WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        s->pid = 0;
    }
    return s->pid > 0;
}

/* Waits for the banner in the service's stdout file. */
static bool daemon_banner(struct service *s, const char *out_path)
{
    uint64_t deadline = now_ns() + 15000000000ull;
    char text[4096];

    while (now_ns() < deadline && !is_stopping && daemon_alive(s)) {
        FILE *f = fopen(out_path, "r");
        size_t n = 0;

        if (f != NULL) {
            n = fread(text, 1, sizeof text - 1, f);
            fclose(f);
        }
        text[n] = '\0';
        if (banner_parse(text, s)) {
            return true;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "bench_transit: no address and root token from "
            "sealflowd --dev\n");
    return false;
}

/* Waits until GET /v1/sys/health answers 200. */
static bool daemon_health(struct service *s)
{
    uint64_t deadline = now_ns() + 15000000000ull;
    struct sf_buf resp = SF_BUF_INIT;
    bool is_up = false;

    while (!is_up && now_ns() < deadline && !is_stopping &&
           daemon_alive(s)) {
        is_up = http_call(s, "GET", "/v1/sys/health", NULL, &resp) == 200;
        if (!is_up) {
            sleep_ms(50);
        }
    }
    sf_buf_free(&resp);
    if (!is_up) {
        fprintf(stderr, "bench_transit: sealflowd never became healthy\n");
    }
    return is_up;
}

/* Starts sealflowd --dev on a port the system picks, with the audit log
 * in the run's folder; its stdout and stderr go to files there. The
 * child asks to be stopped if this program dies first. */
static bool daemon_start(struct service *s, const char *exe)
{
    char dev[PATH_MAX + 16];
    char out[PATH_MAX + 16];
    char log[PATH_MAX + 16];
    char *argv[] = {(char *)exe, "--dev", "--dev-dir", dev, "--listen",
                    "127.0.0.1:0", "--audit-log", s->audit, "--log-level",
                    "warn", NULL};
    pid_t parent = getpid();
    int fo;
    int fl;

    snprintf(dev, sizeof dev, "%s/dev", s->dir);
    snprintf(out, sizeof out, "%s/daemon.out", s->dir);
    snprintf(log, sizeof log, "%s/daemon.log", s->dir);
    fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fl = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fflush(NULL);
    s->pid = fo >= 0 && fl >= 0 ? fork() : -1;
    if (s->pid == 0) {
        if (dup2(fo, 1) < 0 || dup2(fl, 2) < 0 ||
                prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
                getppid() != parent) {
            _exit(127);
        }
        execv(exe, argv);
        _exit(127);
    }
    if (fo >= 0) {
        close(fo);
    }
    if (fl >= 0) {
        close(fl);
    }
    if (s->pid < 0) {
        fprintf(stderr, "bench_transit: cannot start %s\n", exe);
        return false;
    }
    return daemon_banner(s, out) && daemon_health(s);
}

/* SIGTERM (the service drains and writes its close checkpoint), then
 * SIGKILL after 15 seconds. */
static void daemon_stop(struct service *s)
{
    int st = 0;

    if (s->pid <= 0) {
        return;
    }
    (void)kill(s->pid, SIGTERM);
    for (int i = 0; i < 750; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "bench_transit: sealflowd did not stop; killed\n");
    (void)kill(s->pid, SIGKILL);
    (void)waitpid(s->pid, &st, 0);
    s->pid = 0;
}

/* Shows the end of the service's log, to say why it failed. */
static void daemon_log_tail(const struct service *s)
{
    char path[PATH_MAX + 16];
    char text[1024];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/daemon.log", s->dir);
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    (void)fseek(f, -(long)(sizeof text - 1), SEEK_END);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    fprintf(stderr, "bench_transit: end of the sealflowd log:\n%s\n", text);
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    (void)remove(path);
    return 0;
}

/* ---- setup: a key and one checked call of each operation ------------ */

/* Says why a setup call failed (the service's message when it sent one). */
static bool fail_call(const char *what, int status, json_t *r)
{
    const char *msg = json_string_value(
        json_array_get(json_object_get(r, "errors"), 0));

    fprintf(stderr, "bench_transit: %s: status %d%s%s\n", what, status,
            msg != NULL ? ": " : "", msg != NULL ? msg : "");
    json_decref(r);
    return false;
}

/* A data key reply holds a 256-bit key and a ciphertext. */
static bool datakey_ok(json_t *obj)
{
    const char *pt = json_string_value(json_object_get(obj, "plaintext"));
    const char *ct = json_string_value(json_object_get(obj, "ciphertext"));
    struct sf_buf raw = SF_BUF_INIT;
    bool is_ok = pt != NULL && ct != NULL &&
                 strncmp(ct, "vault:v1:", 9) == 0 &&
                 sf_b64_decode(SF_B64_STD, pt, strlen(pt), &raw) == SF_OK &&
                 raw.len == PT_LEN;

    sf_buf_free(&raw);
    return is_ok;
}

/* Encrypts 32 random bytes once; the encrypt and decrypt bodies are
 * built from them and the ciphertext. */
static bool setup_crypt(const struct service *s, char body[OP_COUNT][512])
{
    uint8_t pt[PT_LEN];
    struct sf_buf b64 = SF_BUF_INIT;
    const char *ct;
    json_t *r = NULL;
    int st = 0;
    bool is_ok = false;

    if (sf_random(pt, sizeof pt) != SF_OK ||
            sf_b64_encode(SF_B64_STD, pt, sizeof pt, &b64) != SF_OK) {
        goto out;
    }
    snprintf(body[OP_ENCRYPT], 512, "{\"plaintext\":\"%s\"}",
             (const char *)b64.data);
    r = call_json(s, "POST", op_paths[OP_ENCRYPT], body[OP_ENCRYPT], &st);
    ct = data_str(r, "ciphertext");
    if (st != 200 || ct == NULL || strlen(ct) > 400) {
        is_ok = fail_call("encrypt", st, r);
        r = NULL;
        goto out;
    }
    snprintf(body[OP_DECRYPT], 512, "{\"ciphertext\":\"%s\"}", ct);
    json_decref(r);
    r = call_json(s, "POST", op_paths[OP_DECRYPT], body[OP_DECRYPT], &st);
    if (st != 200 || data_str(r, "plaintext") == NULL ||
            strcmp(data_str(r, "plaintext"), (const char *)b64.data) != 0) {
        is_ok = fail_call("decrypt (checking the round trip)", st, r);
        r = NULL;
        goto out;
    }
    is_ok = true;

out:
    json_decref(r);
    sf_buf_free(&b64);
    sf_wipe(pt, sizeof pt);
    return is_ok;
}

static bool setup_key(const struct service *s, char body[OP_COUNT][512])
{
    json_t *r;
    int st = 0;

    r = call_json(s, "POST", "/v1/transit/keys/bench",
                  "{\"type\":\"aes256-gcm96\"}", &st);
    if (st != 200) {
        return fail_call("create key", st, r);
    }
    json_decref(r);
    snprintf(body[OP_DATAKEY], 512, "{\"bits\":256}");
    r = call_json(s, "POST", op_paths[OP_DATAKEY], body[OP_DATAKEY], &st);
    if (st != 200 || !datakey_ok(json_object_get(r, "data"))) {
        return fail_call("datakey", st, r);
    }
    json_decref(r);
    return setup_crypt(s, body);
}

/* ---- reports ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Latency at quantile q in milliseconds; lat must be sorted. */
static double pct_ms(const struct load *ld, double q)
{
    size_t i;

    if (ld->lat_n == 0) {
        return 0;
    }
    i = (size_t)(q * (double)(ld->lat_n - 1) + 0.5);
    return (double)ld->lat[i] / 1e6;
}

static const char *verdict(bool is_met)
{
    return is_met ? "met" : "MISSED";
}

static void report_failure(const struct load *ld)
{
    if (ld->errors > 0) {
        printf("           FAILED: %llu non-2xx responses; first: %d %s\n",
               (unsigned long long)ld->errors, ld->bad_status,
               ld->bad_body);
    }
    if (ld->failures > 0) {
        printf("           FAILED: %llu broken connections, bad "
               "responses or responses later than 3 s\n",
               (unsigned long long)ld->failures);
    }
}

/* Prints one operation's figures beside its targets and its limit. */
static void report_op(enum op o, struct load *ld, const double limit[2],
                      unsigned cores)
{
    double secs = (double)ld->run_ns / 1e9;
    double ops = (double)ld->done / secs;
    double p99;

    qsort(ld->lat, ld->lat_n, sizeof *ld->lat, cmp_u64);
    p99 = pct_ms(ld, 0.99);
    printf("%-9s %8.0f ops/s (target >= %.0f: %s)  p50 %.2f ms  p99 "
           "%.2f ms (target <= %.0f ms: %s)  errors %llu\n", op_names[o],
           ops, TARGET_OPS, verdict(ops >= TARGET_OPS), pct_ms(ld, 0.5),
           p99, TARGET_P99_MS, verdict(p99 <= TARGET_P99_MS),
           (unsigned long long)(ld->errors + ld->failures));
    printf("           CPU: service %.2f cores (%.1f us/op), load "
           "generator %.2f, other processes %.2f%s\n",
           ld->daemon_cpu_s / secs,
           ops > 0 ? ld->daemon_cpu_s * 1e6 / (double)ld->done : 0,
           ld->gen_cpu_s / secs, other_cores(ld),
           other_cores(ld) > 0.25 ? " (a busy machine: these figures "
                                    "understate the service)" : "");
    printf("           in process: %.0f ops/s on 1 thread (%.2f us/op), "
           "%.0f on %u: server/limit %.4f\n", limit[0], 1e6 / limit[0],
           limit[1], cores, ops / limit[1]);
    report_failure(ld);
}

static void report_limit(double limit[OP_COUNT][2], unsigned cores,
                         const struct flush_limit *fl)
{
    printf("== key service (sealflowd) ==\n");
    printf("limit, in process: sf_keystore_wrap/unwrap of 32 bytes on an "
           "aes256-gcm96 key\n(datakey adds sf_random), no HTTP, JSON or "
           "audit\n");
    for (int o = 0; o < OP_COUNT; o++) {
        printf("%-9s %9.0f ops/s on 1 thread, %9.0f ops/s on %u threads\n",
               op_names[o], limit[o][0], limit[o][1], cores);
    }
    printf("limit, audit log on %s: one group commit (12 KiB write + "
           "fdatasync) takes\np50 %.3f ms, p99 %.3f ms; so at %d "
           "connections at most %.0f requests/s, and p99 >= %.3f ms\n",
           fl->is_tmpfs ? "tmpfs" : "disk", fl->p50_ms, fl->p99_ms, CONNS,
           CONNS * 1e3 / fl->p50_ms, fl->p99_ms);
}

/* Counts the audit log's entries, to show audit was on under load. */
static void report_audit(const struct service *s, uint64_t requests)
{
    struct statfs fs;
    char chunk[65536];
    uint64_t lines = 0;
    uint64_t bytes = 0;
    FILE *f = fopen(s->audit, "r");
    size_t n;

    if (f == NULL) {
        printf("audit log: missing\n");
        return;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        bytes += n;
        for (size_t i = 0; i < n; i++) {
            lines += chunk[i] == '\n';
        }
    }
    fclose(f);
    printf("audit log: %llu entries, %.1f MiB, for %llu requests under "
           "load, on %s\n", (unsigned long long)lines,
           (double)bytes / 1048576.0, (unsigned long long)requests,
           statfs(s->dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC_FS
               ? "tmpfs" : "disk (group commit with fdatasync)");
}

/* ---- batch datakey and the whole run -------------------------------- */

/* {"batch_input":[{},{},...]}: BATCH_KEYS data keys of 256 bits. */
static char *batch_body(void)
{
    size_t max = 32 + 3 * (size_t)BATCH_KEYS;
    char *b = malloc(max);
    size_t n;

    if (b == NULL) {
        return NULL;
    }
    memcpy(b, "{\"batch_input\":[", 16);
    n = 16;
    for (int i = 0; i < BATCH_KEYS; i++) {
        memcpy(b + n, i == 0 ? "{}" : ",{}", i == 0 ? 2u : 3u);
        n += i == 0 ? 2u : 3u;
    }
    memcpy(b + n, "]}", 3);
    return b;
}

/* 1 when the service answers a batch with BATCH_KEYS data keys, 0 when
 * it does not batch data keys (it ignored batch_input or refused it with
 * a 4xx), -1 when the call failed. */
static int batch_probe(const struct service *s, const char *body)
{
    int st = 0;
    json_t *r = call_json(s, "POST", op_paths[OP_DATAKEY], body, &st);
    json_t *res = json_object_get(json_object_get(r, "data"),
                                  "batch_results");
    const char *msg = json_string_value(
        json_array_get(json_object_get(r, "errors"), 0));
    int verdict_code = 0;

    if (st == 200 && json_array_size(res) == BATCH_KEYS &&
            datakey_ok(json_array_get(res, 0)) &&
            datakey_ok(json_array_get(res, BATCH_KEYS - 1))) {
        verdict_code = 1;
    } else if (st == 200) {
        printf("batch datakey: not supported by this sealflowd (datakey "
               "ignored batch_input): skipped\n");
    } else if (st >= 400 && st < 500) {
        printf("batch datakey: not supported by this sealflowd (status "
               "%d: %s): skipped\n", st, msg != NULL ? msg : "");
    } else {
        fail_call("batch datakey", st, r);
        r = NULL;
        verdict_code = -1;
    }
    json_decref(r);
    return verdict_code;
}

static bool run_batch(const struct service *s, struct load *ld,
                      const double limit[2], unsigned cores)
{
    struct sf_buf req = SF_BUF_INIT;
    char *body = batch_body();
    double secs = (double)ld->run_ns / 1e9;
    double keys;
    bool is_ok = false;
    int probe = body == NULL ? -1 : batch_probe(s, body);

    ld->responses = 0;
    if (probe <= 0 || request_build(&req, s, "POST", op_paths[OP_DATAKEY],
                                    body) != SF_OK) {
        is_ok = probe == 0;
        goto out;
    }
    ld->req = req.data;
    ld->req_len = req.len;
    ld->conns = BATCH_CONNS;
    is_ok = load_run(ld, s);
    qsort(ld->lat, ld->lat_n, sizeof *ld->lat, cmp_u64);
    keys = (double)ld->done * BATCH_KEYS / secs;
    printf("batch datakey %8.0f keys/s (target >= %.0f: %s), %u "
           "connections x %d keys: p50 %.1f ms  p99 %.1f ms per request\n",
           keys, TARGET_KEYS, verdict(keys >= TARGET_KEYS), BATCH_CONNS,
           BATCH_KEYS, pct_ms(ld, 0.5), pct_ms(ld, 0.99));
    printf("           service CPU %.2f cores, %.2f us/key; in process "
           "%.0f keys/s on %u threads: server/limit %.4f\n",
           ld->daemon_cpu_s / secs,
           keys > 0 ? ld->daemon_cpu_s * 1e6 / (keys * secs) : 0,
           limit[1], cores, keys / limit[1]);
    report_failure(ld);

out:
    sf_buf_free(&req);
    free(body);
    return is_ok;
}

/* Every measurement against the service; false when a request failed. */
static bool run_service(const struct service *s, struct load *ld,
                        double limit[OP_COUNT][2], unsigned cores,
                        uint64_t *requests)
{
    char body[OP_COUNT][512];
    struct sf_buf req = SF_BUF_INIT;
    bool is_ok;

    printf("\nsealflowd --dev on 127.0.0.1:%u, audit on; %d keep-alive "
           "connections, one request in flight each;\n%.0f s warm-up, "
           "%.1f s measured per operation\n", s->port, CONNS,
           (double)WARM_NS / 1e9, (double)ld->run_ns / 1e9);
    is_ok = setup_key(s, body);
    for (int o = 0; o < OP_COUNT && is_ok; o++) {
        ld->conns = CONNS;
        is_ok = request_build(&req, s, "POST", op_paths[o], body[o]) ==
                SF_OK;
        ld->req = req.data;
        ld->req_len = req.len;
        is_ok = is_ok && load_run(ld, s);
        if (is_stopping) {
            printf("%s: interrupted\n", op_names[o]);
            break;
        }
        report_op((enum op)o, ld, limit[o], cores);
        *requests += ld->responses;
        fflush(stdout);
    }
    if (is_ok && !is_stopping) {
        is_ok = run_batch(s, ld, limit[OP_DATAKEY], cores);
        *requests += ld->responses;
    }
    sf_buf_free(&req);
    return is_ok && !is_stopping;
}

static bool make_dir(struct service *s)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(s->dir, sizeof s->dir, "%s/sealflow-bench-transit.XXXXXX",
             tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "bench_transit: cannot create %s: %s\n", s->dir,
                strerror(errno));
        s->dir[0] = '\0';
        return false;
    }
    snprintf(s->audit, sizeof s->audit, "%s/audit.log", s->dir);
    return true;
}

static bool parse_args(int argc, char **argv, uint64_t *run_ns)
{
    char *end = NULL;
    double secs;

    if (argc == 1) {
        return true;
    }
    secs = argc == 2 ? strtod(argv[1], &end) : 0;
    if (argc != 2 || end == argv[1] || *end != '\0' || secs < 0.1 ||
            secs > 30) {
        fprintf(stderr, "usage: bench_transit [SECONDS]  (measured "
                "seconds per run, 0.1 to 30, default 5)\n");
        return false;
    }
    *run_ns = (uint64_t)(secs * 1e9);
    return true;
}

static void signals_init(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
}

int main(int argc, char **argv)
{
    static struct service svc;
    static double limit[OP_COUNT][2];
    struct flush_limit fl;
    struct load ld;
    char exe[PATH_MAX + 16];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cores = ncpu < 1 ? 1u : (unsigned)ncpu;
    uint64_t requests = 0;
    int rc = 1;

    memset(&ld, 0, sizeof ld);
    ld.run_ns = 5000000000ull;
    if (!parse_args(argc, argv, &ld.run_ns)) {
        return 2;
    }
    signals_init();
    ld.lat = malloc(LAT_MAX * sizeof *ld.lat);
    if (ld.lat == NULL || !daemon_path(exe, sizeof exe) || !make_dir(&svc) ||
            !limit_run(svc.dir, cores, limit) ||
            !flush_measure(svc.dir, &fl)) {
        goto out;
    }
    report_limit(limit, cores, &fl);
    fflush(stdout);
    if (daemon_start(&svc, exe) &&
            run_service(&svc, &ld, limit, cores, &requests)) {
        rc = 0;
    }

out:
    if (svc.pid > 0 || svc.port > 0) {
        daemon_stop(&svc);
        report_audit(&svc, requests);
    }
    if (rc != 0 && svc.dir[0] != '\0') {
        daemon_log_tail(&svc);
    }
    if (svc.dir[0] != '\0') {
        (void)nftw(svc.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(ld.lat);
    return rc;
}
