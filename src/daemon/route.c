/*
 * Routing. The path is split on raw '/' before any decoding, so an encoded
 * slash inside a key name can never be mistaken for a path separator; then
 * the key part is decoded and checked against the one key name grammar.
 */
#include <stdio.h>
#include <string.h>

#include "route.h"

struct prefix {
    const char *text;
    enum sfd_endpoint ep;
    bool is_plaintext_datakey;
};

/* Endpoints under the mount whose remainder is a key name. */
static const struct prefix keyed[] = {
    {"keys/", SFD_EP_KEY, false},
    {"encrypt/", SFD_EP_ENCRYPT, false},
    {"decrypt/", SFD_EP_DECRYPT, false},
    {"rewrap/", SFD_EP_REWRAP, false},
    {"datakey/plaintext/", SFD_EP_DATAKEY, true},
    {"datakey/wrapped/", SFD_EP_DATAKEY, false},
};

/* Key sub-operations, recognised as a final raw segment of a write. */
static const struct prefix suffixes[] = {
    {"/config", SFD_EP_KEY_CONFIG, false},
    {"/rotate", SFD_EP_KEY_ROTATE, false},
    {"/trim", SFD_EP_KEY_TRIM, false},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum sfd_method sfd_method_parse(const char *method, bool is_list_query)
{
    if (method == NULL) {
        return SFD_M_OTHER;
    }
    if (strcmp(method, "GET") == 0) {
        return is_list_query ? SFD_M_LIST : SFD_M_GET;
    }
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        return SFD_M_WRITE;
    }
    if (strcmp(method, "DELETE") == 0) {
        return SFD_M_DELETE;
    }
    if (strcmp(method, "LIST") == 0) {
        return SFD_M_LIST;
    }
    if (strcmp(method, "HEAD") == 0) {
        return SFD_M_HEAD;
    }
    return SFD_M_OTHER;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

sf_status sfd_url_decode(const char *s, size_t len, char *out,
                         size_t out_max)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return SF_ERR_FORMAT;
            }
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '\0') {
            return SF_ERR_FORMAT;
        }
        if (o + 1 >= out_max) {
            return SF_ERR_FORMAT;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return SF_OK;
}

/* Decodes and checks the key name part of a path. */
static void set_key(struct sfd_route *r, const char *raw, size_t len)
{
    if (sfd_url_decode(raw, len, r->key, sizeof r->key) != SF_OK) {
        r->has_bad_key = true;
        snprintf(r->error, sizeof r->error, "invalid key name in the path: "
                 "bad percent-encoding, an encoded NUL, or longer than "
                 "%d bytes", SF_KEY_NAME_MAX);
        r->key[0] = '\0';
        return;
    }
    if (sf_key_name_check(r->key) != SF_OK) {
        r->has_bad_key = true;
        snprintf(r->error, sizeof r->error, "%s", sf_last_error());
    }
}

/* Splits a write to keys/<name>/<sub> into the key and the sub-op. */
static void key_suffix(struct sfd_route *r, const char *raw, size_t *len)
{
    for (size_t i = 0; i < COUNT(suffixes); i++) {
        size_t n = strlen(suffixes[i].text);

        if (*len > n && strcmp(raw + *len - n, suffixes[i].text) == 0) {
            r->ep = suffixes[i].ep;
            *len -= n;
            return;
        }
    }
}

/* Routes the part after "<mount>/". */
static void route_mount(struct sfd_route *r, const char *sub)
{
    if (strcmp(sub, "keys") == 0 || strcmp(sub, "keys/") == 0) {
        r->ep = SFD_EP_KEYS;
        return;
    }
    for (size_t i = 0; i < COUNT(keyed); i++) {
        size_t n = strlen(keyed[i].text);
        size_t len;

        if (strncmp(sub, keyed[i].text, n) != 0 || sub[n] == '\0') {
            continue;
        }
        r->ep = keyed[i].ep;
        r->is_plaintext_datakey = keyed[i].is_plaintext_datakey;
        len = strlen(sub + n);
        if (r->ep == SFD_EP_KEY && r->method == SFD_M_WRITE) {
            key_suffix(r, sub + n, &len);
        }
        set_key(r, sub + n, len);
        return;
    }
}

/* Routes "sys/..." and "auth/..." paths. */
static bool route_system(struct sfd_route *r, const char *rest)
{
    static const char mounts[] = "sys/mounts/";
    size_t len;

    if (strcmp(rest, "sys/health") == 0) {
        r->ep = SFD_EP_HEALTH;
    } else if (strcmp(rest, "sys/mounts") == 0) {
        r->ep = SFD_EP_MOUNTS;
    } else if (strcmp(rest, "sys/metrics") == 0) {
        r->ep = SFD_EP_METRICS;
    } else if (strcmp(rest, "auth/token/lookup-self") == 0) {
        r->ep = SFD_EP_LOOKUP_SELF;
    } else if (strncmp(rest, mounts, sizeof mounts - 1) == 0) {
        rest += sizeof mounts - 1;
        len = strlen(rest);
        len -= len > 0 && rest[len - 1] == '/' ? 1 : 0;
        if (len == 0 || sfd_url_decode(rest, len, r->mount_path,
                                       sizeof r->mount_path) != SF_OK) {
            return true; /* unknown: SFD_EP_NONE */
        }
        r->ep = SFD_EP_MOUNT;
    } else {
        return false;
    }
    return true;
}

void sfd_route_parse(const char *mount, enum sfd_method method,
                     const char *path, struct sfd_route *out)
{
    size_t mlen = mount == NULL ? 0 : strlen(mount);
    const char *rest;

    memset(out, 0, sizeof *out);
    out->method = method;
    if (path == NULL || strncmp(path, "/v1/", 4) != 0 || mlen == 0) {
        return;
    }
    rest = path + 4;
    if (route_system(out, rest)) {
        return;
    }
    if (strncmp(rest, mount, mlen) == 0 && rest[mlen] == '/') {
        route_mount(out, rest + mlen + 1);
    }
}
