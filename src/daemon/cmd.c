/*
 * Subcommands that do not serve: init, token and audit. Exit statuses:
 * 0 success, 1 failure (for audit verify: the log did not verify), 2 bad
 * usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "sealflow/audit.h"
#include "sealflow/keystore.h"
#include "sealflow/secret.h"
#include "sealflow/tokens.h"
#include "service.h"

static const char *last_error(sf_status rc)
{
    return sf_last_error()[0] != '\0' ? sf_last_error() : sf_status_str(rc);
}

/* Config for commands that need the keystore paths but not a log. */
static bool paths_config(const struct sfd_args *a, struct sfd_config *cfg)
{
    char err[512];

    if (!sfd_args_config(a, cfg, err, sizeof err)) {
        fprintf(stderr, "sealflowd: %s\n", err);
        return false;
    }
    if (cfg->tokens_file[0] == '\0' && cfg->keystore[0] != '\0' &&
            snprintf(cfg->tokens_file, sizeof cfg->tokens_file, "%s.tokens",
                     cfg->keystore) >= (int)sizeof cfg->tokens_file) {
        fprintf(stderr, "sealflowd: the keystore path is too long\n");
        return false;
    }
    if (cfg->keystore[0] == '\0' || cfg->root_key[0] == '\0') {
        fprintf(stderr, "sealflowd: set keystore and root_key (config file "
                "or --keystore and --root-key)\n");
        return false;
    }
    return true;
}

int sfd_cmd_init(const struct sfd_args *a)
{
    struct sfd_config cfg;
    char token[SF_TOKEN_LEN + 1];
    char err[512];

    if (!paths_config(a, &cfg)) {
        return 2;
    }
    if (sfd_bootstrap(&cfg, token, err, sizeof err) != SF_OK) {
        fprintf(stderr, "sealflowd init: %s\n", err);
        return 1;
    }
    printf("Keystore:   %s\nRoot key:   %s\nTokens:     %s\n"
           "Root Token: %s\n\nThe root token is shown only once; store it "
           "safely.\n", cfg.keystore, cfg.root_key, cfg.tokens_file, token);
    sf_wipe(token, sizeof token);
    return 0;
}

static int token_create(const struct sfd_args *a, struct sf_token_store *ts)
{
    struct sf_token_info info;
    char token[SF_TOKEN_LEN + 1];
    sf_status rc;

    if (a->name == NULL || (a->policy_count == 0) == !a->is_root) {
        fprintf(stderr, "sealflowd token create: give --name and either "
                "--policy GLOB:OP,... (repeatable) or --root\n");
        return 2;
    }
    rc = sf_token_create(ts, a->name, a->is_root, a->policies,
                         a->policy_count, token, sizeof token, &info);
    if (rc != SF_OK) {
        fprintf(stderr, "sealflowd token create: %s\n", last_error(rc));
        return 1;
    }
    printf("Token:    %s\nAccessor: %s\n", token, info.accessor);
    sf_wipe(token, sizeof token);
    return 0;
}

static int token_list(struct sf_token_store *ts)
{
    struct sf_token_info *list = NULL;
    size_t n = 0;
    char rule[SF_TOKEN_GLOB_MAX + 200];

    if (sf_token_list(ts, &list, &n) != SF_OK) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s  %-16s", list[i].accessor, list[i].name);
        if (list[i].is_root) {
            printf("  root");
        }
        for (size_t r = 0; r < list[i].rule_count; r++) {
            if (sf_token_rule_format(&list[i].rules[r], rule, sizeof rule) ==
                    SF_OK) {
                printf("  %s", rule);
            }
        }
        printf("\n");
    }
    free(list);
    return 0;
}

int sfd_cmd_token(const struct sfd_args *a)
{
    struct sfd_config cfg;
    struct sf_token_store *ts = NULL;
    const char *sub = a->positional_count > 0 ? a->positional[0] : "";
    int status = 2;
    sf_status rc;

    if (!paths_config(a, &cfg)) {
        return 2;
    }
    rc = sf_token_store_open(cfg.tokens_file, &ts);
    if (rc != SF_OK) {
        fprintf(stderr, "sealflowd token: %s\n", last_error(rc));
        return 1;
    }
    if (strcmp(sub, "create") == 0) {
        status = token_create(a, ts);
    } else if (strcmp(sub, "list") == 0) {
        status = token_list(ts);
    } else if (strcmp(sub, "revoke") == 0 && a->positional_count == 2) {
        rc = sf_token_revoke(ts, a->positional[1]);
        status = rc == SF_OK ? 0 : 1;
        if (rc != SF_OK) {
            fprintf(stderr, "sealflowd token revoke: %s\n", last_error(rc));
        }
    } else {
        fprintf(stderr, "sealflowd token: use create, list or revoke\n");
    }
    sf_token_store_close(ts);
    return status;
}

/* Derives the audit key from the configured root key. */
static bool audit_key(const struct sfd_args *a, struct sf_secret **key)
{
    struct sfd_config cfg;
    struct sf_secret *root = NULL;
    char err[512];
    sf_status rc;

    *key = NULL;
    if (a->is_no_key) {
        return true;
    }
    if (!sfd_args_config(a, &cfg, err, sizeof err) || cfg.root_key[0] == 0) {
        fprintf(stderr, "sealflowd audit verify: give --root-key FILE or "
                "--config FILE (or --no-key to check the chain only)\n");
        return false;
    }
    rc = sf_root_key_load(cfg.root_key, &root);
    if (rc == SF_OK) {
        rc = sf_audit_key_derive(root, key);
    }
    sf_secret_free(root);
    if (rc != SF_OK) {
        fprintf(stderr, "sealflowd audit verify: %s\n", last_error(rc));
    }
    return rc == SF_OK;
}

static void print_report(const char *path, const struct sf_audit_report *r)
{
    printf("%s: OK: %llu lines (seq %llu to %llu), %llu checkpoints, "
           "MACs %s\n", path, (unsigned long long)r->lines,
           (unsigned long long)r->first_seq, (unsigned long long)r->last_seq,
           (unsigned long long)r->checkpoints,
           r->macs_verified ? "verified" : "NOT verified (no key)");
    if (r->unsealed_tail > 0) {
        printf("warning: the last %llu lines follow the last checkpoint: "
               "they are chained but not sealed by a MAC\n",
               (unsigned long long)r->unsealed_tail);
    }
}

int sfd_cmd_audit(const struct sfd_args *a)
{
    struct sf_audit_report rep;
    struct sf_secret *key = NULL;
    sf_status rc;

    if (a->positional_count != 2 || strcmp(a->positional[0], "verify") != 0) {
        fprintf(stderr, "usage: sealflowd audit verify FILE [--config FILE "
                "| --root-key FILE | --no-key]\n");
        return 2;
    }
    if (!audit_key(a, &key)) {
        return 2;
    }
    rc = sf_audit_verify_file(a->positional[1], key, &rep);
    sf_secret_free(key);
    if (rc != SF_OK) {
        printf("%s: FAILED: %s\n", a->positional[1], last_error(rc));
        return 1;
    }
    print_report(a->positional[1], &rep);
    return 0;
}
