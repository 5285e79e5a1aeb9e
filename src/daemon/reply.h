/*
 * Responses in Vault's shapes: the envelope around "data", and errors as
 * {"errors": ["..."]}.
 */
#ifndef SFD_REPLY_H
#define SFD_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "sealflow/status.h"

#define SFD_ERROR_MAX 400

struct sfd_reply {
    unsigned status;      /* HTTP status; 0 until a handler sets one */
    json_t *data;         /* the envelope's "data" (owned) */
    json_t *body;         /* a whole body without the envelope (owned) */
    json_t *warnings;     /* array of strings, or NULL (owned) */
    char *text;           /* a non-JSON body (owned), e.g. metrics */
    const char *content_type; /* for text */
    bool has_error;
    char error[SFD_ERROR_MAX]; /* the message when has_error */
    bool is_bare_404;     /* Vault's {"errors": []} */
};

/* Sets an error reply with a printf-style message. */
void sfd_reply_error(struct sfd_reply *r, unsigned status, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

/* Sets an error reply from a library status and sf_last_error(): 400 for
 * bad input and refused operations, 403, 503, or 500 for failures of the
 * service itself. */
void sfd_reply_status(struct sfd_reply *r, sf_status rc);

/* HTTP status for a library failure (see sfd_reply_status). */
unsigned sfd_http_status(sf_status rc);

/* 200 with data (takes ownership). */
void sfd_reply_data(struct sfd_reply *r, json_t *data);

/* Adds a warning to the envelope. */
void sfd_reply_warn(struct sfd_reply *r, const char *text);

/* 204 No Content. */
void sfd_reply_empty(struct sfd_reply *r);

/* Releases what the reply owns and zeroes it. */
void sfd_reply_clear(struct sfd_reply *r);

/* Serialises the reply; *out is malloc'd text (NULL for 204), *ctype its
 * content type. request_id goes into the envelope. */
void sfd_reply_render(const struct sfd_reply *r, const char *request_id,
                      char **out, size_t *out_len, const char **ctype);

#endif
