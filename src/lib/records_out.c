#include <string.h>

#include "records_out.h"

static bool needs_escape(uint8_t c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* The escape yajl writes for byte c (needs_escape(c)); returns its
 * length. */
static size_t escape_of(uint8_t c, char esc[6])
{
    static const char hex[] = "0123456789ABCDEF";
    char short_form = 0;

    switch (c) {
    case '"':
        short_form = '"';
        break;
    case '\\':
        short_form = '\\';
        break;
    case '\b':
        short_form = 'b';
        break;
    case '\f':
        short_form = 'f';
        break;
    case '\n':
        short_form = 'n';
        break;
    case '\r':
        short_form = 'r';
        break;
    case '\t':
        short_form = 't';
        break;
    default:
        break;
    }
    esc[0] = '\\';
    if (short_form != 0) {
        esc[1] = short_form;
        return 2;
    }
    memcpy(esc + 1, "u00", 3);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    return 6;
}

sf_status rec_json_escape(struct sf_buf *b, const uint8_t *s, size_t len)
{
    size_t run = 0;
    sf_status rc = SF_OK;

    /* Copy runs of plain bytes at once; escape the others one by one. */
    for (size_t i = 0; rc == SF_OK && i < len; i++) {
        char esc[6];

        if (!needs_escape(s[i])) {
            run++;
            continue;
        }
        if (run > 0) {
            rc = sf_buf_append(b, s + i - run, run);
            run = 0;
        }
        if (rc == SF_OK) {
            rc = sf_buf_append(b, esc, escape_of(s[i], esc));
        }
    }
    if (rc == SF_OK && run > 0) {
        rc = sf_buf_append(b, s + len - run, run);
    }
    return rc;
}

sf_status rec_put_decimal(struct sf_buf *b, uint64_t v)
{
    char text[20];
    size_t at = sizeof text;

    do {
        text[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    return sf_buf_append(b, text + at, sizeof text - at);
}

void rec_out_init(struct rec_out *o, struct sf_buf *b)
{
    o->b = b;
    o->need_comma = false;
    o->rc = SF_OK;
}

sf_status rec_out_status(const struct rec_out *o)
{
    return o->rc;
}

/* Makes room for n more bytes; false (and the status set) when there is
 * none or an earlier call failed. */
static bool room(struct rec_out *o, size_t n)
{
    if (o->rc == SF_OK) {
        o->rc = sf_buf_reserve(o->b, n);
    }
    return o->rc == SF_OK;
}

/* Writes the separator a new value at this level needs, and n more
 * bytes of room; the caller writes the value. */
static bool start_value(struct rec_out *o, size_t n)
{
    if (!room(o, n + 1)) {
        return false;
    }
    if (o->need_comma) {
        o->b->data[o->b->len++] = ',';
    }
    o->need_comma = true;
    return true;
}

static void put_byte(struct sf_buf *b, char c)
{
    b->data[b->len++] = (uint8_t)c;
}

/*
 * Writes pre (0 to 2 bytes: a separator), then "s" escaped, then post (0
 * or 1 byte). Most names and values need no escape: they are copied
 * while they are scanned, with room made once.
 */
static void quoted(struct rec_out *o, const char *pre, size_t pre_len,
                   const uint8_t *s, size_t len, char post)
{
    struct sf_buf *b = o->b;
    uint8_t *d;
    size_t i;

    if (!room(o, pre_len + len + 3)) {
        return;
    }
    d = b->data + b->len;
    memcpy(d, pre, pre_len);
    d += pre_len;
    *d++ = '"';
    for (i = 0; i < len && !needs_escape(s[i]); i++) {
        d[i] = s[i];
    }
    if (i == len) {
        d[len] = '"';
        b->len += pre_len + len + 2;
    } else {
        b->len += pre_len + 1 + i;
        o->rc = rec_json_escape(b, s + i, len - i);
        if (room(o, 2)) {
            put_byte(b, '"');
        }
    }
    if (post != 0 && o->rc == SF_OK) {
        put_byte(b, post);
    }
}

void rec_out_key(struct rec_out *o, const char *s, size_t len)
{
    quoted(o, ",", o->need_comma ? 1 : 0, (const uint8_t *)s, len, ':');
    o->need_comma = false;
}

void rec_out_string(struct rec_out *o, const uint8_t *s, size_t len)
{
    quoted(o, ",", o->need_comma ? 1 : 0, s, len, 0);
    o->need_comma = true;
}

void rec_out_number(struct rec_out *o, const char *s, size_t len)
{
    if (start_value(o, len) && len > 0) {
        memcpy(o->b->data + o->b->len, s, len);
        o->b->len += len;
    }
}

void rec_out_bool(struct rec_out *o, bool v)
{
    if (v) {
        rec_out_number(o, "true", 4);
    } else {
        rec_out_number(o, "false", 5);
    }
}

void rec_out_null(struct rec_out *o)
{
    rec_out_number(o, "null", 4);
}

void rec_out_open(struct rec_out *o, char c)
{
    if (start_value(o, 1)) {
        put_byte(o->b, c);
        o->need_comma = false;
    }
}

void rec_out_close(struct rec_out *o, char c)
{
    if (room(o, 1)) {
        put_byte(o->b, c);
        o->need_comma = true;
    }
}

void rec_out_value(struct rec_out *o)
{
    (void)start_value(o, 0);
}

void rec_out_raw(struct rec_out *o, const void *p, size_t len)
{
    if (o->rc == SF_OK) {
        o->rc = sf_buf_append(o->b, p, len);
    }
}

void rec_out_tape(struct rec_out *o, const struct rec_tape *t, size_t i)
{
    size_t last = t->ents[i].end;

    for (; i <= last && o->rc == SF_OK; i++) {
        const struct tape_ent *e = &t->ents[i];

        switch (e->kind) {
        case TAPE_NULL:
            rec_out_null(o);
            break;
        case TAPE_FALSE:
        case TAPE_TRUE:
            rec_out_bool(o, e->kind == TAPE_TRUE);
            break;
        case TAPE_NUMBER:
            rec_out_number(o, rec_tape_str(t, i), e->len);
            break;
        case TAPE_STRING:
            rec_out_string(o, (const uint8_t *)rec_tape_str(t, i), e->len);
            break;
        case TAPE_KEY:
            rec_out_key(o, rec_tape_str(t, i), e->len);
            break;
        case TAPE_MAP:
            rec_out_open(o, '{');
            break;
        case TAPE_ARRAY:
            rec_out_open(o, '[');
            break;
        default:
            rec_out_close(o, t->ents[e->off].kind == TAPE_MAP ? '}' : ']');
            break;
        }
    }
}
