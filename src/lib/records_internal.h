/*
 * Internal: what the record modules share. records_meta.c reads and writes
 * the "_sealflow" member, records_dek.c draws, shares, wraps and unwraps
 * data keys, records_seal.c and records_open.c walk one record,
 * records_csv.c does the same for CSV rows, and records_pipe.c streams
 * records through a pool of workers with output in input order.
 */
#ifndef SF_RECORDS_INTERNAL_H
#define SF_RECORDS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "header.h"
#include "records_tape.h"
#include "records_token.h"
#include "recipient.h"
#include "sealflow/records.h"

/* ---- where a record came from ---------------------------------------- */

struct rec_loc {
    const char *input;    /* display name */
    uint64_t record;      /* 1-based */
    uint64_t line;        /* 1-based line of the record's first byte */
    uint64_t offset;      /* byte offset of the record's first byte */
    const uint8_t *text;  /* the record's text, to count lines; may be
                             NULL (CSV rows) */
    size_t text_len;
};

/*
 * Sets sf_last_error() to "INPUT: record N (line L, byte B), at PATH:
 * MESSAGE" and returns code. rel is the offset of the problem within the
 * record's text; path (may be NULL) is a canonical path. Never pass a
 * value: only names, positions and limits.
 */
sf_status rec_fail(const struct rec_loc *loc, size_t rel, const char *path,
                   sf_status code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same for a tape parse failure (path taken from the tape). */
sf_status rec_fail_tape(const struct rec_loc *loc, const struct rec_tape *t,
                        const struct tape_error *e);

/* The record id and time source; tests replace the clock. */
int64_t rec_now(void);
void rec_test_set_clock(int64_t (*fn)(void));

/* Counts the forks this process came through. Pools of random bytes
 * drawn ahead (record ids, DEKs) are drawn again when it changes, so a
 * parent and its child never use the same ones. */
unsigned rec_fork_generation(void);

/* One online core per worker by default, within SF_THREADS_MAX. */
unsigned rec_threads(unsigned asked);

/* Renders path into buf (reset first) and returns it as a C string; on
 * failure returns "$". */
const char *rec_path_text(const struct sf_path *path, struct sf_buf *buf);

/*
 * Append one segment of a canonical path to text, byte for byte as
 * sf_path_render writes it (["NAME"] escaped, [INDEX]). The walkers
 * keep a field's path text this way, one segment per step down, instead
 * of rendering it from the root for every token.
 */
SF_MUST_CHECK sf_status rec_path_append_member(struct sf_buf *text,
                                               const char *name, size_t len);
SF_MUST_CHECK sf_status rec_path_append_index(struct sf_buf *text,
                                              size_t index);

/* ---- the "_sealflow" member ------------------------------------------ */

/* One stanza as written: ["KEY-ID", VERSION, "BODY"]. */
struct rec_stanza {
    char key_id[SF_KEY_ID_MAX + 1];
    uint32_t version;
    const char *b64;     /* base64url body (points into owner's buffer) */
    size_t b64_len;
};

/* One class entry as parsed: points into a tape. */
struct rec_meta_class {
    const char *name;
    size_t name_len;
    unsigned suite;
    bool has_dek_id;            /* shared DEK: "d" present */
    uint8_t dek_id[REC_ID_LEN];
    size_t stanza_count;
    size_t stanza_first;        /* index into rec_meta.stanzas */
};

#define REC_META_STANZA_MAX 4096

struct rec_meta {
    uint8_t rid[REC_ID_LEN];
    struct sf_hdr_kv ctx[SF_CONTEXT_MAX];
    size_t ctx_len;
    struct rec_meta_class classes[SF_POLICY_CLASS_MAX];
    size_t class_count;
    struct rec_stanza *stanzas;   /* grows; owned */
    size_t stanza_len;
    size_t stanza_cap;
};

void rec_meta_free(struct rec_meta *m);

/*
 * Parses the "_sealflow" value at tape entry i into m (pointing into the
 * tape). SF_ERR_FORMAT with a fixed reason in *why.
 */
SF_MUST_CHECK sf_status rec_meta_parse(const struct rec_tape *t, size_t i,
                                       struct rec_meta *m, const char **why);

/* Parses metadata text (a CSV cell) with sub as the tape. */
SF_MUST_CHECK sf_status rec_meta_parse_text(struct rec_tape *sub,
                                            const uint8_t *p, size_t len,
                                            struct rec_meta *m,
                                            const char **why);

/* The stanza type a key id implies (docs/RECORDS.md, "Stanzas"). */
uint8_t rec_stanza_type(const char *key_id);

/* ---- sealing side of data keys ---------------------------------------- */

struct rec_shared_dek;

/* What the sealer knows of one policy class. */
struct rec_class_keys {
    const struct sf_policy_class *cls;
    size_t index;
    size_t name_len;
    unsigned suite;                 /* 0: suite none, never sealed */
    struct sf_recipient **rcpts;
    size_t rcpt_count;
    struct sf_buf head;             /* {"n":NAME,"s":SUITE, of its entry */
    /* shared scope */
    pthread_mutex_t lock;
    bool has_lock;
    struct rec_shared_dek *cur;
    uint64_t max_age_s;             /* min of max_age and DEK rotation */
};

/*
 * Record-scope DEKs, drawn REC_DEK_POOL at a time: one CSPRNG call costs
 * about as much as sealing a small field, and a record-scope class needs
 * a DEK for every record. The pool lives in secret memory, and each DEK
 * is wiped from it as it is taken.
 */
#define REC_DEK_POOL 32

struct rec_dek_pool {
    struct sf_secret *keys;
    size_t left;
    unsigned fork_gen;  /* rec_fork_generation() when drawn */
};

/* Copies a fresh DEK into dek (the caller wipes it). */
SF_MUST_CHECK sf_status rec_dek_pool_draw(struct rec_dek_pool *p,
                                          uint8_t dek[SF_DEK_LEN]);
void rec_dek_pool_free(struct rec_dek_pool *p);

/* A class in use in the current record. */
struct rec_seal_slot {
    struct rec_class_keys *ck;
    uint32_t counter;
    uint64_t bytes;                 /* charged by this record */
    struct rec_shared_dek *shared;  /* or NULL: a DEK of this record */
    bool drew_dek;                  /* acquire drew a new DEK */
    struct rec_stanza *stanzas;     /* record scope: wrapped here */
    size_t stanza_len;
    size_t stanza_cap;
    struct sf_buf bodies;           /* record scope: base64 bodies */
    struct sf_buf aad;              /* work buffers kept across records */
    struct sf_buf wrapped;
};

/* Resolves and parses every key of every sealed class. */
SF_MUST_CHECK sf_status rec_keys_init(struct rec_class_keys *ck,
                                      const struct sf_policy *p, size_t i,
                                      struct sf_keystore *ks);
void rec_keys_free(struct rec_class_keys *ck);

/* The stanza key id a key reference wraps under: the key name for local:
 * keys, the recipient's fingerprint otherwise (learnt by wrapping a
 * throwaway key). SF_ERR_UNSUPPORTED for kms: and hsm:. */
SF_MUST_CHECK sf_status rec_ref_key_id(const struct sf_key_ref *ref,
                                       char out[SF_KEY_ID_MAX + 1]);

/*
 * Gives slot a data key for one record: a fresh one from pool wrapped for
 * every recipient (record scope), or the class's shared one (taking a
 * new one when a limit is reached). *held is the shared DEK this worker
 * holds a reference on for the class (NULL at first); it is kept across
 * records and replaced here when it is spent. Derives the field key into
 * key. ctx is the sorted context. On failure key is wiped.
 */
SF_MUST_CHECK sf_status rec_slot_acquire(struct rec_seal_slot *slot,
                                         struct rec_shared_dek **held,
                                         struct rec_dek_pool *pool,
                                         const uint8_t rid[REC_ID_LEN],
                                         const struct sf_hdr_kv *ctx,
                                         size_t ctx_len,
                                         uint8_t key[REC_KEY_LEN]);

/*
 * Charges n plaintext bytes to the slot's DEK before a field is sealed.
 * SF_OK; or SF_ERR_LIMIT with *restart true when the shared DEK is full
 * (it is retired; seal the record again with a new one); or SF_ERR_LIMIT
 * with *restart false when this record alone exceeds max_bytes.
 */
SF_MUST_CHECK sf_status rec_slot_charge(struct rec_seal_slot *slot,
                                        uint64_t n, bool *restart);

/* Ends the slot's use of a shared DEK for this record (the worker's
 * reference stays in its held entry). */
void rec_slot_release(struct rec_seal_slot *slot);

/* Drops a worker's reference on a shared DEK of class ck (NULL allowed). */
void rec_shared_drop(struct rec_class_keys *ck, struct rec_shared_dek *sd);

void rec_slot_free(struct rec_seal_slot *slot);

/* Appends the slot's class entry of "_sealflow" (docs/RECORDS.md): for a
 * shared DEK the text rendered when it was drawn. */
SF_MUST_CHECK sf_status rec_slot_entry(const struct rec_seal_slot *slot,
                                       struct sf_buf *out);

/* Appends a class entry: head ({"n":NAME,"s":SUITE,), the DEK id when
 * dek_id is not NULL, and the stanzas. */
SF_MUST_CHECK sf_status rec_meta_put_entry(struct sf_buf *out,
                                           const struct sf_buf *head,
                                           const uint8_t *dek_id,
                                           const struct rec_stanza *st,
                                           size_t n);

/* Renders the head of a class entry into head. */
SF_MUST_CHECK sf_status rec_meta_entry_head(struct sf_buf *head,
                                            const char *name,
                                            unsigned suite);

/* Renders the context member ("x":{...}, with its trailing comma) of
 * every "_sealflow" of a sealer; nothing for an empty context. */
SF_MUST_CHECK sf_status rec_meta_context(struct sf_buf *out,
                                         const struct sf_kv *ctx,
                                         size_t ctx_len);

/* Appends the "_sealflow" value for the slots of one record. ctx_json is
 * from rec_meta_context. */
SF_MUST_CHECK sf_status rec_meta_emit(struct sf_buf *out,
                                      const uint8_t rid[REC_ID_LEN],
                                      const struct sf_buf *ctx_json,
                                      struct rec_seal_slot *const *slots,
                                      size_t n);

/* ---- opening side of data keys ----------------------------------------- */

#define REC_DEK_CACHE 16
/* Keys longer than this are kept as their SHA-256. */
#define REC_DEK_CACHE_KEY_MAX 4096

/* One unwrapped shared DEK, keyed by the exact bytes of its class
 * entry's stanza AAD and stanzas (or their SHA-256 when long): two
 * entries with equal keys unwrap to the same DEK. */
struct rec_dek_cache_ent {
    bool is_used;
    bool is_digest;
    struct sf_buf key;
    uint8_t dek[SF_DEK_LEN];
    uint64_t tick;
};

struct rec_dek_cache {
    struct rec_dek_cache_ent ents[REC_DEK_CACHE];
    uint64_t tick;
};

/* Wipes the cached DEKs and frees the keys. */
void rec_dek_cache_free(struct rec_dek_cache *c);

/*
 * Unwraps the DEK of class entry c of m with ids (tried in order on every
 * stanza), using and filling cache. SF_OK with dek filled; SF_ERR_NO_KEY
 * or SF_ERR_KEY_VERSION when no identity fits (the class stays sealed);
 * SF_ERR_AUTH when a fitting key rejects the stanza (tampered metadata or
 * relabelled class). scratch is a work buffer.
 */
SF_MUST_CHECK sf_status rec_unwrap_class(const struct rec_meta *m,
                                         const struct rec_meta_class *c,
                                         struct sf_identity *const *ids,
                                         size_t n,
                                         struct rec_dek_cache *cache,
                                         struct sf_buf *scratch,
                                         uint8_t dek[SF_DEK_LEN]);

/* ---- the pipeline ------------------------------------------------------ */

/* One record handed to a worker. CSV rows are fields, each a 4-byte
 * little-endian length and the bytes. */
struct rec_item {
    const uint8_t *p;
    size_t len;
    size_t nfields;       /* CSV */
    bool is_crlf;         /* CSV header: the input ends lines with CRLF */
    struct rec_loc loc;
};

struct rec_engine {
    void *eng;
    enum sf_records_format format;
    const char *input;
    unsigned threads;
    bool is_output;                    /* false for coverage */
    sf_status (*worker_new)(void *eng, void **w);
    void (*worker_free)(void *w);
    /* One JSON Lines record or CSV row: append its output to out. */
    sf_status (*record)(void *eng, void *w, const struct rec_item *it,
                        struct sf_buf *out);
    /* A whole JSON document. */
    sf_status (*doc)(void *eng, void *w, const uint8_t *p, size_t len,
                     struct sf_buf *out);
    /* The CSV header row (main thread, before any row). */
    sf_status (*csv_header)(void *eng, const struct rec_item *it,
                            struct sf_buf *out);
    /* Adds what a worker counted to sum (main thread, at the end). */
    void (*stats)(void *w, struct sf_records_stats *sum);
};

/* Runs an engine over io. stats may be NULL. */
SF_MUST_CHECK sf_status rec_pipe_run(const struct rec_engine *e,
                                     const struct sf_records_io *io,
                                     struct sf_records_stats *stats);

/* A CSV row field of it: index k (< it->nfields). */
void rec_item_field(const struct rec_item *it, size_t k, const uint8_t **p,
                    size_t *len);

/* Appends one CSV field, quoted when it needs to be (RFC 4180). */
SF_MUST_CHECK sf_status rec_csv_put(struct sf_buf *out, const uint8_t *p,
                                    size_t len, bool is_last,
                                    bool is_crlf);

/* Adds a class counter to stats (by name). */
struct sf_records_class_stats *rec_stats_class(struct sf_records_stats *s,
                                               const char *name,
                                               size_t len);
void rec_stats_add(struct sf_records_stats *sum,
                   const struct sf_records_stats *w);

/* Buffer reader/writer for the *_buffer functions. */
struct rec_membuf {
    const uint8_t *p;
    size_t len;
    size_t at;
    struct sf_buf *out;
};
sf_status rec_mem_read(void *arg, uint8_t *buf, size_t cap, size_t *got);

/* A one-record location: record 1, line 1, offset 0, over text. */
void rec_loc_single(struct rec_loc *loc, const char *input,
                    const uint8_t *text, size_t len);

/* After a failure, wipes what was appended to out since start and drops
 * it, so a failed call leaves out as it found it. */
void rec_buf_rollback(struct sf_buf *out, size_t start);
sf_status rec_mem_write(void *arg, const uint8_t *p, size_t len);

#endif
