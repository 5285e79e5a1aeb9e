/*
 * The service's shared state and the request being handled.
 */
#ifndef SFD_H
#define SFD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "metrics.h"
#include "reply.h"
#include "route.h"
#include "sealflow/audit.h"
#include "sealflow/keystore.h"
#include "sealflow/tokens.h"

#define SFD_UUID_LEN 36

struct sfd_server {
    const struct sfd_config *cfg;
    struct sf_keystore *ks;
    struct sf_token_store *tokens;
    struct sf_audit *audit;
    struct sfd_metrics *metrics;
    char cluster_id[SFD_UUID_LEN + 1];
    time_t started;
};

/* What the HTTP layer hands to the pipeline (sfd_job_init). */
struct sfd_http {
    const char *method;
    const char *path;      /* raw, still percent-encoded */
    bool is_list_query;    /* ?list=true */
    const char *format;    /* ?format=..., or NULL */
    const char *token;     /* X-Vault-Token or Bearer token, or NULL */
    const char *remote;    /* client address text */
    const uint8_t *body;
    size_t body_len;
    bool is_body_too_large;
};

/* A request on its way through the handlers. */
struct sfd_req {
    struct sfd_server *srv;
    const struct sfd_http *http;
    struct sfd_route route;
    enum sfd_op op;
    bool has_token;
    struct sf_token_info token;
    json_t *body;
    char request_id[SFD_UUID_LEN + 1];
    /* Filled by handlers for the audit entry. */
    uint32_t version;
    size_t batch_count;
    const uint8_t *audit_context;
    size_t audit_context_len;
    const uint8_t *audit_input;
    size_t audit_input_len;
    /* Set by a handler that audited a change itself (encrypt creating
     * its key) or was refused because that entry failed. */
    bool was_mutated;
    bool is_audit_refused;
};

/* The rendered reply for the HTTP layer. */
struct sfd_out {
    unsigned status;
    char *body;              /* malloc'd; NULL for none */
    size_t body_len;
    const char *content_type;
    char request_id[SFD_UUID_LEN + 1];
};

/* Where a request job goes next; see sfd_job_run(). */
enum sfd_step {
    SFD_STEP_ROUTE,
    SFD_STEP_PRE_AUDIT,
    SFD_STEP_PRE_CHECKED,
    SFD_STEP_RUN,
    SFD_STEP_OUTCOME,
    SFD_STEP_OUTCOME_CHECKED,
    SFD_STEP_FINISH
};

/* Tells the HTTP layer that a waiting job can run again. Called once per
 * wait, from the audit writer thread: it must only arrange for
 * sfd_job_run() to be called again, never call it. */
typedef void (*sfd_wake_fn)(void *arg);

struct sfd_table_entry;

/* One request through the pipeline, kept across waits for the audit
 * log. Owned by the HTTP layer; the fields are the pipeline's. */
struct sfd_job {
    struct sfd_req rq;
    struct sfd_reply r;
    const struct sfd_table_entry *e;
    uint64_t start;
    enum sfd_step step;
    bool was_run;       /* a change ran, so a 503 must say so */
    sfd_wake_fn wake;   /* NULL: wait for the audit log in place */
    void *wake_arg;
    sf_status audit_rc; /* result of the last audit entry */
    char audit_why[160];
};

/* Prepares j for the request in; in must stay valid until the job has
 * finished. With wake NULL the job blocks its thread while its audit
 * entries are committed; otherwise it returns to wait, and wake(arg)
 * says when to call sfd_job_run() again. */
void sfd_job_init(struct sfd_job *j, struct sfd_server *srv,
                  const struct sfd_http *in, sfd_wake_fn wake, void *arg);

/* Runs the job: route, authenticate, authorise, audit, execute, audit
 * again, count and render. Returns true when it finished, with the reply
 * in out (out->body is freed by the caller) and nothing left to release;
 * false when it waits for the audit log (see sfd_job_init). */
bool sfd_job_run(struct sfd_job *j, struct sfd_out *out);

/* Releases a job that will not be run again: one whose wait ended (its
 * wake was called) but whose connection closed before it finished. */
void sfd_job_abandon(struct sfd_job *j);

/* A random (version 4) UUID. */
void sfd_uuid(char out[SFD_UUID_LEN + 1]);

/* A request id: UUID-shaped, unique but not unpredictable (a random
 * per-process prefix and a counter). */
void sfd_request_id(char out[SFD_UUID_LEN + 1]);

/* Writes an audit entry for rq with the given outcome; false when it could
 * not be written (the request must then be refused with 503). */
bool sfd_audit_write(struct sfd_req *rq, const char *outcome,
                     unsigned status, const char *error, uint64_t latency_us);

#endif
