/*
 * Fuzz target for the policy loader (untrusted YAML) and the field path
 * parser. A policy that loads is then read through every accessor and
 * used to classify a few fields, so the compiled matcher is exercised on
 * whatever rules the input managed to define.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sealflow/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct sf_policy *p)
{
    static const char *const paths[] = {"$", "$.a.b", "$.items[0].sku",
                                        "$['x']..y", "$.a[3].email"};
    struct sf_path *path = NULL;
    struct sf_policy_match m;

    for (size_t i = 0; i < sf_policy_class_count(p); i++) {
        const struct sf_policy_class *k = sf_policy_class_at(p, i);

        (void)sf_policy_reader_can_see(p, "web", i);
        (void)sf_policy_suite_name(k->suite);
    }
    for (size_t i = 0; i < sf_policy_rule_count(p); i++) {
        (void)sf_policy_rule_at(p, i);
    }
    if (sf_path_new(p, &path) != SF_OK) {
        return;
    }
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        if (sf_path_parse(path, paths[i], strlen(paths[i])) == SF_OK &&
                sf_policy_classify(p, path, "Email", "pan", &m) == SF_OK &&
                m.class_index >= sf_policy_class_count(p)) {
            __builtin_trap();
        }
    }
    sf_path_free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_policy *p = NULL;
    struct sf_path *path = NULL;
    struct sf_buf out = SF_BUF_INIT;

    if (sf_policy_load_buffer((const char *)data, size, "fuzz", &p) ==
            SF_OK) {
        walk(p);
        sf_policy_free(p);
    }
    if (sf_path_new(NULL, &path) == SF_OK) {
        if (sf_path_parse(path, (const char *)data, size) == SF_OK &&
                sf_path_render(path, &out) != SF_OK) {
            __builtin_trap();
        }
        sf_path_free(path);
    }
    sf_buf_free(&out);
    return 0;
}
