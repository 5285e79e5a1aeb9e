/*
 * sys/health, sys/mounts, sys/metrics and auth/token/lookup-self, in the
 * shapes Vault clients expect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"

void sfd_sys_health(struct sfd_req *rq, struct sfd_reply *r)
{
    char version[64];

    snprintf(version, sizeof version, "sealflowd %s", sf_version());
    r->body = json_pack(
        "{s:b, s:b, s:b, s:b, s:s, s:s, s:I, s:s, s:s, s:s}", "initialized",
        1, "sealed", 0, "standby", 0, "performance_standby", 0,
        "replication_performance_mode", "disabled", "replication_dr_mode",
        "disabled", "server_time_utc", (json_int_t)time(NULL), "version",
        version, "cluster_name", "sealflow", "cluster_id",
        rq->srv->cluster_id);
    r->status = r->body != NULL ? 200 : 500;
}

/* The description of the one transit mount. */
static json_t *mount_entry(struct sfd_req *rq)
{
    char accessor[32];

    snprintf(accessor, sizeof accessor, "transit_%.8s", rq->srv->cluster_id);
    return json_pack("{s:s, s:{s:i, s:b, s:i}, s:s, s:b, s:b, s:n, s:b,"
                     " s:s, s:s}",
                     "accessor", accessor, "config", "default_lease_ttl", 0,
                     "force_no_cache", 0, "max_lease_ttl", 0, "description",
                     "sealflow transit engine", "external_entropy_access",
                     0, "local", 0, "options", "seal_wrap", 0, "type",
                     "transit", "uuid", rq->srv->cluster_id);
}

void sfd_sys_mounts(struct sfd_req *rq, struct sfd_reply *r)
{
    char path[SFD_PATH_MAX + 2];
    json_t *entry = mount_entry(rq);

    /* Vault puts the mounts both at the top level and under "data". */
    snprintf(path, sizeof path, "%s/", rq->srv->cfg->mount);
    r->body = json_pack("{s:O, s:s, s:s, s:b, s:i, s:{s:O}, s:n, s:n, s:n}",
                        path, entry, "request_id", rq->request_id,
                        "lease_id", "", "renewable", 0, "lease_duration", 0,
                        "data", path, entry, "wrap_info", "warnings",
                        "auth");
    json_decref(entry);
    r->status = r->body != NULL ? 200 : 500;
}

void sfd_sys_mount_enable(struct sfd_req *rq, struct sfd_reply *r)
{
    const char *type = json_string_value(json_object_get(rq->body, "type"));

    if (strcmp(rq->route.mount_path, rq->srv->cfg->mount) != 0 ||
            (type != NULL && strcmp(type, "transit") != 0)) {
        sfd_reply_error(r, 400, "sealflowd serves one transit engine, "
                        "mounted at '%s'; no other mount can be enabled",
                        rq->srv->cfg->mount);
        return;
    }
    /* Already mounted: accepted, so "enable transit" scripts work. */
    sfd_reply_empty(r);
}

void sfd_sys_metrics(struct sfd_req *rq, struct sfd_reply *r)
{
    struct sfd_gauges g = {0, 0, 0, 0};
    struct sf_key_info *keys = NULL;
    const char *format = rq->http->format;

    if (format != NULL && strcmp(format, "prometheus") != 0) {
        sfd_reply_error(r, 400, "only format=prometheus is supported");
        return;
    }
    if (sf_keystore_list(rq->srv->ks, &keys, &g.keys) != SF_OK) {
        g.keys = 0;
    }
    free(keys);
    g.tokens = sf_token_store_count(rq->srv->tokens);
    g.audit_entries = sf_audit_count(rq->srv->audit);
    g.uptime_s = (uint64_t)(time(NULL) - rq->srv->started);
    r->text = sfd_metrics_render(rq->srv->metrics, &g);
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (r->text == NULL) {
        sfd_reply_error(r, 500, "out of memory rendering metrics");
        return;
    }
    r->status = 200;
}

/* The token's rules as policy strings (["root"] for a root token). */
static json_t *policies(const struct sf_token_info *t)
{
    json_t *list = json_array();
    char text[SF_TOKEN_GLOB_MAX + 200];

    if (t->is_root) {
        json_array_append_new(list, json_string("root"));
        return list;
    }
    for (size_t i = 0; list != NULL && i < t->rule_count; i++) {
        if (sf_token_rule_format(&t->rules[i], text, sizeof text) == SF_OK) {
            json_array_append_new(list, json_string(text));
        }
    }
    return list;
}

void sfd_lookup_self(struct sfd_req *rq, struct sfd_reply *r)
{
    const struct sf_token_info *t = &rq->token;
    time_t created = (time_t)t->created_at;
    char issued[32];
    char display[SF_TOKEN_NAME_MAX + 8];
    struct tm tm;

    gmtime_r(&created, &tm);
    strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(display, sizeof display, "token-%s", t->name);
    sfd_reply_data(r, json_pack(
        "{s:s, s:I, s:i, s:s, s:s, s:n, s:i, s:s, s:s, s:n, s:i, s:b, s:s,"
        " s:o, s:b, s:i, s:s}",
        "accessor", t->accessor, "creation_time", (json_int_t)t->created_at,
        "creation_ttl", 0, "display_name", display, "entity_id", "",
        "expire_time", "explicit_max_ttl", 0, "id", rq->http->token,
        "issue_time", issued, "meta", "num_uses", 0, "orphan", 1, "path",
        "auth/token/create", "policies", policies(t), "renewable", 0, "ttl",
        0, "type", "service"));
}
