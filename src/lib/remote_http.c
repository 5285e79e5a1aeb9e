#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "remote_http.h"
#include "sealflow/secret.h"

#ifndef SF_VERSION_STRING
#define SF_VERSION_STRING "0"
#endif

/* One pooled easy handle and the error text curl writes for it. */
struct http_conn {
    CURL *curl;
    char err[CURL_ERROR_SIZE];
};

struct sf_http {
    char *base_url;
    size_t base_len;
    char *addr;
    char *ca_file;
    struct curl_slist *headers;
    long connect_timeout_ms;
    long timeout_ms;
    pthread_mutex_t mu;
    struct http_conn **idle;
    size_t idle_len;
    size_t pool_max;
};

/* Where a response body goes, bounded. */
struct sink {
    struct sf_buf *buf;
    bool is_over;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not safe to race with itself; this runs it once for
 * the process, and the library never calls curl_global_cleanup because
 * other parts of the application may use curl too. */
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;

    if (len > SF_HTTP_RESPONSE_MAX - s->buf->len ||
        sf_buf_append(s->buf, p, len) != SF_OK) {
        s->is_over = true;
        return 0;
    }
    return len;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

/* Appends "name: value" to the list; the text held the token, so the
 * scratch copy is wiped. */
static sf_status add_header(struct curl_slist **list, const char *name,
                            const char *value)
{
    struct sf_buf line = SF_BUF_INIT;
    struct curl_slist *next = NULL;
    sf_status rc = sf_buf_put_str(&line, name);

    if (rc == SF_OK) {
        rc = sf_buf_put_str(&line, value);
    }
    if (rc == SF_OK) {
        next = curl_slist_append(*list, (const char *)line.data);
        rc = next == NULL ? SF_ERR_NOMEM : SF_OK;
    }
    if (next != NULL) {
        *list = next;
    }
    sf_buf_free(&line);
    return rc;
}

static void headers_free(struct curl_slist *list)
{
    for (struct curl_slist *p = list; p != NULL; p = p->next) {
        sf_wipe(p->data, strlen(p->data));
    }
    curl_slist_free_all(list);
}

static sf_status build_headers(struct sf_http *h, const struct sf_http_opts *o)
{
    sf_status rc = add_header(&h->headers, "X-Vault-Token: ", o->token);

    if (rc == SF_OK) {
        rc = add_header(&h->headers, "Content-Type: ", "application/json");
    }
    if (rc == SF_OK) {
        /* No "Expect: 100-continue" round trip before large batches. */
        rc = add_header(&h->headers, "Expect:", "");
    }
    if (rc == SF_OK && o->vault_namespace != NULL) {
        rc = add_header(&h->headers, "X-Vault-Namespace: ",
                        o->vault_namespace);
    }
    return rc;
}

sf_status sf_http_new(const struct sf_http_opts *o, struct sf_http **out)
{
    struct sf_http *h;
    sf_status rc = SF_ERR_NOMEM;

    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        return sf_fail(SF_ERR_UNAVAILABLE, "remote keyring: libcurl failed "
                       "to initialise: %s", curl_easy_strerror(curl_init_rc));
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        return SF_ERR_NOMEM;
    }
    h->pool_max = o->pool_max > 0 ? o->pool_max : 1;
    h->idle = calloc(h->pool_max, sizeof *h->idle);
    h->base_url = dup_str(o->base_url);
    h->addr = dup_str(o->addr);
    h->ca_file = o->ca_file != NULL ? dup_str(o->ca_file) : NULL;
    h->base_len = strlen(o->base_url);
    h->connect_timeout_ms = (long)o->connect_timeout_ms;
    h->timeout_ms = (long)o->timeout_ms;
    if (h->idle == NULL || h->base_url == NULL || h->addr == NULL ||
        (o->ca_file != NULL && h->ca_file == NULL) ||
        pthread_mutex_init(&h->mu, NULL) != 0) {
        goto out;
    }
    rc = build_headers(h, o);
    if (rc != SF_OK) {
        pthread_mutex_destroy(&h->mu);
    }

out:
    if (rc != SF_OK) {
        headers_free(h->headers);
        free(h->idle);
        free(h->base_url);
        free(h->addr);
        free(h->ca_file);
        free(h);
        return rc;
    }
    *out = h;
    return SF_OK;
}

static void conn_free(struct http_conn *c)
{
    if (c != NULL) {
        curl_easy_cleanup(c->curl);
        free(c);
    }
}

void sf_http_free(struct sf_http *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->idle_len; i++) {
        conn_free(h->idle[i]);
    }
    pthread_mutex_destroy(&h->mu);
    headers_free(h->headers);
    free(h->idle);
    free(h->base_url);
    free(h->addr);
    free(h->ca_file);
    free(h);
}

/* Options every request on a handle shares. Limitation: redirects are
 * not followed, because the token header would go along to wherever they
 * point; a Vault standby answering 307 surfaces as an HTTP error. */
static CURLcode conn_setup(struct sf_http *h, struct http_conn *c)
{
    CURL *e = c->curl;
    CURLcode cc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);

    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->err);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                              h->connect_timeout_ms);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    }
    if (cc == CURLE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075500
        cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS,
                              (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_USERAGENT,
                              "sealflow/" SF_VERSION_STRING);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    }
    if (cc == CURLE_OK && h->ca_file != NULL) {
        cc = curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    }
    return cc;
}

static struct http_conn *conn_take(struct sf_http *h)
{
    struct http_conn *c = NULL;

    pthread_mutex_lock(&h->mu);
    if (h->idle_len > 0) {
        c = h->idle[--h->idle_len];
    }
    pthread_mutex_unlock(&h->mu);
    if (c != NULL) {
        return c;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->curl = curl_easy_init();
    if (c->curl == NULL || conn_setup(h, c) != CURLE_OK) {
        conn_free(c);
        return NULL;
    }
    return c;
}

static void conn_give(struct sf_http *h, struct http_conn *c)
{
    pthread_mutex_lock(&h->mu);
    if (h->idle_len < h->pool_max) {
        h->idle[h->idle_len++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    conn_free(c);
}

/* Whether the request left: a timeout before that is a connection
 * failure (the service is unreachable), after it a slow service. */
static bool was_sent(struct http_conn *c)
{
    long sent = 0;

    return curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &sent) ==
               CURLE_OK &&
           sent > 0;
}

/* Maps a transfer failure to a status and says whether to try again. */
static sf_status transfer_failed(struct sf_http *h, struct http_conn *c,
                                 CURLcode cc, const struct sink *s,
                                 bool *is_retryable)
{
    const char *why = c->err[0] != '\0' ? c->err : curl_easy_strerror(cc);

    *is_retryable = false;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        *is_retryable = true;
        if (!was_sent(c)) {
            return sf_fail(SF_ERR_UNAVAILABLE, "key service at %s "
                           "unreachable: no connection within %ld ms",
                           h->addr, h->connect_timeout_ms);
        }
        return sf_fail(SF_ERR_TIMEOUT, "key service at %s: no answer "
                       "within %ld ms (%s)", h->addr, h->timeout_ms, why);
    case CURLE_WRITE_ERROR:
        if (s->is_over) {
            return sf_fail(SF_ERR_REMOTE, "key service at %s: answer "
                           "larger than %u bytes", h->addr,
                           SF_HTTP_RESPONSE_MAX);
        }
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return sf_fail(SF_ERR_UNAVAILABLE, "key service at %s: %s (check "
                       "the address and the CA file)", h->addr, why);
    default:
        *is_retryable = true;
        break;
    }
    return sf_fail(SF_ERR_UNAVAILABLE, "key service at %s unreachable: %s",
                   h->addr, why);
}

static sf_status perform(struct sf_http *h, struct http_conn *c,
                         const char *url, const uint8_t *body, size_t len,
                         long *status, struct sf_buf *resp,
                         bool *is_retryable)
{
    struct sink s = {resp, false};
    CURL *e = c->curl;
    CURLcode cc = curl_easy_setopt(e, CURLOPT_URL, url);

    c->err[0] = '\0';
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)body);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_perform(e);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    /* The handle must not keep a pointer to the caller's body. */
    (void)curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    (void)curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
    if (cc != CURLE_OK) {
        return transfer_failed(h, c, cc, &s, is_retryable);
    }
    return SF_OK;
}

sf_status sf_http_post(struct sf_http *h, const char *path,
                       const uint8_t *body, size_t len, long *status,
                       struct sf_buf *resp, bool *is_retryable)
{
    struct sf_buf url = SF_BUF_INIT;
    struct http_conn *c = NULL;
    sf_status rc;

    *status = 0;
    *is_retryable = false;
    if (len > (size_t)0x7fffffff) {
        return sf_fail(SF_ERR_LIMIT, "key service request of %zu bytes is "
                       "too large", len);
    }
    rc = sf_buf_append(&url, h->base_url, h->base_len);
    if (rc == SF_OK) {
        rc = sf_buf_put_str(&url, path);
    }
    if (rc != SF_OK) {
        goto out;
    }
    c = conn_take(h);
    if (c == NULL) {
        rc = sf_fail(SF_ERR_NOMEM, "remote keyring: cannot set up a "
                     "libcurl handle");
        goto out;
    }
    rc = perform(h, c, (const char *)url.data, body, len, status, resp,
                 is_retryable);
    conn_give(h, c);

out:
    sf_buf_free(&url);
    return rc;
}

static bool is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

static bool has_part(CURLU *u, CURLUPart what)
{
    char *part = NULL;
    bool has = curl_url_get(u, what, &part, 0) == CURLUE_OK;

    curl_free(part);
    return has;
}

/* The part of the check that needs the parsed URL. The URL itself is
 * never echoed: a malformed one may hold a credential. */
static sf_status check_parts(CURLU *u, bool is_plain_ok)
{
    char *scheme = NULL;
    char *host = NULL;
    sf_status rc = SF_OK;

    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = sf_fail(SF_ERR_INVALID_ARG, "remote keyring: the address "
                     "needs a scheme and a host (https://host:port)");
    } else if (has_part(u, CURLUPART_USER) ||
               has_part(u, CURLUPART_QUERY) ||
               has_part(u, CURLUPART_FRAGMENT)) {
        rc = sf_fail(SF_ERR_INVALID_ARG, "remote keyring: the address "
                     "must not carry credentials, a query or a fragment; "
                     "give the token in its own setting");
    } else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
        rc = sf_fail(SF_ERR_INVALID_ARG, "remote keyring: address scheme "
                     "\"%s\" is not http or https", scheme);
    } else if (strcmp(scheme, "http") == 0 && !is_plain_ok &&
               !is_loopback(host)) {
        rc = sf_fail(SF_ERR_INVALID_ARG, "remote keyring: plain http to "
                     "%s would send the token in clear; use https (or "
                     "allow plain http explicitly)", host);
    }
    curl_free(scheme);
    curl_free(host);
    return rc;
}

sf_status sf_http_check_url(const char *url, bool is_plain_ok)
{
    CURLU *u;
    sf_status rc;

    pthread_once(&curl_once, curl_init);
    u = curl_url();
    if (u == NULL) {
        return SF_ERR_NOMEM;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        rc = sf_fail(SF_ERR_INVALID_ARG, "remote keyring: the key service "
                     "address is not a valid URL (expected "
                     "https://host:port)");
    } else {
        rc = check_parts(u, is_plain_ok);
    }
    curl_url_cleanup(u);
    return rc;
}
