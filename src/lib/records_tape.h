/*
 * Internal: a JSON value parsed by yajl into a flat list of events (a
 * "tape"), so the record walkers can look ahead (find "_sealflow", skip or
 * re-emit a subtree) without building a tree of allocations.
 *
 * Parsing refuses what cannot be sealed safely: malformed JSON, invalid
 * UTF-8 (yajl checks strings and keys), unpaired UTF-16 surrogate escapes
 * (yajl would silently turn them into '?'), duplicate member names in one
 * object, and nesting deeper than the caller's bound. Numbers keep the
 * exact text of the input. Strings and keys are kept decoded (unescaped),
 * each followed by a NUL that its length does not count.
 *
 * A tape is reused record after record: clearing keeps its allocations.
 */
#ifndef SF_RECORDS_TAPE_H
#define SF_RECORDS_TAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "sealflow/buf.h"
#include "sealflow/policy.h"
#include "sealflow/status.h"

/* The deepest nesting a tape holds: yajl's generator cannot write more. */
#define SF_RECORDS_TAPE_DEPTH_LIMIT 128

enum tape_kind {
    TAPE_NULL = 1,
    TAPE_FALSE,
    TAPE_TRUE,
    TAPE_NUMBER,
    TAPE_STRING,
    TAPE_KEY,
    TAPE_MAP,   /* end is the index of its TAPE_END */
    TAPE_ARRAY, /* end is the index of its TAPE_END */
    TAPE_END
};

struct tape_ent {
    uint8_t kind;
    size_t off;  /* NUMBER, STRING, KEY: offset of the bytes in strs */
    size_t len;
    size_t end;  /* MAP, ARRAY: index of the matching END; else itself */
    size_t pos;  /* byte offset in the input just after the token */
};

/* Why a parse failed: a fixed message, where, and the entry the failure
 * is nearest to (for the path), or SIZE_MAX before the first entry. */
struct tape_error {
    size_t offset;
    size_t ent;
    char msg[160];
};

struct rec_tape {
    struct tape_ent *ents;
    size_t n;
    size_t cap;
    struct sf_buf strs;
    /* while parsing */
    size_t depth_max;
    size_t depth;
    size_t stack[SF_RECORDS_TAPE_DEPTH_LIMIT];
    void *yajl;
    struct tape_error *err;
    sf_status rc;
    struct sf_buf scratch;  /* duplicate-key check */
    /* Blocks yajl freed, kept for its next parse (records_tape.c) */
    void *pool[8];
    size_t pool_len;
};

/* Forgets the content, keeps the allocations. */
void rec_tape_clear(struct rec_tape *t);

/* Wipes (string bytes may be plaintext) and frees, the blocks kept for
 * yajl included. */
void rec_tape_free(struct rec_tape *t);

/*
 * Parses exactly one JSON value from p (len bytes; whitespace around it
 * allowed, nothing else). depth_max (1..SF_RECORDS_TAPE_DEPTH_LIMIT) bounds
 * nesting: a top-level object is depth 1. SF_ERR_PARSE with err filled
 * (sf_last_error() untouched), SF_ERR_NOMEM.
 */
SF_MUST_CHECK sf_status rec_tape_parse(struct rec_tape *t, const uint8_t *p,
                                       size_t len, size_t depth_max,
                                       struct tape_error *err);

/* The bytes of entry i (NUMBER, STRING, KEY). */
static inline const char *rec_tape_str(const struct rec_tape *t, size_t i)
{
    return (const char *)t->strs.data + t->ents[i].off;
}

/* Index just after the value at i (its END + 1 for containers). */
static inline size_t rec_tape_next(const struct rec_tape *t, size_t i)
{
    return t->ents[i].end + 1;
}

/* true when the KEY entry i holds exactly the NUL-terminated name. */
bool rec_tape_key_is(const struct rec_tape *t, size_t i, const char *name);

/* Emits the value at i to g unchanged. SF_ERR_INTERNAL when yajl refuses
 * (it cannot for a parsed tape within yajl's depth). */
SF_MUST_CHECK sf_status rec_tape_emit(const struct rec_tape *t, size_t i,
                                      yajl_gen g);

/* Replaces path with the path of entry i (the member or element it
 * belongs to); used for messages only. */
SF_MUST_CHECK sf_status rec_tape_path_at(const struct rec_tape *t, size_t i,
                                         struct sf_path *path);

/* "string", "number", "true", "false", "null", "object", "array". */
const char *rec_tape_type_name(uint8_t kind);

#endif
