/*
 * Flag parsing. Flags are "--name value", "--name=value" or a bare
 * "--switch"; every setting of the config file is also a flag, spelled
 * with '-' for '_'. A table lists the flags that are not settings.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"

enum flag_id {
    F_CONFIG, F_DEV, F_DEV_DIR, F_DEV_TOKEN_FILE, F_NAME, F_POLICY, F_ROOT,
    F_NO_KEY, F_HELP
};

struct flag {
    const char *name;
    bool has_value;
    enum flag_id id;
};

static const struct flag flags[] = {
    {"config", true, F_CONFIG},
    {"dev", false, F_DEV},
    {"dev-dir", true, F_DEV_DIR},
    {"dev-token-file", true, F_DEV_TOKEN_FILE},
    {"name", true, F_NAME},
    {"policy", true, F_POLICY},
    {"root", false, F_ROOT},
    {"no-key", false, F_NO_KEY},
    {"help", false, F_HELP},
};

#define FLAG_COUNT (sizeof flags / sizeof flags[0])

/* Records a non-setting flag. */
static bool apply_flag(struct sfd_args *a, enum flag_id id, const char *v,
                       char *err, size_t err_max)
{
    switch (id) {
    case F_CONFIG:
        a->config_path = v;
        break;
    case F_DEV:
        a->is_dev = true;
        break;
    case F_DEV_DIR:
        a->dev_dir = v;
        break;
    case F_DEV_TOKEN_FILE:
        a->dev_token_file = v;
        break;
    case F_NAME:
        a->name = v;
        break;
    case F_POLICY:
        if (a->policy_count >= SFD_ARGS_MAX) {
            snprintf(err, err_max, "too many --policy flags");
            return false;
        }
        a->policies[a->policy_count++] = v;
        break;
    case F_ROOT:
        a->is_root = true;
        break;
    case F_NO_KEY:
        a->is_no_key = true;
        break;
    case F_HELP:
        a->is_help = true;
        break;
    }
    return true;
}

/* Records a setting flag; name is given with '-' and stored with '_'. */
static bool add_setting(struct sfd_args *a, const char *name, size_t len,
                        const char *v, char *err, size_t err_max)
{
    char *buf;

    if (a->set_count >= SFD_ARGS_MAX || len >= sizeof a->set_buf[0]) {
        snprintf(err, err_max, "too many or too long flags");
        return false;
    }
    buf = a->set_buf[a->set_count];
    for (size_t i = 0; i < len; i++) {
        buf[i] = name[i] == '-' ? '_' : name[i];
    }
    buf[len] = '\0';
    if (!sfd_config_has(buf)) {
        snprintf(err, err_max, "unknown flag --%.*s", (int)len, name);
        return false;
    }
    a->set_name[a->set_count] = buf;
    a->set_value[a->set_count] = v;
    a->set_count++;
    return true;
}

/* Parses one "--flag"; *i advances past a separate value. */
static bool parse_one(int argc, char **argv, int *i, struct sfd_args *a,
                      char *err, size_t err_max)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const char *value = eq != NULL ? eq + 1 : NULL;
    bool has_value = true;
    size_t f;

    for (f = 0; f < FLAG_COUNT; f++) {
        if (strlen(flags[f].name) == len &&
                strncmp(flags[f].name, arg, len) == 0) {
            break;
        }
    }
    if (f < FLAG_COUNT) {
        has_value = flags[f].has_value;
    } else {
        char name[48];

        snprintf(name, sizeof name, "%.*s", (int)(len < 47 ? len : 47), arg);
        for (char *p = name; *p != '\0'; p++) {
            *p = *p == '-' ? '_' : *p;
        }
        has_value = !sfd_config_is_switch(name);
        value = !has_value && value == NULL ? "true" : value;
    }
    if (has_value && value == NULL) {
        if (*i + 1 >= argc) {
            snprintf(err, err_max, "--%.*s needs a value", (int)len, arg);
            return false;
        }
        value = argv[++*i];
    }
    if (f < FLAG_COUNT) {
        return apply_flag(a, flags[f].id, value, err, err_max);
    }
    return add_setting(a, arg, len, value, err, err_max);
}

bool sfd_args_parse(int argc, char **argv, int first, struct sfd_args *a,
                    char *err, size_t err_max)
{
    memset(a, 0, sizeof *a);
    for (int i = first; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
            if (!parse_one(argc, argv, &i, a, err, err_max)) {
                return false;
            }
            continue;
        }
        if (a->positional_count >= SFD_ARGS_MAX) {
            snprintf(err, err_max, "too many arguments");
            return false;
        }
        a->positional[a->positional_count++] = argv[i];
    }
    return true;
}

bool sfd_args_config(const struct sfd_args *a, struct sfd_config *cfg,
                     char *err, size_t err_max)
{
    sfd_config_defaults(cfg);
    if (a->config_path != NULL &&
            sfd_config_load(cfg, a->config_path, err, err_max) != SF_OK) {
        return false;
    }
    for (size_t i = 0; i < a->set_count; i++) {
        char why[256];

        if (sfd_config_set(cfg, a->set_name[i], a->set_value[i], why,
                           sizeof why) != SF_OK) {
            snprintf(err, err_max, "--%s: %s", a->set_name[i], why);
            return false;
        }
    }
    return true;
}
