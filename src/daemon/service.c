/*
 * The service's life: open the keystore, tokens and audit log, serve,
 * react to signals, drain and close.
 *
 * Signals are blocked in every thread (the mask is set before the first
 * thread starts) and taken synchronously here with sigwait(), so no
 * handler ever runs inside a request: SIGHUP reloads the token file,
 * SIGTERM and SIGINT drain and exit.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "handlers.h"
#include "server.h"
#include "service.h"

#define DRAIN_TIMEOUT_S 10

void sfd_block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Opens the keystore and the token file named by the config. */
static sf_status open_stores(struct sfd_server *srv,
                             struct sf_secret **root, char *err,
                             size_t err_max)
{
    const struct sfd_config *cfg = srv->cfg;
    sf_status rc;

    rc = sf_root_key_load(cfg->root_key, root);
    if (rc == SF_OK) {
        rc = sf_keystore_open(cfg->keystore, *root, &srv->ks);
    }
    if (rc == SF_OK) {
        rc = sf_token_store_open(cfg->tokens_file, &srv->tokens);
    }
    if (rc != SF_OK) {
        snprintf(err, err_max, "%s", sf_last_error()[0] != '\0'
                                         ? sf_last_error()
                                         : sf_status_str(rc));
    }
    return rc;
}

/* Opens the audit log with a key derived from the root key. */
static sf_status open_audit(struct sfd_server *srv,
                            const struct sf_secret *root, char *err,
                            size_t err_max)
{
    const struct sfd_config *cfg = srv->cfg;
    struct sf_audit_options opt = {
        (uint32_t)cfg->audit_checkpoint_every,
        (uint32_t)cfg->audit_checkpoint_interval_s, false};
    struct sf_secret *key = NULL;
    sf_status rc;

    rc = sf_audit_key_derive(root, &key);
    if (rc == SF_OK) {
        rc = sf_audit_open(cfg->audit_log, key, &opt, &srv->audit);
    }
    sf_secret_free(key);
    if (rc != SF_OK) {
        snprintf(err, err_max, "audit log: %s", sf_last_error());
    }
    return rc;
}

static void close_server(struct sfd_server *srv)
{
    sf_audit_close(srv->audit);
    sf_token_store_close(srv->tokens);
    sf_keystore_close(srv->ks);
    sfd_metrics_free(srv->metrics);
    memset(srv, 0, sizeof *srv);
}

sf_status sfd_server_open(struct sfd_server *srv,
                          const struct sfd_config *cfg, char *err,
                          size_t err_max)
{
    struct sf_secret *root = NULL;
    sf_status rc;

    memset(srv, 0, sizeof *srv);
    srv->cfg = cfg;
    srv->started = time(NULL);
    sfd_uuid(srv->cluster_id);
    srv->metrics = sfd_metrics_new();
    rc = srv->metrics == NULL ? SF_ERR_NOMEM : SF_OK;
    if (rc == SF_OK) {
        rc = open_stores(srv, &root, err, err_max);
    }
    if (rc == SF_OK) {
        rc = open_audit(srv, root, err, err_max);
    }
    sf_secret_free(root);
    if (rc != SF_OK) {
        close_server(srv);
    }
    return rc;
}

/* Raises the soft limit on open files towards the hard one when
 * connection_limit needs more than it allows (often 1024); connections
 * are polled with epoll, which has no descriptor ceiling of its own. */
static void raise_fd_limit(const struct sfd_config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->connection_limit + 256;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want
                      ? rl.rlim_max
                      : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
        sfd_log(SF_LOG_WARN, "fd_limit", "wanted=%llu reason=\"the open "
                "file limit is below connection_limit; connections beyond "
                "it are refused\"", (unsigned long long)want);
    }
}

/* Waits for signals until asked to stop. */
static void signal_loop(struct sfd_server *srv)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP) {
            sfd_log(SF_LOG_INFO, "stopping", "signal=%d", sig);
            return;
        }
        if (sf_token_store_reload(srv->tokens) == SF_OK) {
            sfd_log(SF_LOG_INFO, "tokens_reloaded", "count=%zu",
                    sf_token_store_count(srv->tokens));
        } else {
            sfd_log(SF_LOG_ERROR, "tokens_reload_failed",
                    "reason=\"kept the tokens loaded before\"");
        }
    }
}

int sfd_serve(const struct sfd_config *cfg, const struct sfd_banner *banner)
{
    struct sfd_server srv;
    struct sfd_http_server *hs = NULL;
    char err[512];

    raise_fd_limit(cfg);
    if (sfd_server_open(&srv, cfg, err, sizeof err) != SF_OK) {
        fprintf(stderr, "sealflowd: %s\n", err);
        return 1;
    }
    if (sfd_http_start(&srv, &hs, err, sizeof err) != SF_OK) {
        fprintf(stderr, "sealflowd: %s\n", err);
        close_server(&srv);
        return 1;
    }
    sfd_announce(cfg, sfd_http_port(hs), banner);
    signal_loop(&srv);
    sfd_http_stop(hs, DRAIN_TIMEOUT_S);
    close_server(&srv);
    sfd_log(SF_LOG_INFO, "stopped", "%s", "");
    return 0;
}
