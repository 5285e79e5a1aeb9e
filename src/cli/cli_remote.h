/*
 * The key service for the sealflow CLI: "kms:NAME" keys live in a service
 * speaking the HTTP API of Vault's transit engine (sealflowd, Vault,
 * OpenBao; docs/REMOTE.md), which wraps and unwraps data keys for us.
 *
 * Where the service is and which token to send come from --addr and
 * --token-file, else from SEALFLOW_ADDR and SEALFLOW_TOKEN, falling back
 * to VAULT_ADDR and VAULT_TOKEN. A token is never taken from the command
 * line itself (any user could read it in the process list) and never
 * printed.
 */
#ifndef SF_CLI_REMOTE_H
#define SF_CLI_REMOTE_H

#include <stdbool.h>

#include "sealflow/envelope.h"
#include "sealflow/remote.h"
#include "sealflow/status.h"

struct cli_remote {
    const char *addr_opt;       /* --addr URL, or NULL */
    const char *token_file_opt; /* --token-file FILE, or NULL */
    struct sf_remote *r;        /* opened by cli_remote_open */
};

/* true when name is a remote key name, "kms:NAME". */
bool cli_remote_is_kms(const char *name);

/* true when a service address is given (--addr or the environment). */
bool cli_remote_has_addr(const struct cli_remote *cr);

/*
 * Opens cr->r once from the options and the environment; cmd names the
 * command in messages. Prints the error (never the token) and returns
 * its exit code: CLI_EXIT_USAGE when no address or no token is set or
 * the address is refused, CLI_EXIT_IO when the token file cannot be
 * read.
 */
int cli_remote_open(const char *cmd, struct cli_remote *cr);

/* true when some stanza of a message names a key-service key. */
bool cli_remote_in_header(const struct sf_header_info *info);

/*
 * Adds the key service's identity as ids[*n] (and counts it) when the
 * message info names a kms: key and a service address is set. Like a
 * keystore that cannot be opened, a service that cannot be set up is
 * fatal only when nothing else (*n == 0) could open the message: then
 * its exit code is returned; else a note is printed and CLI_EXIT_OK
 * returned. No request is sent yet.
 */
int cli_remote_add_identity(const char *cmd, struct cli_remote *cr,
                            const struct sf_header_info *info,
                            struct sf_identity **ids, size_t *n);

/* Frees cr->r; the recipients and identities made from it must be freed
 * first. */
void cli_remote_close(struct cli_remote *cr);

/* Refuses a token given on the command line (a usage error), without
 * echoing it. */
int cli_remote_refuse_token(const char *cmd);

/*
 * The exit code for a failure whose status is rc, where code is what
 * cli_fail returned: an unreachable or silent service is an I/O error
 * (6), a refusal by the service's token policy leaves no usable key (5);
 * any other status keeps code.
 */
int cli_remote_exit(sf_status rc, int code);

/* Prints the hint that goes with a failed call to the service. */
void cli_remote_hint(sf_status rc);

/* Prints how to point the CLI at a key service. */
void cli_remote_setup_hint(void);

#endif
