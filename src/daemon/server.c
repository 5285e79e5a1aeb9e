/*
 * The HTTP server on libmicrohttpd.
 *
 * Two event loops per core, each a libmicrohttpd daemon with one epoll
 * thread and no listening socket of its own; an acceptor thread takes new
 * connections from the one listening socket and deals them out in turn
 * (MHD_add_connection), so the load is spread evenly however the
 * connections arrive (the library's own thread pool lets whichever thread
 * wakes first accept a whole burst).
 *
 * A request that waits for its audit entry to be committed does not hold
 * its thread meanwhile: its connection is suspended
 * (MHD_suspend_connection) and resumed by the audit writer's callback,
 * so a few threads serve any number of connections, every waiting request
 * joins the next group commit, and a commit wakes each thread once per
 * batch rather than once per request. Connections are kept alive; their
 * number and idle time are capped (connection_limit,
 * connection_timeout_s).
 *
 * Limitation: a request runs on its loop's thread from routing to
 * rendering, so work that blocks inside a handler (a keystore write
 * committed by SQLite, or the audit entry of an encrypt that creates its
 * key, which is written in place) delays the other connections of that
 * loop for its duration. Operations on existing keys never block.
 *
 * Paths are not unescaped by the library: routing splits the raw path on
 * '/' first and decodes the key name itself (see route.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handlers.h"
#include "sealflow/buf.h"
#include "sealflow/secret.h"
#include "server.h"

#define LOOPS_MAX 64

struct sfd_http_server {
    struct MHD_Daemon *loops[LOOPS_MAX];
    unsigned loop_count;
    struct sfd_server *srv;
    char *tls_cert;
    char *tls_key;
    int listen_fd;
    pthread_t acceptor;
    bool has_acceptor;
    atomic_bool is_stopping;
    atomic_int connections;
    atomic_int in_flight;
    atomic_int waiting; /* suspended, waiting for the audit log */
    unsigned port;
};

/* Who got to a waiting job first: its handler suspending the connection
 * or the audit writer's wake-up. Whoever comes second resumes it, so the
 * connection is resumed exactly once and only after it was suspended,
 * as the library requires. */
enum { WAIT_RUNNING, WAIT_SUSPENDED, WAIT_WOKEN };

/* Per-request state kept by the library between callbacks.
 * Limitation: the body is wiped when freed, but libmicrohttpd's own
 * read buffer, which also held it, is reused without wiping; the library
 * offers no hook for it. */
struct conn_state {
    struct sfd_http_server *hs;
    struct MHD_Connection *conn;
    struct sf_buf body;
    bool is_too_large;
    bool has_job;     /* started, not yet finished */
    bool is_waiting;  /* suspended for the audit log, not yet re-entered */
    atomic_int wait;
    char remote[64];
    struct sfd_http in;
    struct sfd_job job;
};

/* The library would unescape the URL in place; leave it raw. */
static size_t keep_raw(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* Bodies may hold plaintext or data keys: wipe before freeing. */
static void free_body(void *p)
{
    if (p != NULL) {
        sf_wipe(p, strlen(p));
    }
    free(p);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[300];
    size_t n;

    (void)cls;
    vsnprintf(text, sizeof text, fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
        text[--n] = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        text[i] = text[i] == '"' || text[i] < 0x20 ? '\'' : text[i];
    }
    sfd_log(SF_LOG_WARN, "http", "detail=\"%s\"", text);
}

/* The client address as text. */
static void remote_text(struct MHD_Connection *c, char *out, size_t max)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci == NULL ? NULL : ci->client_addr;
    socklen_t len = sizeof(struct sockaddr_in);

    snprintf(out, max, "unknown");
    if (sa == NULL) {
        return;
    }
    if (sa->sa_family == AF_INET6) {
        len = sizeof(struct sockaddr_in6);
    }
    if (getnameinfo(sa, len, out, (socklen_t)max, NULL, 0,
                    NI_NUMERICHOST) != 0) {
        snprintf(out, max, "unknown");
    }
}

/* X-Vault-Token, or the token of "Authorization: Bearer <token>". */
static const char *find_token(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                "X-Vault-Token");
    const char *auth;

    if (t != NULL) {
        return t;
    }
    auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0) {
        return auth + 7;
    }
    return NULL;
}

/* Sends the rendered reply. */
static enum MHD_Result send_reply(struct MHD_Connection *c,
                                  struct sfd_out *out)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (out->body == NULL) {
        resp = MHD_create_response_from_buffer(0, NULL,
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer_with_free_callback(
            out->body_len, out->body, free_body);
    }
    if (resp == NULL) {
        free_body(out->body);
        return MHD_NO;
    }
    if (out->body != NULL) {
        MHD_add_response_header(resp, "Content-Type", out->content_type);
    }
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    ret = MHD_queue_response(c, out->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The audit writer says the job can go on (see WAIT_*). */
static void on_wake(void *arg)
{
    struct conn_state *st = arg;
    struct MHD_Connection *c = st->conn;

    if (atomic_exchange(&st->wait, WAIT_WOKEN) == WAIT_SUSPENDED) {
        MHD_resume_connection(c);
    }
}

/* Parks the connection until the job's audit entry is committed. */
static enum MHD_Result wait_for_audit(struct conn_state *st)
{
    st->is_waiting = true;
    atomic_fetch_add(&st->hs->waiting, 1);
    MHD_suspend_connection(st->conn);
    if (atomic_exchange(&st->wait, WAIT_SUSPENDED) == WAIT_WOKEN) {
        MHD_resume_connection(st->conn);
    }
    return MHD_YES;
}

/* Counts a waiting connection as back (re-entered or closed). */
static void end_wait(struct conn_state *st)
{
    if (st->is_waiting) {
        st->is_waiting = false;
        atomic_fetch_sub(&st->hs->waiting, 1);
    }
}

/* Runs the job as far as it goes; sends the reply once it finished. */
static enum MHD_Result run_job(struct conn_state *st)
{
    struct sfd_out out;

    end_wait(st);
    atomic_store(&st->wait, WAIT_RUNNING);
    if (!sfd_job_run(&st->job, &out)) {
        return wait_for_audit(st);
    }
    st->has_job = false;
    return send_reply(st->conn, &out);
}

/* Builds the request description and starts the pipeline. */
static enum MHD_Result answer(struct sfd_http_server *hs,
                              struct MHD_Connection *c, const char *url,
                              const char *method, struct conn_state *st)
{
    const char *list = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                   "list");
    struct sfd_http *in = &st->in;

    remote_text(c, st->remote, sizeof st->remote);
    memset(in, 0, sizeof *in);
    in->method = method;
    in->path = url;
    in->is_list_query = list != NULL && strcmp(list, "true") == 0;
    in->format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                             "format");
    in->token = find_token(c);
    in->remote = st->remote;
    in->body = st->body.data;
    in->body_len = st->body.len;
    in->is_body_too_large = st->is_too_large;
    sfd_job_init(&st->job, hs->srv, in, on_wake, st);
    st->has_job = true;
    return run_job(st);
}

/* Refuses at once a body announced larger than the limit. */
static bool announced_too_large(struct MHD_Connection *c, uint64_t max)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 "Content-Length");
    char *end = NULL;
    unsigned long long n;

    if (cl == NULL) {
        return false;
    }
    errno = 0;
    n = strtoull(cl, &end, 10);
    return errno == 0 && end != cl && n > max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct sfd_http_server *hs = cls;
    struct conn_state *st = *con_cls;
    uint64_t max = hs->srv->cfg->max_request_bytes;

    (void)version;
    if (st == NULL) {
        st = calloc(1, sizeof *st);
        if (st == NULL) {
            return MHD_NO;
        }
        *con_cls = st;
        st->hs = hs;
        st->conn = c;
        atomic_init(&st->wait, WAIT_RUNNING);
        atomic_fetch_add(&hs->in_flight, 1);
        st->is_too_large = announced_too_large(c, max);
        return st->is_too_large ? answer(hs, c, url, method, st) : MHD_YES;
    }
    if (st->has_job) {
        /* Resumed after an audit commit. A body still arriving (a
         * refused oversized one) is dropped. */
        *upload_size = 0;
        return run_job(st);
    }
    if (*upload_size > 0) {
        if (!st->is_too_large && st->body.len + *upload_size > max) {
            st->is_too_large = true;
            sf_buf_free(&st->body);
        }
        if (!st->is_too_large &&
                sf_buf_append(&st->body, upload_data, *upload_size) !=
                    SF_OK) {
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return answer(hs, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct sfd_http_server *hs = cls;
    struct conn_state *st = *con_cls;

    (void)c;
    (void)toe;
    if (st == NULL) {
        return;
    }
    end_wait(st);
    if (st->has_job) {
        /* Closed after its audit commit but before the reply: the job
         * holds no callback any more, only memory. */
        sfd_job_abandon(&st->job);
    }
    atomic_fetch_sub(&hs->in_flight, 1);
    sf_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

sf_status sfd_listen_parse(const char *text, struct sockaddr_storage *ss,
                           socklen_t *ss_len, bool *is_loopback, char *err,
                           size_t err_max)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)ss;
    const char *colon = strrchr(text, ':');
    char host[64];
    char *end = NULL;
    unsigned long port;
    size_t n = colon == NULL ? 0 : (size_t)(colon - text);

    memset(ss, 0, sizeof *ss);
    port = colon == NULL ? 70000 : strtoul(colon + 1, &end, 10);
    if (n == 0 || n >= sizeof host || port > 65535 || end == colon + 1 ||
            *end != '\0') {
        snprintf(err, err_max, "listen address '%.60s' is not host:port",
                 text);
        return SF_ERR_FORMAT;
    }
    memcpy(host, text, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0) {
        memcpy(host, "127.0.0.1", sizeof "127.0.0.1");
    }
    if (host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            *ss_len = sizeof *v6;
            *is_loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
            return SF_OK;
        }
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *ss_len = sizeof *v4;
        *is_loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        return SF_OK;
    }
    snprintf(err, err_max, "listen address '%.60s': the host must be an "
             "IPv4 address, [IPv6 address] or localhost", text);
    return SF_ERR_FORMAT;
}

/* Reads a whole PEM file (at most 1 MiB) into a NUL-terminated string. */
static char *read_pem(const char *path, char *err, size_t err_max)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t n = 0;

    if (f == NULL) {
        snprintf(err, err_max, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    text = malloc(1024 * 1024 + 1);
    if (text != NULL) {
        n = fread(text, 1, 1024 * 1024, f);
        text[n] = '\0';
    }
    if (text == NULL || ferror(f) || n == 0) {
        snprintf(err, err_max, "cannot read %s", path);
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

/* Loads the TLS files named in the config, when there are any. */
static sf_status load_tls(struct sfd_http_server *hs, char *err,
                          size_t err_max)
{
    const struct sfd_config *cfg = hs->srv->cfg;

    if (cfg->tls_cert[0] == '\0') {
        return SF_OK;
    }
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(err, err_max, "this libmicrohttpd was built without TLS");
        return SF_ERR_UNSUPPORTED;
    }
    hs->tls_cert = read_pem(cfg->tls_cert, err, err_max);
    hs->tls_key = hs->tls_cert == NULL ? NULL
                                       : read_pem(cfg->tls_key, err, err_max);
    return hs->tls_key == NULL ? SF_ERR_IO : SF_OK;
}

static void free_server(struct sfd_http_server *hs)
{
    if (hs->listen_fd >= 0) {
        close(hs->listen_fd);
    }
    if (hs->tls_key != NULL) {
        sf_wipe(hs->tls_key, strlen(hs->tls_key));
    }
    free(hs->tls_key);
    free(hs->tls_cert);
    free(hs);
}

/* A connection counted by the acceptor is closed. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct sfd_http_server *hs = cls;

    (void)c;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&hs->connections, 1);
    }
}

/* Event loops: two per core, at most one per connection allowed. More
 * loops than cores keep the other connections going while a handler
 * blocks (see the Limitation above), and on a busy machine give the
 * service more chances to be scheduled; each idle loop costs nothing. */
static unsigned loop_count(const struct sfd_config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cores < 1 ? 2 : cores > LOOPS_MAX / 2 ? LOOPS_MAX
                                                        : 2 * (unsigned)cores;

    return n > (unsigned)cfg->connection_limit
               ? (unsigned)cfg->connection_limit
               : n;
}

/* Starts one event loop; connections come from the acceptor. */
static struct MHD_Daemon *start_loop(struct sfd_http_server *hs)
{
    const struct sfd_config *cfg = hs->srv->cfg;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    bool has_tls = hs->tls_cert != NULL;

    flags |= has_tls ? MHD_USE_TLS : 0;
    /* connection_limit is enforced by the acceptor, and the library's
     * own limit is kept out of reach: libmicrohttpd 0.9.75 leaves a lock
     * held when a loop refuses an added connection at its limit, which
     * stops that loop for good. A loop can hold at most the connections
     * the acceptor let in plus those closed but not yet cleaned up. */
    unsigned loop_limit = 2 * (unsigned)cfg->connection_limit + 64;

    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, hs, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_CONNECTION_LIMIT, loop_limit,
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, hs, MHD_OPTION_NOTIFY_CONNECTION, on_connection, hs,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, NULL,
        has_tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, hs->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, hs->tls_key, MHD_OPTION_END);
}

/* The listening socket on the parsed address; -1 when it cannot be
 * bound. */
static int open_listener(const struct sockaddr_storage *ss,
                         socklen_t ss_len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;

    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
            (ss->ss_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) !=
                 0) ||
            bind(fd, (const struct sockaddr *)ss, ss_len) != 0 ||
            listen(fd, SOMAXCONN) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether accept() may be retried at once: an interrupt, or a client
 * that gave up. Other failures (no descriptors or memory left) may pass,
 * after a pause. */
static bool is_retryable(int err)
{
    return err == EINTR || err == ECONNABORTED || err == EAGAIN;
}

/* Takes connections and deals them out to the event loops in turn. */
static void *accept_main(void *arg)
{
    struct sfd_http_server *hs = arg;
    int limit = (int)hs->srv->cfg->connection_limit;
    struct timespec pause = {0, 10 * 1000 * 1000};
    unsigned next = 0;

    while (!atomic_load(&hs->is_stopping)) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept(hs->listen_fd, (struct sockaddr *)&ss, &len);

        if (fd < 0) {
            if (!is_retryable(errno)) {
                nanosleep(&pause, NULL);
            }
            continue;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        /* Over the limit the connection is closed at once, as the
         * library itself would. A connection is counted from here until
         * the library reports it closed. */
        if (atomic_load(&hs->is_stopping) ||
                atomic_load(&hs->connections) >= limit) {
            close(fd);
            continue;
        }
        atomic_fetch_add(&hs->connections, 1);
        /* The library closes fd itself when it cannot take it. */
        if (MHD_add_connection(hs->loops[next], fd, (struct sockaddr *)&ss,
                               len) != MHD_YES) {
            atomic_fetch_sub(&hs->connections, 1);
        }
        next = (next + 1) % hs->loop_count;
    }
    return NULL;
}

/* Starts the listener, the event loops and the acceptor. */
static sf_status start_serving(struct sfd_http_server *hs,
                               const struct sockaddr_storage *ss,
                               socklen_t ss_len, char *err, size_t err_max)
{
    const struct sfd_config *cfg = hs->srv->cfg;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    unsigned n = loop_count(cfg);

    hs->listen_fd = open_listener(ss, ss_len);
    if (hs->listen_fd < 0 ||
            getsockname(hs->listen_fd, (struct sockaddr *)&bound,
                        &bound_len) != 0) {
        snprintf(err, err_max, "cannot listen on %s (in use, or not an "
                 "address of this machine)", cfg->listen);
        return SF_ERR_IO;
    }
    hs->port = ntohs(bound.ss_family == AF_INET6
                         ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                         : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    for (hs->loop_count = 0; hs->loop_count < n; hs->loop_count++) {
        hs->loops[hs->loop_count] = start_loop(hs);
        if (hs->loops[hs->loop_count] == NULL) {
            snprintf(err, err_max, "cannot start the HTTP event loops");
            return SF_ERR_IO;
        }
    }
    if (pthread_create(&hs->acceptor, NULL, accept_main, hs) != 0) {
        snprintf(err, err_max, "cannot start the HTTP acceptor thread");
        return SF_ERR_NOMEM;
    }
    hs->has_acceptor = true;
    return SF_OK;
}

/* Stops taking connections: wakes the acceptor and waits for it. */
static void stop_accepting(struct sfd_http_server *hs)
{
    atomic_store(&hs->is_stopping, true);
    if (hs->listen_fd >= 0) {
        /* On Linux this makes a blocked accept() return at once. */
        (void)shutdown(hs->listen_fd, SHUT_RDWR);
    }
    if (hs->has_acceptor) {
        pthread_join(hs->acceptor, NULL);
        hs->has_acceptor = false;
    }
}

/* Stops the event loops and frees everything. */
static void stop_loops(struct sfd_http_server *hs)
{
    for (unsigned i = 0; i < hs->loop_count; i++) {
        MHD_stop_daemon(hs->loops[i]);
    }
    free_server(hs);
}

sf_status sfd_http_start(struct sfd_server *srv, struct sfd_http_server **out,
                         char *err, size_t err_max)
{
    const struct sfd_config *cfg = srv->cfg;
    struct sfd_http_server *hs = calloc(1, sizeof *hs);
    struct sockaddr_storage ss;
    socklen_t ss_len;
    bool is_loopback = false;
    sf_status rc;

    *out = NULL;
    if (hs == NULL) {
        return SF_ERR_NOMEM;
    }
    hs->srv = srv;
    hs->listen_fd = -1;
    rc = sfd_listen_parse(cfg->listen, &ss, &ss_len, &is_loopback, err,
                          err_max);
    if (rc == SF_OK && !is_loopback && cfg->tls_cert[0] == '\0' &&
            !cfg->insecure_plain_http) {
        snprintf(err, err_max, "refusing plain HTTP on non-loopback address "
                 "%s: configure tls_cert and tls_key, or pass "
                 "--insecure-plain-http", cfg->listen);
        rc = SF_ERR_DENIED;
    }
    if (rc == SF_OK) {
        rc = load_tls(hs, err, err_max);
    }
    if (rc == SF_OK) {
        rc = start_serving(hs, &ss, ss_len, err, err_max);
    }
    if (rc != SF_OK) {
        stop_accepting(hs);
        stop_loops(hs);
        return rc;
    }
    *out = hs;
    return SF_OK;
}

unsigned sfd_http_port(const struct sfd_http_server *hs)
{
    return hs == NULL ? 0 : hs->port;
}

void sfd_http_stop(struct sfd_http_server *hs, unsigned timeout_s)
{
    struct timespec tick = {0, 20 * 1000 * 1000};

    if (hs == NULL) {
        return;
    }
    stop_accepting(hs);
    for (unsigned i = 0; i < timeout_s * 50 &&
                         atomic_load(&hs->in_flight) > 0; i++) {
        nanosleep(&tick, NULL);
    }
    /* The library must not be stopped with a suspended connection, and a
     * request waiting for the audit log is answered once its commit
     * succeeds or fails, so those are waited for without a limit. */
    while (atomic_load(&hs->waiting) > 0) {
        nanosleep(&tick, NULL);
    }
    stop_loops(hs);
}
