/*
 * Command-line parsing and dispatch for the sealflow CLI.
 *
 * Every command describes its options in a table (struct cli_opt); one
 * parser handles long options ("--name value", "--name=value"), short
 * options ("-o value", "-ovalue"), "--" and the global options shared by
 * all commands. Commands and command groups are tables too (struct
 * cli_cmd), so main() and each group dispatch by lookup.
 */
#ifndef SF_CLI_ARGS_H
#define SF_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "sealflow/keystore.h"

/* State shared by every command: global options and what they open. */
struct cli_ctx {
    const char *keystore_opt;   /* --keystore, or NULL */
    const char *root_key_opt;   /* --root-key, or NULL */
    bool json;                  /* --json */
    int progress;               /* -1 auto, 0 --no-progress, 1 --progress */
    char *keystore_path;        /* resolved by cli_resolve_paths */
    char *root_key_path;
    struct sf_keystore *ks;     /* opened by cli_keystore_open */
};

struct cli_opt {
    const char *name;   /* long name without "--"; NULL ends a table */
    char short_name;    /* 0 when there is none */
    bool has_arg;
    int id;             /* passed to the command's callback; >= 0 (the
                           parser keeps negative ids for global options) */
};

/* A command's option callback: returns CLI_EXIT_OK or an exit code after
 * printing why. */
typedef int (*cli_opt_fn)(void *state, int id, const char *arg);

struct cli_spec {
    const char *cmd;             /* "keys create", used in messages */
    const char *help;            /* full --help text */
    const struct cli_opt *opts;  /* may be NULL: global options only */
    cli_opt_fn on_opt;
    void *state;
    int pos_min;                 /* positional argument count bounds */
    int pos_max;                 /* -1: no upper bound */
    bool json_ok;                /* the command offers --json */
    bool progress_ok;            /* the command offers --[no-]progress */
};

/* The parser's "go on" result; any other value is an exit code to return
 * at once (0 after --help printed the help). */
#define CLI_PARSE_GO (-1)

/*
 * Parses argv[1..argc-1] (argv[0] is the command word). Positional
 * arguments are moved, in order, to the front of argv; *pos points at them
 * and *pos_len counts them.
 */
int cli_parse(struct cli_ctx *ctx, const struct cli_spec *spec, int argc,
              char **argv, char ***pos, int *pos_len);

/* A command or a group of subcommands. */
struct cli_cmd {
    const char *name;
    int (*run)(struct cli_ctx *ctx, int argc, char **argv);
    const char *summary;
};

/*
 * Runs the subcommand named by argv[1] from table (n entries); argv[0] is
 * the group word. group_help is printed for "--help" or a missing word.
 */
int cli_dispatch(struct cli_ctx *ctx, const char *group,
                 const char *group_help, const struct cli_cmd *table,
                 size_t n, int argc, char **argv);

/* Prints the text shared by every --help: global options and environment.
 */
void cli_print_global_help(void);

/*
 * Resolves the keystore and root-key paths: --keystore, $SEALFLOW_KEYSTORE,
 * else keystore.db in the sealflow home ($SEALFLOW_HOME, else
 * $XDG_DATA_HOME/sealflow, else ~/.local/share/sealflow); --root-key,
 * $SEALFLOW_ROOT_KEY, else root.key beside the keystore.
 */
int cli_resolve_paths(struct cli_ctx *ctx);

/* true when the resolved keystore file exists. */
bool cli_keystore_exists(struct cli_ctx *ctx);

/* Loads the root key and opens the keystore into ctx->ks (once). Prints
 * the error and a hint on failure and returns its exit code. */
int cli_keystore_open(struct cli_ctx *ctx);

/* Releases what ctx holds. */
void cli_ctx_free(struct cli_ctx *ctx);

#endif
