#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "envelope_workers.h"
#include "error.h"
#include "sealflow/envelope.h"

/*
 * One mutex guards the job slot. A job is announced by bumping generation
 * and broadcasting. A worker that wakes while the job is still open joins
 * it under the next free participant index; once the caller's own share
 * returns, the job is closed, so a worker that wakes late does not join
 * at all and the caller waits only for workers that did. The job function
 * hands out work dynamically, so a late worker simply finds less to do.
 */
/* Polls of the active count before the caller sleeps (tens of
 * microseconds, about one 64 KiB frame). */
#define SPIN_MAX 20000

struct sf_workers {
    pthread_mutex_t mu;
    pthread_cond_t start;
    pthread_cond_t done;
    unsigned count;
    unsigned started;
    unsigned joined;
    atomic_uint active;
    uint64_t generation;
    bool is_open;
    bool is_stopping;
    sf_workers_fn fn;
    void *arg;
    pthread_t *threads;
};

static void *worker_main(void *p)
{
    struct sf_workers *w = p;
    uint64_t seen = 0;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        unsigned index;

        while (w->generation == seen && !w->is_stopping) {
            pthread_cond_wait(&w->start, &w->mu);
        }
        if (w->is_stopping) {
            break;
        }
        seen = w->generation;
        if (!w->is_open) {
            continue;
        }
        index = ++w->joined;
        atomic_fetch_add(&w->active, 1);
        pthread_mutex_unlock(&w->mu);
        w->fn(w->arg, index);
        pthread_mutex_lock(&w->mu);
        if (atomic_fetch_sub(&w->active, 1) == 1) {
            pthread_cond_signal(&w->done);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static sf_status start_threads(struct sf_workers *w)
{
    for (unsigned i = 1; i < w->count; i++) {
        if (pthread_create(&w->threads[i - 1], NULL, worker_main, w) != 0) {
            return sf_fail(SF_ERR_INTERNAL, "envelope: cannot start worker "
                           "thread %u of %u; try fewer threads", i,
                           w->count - 1);
        }
        w->started++;
    }
    return SF_OK;
}

sf_status sf_workers_new(unsigned count, struct sf_workers **out)
{
    struct sf_workers *w;
    sf_status rc;

    *out = NULL;
    if (count < 2 || count > SF_THREADS_MAX) {
        return SF_ERR_INVALID_ARG;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        return SF_ERR_NOMEM;
    }
    w->threads = calloc(count - 1, sizeof *w->threads);
    if (w->threads == NULL) {
        free(w);
        return SF_ERR_NOMEM;
    }
    w->count = count;
    atomic_init(&w->active, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->start, NULL);
    pthread_cond_init(&w->done, NULL);
    rc = start_threads(w);
    if (rc != SF_OK) {
        sf_workers_free(w);
        return rc;
    }
    *out = w;
    return SF_OK;
}

void sf_workers_run(struct sf_workers *w, sf_workers_fn fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->joined = 0;
    w->is_open = true;
    w->generation++;
    pthread_cond_broadcast(&w->start);
    pthread_mutex_unlock(&w->mu);

    fn(arg, 0);

    /* arg lives on the caller's stack: nobody may join after this. */
    pthread_mutex_lock(&w->mu);
    w->is_open = false;
    pthread_mutex_unlock(&w->mu);

    /* A worker still active is inside its last piece of work (all work
     * has been handed out), so a short spin usually sees it finish and
     * saves a sleep and wake-up per batch. */
    for (unsigned i = 0; i < SPIN_MAX && atomic_load(&w->active) > 0; i++) {
        continue;
    }
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->active) > 0) {
        pthread_cond_wait(&w->done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

void sf_workers_free(struct sf_workers *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->is_stopping = true;
    pthread_cond_broadcast(&w->start);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->started; i++) {
        pthread_join(w->threads[i], NULL);
    }
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->start);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w);
}
