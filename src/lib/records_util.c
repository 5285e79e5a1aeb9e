#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "jsonpath.h"
#include "records_internal.h"
#include "records_out.h"

const char *sf_records_format_name(enum sf_records_format f)
{
    switch (f) {
    case SF_RECORDS_JSON:
        return "json";
    case SF_RECORDS_JSONL:
        return "jsonl";
    case SF_RECORDS_CSV:
        return "csv";
    }
    return NULL;
}

sf_status sf_records_format_parse(const char *name,
                                  enum sf_records_format *out)
{
    if (name == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    if (strcmp(name, "json") == 0) {
        *out = SF_RECORDS_JSON;
    } else if (strcmp(name, "jsonl") == 0 || strcmp(name, "ndjson") == 0) {
        *out = SF_RECORDS_JSONL;
    } else if (strcmp(name, "csv") == 0) {
        *out = SF_RECORDS_CSV;
    } else {
        return sf_fail(SF_ERR_INVALID_ARG, "unknown record format '%.40s'; "
                       "expected json, jsonl (or ndjson) or csv", name);
    }
    return SF_OK;
}

/* Lines before rel in the record's text, for the message. */
static uint64_t line_of(const struct rec_loc *loc, size_t rel)
{
    uint64_t line = loc->line;

    if (loc->text == NULL) {
        return line;
    }
    if (rel > loc->text_len) {
        rel = loc->text_len;
    }
    for (size_t i = 0; i < rel; i++) {
        line += loc->text[i] == '\n';
    }
    return line;
}

sf_status rec_fail(const struct rec_loc *loc, size_t rel, const char *path,
                   sf_status code, const char *fmt, ...)
{
    char msg[400];
    char where[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loc->record == 0) {
        snprintf(where, sizeof where, "%s: byte %llu",
                 loc->input != NULL ? loc->input : "<input>",
                 (unsigned long long)(loc->offset + rel));
    } else {
        snprintf(where, sizeof where, "%s: record %llu (line %llu, byte "
                 "%llu)", loc->input != NULL ? loc->input : "<input>",
                 (unsigned long long)loc->record,
                 (unsigned long long)line_of(loc, rel),
                 (unsigned long long)(loc->offset + rel));
    }
    if (path != NULL) {
        return sf_fail(code, "%s, at %.300s: %s", where, path, msg);
    }
    return sf_fail(code, "%s: %s", where, msg);
}

sf_status rec_fail_tape(const struct rec_loc *loc, const struct rec_tape *t,
                        const struct tape_error *e)
{
    struct sf_path *path = NULL;
    struct sf_buf text = SF_BUF_INIT;
    const char *shown = NULL;
    sf_status rc;

    if (e->ent != SIZE_MAX && sf_path_new(NULL, &path) == SF_OK &&
            rec_tape_path_at(t, e->ent, path) == SF_OK) {
        shown = rec_path_text(path, &text);
    }
    rc = rec_fail(loc, e->offset, shown, SF_ERR_PARSE, "%s", e->msg);
    sf_path_free(path);
    sf_buf_free(&text);
    return rc;
}

static int64_t clock_now(void)
{
    return (int64_t)time(NULL);
}

static int64_t (*clock_fn)(void) = clock_now;

int64_t rec_now(void)
{
    return clock_fn();
}

void rec_test_set_clock(int64_t (*fn)(void))
{
    clock_fn = fn != NULL ? fn : clock_now;
}

static atomic_uint fork_gen;
static bool has_fork_hook;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}

static void fork_hook(void)
{
    has_fork_hook = pthread_atfork(NULL, NULL, on_fork_child) == 0;
}

unsigned rec_fork_generation(void)
{
    pthread_once(&fork_once, fork_hook);
    /* Registering fails only for lack of memory; then the process id
     * tells a child from its parent, at the price of a system call. */
    return has_fork_hook ? atomic_load(&fork_gen) : (unsigned)getpid();
}

unsigned rec_threads(unsigned asked)
{
    long n = asked > 0 ? (long)asked : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1) {
        n = 1;
    }
    return n > SF_THREADS_MAX ? SF_THREADS_MAX : (unsigned)n;
}

const char *rec_path_text(const struct sf_path *path, struct sf_buf *buf)
{
    buf->len = 0;
    if (sf_path_render(path, buf) != SF_OK || buf->data == NULL) {
        return "$";
    }
    return (const char *)buf->data;
}

sf_status rec_path_append_member(struct sf_buf *text, const char *name,
                                 size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];

        if (c < 0x20 || c == '"' || c == '\\') {
            return sf_jsonpath_append_member(text, name, len);
        }
    }
    if (sf_buf_reserve(text, len + 4) != SF_OK) {
        return SF_ERR_NOMEM;
    }
    memcpy(text->data + text->len, "[\"", 2);
    if (len > 0) {
        memcpy(text->data + text->len + 2, name, len);
    }
    memcpy(text->data + text->len + 2 + len, "\"]", 2);
    text->len += len + 4;
    return SF_OK;
}

sf_status rec_path_append_index(struct sf_buf *text, size_t index)
{
    sf_status rc = sf_buf_put_u8(text, '[');

    if (rc == SF_OK) {
        rc = rec_put_decimal(text, index);
    }
    return rc == SF_OK ? sf_buf_put_u8(text, ']') : rc;
}

struct sf_records_class_stats *rec_stats_class(struct sf_records_stats *s,
                                               const char *name, size_t len)
{
    struct sf_records_class_stats *c;

    if (len > SF_POLICY_NAME_MAX) {
        len = SF_POLICY_NAME_MAX;
    }
    for (size_t i = 0; i < s->class_count; i++) {
        if (strlen(s->classes[i].name) == len &&
                memcmp(s->classes[i].name, name, len) == 0) {
            return &s->classes[i];
        }
    }
    if (s->class_count == SF_POLICY_CLASS_MAX) {
        return &s->classes[SF_POLICY_CLASS_MAX - 1];
    }
    c = &s->classes[s->class_count++];
    memset(c, 0, sizeof *c);
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    return c;
}

void rec_stats_add(struct sf_records_stats *sum,
                   const struct sf_records_stats *w)
{
    sum->records += w->records;
    sum->fields += w->fields;
    sum->tokens += w->tokens;
    sum->kept += w->kept;
    for (size_t i = 0; i < w->class_count; i++) {
        const struct sf_records_class_stats *a = &w->classes[i];
        struct sf_records_class_stats *b =
            rec_stats_class(sum, a->name, strlen(a->name));

        b->sealed += a->sealed;
        b->opened += a->opened;
        b->not_allowed += a->not_allowed;
        b->no_key += a->no_key;
        b->retired += a->retired;
        b->deks += a->deks;
    }
}

sf_status rec_mem_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    struct rec_membuf *m = arg;
    size_t n = m->len - m->at < cap ? m->len - m->at : cap;

    if (n > 0) {
        memcpy(buf, m->p + m->at, n);
    }
    m->at += n;
    *got = n;
    return SF_OK;
}

sf_status rec_mem_write(void *arg, const uint8_t *p, size_t len)
{
    struct rec_membuf *m = arg;

    return sf_buf_append(m->out, p, len);
}

void rec_loc_single(struct rec_loc *loc, const char *input,
                    const uint8_t *text, size_t len)
{
    memset(loc, 0, sizeof *loc);
    loc->input = input;
    loc->record = 1;
    loc->line = 1;
    loc->text = text;
    loc->text_len = len;
}

void rec_buf_rollback(struct sf_buf *out, size_t start)
{
    if (out->len > start) {
        sf_wipe(out->data + start, out->len - start);
        out->len = start;
    }
}
