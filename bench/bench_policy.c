/*
 * Field classification speed, as a ratio to the limit measured in the
 * same run: a bare walk of the same parsed records (every member and
 * element visited, nothing classified). The classifying walk also pushes
 * and pops struct sf_path segments and calls sf_policy_classify at every
 * node, stopping at subtrees the policy calls uniform, as the record
 * sealer does. Records are the 208 customers of the dummyjson sample
 * (SF_DATA_DIR), walked repeatedly.
 *
 * Usage: bench_policy [ROUNDS]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealflow/policy.h"

static const char policy_yaml[] =
    "version: 1\n"
    "classes:\n"
    "  public: {suite: none}\n"
    "  internal: {keys: [internal-kek]}\n"
    "  confidential: {keys: [pii-kek]}\n"
    "  restricted: {keys: [pci-kek]}\n"
    "rules:\n"
    "  - {path: $.bank, class: restricted}\n"
    "  - {path: $.ssn, class: restricted}\n"
    "  - {path: $.ein, class: restricted}\n"
    "  - {path: $.password, class: restricted}\n"
    "  - {path: $.crypto.wallet, class: restricted}\n"
    "  - {path: $.address, class: confidential}\n"
    "  - {path: $.company.address, class: confidential}\n"
    "  - {path: $..email, class: confidential}\n"
    "  - {path: $..phone, class: confidential}\n"
    "  - {path: $.firstName, class: confidential}\n"
    "  - {path: $.lastName, class: confidential}\n"
    "  - {path: $.birthDate, class: confidential}\n"
    "  - {path: $.ip, class: confidential}\n"
    "  - {path: '$.hair.*', class: public}\n"
    "  - {path: $.role, class: internal}\n"
    "default: internal\n";

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The limit: visit every node, do nothing else. */
static size_t bare_walk(const json_t *v)
{
    size_t n = 1;
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child) {
            n += bare_walk(child);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            n += bare_walk(child);
        }
    }
    return n;
}

static size_t sealed[8];

static void visit(const struct sf_policy *p, struct sf_path *path,
                  const json_t *v);

static void visit_child(const struct sf_policy *p, struct sf_path *path,
                        const json_t *child)
{
    struct sf_policy_match m;

    if (sf_policy_classify(p, path, NULL, NULL, &m) != SF_OK) {
        abort();
    }
    if (m.is_subtree_uniform ||
            (!json_is_object(child) && !json_is_array(child))) {
        sealed[m.class_index & 7]++;
    }
    if (!m.is_subtree_uniform) {
        visit(p, path, child);
    }
}

static void visit(const struct sf_policy *p, struct sf_path *path,
                  const json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child) {
            if (sf_path_push_member(path, key, strlen(key)) != SF_OK) {
                abort();
            }
            visit_child(p, path, child);
            sf_path_pop(path);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (sf_path_push_index(path, i) != SF_OK) {
                abort();
            }
            visit_child(p, path, child);
            sf_path_pop(path);
        }
    }
}

/* Seconds for rounds bare walks over every record; *nodes counts them. */
static double time_bare(const json_t *users, int rounds, size_t *nodes)
{
    double t0 = now();

    *nodes = 0;
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < json_array_size(users); i++) {
            *nodes += bare_walk(json_array_get(users, i));
        }
    }
    return now() - t0;
}

static double time_classify(const struct sf_policy *p, struct sf_path *path,
                            const json_t *users, int rounds)
{
    double t0 = now();

    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < json_array_size(users); i++) {
            sf_path_clear(path);
            visit(p, path, json_array_get(users, i));
        }
    }
    return now() - t0;
}

static void report(size_t records, size_t nodes, double bare_s,
                   double cls_s)
{
    printf("records: %zu (%zu nodes each)\n", records, nodes / records);
    printf("bare walk (limit): %10.0f records/s\n",
           (double)records / bare_s);
    printf("walk + classify:   %10.0f records/s  time ratio to bare walk "
           "%.2f (target: >= 40000 records/s)\n",
           (double)records / cls_s, cls_s / bare_s);
    printf("values sealed per class per record: public %.1f, internal "
           "%.1f, confidential %.1f, restricted %.1f\n",
           (double)sealed[0] / (double)records,
           (double)sealed[1] / (double)records,
           (double)sealed[2] / (double)records,
           (double)sealed[3] / (double)records);
}

int main(int argc, char **argv)
{
    const char *dir = getenv("SF_DATA_DIR");
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 500;
    char file[1024];
    struct sf_policy *p = NULL;
    struct sf_path *path = NULL;
    json_t *users;
    size_t nodes;
    double bare_s;
    double cls_s;

    if (dir == NULL || dir[0] == '\0') {
        dir = "../shared/data";
    }
    snprintf(file, sizeof file, "%s/ecommerce/dummyjson/users.json", dir);
    users = json_load_file(file, 0, NULL);
    if (users == NULL || !json_is_array(users) || rounds < 1) {
        printf("SKIP: bench_policy needs %s (set SF_DATA_DIR)\n", file);
        json_decref(users);
        return 0;
    }
    if (sf_policy_load_buffer(policy_yaml, sizeof policy_yaml - 1, "bench",
                              &p) != SF_OK ||
            sf_path_new(p, &path) != SF_OK) {
        fprintf(stderr, "bench_policy: %s\n", sf_last_error());
        return 1;
    }
    bare_s = time_bare(users, rounds, &nodes);
    cls_s = time_classify(p, path, users, rounds);
    report(json_array_size(users) * (size_t)rounds, nodes, bare_s, cls_s);
    sf_path_free(path);
    sf_policy_free(p);
    json_decref(users);
    return 0;
}
