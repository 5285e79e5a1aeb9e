#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "records_tape.h"
#include "sealflow/secret.h"

void rec_tape_clear(struct rec_tape *t)
{
    /* Strings may be plaintext: wipe them before the next record. */
    sf_buf_reset(&t->strs);
    t->n = 0;
    t->depth = 0;
}

/*
 * yajl allocates its handle, lexer and buffers anew for every parse, and
 * a worker parses every record: the tape lends it blocks freed by the
 * previous parse instead. Each block starts with its capacity. yajl's
 * buffers can hold decoded strings, so a block is wiped before it really
 * goes back to the heap.
 */
#define POOL_HEAD sizeof(max_align_t)

static size_t block_cap(const void *p)
{
    size_t cap;

    memcpy(&cap, (const uint8_t *)p - POOL_HEAD, sizeof cap);
    return cap;
}

static void block_release(void *p)
{
    uint8_t *head = (uint8_t *)p - POOL_HEAD;

    sf_wipe(p, block_cap(p));
    free(head);
}

static void *pool_malloc(void *ctx, size_t sz)
{
    struct rec_tape *t = ctx;
    uint8_t *head;

    for (size_t i = t->pool_len; i-- > 0;) {
        void *p = t->pool[i];

        if (block_cap(p) >= sz) {
            t->pool[i] = t->pool[--t->pool_len];
            return p;
        }
    }
    if (sz > SIZE_MAX - POOL_HEAD) {
        return NULL;
    }
    head = malloc(POOL_HEAD + sz);
    if (head == NULL) {
        return NULL;
    }
    memcpy(head, &sz, sizeof sz);
    return head + POOL_HEAD;
}

static void pool_free(void *ctx, void *p)
{
    struct rec_tape *t = ctx;

    if (p == NULL) {
        return;
    }
    if (t->pool_len < sizeof t->pool / sizeof *t->pool) {
        t->pool[t->pool_len++] = p;
    } else {
        block_release(p);
    }
}

static void *pool_realloc(void *ctx, void *p, size_t sz)
{
    void *q;

    if (p == NULL) {
        return pool_malloc(ctx, sz);
    }
    if (block_cap(p) >= sz) {
        return p;
    }
    q = pool_malloc(ctx, sz);
    if (q != NULL) {
        memcpy(q, p, block_cap(p));
        pool_free(ctx, p);
    }
    return q;
}

void rec_tape_free(struct rec_tape *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->pool_len; i++) {
        block_release(t->pool[i]);
    }
    t->pool_len = 0;
    free(t->ents);
    t->ents = NULL;
    t->n = 0;
    t->cap = 0;
    sf_buf_free(&t->strs);
    sf_buf_free(&t->scratch);
}

static void set_error(struct rec_tape *t, const char *msg)
{
    yajl_handle h = t->yajl;

    if (t->err != NULL && t->rc == SF_OK) {
        t->err->offset = h != NULL ? yajl_get_bytes_consumed(h) : 0;
        t->err->ent = t->n > 0 ? t->n - 1 : SIZE_MAX;
        snprintf(t->err->msg, sizeof t->err->msg, "%s", msg);
    }
    if (t->rc == SF_OK) {
        t->rc = SF_ERR_PARSE;
    }
}

/* Appends an entry; returns its index or SIZE_MAX (rc set). */
static size_t add(struct rec_tape *t, uint8_t kind, const void *p,
                  size_t len)
{
    struct tape_ent *e;
    size_t i;

    if (t->n == t->cap) {
        size_t cap = t->cap == 0 ? 256 : t->cap * 2;
        struct tape_ent *grown = realloc(t->ents, cap * sizeof *grown);

        if (grown == NULL) {
            t->rc = SF_ERR_NOMEM;
            return SIZE_MAX;
        }
        t->ents = grown;
        t->cap = cap;
    }
    i = t->n++;
    e = &t->ents[i];
    e->kind = kind;
    e->off = t->strs.len;
    e->len = len;
    e->end = i;
    e->pos = yajl_get_bytes_consumed(t->yajl);
    if (p == NULL) {
        return i;
    }
    /* The bytes and their NUL in one step: this runs for every string,
     * key and number of every record. */
    if (sf_buf_reserve(&t->strs, len + 1) != SF_OK) {
        t->rc = SF_ERR_NOMEM;
        t->n--;
        return SIZE_MAX;
    }
    if (len > 0) {
        memcpy(t->strs.data + t->strs.len, p, len);
    }
    t->strs.data[t->strs.len + len] = 0;
    t->strs.len += len + 1;
    return i;
}

static int on_null(void *ctx)
{
    return add(ctx, TAPE_NULL, NULL, 0) != SIZE_MAX;
}

static int on_bool(void *ctx, int v)
{
    return add(ctx, v ? TAPE_TRUE : TAPE_FALSE, NULL, 0) != SIZE_MAX;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    return add(ctx, TAPE_NUMBER, s, len) != SIZE_MAX;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    return add(ctx, TAPE_STRING, s, len) != SIZE_MAX;
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    return add(ctx, TAPE_KEY, s, len) != SIZE_MAX;
}

static int open_container(struct rec_tape *t, uint8_t kind)
{
    size_t i;

    if (t->depth >= t->depth_max) {
        char msg[96];

        snprintf(msg, sizeof msg, "nesting deeper than %zu levels",
                 t->depth_max);
        set_error(t, msg);
        return 0;
    }
    i = add(t, kind, NULL, 0);
    if (i == SIZE_MAX) {
        return 0;
    }
    t->stack[t->depth++] = i;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, TAPE_MAP);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, TAPE_ARRAY);
}

struct key_ref {
    uint64_t hash;
    size_t ent;
};

static int cmp_key_ref(const void *a, const void *b)
{
    const struct key_ref *x = a;
    const struct key_ref *y = b;

    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return x->ent < y->ent ? -1 : x->ent > y->ent;
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

static bool same_key(const struct rec_tape *t, size_t a, size_t b)
{
    return t->ents[a].len == t->ents[b].len &&
           memcmp(rec_tape_str(t, a), rec_tape_str(t, b), t->ents[a].len) ==
               0;
}

/* Reports the later of two equal keys (the one a reader would notice). */
static int duplicate(struct rec_tape *t, size_t later)
{
    char msg[160];
    const char *k = rec_tape_str(t, later);
    int shown = t->ents[later].len > 60 ? 60 : (int)t->ents[later].len;

    set_error(t, "");
    if (t->err != NULL) {
        t->err->ent = later;
        t->err->offset = t->ents[later].pos;
        snprintf(msg, sizeof msg, "duplicate member name \"%.*s%s\" in one "
                 "object; a sealed record must have unique names", shown, k,
                 t->ents[later].len > 60 ? "..." : "");
        snprintf(t->err->msg, sizeof t->err->msg, "%s", msg);
    }
    return 0;
}

/*
 * Checks the member names of the object opened at entry open. Small
 * objects compare pairwise; larger ones sort hashes so the check stays
 * O(n log n) whatever the input.
 */
static int check_keys(struct rec_tape *t, size_t open)
{
    size_t end = t->ents[open].end;
    struct key_ref *refs;
    size_t n = 0;

    for (size_t i = open + 1; i < end; i = rec_tape_next(t, i + 1)) {
        n++;
    }
    if (n <= 16) {
        for (size_t i = open + 1; i < end; i = rec_tape_next(t, i + 1)) {
            for (size_t j = open + 1; j < i; j = rec_tape_next(t, j + 1)) {
                if (same_key(t, i, j)) {
                    return duplicate(t, i);
                }
            }
        }
        return 1;
    }
    sf_buf_reset(&t->scratch);
    if (sf_buf_reserve(&t->scratch, n * sizeof *refs) != SF_OK) {
        t->rc = SF_ERR_NOMEM;
        return 0;
    }
    refs = (struct key_ref *)(void *)t->scratch.data;
    n = 0;
    for (size_t i = open + 1; i < end; i = rec_tape_next(t, i + 1)) {
        refs[n].hash = fnv1a((const uint8_t *)rec_tape_str(t, i),
                             t->ents[i].len);
        refs[n++].ent = i;
    }
    qsort(refs, n, sizeof *refs, cmp_key_ref);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && refs[j - 1].hash == refs[i].hash; j--) {
            if (same_key(t, refs[j - 1].ent, refs[i].ent)) {
                return duplicate(t, refs[i].ent);
            }
        }
    }
    return 1;
}

static int close_container(struct rec_tape *t)
{
    size_t open = t->stack[--t->depth];
    size_t i = add(t, TAPE_END, NULL, 0);

    if (i == SIZE_MAX) {
        return 0;
    }
    t->ents[open].end = i;
    t->ents[i].off = open; /* an END names its opening entry */
    if (t->ents[open].kind == TAPE_MAP) {
        return check_keys(t, open);
    }
    return 1;
}

static int on_end(void *ctx)
{
    return close_container(ctx);
}

static const yajl_callbacks callbacks = {
    on_null, on_bool, NULL, NULL, on_number, on_string,
    on_start_map, on_key, on_end, on_start_array, on_end};

static int hex4(const uint8_t *p, size_t left, unsigned *v)
{
    unsigned x = 0;

    if (left < 4) {
        return 0;
    }
    for (size_t i = 0; i < 4; i++) {
        uint8_t c = p[i];

        x <<= 4;
        if (c >= '0' && c <= '9') {
            x |= (unsigned)(c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            x |= (unsigned)((c | 0x20) - 'a' + 10);
        } else {
            return 0;
        }
    }
    *v = x;
    return 1;
}

/*
 * Finds an unpaired surrogate escape ("\ud800" not followed by a low
 * surrogate escape, or a lone "\udc00"). Backslashes occur only inside
 * strings in valid JSON, so walking from one escape to the next is exact.
 * Returns the offset of the bad escape, or SIZE_MAX.
 */
static size_t bad_surrogate(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    const uint8_t *s = memchr(p, '\\', len);

    while (s != NULL && s + 1 < end) {
        unsigned hi;
        unsigned lo;

        if (s[1] != 'u' || !hex4(s + 2, (size_t)(end - s - 2), &hi)) {
            s += 2;
        } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
            return (size_t)(s - p);
        } else if (hi >= 0xD800 && hi <= 0xDBFF) {
            if (end - s < 12 || s[6] != '\\' || s[7] != 'u' ||
                    !hex4(s + 8, 4, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                return (size_t)(s - p);
            }
            s += 12;
        } else {
            s += 6;
        }
        if (s >= end) {
            break;
        }
        s = memchr(s, '\\', (size_t)(end - s));
    }
    return SIZE_MAX;
}

static void yajl_message(struct rec_tape *t, yajl_handle h,
                         const uint8_t *p, size_t len)
{
    unsigned char *m = yajl_get_error(h, 0, p, len);
    size_t at = yajl_get_bytes_consumed(h);
    char buf[160];
    size_t n;

    snprintf(buf, sizeof buf, "%s", m != NULL ? (const char *)m :
             "malformed JSON");
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '.')) {
        buf[--n] = '\0';
    }
    if (m != NULL) {
        yajl_free_error(h, m);
    }
    set_error(t, buf);
    if (t->err != NULL) {
        t->err->offset = at;
    }
}

sf_status rec_tape_parse(struct rec_tape *t, const uint8_t *p, size_t len,
                         size_t depth_max, struct tape_error *err)
{
    yajl_alloc_funcs afs = {pool_malloc, pool_realloc, pool_free, t};
    yajl_handle h;
    yajl_status st;
    size_t bad;

    rec_tape_clear(t);
    t->rc = SF_OK;
    t->err = err;
    t->depth_max = depth_max < SF_RECORDS_TAPE_DEPTH_LIMIT
                       ? depth_max : SF_RECORDS_TAPE_DEPTH_LIMIT;
    h = yajl_alloc(&callbacks, &afs, t);
    if (h == NULL) {
        return SF_ERR_NOMEM;
    }
    t->yajl = h;
    st = yajl_parse(h, p, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }
    if (st != yajl_status_ok && t->rc == SF_OK) {
        yajl_message(t, h, p, len);
    }
    if (t->rc == SF_OK && (bad = bad_surrogate(p, len)) != SIZE_MAX) {
        set_error(t, "unpaired UTF-16 surrogate escape in a string");
        if (err != NULL) {
            err->offset = bad;
            err->ent = SIZE_MAX;
        }
    }
    yajl_free(h);
    t->yajl = NULL;
    t->err = NULL;
    if (t->rc == SF_OK && t->n == 0) {
        set_error(t, "no JSON value");
    }
    return t->rc;
}

bool rec_tape_key_is(const struct rec_tape *t, size_t i, const char *name)
{
    size_t n = strlen(name);

    return t->ents[i].len == n && memcmp(rec_tape_str(t, i), name, n) == 0;
}

sf_status rec_tape_emit(const struct rec_tape *t, size_t i, yajl_gen g)
{
    size_t last = t->ents[i].end;
    yajl_gen_status gs = yajl_gen_status_ok;

    for (; i <= last && gs == yajl_gen_status_ok; i++) {
        const struct tape_ent *e = &t->ents[i];
        /* A tape of containers only has no string bytes at all. */
        const unsigned char *s = t->strs.data != NULL ? t->strs.data + e->off
                                                      : NULL;

        switch (e->kind) {
        case TAPE_NULL:
            gs = yajl_gen_null(g);
            break;
        case TAPE_FALSE:
        case TAPE_TRUE:
            gs = yajl_gen_bool(g, e->kind == TAPE_TRUE);
            break;
        case TAPE_NUMBER:
            gs = yajl_gen_number(g, (const char *)s, e->len);
            break;
        case TAPE_STRING:
        case TAPE_KEY:
            gs = yajl_gen_string(g, s, e->len);
            break;
        case TAPE_MAP:
            gs = yajl_gen_map_open(g);
            break;
        case TAPE_ARRAY:
            gs = yajl_gen_array_open(g);
            break;
        default:
            gs = t->ents[i].kind == TAPE_END &&
                         t->ents[t->ents[i].off].kind == TAPE_MAP
                     ? yajl_gen_map_close(g) : yajl_gen_array_close(g);
            break;
        }
    }
    return gs == yajl_gen_status_ok ? SF_OK : SF_ERR_INTERNAL;
}

sf_status rec_tape_path_at(const struct rec_tape *t, size_t target,
                           struct sf_path *path)
{
    struct frame {
        bool is_array;
        bool has_seg;
        size_t index;
    } fr[SF_RECORDS_TAPE_DEPTH_LIMIT];
    size_t depth = 0;
    sf_status rc = SF_OK;

    sf_path_clear(path);
    for (size_t i = 0; i < t->n && i <= target && rc == SF_OK; i++) {
        const struct tape_ent *e = &t->ents[i];
        struct frame *f = depth > 0 ? &fr[depth - 1] : NULL;

        if (e->kind == TAPE_END) {
            if (f != NULL && f->has_seg) {
                sf_path_pop(path);
            }
            depth -= depth > 0;
            continue;
        }
        if (f != NULL && (e->kind == TAPE_KEY || f->is_array)) {
            if (f->has_seg) {
                sf_path_pop(path);
            }
            f->has_seg = true;
            rc = e->kind == TAPE_KEY
                     ? sf_path_push_member(path, rec_tape_str(t, i), e->len)
                     : sf_path_push_index(path, f->index++);
        }
        if ((e->kind == TAPE_MAP || e->kind == TAPE_ARRAY) &&
                depth < SF_RECORDS_TAPE_DEPTH_LIMIT) {
            fr[depth].is_array = e->kind == TAPE_ARRAY;
            fr[depth].has_seg = false;
            fr[depth++].index = 0;
        }
    }
    return rc;
}

const char *rec_tape_type_name(uint8_t kind)
{
    static const char *const names[] = {
        "?", "null", "false", "true", "number", "string", "key", "object",
        "array", "?"};

    return kind < sizeof names / sizeof *names ? names[kind] : "?";
}
