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
 *
 * A request is a job (struct sfd_job) that advances step by step and
 * stops at each audit entry until the writer reports its commit, so the
 * HTTP layer can park the connection instead of a thread meanwhile.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "sealflow/secret.h"
#include "sfd.h"

struct sfd_table_entry {
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
static const struct sfd_table_entry table[] = {
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

/* The audit event describing rq. */
static void fill_event(const struct sfd_req *rq, const char *outcome,
                       unsigned status, const char *error,
                       uint64_t latency_us, struct sf_audit_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->request_id = rq->request_id;
    ev->accessor = rq->has_token ? rq->token.accessor : NULL;
    ev->remote = rq->http->remote;
    ev->operation = sfd_op_name(rq->op);
    ev->key = rq->route.key[0] != '\0' ? rq->route.key : NULL;
    ev->version = rq->version;
    ev->outcome = outcome;
    ev->status = (int)status;
    ev->latency_us = latency_us;
    ev->batch_count = rq->batch_count;
    ev->error = error;
    ev->context = rq->audit_context;
    ev->context_len = rq->audit_context_len;
    ev->input = rq->audit_input;
    ev->input_len = rq->audit_input_len;
}

/* Counts and logs an entry that could not be written. */
static void note_audit_failure(const struct sfd_req *rq, const char *why)
{
    sfd_metrics_audit_failed(rq->srv->metrics);
    sfd_log_audit_failure(rq, why);
}

bool sfd_audit_write(struct sfd_req *rq, const char *outcome,
                     unsigned status, const char *error, uint64_t latency_us)
{
    struct sf_audit_event ev;

    fill_event(rq, outcome, status, error, latency_us, &ev);
    if (sf_audit_append(rq->srv->audit, &ev) == SF_OK) {
        return true;
    }
    note_audit_failure(rq, sf_last_error());
    return false;
}

/* Finds the table entry for the route; *is_known_path tells 404 from
 * 405 when there is none. */
static const struct sfd_table_entry *find_entry(const struct sfd_route *r,
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
static bool authorise(struct sfd_req *rq, const struct sfd_table_entry *e,
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
static bool admit(struct sfd_req *rq, const struct sfd_table_entry *e,
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

/* The writer thread reports a commit: keep the result, wake the job. */
static void on_audit_done(void *arg, sf_status rc, const char *why)
{
    struct sfd_job *j = arg;

    j->audit_rc = rc;
    if (rc != SF_OK) {
        snprintf(j->audit_why, sizeof j->audit_why, "%s", why);
    }
    j->wake(j->wake_arg);
}

/*
 * Writes the job's audit entry. Returns true when its result is already
 * in j->audit_rc (synchronous jobs, and entries refused at once), false
 * when the job must wait for its wake callback.
 */
static bool audit_begin(struct sfd_job *j, const char *outcome,
                        unsigned status, const char *error)
{
    struct sf_audit_event ev;
    uint64_t latency_us = now_us() - j->start;
    sf_status rc;

    fill_event(&j->rq, outcome, status, error, latency_us, &ev);
    if (j->wake == NULL) {
        rc = sf_audit_append(j->rq.srv->audit, &ev);
    } else {
        rc = sf_audit_submit(j->rq.srv->audit, &ev, on_audit_done, j);
        if (rc == SF_OK) {
            return false;
        }
    }
    j->audit_rc = rc;
    if (rc != SF_OK) {
        snprintf(j->audit_why, sizeof j->audit_why, "%s", sf_last_error());
    }
    return true;
}

/* Whether the entry just written is durable; counts a failure. */
static bool audit_ok(struct sfd_job *j)
{
    if (j->audit_rc == SF_OK) {
        return true;
    }
    note_audit_failure(&j->rq, j->audit_why);
    return false;
}

/* Routes and admits the request; returns the next step. */
static enum sfd_step step_route(struct sfd_job *j)
{
    struct sfd_req *rq = &j->rq;
    const struct sfd_http *h = rq->http;
    bool is_known;

    sfd_route_parse(rq->srv->cfg->mount,
                    sfd_method_parse(h->method, h->is_list_query), h->path,
                    &rq->route);
    j->e = find_entry(&rq->route, &is_known);
    if (j->e == NULL) {
        if (is_known) {
            sfd_reply_error(&j->r, 405, "unsupported operation");
        } else {
            j->r.status = 404;
            j->r.is_bare_404 = true;
        }
        return SFD_STEP_FINISH;
    }
    rq->op = j->e->op;
    if (rq->route.ep == SFD_EP_DATAKEY && rq->route.is_plaintext_datakey) {
        rq->op = SFD_OP_DATAKEY_PLAINTEXT;
    }
    if (!admit(rq, j->e, &j->r)) {
        return SFD_STEP_OUTCOME;
    }
    return j->e->is_mutating ? SFD_STEP_PRE_AUDIT : SFD_STEP_RUN;
}

/* A change is audited ("started") before it runs; when that entry
 * cannot be made durable the request is refused and nothing is done. */
static enum sfd_step step_pre_checked(struct sfd_job *j)
{
    if (audit_ok(j)) {
        j->was_run = true;
        return SFD_STEP_RUN;
    }
    sfd_reply_error(&j->r, 503, "audit log unavailable: request refused "
                    "and not performed");
    return SFD_STEP_FINISH;
}

/* The final entry failed: no reply leaves without a durable record. */
static void refuse_unrecorded(struct sfd_job *j)
{
    bool was_started = j->was_run || j->rq.was_mutated;

    sfd_reply_clear(&j->r);
    sfd_reply_error(&j->r, 503, was_started
                    ? "audit log unavailable: the operation was performed "
                      "but its outcome could not be recorded"
                    : "audit log unavailable: request refused");
}

/* Submits the final entry with the outcome; false when the job waits. */
static bool outcome_begin(struct sfd_job *j)
{
    const struct sfd_reply *r = &j->r;
    const char *outcome = r->status < 400 ? "ok" : "error";

    if (r->status == 403) {
        outcome = "denied";
    }
    return audit_begin(j, outcome, r->status, r->has_error ? r->error : NULL);
}

/* Runs the job until it finishes (true) or must wait for the audit log
 * (false). Each wait is followed by the matching *_CHECKED step. */
static bool advance(struct sfd_job *j)
{
    for (;;) {
        switch (j->step) {
        case SFD_STEP_ROUTE:
            j->step = step_route(j);
            break;
        case SFD_STEP_PRE_AUDIT:
            j->step = SFD_STEP_PRE_CHECKED;
            if (!audit_begin(j, "started", 0, NULL)) {
                return false;
            }
            break;
        case SFD_STEP_PRE_CHECKED:
            j->step = step_pre_checked(j);
            break;
        case SFD_STEP_RUN:
            j->e->fn(&j->rq, &j->r);
            j->step = SFD_STEP_OUTCOME;
            break;
        case SFD_STEP_OUTCOME:
            if (!j->e->is_audited || j->rq.is_audit_refused) {
                j->step = SFD_STEP_FINISH;
                break;
            }
            j->step = SFD_STEP_OUTCOME_CHECKED;
            if (!outcome_begin(j)) {
                return false;
            }
            break;
        case SFD_STEP_OUTCOME_CHECKED:
            if (!audit_ok(j)) {
                refuse_unrecorded(j);
            }
            j->step = SFD_STEP_FINISH;
            break;
        case SFD_STEP_FINISH:
        default:
            return true;
        }
    }
}

/* Releases what the job holds. */
static void release(struct sfd_job *j)
{
    sfd_reply_clear(&j->r);
    sf_wipe(&j->rq.token, sizeof j->rq.token);
    json_decref(j->rq.body);
    j->rq.body = NULL;
}

void sfd_job_abandon(struct sfd_job *j)
{
    release(j);
}

/* Counts, logs and renders the finished job, then releases it. */
static void finish(struct sfd_job *j, struct sfd_out *out)
{
    struct sfd_req *rq = &j->rq;
    struct sfd_reply *r = &j->r;
    uint64_t latency_us;

    if (r->status == 0) {
        sfd_reply_error(r, 500, "internal error: no reply was produced");
    }
    latency_us = now_us() - j->start;
    sfd_metrics_record(rq->srv->metrics, rq->op, r->status, latency_us,
                       rq->batch_count);
    sfd_log_request(rq, r, latency_us);
    sfd_reply_render(r, rq->request_id, &out->body, &out->body_len,
                     &out->content_type);
    out->status = r->status;
    memcpy(out->request_id, rq->request_id, sizeof out->request_id);
    release(j);
}

void sfd_job_init(struct sfd_job *j, struct sfd_server *srv,
                  const struct sfd_http *in, sfd_wake_fn wake, void *arg)
{
    memset(&j->r, 0, sizeof j->r);
    memset(&j->rq, 0, sizeof j->rq);
    j->rq.srv = srv;
    j->rq.http = in;
    sfd_request_id(j->rq.request_id);
    j->e = NULL;
    j->start = now_us();
    j->step = SFD_STEP_ROUTE;
    j->was_run = false;
    j->wake = wake;
    j->wake_arg = arg;
    j->audit_rc = SF_OK;
    j->audit_why[0] = '\0';
}

bool sfd_job_run(struct sfd_job *j, struct sfd_out *out)
{
    memset(out, 0, sizeof *out);
    if (!advance(j)) {
        return false;
    }
    finish(j, out);
    return true;
}
