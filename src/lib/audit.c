/*
 * The audit writer: group commit through one thread.
 *
 * Callers queue an entry that points at their own event (they block until
 * it is written, so the event outlives its use) and sleep. The writer
 * takes everything queued, formats and chains it, writes it with one
 * write() and one fdatasync(), and only then advances the chain and wakes
 * the callers. On any failure the chain is not advanced, the file is cut
 * back to its previous length and every caller of the batch gets an
 * error, so the log never holds an entry whose request was refused, nor a
 * gap in the chain.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_internal.h"
#include "audit_writer.h"
#include "error.h"
#include "kdf.h"

enum { PENDING, DONE_OK, DONE_FAILED };

struct entry {
    const struct sf_audit_event *ev; /* NULL for a requested checkpoint */
    char time[40];
    int state;
    struct entry *next;
};

struct sf_audit {
    struct sf_audit_file file;
    struct sf_audit_keys keys;
    struct sf_audit_chain chain; /* durable end of the chain */
    struct sf_audit_options opt;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    pthread_t writer;
    bool is_running;
    bool is_stopping;
    struct entry *head;
    struct entry **tail;
    uint64_t count;
    uint64_t since_checkpoint;
    time_t last_checkpoint;
    char last_error[160];
};

/* Formats the batch after the durable chain end into buf; *next receives
 * the chain end after it. Adds a periodic checkpoint when one is due. */
static sf_status format_batch(struct sf_audit *a, struct entry *batch,
                              bool is_file_start, struct sf_buf *buf,
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
                                        buf);
    }
    for (struct entry *e = batch; e != NULL && rc == SF_OK; e = e->next) {
        if (e->ev == NULL) {
            rc = sf_audit_format_checkpoint(&a->keys, next, e->time,
                                            "request", false, buf);
            entries = 0;
            *sealed = true;
            continue;
        }
        rc = sf_audit_format_event(&a->keys, next, e->time, e->ev, buf);
        entries++;
    }
    if (rc == SF_OK && entries > 0 &&
            (entries >= a->opt.checkpoint_every ||
             time(NULL) - a->last_checkpoint >=
                 (time_t)a->opt.checkpoint_interval_s)) {
        rc = sf_audit_format_checkpoint(&a->keys, next, now, "periodic",
                                        false, buf);
        *sealed = true;
    }
    return rc;
}

/* Marks every entry of a list with state and wakes the callers. Called
 * with the mutex held. */
static void finish(struct sf_audit *a, struct entry *list, int state)
{
    for (struct entry *e = list; e != NULL;) {
        struct entry *next = e->next;

        e->state = state;
        e = next;
    }
    pthread_cond_broadcast(&a->done);
}

/* Writes one batch; returns with the mutex held, as it was taken. */
static void write_batch(struct sf_audit *a, struct entry *batch)
{
    struct sf_buf buf = SF_BUF_INIT;
    struct sf_audit_chain next;
    bool is_new_file = false;
    bool sealed = false;
    uint64_t entries = 0;
    sf_status rc;

    for (struct entry *e = batch; e != NULL; e = e->next) {
        entries += e->ev != NULL ? 1 : 0;
    }
    pthread_mutex_unlock(&a->mu);
    rc = sf_audit_file_check(&a->file, &is_new_file);
    if (rc == SF_OK) {
        rc = format_batch(a, batch, is_new_file, &buf, &next, &sealed);
    }
    if (rc == SF_OK) {
        rc = sf_audit_file_write(&a->file, buf.data, buf.len,
                                 !a->opt.no_sync);
    }
    pthread_mutex_lock(&a->mu);
    if (rc != SF_OK) {
        snprintf(a->last_error, sizeof a->last_error, "%s",
                 sf_last_error());
        /* Retry a due checkpoint only after another interval, not in a
         * tight loop while the disk stays full. */
        a->last_checkpoint = time(NULL);
        finish(a, batch, DONE_FAILED);
        sf_buf_free(&buf);
        return;
    }
    a->chain = next;
    a->count += entries;
    a->since_checkpoint = sealed ? 0 : a->since_checkpoint + entries;
    if (sealed) {
        a->last_checkpoint = time(NULL);
    }
    finish(a, batch, DONE_OK);
    sf_buf_free(&buf);
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
        write_batch(a, batch);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Queues e and waits until the writer has dealt with it. */
static sf_status submit(struct sf_audit *a, struct entry *e)
{
    sf_status rc = SF_OK;

    e->state = PENDING;
    e->next = NULL;
    sf_audit_time_now(e->time);
    pthread_mutex_lock(&a->mu);
    if (a->is_stopping || !a->is_running) {
        pthread_mutex_unlock(&a->mu);
        return sf_fail(SF_ERR_UNAVAILABLE, "audit: the log is closing");
    }
    *a->tail = e;
    a->tail = &e->next;
    pthread_cond_signal(&a->wake);
    while (e->state == PENDING) {
        pthread_cond_wait(&a->done, &a->mu);
    }
    if (e->state != DONE_OK) {
        rc = sf_fail(SF_ERR_IO, "audit log write failed, request refused: "
                     "%s", a->last_error);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

sf_status sf_audit_append(struct sf_audit *a, const struct sf_audit_event *ev)
{
    struct entry e;

    if (a == NULL || ev == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(&e, 0, sizeof e);
    e.ev = ev;
    return submit(a, &e);
}

sf_status sf_audit_checkpoint(struct sf_audit *a)
{
    struct entry e;

    if (a == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(&e, 0, sizeof e);
    return submit(a, &e);
}

uint64_t sf_audit_count(struct sf_audit *a)
{
    uint64_t n;

    if (a == NULL) {
        return 0;
    }
    pthread_mutex_lock(&a->mu);
    n = a->count;
    pthread_mutex_unlock(&a->mu);
    return n;
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
    set_options(a, opt);
    rc = sf_audit_keys_derive(key, &a->keys);
    if (rc != SF_OK) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->done, NULL);
    *out = a;
    return SF_OK;
}

/* Writes a checkpoint synchronously; only when no writer thread runs
 * (before it starts or after it stopped). */
static sf_status write_direct(struct sf_audit *a, const char *reason)
{
    struct sf_buf buf = SF_BUF_INIT;
    struct sf_audit_chain next = a->chain;
    bool is_new_file = a->chain.seq == 0;
    char now[40];
    sf_status rc = SF_OK;

    sf_audit_time_now(now);
    if (!is_new_file) {
        rc = sf_audit_file_check(&a->file, &is_new_file);
    }
    if (rc == SF_OK) {
        rc = sf_audit_format_checkpoint(&a->keys, &next, now, reason,
                                        is_new_file, &buf);
    }
    if (rc == SF_OK) {
        rc = sf_audit_file_write(&a->file, buf.data, buf.len,
                                 !a->opt.no_sync);
    }
    if (rc == SF_OK) {
        a->chain = next;
        a->last_checkpoint = time(NULL);
        a->since_checkpoint = 0;
    }
    sf_buf_free(&buf);
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
    pthread_cond_destroy(&a->done);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
