#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cli_io.h"
#include "cli_util.h"
#include "cmd.h"
#include "sealflow/envelope.h"

enum { OPT_OUT };

static const struct cli_opt generate_opts[] = {
    {"output", 'o', true, OPT_OUT},
    {NULL, 0, false, 0},
};

static const char generate_help[] =
    "Usage: sealflow identity generate [-o FILE] [--json]\n"
    "\n"
    "Creates a new X25519 key pair for a partner who does not run a\n"
    "keystore. The identity (the secret string) goes into FILE, created\n"
    "with mode 0600 and never overwritten, or to stdout without -o. The\n"
    "public recipient string (\"sealflow-x25519:...\") goes alone on a\n"
    "line to stdout with -o, and to stderr without it; FILE is written\n"
    "only after stdout took the recipient. Hand the recipient string to\n"
    "whoever encrypts ('sealflow encrypt -r'); keep the identity for\n"
    "'sealflow decrypt -i'.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE   write the identity to FILE (mode 0600)\n"
    "  --json              with -o: print {\"recipient\", \"identity_file\"}\n"
    "\n"
    "Example:\n"
    "  sealflow identity generate -o partner.key > partner.pub\n";

static int generate_opt(void *state, int id, const char *arg)
{
    const char **out = state;

    (void)id;
    *out = arg;
    return CLI_EXIT_OK;
}

/* The identity file: comment lines (skipped by the parser) saying when it
 * was made and its public recipient, then the secret line. The file is
 * only started here, as a temporary file: save_identity puts it in
 * place. */
static int start_identity(struct cli_out *out, const char *path,
                          const struct sf_buf *secret,
                          const struct sf_buf *pub)
{
    char stamp[32];
    char head[256];
    int n;
    int rc;

    cli_format_time((int64_t)time(NULL), stamp, sizeof stamp);
    n = snprintf(head, sizeof head, "# sealflow identity, created %s\n"
                 "# public recipient: %s\n", stamp, (const char *)pub->data);
    if (n < 0 || (size_t)n >= sizeof head) {
        return cli_error(CLI_EXIT_FAIL, "recipient string too long");
    }
    rc = cli_out_open(out, path, 0600, true);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = cli_out_write(out, head, (size_t)n);
    if (rc == CLI_EXIT_OK) {
        rc = cli_out_write(out, secret->data, secret->len);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_out_write(out, "\n", 1);
    }
    if (rc != CLI_EXIT_OK) {
        cli_out_abort(out);
    }
    return rc;
}

/* Without -o: the secret on stdout, and the recipient alone on a line of
 * stderr, so 'generate > my.key 2> my.pub' leaves a usable recipient
 * file. */
static int print_identity(const struct sf_buf *secret,
                          const struct sf_buf *pub)
{
    if (fwrite(secret->data, 1, secret->len, stdout) != secret->len ||
        fputc('\n', stdout) == EOF) {
        return cli_error(CLI_EXIT_IO, "writing to stdout failed");
    }
    if (cli_flush_stdout() != CLI_EXIT_OK) {
        return CLI_EXIT_IO;
    }
    fprintf(stderr, "%s\n", (const char *)pub->data);
    return CLI_EXIT_OK;
}

/* With -o: the recipient (or the JSON report) on stdout. */
static int report(struct cli_ctx *ctx, const char *path,
                  const struct sf_buf *pub)
{
    if (ctx->json) {
        if (cli_json_print(json_pack("{s:s, s:s}", "recipient",
                                     (const char *)pub->data,
                                     "identity_file", path)) !=
            CLI_EXIT_OK) {
            return CLI_EXIT_IO;
        }
    } else {
        printf("%s\n", (const char *)pub->data);
    }
    return cli_flush_stdout();
}

/*
 * Writes the identity file last: the recipient is printed first, and only
 * when stdout took it is the file put in place. A failed stdout (a full
 * disk, a closed pipe) thus leaves no identity whose recipient was lost.
 */
static int save_identity(struct cli_ctx *ctx, const char *path,
                         const struct sf_buf *secret,
                         const struct sf_buf *pub)
{
    struct cli_out out;
    char shown[CLI_SHOW_MAX * 4 + 32];
    int rc;

    rc = start_identity(&out, path, secret, pub);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = report(ctx, path, pub);
    if (rc != CLI_EXIT_OK) {
        cli_out_abort(&out);
        cli_note("no identity file was written");
        return rc;
    }
    rc = cli_out_commit(&out);
    if (rc == CLI_EXIT_OK) {
        cli_note("wrote identity to %s (mode 0600); keep it secret",
                 cli_show(path, shown, sizeof shown));
    }
    return rc;
}

static int identity_generate(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *path = NULL;
    struct cli_spec spec = {"identity generate", generate_help,
                            generate_opts, generate_opt, &path, 0, 0, true,
                            false};
    struct sf_buf secret = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    char **pos;
    int n;
    int rc;
    sf_status s;

    rc = cli_parse(ctx, &spec, argc, argv, &pos, &n);
    if (rc != CLI_PARSE_GO) {
        return rc;
    }
    if (ctx->json && path == NULL) {
        return cli_usage(spec.cmd, "--json needs -o FILE (the identity is "
                         "never printed as JSON)");
    }
    sf_clear_error();
    s = sf_identity_generate_x25519(&secret, &pub);
    if (s == SF_OK) {
        s = sf_buf_terminate(&pub);
    }
    if (s != SF_OK) {
        rc = cli_fail(s, "cannot generate an identity");
    } else if (path == NULL) {
        rc = print_identity(&secret, &pub);
    } else {
        rc = save_identity(ctx, path, &secret, &pub);
    }
    sf_buf_free(&secret);
    sf_buf_free(&pub);
    return rc;
}

static const char identity_help[] =
    "Usage: sealflow identity COMMAND [OPTIONS]\n"
    "\n"
    "Manages identities: key pairs held in files rather than in a\n"
    "keystore, as a partner uses them.\n";

static const struct cli_cmd identity_cmds[] = {
    {"generate", identity_generate, "create an X25519 identity file"},
};

int cmd_identity(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "identity", identity_help, identity_cmds,
                        sizeof identity_cmds / sizeof identity_cmds[0],
                        argc, argv);
}
