/*
 * JSON path patterns: parsing with exact error offsets, matching and the
 * canonical rendering of concrete paths. The grammar is a subset of
 * RFC 9535 (name, index and wildcard selectors, descendant segments) plus
 * '-' inside shorthand names; docs/POLICY.md, "JSON paths", lists it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

/* Parser state: the text, the position and the pattern being built. */
struct jp_parser {
    const char *s;
    size_t len;
    size_t pos;
    struct sf_jsonpath *out;
    struct sf_jp_error *err;
};

static sf_status jp_error(struct jp_parser *ps, size_t offset,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sf_status jp_error(struct jp_parser *ps, size_t offset,
                          const char *fmt, ...)
{
    va_list ap;

    ps->err->offset = offset;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
    va_end(ap);
    return SF_ERR_FORMAT;
}

static int peek(const struct jp_parser *ps, size_t ahead)
{
    if (ps->pos + ahead >= ps->len) {
        return -1;
    }
    return (unsigned char)ps->s[ps->pos + ahead];
}

static bool is_name_first(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

static bool is_name_char(int c)
{
    return is_name_first(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Describes the character at pos for an error message. */
static const char *char_desc(const struct jp_parser *ps, char *tmp,
                             size_t tmp_max)
{
    int c = peek(ps, 0);

    if (c < 0) {
        return "the end of the path";
    }
    if (c < 0x20 || c == 0x7f) {
        snprintf(tmp, tmp_max, "control character 0x%02x", (unsigned)c);
    } else if (c >= 0x80) {
        snprintf(tmp, tmp_max, "byte 0x%02x", (unsigned)c);
    } else {
        snprintf(tmp, tmp_max, "'%c'", c);
    }
    return tmp;
}

static sf_status add_seg(struct jp_parser *ps, const struct sf_jp_seg *seg,
                         size_t at)
{
    struct sf_jsonpath *jp = ps->out;
    struct sf_jp_seg *segs;

    if (jp->len >= SF_JSONPATH_SEGMENT_MAX) {
        return jp_error(ps, at, "too many segments (at most %d)",
                        SF_JSONPATH_SEGMENT_MAX);
    }
    segs = realloc(jp->segs, (jp->len + 1) * sizeof *segs);
    if (segs == NULL) {
        return SF_ERR_NOMEM;
    }
    jp->segs = segs;
    jp->segs[jp->len++] = *seg;
    return SF_OK;
}

static sf_status add_member(struct jp_parser *ps, bool is_desc,
                            const char *name, size_t name_len, size_t at)
{
    struct sf_jp_seg seg = {SF_JP_MEMBER, is_desc, NULL, name_len, 0};
    sf_status rc;

    seg.name = malloc(name_len + 1);
    if (seg.name == NULL) {
        return SF_ERR_NOMEM;
    }
    if (name_len > 0) {
        memcpy(seg.name, name, name_len);
    }
    seg.name[name_len] = '\0';
    rc = add_seg(ps, &seg, at);
    if (rc != SF_OK) {
        free(seg.name);
    }
    return rc;
}

static sf_status parse_shorthand(struct jp_parser *ps, bool is_desc)
{
    size_t start = ps->pos;

    while (is_name_char(peek(ps, 0))) {
        ps->pos++;
    }
    return add_member(ps, is_desc, ps->s + start, ps->pos - start, start);
}

/* Reads a decimal index with no sign and no leading zero. */
static sf_status parse_index(struct jp_parser *ps, size_t *index)
{
    size_t start = ps->pos;
    uint64_t v = 0;

    if (peek(ps, 0) == '0' && is_digit(peek(ps, 1))) {
        return jp_error(ps, start, "index has a leading zero");
    }
    while (is_digit(peek(ps, 0))) {
        v = v * 10 + (uint64_t)(peek(ps, 0) - '0');
        if (v > SF_JSONPATH_INDEX_MAX) {
            return jp_error(ps, start, "index is larger than %u",
                            SF_JSONPATH_INDEX_MAX);
        }
        ps->pos++;
    }
    *index = (size_t)v;
    return SF_OK;
}

static int hex_value(int c)
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

static bool read_hex4(struct jp_parser *ps, uint32_t *v)
{
    *v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hex_value(peek(ps, i));

        if (h < 0) {
            return false;
        }
        *v = (*v << 4) | (uint32_t)h;
    }
    ps->pos += 4;
    return true;
}

/* Encodes code point cp as UTF-8 at p; returns the byte count. */
static size_t utf8_put(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes "\uXXXX" (pos is after the 'u'), joining surrogate pairs. */
static sf_status parse_unicode_escape(struct jp_parser *ps, size_t esc_at,
                                      char *dst, size_t *dst_len)
{
    uint32_t cp;
    uint32_t lo;

    if (!read_hex4(ps, &cp)) {
        return jp_error(ps, esc_at, "\\u needs four hex digits");
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        return jp_error(ps, esc_at, "lone low surrogate in \\u escape");
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (peek(ps, 0) != '\\' || peek(ps, 1) != 'u') {
            return jp_error(ps, esc_at, "high surrogate in \\u escape "
                            "is not followed by a low surrogate");
        }
        ps->pos += 2;
        if (!read_hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff) {
            return jp_error(ps, esc_at, "high surrogate in \\u escape "
                            "is not followed by a low surrogate");
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    *dst_len += utf8_put(dst + *dst_len, cp);
    return SF_OK;
}

static int simple_escape(int c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case '/':
    case '\\':
    case '\'':
    case '"':
        return c;
    default:
        return -1;
    }
}

/* Decodes one backslash escape at pos into name[*n]. */
static sf_status parse_escape(struct jp_parser *ps, char *name, size_t *n)
{
    size_t esc_at = ps->pos;
    int c = peek(ps, 1);

    if (c == 'u') {
        ps->pos += 2;
        return parse_unicode_escape(ps, esc_at, name, n);
    }
    if (simple_escape(c) < 0) {
        return jp_error(ps, esc_at, "unknown escape in a quoted name; use "
                        "\\\\ \\' \\\" \\/ \\b \\f \\n \\r \\t or "
                        "\\uXXXX");
    }
    name[(*n)++] = (char)simple_escape(c);
    ps->pos += 2;
    return SF_OK;
}

/*
 * Reads a quoted name; pos is at the opening quote. The decoded name is
 * never longer than the quoted text, so one buffer of that size holds it.
 */
static sf_status parse_quoted(struct jp_parser *ps, bool is_desc)
{
    size_t start = ps->pos;
    int quote = peek(ps, 0);
    char *name = malloc(ps->len - ps->pos + 1);
    size_t n = 0;
    sf_status rc = SF_OK;
    int c;

    if (name == NULL) {
        return SF_ERR_NOMEM;
    }
    ps->pos++;
    while (rc == SF_OK && (c = peek(ps, 0)) != quote) {
        if (c < 0) {
            rc = jp_error(ps, start, "unterminated quoted name");
        } else if (c < 0x20) {
            rc = jp_error(ps, ps->pos, "control character 0x%02x in a "
                          "quoted name; write it as an escape",
                          (unsigned)c);
        } else if (c == '\\') {
            rc = parse_escape(ps, name, &n);
        } else {
            name[n++] = (char)c;
            ps->pos++;
        }
    }
    if (rc == SF_OK) {
        ps->pos++;
        rc = add_member(ps, is_desc, name, n, start);
    }
    free(name);
    return rc;
}

/* true when the bracket content at pos is digits followed by ':'. */
static bool is_slice(const struct jp_parser *ps)
{
    size_t i = 0;

    while (is_digit(peek(ps, i))) {
        i++;
    }
    return peek(ps, i) == ':';
}

/* Explains why a bracket selector we do not support was refused. */
static sf_status bracket_unsupported(struct jp_parser *ps)
{
    char tmp[40];
    int c = peek(ps, 0);
    if (c == '-' && is_digit(peek(ps, 1))) {
        return jp_error(ps, ps->pos, "negative indices are not supported");
    }
    if (c == '?') {
        return jp_error(ps, ps->pos,
                        "filter expressions are not supported");
    }
    if (is_slice(ps)) {
        return jp_error(ps, ps->pos, "array slices are not supported");
    }
    if (c == ']') {
        return jp_error(ps, ps->pos, "empty brackets; expected an index, "
                        "'*' or a quoted name");
    }
    return jp_error(ps, ps->pos, "expected an index, '*' or a quoted "
                    "name after '[', found %s",
                    char_desc(ps, tmp, sizeof tmp));
}

static sf_status parse_bracket(struct jp_parser *ps, bool is_desc)
{
    struct sf_jp_seg seg = {SF_JP_INDEX, is_desc, NULL, 0, 0};
    size_t open = ps->pos;
    char tmp[40];
    int c;
    sf_status rc;

    ps->pos++;
    c = peek(ps, 0);
    if (c == '*') {
        seg.kind = SF_JP_WILDCARD;
        ps->pos++;
        rc = add_seg(ps, &seg, open);
    } else if (is_digit(c) && !is_slice(ps)) {
        rc = parse_index(ps, &seg.index);
        if (rc == SF_OK) {
            rc = add_seg(ps, &seg, open);
        }
    } else if (c == '\'' || c == '"') {
        rc = parse_quoted(ps, is_desc);
    } else {
        return bracket_unsupported(ps);
    }
    if (rc != SF_OK) {
        return rc;
    }
    c = peek(ps, 0);
    if (c == ',') {
        return jp_error(ps, ps->pos, "unions ('[a,b]') are not supported; "
                        "write one rule per path");
    }
    if (c != ']') {
        return jp_error(ps, ps->pos, "expected ']', found %s",
                        char_desc(ps, tmp, sizeof tmp));
    }
    ps->pos++;
    return SF_OK;
}

/* After "." or "..": a shorthand name, '*', or (after "..") a bracket. */
static sf_status parse_dot(struct jp_parser *ps, bool is_desc)
{
    struct sf_jp_seg seg = {SF_JP_WILDCARD, is_desc, NULL, 0, 0};
    size_t at = ps->pos;
    char tmp[40];
    int c = peek(ps, 0);

    if (c == '*') {
        ps->pos++;
        return add_seg(ps, &seg, at);
    }
    if (is_name_first(c)) {
        return parse_shorthand(ps, is_desc);
    }
    if (is_desc && c == '[') {
        return parse_bracket(ps, true);
    }
    if (c == '[') {
        return jp_error(ps, at - 1, "'.' before '['; write $['name'] or "
                        "$[0] without the dot");
    }
    if (is_desc) {
        return jp_error(ps, at, "'..' must be followed by a member name, "
                        "'*' or '[', found %s",
                        char_desc(ps, tmp, sizeof tmp));
    }
    if (is_digit(c) || c == '-') {
        return jp_error(ps, at, "a member name after '.' cannot start "
                        "with %s; write ['name'] or [index]",
                        char_desc(ps, tmp, sizeof tmp));
    }
    return jp_error(ps, at, "expected a member name or '*' after '.', "
                    "found %s", char_desc(ps, tmp, sizeof tmp));
}

static sf_status parse_segments(struct jp_parser *ps)
{
    char tmp[40];
    sf_status rc = SF_OK;

    while (rc == SF_OK && ps->pos < ps->len) {
        int c = peek(ps, 0);

        if (c == '.' && peek(ps, 1) == '.') {
            ps->pos += 2;
            rc = parse_dot(ps, true);
        } else if (c == '.') {
            ps->pos++;
            rc = parse_dot(ps, false);
        } else if (c == '[') {
            rc = parse_bracket(ps, false);
        } else {
            rc = jp_error(ps, ps->pos, "unexpected %s; expected '.', '..' "
                          "or '['", char_desc(ps, tmp, sizeof tmp));
        }
    }
    return rc;
}

sf_status sf_jsonpath_parse(const char *text, size_t len,
                            struct sf_jsonpath *out, struct sf_jp_error *err)
{
    struct sf_jp_error scratch;
    struct jp_parser ps = {text, len, 0, out, err != NULL ? err : &scratch};
    sf_status rc;

    if (out == NULL || (text == NULL && len > 0)) {
        return SF_ERR_INVALID_ARG;
    }
    out->segs = NULL;
    out->len = 0;
    if (len > SF_JSONPATH_LEN_MAX) {
        return jp_error(&ps, SF_JSONPATH_LEN_MAX, "path is longer than "
                        "%d bytes", SF_JSONPATH_LEN_MAX);
    }
    if (len == 0 || text[0] != '$') {
        return jp_error(&ps, 0, "a JSON path starts with '$'");
    }
    ps.pos = 1;
    rc = parse_segments(&ps);
    if (rc != SF_OK) {
        sf_jsonpath_free(out);
    }
    return rc;
}

void sf_jsonpath_free(struct sf_jsonpath *jp)
{
    if (jp == NULL) {
        return;
    }
    for (size_t i = 0; i < jp->len; i++) {
        free(jp->segs[i].name);
    }
    free(jp->segs);
    jp->segs = NULL;
    jp->len = 0;
}

enum sf_rule_tier sf_jsonpath_tier(const struct sf_jsonpath *jp)
{
    enum sf_rule_tier tier = SF_TIER_EXACT;

    for (size_t i = 0; i < jp->len; i++) {
        if (jp->segs[i].is_descendant) {
            return SF_TIER_DESCENDANT;
        }
        if (jp->segs[i].kind == SF_JP_WILDCARD) {
            tier = SF_TIER_WILDCARD;
        }
    }
    return tier;
}

bool sf_jsonpath_is_concrete(const struct sf_jsonpath *jp)
{
    return sf_jsonpath_tier(jp) == SF_TIER_EXACT;
}

bool sf_jsonpath_seg_matches(const struct sf_jp_seg *seg,
                             const struct sf_jp_field *f)
{
    switch (seg->kind) {
    case SF_JP_WILDCARD:
        return true;
    case SF_JP_INDEX:
        return f->name == NULL && f->index == seg->index;
    case SF_JP_MEMBER:
        return f->name != NULL && f->name_len == seg->name_len &&
               (seg->name_len == 0 ||
                memcmp(f->name, seg->name, seg->name_len) == 0);
    default:
        return false;
    }
}

static bool match_from(const struct sf_jp_seg *segs, size_t ns,
                       const struct sf_jp_field *f, size_t nf)
{
    if (ns == 0) {
        return nf == 0;
    }
    if (!segs[0].is_descendant) {
        return nf > 0 && sf_jsonpath_seg_matches(&segs[0], &f[0]) &&
               match_from(segs + 1, ns - 1, f + 1, nf - 1);
    }
    for (size_t k = 0; k < nf; k++) {
        if (sf_jsonpath_seg_matches(&segs[0], &f[k]) &&
                match_from(segs + 1, ns - 1, f + k + 1, nf - k - 1)) {
            return true;
        }
    }
    return false;
}

bool sf_jsonpath_match(const struct sf_jsonpath *jp,
                       const struct sf_jp_field *f, size_t n)
{
    return match_from(jp->segs, jp->len, f, n);
}

/* Writes the JSON escape of a byte that needs one; returns its length. */
static size_t escape_byte(unsigned char c, char esc[6])
{
    static const char hex[] = "0123456789abcdef";
    static const char short_esc[0x20] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f',
        ['\r'] = 'r'};

    esc[0] = '\\';
    if (c == '"' || c == '\\') {
        esc[1] = (char)c;
        return 2;
    }
    if (c < 0x20 && short_esc[c] != 0) {
        esc[1] = short_esc[c];
        return 2;
    }
    esc[1] = 'u';
    esc[2] = '0';
    esc[3] = '0';
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    return 6;
}

sf_status sf_jsonpath_append_member(struct sf_buf *out, const char *name,
                                    size_t name_len)
{
    sf_status rc = sf_buf_append(out, "[\"", 2);
    size_t run = 0;

    /* Copy runs of plain bytes at once; escape the others one by one. */
    for (size_t i = 0; rc == SF_OK && i < name_len; i++) {
        unsigned char c = (unsigned char)name[i];
        char esc[6];

        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        if (run > 0) {
            rc = sf_buf_append(out, name + i - run, run);
            run = 0;
        }
        if (rc == SF_OK) {
            rc = sf_buf_append(out, esc, escape_byte(c, esc));
        }
    }
    if (rc == SF_OK && run > 0) {
        rc = sf_buf_append(out, name + name_len - run, run);
    }
    if (rc == SF_OK) {
        rc = sf_buf_append(out, "\"]", 2);
    }
    return rc;
}

sf_status sf_jsonpath_append_index(struct sf_buf *out, size_t index)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "[%zu]", index);

    return sf_buf_append(out, tmp, (size_t)n);
}
