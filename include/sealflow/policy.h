/*
 * The protection policy: which data class each field belongs to, how each
 * class is protected, and which workflow stage or partner may read it.
 * File format, precedence and examples: docs/POLICY.md.
 *
 * A policy is one YAML file (version 1) with these top-level keys:
 *   classes   class name -> profile: suite, keys, DEK scope and limits,
 *             rotation periods, required context keys, readers;
 *   rules     ordered list of {path | column | tag, class};
 *   default   the class of every field no rule matches;
 *   stages    optional list of {name, sees: [classes]};
 *   partners  optional list of {name, recipient, sees: [classes]}.
 *
 * Loading validates everything it can without a keystore; every error in
 * sf_last_error() reads "FILE:LINE:COLUMN: message" (1-based positions).
 * A loaded policy is immutable, so one struct sf_policy may be shared by
 * any number of threads. Policies hold no secrets.
 *
 * Classifying a field is allocation-free once warmed up: the record walker
 * keeps a struct sf_path (a stack of member names and array indices) and
 * pushes and pops segments as it descends; each push advances a compiled
 * matcher, so the class of the current field is known in O(1).
 */
#ifndef SEALFLOW_POLICY_H
#define SEALFLOW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/envelope.h"
#include "sealflow/keystore.h"
#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---------------------------------------------------------- */

#define SF_POLICY_SIZE_MAX (1024 * 1024) /* bytes of YAML */
#define SF_POLICY_CLASS_MAX 256
#define SF_POLICY_RULE_MAX 4096
#define SF_POLICY_STAGE_MAX 256          /* stages and partners together */
#define SF_POLICY_KEYS_MAX 16            /* key references per class */
#define SF_POLICY_LIST_MAX 256           /* readers, sees, require_context */
#define SF_POLICY_NAME_MAX 64            /* class, stage, partner, context */
#define SF_JSONPATH_LEN_MAX 1024         /* bytes of one rule's path */
#define SF_JSONPATH_SEGMENT_MAX 64       /* segments of one rule's path */
#define SF_PATH_DEPTH_MAX 4096           /* depth of a concrete field path */
#define SF_JSONPATH_INDEX_MAX 4294967295u
/* Shared-DEK limits accepted by the policy (see docs/POLICY.md). */
#define SF_POLICY_MAX_AGE_MAX (30u * 86400u)         /* 30 days */
#define SF_POLICY_MAX_RECORDS_MAX 4294967296ull      /* 2^32 */
#define SF_POLICY_MAX_BYTES_MAX 1099511627776ull     /* 1 TiB */

/* ---- profile types --------------------------------------------------- */

/* Equal to enum sf_suite for the sealed suites; NONE leaves values in the
 * clear and is allowed only for the class named "public". */
enum sf_policy_suite {
    SF_POLICY_SUITE_NONE = 0,
    SF_POLICY_SUITE_AES256GCM = SF_SUITE_AES256GCM,
    SF_POLICY_SUITE_CHACHA20POLY1305 = SF_SUITE_CHACHA20POLY1305
};

/* The policy spelling of a suite ("aes-256-gcm", "chacha20-poly1305",
 * "none"); NULL for an unknown value. */
SF_API const char *sf_policy_suite_name(enum sf_policy_suite s);

enum sf_key_ref_kind {
    SF_KEY_REF_LOCAL = 1,          /* "local:NAME" or bare "NAME": a KEK in
                                      the local keystore */
    SF_KEY_REF_RECIPIENT = 2,      /* "recipient:STRING": a public key in
                                      the form sf_recipient_parse takes */
    SF_KEY_REF_RECIPIENT_FILE = 3, /* "recipient-file:PATH" */
    SF_KEY_REF_KMS = 4,            /* "kms:NAME": a key service key */
    SF_KEY_REF_HSM = 5             /* "hsm:NAME": a PKCS#11 object label */
};

/* One key reference, as written in the policy. For LOCAL, KMS and HSM,
 * value is a name that passed sf_key_name_check(). For RECIPIENT it is the
 * recipient string. For RECIPIENT_FILE it is the path; a relative path in
 * a policy loaded with sf_policy_load_file() is made relative to the
 * policy file's folder ("text" keeps it as written). */
struct sf_key_ref {
    enum sf_key_ref_kind kind;
    const char *value;
    const char *text;     /* the whole reference as written */
    unsigned line;        /* 1-based position of the reference */
    unsigned column;
};

enum sf_dek_scope {
    SF_DEK_SCOPE_RECORD = 1, /* a fresh DEK per record and class */
    SF_DEK_SCOPE_SHARED = 2  /* one DEK reused within the limits below */
};

/* Limits on a shared DEK; each is required and at least 1 for SHARED, and
 * all are 0 for RECORD. The sealer takes a new DEK when any is reached. */
struct sf_dek_limits {
    uint64_t max_age_s;
    uint64_t max_records;
    uint64_t max_bytes;
};

struct sf_policy_class {
    const char *name;
    enum sf_policy_suite suite;
    const struct sf_key_ref *keys;      /* as listed under "keys" */
    size_t key_count;
    /* Every key that wraps this class's DEKs: the class's keys, then the
     * recipient of each partner that may read the class, without repeats.
     * Empty only when suite is NONE. */
    const struct sf_key_ref *const *wrap_keys;
    size_t wrap_key_count;
    enum sf_dek_scope dek_scope;
    struct sf_dek_limits limits;
    uint64_t dek_rotation_s;            /* 0: no DEK rotation period */
    uint64_t kek_rotation_s;            /* 0: no KEK rotation period */
    const char *const *require_context; /* context keys sealing requires */
    size_t require_context_count;
    const char *const *readers;         /* stage or partner names */
    size_t reader_count;
    unsigned line;                      /* where the class is defined */
    unsigned column;
};

enum sf_rule_kind {
    SF_RULE_PATH = 1,   /* a JSON path pattern */
    SF_RULE_COLUMN = 2, /* a CSV column name */
    SF_RULE_TAG = 3     /* a tag the application attaches to a field */
};

/*
 * Precedence ("most specific wins", docs/POLICY.md "Precedence"):
 *  1. A rule that matches the field itself beats every rule that only
 *     matches an object or array enclosing it; a rule on an object or
 *     array covers its whole subtree, so among those the rule on the
 *     nearest enclosing level wins.
 *  2. Among rules matching the same level: the higher tier wins, then the
 *     pattern with more segments, then the rule written first.
 * Column and tag rules name the field itself and count one segment.
 */
enum sf_rule_tier {
    SF_TIER_DESCENDANT = 1, /* path using recursive descent ".." */
    SF_TIER_WILDCARD = 2,   /* path using "*" or "[*]", no ".." */
    SF_TIER_EXACT = 3,      /* path of names and indices only; column */
    SF_TIER_TAG = 4         /* tag: an explicit label on the field */
};

struct sf_policy_rule {
    enum sf_rule_kind kind;
    const char *pattern;    /* path, column name or tag, as written */
    size_t class_index;
    enum sf_rule_tier tier;
    unsigned segments;      /* path segments; 1 for column and tag */
    size_t rank;            /* order of rule 2 above: 0 goes first */
    unsigned line;          /* position of the rule's list item */
    unsigned column;
};

/* A workflow stage or an external partner: a reader. */
struct sf_policy_reader {
    const char *name;
    bool is_partner;
    const struct sf_key_ref *recipient; /* partners only, else NULL */
    const size_t *sees;                 /* class indices, as listed */
    size_t see_count;
    unsigned line;
    unsigned column;
};

struct sf_policy;

/* ---- loading --------------------------------------------------------- */

/*
 * Reads and validates a policy file (at most SF_POLICY_SIZE_MAX bytes).
 * On failure *out is NULL and sf_last_error() holds "PATH:LINE:COL:
 * message" naming the first problem and, where it helps, how to fix it.
 * Returns SF_ERR_POLICY for an invalid policy, SF_ERR_IO when the file
 * cannot be read, SF_ERR_LIMIT when it is too large, SF_ERR_NOMEM.
 */
SF_API SF_MUST_CHECK sf_status sf_policy_load_file(const char *path,
                                                   struct sf_policy **out);

/*
 * The same from memory: yaml need not be NUL-terminated. display_name
 * (e.g. "-" or a URL; NULL means "<policy>") starts every error message.
 * Relative recipient-file paths are kept as written.
 */
SF_API SF_MUST_CHECK sf_status sf_policy_load_buffer(
    const char *yaml, size_t len, const char *display_name,
    struct sf_policy **out);

/* Frees a policy; NULL is allowed. Every pointer obtained from it
 * becomes invalid; struct sf_path objects built for it must be freed
 * first. */
SF_API void sf_policy_free(struct sf_policy *p);

/* The display name given at load time (the path for load_file). */
SF_API const char *sf_policy_source(const struct sf_policy *p);

/* ---- reading the policy ---------------------------------------------- */

/* Classes in file order. sf_policy_class_at returns NULL when i is out of
 * range. */
SF_API size_t sf_policy_class_count(const struct sf_policy *p);
SF_API const struct sf_policy_class *sf_policy_class_at(
    const struct sf_policy *p, size_t i);

/* Index of the class with this name; SF_ERR_POLICY (message names the
 * class) when there is none. */
SF_API SF_MUST_CHECK sf_status sf_policy_class_find(
    const struct sf_policy *p, const char *name, size_t *index);

/* Index of the class named by "default". */
SF_API size_t sf_policy_default_class(const struct sf_policy *p);

/* Rules in file order (the rule index used by sf_policy_match). */
SF_API size_t sf_policy_rule_count(const struct sf_policy *p);
SF_API const struct sf_policy_rule *sf_policy_rule_at(
    const struct sf_policy *p, size_t i);

/* Readers: the stages in file order, then the partners in file order. */
SF_API size_t sf_policy_reader_count(const struct sf_policy *p);
SF_API const struct sf_policy_reader *sf_policy_reader_at(
    const struct sf_policy *p, size_t i);

/* The stage or partner with this name, or NULL. */
SF_API const struct sf_policy_reader *sf_policy_reader_find(
    const struct sf_policy *p, const char *name);

/*
 * true when reader (a stage or partner name) may see values of the class
 * in the clear: the class lists the reader under "readers", or the reader
 * lists the class under "sees". Every reader, known or not, sees a class
 * whose suite is NONE. false for an unknown reader or class index.
 */
SF_API bool sf_policy_reader_can_see(const struct sf_policy *p,
                                     const char *reader, size_t class_index);

/* Reports one problem found by a check; message is "FILE:LINE:COL: ...". */
typedef void (*sf_policy_report_fn)(void *arg, const char *message);

/*
 * Checks that every local key reference of every class exists in ks.
 * Each missing key is passed to report (may be NULL) in file order.
 * Returns SF_OK when all exist, SF_ERR_KEY_NOT_FOUND when some do not
 * (sf_last_error() holds the first), or the keystore's own error.
 * Other reference kinds are not looked up here.
 */
SF_API SF_MUST_CHECK sf_status sf_policy_check_keys(
    const struct sf_policy *p, struct sf_keystore *ks,
    sf_policy_report_fn report, void *arg);

/* ---- concrete field paths -------------------------------------------- */

/*
 * A concrete field path: "$" followed by member names and array indices,
 * kept as a stack. Member names are copied, so the caller's buffer may go
 * away after a push. A path built for a policy also carries that policy's
 * matcher state; it must not outlive the policy. One path per thread.
 */
struct sf_path;

/* policy may be NULL for a path used only to render or parse. */
SF_API SF_MUST_CHECK sf_status sf_path_new(const struct sf_policy *policy,
                                           struct sf_path **out);
SF_API void sf_path_free(struct sf_path *p);

/* Back to "$" (depth 0); keeps the allocations. */
SF_API void sf_path_clear(struct sf_path *p);

/* Descends into a member (name of name_len bytes, any bytes allowed) or
 * an array element. SF_ERR_LIMIT beyond SF_PATH_DEPTH_MAX; SF_ERR_NOMEM.
 * On failure the path is unchanged. Allocates only when the path grows
 * deeper or longer than it ever was. */
SF_API SF_MUST_CHECK sf_status sf_path_push_member(struct sf_path *p,
                                                   const char *name,
                                                   size_t name_len);
SF_API SF_MUST_CHECK sf_status sf_path_push_index(struct sf_path *p,
                                                  size_t index);

/* Goes back up one level; does nothing at depth 0. */
SF_API void sf_path_pop(struct sf_path *p);

SF_API size_t sf_path_depth(const struct sf_path *p);

/* Segment i (0 = first below "$"): a member (*name set, *name_len its
 * length) or an index (*name NULL, *index set). SF_ERR_INVALID_ARG when i
 * is out of range. The name stays valid until the segment is popped. */
SF_API SF_MUST_CHECK sf_status sf_path_segment(const struct sf_path *p,
                                               size_t i, const char **name,
                                               size_t *name_len,
                                               size_t *index);

/*
 * Appends the canonical form (plus a NUL not counted in out->len), the
 * form bound as associated data by the record sealer:
 *   "$", then for each segment ["NAME"] or [INDEX]
 * e.g. $["items"][0]["sku"]. NAME is escaped as JSON.stringify does:
 * '"' -> \", '\' -> \\, U+0008 \b, U+0009 \t, U+000A \n, U+000C \f,
 * U+000D \r, other bytes below 0x20 -> \u00xx (lower-case hex); every
 * other byte is copied unchanged. INDEX is decimal without leading zeros.
 */
SF_API SF_MUST_CHECK sf_status sf_path_render(const struct sf_path *p,
                                              struct sf_buf *out);

/*
 * Replaces the path with the concrete path in text (the JSON path syntax
 * of docs/POLICY.md without wildcards or ".."; the canonical form is
 * accepted). SF_ERR_FORMAT with the character position in
 * sf_last_error(); the path is then cleared.
 */
SF_API SF_MUST_CHECK sf_status sf_path_parse(struct sf_path *p,
                                             const char *text, size_t len);

/* ---- classification -------------------------------------------------- */

#define SF_POLICY_NO_RULE SIZE_MAX

struct sf_policy_match {
    size_t class_index;
    size_t rule_index;       /* SF_POLICY_NO_RULE: the default applies */
    bool is_inherited;       /* the rule matched an enclosing object or
                                array, not the field itself */
    /* Every value inside the field, at any depth, gets this same class,
     * so the field's whole value may be sealed as one token. */
    bool is_subtree_uniform;
};

/*
 * Classifies one field. path (may be NULL) must have been made by
 * sf_path_new for this policy; column (CSV column name) and tag may be
 * NULL. The path rules matching the path itself, the column rules naming
 * column and the tag rules naming tag compete by rank; when none matches,
 * the rule inherited from the nearest enclosing level applies, else the
 * default class. Never allocates.
 * SF_ERR_INVALID_ARG when p or out is NULL or path belongs to another
 * policy; out is then zeroed.
 */
SF_API SF_MUST_CHECK sf_status sf_policy_classify(
    const struct sf_policy *p, const struct sf_path *path,
    const char *column, const char *tag, struct sf_policy_match *out);

#ifdef __cplusplus
}
#endif
#endif
