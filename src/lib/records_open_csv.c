#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "records_open.h"
#include "sealflow/secret.h"

void open_csv_free(struct sf_record_opener *o)
{
    free(o->path_off);
    free(o->path_len);
    o->path_off = NULL;
    o->path_len = NULL;
    sf_buf_free(&o->col_text);
}

static sf_status render_paths(struct sf_record_opener *o,
                              const struct rec_item *it)
{
    struct sf_path *path = NULL;
    sf_status rc;

    o->path_off = calloc(it->nfields, sizeof *o->path_off);
    o->path_len = calloc(it->nfields, sizeof *o->path_len);
    rc = o->path_off == NULL || o->path_len == NULL
             ? SF_ERR_NOMEM : sf_path_new(NULL, &path);
    for (size_t k = 0; rc == SF_OK && k < it->nfields; k++) {
        const uint8_t *p;
        size_t len;
        bool is_meta;

        rec_item_field(it, k, &p, &len);
        is_meta = len == strlen(SF_RECORDS_MEMBER) &&
                  memcmp(p, SF_RECORDS_MEMBER, len) == 0;
        /* A second one would be copied as data here and be taken for the
         * metadata column by the next open. */
        if (is_meta && o->meta_col != SIZE_MAX) {
            rc = rec_fail(&it->loc, 0, NULL, SF_ERR_PARSE, "the header "
                          "has a \"%s\" column twice", SF_RECORDS_MEMBER);
            break;
        }
        if (is_meta) {
            o->meta_col = k;
        }
        sf_path_clear(path);
        rc = sf_path_push_member(path, (const char *)p, len);
        o->path_off[k] = o->col_text.len;
        if (rc == SF_OK) {
            rc = sf_path_render(path, &o->col_text);
        }
        o->path_len[k] = o->col_text.len - o->path_off[k];
    }
    sf_path_free(path);
    return rc;
}

/*
 * The output keeps a "_sealflow" column only when tokens may stay sealed
 * by design: a selective (--as) open that is not strict. Any other open
 * must open every token of a CSV file, since a column cannot come and go
 * from row to row.
 */
sf_status open_csv_header(void *eng, const struct rec_item *it,
                          struct sf_buf *out)
{
    struct sf_record_opener *o = eng;
    sf_status rc;

    open_csv_free(o);
    o->meta_col = SIZE_MAX;
    o->ncols = it->nfields;
    o->is_crlf = it->is_crlf;
    rc = render_paths(o, it);
    if (rc == SF_OK && it->nfields == 1 && o->meta_col == 0) {
        return rec_fail(&it->loc, 0, NULL, SF_ERR_PARSE, "the header has no "
                        "column besides \"%s\"", SF_RECORDS_MEMBER);
    }
    o->keep_col = o->meta_col != SIZE_MAX && o->reader_count > 0 &&
                  !o->is_strict;
    for (size_t k = 0; rc == SF_OK && k < it->nfields; k++) {
        const uint8_t *p;
        size_t len;
        bool is_last = o->keep_col ? false
                       : k + 1 == it->nfields ||
                             (k + 2 == it->nfields && o->meta_col == k + 1);

        rec_item_field(it, k, &p, &len);
        if (k != o->meta_col) {
            rc = rec_csv_put(out, p, len, is_last, o->is_crlf);
        }
    }
    if (rc == SF_OK && o->keep_col) {
        rc = rec_csv_put(out, (const uint8_t *)SF_RECORDS_MEMBER,
                         strlen(SF_RECORDS_MEMBER), true, o->is_crlf);
    }
    return rc;
}

static sf_status open_cell(struct open_worker *w, size_t k,
                           const uint8_t *p, size_t len, bool is_last)
{
    struct sf_record_opener *o = w->o;
    const char *path = (const char *)o->col_text.data + o->path_off[k];
    const uint8_t *pt;
    size_t pt_len;
    sf_status rc;

    if (!rec_is_token((const char *)p, len)) {
        return rec_csv_put(&w->row, p, len, is_last, o->is_crlf);
    }
    rc = open_token(w, (const char *)p, len, path, o->path_len[k], 0, &pt,
                    &pt_len);
    if (rc == SF_OK && pt == NULL) {
        return rec_csv_put(&w->row, p, len, is_last, o->is_crlf);
    }
    if (rc == SF_OK && (pt[0] != REC_V_STRING ||
                        !rec_utf8_is_valid(pt + 1, pt_len - 1))) {
        rc = rec_fail(&w->loc, 0, path, SF_ERR_FORMAT, "a CSV cell token "
                      "does not hold a UTF-8 string");
    }
    if (rc == SF_OK) {
        rc = rec_csv_put(&w->row, pt + 1, pt_len - 1, is_last, o->is_crlf);
    }
    sf_buf_reset(&w->raw);
    return rc;
}

static sf_status open_cells(struct open_worker *w, const struct rec_item *it,
                            const uint8_t *meta, size_t meta_len)
{
    struct sf_record_opener *o = w->o;
    size_t last = o->ncols - 1;
    sf_status rc = SF_OK;

    if (last == o->meta_col && last > 0) {
        last--;
    }
    for (size_t k = 0; k < it->nfields && rc == SF_OK; k++) {
        const uint8_t *p;
        size_t len;
        bool is_last = !o->keep_col && k == last;

        rec_item_field(it, k, &p, &len);
        if (k == o->meta_col) {
            continue;
        }
        if (meta_len == 0) {  /* an unsealed row is copied */
            rc = rec_csv_put(&w->row, p, len, is_last, o->is_crlf);
        } else {
            rc = open_cell(w, k, p, len, is_last);
        }
    }
    if (rc == SF_OK && w->rec_kept > 0 && !o->keep_col) {
        rc = rec_fail(&w->loc, 0, NULL, SF_ERR_NO_KEY, "tokens stay sealed "
                      "and a CSV output without --as has no \"%s\" column "
                      "to keep them; give the missing identity, or open "
                      "as a reader", SF_RECORDS_MEMBER);
    }
    if (rc == SF_OK && o->keep_col) {
        rc = rec_csv_put(&w->row, meta, w->rec_kept > 0 ? meta_len : 0, true,
                         o->is_crlf);
    }
    return rc;
}

sf_status open_csv_row(struct open_worker *w, const struct rec_item *it,
                       struct sf_buf *out)
{
    struct sf_record_opener *o = w->o;
    const uint8_t *meta = NULL;
    size_t meta_len = 0;
    const char *why;
    sf_status rc = SF_OK;

    if (it->nfields != o->ncols) {
        return rec_fail(&w->loc, 0, NULL, SF_ERR_PARSE, "the row has %zu "
                        "field(s), the header %zu", it->nfields, o->ncols);
    }
    if (o->meta_col != SIZE_MAX) {
        rec_item_field(it, o->meta_col, &meta, &meta_len);
    }
    if (meta_len > 0) {
        rc = rec_meta_parse_text(&w->sub, meta, meta_len, &w->meta, &why);
        if (rc != SF_OK && rc != SF_ERR_NOMEM) {
            rc = rec_fail(&w->loc, 0, NULL, rc, "%s", why);
        }
    }
    sf_buf_reset(&w->row);
    if (rc == SF_OK) {
        if (meta_len > 0) {
            open_begin(w);
        }
        w->rec_kept = 0;
        rc = open_cells(w, it, meta, meta_len);
    }
    if (rc == SF_OK) {
        w->stats.records++;
        rc = sf_buf_append(out, w->row.data, w->row.len);
    }
    sf_buf_reset(&w->row);
    rec_tape_clear(&w->sub);
    return rc;
}
