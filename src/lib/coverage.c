/*
 * Coverage: reads a sealed input and checks every field and every class
 * entry against the policy (docs/RECORDS.md, "Coverage report").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coverage.h"
#include "error.h"

#define COV_FINDINGS_DEFAULT 1000

struct cov_worker {
    struct sf_coverage *c;
    struct rec_tape tape;
    struct rec_tape sub;
    struct sf_path *path;
    struct sf_buf pathbuf;
    struct sf_buf raw;
    struct rec_meta meta;
    bool has_meta;
    struct rec_loc loc;
    struct cov_tally t;
};

sf_status cov_tally_init(struct cov_tally *t, size_t classes, size_t rules,
                         size_t finding_max)
{
    memset(t, 0, sizeof *t);
    t->classes = calloc(classes + 1, sizeof *t->classes);
    t->rules = calloc(rules + 1, sizeof *t->rules);
    t->findings = calloc(finding_max + 1, sizeof *t->findings);
    t->finding_max = finding_max;
    return t->classes != NULL && t->rules != NULL && t->findings != NULL
               ? SF_OK : SF_ERR_NOMEM;
}

void cov_tally_free(struct cov_tally *t)
{
    free(t->classes);
    free(t->rules);
    free(t->findings);
    memset(t, 0, sizeof *t);
}

const char *sf_finding_kind_name(enum sf_finding_kind k)
{
    static const char *const names[] = {
        NULL, "unsealed", "class_mismatch", "retired_kek",
        "rotation_overdue", "wrong_suite", "recipient_missing",
        "unknown_class", "malformed"};

    return (unsigned)k < SF_FINDING_KIND_COUNT ? names[k] : NULL;
}

/* ---- findings ------------------------------------------------------------ */

static void finding(struct cov_worker *w, enum sf_finding_kind kind,
                    const char *path, const char *cls, size_t cls_len,
                    const char *detail)
{
    struct cov_tally *t = &w->t;
    struct cov_finding *f;

    t->kinds[kind]++;
    if (t->finding_len == t->finding_max) {
        return;
    }
    f = &t->findings[t->finding_len++];
    f->kind = kind;
    f->seq = t->finding_len;
    f->record = w->loc.record;
    snprintf(f->path, sizeof f->path, "%s", path != NULL ? path : "");
    if (cls_len > SF_POLICY_NAME_MAX) {
        cls_len = SF_POLICY_NAME_MAX;
    }
    memcpy(f->cls, cls != NULL ? cls : "", cls != NULL ? cls_len : 0);
    f->cls[cls != NULL ? cls_len : 0] = '\0';
    snprintf(f->detail, sizeof f->detail, "%s", detail);
}

static struct cov_count *rule_count(struct cov_worker *w,
                                    const struct sf_policy_match *m)
{
    size_t r = m->rule_index == SF_POLICY_NO_RULE ? w->c->rule_count
                                                  : m->rule_index;

    return &w->t.rules[r];
}

/* ---- keys ---------------------------------------------------------------- */

const struct cov_key *cov_key_get(struct sf_coverage *c, const char *name)
{
    struct cov_key *k = NULL;

    pthread_mutex_lock(&c->key_lock);
    for (size_t i = 0; i < c->key_len && k == NULL; i++) {
        if (strcmp(c->keys[i].name, name) == 0) {
            k = &c->keys[i];
        }
    }
    if (k == NULL && c->key_len < c->key_cap) {
        k = &c->keys[c->key_len++];
        snprintf(k->name, sizeof k->name, "%s", name);
        k->is_found = sf_keystore_key_info(c->ks, name, &k->info) == SF_OK;
        sf_clear_error();
    }
    pthread_mutex_unlock(&c->key_lock);
    return k;
}

/* A keystore stanza is usable when its version still decrypts and the key
 * is not overdue for rotation; *why says what is wrong otherwise. */
static bool stanza_usable(struct sf_coverage *c,
                          const struct sf_policy_class *pc,
                          const struct rec_stanza *s,
                          enum sf_finding_kind *why)
{
    const struct cov_key *k = cov_key_get(c, s->key_id);
    uint64_t period;

    if (k == NULL || !k->is_found || s->version < 1 ||
            s->version > k->info.latest_version ||
            s->version < k->info.min_decryption_version) {
        *why = SF_FINDING_RETIRED_KEK;
        return false;
    }
    period = pc->kek_rotation_s != 0 ? pc->kek_rotation_s
                                     : k->info.rotation_period_s;
    if (period > 0 && c->now - k->info.latest_created_at > (int64_t)period) {
        if (*why != SF_FINDING_RETIRED_KEK) {
            *why = SF_FINDING_ROTATION_OVERDUE;
        }
        return false;
    }
    return true;
}

static void check_keks(struct cov_worker *w, const struct sf_policy_class *pc,
                       const struct rec_meta_class *e)
{
    enum sf_finding_kind why = SF_FINDING_ROTATION_OVERDUE;
    size_t local = 0;
    size_t usable = 0;

    for (size_t k = 0; k < e->stanza_count; k++) {
        const struct rec_stanza *s = &w->meta.stanzas[e->stanza_first + k];

        if (strchr(s->key_id, ':') == NULL) {
            local++;
            usable += stanza_usable(w->c, pc, s, &why);
        }
    }
    if (local > 0 && usable == 0) {
        finding(w, why, "$[\"_sealflow\"]", e->name, e->name_len,
                why == SF_FINDING_RETIRED_KEK
                    ? "every KEK version wrapping this class is retired or "
                      "gone; data may no longer open"
                    : "every KEK wrapping this class is overdue for "
                      "rotation; rotate it and rewrap");
    }
}

static void check_entry(struct cov_worker *w, const struct rec_meta_class *e)
{
    struct sf_coverage *c = w->c;
    const struct sf_policy_class *pc = NULL;
    size_t idx = 0;
    char detail[160];

    for (; idx < c->class_count && pc == NULL; idx++) {
        const struct sf_policy_class *k = sf_policy_class_at(c->policy, idx);

        if (strlen(k->name) == e->name_len &&
                memcmp(k->name, e->name, e->name_len) == 0) {
            pc = k;
        }
    }
    if (pc == NULL) {
        finding(w, SF_FINDING_UNKNOWN_CLASS, "$[\"_sealflow\"]", e->name,
                e->name_len, "the policy has no such class");
        return;
    }
    if ((unsigned)pc->suite != e->suite) {
        snprintf(detail, sizeof detail, "sealed with suite %u, the policy "
                 "says %s", e->suite, sf_policy_suite_name(pc->suite));
        finding(w, SF_FINDING_WRONG_SUITE, "$[\"_sealflow\"]", e->name,
                e->name_len, detail);
    }
    for (size_t k = 0; k < pc->wrap_key_count; k++) {
        const char *want = c->want_ids[idx - 1][k];
        bool found = want[0] == '\0';

        for (size_t s = 0; s < e->stanza_count && !found; s++) {
            found = strcmp(w->meta.stanzas[e->stanza_first + s].key_id,
                           want) == 0;
        }
        if (!found) {
            snprintf(detail, sizeof detail, "no stanza for key '%.100s'",
                     pc->wrap_keys[k]->text);
            finding(w, SF_FINDING_RECIPIENT_MISSING, "$[\"_sealflow\"]",
                    e->name, e->name_len, detail);
        }
    }
    if (c->ks != NULL) {
        check_keks(w, pc, e);
    }
}

/* ---- fields -------------------------------------------------------------- */

/* A value the policy classified as m, found at path: clear (is_token
 * false) or the token text s. */
static void check_field(struct cov_worker *w, const struct sf_policy_match *m,
                        const char *path, bool is_token, const char *s,
                        size_t len)
{
    const struct sf_policy_class *pc =
        sf_policy_class_at(w->c->policy, m->class_index);
    struct cov_count *cc = &w->t.classes[m->class_index];
    struct cov_count *rc = rule_count(w, m);
    const struct rec_meta_class *e;
    struct rec_token tok;
    char detail[160];

    cc->fields++;
    rc->fields++;
    if (!is_token || !w->has_meta) {
        if (pc->suite != SF_POLICY_SUITE_NONE) {
            cc->unsealed++;
            rc->unsealed++;
            finding(w, SF_FINDING_UNSEALED, path, pc->name, strlen(pc->name),
                    "the policy seals this field; it is clear");
        }
        return;
    }
    if (rec_token_decode(s, len, &w->raw, &tok) != SF_OK ||
            tok.slot >= w->meta.class_count) {
        finding(w, SF_FINDING_MALFORMED, path, pc->name, strlen(pc->name),
                "a malformed token");
        sf_buf_reset(&w->raw);
        return;
    }
    sf_buf_reset(&w->raw);
    e = &w->meta.classes[tok.slot];
    if (pc->suite == SF_POLICY_SUITE_NONE ||
            (strlen(pc->name) == e->name_len &&
             memcmp(pc->name, e->name, e->name_len) == 0)) {
        cc->sealed++;
        rc->sealed++;
        return;
    }
    cc->mismatched++;
    rc->mismatched++;
    snprintf(detail, sizeof detail, "sealed as '%.*s'; the policy says "
             "'%s'", (int)e->name_len, e->name, pc->name);
    finding(w, SF_FINDING_CLASS_MISMATCH, path, pc->name, strlen(pc->name),
            detail);
}

static sf_status walk(struct cov_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    const struct tape_ent *e = &t->ents[i];
    bool is_container = e->kind == TAPE_MAP || e->kind == TAPE_ARRAY;
    struct sf_policy_match m;
    size_t index = 0;
    sf_status rc;

    rc = sf_policy_classify(w->c->policy, w->path, NULL, NULL, &m);
    if (rc != SF_OK) {
        return rc;
    }
    if (!is_container || m.is_subtree_uniform) {
        bool is_token = e->kind == TAPE_STRING &&
                        rec_is_token(rec_tape_str(t, i), e->len);

        check_field(w, &m, rec_path_text(w->path, &w->pathbuf), is_token,
                    rec_tape_str(t, i), e->len);
        return SF_OK;
    }
    for (size_t k = i + 1; k < e->end && rc == SF_OK;
         k = e->kind == TAPE_MAP ? rec_tape_next(t, k + 1)
                                 : rec_tape_next(t, k)) {
        rc = e->kind == TAPE_MAP
                 ? sf_path_push_member(w->path, rec_tape_str(t, k),
                                       t->ents[k].len)
                 : sf_path_push_index(w->path, index++);
        if (rc == SF_OK) {
            rc = walk(w, e->kind == TAPE_MAP ? k + 1 : k);
            sf_path_pop(w->path);
        }
    }
    return rc;
}

static void take_meta(struct cov_worker *w, sf_status rc, const char *why)
{
    w->has_meta = rc == SF_OK;
    if (rc != SF_OK) {
        finding(w, SF_FINDING_MALFORMED, "$[\"_sealflow\"]", NULL, 0, why);
        return;
    }
    for (size_t k = 0; k < w->meta.class_count; k++) {
        check_entry(w, &w->meta.classes[k]);
    }
}

static sf_status cov_record(struct cov_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    const char *why = "";
    size_t mi = 0;
    sf_status rc = SF_OK;

    if (t->ents[i].kind != TAPE_MAP) {
        return rec_fail(&w->loc, t->ents[i].pos, NULL, SF_ERR_PARSE, "a "
                        "record must be a JSON object, found %s",
                        rec_tape_type_name(t->ents[i].kind));
    }
    w->t.records++;
    for (size_t k = i + 1; k < t->ents[i].end && mi == 0;
         k = rec_tape_next(t, k + 1)) {
        mi = rec_tape_key_is(t, k, SF_RECORDS_MEMBER) ? k + 1 : 0;
    }
    w->has_meta = false;
    if (mi != 0) {
        take_meta(w, rec_meta_parse(t, mi, &w->meta, &why), why);
    } else {
        w->t.records_unsealed++;
    }
    sf_path_clear(w->path);
    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k + 1)) {
        if (k + 1 == mi) {
            continue;
        }
        rc = sf_path_push_member(w->path, rec_tape_str(t, k), t->ents[k].len);
        if (rc == SF_OK) {
            rc = walk(w, k + 1);
            sf_path_pop(w->path);
        }
    }
    return rc;
}

/* ---- CSV ----------------------------------------------------------------- */

static sf_status cov_csv_header(void *eng, const struct rec_item *it,
                                struct sf_buf *out)
{
    struct sf_coverage *c = eng;
    struct sf_path *path = NULL;
    sf_status rc;

    (void)out;
    c->ncols = it->nfields;
    c->meta_col = SIZE_MAX;
    c->col_match = calloc(it->nfields + 1, sizeof *c->col_match);
    c->path_off = calloc(it->nfields + 1, sizeof *c->path_off);
    rc = c->col_match == NULL || c->path_off == NULL
             ? SF_ERR_NOMEM : sf_path_new(c->policy, &path);
    for (size_t k = 0; rc == SF_OK && k < it->nfields; k++) {
        const uint8_t *p;
        size_t len;
        char name[512];

        rec_item_field(it, k, &p, &len);
        snprintf(name, sizeof name, "%.*s", (int)len, (const char *)p);
        if (strcmp(name, SF_RECORDS_MEMBER) == 0) {
            c->meta_col = k;
        }
        sf_path_clear(path);
        rc = sf_path_push_member(path, (const char *)p, len);
        c->path_off[k] = c->col_text.len;
        if (rc == SF_OK) {
            rc = sf_path_render(path, &c->col_text);
        }
        if (rc == SF_OK) {
            rc = sf_buf_put_u8(&c->col_text, 0);
        }
        if (rc == SF_OK) {
            rc = sf_policy_classify(c->policy, path, name, NULL,
                                    &c->col_match[k]);
        }
    }
    sf_path_free(path);
    return rc;
}

static sf_status cov_csv_row(struct cov_worker *w, const struct rec_item *it)
{
    struct sf_coverage *c = w->c;
    const uint8_t *meta = NULL;
    size_t meta_len = 0;
    const char *why = "";

    if (it->nfields != c->ncols) {
        return rec_fail(&w->loc, 0, NULL, SF_ERR_PARSE, "the row has %zu "
                        "field(s), the header %zu", it->nfields, c->ncols);
    }
    w->t.records++;
    if (c->meta_col != SIZE_MAX) {
        rec_item_field(it, c->meta_col, &meta, &meta_len);
    }
    w->has_meta = false;
    if (meta_len > 0) {
        take_meta(w, rec_meta_parse_text(&w->sub, meta, meta_len, &w->meta,
                                         &why), why);
    } else {
        w->t.records_unsealed++;
    }
    for (size_t k = 0; k < it->nfields; k++) {
        const uint8_t *p;
        size_t len;

        if (k == c->meta_col) {
            continue;
        }
        rec_item_field(it, k, &p, &len);
        check_field(w, &c->col_match[k],
                    (const char *)c->col_text.data + c->path_off[k],
                    rec_is_token((const char *)p, len), (const char *)p,
                    len);
    }
    rec_tape_clear(&w->sub);
    return SF_OK;
}

/* ---- engine -------------------------------------------------------------- */

static void cov_worker_free(void *arg)
{
    struct cov_worker *w = arg;

    if (w == NULL) {
        return;
    }
    rec_tape_free(&w->tape);
    rec_tape_free(&w->sub);
    sf_path_free(w->path);
    sf_buf_free(&w->pathbuf);
    sf_buf_free(&w->raw);
    rec_meta_free(&w->meta);
    cov_tally_free(&w->t);
    free(w);
}

static sf_status cov_worker_new(void *eng, void **out)
{
    struct sf_coverage *c = eng;
    struct cov_worker *w = calloc(1, sizeof *w);
    sf_status rc;

    *out = NULL;
    if (w == NULL) {
        return SF_ERR_NOMEM;
    }
    w->c = c;
    w->loc.input = c->input;
    rc = cov_tally_init(&w->t, c->class_count, c->rule_count,
                        c->total.finding_max);
    if (rc == SF_OK) {
        rc = sf_path_new(c->policy, &w->path);
    }
    if (rc != SF_OK) {
        cov_worker_free(w);
        return rc;
    }
    *out = w;
    return SF_OK;
}

static sf_status cov_text(struct cov_worker *w, const uint8_t *p, size_t len)
{
    struct tape_error err;
    sf_status rc = rec_tape_parse(&w->tape, p, len, SF_RECORDS_DEPTH_MAX,
                                  &err);

    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&w->loc, &w->tape, &err);
    }
    if (rc == SF_OK) {
        rc = cov_record(w, 0);
    }
    rec_tape_clear(&w->tape);
    return rc;
}

static sf_status cov_engine_record(void *eng, void *arg,
                                   const struct rec_item *it,
                                   struct sf_buf *out)
{
    struct cov_worker *w = arg;

    (void)eng;
    (void)out;
    w->loc = it->loc;
    if (it->nfields > 0) {
        return cov_csv_row(w, it);
    }
    return cov_text(w, it->p, it->len);
}

static sf_status cov_engine_doc(void *eng, void *arg, const uint8_t *p,
                                size_t len, struct sf_buf *out)
{
    struct cov_worker *w = arg;
    struct rec_tape *t = &w->tape;
    struct tape_error err;
    sf_status rc;

    (void)eng;
    (void)out;
    memset(&w->loc, 0, sizeof w->loc);
    w->loc.input = w->c->input;
    w->loc.line = 1;
    w->loc.text = p;
    w->loc.text_len = len;
    rc = rec_tape_parse(t, p, len, SF_RECORDS_DEPTH_MAX, &err);
    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&w->loc, t, &err);
    }
    if (rc == SF_OK && t->ents[0].kind != TAPE_ARRAY) {
        w->loc.record = 1;
        return cov_record(w, 0);
    }
    for (size_t k = 1; rc == SF_OK && k < t->ents[0].end;
         k = rec_tape_next(t, k)) {
        w->loc.record++;
        rc = cov_record(w, k);
    }
    return rc;
}

static int cmp_finding(const void *a, const void *b)
{
    const struct cov_finding *x = a;
    const struct cov_finding *y = b;

    if (x->record != y->record) {
        return x->record < y->record ? -1 : 1;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void add_count(struct cov_count *to, const struct cov_count *from)
{
    to->fields += from->fields;
    to->sealed += from->sealed;
    to->unsealed += from->unsealed;
    to->mismatched += from->mismatched;
}

/* Adds a worker's tally to the total. Each worker saw its records in
 * input order and kept its first findings, so the run's first findings
 * are among those kept; the run sorts and cuts them at the end. */
static void cov_engine_stats(void *arg, struct sf_records_stats *sum)
{
    struct cov_worker *w = arg;
    struct sf_coverage *c = w->c;
    struct cov_tally *t = &c->total;
    struct cov_finding *g;

    sum->records += w->t.records;
    t->records += w->t.records;
    t->records_unsealed += w->t.records_unsealed;
    for (size_t k = 0; k < SF_FINDING_KIND_COUNT; k++) {
        t->kinds[k] += w->t.kinds[k];
    }
    for (size_t k = 0; k <= c->class_count; k++) {
        add_count(&t->classes[k], &w->t.classes[k]);
    }
    for (size_t k = 0; k <= c->rule_count; k++) {
        add_count(&t->rules[k], &w->t.rules[k]);
    }
    g = realloc(t->findings, (t->finding_len + w->t.finding_len + 1) *
                                 sizeof *g);
    if (g != NULL) {
        t->findings = g;
        memcpy(t->findings + t->finding_len, w->t.findings,
               w->t.finding_len * sizeof *w->t.findings);
        t->finding_len += w->t.finding_len;
    }
    memset(&w->t.kinds, 0, sizeof w->t.kinds);
    w->t.finding_len = 0;
}

/* ---- running ------------------------------------------------------------- */

static sf_status want_ids_init(struct sf_coverage *c)
{
    sf_status rc = SF_OK;

    c->want_ids = calloc(c->class_count + 1, sizeof *c->want_ids);
    if (c->want_ids == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < c->class_count && rc == SF_OK; i++) {
        const struct sf_policy_class *pc = sf_policy_class_at(c->policy, i);

        c->want_ids[i] = calloc(pc->wrap_key_count + 1,
                                sizeof *c->want_ids[i]);
        if (c->want_ids[i] == NULL) {
            return SF_ERR_NOMEM;
        }
        for (size_t k = 0; k < pc->wrap_key_count && rc == SF_OK; k++) {
            rc = rec_ref_key_id(pc->wrap_keys[k], c->want_ids[i][k]);
            if (rc == SF_ERR_UNSUPPORTED) {
                /* Limitation: kms: and hsm: stanzas are not checked. */
                c->want_ids[i][k][0] = '\0';
                rc = SF_OK;
            }
        }
    }
    return rc;
}

static sf_status cov_new(const struct sf_policy *policy,
                         const struct sf_coverage_opts *o,
                         struct sf_coverage **out)
{
    struct sf_coverage *c = calloc(1, sizeof *c);
    sf_status rc;

    *out = NULL;
    if (c == NULL) {
        return SF_ERR_NOMEM;
    }
    c->policy = policy;
    c->format = o->format != 0 ? o->format : SF_RECORDS_JSON;
    c->input = o->input_name != NULL ? o->input_name : "<input>";
    c->ks = o->ks;
    c->now = o->now != 0 ? o->now : (int64_t)time(NULL);
    c->class_count = sf_policy_class_count(policy);
    c->rule_count = sf_policy_rule_count(policy);
    c->meta_col = SIZE_MAX;
    c->key_cap = 1024;
    c->keys = calloc(c->key_cap, sizeof *c->keys);
    pthread_mutex_init(&c->key_lock, NULL);
    rc = c->keys == NULL ? SF_ERR_NOMEM
                         : cov_tally_init(&c->total, c->class_count,
                                          c->rule_count,
                                          o->finding_max != 0
                                              ? o->finding_max
                                              : COV_FINDINGS_DEFAULT);
    if (rc == SF_OK) {
        rc = want_ids_init(c);
    }
    if (rc != SF_OK) {
        sf_coverage_free(c);
        return rc;
    }
    *out = c;
    return SF_OK;
}

sf_status sf_coverage_run(const struct sf_policy *policy,
                          const struct sf_coverage_opts *opts,
                          const struct sf_records_io *io,
                          struct sf_coverage **out)
{
    static const struct sf_coverage_opts none;
    const struct sf_coverage_opts *o = opts != NULL ? opts : &none;
    struct sf_records_stats *st = NULL;
    struct sf_coverage *c = NULL;
    struct rec_engine e;
    size_t cap;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (policy == NULL || io == NULL || io->read == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = cov_new(policy, o, &c);
    st = rc == SF_OK ? calloc(1, sizeof *st) : NULL;
    if (rc == SF_OK && st == NULL) {
        rc = SF_ERR_NOMEM;
    }
    if (rc == SF_OK) {
        memset(&e, 0, sizeof e);
        e.eng = c;
        e.format = c->format;
        e.input = c->input;
        e.threads = rec_threads(o->threads);
        e.worker_new = cov_worker_new;
        e.worker_free = cov_worker_free;
        e.record = cov_engine_record;
        e.doc = cov_engine_doc;
        e.csv_header = cov_csv_header;
        e.stats = cov_engine_stats;
        cap = c->total.finding_max;
        rc = rec_pipe_run(&e, io, st);
        qsort(c->total.findings, c->total.finding_len,
              sizeof *c->total.findings, cmp_finding);
        if (c->total.finding_len > cap) {
            c->total.finding_len = cap;
        }
    }
    free(st);
    if (rc != SF_OK) {
        sf_coverage_free(c);
        return rc;
    }
    *out = c;
    return SF_OK;
}

sf_status sf_coverage_run_buffer(const struct sf_policy *policy,
                                 const struct sf_coverage_opts *opts,
                                 const uint8_t *in, size_t len,
                                 struct sf_coverage **out)
{
    struct rec_membuf m = {in, len, 0, NULL};
    struct sf_records_io io = {rec_mem_read, &m, NULL, NULL};

    if (in == NULL && len > 0) {
        return SF_ERR_INVALID_ARG;
    }
    return sf_coverage_run(policy, opts, &io, out);
}

uint64_t sf_coverage_violations(const struct sf_coverage *c)
{
    uint64_t n = 0;

    for (size_t k = 0; c != NULL && k < SF_FINDING_KIND_COUNT; k++) {
        n += c->total.kinds[k];
    }
    return n;
}

uint64_t sf_coverage_count(const struct sf_coverage *c,
                           enum sf_finding_kind k)
{
    return c != NULL && (unsigned)k < SF_FINDING_KIND_COUNT
               ? c->total.kinds[k] : 0;
}

void sf_coverage_free(struct sf_coverage *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; c->want_ids != NULL && i < c->class_count; i++) {
        free(c->want_ids[i]);
    }
    free(c->want_ids);
    free(c->keys);
    pthread_mutex_destroy(&c->key_lock);
    cov_tally_free(&c->total);
    free(c->col_match);
    free(c->path_off);
    sf_buf_free(&c->col_text);
    free(c);
}
