/*
 * Internal: the policy object and the pieces the policy loader is built
 * from. The loader reads YAML events into a small tree that keeps libyaml's
 * marks (policy_yaml.c), checks each section (policy_load.c for the top
 * level and classes, policy_rules.c for rules and readers, policy_values.c
 * for scalar values), then compiles the matcher (policy_match.c).
 */
#ifndef SF_POLICY_INTERNAL_H
#define SF_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonpath.h"
#include "sealflow/policy.h"

/* ---- arena: many small allocations freed at once -------------------- */

struct sf_arena_block;

struct sf_arena {
    struct sf_arena_block *head;
    size_t total;  /* bytes handed out so far */
    size_t limit;  /* 0: none; else allocations fail beyond it */
};

/* Zeroed memory, aligned for any type; NULL when out of memory or over
 * the limit. */
void *sf_arena_alloc(struct sf_arena *a, size_t size);
/* Copies len bytes and adds a NUL. */
char *sf_arena_strndup(struct sf_arena *a, const char *s, size_t len);
void sf_arena_free(struct sf_arena *a);

/* ---- the YAML tree ----------------------------------------------------- */

enum sf_ynode_type {
    SF_YNODE_SCALAR = 1,
    SF_YNODE_SEQ = 2,
    SF_YNODE_MAP = 3
};

struct sf_ynode {
    enum sf_ynode_type type;
    unsigned line;           /* 1-based start of the node */
    unsigned column;
    const char *value;       /* scalars: the text, NUL-terminated */
    size_t len;
    bool is_plain;           /* unquoted scalar */
    bool is_null;            /* plain "", "~" or "null" */
    size_t raw_chars;        /* characters between start and end mark */
    bool is_single_line;
    struct sf_ynode **kids;  /* seq: items; map: key, value, key, ... */
    size_t n;                /* number of entries in kids */
};

/* Reads one YAML document into a tree allocated from a. Aliases, several
 * documents, deep nesting and huge node counts are refused. */
sf_status sf_policy_yaml_read(const char *yaml, size_t len,
                              const char *source, struct sf_arena *a,
                              struct sf_ynode **root);

/* ---- the loader's context and error reporting ------------------------ */

struct sf_policy;

struct sf_pctx {
    const char *source;     /* display name for messages */
    const char *base_dir;   /* for relative recipient-file paths; or NULL */
    struct sf_policy *pol;
    struct sf_arena *tmp;   /* the YAML tree; freed after loading */
};

/* Sets sf_last_error() to "SOURCE:LINE:COL: message" and returns
 * SF_ERR_POLICY. */
sf_status sf_pfail(const struct sf_pctx *c, unsigned line, unsigned column,
                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same at the start of a node. */
sf_status sf_pfail_at(const struct sf_pctx *c, const struct sf_ynode *n,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a mapping", "a list", "text" etc. for messages. */
const char *sf_ynode_what(const struct sf_ynode *n);

/* The candidate nearest to word when it is close enough to be a likely
 * typo, else NULL. */
const char *sf_nearest(const char *word, const char *const *cands,
                       size_t n);

/*
 * Checks a mapping's keys: each must be one of allowed[0..n), at most
 * once; values[i] receives the value of allowed[i] or NULL. An unknown key
 * is reported with the nearest allowed one; where names what is checked
 * ("class 'x'").
 */
sf_status sf_map_fields(const struct sf_pctx *c, const struct sf_ynode *map,
                        const char *where, const char *const *allowed,
                        size_t n, const struct sf_ynode **values);

/* Requires a node of a type; where names it ("'classes'"). */
sf_status sf_expect(const struct sf_pctx *c, const struct sf_ynode *n,
                    enum sf_ynode_type type, const char *where);

/* Requires non-empty text with no NUL byte. */
sf_status sf_expect_text(const struct sf_pctx *c, const struct sf_ynode *n,
                         const char *where);

/* ---- values (policy_values.c) ----------------------------------------- */

/* A class, stage, partner or context-key name: 1..SF_POLICY_NAME_MAX of
 * ASCII letters, digits, '-', '_', '.', starting with a letter or digit. */
sf_status sf_pval_name(const struct sf_pctx *c, const struct sf_ynode *n,
                       const char *what);
sf_status sf_pval_duration(const struct sf_pctx *c, const struct sf_ynode *n,
                           const char *what, uint64_t *out);
sf_status sf_pval_size(const struct sf_pctx *c, const struct sf_ynode *n,
                       const char *what, uint64_t *out);
sf_status sf_pval_count(const struct sf_pctx *c, const struct sf_ynode *n,
                        const char *what, uint64_t *out);
sf_status sf_pval_suite(const struct sf_pctx *c, const struct sf_ynode *n,
                        const char *class_name, enum sf_policy_suite *out);
sf_status sf_pval_key_ref(const struct sf_pctx *c, const struct sf_ynode *n,
                          struct sf_key_ref *out);
/* A partner's recipient: a recipient: or recipient-file: reference, or a
 * bare recipient string. */
sf_status sf_pval_recipient(const struct sf_pctx *c,
                            const struct sf_ynode *n, struct sf_key_ref *out);

/* ---- the policy ------------------------------------------------------ */

/* The compiled matcher: one state per (path rule, position). State s of
 * rule r at position i is base[r] + i; its segment is seg[s], or NULL
 * when i is the end of the pattern (a match). */
struct sf_matcher {
    size_t nstates;
    const struct sf_jp_seg **seg;
    uint32_t *rule;
    uint32_t *initial;
    size_t ninitial;
    size_t *column_rules;  /* rule indices of column rules */
    size_t ncolumn;
    size_t *tag_rules;
    size_t ntag;
};

struct sf_policy {
    struct sf_arena arena;  /* everything below lives here */
    const char *source;
    struct sf_policy_class *classes;
    size_t class_count;
    size_t default_class;
    struct sf_policy_rule *rules;
    struct sf_jsonpath *paths;    /* per rule; empty unless a path rule */
    size_t rule_count;
    struct sf_policy_reader *readers;
    size_t reader_count;          /* stages first, then partners */
    size_t stage_count;
    struct sf_matcher matcher;
};

/* Sections, in the order the loader runs them. */
sf_status sf_pload_classes(struct sf_pctx *c, const struct sf_ynode *n);
sf_status sf_pload_readers(struct sf_pctx *c, const struct sf_ynode *stages,
                           const struct sf_ynode *partners);
sf_status sf_pload_class_readers(struct sf_pctx *c,
                                 const struct sf_ynode *classes);
sf_status sf_pload_rules(struct sf_pctx *c, const struct sf_ynode *n);
sf_status sf_pload_finish(struct sf_pctx *c);

/* Finds a class by name; SIZE_MAX when absent. */
size_t sf_policy_class_lookup(const struct sf_policy *p, const char *name);

/* Reports an unknown class name at n, suggesting the nearest one. */
sf_status sf_unknown_class(const struct sf_pctx *c, const struct sf_ynode *n,
                           const char *where);

/* Builds the matcher from the rules (after ranks are set). */
sf_status sf_matcher_build(struct sf_policy *p);

#endif
