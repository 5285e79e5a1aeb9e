/*
 * Command-line arguments of sealflowd and its subcommands.
 */
#ifndef SFD_ARGS_H
#define SFD_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define SFD_ARGS_MAX 64

struct sfd_args {
    const char *config_path;    /* --config */
    bool is_dev;                /* --dev */
    const char *dev_dir;        /* --dev-dir */
    const char *dev_token_file; /* --dev-token-file */
    const char *name;           /* --name (token create) */
    const char *policies[SFD_ARGS_MAX]; /* --policy, repeatable */
    size_t policy_count;
    bool is_root;               /* --root (token create) */
    bool is_no_key;             /* --no-key (audit verify) */
    bool is_help;
    const char *positional[SFD_ARGS_MAX];
    size_t positional_count;
    /* Settings given as flags, applied after the config file. */
    const char *set_name[SFD_ARGS_MAX];
    const char *set_value[SFD_ARGS_MAX];
    char set_buf[SFD_ARGS_MAX][48];
    size_t set_count;
};

/* Parses argv[first..argc-1]; false (with err) for a bad argument. */
bool sfd_args_parse(int argc, char **argv, int first, struct sfd_args *a,
                    char *err, size_t err_max);

/* Builds the config: defaults, then --config, then setting flags. */
bool sfd_args_config(const struct sfd_args *a, struct sfd_config *cfg,
                     char *err, size_t err_max);

/* Subcommands (cmd.c); each returns the process exit status. */
int sfd_cmd_init(const struct sfd_args *a);
int sfd_cmd_token(const struct sfd_args *a);
int sfd_cmd_audit(const struct sfd_args *a);

#endif
