/*
 * Explaining a record: the walk the sealer makes, without keys, reporting
 * for each value the rule that matched, its class and how it would be
 * protected.
 */
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "error.h"
#include "records_internal.h"

struct explain {
    const struct sf_policy *policy;
    struct rec_tape tape;
    struct sf_path *path;
    struct sf_buf text;
    sf_explain_fn fn;
    void *arg;
};

static sf_status report(struct explain *x, const struct sf_policy_match *m,
                        bool is_container, const char *column,
                        const char *type)
{
    const struct sf_policy_class *c =
        sf_policy_class_at(x->policy, m->class_index);
    struct sf_field_explain f;

    f.path = rec_path_text(x->path, &x->text);
    f.column = column;
    f.match = *m;
    f.protection = c->suite == SF_POLICY_SUITE_NONE ? SF_PROTECT_CLEAR
                   : is_container                   ? SF_PROTECT_SUBTREE
                                                    : SF_PROTECT_FIELD;
    f.json_type = type;
    return x->fn(x->arg, &f);
}

static sf_status walk(struct explain *x, size_t i)
{
    const struct rec_tape *t = &x->tape;
    const struct tape_ent *e = &t->ents[i];
    bool is_container = e->kind == TAPE_MAP || e->kind == TAPE_ARRAY;
    struct sf_policy_match m;
    size_t index = 0;
    sf_status rc;

    rc = sf_policy_classify(x->policy, x->path, NULL, NULL, &m);
    if (rc != SF_OK) {
        return rc;
    }
    if (!is_container || m.is_subtree_uniform) {
        return report(x, &m, is_container, NULL, rec_tape_type_name(e->kind));
    }
    for (size_t k = i + 1; k < e->end && rc == SF_OK;
         k = e->kind == TAPE_MAP ? rec_tape_next(t, k + 1)
                                 : rec_tape_next(t, k)) {
        rc = e->kind == TAPE_MAP
                 ? sf_path_push_member(x->path, rec_tape_str(t, k),
                                       t->ents[k].len)
                 : sf_path_push_index(x->path, index++);
        if (rc == SF_OK) {
            rc = walk(x, e->kind == TAPE_MAP ? k + 1 : k);
            sf_path_pop(x->path);
        }
    }
    return rc;
}

static sf_status explain_json(struct explain *x, const uint8_t *in,
                              size_t len, bool is_lines)
{
    const struct rec_tape *t = &x->tape;
    struct rec_loc loc = {"<record>", 1, 1, 0, in, len};
    struct tape_error err;
    size_t i = 0;
    sf_status rc;

    if (is_lines) {
        const uint8_t *nl = memchr(in, '\n', len);

        len = nl != NULL ? (size_t)(nl - in) : len;
    }
    rc = rec_tape_parse(&x->tape, in, len, SF_RECORDS_DEPTH_MAX, &err);
    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&loc, &x->tape, &err);
    }
    if (rc == SF_OK && t->ents[0].kind == TAPE_ARRAY && t->n > 2) {
        i = 1;
    }
    if (rc == SF_OK && t->ents[i].kind != TAPE_MAP) {
        return rec_fail(&loc, t->ents[i].pos, NULL, SF_ERR_PARSE, "a record "
                        "must be a JSON object, found %s",
                        rec_tape_type_name(t->ents[i].kind));
    }
    for (size_t k = i + 1; rc == SF_OK && k < t->ents[i].end;
         k = rec_tape_next(t, k + 1)) {
        sf_path_clear(x->path);
        if (rec_tape_key_is(t, k, SF_RECORDS_MEMBER)) {
            continue;
        }
        rc = sf_path_push_member(x->path, rec_tape_str(t, k), t->ents[k].len);
        if (rc == SF_OK) {
            rc = walk(x, k + 1);
        }
    }
    return rc;
}

struct header {
    struct explain *x;
    bool is_done;
    sf_status rc;
};

static void on_column(void *s, size_t len, void *data)
{
    struct header *h = data;
    struct sf_policy_match m;
    char name[1024];

    if (h->is_done || h->rc != SF_OK) {
        return;
    }
    if (len >= sizeof name) {
        len = sizeof name - 1;
    }
    memcpy(name, s, len);
    name[len] = '\0';
    sf_path_clear(h->x->path);
    h->rc = sf_path_push_member(h->x->path, name, len);
    if (h->rc == SF_OK) {
        h->rc = sf_policy_classify(h->x->policy, h->x->path, name, NULL, &m);
    }
    if (h->rc == SF_OK && strcmp(name, SF_RECORDS_MEMBER) != 0) {
        h->rc = report(h->x, &m, false, name, "string");
    }
}

static void on_row(int c, void *data)
{
    struct header *h = data;

    (void)c;
    h->is_done = true;
}

/* CSV: every column of the header row. */
static sf_status explain_csv(struct explain *x, const uint8_t *in,
                             size_t len)
{
    struct header h = {x, false, SF_OK};
    struct csv_parser p;

    if (csv_init(&p, CSV_STRICT) != 0) {
        return SF_ERR_NOMEM;
    }
    if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0) {
        in += 3;
        len -= 3;
    }
    for (size_t at = 0; at < len && !h.is_done && h.rc == SF_OK;) {
        const uint8_t *nl = memchr(in + at, '\n', len - at);
        size_t n = nl != NULL ? (size_t)(nl - (in + at)) + 1 : len - at;

        if (csv_parse(&p, in + at, n, on_column, on_row, &h) != n &&
                h.rc == SF_OK) {
            h.rc = sf_fail(SF_ERR_PARSE, "<record>: malformed CSV header");
        }
        at += n;
    }
    if (!h.is_done && h.rc == SF_OK) {
        (void)csv_fini(&p, on_column, on_row, &h);
    }
    csv_free(&p);
    return h.rc;
}

sf_status sf_records_explain(const struct sf_policy *policy,
                             enum sf_records_format format,
                             const uint8_t *in, size_t len, sf_explain_fn fn,
                             void *arg)
{
    struct explain x;
    sf_status rc;

    if (policy == NULL || fn == NULL || (in == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    memset(&x, 0, sizeof x);
    x.policy = policy;
    x.fn = fn;
    x.arg = arg;
    rc = sf_path_new(policy, &x.path);
    if (rc == SF_OK && format == SF_RECORDS_CSV) {
        rc = explain_csv(&x, in, len);
    } else if (rc == SF_OK) {
        rc = explain_json(&x, in, len, format == SF_RECORDS_JSONL);
    }
    rec_tape_free(&x.tape);
    sf_path_free(x.path);
    sf_buf_free(&x.text);
    return rc;
}
