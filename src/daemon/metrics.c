/*
 * Metrics registry. Counters are relaxed atomics: each is exact on its
 * own, and a scrape that runs during traffic may see a request counted in
 * one series a moment before another, which Prometheus tolerates.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sealflow/buf.h"

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000,
};

#define BUCKETS (sizeof bucket_us / sizeof bucket_us[0])

static const char *const op_names[SFD_OP_COUNT] = {
    [SFD_OP_UNKNOWN] = "unknown",
    [SFD_OP_KEYS_CREATE] = "keys.create",
    [SFD_OP_KEYS_READ] = "keys.read",
    [SFD_OP_KEYS_LIST] = "keys.list",
    [SFD_OP_KEYS_DELETE] = "keys.delete",
    [SFD_OP_KEYS_CONFIG] = "keys.config",
    [SFD_OP_KEYS_ROTATE] = "keys.rotate",
    [SFD_OP_KEYS_TRIM] = "keys.trim",
    [SFD_OP_ENCRYPT] = "encrypt",
    [SFD_OP_DECRYPT] = "decrypt",
    [SFD_OP_REWRAP] = "rewrap",
    [SFD_OP_DATAKEY_PLAINTEXT] = "datakey.plaintext",
    [SFD_OP_DATAKEY_WRAPPED] = "datakey.wrapped",
    [SFD_OP_HEALTH] = "sys.health",
    [SFD_OP_MOUNTS] = "sys.mounts",
    [SFD_OP_MOUNT_ENABLE] = "sys.mounts.enable",
    [SFD_OP_METRICS] = "sys.metrics",
    [SFD_OP_LOOKUP_SELF] = "auth.lookup_self",
};

struct op_counters {
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t errors;
    atomic_uint_fast64_t items;
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t bucket[BUCKETS + 1]; /* last: above every bound */
};

struct sfd_metrics {
    struct op_counters op[SFD_OP_COUNT];
    atomic_uint_fast64_t audit_failures;
};

const char *sfd_op_name(enum sfd_op op)
{
    if ((unsigned)op >= SFD_OP_COUNT || op_names[op] == NULL) {
        return "unknown";
    }
    return op_names[op];
}

struct sfd_metrics *sfd_metrics_new(void)
{
    struct sfd_metrics *m = calloc(1, sizeof *m);

    return m;
}

void sfd_metrics_free(struct sfd_metrics *m)
{
    free(m);
}

void sfd_metrics_record(struct sfd_metrics *m, enum sfd_op op,
                        unsigned status, uint64_t latency_us,
                        size_t batch_items)
{
    struct op_counters *c;
    size_t b = 0;

    if (m == NULL || (unsigned)op >= SFD_OP_COUNT) {
        return;
    }
    c = &m->op[op];
    while (b < BUCKETS && latency_us > bucket_us[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&c->requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->sum_us, latency_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->items, batch_items, memory_order_relaxed);
    if (status >= 400) {
        atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
    }
}

void sfd_metrics_audit_failed(struct sfd_metrics *m)
{
    if (m != NULL) {
        atomic_fetch_add_explicit(&m->audit_failures, 1,
                                  memory_order_relaxed);
    }
}

static uint64_t load(atomic_uint_fast64_t *v)
{
    return (uint64_t)atomic_load_explicit(v, memory_order_relaxed);
}

/* Appends printf-style text; a failure is remembered in *rc. */
static void put(struct sf_buf *out, sf_status *rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void put(struct sf_buf *out, sf_status *rc, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (*rc != SF_OK) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    *rc = sf_buf_put_str(out, line);
}

/* Writes a counter family with one series per operation that was used. */
static void counter(struct sfd_metrics *m, struct sf_buf *out,
                    sf_status *rc, const char *name, const char *help,
                    size_t field)
{
    put(out, rc, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int i = 0; i < SFD_OP_COUNT; i++) {
        struct op_counters *c = &m->op[i];
        atomic_uint_fast64_t *v =
            (atomic_uint_fast64_t *)(void *)((char *)c + field);

        if (load(&c->requests) > 0) {
            put(out, rc, "%s{operation=\"%s\"} %llu\n", name, op_names[i],
                (unsigned long long)load(v));
        }
    }
}

/* Writes the latency histogram of one operation. */
static void histogram(struct op_counters *c, const char *op,
                      struct sf_buf *out, sf_status *rc)
{
    static const char name[] = "sealflowd_request_duration_seconds";
    uint64_t cumulative = 0;

    for (size_t b = 0; b <= BUCKETS; b++) {
        cumulative += load(&c->bucket[b]);
        if (b < BUCKETS) {
            put(out, rc, "%s_bucket{operation=\"%s\",le=\"%g\"} %llu\n",
                name, op, (double)bucket_us[b] / 1e6,
                (unsigned long long)cumulative);
        } else {
            put(out, rc, "%s_bucket{operation=\"%s\",le=\"+Inf\"} %llu\n",
                name, op, (unsigned long long)cumulative);
        }
    }
    put(out, rc, "%s_sum{operation=\"%s\"} %.6f\n", name, op,
        (double)load(&c->sum_us) / 1e6);
    put(out, rc, "%s_count{operation=\"%s\"} %llu\n", name, op,
        (unsigned long long)cumulative);
}

/* Writes the gauges and the audit failure counter. */
static void gauges(struct sfd_metrics *m, const struct sfd_gauges *g,
                   struct sf_buf *out, sf_status *rc)
{
    put(out, rc, "# HELP sealflowd_keys Keys in the keystore.\n"
        "# TYPE sealflowd_keys gauge\nsealflowd_keys %zu\n", g->keys);
    put(out, rc, "# HELP sealflowd_tokens Tokens loaded.\n"
        "# TYPE sealflowd_tokens gauge\nsealflowd_tokens %zu\n", g->tokens);
    put(out, rc, "# HELP sealflowd_audit_entries_total Audit entries "
        "written since start.\n# TYPE sealflowd_audit_entries_total "
        "counter\nsealflowd_audit_entries_total %llu\n",
        (unsigned long long)g->audit_entries);
    put(out, rc, "# HELP sealflowd_audit_failures_total Requests refused "
        "because the audit log could not be written.\n# TYPE "
        "sealflowd_audit_failures_total counter\n"
        "sealflowd_audit_failures_total %llu\n",
        (unsigned long long)load(&m->audit_failures));
    put(out, rc, "# HELP sealflowd_uptime_seconds Seconds since start.\n"
        "# TYPE sealflowd_uptime_seconds gauge\n"
        "sealflowd_uptime_seconds %llu\n", (unsigned long long)g->uptime_s);
}

char *sfd_metrics_render(struct sfd_metrics *m, const struct sfd_gauges *g)
{
    struct sf_buf out = SF_BUF_INIT;
    sf_status rc = SF_OK;
    char *text;

    counter(m, &out, &rc, "sealflowd_requests_total",
            "Requests handled, by operation.",
            offsetof(struct op_counters, requests));
    counter(m, &out, &rc, "sealflowd_request_errors_total",
            "Requests answered with a status of 400 or more.",
            offsetof(struct op_counters, errors));
    counter(m, &out, &rc, "sealflowd_batch_items_total",
            "Items in batch requests.", offsetof(struct op_counters, items));
    put(&out, &rc, "# HELP sealflowd_request_duration_seconds Time from "
        "request to reply.\n# TYPE sealflowd_request_duration_seconds "
        "histogram\n");
    for (int i = 0; i < SFD_OP_COUNT; i++) {
        if (load(&m->op[i].requests) > 0) {
            histogram(&m->op[i], op_names[i], &out, &rc);
        }
    }
    gauges(m, g, &out, &rc);
    if (rc != SF_OK || sf_buf_terminate(&out) != SF_OK) {
        sf_buf_free(&out);
        return NULL;
    }
    text = strdup((const char *)out.data);
    sf_buf_free(&out);
    return text;
}
