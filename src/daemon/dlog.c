/*
 * The daemon's log: one line per event on stderr, "level=... event=..."
 * followed by key=value fields. Values are ids, names and numbers only;
 * key names are logged only after they passed the name grammar, so a line
 * cannot be split or forged by a client.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"

static enum sf_log_level max_level = SF_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sfd_log_init(const char *level)
{
    for (int i = 0; i < 4; i++) {
        if (level != NULL && strcmp(level, level_names[i]) == 0) {
            max_level = (enum sf_log_level)i;
        }
    }
}

void sfd_log(enum sf_log_level level, const char *event, const char *fmt,
             ...)
{
    char fields[768];
    va_list ap;

    if (level > max_level) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "level=%s event=%s%s%s\n", level_names[level], event,
            fields[0] != '\0' ? " " : "", fields);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

void sfd_log_request(const struct sfd_req *rq, const struct sfd_reply *r,
                     uint64_t latency_us)
{
    bool has_key = rq->route.key[0] != '\0' && !rq->route.has_bad_key;

    sfd_log(r->status >= 500 ? SF_LOG_WARN : SF_LOG_DEBUG, "request",
            "req=%s op=%s%s%s status=%u latency_us=%llu accessor=%s",
            rq->request_id, sfd_op_name(rq->op), has_key ? " key=" : "",
            has_key ? rq->route.key : "", r->status,
            (unsigned long long)latency_us,
            rq->has_token ? rq->token.accessor : "-");
}

void sfd_log_audit_failure(const struct sfd_req *rq, const char *why)
{
    char clean[200];
    size_t i;

    /* The reason comes from the library (paths, errno text); keep it on
     * one line and quoted. */
    for (i = 0; why[i] != '\0' && i < sizeof clean - 1; i++) {
        clean[i] = why[i] == '"' || why[i] < 0x20 ? '\'' : why[i];
    }
    clean[i] = '\0';
    sfd_log(SF_LOG_ERROR, "audit_write_failed", "req=%s op=%s reason=\"%s\"",
            rq->request_id, sfd_op_name(rq->op), clean);
}
