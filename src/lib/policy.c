/*
 * Reading a loaded policy: accessors, reader checks, and the keystore
 * check behind `policy check --keystore`. Loading is in policy_load.c,
 * classification in policy_match.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_internal.h"

const char *sf_policy_suite_name(enum sf_policy_suite s)
{
    switch (s) {
    case SF_POLICY_SUITE_NONE:
        return "none";
    case SF_POLICY_SUITE_AES256GCM:
        return "aes-256-gcm";
    case SF_POLICY_SUITE_CHACHA20POLY1305:
        return "chacha20-poly1305";
    default:
        return NULL;
    }
}

void sf_policy_free(struct sf_policy *p)
{
    if (p == NULL) {
        return;
    }
    if (p->paths != NULL) {
        for (size_t i = 0; i < p->rule_count; i++) {
            sf_jsonpath_free(&p->paths[i]);
        }
        free(p->paths);
    }
    sf_arena_free(&p->arena);
    free(p);
}

const char *sf_policy_source(const struct sf_policy *p)
{
    return p != NULL ? p->source : NULL;
}

size_t sf_policy_class_count(const struct sf_policy *p)
{
    return p != NULL ? p->class_count : 0;
}

const struct sf_policy_class *sf_policy_class_at(const struct sf_policy *p,
                                                 size_t i)
{
    return p != NULL && i < p->class_count ? &p->classes[i] : NULL;
}

sf_status sf_policy_class_find(const struct sf_policy *p, const char *name,
                               size_t *index)
{
    size_t i;

    if (p == NULL || name == NULL || index == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    i = sf_policy_class_lookup(p, name);
    if (i == SIZE_MAX) {
        return sf_fail(SF_ERR_POLICY, "%s: no class named '%.64s'",
                       p->source, name);
    }
    *index = i;
    return SF_OK;
}

size_t sf_policy_default_class(const struct sf_policy *p)
{
    return p != NULL ? p->default_class : 0;
}

size_t sf_policy_rule_count(const struct sf_policy *p)
{
    return p != NULL ? p->rule_count : 0;
}

const struct sf_policy_rule *sf_policy_rule_at(const struct sf_policy *p,
                                               size_t i)
{
    return p != NULL && i < p->rule_count ? &p->rules[i] : NULL;
}

size_t sf_policy_reader_count(const struct sf_policy *p)
{
    return p != NULL ? p->reader_count : 0;
}

const struct sf_policy_reader *sf_policy_reader_at(
    const struct sf_policy *p, size_t i)
{
    return p != NULL && i < p->reader_count ? &p->readers[i] : NULL;
}

const struct sf_policy_reader *sf_policy_reader_find(
    const struct sf_policy *p, const char *name)
{
    if (p == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < p->reader_count; i++) {
        if (strcmp(p->readers[i].name, name) == 0) {
            return &p->readers[i];
        }
    }
    return NULL;
}

bool sf_policy_reader_can_see(const struct sf_policy *p, const char *reader,
                              size_t class_index)
{
    const struct sf_policy_reader *r;
    const struct sf_policy_class *k;

    if (p == NULL || reader == NULL || class_index >= p->class_count) {
        return false;
    }
    k = &p->classes[class_index];
    if (k->suite == SF_POLICY_SUITE_NONE) {
        return true;
    }
    r = sf_policy_reader_find(p, reader);
    if (r == NULL) {
        return false;
    }
    for (size_t i = 0; i < r->see_count; i++) {
        if (r->sees[i] == class_index) {
            return true;
        }
    }
    for (size_t i = 0; i < k->reader_count; i++) {
        if (strcmp(k->readers[i], reader) == 0) {
            return true;
        }
    }
    return false;
}

/* Looks up one local key; SF_OK when found, SF_ERR_KEY_NOT_FOUND after
 * reporting when missing, any other status as the keystore gave it. */
static sf_status check_one(const struct sf_policy *p,
                           const struct sf_policy_class *k,
                           const struct sf_key_ref *ref,
                           struct sf_keystore *ks, sf_policy_report_fn report,
                           void *arg)
{
    struct sf_key_info info;
    char msg[512];
    sf_status rc = sf_keystore_key_info(ks, ref->value, &info);

    if (rc != SF_ERR_KEY_NOT_FOUND) {
        return rc;
    }
    snprintf(msg, sizeof msg, "%s:%u:%u: class '%s' names key '%s', which "
             "is not in the keystore; create it with `sealflow keys create "
             "%s`", p->source, ref->line, ref->column, k->name, ref->text,
             ref->value);
    if (report != NULL) {
        report(arg, msg);
    }
    return SF_ERR_KEY_NOT_FOUND;
}

sf_status sf_policy_check_keys(const struct sf_policy *p,
                               struct sf_keystore *ks,
                               sf_policy_report_fn report, void *arg)
{
    char first[512] = "";
    sf_status rc = SF_OK;

    if (p == NULL || ks == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < p->class_count; i++) {
        const struct sf_policy_class *k = &p->classes[i];

        for (size_t j = 0; j < k->key_count; j++) {
            sf_status one;

            if (k->keys[j].kind != SF_KEY_REF_LOCAL) {
                continue;
            }
            one = check_one(p, k, &k->keys[j], ks, report, arg);
            if (one == SF_ERR_KEY_NOT_FOUND && rc == SF_OK) {
                snprintf(first, sizeof first, "%s:%u:%u: class '%s' names "
                         "key '%s', which is not in the keystore",
                         p->source, k->keys[j].line, k->keys[j].column,
                         k->name, k->keys[j].text);
                rc = one;
            } else if (one != SF_OK && one != SF_ERR_KEY_NOT_FOUND) {
                return one;
            }
        }
    }
    if (rc != SF_OK) {
        rc = sf_fail(rc, "%s", first);
    }
    return rc;
}
