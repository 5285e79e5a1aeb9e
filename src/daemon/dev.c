/*
 * New installations: "sealflowd init" and "sealflowd --dev".
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"

/* Copies the library's explanation of rc into err. */
static sf_status explain(sf_status rc, const char *what, char *err,
                         size_t err_max)
{
    const char *why = sf_last_error();

    snprintf(err, err_max, "%s: %s", what,
             why[0] != '\0' ? why : sf_status_str(rc));
    return rc;
}

/* Loads the root key file, or creates it when there is none. */
static sf_status root_key(const char *path, struct sf_secret **out,
                          char *err, size_t err_max)
{
    struct stat st;
    sf_status rc;

    if (stat(path, &st) == 0) {
        rc = sf_root_key_load(path, out);
    } else {
        rc = sf_root_key_create(path, out);
    }
    return rc == SF_OK ? rc : explain(rc, "root key", err, err_max);
}

sf_status sfd_bootstrap(const struct sfd_config *cfg, char *token_out,
                        char *err, size_t err_max)
{
    struct sf_secret *root = NULL;
    struct sf_keystore *ks = NULL;
    struct sf_token_store *ts = NULL;
    sf_status rc;

    rc = root_key(cfg->root_key, &root, err, err_max);
    if (rc != SF_OK) {
        goto out;
    }
    rc = sf_keystore_create(cfg->keystore, root, &ks);
    if (rc != SF_OK) {
        explain(rc, "keystore", err, err_max);
        goto out;
    }
    rc = sf_token_store_open(cfg->tokens_file, &ts);
    if (rc == SF_OK) {
        rc = sf_token_create(ts, "root", true, NULL, 0, token_out,
                             SF_TOKEN_LEN + 1, NULL);
    }
    if (rc != SF_OK) {
        explain(rc, "token file", err, err_max);
    }

out:
    sf_token_store_close(ts);
    sf_keystore_close(ks);
    sf_secret_free(root);
    return rc;
}

/* Points every unset path of cfg into dir. */
static sf_status dev_paths(struct sfd_config *cfg, const char *dir,
                           char *err, size_t err_max)
{
    struct {
        char *field;
        const char *file;
    } paths[] = {
        {cfg->keystore, "keystore.db"},
        {cfg->root_key, "root.key"},
        {cfg->audit_log, "audit.log"},
        {cfg->tokens_file, "keystore.db.tokens"},
    };

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (paths[i].field[0] != '\0') {
            continue;
        }
        if (snprintf(paths[i].field, SFD_PATH_MAX, "%s/%s", dir,
                     paths[i].file) >= SFD_PATH_MAX) {
            snprintf(err, err_max, "dev folder path too long");
            return SF_ERR_FORMAT;
        }
    }
    return SF_OK;
}

sf_status sfd_dev_setup(struct sfd_config *cfg, const char *dir,
                        char *dir_out, size_t dir_max, char *token_out,
                        char *err, size_t err_max)
{
    const char *tmp = getenv("TMPDIR");

    if (dir != NULL) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, err_max, "cannot create %s: %s", dir,
                     strerror(errno));
            return SF_ERR_IO;
        }
        snprintf(dir_out, dir_max, "%s", dir);
    } else {
        snprintf(dir_out, dir_max, "%s/sealflowd-dev-XXXXXX",
                 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
        if (mkdtemp(dir_out) == NULL) {
            snprintf(err, err_max, "cannot create a temporary folder: %s",
                     strerror(errno));
            return SF_ERR_IO;
        }
    }
    if (dev_paths(cfg, dir_out, err, err_max) != SF_OK) {
        return SF_ERR_FORMAT;
    }
    return sfd_bootstrap(cfg, token_out, err, err_max);
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    (void)remove(path);
    return 0;
}

void sfd_dev_cleanup(const char *dir)
{
    if (dir != NULL && dir[0] != '\0') {
        (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* Writes the root token to a file only its owner can read. */
static void write_token_file(const char *path, const char *token)
{
    FILE *f;
    mode_t old = umask(077);

    f = fopen(path, "w");
    umask(old);
    if (f == NULL) {
        fprintf(stderr, "sealflowd: cannot write %s: %s\n", path,
                strerror(errno));
        return;
    }
    fprintf(f, "%s\n", token);
    fclose(f);
}

void sfd_announce(const struct sfd_config *cfg, unsigned port,
                  const struct sfd_banner *b)
{
    char host[SFD_PATH_MAX];
    const char *colon = strrchr(cfg->listen, ':');
    int n = colon == NULL ? 0 : (int)(colon - cfg->listen);
    const char *scheme = cfg->tls_cert[0] != '\0' ? "https" : "http";

    snprintf(host, sizeof host, "%.*s", n, cfg->listen);
    if (b != NULL && b->is_dev) {
        printf("sealflowd is running in dev mode: a throwaway keystore in "
               "%s\nNever use dev mode in production.\n\n", b->dir);
        printf("Address:    %s://%s:%u\n", scheme, host, port);
        printf("Root Token: %s\n", b->root_token);
        printf("Audit log:  %s\n\n", cfg->audit_log);
        printf("The root token is shown only once.\n");
        if (b->token_file != NULL) {
            write_token_file(b->token_file, b->root_token);
        }
    } else {
        printf("Address: %s://%s:%u\n", scheme, host, port);
    }
    fflush(stdout);
    fprintf(stderr, "level=info event=listening address=%s://%s:%u\n",
            scheme, host, port);
}
