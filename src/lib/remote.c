#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "remote_internal.h"
#include "sealflow/keystore.h"

#define TOKEN_MAX 8192
#define MOUNT_MAX 128
#define ERRORS_TEXT_MAX 300

void sf_remote_opts_default(struct sf_remote_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mount = "transit";
    o->connect_timeout_ms = 2000;
    o->timeout_ms = 10000;
    o->retries = 2;
    o->backoff_ms = 100;
    o->backoff_max_ms = 2000;
    o->connections_max = 8;
    o->batch_max = 128;
    o->breaker_failures = 5;
    o->breaker_open_ms = 30000;
    o->dek_max_age_ms = 300000;
    o->dek_max_uses = 10000;
    o->dek_max_bytes = (uint64_t)1 << 30;
    o->unwrap_ttl_ms = 300000;
    o->grace_ms = 300000;
    o->cache_entries_max = 4096;
}

/* The first of two variables that is set and not empty, or NULL. */
static const char *env_either(const char *first, const char *second)
{
    const char *v = getenv(first);

    if (v == NULL || v[0] == '\0') {
        v = getenv(second);
    }
    return v != NULL && v[0] != '\0' ? v : NULL;
}

sf_status sf_remote_opts_from_env(struct sf_remote_opts *o)
{
    const char *addr = env_either("SEALFLOW_ADDR", "VAULT_ADDR");
    const char *token = env_either("SEALFLOW_TOKEN", "VAULT_TOKEN");
    const char *ca = env_either("SEALFLOW_CACERT", "VAULT_CACERT");
    const char *ns = env_either("SEALFLOW_NAMESPACE", "VAULT_NAMESPACE");

    if (o == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    if (addr == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: no key service "
                       "address; set SEALFLOW_ADDR (or VAULT_ADDR)");
    }
    if (token == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: no token; set "
                       "SEALFLOW_TOKEN (or VAULT_TOKEN)");
    }
    o->addr = addr;
    o->token = token;
    if (ca != NULL) {
        o->ca_file = ca;
    }
    if (ns != NULL) {
        o->vault_namespace = ns;
    }
    return SF_OK;
}

/* ---- checking options ------------------------------------------------- */

/* Header values: visible ASCII only, so no CR or LF can split a header. */
static bool is_header_safe(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (n >= max || (unsigned char)s[n] < 0x21 ||
            (unsigned char)s[n] > 0x7e) {
            return false;
        }
    }
    return n > 0;
}

/* A mount path: segments of [A-Za-z0-9._-] split by '/', none empty, "."
 * or "..", no leading or trailing '/'. */
static bool is_mount_ok(const char *m)
{
    size_t n = strlen(m);
    size_t seg = 0;

    if (n == 0 || n > MOUNT_MAX || m[0] == '/' || m[n - 1] == '/') {
        return false;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = m[i];

        if (c == '/' || c == '\0') {
            if (seg == 0 || (seg == 1 && m[i - 1] == '.') ||
                (seg == 2 && m[i - 1] == '.' && m[i - 2] == '.')) {
                return false;
            }
            seg = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                   c == '-') {
            seg++;
        } else {
            return false;
        }
    }
    return true;
}

static sf_status check_numbers(const struct sf_remote_opts *o)
{
    if (o->connect_timeout_ms == 0 || o->timeout_ms == 0) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: timeouts must "
                       "be above 0 ms (start from sf_remote_opts_default)");
    }
    if (o->connections_max == 0 || o->connections_max > 64) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: connections "
                       "max must be 1..64");
    }
    if (o->batch_max == 0 || o->batch_max > 1000) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: batch max must "
                       "be 1..1000");
    }
    if (o->cache_entries_max == 0 || o->cache_entries_max > 1000000) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: cache entries "
                       "max must be 1..1000000");
    }
    if (o->retries > 10 || o->backoff_max_ms > 60000) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: at most 10 "
                       "retries and 60000 ms of backoff");
    }
    return SF_OK;
}

static sf_status check_opts(const struct sf_remote_opts *o)
{
    const char *mount = o->mount != NULL ? o->mount : "transit";

    if (o->addr == NULL || o->addr[0] == '\0') {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: no key service "
                       "address given");
    }
    if (o->token == NULL || !is_header_safe(o->token, TOKEN_MAX)) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: the token is "
                       "missing, longer than %d bytes or holds characters "
                       "other than visible ASCII", TOKEN_MAX);
    }
    if (o->vault_namespace != NULL &&
        !is_header_safe(o->vault_namespace, MOUNT_MAX)) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: the namespace "
                       "must be 1..%d visible ASCII characters", MOUNT_MAX);
    }
    if (!is_mount_ok(mount)) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote keyring: mount \"%.*s\" "
                       "must be path segments of letters, digits, '.', "
                       "'_' and '-'", MOUNT_MAX, mount);
    }
    return check_numbers(o);
}

/* ---- lifetime --------------------------------------------------------- */

uint64_t sf_remote_now(void *arg)
{
    struct sf_remote *r = arg;

    return r->clock(r->clock_arg);
}

void sf_remote_set_clock(struct sf_remote *r, sf_clock_fn fn, void *arg)
{
    r->clock = fn != NULL ? fn : sf_clock_monotonic_ms;
    r->clock_arg = arg;
}

/* addr without trailing '/', then "/v1/<mount>/". */
static sf_status base_url(struct sf_remote *r, const char *addr,
                          const char *mount, struct sf_buf *out)
{
    size_t n = strlen(addr);
    sf_status rc;

    while (n > 0 && addr[n - 1] == '/') {
        n--;
    }
    r->addr = calloc(1, n + 1);
    if (r->addr == NULL) {
        return SF_ERR_NOMEM;
    }
    memcpy(r->addr, addr, n);
    rc = sf_buf_put_str(out, r->addr);
    if (rc == SF_OK) {
        rc = sf_buf_put_str(out, "/v1/");
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(out, mount);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(out, "/");
    }
    return rc;
}

static sf_status make_caches(struct sf_remote *r)
{
    const struct sf_remote_opts *o = &r->o;
    struct sf_dekcache_limits dl = {o->dek_max_age_ms, o->dek_max_uses,
                                    o->dek_max_bytes, 0,
                                    o->cache_entries_max};
    /* Nothing kept means nothing to fall back on either. */
    struct sf_dekcache_limits ul = {o->unwrap_ttl_ms, 0, 0,
                                    o->unwrap_ttl_ms > 0 ? o->grace_ms : 0,
                                    o->cache_entries_max};
    sf_status rc = sf_dekcache_new(&dl, sf_remote_now, r, &r->deks);

    if (rc == SF_OK) {
        rc = sf_dekcache_new(&ul, sf_remote_now, r, &r->unwraps);
    }
    return rc;
}

static sf_status remote_init(struct sf_remote *r,
                             const struct sf_remote_opts *o)
{
    const char *mount = o->mount != NULL ? o->mount : "transit";
    struct sf_buf base = SF_BUF_INIT;
    struct sf_http_opts ho;
    sf_status rc = base_url(r, o->addr, mount, &base);

    if (rc != SF_OK) {
        goto out;
    }
    ho = (struct sf_http_opts){(const char *)base.data, r->addr, o->token,
                               o->vault_namespace, o->ca_file,
                               o->connect_timeout_ms, o->timeout_ms,
                               o->connections_max};
    rc = sf_http_new(&ho, &r->http);
    if (rc == SF_OK) {
        rc = make_caches(r);
    }

out:
    sf_buf_free(&base);
    return rc;
}

sf_status sf_remote_new(const struct sf_remote_opts *o,
                        struct sf_remote **out)
{
    struct sf_remote *r;
    sf_status rc;

    if (out == NULL || o == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    rc = check_opts(o);
    if (rc == SF_OK) {
        rc = sf_http_check_url(o->addr, o->is_plain_http_allowed);
    }
    if (rc != SF_OK) {
        return rc;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return SF_ERR_NOMEM;
    }
    r->o = *o;
    r->o.addr = r->o.token = r->o.mount = NULL;
    r->o.vault_namespace = r->o.ca_file = NULL;
    r->clock = sf_clock_monotonic_ms;
    rc = sf_breaker_init(&r->breaker, o->breaker_failures,
                         o->breaker_open_ms);
    if (rc != SF_OK) {
        free(r);
        return rc;
    }
    rc = remote_init(r, o);
    if (rc != SF_OK) {
        sf_remote_free(r);
        return rc;
    }
    *out = r;
    return SF_OK;
}

void sf_remote_free(struct sf_remote *r)
{
    if (r == NULL) {
        return;
    }
    sf_dekcache_free(r->deks);
    sf_dekcache_free(r->unwraps);
    sf_http_free(r->http);
    sf_breaker_destroy(&r->breaker);
    free(r->addr);
    free(r);
}

void sf_remote_flush(struct sf_remote *r)
{
    if (r != NULL) {
        sf_dekcache_flush(r->deks);
        sf_dekcache_flush(r->unwraps);
    }
}

void sf_remote_stats(struct sf_remote *r, struct sf_remote_stats *out)
{
    struct sf_dekcache_stats d;
    struct sf_dekcache_stats u;

    memset(out, 0, sizeof *out);
    if (r == NULL) {
        return;
    }
    sf_dekcache_stats(r->deks, &d);
    sf_dekcache_stats(r->unwraps, &u);
    out->requests = atomic_load(&r->requests);
    out->retries = atomic_load(&r->retries);
    out->failures = atomic_load(&r->failures);
    out->fast_failures = atomic_load(&r->fast_failures);
    out->breaker_opens = sf_breaker_opens(&r->breaker);
    out->is_breaker_open = sf_breaker_state(&r->breaker, sf_remote_now(r)) !=
                           SF_BREAKER_CLOSED;
    out->dek_hits = d.hits;
    out->dek_misses = d.misses;
    out->unwrap_hits = u.hits;
    out->unwrap_misses = u.misses;
    out->stale_hits = u.stale_hits;
}

/* ---- names and ciphertexts ------------------------------------------ */

sf_status sf_remote_name(const char *in, char out[SF_REMOTE_NAME_MAX + 1])
{
    static const size_t plen = sizeof SF_REMOTE_PREFIX - 1;
    char why[200];
    size_t n;

    if (in == NULL) {
        return sf_fail(SF_ERR_INVALID_ARG, "remote key name missing");
    }
    if (strncmp(in, SF_REMOTE_PREFIX, plen) == 0) {
        in += plen;
    }
    n = strlen(in);
    if (n == 0 || n > SF_REMOTE_NAME_MAX) {
        return sf_fail(SF_ERR_KEY_NAME, "remote key name must have "
                       "1..%d bytes after \"%s\"", SF_REMOTE_NAME_MAX,
                       SF_REMOTE_PREFIX);
    }
    if (sf_key_name_check(in) != SF_OK) {
        /* sf_fail writes where sf_last_error() points: copy it first. */
        snprintf(why, sizeof why, "%s", sf_last_error());
        return sf_fail(SF_ERR_KEY_NAME, "remote key name: %s", why);
    }
    memcpy(out, in, n + 1);
    return SF_OK;
}

/* Nothing is acquired here, so failures return at once. */
static bool parse_version(const char *w, size_t len, uint32_t *version)
{
    static const char pre[] = "vault:v";
    uint64_t v = 0;
    size_t i = sizeof pre - 1;

    if (len > SF_REMOTE_WRAPPED_MAX || len < i ||
        memcmp(w, pre, i) != 0) {
        return false;
    }
    for (; i < len && w[i] >= '0' && w[i] <= '9' && v <= 0xffffffffu;
         i++) {
        v = v * 10 + (uint64_t)(w[i] - '0');
    }
    if (v == 0 || v > 0xffffffffu || i + 1 >= len || w[i] != ':') {
        return false;
    }
    for (i++; i < len; i++) {
        if ((unsigned char)w[i] < 0x21 || (unsigned char)w[i] > 0x7e) {
            return false;
        }
    }
    *version = (uint32_t)v;
    return true;
}

sf_status sf_remote_version_of(const char *w, size_t len, uint32_t *version)
{
    *version = 0;
    if (w == NULL || !parse_version(w, len, version)) {
        return sf_fail(SF_ERR_AUTH, "remote keyring: wrapped key is not a "
                       "\"vault:vN:...\" ciphertext");
    }
    return SF_OK;
}
