/*
 * sealflowd settings: defaults, the config file and command-line flags.
 *
 * The config file has one "name = value" per line; '#' starts a comment,
 * and a value may be wrapped in double quotes. The names are those of the
 * fields below (docs/sealflowd.md lists them). Flags given on the command
 * line override the file.
 */
#ifndef SFD_CONFIG_H
#define SFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

#define SFD_DEFAULT_LISTEN "127.0.0.1:8200"
#define SFD_DEFAULT_MOUNT "transit"
#define SFD_DEFAULT_BODY_MAX (1024 * 1024)
#define SFD_DEFAULT_BATCH_MAX 1000
#define SFD_DEFAULT_CONN_LIMIT 256
#define SFD_DEFAULT_CONN_TIMEOUT 30
#define SFD_PATH_MAX 1024

struct sfd_config {
    char listen[SFD_PATH_MAX];
    char tls_cert[SFD_PATH_MAX];
    char tls_key[SFD_PATH_MAX];
    char keystore[SFD_PATH_MAX];
    char root_key[SFD_PATH_MAX];
    char audit_log[SFD_PATH_MAX];
    char tokens_file[SFD_PATH_MAX]; /* default: "<keystore>.tokens" */
    char mount[SFD_PATH_MAX];
    bool insecure_plain_http;
    uint64_t max_request_bytes;
    uint64_t batch_max;
    uint64_t connection_limit;
    uint64_t connection_timeout_s;
    uint64_t audit_checkpoint_every;
    uint64_t audit_checkpoint_interval_s;
    char log_level[16]; /* error, warn, info, debug */
};

/* true when name is a setting that takes no value on the command line
 * (a boolean such as insecure_plain_http). */
bool sfd_config_is_switch(const char *name);

/* true when name is a setting at all. */
bool sfd_config_has(const char *name);

/* Fills the defaults. */
void sfd_config_defaults(struct sfd_config *c);

/* Errors below are SF_ERR_FORMAT (or SF_ERR_IO for an unreadable file)
 * with the reason, naming the setting, file and line, in err. */

/* Applies one setting by name. */
SF_MUST_CHECK sf_status sfd_config_set(struct sfd_config *c,
                                       const char *name, const char *value,
                                       char *err, size_t err_max);

/* Reads a config file. */
SF_MUST_CHECK sf_status sfd_config_load(struct sfd_config *c,
                                        const char *path, char *err,
                                        size_t err_max);

/* Parses the text of a config file; origin names it in errors. */
SF_MUST_CHECK sf_status sfd_config_parse(struct sfd_config *c,
                                         const char *text, size_t len,
                                         const char *origin, char *err,
                                         size_t err_max);

/* Fills derived defaults (the tokens file beside the keystore) and checks
 * that what serving needs is present. */
SF_MUST_CHECK sf_status sfd_config_finish(struct sfd_config *c, char *err,
                                          size_t err_max);

#endif
