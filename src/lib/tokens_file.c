/*
 * Reading and writing the token file. Every field is validated on load,
 * so a damaged or hand-edited file is refused with the token index and
 * field instead of granting something unexpected.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "sealflow/buf.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"
#include "tokens_file.h"

#define FORMAT_NAME "sealflow-tokens"
#define FORMAT_VERSION 1

sf_status sf_token_name_check(const char *name)
{
    size_t len = name == NULL ? 0 : strlen(name);

    if (len == 0 || len > SF_TOKEN_NAME_MAX) {
        return sf_fail(SF_ERR_FORMAT, "token name must be 1 to %d "
                       "characters", SF_TOKEN_NAME_MAX);
    }
    for (size_t i = 0; i < len; i++) {
        if (name[i] < 0x21 || name[i] > 0x7e) {
            return sf_fail(SF_ERR_FORMAT, "token name: only printable "
                           "ASCII without spaces is allowed");
        }
    }
    return SF_OK;
}

void sf_token_recs_free(struct sf_token_rec *recs, size_t count)
{
    if (recs != NULL) {
        sf_wipe(recs, count * sizeof *recs);
    }
    free(recs);
}

sf_status sf_token_recs_add(struct sf_token_rec **recs, size_t *count,
                            const struct sf_token_rec *rec)
{
    struct sf_token_rec *grown;

    if (*count >= SF_TOKENS_MAX) {
        return sf_fail(SF_ERR_LIMIT, "token file holds the maximum of %d "
                       "tokens; revoke some first", SF_TOKENS_MAX);
    }
    grown = realloc(*recs, (*count + 1) * sizeof **recs);
    if (grown == NULL) {
        return SF_ERR_NOMEM;
    }
    grown[*count] = *rec;
    *recs = grown;
    (*count)++;
    return SF_OK;
}

/* Copies a JSON string member into dst (dst_max bytes with NUL). */
static sf_status get_str(json_t *obj, const char *field, char *dst,
                         size_t dst_max, size_t index)
{
    const char *s = json_string_value(json_object_get(obj, field));

    if (s == NULL || strlen(s) >= dst_max) {
        return sf_fail(SF_ERR_FORMAT, "token file: token %zu: field '%s' "
                       "missing, not a string or too long", index, field);
    }
    memcpy(dst, s, strlen(s) + 1);
    return SF_OK;
}

/* Decodes the hex SHA-256 member. */
static sf_status get_hash(json_t *obj, uint8_t hash[32], size_t index)
{
    const char *s = json_string_value(json_object_get(obj, "sha256"));
    struct sf_buf raw = SF_BUF_INIT;
    sf_status rc = SF_ERR_FORMAT;

    if (s != NULL && strlen(s) == 64 &&
            sf_hex_decode(s, 64, &raw) == SF_OK && raw.len == 32) {
        memcpy(hash, raw.data, 32);
        rc = SF_OK;
    }
    sf_buf_free(&raw);
    if (rc != SF_OK) {
        return sf_fail(rc, "token file: token %zu: 'sha256' must be 64 hex "
                       "digits", index);
    }
    return SF_OK;
}

/* Parses the rule strings of a non-root token. */
static sf_status get_rules(json_t *obj, struct sf_token_info *info,
                           size_t index)
{
    json_t *rules = json_object_get(obj, "rules");
    size_t n = json_array_size(rules);

    if (info->is_root) {
        return SF_OK;
    }
    if (!json_is_array(rules) || n == 0 || n > SF_TOKEN_RULES_MAX) {
        return sf_fail(SF_ERR_FORMAT, "token file: token %zu: 'rules' must "
                       "list 1 to %d rules", index, SF_TOKEN_RULES_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        const char *text = json_string_value(json_array_get(rules, i));
        sf_status rc;

        if (text == NULL) {
            return sf_fail(SF_ERR_FORMAT, "token file: token %zu: rule %zu "
                           "is not a string", index, i);
        }
        rc = sf_token_rule_parse(text, &info->rules[i]);
        if (rc != SF_OK) {
            return rc;
        }
    }
    info->rule_count = n;
    return SF_OK;
}

/* Parses one token object into rec. */
static sf_status parse_rec(json_t *obj, size_t index,
                           struct sf_token_rec *rec)
{
    json_t *root = json_object_get(obj, "root");
    json_t *created = json_object_get(obj, "created");
    sf_status rc;

    memset(rec, 0, sizeof *rec);
    if (!json_is_object(obj) || !json_is_boolean(root) ||
            !json_is_integer(created)) {
        return sf_fail(SF_ERR_FORMAT, "token file: token %zu must be an "
                       "object with boolean 'root' and integer 'created'",
                       index);
    }
    rec->info.is_root = json_is_true(root);
    rec->info.created_at = (int64_t)json_integer_value(created);
    rc = get_str(obj, "accessor", rec->info.accessor,
                 sizeof rec->info.accessor, index);
    if (rc == SF_OK) {
        rc = get_str(obj, "name", rec->info.name, sizeof rec->info.name,
                     index);
    }
    if (rc == SF_OK) {
        rc = get_hash(obj, rec->hash, index);
    }
    if (rc == SF_OK) {
        rc = get_rules(obj, &rec->info, index);
    }
    return rc;
}

/* Checks the header members and returns the token array. */
static sf_status parse_header(json_t *doc, json_t **tokens)
{
    const char *format = json_string_value(json_object_get(doc, "format"));
    json_t *version = json_object_get(doc, "version");

    *tokens = json_object_get(doc, "tokens");
    if (format == NULL || strcmp(format, FORMAT_NAME) != 0 ||
            !json_is_integer(version) || !json_is_array(*tokens)) {
        return sf_fail(SF_ERR_FORMAT, "token file: not a sealflow token "
                       "file (needs format, version and tokens)");
    }
    if (json_integer_value(version) != FORMAT_VERSION) {
        return sf_fail(SF_ERR_UNSUPPORTED, "token file: version %lld is not "
                       "supported (expected %d)",
                       (long long)json_integer_value(version),
                       FORMAT_VERSION);
    }
    if (json_array_size(*tokens) > SF_TOKENS_MAX) {
        return sf_fail(SF_ERR_LIMIT, "token file: more than %d tokens",
                       SF_TOKENS_MAX);
    }
    return SF_OK;
}

sf_status sf_token_file_load(const char *path, struct sf_token_rec **recs,
                             size_t *count)
{
    json_error_t jerr;
    json_t *doc = NULL;
    json_t *tokens = NULL;
    size_t n;
    sf_status rc;

    *recs = NULL;
    *count = 0;
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        rc = sf_fail(access(path, R_OK) == 0 ? SF_ERR_FORMAT : SF_ERR_IO,
                     "token file %.200s: line %d column %d: %.80s", path,
                     jerr.line, jerr.column, jerr.text);
        goto out;
    }
    rc = parse_header(doc, &tokens);
    if (rc != SF_OK) {
        goto out;
    }
    n = json_array_size(tokens);
    *recs = calloc(n + 1, sizeof **recs);
    if (*recs == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        rc = parse_rec(json_array_get(tokens, i), i, &(*recs)[i]);
    }
    *count = n;

out:
    if (rc != SF_OK) {
        sf_token_recs_free(*recs, *count);
        *recs = NULL;
        *count = 0;
    }
    json_decref(doc);
    return rc;
}

/* Builds the JSON object of one record. */
static json_t *rec_to_json(const struct sf_token_rec *rec)
{
    struct sf_buf hex = SF_BUF_INIT;
    json_t *rules = json_array();
    json_t *obj = NULL;
    char text[SF_TOKEN_GLOB_MAX + 200];

    for (size_t i = 0; rules != NULL && i < rec->info.rule_count; i++) {
        if (sf_token_rule_format(&rec->info.rules[i], text, sizeof text) !=
                SF_OK ||
                json_array_append_new(rules, json_string(text)) != 0) {
            goto out;
        }
    }
    if (rules == NULL || sf_hex_encode(rec->hash, 32, &hex) != SF_OK) {
        goto out;
    }
    obj = json_pack("{s:s, s:s, s:s, s:b, s:I, s:O}", "accessor",
                    rec->info.accessor, "sha256", (const char *)hex.data,
                    "name", rec->info.name, "root", rec->info.is_root,
                    "created", (json_int_t)rec->info.created_at, "rules",
                    rules);

out:
    json_decref(rules);
    sf_buf_free(&hex);
    return obj;
}

/* Writes doc to a new temporary file beside path; *tmp receives its name
 * (malloc'd) so the caller can rename or remove it. */
static sf_status write_temp(const char *path, json_t *doc, char **tmp)
{
    size_t len = strlen(path) + sizeof ".XXXXXX";
    int fd;
    sf_status rc = SF_OK;

    *tmp = malloc(len);
    if (*tmp == NULL) {
        return SF_ERR_NOMEM;
    }
    snprintf(*tmp, len, "%s.XXXXXX", path);
    fd = mkstemp(*tmp);
    if (fd < 0) {
        free(*tmp);
        *tmp = NULL;
        return sf_fail(SF_ERR_IO, "token file: cannot create a temporary "
                       "file beside %.200s: %s", path, strerror(errno));
    }
    if (fchmod(fd, 0600) != 0 ||
            json_dumpfd(doc, fd, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 ||
            write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        rc = sf_fail(SF_ERR_IO, "token file: writing %.200s failed: %s",
                     *tmp, strerror(errno));
    }
    if (close(fd) != 0 && rc == SF_OK) {
        rc = sf_fail(SF_ERR_IO, "token file: closing %.200s failed", *tmp);
    }
    return rc;
}

sf_status sf_token_file_save(const char *path,
                             const struct sf_token_rec *recs, size_t count)
{
    json_t *doc = NULL;
    json_t *tokens = json_array();
    char *tmp = NULL;
    sf_status rc = SF_ERR_NOMEM;

    for (size_t i = 0; tokens != NULL && i < count; i++) {
        if (json_array_append_new(tokens, rec_to_json(&recs[i])) != 0) {
            goto out;
        }
    }
    doc = json_pack("{s:s, s:i, s:O}", "format", FORMAT_NAME, "version",
                    FORMAT_VERSION, "tokens", tokens);
    if (doc == NULL) {
        goto out;
    }
    rc = write_temp(path, doc, &tmp);
    if (rc == SF_OK && rename(tmp, path) != 0) {
        rc = sf_fail(SF_ERR_IO, "token file: renaming over %.200s failed: "
                     "%s", path, strerror(errno));
    }
    if (rc != SF_OK && tmp != NULL) {
        (void)unlink(tmp);
    }

out:
    free(tmp);
    json_decref(tokens);
    json_decref(doc);
    return rc;
}

sf_status sf_token_file_ensure(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0) {
        return SF_OK;
    }
    if (errno != ENOENT) {
        return sf_fail(SF_ERR_IO, "token file %.200s: %s", path,
                       strerror(errno));
    }
    return sf_token_file_save(path, NULL, 0);
}

sf_status sf_token_file_lock(const char *path, int *fd)
{
    size_t len = strlen(path) + sizeof ".lock";
    char *lock_path = malloc(len);

    *fd = -1;
    if (lock_path == NULL) {
        return SF_ERR_NOMEM;
    }
    snprintf(lock_path, len, "%s.lock", path);
    *fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lock_path);
    if (*fd < 0) {
        return sf_fail(SF_ERR_IO, "token file: cannot open the lock file "
                       "beside %.200s: %s", path, strerror(errno));
    }
    if (flock(*fd, LOCK_EX) != 0) {
        close(*fd);
        *fd = -1;
        return sf_fail(SF_ERR_IO, "token file: cannot lock %.200s", path);
    }
    return SF_OK;
}

void sf_token_file_unlock(int fd)
{
    if (fd >= 0) {
        (void)flock(fd, LOCK_UN);
        close(fd);
    }
}
