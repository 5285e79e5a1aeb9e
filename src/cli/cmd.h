/*
 * Entry points of the sealflow commands. Each takes the shared context and
 * its own argv (argv[0] is the command word) and returns the exit code.
 */
#ifndef SF_CLI_CMD_H
#define SF_CLI_CMD_H

#include "cli_args.h"

int cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cmd_keys(struct cli_ctx *ctx, int argc, char **argv);
int cmd_identity(struct cli_ctx *ctx, int argc, char **argv);
int cmd_encrypt(struct cli_ctx *ctx, int argc, char **argv);
int cmd_decrypt(struct cli_ctx *ctx, int argc, char **argv);
int cmd_rewrap(struct cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv);

#endif
