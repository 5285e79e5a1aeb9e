/*
 * Settings: one table names every setting, its type and its limits, and
 * both the config file and the flags go through it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define LINE_MAX_LEN 4096
#define FILE_MAX (1024 * 1024)

enum kind { K_STR, K_BOOL, K_UINT };

struct setting {
    const char *name;
    enum kind kind;
    size_t offset;
    size_t size;   /* K_STR: buffer size */
    uint64_t min;  /* K_UINT */
    uint64_t max;
};

#define STR(f) {#f, K_STR, offsetof(struct sfd_config, f), \
                sizeof(((struct sfd_config *)0)->f), 0, 0}
#define UINT(f, lo, hi) {#f, K_UINT, offsetof(struct sfd_config, f), 0, \
                         lo, hi}
#define BOOL(f) {#f, K_BOOL, offsetof(struct sfd_config, f), 0, 0, 0}

static const struct setting settings[] = {
    STR(listen),
    STR(tls_cert),
    STR(tls_key),
    STR(keystore),
    STR(root_key),
    STR(audit_log),
    STR(tokens_file),
    STR(mount),
    BOOL(insecure_plain_http),
    UINT(max_request_bytes, 1024, 64 * 1024 * 1024),
    UINT(batch_max, 1, 100000),
    UINT(connection_limit, 1, 65536),
    UINT(connection_timeout_s, 1, 3600),
    UINT(audit_checkpoint_every, 1, 1000000),
    UINT(audit_checkpoint_interval_s, 1, 86400),
    STR(log_level),
};

#define SETTING_COUNT (sizeof settings / sizeof settings[0])

static const struct setting *find(const char *name)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (strcmp(settings[i].name, name) == 0) {
            return &settings[i];
        }
    }
    return NULL;
}

bool sfd_config_is_switch(const char *name)
{
    const struct setting *s = find(name);

    return s != NULL && s->kind == K_BOOL;
}

bool sfd_config_has(const char *name)
{
    return find(name) != NULL;
}

void sfd_config_defaults(struct sfd_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "%s", SFD_DEFAULT_LISTEN);
    snprintf(c->mount, sizeof c->mount, "%s", SFD_DEFAULT_MOUNT);
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->max_request_bytes = SFD_DEFAULT_BODY_MAX;
    c->batch_max = SFD_DEFAULT_BATCH_MAX;
    c->connection_limit = SFD_DEFAULT_CONN_LIMIT;
    c->connection_timeout_s = SFD_DEFAULT_CONN_TIMEOUT;
    c->audit_checkpoint_every = 1000;
    c->audit_checkpoint_interval_s = 60;
}

/* Parses a K_UINT value within the setting's range. */
static sf_status set_uint(const struct setting *s, uint64_t *dst,
                          const char *value, char *err, size_t err_max)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0' ||
            v < s->min || v > s->max) {
        snprintf(err, err_max, "%s must be a whole number from %llu to %llu",
                 s->name, (unsigned long long)s->min,
                 (unsigned long long)s->max);
        return SF_ERR_FORMAT;
    }
    *dst = (uint64_t)v;
    return SF_OK;
}

/* Checks values that have a fixed vocabulary or shape. */
static sf_status check_value(const char *name, const char *value, char *err,
                             size_t err_max)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};

    if (strcmp(name, "log_level") == 0) {
        for (size_t i = 0; i < 4; i++) {
            if (strcmp(value, levels[i]) == 0) {
                return SF_OK;
            }
        }
        snprintf(err, err_max, "log_level must be error, warn, info or "
                 "debug");
        return SF_ERR_FORMAT;
    }
    if (strcmp(name, "mount") == 0 &&
            (value[0] == '\0' || strchr(value, '/') != NULL ||
             strlen(value) > 64)) {
        snprintf(err, err_max, "mount must be one path segment of 1 to 64 "
                 "characters without '/'");
        return SF_ERR_FORMAT;
    }
    return SF_OK;
}

sf_status sfd_config_set(struct sfd_config *c, const char *name,
                         const char *value, char *err, size_t err_max)
{
    const struct setting *s = find(name);
    char *field = s == NULL ? NULL : (char *)c + s->offset;

    if (s == NULL) {
        snprintf(err, err_max, "unknown setting '%.40s'", name);
        return SF_ERR_FORMAT;
    }
    if (s->kind == K_UINT) {
        return set_uint(s, (uint64_t *)(void *)field, value, err, err_max);
    }
    if (s->kind == K_BOOL) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(err, err_max, "%s must be true or false", name);
            return SF_ERR_FORMAT;
        }
        *(bool *)(void *)field = strcmp(value, "true") == 0;
        return SF_OK;
    }
    if (strlen(value) >= s->size) {
        snprintf(err, err_max, "%s is too long (at most %zu bytes)", name,
                 s->size - 1);
        return SF_ERR_FORMAT;
    }
    if (check_value(name, value, err, err_max) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    memcpy(field, value, strlen(value) + 1);
    return SF_OK;
}

/* Trims spaces and tabs at both ends, in place. */
static char *trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
                     s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

/* Parses one line ("name = value", comment or blank). */
static sf_status parse_line(struct sfd_config *c, char *line, char *err,
                            size_t err_max)
{
    char *eq;
    char *name;
    char *value;
    size_t n;

    line = trim(line);
    if (line[0] == '\0' || line[0] == '#') {
        return SF_OK;
    }
    eq = strchr(line, '=');
    if (eq == NULL) {
        snprintf(err, err_max, "expected 'name = value'");
        return SF_ERR_FORMAT;
    }
    *eq = '\0';
    name = trim(line);
    value = trim(eq + 1);
    n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
        value[n - 1] = '\0';
        value++;
    } else if (strchr(value, '"') != NULL) {
        snprintf(err, err_max, "unbalanced quote in the value");
        return SF_ERR_FORMAT;
    }
    return sfd_config_set(c, name, value, err, err_max);
}

sf_status sfd_config_parse(struct sfd_config *c, const char *text,
                           size_t len, const char *origin, char *err,
                           size_t err_max)
{
    char line[LINE_MAX_LEN];
    char why[256];
    size_t line_no = 0;
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl == NULL ? len - pos : (size_t)(nl - (text + pos));

        line_no++;
        if (n >= sizeof line || memchr(text + pos, '\0', n) != NULL) {
            snprintf(err, err_max, "%s:%zu: line too long or holds a NUL",
                     origin, line_no);
            return SF_ERR_FORMAT;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        if (parse_line(c, line, why, sizeof why) != SF_OK) {
            snprintf(err, err_max, "%s:%zu: %s", origin, line_no, why);
            return SF_ERR_FORMAT;
        }
        pos += n + 1;
    }
    return SF_OK;
}

sf_status sfd_config_load(struct sfd_config *c, const char *path, char *err,
                          size_t err_max)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len;
    sf_status rc = SF_ERR_IO;

    if (f == NULL) {
        snprintf(err, err_max, "cannot open config file %s: %s", path,
                 strerror(errno));
        return SF_ERR_IO;
    }
    text = malloc(FILE_MAX + 1);
    if (text == NULL) {
        goto out;
    }
    len = fread(text, 1, FILE_MAX + 1, f);
    if (ferror(f) || len > FILE_MAX) {
        snprintf(err, err_max, "cannot read config file %s (or larger than "
                 "1 MiB)", path);
        goto out;
    }
    rc = sfd_config_parse(c, text, len, path, err, err_max);

out:
    free(text);
    fclose(f);
    return rc;
}

sf_status sfd_config_finish(struct sfd_config *c, char *err, size_t err_max)
{
    static const char *const names[] = {"keystore", "root_key",
                                        "audit_log"};
    static const char *const flags[] = {"--keystore", "--root-key",
                                        "--audit-log"};
    const char *values[] = {c->keystore, c->root_key, c->audit_log};

    for (size_t i = 0; i < 3; i++) {
        if (values[i][0] == '\0') {
            snprintf(err, err_max, "no %s is configured: set it in the "
                     "config file or with %s (or use --dev)", names[i],
                     flags[i]);
            return SF_ERR_FORMAT;
        }
    }
    if (c->tokens_file[0] == '\0' &&
            snprintf(c->tokens_file, sizeof c->tokens_file, "%s.tokens",
                     c->keystore) >= (int)sizeof c->tokens_file) {
        snprintf(err, err_max, "the keystore path is too long");
        return SF_ERR_FORMAT;
    }
    if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
        snprintf(err, err_max, "tls_cert and tls_key go together: set both "
                 "or neither");
        return SF_ERR_FORMAT;
    }
    return SF_OK;
}
