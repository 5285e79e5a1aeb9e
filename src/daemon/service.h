/*
 * Starting, running and stopping the service, and creating a new
 * installation (init and --dev).
 */
#ifndef SFD_SERVICE_H
#define SFD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "sfd.h"

/* What to print once the service listens. */
struct sfd_banner {
    bool is_dev;
    const char *root_token;  /* shown once, dev mode only */
    const char *dir;         /* the dev folder */
    const char *token_file;  /* --dev-token-file, or NULL */
};

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every
 * thread it starts later; ignores SIGPIPE. Call first thing in main. */
void sfd_block_signals(void);

/* Opens the keystore, tokens and audit log; err says what failed. */
SF_MUST_CHECK sf_status sfd_server_open(struct sfd_server *srv,
                                        const struct sfd_config *cfg,
                                        char *err, size_t err_max);

/* Serves until SIGTERM or SIGINT; returns the exit status. */
int sfd_serve(const struct sfd_config *cfg, const struct sfd_banner *b);

/* Prints where the service listens (and, in dev mode, the root token). */
void sfd_announce(const struct sfd_config *cfg, unsigned port,
                  const struct sfd_banner *b);

/*
 * Creates a new installation from cfg: the root key file (kept when it
 * already exists), an empty keystore (refused when one exists), the token
 * file and a root token, written to token_out (SF_TOKEN_LEN + 1 bytes).
 */
SF_MUST_CHECK sf_status sfd_bootstrap(const struct sfd_config *cfg,
                                      char *token_out, char *err,
                                      size_t err_max);

/* Sets up --dev: a fresh folder (dir, or a new temporary one written to
 * dir_out) holding everything, and a root token. */
SF_MUST_CHECK sf_status sfd_dev_setup(struct sfd_config *cfg,
                                      const char *dir, char *dir_out,
                                      size_t dir_max, char *token_out,
                                      char *err, size_t err_max);

/* Removes a dev folder and everything in it. */
void sfd_dev_cleanup(const char *dir);

#endif
