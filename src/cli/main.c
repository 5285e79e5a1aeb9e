/*
 * sealflow: file encryption and key management on the local keystore.
 *
 * main() handles the options that may come before the command word and
 * dispatches through the command table; each command parses its own
 * options from its option table (cli_args.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "cmd.h"
#include "cmd_records.h"
#include "cmd_service.h"

static int cmd_help(struct cli_ctx *ctx, int argc, char **argv);
static int cmd_version(struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_cmd commands[] = {
    {"init", cmd_init, "create the keystore and its root key"},
    {"keys", cmd_keys, "create, list, show, rotate, configure, delete keys"},
    {"identity", cmd_identity, "generate a partner's X25519 identity"},
    {"encrypt", cmd_encrypt, "seal a file for keys and recipients"},
    {"decrypt", cmd_decrypt, "open a sealed file"},
    {"rewrap", cmd_rewrap, "move sealed files to the newest key version"},
    {"inspect", cmd_inspect, "show a sealed file's header"},
    {"seal", cmd_seal, "seal records field by field under a policy"},
    {"open", cmd_open, "open sealed records, selectively by reader"},
    {"coverage", cmd_coverage, "check sealed records against a policy"},
    {"policy", cmd_policy, "check a policy, explain its decisions"},
    {"token", cmd_token, "create, list, revoke sealflowd access tokens"},
    {"audit", cmd_audit, "verify a sealflowd audit log"},
    {"help", cmd_help, "show help for a command"},
    {"version", cmd_version, "print the version"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const char main_help[] =
    "Usage: sealflow [--keystore PATH] [--root-key PATH] COMMAND [ARGS]\n"
    "       sealflow help COMMAND [SUBCOMMAND]\n"
    "       sealflow --version\n"
    "\n"
    "Envelope encryption of files with keys from a local keystore and\n"
    "partners' public keys, and the lifecycle of those keys.\n";

static void print_main_help(FILE *f)
{
    size_t i;

    fputs(main_help, f);
    fputs("\nCommands:\n", f);
    for (i = 0; i < COMMAND_COUNT; i++) {
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fputs("\n'sealflow COMMAND --help' describes each command.\n", f);
}

static const struct cli_cmd *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (argc == 2 && is_help(argv[1])) {
        printf("Usage: sealflow version\n\nPrints the version, as "
               "'sealflow --version' does.\n");
        return cli_flush_stdout();
    }
    if (argc > 1) {
        return cli_usage("version", "takes no arguments");
    }
    printf("sealflow %s\n", sf_version());
    return cli_flush_stdout();
}

/* "help" alone, or "help WORD..." run as "WORD... --help". */
static int cmd_help(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_cmd *c;
    char *args[8];
    int i;

    if (argc < 2 || (argc == 2 && is_help(argv[1]))) {
        print_main_help(stdout);
        cli_print_global_help();
        return cli_flush_stdout();
    }
    c = find_command(argv[1]);
    if (c == NULL || argc > 3) {
        return cli_usage("help", "no help for '%s'", argv[1]);
    }
    for (i = 1; i < argc; i++) {
        args[i - 1] = argv[i];
    }
    args[argc - 1] = (char *)"--help";
    args[argc] = NULL;
    return c->run(ctx, argc, args);
}

/*
 * Global options given before the command word. Returns the index of the
 * command word, or -1 after printing help or version, -2 on a usage
 * error, -3 when help or version could not be written.
 */
static int leading_options(struct cli_ctx *ctx, int argc, char **argv)
{
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];

        if (is_help(a)) {
            return cmd_help(ctx, 1, argv) == CLI_EXIT_OK ? -1 : -3;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            return cmd_version(ctx, 1, argv) == CLI_EXIT_OK ? -1 : -3;
        }
        if ((strcmp(a, "--keystore") == 0 || strcmp(a, "--root-key") == 0)
            && i + 1 < argc) {
            *(a[2] == 'k' ? &ctx->keystore_opt : &ctx->root_key_opt) =
                argv[++i];
        } else if (strncmp(a, "--keystore=", 11) == 0) {
            ctx->keystore_opt = a + 11;
        } else if (strncmp(a, "--root-key=", 11) == 0) {
            ctx->root_key_opt = a + 11;
        } else {
            cli_error(CLI_EXIT_USAGE, "unknown option '%s' before the "
                      "command", a);
            fputs("Try 'sealflow --help'.\n", stderr);
            return -2;
        }
    }
    return i;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx;
    const struct cli_cmd *c;
    int first;
    int code;

    memset(&ctx, 0, sizeof ctx);
    ctx.progress = -1;
    /* A closed pipe becomes a write error (EPIPE) that the command
     * reports and cleans up after, instead of killing the process. */
    signal(SIGPIPE, SIG_IGN);
    first = leading_options(&ctx, argc, argv);
    if (first < 0) {
        return first == -1 ? CLI_EXIT_OK
               : first == -2 ? CLI_EXIT_USAGE : CLI_EXIT_IO;
    }
    if (first >= argc) {
        print_main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    c = find_command(argv[first]);
    if (c == NULL) {
        cli_error(CLI_EXIT_USAGE, "unknown command '%s'", argv[first]);
        fputs("Try 'sealflow --help'.\n", stderr);
        return CLI_EXIT_USAGE;
    }
    code = c->run(&ctx, argc - first, argv + first);
    cli_ctx_free(&ctx);
    if (fflush(stdout) != 0 && code == CLI_EXIT_OK) {
        code = cli_error(CLI_EXIT_IO, "writing to stdout failed");
    }
    return code;
}
