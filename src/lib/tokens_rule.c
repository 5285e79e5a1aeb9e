/*
 * Token policy rules: operation names, "GLOB:OP,..." parsing and the
 * access decision.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "sealflow/tokens.h"

static const char *const op_names[] = {
    "read",   "list",   "create",            "encrypt",
    "decrypt", "rewrap", "datakey-plaintext", "datakey-wrapped",
    "rotate", "config", "delete",            "trim",
};

#define OP_COUNT (sizeof op_names / sizeof op_names[0])

const char *sf_token_op_name(uint32_t op)
{
    for (size_t i = 0; i < OP_COUNT; i++) {
        if (op == (1u << i)) {
            return op_names[i];
        }
    }
    return NULL;
}

sf_status sf_token_op_parse(const char *name, uint32_t *op)
{
    if (name == NULL || op == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *op = 0;
    if (strcmp(name, "*") == 0) {
        *op = SF_OP_ALL;
        return SF_OK;
    }
    for (size_t i = 0; i < OP_COUNT; i++) {
        if (strcmp(name, op_names[i]) == 0) {
            *op = 1u << i;
            return SF_OK;
        }
    }
    return sf_fail(SF_ERR_FORMAT, "unknown operation '%.40s'; use one of "
                   "read, list, create, encrypt, decrypt, rewrap, "
                   "datakey-plaintext, datakey-wrapped, rotate, config, "
                   "delete, trim or *", name);
}

/* Parses the comma-separated operation list after the ':' of a rule. */
static sf_status parse_ops(const char *s, uint32_t *ops)
{
    char word[32];
    sf_status rc;

    *ops = 0;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        uint32_t op;

        if (n == 0 || n >= sizeof word) {
            return sf_fail(SF_ERR_FORMAT, "rule: empty or unknown operation "
                           "in the list after ':'");
        }
        memcpy(word, s, n);
        word[n] = '\0';
        rc = sf_token_op_parse(word, &op);
        if (rc != SF_OK) {
            return rc;
        }
        *ops |= op;
        s += n;
        if (*s == ',' && s[1] == '\0') {
            return sf_fail(SF_ERR_FORMAT, "rule: the operation list ends "
                           "with ','");
        }
        s += *s == ',' ? 1 : 0;
    }
    if (*ops == 0) {
        return sf_fail(SF_ERR_FORMAT, "rule: no operation after ':'; write "
                       "GLOB:OP[,OP...]");
    }
    return SF_OK;
}

sf_status sf_token_rule_parse(const char *text, struct sf_token_rule *out)
{
    const char *colon;
    size_t glob_len;
    sf_status rc;

    if (text == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    colon = strrchr(text, ':');
    if (colon == NULL) {
        return sf_fail(SF_ERR_FORMAT, "rule '%.60s' has no ':'; write "
                       "GLOB:OP[,OP...], e.g. 'app-*:encrypt,decrypt'", text);
    }
    glob_len = (size_t)(colon - text);
    if (glob_len == 0 || glob_len > SF_TOKEN_GLOB_MAX) {
        return sf_fail(SF_ERR_FORMAT, "rule: the key glob must be 1 to %d "
                       "bytes", SF_TOKEN_GLOB_MAX);
    }
    rc = parse_ops(colon + 1, &out->ops);
    if (rc != SF_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    memcpy(out->glob, text, glob_len);
    out->glob[glob_len] = '\0';
    return SF_OK;
}

sf_status sf_token_rule_format(const struct sf_token_rule *rule, char *out,
                               size_t out_max)
{
    size_t used;
    int n;

    if (rule == NULL || out == NULL || out_max == 0) {
        return SF_ERR_INVALID_ARG;
    }
    n = snprintf(out, out_max, "%s:", rule->glob);
    if (n < 0 || (size_t)n >= out_max) {
        return SF_ERR_LIMIT;
    }
    used = (size_t)n;
    for (size_t i = 0; i < OP_COUNT; i++) {
        if ((rule->ops & (1u << i)) == 0) {
            continue;
        }
        n = snprintf(out + used, out_max - used, "%s%s",
                     out[used - 1] == ':' ? "" : ",", op_names[i]);
        if (n < 0 || (size_t)n >= out_max - used) {
            return SF_ERR_LIMIT;
        }
        used += (size_t)n;
    }
    return SF_OK;
}

bool sf_token_allows(const struct sf_token_info *t, uint32_t op,
                     const char *key)
{
    if (t == NULL || op == 0) {
        return false;
    }
    if (t->is_root) {
        return true;
    }
    for (size_t i = 0; i < t->rule_count && i < SF_TOKEN_RULES_MAX; i++) {
        const struct sf_token_rule *r = &t->rules[i];

        if ((r->ops & op) != op) {
            continue;
        }
        if (key == NULL || fnmatch(r->glob, key, 0) == 0) {
            return true;
        }
    }
    return false;
}
