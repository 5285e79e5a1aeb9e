#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"

enum {
    G_KEYSTORE = -100,
    G_ROOT_KEY,
    G_JSON,
    G_PROGRESS,
    G_NO_PROGRESS,
    G_HELP
};

/* Options every command accepts; a command's own table is searched first.
 */
static const struct cli_opt global_opts[] = {
    {"keystore", 0, true, G_KEYSTORE},
    {"root-key", 0, true, G_ROOT_KEY},
    {"json", 0, false, G_JSON},
    {"progress", 0, false, G_PROGRESS},
    {"no-progress", 0, false, G_NO_PROGRESS},
    {"help", 'h', false, G_HELP},
    {NULL, 0, false, 0},
};

/* The global options. --json is not one (it belongs to the commands
 * that offer it, and is refused before the command word); it is listed
 * here only for a command whose help does not list it already. */
static void print_globals(bool has_json)
{
    if (has_json) {
        fputs("\nOutput:\n"
              "  --json            print the result as JSON\n", stdout);
    }
    fputs("\nGlobal options:\n"
          "  --keystore PATH   keystore file (default: keystore.db in the\n"
          "                    sealflow home)\n"
          "  --root-key PATH   root key file (default: root.key beside the\n"
          "                    keystore)\n"
          "  -h, --help        show this help\n"
          "\nEnvironment:\n"
          "  SEALFLOW_HOME       sealflow home (default:\n"
          "                      $XDG_DATA_HOME/sealflow, else\n"
          "                      ~/.local/share/sealflow)\n"
          "  SEALFLOW_KEYSTORE   keystore file, when --keystore is absent\n"
          "  SEALFLOW_ROOT_KEY   root key file, when --root-key is absent\n"
          "\nExit codes: 0 ok, 1 failure, 2 usage, 3 bad input, 4 "
          "authentication\nfailed, 5 no usable key, 6 I/O error, 7 keystore "
          "or root key.\nSee 'man sealflow' and docs/cli/ for details.\n",
          stdout);
}

void cli_print_global_help(void)
{
    print_globals(false);
}

static const struct cli_opt *find_long(const struct cli_opt *t,
                                       const char *name, size_t len)
{
    for (; t != NULL && t->name != NULL; t++) {
        if (strlen(t->name) == len && strncmp(t->name, name, len) == 0) {
            return t;
        }
    }
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *t, char c)
{
    for (; t != NULL && t->name != NULL; t++) {
        if (t->short_name != 0 && t->short_name == c) {
            return t;
        }
    }
    return NULL;
}

/* Prints the command's help; CLI_EXIT_IO when stdout fails (a full
 * disk, a closed pipe), so that --help never claims success it lacks. */
static int print_help(const struct cli_spec *spec)
{
    fputs(spec->help, stdout);
    print_globals(spec->json_ok && strstr(spec->help, "\n  --json") == NULL);
    return cli_flush_stdout();
}

/* Applies one global option to ctx; CLI_PARSE_GO to go on. */
static int apply_global(struct cli_ctx *ctx, const struct cli_spec *spec,
                        int id, const char *arg)
{
    switch (id) {
    case G_KEYSTORE:
        ctx->keystore_opt = arg;
        break;
    case G_ROOT_KEY:
        ctx->root_key_opt = arg;
        break;
    case G_JSON:
        if (!spec->json_ok) {
            return cli_usage(spec->cmd, "this command has no --json output");
        }
        ctx->json = true;
        break;
    case G_PROGRESS:
    case G_NO_PROGRESS:
        if (!spec->progress_ok) {
            return cli_usage(spec->cmd, "this command shows no progress");
        }
        ctx->progress = id == G_PROGRESS ? 1 : 0;
        break;
    default:
        return print_help(spec);
    }
    return CLI_PARSE_GO;
}

/* Runs one recognised option: a global one or the command's callback. */
static int apply(struct cli_ctx *ctx, const struct cli_spec *spec,
                 const struct cli_opt *o, const char *arg)
{
    int rc;

    if (o->id < 0) {
        return apply_global(ctx, spec, o->id, arg);
    }
    rc = spec->on_opt(spec->state, o->id, arg);
    return rc == CLI_EXIT_OK ? CLI_PARSE_GO : rc;
}

/* "--name", "--name=value" or "--name value"; *i moves past a value. */
static int parse_long(struct cli_ctx *ctx, const struct cli_spec *spec,
                      int argc, char **argv, int *i)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct cli_opt *o = find_long(spec->opts, name, len);
    const char *arg = NULL;

    if (o == NULL) {
        o = find_long(global_opts, name, len);
    }
    if (o == NULL) {
        char shown[CLI_SHOW_MAX * 4 + 32];

        return cli_usage(spec->cmd, "unknown option '%s'",
                         cli_show(argv[*i], shown, sizeof shown));
    }
    if (!o->has_arg && eq != NULL) {
        return cli_usage(spec->cmd, "option '--%s' takes no value",
                         o->name);
    }
    if (o->has_arg && eq != NULL) {
        arg = eq + 1;
    } else if (o->has_arg) {
        if (*i + 1 >= argc) {
            return cli_usage(spec->cmd, "option '--%s' needs a value",
                             o->name);
        }
        arg = argv[++*i];
    }
    return apply(ctx, spec, o, arg);
}

/* "-x", "-xvalue" or "-x value". */
static int parse_short(struct cli_ctx *ctx, const struct cli_spec *spec,
                       int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const struct cli_opt *o = find_short(spec->opts, a[1]);
    const char *arg = NULL;

    if (o == NULL) {
        o = find_short(global_opts, a[1]);
    }
    if (o == NULL || (!o->has_arg && a[2] != '\0')) {
        char shown[CLI_SHOW_MAX * 4 + 32];

        return cli_usage(spec->cmd, "unknown option '%s'",
                         cli_show(a, shown, sizeof shown));
    }
    if (o->has_arg && a[2] != '\0') {
        arg = a + 2;
    } else if (o->has_arg) {
        if (*i + 1 >= argc) {
            return cli_usage(spec->cmd, "option '-%c' needs a value", a[1]);
        }
        arg = argv[++*i];
    }
    return apply(ctx, spec, o, arg);
}

static int check_count(const struct cli_spec *spec, char **pos, int n)
{
    if (n < spec->pos_min) {
        return cli_usage(spec->cmd, "missing argument");
    }
    if (spec->pos_max >= 0 && n > spec->pos_max) {
        char shown[CLI_SHOW_MAX * 4 + 32];

        return cli_usage(spec->cmd, "unexpected argument '%s'",
                         cli_show(pos[spec->pos_max], shown, sizeof shown));
    }
    return CLI_PARSE_GO;
}

int cli_parse(struct cli_ctx *ctx, const struct cli_spec *spec, int argc,
              char **argv, char ***pos, int *pos_len)
{
    bool only_pos = false;
    int n = 0;
    int rc;
    int i;

    for (i = 1; i < argc; i++) {
        char *a = argv[i];

        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            argv[1 + n++] = a; /* never ahead of i, so nothing is lost */
            continue;
        }
        rc = a[1] == '-' ? parse_long(ctx, spec, argc, argv, &i)
                         : parse_short(ctx, spec, argc, argv, &i);
        if (rc != CLI_PARSE_GO) {
            return rc;
        }
    }
    *pos = argv + 1;
    *pos_len = n;
    return check_count(spec, argv + 1, n);
}

static void print_group_help(FILE *f, const char *help,
                             const struct cli_cmd *table, size_t n)
{
    size_t i;

    fputs(help, f);
    fputs("\nCommands:\n", f);
    for (i = 0; i < n; i++) {
        fprintf(f, "  %-15s %s\n", table[i].name, table[i].summary);
    }
}

int cli_dispatch(struct cli_ctx *ctx, const char *group,
                 const char *group_help, const struct cli_cmd *table,
                 size_t n, int argc, char **argv)
{
    char shown[CLI_SHOW_MAX * 4 + 32];
    size_t i;

    if (argc < 2) {
        print_group_help(stderr, group_help, table, n);
        return cli_usage(group, "missing command");
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_group_help(stdout, group_help, table, n);
        cli_print_global_help();
        return cli_flush_stdout();
    }
    for (i = 0; i < n; i++) {
        if (strcmp(argv[1], table[i].name) == 0) {
            return table[i].run(ctx, argc - 1, argv + 1);
        }
    }
    return cli_usage(group, "unknown command '%s'",
                     cli_show(argv[1], shown, sizeof shown));
}
