#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "remote_internal.h"

/*
 * Limitation: a batch looks in the unwrap cache and fills it, but does not
 * join another thread's request in flight, so two threads opening the
 * same new ciphertexts at the same moment may both send them. Each batch
 * still sends a ciphertext once however often it repeats.
 */

/* An item the cache could not answer. */
struct pend {
    size_t idx; /* into the caller's items */
    char name[SF_REMOTE_NAME_MAX + 1];
    uint8_t key[SF_DEKCACHE_KEY_LEN];
    uint32_t version;
};

struct batch {
    struct sf_remote *r;
    struct sf_remote_item *items;
    size_t first_fail; /* lowest failing index, or SIZE_MAX */
    sf_status first_rc;
    char why[512];
};

/* Records a failure; sf_last_error() holds its explanation. */
static void item_fail(struct batch *b, size_t idx, sf_status rc)
{
    b->items[idx].status = rc;
    if (idx < b->first_fail) {
        b->first_fail = idx;
        b->first_rc = rc;
        snprintf(b->why, sizeof b->why, "%s", sf_last_error());
    }
}

static void item_ok(struct batch *b, size_t idx, const struct sf_secret *dek)
{
    sf_status rc = sf_secret_dup(dek, &b->items[idx].dek);

    b->items[idx].status = rc;
    if (rc != SF_OK) {
        item_fail(b, idx, rc);
    }
}

static bool is_same_key(const struct pend *a, const struct pend *b)
{
    return memcmp(a->key, b->key, SF_DEKCACHE_KEY_LEN) == 0;
}

static int cmp_pend(const void *pa, const void *pb)
{
    const struct pend *a = pa;
    const struct pend *b = pb;
    int c = strcmp(a->name, b->name);

    return c != 0 ? c : memcmp(a->key, b->key, SF_DEKCACHE_KEY_LEN);
}

/* Checks one item and answers it from the cache if it can. SF_ERR_NO_KEY:
 * it must go to the service (*e is filled). */
static sf_status prepare_one(struct batch *b, size_t i, struct pend *e)
{
    struct sf_remote_item *it = &b->items[i];
    struct sf_dekcache_item hit = {NULL, SF_BUF_INIT, 0};
    sf_status rc = sf_remote_name(it->name, e->name);

    if (rc == SF_OK) {
        rc = sf_remote_version_of(it->wrapped, it->wrapped_len,
                                  &e->version);
    }
    if (rc == SF_OK) {
        rc = sf_remote_unwrap_key(e->name, it->wrapped, it->wrapped_len,
                                  e->key);
    }
    if (rc == SF_OK) {
        rc = sf_dekcache_take(b->r->unwraps, e->key, 0, NULL, NULL, &hit);
    }
    if (rc == SF_OK) {
        it->status = SF_OK;
        it->dek = hit.dek;
        hit.dek = NULL;
    } else if (rc != SF_ERR_NO_KEY) {
        item_fail(b, i, rc);
    }
    e->idx = i;
    sf_dekcache_item_clear(&hit);
    return rc;
}

/* ---- one request ---------------------------------------------------- */

static json_t *batch_input(const struct batch *b, const struct pend *p,
                           size_t len)
{
    json_t *in = json_array();
    json_t *req = json_pack("{s:o}", "batch_input", in);

    for (size_t k = 0; req != NULL && k < len; k++) {
        const struct sf_remote_item *it = &b->items[p[k].idx];

        if (k > 0 && is_same_key(&p[k], &p[k - 1])) {
            continue;
        }
        if (json_array_append_new(in, json_pack("{s:s%}", "ciphertext",
                                                it->wrapped,
                                                it->wrapped_len)) != 0) {
            json_decref(req);
            req = NULL;
        }
    }
    return req;
}

/* The result for one ciphertext: a key (cached too), or a failure. */
static sf_status one_result(struct batch *b, const struct pend *e,
                            const json_t *res, struct sf_secret **dek)
{
    const char *err = json_string_value(json_object_get(res, "error"));
    struct sf_dekcache_item put = {NULL, SF_BUF_INIT, e->version};
    char text[201];
    size_t n = 0;
    sf_status rc;

    if (err == NULL) {
        rc = sf_remote_secret_of(b->r, res, 0, dek);
        if (rc == SF_OK) {
            put.dek = *dek;
            sf_dekcache_put(b->r->unwraps, e->key, &put);
        }
        return rc;
    }
    for (; err[n] != '\0' && n + 1 < sizeof text; n++) {
        unsigned char c = (unsigned char)err[n];

        text[n] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    text[n] = '\0';
    rc = strstr(text, "not found") != NULL ? SF_ERR_KEY_NOT_FOUND
                                            : SF_ERR_AUTH;
    return sf_fail(rc, "key service at %s: decrypt with key \"%s\": %s",
                   b->r->addr, e->name, text);
}

static void per_item(struct batch *b, const struct pend *p, size_t len,
                     const json_t *results)
{
    struct sf_secret *dek = NULL;
    sf_status rc = SF_ERR_INTERNAL;
    size_t q = 0;

    for (size_t k = 0; k < len; k++) {
        if (k == 0 || !is_same_key(&p[k], &p[k - 1])) {
            sf_secret_free(dek);
            dek = NULL;
            rc = one_result(b, &p[k], json_array_get(results, q++), &dek);
        }
        if (rc == SF_OK) {
            item_ok(b, p[k].idx, dek);
        } else {
            item_fail(b, p[k].idx, rc);
        }
    }
    sf_secret_free(dek);
}

/* The whole request failed: kept keys may still serve within the grace
 * period. */
static void all_fail(struct batch *b, const struct pend *p, size_t len,
                     sf_status rc)
{
    char why[512];

    snprintf(why, sizeof why, "%s", sf_last_error());
    for (size_t k = 0; k < len; k++) {
        struct sf_dekcache_item it = {NULL, SF_BUF_INIT, 0};

        if (sf_dekcache_stale(b->r->unwraps, p[k].key, rc, &it) == SF_OK) {
            item_ok(b, p[k].idx, it.dek);
        } else {
            item_fail(b, p[k].idx, sf_fail(rc, "%s", why));
        }
        sf_dekcache_item_clear(&it);
    }
}

static void send_chunk(struct batch *b, const struct pend *p, size_t len,
                       size_t unique)
{
    struct sf_rcall c = {"decrypt", p[0].name, NULL, 0, NULL};
    const json_t *results;
    sf_status rc = SF_ERR_NOMEM;

    c.req = batch_input(b, p, len);
    if (c.req != NULL) {
        rc = sf_remote_call(b->r, &c);
    }
    /* Vault answers 400 when any item failed, with every result. */
    results = json_object_get(json_object_get(c.body, "data"),
                              "batch_results");
    if ((rc == SF_OK || c.status == 400) &&
        json_array_size(results) == unique) {
        per_item(b, p, len, results);
    } else {
        if (rc == SF_OK) {
            rc = sf_fail(SF_ERR_REMOTE, "key service at %s: decrypt with "
                         "key \"%s\": answer without %zu batch results",
                         b->r->addr, p[0].name, unique);
        }
        all_fail(b, p, len, rc);
    }
    sf_rcall_clear(&c);
}

/* p[0..len) share one name and are sorted by key: sends the distinct
 * ciphertexts, batch_max per request. */
static void send_run(struct batch *b, const struct pend *p, size_t len)
{
    size_t start = 0;

    while (start < len) {
        size_t end = start;
        size_t unique = 0;

        while (end < len) {
            bool is_new = end == start || !is_same_key(&p[end], &p[end - 1]);

            if (is_new && unique == b->r->o.batch_max) {
                break;
            }
            unique += is_new ? 1 : 0;
            end++;
        }
        send_chunk(b, p + start, end - start, unique);
        start = end;
    }
}

sf_status sf_remote_decrypt_batch(struct sf_remote *r,
                                  struct sf_remote_item *items, size_t n)
{
    struct batch b = {r, items, SIZE_MAX, SF_OK, ""};
    struct pend *p;
    size_t m = 0;

    if (r == NULL || (items == NULL && n > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].dek = NULL;
        items[i].status = SF_ERR_INTERNAL;
    }
    p = calloc(n > 0 ? n : 1, sizeof *p);
    if (p == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        m += prepare_one(&b, i, &p[m]) == SF_ERR_NO_KEY ? 1 : 0;
    }
    /* Grouped by name, equal ciphertexts side by side. */
    qsort(p, m, sizeof *p, cmp_pend);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;

        while (j < m && strcmp(p[i].name, p[j].name) == 0) {
            j++;
        }
        send_run(&b, p + i, j - i);
        i = j;
    }
    free(p);
    if (b.first_fail == SIZE_MAX) {
        return SF_OK;
    }
    return sf_fail(b.first_rc, "batch item %zu: %s", b.first_fail, b.why);
}
