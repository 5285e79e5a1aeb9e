#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_remote.h"
#include "cli_util.h"
#include "sealflow/buf.h"

/* Largest token file read; tokens are tens of bytes. */
#define TOKEN_FILE_MAX 8192

/* The first of two variables that is set and not empty, or NULL: the
 * rule sf_remote_opts_from_env follows. */
static const char *env_either(const char *first, const char *second)
{
    const char *v = getenv(first);

    if (v == NULL || v[0] == '\0') {
        v = getenv(second);
    }
    return v != NULL && v[0] != '\0' ? v : NULL;
}

bool cli_remote_is_kms(const char *name)
{
    return strncmp(name, SF_REMOTE_PREFIX, sizeof SF_REMOTE_PREFIX - 1) == 0;
}

bool cli_remote_has_addr(const struct cli_remote *cr)
{
    return (cr->addr_opt != NULL && cr->addr_opt[0] != '\0') ||
           env_either("SEALFLOW_ADDR", "VAULT_ADDR") != NULL;
}

/* Reads the token from path into tok, NUL-terminated, without the line
 * end and blanks that editors and `echo` leave behind. tok is wiped when
 * freed. */
static int read_token(const char *path, struct sf_buf *tok)
{
    int code = cli_read_file(path, TOKEN_FILE_MAX, tok);

    if (code != CLI_EXIT_OK) {
        return code;
    }
    while (tok->len > 0 && (tok->data[tok->len - 1] == '\n' ||
                            tok->data[tok->len - 1] == '\r' ||
                            tok->data[tok->len - 1] == ' ' ||
                            tok->data[tok->len - 1] == '\t')) {
        tok->data[--tok->len] = 0;
    }
    if (tok->len == 0) {
        return cli_error(CLI_EXIT_INPUT, "token file %s is empty", path);
    }
    if (sf_buf_terminate(tok) != SF_OK) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    return CLI_EXIT_OK;
}

/*
 * Defaults, then the environment, then the options. When the environment
 * lacks the address or the token, sf_remote_opts_from_env sets nothing,
 * so the variables it would have read are taken one by one: an address
 * from --addr may go with a token from SEALFLOW_TOKEN, and so on.
 */
static int fill_opts(const char *cmd, const struct cli_remote *cr,
                     struct sf_buf *tok, struct sf_remote_opts *o)
{
    int code;

    sf_remote_opts_default(o);
    if (sf_remote_opts_from_env(o) != SF_OK) {
        sf_clear_error();
        o->addr = env_either("SEALFLOW_ADDR", "VAULT_ADDR");
        o->token = env_either("SEALFLOW_TOKEN", "VAULT_TOKEN");
        o->ca_file = env_either("SEALFLOW_CACERT", "VAULT_CACERT");
        o->vault_namespace = env_either("SEALFLOW_NAMESPACE",
                                        "VAULT_NAMESPACE");
    }
    if (cr->addr_opt != NULL && cr->addr_opt[0] != '\0') {
        o->addr = cr->addr_opt;
    }
    if (cr->token_file_opt != NULL) {
        code = read_token(cr->token_file_opt, tok);
        if (code != CLI_EXIT_OK) {
            return code;
        }
        o->token = (const char *)tok->data;
    }
    if (o->addr == NULL) {
        cli_error(CLI_EXIT_USAGE, "%s: kms: keys need a key service, and "
                  "none is set", cmd);
        cli_hint("pass --addr URL, or set SEALFLOW_ADDR (or VAULT_ADDR)");
        return CLI_EXIT_USAGE;
    }
    if (o->token == NULL) {
        cli_error(CLI_EXIT_USAGE, "%s: no token for the key service", cmd);
        cli_hint("set SEALFLOW_TOKEN (or VAULT_TOKEN), or pass "
                 "--token-file FILE");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_remote_open(const char *cmd, struct cli_remote *cr)
{
    struct sf_remote_opts o;
    struct sf_buf tok = SF_BUF_INIT;
    sf_status rc;
    int code;

    if (cr->r != NULL) {
        return CLI_EXIT_OK;
    }
    code = fill_opts(cmd, cr, &tok, &o);
    if (code == CLI_EXIT_OK) {
        sf_clear_error();
        rc = sf_remote_new(&o, &cr->r);
        if (rc != SF_OK) {
            cr->r = NULL;
            code = cli_fail(rc, "%s: cannot use the key service", cmd);
        }
    }
    /* sf_remote_new keeps its own copy of the token. */
    sf_buf_free(&tok);
    return code;
}

bool cli_remote_in_header(const struct sf_header_info *info)
{
    size_t i;

    for (i = 0; i < info->stanza_len; i++) {
        if (info->stanzas[i].type == SF_STANZA_REMOTE ||
            cli_remote_is_kms(info->stanzas[i].key_id)) {
            return true;
        }
    }
    return false;
}

int cli_remote_add_identity(const char *cmd, struct cli_remote *cr,
                            const struct sf_header_info *info,
                            struct sf_identity **ids, size_t *n)
{
    sf_status rc;
    int code;

    if (!cli_remote_in_header(info) || !cli_remote_has_addr(cr)) {
        return CLI_EXIT_OK;
    }
    code = cli_remote_open(cmd, cr);
    if (code == CLI_EXIT_OK) {
        sf_clear_error();
        rc = sf_identity_remote(cr->r, &ids[*n]);
        code = rc == SF_OK ? CLI_EXIT_OK
                           : cli_fail(rc, "%s: cannot use the key service",
                                      cmd);
    }
    if (code == CLI_EXIT_OK) {
        (*n)++;
    } else if (*n > 0) {
        cli_note("going on without the key service");
        code = CLI_EXIT_OK;
    }
    return code;
}

void cli_remote_close(struct cli_remote *cr)
{
    sf_remote_free(cr->r);
    cr->r = NULL;
}

int cli_remote_refuse_token(const char *cmd)
{
    cli_error(CLI_EXIT_USAGE, "%s: refusing a token on the command line: "
              "other users can read it in the process list", cmd);
    cli_hint("set SEALFLOW_TOKEN (or VAULT_TOKEN), or pass --token-file "
             "FILE");
    return CLI_EXIT_USAGE;
}

int cli_remote_exit(sf_status rc, int code)
{
    switch (rc) {
    case SF_ERR_UNAVAILABLE:
    case SF_ERR_TIMEOUT:
        return CLI_EXIT_IO;
    case SF_ERR_DENIED:
        return CLI_EXIT_NO_KEY;
    default:
        return code;
    }
}

void cli_remote_hint(sf_status rc)
{
    switch (rc) {
    case SF_ERR_UNAVAILABLE:
    case SF_ERR_TIMEOUT:
        cli_hint("is the key service running? check --addr or "
                 "SEALFLOW_ADDR");
        break;
    case SF_ERR_DENIED:
        cli_hint("the service refused the token for this operation on "
                 "that key; check the token and its policy");
        break;
    case SF_ERR_KEY_NOT_FOUND:
        cli_hint("the key service has no key of that name; create it "
                 "there first");
        break;
    default:
        break;
    }
}

void cli_remote_setup_hint(void)
{
    cli_hint("the message is sealed to a kms: key; set SEALFLOW_ADDR and "
             "SEALFLOW_TOKEN (or pass --addr and --token-file) to open it "
             "through the key service");
}
