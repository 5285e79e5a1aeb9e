#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_util.h"
#include "sealflow/secret.h"

/* An environment variable, with "" treated as unset. */
static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* malloc'd "a/b" (or "a" + "b" when sep is ""); NULL when out of memory.
 */
static char *join(const char *a, const char *sep, const char *b)
{
    size_t len = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *p = malloc(len);

    if (p != NULL) {
        snprintf(p, len, "%s%s%s", a, sep, b);
    }
    return p;
}

/* The sealflow home from the library's rule ($SEALFLOW_HOME, else
 * $XDG_DATA_HOME/sealflow, else ~/.local/share/sealflow); NULL when none
 * of these variables is set. */
static char *default_home(void)
{
    struct sf_buf dir = SF_BUF_INIT;
    char *p = NULL;

    if (sf_keystore_default_path(&dir) == SF_OK &&
        sf_buf_terminate(&dir) == SF_OK) {
        p = join((const char *)dir.data, "", "");
    }
    sf_buf_free(&dir);
    sf_clear_error();
    return p;
}

/* malloc'd directory part of path ("." when there is none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len;
    char *p;

    if (slash == NULL) {
        return join(".", "", "");
    }
    len = slash == path ? 1 : (size_t)(slash - path);
    p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, path, len);
        p[len] = '\0';
    }
    return p;
}

static int resolve_keystore(struct cli_ctx *ctx)
{
    const char *v = ctx->keystore_opt;
    char *home;

    if (v == NULL) {
        v = env("SEALFLOW_KEYSTORE");
    }
    if (v != NULL) {
        ctx->keystore_path = join(v, "", "");
        return ctx->keystore_path != NULL ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    home = default_home();
    if (home == NULL) {
        cli_error(CLI_EXIT_KEYSTORE, "no keystore location: HOME, "
                  "SEALFLOW_HOME and SEALFLOW_KEYSTORE are all unset");
        cli_hint("set SEALFLOW_HOME or pass --keystore PATH");
        return CLI_EXIT_KEYSTORE;
    }
    ctx->keystore_path = join(home, "/", "keystore.db");
    free(home);
    return ctx->keystore_path != NULL ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cli_resolve_paths(struct cli_ctx *ctx)
{
    const char *v = ctx->root_key_opt;
    char *dir;
    int rc;

    if (ctx->keystore_path != NULL) {
        return CLI_EXIT_OK;
    }
    rc = resolve_keystore(ctx);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (v == NULL) {
        v = env("SEALFLOW_ROOT_KEY");
    }
    if (v != NULL) {
        ctx->root_key_path = join(v, "", "");
    } else {
        dir = dir_of(ctx->keystore_path);
        ctx->root_key_path = dir != NULL ? join(dir, "/", "root.key") : NULL;
        free(dir);
    }
    if (ctx->root_key_path == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    return CLI_EXIT_OK;
}

bool cli_keystore_exists(struct cli_ctx *ctx)
{
    struct stat st;

    if (cli_resolve_paths(ctx) != CLI_EXIT_OK) {
        return false;
    }
    return stat(ctx->keystore_path, &st) == 0;
}

/* Explains a keystore that is not there, with the command that makes one.
 */
static int missing_keystore(struct cli_ctx *ctx)
{
    cli_error(CLI_EXIT_KEYSTORE, "no keystore at %s", ctx->keystore_path);
    cli_hint("run 'sealflow init' first, or point --keystore, "
             "SEALFLOW_KEYSTORE or SEALFLOW_HOME at an existing keystore");
    return CLI_EXIT_KEYSTORE;
}

/* The root key lives only as long as the open call: the keystore handle
 * keeps what it derives from it, never the root key itself. */
int cli_keystore_open(struct cli_ctx *ctx)
{
    struct sf_secret *root = NULL;
    sf_status rc;
    int code;

    if (ctx->ks != NULL) {
        return CLI_EXIT_OK;
    }
    code = cli_resolve_paths(ctx);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (access(ctx->keystore_path, F_OK) != 0 && errno == ENOENT) {
        return missing_keystore(ctx);
    }
    sf_clear_error();
    rc = sf_root_key_load(ctx->root_key_path, &root);
    if (rc != SF_OK) {
        code = cli_fail(rc, "cannot load root key %s", ctx->root_key_path);
        cli_hint("pass --root-key PATH or set SEALFLOW_ROOT_KEY to the "
                 "root key this keystore was created with");
        return CLI_EXIT_KEYSTORE;
    }
    rc = sf_keystore_open(ctx->keystore_path, root, &ctx->ks);
    sf_secret_free(root);
    if (rc != SF_OK) {
        ctx->ks = NULL;
        code = cli_fail(rc, "cannot open keystore %s", ctx->keystore_path);
        if (rc == SF_ERR_ROOT_KEY) {
            cli_hint("the root key %s does not belong to this keystore",
                     ctx->root_key_path);
        }
        return code == CLI_EXIT_IO ? CLI_EXIT_KEYSTORE : code;
    }
    return CLI_EXIT_OK;
}

void cli_ctx_free(struct cli_ctx *ctx)
{
    if (ctx->ks != NULL) {
        sf_keystore_close(ctx->ks);
        ctx->ks = NULL;
    }
    free(ctx->keystore_path);
    ctx->keystore_path = NULL;
    free(ctx->root_key_path);
    ctx->root_key_path = NULL;
}
