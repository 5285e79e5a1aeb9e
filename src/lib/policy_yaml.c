/*
 * The policy loader's foundations: an arena, the YAML tree built from
 * libyaml events (keeping each node's line and column), and the error and
 * suggestion functions every section of the loader uses.
 *
 * The event API is used rather than yaml_parser_load so aliases can be
 * refused as they appear: a policy has no use for them, and refusing them
 * rules out documents that expand exponentially when walked.
 */
#include <stdarg.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "error.h"
#include "policy_internal.h"

#define YAML_DEPTH_MAX 32
#define YAML_NODES_MAX 100000
#define ARENA_BLOCK 16384

struct sf_arena_block {
    struct sf_arena_block *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

void *sf_arena_alloc(struct sf_arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    struct sf_arena_block *b = a->head;
    size_t need;
    void *p;

    if (size > SIZE_MAX - align) {
        return NULL;
    }
    need = size == 0 ? align : (size + align - 1) / align * align;
    if (a->limit != 0 && need > a->limit - a->total) {
        return NULL;
    }
    if (b == NULL || b->size - b->used < need) {
        size_t bsize = need > ARENA_BLOCK ? need : ARENA_BLOCK;

        b = calloc(1, sizeof *b + bsize);
        if (b == NULL) {
            return NULL;
        }
        b->size = bsize;
        b->next = a->head;
        a->head = b;
    }
    p = b->data + b->used;
    b->used += need;
    a->total += need;
    return p;
}

char *sf_arena_strndup(struct sf_arena *a, const char *s, size_t len)
{
    char *p = len < SIZE_MAX ? sf_arena_alloc(a, len + 1) : NULL;

    if (p != NULL && len > 0) {
        memcpy(p, s, len);
    }
    return p;
}

void sf_arena_free(struct sf_arena *a)
{
    while (a != NULL && a->head != NULL) {
        struct sf_arena_block *next = a->head->next;

        free(a->head);
        a->head = next;
    }
    if (a != NULL) {
        a->total = 0;
    }
}

/* ---- errors ---------------------------------------------------------- */

static sf_status vpfail(const struct sf_pctx *c, unsigned line,
                        unsigned column, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static sf_status vpfail(const struct sf_pctx *c, unsigned line,
                        unsigned column, const char *fmt, va_list ap)
{
    char msg[400];

    vsnprintf(msg, sizeof msg, fmt, ap);
    return sf_fail(SF_ERR_POLICY, "%s:%u:%u: %s",
                   c->source != NULL ? c->source : "<policy>", line, column,
                   msg);
}

sf_status sf_pfail(const struct sf_pctx *c, unsigned line, unsigned column,
                   const char *fmt, ...)
{
    va_list ap;
    sf_status rc;

    va_start(ap, fmt);
    rc = vpfail(c, line, column, fmt, ap);
    va_end(ap);
    return rc;
}

sf_status sf_pfail_at(const struct sf_pctx *c, const struct sf_ynode *n,
                      const char *fmt, ...)
{
    va_list ap;
    sf_status rc;

    va_start(ap, fmt);
    rc = vpfail(c, n->line, n->column, fmt, ap);
    va_end(ap);
    return rc;
}

const char *sf_ynode_what(const struct sf_ynode *n)
{
    if (n == NULL || (n->type == SF_YNODE_SCALAR && n->is_null)) {
        return "nothing";
    }
    switch (n->type) {
    case SF_YNODE_SEQ:
        return "a list";
    case SF_YNODE_MAP:
        return "a mapping";
    default:
        return "text";
    }
}

/* Edit distance with the usual three operations, for short words only. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t prev[65];
    size_t cur[65];

    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1;
            size_t ins = cur[j - 1] + 1;

            cur[j] = sub < del ? (sub < ins ? sub : ins)
                               : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *cur);
    }
    return prev[lb];
}

const char *sf_nearest(const char *word, const char *const *cands,
                       size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;

    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        size_t max = strlen(cands[i]) >= 5 ? 2 : 1;

        if (d <= max && d < best_d) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

static sf_status unknown_key(const struct sf_pctx *c,
                             const struct sf_ynode *key, const char *where,
                             const char *const *allowed, size_t n)
{
    char list[200];
    size_t used = 0;
    const char *near = sf_nearest(key->value, allowed, n);

    if (near != NULL) {
        return sf_pfail_at(c, key, "unknown key '%s' in %s; did you mean "
                           "'%s'?", key->value, where, near);
    }
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s",
                         i > 0 ? ", " : "", allowed[i]);

        used += w > 0 ? (size_t)w : 0;
    }
    return sf_pfail_at(c, key, "unknown key '%s' in %s; expected one of: "
                       "%s", key->value, where, list);
}

sf_status sf_map_fields(const struct sf_pctx *c, const struct sf_ynode *map,
                        const char *where, const char *const *allowed,
                        size_t n, const struct sf_ynode **values)
{
    const struct sf_ynode *keys[32] = {NULL};

    if (n > 32) {
        return sf_fail(SF_ERR_INTERNAL, "policy: too many allowed keys");
    }
    for (size_t j = 0; j < n; j++) {
        values[j] = NULL;
    }
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct sf_ynode *key = map->kids[i];
        size_t j = 0;

        /* Compare lengths too: a key may hold a NUL byte. */
        while (j < n && (strlen(allowed[j]) != key->len ||
                         memcmp(key->value, allowed[j], key->len) != 0)) {
            j++;
        }
        if (j == n && memchr(key->value, '\0', key->len) != NULL) {
            return sf_pfail_at(c, key, "a key in %s contains a NUL "
                               "character", where);
        }
        if (j == n) {
            return unknown_key(c, key, where, allowed, n);
        }
        if (keys[j] != NULL) {
            return sf_pfail_at(c, key, "duplicate key '%s' in %s (first "
                               "at line %u)", key->value, where,
                               keys[j]->line);
        }
        keys[j] = key;
        values[j] = map->kids[i + 1];
    }
    return SF_OK;
}

sf_status sf_expect(const struct sf_pctx *c, const struct sf_ynode *n,
                    enum sf_ynode_type type, const char *where)
{
    static const char *const names[] = {"", "text", "a list", "a mapping"};

    if (n->type == type && !(type == SF_YNODE_SCALAR && n->is_null)) {
        return SF_OK;
    }
    return sf_pfail_at(c, n, "%s must be %s, found %s", where, names[type],
                       sf_ynode_what(n));
}

sf_status sf_expect_text(const struct sf_pctx *c, const struct sf_ynode *n,
                         const char *where)
{
    sf_status rc = sf_expect(c, n, SF_YNODE_SCALAR, where);

    if (rc != SF_OK) {
        return rc;
    }
    if (n->len == 0) {
        return sf_pfail_at(c, n, "%s is empty", where);
    }
    if (memchr(n->value, '\0', n->len) != NULL) {
        return sf_pfail_at(c, n, "%s contains a NUL character", where);
    }
    return SF_OK;
}

/* ---- reading YAML events into a tree --------------------------------- */

/* One open sequence or mapping and the children collected so far. */
struct frame {
    struct sf_ynode *node;
    struct sf_ynode **kids;
    size_t n;
    size_t cap;
};

struct reader {
    const struct sf_pctx *c;
    struct sf_arena *a;
    struct frame stack[YAML_DEPTH_MAX];
    size_t depth;
    size_t nodes;
    size_t documents;
    struct sf_ynode *root;
};

static struct sf_ynode *new_node(struct reader *r, enum sf_ynode_type type,
                                 const yaml_event_t *ev)
{
    struct sf_ynode *n = sf_arena_alloc(r->a, sizeof *n);

    if (n == NULL) {
        return NULL;
    }
    n->type = type;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->column = (unsigned)ev->start_mark.column + 1;
    n->raw_chars = ev->end_mark.index - ev->start_mark.index;
    n->is_single_line = ev->start_mark.line == ev->end_mark.line;
    return n;
}

static bool is_null_text(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (memcmp(s, "null", 4) == 0 ||
                         memcmp(s, "Null", 4) == 0 ||
                         memcmp(s, "NULL", 4) == 0));
}

/* Adds a finished or starting node to the open container (or as root),
 * refusing anything but text as a mapping key. */
static sf_status attach(struct reader *r, struct sf_ynode *n)
{
    struct frame *f;

    if (r->depth == 0) {
        r->root = n;
        return SF_OK;
    }
    f = &r->stack[r->depth - 1];
    if (f->node->type == SF_YNODE_MAP && f->n % 2 == 0 &&
            n->type != SF_YNODE_SCALAR) {
        return sf_pfail_at(r->c, n, "mapping keys must be text, found %s",
                           sf_ynode_what(n));
    }
    if (f->n == f->cap) {
        size_t cap = f->cap == 0 ? 8 : f->cap * 2;
        struct sf_ynode **k = realloc(f->kids, cap * sizeof *k);

        if (k == NULL) {
            return SF_ERR_NOMEM;
        }
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = n;
    return SF_OK;
}

static sf_status on_scalar(struct reader *r, const yaml_event_t *ev)
{
    struct sf_ynode *n = new_node(r, SF_YNODE_SCALAR, ev);
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;

    if (n == NULL) {
        return SF_ERR_NOMEM;
    }
    n->value = sf_arena_strndup(r->a, v, len);
    if (n->value == NULL) {
        return SF_ERR_NOMEM;
    }
    n->len = len;
    n->is_plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->is_null = n->is_plain && is_null_text(v, len);
    return attach(r, n);
}

static sf_status on_start(struct reader *r, const yaml_event_t *ev,
                          enum sf_ynode_type type)
{
    struct sf_ynode *n = new_node(r, type, ev);
    sf_status rc;

    if (n == NULL) {
        return SF_ERR_NOMEM;
    }
    if (r->depth == YAML_DEPTH_MAX) {
        return sf_pfail_at(r->c, n, "nesting is deeper than %d levels",
                           YAML_DEPTH_MAX);
    }
    rc = attach(r, n);
    if (rc == SF_OK) {
        r->stack[r->depth].node = n;
        r->stack[r->depth].n = 0;
        r->depth++;
    }
    return rc;
}

/* Moves the children of the closing container into the arena. */
static sf_status on_end(struct reader *r)
{
    struct frame *f = &r->stack[r->depth - 1];
    struct sf_ynode *n = f->node;

    if (f->n > 0) {
        n->kids = sf_arena_alloc(r->a, f->n * sizeof *n->kids);
        if (n->kids == NULL) {
            return SF_ERR_NOMEM;
        }
        memcpy(n->kids, f->kids, f->n * sizeof *n->kids);
    }
    n->n = f->n;
    r->depth--;
    return SF_OK;
}

static sf_status on_event(struct reader *r, const yaml_event_t *ev)
{
    if (++r->nodes > YAML_NODES_MAX) {
        return sf_pfail(r->c, (unsigned)ev->start_mark.line + 1,
                        (unsigned)ev->start_mark.column + 1,
                        "more than %d YAML nodes", YAML_NODES_MAX);
    }
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++r->documents > 1) {
            return sf_pfail(r->c, (unsigned)ev->start_mark.line + 1,
                            (unsigned)ev->start_mark.column + 1,
                            "a policy file holds one YAML document; "
                            "found a second one");
        }
        return SF_OK;
    case YAML_ALIAS_EVENT:
        return sf_pfail(r->c, (unsigned)ev->start_mark.line + 1,
                        (unsigned)ev->start_mark.column + 1,
                        "YAML aliases are not allowed in a policy; "
                        "write the value out");
    case YAML_SCALAR_EVENT:
        return on_scalar(r, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(r, ev, SF_YNODE_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(r, ev, SF_YNODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(r);
    default:
        return SF_OK;
    }
}

/* Reader errors carry a byte offset, not a mark: count lines and bytes
 * up to it so the message still has a line and column. */
static sf_status encoding_error(const struct sf_pctx *c, const char *yaml,
                                size_t len, const yaml_parser_t *ps)
{
    size_t off = ps->problem_offset < len ? ps->problem_offset : len;
    unsigned line = 1;
    unsigned column = 1;

    for (size_t i = 0; i < off; i++) {
        column = yaml[i] == '\n' ? 1 : column + 1;
        line += yaml[i] == '\n';
    }
    return sf_pfail(c, line, column, "not valid UTF-8 text: %s at byte %zu",
                    ps->problem != NULL ? ps->problem : "bad input",
                    ps->problem_offset);
}

static sf_status syntax_error(const struct sf_pctx *c, const char *yaml,
                              size_t len, const yaml_parser_t *ps)
{
    if (ps->error == YAML_MEMORY_ERROR) {
        return sf_fail(SF_ERR_NOMEM, "out of memory reading the policy");
    }
    if (ps->error == YAML_READER_ERROR) {
        return encoding_error(c, yaml, len, ps);
    }
    if (ps->context != NULL) {
        return sf_pfail(c, (unsigned)ps->problem_mark.line + 1,
                        (unsigned)ps->problem_mark.column + 1,
                        "YAML syntax error: %s %s (line %u)",
                        ps->problem != NULL ? ps->problem : "bad input",
                        ps->context, (unsigned)ps->context_mark.line + 1);
    }
    return sf_pfail(c, (unsigned)ps->problem_mark.line + 1,
                    (unsigned)ps->problem_mark.column + 1,
                    "YAML syntax error: %s",
                    ps->problem != NULL ? ps->problem : "bad input");
}

sf_status sf_policy_yaml_read(const char *yaml, size_t len,
                              const char *source, struct sf_arena *a,
                              struct sf_ynode **root)
{
    struct sf_pctx c = {source, NULL, NULL, a};
    struct reader r;
    yaml_parser_t ps;
    yaml_event_t ev;
    bool done = false;
    sf_status rc = SF_OK;

    memset(&r, 0, sizeof r);
    r.c = &c;
    r.a = a;
    *root = NULL;
    if (!yaml_parser_initialize(&ps)) {
        return sf_fail(SF_ERR_NOMEM, "out of memory reading the policy");
    }
    yaml_parser_set_input_string(&ps, (const unsigned char *)yaml, len);
    while (rc == SF_OK && !done) {
        if (!yaml_parser_parse(&ps, &ev)) {
            rc = syntax_error(&c, yaml, len, &ps);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&r, &ev);
        yaml_event_delete(&ev);
    }
    for (size_t i = 0; i < YAML_DEPTH_MAX; i++) {
        free(r.stack[i].kids);
    }
    yaml_parser_delete(&ps);
    if (rc == SF_OK) {
        *root = r.root;
    } else if (rc == SF_ERR_NOMEM) {
        rc = sf_fail(SF_ERR_NOMEM, "out of memory reading the policy");
    }
    return rc;
}
