#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "records_open.h"
#include "sealflow/secret.h"

/* ---- the opener -------------------------------------------------------- */

static sf_status check_readers(const struct sf_records_open_opts *o)
{
    if (o->reader_count == 0) {
        return SF_OK;
    }
    if (o->policy == NULL || o->readers == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "opening as a reader needs the "
                       "policy that names the reader");
    }
    for (size_t i = 0; i < o->reader_count; i++) {
        if (o->readers[i] == NULL ||
                sf_policy_reader_find(o->policy, o->readers[i]) == NULL) {
            return sf_fail(SF_ERR_POLICY, "%s: no stage or partner named "
                           "'%.64s'", sf_policy_source(o->policy),
                           o->readers[i] != NULL ? o->readers[i] : "");
        }
    }
    return SF_OK;
}

static sf_status copy_setup(struct sf_record_opener *op,
                            const struct sf_records_open_opts *o,
                            struct sf_identity *const *ids, size_t n)
{
    op->ids = calloc(n + 1, sizeof *op->ids);
    op->readers = calloc(o->reader_count + 1, sizeof *op->readers);
    if (op->ids == NULL || op->readers == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        op->ids[i] = ids[i];
    }
    op->id_count = n;
    for (size_t i = 0; i < o->reader_count; i++) {
        op->readers[i] = strdup(o->readers[i]);
        if (op->readers[i] == NULL) {
            return SF_ERR_NOMEM;
        }
        op->reader_count++;
    }
    return SF_OK;
}

sf_status sf_record_opener_new(const struct sf_records_open_opts *opts,
                               struct sf_identity *const *ids, size_t n,
                               struct sf_record_opener **out)
{
    static const struct sf_records_open_opts none;
    const struct sf_records_open_opts *o = opts != NULL ? opts : &none;
    struct sf_record_opener *op;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (n > 0 && ids == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = check_readers(o);
    if (rc != SF_OK) {
        return rc;
    }
    op = calloc(1, sizeof *op);
    if (op == NULL) {
        return SF_ERR_NOMEM;
    }
    op->policy = o->policy;
    op->format = o->format != 0 ? o->format : SF_RECORDS_JSON;
    op->input = o->input_name != NULL ? o->input_name : "<input>";
    op->threads = rec_threads(o->threads);
    op->is_strict = o->is_strict;
    op->meta_col = SIZE_MAX;
    rc = sf_records_format_name(op->format) == NULL
             ? SF_ERR_INVALID_ARG : copy_setup(op, o, ids, n);
    if (rc != SF_OK) {
        sf_record_opener_free(op);
        return rc;
    }
    *out = op;
    return SF_OK;
}

void sf_record_opener_free(struct sf_record_opener *o)
{
    if (o == NULL) {
        return;
    }
    open_worker_free(o->single);
    for (size_t i = 0; i < o->reader_count; i++) {
        free(o->readers[i]);
    }
    free(o->readers);
    free(o->ids);
    open_csv_free(o);
    free(o);
}

/* ---- workers ------------------------------------------------------------- */

sf_status open_worker_new(void *eng, void **out)
{
    struct open_worker *w = calloc(1, sizeof *w);

    *out = NULL;
    if (w == NULL) {
        return SF_ERR_NOMEM;
    }
    w->o = eng;
    w->loc.input = w->o->input;
    *out = w;
    return SF_OK;
}

void open_worker_free(void *arg)
{
    struct open_worker *w = arg;

    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i < SF_POLICY_CLASS_MAX; i++) {
        for (size_t k = 0; k < 3; k++) {
            sf_aead_free(w->aead[k][i]);
        }
    }
    rec_tape_free(&w->tape);
    rec_tape_free(&w->sub);
    sf_buf_free(&w->ptext);
    sf_buf_free(&w->aad);
    sf_buf_free(&w->raw);
    sf_buf_free(&w->scratch);
    sf_buf_free(&w->row);
    rec_meta_free(&w->meta);
    rec_dek_cache_free(&w->cache);
    free(w);
}

void open_begin(struct open_worker *w)
{
    memset(w->state, 0, w->meta.class_count);
    memset(w->cst, 0, w->meta.class_count * sizeof *w->cst);
    w->rec_kept = 0;
}

/* The counters of class entry slot of the current record. */
static struct sf_records_class_stats *slot_stats(struct open_worker *w,
                                                 size_t slot)
{
    const struct rec_meta_class *c = &w->meta.classes[slot];

    if (w->cst[slot] == NULL) {
        w->cst[slot] = rec_stats_class(&w->stats, c->name, c->name_len);
    }
    return w->cst[slot];
}

/* Whether some reader may see the class (true when no reader is named). */
static bool is_allowed(const struct sf_record_opener *o,
                       const struct rec_meta_class *c)
{
    size_t n = o->policy != NULL ? sf_policy_class_count(o->policy) : 0;
    size_t idx = SIZE_MAX;

    if (o->reader_count == 0) {
        return true;
    }
    for (size_t i = 0; i < n && idx == SIZE_MAX; i++) {
        const char *name = sf_policy_class_at(o->policy, i)->name;

        if (strlen(name) == c->name_len &&
                memcmp(name, c->name, c->name_len) == 0) {
            idx = i;
        }
    }
    for (size_t r = 0; idx != SIZE_MAX && r < o->reader_count; r++) {
        if (sf_policy_reader_can_see(o->policy, o->readers[r], idx)) {
            return true;
        }
    }
    return false;
}

/* Decides, once per record and class, whether its tokens open. */
static sf_status resolve(struct open_worker *w, size_t slot, size_t rel,
                         const char *path)
{
    const struct rec_meta_class *c = &w->meta.classes[slot];
    struct sf_aead **a = &w->aead[c->suite][slot];
    uint8_t dek[SF_DEK_LEN];
    uint8_t key[REC_KEY_LEN];
    sf_status rc;

    if (!is_allowed(w->o, c)) {
        w->state[slot] = OPEN_NOT_ALLOWED;
        return SF_OK;
    }
    rc = rec_unwrap_class(&w->meta, c, w->o->ids, w->o->id_count,
                          &w->cache, &w->scratch, dek);
    if (rc == SF_ERR_NO_KEY || rc == SF_ERR_KEY_VERSION) {
        w->state[slot] = rc == SF_ERR_NO_KEY ? OPEN_NO_KEY : OPEN_RETIRED;
        return SF_OK;
    }
    if (rc == SF_ERR_AUTH) {
        return rec_fail(&w->loc, rel, path, SF_ERR_AUTH, "the \"%s\" "
                        "stanzas of class '%.*s' do not authenticate: the "
                        "class name, its context or its stanzas were "
                        "changed", SF_RECORDS_MEMBER, (int)c->name_len,
                        c->name);
    }
    if (rc == SF_OK) {
        rc = rec_field_key(c->suite, dek, w->meta.rid, c->name, c->name_len,
                           key);
    }
    if (rc == SF_OK && *a == NULL) {
        rc = sf_aead_new(rec_suite_alg(c->suite), key, sizeof key, a);
    } else if (rc == SF_OK) {
        rc = sf_aead_rekey(*a, key, sizeof key);
    }
    sf_wipe(dek, sizeof dek);
    sf_wipe(key, sizeof key);
    if (rc == SF_OK) {
        w->state[slot] = OPEN_YES;
        slot_stats(w, slot)->deks++;
    }
    return rc;
}

/* Counts a token that stays sealed, or fails in strict mode. */
static sf_status keep(struct open_worker *w, size_t slot, size_t rel,
                      const char *path)
{
    const struct rec_meta_class *c = &w->meta.classes[slot];
    struct sf_records_class_stats *st = slot_stats(w, slot);
    uint8_t s = w->state[slot];

    if (w->o->is_strict) {
        return rec_fail(&w->loc, rel, path,
                        s == OPEN_NOT_ALLOWED ? SF_ERR_DENIED
                        : s == OPEN_RETIRED   ? SF_ERR_KEY_VERSION
                                              : SF_ERR_NO_KEY,
                        "a token of class '%.*s' stays sealed: %s",
                        (int)c->name_len, c->name,
                        s == OPEN_NOT_ALLOWED
                            ? "the policy lets no given reader see it"
                        : s == OPEN_RETIRED
                            ? "its KEK version is retired"
                            : "no identity unwraps its data key");
    }
    st->not_allowed += s == OPEN_NOT_ALLOWED;
    st->retired += s == OPEN_RETIRED;
    st->no_key += s == OPEN_NO_KEY;
    w->stats.kept++;
    w->rec_kept++;
    return SF_OK;
}

sf_status open_token(struct open_worker *w, const char *s, size_t len,
                     const char *path, size_t path_len, size_t rel,
                     const uint8_t **pt, size_t *pt_len)
{
    struct rec_token tok;
    const struct rec_meta_class *c;
    sf_status rc;

    *pt = NULL;
    *pt_len = 0;
    w->stats.tokens++;
    if (rec_token_decode(s, len, &w->raw, &tok) != SF_OK) {
        return rec_fail(&w->loc, rel, path, SF_ERR_FORMAT, "a malformed "
                        "token");
    }
    if (tok.slot >= w->meta.class_count) {
        return rec_fail(&w->loc, rel, path, SF_ERR_AUTH, "the token names "
                        "class entry %u, and \"%s\" lists %zu", tok.slot,
                        SF_RECORDS_MEMBER, w->meta.class_count);
    }
    c = &w->meta.classes[tok.slot];
    rc = w->state[tok.slot] == OPEN_UNRESOLVED
             ? resolve(w, tok.slot, rel, path) : SF_OK;
    if (rc != SF_OK || w->state[tok.slot] != OPEN_YES) {
        return rc != SF_OK ? rc : keep(w, tok.slot, rel, path);
    }
    rc = rec_field_aad(&w->aad, w->meta.rid, c->name, c->name_len, path,
                       path_len);
    if (rc == SF_OK &&
            rec_token_open(w->aead[c->suite][tok.slot], &tok, w->aad.data,
                           w->aad.len) != SF_OK) {
        return rec_fail(&w->loc, rel, path, SF_ERR_AUTH, "the token of class "
                        "'%.*s' does not authenticate here: it was moved "
                        "from another field or record, or edited",
                        (int)c->name_len, c->name);
    }
    if (rc == SF_OK) {
        *pt = tok.ct;
        *pt_len = tok.ct_len;
        slot_stats(w, tok.slot)->opened++;
    }
    return rc;
}

/* ---- the JSON walker ----------------------------------------------------- */

/* Writes an opened value of the given type; the sealer wrote it, but it
 * is checked again so the output is always well-formed JSON. */
static sf_status emit_value(struct open_worker *w, const uint8_t *pt,
                            size_t len, size_t rel, const char *path)
{
    const uint8_t *v = pt + 1;
    size_t n = len - 1;
    size_t room = SF_RECORDS_DEPTH_MAX - w->depth;
    struct tape_error err;

    switch (pt[0]) {
    case REC_V_STRING:
        if (!rec_utf8_is_valid(v, n)) {
            return rec_fail(&w->loc, rel, path, SF_ERR_FORMAT, "the sealed "
                            "string is not valid UTF-8");
        }
        rec_out_string(&w->out, v, n);
        return SF_OK;
    case REC_V_NUMBER:
        if (!rec_number_is_valid((const char *)v, n)) {
            return rec_fail(&w->loc, rel, path, SF_ERR_FORMAT, "the sealed "
                            "number is malformed");
        }
        rec_out_number(&w->out, (const char *)v, n);
        return SF_OK;
    case REC_V_TRUE:
    case REC_V_FALSE:
        if (n != 0) {
            return SF_ERR_FORMAT;
        }
        rec_out_bool(&w->out, pt[0] == REC_V_TRUE);
        return SF_OK;
    case REC_V_NULL:
        if (n != 0) {
            return SF_ERR_FORMAT;
        }
        rec_out_null(&w->out);
        return SF_OK;
    case REC_V_OBJECT:
    case REC_V_ARRAY:
        if (rec_tape_parse(&w->sub, v, n, room, &err) != SF_OK ||
                w->sub.ents[0].kind != (pt[0] == REC_V_OBJECT ? TAPE_MAP
                                                              : TAPE_ARRAY)) {
            rec_tape_clear(&w->sub);
            return rec_fail(&w->loc, rel, path, SF_ERR_FORMAT, "the sealed "
                            "subtree is malformed or too deep");
        }
        rec_out_tape(&w->out, &w->sub, 0);
        rec_tape_clear(&w->sub);
        return SF_OK;
    default:
        return rec_fail(&w->loc, rel, path, SF_ERR_UNSUPPORTED, "a sealed "
                        "value of unknown type %u", pt[0]);
    }
}

static sf_status open_string(struct open_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    const char *s = rec_tape_str(t, i);
    const char *path;
    const uint8_t *pt;
    size_t pt_len;
    sf_status rc;

    rc = sf_buf_terminate(&w->ptext);  /* a C string for messages */
    if (rc != SF_OK) {
        return rc;
    }
    path = (const char *)w->ptext.data;
    rc = open_token(w, s, t->ents[i].len, path, w->ptext.len,
                    t->ents[i].pos, &pt, &pt_len);
    if (rc == SF_OK && pt == NULL) {
        rec_out_string(&w->out, (const uint8_t *)s, t->ents[i].len);
        return SF_OK;
    }
    if (rc == SF_OK) {
        rc = emit_value(w, pt, pt_len, t->ents[i].pos, path);
    }
    sf_buf_reset(&w->raw);
    return rc;
}

static sf_status open_value(struct open_worker *w, size_t i);

/* Opens the value of member k (a KEY entry) under its path. */
static sf_status open_member(struct open_worker *w, size_t k)
{
    const struct rec_tape *t = &w->tape;
    size_t mark = w->ptext.len;
    sf_status rc;

    rec_out_key(&w->out, rec_tape_str(t, k), t->ents[k].len);
    rc = rec_path_append_member(&w->ptext, rec_tape_str(t, k),
                                t->ents[k].len);
    if (rc == SF_OK) {
        w->depth++;
        rc = open_value(w, k + 1);
        w->depth--;
    }
    w->ptext.len = mark;
    return rc;
}

static sf_status open_elements(struct open_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    size_t index = 0;
    sf_status rc = SF_OK;

    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k)) {
        size_t mark = w->ptext.len;

        rc = rec_path_append_index(&w->ptext, index++);
        if (rc == SF_OK) {
            w->depth++;
            rc = open_value(w, k);
            w->depth--;
        }
        w->ptext.len = mark;
    }
    return rc;
}

static sf_status open_value(struct open_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    sf_status rc = SF_OK;

    switch (t->ents[i].kind) {
    case TAPE_STRING:
        if (rec_is_token(rec_tape_str(t, i), t->ents[i].len)) {
            return open_string(w, i);
        }
        break;
    case TAPE_MAP:
        rec_out_open(&w->out, '{');
        for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
             k = rec_tape_next(t, k + 1)) {
            rc = open_member(w, k);
        }
        rec_out_close(&w->out, '}');
        return rc;
    case TAPE_ARRAY:
        rec_out_open(&w->out, '[');
        rc = open_elements(w, i);
        rec_out_close(&w->out, ']');
        return rc;
    default:
        break;
    }
    rec_out_tape(&w->out, t, i);
    return SF_OK;
}

/* Index of the "_sealflow" value of the record at i, or 0. */
static size_t find_meta(const struct rec_tape *t, size_t i)
{
    for (size_t k = i + 1; k < t->ents[i].end; k = rec_tape_next(t, k + 1)) {
        if (rec_tape_key_is(t, k, SF_RECORDS_MEMBER)) {
            return k + 1;
        }
    }
    return 0;
}

static sf_status walk_record(struct open_worker *w, size_t i, size_t mi)
{
    const struct rec_tape *t = &w->tape;
    const char *why;
    sf_status rc;

    rc = rec_meta_parse(t, mi, &w->meta, &why);
    if (rc != SF_OK) {
        return rc == SF_ERR_NOMEM ? rc : rec_fail(&w->loc, t->ents[mi].pos,
                                                  NULL, rc, "%s", why);
    }
    open_begin(w);
    w->ptext.len = 0;
    w->depth = 0;
    rc = sf_buf_put_u8(&w->ptext, '$');
    rec_out_open(&w->out, '{');
    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k + 1)) {
        if (k + 1 != mi) {
            rc = open_member(w, k);
        }
    }
    /* Tokens left sealed still need their classes' stanzas. */
    if (rc == SF_OK && w->rec_kept > 0) {
        rec_out_key(&w->out, SF_RECORDS_MEMBER, strlen(SF_RECORDS_MEMBER));
        rec_out_tape(&w->out, t, mi);
    }
    rec_out_close(&w->out, '}');
    return rc == SF_OK ? rec_out_status(&w->out) : rc;
}

/* Opens the record at tape entry i and appends it to out; on failure out
 * is as it was. */
static sf_status open_record(struct open_worker *w, size_t i,
                             struct sf_buf *out)
{
    const struct rec_tape *t = &w->tape;
    size_t start = out->len;
    size_t mi;
    sf_status rc;

    if (t->ents[i].kind != TAPE_MAP) {
        return rec_fail(&w->loc, t->ents[i].pos, NULL, SF_ERR_PARSE, "a "
                        "record must be a JSON object, found %s",
                        rec_tape_type_name(t->ents[i].kind));
    }
    rec_out_init(&w->out, out);
    mi = find_meta(t, i);
    if (mi == 0) {
        rec_out_tape(&w->out, t, i);
        rc = rec_out_status(&w->out);
    } else {
        rc = walk_record(w, i, mi);
    }
    if (rc == SF_OK) {
        w->stats.records++;
    } else {
        rec_buf_rollback(out, start);
    }
    return rc;
}

static sf_status open_text(struct open_worker *w, const uint8_t *p,
                           size_t len, struct sf_buf *out)
{
    struct tape_error err;
    sf_status rc;

    rc = rec_tape_parse(&w->tape, p, len, SF_RECORDS_DEPTH_MAX, &err);
    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&w->loc, &w->tape, &err);
    }
    if (rc == SF_OK) {
        rc = open_record(w, 0, out);
    }
    rec_tape_clear(&w->tape);
    return rc;
}

static sf_status engine_record(void *eng, void *arg,
                               const struct rec_item *it, struct sf_buf *out)
{
    struct open_worker *w = arg;
    size_t start = out->len;
    sf_status rc;

    (void)eng;
    w->loc = it->loc;
    if (it->nfields > 0) {
        return open_csv_row(w, it, out);
    }
    rc = open_text(w, it->p, it->len, out);
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, '\n');
    }
    if (rc != SF_OK) {
        rec_buf_rollback(out, start);
    }
    return rc;
}

static sf_status engine_doc(void *eng, void *arg, const uint8_t *p,
                            size_t len, struct sf_buf *out)
{
    struct open_worker *w = arg;
    struct rec_tape *t = &w->tape;
    struct tape_error err;
    uint64_t n = 0;
    sf_status rc;

    (void)eng;
    memset(&w->loc, 0, sizeof w->loc);
    w->loc.input = w->o->input;
    w->loc.line = 1;
    w->loc.text = p;
    w->loc.text_len = len;
    rc = rec_tape_parse(t, p, len, SF_RECORDS_DEPTH_MAX, &err);
    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&w->loc, t, &err);
    }
    if (rc == SF_OK && t->ents[0].kind != TAPE_ARRAY) {
        w->loc.record = 1;
        return open_record(w, 0, out);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, '[');
    }
    for (size_t k = 1; rc == SF_OK && k < t->ents[0].end;
         k = rec_tape_next(t, k)) {
        w->loc.record = ++n;
        rc = n > 1 ? sf_buf_put_u8(out, ',') : SF_OK;
        if (rc == SF_OK) {
            rc = open_record(w, k, out);
        }
    }
    return rc == SF_OK ? sf_buf_put_u8(out, ']') : rc;
}

static void engine_stats(void *arg, struct sf_records_stats *sum)
{
    struct open_worker *w = arg;

    rec_stats_add(sum, &w->stats);
    memset(&w->stats, 0, sizeof w->stats);
}

sf_status sf_records_open_stream(struct sf_record_opener *o,
                                 const struct sf_records_io *io,
                                 struct sf_records_stats *stats)
{
    struct rec_engine e;

    if (o == NULL || io == NULL || io->read == NULL || io->write == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(&e, 0, sizeof e);
    e.eng = o;
    e.format = o->format;
    e.input = o->input;
    e.threads = o->threads;
    e.is_output = true;
    e.worker_new = open_worker_new;
    e.worker_free = open_worker_free;
    e.record = engine_record;
    e.doc = engine_doc;
    e.csv_header = open_csv_header;
    e.stats = engine_stats;
    return rec_pipe_run(&e, io, stats);
}

sf_status sf_records_open_buffer(struct sf_record_opener *o,
                                 const uint8_t *in, size_t len,
                                 struct sf_buf *out,
                                 struct sf_records_stats *stats)
{
    struct rec_membuf m = {in, len, 0, out};
    struct sf_records_io io = {rec_mem_read, &m, rec_mem_write, &m};
    size_t start;
    sf_status rc;

    if (o == NULL || out == NULL || (in == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    start = out->len;
    rc = sf_records_open_stream(o, &io, stats);
    if (rc != SF_OK) {
        rec_buf_rollback(out, start);
    }
    return rc;
}

sf_status sf_record_open(struct sf_record_opener *o, const uint8_t *json,
                         size_t len, struct sf_buf *out)
{
    size_t start;
    sf_status rc;

    if (o == NULL || out == NULL || (json == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (o->single == NULL) {
        void *w = NULL;

        rc = open_worker_new(o, &w);
        if (rc != SF_OK) {
            return rc;
        }
        o->single = w;
    }
    rec_loc_single(&o->single->loc, o->input, json, len);
    start = out->len;
    rc = open_text(o->single, json, len, out);
    if (rc != SF_OK) {
        rec_buf_rollback(out, start);
    }
    return rc;
}
