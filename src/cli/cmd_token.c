/*
 * sealflow token: create, list and revoke the access tokens of sealflowd.
 *
 * The token file is the one sealflowd reads by default: "<keystore>.tokens"
 * beside the keystore the CLI resolves (--keystore, SEALFLOW_KEYSTORE, the
 * sealflow home), or --tokens-file. The library writes it under a lock and
 * renames it into place, so this works while sealflowd runs; the service
 * notices the change within a second. Only the token's SHA-256 is stored:
 * the token itself is printed once, here, and never again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_args.h"
#include "cli_util.h"
#include "cmd_service.h"
#include "sealflow/secret.h"
#include "sealflow/tokens.h"

#define DEFAULT_NAME "cli"

enum { OPT_POLICY, OPT_NAME, OPT_TOKENS_FILE };

struct token_state {
    const char *cmd;
    const char *rules[SF_TOKEN_RULES_MAX];
    size_t rule_count;
    const char *name;
    const char *tokens_file;
};

static const struct cli_opt create_opts[] = {
    {"policy", 'p', true, OPT_POLICY},
    {"display-name", 'n', true, OPT_NAME},
    {"tokens-file", 0, true, OPT_TOKENS_FILE},
    {NULL, 0, false, 0},
};

static const struct cli_opt file_opts[] = {
    {"tokens-file", 0, true, OPT_TOKENS_FILE},
    {NULL, 0, false, 0},
};

/* Display names as the token file accepts them: 1 to 64 printable ASCII
 * characters without spaces. */
static bool name_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > SF_TOKEN_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Checks a rule as the library will, so a typo is a usage error that
 * names the option, before anything is written. */
static int add_rule(struct token_state *st, const char *arg)
{
    struct sf_token_rule rule;
    sf_status rc;

    if (st->rule_count == SF_TOKEN_RULES_MAX) {
        return cli_usage(st->cmd, "at most %d --policy rules",
                         SF_TOKEN_RULES_MAX);
    }
    sf_clear_error();
    rc = sf_token_rule_parse(arg, &rule);
    if (rc != SF_OK) {
        cli_usage(st->cmd, "--policy '%s': %s", arg,
                  sf_last_error()[0] != '\0' ? sf_last_error()
                                             : sf_status_str(rc));
        sf_clear_error();
        return CLI_EXIT_USAGE;
    }
    st->rules[st->rule_count++] = arg;
    return CLI_EXIT_OK;
}

static int on_opt(void *state, int id, const char *arg)
{
    struct token_state *st = state;

    switch (id) {
    case OPT_POLICY:
        return add_rule(st, arg);
    case OPT_NAME:
        if (!name_ok(arg)) {
            return cli_usage(st->cmd, "--display-name wants 1 to %d "
                             "printable ASCII characters without spaces",
                             SF_TOKEN_NAME_MAX);
        }
        st->name = arg;
        return CLI_EXIT_OK;
    default:
        st->tokens_file = arg;
        return CLI_EXIT_OK;
    }
}

/* Parses a token subcommand; CLI_PARSE_GO to go on, else the exit code
 * (0 after --help). */
static int token_parse(struct cli_ctx *ctx, struct cli_spec *spec,
                       struct token_state *st, int argc, char **argv,
                       char ***pos, int *n)
{
    st->cmd = spec->cmd;
    spec->on_opt = on_opt;
    spec->state = st;
    return cli_parse(ctx, spec, argc, argv, pos, n);
}

/*
 * The token file: --tokens-file, else "<keystore>.tokens" (sealflowd's
 * default for tokens_file). For the default, the keystore must exist:
 * tokens beside a keystore that is not there would serve nothing.
 * *out is malloc'd.
 */
static int tokens_path(struct cli_ctx *ctx, const struct token_state *st,
                       char **out)
{
    size_t len;
    int code;

    *out = NULL;
    if (st->tokens_file != NULL) {
        *out = strdup(st->tokens_file);
        return *out != NULL ? CLI_EXIT_OK
                            : cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    code = cli_resolve_paths(ctx);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (!cli_keystore_exists(ctx)) {
        cli_error(CLI_EXIT_KEYSTORE, "no keystore at %s, so no token file "
                  "beside it", ctx->keystore_path);
        cli_hint("run 'sealflow init' first, point --keystore at the "
                 "keystore sealflowd serves, or give --tokens-file FILE");
        return CLI_EXIT_KEYSTORE;
    }
    len = strlen(ctx->keystore_path) + sizeof ".tokens";
    *out = malloc(len);
    if (*out == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    snprintf(*out, len, "%s.tokens", ctx->keystore_path);
    return CLI_EXIT_OK;
}

/* Opens the token file (creating an empty one when it is missing). */
static int open_store(const char *path, struct sf_token_store **ts)
{
    sf_status rc;

    sf_clear_error();
    rc = sf_token_store_open(path, ts);
    if (rc != SF_OK) {
        *ts = NULL;
        return cli_fail(rc, "cannot open token file %s", path);
    }
    return CLI_EXIT_OK;
}

static bool file_exists(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 || errno != ENOENT;
}

/* The rules of a token in their canonical text, as a JSON array. */
static json_t *rules_json(const struct sf_token_info *t)
{
    char text[SF_TOKEN_GLOB_MAX + 256];
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < t->rule_count; i++) {
        if (sf_token_rule_format(&t->rules[i], text, sizeof text) == SF_OK) {
            json_array_append_new(arr, json_string(text));
        }
    }
    return arr;
}

/* A token's description; holds no secret. */
static json_t *info_json(const struct sf_token_info *t)
{
    char created[32];

    cli_format_time(t->created_at, created, sizeof created);
    return json_pack("{s:s, s:s, s:b, s:s, s:I, s:o}", "accessor",
                     t->accessor, "display_name", t->name, "root",
                     t->is_root, "created_at", created, "created_at_s",
                     (json_int_t)t->created_at, "policies", rules_json(t));
}

/* Prints a token's rules after a label, one per line, aligned. */
static void print_rules(const struct sf_token_info *t, const char *label)
{
    char text[SF_TOKEN_GLOB_MAX + 256];

    if (t->is_root) {
        printf("%-14s root (every operation on every key)\n", label);
        return;
    }
    for (size_t i = 0; i < t->rule_count; i++) {
        if (sf_token_rule_format(&t->rules[i], text, sizeof text) ==
            SF_OK) {
            printf("%-14s %s\n", i == 0 ? label : "", text);
        }
    }
}

/* ---- create ------------------------------------------------------------ */

static const char create_help[] =
    "Usage: sealflow token create --policy RULE [--policy RULE]...\n"
    "                             [--display-name NAME] [--json]\n"
    "\n"
    "Creates an access token for sealflowd and adds it to the token file\n"
    "beside the keystore (<keystore>.tokens, where sealflowd looks by\n"
    "default). The token is printed once, now: only its SHA-256 is kept,\n"
    "so it cannot be shown again; revoke it and create another if it is\n"
    "lost. A running sealflowd accepts it within a second.\n"
    "\n"
    "A RULE is GLOB:OP[,OP...]. GLOB matches key names as fnmatch(3)\n"
    "without flags: '*' any run of characters, '/' included, '?' one\n"
    "character, '[...]' a set. OP is read, list, create, encrypt,\n"
    "decrypt, rewrap, datakey-plaintext, datakey-wrapped, rotate, config,\n"
    "delete, trim, or '*' for all. A request is allowed when some rule\n"
    "matches both its key and its operation; everything else is denied.\n"
    "\n"
    "Options:\n"
    "  -p, --policy RULE        a rule (1 to 32; repeat the option)\n"
    "  -n, --display-name NAME  a label shown in listings and lookups\n"
    "                           (1 to 64 printable ASCII characters\n"
    "                           without spaces; default \"cli\")\n"
    "  --tokens-file FILE       another token file (sealflowd's\n"
    "                           tokens_file setting)\n"
    "  --json                   print the token and its description as\n"
    "                           JSON\n"
    "\n"
    "Examples:\n"
    "  sealflow token create --policy 'orders:encrypt,decrypt'\n"
    "  sealflow token create -n ci --policy 'app/*:encrypt' \\\n"
    "      --policy '*:read,list'\n";

/* Prints the new token (text or JSON) and the warning that it will not
 * be shown again. */
static int print_created(struct cli_ctx *ctx, const char *path,
                         const char *token, const struct sf_token_info *t)
{
    int code = CLI_EXIT_OK;
    json_t *o;

    if (ctx->json) {
        o = info_json(t);
        if (o != NULL) {
            json_object_set_new(o, "token", json_string(token));
            json_object_set_new(o, "tokens_file", json_string(path));
        }
        code = cli_json_print(o);
    } else {
        printf("%-14s %s\n", "token:", token);
        printf("%-14s %s\n", "accessor:", t->accessor);
        printf("%-14s %s\n", "display name:", t->name);
        print_rules(t, "policies:");
    }
    cli_note("added to %s; a running sealflowd accepts it within a second",
             path);
    cli_note("warning: the token is shown only this once and cannot be "
             "recovered; store it now (revoke it with: sealflow token "
             "revoke %s)", t->accessor);
    return code;
}

static int token_create(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"token create", create_help, create_opts, NULL,
                            NULL, 0, 0, true, false};
    struct token_state st = {.name = DEFAULT_NAME};
    struct sf_token_store *ts = NULL;
    struct sf_token_info info;
    char token[SF_TOKEN_LEN + 1];
    char *path = NULL;
    char **pos;
    int n;
    sf_status rc;
    int code;

    code = token_parse(ctx, &spec, &st, argc, argv, &pos, &n);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    if (st.rule_count == 0) {
        return cli_usage(spec.cmd, "give at least one --policy "
                         "GLOB:OP[,OP...]");
    }
    code = tokens_path(ctx, &st, &path);
    if (code == CLI_EXIT_OK) {
        code = open_store(path, &ts);
    }
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    sf_clear_error();
    rc = sf_token_create(ts, st.name, false, st.rules, st.rule_count, token,
                         sizeof token, &info);
    if (rc != SF_OK) {
        code = cli_fail(rc, "cannot create a token in %s", path);
        goto out;
    }
    code = print_created(ctx, path, token, &info);

out:
    sf_wipe(token, sizeof token);
    sf_token_store_close(ts);
    free(path);
    return code;
}

/* ---- list -------------------------------------------------------------- */

static const char list_help[] =
    "Usage: sealflow token list [--json]\n"
    "\n"
    "Lists the tokens in the token file: accessor, display name, creation\n"
    "time and rules. Tokens themselves are never stored, so never shown.\n"
    "\n"
    "Options:\n"
    "  --tokens-file FILE   another token file\n"
    "  --json               print {\"tokens\": [...]}\n";

static void print_list(const struct sf_token_info *list, size_t n)
{
    char created[32];
    char text[SF_TOKEN_GLOB_MAX + 256];
    int w = 4;

    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(list[i].name);
        w = len > w ? len : w;
    }
    printf("%-24s  %-*s  %-20s  %s\n", "ACCESSOR", w, "NAME", "CREATED",
           "POLICIES");
    for (size_t i = 0; i < n; i++) {
        cli_format_time(list[i].created_at, created, sizeof created);
        printf("%-24s  %-*s  %-20s ", list[i].accessor, w, list[i].name,
               created);
        if (list[i].is_root) {
            printf(" root");
        }
        for (size_t r = 0; r < list[i].rule_count; r++) {
            if (sf_token_rule_format(&list[i].rules[r], text, sizeof text) ==
                SF_OK) {
                printf(" %s", text);
            }
        }
        printf("\n");
    }
}

static int token_list(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"token list", list_help, file_opts, NULL, NULL,
                            0, 0, true, false};
    struct token_state st = {.name = DEFAULT_NAME};
    struct sf_token_store *ts = NULL;
    struct sf_token_info *list = NULL;
    char *path = NULL;
    char **pos;
    size_t count = 0;
    int n;
    int code;

    code = token_parse(ctx, &spec, &st, argc, argv, &pos, &n);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = tokens_path(ctx, &st, &path);
    /* No file is no tokens; listing never creates one. */
    if (code == CLI_EXIT_OK && file_exists(path)) {
        code = open_store(path, &ts);
        if (code == CLI_EXIT_OK && sf_token_list(ts, &list, &count) !=
                                       SF_OK) {
            code = cli_error(CLI_EXIT_FAIL, "out of memory");
        }
    }
    if (code == CLI_EXIT_OK && ctx->json) {
        json_t *arr = json_array();

        for (size_t i = 0; arr != NULL && i < count; i++) {
            json_array_append_new(arr, info_json(&list[i]));
        }
        code = cli_json_print(json_pack("{s:o?}", "tokens", arr));
    } else if (code == CLI_EXIT_OK && count > 0) {
        print_list(list, count);
    }
    free(list);
    sf_token_store_close(ts);
    free(path);
    return code;
}

/* ---- revoke ------------------------------------------------------------ */

static const char revoke_help[] =
    "Usage: sealflow token revoke ACCESSOR\n"
    "\n"
    "Removes the token with this accessor (24 hex digits, from 'sealflow\n"
    "token list' or the audit log) from the token file. A running\n"
    "sealflowd refuses it within a second.\n"
    "\n"
    "Options:\n"
    "  --tokens-file FILE   another token file\n";

static bool accessor_ok(const char *s)
{
    return strlen(s) == SF_TOKEN_ACCESSOR_LEN &&
           strspn(s, "0123456789abcdef") == SF_TOKEN_ACCESSOR_LEN;
}

static int token_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"token revoke", revoke_help, file_opts, NULL,
                            NULL, 1, 1, false, false};
    struct token_state st = {.name = DEFAULT_NAME};
    struct sf_token_store *ts = NULL;
    char *path = NULL;
    char **pos;
    int n;
    sf_status rc;
    int code;

    code = token_parse(ctx, &spec, &st, argc, argv, &pos, &n);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    if (!accessor_ok(pos[0])) {
        return cli_usage(spec.cmd, "an accessor is %d lowercase hex digits",
                         SF_TOKEN_ACCESSOR_LEN);
    }
    code = tokens_path(ctx, &st, &path);
    if (code == CLI_EXIT_OK && !file_exists(path)) {
        code = cli_error(CLI_EXIT_NO_KEY, "no token has accessor %s: there "
                         "is no token file %s", pos[0], path);
    } else if (code == CLI_EXIT_OK) {
        code = open_store(path, &ts);
    }
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    sf_clear_error();
    rc = sf_token_revoke(ts, pos[0]);
    if (rc != SF_OK) {
        code = cli_fail(rc, "cannot revoke %s", pos[0]);
        if (rc == SF_ERR_KEY_NOT_FOUND) {
            cli_hint("'sealflow token list' shows the accessors");
        }
        goto out;
    }
    cli_note("revoked token %s; a running sealflowd refuses it within a "
             "second", pos[0]);

out:
    sf_token_store_close(ts);
    free(path);
    return code;
}

static const char token_help[] =
    "Usage: sealflow token COMMAND [OPTIONS]\n"
    "\n"
    "Manages the access tokens of sealflowd in the token file beside the\n"
    "keystore. 'sealflow token COMMAND --help' describes each command.\n";

static const struct cli_cmd token_cmds[] = {
    {"create", token_create, "create a token (shown once)"},
    {"list", token_list, "list tokens by accessor"},
    {"revoke", token_revoke, "remove a token"},
};

int cmd_token(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "token", token_help, token_cmds,
                        sizeof token_cmds / sizeof token_cmds[0], argc,
                        argv);
}
