/*
 * sealflowd: the key service. main() sets up the process (signals, no
 * core dumps, wiping JSON memory), then dispatches on the subcommand.
 */
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "args.h"
#include "handlers.h"
#include "sealflow/secret.h"
#include "service.h"

struct command {
    const char *name;
    int (*run)(const struct sfd_args *a);
};

static int cmd_serve(const struct sfd_args *a);
static int cmd_version(const struct sfd_args *a);
static int cmd_help(const struct sfd_args *a);

static const struct command commands[] = {
    {"serve", cmd_serve},       {"init", sfd_cmd_init},
    {"token", sfd_cmd_token},   {"audit", sfd_cmd_audit},
    {"version", cmd_version},   {"help", cmd_help},
};

static const char usage[] =
    "usage: sealflowd [serve] [--config FILE] [--dev] [SETTINGS]\n"
    "       sealflowd init --config FILE\n"
    "       sealflowd token create --name NAME (--policy GLOB:OP,... "
    "| --root) [--config FILE]\n"
    "       sealflowd token revoke ACCESSOR [--config FILE]\n"
    "       sealflowd token list [--config FILE]\n"
    "       sealflowd audit verify FILE [--config FILE | --root-key FILE "
    "| --no-key]\n"
    "settings (also config file names, '-' for '_'): --listen ADDR "
    "--keystore PATH\n"
    "  --root-key PATH --audit-log PATH --tokens-file PATH --tls-cert PEM "
    "--tls-key PEM\n"
    "  --mount NAME --insecure-plain-http --log-level LEVEL "
    "--max-request-bytes N\n"
    "  --batch-max N --connection-limit N --connection-timeout-s N\n"
    "  --audit-checkpoint-every N --audit-checkpoint-interval-s N\n"
    "dev mode: --dev [--dev-dir DIR] [--dev-token-file FILE]\n"
    "See docs/sealflowd.md.\n";

/* JSON values may hold plaintext or keys: jansson's memory is wiped
 * before it is freed. */
static void *json_alloc(size_t n)
{
    return malloc(n);
}

static void json_release(void *p)
{
    if (p != NULL) {
        sf_wipe(p, malloc_usable_size(p));
    }
    free(p);
}

/* Keeps key material out of core files and debuggers where possible. */
static void harden(void)
{
    struct rlimit none = {0, 0};

    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int cmd_version(const struct sfd_args *a)
{
    (void)a;
    printf("sealflowd %s\n", sf_version());
    return 0;
}

static int cmd_help(const struct sfd_args *a)
{
    (void)a;
    fputs(usage, stdout);
    return 0;
}

static int cmd_serve(const struct sfd_args *a)
{
    struct sfd_config cfg;
    struct sfd_banner banner = {false, NULL, NULL, a->dev_token_file};
    char token[SF_TOKEN_LEN + 1] = "";
    char dir[SFD_PATH_MAX] = "";
    char err[512];
    int status;

    if (a->is_help) {
        return cmd_help(a);
    }
    if (!sfd_args_config(a, &cfg, err, sizeof err)) {
        fprintf(stderr, "sealflowd: %s\n", err);
        return 2;
    }
    sfd_log_init(cfg.log_level);
    if (a->is_dev && sfd_dev_setup(&cfg, a->dev_dir, dir, sizeof dir, token,
                                   err, sizeof err) != SF_OK) {
        fprintf(stderr, "sealflowd: dev mode: %s\n", err);
        return 1;
    }
    if (sfd_config_finish(&cfg, err, sizeof err) != SF_OK) {
        fprintf(stderr, "sealflowd: %s\n", err);
        return 2;
    }
    banner.is_dev = a->is_dev;
    banner.root_token = token;
    banner.dir = dir;
    status = sfd_serve(&cfg, &banner);
    sf_wipe(token, sizeof token);
    if (a->is_dev && a->dev_dir == NULL) {
        sfd_dev_cleanup(dir);
    }
    return status;
}

int main(int argc, char **argv)
{
    struct sfd_args args;
    const struct command *cmd = &commands[0];
    int first = 1;
    char err[256];

    sfd_block_signals();
    harden();
    json_set_alloc_funcs(json_alloc, json_release);
    if (argc > 1 && argv[1][0] != '-') {
        cmd = NULL;
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            if (strcmp(argv[1], commands[i].name) == 0) {
                cmd = &commands[i];
            }
        }
        if (cmd == NULL) {
            fprintf(stderr, "sealflowd: unknown command '%s'\n%s", argv[1],
                    usage);
            return 2;
        }
        first = 2;
    }
    if (!sfd_args_parse(argc, argv, first, &args, err, sizeof err)) {
        fprintf(stderr, "sealflowd: %s\n%s", err, usage);
        return 2;
    }
    return cmd->run(&args);
}
