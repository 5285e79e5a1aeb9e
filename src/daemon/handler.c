/*
 * The request pipeline: route, authenticate, authorise, audit, execute,
 * audit again, count and render. Every request that reaches a known
 * endpoint with a method it accepts is audited, except sys/health and
 * sys/metrics, which are polled by machines.
 *
 * Fail-closed audit: an operation that changes the keystore is audited
 * ("started") before it runs, so when the log cannot be written nothing
 * happens and the client gets 503. Every request is audited again with
 * its outcome before the reply leaves; when that write fails the reply is
 * replaced by 503, so no ciphertext, plaintext or key leaves the service
 * without a durable record.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "sealflow/secret.h"
#include "sfd.h"

struct entry {
    enum sfd_endpoint ep;
    unsigned methods;
    enum sfd_op op;
    uint32_t acl_op;   /* token operation needed on the key; 0: none */
    bool needs_token;
    bool needs_root;
    bool is_mutating;  /* audited before it runs */
    bool is_audited;
    sfd_handler_fn fn;
};

#define W SFD_M_WRITE
static const struct entry table[] = {
    {SFD_EP_KEYS, SFD_M_LIST, SFD_OP_KEYS_LIST, SF_OP_LIST, true, false,
     false, true, sfd_keys_list},
    {SFD_EP_KEY, SFD_M_GET, SFD_OP_KEYS_READ, SF_OP_READ, true, false,
     false, true, sfd_keys_read},
    {SFD_EP_KEY, W, SFD_OP_KEYS_CREATE, SF_OP_CREATE, true, false, true,
     true, sfd_keys_create},
    {SFD_EP_KEY, SFD_M_DELETE, SFD_OP_KEYS_DELETE, SF_OP_DELETE, true, false,
     true, true, sfd_keys_delete},
    {SFD_EP_KEY_CONFIG, W, SFD_OP_KEYS_CONFIG, SF_OP_CONFIG, true, false,
     true, true, sfd_keys_config},
    {SFD_EP_KEY_ROTATE, W, SFD_OP_KEYS_ROTATE, SF_OP_ROTATE, true, false,
     true, true, sfd_keys_rotate},
    {SFD_EP_KEY_TRIM, W, SFD_OP_KEYS_TRIM, SF_OP_TRIM, true, false, true,
     true, sfd_keys_trim},
    {SFD_EP_ENCRYPT, W, SFD_OP_ENCRYPT, SF_OP_ENCRYPT, true, false, false,
     true, sfd_encrypt},
    {SFD_EP_DECRYPT, W, SFD_OP_DECRYPT, SF_OP_DECRYPT, true, false, false,
     true, sfd_decrypt},
    {SFD_EP_REWRAP, W, SFD_OP_REWRAP, SF_OP_REWRAP, true, false, false,
     true, sfd_rewrap},
    {SFD_EP_DATAKEY, W, SFD_OP_DATAKEY_WRAPPED, SF_OP_DATAKEY_WRAPPED, true,
     false, false, true, sfd_datakey},
    {SFD_EP_HEALTH, SFD_M_GET | SFD_M_HEAD, SFD_OP_HEALTH, 0, false, false,
     false, false, sfd_sys_health},
    {SFD_EP_MOUNTS, SFD_M_GET, SFD_OP_MOUNTS, 0, true, false, false, true,
     sfd_sys_mounts},
    {SFD_EP_MOUNT, W, SFD_OP_MOUNT_ENABLE, 0, true, true, false, true,
     sfd_sys_mount_enable},
    {SFD_EP_METRICS, SFD_M_GET, SFD_OP_METRICS, 0, true, false, false,
     false, sfd_sys_metrics},
    {SFD_EP_LOOKUP_SELF, SFD_M_GET | W, SFD_OP_LOOKUP_SELF, 0, true, false,
     false, true, sfd_lookup_self},
};
#undef W

#define TABLE_LEN (sizeof table / sizeof table[0])

/* Request ids: UUID-shaped (RFC 9562 version 8, "custom"), made of 74
 * random bits drawn once per process and a 48-bit counter. They only need
 * to be unique, not unpredictable (they are returned to the client and
 * logged), and this avoids a call into the random generator for every
 * request. */
static uint8_t id_prefix[10];
static atomic_uint_fast64_t id_counter;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void id_init(void)
{
    if (sf_random(id_prefix, sizeof id_prefix) != SF_OK) {
        /* Still unique within the process; across restarts the start
         * time keeps them apart. */
        uint64_t t = (uint64_t)time(NULL);

        memcpy(id_prefix, &t, sizeof t);
    }
}

/* Writes 16 bytes as a UUID with the given version nibble. */
static void uuid_text(uint8_t b[16], unsigned version,
                      char out[SFD_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    b[6] = (uint8_t)((b[6] & 0x0f) | (version << 4));
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

void sfd_request_id(char out[SFD_UUID_LEN + 1])
{
    uint8_t b[16];
    uint64_t n;

    pthread_once(&id_once, id_init);
    n = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
    memcpy(b, id_prefix, sizeof id_prefix);
    for (size_t i = 0; i < 6; i++) {
        b[15 - i] = (uint8_t)(n >> (8 * i));
    }
    uuid_text(b, 8, out);
}

void sfd_uuid(char out[SFD_UUID_LEN + 1])
{
    uint8_t b[16] = {0};

    if (sf_random(b, sizeof b) != SF_OK) {
        memset(b, 0, sizeof b);
    }
    uuid_text(b, 4, out);
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool sfd_audit_write(struct sfd_req *rq, const char *outcome,
                     unsigned status, const char *error, uint64_t latency_us)
{
    struct sf_audit_event ev;

    memset(&ev, 0, sizeof ev);
    ev.request_id = rq->request_id;
    ev.accessor = rq->has_token ? rq->token.accessor : NULL;
    ev.remote = rq->http->remote;
    ev.operation = sfd_op_name(rq->op);
    ev.key = rq->route.key[0] != '\0' ? rq->route.key : NULL;
    ev.version = rq->version;
    ev.outcome = outcome;
    ev.status = (int)status;
    ev.latency_us = latency_us;
    ev.batch_count = rq->batch_count;
    ev.error = error;
    ev.context = rq->audit_context;
    ev.context_len = rq->audit_context_len;
    ev.input = rq->audit_input;
    ev.input_len = rq->audit_input_len;
    if (sf_audit_append(rq->srv->audit, &ev) == SF_OK) {
        return true;
    }
    sfd_metrics_audit_failed(rq->srv->metrics);
    sfd_log_audit_failure(rq, sf_last_error());
    return false;
}

/* Finds the table entry for the route; *is_known_path tells 404 from
 * 405 when there is none. */
static const struct entry *find_entry(const struct sfd_route *r,
                                      bool *is_known_path)
{
    *is_known_path = r->ep != SFD_EP_NONE;
    for (size_t i = 0; i < TABLE_LEN; i++) {
        if (table[i].ep == r->ep && (table[i].methods & r->method) != 0) {
            return &table[i];
        }
    }
    return NULL;
}

/* Looks the token up; false (reply set) when it is missing or unknown. */
static bool authenticate(struct sfd_req *rq, struct sfd_reply *r)
{
    const char *t = rq->http->token;

    if (t != NULL && t[0] != '\0' &&
            sf_token_lookup(rq->srv->tokens, t, &rq->token) == SF_OK) {
        rq->has_token = true;
        return true;
    }
    sfd_reply_error(r, 403, "permission denied");
    return false;
}

/* Checks the token's rules for this request. */
static bool authorise(struct sfd_req *rq, const struct entry *e,
                      struct sfd_reply *r)
{
    uint32_t op = e->acl_op;
    const char *key = rq->route.key[0] != '\0' ? rq->route.key : NULL;
    bool is_ok;

    /* One table entry serves both datakey kinds; the plaintext kind needs
     * its own permission, since it releases the key. */
    if (rq->op == SFD_OP_DATAKEY_PLAINTEXT) {
        op = SF_OP_DATAKEY_PLAINTEXT;
    }

    if (e->needs_root) {
        is_ok = rq->token.is_root;
    } else if (op == 0) {
        is_ok = true;
    } else {
        is_ok = sf_token_allows(&rq->token, op, key);
    }
    if (!is_ok) {
        sfd_reply_error(r, 403, "permission denied");
    }
    return is_ok;
}

/* The checks before a handler runs; false when r already holds the
 * refusal. */
static bool admit(struct sfd_req *rq, const struct entry *e,
                  struct sfd_reply *r)
{
    char err[SFD_ERROR_MAX];
    const struct sfd_http *h = rq->http;

    if (h->is_body_too_large) {
        sfd_reply_error(r, 413, "request body larger than %llu bytes",
                        (unsigned long long)rq->srv->cfg->max_request_bytes);
        return false;
    }
    if (e->needs_token && !authenticate(rq, r)) {
        return false;
    }
    if (rq->route.has_bad_key) {
        sfd_reply_error(r, 400, "%s", rq->route.error);
        return false;
    }
    if (sfd_body_parse(h->body, h->body_len, &rq->body, err, sizeof err) !=
            SF_OK) {
        sfd_reply_error(r, 400, "%s", err);
        return false;
    }
    return authorise(rq, e, r);
}

/* Runs an admitted request, auditing mutations before they happen;
 * false when the request was refused because that entry failed. */
static bool run(struct sfd_req *rq, const struct entry *e,
                struct sfd_reply *r, uint64_t start)
{
    if (e->is_mutating &&
            !sfd_audit_write(rq, "started", 0, NULL, now_us() - start)) {
        sfd_reply_error(r, 503, "audit log unavailable: request refused "
                        "and not performed");
        return false;
    }
    e->fn(rq, r);
    return true;
}

/* Writes the final audit entry; on failure the reply becomes 503. */
static void audit_outcome(struct sfd_req *rq, struct sfd_reply *r,
                          bool was_started, uint64_t start)
{
    const char *outcome = r->status < 400 ? "ok" : "error";

    if (r->status == 403) {
        outcome = "denied";
    }
    if (sfd_audit_write(rq, outcome, r->status,
                        r->has_error ? r->error : NULL,
                        now_us() - start)) {
        return;
    }
    sfd_reply_clear(r);
    sfd_reply_error(r, 503, was_started
                    ? "audit log unavailable: the operation was performed "
                      "but its outcome could not be recorded"
                    : "audit log unavailable: request refused");
}

/* Routes and runs the request; the reply is in r. */
static void dispatch(struct sfd_req *rq, struct sfd_reply *r, uint64_t start)
{
    const struct sfd_http *h = rq->http;
    const struct entry *e;
    bool is_known;
    bool was_run = false;
    bool is_refused = false;

    sfd_route_parse(rq->srv->cfg->mount,
                    sfd_method_parse(h->method, h->is_list_query), h->path,
                    &rq->route);
    e = find_entry(&rq->route, &is_known);
    if (e == NULL) {
        if (is_known) {
            sfd_reply_error(r, 405, "unsupported operation");
        } else {
            r->status = 404;
            r->is_bare_404 = true;
        }
        return;
    }
    rq->op = e->op;
    if (rq->route.ep == SFD_EP_DATAKEY && rq->route.is_plaintext_datakey) {
        rq->op = SFD_OP_DATAKEY_PLAINTEXT;
    }
    if (admit(rq, e, r)) {
        is_refused = !run(rq, e, r, start);
        was_run = e->is_mutating && !is_refused;
    }
    if (e->is_audited && !is_refused && !rq->is_audit_refused) {
        audit_outcome(rq, r, was_run || rq->was_mutated, start);
    }
}

void sfd_handle(struct sfd_server *srv, const struct sfd_http *in,
                struct sfd_out *out)
{
    struct sfd_reply r;
    struct sfd_req rq;
    uint64_t start = now_us();

    memset(&r, 0, sizeof r);
    memset(&rq, 0, sizeof rq);
    memset(out, 0, sizeof *out);
    rq.srv = srv;
    rq.http = in;
    sfd_request_id(rq.request_id);
    dispatch(&rq, &r, start);
    if (r.status == 0) {
        sfd_reply_error(&r, 500, "internal error: no reply was produced");
    }
    sfd_metrics_record(srv->metrics, rq.op, r.status, now_us() - start,
                       rq.batch_count);
    sfd_log_request(&rq, &r, now_us() - start);
    sfd_reply_render(&r, rq.request_id, &out->body, &out->body_len,
                     &out->content_type);
    out->status = r.status;
    memcpy(out->request_id, rq.request_id, sizeof out->request_id);
    sfd_reply_clear(&r);
    sf_wipe(&rq.token, sizeof rq.token);
    json_decref(rq.body);
}
