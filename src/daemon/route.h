/*
 * Request routing: maps a method and a raw (still percent-encoded) URL
 * path to an endpoint and its key name. Pure code with no I/O, so the fuzz
 * target can drive it directly.
 */
#ifndef SFD_ROUTE_H
#define SFD_ROUTE_H

#include <stdbool.h>

#include "sealflow/keystore.h"
#include "sealflow/status.h"

enum sfd_endpoint {
    SFD_EP_NONE = 0,     /* unknown path: 404 */
    SFD_EP_KEYS,         /* <mount>/keys */
    SFD_EP_KEY,          /* <mount>/keys/:name */
    SFD_EP_KEY_CONFIG,   /* <mount>/keys/:name/config */
    SFD_EP_KEY_ROTATE,   /* <mount>/keys/:name/rotate */
    SFD_EP_KEY_TRIM,     /* <mount>/keys/:name/trim */
    SFD_EP_ENCRYPT,      /* <mount>/encrypt/:name */
    SFD_EP_DECRYPT,      /* <mount>/decrypt/:name */
    SFD_EP_REWRAP,       /* <mount>/rewrap/:name */
    SFD_EP_DATAKEY,      /* <mount>/datakey/(plaintext|wrapped)/:name */
    SFD_EP_HEALTH,       /* sys/health */
    SFD_EP_MOUNTS,       /* sys/mounts */
    SFD_EP_MOUNT,        /* sys/mounts/:path */
    SFD_EP_METRICS,      /* sys/metrics */
    SFD_EP_LOOKUP_SELF,  /* auth/token/lookup-self */
    SFD_EP_COUNT
};

/* Methods, as a bit set so endpoints can list what they accept. POST and
 * PUT are one method, as in Vault. */
enum sfd_method {
    SFD_M_OTHER = 1u << 0,
    SFD_M_GET = 1u << 1,
    SFD_M_WRITE = 1u << 2, /* POST or PUT */
    SFD_M_DELETE = 1u << 3,
    SFD_M_LIST = 1u << 4,  /* LIST, or GET with ?list=true */
    SFD_M_HEAD = 1u << 5
};

#define SFD_MOUNT_MAX 64
#define SFD_ROUTE_ERROR_MAX 200

struct sfd_route {
    enum sfd_endpoint ep;
    enum sfd_method method;
    char key[SF_KEY_NAME_MAX + 1];    /* decoded key name, or "" */
    bool is_plaintext_datakey;        /* datakey/plaintext vs wrapped */
    char mount_path[SFD_MOUNT_MAX + 1]; /* sys/mounts/:path */
    /* Set when the key name segment is malformed (bad escape, NUL,
     * grammar): the request gets 400 with this text. */
    bool has_bad_key;
    char error[SFD_ROUTE_ERROR_MAX];
};

/* Classifies an HTTP method; is_list_query is ?list=true. */
enum sfd_method sfd_method_parse(const char *method, bool is_list_query);

/*
 * Routes path (as received, starting with "/v1/") for a transit engine
 * mounted at mount. Never fails: an unknown path gives SFD_EP_NONE, and a
 * bad key name sets has_bad_key with the reason in error. The key name is
 * everything after the endpoint prefix, percent-decoded; for writes, a
 * final raw "/config", "/rotate" or "/trim" names the sub-operation (an
 * encoded "%2Fconfig" stays part of the name).
 */
void sfd_route_parse(const char *mount, enum sfd_method method,
                     const char *path, struct sfd_route *out);

/* Percent-decodes len bytes of s into out (out_max bytes with NUL).
 * Refuses bad escapes, an encoded NUL and overflow (SF_ERR_FORMAT). */
SF_MUST_CHECK sf_status sfd_url_decode(const char *s, size_t len, char *out,
                                       size_t out_max);

#endif
