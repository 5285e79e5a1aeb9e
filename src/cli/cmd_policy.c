#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_io.h"
#include "cli_util.h"
#include "cmd_records.h"
#include "sealflow/envelope.h"

enum { OPT_KEYS, OPT_FORMAT };

#define RECORD_MAX (64u << 20)

struct policy_state {
    bool check_keys;
    const char *format;
};

static int policy_opt(void *state, int id, const char *arg)
{
    struct policy_state *st = state;

    if (id == OPT_KEYS) {
        st->check_keys = true;
    } else {
        st->format = arg;
    }
    return CLI_EXIT_OK;
}

/* ---- check ------------------------------------------------------------- */

static const struct cli_opt check_opts[] = {
    {"keys", 0, false, OPT_KEYS},
    {NULL, 0, false, 0},
};

static const char check_help[] =
    "Usage: sealflow policy check [--keys] [--keystore PATH] POLICY\n"
    "\n"
    "Validates a policy file: every error names the line and column and\n"
    "says how to fix it. Partner recipients are parsed. With --keys, or\n"
    "when --keystore is given, every local: key must exist in the\n"
    "keystore.\n"
    "\n"
    "Example:\n"
    "  sealflow policy check --keys examples/ecommerce/policy.yaml\n";

static void report_missing(void *arg, const char *message)
{
    (void)arg;
    fprintf(stderr, "sealflow: %s\n", message);
}

/* Parses every recipient a class or partner names. */
static int check_recipients(const struct sf_policy *p)
{
    for (size_t i = 0; i < sf_policy_class_count(p); i++) {
        const struct sf_policy_class *c = sf_policy_class_at(p, i);

        for (size_t k = 0; k < c->wrap_key_count; k++) {
            const struct sf_key_ref *ref = c->wrap_keys[k];
            struct sf_recipient *r = NULL;
            struct sf_buf text = SF_BUF_INIT;
            sf_status rc = SF_OK;

            if (ref->kind == SF_KEY_REF_RECIPIENT) {
                rc = sf_recipient_parse(ref->value, strlen(ref->value), &r);
            } else if (ref->kind == SF_KEY_REF_RECIPIENT_FILE) {
                if (cli_read_file(ref->value, 64 * 1024, &text) !=
                        CLI_EXIT_OK) {
                    return CLI_EXIT_INPUT;
                }
                rc = sf_recipient_parse((const char *)text.data, text.len,
                                        &r);
            }
            sf_recipient_free(r);
            sf_buf_free(&text);
            if (rc != SF_OK) {
                return cli_fail(rc, "%s:%u:%u: key '%s'", sf_policy_source(p),
                                ref->line, ref->column, ref->text);
            }
        }
    }
    return CLI_EXIT_OK;
}

static int policy_check(struct cli_ctx *ctx, int argc, char **argv)
{
    struct policy_state st = {false, NULL};
    struct cli_spec spec = {"policy check", check_help, check_opts,
                            policy_opt, &st, 1, 1, false, false};
    struct sf_policy *p = NULL;
    size_t stages = 0;
    char **pos;
    int npos;
    int code;

    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = records_policy(pos[0], &p);
    if (code == CLI_EXIT_OK) {
        code = check_recipients(p);
    }
    if (code == CLI_EXIT_OK && (st.check_keys || ctx->keystore_opt != NULL)) {
        code = cli_keystore_open(ctx);
        if (code == CLI_EXIT_OK) {
            sf_clear_error();
            sf_status rc = sf_policy_check_keys(p, ctx->ks, report_missing,
                                                NULL);

            code = rc == SF_OK ? CLI_EXIT_OK : cli_exit_code(rc);
        }
    }
    if (code == CLI_EXIT_OK) {
        for (size_t i = 0; i < sf_policy_reader_count(p); i++) {
            stages += !sf_policy_reader_at(p, i)->is_partner;
        }
        printf("%s: valid: %zu classes, %zu rules, %zu stages, %zu "
               "partners\n", pos[0], sf_policy_class_count(p),
               sf_policy_rule_count(p), stages,
               sf_policy_reader_count(p) - stages);
    }
    sf_policy_free(p);
    return code;
}

/* ---- explain ------------------------------------------------------------- */

static const struct cli_opt explain_opts[] = {
    {"format", 'f', true, OPT_FORMAT},
    {NULL, 0, false, 0},
};

static const char explain_help[] =
    "Usage: sealflow policy explain [--format F] [--json] POLICY RECORD\n"
    "\n"
    "Shows what POLICY decides for each field of RECORD (a JSON object, the\n"
    "first record of a JSON array or JSON Lines file, or the header row of\n"
    "a CSV file; '-' reads stdin): the rule that matched, the class, and\n"
    "how the value would be protected. Needs no key.\n"
    "\n"
    "Options:\n"
    "  -f, --format F   json, jsonl or csv (default: from RECORD's name)\n"
    "  --json           one JSON object per field, in an array\n"
    "\n"
    "Example:\n"
    "  sealflow policy explain examples/ecommerce/policy.yaml order.json\n";

struct explain_out {
    const struct sf_policy *p;
    json_t *rows;
};

static void rule_text(const struct sf_policy *p,
                      const struct sf_policy_match *m, char *out, size_t n)
{
    const struct sf_policy_rule *r;

    if (m->rule_index == SF_POLICY_NO_RULE) {
        snprintf(out, n, "default");
        return;
    }
    r = sf_policy_rule_at(p, m->rule_index);
    snprintf(out, n, "%s %s (line %u)%s",
             r->kind == SF_RULE_PATH     ? "path"
             : r->kind == SF_RULE_COLUMN ? "column"
                                         : "tag",
             r->pattern, r->line, m->is_inherited ? ", inherited" : "");
}

/* "token: aes-256-gcm, DEK per record, keys local:a, recipient:..." */
static void protection_text(const struct sf_policy_class *c,
                            enum sf_protection pr, char *out, size_t n)
{
    size_t at;

    if (pr == SF_PROTECT_CLEAR) {
        snprintf(out, n, "clear (suite none)");
        return;
    }
    at = (size_t)snprintf(out, n, "%s: %s, DEK %s, wrapped by",
                          pr == SF_PROTECT_SUBTREE ? "one token for the "
                          "whole subtree" : "token",
                          sf_policy_suite_name(c->suite),
                          c->dek_scope == SF_DEK_SCOPE_SHARED ? "shared"
                                                              : "per record");
    for (size_t k = 0; k < c->wrap_key_count && at < n; k++) {
        at += (size_t)snprintf(out + at, n - at, "%s %.60s", k > 0 ? "," : "",
                               c->wrap_keys[k]->text);
    }
}

static sf_status explain_row(void *arg, const struct sf_field_explain *f)
{
    struct explain_out *x = arg;
    const struct sf_policy_class *c =
        sf_policy_class_at(x->p, f->match.class_index);
    char rule[256];
    char prot[512];

    rule_text(x->p, &f->match, rule, sizeof rule);
    protection_text(c, f->protection, prot, sizeof prot);
    if (x->rows != NULL) {
        json_array_append_new(x->rows, json_pack(
            "{s:s, s:s, s:s, s:s, s:b, s:s}", "path", f->path, "type",
            f->json_type, "class", c->name, "rule", rule, "sealed",
            f->protection != SF_PROTECT_CLEAR, "protection", prot));
        return SF_OK;
    }
    printf("%-36s %-13s %-34s %s\n", f->path, c->name, rule, prot);
    return SF_OK;
}

static int policy_explain(struct cli_ctx *ctx, int argc, char **argv)
{
    struct policy_state st = {false, NULL};
    struct cli_spec spec = {"policy explain", explain_help, explain_opts,
                            policy_opt, &st, 2, 2, true, false};
    struct explain_out x = {NULL, NULL};
    struct sf_buf rec = SF_BUF_INIT;
    struct sf_policy *p = NULL;
    enum sf_records_format fmt;
    char **pos;
    int npos;
    int code;

    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = records_format("policy explain", st.format, pos[1], &fmt);
    if (code == CLI_EXIT_OK) {
        code = records_policy(pos[0], &p);
    }
    if (code == CLI_EXIT_OK) {
        code = cli_read_file(strcmp(pos[1], "-") == 0 ? "/dev/stdin" : pos[1],
                             RECORD_MAX, &rec);
    }
    if (code == CLI_EXIT_OK) {
        x.p = p;
        x.rows = ctx->json ? json_array() : NULL;
        if (!ctx->json) {
            printf("%-36s %-13s %-34s %s\n", "FIELD", "CLASS", "RULE",
                   "PROTECTION");
        }
        sf_clear_error();
        sf_status rc = sf_records_explain(p, fmt, rec.data, rec.len,
                                          explain_row, &x);

        code = rc == SF_OK ? CLI_EXIT_OK : cli_fail(rc, "explain");
        if (code == CLI_EXIT_OK && x.rows != NULL) {
            code = cli_json_print(x.rows);
            x.rows = NULL;
        }
    }
    json_decref(x.rows);
    sf_buf_free(&rec);
    sf_policy_free(p);
    return code;
}

/* ---- the group ----------------------------------------------------------- */

static const struct cli_cmd policy_cmds[] = {
    {"check", policy_check, "validate a policy file"},
    {"explain", policy_explain, "show what a policy decides for a record"},
};

static const char policy_help[] =
    "Usage: sealflow policy check [--keys] POLICY\n"
    "       sealflow policy explain [--format F] [--json] POLICY RECORD\n"
    "\n"
    "Checks protection policies and shows their decisions.\n";

int cmd_policy(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "policy", policy_help, policy_cmds,
                        sizeof policy_cmds / sizeof policy_cmds[0], argc,
                        argv);
}
