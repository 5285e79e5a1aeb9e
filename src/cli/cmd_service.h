/*
 * The commands that administer the key service's files from the local
 * keystore's side: the token group (create, list, revoke; cmd_token.c)
 * and the audit group (verify; cmd_audit.c). Each takes the shared
 * context and its own argv (argv[0] is the command word) and returns the
 * exit code.
 */
#ifndef SF_CLI_CMD_SERVICE_H
#define SF_CLI_CMD_SERVICE_H

#include "cli_args.h"

int cmd_token(struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit(struct cli_ctx *ctx, int argc, char **argv);

#endif
