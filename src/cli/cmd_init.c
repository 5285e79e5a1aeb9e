#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_util.h"
#include "cmd.h"
#include "sealflow/keystore.h"

static const char init_help[] =
    "Usage: sealflow init [--keystore PATH] [--root-key PATH] [--json]\n"
    "\n"
    "Creates a new local keystore: its folder (mode 0700 when created), a\n"
    "root key file (32 random bytes, mode 0600) and an empty keystore\n"
    "bound to that root key. Without options both go into the sealflow\n"
    "home as keystore.db and root.key.\n"
    "\n"
    "init never overwrites: it refuses when the keystore or the root key\n"
    "file already exists. Keep a copy of the root key in a safe place;\n"
    "without it the keystore cannot be opened.\n"
    "\n"
    "Options:\n"
    "  --json   print {\"keystore\", \"root_key\"}\n"
    "\n"
    "Examples:\n"
    "  sealflow init\n"
    "  SEALFLOW_HOME=/srv/sealflow sealflow init --json\n";

/* Creates every missing folder of path's directory part, mode 0700. */
static int make_parent_dirs(const char *path)
{
    char dir[PATH_MAX];
    size_t i;

    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        return cli_error(CLI_EXIT_IO, "path too long: %s", path);
    }
    for (i = 1; dir[i] != '\0'; i++) {
        if (dir[i] != '/') {
            continue;
        }
        dir[i] = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            return cli_errno(errno, "cannot create folder %s", dir);
        }
        dir[i] = '/';
    }
    return CLI_EXIT_OK;
}

/* Refuses to touch an existing keystore or root key. */
static int refuse_existing(const struct cli_ctx *ctx)
{
    if (access(ctx->keystore_path, F_OK) == 0) {
        cli_error(CLI_EXIT_FAIL, "a keystore already exists at %s",
                  ctx->keystore_path);
        cli_hint("init never overwrites; use that keystore, or pick "
                 "another with --keystore or SEALFLOW_HOME");
        return CLI_EXIT_FAIL;
    }
    if (access(ctx->root_key_path, F_OK) == 0) {
        cli_error(CLI_EXIT_FAIL, "a root key already exists at %s",
                  ctx->root_key_path);
        cli_hint("init never overwrites a root key; pass --root-key with "
                 "a new path");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/*
 * Prints where the keystore went. This runs after both files exist (the
 * paths are only known to be right once they were made), so a stdout
 * that fails here must say that the keystore was created all the same:
 * running init again would refuse.
 */
static int report(const struct cli_ctx *ctx)
{
    int rc;

    if (ctx->json) {
        rc = cli_json_print(json_pack("{s:s, s:s}", "keystore",
                                      ctx->keystore_path, "root_key",
                                      ctx->root_key_path));
    } else {
        printf("keystore: %s\nroot key: %s\n", ctx->keystore_path,
               ctx->root_key_path);
        rc = CLI_EXIT_OK;
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_flush_stdout();
    }
    if (rc != CLI_EXIT_OK) {
        cli_note("the keystore WAS created all the same: keystore %s, root "
                 "key %s", ctx->keystore_path, ctx->root_key_path);
        cli_hint("back up the root key; without it the keystore cannot be "
                 "opened");
        return rc;
    }
    cli_hint("back up the root key; without it the keystore cannot be "
             "opened");
    return CLI_EXIT_OK;
}

/* Creates the root key, then the keystore; a failure after the root key
 * was made removes it again, so init is all or nothing. */
static int create_all(struct cli_ctx *ctx)
{
    struct sf_secret *root = NULL;
    struct sf_keystore *ks = NULL;
    sf_status rc;
    int code = CLI_EXIT_OK;

    sf_clear_error();
    rc = sf_root_key_create(ctx->root_key_path, &root);
    if (rc != SF_OK) {
        code = cli_fail(rc, "cannot create root key %s", ctx->root_key_path);
        goto out;
    }
    rc = sf_keystore_create(ctx->keystore_path, root, &ks);
    if (rc != SF_OK) {
        code = cli_fail(rc, "cannot create keystore %s", ctx->keystore_path);
        unlink(ctx->root_key_path);
        goto out;
    }

out:
    if (ks != NULL) {
        sf_keystore_close(ks);
    }
    sf_secret_free(root);
    return code == CLI_EXIT_IO ? CLI_EXIT_KEYSTORE : code;
}

int cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"init", init_help, NULL, NULL, NULL, 0, 0,
                            true, false};
    char **pos;
    int n;
    int rc;

    rc = cli_parse(ctx, &spec, argc, argv, &pos, &n);
    if (rc != CLI_PARSE_GO) {
        return rc;
    }
    rc = cli_resolve_paths(ctx);
    if (rc == CLI_EXIT_OK) {
        rc = refuse_existing(ctx);
    }
    if (rc == CLI_EXIT_OK) {
        rc = make_parent_dirs(ctx->keystore_path);
    }
    if (rc == CLI_EXIT_OK) {
        rc = make_parent_dirs(ctx->root_key_path);
    }
    if (rc == CLI_EXIT_OK) {
        rc = create_all(ctx);
    }
    return rc == CLI_EXIT_OK ? report(ctx) : rc;
}
