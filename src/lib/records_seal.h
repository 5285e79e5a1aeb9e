/*
 * Internal: the record sealer's object and per-thread workspace, shared by
 * the JSON walker (records_seal.c) and the CSV row sealer
 * (records_seal_csv.c).
 */
#ifndef SF_RECORDS_SEAL_H
#define SF_RECORDS_SEAL_H

#include "records_internal.h"
#include "records_out.h"

struct sf_record_sealer {
    const struct sf_policy *policy;
    enum sf_records_format format;
    const char *input;
    unsigned threads;
    struct sf_kv *ctx_own;            /* copies, caller order */
    struct sf_kv ctx[SF_CONTEXT_MAX]; /* sorted, pointing at ctx_own */
    struct sf_hdr_kv hctx[SF_CONTEXT_MAX];
    size_t ctx_len;
    struct sf_buf ctx_json;           /* "x":{...}, of every "_sealflow" */
    struct rec_class_keys *keys;      /* one per policy class */
    size_t class_count;
    struct seal_worker *single;       /* for sf_record_seal */
    /* CSV: filled from the header row */
    size_t ncols;
    size_t meta_col;                  /* input "_sealflow" column or
                                         SIZE_MAX */
    bool is_crlf;
    struct seal_col *cols;
    struct sf_buf col_text;           /* names and rendered paths */
};

/* A CSV column, classified once from the header. */
struct seal_col {
    size_t name_off;
    size_t name_len;
    size_t path_off;                  /* canonical path $["NAME"] */
    size_t path_len;
    struct sf_policy_match match;
};

/* What one worker counted for one policy class. */
struct seal_class_count {
    uint64_t sealed;
    uint64_t deks;
    bool is_seen;
};

/*
 * Everything a worker reuses from record to record, so that sealing a
 * record allocates nothing once the buffers have grown: the tape, the
 * path and its rendered text, AEAD contexts (re-keyed per record and
 * class), a reference on each shared DEK, and pools of record ids and
 * record-scope DEKs.
 */
struct seal_worker {
    struct sf_record_sealer *s;
    struct rec_tape tape;
    struct sf_path *path;
    struct rec_out out;                   /* the record being written */
    struct sf_buf ptext;                  /* canonical path of the value */
    struct sf_buf sub;                    /* a subtree's text (plaintext) */
    struct sf_buf aad;
    struct sf_buf scratch;
    struct sf_buf tok;
    struct sf_buf row;
    struct sf_aead *aead[3][SF_POLICY_CLASS_MAX];
    size_t slot_of[SF_POLICY_CLASS_MAX];  /* class index -> slot + 1 */
    struct rec_seal_slot slots[SF_POLICY_CLASS_MAX];
    struct rec_seal_slot *order[SF_POLICY_CLASS_MAX];
    size_t nslots;
    struct rec_shared_dek *held[SF_POLICY_CLASS_MAX];
    struct rec_dek_pool deks;
    uint8_t rid[REC_ID_LEN];
    uint8_t rid_pool[REC_ID_LEN * 64];    /* random ids drawn in bulk */
    size_t rid_left;
    unsigned rid_fork_gen;
    struct rec_loc loc;
    bool restart;
    uint64_t rec_fields;
    struct seal_class_count counts[SF_POLICY_CLASS_MAX];
    size_t seen[SF_POLICY_CLASS_MAX];     /* classes in order of first use */
    size_t seen_len;
    struct sf_records_stats stats;
};

SF_MUST_CHECK sf_status seal_worker_new(void *eng, void **out);
void seal_worker_free(void *w);

/* Starts a record attempt: new record id, no slots, empty output. */
SF_MUST_CHECK sf_status seal_begin(struct seal_worker *w);

/* Ends an attempt: releases shared DEKs; on success counts it. */
void seal_end(struct seal_worker *w, bool is_ok);

/*
 * Seals one value of type vtype (v_len bytes) under class ck at the field
 * whose canonical path is path (path_len bytes), appending the token text
 * to dst. rel locates the value for messages. SF_ERR_LIMIT with
 * w->restart set when the record must start over.
 */
SF_MUST_CHECK sf_status seal_field(struct seal_worker *w,
                                   struct rec_class_keys *ck, uint8_t vtype,
                                   const uint8_t *v, size_t v_len,
                                   const char *path, size_t path_len,
                                   size_t rel, struct sf_buf *dst);

/* Appends the "_sealflow" value of the current record to out. */
SF_MUST_CHECK sf_status seal_meta(struct seal_worker *w, struct sf_buf *out);

/* CSV (records_seal_csv.c). */
SF_MUST_CHECK sf_status seal_csv_header(void *eng, const struct rec_item *it,
                                        struct sf_buf *out);
SF_MUST_CHECK sf_status seal_csv_row(struct seal_worker *w,
                                     const struct rec_item *it,
                                     struct sf_buf *out);
void seal_csv_free(struct sf_record_sealer *s);

#endif
