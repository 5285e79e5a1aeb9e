/*
 * Streaming records through a small pool of workers.
 *
 * The calling thread reads input into batches (whole JSON Lines or CSV
 * rows), hands them to the workers through a bounded ring, and writes the
 * finished batches strictly in input order. Memory stays bounded by the
 * ring: at most PIPE_SLOTS_PER_WORKER batches per worker, each of at most
 * PIPE_BATCH_BYTES of input (plus one record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "error.h"
#include "records_internal.h"
#include "sealflow/secret.h"

#define PIPE_BATCH_RECORDS 256
#define PIPE_BATCH_BYTES (512u * 1024u)
#define PIPE_READ_CHUNK (256u * 1024u)
#define PIPE_SLOTS_PER_WORKER 2

enum batch_state { B_FREE, B_FILLING, B_READY, B_BUSY, B_DONE };

struct batch {
    enum batch_state state;
    uint64_t seq;
    struct sf_buf in;
    struct rec_item *items;
    size_t *offs;
    size_t n;
    size_t cap;
    size_t first;        /* CSV: 1 when item 0 is the header */
    struct sf_buf out;
    sf_status rc;
    char err[600];
};

/* The input side: a window of unread bytes and where it is in the input. */
struct reader {
    const struct sf_records_io *io;
    const struct rec_engine *e;
    struct sf_buf pend;
    size_t at;               /* consumed bytes of pend */
    bool is_eof;
    bool is_started;
    uint64_t offset;         /* input offset of pend.data[at] */
    uint64_t line;           /* line number at pend.data[at] */
    uint64_t records;
    uint64_t bytes_in;
    bool has_content;        /* any non-whitespace byte seen */
    /* CSV */
    struct csv_parser csv;
    bool has_csv;
    bool is_done;
    bool header_done;
    struct batch *cur;
    uint64_t row_line;
    uint64_t row_offset;
    size_t row_start;        /* offset in cur->in of the row */
    sf_status rc;
};

void rec_item_field(const struct rec_item *it, size_t k, const uint8_t **p,
                    size_t *len)
{
    const uint8_t *q = it->p;

    for (size_t i = 0;; i++) {
        uint32_t n = (uint32_t)q[0] | (uint32_t)q[1] << 8 |
                     (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;

        if (i == k) {
            *p = q + 4;
            *len = n;
            return;
        }
        q += 4 + n;
    }
}

sf_status rec_csv_put(struct sf_buf *out, const uint8_t *p, size_t len,
                      bool is_last, bool is_crlf)
{
    bool quote = false;
    sf_status rc;

    for (size_t i = 0; i < len && !quote; i++) {
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    }
    /* A row of one empty or blank field would be a blank line, which
     * readers skip or take for the end: write it quoted. */
    if (!quote && is_last &&
            (out->len == 0 || out->data[out->len - 1] == '\n')) {
        quote = true;
        for (size_t i = 0; i < len && quote; i++) {
            quote = p[i] == ' ' || p[i] == '\t';
        }
    }
    if (quote) {
        size_t need = csv_write(NULL, 0, p, len);

        rc = sf_buf_reserve(out, need);
        if (rc == SF_OK) {
            out->len += csv_write(out->data + out->len, need, p, len);
        }
    } else {
        rc = sf_buf_append(out, p, len);
    }
    if (rc == SF_OK && is_last && is_crlf) {
        rc = sf_buf_append(out, "\r\n", 2);
    } else if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, is_last ? '\n' : ',');
    }
    return rc;
}

/* ---- reading --------------------------------------------------------- */

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Notes whether the window holds anything but whitespace from from on. */
static void scan_content(struct reader *r, size_t from)
{
    for (size_t i = from; i < r->pend.len && !r->has_content; i++) {
        r->has_content = !is_ws(r->pend.data[i]);
    }
}

/* The first bytes are in: skip a byte order mark, then look at the rest. */
static void start(struct reader *r)
{
    r->is_started = true;
    /* A UTF-8 byte order mark is not part of any record. */
    if (r->pend.len >= 3 && memcmp(r->pend.data, "\xEF\xBB\xBF", 3) == 0) {
        r->at = 3;
        r->offset = 3;
    }
    scan_content(r, r->at);
}

/* Reads more input into the window; sets is_eof at the end. */
static sf_status fill(struct reader *r)
{
    size_t got = 0;
    sf_status rc;

    if (r->at > 0) {
        sf_buf_consume(&r->pend, r->at);
        r->at = 0;
    }
    rc = sf_buf_reserve(&r->pend, PIPE_READ_CHUNK);
    if (rc == SF_OK) {
        rc = r->io->read(r->io->read_arg, r->pend.data + r->pend.len,
                         PIPE_READ_CHUNK, &got);
    }
    if (rc != SF_OK) {
        return rc;
    }
    r->pend.len += got;
    if (!r->is_started && (r->pend.len >= 3 || got == 0)) {
        start(r);
    } else if (r->is_started) {
        scan_content(r, r->pend.len - got);
    }
    r->bytes_in += got;
    r->is_eof = got == 0;
    return SF_OK;
}

static sf_status batch_add(struct batch *b, const uint8_t *p, size_t len,
                           const struct rec_loc *loc)
{
    sf_status rc;

    if (b->n == b->cap) {
        size_t cap = b->cap == 0 ? PIPE_BATCH_RECORDS + 1 : b->cap * 2;
        struct rec_item *it = realloc(b->items, cap * sizeof *it);
        size_t *offs;

        if (it == NULL) {
            return SF_ERR_NOMEM;
        }
        b->items = it;
        offs = realloc(b->offs, cap * sizeof *offs);
        if (offs == NULL) {
            return SF_ERR_NOMEM;
        }
        b->offs = offs;
        b->cap = cap;
    }
    b->offs[b->n] = b->in.len;
    memset(&b->items[b->n], 0, sizeof b->items[b->n]);
    b->items[b->n].loc = *loc;
    if (p != NULL) {
        rc = sf_buf_append(&b->in, p, len);
        if (rc != SF_OK) {
            return rc;
        }
    }
    b->items[b->n].len = len;
    b->n++;
    return SF_OK;
}

/* Takes one line (without its LF) from the window into b. */
static sf_status take_line(struct reader *r, struct batch *b, size_t len)
{
    const uint8_t *p = r->pend.data + r->at;
    struct rec_loc loc = {r->e->input, ++r->records, r->line, r->offset,
                          NULL, 0};
    bool blank = true;
    sf_status rc;

    for (size_t i = 0; i < len && blank; i++) {
        blank = is_ws(p[i]);
    }
    if (blank) {
        return rec_fail(&loc, 0, NULL, SF_ERR_PARSE, "an empty line; JSON "
                        "Lines holds one JSON object per line");
    }
    rc = batch_add(b, p, len, &loc);
    r->at += len;
    r->offset += len;
    if (r->at < r->pend.len) {  /* the LF */
        r->at++;
        r->offset++;
        r->line++;
    }
    return rc;
}

/* Fills b with whole lines until it is full or the input ends. */
static sf_status read_jsonl(struct reader *r, struct batch *b)
{
    size_t scan = 0;
    sf_status rc = SF_OK;

    while (rc == SF_OK && b->n < PIPE_BATCH_RECORDS &&
           b->in.len < PIPE_BATCH_BYTES) {
        size_t avail = r->pend.len - r->at;
        const uint8_t *nl = avail > scan ? memchr(r->pend.data + r->at + scan,
                                                  '\n', avail - scan) : NULL;
        size_t len = nl != NULL ? (size_t)(nl - (r->pend.data + r->at))
                                : avail;

        if (len > SF_RECORDS_RECORD_MAX) {
            struct rec_loc loc = {r->e->input, r->records + 1, r->line,
                                  r->offset, NULL, 0};

            return rec_fail(&loc, 0, NULL, SF_ERR_LIMIT, "a line of more "
                            "than %u bytes", SF_RECORDS_RECORD_MAX);
        }
        if (nl != NULL || (r->is_eof && avail > 0)) {
            rc = take_line(r, b, len);
            scan = 0;
        } else if (r->is_eof) {
            break;
        } else {
            scan = avail;
            rc = fill(r);
        }
    }
    return rc;
}

static void csv_on_field(void *s, size_t len, void *data)
{
    struct reader *r = data;
    struct batch *b = r->cur;
    uint8_t head[4] = {(uint8_t)len, (uint8_t)(len >> 8),
                       (uint8_t)(len >> 16), (uint8_t)(len >> 24)};

    if (r->rc != SF_OK) {
        return;
    }
    if (b->in.len - r->row_start + len > SF_RECORDS_RECORD_MAX) {
        struct rec_loc loc = {r->e->input, r->records, r->row_line,
                              r->row_offset, NULL, 0};

        r->rc = rec_fail(&loc, 0, NULL, SF_ERR_LIMIT, "a row of more than "
                         "%u bytes", SF_RECORDS_RECORD_MAX);
        return;
    }
    r->rc = sf_buf_append(&b->in, head, sizeof head);
    if (r->rc == SF_OK && len > 0) {
        r->rc = sf_buf_append(&b->in, s, len);
    }
    b->items[b->n].nfields++;
}

static void csv_on_row(int c, void *data)
{
    struct reader *r = data;
    struct batch *b = r->cur;
    struct rec_item *it;

    if (r->rc != SF_OK) {
        return;
    }
    it = &b->items[b->n];
    it->len = b->in.len - r->row_start;
    it->is_crlf = c == '\r';
    it->loc.record = r->records++;
    if (it->nfields > SF_RECORDS_COLUMNS_MAX) {
        r->rc = rec_fail(&it->loc, 0, NULL, SF_ERR_LIMIT, "%zu fields, at "
                         "most %d", it->nfields, SF_RECORDS_COLUMNS_MAX);
        return;
    }
    b->n++;
    r->rc = batch_add(b, NULL, 0, &it->loc);
    if (r->rc == SF_OK) {
        b->n--;  /* room for the next row, not counted yet */
        r->row_start = b->in.len;
    }
}

/* Feeds one line (with its line end) to libcsv. libcsv keeps quoted
 * fields across calls; its state tells whether a new row starts here. */
static sf_status csv_line(struct reader *r, struct batch *b, size_t len)
{
    const uint8_t *p = r->pend.data + r->at;

    /* pstate 0 is libcsv's "row not begun": a row starts on this line. */
    if (r->csv.pstate == 0) {
        r->row_line = r->line;
        r->row_offset = r->offset;
        b->items[b->n].loc.line = r->line;
        b->items[b->n].loc.offset = r->offset;
    }
    if (csv_parse(&r->csv, p, len, csv_on_field, csv_on_row, r) != len &&
            r->rc == SF_OK) {
        struct rec_loc loc = {r->e->input, r->records, r->row_line,
                              r->row_offset, NULL, 0};

        r->rc = rec_fail(&loc, 0, NULL, SF_ERR_PARSE, "malformed CSV "
                         "(%s) on line %llu", csv_strerror(csv_error(&r->csv)),
                         (unsigned long long)r->line);
    }
    r->at += len;
    r->offset += len;
    r->line += len > 0 && p[len - 1] == '\n';
    return r->rc;
}

static sf_status read_csv(struct reader *r, struct batch *b)
{
    size_t scan = 0;
    struct rec_loc loc = {r->e->input, r->records + 1, r->line, r->offset,
                          NULL, 0};
    sf_status rc;

    if (r->is_done) {
        return SF_OK;
    }
    r->cur = b;
    r->row_start = b->in.len;
    rc = batch_add(b, NULL, 0, &loc);  /* the row being parsed */
    b->n -= rc == SF_OK;
    while (rc == SF_OK && ((b->n < PIPE_BATCH_RECORDS &&
                            b->in.len < PIPE_BATCH_BYTES) ||
                           r->csv.pstate != 0)) {
        size_t avail = r->pend.len - r->at;
        const uint8_t *nl = avail > scan ? memchr(r->pend.data + r->at + scan,
                                                  '\n', avail - scan) : NULL;

        if (nl != NULL) {
            rc = csv_line(r, b, (size_t)(nl - (r->pend.data + r->at)) + 1);
            scan = 0;
        } else if (r->is_eof) {
            rc = avail > 0 ? csv_line(r, b, avail) : SF_OK;
            if (rc == SF_OK && csv_fini(&r->csv, csv_on_field, csv_on_row,
                                        r) != 0 && r->rc == SF_OK) {
                r->rc = rec_fail(&loc, 0, NULL, SF_ERR_PARSE, "the input "
                                 "ends inside a quoted CSV field that "
                                 "started on line %llu",
                                 (unsigned long long)r->row_line);
            }
            r->is_done = true;
            rc = r->rc;
            break;
        } else {
            scan = avail;
            rc = fill(r);
        }
    }
    return rc;
}

/* libcsv trims spaces and tabs around unquoted fields by default;
 * values must come back byte for byte, so nothing counts as a space. */
static int keep_spaces(unsigned char c)
{
    (void)c;
    return 0;
}

/* Fills a batch from the input; an empty batch means the end. */
static sf_status read_batch(struct reader *r, struct batch *b)
{
    b->n = 0;
    b->first = 0;
    b->in.len = 0;
    if (!r->is_started) {
        sf_status rc = fill(r);

        while (rc == SF_OK && !r->is_started && !r->is_eof) {
            rc = fill(r);
        }
        if (rc != SF_OK) {
            return rc;
        }
    }
    if (r->e->format == SF_RECORDS_CSV) {
        return read_csv(r, b);
    }
    return read_jsonl(r, b);
}

/* ---- processing -------------------------------------------------------- */

static void process_batch(const struct rec_engine *e, void *w,
                          struct batch *b)
{
    b->rc = SF_OK;
    b->out.len = 0;
    for (size_t i = b->first; i < b->n && b->rc == SF_OK; i++) {
        b->items[i].p = b->in.data + b->offs[i];
        b->items[i].loc.input = e->input;
        if (e->format != SF_RECORDS_CSV) {
            b->items[i].loc.text = b->items[i].p;
            b->items[i].loc.text_len = b->items[i].len;
        }
        b->rc = e->record(e->eng, w, &b->items[i], &b->out);
    }
    if (b->rc != SF_OK) {
        snprintf(b->err, sizeof b->err, "%s", sf_last_error());
        sf_buf_reset(&b->out);
    }
}

struct pipe {
    const struct rec_engine *e;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct batch *b;
    size_t nb;
    bool stop;
    void **workers;
    unsigned nw;
};

static struct batch *next_ready(struct pipe *p)
{
    struct batch *best = NULL;

    for (size_t i = 0; i < p->nb; i++) {
        if (p->b[i].state == B_READY &&
                (best == NULL || p->b[i].seq < best->seq)) {
            best = &p->b[i];
        }
    }
    return best;
}

struct worker_arg {
    struct pipe *p;
    void *w;
};

static void *worker_main(void *arg)
{
    struct worker_arg *a = arg;
    struct pipe *p = a->p;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct batch *b = next_ready(p);

        if (b == NULL) {
            if (p->stop) {
                break;
            }
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        b->state = B_BUSY;
        pthread_mutex_unlock(&p->lock);
        process_batch(p->e, a->w, b);
        pthread_mutex_lock(&p->lock);
        b->state = B_DONE;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- running ------------------------------------------------------------ */

static void batches_free(struct batch *b, size_t n)
{
    for (size_t i = 0; b != NULL && i < n; i++) {
        sf_buf_free(&b[i].in);
        sf_buf_free(&b[i].out);
        free(b[i].items);
        free(b[i].offs);
    }
    free(b);
}

static sf_status write_out(const struct rec_engine *e,
                           const struct sf_records_io *io,
                           struct sf_buf *out, struct sf_records_stats *st)
{
    sf_status rc = SF_OK;

    if (e->is_output && out->len > 0) {
        rc = io->write(io->write_arg, out->data, out->len);
        st->bytes_out += out->len;
    }
    sf_buf_reset(out);  /* may hold plaintext */
    return rc;
}

/* CSV: item 0 of the first batch is the header row; it is handled here,
 * on the calling thread, before any row. */
static sf_status take_header(struct reader *r, struct batch *b,
                             const struct sf_records_io *io,
                             struct sf_records_stats *st)
{
    const struct rec_engine *e = r->e;
    struct sf_buf hdr = SF_BUF_INIT;
    sf_status rc;

    if (e->format != SF_RECORDS_CSV || r->header_done || b->n == 0) {
        return SF_OK;
    }
    r->header_done = true;
    b->first = 1;
    b->items[0].p = b->in.data + b->offs[0];
    b->items[0].loc.input = e->input;
    rc = e->csv_header(e->eng, &b->items[0], &hdr);
    /* A first column named with a leading U+FEFF would be read back as a
     * byte order mark and lose it: write a mark in front of it. */
    if (rc == SF_OK && hdr.len >= 3 &&
            memcmp(hdr.data, "\xEF\xBB\xBF", 3) == 0) {
        rc = e->is_output
                 ? io->write(io->write_arg, (const uint8_t *)"\xEF\xBB\xBF", 3)
                 : SF_OK;
        st->bytes_out += e->is_output ? 3 : 0;
    }
    if (rc == SF_OK) {
        rc = write_out(e, io, &hdr, st);
    }
    sf_buf_free(&hdr);
    return rc;
}

static sf_status empty_input(const struct reader *r)
{
    return sf_fail(SF_ERR_PARSE, "%s: the input is empty (no records)",
                   r->e->input);
}

static sf_status run_doc(struct reader *r, const struct sf_records_io *io,
                         struct sf_records_stats *st)
{
    const struct rec_engine *e = r->e;
    struct sf_buf out = SF_BUF_INIT;
    void *w = NULL;
    sf_status rc = SF_OK;

    while (rc == SF_OK && !r->is_eof) {
        rc = fill(r);
        if (rc == SF_OK && r->pend.len > SF_RECORDS_DOC_MAX) {
            rc = sf_fail(SF_ERR_LIMIT, "%s: a JSON document of more than "
                         "%u bytes; use JSON Lines for larger inputs",
                         e->input, SF_RECORDS_DOC_MAX);
        }
    }
    if (rc == SF_OK && !r->has_content) {
        rc = empty_input(r);
    }
    if (rc == SF_OK) {
        rc = e->worker_new(e->eng, &w);
    }
    if (rc == SF_OK) {
        rc = e->doc(e->eng, w, r->pend.data + r->at, r->pend.len - r->at,
                    &out);
    }
    if (rc == SF_OK && e->is_output) {
        rc = sf_buf_put_u8(&out, '\n');
    }
    if (rc == SF_OK) {
        rc = write_out(e, io, &out, st);
    }
    if (w != NULL) {
        e->stats(w, st);
        e->worker_free(w);
    }
    sf_buf_free(&out);
    return rc;
}

static sf_status run_inline(struct reader *r, const struct sf_records_io *io,
                            struct sf_records_stats *st)
{
    const struct rec_engine *e = r->e;
    struct batch *b = calloc(1, sizeof *b);
    void *w = NULL;
    sf_status rc;

    rc = b == NULL ? SF_ERR_NOMEM : e->worker_new(e->eng, &w);
    while (rc == SF_OK) {
        rc = read_batch(r, b);
        if (rc == SF_OK && !r->has_content) {
            rc = empty_input(r);
        }
        if (rc != SF_OK || b->n == 0) {
            break;
        }
        rc = take_header(r, b, io, st);
        if (rc == SF_OK) {
            process_batch(e, w, b);
            rc = b->rc != SF_OK ? sf_fail(b->rc, "%s", b->err)
                                : write_out(e, io, &b->out, st);
        }
    }
    if (w != NULL) {
        e->stats(w, st);
        e->worker_free(w);
    }
    batches_free(b, 1);
    return rc;
}

static struct batch *find_batch(struct pipe *p, enum batch_state s,
                                uint64_t seq)
{
    for (size_t i = 0; i < p->nb; i++) {
        if (p->b[i].state == s && (s != B_DONE || p->b[i].seq == seq)) {
            return &p->b[i];
        }
    }
    return NULL;
}

/*
 * The calling thread's loop: write the next batch in order when it is
 * done, else read into a free batch, else wait for a worker.
 */
static sf_status drive(struct pipe *p, struct reader *r,
                       const struct sf_records_io *io,
                       struct sf_records_stats *st)
{
    uint64_t next_seq = 0;
    uint64_t write_seq = 0;
    bool eof = false;
    sf_status rc = SF_OK;
    struct batch *b;

    pthread_mutex_lock(&p->lock);
    while (rc == SF_OK && !(eof && write_seq == next_seq)) {
        if ((b = find_batch(p, B_DONE, write_seq)) != NULL) {
            pthread_mutex_unlock(&p->lock);
            rc = b->rc != SF_OK ? sf_fail(b->rc, "%s", b->err)
                                : write_out(r->e, io, &b->out, st);
            pthread_mutex_lock(&p->lock);
            b->state = B_FREE;
            write_seq++;
        } else if (!eof && (b = find_batch(p, B_FREE, 0)) != NULL) {
            b->state = B_FILLING;
            pthread_mutex_unlock(&p->lock);
            rc = read_batch(r, b);
            if (rc == SF_OK && !r->has_content) {
                rc = empty_input(r);
            }
            if (rc == SF_OK) {
                rc = take_header(r, b, io, st);
            }
            pthread_mutex_lock(&p->lock);
            eof = b->n == 0;
            b->state = B_FREE;
            if (rc == SF_OK && b->n > b->first) {
                b->state = B_READY;
                b->seq = next_seq++;
                pthread_cond_broadcast(&p->cond);
            }
        } else {
            pthread_cond_wait(&p->cond, &p->lock);
        }
    }
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static sf_status run_threads(struct reader *r,
                             const struct sf_records_io *io,
                             struct sf_records_stats *st)
{
    const struct rec_engine *e = r->e;
    struct pipe p;
    pthread_t th[SF_THREADS_MAX];
    struct worker_arg args[SF_THREADS_MAX];
    unsigned started = 0;
    sf_status rc = SF_OK;

    memset(&p, 0, sizeof p);
    p.e = e;
    p.nw = e->threads;
    p.nb = (size_t)p.nw * PIPE_SLOTS_PER_WORKER + 1;
    p.b = calloc(p.nb, sizeof *p.b);
    p.workers = calloc(p.nw, sizeof *p.workers);
    if (p.b == NULL || p.workers == NULL ||
            pthread_mutex_init(&p.lock, NULL) != 0) {
        batches_free(p.b, p.nb);
        free(p.workers);
        return SF_ERR_NOMEM;
    }
    pthread_cond_init(&p.cond, NULL);
    for (unsigned i = 0; i < p.nw && rc == SF_OK; i++) {
        rc = e->worker_new(e->eng, &p.workers[i]);
        args[i].p = &p;
        args[i].w = p.workers[i];
        if (rc == SF_OK &&
                pthread_create(&th[i], NULL, worker_main, &args[i]) != 0) {
            rc = sf_fail(SF_ERR_INTERNAL, "cannot start a worker thread");
        }
        started += rc == SF_OK;
    }
    if (rc == SF_OK) {
        rc = drive(&p, r, io, st);
    } else {
        pthread_mutex_lock(&p.lock);
        p.stop = true;
        pthread_cond_broadcast(&p.cond);
        pthread_mutex_unlock(&p.lock);
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    for (unsigned i = 0; i < p.nw; i++) {
        if (p.workers[i] != NULL) {
            e->stats(p.workers[i], st);
            e->worker_free(p.workers[i]);
        }
    }
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
    batches_free(p.b, p.nb);
    free(p.workers);
    return rc;
}

sf_status rec_pipe_run(const struct rec_engine *e,
                       const struct sf_records_io *io,
                       struct sf_records_stats *stats)
{
    struct sf_records_stats local;
    struct sf_records_stats *st = stats != NULL ? stats : &local;
    struct reader r;
    sf_status rc;

    memset(st, 0, sizeof *st);
    memset(&r, 0, sizeof r);
    r.io = io;
    r.e = e;
    r.line = 1;
    if (e->format == SF_RECORDS_CSV) {
        if (csv_init(&r.csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
            return SF_ERR_NOMEM;
        }
        csv_set_space_func(&r.csv, keep_spaces);
        r.has_csv = true;
    }
    if (e->format == SF_RECORDS_JSON) {
        rc = run_doc(&r, io, st);
    } else if (e->threads <= 1) {
        rc = run_inline(&r, io, st);
    } else {
        rc = run_threads(&r, io, st);
    }
    st->bytes_in = r.bytes_in;
    if (r.has_csv) {
        csv_free(&r.csv);
    }
    sf_buf_free(&r.pend);
    return rc;
}
