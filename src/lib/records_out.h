/*
 * Internal: compact JSON written straight into a buffer, byte for byte as
 * yajl's generator writes it (no spaces; '"', '\\' and control characters
 * escaped, the six short escapes where JSON has them, else \u00XX with
 * upper-case hex; every other byte, '/' and non-ASCII included, as is).
 *
 * The record walkers write one value per call on their hot path; yajl's
 * generator checks its state machine and escapes byte by byte through a
 * print callback on every call, and then its buffer has to be copied
 * out. This writer appends to the caller's buffer (a worker's batch
 * output) and copies unescaped runs at once.
 *
 * Errors are sticky: after the first failure (only SF_ERR_NOMEM) every
 * call does nothing, and rec_out_status() reports it, so a walker checks
 * once per value or record instead of after every punctuation mark.
 */
#ifndef SF_RECORDS_OUT_H
#define SF_RECORDS_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records_tape.h"
#include "sealflow/buf.h"
#include "sealflow/status.h"

struct rec_out {
    struct sf_buf *b;
    bool need_comma;  /* a value was written at this level */
    sf_status rc;
};

/* Starts writing at the end of b (a fresh top level). */
void rec_out_init(struct rec_out *o, struct sf_buf *b);

/* SF_OK, or the first failure since rec_out_init. */
SF_MUST_CHECK sf_status rec_out_status(const struct rec_out *o);

/* A member name (escaped) and its ':'. */
void rec_out_key(struct rec_out *o, const char *s, size_t len);

/* A string value, escaped. */
void rec_out_string(struct rec_out *o, const uint8_t *s, size_t len);

/* A number's text, as is. */
void rec_out_number(struct rec_out *o, const char *s, size_t len);

void rec_out_bool(struct rec_out *o, bool v);
void rec_out_null(struct rec_out *o);

/* '{' or '[', and the matching '}' or ']'. */
void rec_out_open(struct rec_out *o, char c);
void rec_out_close(struct rec_out *o, char c);

/*
 * Starts a value the caller writes itself into o->b (a token, or JSON
 * text rendered before): writes the ',' it needs. The caller must write
 * exactly one well-formed JSON value.
 */
void rec_out_value(struct rec_out *o);

/* Appends raw bytes (part of a value begun with rec_out_value). */
void rec_out_raw(struct rec_out *o, const void *p, size_t len);

/* A whole value of a tape (entry i and its subtree). */
void rec_out_tape(struct rec_out *o, const struct rec_tape *t, size_t i);

/* Appends s escaped as a JSON string body (no quotes) to b. */
SF_MUST_CHECK sf_status rec_json_escape(struct sf_buf *b, const uint8_t *s,
                                        size_t len);

/* Appends the decimal digits of v to b. */
SF_MUST_CHECK sf_status rec_put_decimal(struct sf_buf *b, uint64_t v);

#endif
