#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock_transit.h"
#include "sealflow/buf.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"

#define MOCK_NAME_MAX 128
#define MOCK_BODY_MAX (1024 * 1024)
#define MOCK_KEY_MAX 64

struct mock_key {
    char name[MOCK_NAME_MAX + 1];
    unsigned version;
    struct mock_key *next;
};

/* One ciphertext the mock handed out: what it stands for. */
struct mock_ct {
    uint64_t id;
    char name[MOCK_NAME_MAX + 1];
    unsigned version;
    uint8_t pt[MOCK_KEY_MAX];
    size_t pt_len;
    struct mock_ct *next;
};

struct mock_transit {
    struct MHD_Daemon *d;
    uint16_t port;
    char addr[48];
    char token[256];
    pthread_mutex_t mu;
    struct mock_key *keys;
    struct mock_ct *cts;
    uint64_t next_id;
    unsigned fail_status;
    unsigned fail_count;
    char fail_text[128];
    atomic_uint delay_ms;
    atomic_uint counts[MOCK_OP_COUNT];
    atomic_uint connections;
    atomic_uint last_batch;
};

struct answer {
    unsigned status;
    json_t *body;
};

static struct answer error_answer(unsigned status, const char *text)
{
    struct answer a = {status, json_pack("{s:[s]}", "errors", text)};

    return a;
}

static struct answer data_answer(json_t *data)
{
    struct answer a = {200, json_pack("{s:o}", "data", data)};

    return a;
}

/* ---- the table (callers hold mu) ------------------------------------- */

static struct mock_key *find_key(struct mock_transit *m, const char *name)
{
    struct mock_key *k = m->keys;

    while (k != NULL && strcmp(k->name, name) != 0) {
        k = k->next;
    }
    return k;
}

/* "vault:vN:<base64 of the 8-byte id>" */
static void ct_string(const struct mock_ct *c, char *out, size_t cap)
{
    struct sf_buf b64 = SF_BUF_INIT;
    uint8_t id[8];

    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(c->id >> (56 - 8 * i));
    }
    if (sf_b64_encode(SF_B64_STD, id, sizeof id, &b64) != SF_OK) {
        out[0] = '\0';
        return;
    }
    snprintf(out, cap, "vault:v%u:%s", c->version, (const char *)b64.data);
    sf_buf_free(&b64);
}

/* Stores pt under the key's newest version; writes its ciphertext. */
static struct mock_ct *store(struct mock_transit *m, struct mock_key *k,
                             const uint8_t *pt, size_t len)
{
    struct mock_ct *c = calloc(1, sizeof *c);

    if (c == NULL || len > MOCK_KEY_MAX) {
        free(c);
        return NULL;
    }
    c->id = ++m->next_id;
    snprintf(c->name, sizeof c->name, "%s", k->name);
    c->version = k->version;
    memcpy(c->pt, pt, len);
    c->pt_len = len;
    c->next = m->cts;
    m->cts = c;
    return c;
}

/* The entry a ciphertext names, or NULL when the mock did not make it
 * for this key and version. */
static struct mock_ct *lookup(struct mock_transit *m, const char *name,
                              const char *s)
{
    struct sf_buf raw = SF_BUF_INIT;
    struct mock_ct *c = NULL;
    unsigned long v;
    uint64_t id = 0;
    char *end;

    if (s == NULL || strncmp(s, "vault:v", 7) != 0) {
        return NULL;
    }
    v = strtoul(s + 7, &end, 10);
    if (*end != ':' || sf_b64_decode(SF_B64_STD, end + 1, strlen(end + 1),
                                     &raw) != SF_OK || raw.len != 8) {
        sf_buf_free(&raw);
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        id = id << 8 | raw.data[i];
    }
    sf_buf_free(&raw);
    for (c = m->cts; c != NULL; c = c->next) {
        if (c->id == id) {
            break;
        }
    }
    if (c == NULL || strcmp(c->name, name) != 0 || c->version != v) {
        return NULL;
    }
    return c;
}

static json_t *b64_string(const uint8_t *p, size_t len)
{
    struct sf_buf b64 = SF_BUF_INIT;
    json_t *s = NULL;

    if (sf_b64_encode(SF_B64_STD, p, len, &b64) == SF_OK) {
        s = json_string((const char *)b64.data);
    }
    sf_buf_free(&b64);
    return s;
}

/* ---- endpoints ---------------------------------------------------------- */

static struct answer do_encrypt(struct mock_transit *m, const char *name,
                                const json_t *req)
{
    const char *s = json_string_value(json_object_get(req, "plaintext"));
    struct sf_buf pt = SF_BUF_INIT;
    struct answer a;
    struct mock_key *k;
    struct mock_ct *c = NULL;
    char ct[128];

    if (s == NULL || sf_b64_decode(SF_B64_STD, s, strlen(s), &pt) != SF_OK ||
        pt.len == 0) {
        sf_buf_free(&pt);
        return error_answer(400, "missing or invalid plaintext");
    }
    pthread_mutex_lock(&m->mu);
    k = find_key(m, name);
    if (k != NULL) {
        c = store(m, k, pt.data, pt.len);
    }
    if (c != NULL) {
        ct_string(c, ct, sizeof ct);
    }
    pthread_mutex_unlock(&m->mu);
    sf_buf_free(&pt);
    if (k == NULL) {
        return error_answer(404, "no key by that name");
    }
    if (c == NULL) {
        return error_answer(500, "mock table full");
    }
    a = data_answer(json_pack("{s:s,s:i}", "ciphertext", ct, "key_version",
                              (json_int_t)c->version));
    return a;
}

static struct answer do_datakey(struct mock_transit *m, const char *name,
                                const json_t *req)
{
    json_int_t bits = json_integer_value(json_object_get(req, "bits"));
    uint8_t pt[MOCK_KEY_MAX];
    struct mock_key *k;
    struct mock_ct *c = NULL;
    char ct[128];

    bits = bits == 0 ? 256 : bits;
    if ((bits != 128 && bits != 256 && bits != 512) ||
        sf_random(pt, (size_t)bits / 8) != SF_OK) {
        return error_answer(400, "invalid bits");
    }
    pthread_mutex_lock(&m->mu);
    k = find_key(m, name);
    if (k != NULL) {
        c = store(m, k, pt, (size_t)bits / 8);
    }
    if (c != NULL) {
        ct_string(c, ct, sizeof ct);
    }
    pthread_mutex_unlock(&m->mu);
    if (k == NULL || c == NULL) {
        return error_answer(k == NULL ? 404 : 500, "no key by that name");
    }
    return data_answer(json_pack("{s:o,s:s,s:i}", "plaintext",
                                 b64_string(pt, (size_t)bits / 8),
                                 "ciphertext", ct, "key_version",
                                 (json_int_t)c->version));
}

/* {"plaintext": ...} for a ciphertext the mock made, else NULL. */
static json_t *decrypt_one(struct mock_transit *m, const char *name,
                           const char *s)
{
    struct mock_ct *c;
    json_t *out = NULL;

    pthread_mutex_lock(&m->mu);
    c = lookup(m, name, s);
    if (c != NULL) {
        out = json_pack("{s:o}", "plaintext", b64_string(c->pt, c->pt_len));
    }
    pthread_mutex_unlock(&m->mu);
    return out;
}

static struct answer do_decrypt_batch(struct mock_transit *m,
                                      const char *name, const json_t *in)
{
    json_t *results = json_array();
    struct answer a;
    json_t *item;
    size_t i;
    unsigned status = 200;

    atomic_store(&m->last_batch, (unsigned)json_array_size(in));
    json_array_foreach(in, i, item) {
        const char *s = json_string_value(json_object_get(item,
                                                          "ciphertext"));
        json_t *r = decrypt_one(m, name, s);

        if (r == NULL) {
            r = json_pack("{s:s}", "error",
                          "cipher: message authentication failed");
            status = 400;
        }
        json_array_append_new(results, r);
    }
    a = data_answer(json_pack("{s:o}", "batch_results", results));
    a.status = status;
    return a;
}

static struct answer do_decrypt(struct mock_transit *m, const char *name,
                                const json_t *req)
{
    const json_t *in = json_object_get(req, "batch_input");
    const char *s;
    json_t *r;
    bool has_key;

    pthread_mutex_lock(&m->mu);
    has_key = find_key(m, name) != NULL;
    pthread_mutex_unlock(&m->mu);
    if (!has_key) {
        return error_answer(404, "no key by that name");
    }
    if (json_is_array(in)) {
        return do_decrypt_batch(m, name, in);
    }
    s = json_string_value(json_object_get(req, "ciphertext"));
    r = decrypt_one(m, name, s);
    if (r == NULL) {
        return error_answer(400, "cipher: message authentication failed");
    }
    return data_answer(r);
}

/* ---- HTTP --------------------------------------------------------------- */

static enum mock_op op_of(const char *url, const char **name)
{
    static const char base[] = "/v1/transit/";
    static const struct {
        const char *prefix;
        enum mock_op op;
    } routes[] = {{"encrypt/", MOCK_ENCRYPT},
                  {"decrypt/", MOCK_DECRYPT},
                  {"datakey/plaintext/", MOCK_DATAKEY}};

    *name = "";
    if (strncmp(url, base, sizeof base - 1) != 0) {
        return MOCK_OTHER;
    }
    url += sizeof base - 1;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        size_t n = strlen(routes[i].prefix);

        if (strncmp(url, routes[i].prefix, n) == 0 && url[n] != '\0') {
            *name = url + n;
            return routes[i].op;
        }
    }
    return MOCK_OTHER;
}

/* An injected failure, if one is due. */
static bool take_failure(struct mock_transit *m, struct answer *a)
{
    bool is_due;

    pthread_mutex_lock(&m->mu);
    is_due = m->fail_count > 0;
    if (is_due) {
        m->fail_count--;
        *a = error_answer(m->fail_status, m->fail_text);
    }
    pthread_mutex_unlock(&m->mu);
    return is_due;
}

static struct answer handle(struct mock_transit *m,
                            struct MHD_Connection *conn, enum mock_op op,
                            const char *name, const struct sf_buf *body)
{
    const char *token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "X-Vault-Token");
    struct answer a;
    json_t *req;

    if (take_failure(m, &a)) {
        return a;
    }
    if (token == NULL || strcmp(token, m->token) != 0) {
        return error_answer(403, "permission denied");
    }
    if (op == MOCK_OTHER) {
        return error_answer(404, "unsupported path");
    }
    req = json_loadb((const char *)body->data, body->len, 0, NULL);
    if (!json_is_object(req)) {
        json_decref(req);
        return error_answer(400, "body is not a JSON object");
    }
    if (op == MOCK_ENCRYPT) {
        a = do_encrypt(m, name, req);
    } else if (op == MOCK_DATAKEY) {
        a = do_datakey(m, name, req);
    } else {
        a = do_decrypt(m, name, req);
    }
    json_decref(req);
    return a;
}

static enum MHD_Result respond(struct mock_transit *m,
                               struct MHD_Connection *conn, const char *url,
                               const struct sf_buf *body)
{
    unsigned delay = atomic_load(&m->delay_ms);
    struct MHD_Response *resp;
    enum MHD_Result ret;
    const char *name;
    enum mock_op op = op_of(url, &name);
    struct answer a;
    char *text;

    atomic_fetch_add(&m->counts[op], 1);
    if (delay > 0) {
        struct timespec ts = {(time_t)(delay / 1000),
                              (long)(delay % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    }
    a = handle(m, conn, op, name, body);
    text = json_dumps(a.body, JSON_COMPACT);
    json_decref(a.body);
    if (text == NULL) {
        return MHD_NO;
    }
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, a.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct sf_buf *body = *req_cls;

    (void)method;
    (void)version;
    if (body == NULL) {
        body = calloc(1, sizeof *body);
        *req_cls = body;
        return body != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        if (body->len + *upload_data_size > MOCK_BODY_MAX ||
            sf_buf_append(body, upload_data, *upload_data_size) != SF_OK) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return respond(cls, conn, url, body);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **req_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct sf_buf *body = *req_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (body != NULL) {
        sf_buf_free(body);
        free(body);
        *req_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct mock_transit *m = cls;

    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&m->connections, 1);
    }
}

static bool mock_listen(struct mock_transit *m)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(m->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
        NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, m,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (m->d == NULL) {
        fprintf(stderr, "mock transit: cannot listen on 127.0.0.1:%u\n",
                (unsigned)m->port);
        return false;
    }
    info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info != NULL ? info->port : 0;
    snprintf(m->addr, sizeof m->addr, "http://127.0.0.1:%u",
             (unsigned)m->port);
    return m->port != 0;
}

/* ---- control ------------------------------------------------------------ */

struct mock_transit *mock_transit_start(const char *token)
{
    struct mock_transit *m = calloc(1, sizeof *m);

    if (m == NULL || pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    snprintf(m->token, sizeof m->token, "%s", token);
    if (!mock_listen(m)) {
        mock_transit_free(m);
        return NULL;
    }
    return m;
}

void mock_transit_stop(struct mock_transit *m)
{
    if (m->d != NULL) {
        MHD_stop_daemon(m->d);
        m->d = NULL;
    }
}

bool mock_transit_restart(struct mock_transit *m)
{
    return m->d != NULL || mock_listen(m);
}

void mock_transit_free(struct mock_transit *m)
{
    if (m == NULL) {
        return;
    }
    mock_transit_stop(m);
    while (m->keys != NULL) {
        struct mock_key *k = m->keys;

        m->keys = k->next;
        free(k);
    }
    while (m->cts != NULL) {
        struct mock_ct *c = m->cts;

        m->cts = c->next;
        sf_wipe(c->pt, sizeof c->pt);
        free(c);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

const char *mock_transit_addr(const struct mock_transit *m)
{
    return m->addr;
}

void mock_transit_add_key(struct mock_transit *m, const char *name)
{
    struct mock_key *k;

    pthread_mutex_lock(&m->mu);
    if (find_key(m, name) == NULL && (k = calloc(1, sizeof *k)) != NULL) {
        snprintf(k->name, sizeof k->name, "%s", name);
        k->version = 1;
        k->next = m->keys;
        m->keys = k;
    }
    pthread_mutex_unlock(&m->mu);
}

void mock_transit_rotate(struct mock_transit *m, const char *name)
{
    struct mock_key *k;

    pthread_mutex_lock(&m->mu);
    k = find_key(m, name);
    if (k != NULL) {
        k->version++;
    }
    pthread_mutex_unlock(&m->mu);
}

void mock_transit_fail(struct mock_transit *m, unsigned status,
                       unsigned count, const char *text)
{
    pthread_mutex_lock(&m->mu);
    m->fail_status = status;
    m->fail_count = count;
    snprintf(m->fail_text, sizeof m->fail_text, "%s", text);
    pthread_mutex_unlock(&m->mu);
}

void mock_transit_delay(struct mock_transit *m, unsigned ms)
{
    atomic_store(&m->delay_ms, ms);
}

unsigned mock_transit_count(const struct mock_transit *m, enum mock_op op)
{
    return atomic_load(&m->counts[op]);
}

unsigned mock_transit_total(const struct mock_transit *m)
{
    unsigned n = 0;

    for (int i = 0; i < MOCK_OP_COUNT; i++) {
        n += atomic_load(&m->counts[i]);
    }
    return n;
}

unsigned mock_transit_connections(const struct mock_transit *m)
{
    return atomic_load(&m->connections);
}

unsigned mock_transit_last_batch(const struct mock_transit *m)
{
    return atomic_load(&m->last_batch);
}

void mock_transit_reset_counts(struct mock_transit *m)
{
    for (int i = 0; i < MOCK_OP_COUNT; i++) {
        atomic_store(&m->counts[i], 0);
    }
    atomic_store(&m->connections, 0);
    atomic_store(&m->last_batch, 0);
}
