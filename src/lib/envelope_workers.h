/*
 * Internal: a small fixed pool of threads that run one function together,
 * for sealing and opening batches of frames in parallel.
 *
 * The pool is created once per sealer or opener, so no thread is started
 * per batch. sf_workers_run() hands the same function to every
 * participant (the calling thread is participant 0) and returns when all
 * of them have finished, so the caller owns every byte again afterwards.
 */
#ifndef SF_ENVELOPE_WORKERS_H
#define SF_ENVELOPE_WORKERS_H

#include "sealflow/status.h"

struct sf_workers;

typedef void (*sf_workers_fn)(void *arg, unsigned index);

/* Starts count - 1 threads (count 2..SF_THREADS_MAX). SF_ERR_NOMEM or
 * SF_ERR_INTERNAL when threads cannot be started. */
SF_MUST_CHECK sf_status sf_workers_new(unsigned count,
                                       struct sf_workers **out);

/* Runs fn(arg, 0) on the calling thread, and fn(arg, i) with a distinct
 * i in 1..count-1 on each worker that wakes before the caller's call
 * returns; then waits for those. A worker may not join at all, so fn must
 * hand out work dynamically (whoever comes takes the next piece). fn
 * reports failures through arg. */
void sf_workers_run(struct sf_workers *w, sf_workers_fn fn, void *arg);

/* Stops and joins the threads. NULL is allowed. */
void sf_workers_free(struct sf_workers *w);

#endif
