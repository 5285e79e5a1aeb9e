/*
 * The audit writer: group commit through one thread.
 *
 * A caller formats its entry's body (everything but seq and prev) in its
 * own thread, queues a copy and either sleeps on its own condition
 * variable (sf_audit_append) or leaves a callback (sf_audit_submit). The
 * writer takes everything queued, chains it, writes it with one write()
 * and one fdatasync(), and only then advances the chain and tells each
 * entry of that batch, and no other, how it went: no caller is woken for
 * somebody else's commit and none re-takes a shared lock to find out. On
 * any failure the chain is not advanced, the file is cut back to its
 * previous length and every entry of the batch gets an error, so the log
 * never holds an entry whose request was refused, nor a gap in the chain.
 *
 * The writer's state (file, chain, checkpoint counters) is touched only by
 * the writer thread while it runs, and by open and close before it starts
 * and after it stopped; the mutex guards only the queue.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_internal.h"
#include "audit_writer.h"
#include "error.h"

/* One queued entry; body holds the formatted members, or nothing for a
 * requested checkpoint (time then holds its time). */
struct entry {
    struct entry *next;
    sf_audit_done_fn done;
    void *arg;
    bool is_checkpoint;
    char time[40];
    size_t len;
    char body[];
};

struct sf_audit {
    struct sf_audit_file file;
    struct sf_audit_keys keys;
    struct sf_audit_chain chain; /* durable end of the chain */
    struct sf_audit_options opt;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t writer;
    bool is_running;
    bool is_stopping;
    struct entry *head;
    struct entry **tail;
    atomic_uint_fast64_t count;
    uint64_t since_checkpoint;
    time_t last_checkpoint;
    struct sf_buf out; /* the batch being written; audit lines hold no
                        * secrets, so it is reused without wiping */
    char last_error[160];
};

/* A thread blocked in sf_audit_append() or sf_audit_checkpoint(). */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_done;
    sf_status rc;
    char why[160];
};

/* Chains the batch after the durable chain end into a->out; *next
 * receives the chain end after it. Adds a periodic checkpoint when one is
 * due. */
static sf_status format_batch(struct sf_audit *a, struct entry *batch,
                              bool is_file_start,
                              struct sf_audit_chain *next, bool *sealed)
{
    char now[40];
    uint64_t entries = a->since_checkpoint;
    sf_status rc = SF_OK;

    *next = a->chain;
    *sealed = false;
    sf_audit_time_now(now);
    if (is_file_start) {
        rc = sf_audit_format_checkpoint(&a->keys, next, now, "reopen", true,
                                        &a->out);
    }
    for (struct entry *e = batch; e != NULL && rc == SF_OK; e = e->next) {
        if (e->is_checkpoint) {
            rc = sf_audit_format_checkpoint(&a->keys, next, e->time,
                                            "request", false, &a->out);
            entries = 0;
            *sealed = true;
            continue;
        }
        rc = sf_audit_chain_body(next, e->body, e->len, &a->out);
        entries++;
    }
    if (rc == SF_OK && entries > 0 &&
            (entries >= a->opt.checkpoint_every ||
             time(NULL) - a->last_checkpoint >=
                 (time_t)a->opt.checkpoint_interval_s)) {
        rc = sf_audit_format_checkpoint(&a->keys, next, now, "periodic",
                                        false, &a->out);
        *sealed = true;
    }
    return rc;
}

/* Tells every entry of a batch how it went and frees it. Called without
 * the lock: a callback may take its own. */
static void finish(struct entry *batch, sf_status rc, const char *why)
{
    while (batch != NULL) {
        struct entry *next = batch->next;

        batch->done(batch->arg, rc, why);
        free(batch);
        batch = next;
    }
}

/* Writes one batch; called without the lock. */
static void write_batch(struct sf_audit *a, struct entry *batch)
{
    struct sf_audit_chain next;
    bool is_new_file = false;
    bool sealed = false;
    uint64_t entries = 0;
    sf_status rc;

    for (struct entry *e = batch; e != NULL; e = e->next) {
        entries += e->is_checkpoint ? 0 : 1;
    }
    a->out.len = 0;
    rc = sf_audit_file_check(&a->file, &is_new_file);
    if (rc == SF_OK) {
        rc = format_batch(a, batch, is_new_file, &next, &sealed);
    }
    if (rc == SF_OK) {
        rc = sf_audit_file_write(&a->file, a->out.data, a->out.len,
                                 !a->opt.no_sync);
    }
    if (rc != SF_OK) {
        snprintf(a->last_error, sizeof a->last_error, "%s",
                 sf_last_error());
        /* Retry a due checkpoint only after another interval, not in a
         * tight loop while the disk stays full. */
        a->last_checkpoint = time(NULL);
        finish(batch, SF_ERR_IO, a->last_error);
        return;
    }
    a->chain = next;
    atomic_fetch_add_explicit(&a->count, entries, memory_order_relaxed);
    a->since_checkpoint = sealed ? 0 : a->since_checkpoint + entries;
    if (sealed) {
        a->last_checkpoint = time(NULL);
    }
    finish(batch, SF_OK, "");
}

/* Whether a periodic checkpoint is due on a quiet log. */
static bool checkpoint_due(const struct sf_audit *a)
{
    return a->since_checkpoint > 0 &&
           time(NULL) - a->last_checkpoint >=
               (time_t)a->opt.checkpoint_interval_s;
}

static void *writer_main(void *arg)
{
    struct sf_audit *a = arg;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        struct entry *batch;

        while (a->head == NULL && !a->is_stopping && !checkpoint_due(a)) {
            struct timespec until;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&a->wake, &a->mu, &until);
        }
        if (a->head == NULL && a->is_stopping) {
            break;
        }
        batch = a->head;
        a->head = NULL;
        a->tail = &a->head;
        pthread_mutex_unlock(&a->mu);
        write_batch(a, batch);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Queues e for the writer; frees it and fails when the log is closing. */
static sf_status enqueue(struct sf_audit *a, struct entry *e)
{
    pthread_mutex_lock(&a->mu);
    if (a->is_stopping || !a->is_running) {
        pthread_mutex_unlock(&a->mu);
        free(e);
        return sf_fail(SF_ERR_UNAVAILABLE, "audit: the log is closing");
    }
    /* The writer sleeps only on an empty queue and takes all of it when
     * it wakes, so only the first entry of a batch needs to wake it. */
    if (a->head == NULL) {
        pthread_cond_signal(&a->wake);
    }
    e->next = NULL;
    *a->tail = e;
    a->tail = &e->next;
    pthread_mutex_unlock(&a->mu);
    return SF_OK;
}

/* A new entry for ev (or a checkpoint when ev is NULL), formatted. */
static sf_status make_entry(struct sf_audit *a,
                            const struct sf_audit_event *ev,
                            sf_audit_done_fn done, void *arg,
                            struct entry **out)
{
    char body[SF_AUDIT_LINE_MAX];
    struct entry *e;
    size_t len = 0;
    char now[40];
    sf_status rc = SF_OK;

    *out = NULL;
    sf_audit_time_now(now);
    if (ev != NULL) {
        rc = sf_audit_format_body(&a->keys, now, ev, body, sizeof body,
                                  &len);
    }
    if (rc != SF_OK) {
        return rc;
    }
    e = malloc(sizeof *e + len);
    if (e == NULL) {
        return sf_fail(SF_ERR_NOMEM, "audit: out of memory");
    }
    e->done = done;
    e->arg = arg;
    e->is_checkpoint = ev == NULL;
    memcpy(e->time, now, sizeof e->time);
    e->len = len;
    memcpy(e->body, body, len);
    *out = e;
    return SF_OK;
}

sf_status sf_audit_submit(struct sf_audit *a, const struct sf_audit_event *ev,
                          sf_audit_done_fn done, void *arg)
{
    struct entry *e = NULL;
    sf_status rc;

    if (a == NULL || ev == NULL || done == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = make_entry(a, ev, done, arg, &e);
    if (rc == SF_OK) {
        rc = enqueue(a, e);
    }
    return rc;
}

/* Wakes the one thread waiting for this entry. Signalling under its
 * mutex means the waiter cannot return, and free the waiter, before the
 * writer is done with it. */
static void wake_waiter(void *arg, sf_status rc, const char *why)
{
    struct waiter *w = arg;

    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    snprintf(w->why, sizeof w->why, "%s", why);
    w->is_done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Queues an entry for ev (NULL: a checkpoint) and waits for its
 * commit. */
static sf_status submit_wait(struct sf_audit *a,
                             const struct sf_audit_event *ev)
{
    struct waiter w;
    struct entry *e = NULL;
    sf_status rc;

    memset(&w, 0, sizeof w);
    rc = make_entry(a, ev, wake_waiter, &w, &e);
    if (rc != SF_OK) {
        return rc;
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    rc = enqueue(a, e);
    if (rc == SF_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.is_done) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
        rc = w.rc;
    }
    if (rc == SF_ERR_IO) {
        rc = sf_fail(SF_ERR_IO, "audit log write failed, request refused: "
                     "%s", w.why);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

sf_status sf_audit_append(struct sf_audit *a, const struct sf_audit_event *ev)
{
    if (a == NULL || ev == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    return submit_wait(a, ev);
}

sf_status sf_audit_checkpoint(struct sf_audit *a)
{
    if (a == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    return submit_wait(a, NULL);
}

uint64_t sf_audit_count(struct sf_audit *a)
{
    if (a == NULL) {
        return 0;
    }
    return atomic_load_explicit(&a->count, memory_order_relaxed);
}

/* Fills defaults for unset options. */
static void set_options(struct sf_audit *a, const struct sf_audit_options *o)
{
    if (o != NULL) {
        a->opt = *o;
    }
    if (a->opt.checkpoint_every == 0) {
        a->opt.checkpoint_every = 1000;
    }
    if (a->opt.checkpoint_interval_s == 0) {
        a->opt.checkpoint_interval_s = 60;
    }
}

/* Allocates the log object and its synchronisation state. */
static sf_status audit_new(const struct sf_secret *key,
                           const struct sf_audit_options *opt,
                           struct sf_audit **out)
{
    struct sf_audit *a = calloc(1, sizeof *a);
    sf_status rc;

    *out = NULL;
    if (a == NULL) {
        return SF_ERR_NOMEM;
    }
    a->file.fd = -1;
    a->tail = &a->head;
    atomic_init(&a->count, 0);
    set_options(a, opt);
    rc = sf_audit_keys_derive(key, &a->keys);
    if (rc != SF_OK) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->wake, NULL);
    *out = a;
    return SF_OK;
}

/* Writes a checkpoint synchronously; only when no writer thread runs
 * (before it starts or after it stopped). */
static sf_status write_direct(struct sf_audit *a, const char *reason)
{
    struct sf_audit_chain next = a->chain;
    bool is_new_file = a->chain.seq == 0;
    char now[40];
    sf_status rc = SF_OK;

    a->out.len = 0;
    sf_audit_time_now(now);
    if (!is_new_file) {
        rc = sf_audit_file_check(&a->file, &is_new_file);
    }
    if (rc == SF_OK) {
        rc = sf_audit_format_checkpoint(&a->keys, &next, now, reason,
                                        is_new_file, &a->out);
    }
    if (rc == SF_OK) {
        rc = sf_audit_file_write(&a->file, a->out.data, a->out.len,
                                 !a->opt.no_sync);
    }
    if (rc == SF_OK) {
        a->chain = next;
        a->last_checkpoint = time(NULL);
        a->since_checkpoint = 0;
    }
    return rc;
}

sf_status sf_audit_open(const char *path, const struct sf_secret *audit_key,
                        const struct sf_audit_options *opt,
                        struct sf_audit **out)
{
    struct sf_audit *a = NULL;
    sf_status rc;

    if (path == NULL || audit_key == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    rc = audit_new(audit_key, opt, &a);
    if (rc != SF_OK) {
        return rc;
    }
    rc = sf_audit_file_open(&a->file, path, &a->chain);
    if (rc == SF_OK) {
        rc = write_direct(a, "start");
    }
    if (rc == SF_OK && pthread_create(&a->writer, NULL, writer_main, a) !=
            0) {
        rc = sf_fail(SF_ERR_NOMEM, "audit: cannot start the writer thread");
    }
    if (rc != SF_OK) {
        sf_audit_close(a);
        return rc;
    }
    a->is_running = true;
    *out = a;
    return SF_OK;
}

void sf_audit_close(struct sf_audit *a)
{
    if (a == NULL) {
        return;
    }
    if (a->is_running) {
        pthread_mutex_lock(&a->mu);
        a->is_stopping = true;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->writer, NULL);
        /* A failure here cannot be reported to anyone any more; the
         * verifier will show the log ends without a close checkpoint. */
        (void)write_direct(a, "close");
    }
    sf_audit_file_close(&a->file);
    sf_wipe(&a->keys, sizeof a->keys);
    sf_buf_free(&a->out);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
