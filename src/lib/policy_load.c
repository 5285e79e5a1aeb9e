/*
 * Loading a policy: the top level and the classes section. Sections are
 * checked in dependency order (version, classes, stages and partners, the
 * classes' readers, default, rules) so each reference can be checked
 * against names already known; docs/POLICY.md describes every key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_internal.h"

#define TMP_ARENA_LIMIT (64u * 1024 * 1024)

size_t sf_policy_class_lookup(const struct sf_policy *p, const char *name)
{
    for (size_t i = 0; i < p->class_count; i++) {
        if (strcmp(p->classes[i].name, name) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

sf_status sf_unknown_class(const struct sf_pctx *c, const struct sf_ynode *n,
                           const char *where)
{
    const struct sf_policy *p = c->pol;
    const char *names[SF_POLICY_CLASS_MAX];
    const char *near;

    for (size_t i = 0; i < p->class_count; i++) {
        names[i] = p->classes[i].name;
    }
    near = sf_nearest(n->value, names, p->class_count);
    if (near != NULL) {
        return sf_pfail_at(c, n, "%s names unknown class '%s'; did you mean "
                           "'%s'?", where, n->value, near);
    }
    return sf_pfail_at(c, n, "%s names unknown class '%s'; define it under "
                       "'classes'", where, n->value);
}

/* Reads a list of distinct names (context keys) into the policy arena. */
static sf_status load_names(struct sf_pctx *c, const struct sf_ynode *list,
                            const char *what, const char *const **out,
                            size_t *count)
{
    const char **names;
    sf_status rc = sf_expect(c, list, SF_YNODE_SEQ, what);

    if (rc != SF_OK) {
        return rc;
    }
    if (list->n > SF_POLICY_LIST_MAX) {
        return sf_pfail_at(c, list, "%s has more than %d entries", what,
                           SF_POLICY_LIST_MAX);
    }
    names = sf_arena_alloc(&c->pol->arena, (list->n + 1) * sizeof *names);
    if (names == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct sf_ynode *n = list->kids[i];

        rc = sf_pval_name(c, n, what);
        for (size_t j = 0; rc == SF_OK && j < i; j++) {
            if (strcmp(names[j], n->value) == 0) {
                rc = sf_pfail_at(c, n, "'%s' is listed twice in %s",
                                 n->value, what);
            }
        }
        if (rc != SF_OK) {
            return rc;
        }
        names[i] = sf_arena_strndup(&c->pol->arena, n->value, n->len);
        if (names[i] == NULL) {
            return SF_ERR_NOMEM;
        }
    }
    *out = names;
    *count = list->n;
    return SF_OK;
}

static sf_status load_keys(struct sf_pctx *c, const struct sf_ynode *list,
                           struct sf_policy_class *k)
{
    struct sf_key_ref *keys;
    sf_status rc = sf_expect(c, list, SF_YNODE_SEQ, "'keys'");

    if (rc != SF_OK) {
        return rc;
    }
    if (list->n > SF_POLICY_KEYS_MAX) {
        return sf_pfail_at(c, list, "class '%s' lists more than %d keys",
                           k->name, SF_POLICY_KEYS_MAX);
    }
    keys = sf_arena_alloc(&c->pol->arena, (list->n + 1) * sizeof *keys);
    if (keys == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        rc = sf_pval_key_ref(c, list->kids[i], &keys[i]);
        for (size_t j = 0; rc == SF_OK && j < i; j++) {
            if (keys[j].kind == keys[i].kind &&
                    strcmp(keys[j].value, keys[i].value) == 0) {
                rc = sf_pfail_at(c, list->kids[i], "key '%s' is listed "
                                 "twice for class '%s'", keys[i].text,
                                 k->name);
            }
        }
        if (rc != SF_OK) {
            return rc;
        }
    }
    k->keys = keys;
    k->key_count = list->n;
    return SF_OK;
}

static sf_status load_shared_limits(struct sf_pctx *c,
                                    const struct sf_ynode *n,
                                    struct sf_policy_class *k,
                                    const struct sf_ynode *const *v)
{
    static const char *const names[] = {"max_age", "max_records",
                                        "max_bytes"};
    static const uint64_t caps[] = {SF_POLICY_MAX_AGE_MAX,
                                    SF_POLICY_MAX_RECORDS_MAX,
                                    SF_POLICY_MAX_BYTES_MAX};
    uint64_t *vals[] = {&k->limits.max_age_s, &k->limits.max_records,
                        &k->limits.max_bytes};
    sf_status rc = SF_OK;

    for (size_t i = 0; i < 3; i++) {
        if (v[i + 1] == NULL) {
            return sf_pfail_at(c, n, "a shared DEK scope must be bounded: "
                               "class '%s' needs max_age, max_records and "
                               "max_bytes; '%s' is missing", k->name,
                               names[i]);
        }
    }
    rc = sf_pval_duration(c, v[1], "max_age", vals[0]);
    if (rc == SF_OK) {
        rc = sf_pval_count(c, v[2], "max_records", vals[1]);
    }
    if (rc == SF_OK) {
        rc = sf_pval_size(c, v[3], "max_bytes", vals[2]);
    }
    for (size_t i = 0; rc == SF_OK && i < 3; i++) {
        if (*vals[i] > caps[i]) {
            rc = sf_pfail_at(c, v[i + 1], "%s '%s' is above the limit "
                             "for one shared DEK (%s)", names[i],
                             v[i + 1]->value,
                             i == 0 ? "30d" : i == 1 ? "4294967296, the "
                             "NIST limit for random 96-bit nonces" : "1T");
        }
    }
    return rc;
}

static sf_status load_scope(struct sf_pctx *c, const struct sf_ynode *n,
                            struct sf_policy_class *k)
{
    static const char *const keys[] = {"type", "max_age", "max_records",
                                       "max_bytes"};
    const struct sf_ynode *v[4] = {n, NULL, NULL, NULL};
    sf_status rc;

    if (n->type == SF_YNODE_MAP) {
        rc = sf_map_fields(c, n, "dek_scope", keys, 4, v);
        if (rc != SF_OK) {
            return rc;
        }
        if (v[0] == NULL) {
            return sf_pfail_at(c, n, "dek_scope needs a 'type' (record or "
                               "shared)");
        }
    }
    rc = sf_expect_text(c, v[0], "dek_scope type");
    if (rc != SF_OK) {
        return rc;
    }
    if (strcmp(v[0]->value, "record") == 0) {
        k->dek_scope = SF_DEK_SCOPE_RECORD;
        for (size_t i = 1; i < 4; i++) {
            if (v[i] != NULL) {
                return sf_pfail_at(c, v[i], "'%s' applies to a shared DEK "
                                   "scope only; class '%s' uses a DEK per "
                                   "record", keys[i], k->name);
            }
        }
        return SF_OK;
    }
    if (strcmp(v[0]->value, "shared") != 0) {
        return sf_pfail_at(c, v[0], "unknown dek_scope '%s'; expected "
                           "record or shared", v[0]->value);
    }
    k->dek_scope = SF_DEK_SCOPE_SHARED;
    if (n->type != SF_YNODE_MAP) {
        return sf_pfail_at(c, n, "a shared DEK scope must be bounded: "
                           "write dek_scope: {type: shared, max_age: 1h, "
                           "max_records: 100000, max_bytes: 64M}");
    }
    return load_shared_limits(c, n, k, v);
}

static sf_status load_rotation(struct sf_pctx *c, const struct sf_ynode *n,
                               struct sf_policy_class *k)
{
    static const char *const keys[] = {"dek", "kek"};
    const struct sf_ynode *v[2];
    sf_status rc = sf_expect(c, n, SF_YNODE_MAP, "rotation");

    if (rc == SF_OK) {
        rc = sf_map_fields(c, n, "rotation", keys, 2, v);
    }
    if (rc == SF_OK && v[0] != NULL) {
        rc = sf_pval_duration(c, v[0], "DEK rotation period",
                              &k->dek_rotation_s);
    }
    if (rc == SF_OK && v[1] != NULL) {
        rc = sf_pval_duration(c, v[1], "KEK rotation period",
                              &k->kek_rotation_s);
    }
    return rc;
}

/* A class whose values stay in the clear has nothing to wrap or rotate;
 * refuse settings that would suggest otherwise. */
static sf_status check_clear_class(struct sf_pctx *c,
                                   const struct sf_policy_class *k,
                                   const struct sf_ynode *const *v)
{
    static const char *const names[] = {NULL, "keys", "dek_scope",
                                        "rotation", "require_context"};

    for (size_t i = 1; i < 5; i++) {
        if (v[i] != NULL) {
            return sf_pfail_at(c, v[i], "class '%s' has suite none, so its "
                               "values are never encrypted; remove '%s'",
                               k->name, names[i]);
        }
    }
    return SF_OK;
}

enum { CF_SUITE, CF_KEYS, CF_SCOPE, CF_ROTATION, CF_CONTEXT, CF_READERS };

static sf_status load_profile(struct sf_pctx *c, const struct sf_ynode *n,
                              struct sf_policy_class *k)
{
    static const char *const keys[] = {"suite", "keys", "dek_scope",
                                       "rotation", "require_context",
                                       "readers"};
    const struct sf_ynode *v[6];
    char where[SF_POLICY_NAME_MAX + 16];
    sf_status rc;

    snprintf(where, sizeof where, "class '%s'", k->name);
    if (n->type != SF_YNODE_MAP) {
        return sf_pfail_at(c, n, "class '%s' needs a profile mapping "
                           "(suite, keys, ...), found %s", k->name,
                           sf_ynode_what(n));
    }
    rc = sf_map_fields(c, n, where, keys, 6, v);
    k->suite = SF_POLICY_SUITE_AES256GCM;
    k->dek_scope = SF_DEK_SCOPE_RECORD;
    if (rc == SF_OK && v[CF_SUITE] != NULL) {
        rc = sf_pval_suite(c, v[CF_SUITE], k->name, &k->suite);
    }
    if (rc == SF_OK && k->suite == SF_POLICY_SUITE_NONE) {
        rc = check_clear_class(c, k, v);
    }
    if (rc == SF_OK && v[CF_KEYS] != NULL) {
        rc = load_keys(c, v[CF_KEYS], k);
    }
    if (rc == SF_OK && v[CF_SCOPE] != NULL) {
        rc = load_scope(c, v[CF_SCOPE], k);
    }
    if (rc == SF_OK && v[CF_ROTATION] != NULL) {
        rc = load_rotation(c, v[CF_ROTATION], k);
    }
    if (rc == SF_OK && v[CF_CONTEXT] != NULL) {
        rc = load_names(c, v[CF_CONTEXT], "require_context",
                        &k->require_context, &k->require_context_count);
    }
    if (rc == SF_OK && v[CF_READERS] != NULL) {
        rc = sf_expect(c, v[CF_READERS], SF_YNODE_SEQ, "readers");
    }
    return rc;
}

sf_status sf_pload_classes(struct sf_pctx *c, const struct sf_ynode *n)
{
    struct sf_policy *p = c->pol;
    size_t count = n->n / 2;
    sf_status rc = sf_expect(c, n, SF_YNODE_MAP, "'classes'");

    if (rc != SF_OK) {
        return rc;
    }
    if (count == 0 || count > SF_POLICY_CLASS_MAX) {
        return sf_pfail_at(c, n, count == 0 ? "'classes' is empty; define "
                           "at least one class" : "more than %d classes",
                           SF_POLICY_CLASS_MAX);
    }
    p->classes = sf_arena_alloc(&p->arena, count * sizeof *p->classes);
    if (p->classes == NULL) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        const struct sf_ynode *key = n->kids[2 * i];
        struct sf_policy_class *k = &p->classes[i];
        size_t prev;

        rc = sf_pval_name(c, key, "class name");
        if (rc != SF_OK) {
            return rc;
        }
        prev = sf_policy_class_lookup(p, key->value);
        if (prev != SIZE_MAX) {
            return sf_pfail_at(c, key, "duplicate class '%s' (first at "
                               "line %u)", key->value, p->classes[prev].line);
        }
        k->name = sf_arena_strndup(&p->arena, key->value, key->len);
        if (k->name == NULL) {
            return SF_ERR_NOMEM;
        }
        k->line = key->line;
        k->column = key->column;
        p->class_count = i + 1;
        rc = load_profile(c, n->kids[2 * i + 1], k);
        if (rc != SF_OK) {
            return rc;
        }
    }
    return SF_OK;
}

/* ---- the top level --------------------------------------------------- */

enum { TOP_VERSION, TOP_CLASSES, TOP_RULES, TOP_DEFAULT, TOP_STAGES,
       TOP_PARTNERS };

static sf_status load_version(struct sf_pctx *c, const struct sf_ynode *root,
                              const struct sf_ynode *v)
{
    sf_status rc;

    if (v == NULL) {
        return sf_pfail_at(c, root, "missing 'version: 1' at the top of "
                           "the policy");
    }
    rc = sf_expect_text(c, v, "version");
    if (rc == SF_OK && strcmp(v->value, "1") != 0) {
        rc = sf_pfail_at(c, v, "unsupported policy version '%s'; this "
                         "sealflow reads version 1", v->value);
    }
    return rc;
}

static sf_status load_default(struct sf_pctx *c, const struct sf_ynode *root,
                              const struct sf_ynode *v)
{
    sf_status rc;

    if (v == NULL) {
        return sf_pfail_at(c, root, "missing 'default': the class of fields "
                           "no rule matches (e.g. default: internal)");
    }
    rc = sf_expect_text(c, v, "default");
    if (rc != SF_OK) {
        return rc;
    }
    c->pol->default_class = sf_policy_class_lookup(c->pol, v->value);
    if (c->pol->default_class == SIZE_MAX) {
        return sf_unknown_class(c, v, "default");
    }
    return SF_OK;
}

static sf_status load_root(struct sf_pctx *c, const struct sf_ynode *root)
{
    static const char *const keys[] = {"version", "classes", "rules",
                                       "default", "stages", "partners"};
    const struct sf_ynode *v[6];
    sf_status rc;

    if (root == NULL || (root->type == SF_YNODE_SCALAR && root->is_null)) {
        return sf_pfail(c, 1, 1, "the policy is empty; expected a mapping "
                        "with version, classes, rules and default");
    }
    rc = sf_expect(c, root, SF_YNODE_MAP, "the policy");
    if (rc == SF_OK) {
        rc = sf_map_fields(c, root, "the policy", keys, 6, v);
    }
    if (rc == SF_OK) {
        rc = load_version(c, root, v[TOP_VERSION]);
    }
    if (rc == SF_OK && v[TOP_CLASSES] == NULL) {
        rc = sf_pfail_at(c, root, "missing 'classes': define the data "
                         "classes and how each is protected");
    }
    if (rc == SF_OK) {
        rc = sf_pload_classes(c, v[TOP_CLASSES]);
    }
    if (rc == SF_OK) {
        rc = sf_pload_readers(c, v[TOP_STAGES], v[TOP_PARTNERS]);
    }
    if (rc == SF_OK) {
        rc = sf_pload_class_readers(c, v[TOP_CLASSES]);
    }
    if (rc == SF_OK) {
        rc = load_default(c, root, v[TOP_DEFAULT]);
    }
    if (rc == SF_OK) {
        rc = sf_pload_rules(c, v[TOP_RULES]);
    }
    if (rc == SF_OK) {
        rc = sf_pload_finish(c);
    }
    return rc;
}

static sf_status load(const char *yaml, size_t len, const char *name,
                      const char *base_dir, struct sf_policy **out)
{
    struct sf_arena tmp = {NULL, 0, TMP_ARENA_LIMIT};
    struct sf_pctx c = {name != NULL ? name : "<policy>", base_dir, NULL,
                        &tmp};
    struct sf_policy *p = NULL;
    struct sf_ynode *root = NULL;
    sf_status rc;

    if (len > SF_POLICY_SIZE_MAX) {
        rc = sf_fail(SF_ERR_LIMIT, "%s: the policy is larger than %d bytes",
                     c.source, SF_POLICY_SIZE_MAX);
        goto out;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    c.pol = p;
    p->source = sf_arena_strndup(&p->arena, c.source, strlen(c.source));
    rc = p->source != NULL ? SF_OK : SF_ERR_NOMEM;
    if (rc == SF_OK) {
        rc = sf_policy_yaml_read(yaml, len, c.source, &tmp, &root);
    }
    if (rc == SF_OK) {
        rc = load_root(&c, root);
    }

out:
    sf_arena_free(&tmp);
    if (rc == SF_ERR_NOMEM) {
        rc = sf_fail(SF_ERR_NOMEM, "%s: out of memory loading the policy",
                     c.source);
    }
    if (rc != SF_OK) {
        sf_policy_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

sf_status sf_policy_load_buffer(const char *yaml, size_t len,
                                const char *display_name,
                                struct sf_policy **out)
{
    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (yaml == NULL && len > 0) {
        return SF_ERR_INVALID_ARG;
    }
    return load(yaml != NULL ? yaml : "", len, display_name, NULL, out);
}

/* Reads at most SF_POLICY_SIZE_MAX + 1 bytes so an oversized file is
 * recognised without reading all of it. */
static sf_status read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    sf_status rc = SF_OK;

    if (f == NULL) {
        rc = sf_fail(SF_ERR_IO, "%s: cannot open the policy: %s", path,
                     strerror(errno));
        goto out;
    }
    buf = malloc(SF_POLICY_SIZE_MAX + 1);
    if (buf == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, SF_POLICY_SIZE_MAX + 1, f);
    if (ferror(f)) {
        rc = sf_fail(SF_ERR_IO, "%s: cannot read the policy", path);
    } else if (n > SF_POLICY_SIZE_MAX) {
        rc = sf_fail(SF_ERR_LIMIT, "%s: the policy is larger than %d "
                     "bytes", path, SF_POLICY_SIZE_MAX);
    }

out:
    if (f != NULL) {
        fclose(f);
    }
    if (rc != SF_OK) {
        free(buf);
        buf = NULL;
        n = 0;
    }
    *data = buf;
    *len = n;
    return rc;
}

sf_status sf_policy_load_file(const char *path, struct sf_policy **out)
{
    char *data = NULL;
    char *dir = NULL;
    char *slash;
    size_t len = 0;
    sf_status rc;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (path == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = read_file(path, &data, &len);
    if (rc != SF_OK) {
        goto out;
    }
    dir = strdup(path);
    if (dir == NULL) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    slash = strrchr(dir, '/');
    if (slash != NULL) {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    rc = load(data, len, path, slash != NULL ? dir : NULL, out);

out:
    free(dir);
    free(data);
    return rc;
}
