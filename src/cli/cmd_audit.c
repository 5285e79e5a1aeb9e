/*
 * sealflow audit verify: checks a sealflowd audit log with the audit key
 * derived from the root key (sf_audit_key_derive), so whoever holds the
 * root key can tell an intact log from an edited one. The hash chain shows
 * edited, removed, inserted and moved lines; the checkpoint MACs show a
 * chain rewritten as a whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_util.h"
#include "cmd_service.h"
#include "sealflow/audit.h"
#include "sealflow/secret.h"

static const char verify_help[] =
    "Usage: sealflow audit verify [--json] FILE\n"
    "\n"
    "Verifies a sealflowd audit log: every line is an audit line, seq\n"
    "goes up by one, every line carries the hash of the line before it,\n"
    "the file starts a chain, and every checkpoint's MAC matches under\n"
    "the audit key derived from the root key (--root-key, or root.key\n"
    "beside the keystore). Prints the lines, checkpoints and sequence\n"
    "numbers checked; for a damaged log, the first bad line and what is\n"
    "wrong with it. Lines after the last checkpoint are chained but not\n"
    "sealed: a warning says how many.\n"
    "\n"
    "Exit status: 0 intact, 4 tampering detected, 3 a line that is not an\n"
    "audit line at all, 6 the file cannot be read, 7 no usable root key.\n"
    "\n"
    "Example:\n"
    "  sealflow --root-key /etc/sealflow/root.key audit verify audit.log\n";

/* The library's reason without its "audit verify: line N: " prefix (the
 * line number is reported on its own). */
static const char *problem_text(sf_status rc)
{
    static const char prefix[] = "audit verify: ";
    const char *s = sf_last_error();
    size_t digits;

    if (s == NULL || s[0] == '\0') {
        return sf_status_str(rc);
    }
    if (strncmp(s, prefix, sizeof prefix - 1) == 0) {
        s += sizeof prefix - 1;
    }
    if (strncmp(s, "line ", 5) == 0) {
        digits = strspn(s + 5, "0123456789");
        if (digits > 0 && strncmp(s + 5 + digits, ": ", 2) == 0) {
            s += 5 + digits + 2;
        }
    }
    return s;
}

/* Loads the root key the CLI resolves and derives the audit key. */
static int load_audit_key(struct cli_ctx *ctx, struct sf_secret **key)
{
    struct sf_secret *root = NULL;
    sf_status rc;
    int code;

    *key = NULL;
    code = cli_resolve_paths(ctx);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    sf_clear_error();
    rc = sf_root_key_load(ctx->root_key_path, &root);
    if (rc != SF_OK) {
        cli_fail(rc, "cannot load root key %s", ctx->root_key_path);
        cli_hint("pass --root-key PATH or set SEALFLOW_ROOT_KEY to the root "
                 "key of the sealflowd that wrote the log");
        return CLI_EXIT_KEYSTORE;
    }
    rc = sf_audit_key_derive(root, key);
    sf_secret_free(root);
    if (rc != SF_OK) {
        return cli_fail(rc, "cannot derive the audit key");
    }
    return CLI_EXIT_OK;
}

static const char *result_word(sf_status rc)
{
    return rc == SF_OK ? "intact"
           : rc == SF_ERR_AUTH ? "tampered"
                               : "malformed";
}

static json_t *report_json(const char *path, sf_status rc,
                           const struct sf_audit_report *r,
                           const char *problem)
{
    return json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:o,"
                     " s:s?}",
                     "file", path, "intact", rc == SF_OK, "result",
                     result_word(rc), "lines", (json_int_t)r->lines,
                     "checkpoints", (json_int_t)r->checkpoints, "first_seq",
                     (json_int_t)r->first_seq, "last_seq",
                     (json_int_t)r->last_seq, "unsealed_tail",
                     (json_int_t)r->unsealed_tail, "macs_verified",
                     r->macs_verified, "bad_line",
                     r->bad_line > 0 ? json_integer((json_int_t)r->bad_line)
                                     : json_null(),
                     "problem", problem);
}

static void print_report(const char *path, sf_status rc,
                         const struct sf_audit_report *r,
                         const char *problem)
{
    printf("%-15s %s\n", "audit log:", path);
    if (rc == SF_OK) {
        printf("%-15s intact\n", "result:");
    } else {
        printf("%-15s %s at line %" PRIu64 "\n", "result:", result_word(rc),
               r->bad_line);
        printf("%-15s %s\n", "problem:", problem);
    }
    printf("%-15s %" PRIu64 "%s\n", "lines:", r->lines,
           rc == SF_OK ? "" : " (checked before the problem)");
    printf("%-15s %" PRIu64 "\n", "checkpoints:", r->checkpoints);
    if (r->lines > 0) {
        printf("%-15s %" PRIu64 " to %" PRIu64 "\n", "sequence:",
               r->first_seq, r->last_seq);
    }
    if (rc == SF_OK) {
        printf("%-15s %s\n", "MACs:", r->macs_verified ? "verified"
                                                       : "not verified");
        printf("%-15s %" PRIu64 " lines after the last checkpoint\n",
               "unsealed tail:", r->unsealed_tail);
    }
}

/* Warnings about what an intact verdict cannot vouch for. */
static void warn_intact(const struct sf_audit_report *r)
{
    if (r->lines == 0) {
        cli_note("warning: the log is empty: sealflowd writes a checkpoint "
                 "when it starts, so its lines may have been removed");
    } else if (r->unsealed_tail > 0) {
        cli_note("warning: the last %" PRIu64 " lines follow the last "
                 "checkpoint: they are chained but not sealed by a MAC, so "
                 "lines cut from the end would go unnoticed", r->unsealed_tail);
    }
}

/* Reports the verdict; returns the exit code for it. */
static int report(struct cli_ctx *ctx, const char *path, sf_status rc,
                  const struct sf_audit_report *r)
{
    char problem[600];
    int code = CLI_EXIT_OK;

    snprintf(problem, sizeof problem, "%s", rc == SF_OK ? ""
                                                        : problem_text(rc));
    sf_clear_error();
    if (ctx->json) {
        code = cli_json_print(
            report_json(path, rc, r, rc == SF_OK ? NULL : problem));
    } else {
        print_report(path, rc, r, problem);
    }
    if (rc == SF_OK) {
        warn_intact(r);
        return code;
    }
    cli_error(cli_exit_code(rc), "audit log %s is %s: line %" PRIu64
              ": %s", path, rc == SF_ERR_AUTH ? "not intact" : "malformed",
              r->bad_line, problem);
    if (rc == SF_ERR_AUTH) {
        cli_hint("the chain breaks at line %" PRIu64 ": the change is at "
                 "that line or just before it; compare the log with a copy "
                 "kept off the host", r->bad_line);
    }
    return cli_exit_code(rc);
}

static int audit_verify(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"audit verify", verify_help, NULL, NULL, NULL,
                            1, 1, true, false};
    struct sf_audit_report rep;
    struct sf_secret *key = NULL;
    const char *path;
    char **pos;
    int n;
    sf_status rc;
    int code;

    code = cli_parse(ctx, &spec, argc, argv, &pos, &n);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    path = pos[0];
    if (access(path, R_OK) != 0) {
        return cli_errno(errno, "cannot read audit log %s", path);
    }
    code = load_audit_key(ctx, &key);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    sf_clear_error();
    rc = sf_audit_verify_file(path, key, &rep);
    sf_secret_free(key);
    if (rc != SF_OK && rc != SF_ERR_AUTH && rc != SF_ERR_FORMAT) {
        return cli_fail(rc, "cannot verify audit log %s", path);
    }
    return report(ctx, path, rc, &rep);
}

static const char audit_help[] =
    "Usage: sealflow audit COMMAND [OPTIONS]\n"
    "\n"
    "Works with the tamper-evident audit log that sealflowd writes.\n"
    "'sealflow audit COMMAND --help' describes each command.\n";

static const struct cli_cmd audit_cmds[] = {
    {"verify", audit_verify, "check an audit log for tampering"},
};

int cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "audit", audit_help, audit_cmds,
                        sizeof audit_cmds / sizeof audit_cmds[0], argc, argv);
}
