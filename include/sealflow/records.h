/*
 * Records: policy-driven sealing of JSON, JSON Lines and CSV records into
 * field tokens, selective opening, and coverage reports.
 * Token and record format, derivations and limits: docs/RECORDS.md.
 *
 * A sealed record keeps its shape. Member names and clear values stay as
 * they were; each value whose class (sf_policy_classify) is encrypted
 * becomes a string token "sf1.<base64url>"; an object or array whose whole
 * subtree has one encrypted class becomes one token. One member,
 * "_sealflow", holds the record id and, for each class present, the
 * wrapped data key (DEK) stanzas and the encryption context. A CSV row
 * keeps its columns and gets a "_sealflow" column.
 *
 * Each token is bound to the record id, its field's canonical path
 * (sf_path_render) and its class, so a token moved to another field or
 * record, or a class relabelled in the token or in "_sealflow", fails to
 * open with SF_ERR_AUTH.
 *
 * Input is either sealed whole or not at all: every function writes
 * output only through the caller's sink, in input order, and a failure
 * names the input, the record number, line, byte offset and field path
 * in sf_last_error() (never a value). Callers that write files should
 * write to a temporary file and rename it on success (the CLI does).
 *
 * Sealers, openers and coverage runs are used by one thread at a time;
 * the stream functions use several threads internally (opts.threads).
 */
#ifndef SEALFLOW_RECORDS_H
#define SEALFLOW_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/envelope.h"
#include "sealflow/keystore.h"
#include "sealflow/policy.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits and names ---------------------------------------------- */

#define SF_RECORDS_MEMBER "_sealflow"     /* the per-record member/column */
#define SF_TOKEN_PREFIX "sf1."            /* every token starts with it */
#define SF_RECORDS_DEPTH_MAX 100          /* nesting of objects/arrays */
#define SF_RECORDS_RECORD_MAX (64u << 20) /* bytes of one record (line,
                                             row, array element) */
#define SF_RECORDS_DOC_MAX (1024u << 20)  /* bytes of one JSON document */
#define SF_RECORDS_COLUMNS_MAX 4096       /* CSV columns */
#define SF_RECORDS_TOKENS_MAX 4294967295u /* tokens per record and class */

enum sf_records_format {
    SF_RECORDS_JSON = 1,  /* one document: an object (one record) or an
                             array of objects (one record each) */
    SF_RECORDS_JSONL = 2, /* JSON Lines: one object per line */
    SF_RECORDS_CSV = 3    /* RFC 4180 with a header row; one row each */
};

/* "json", "jsonl", "csv"; NULL for an unknown value. */
SF_API const char *sf_records_format_name(enum sf_records_format f);

/* Parses "json", "jsonl" (or "ndjson") and "csv". SF_ERR_INVALID_ARG
 * with the accepted names in sf_last_error(). */
SF_API SF_MUST_CHECK sf_status sf_records_format_parse(
    const char *name, enum sf_records_format *out);

/* ---- input and output ---------------------------------------------- */

/* Reads up to cap bytes into buf; *got is 0 only at the end of input.
 * Any status other than SF_OK stops the run and is returned. */
typedef sf_status (*sf_records_read_fn)(void *arg, uint8_t *buf,
                                        size_t cap, size_t *got);

/* Writes all len bytes (output arrives in input order). */
typedef sf_status (*sf_records_write_fn)(void *arg, const uint8_t *p,
                                         size_t len);

struct sf_records_io {
    sf_records_read_fn read;
    void *read_arg;
    sf_records_write_fn write;  /* unused by coverage */
    void *write_arg;
};

/* ---- statistics -------------------------------------------------------- */

struct sf_records_class_stats {
    char name[SF_POLICY_NAME_MAX + 1];
    uint64_t sealed;       /* seal: tokens written */
    uint64_t opened;       /* open: tokens opened */
    uint64_t not_allowed;  /* open: kept, the readers may not see it */
    uint64_t no_key;       /* open: kept, no identity unwraps its DEK */
    uint64_t retired;      /* open: kept, its KEK version is retired */
    uint64_t deks;         /* seal: DEKs drawn; open: DEKs unwrapped */
};

struct sf_records_stats {
    uint64_t records;
    uint64_t fields;        /* values looked at (a sealed subtree is one) */
    uint64_t tokens;        /* seal: written; open: tokens met */
    uint64_t kept;          /* open: tokens left sealed */
    uint64_t bytes_in;
    uint64_t bytes_out;
    size_t class_count;
    struct sf_records_class_stats classes[SF_POLICY_CLASS_MAX];
};

/* ---- sealing ------------------------------------------------------------ */

struct sf_records_seal_opts {
    enum sf_records_format format;  /* 0 means SF_RECORDS_JSON */
    const struct sf_kv *context;    /* encryption context, bound into
                                       every DEK stanza; may be NULL */
    size_t context_len;
    unsigned threads;               /* 0: one per online core */
    const char *input_name;         /* for messages; NULL: "<input>" */
};

struct sf_record_sealer;

/*
 * Prepares sealing under policy. Every key a sealed class names is
 * resolved now: "local:" keys in ks (which may be NULL only when no class
 * names one), recipient strings and recipient files are parsed, and each
 * class's require_context keys must be in opts->context. policy and ks
 * must outlive the sealer. SF_ERR_POLICY (missing context), the keystore
 * or recipient status, SF_ERR_UNSUPPORTED for kms: and hsm: keys.
 * *out is NULL on failure.
 */
SF_API SF_MUST_CHECK sf_status sf_record_sealer_new(
    const struct sf_policy *policy, struct sf_keystore *ks,
    const struct sf_records_seal_opts *opts, struct sf_record_sealer **out);

/* Wipes shared DEKs and frees. NULL is allowed. */
SF_API void sf_record_sealer_free(struct sf_record_sealer *s);

/*
 * Seals one JSON object record of len bytes and appends the sealed
 * record (compact JSON, no line end) to out. On failure out is as it was.
 * SF_ERR_PARSE (malformed, duplicate key, too deep, invalid UTF-8, not an
 * object, already sealed, a clear value that looks like a token),
 * SF_ERR_LIMIT, or a key status.
 */
SF_API SF_MUST_CHECK sf_status sf_record_seal(struct sf_record_sealer *s,
                                              const uint8_t *json,
                                              size_t len,
                                              struct sf_buf *out);

/*
 * Seals a whole input in opts->format, reading and writing through io.
 * JSON Lines and CSV stream in bounded memory and use opts->threads
 * workers, with output in input order; a JSON document is read whole
 * (at most SF_RECORDS_DOC_MAX bytes). Zero-byte and whitespace-only input
 * is refused (SF_ERR_PARSE: nothing to seal). stats may be NULL. On
 * failure nothing more is written, but bytes already written stay: write
 * to a temporary file.
 */
SF_API SF_MUST_CHECK sf_status sf_records_seal_stream(
    struct sf_record_sealer *s, const struct sf_records_io *io,
    struct sf_records_stats *stats);

/* The same from a buffer into out (on failure out is as it was). */
SF_API SF_MUST_CHECK sf_status sf_records_seal_buffer(
    struct sf_record_sealer *s, const uint8_t *in, size_t len,
    struct sf_buf *out, struct sf_records_stats *stats);

/* ---- opening ------------------------------------------------------------- */

struct sf_records_open_opts {
    enum sf_records_format format;   /* 0 means SF_RECORDS_JSON */
    /* With readers, a class is opened only when some reader may see it
     * (sf_policy_reader_can_see) and an identity unwraps its DEK; policy
     * is then required and every reader must exist in it. Without
     * readers, every class an identity unwraps is opened. */
    const struct sf_policy *policy;
    const char *const *readers;
    size_t reader_count;
    /* Fail (SF_ERR_DENIED, SF_ERR_NO_KEY or SF_ERR_KEY_VERSION) at the
     * first token that would stay sealed, instead of keeping it. */
    bool is_strict;
    unsigned threads;                /* 0: one per online core */
    const char *input_name;
};

struct sf_record_opener;

/* ids (n >= 0) are tried in order for every stanza and must outlive the
 * opener, as must opts->policy. *out is NULL on failure. */
SF_API SF_MUST_CHECK sf_status sf_record_opener_new(
    const struct sf_records_open_opts *opts, struct sf_identity *const *ids,
    size_t n, struct sf_record_opener **out);

/* Wipes cached DEKs and frees. NULL is allowed. */
SF_API void sf_record_opener_free(struct sf_record_opener *o);

/*
 * Opens one record and appends it to out (compact JSON). Tokens of the
 * classes that may be opened become their original values; the others
 * stay, and "_sealflow" stays with them; a record left with no token
 * loses its "_sealflow". A record without "_sealflow" is copied as it is.
 * SF_ERR_AUTH for a token or stanza that does not authenticate (moved,
 * edited, relabelled); SF_ERR_PARSE for malformed input. On failure out
 * is as it was.
 */
SF_API SF_MUST_CHECK sf_status sf_record_open(struct sf_record_opener *o,
                                              const uint8_t *json,
                                              size_t len,
                                              struct sf_buf *out);

/* Opens a whole input, as sf_records_seal_stream seals one. */
SF_API SF_MUST_CHECK sf_status sf_records_open_stream(
    struct sf_record_opener *o, const struct sf_records_io *io,
    struct sf_records_stats *stats);

SF_API SF_MUST_CHECK sf_status sf_records_open_buffer(
    struct sf_record_opener *o, const uint8_t *in, size_t len,
    struct sf_buf *out, struct sf_records_stats *stats);

/* ---- coverage ------------------------------------------------------------ */

enum sf_finding_kind {
    SF_FINDING_UNSEALED = 1,      /* the policy seals it; it is clear */
    SF_FINDING_CLASS_MISMATCH,    /* sealed under another class */
    SF_FINDING_RETIRED_KEK,       /* only KEK versions below min_decryption */
    SF_FINDING_ROTATION_OVERDUE,  /* only KEK versions overdue for rotation */
    SF_FINDING_WRONG_SUITE,       /* class sealed with another suite */
    SF_FINDING_RECIPIENT_MISSING, /* a key or recipient of the class has no
                                     stanza */
    SF_FINDING_UNKNOWN_CLASS,     /* "_sealflow" names a class the policy
                                     lacks */
    SF_FINDING_MALFORMED,         /* a token or "_sealflow" is malformed */
    SF_FINDING_KIND_COUNT
};

/* "unsealed", "class_mismatch", ... (the JSON spelling). */
SF_API const char *sf_finding_kind_name(enum sf_finding_kind k);

struct sf_coverage_opts {
    enum sf_records_format format;  /* 0 means SF_RECORDS_JSON */
    struct sf_keystore *ks;         /* KEK versions and rotation; NULL
                                       skips the KEK checks */
    int64_t now;                    /* Unix seconds; 0: the clock */
    size_t finding_max;             /* findings kept in detail; 0: 1000 */
    unsigned threads;               /* 0: one per online core */
    const char *input_name;
};

struct sf_coverage;

/*
 * Reads a sealed input and checks it against policy: fields the policy
 * seals that are clear or sealed under another class, classes whose
 * stanzas all use retired or rotation-overdue KEK versions, classes
 * sealed with another suite or missing a stanza for a key or recipient
 * the policy names, and unknown classes. Malformed tokens are findings,
 * not failures; malformed JSON or CSV fails as in sealing. policy (and
 * opts->ks) must outlive the result. *out is NULL on failure.
 */
SF_API SF_MUST_CHECK sf_status sf_coverage_run(
    const struct sf_policy *policy, const struct sf_coverage_opts *opts,
    const struct sf_records_io *io, struct sf_coverage **out);

SF_API SF_MUST_CHECK sf_status sf_coverage_run_buffer(
    const struct sf_policy *policy, const struct sf_coverage_opts *opts,
    const uint8_t *in, size_t len, struct sf_coverage **out);

/* Total number of findings (all kinds; counted exactly, even beyond
 * finding_max). Zero means the input complies with the policy. */
SF_API uint64_t sf_coverage_violations(const struct sf_coverage *c);

/* Number of findings of one kind. */
SF_API uint64_t sf_coverage_count(const struct sf_coverage *c,
                                  enum sf_finding_kind k);

/* Appends the report as one JSON object (layout: docs/RECORDS.md,
 * "Coverage report"), NUL-terminated. */
SF_API SF_MUST_CHECK sf_status sf_coverage_json(const struct sf_coverage *c,
                                                struct sf_buf *out);

/* Appends the report for people: a summary, a table per class and per
 * rule, then the findings kept. NUL-terminated. */
SF_API SF_MUST_CHECK sf_status sf_coverage_text(const struct sf_coverage *c,
                                                struct sf_buf *out);

SF_API void sf_coverage_free(struct sf_coverage *c);

/* ---- explaining a record ------------------------------------------------ */

enum sf_protection {
    SF_PROTECT_CLEAR = 1,    /* the class has suite none */
    SF_PROTECT_FIELD = 2,    /* sealed as one token */
    SF_PROTECT_SUBTREE = 3   /* an object or array sealed as one token */
};

struct sf_field_explain {
    const char *path;            /* canonical path, NUL-terminated */
    const char *column;          /* CSV column, else NULL */
    struct sf_policy_match match;
    enum sf_protection protection;
    const char *json_type;       /* "string", "number", "object", ... */
};

typedef sf_status (*sf_explain_fn)(void *arg,
                                   const struct sf_field_explain *f);

/*
 * Walks the first record of input (len bytes, in format) as the sealer
 * would and calls fn for each value it would seal or leave clear, in
 * document order. Nothing is encrypted and no key is needed. Errors as in
 * sealing; fn's status stops the walk and is returned.
 */
SF_API SF_MUST_CHECK sf_status sf_records_explain(
    const struct sf_policy *policy, enum sf_records_format format,
    const uint8_t *in, size_t len, sf_explain_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
