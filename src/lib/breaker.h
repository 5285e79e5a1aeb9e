/*
 * Internal: a circuit breaker for calls to a remote service.
 *
 * Closed: calls go through; each failure adds to a count of consecutive
 * failures, each success resets it. After `threshold` consecutive
 * failures the breaker opens for `open_ms`: calls are refused at once, so
 * a dead service costs callers nothing. When that time is over, the next
 * caller becomes the one half-open probe; every other caller is still
 * refused until the probe reports. A successful probe closes the breaker,
 * a failed one opens it for another `open_ms`.
 *
 * The caller supplies the time (milliseconds on any monotonic clock), so
 * tests can drive it without sleeping. Every call that was allowed must
 * report sf_breaker_success or sf_breaker_failure exactly once, or the
 * probe slot stays taken. Thread-safe.
 */
#ifndef SF_BREAKER_H
#define SF_BREAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sealflow/status.h"

enum sf_breaker_state {
    SF_BREAKER_CLOSED = 0,
    SF_BREAKER_OPEN = 1,
    SF_BREAKER_HALF_OPEN = 2 /* open time over; a probe may be running */
};

struct sf_breaker {
    pthread_mutex_t mu;
    unsigned threshold; /* 0: the breaker never opens */
    uint64_t open_ms;
    unsigned failures;  /* consecutive */
    enum sf_breaker_state state;
    uint64_t opened_at;
    bool is_probing;    /* the half-open probe is in flight */
    uint64_t opens;     /* times it opened, for statistics */
};

SF_MUST_CHECK sf_status sf_breaker_init(struct sf_breaker *b,
                                        unsigned threshold,
                                        uint64_t open_ms);
void sf_breaker_destroy(struct sf_breaker *b);

/* May a call start at now? On false, *wait_ms says how long the breaker
 * stays open (0 while another caller's probe is in flight). */
bool sf_breaker_allow(struct sf_breaker *b, uint64_t now, uint64_t *wait_ms);

/* The service answered (any HTTP status that proves it is up). True when
 * this closed an open or half-open breaker. */
bool sf_breaker_success(struct sf_breaker *b);

/* The call failed for a reason that says the service is down. True when
 * this opened the breaker. */
bool sf_breaker_failure(struct sf_breaker *b, uint64_t now);

/* The state at now: OPEN turns into HALF_OPEN once open_ms is over. */
enum sf_breaker_state sf_breaker_state(struct sf_breaker *b, uint64_t now);

/* How many times the breaker has opened. */
uint64_t sf_breaker_opens(struct sf_breaker *b);

#endif
