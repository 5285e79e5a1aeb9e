#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "records_seal.h"
#include "sealflow/secret.h"

/* A record's restarts after a shared DEK filled up under it; each takes a
 * fresh DEK, so more than a few means something else is wrong. */
#define SEAL_RESTART_MAX 8

/* ---- the sealer ------------------------------------------------------ */

static sf_status copy_context(struct sf_record_sealer *s,
                              const struct sf_records_seal_opts *o)
{
    sf_status rc;

    if (o->context_len == 0) {
        return SF_OK;
    }
    if (o->context == NULL || o->context_len > SF_CONTEXT_MAX) {
        return sf_fail(SF_ERR_LIMIT, "context: at most %d pairs",
                       SF_CONTEXT_MAX);
    }
    s->ctx_own = calloc(o->context_len, sizeof *s->ctx_own);
    if (s->ctx_own == NULL) {
        return SF_ERR_NOMEM;
    }
    s->ctx_len = o->context_len;
    for (size_t i = 0; i < o->context_len; i++) {
        if (o->context[i].key == NULL || o->context[i].value == NULL) {
            return SF_ERR_INVALID_ARG;
        }
        s->ctx_own[i].key = strdup(o->context[i].key);
        s->ctx_own[i].value = strdup(o->context[i].value);
        if (s->ctx_own[i].key == NULL || s->ctx_own[i].value == NULL) {
            return SF_ERR_NOMEM;
        }
    }
    rc = sf_header_context(s->ctx_own, s->ctx_len, s->hctx);
    for (size_t i = 0; rc == SF_OK && i < s->ctx_len; i++) {
        s->ctx[i].key = (const char *)s->hctx[i].key;
        s->ctx[i].value = (const char *)s->hctx[i].value;
    }
    return rc;
}

/* Every sealed class's require_context keys must be in the context. */
static sf_status check_required(const struct sf_record_sealer *s)
{
    for (size_t i = 0; i < s->class_count; i++) {
        const struct sf_policy_class *c = s->keys[i].cls;

        for (size_t k = 0; c->suite != 0 && k < c->require_context_count;
             k++) {
            size_t j = 0;

            while (j < s->ctx_len &&
                   strcmp(s->ctx[j].key, c->require_context[k]) != 0) {
                j++;
            }
            if (j == s->ctx_len) {
                return sf_fail(SF_ERR_POLICY, "%s:%u:%u: class '%s' "
                               "requires the context key '%s'; pass it "
                               "with -c %s=VALUE", sf_policy_source(s->policy),
                               c->line, c->column, c->name,
                               c->require_context[k], c->require_context[k]);
            }
        }
    }
    return SF_OK;
}

sf_status sf_record_sealer_new(const struct sf_policy *policy,
                               struct sf_keystore *ks,
                               const struct sf_records_seal_opts *opts,
                               struct sf_record_sealer **out)
{
    static const struct sf_records_seal_opts none;
    const struct sf_records_seal_opts *o = opts != NULL ? opts : &none;
    struct sf_record_sealer *s;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (policy == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return SF_ERR_NOMEM;
    }
    s->policy = policy;
    s->format = o->format != 0 ? o->format : SF_RECORDS_JSON;
    s->input = o->input_name != NULL ? o->input_name : "<input>";
    s->threads = rec_threads(o->threads);
    s->meta_col = SIZE_MAX;
    s->class_count = sf_policy_class_count(policy);
    s->keys = calloc(s->class_count, sizeof *s->keys);
    rc = s->keys == NULL ? SF_ERR_NOMEM : copy_context(s, o);
    if (rc == SF_OK && sf_records_format_name(s->format) == NULL) {
        rc = SF_ERR_INVALID_ARG;
    }
    for (size_t i = 0; rc == SF_OK && i < s->class_count; i++) {
        rc = rec_keys_init(&s->keys[i], policy, i, ks);
    }
    if (rc == SF_OK) {
        rc = check_required(s);
    }
    if (rc == SF_OK) {
        rc = rec_meta_context(&s->ctx_json, s->ctx, s->ctx_len);
    }
    if (rc != SF_OK) {
        sf_record_sealer_free(s);
        return rc;
    }
    *out = s;
    return SF_OK;
}

void sf_record_sealer_free(struct sf_record_sealer *s)
{
    if (s == NULL) {
        return;
    }
    seal_worker_free(s->single);
    for (size_t i = 0; s->keys != NULL && i < s->class_count; i++) {
        rec_keys_free(&s->keys[i]);
    }
    free(s->keys);
    for (size_t i = 0; s->ctx_own != NULL && i < s->ctx_len; i++) {
        free((void *)s->ctx_own[i].key);
        free((void *)s->ctx_own[i].value);
    }
    free(s->ctx_own);
    sf_buf_free(&s->ctx_json);
    seal_csv_free(s);
    free(s);
}

/* ---- workers ------------------------------------------------------------- */

sf_status seal_worker_new(void *eng, void **out)
{
    struct sf_record_sealer *s = eng;
    struct seal_worker *w = calloc(1, sizeof *w);
    sf_status rc;

    *out = NULL;
    if (w == NULL) {
        return SF_ERR_NOMEM;
    }
    w->s = s;
    rc = sf_path_new(s->policy, &w->path);
    if (rc != SF_OK) {
        seal_worker_free(w);
        return rc;
    }
    w->loc.input = s->input;
    *out = w;
    return SF_OK;
}

void seal_worker_free(void *arg)
{
    struct seal_worker *w = arg;

    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i < SF_POLICY_CLASS_MAX; i++) {
        rec_slot_release(&w->slots[i]);
        rec_slot_free(&w->slots[i]);
        for (size_t k = 0; k < 3; k++) {
            sf_aead_free(w->aead[k][i]);
        }
    }
    for (size_t i = 0; i < w->s->class_count; i++) {
        rec_shared_drop(&w->s->keys[i], w->held[i]);
    }
    rec_dek_pool_free(&w->deks);
    rec_tape_free(&w->tape);
    sf_path_free(w->path);
    sf_buf_free(&w->ptext);
    sf_buf_free(&w->sub);
    sf_buf_free(&w->aad);
    sf_buf_free(&w->scratch);
    sf_buf_free(&w->tok);
    sf_buf_free(&w->row);
    sf_wipe(w->rid_pool, sizeof w->rid_pool);
    free(w);
}

sf_status seal_begin(struct seal_worker *w)
{
    w->nslots = 0;
    w->restart = false;
    w->rec_fields = 0;
    sf_path_clear(w->path);
    w->ptext.len = 0;
    /* One CSPRNG call per 64 records: a record id is public, and drawing
     * them one by one cost more than sealing a small record. A forked
     * child draws its own. */
    if (w->rid_left == 0 || w->rid_fork_gen != rec_fork_generation()) {
        sf_status rc = sf_random(w->rid_pool, sizeof w->rid_pool);

        if (rc != SF_OK) {
            return rc;
        }
        w->rid_left = sizeof w->rid_pool / REC_ID_LEN;
        w->rid_fork_gen = rec_fork_generation();
    }
    w->rid_left--;
    memcpy(w->rid, w->rid_pool + w->rid_left * REC_ID_LEN, REC_ID_LEN);
    return sf_buf_append(&w->ptext, "$", 1);
}

void seal_end(struct seal_worker *w, bool is_ok)
{
    for (size_t i = 0; i < w->nslots; i++) {
        struct rec_seal_slot *slot = w->order[i];
        size_t idx = slot->ck->index;
        struct seal_class_count *c = &w->counts[idx];

        if (is_ok) {
            if (!c->is_seen) {
                c->is_seen = true;
                w->seen[w->seen_len++] = idx;
            }
            c->sealed += slot->counter;
            c->deks += slot->drew_dek;
            w->stats.tokens += slot->counter;
        }
        w->slot_of[idx] = 0;
        rec_slot_release(slot);
    }
    if (is_ok) {
        w->stats.records++;
        w->stats.fields += w->rec_fields;
    }
    w->nslots = 0;
}

/* The slot of class ck in this record, drawing its DEK on first use. */
static sf_status get_slot(struct seal_worker *w, struct rec_class_keys *ck,
                          size_t *index)
{
    uint8_t key[REC_KEY_LEN];
    struct rec_seal_slot *slot;
    struct sf_aead **a;
    size_t n;
    sf_status rc;

    if (w->slot_of[ck->index] != 0) {
        *index = w->slot_of[ck->index] - 1;
        return SF_OK;
    }
    n = w->nslots;
    slot = &w->slots[n];
    slot->ck = ck;
    rc = rec_slot_acquire(slot, &w->held[ck->index], &w->deks, w->rid,
                          w->s->hctx, w->s->ctx_len, key);
    a = &w->aead[ck->suite][n];
    if (rc == SF_OK && *a == NULL) {
        rc = sf_aead_new(rec_suite_alg(ck->suite), key, sizeof key, a);
    } else if (rc == SF_OK) {
        rc = sf_aead_rekey(*a, key, sizeof key);
    }
    sf_wipe(key, sizeof key);
    if (rc != SF_OK) {
        rec_slot_release(slot);
        return rc;
    }
    w->order[n] = slot;
    w->nslots++;
    w->slot_of[ck->index] = n + 1;
    *index = n;
    return SF_OK;
}

sf_status seal_field(struct seal_worker *w, struct rec_class_keys *ck,
                     uint8_t vtype, const uint8_t *v, size_t v_len,
                     const char *path, size_t path_len, size_t rel,
                     struct sf_buf *dst)
{
    const char *name = ck->cls->name;
    struct rec_seal_slot *slot;
    bool restart = false;
    size_t index;
    sf_status rc;

    rc = get_slot(w, ck, &index);
    if (rc != SF_OK) {
        return rc;
    }
    slot = &w->slots[index];
    if (slot->counter == SF_RECORDS_TOKENS_MAX) {
        return rec_fail(&w->loc, rel, path, SF_ERR_LIMIT, "more than %u "
                        "tokens of class '%s' in one record",
                        SF_RECORDS_TOKENS_MAX, name);
    }
    rc = rec_slot_charge(slot, 1 + (uint64_t)v_len, &restart);
    if (rc != SF_OK) {
        w->restart = restart;
        return restart ? rc : rec_fail(&w->loc, rel, path, rc, "class '%s' "
                                       "uses a shared DEK of at most %llu "
                                       "bytes, and this record alone needs "
                                       "more", name, (unsigned long long)
                                       ck->cls->limits.max_bytes);
    }
    rc = rec_field_aad(&w->aad, w->rid, name, ck->name_len, path,
                       path_len);
    if (rc == SF_OK) {
        rc = rec_token_seal(w->aead[ck->suite][index], (uint32_t)index,
                            slot->counter, w->aad.data, w->aad.len, vtype, v,
                            v_len, &w->scratch, dst);
    }
    slot->counter += rc == SF_OK;
    return rc;
}

sf_status seal_meta(struct seal_worker *w, struct sf_buf *out)
{
    return rec_meta_emit(out, w->rid, &w->s->ctx_json, w->order, w->nslots);
}

/* ---- the JSON walker --------------------------------------------------- */

static sf_status seal_value(struct seal_worker *w, size_t i);

/*
 * The walker keeps the path twice: as a struct sf_path for the policy,
 * and rendered canonically in w->ptext for the AAD, one segment appended
 * per step down, so a field's path is never rendered from the root.
 * Each push returns the text length that the matching pop restores.
 */
static sf_status push_member(struct seal_worker *w, size_t k, size_t *mark)
{
    const struct rec_tape *t = &w->tape;
    sf_status rc;

    *mark = w->ptext.len;
    rc = sf_path_push_member(w->path, rec_tape_str(t, k), t->ents[k].len);
    if (rc == SF_OK) {
        rc = rec_path_append_member(&w->ptext, rec_tape_str(t, k),
                                    t->ents[k].len);
        if (rc != SF_OK) {
            sf_path_pop(w->path);
        }
    }
    return rc;
}

static sf_status push_index(struct seal_worker *w, size_t index,
                            size_t *mark)
{
    sf_status rc;

    *mark = w->ptext.len;
    rc = sf_path_push_index(w->path, index);
    if (rc == SF_OK) {
        rc = rec_path_append_index(&w->ptext, index);
        if (rc != SF_OK) {
            sf_path_pop(w->path);
            w->ptext.len = *mark;
        }
    }
    return rc;
}

static void pop(struct seal_worker *w, size_t mark)
{
    sf_path_pop(w->path);
    w->ptext.len = mark;
}

/* The members of the object at i, each under its own path. */
static sf_status seal_members(struct seal_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    size_t mark;
    sf_status rc = SF_OK;

    for (size_t k = i + 1; k < t->ents[i].end && rc == SF_OK;
         k = rec_tape_next(t, k + 1)) {
        rec_out_key(&w->out, rec_tape_str(t, k), t->ents[k].len);
        rc = push_member(w, k, &mark);
        if (rc == SF_OK) {
            rc = seal_value(w, k + 1);
            pop(w, mark);
        }
    }
    return rc;
}

static sf_status descend(struct seal_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    size_t end = t->ents[i].end;
    size_t index = 0;
    size_t mark;
    sf_status rc = SF_OK;

    if (t->ents[i].kind == TAPE_MAP) {
        rec_out_open(&w->out, '{');
        rc = seal_members(w, i);
        rec_out_close(&w->out, '}');
        return rc;
    }
    rec_out_open(&w->out, '[');
    for (size_t k = i + 1; k < end && rc == SF_OK; k = rec_tape_next(t, k)) {
        rc = push_index(w, index++, &mark);
        if (rc == SF_OK) {
            rc = seal_value(w, k);
            pop(w, mark);
        }
    }
    rec_out_close(&w->out, ']');
    return rc;
}

/*
 * No string may start with the token prefix, clear or sealed: an opener
 * takes such a string for a token, and a value opened by one reader must
 * stay readable by the next. The check covers every string of a subtree.
 */
static sf_status check_strings(struct seal_worker *w, size_t i,
                               const char *cls)
{
    const struct rec_tape *t = &w->tape;
    struct sf_buf text = SF_BUF_INIT;
    sf_status rc;

    for (size_t k = i; k <= t->ents[i].end; k++) {
        if (t->ents[k].kind == TAPE_STRING &&
                rec_is_token(rec_tape_str(t, k), t->ents[k].len)) {
            rc = rec_tape_path_at(t, k, w->path);
            rc = rec_fail(&w->loc, t->ents[k].pos,
                          rc == SF_OK ? rec_path_text(w->path, &text) : NULL,
                          SF_ERR_PARSE, "this value (class '%s') starts with "
                          "\"%s\", so it would be read as a token; no string "
                          "value may start with it", cls, SF_TOKEN_PREFIX);
            sf_buf_free(&text);
            return rc;
        }
    }
    return SF_OK;
}

static sf_status emit_clear(struct seal_worker *w, size_t i,
                            const char *cls)
{
    sf_status rc = check_strings(w, i, cls);

    if (rc != SF_OK) {
        return rc;
    }
    w->rec_fields++;
    rec_out_tape(&w->out, &w->tape, i);
    return SF_OK;
}

static uint8_t vtype_of(uint8_t kind)
{
    switch (kind) {
    case TAPE_NUMBER:
        return REC_V_NUMBER;
    case TAPE_TRUE:
        return REC_V_TRUE;
    case TAPE_FALSE:
        return REC_V_FALSE;
    case TAPE_NULL:
        return REC_V_NULL;
    case TAPE_MAP:
        return REC_V_OBJECT;
    case TAPE_ARRAY:
        return REC_V_ARRAY;
    default:
        return REC_V_STRING;
    }
}

/* The plaintext of the value at i: a string's or number's bytes, a whole
 * subtree's compact JSON text (in w->sub), or nothing for a literal. */
static sf_status value_bytes(struct seal_worker *w, size_t i,
                             const uint8_t **v, size_t *v_len)
{
    const struct rec_tape *t = &w->tape;
    const struct tape_ent *e = &t->ents[i];
    struct rec_out sub;

    *v = NULL;
    *v_len = 0;
    if (e->kind == TAPE_MAP || e->kind == TAPE_ARRAY) {
        w->sub.len = 0;
        rec_out_init(&sub, &w->sub);
        rec_out_tape(&sub, t, i);
        *v = w->sub.data;
        *v_len = w->sub.len;
        return rec_out_status(&sub);
    }
    if (e->kind == TAPE_STRING || e->kind == TAPE_NUMBER) {
        *v = (const uint8_t *)rec_tape_str(t, i);
        *v_len = e->len;
    }
    return SF_OK;
}

static sf_status seal_here(struct seal_worker *w, size_t i,
                           struct rec_class_keys *ck)
{
    const struct tape_ent *e = &w->tape.ents[i];
    const uint8_t *v;
    size_t v_len;
    sf_status rc;

    rc = check_strings(w, i, ck->cls->name);
    if (rc == SF_OK) {
        rc = value_bytes(w, i, &v, &v_len);
    }
    if (rc == SF_OK) {
        rc = sf_buf_terminate(&w->ptext);  /* a C string for messages */
    }
    if (rc == SF_OK) {
        rec_out_value(&w->out);
        rec_out_raw(&w->out, "\"", 1);
        rc = rec_out_status(&w->out);
    }
    if (rc == SF_OK) {
        rc = seal_field(w, ck, vtype_of(e->kind), v, v_len,
                        (const char *)w->ptext.data, w->ptext.len, e->pos,
                        w->out.b);
    }
    if (e->kind == TAPE_MAP || e->kind == TAPE_ARRAY) {
        sf_buf_reset(&w->sub);  /* held plaintext */
    }
    if (rc == SF_OK) {
        w->rec_fields++;
        rec_out_raw(&w->out, "\"", 1);
    }
    return rc;
}

static sf_status seal_value(struct seal_worker *w, size_t i)
{
    const struct tape_ent *e = &w->tape.ents[i];
    bool is_container = e->kind == TAPE_MAP || e->kind == TAPE_ARRAY;
    struct sf_policy_match m;
    struct rec_class_keys *ck;
    sf_status rc;

    rc = sf_policy_classify(w->s->policy, w->path, NULL, NULL, &m);
    if (rc != SF_OK) {
        return rc;
    }
    ck = &w->s->keys[m.class_index];
    if (is_container && !m.is_subtree_uniform) {
        return descend(w, i);
    }
    if (ck->suite == 0) {
        return emit_clear(w, i, ck->cls->name);
    }
    return seal_here(w, i, ck);
}

static sf_status walk_record(struct seal_worker *w, size_t i)
{
    const struct rec_tape *t = &w->tape;
    sf_status rc;

    if (t->ents[i].kind != TAPE_MAP) {
        return rec_fail(&w->loc, t->ents[i].pos, NULL, SF_ERR_PARSE, "a "
                        "record must be a JSON object, found %s",
                        rec_tape_type_name(t->ents[i].kind));
    }
    for (size_t k = i + 1; k < t->ents[i].end; k = rec_tape_next(t, k + 1)) {
        if (rec_tape_key_is(t, k, SF_RECORDS_MEMBER)) {
            return rec_fail(&w->loc, t->ents[k].pos, NULL, SF_ERR_PARSE,
                            "the record already has a \"%s\" member: it is "
                            "sealed already (open it first)",
                            SF_RECORDS_MEMBER);
        }
    }
    rec_out_open(&w->out, '{');
    rc = seal_members(w, i);
    if (rc == SF_OK) {
        rec_out_key(&w->out, SF_RECORDS_MEMBER, strlen(SF_RECORDS_MEMBER));
        rec_out_value(&w->out);
        rc = rec_out_status(&w->out);
    }
    if (rc == SF_OK) {
        rc = seal_meta(w, w->out.b);
    }
    rec_out_close(&w->out, '}');
    return rc == SF_OK ? rec_out_status(&w->out) : rc;
}

/* Seals the record at tape entry i and appends it to out, starting over
 * with a new shared DEK when one fills up under it. On failure out is as
 * it was. */
static sf_status seal_record(struct seal_worker *w, size_t i,
                             struct sf_buf *out)
{
    size_t start = out->len;
    sf_status rc;

    for (unsigned attempt = 0;; attempt++) {
        rec_out_init(&w->out, out);
        rc = seal_begin(w);
        if (rc == SF_OK) {
            rc = walk_record(w, i);
        }
        seal_end(w, rc == SF_OK);
        if (rc != SF_OK) {
            rec_buf_rollback(out, start);
        }
        if (rc != SF_ERR_LIMIT || !w->restart) {
            break;
        }
        if (attempt == SEAL_RESTART_MAX) {
            return rec_fail(&w->loc, 0, NULL, SF_ERR_LIMIT, "shared DEKs "
                            "kept filling up while this record was sealed");
        }
    }
    return rc;
}

static sf_status seal_text(struct seal_worker *w, const uint8_t *p,
                           size_t len, struct sf_buf *out)
{
    struct tape_error err;
    sf_status rc;

    rc = rec_tape_parse(&w->tape, p, len, SF_RECORDS_DEPTH_MAX, &err);
    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&w->loc, &w->tape, &err);
    }
    if (rc == SF_OK) {
        rc = seal_record(w, 0, out);
    }
    rec_tape_clear(&w->tape);
    return rc;
}

static sf_status engine_record(void *eng, void *arg,
                               const struct rec_item *it, struct sf_buf *out)
{
    struct seal_worker *w = arg;
    size_t start = out->len;
    sf_status rc;

    (void)eng;
    w->loc = it->loc;
    if (it->nfields > 0) {
        return seal_csv_row(w, it, out);
    }
    rc = seal_text(w, it->p, it->len, out);
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, '\n');
    }
    if (rc != SF_OK) {
        rec_buf_rollback(out, start);
    }
    return rc;
}

/* A whole JSON document: one object, or an array of objects. */
static sf_status engine_doc(void *eng, void *arg, const uint8_t *p,
                            size_t len, struct sf_buf *out)
{
    struct seal_worker *w = arg;
    struct tape_error err;
    struct rec_tape *t = &w->tape;
    uint64_t n = 0;
    sf_status rc;

    (void)eng;
    w->loc.record = 0;
    w->loc.line = 1;
    w->loc.offset = 0;
    w->loc.text = p;
    w->loc.text_len = len;
    rc = rec_tape_parse(t, p, len, SF_RECORDS_DEPTH_MAX, &err);
    if (rc == SF_ERR_PARSE) {
        return rec_fail_tape(&w->loc, t, &err);
    }
    if (rc == SF_OK && t->ents[0].kind == TAPE_MAP) {
        w->loc.record = 1;
        return seal_record(w, 0, out);
    }
    if (rc == SF_OK && t->ents[0].kind != TAPE_ARRAY) {
        return rec_fail(&w->loc, t->ents[0].pos, NULL, SF_ERR_PARSE, "a "
                        "JSON document must be an object or an array of "
                        "objects, found %s",
                        rec_tape_type_name(t->ents[0].kind));
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, '[');
    }
    for (size_t k = 1; rc == SF_OK && k < t->ents[0].end;
         k = rec_tape_next(t, k)) {
        w->loc.record = ++n;
        if (n > 1) {
            rc = sf_buf_put_u8(out, ',');
        }
        if (rc == SF_OK) {
            rc = seal_record(w, k, out);
        }
    }
    return rc == SF_OK ? sf_buf_put_u8(out, ']') : rc;
}

/* Adds what the worker counted to sum, classes in order of first use. */
static void engine_stats(void *arg, struct sf_records_stats *sum)
{
    struct seal_worker *w = arg;

    for (size_t i = 0; i < w->seen_len; i++) {
        size_t idx = w->seen[i];
        const struct rec_class_keys *ck = &w->s->keys[idx];
        struct sf_records_class_stats *c =
            rec_stats_class(&w->stats, ck->cls->name, ck->name_len);

        c->sealed += w->counts[idx].sealed;
        c->deks += w->counts[idx].deks;
        memset(&w->counts[idx], 0, sizeof w->counts[idx]);
    }
    w->seen_len = 0;
    rec_stats_add(sum, &w->stats);
    memset(&w->stats, 0, sizeof w->stats);
}

static void make_engine(struct sf_record_sealer *s, struct rec_engine *e)
{
    memset(e, 0, sizeof *e);
    e->eng = s;
    e->format = s->format;
    e->input = s->input;
    e->threads = s->threads;
    e->is_output = true;
    e->worker_new = seal_worker_new;
    e->worker_free = seal_worker_free;
    e->record = engine_record;
    e->doc = engine_doc;
    e->csv_header = seal_csv_header;
    e->stats = engine_stats;
}

sf_status sf_records_seal_stream(struct sf_record_sealer *s,
                                 const struct sf_records_io *io,
                                 struct sf_records_stats *stats)
{
    struct rec_engine e;

    if (s == NULL || io == NULL || io->read == NULL || io->write == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    make_engine(s, &e);
    return rec_pipe_run(&e, io, stats);
}

sf_status sf_records_seal_buffer(struct sf_record_sealer *s,
                                 const uint8_t *in, size_t len,
                                 struct sf_buf *out,
                                 struct sf_records_stats *stats)
{
    struct rec_membuf m = {in, len, 0, out};
    struct sf_records_io io = {rec_mem_read, &m, rec_mem_write, &m};
    size_t start;
    sf_status rc;

    if (s == NULL || out == NULL || (in == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    start = out->len;
    rc = sf_records_seal_stream(s, &io, stats);
    if (rc != SF_OK) {
        rec_buf_rollback(out, start);
    }
    return rc;
}

sf_status sf_record_seal(struct sf_record_sealer *s, const uint8_t *json,
                         size_t len, struct sf_buf *out)
{
    size_t start;
    sf_status rc;

    if (s == NULL || out == NULL || (json == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    if (s->single == NULL) {
        void *w = NULL;

        rc = seal_worker_new(s, &w);
        if (rc != SF_OK) {
            return rc;
        }
        s->single = w;
    }
    rec_loc_single(&s->single->loc, s->input, json, len);
    start = out->len;
    rc = seal_text(s->single, json, len, out);
    if (rc != SF_OK) {
        rec_buf_rollback(out, start);
    }
    return rc;
}
