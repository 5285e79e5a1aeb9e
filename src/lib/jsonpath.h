/*
 * Internal: JSON path patterns as policy rules write them, and concrete
 * field paths as the record walker builds them. Syntax: docs/POLICY.md,
 * "JSON paths".
 *
 * A pattern is "$" followed by segments; each segment selects a member by
 * name, an array element by index, or any child ("*", "[*]"). A segment
 * written after ".." is a descendant segment: it matches at any depth
 * below the point reached so far, not only one level down.
 */
#ifndef SF_JSONPATH_H
#define SF_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/policy.h"
#include "sealflow/status.h"

enum sf_jp_kind {
    SF_JP_MEMBER = 1,  /* .name, ['name'], ["name"] */
    SF_JP_INDEX = 2,   /* [0] */
    SF_JP_WILDCARD = 3 /* .*, [*]: any member or element */
};

struct sf_jp_seg {
    enum sf_jp_kind kind;
    bool is_descendant; /* written after "..": matches at any depth */
    char *name;         /* SF_JP_MEMBER: decoded bytes, NUL-terminated */
    size_t name_len;
    size_t index;       /* SF_JP_INDEX */
};

struct sf_jsonpath {
    struct sf_jp_seg *segs;
    size_t len;
};

/* One step of a concrete field path: a member (name != NULL) or an array
 * element (name == NULL, index set). */
struct sf_jp_field {
    const char *name;
    size_t name_len;
    size_t index;
};

/* Where and why a path failed to parse; offset is 0-based in the text. */
struct sf_jp_error {
    size_t offset;
    char msg[160];
};

/*
 * Parses a pattern of len bytes (at most SF_JSONPATH_LEN_MAX, at most
 * SF_JSONPATH_SEGMENT_MAX segments). On failure returns SF_ERR_FORMAT
 * with err filled (sf_last_error() is not touched) and *out empty;
 * SF_ERR_NOMEM without err.
 */
sf_status sf_jsonpath_parse(const char *text, size_t len,
                            struct sf_jsonpath *out, struct sf_jp_error *err);

void sf_jsonpath_free(struct sf_jsonpath *jp);

/* The precedence tier of a pattern (see enum sf_rule_tier). */
enum sf_rule_tier sf_jsonpath_tier(const struct sf_jsonpath *jp);

/* true when the pattern has no wildcard and no descendant segment. */
bool sf_jsonpath_is_concrete(const struct sf_jsonpath *jp);

/* true when seg selects the field step f (ignoring is_descendant). */
bool sf_jsonpath_seg_matches(const struct sf_jp_seg *seg,
                             const struct sf_jp_field *f);

/* true when the pattern matches the whole concrete path f[0..n). This is
 * the reference matcher (backtracking); the policy uses an incremental
 * one and the tests check both agree. */
bool sf_jsonpath_match(const struct sf_jsonpath *jp,
                       const struct sf_jp_field *f, size_t n);

/* Appends ["NAME"] with NAME escaped as in the canonical form
 * (sf_path_render in sealflow/policy.h); no NUL is added. */
sf_status sf_jsonpath_append_member(struct sf_buf *out, const char *name,
                                    size_t name_len);

/* Appends [INDEX]; no NUL is added. */
sf_status sf_jsonpath_append_index(struct sf_buf *out, size_t index);

#endif
