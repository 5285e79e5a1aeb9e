/*
 * Request metrics: counts, errors and latency histograms per operation,
 * kept in atomic counters (no lock on the request path) and rendered in
 * the Prometheus text format.
 */
#ifndef SFD_METRICS_H
#define SFD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The operations the service counts and audits. */
enum sfd_op {
    SFD_OP_UNKNOWN = 0,
    SFD_OP_KEYS_CREATE,
    SFD_OP_KEYS_READ,
    SFD_OP_KEYS_LIST,
    SFD_OP_KEYS_DELETE,
    SFD_OP_KEYS_CONFIG,
    SFD_OP_KEYS_ROTATE,
    SFD_OP_KEYS_TRIM,
    SFD_OP_ENCRYPT,
    SFD_OP_DECRYPT,
    SFD_OP_REWRAP,
    SFD_OP_DATAKEY_PLAINTEXT,
    SFD_OP_DATAKEY_WRAPPED,
    SFD_OP_HEALTH,
    SFD_OP_MOUNTS,
    SFD_OP_MOUNT_ENABLE,
    SFD_OP_METRICS,
    SFD_OP_LOOKUP_SELF,
    SFD_OP_COUNT
};

/* "keys.create", "encrypt", ...; never NULL. */
const char *sfd_op_name(enum sfd_op op);

struct sfd_metrics;

struct sfd_metrics *sfd_metrics_new(void);
void sfd_metrics_free(struct sfd_metrics *m);

/* Counts one finished request; status >= 400 also counts as an error. */
void sfd_metrics_record(struct sfd_metrics *m, enum sfd_op op,
                        unsigned status, uint64_t latency_us,
                        size_t batch_items);

/* Counts a request refused because its audit entry could not be
 * written. */
void sfd_metrics_audit_failed(struct sfd_metrics *m);

/* Gauges sampled when the metrics are rendered. */
struct sfd_gauges {
    size_t keys;
    size_t tokens;
    uint64_t audit_entries;
    uint64_t uptime_s;
};

/* The Prometheus text exposition (malloc'd), or NULL without memory. */
char *sfd_metrics_render(struct sfd_metrics *m, const struct sfd_gauges *g);

#endif
