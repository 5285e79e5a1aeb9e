#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cli_util.h"
#include "cmd.h"
#include "sealflow/keystore.h"

enum {
    OPT_TYPE,
    OPT_VERSION,
    OPT_MIN_DEC,
    OPT_MIN_ENC,
    OPT_DELETION,
    OPT_ROTATION
};

/* Options of every keys subcommand; each table lists the ones it takes. */
struct keys_state {
    const char *cmd;
    enum sf_key_type type;
    uint32_t version;
    struct sf_key_config cfg;
};

static const struct cli_opt create_opts[] = {
    {"type", 't', true, OPT_TYPE},
    {NULL, 0, false, 0},
};

static const struct cli_opt export_opts[] = {
    {"version", 0, true, OPT_VERSION},
    {NULL, 0, false, 0},
};

static const struct cli_opt config_opts[] = {
    {"min-decryption-version", 0, true, OPT_MIN_DEC},
    {"min-encryption-version", 0, true, OPT_MIN_ENC},
    {"deletion-allowed", 0, true, OPT_DELETION},
    {"rotation-period", 0, true, OPT_ROTATION},
    {NULL, 0, false, 0},
};

static int parse_version(const char *cmd, const char *opt, const char *arg,
                         uint64_t min, uint32_t *out)
{
    uint64_t v;

    if (!cli_parse_u64(arg, min, UINT32_MAX, &v)) {
        return cli_usage(cmd, "--%s wants a whole number from %" PRIu64
                         ", not '%s'", opt, min, arg);
    }
    *out = (uint32_t)v;
    return CLI_EXIT_OK;
}

static int parse_bool(const char *cmd, const char *arg, bool *out)
{
    if (strcmp(arg, "true") == 0) {
        *out = true;
    } else if (strcmp(arg, "false") == 0) {
        *out = false;
    } else {
        return cli_usage(cmd, "--deletion-allowed wants true or false, not "
                         "'%s'", arg);
    }
    return CLI_EXIT_OK;
}

static int parse_type(const char *cmd, const char *arg,
                      enum sf_key_type *out)
{
    sf_status rc;

    sf_clear_error();
    rc = sf_key_type_parse(arg, out);
    if (rc != SF_OK) {
        cli_fail(rc, "%s", cmd);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int on_opt(void *state, int id, const char *arg)
{
    struct keys_state *st = state;
    struct sf_key_config *c = &st->cfg;

    switch (id) {
    case OPT_TYPE:
        return parse_type(st->cmd, arg, &st->type);
    case OPT_VERSION:
        return parse_version(st->cmd, "version", arg, 1, &st->version);
    case OPT_MIN_DEC:
        c->has_min_decryption_version = true;
        return parse_version(st->cmd, "min-decryption-version", arg, 1,
                             &c->min_decryption_version);
    case OPT_MIN_ENC:
        c->has_min_encryption_version = true;
        return parse_version(st->cmd, "min-encryption-version", arg, 0,
                             &c->min_encryption_version);
    case OPT_DELETION:
        c->has_deletion_allowed = true;
        return parse_bool(st->cmd, arg, &c->deletion_allowed);
    default:
        c->has_rotation_period = true;
        if (!cli_parse_duration(arg, &c->rotation_period_s)) {
            return cli_usage(st->cmd, "--rotation-period wants a duration "
                             "like 90d, 12h, 30m or 0, not '%s'", arg);
        }
        return CLI_EXIT_OK;
    }
}

/*
 * Parses a keys subcommand that takes one NAME (or none for list), checks
 * the name's grammar and opens the keystore. CLI_PARSE_GO to go on, else
 * the exit code to return (0 after --help).
 */
static int keys_begin(struct cli_ctx *ctx, struct cli_spec *spec,
                      struct keys_state *st, int argc, char **argv,
                      const char **name)
{
    char **pos;
    int n;
    int rc;
    sf_status s;

    st->cmd = spec->cmd;
    st->type = SF_KEY_AES256_GCM96;
    spec->on_opt = on_opt;
    spec->state = st;
    rc = cli_parse(ctx, spec, argc, argv, &pos, &n);
    if (rc != CLI_PARSE_GO) {
        return rc;
    }
    *name = n > 0 ? pos[0] : NULL;
    if (*name != NULL) {
        sf_clear_error();
        s = sf_key_name_check(*name);
        if (s != SF_OK) {
            return cli_fail(s, "key '%s'", *name);
        }
    }
    rc = cli_keystore_open(ctx);
    return rc == CLI_EXIT_OK ? CLI_PARSE_GO : rc;
}

/* Fails with the library's reason and, where it helps, a fix. */
static int key_fail(sf_status rc, const char *what, const char *name)
{
    int code = cli_fail(rc, "%s '%s'", what, name);

    if (rc == SF_ERR_KEY_NOT_FOUND) {
        cli_hint("'sealflow keys list' shows the keys in this keystore");
    } else if (rc == SF_ERR_KEY_EXISTS) {
        cli_hint("pick another name, or rotate the key to get a new "
                 "version: sealflow keys rotate %s", name);
    }
    return code;
}

static bool rotation_overdue(const struct sf_key_info *k, int64_t now)
{
    return k->rotation_period_s > 0 && now > k->latest_created_at &&
           (uint64_t)(now - k->latest_created_at) >= k->rotation_period_s;
}

static uint32_t effective_min_enc(const struct sf_key_info *k)
{
    return k->min_encryption_version == 0 ? k->latest_version
                                          : k->min_encryption_version;
}

/* The JSON object of one key; with vs (nv entries from
 * sf_keystore_versions) it adds one entry per version. */
static json_t *key_json(const struct sf_key_info *k,
                        const struct sf_key_version_info *vs, size_t nv)
{
    int64_t now = (int64_t)time(NULL);
    char created[32];
    char latest[32];
    char period[64];
    json_t *o;

    cli_format_time(k->created_at, created, sizeof created);
    cli_format_time(k->latest_created_at, latest, sizeof latest);
    cli_format_duration(k->rotation_period_s, period, sizeof period);
    o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:s, s:s, s:s,"
                  " s:I, s:b}",
                  "name", k->name, "type", sf_key_type_name(k->type),
                  "latest_version", (json_int_t)k->latest_version,
                  "min_available_version",
                  (json_int_t)k->min_available_version,
                  "min_decryption_version",
                  (json_int_t)k->min_decryption_version,
                  "min_encryption_version",
                  (json_int_t)k->min_encryption_version,
                  "deletion_allowed", k->deletion_allowed,
                  "rotation_period_s", (json_int_t)k->rotation_period_s,
                  "rotation_period", period, "created_at", created,
                  "latest_created_at", latest, "latest_age_s",
                  (json_int_t)(now - k->latest_created_at),
                  "rotation_overdue", rotation_overdue(k, now));
    if (o != NULL && vs != NULL) {
        json_t *arr = json_array();
        size_t i;

        for (i = 0; arr != NULL && i < nv; i++) {
            uint32_t v = vs[i].version;
            char at[32];

            cli_format_time(vs[i].created_at, at, sizeof at);
            json_array_append_new(arr, json_pack(
                "{s:I, s:s, s:I, s:b, s:b}", "version", (json_int_t)v,
                "created_at", at, "created_at_s",
                (json_int_t)vs[i].created_at, "decrypt",
                v >= k->min_decryption_version, "encrypt",
                v >= effective_min_enc(k)));
        }
        json_object_set_new(o, "versions", arr);
    }
    return o;
}

/* Prints a key as JSON with every version and its creation time. */
static int print_key_json(struct cli_ctx *ctx, const struct sf_key_info *k)
{
    struct sf_key_version_info *vs = NULL;
    size_t nv = 0;
    sf_status rc;
    int code;

    sf_clear_error();
    rc = sf_keystore_versions(ctx->ks, k->name, &vs, &nv);
    if (rc != SF_OK) {
        return key_fail(rc, "cannot read the versions of key", k->name);
    }
    code = cli_json_print(key_json(k, vs, nv));
    free(vs);
    return code;
}

static const char create_help[] =
    "Usage: sealflow keys create NAME [--type TYPE]\n"
    "\n"
    "Creates version 1 of a new key in the keystore. TYPE is one of\n"
    "aes256-gcm96 (the default), chacha20-poly1305, x25519, rsa-3072 and\n"
    "rsa-4096. Names are 1 to 128 bytes: ASCII letters, digits, '-', '_',\n"
    "'.', '@', '/' and non-ASCII letters; not '.' or '..', no '//', no\n"
    "leading or trailing '/'.\n"
    "\n"
    "Options:\n"
    "  -t, --type TYPE   key type (default aes256-gcm96)\n"
    "  --json            print the new key as JSON\n"
    "\n"
    "Example:\n"
    "  sealflow keys create orders\n"
    "  sealflow keys create partners/acme --type x25519\n";

static int keys_create(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys create", create_help, create_opts, NULL,
                            NULL, 1, 1, true, false};
    struct keys_state st = {0};
    struct sf_key_info info;
    const char *name;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    rc = sf_keystore_create_key(ctx->ks, name, st.type, &info);
    if (rc != SF_OK) {
        return key_fail(rc, "cannot create key", name);
    }
    if (ctx->json) {
        return print_key_json(ctx, &info);
    }
    cli_note("created key %s (%s), version %" PRIu32, info.name,
             sf_key_type_name(info.type), info.latest_version);
    return CLI_EXIT_OK;
}

static const char list_help[] =
    "Usage: sealflow keys list [--json]\n"
    "\n"
    "Lists the keys in the keystore in name order: type, newest version,\n"
    "minimum decryption version and rotation period.\n";

static void print_list(const struct sf_key_info *keys, size_t n)
{
    int w = 4;
    size_t i;

    for (i = 0; i < n; i++) {
        int len = (int)strlen(keys[i].name);
        w = len > w ? len : w;
    }
    printf("%-*s  %-17s  %6s  %11s  %s\n", w, "NAME", "TYPE", "LATEST",
           "MIN-DECRYPT", "ROTATION");
    for (i = 0; i < n; i++) {
        char period[64] = "-";

        if (keys[i].rotation_period_s > 0) {
            cli_format_duration(keys[i].rotation_period_s, period,
                                sizeof period);
        }
        printf("%-*s  %-17s  %6" PRIu32 "  %11" PRIu32 "  %s\n", w,
               keys[i].name, sf_key_type_name(keys[i].type),
               keys[i].latest_version, keys[i].min_decryption_version,
               period);
    }
}

static int keys_list(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys list", list_help, NULL, NULL, NULL, 0, 0,
                            true, false};
    struct keys_state st = {0};
    struct sf_key_info *keys = NULL;
    const char *name;
    size_t n = 0;
    size_t i;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    rc = sf_keystore_list(ctx->ks, &keys, &n);
    if (rc != SF_OK) {
        return cli_fail(rc, "cannot list keys in %s", ctx->keystore_path);
    }
    if (ctx->json) {
        json_t *arr = json_array();
        for (i = 0; arr != NULL && i < n; i++) {
            json_array_append_new(arr, key_json(&keys[i], NULL, 0));
        }
        code = cli_json_print(json_pack("{s:o?}", "keys", arr));
    } else if (n > 0) {
        print_list(keys, n);
    }
    free(keys);
    return code;
}

static const char show_help[] =
    "Usage: sealflow keys show NAME [--json]\n"
    "\n"
    "Shows a key: type, every version with its creation time and what it\n"
    "may still do, minimum decryption and encryption versions, whether\n"
    "deletion is allowed, the rotation period, the age of the newest\n"
    "version and whether rotation is overdue.\n";

static void print_versions(const struct sf_key_info *k,
                           const struct sf_key_version_info *vs, size_t nv)
{
    char at[32];
    size_t i;

    printf("versions:\n");
    for (i = 0; i < nv; i++) {
        uint32_t v = vs[i].version;
        const char *use = v < k->min_decryption_version ? "retired"
                          : v < effective_min_enc(k) ? "decrypt only"
                          : "encrypt and decrypt";

        cli_format_time(vs[i].created_at, at, sizeof at);
        printf("  %-6" PRIu32 " %-20s created %s\n", v, use, at);
    }
}

static void print_show(const struct sf_key_info *k,
                       const struct sf_key_version_info *vs, size_t nv)
{
    int64_t now = (int64_t)time(NULL);
    char period[64] = "none";
    char age[64];

    if (k->rotation_period_s > 0) {
        cli_format_duration(k->rotation_period_s, period, sizeof period);
    }
    cli_format_duration(now > k->latest_created_at
                            ? (uint64_t)(now - k->latest_created_at) : 0,
                        age, sizeof age);
    printf("name:                    %s\n", k->name);
    printf("type:                    %s\n", sf_key_type_name(k->type));
    printf("latest version:          %" PRIu32 "\n", k->latest_version);
    printf("min decryption version:  %" PRIu32 "\n",
           k->min_decryption_version);
    printf("min encryption version:  %" PRIu32 "%s\n",
           k->min_encryption_version,
           k->min_encryption_version == 0 ? " (latest)" : "");
    printf("deletion allowed:        %s\n",
           k->deletion_allowed ? "true" : "false");
    printf("rotation period:         %s\n", period);
    printf("newest version age:      %s\n", age);
    printf("rotation overdue:        %s\n",
           rotation_overdue(k, now) ? "yes" : "no");
    print_versions(k, vs, nv);
}

static int keys_show(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys show", show_help, NULL, NULL, NULL, 1, 1,
                            true, false};
    struct keys_state st = {0};
    struct sf_key_version_info *vs = NULL;
    struct sf_key_info info;
    const char *name;
    size_t nv = 0;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    rc = sf_keystore_key_info(ctx->ks, name, &info);
    if (rc != SF_OK) {
        return key_fail(rc, "cannot show key", name);
    }
    if (ctx->json) {
        return print_key_json(ctx, &info);
    }
    rc = sf_keystore_versions(ctx->ks, name, &vs, &nv);
    if (rc != SF_OK) {
        return key_fail(rc, "cannot read the versions of key", name);
    }
    print_show(&info, vs, nv);
    free(vs);
    return CLI_EXIT_OK;
}

static const char rotate_help[] =
    "Usage: sealflow keys rotate NAME [--json]\n"
    "\n"
    "Adds a new version to a key. New data is sealed under the newest\n"
    "version; existing files keep naming the version they were sealed\n"
    "with until 'sealflow rewrap' moves them.\n";

static int keys_rotate(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys rotate", rotate_help, NULL, NULL, NULL,
                            1, 1, true, false};
    struct keys_state st = {0};
    struct sf_key_info info;
    const char *name;
    uint32_t v = 0;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    rc = sf_keystore_rotate(ctx->ks, name, &v);
    if (rc == SF_OK) {
        rc = sf_keystore_key_info(ctx->ks, name, &info);
    }
    if (rc != SF_OK) {
        return key_fail(rc, "cannot rotate key", name);
    }
    if (ctx->json) {
        return print_key_json(ctx, &info);
    }
    cli_note("rotated key %s to version %" PRIu32, name, v);
    cli_hint("move existing files to it with: sealflow rewrap -k %s FILE...",
             name);
    return CLI_EXIT_OK;
}

static const char config_help[] =
    "Usage: sealflow keys config NAME [OPTIONS]\n"
    "\n"
    "Changes a key's configuration. The result must keep\n"
    "1 <= min-decryption-version <= min-encryption-version <= latest,\n"
    "where a min-encryption-version of 0 means the latest version.\n"
    "Versions below min-decryption-version are retired: data still\n"
    "wrapped by them cannot be opened until the minimum is lowered again.\n"
    "\n"
    "Options:\n"
    "  --min-decryption-version N   oldest version that may decrypt\n"
    "  --min-encryption-version N   oldest version that may encrypt\n"
    "                               (0: latest only)\n"
    "  --deletion-allowed true|false   allow 'sealflow keys delete'\n"
    "  --rotation-period DURATION   rotate when the newest version is\n"
    "                               older, e.g. 90d, 12h, 30m, 1d12h;\n"
    "                               0 disables\n"
    "  --json                       print the key as JSON afterwards\n"
    "\n"
    "Example:\n"
    "  sealflow keys config orders --min-decryption-version 2 "
    "--rotation-period 90d\n";

static int config_fail(struct cli_ctx *ctx, sf_status rc, const char *name)
{
    struct sf_key_info info;
    int code = key_fail(rc, "cannot configure key", name);

    if (rc == SF_ERR_KEY_CONFIG &&
        sf_keystore_key_info(ctx->ks, name, &info) == SF_OK) {
        cli_hint("keep 1 <= min-decryption-version <= "
                 "min-encryption-version (0 = latest) <= latest version "
                 "(%" PRIu32 " for %s)", info.latest_version, name);
    }
    sf_clear_error();
    return code;
}

static int keys_config(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys config", config_help, config_opts, NULL,
                            NULL, 1, 1, true, false};
    struct keys_state st = {0};
    struct sf_key_config *c = &st.cfg;
    struct sf_key_info info;
    const char *name;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    if (!c->has_min_decryption_version && !c->has_min_encryption_version &&
        !c->has_deletion_allowed && !c->has_rotation_period) {
        return cli_usage(spec.cmd, "nothing to change: give at least one "
                         "option");
    }
    rc = sf_keystore_config(ctx->ks, name, c, &info);
    if (rc != SF_OK) {
        return config_fail(ctx, rc, name);
    }
    if (ctx->json) {
        return print_key_json(ctx, &info);
    }
    cli_note("updated key %s", name);
    return CLI_EXIT_OK;
}

static const char delete_help[] =
    "Usage: sealflow keys delete NAME\n"
    "\n"
    "Deletes every version of a key. Data wrapped only by this key can\n"
    "never be opened again, so deletion is refused until it is allowed:\n"
    "  sealflow keys config NAME --deletion-allowed true\n";

static int keys_delete(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys delete", delete_help, NULL, NULL, NULL,
                            1, 1, false, false};
    struct keys_state st = {0};
    const char *name;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    rc = sf_keystore_delete(ctx->ks, name);
    if (rc != SF_OK) {
        code = key_fail(rc, "cannot delete key", name);
        if (rc == SF_ERR_KEY_CONFIG) {
            cli_hint("allow it first: sealflow keys config %s "
                     "--deletion-allowed true", name);
        }
        return code;
    }
    cli_note("deleted key %s", name);
    return CLI_EXIT_OK;
}

static const char export_help[] =
    "Usage: sealflow keys export-public NAME [--version N]\n"
    "\n"
    "Prints the public key of an x25519 or RSA key on stdout: a\n"
    "\"sealflow-x25519:...\" recipient string or an RSA public key in PEM.\n"
    "Give it to partners, who pass it to 'sealflow encrypt -r'.\n"
    "\n"
    "Options:\n"
    "  --version N   that version instead of the newest\n";

static int keys_export_public(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"keys export-public", export_help, export_opts,
                            NULL, NULL, 1, 1, false, false};
    struct keys_state st = {0};
    struct sf_buf pub = SF_BUF_INIT;
    const char *name;
    sf_status rc;
    int code;

    code = keys_begin(ctx, &spec, &st, argc, argv, &name);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = CLI_EXIT_OK;
    rc = sf_keystore_public_key(ctx->ks, name, st.version, &pub);
    if (rc != SF_OK) {
        code = key_fail(rc, "cannot export the public key of", name);
        if (rc == SF_ERR_KEY_TYPE) {
            cli_hint("only x25519 and rsa keys have a public key");
        }
        goto out;
    }
    if (fwrite(pub.data, 1, pub.len, stdout) != pub.len ||
        (pub.len > 0 && pub.data[pub.len - 1] != '\n' &&
         fputc('\n', stdout) == EOF)) {
        code = cli_error(CLI_EXIT_IO, "writing to stdout failed");
    }

out:
    sf_buf_free(&pub);
    return code;
}

static const char keys_help[] =
    "Usage: sealflow keys COMMAND [OPTIONS] [NAME]\n"
    "\n"
    "Manages the named, typed, versioned keys of the local keystore.\n"
    "'sealflow keys COMMAND --help' describes each command.\n";

static const struct cli_cmd keys_cmds[] = {
    {"create", keys_create, "create a key (version 1)"},
    {"list", keys_list, "list the keys"},
    {"show", keys_show, "show a key's versions and configuration"},
    {"rotate", keys_rotate, "add a new version to a key"},
    {"config", keys_config, "change version limits, deletion, rotation"},
    {"delete", keys_delete, "delete a key whose deletion is allowed"},
    {"export-public", keys_export_public,
     "print the public key of an x25519 or RSA key"},
};

int cmd_keys(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "keys", keys_help, keys_cmds,
                        sizeof keys_cmds / sizeof keys_cmds[0], argc, argv);
}
