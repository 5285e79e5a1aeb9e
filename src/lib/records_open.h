/*
 * Internal: the record opener's object and per-thread workspace, shared by
 * the JSON walker (records_open.c) and the CSV row opener
 * (records_open_csv.c).
 */
#ifndef SF_RECORDS_OPEN_H
#define SF_RECORDS_OPEN_H

#include "records_internal.h"
#include "records_out.h"

/* What happens to the tokens of one class entry in the current record. */
enum open_state {
    OPEN_UNRESOLVED = 0,
    OPEN_YES,
    OPEN_NOT_ALLOWED,  /* no reader may see the class */
    OPEN_NO_KEY,       /* no identity unwraps a stanza */
    OPEN_RETIRED       /* the only fitting KEK version is retired */
};

struct sf_record_opener {
    const struct sf_policy *policy;
    enum sf_records_format format;
    const char *input;
    unsigned threads;
    bool is_strict;
    struct sf_identity **ids;
    size_t id_count;
    char **readers;
    size_t reader_count;
    struct open_worker *single;
    /* CSV: from the header row */
    size_t ncols;
    size_t meta_col;        /* SIZE_MAX: the input is not sealed */
    bool keep_col;          /* output keeps a "_sealflow" column */
    bool is_crlf;
    size_t *path_off;       /* per column, into col_text */
    size_t *path_len;
    struct sf_buf col_text;
};

/*
 * Everything a worker reuses from record to record: tapes, the rendered
 * path of the current value (one segment appended per step down), AEAD
 * contexts re-keyed per record and class, and the shared-DEK cache.
 */
struct open_worker {
    struct sf_record_opener *o;
    struct rec_tape tape;
    struct rec_tape sub;
    struct rec_out out;                 /* the record being written */
    struct sf_buf ptext;                /* canonical path of the value */
    size_t depth;                       /* segments in ptext */
    struct sf_buf aad;
    struct sf_buf raw;
    struct sf_buf scratch;
    struct sf_buf row;
    struct sf_aead *aead[3][SF_POLICY_CLASS_MAX];
    struct rec_meta meta;
    uint8_t state[SF_POLICY_CLASS_MAX];
    /* per class entry of the record: its counters, found on first use */
    struct sf_records_class_stats *cst[SF_POLICY_CLASS_MAX];
    struct rec_dek_cache cache;
    struct rec_loc loc;
    uint64_t rec_kept;
    struct sf_records_stats stats;
};

SF_MUST_CHECK sf_status open_worker_new(void *eng, void **out);
void open_worker_free(void *w);

/* Starts a record whose metadata is in w->meta. */
void open_begin(struct open_worker *w);

/*
 * Handles the token text s (len bytes) at the field with canonical path
 * path. On SF_OK either *pt points at the plaintext (type byte first,
 * *pt_len bytes, inside w->raw: wipe after use) or *pt is NULL and the
 * token stays sealed. rel locates the token for messages.
 */
SF_MUST_CHECK sf_status open_token(struct open_worker *w, const char *s,
                                   size_t len, const char *path,
                                   size_t path_len, size_t rel,
                                   const uint8_t **pt, size_t *pt_len);

/* CSV (records_open_csv.c). */
SF_MUST_CHECK sf_status open_csv_header(void *eng, const struct rec_item *it,
                                        struct sf_buf *out);
SF_MUST_CHECK sf_status open_csv_row(struct open_worker *w,
                                     const struct rec_item *it,
                                     struct sf_buf *out);
void open_csv_free(struct sf_record_opener *o);

#endif
