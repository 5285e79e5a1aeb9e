#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "log_internal.h"
#include "remote_internal.h"

/* Longest service error text carried into sf_last_error(). */
#define ERRORS_TEXT_MAX 300

/* ---- JSON bodies -------------------------------------------------------- */

/*
 * Request and answer bodies carry data keys in base64, so every string is
 * wiped before jansson frees it.
 *
 * Limitation: jansson's parser and libcurl's receive buffer hold their own
 * passing copies of an answer, which they free without wiping; neither
 * library lets the caller wipe them. The copies live only for the call,
 * on the normal heap, like any TLS library's record buffers.
 */
static void wipe_json(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_string(j)) {
        sf_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            wipe_json(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            wipe_json(v);
        }
    }
}

void sf_rcall_clear(struct sf_rcall *c)
{
    wipe_json(c->req);
    json_decref(c->req);
    c->req = NULL;
    wipe_json(c->body);
    json_decref(c->body);
    c->body = NULL;
}

/* Serialises straight into out, so no unwiped copy is left behind. */
static sf_status dump(const json_t *j, struct sf_buf *out)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    sf_status rc;

    if (n == 0) {
        return sf_fail(SF_ERR_NOMEM, "remote keyring: cannot encode a "
                       "request");
    }
    rc = sf_buf_reserve(out, n + 1);
    if (rc != SF_OK) {
        return rc;
    }
    if (json_dumpb(j, (char *)out->data + out->len, n, JSON_COMPACT) != n) {
        return SF_ERR_INTERNAL;
    }
    out->len += n;
    return SF_OK;
}

/* "<op>/<name>", the name percent-encoded as one path segment. */
static sf_status put_path(struct sf_buf *out, const char *op,
                          const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    sf_status rc = sf_buf_put_str(out, op);

    if (rc == SF_OK) {
        rc = sf_buf_put_u8(out, '/');
    }
    for (const char *p = name; rc == SF_OK && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            rc = sf_buf_put_u8(out, c);
        } else {
            uint8_t esc[3] = {'%', (uint8_t)hex[c >> 4],
                              (uint8_t)hex[c & 15]};

            rc = sf_buf_append(out, esc, sizeof esc);
        }
    }
    return rc == SF_OK ? sf_buf_terminate(out) : rc;
}

/* ---- attempts, retries, breaker ------------------------------------- */

static sf_status circuit_open(struct sf_remote *r, uint64_t wait_ms)
{
    atomic_fetch_add(&r->fast_failures, 1);
    if (wait_ms == 0) {
        return sf_fail(SF_ERR_UNAVAILABLE, "key service at %s unreachable; "
                       "circuit open while a probe runs", r->addr);
    }
    return sf_fail(SF_ERR_UNAVAILABLE, "key service at %s unreachable; "
                   "circuit open for %llus", r->addr,
                   (unsigned long long)((wait_ms + 999) / 1000));
}

/* This attempt opened the circuit: its explanation says so. */
static sf_status note_open(sf_status rc, uint64_t open_ms)
{
    char why[400];

    snprintf(why, sizeof why, "%s", sf_last_error());
    return sf_fail(rc, "%s; circuit open for %llus", why,
                   (unsigned long long)((open_ms + 999) / 1000));
}

/* Sleeps backoff * 2^attempt (capped), less up to half of it at random,
 * so clients that failed together do not retry together. */
static void backoff(const struct sf_remote *r, uint32_t attempt)
{
    uint64_t ms = r->o.backoff_ms;
    uint32_t noise = 0;
    struct timespec ts;

    for (uint32_t i = 0; i < attempt && ms < r->o.backoff_max_ms; i++) {
        ms *= 2;
    }
    if (ms > r->o.backoff_max_ms) {
        ms = r->o.backoff_max_ms;
    }
    if (ms >= 2 && sf_random((uint8_t *)&noise, sizeof noise) == SF_OK) {
        ms -= noise % (ms / 2 + 1);
    }
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* interrupted by a signal: sleep the rest */
    }
}

/* One attempt. SF_OK when an HTTP answer came; *is_retryable when another
 * attempt could do better (no connection, timeout, 5xx, 429). */
static sf_status attempt(struct sf_remote *r, const char *path,
                         const struct sf_buf *body, struct sf_buf *resp,
                         long *status, bool *is_retryable)
{
    sf_status rc;

    sf_buf_reset(resp);
    atomic_fetch_add(&r->requests, 1);
    rc = sf_http_post(r->http, path, body->data, body->len, status, resp,
                      is_retryable);
    if (rc != SF_OK || *status >= 500) {
        atomic_fetch_add(&r->failures, 1);
        if (sf_breaker_failure(&r->breaker, sf_remote_now(r))) {
            sf_log(SF_LOG_WARN, "kms_circuit_open", "addr=%s open_ms=%lu",
                   r->addr, (unsigned long)r->o.breaker_open_ms);
            rc = rc != SF_OK ? note_open(rc, r->o.breaker_open_ms) : rc;
        }
        *is_retryable = rc != SF_OK ? *is_retryable : true;
        return rc;
    }
    /* Any other answer proves the service is up, 429 included. */
    if (sf_breaker_success(&r->breaker)) {
        sf_log(SF_LOG_INFO, "kms_circuit_closed", "addr=%s", r->addr);
    }
    *is_retryable = *status == 429;
    return SF_OK;
}

static sf_status send_retrying(struct sf_remote *r, const char *path,
                               const struct sf_buf *body,
                               struct sf_buf *resp, long *status)
{
    bool is_retryable = false;
    uint64_t wait_ms;
    sf_status rc = SF_OK;

    for (uint32_t n = 0;; n++) {
        if (!sf_breaker_allow(&r->breaker, sf_remote_now(r), &wait_ms)) {
            /* A retry cut short keeps the last attempt's result. */
            return n == 0 ? circuit_open(r, wait_ms) : rc;
        }
        if (n > 0) {
            atomic_fetch_add(&r->retries, 1);
        }
        rc = attempt(r, path, body, resp, status, &is_retryable);
        if (!is_retryable || n >= r->o.retries) {
            return rc;
        }
        backoff(r, n);
    }
}

/* ---- answers -------------------------------------------------------- */

/* The service's "errors" strings joined by "; ", control characters
 * replaced, cut at ERRORS_TEXT_MAX bytes. */
static void errors_text(const json_t *body, char *out, size_t cap)
{
    const json_t *errs = json_object_get(body, "errors");
    size_t at = 0;
    json_t *e;
    size_t i;

    out[0] = '\0';
    json_array_foreach(errs, i, e) {
        const char *s = json_string_value(e);

        for (; s != NULL && *s != '\0' && at + 1 < cap; s++) {
            unsigned char c = (unsigned char)*s;

            out[at++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (i + 1 < json_array_size(errs) && at + 3 < cap) {
            memcpy(out + at, "; ", 2);
            at += 2;
        }
    }
    out[at] = '\0';
    if (at == 0) {
        snprintf(out, cap, "(no error text)");
    }
}

static sf_status status_of(const struct sf_rcall *c, const char *text)
{
    switch (c->status) {
    case 401:
    case 403:
        return SF_ERR_DENIED;
    case 404:
        return SF_ERR_KEY_NOT_FOUND;
    case 400:
        /* Vault answers 400 for a missing key on decrypt and datakey. */
        if (strstr(text, "not found") != NULL) {
            return SF_ERR_KEY_NOT_FOUND;
        }
        /* Vault: "disallowed by policy (too old)"; sealflowd names the
         * minimum. Both mean a version retired by min_decryption. */
        if (strstr(text, "disallowed by policy") != NULL ||
            strstr(text, "min_decryption_version") != NULL) {
            return SF_ERR_KEY_VERSION;
        }
        return strcmp(c->op, "decrypt") == 0 ? SF_ERR_AUTH : SF_ERR_REMOTE;
    case 429:
    case 502:
    case 503:
    case 504:
        return SF_ERR_UNAVAILABLE;
    default:
        return SF_ERR_REMOTE;
    }
}

static sf_status judge(struct sf_remote *r, struct sf_rcall *c)
{
    char text[ERRORS_TEXT_MAX + 1];

    if (c->status >= 200 && c->status <= 299) {
        if (json_is_object(json_object_get(c->body, "data"))) {
            return SF_OK;
        }
        return sf_fail(SF_ERR_REMOTE, "key service at %s: %s with key "
                       "\"%s\": HTTP %ld without a \"data\" object",
                       r->addr, c->op, c->name, c->status);
    }
    errors_text(c->body, text, sizeof text);
    return sf_fail(status_of(c, text), "key service at %s: %s with key "
                   "\"%s\": HTTP %ld: %s", r->addr, c->op, c->name,
                   c->status, text);
}

sf_status sf_remote_call(struct sf_remote *r, struct sf_rcall *c)
{
    struct sf_buf path = SF_BUF_INIT;
    struct sf_buf body = SF_BUF_INIT;
    struct sf_buf resp = SF_BUF_INIT;
    sf_status rc;

    c->status = 0;
    c->body = NULL;
    rc = put_path(&path, c->op, c->name);
    if (rc == SF_OK) {
        rc = dump(c->req, &body);
    }
    if (rc == SF_OK) {
        rc = send_retrying(r, (const char *)path.data, &body, &resp,
                           &c->status);
    }
    if (rc == SF_OK && resp.len > 0) {
        c->body = json_loadb((const char *)resp.data, resp.len,
                             JSON_REJECT_DUPLICATES, NULL);
    }
    if (rc == SF_OK) {
        rc = judge(r, c);
    }
    sf_buf_free(&path);
    sf_buf_free(&body);
    sf_buf_free(&resp);
    return rc;
}
