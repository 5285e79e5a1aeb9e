#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kdf.h"
#include "records_internal.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"

/* A DEK shared by the records of one class until a limit is reached. The
 * key bytes live in secret memory. refs and the owning class's cur
 * pointer change only under the class lock; records, bytes and is_spent
 * are atomic, so a worker that holds a reference reuses the DEK record
 * after record without the lock. */
struct rec_shared_dek {
    struct sf_secret *dek;
    uint8_t id[REC_ID_LEN];
    int64_t created;
    atomic_uint_fast64_t records;
    atomic_uint_fast64_t bytes;
    atomic_bool is_spent;
    size_t refs;
    struct rec_stanza *st;
    size_t n;
    struct sf_buf bodies;
    struct sf_buf entry;   /* its class entry of "_sealflow", rendered once */
};

/* ---- resolving keys ------------------------------------------------- */

static sf_status read_small_file(const char *path, struct sf_buf *out)
{
    FILE *f = fopen(path, "rb");
    uint8_t chunk[4096];
    size_t got;
    sf_status rc = SF_OK;

    if (f == NULL) {
        return sf_fail(SF_ERR_IO, "cannot read recipient file '%.200s'",
                       path);
    }
    while (rc == SF_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = out->len + got > 65536
                 ? sf_fail(SF_ERR_LIMIT, "recipient file '%.200s' is over "
                           "64 KiB", path)
                 : sf_buf_append(out, chunk, got);
    }
    if (rc == SF_OK && ferror(f)) {
        rc = sf_fail(SF_ERR_IO, "reading recipient file '%.200s' failed",
                     path);
    }
    fclose(f);
    return rc;
}

static sf_status resolve_ref(const struct sf_key_ref *ref,
                             struct sf_keystore *ks,
                             struct sf_recipient **out)
{
    struct sf_buf text = SF_BUF_INIT;
    sf_status rc;

    switch (ref->kind) {
    case SF_KEY_REF_LOCAL:
        if (ks == NULL) {
            return sf_fail(SF_ERR_INVALID_ARG, "it names a keystore key, "
                           "and no keystore was given");
        }
        return sf_recipient_keystore(ks, ref->value, out);
    case SF_KEY_REF_RECIPIENT:
        return sf_recipient_parse(ref->value, strlen(ref->value), out);
    case SF_KEY_REF_RECIPIENT_FILE:
        rc = read_small_file(ref->value, &text);
        if (rc == SF_OK) {
            rc = sf_recipient_parse((const char *)text.data, text.len, out);
        }
        sf_buf_free(&text);
        return rc;
    default:
        /* Limitation: kms: and hsm: keyrings are not reachable from the
         * record sealer; such a class is refused rather than sealed to
         * fewer keys than the policy names. */
        return sf_fail(SF_ERR_UNSUPPORTED, "the record sealer cannot wrap "
                       "to kms: or hsm: keys yet");
    }
}

sf_status rec_keys_init(struct rec_class_keys *ck, const struct sf_policy *p,
                        size_t i, struct sf_keystore *ks)
{
    const struct sf_policy_class *cls = sf_policy_class_at(p, i);
    sf_status rc = SF_OK;

    memset(ck, 0, sizeof *ck);
    ck->cls = cls;
    ck->index = i;
    ck->name_len = strlen(cls->name);
    ck->suite = (unsigned)cls->suite;
    if (ck->suite == 0) {
        return SF_OK;
    }
    rc = rec_meta_entry_head(&ck->head, cls->name, ck->suite);
    if (rc != SF_OK) {
        return rc;
    }
    ck->rcpts = calloc(cls->wrap_key_count + 1, sizeof *ck->rcpts);
    if (ck->rcpts == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t k = 0; k < cls->wrap_key_count && rc == SF_OK; k++) {
        const struct sf_key_ref *ref = cls->wrap_keys[k];
        char why[300];

        rc = resolve_ref(ref, ks, &ck->rcpts[k]);
        if (rc != SF_OK) {
            snprintf(why, sizeof why, "%s", sf_last_error());
            rc = sf_fail(rc, "%s:%u:%u: class '%s', key '%.100s': %s",
                         sf_policy_source(p), ref->line, ref->column,
                         cls->name, ref->text, why);
        } else {
            ck->rcpt_count++;
        }
    }
    if (rc == SF_OK && cls->dek_scope == SF_DEK_SCOPE_SHARED) {
        ck->max_age_s = cls->limits.max_age_s;
        if (cls->dek_rotation_s > 0 && cls->dek_rotation_s < ck->max_age_s) {
            ck->max_age_s = cls->dek_rotation_s;
        }
        ck->has_lock = pthread_mutex_init(&ck->lock, NULL) == 0;
        rc = ck->has_lock ? SF_OK : SF_ERR_INTERNAL;
    }
    return rc;
}

sf_status rec_ref_key_id(const struct sf_key_ref *ref,
                         char out[SF_KEY_ID_MAX + 1])
{
    uint8_t dek[SF_DEK_LEN];
    struct sf_wrap_request req = {(const uint8_t *)"", 0, dek, NULL, 0};
    struct sf_recipient *r = NULL;
    struct sf_wrapped w;
    sf_status rc;

    out[0] = '\0';
    if (ref->kind == SF_KEY_REF_LOCAL) {
        snprintf(out, SF_KEY_ID_MAX + 1, "%s", ref->value);
        return SF_OK;
    }
    if (ref->kind != SF_KEY_REF_RECIPIENT &&
            ref->kind != SF_KEY_REF_RECIPIENT_FILE) {
        return SF_ERR_UNSUPPORTED;
    }
    memset(&w, 0, sizeof w);
    rc = sf_random(dek, sizeof dek);
    if (rc == SF_OK) {
        rc = resolve_ref(ref, NULL, &r);
    }
    if (rc == SF_OK) {
        rc = sf_recipient_wrap(r, &req, &w);
    }
    if (rc == SF_OK) {
        memcpy(out, w.key_id, sizeof w.key_id);
    }
    sf_wipe(dek, sizeof dek);
    sf_buf_free(&w.body);
    sf_recipient_free(r);
    return rc;
}

static void shared_free(struct rec_shared_dek *sd)
{
    if (sd == NULL) {
        return;
    }
    sf_secret_free(sd->dek);
    free(sd->st);
    sf_buf_free(&sd->bodies);
    sf_buf_free(&sd->entry);
    free(sd);
}

void rec_keys_free(struct rec_class_keys *ck)
{
    for (size_t k = 0; k < ck->rcpt_count; k++) {
        sf_recipient_free(ck->rcpts[k]);
    }
    free(ck->rcpts);
    sf_buf_free(&ck->head);
    shared_free(ck->cur);
    if (ck->has_lock) {
        pthread_mutex_destroy(&ck->lock);
    }
    memset(ck, 0, sizeof *ck);
}

/* ---- wrapping ------------------------------------------------------------ */

/*
 * Wraps dek for every recipient of ck into *st (grown as needed) with the
 * base64url bodies in bodies. The stanza AAD is in aad.
 */
static sf_status wrap_all(const struct rec_class_keys *ck, const uint8_t *dek,
                          const struct sf_buf *aad, struct rec_stanza **st,
                          size_t *cap, struct sf_buf *bodies,
                          struct sf_buf *work)
{
    struct sf_wrap_request req = {aad->data, aad->len, dek, NULL, 0};
    size_t offs[SF_STANZA_MAX];
    sf_status rc = SF_OK;

    if (*cap < ck->rcpt_count) {
        struct rec_stanza *g = realloc(*st, ck->rcpt_count * sizeof *g);

        if (g == NULL) {
            return SF_ERR_NOMEM;
        }
        *st = g;
        *cap = ck->rcpt_count;
    }
    bodies->len = 0;
    for (size_t k = 0; k < ck->rcpt_count && rc == SF_OK; k++) {
        struct sf_wrapped w;

        memset(&w, 0, sizeof w);
        w.body = *work;  /* reuse its allocation: a wrap appends */
        w.body.len = 0;
        rc = sf_recipient_wrap(ck->rcpts[k], &req, &w);
        offs[k] = bodies->len;
        if (rc == SF_OK) {
            memcpy((*st)[k].key_id, w.key_id, sizeof w.key_id);
            (*st)[k].version = w.version;
            rc = sf_b64_encode(SF_B64_URL, w.body.data, w.body.len, bodies);
            (*st)[k].b64_len = bodies->len - offs[k];
        }
        *work = w.body;
    }
    /* Pointers only once the buffer stops growing. */
    for (size_t k = 0; k < ck->rcpt_count && rc == SF_OK; k++) {
        (*st)[k].b64 = (const char *)bodies->data + offs[k];
    }
    return rc;
}

static sf_status shared_new(struct rec_class_keys *ck,
                            const struct sf_hdr_kv *ctx, size_t ctx_len,
                            struct rec_shared_dek **out)
{
    struct rec_shared_dek *sd = calloc(1, sizeof *sd);
    struct sf_buf aad = SF_BUF_INIT;
    struct sf_buf work = SF_BUF_INIT;
    size_t cap = 0;
    sf_status rc;

    if (sd == NULL) {
        return SF_ERR_NOMEM;
    }
    atomic_init(&sd->records, 0);
    atomic_init(&sd->bytes, 0);
    atomic_init(&sd->is_spent, false);
    sd->created = rec_now();
    rc = sf_secret_random(SF_DEK_LEN, &sd->dek);
    if (rc == SF_OK) {
        rc = sf_random(sd->id, REC_ID_LEN);
    }
    if (rc == SF_OK) {
        rc = rec_stanza_aad(&aad, 2, sd->id, ck->cls->name, ck->name_len,
                            ck->suite, ctx, ctx_len);
    }
    if (rc == SF_OK) {
        rc = wrap_all(ck, sf_secret_cdata(sd->dek), &aad, &sd->st, &cap,
                      &sd->bodies, &work);
    }
    sd->n = ck->rcpt_count;
    if (rc == SF_OK) {
        rc = rec_meta_put_entry(&sd->entry, &ck->head, sd->id, sd->st,
                                sd->n);
    }
    sf_buf_free(&aad);
    sf_buf_free(&work);
    if (rc != SF_OK) {
        shared_free(sd);
        return rc;
    }
    *out = sd;
    return SF_OK;
}

static bool shared_is_usable(const struct rec_class_keys *ck,
                             const struct rec_shared_dek *sd)
{
    const struct sf_dek_limits *l = &ck->cls->limits;

    return sd != NULL && !atomic_load(&sd->is_spent) &&
           atomic_load(&sd->records) < l->max_records &&
           atomic_load(&sd->bytes) < l->max_bytes &&
           rec_now() - sd->created < (int64_t)ck->max_age_s;
}

/*
 * Counts one more record on sd when no limit is reached. Counting
 * atomically keeps max_records exact however many workers share the DEK:
 * the worker whose count passes the limit marks it spent instead.
 */
static bool shared_count(const struct rec_class_keys *ck,
                         struct rec_shared_dek *sd)
{
    if (!shared_is_usable(ck, sd)) {
        return false;
    }
    if (atomic_fetch_add(&sd->records, 1) >= ck->cls->limits.max_records) {
        atomic_store(&sd->is_spent, true);
        return false;
    }
    return true;
}

/* Under the class lock: drops one reference; a DEK that is no longer
 * current goes with its last reference. */
static void shared_unref(struct rec_class_keys *ck, struct rec_shared_dek *sd)
{
    if (sd != NULL && --sd->refs == 0 && sd != ck->cur) {
        shared_free(sd);
    }
}

void rec_shared_drop(struct rec_class_keys *ck, struct rec_shared_dek *sd)
{
    if (sd == NULL) {
        return;
    }
    pthread_mutex_lock(&ck->lock);
    shared_unref(ck, sd);
    pthread_mutex_unlock(&ck->lock);
}

/* Takes the class's current shared DEK into *held (replacing it first
 * when a limit is reached) and counts a record on it. */
static sf_status shared_take(struct rec_seal_slot *slot,
                             struct rec_shared_dek **held,
                             const struct sf_hdr_kv *ctx, size_t ctx_len)
{
    struct rec_class_keys *ck = slot->ck;
    struct rec_shared_dek *old;
    sf_status rc = SF_OK;

    /* The lock-free path: the DEK this worker holds takes the record. */
    if (shared_count(ck, *held)) {
        slot->shared = *held;
        return SF_OK;
    }
    pthread_mutex_lock(&ck->lock);
    /* The current DEK is counted as atomically as on the lock-free path,
     * which other workers may be on. A fresh one is seen by no other
     * worker before this one releases the lock, so it takes the record
     * whatever its limits. */
    if (!shared_count(ck, ck->cur)) {
        struct rec_shared_dek *fresh = NULL;

        rc = shared_new(ck, ctx, ctx_len, &fresh);
        if (rc == SF_OK) {
            old = ck->cur;
            ck->cur = fresh;
            if (old != NULL) {
                atomic_store(&old->is_spent, true);
                if (old->refs == 0) {
                    shared_free(old);
                }
            }
            atomic_fetch_add(&fresh->records, 1);
            slot->drew_dek = true;
        }
    }
    if (rc == SF_OK) {
        ck->cur->refs++;
        old = *held;
        *held = ck->cur;
        shared_unref(ck, old);
        slot->shared = ck->cur;
    }
    pthread_mutex_unlock(&ck->lock);
    return rc;
}

sf_status rec_dek_pool_draw(struct rec_dek_pool *p, uint8_t dek[SF_DEK_LEN])
{
    uint8_t *k;
    sf_status rc;

    if (p->keys == NULL) {
        rc = sf_secret_new(REC_DEK_POOL * SF_DEK_LEN, &p->keys);
        if (rc != SF_OK) {
            return rc;
        }
        p->left = 0;
    }
    /* A forked child must not take the DEKs its parent drew. */
    if (p->left == 0 || p->fork_gen != rec_fork_generation()) {
        rc = sf_random(sf_secret_data(p->keys), REC_DEK_POOL * SF_DEK_LEN);
        if (rc != SF_OK) {
            return rc;
        }
        p->left = REC_DEK_POOL;
        p->fork_gen = rec_fork_generation();
    }
    p->left--;
    k = sf_secret_data(p->keys) + p->left * SF_DEK_LEN;
    memcpy(dek, k, SF_DEK_LEN);
    sf_wipe(k, SF_DEK_LEN);
    return SF_OK;
}

void rec_dek_pool_free(struct rec_dek_pool *p)
{
    sf_secret_free(p->keys);
    p->keys = NULL;
    p->left = 0;
}

sf_status rec_slot_acquire(struct rec_seal_slot *slot,
                           struct rec_shared_dek **held,
                           struct rec_dek_pool *pool,
                           const uint8_t rid[REC_ID_LEN],
                           const struct sf_hdr_kv *ctx, size_t ctx_len,
                           uint8_t key[REC_KEY_LEN])
{
    struct rec_class_keys *ck = slot->ck;
    const char *name = ck->cls->name;
    uint8_t dek[SF_DEK_LEN];
    sf_status rc;

    slot->counter = 0;
    slot->bytes = 0;
    slot->shared = NULL;
    slot->drew_dek = false;
    if (ck->cls->dek_scope == SF_DEK_SCOPE_SHARED) {
        rc = shared_take(slot, held, ctx, ctx_len);
        if (rc == SF_OK) {
            rc = rec_field_key(ck->suite, sf_secret_cdata(slot->shared->dek),
                               rid, name, ck->name_len, key);
        }
        return rc;
    }
    rc = rec_dek_pool_draw(pool, dek);
    if (rc == SF_OK) {
        rc = rec_stanza_aad(&slot->aad, 1, rid, name, ck->name_len,
                            ck->suite, ctx, ctx_len);
    }
    if (rc == SF_OK) {
        rc = wrap_all(ck, dek, &slot->aad, &slot->stanzas,
                      &slot->stanza_cap, &slot->bodies, &slot->wrapped);
        slot->stanza_len = ck->rcpt_count;
    }
    if (rc == SF_OK) {
        rc = rec_field_key(ck->suite, dek, rid, name, ck->name_len, key);
        slot->drew_dek = true;
    }
    sf_wipe(dek, sizeof dek);
    return rc;
}

sf_status rec_slot_charge(struct rec_seal_slot *slot, uint64_t n,
                          bool *restart)
{
    uint64_t max;
    uint64_t before;

    *restart = false;
    if (slot->shared == NULL) {
        return SF_OK;
    }
    max = slot->ck->cls->limits.max_bytes;
    if (slot->bytes + n > max) {
        return SF_ERR_LIMIT;
    }
    /* Charged before the field is sealed: a DEK never protects more than
     * max_bytes, whatever the length of the input. */
    before = atomic_fetch_add(&slot->shared->bytes, n);
    if (before + n > max) {
        atomic_store(&slot->shared->is_spent, true);
        *restart = true;
        return SF_ERR_LIMIT;
    }
    slot->bytes += n;
    return SF_OK;
}

void rec_slot_release(struct rec_seal_slot *slot)
{
    slot->shared = NULL;
}

void rec_slot_free(struct rec_seal_slot *slot)
{
    free(slot->stanzas);
    sf_buf_free(&slot->bodies);
    sf_buf_free(&slot->aad);
    sf_buf_free(&slot->wrapped);
    memset(slot, 0, sizeof *slot);
}

sf_status rec_slot_entry(const struct rec_seal_slot *slot,
                         struct sf_buf *out)
{
    if (slot->shared != NULL) {
        return sf_buf_append(out, slot->shared->entry.data,
                             slot->shared->entry.len);
    }
    return rec_meta_put_entry(out, &slot->ck->head, NULL, slot->stanzas,
                              slot->stanza_len);
}

/* ---- unwrapping ---------------------------------------------------------- */

void rec_dek_cache_free(struct rec_dek_cache *c)
{
    for (size_t i = 0; i < REC_DEK_CACHE; i++) {
        sf_buf_free(&c->ents[i].key);
    }
    sf_wipe(c, sizeof *c);
}

/*
 * Appends the stanzas of class entry c after the stanza AAD in scratch:
 * the cache key. Comparing these bytes is cheaper than hashing them, and
 * an exact match is at least as strict as equal digests.
 */
static sf_status entry_key(const struct rec_meta *m,
                           const struct rec_meta_class *c,
                           struct sf_buf *scratch)
{
    sf_status rc = SF_OK;

    for (size_t k = 0; k < c->stanza_count && rc == SF_OK; k++) {
        const struct rec_stanza *s = &m->stanzas[c->stanza_first + k];

        rc = sf_buf_append(scratch, s->key_id, strlen(s->key_id) + 1);
        if (rc == SF_OK) {
            rc = sf_buf_put_u32(scratch, s->version);
        }
        if (rc == SF_OK) {
            rc = sf_buf_append(scratch, s->b64, s->b64_len);
        }
        if (rc == SF_OK) {
            rc = sf_buf_put_u8(scratch, 0);
        }
    }
    return rc;
}

static bool cache_get(struct rec_dek_cache *c, const uint8_t *key,
                      size_t key_len, bool is_digest,
                      uint8_t dek[SF_DEK_LEN])
{
    for (size_t i = 0; i < REC_DEK_CACHE; i++) {
        struct rec_dek_cache_ent *e = &c->ents[i];

        if (e->is_used && e->is_digest == is_digest &&
                e->key.len == key_len &&
                memcmp(e->key.data, key, key_len) == 0) {
            memcpy(dek, e->dek, SF_DEK_LEN);
            e->tick = ++c->tick;
            return true;
        }
    }
    return false;
}

/* Keeps dek under key, in place of the least recently used entry; when
 * the key cannot be stored the DEK is simply not cached. */
static void cache_put(struct rec_dek_cache *c, const uint8_t *key,
                      size_t key_len, bool is_digest,
                      const uint8_t dek[SF_DEK_LEN])
{
    struct rec_dek_cache_ent *e;
    size_t victim = 0;

    for (size_t i = 1; i < REC_DEK_CACHE; i++) {
        if (!c->ents[i].is_used || c->ents[i].tick < c->ents[victim].tick) {
            victim = i;
            if (!c->ents[i].is_used) {
                break;
            }
        }
    }
    e = &c->ents[victim];
    e->is_used = false;
    e->key.len = 0;
    sf_wipe(e->dek, SF_DEK_LEN);
    if (sf_buf_append(&e->key, key, key_len) != SF_OK) {
        return;
    }
    e->is_used = true;
    e->is_digest = is_digest;
    memcpy(e->dek, dek, SF_DEK_LEN);
    e->tick = ++c->tick;
}

/* Tries every identity on one stanza. */
static sf_status try_stanza(const struct rec_stanza *s,
                            struct sf_identity *const *ids, size_t n,
                            const uint8_t *aad, size_t aad_len,
                            uint8_t dek[SF_DEK_LEN], sf_status *worst)
{
    uint8_t stack[1024];
    struct sf_buf body = SF_BUF_INIT;
    struct sf_stanza st;
    sf_status rc = SF_ERR_NO_KEY;

    /* A body that fits (a symmetric or RSA-4096 wrap does) is decoded on
     * the stack: this runs once per record and class with a record DEK. */
    if (s->b64_len / 4 * 3 + 3 < sizeof stack) {
        body.data = stack;
        body.cap = sizeof stack;
    }
    st.type = rec_stanza_type(s->key_id);
    if (st.type == 0 ||
            rec_b64url_decode(s->b64, s->b64_len, &body) != SF_OK) {
        if (body.data != stack) {
            sf_buf_free(&body);  /* a failed decode may have reserved room */
        }
        return SF_ERR_NO_KEY;
    }
    st.key_id = (const uint8_t *)s->key_id;
    st.key_id_len = strlen(s->key_id);
    st.version = s->version;
    st.body = body.data;
    st.body_len = body.len;
    for (size_t i = 0; i < n && rc != SF_OK; i++) {
        struct sf_secret *sec = NULL;

        rc = sf_identity_unwrap(ids[i], &st, aad, aad_len, &sec);
        if (rc == SF_OK && sf_secret_len(sec) == SF_DEK_LEN) {
            memcpy(dek, sf_secret_cdata(sec), SF_DEK_LEN);
        } else if (rc == SF_OK) {
            rc = SF_ERR_AUTH;
        }
        sf_secret_free(sec);
        if (rc == SF_ERR_KEY_VERSION && *worst == SF_ERR_NO_KEY) {
            *worst = rc;
        } else if (rc != SF_OK && rc != SF_ERR_NO_KEY &&
                   rc != SF_ERR_KEY_VERSION) {
            *worst = rc;
        }
    }
    if (body.data != stack) {
        sf_buf_free(&body);
    }
    return rc;
}

/* The cache key of a shared entry: the bytes after the AAD in scratch,
 * or their SHA-256 in digest when they are long. */
static sf_status cache_key(const struct rec_meta *m,
                           const struct rec_meta_class *c,
                           struct sf_buf *scratch, uint8_t digest[32],
                           const uint8_t **key, size_t *key_len,
                           bool *is_digest)
{
    sf_status rc = entry_key(m, c, scratch);

    *key = scratch->data;
    *key_len = scratch->len;
    *is_digest = false;
    if (rc == SF_OK && scratch->len > REC_DEK_CACHE_KEY_MAX) {
        rc = sf_hash(SF_MD_SHA256, scratch->data, scratch->len, digest);
        *key = digest;
        *key_len = 32;
        *is_digest = true;
    }
    return rc;
}

sf_status rec_unwrap_class(const struct rec_meta *m,
                           const struct rec_meta_class *c,
                           struct sf_identity *const *ids, size_t n,
                           struct rec_dek_cache *cache,
                           struct sf_buf *scratch, uint8_t dek[SF_DEK_LEN])
{
    sf_status worst = SF_ERR_NO_KEY;
    uint8_t digest[32];
    const uint8_t *key = NULL;
    size_t key_len = 0;
    bool is_digest = false;
    size_t aad_len;
    sf_status rc;

    rc = rec_stanza_aad(scratch, c->has_dek_id ? 2 : 1,
                        c->has_dek_id ? c->dek_id : m->rid, c->name,
                        c->name_len, c->suite, m->ctx, m->ctx_len);
    aad_len = scratch->len;
    if (rc == SF_OK && c->has_dek_id) {
        rc = cache_key(m, c, scratch, digest, &key, &key_len, &is_digest);
        if (rc == SF_OK && cache_get(cache, key, key_len, is_digest, dek)) {
            return SF_OK;
        }
    }
    if (rc != SF_OK) {
        return rc;
    }
    /* scratch holds the AAD first and, for a shared entry, the key after
     * it; nothing below writes to it. */
    rc = SF_ERR_NO_KEY;
    for (size_t k = 0; k < c->stanza_count && rc != SF_OK; k++) {
        rc = try_stanza(&m->stanzas[c->stanza_first + k], ids, n,
                        scratch->data, aad_len, dek, &worst);
    }
    if (rc == SF_OK) {
        sf_clear_error();
        if (c->has_dek_id) {
            cache_put(cache, key, key_len, is_digest, dek);
        }
        return SF_OK;
    }
    if (worst == SF_ERR_NO_KEY) {
        return sf_fail(SF_ERR_NO_KEY, "no identity unwraps a stanza of "
                       "class '%.*s'", (int)c->name_len, c->name);
    }
    return worst;
}
