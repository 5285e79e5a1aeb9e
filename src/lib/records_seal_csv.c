#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "records_seal.h"
#include "sealflow/secret.h"

#define SEAL_RESTART_MAX 8

void seal_csv_free(struct sf_record_sealer *s)
{
    free(s->cols);
    s->cols = NULL;
    sf_buf_free(&s->col_text);
}

static const char *col_name(const struct sf_record_sealer *s, size_t k)
{
    return (const char *)s->col_text.data + s->cols[k].name_off;
}

static const char *col_path(const struct sf_record_sealer *s, size_t k)
{
    return (const char *)s->col_text.data + s->cols[k].path_off;
}

/* Classifies column k by its name (column rules) and by the path
 * $["NAME"] (path rules), and keeps the rendered path for the AAD. */
static sf_status add_column(struct sf_record_sealer *s, struct sf_path *path,
                            size_t k, const uint8_t *p, size_t len)
{
    struct seal_col *c = &s->cols[k];
    sf_status rc;

    c->name_off = s->col_text.len;
    c->name_len = len;
    rc = sf_buf_append(&s->col_text, p, len);
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(&s->col_text, 0);
    }
    sf_path_clear(path);
    if (rc == SF_OK) {
        rc = sf_path_push_member(path, (const char *)p, len);
    }
    c->path_off = s->col_text.len;
    if (rc == SF_OK) {
        rc = sf_path_render(path, &s->col_text);
    }
    c->path_len = s->col_text.len - c->path_off;
    if (rc == SF_OK) {
        rc = sf_buf_put_u8(&s->col_text, 0);
    }
    if (rc == SF_OK) {
        rc = sf_policy_classify(s->policy, path, col_name(s, k), NULL,
                                &c->match);
    }
    return rc;
}

static sf_status check_header(struct sf_record_sealer *s,
                              const struct rec_item *it)
{
    for (size_t k = 0; k < it->nfields; k++) {
        const uint8_t *p;
        size_t len;

        rec_item_field(it, k, &p, &len);
        if (!rec_utf8_is_valid(p, len) || memchr(p, 0, len) != NULL) {
            return rec_fail(&it->loc, 0, NULL, SF_ERR_PARSE, "column %zu "
                            "of the header is not valid UTF-8 text", k + 1);
        }
        for (size_t j = 0; j < k; j++) {
            const uint8_t *q;
            size_t qlen;

            rec_item_field(it, j, &q, &qlen);
            if (qlen == len && memcmp(p, q, len) == 0) {
                return rec_fail(&it->loc, 0, NULL, SF_ERR_PARSE, "columns "
                                "%zu and %zu of the header have the same "
                                "name \"%.60s\"", j + 1, k + 1,
                                (const char *)p);
            }
        }
        if (len == strlen(SF_RECORDS_MEMBER) &&
                memcmp(p, SF_RECORDS_MEMBER, len) == 0) {
            s->meta_col = k;
        }
    }
    return SF_OK;
}

sf_status seal_csv_header(void *eng, const struct rec_item *it,
                          struct sf_buf *out)
{
    struct sf_record_sealer *s = eng;
    struct sf_path *path = NULL;
    sf_status rc;

    if (it->nfields > SF_RECORDS_COLUMNS_MAX) {
        return rec_fail(&it->loc, 0, NULL, SF_ERR_LIMIT, "%zu columns, at "
                        "most %d", it->nfields, SF_RECORDS_COLUMNS_MAX);
    }
    seal_csv_free(s);
    s->meta_col = SIZE_MAX;
    s->ncols = it->nfields;
    s->is_crlf = it->is_crlf;
    s->cols = calloc(it->nfields, sizeof *s->cols);
    rc = s->cols == NULL ? SF_ERR_NOMEM : check_header(s, it);
    if (rc == SF_OK) {
        rc = sf_path_new(s->policy, &path);
    }
    for (size_t k = 0; rc == SF_OK && k < it->nfields; k++) {
        const uint8_t *p;
        size_t len;

        rec_item_field(it, k, &p, &len);
        rc = add_column(s, path, k, p, len);
    }
    for (size_t k = 0; rc == SF_OK && k < it->nfields; k++) {
        if (k != s->meta_col) {
            rc = rec_csv_put(out, (const uint8_t *)col_name(s, k),
                             s->cols[k].name_len, false, s->is_crlf);
        }
    }
    if (rc == SF_OK) {
        rc = rec_csv_put(out, (const uint8_t *)SF_RECORDS_MEMBER,
                         strlen(SF_RECORDS_MEMBER), true, s->is_crlf);
    }
    sf_path_free(path);
    return rc;
}

static sf_status seal_cell(struct seal_worker *w, size_t k, const uint8_t *p,
                           size_t len)
{
    struct sf_record_sealer *s = w->s;
    struct rec_class_keys *ck = &s->keys[s->cols[k].match.class_index];
    const char *path = col_path(s, k);
    sf_status rc;

    if (!rec_utf8_is_valid(p, len)) {
        return rec_fail(&w->loc, 0, path, SF_ERR_PARSE, "the value is not "
                        "valid UTF-8");
    }
    w->rec_fields++;
    if (rec_is_token((const char *)p, len)) {
        return rec_fail(&w->loc, 0, path, SF_ERR_PARSE, "this value (class "
                        "'%s') starts with \"%s\", so it would be read as a "
                        "token; no value may start with it", ck->cls->name,
                        SF_TOKEN_PREFIX);
    }
    if (ck->suite == 0) {
        return rec_csv_put(&w->row, p, len, false, s->is_crlf);
    }
    w->tok.len = 0;
    rc = seal_field(w, ck, REC_V_STRING, p, len, path, s->cols[k].path_len,
                    0, &w->tok);
    if (rc == SF_OK) {
        rc = rec_csv_put(&w->row, w->tok.data, w->tok.len, false,
                         s->is_crlf);
    }
    return rc;
}

static sf_status seal_cells(struct seal_worker *w, const struct rec_item *it)
{
    struct sf_record_sealer *s = w->s;
    sf_status rc = SF_OK;

    for (size_t k = 0; k < it->nfields && rc == SF_OK; k++) {
        const uint8_t *p;
        size_t len;

        rec_item_field(it, k, &p, &len);
        if (k != s->meta_col) {
            rc = seal_cell(w, k, p, len);
        } else if (len > 0) {
            rc = rec_fail(&w->loc, 0, NULL, SF_ERR_PARSE, "the row already "
                          "has a \"%s\" value: it is sealed already (open "
                          "it first)", SF_RECORDS_MEMBER);
        }
    }
    if (rc == SF_OK) {
        w->tok.len = 0;
        rc = seal_meta(w, &w->tok);
    }
    if (rc == SF_OK) {
        rc = rec_csv_put(&w->row, w->tok.data, w->tok.len, true, s->is_crlf);
    }
    return rc;
}

sf_status seal_csv_row(struct seal_worker *w, const struct rec_item *it,
                       struct sf_buf *out)
{
    sf_status rc;

    if (it->nfields != w->s->ncols) {
        return rec_fail(&w->loc, 0, NULL, SF_ERR_PARSE, "the row has %zu "
                        "field(s), the header %zu", it->nfields,
                        w->s->ncols);
    }
    for (unsigned attempt = 0;; attempt++) {
        sf_buf_reset(&w->row);
        rc = seal_begin(w);
        if (rc == SF_OK) {
            rc = seal_cells(w, it);
        }
        seal_end(w, rc == SF_OK);
        if (rc != SF_ERR_LIMIT || !w->restart) {
            break;
        }
        if (attempt == SEAL_RESTART_MAX) {
            return rec_fail(&w->loc, 0, NULL, SF_ERR_LIMIT, "shared DEKs "
                            "kept filling up while this row was sealed");
        }
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, w->row.data, w->row.len);
    }
    sf_buf_reset(&w->row);
    return rc;
}
