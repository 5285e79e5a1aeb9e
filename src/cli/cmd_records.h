/*
 * The record commands: seal, open, coverage (cmd_records.c) and the policy
 * group: check, explain (cmd_policy.c). Each takes the shared context and
 * its own argv (argv[0] is the command word) and returns the exit code.
 */
#ifndef SF_CLI_CMD_RECORDS_H
#define SF_CLI_CMD_RECORDS_H

#include "cli_args.h"
#include "sealflow/policy.h"
#include "sealflow/records.h"

int cmd_seal(struct cli_ctx *ctx, int argc, char **argv);
int cmd_open(struct cli_ctx *ctx, int argc, char **argv);
int cmd_coverage(struct cli_ctx *ctx, int argc, char **argv);
int cmd_policy(struct cli_ctx *ctx, int argc, char **argv);

/* The format named by --format, else guessed from a file name (.jsonl,
 * .ndjson, .csv, .json), else JSON. Prints a usage error for a bad name. */
int records_format(const char *cmd, const char *opt, const char *path,
                   enum sf_records_format *out);

/* Loads a policy file, printing "FILE:LINE:COL: message" on failure. */
int records_policy(const char *path, struct sf_policy **out);

#endif
