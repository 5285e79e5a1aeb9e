/*
 * Audit log verification. Lines are checked one at a time against the
 * state left by the line before (its seq and hash), so a log of any size
 * is verified in constant memory.
 *
 * Limitation: lines cut from the end of a log leave no trace in what
 * remains, and lines after the last checkpoint are chained but not
 * sealed; a verifier would need the last seq or checkpoint from
 * elsewhere (a copy shipped off the host) to notice. The report counts
 * the unsealed tail so callers can warn about it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "error.h"
#include "kdf.h"

struct verifier {
    const struct sf_audit_keys *keys; /* NULL: MACs are not checked */
    struct sf_audit_report *rep;
    uint64_t line_no;
    uint64_t prev_seq;
    uint8_t prev_hash[SF_AUDIT_HASH_LEN];
};

/* The members every line has. */
struct parsed {
    uint64_t seq;
    const char *type;
    const char *prev;
    bool is_file_start;
};

static sf_status bad(struct verifier *v, sf_status code, const char *why)
{
    v->rep->bad_line = v->line_no;
    return sf_fail(code, "audit verify: line %llu: %s",
                   (unsigned long long)v->line_no, why);
}

static bool is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != SF_AUDIT_HEX_LEN) {
        return false;
    }
    return strspn(s, "0123456789abcdef") == SF_AUDIT_HEX_LEN;
}

/* Extracts the common members; doc stays owned by the caller. */
static sf_status parse_common(struct verifier *v, json_t *doc,
                              struct parsed *p)
{
    json_t *seq = json_object_get(doc, "seq");

    p->type = json_string_value(json_object_get(doc, "type"));
    p->prev = json_string_value(json_object_get(doc, "prev"));
    p->is_file_start = json_is_true(json_object_get(doc, "file_start"));
    if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
            p->type == NULL || !is_hex64(p->prev)) {
        return bad(v, SF_ERR_FORMAT, "not an audit line (needs seq, type "
                   "and prev)");
    }
    if (strcmp(p->type, "request") != 0 &&
            strcmp(p->type, "checkpoint") != 0) {
        return bad(v, SF_ERR_FORMAT, "unknown line type");
    }
    p->seq = (uint64_t)json_integer_value(seq);
    return SF_OK;
}

/* Checks that the line continues the chain, or starts it. */
static sf_status check_link(struct verifier *v, const struct parsed *p)
{
    static const char zeros[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    char want[SF_AUDIT_HEX_LEN + 1];
    bool is_checkpoint = strcmp(p->type, "checkpoint") == 0;

    if (v->line_no == 1) {
        if (strcmp(p->prev, zeros) == 0 && p->seq == 1) {
            return SF_OK;
        }
        if (is_checkpoint && p->is_file_start) {
            return SF_OK;
        }
        return bad(v, SF_ERR_AUTH, "the log does not start a chain: lines "
                   "before this one were removed");
    }
    if (p->is_file_start) {
        return bad(v, SF_ERR_AUTH, "a file_start checkpoint inside the log: "
                   "lines were inserted");
    }
    sf_audit_hex(v->prev_hash, sizeof v->prev_hash, want);
    if (strcmp(p->prev, want) != 0) {
        return bad(v, SF_ERR_AUTH, "prev is not the hash of the line before "
                   "it: a line was edited, removed, inserted or moved");
    }
    if (p->seq != v->prev_seq + 1) {
        return bad(v, SF_ERR_AUTH, "seq does not follow the line before it: "
                   "lines were removed or moved");
    }
    return SF_OK;
}

/* Checks the MAC that seals a checkpoint line. */
static sf_status check_mac(struct verifier *v, const char *line, size_t len)
{
    static const char head[] = ",\"mac\":\"";
    size_t body_len;
    char *body = NULL;
    char mac[SF_AUDIT_HEX_LEN + 1];
    sf_status rc;

    if (len <= SF_AUDIT_MAC_TAIL_LEN ||
            memcmp(line + len - SF_AUDIT_MAC_TAIL_LEN, head,
                   sizeof head - 1) != 0 ||
            memcmp(line + len - 2, "\"}", 2) != 0) {
        return bad(v, SF_ERR_AUTH, "checkpoint without a final mac member");
    }
    if (v->keys == NULL) {
        return SF_OK;
    }
    body_len = len - SF_AUDIT_MAC_TAIL_LEN + 1;
    body = malloc(body_len);
    if (body == NULL) {
        return SF_ERR_NOMEM;
    }
    memcpy(body, line, body_len - 1);
    body[body_len - 1] = '}';
    rc = sf_audit_body_mac(v->keys, body, body_len, mac);
    free(body);
    if (rc != SF_OK) {
        return rc;
    }
    if (!sf_ct_equal(mac, line + len - SF_AUDIT_HEX_LEN - 2,
                     SF_AUDIT_HEX_LEN)) {
        return bad(v, SF_ERR_AUTH, "checkpoint MAC does not match: the line "
                   "or the chain before it was changed, or the key is "
                   "wrong");
    }
    return SF_OK;
}

/* Records a verified line in the report and the chain state. */
static sf_status accept(struct verifier *v, const struct parsed *p,
                        const char *line, size_t len)
{
    struct sf_audit_report *rep = v->rep;
    bool is_checkpoint = strcmp(p->type, "checkpoint") == 0;

    if (rep->lines == 0) {
        rep->first_seq = p->seq;
    }
    rep->lines++;
    rep->last_seq = p->seq;
    rep->checkpoints += is_checkpoint ? 1 : 0;
    rep->unsealed_tail = is_checkpoint ? 0 : rep->unsealed_tail + 1;
    v->prev_seq = p->seq;
    return sf_hash(SF_MD_SHA256, (const uint8_t *)line, len, v->prev_hash);
}

static sf_status check_line(struct verifier *v, const char *line,
                            size_t len)
{
    json_t *doc = NULL;
    struct parsed p = {0};
    sf_status rc;

    v->line_no++;
    if (len == 0 || len >= SF_AUDIT_LINE_MAX) {
        return bad(v, SF_ERR_FORMAT, "empty or over-long line");
    }
    doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        rc = bad(v, SF_ERR_FORMAT, "not a JSON object");
        goto out;
    }
    rc = parse_common(v, doc, &p);
    if (rc == SF_OK) {
        rc = check_link(v, &p);
    }
    if (rc == SF_OK && strcmp(p.type, "checkpoint") == 0) {
        rc = check_mac(v, line, len);
    }
    if (rc == SF_OK) {
        rc = accept(v, &p, line, len);
    }

out:
    json_decref(doc);
    return rc;
}

/* Sets up a verifier; keys receives the derived keys when key is set. */
static sf_status start(struct verifier *v, const struct sf_secret *key,
                       struct sf_audit_keys *keys,
                       struct sf_audit_report *rep)
{
    memset(v, 0, sizeof *v);
    memset(rep, 0, sizeof *rep);
    v->rep = rep;
    if (key == NULL) {
        return SF_OK;
    }
    v->keys = keys;
    return sf_audit_keys_derive(key, keys);
}

sf_status sf_audit_verify_buf(const uint8_t *data, size_t len,
                              const struct sf_secret *audit_key,
                              struct sf_audit_report *rep)
{
    struct sf_audit_keys keys;
    struct verifier v;
    const char *p = (const char *)data;
    const char *end = p + len;
    sf_status rc;

    if ((data == NULL && len > 0) || rep == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = start(&v, audit_key, &keys, rep);
    while (rc == SF_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        if (nl == NULL) {
            v.line_no++;
            rc = bad(&v, SF_ERR_FORMAT, "incomplete last line");
            break;
        }
        rc = check_line(&v, p, (size_t)(nl - p));
        p = nl + 1;
    }
    rep->macs_verified = rc == SF_OK && audit_key != NULL;
    sf_wipe(&keys, sizeof keys);
    return rc;
}

sf_status sf_audit_verify_file(const char *path,
                               const struct sf_secret *audit_key,
                               struct sf_audit_report *rep)
{
    struct sf_audit_keys keys;
    struct verifier v;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    sf_status rc;

    if (path == NULL || rep == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = start(&v, audit_key, &keys, rep);
    f = rc == SF_OK ? fopen(path, "r") : NULL;
    if (rc == SF_OK && f == NULL) {
        rc = sf_fail(SF_ERR_IO, "audit verify: cannot open %.200s", path);
    }
    while (rc == SF_OK && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            v.line_no++;
            rc = bad(&v, SF_ERR_FORMAT, "incomplete last line");
            break;
        }
        rc = check_line(&v, line, (size_t)n - 1);
    }
    if (rc == SF_OK && f != NULL && ferror(f)) {
        rc = sf_fail(SF_ERR_IO, "audit verify: reading %.200s failed", path);
    }
    rep->macs_verified = rc == SF_OK && audit_key != NULL;
    free(line);
    if (f != NULL) {
        fclose(f);
    }
    sf_wipe(&keys, sizeof keys);
    return rc;
}
