/*
 * Loading a policy: stages and partners (the readers), the classes'
 * reader lists, the rules, and the final steps that depend on all of
 * them: the keys that wrap each class's DEKs, rule ranks and the matcher.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_internal.h"

#define TAG_LEN_MAX 128

static const struct sf_policy_reader *reader_named(const struct sf_policy *p,
                                                   const char *name)
{
    for (size_t i = 0; i < p->reader_count; i++) {
        if (strcmp(p->readers[i].name, name) == 0) {
            return &p->readers[i];
        }
    }
    return NULL;
}

/* Reads a "sees" list into class indices. */
static sf_status load_sees(struct sf_pctx *c, const struct sf_ynode *list,
                           struct sf_policy_reader *r)
{
    size_t *sees;
    sf_status rc = sf_expect(c, list, SF_YNODE_SEQ, "'sees'");

    if (rc != SF_OK) {
        return rc;
    }
    if (list->n > SF_POLICY_CLASS_MAX) {
        return sf_pfail_at(c, list, "'sees' has more than %d entries",
                           SF_POLICY_CLASS_MAX);
    }
    sees = sf_arena_alloc(&c->pol->arena, (list->n + 1) * sizeof *sees);
    if (sees == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct sf_ynode *n = list->kids[i];

        rc = sf_expect_text(c, n, "a class in 'sees'");
        if (rc != SF_OK) {
            return rc;
        }
        sees[i] = sf_policy_class_lookup(c->pol, n->value);
        if (sees[i] == SIZE_MAX) {
            return sf_unknown_class(c, n, r->is_partner ? "partner"
                                                        : "stage");
        }
        for (size_t j = 0; j < i; j++) {
            if (sees[j] == sees[i]) {
                return sf_pfail_at(c, n, "class '%s' is listed twice in "
                                   "'sees' of '%s'", n->value, r->name);
            }
        }
    }
    r->sees = sees;
    r->see_count = list->n;
    return SF_OK;
}

static sf_status load_recipient(struct sf_pctx *c, const struct sf_ynode *n,
                                const struct sf_ynode *v,
                                struct sf_policy_reader *r)
{
    struct sf_key_ref *ref;

    if (v == NULL) {
        return sf_pfail_at(c, n, "partner '%s' needs a 'recipient' (the "
                           "public key its data is sealed to)", r->name);
    }
    ref = sf_arena_alloc(&c->pol->arena, sizeof *ref);
    r->recipient = ref;
    return ref == NULL ? SF_ERR_NOMEM : sf_pval_recipient(c, v, ref);
}

static sf_status load_reader(struct sf_pctx *c, const struct sf_ynode *n,
                             bool is_partner)
{
    static const char *const keys[] = {"name", "sees", "recipient"};
    struct sf_policy *p = c->pol;
    struct sf_policy_reader *r = &p->readers[p->reader_count];
    const char *what = is_partner ? "partner" : "stage";
    const struct sf_policy_reader *prev;
    const struct sf_ynode *v[3];
    sf_status rc = sf_expect(c, n, SF_YNODE_MAP, is_partner ? "a partner"
                                                            : "a stage");

    if (rc == SF_OK) {
        rc = sf_map_fields(c, n, what, keys, is_partner ? 3 : 2, v);
    }
    if (rc == SF_OK && v[0] == NULL) {
        rc = sf_pfail_at(c, n, "%s needs a 'name'", what);
    }
    if (rc == SF_OK) {
        rc = sf_pval_name(c, v[0], is_partner ? "partner name"
                                              : "stage name");
    }
    if (rc != SF_OK) {
        return rc;
    }
    prev = reader_named(p, v[0]->value);
    if (prev != NULL) {
        return sf_pfail_at(c, v[0], "duplicate reader name '%s': a %s of "
                           "that name is defined at line %u", v[0]->value,
                           prev->is_partner ? "partner" : "stage",
                           prev->line);
    }
    r->name = sf_arena_strndup(&p->arena, v[0]->value, v[0]->len);
    r->is_partner = is_partner;
    r->line = n->line;
    r->column = n->column;
    if (r->name == NULL) {
        return SF_ERR_NOMEM;
    }
    if (v[1] != NULL) {
        rc = load_sees(c, v[1], r);
    }
    if (rc == SF_OK && is_partner) {
        rc = load_recipient(c, n, v[2], r);
    }
    if (rc == SF_OK) {
        p->reader_count++;
    }
    return rc;
}

static sf_status load_reader_list(struct sf_pctx *c,
                                  const struct sf_ynode *list,
                                  bool is_partner)
{
    sf_status rc = sf_expect(c, list, SF_YNODE_SEQ,
                             is_partner ? "'partners'" : "'stages'");

    for (size_t i = 0; rc == SF_OK && i < list->n; i++) {
        rc = load_reader(c, list->kids[i], is_partner);
    }
    return rc;
}

sf_status sf_pload_readers(struct sf_pctx *c, const struct sf_ynode *stages,
                           const struct sf_ynode *partners)
{
    struct sf_policy *p = c->pol;
    size_t count = (stages != NULL ? stages->n : 0) +
                   (partners != NULL ? partners->n : 0);
    sf_status rc = SF_OK;

    if (count > SF_POLICY_STAGE_MAX) {
        return sf_pfail_at(c, stages != NULL ? stages : partners,
                           "more than %d stages and partners",
                           SF_POLICY_STAGE_MAX);
    }
    p->readers = sf_arena_alloc(&p->arena, (count + 1) * sizeof *p->readers);
    if (p->readers == NULL) {
        return SF_ERR_NOMEM;
    }
    if (stages != NULL) {
        rc = load_reader_list(c, stages, false);
    }
    p->stage_count = p->reader_count;
    if (rc == SF_OK && partners != NULL) {
        rc = load_reader_list(c, partners, true);
    }
    return rc;
}

static sf_status unknown_reader(const struct sf_pctx *c,
                                const struct sf_ynode *n)
{
    const struct sf_policy *p = c->pol;
    const char *names[SF_POLICY_STAGE_MAX];
    const char *near;

    for (size_t i = 0; i < p->reader_count; i++) {
        names[i] = p->readers[i].name;
    }
    near = sf_nearest(n->value, names, p->reader_count);
    if (near != NULL) {
        return sf_pfail_at(c, n, "reader '%s' is not a stage or partner of "
                           "this policy; did you mean '%s'?", n->value,
                           near);
    }
    return sf_pfail_at(c, n, "reader '%s' is not a stage or partner of "
                       "this policy; define it under 'stages' or "
                       "'partners'", n->value);
}

static sf_status load_class_readers(struct sf_pctx *c,
                                    const struct sf_ynode *list,
                                    struct sf_policy_class *k)
{
    const char **names;

    if (list->n > SF_POLICY_LIST_MAX) {
        return sf_pfail_at(c, list, "'readers' has more than %d entries",
                           SF_POLICY_LIST_MAX);
    }
    names = sf_arena_alloc(&c->pol->arena, (list->n + 1) * sizeof *names);
    if (names == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct sf_ynode *n = list->kids[i];
        const struct sf_policy_reader *r;
        sf_status rc = sf_expect_text(c, n, "a reader");

        if (rc != SF_OK) {
            return rc;
        }
        r = reader_named(c->pol, n->value);
        if (r == NULL) {
            return unknown_reader(c, n);
        }
        for (size_t j = 0; j < i; j++) {
            if (names[j] == r->name) {
                return sf_pfail_at(c, n, "reader '%s' is listed twice for "
                                   "class '%s'", n->value, k->name);
            }
        }
        names[i] = r->name;
    }
    k->readers = names;
    k->reader_count = list->n;
    return SF_OK;
}

sf_status sf_pload_class_readers(struct sf_pctx *c,
                                 const struct sf_ynode *classes)
{
    sf_status rc = SF_OK;

    for (size_t i = 0; rc == SF_OK && i < c->pol->class_count; i++) {
        const struct sf_ynode *prof = classes->kids[2 * i + 1];

        for (size_t j = 0; j + 1 < prof->n; j += 2) {
            if (strcmp(prof->kids[j]->value, "readers") == 0) {
                rc = load_class_readers(c, prof->kids[j + 1],
                                        &c->pol->classes[i]);
            }
        }
    }
    return rc;
}

/* ---- rules ----------------------------------------------------------- */

/* Counts the characters (not bytes) of s[0..len): libyaml's columns count
 * characters. */
static size_t char_count(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    }
    return n;
}

/* Reports a path error at its column inside the file where the scalar's
 * text maps to the file one to one, else at the scalar's start. */
static sf_status path_error(const struct sf_pctx *c,
                            const struct sf_ynode *n,
                            const struct sf_jp_error *e)
{
    size_t chars = char_count(n->value, n->len);
    size_t off = char_count(n->value, e->offset < n->len ? e->offset
                                                         : n->len);
    unsigned col = n->column;

    if (n->is_single_line && n->is_plain && n->raw_chars == chars) {
        col = (unsigned)(n->column + off);
    } else if (n->is_single_line && !n->is_plain &&
               n->raw_chars == chars + 2) {
        col = (unsigned)(n->column + 1 + off);
    }
    return sf_pfail(c, n->line, col, "malformed JSON path '%s': %s (path "
                    "character %zu)", n->value, e->msg, off + 1);
}

static bool same_path(const struct sf_jsonpath *a,
                      const struct sf_jsonpath *b)
{
    if (a->len != b->len) {
        return false;
    }
    for (size_t i = 0; i < a->len; i++) {
        const struct sf_jp_seg *x = &a->segs[i];
        const struct sf_jp_seg *y = &b->segs[i];

        if (x->kind != y->kind || x->is_descendant != y->is_descendant ||
                x->index != y->index || x->name_len != y->name_len ||
                (x->name_len > 0 &&
                 memcmp(x->name, y->name, x->name_len) != 0)) {
            return false;
        }
    }
    return true;
}

static sf_status check_repeat(const struct sf_pctx *c,
                              const struct sf_ynode *n, size_t i)
{
    const struct sf_policy *p = c->pol;
    const struct sf_policy_rule *r = &p->rules[i];

    for (size_t j = 0; j < i; j++) {
        const struct sf_policy_rule *q = &p->rules[j];
        bool same = q->kind == r->kind &&
                    (r->kind == SF_RULE_PATH
                         ? same_path(&p->paths[j], &p->paths[i])
                         : strcmp(q->pattern, r->pattern) == 0);

        if (same) {
            return sf_pfail_at(c, n, "this rule selects the same fields as "
                               "the rule at line %u; keep one", q->line);
        }
    }
    return SF_OK;
}

static sf_status load_selector(struct sf_pctx *c, const struct sf_ynode *n,
                               size_t i)
{
    struct sf_policy *p = c->pol;
    struct sf_policy_rule *r = &p->rules[i];
    struct sf_jp_error e;
    sf_status rc;

    rc = sf_expect_text(c, n, r->kind == SF_RULE_PATH     ? "path"
                              : r->kind == SF_RULE_COLUMN ? "column"
                                                          : "tag");
    if (rc != SF_OK) {
        return rc;
    }
    r->tier = r->kind == SF_RULE_TAG ? SF_TIER_TAG : SF_TIER_EXACT;
    r->segments = 1;
    if (r->kind == SF_RULE_TAG && n->len > TAG_LEN_MAX) {
        return sf_pfail_at(c, n, "tag is longer than %d bytes", TAG_LEN_MAX);
    }
    if (r->kind == SF_RULE_PATH) {
        rc = sf_jsonpath_parse(n->value, n->len, &p->paths[i], &e);
        if (rc == SF_ERR_FORMAT) {
            return path_error(c, n, &e);
        }
        if (rc != SF_OK) {
            return rc;
        }
        r->tier = sf_jsonpath_tier(&p->paths[i]);
        r->segments = (unsigned)p->paths[i].len;
    }
    r->pattern = sf_arena_strndup(&p->arena, n->value, n->len);
    return r->pattern != NULL ? check_repeat(c, n, i) : SF_ERR_NOMEM;
}

static sf_status load_rule(struct sf_pctx *c, const struct sf_ynode *n,
                           size_t i)
{
    static const char *const keys[] = {"path", "column", "tag", "class"};
    struct sf_policy_rule *r = &c->pol->rules[i];
    const struct sf_ynode *v[4];
    const struct sf_ynode *sel = NULL;
    sf_status rc = sf_expect(c, n, SF_YNODE_MAP, "a rule");

    if (rc == SF_OK) {
        rc = sf_map_fields(c, n, "a rule", keys, 4, v);
    }
    if (rc != SF_OK) {
        return rc;
    }
    r->line = n->line;
    r->column = n->column;
    for (size_t k = 0; k < 3; k++) {
        if (v[k] != NULL && sel != NULL) {
            return sf_pfail_at(c, v[k], "a rule has one of path, column or "
                               "tag; this one has '%s' and '%s'",
                               keys[r->kind - 1], keys[k]);
        }
        if (v[k] != NULL) {
            sel = v[k];
            r->kind = (enum sf_rule_kind)(k + 1);
        }
    }
    if (sel == NULL) {
        return sf_pfail_at(c, n, "a rule needs a path, column or tag");
    }
    if (v[3] == NULL) {
        return sf_pfail_at(c, n, "a rule needs a 'class'");
    }
    rc = sf_expect_text(c, v[3], "class");
    if (rc != SF_OK) {
        return rc;
    }
    r->class_index = sf_policy_class_lookup(c->pol, v[3]->value);
    if (r->class_index == SIZE_MAX) {
        return sf_unknown_class(c, v[3], "rule");
    }
    return load_selector(c, sel, i);
}

sf_status sf_pload_rules(struct sf_pctx *c, const struct sf_ynode *n)
{
    struct sf_policy *p = c->pol;
    sf_status rc;

    if (n == NULL || (n->type == SF_YNODE_SCALAR && n->is_null)) {
        return SF_OK;
    }
    rc = sf_expect(c, n, SF_YNODE_SEQ, "'rules'");
    if (rc != SF_OK) {
        return rc;
    }
    if (n->n > SF_POLICY_RULE_MAX) {
        return sf_pfail_at(c, n, "more than %d rules", SF_POLICY_RULE_MAX);
    }
    p->rules = sf_arena_alloc(&p->arena, (n->n + 1) * sizeof *p->rules);
    p->paths = calloc(n->n + 1, sizeof *p->paths);
    if (p->rules == NULL || p->paths == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        p->rule_count = i + 1;
        rc = load_rule(c, n->kids[i], i);
        if (rc != SF_OK) {
            return rc;
        }
    }
    return SF_OK;
}

/* ---- finishing ------------------------------------------------------- */

static bool reader_sees(const struct sf_policy_reader *r, size_t k)
{
    for (size_t i = 0; i < r->see_count; i++) {
        if (r->sees[i] == k) {
            return true;
        }
    }
    return false;
}

static bool class_lists(const struct sf_policy_class *k, const char *name)
{
    for (size_t i = 0; i < k->reader_count; i++) {
        if (strcmp(k->readers[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static bool has_ref(const struct sf_key_ref *const *refs, size_t n,
                    const struct sf_key_ref *ref)
{
    for (size_t i = 0; i < n; i++) {
        if (refs[i]->kind == ref->kind &&
                strcmp(refs[i]->value, ref->value) == 0) {
            return true;
        }
    }
    return false;
}

/* The class's own keys, then each partner that may read it. */
static sf_status build_wrap_keys(struct sf_pctx *c, size_t ki)
{
    struct sf_policy *p = c->pol;
    struct sf_policy_class *k = &p->classes[ki];
    const struct sf_key_ref **refs;
    size_t n = 0;

    refs = sf_arena_alloc(&p->arena, (k->key_count + p->reader_count + 1) *
                                         sizeof *refs);
    if (refs == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < k->key_count; i++) {
        refs[n++] = &k->keys[i];
    }
    for (size_t i = p->stage_count; i < p->reader_count; i++) {
        const struct sf_policy_reader *r = &p->readers[i];

        if ((reader_sees(r, ki) || class_lists(k, r->name)) &&
                !has_ref(refs, n, r->recipient)) {
            refs[n++] = r->recipient;
        }
    }
    k->wrap_keys = refs;
    k->wrap_key_count = n;
    if (n == 0 && k->suite != SF_POLICY_SUITE_NONE) {
        return sf_pfail(c, k->line, k->column, "class '%s' has no keys: "
                        "list at least one under 'keys' (e.g. keys: "
                        "[local:%s-kek])", k->name, k->name);
    }
    return SF_OK;
}

/* Sorting key for precedence: higher tier first, then more segments,
 * then file order; each part fits its field (tier <= 4, segments <=
 * SF_JSONPATH_SEGMENT_MAX, index < SF_POLICY_RULE_MAX). */
static uint64_t precedence_key(const struct sf_policy_rule *r, size_t i)
{
    return ((uint64_t)(SF_TIER_TAG - r->tier) << 48) |
           ((uint64_t)(0xffffu - r->segments) << 32) | (uint64_t)i;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static sf_status set_ranks(struct sf_policy *p)
{
    uint64_t *keys = malloc((p->rule_count + 1) * sizeof *keys);

    if (keys == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->rule_count; i++) {
        keys[i] = precedence_key(&p->rules[i], i);
    }
    qsort(keys, p->rule_count, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < p->rule_count; i++) {
        p->rules[keys[i] & 0xffffffffu].rank = i;
    }
    free(keys);
    return SF_OK;
}

sf_status sf_pload_finish(struct sf_pctx *c)
{
    sf_status rc = SF_OK;

    for (size_t i = 0; rc == SF_OK && i < c->pol->class_count; i++) {
        rc = build_wrap_keys(c, i);
    }
    if (rc == SF_OK) {
        rc = set_ranks(c->pol);
    }
    if (rc == SF_OK) {
        rc = sf_matcher_build(c->pol);
    }
    return rc;
}
