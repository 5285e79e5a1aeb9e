/*
 * Classifying fields: the compiled matcher and struct sf_path.
 *
 * Each path rule becomes a chain of states, one per segment plus a final
 * one. A path keeps, for every level, the set of states reached so far
 * (an NFA run over the field path): pushing a segment advances each state
 * of the parent level that the segment matches, and a descendant segment
 * also stays where it is, since ".." may skip any number of levels. The
 * states of one level are deduplicated with a generation mark, so a level
 * never holds more states than the matcher has.
 *
 * Each level also records its winning rule (the best by rank among the
 * rules matching this level, else the one inherited from the level above)
 * and whether any rule still alive could give a deeper field another
 * class; classification is then a lookup. Nothing is allocated unless
 * the path grows deeper or longer than before.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_internal.h"

/* Bounds the NFA state stack (16 Mi states, 64 MiB): a policy full of
 * descendant rules run over very deep data would otherwise need
 * rules x segments x depth entries. */
#define STATE_STACK_MAX (16u * 1024 * 1024)

struct level {
    size_t name_off;     /* member: offset of its name in names */
    size_t name_len;
    size_t index;        /* array element */
    bool is_member;
    size_t states_start; /* this level's states in the state stack */
    size_t states_len;
    size_t best;         /* winning rule or SF_POLICY_NO_RULE */
    bool best_is_self;
    bool is_uniform;
};

struct sf_path {
    const struct sf_policy *policy;
    struct level *levels;  /* levels[0] is "$" */
    size_t depth;
    size_t level_cap;
    char *names;
    size_t names_len;
    size_t names_cap;
    uint32_t *states;
    size_t state_cap;
    uint32_t *mark;        /* per matcher state: generation last added */
    uint32_t gen;
};

sf_status sf_matcher_build(struct sf_policy *p)
{
    struct sf_matcher *m = &p->matcher;
    size_t n = 0;

    for (size_t i = 0; i < p->rule_count; i++) {
        n += p->rules[i].kind == SF_RULE_PATH ? p->paths[i].len + 1 : 0;
    }
    m->seg = sf_arena_alloc(&p->arena, (n + 1) * sizeof *m->seg);
    m->rule = sf_arena_alloc(&p->arena, (n + 1) * sizeof *m->rule);
    m->initial = sf_arena_alloc(&p->arena,
                                (p->rule_count + 1) * sizeof *m->initial);
    m->column_rules = sf_arena_alloc(&p->arena, (p->rule_count + 1) *
                                                    sizeof *m->column_rules);
    m->tag_rules = sf_arena_alloc(&p->arena,
                                  (p->rule_count + 1) * sizeof *m->tag_rules);
    if (m->seg == NULL || m->rule == NULL || m->initial == NULL ||
            m->column_rules == NULL || m->tag_rules == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->rule_count; i++) {
        const struct sf_jsonpath *jp = &p->paths[i];

        if (p->rules[i].kind == SF_RULE_COLUMN) {
            m->column_rules[m->ncolumn++] = i;
        } else if (p->rules[i].kind == SF_RULE_TAG) {
            m->tag_rules[m->ntag++] = i;
        } else {
            m->initial[m->ninitial++] = (uint32_t)m->nstates;
            for (size_t k = 0; k <= jp->len; k++) {
                m->seg[m->nstates] = k < jp->len ? &jp->segs[k] : NULL;
                m->rule[m->nstates++] = (uint32_t)i;
            }
        }
    }
    return SF_OK;
}

/* true when rule a beats rule b (b may be SF_POLICY_NO_RULE). */
static bool beats(const struct sf_policy *p, size_t a, size_t b)
{
    return b == SF_POLICY_NO_RULE || p->rules[a].rank < p->rules[b].rank;
}

static size_t class_of(const struct sf_policy *p, size_t rule)
{
    return rule == SF_POLICY_NO_RULE ? p->default_class
                                     : p->rules[rule].class_index;
}

/*
 * Picks the level's winner and decides whether its subtree is uniform. A
 * rule matching this level beats any rule inherited from an enclosing
 * level; among rules matching this level the rank decides. Every state
 * still alive could match deeper, where it would win, so the subtree is
 * uniform only when all of them lead to this level's class.
 */
static void settle(const struct sf_path *path, struct level *lv,
                   size_t inherited)
{
    const struct sf_policy *p = path->policy;
    const struct sf_matcher *m = &p->matcher;
    const uint32_t *st = path->states + lv->states_start;
    size_t self = SF_POLICY_NO_RULE;
    size_t cls;

    for (size_t i = 0; i < lv->states_len; i++) {
        if (m->seg[st[i]] == NULL && beats(p, m->rule[st[i]], self)) {
            self = m->rule[st[i]];
        }
    }
    lv->best_is_self = self != SF_POLICY_NO_RULE;
    lv->best = lv->best_is_self ? self : inherited;
    cls = class_of(p, lv->best);
    lv->is_uniform = true;
    for (size_t i = 0; i < lv->states_len && lv->is_uniform; i++) {
        if (m->seg[st[i]] != NULL && class_of(p, m->rule[st[i]]) != cls) {
            lv->is_uniform = false;
        }
    }
}

static void reset_root(struct sf_path *p)
{
    struct level *root = &p->levels[0];

    memset(root, 0, sizeof *root);
    root->best = SF_POLICY_NO_RULE;
    root->is_uniform = true;
    p->depth = 0;
    p->names_len = 0;
    if (p->policy != NULL) {
        const struct sf_matcher *m = &p->policy->matcher;

        if (m->ninitial > 0) {
            memcpy(p->states, m->initial, m->ninitial * sizeof *p->states);
        }
        root->states_len = m->ninitial;
        settle(p, root, SF_POLICY_NO_RULE);
    }
}

sf_status sf_path_new(const struct sf_policy *policy, struct sf_path **out)
{
    struct sf_path *p;
    size_t nstates = policy != NULL ? policy->matcher.nstates : 0;
    sf_status rc = SF_ERR_NOMEM;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        goto out;
    }
    p->policy = policy;
    p->level_cap = 16;
    p->names_cap = 256;
    p->state_cap = 2 * nstates + 16;
    p->levels = malloc(p->level_cap * sizeof *p->levels);
    p->names = malloc(p->names_cap);
    p->states = malloc(p->state_cap * sizeof *p->states);
    p->mark = calloc(nstates + 1, sizeof *p->mark);
    if (p->levels == NULL || p->names == NULL || p->states == NULL ||
            p->mark == NULL) {
        goto out;
    }
    reset_root(p);
    *out = p;
    p = NULL;
    rc = SF_OK;

out:
    sf_path_free(p);
    return rc;
}

void sf_path_free(struct sf_path *p)
{
    if (p == NULL) {
        return;
    }
    free(p->levels);
    free(p->names);
    free(p->states);
    free(p->mark);
    free(p);
}

void sf_path_clear(struct sf_path *p)
{
    if (p != NULL) {
        reset_root(p);
    }
}

/* Grows *arr (of elem-sized items, capacity *cap) to hold need items. */
static sf_status grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap;
    void *n;

    if (need <= c) {
        return SF_OK;
    }
    while (c < need) {
        c = c > SIZE_MAX / 4 ? need : c * 2;
    }
    if (c > SIZE_MAX / elem) {
        return SF_ERR_NOMEM;
    }
    n = realloc(*arr, c * elem);
    if (n == NULL) {
        return SF_ERR_NOMEM;
    }
    *arr = n;
    *cap = c;
    return SF_OK;
}

static void add_state(struct sf_path *p, struct level *lv, uint32_t s)
{
    if (p->mark[s] != p->gen) {
        p->mark[s] = p->gen;
        p->states[lv->states_start + lv->states_len++] = s;
    }
}

/* Runs the parent level's states over the new level's segment. */
static void advance(struct sf_path *p, const struct level *parent,
                    struct level *lv)
{
    const struct sf_matcher *m = &p->policy->matcher;
    struct sf_jp_field f = {lv->is_member ? p->names + lv->name_off : NULL,
                            lv->name_len, lv->index};

    if (++p->gen == 0) {
        memset(p->mark, 0, (m->nstates + 1) * sizeof *p->mark);
        p->gen = 1;
    }
    for (size_t i = 0; i < parent->states_len; i++) {
        uint32_t s = p->states[parent->states_start + i];
        const struct sf_jp_seg *seg = m->seg[s];

        if (seg == NULL) {
            continue;
        }
        if (seg->is_descendant) {
            add_state(p, lv, s);
        }
        if (sf_jsonpath_seg_matches(seg, &f)) {
            add_state(p, lv, s + 1);
        }
    }
    settle(p, lv, parent->best);
}

/* Makes room for one more level, its name and its states; on failure
 * the path is unchanged. */
static sf_status reserve(struct sf_path *p, size_t name_len, bool is_member,
                         size_t states_start)
{
    sf_status rc;

    if (p->depth >= SF_PATH_DEPTH_MAX) {
        return sf_fail(SF_ERR_LIMIT, "field path is deeper than %d levels",
                       SF_PATH_DEPTH_MAX);
    }
    rc = grow((void **)&p->levels, &p->level_cap, p->depth + 2,
              sizeof *p->levels);
    if (rc == SF_OK && is_member) {
        rc = name_len < SIZE_MAX - p->names_len - 1
                 ? grow((void **)&p->names, &p->names_cap,
                        p->names_len + name_len + 1, 1)
                 : SF_ERR_NOMEM;
    }
    if (rc == SF_OK && p->policy != NULL) {
        size_t need = states_start + p->policy->matcher.nstates + 1;

        rc = need > STATE_STACK_MAX
                 ? sf_fail(SF_ERR_LIMIT, "field path is too deep for this "
                           "policy's rules to follow")
                 : grow((void **)&p->states, &p->state_cap, need,
                        sizeof *p->states);
    }
    return rc;
}

static sf_status push(struct sf_path *p, const char *name, size_t name_len,
                      size_t index, bool is_member)
{
    const struct level *parent = &p->levels[p->depth];
    size_t start = parent->states_start + parent->states_len;
    struct level *lv;
    sf_status rc = reserve(p, name_len, is_member, start);

    if (rc != SF_OK) {
        return rc;
    }
    lv = &p->levels[p->depth + 1];
    memset(lv, 0, sizeof *lv);
    lv->is_member = is_member;
    lv->index = index;
    lv->states_start = start;
    lv->best = SF_POLICY_NO_RULE;
    lv->is_uniform = true;
    if (is_member) {
        lv->name_off = p->names_len;
        lv->name_len = name_len;
        if (name_len > 0) {
            memcpy(p->names + p->names_len, name, name_len);
        }
        p->names_len += name_len;
        p->names[p->names_len++] = '\0';
    }
    if (p->policy != NULL) {
        advance(p, &p->levels[p->depth], lv);
    }
    p->depth++;
    return SF_OK;
}

sf_status sf_path_push_member(struct sf_path *p, const char *name,
                              size_t name_len)
{
    if (p == NULL || (name == NULL && name_len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    return push(p, name, name_len, 0, true);
}

sf_status sf_path_push_index(struct sf_path *p, size_t index)
{
    if (p == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    return push(p, NULL, 0, index, false);
}

void sf_path_pop(struct sf_path *p)
{
    if (p == NULL || p->depth == 0) {
        return;
    }
    if (p->levels[p->depth].is_member) {
        p->names_len = p->levels[p->depth].name_off;
    }
    p->depth--;
}

size_t sf_path_depth(const struct sf_path *p)
{
    return p != NULL ? p->depth : 0;
}

sf_status sf_path_segment(const struct sf_path *p, size_t i,
                          const char **name, size_t *name_len, size_t *index)
{
    const struct level *lv;

    if (p == NULL || i >= p->depth || name == NULL || name_len == NULL ||
            index == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    lv = &p->levels[i + 1];
    *name = lv->is_member ? p->names + lv->name_off : NULL;
    *name_len = lv->name_len;
    *index = lv->index;
    return SF_OK;
}

sf_status sf_path_render(const struct sf_path *p, struct sf_buf *out)
{
    size_t old;
    sf_status rc;

    if (p == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    old = out->len;
    rc = sf_buf_append(out, "$", 1);
    for (size_t i = 1; rc == SF_OK && i <= p->depth; i++) {
        const struct level *lv = &p->levels[i];

        rc = lv->is_member
                 ? sf_jsonpath_append_member(out, p->names + lv->name_off,
                                             lv->name_len)
                 : sf_jsonpath_append_index(out, lv->index);
    }
    if (rc == SF_OK) {
        rc = sf_buf_terminate(out);
    }
    if (rc != SF_OK) {
        out->len = old;
    }
    return rc;
}

sf_status sf_path_parse(struct sf_path *p, const char *text, size_t len)
{
    struct sf_jsonpath jp = {NULL, 0};
    struct sf_jp_error e;
    sf_status rc;

    if (p == NULL || (text == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    reset_root(p);
    rc = sf_jsonpath_parse(text, len, &jp, &e);
    if (rc == SF_ERR_FORMAT) {
        rc = sf_fail(rc, "malformed field path: %s (character %zu)", e.msg,
                     e.offset + 1);
        goto out;
    }
    if (rc == SF_OK && !sf_jsonpath_is_concrete(&jp)) {
        rc = sf_fail(SF_ERR_FORMAT, "a field path names one field: "
                     "wildcards and '..' are not allowed");
    }
    for (size_t i = 0; rc == SF_OK && i < jp.len; i++) {
        const struct sf_jp_seg *s = &jp.segs[i];

        rc = s->kind == SF_JP_MEMBER
                 ? sf_path_push_member(p, s->name, s->name_len)
                 : sf_path_push_index(p, s->index);
    }

out:
    sf_jsonpath_free(&jp);
    if (rc != SF_OK) {
        reset_root(p);
    }
    return rc;
}

/* Looks through column or tag rules for a better direct match. */
static size_t consider(const struct sf_policy *p, const size_t *rules,
                       size_t n, const char *want, size_t best)
{
    for (size_t i = 0; i < n; i++) {
        size_t r = rules[i];

        if (beats(p, r, best) && strcmp(p->rules[r].pattern, want) == 0) {
            best = r;
        }
    }
    return best;
}

sf_status sf_policy_classify(const struct sf_policy *p,
                             const struct sf_path *path, const char *column,
                             const char *tag, struct sf_policy_match *out)
{
    const struct level *lv = NULL;
    size_t direct = SF_POLICY_NO_RULE;
    size_t path_best = SF_POLICY_NO_RULE;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (p == NULL || (path != NULL && path->policy != p)) {
        return SF_ERR_INVALID_ARG;
    }
    if (path != NULL) {
        lv = &path->levels[path->depth];
        path_best = lv->best;
        direct = lv->best_is_self ? lv->best : SF_POLICY_NO_RULE;
    }
    /* Column and tag rules name the field itself: they compete with the
     * path rules matching this level, and beat inherited ones. */
    if (column != NULL) {
        direct = consider(p, p->matcher.column_rules, p->matcher.ncolumn,
                          column, direct);
    }
    if (tag != NULL) {
        direct = consider(p, p->matcher.tag_rules, p->matcher.ntag, tag,
                          direct);
    }
    out->rule_index = direct != SF_POLICY_NO_RULE ? direct : path_best;
    out->is_inherited = direct == SF_POLICY_NO_RULE &&
                        path_best != SF_POLICY_NO_RULE;
    out->is_subtree_uniform = lv == NULL || out->rule_index != path_best ||
                              lv->is_uniform;
    out->class_index = class_of(p, out->rule_index);
    return SF_OK;
}
