#include "breaker.h"

sf_status sf_breaker_init(struct sf_breaker *b, unsigned threshold,
                          uint64_t open_ms)
{
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        return SF_ERR_NOMEM;
    }
    b->threshold = threshold;
    b->open_ms = open_ms;
    b->failures = 0;
    b->state = SF_BREAKER_CLOSED;
    b->opened_at = 0;
    b->is_probing = false;
    b->opens = 0;
    return SF_OK;
}

void sf_breaker_destroy(struct sf_breaker *b)
{
    pthread_mutex_destroy(&b->mu);
}

/* Called with mu held. */
static void advance(struct sf_breaker *b, uint64_t now)
{
    if (b->state == SF_BREAKER_OPEN && now >= b->opened_at &&
        now - b->opened_at >= b->open_ms) {
        b->state = SF_BREAKER_HALF_OPEN;
        b->is_probing = false;
    }
}

bool sf_breaker_allow(struct sf_breaker *b, uint64_t now, uint64_t *wait_ms)
{
    bool is_allowed = false;

    pthread_mutex_lock(&b->mu);
    advance(b, now);
    *wait_ms = 0;
    switch (b->state) {
    case SF_BREAKER_CLOSED:
        is_allowed = true;
        break;
    case SF_BREAKER_HALF_OPEN:
        /* Exactly one caller tests the water. */
        is_allowed = !b->is_probing;
        b->is_probing = true;
        break;
    case SF_BREAKER_OPEN:
        *wait_ms = b->open_ms - (now >= b->opened_at ? now - b->opened_at
                                                     : 0);
        break;
    }
    pthread_mutex_unlock(&b->mu);
    return is_allowed;
}

/* A success from any caller is proof the service is up again, so it
 * closes the breaker whatever its state. */
bool sf_breaker_success(struct sf_breaker *b)
{
    bool was_open;

    pthread_mutex_lock(&b->mu);
    was_open = b->state != SF_BREAKER_CLOSED;
    b->failures = 0;
    b->state = SF_BREAKER_CLOSED;
    b->is_probing = false;
    pthread_mutex_unlock(&b->mu);
    return was_open;
}

bool sf_breaker_failure(struct sf_breaker *b, uint64_t now)
{
    uint64_t opens;

    pthread_mutex_lock(&b->mu);
    opens = b->opens;
    advance(b, now);
    if (b->state == SF_BREAKER_HALF_OPEN) {
        /* The probe failed (only the probe can fail here). */
        b->state = SF_BREAKER_OPEN;
        b->opened_at = now;
        b->is_probing = false;
        b->opens++;
    } else if (b->state == SF_BREAKER_CLOSED) {
        b->failures++;
        if (b->threshold > 0 && b->failures >= b->threshold) {
            b->state = SF_BREAKER_OPEN;
            b->opened_at = now;
            b->opens++;
        }
    }
    /* A late failure of a call started before the breaker opened does
     * not extend the open time. */
    opens = b->opens - opens;
    pthread_mutex_unlock(&b->mu);
    return opens > 0;
}

enum sf_breaker_state sf_breaker_state(struct sf_breaker *b, uint64_t now)
{
    enum sf_breaker_state s;

    pthread_mutex_lock(&b->mu);
    advance(b, now);
    s = b->state;
    pthread_mutex_unlock(&b->mu);
    return s;
}

uint64_t sf_breaker_opens(struct sf_breaker *b)
{
    uint64_t n;

    pthread_mutex_lock(&b->mu);
    n = b->opens;
    pthread_mutex_unlock(&b->mu);
    return n;
}
