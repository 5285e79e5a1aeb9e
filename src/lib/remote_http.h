/*
 * Internal: HTTP POSTs to the key service over libcurl.
 *
 * Easy handles are kept in a small pool and reused, so each one keeps its
 * connection alive and a steady stream of requests costs no new TCP or
 * TLS handshakes. A thread takes a handle for one request and gives it
 * back; when the pool is empty a new handle is made, and when it is full
 * a returned handle is closed. Every handle carries the same fixed
 * headers (token, content type, namespace), built once.
 *
 * Only this file includes curl.h.
 */
#ifndef SF_REMOTE_HTTP_H
#define SF_REMOTE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

/* Answers larger than this are refused (a batch of 1000 keys is about
 * 100 KiB). */
#define SF_HTTP_RESPONSE_MAX (8u * 1024 * 1024)

struct sf_http_opts {
    const char *base_url;   /* "https://host:8200/v1/transit/" */
    const char *addr;       /* for messages: "https://host:8200" */
    const char *token;      /* secret */
    const char *vault_namespace; /* or NULL */
    const char *ca_file;    /* or NULL */
    uint32_t connect_timeout_ms;
    uint32_t timeout_ms;
    uint32_t pool_max;
};

struct sf_http;

/* Validates nothing but what curl needs; the caller checked the URL. */
SF_MUST_CHECK sf_status sf_http_new(const struct sf_http_opts *o,
                                    struct sf_http **out);

/* Wipes the token copies and closes every connection. NULL is allowed. */
void sf_http_free(struct sf_http *h);

/*
 * POSTs len bytes of JSON at body to base_url + path. SF_OK when an HTTP
 * answer arrived (any status: *status, and its body appended to resp).
 * Otherwise SF_ERR_UNAVAILABLE (no connection, TLS failure),
 * SF_ERR_TIMEOUT, or SF_ERR_REMOTE (malformed or oversized answer), with
 * the reason in sf_last_error(); *is_retryable says whether trying again
 * could help.
 */
SF_MUST_CHECK sf_status sf_http_post(struct sf_http *h, const char *path,
                                     const uint8_t *body, size_t len,
                                     long *status, struct sf_buf *resp,
                                     bool *is_retryable);

/* Checks that url is http or https with a host; plain http only to a
 * loopback host unless is_plain_ok. SF_ERR_INVALID_ARG with the reason. */
SF_MUST_CHECK sf_status sf_http_check_url(const char *url, bool is_plain_ok);

#endif
