/*
 * Internal: the coverage result shared by the checker (coverage.c) and the
 * report writers (coverage_report.c).
 */
#ifndef SF_COVERAGE_H
#define SF_COVERAGE_H

#include <pthread.h>

#include "records_internal.h"

struct cov_count {
    uint64_t fields;      /* values the policy classified */
    uint64_t sealed;      /* sealed under the policy's class */
    uint64_t unsealed;    /* clear although the class is encrypted */
    uint64_t mismatched;  /* sealed under another class */
};

struct cov_finding {
    enum sf_finding_kind kind;
    uint64_t record;
    uint64_t seq;         /* order within its worker */
    char path[256];
    char cls[SF_POLICY_NAME_MAX + 1];
    char detail[160];
};

/* What one worker (or the whole run, after merging) counted. */
struct cov_tally {
    uint64_t records;
    uint64_t records_unsealed;   /* no "_sealflow" at all */
    uint64_t kinds[SF_FINDING_KIND_COUNT];
    struct cov_count *classes;   /* per policy class */
    struct cov_count *rules;     /* per rule, then one for the default */
    struct cov_finding *findings;
    size_t finding_len;
    size_t finding_max;
};

/* A keystore key as the KEK checks see it. */
struct cov_key {
    char name[SF_KEY_NAME_MAX + 1];
    bool is_found;
    struct sf_key_info info;
};

struct sf_coverage {
    const struct sf_policy *policy;
    enum sf_records_format format;
    const char *input;
    struct sf_keystore *ks;
    int64_t now;
    size_t class_count;
    size_t rule_count;
    /* per class: the stanza key id each wrap key must appear under, or ""
     * for keys that cannot be checked (kms:, hsm:) */
    char (**want_ids)[SF_KEY_ID_MAX + 1];
    pthread_mutex_t key_lock;
    struct cov_key *keys;
    size_t key_len;
    size_t key_cap;
    struct cov_tally total;
    /* CSV header */
    size_t ncols;
    size_t meta_col;
    struct sf_policy_match *col_match;
    size_t *path_off;
    struct sf_buf col_text;
};

SF_MUST_CHECK sf_status cov_tally_init(struct cov_tally *t, size_t classes,
                                       size_t rules, size_t finding_max);
void cov_tally_free(struct cov_tally *t);

/* The key's info, looked up once per run (thread-safe). */
const struct cov_key *cov_key_get(struct sf_coverage *c, const char *name);

#endif
