/*
 * Coverage reports: one JSON object for machines, a summary with tables
 * for people. Both show the same numbers.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coverage.h"
#include "error.h"

static const char *rule_kind(const struct sf_policy_rule *r)
{
    switch (r->kind) {
    case SF_RULE_PATH:
        return "path";
    case SF_RULE_COLUMN:
        return "column";
    default:
        return "tag";
    }
}

static json_t *count_json(const struct cov_count *n)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "fields", (json_int_t)n->fields,
                     "sealed", (json_int_t)n->sealed, "unsealed",
                     (json_int_t)n->unsealed, "mismatched",
                     (json_int_t)n->mismatched);
}

static json_t *classes_json(const struct sf_coverage *c)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < c->class_count; i++) {
        const struct sf_policy_class *k = sf_policy_class_at(c->policy, i);
        json_t *o = count_json(&c->total.classes[i]);

        json_object_set_new(o, "class", json_string(k->name));
        json_object_set_new(o, "suite",
                            json_string(sf_policy_suite_name(k->suite)));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *rules_json(const struct sf_coverage *c)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i <= c->rule_count; i++) {
        json_t *o = count_json(&c->total.rules[i]);

        if (i < c->rule_count) {
            const struct sf_policy_rule *r = sf_policy_rule_at(c->policy, i);

            json_object_set_new(o, "rule", json_integer((json_int_t)i));
            json_object_set_new(o, "kind", json_string(rule_kind(r)));
            json_object_set_new(o, "pattern", json_string(r->pattern));
            json_object_set_new(o, "line", json_integer(r->line));
            json_object_set_new(o, "class", json_string(
                sf_policy_class_at(c->policy, r->class_index)->name));
        } else {
            json_object_set_new(o, "rule", json_null());
            json_object_set_new(o, "kind", json_string("default"));
            json_object_set_new(o, "class", json_string(
                sf_policy_class_at(c->policy,
                                   sf_policy_default_class(c->policy))
                    ->name));
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *findings_json(const struct sf_coverage *c)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < c->total.finding_len; i++) {
        const struct cov_finding *f = &c->total.findings[i];

        json_array_append_new(a, json_pack(
            "{s:s, s:I, s:s, s:s, s:s}", "kind",
            sf_finding_kind_name(f->kind), "record", (json_int_t)f->record,
            "path", f->path, "class", f->cls, "detail", f->detail));
    }
    return a;
}

sf_status sf_coverage_json(const struct sf_coverage *c, struct sf_buf *out)
{
    json_t *kinds = json_object();
    json_t *root;
    char *text = NULL;
    sf_status rc = SF_ERR_NOMEM;

    if (c == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    for (size_t k = 1; kinds != NULL && k < SF_FINDING_KIND_COUNT; k++) {
        const char *name = sf_finding_kind_name((enum sf_finding_kind)k);

        json_object_set_new(kinds, name,
                            json_integer((json_int_t)c->total.kinds[k]));
    }
    root = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:I}", "input",
        c->input, "policy", sf_policy_source(c->policy), "format",
        sf_records_format_name(c->format), "records",
        (json_int_t)c->total.records, "records_unsealed",
        (json_int_t)c->total.records_unsealed, "violations",
        (json_int_t)sf_coverage_violations(c), "by_kind", kinds, "classes",
        classes_json(c), "rules", rules_json(c), "findings",
        findings_json(c), "findings_omitted",
        (json_int_t)(sf_coverage_violations(c) - c->total.finding_len));
    if (root != NULL) {
        text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    }
    if (text != NULL) {
        rc = sf_buf_put_str(out, text);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(out, "\n");
    }
    free(text);
    json_decref(root);
    return rc;
}

static sf_status put(struct sf_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static sf_status put(struct sf_buf *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return sf_buf_put_str(out, line);
}

static sf_status count_row(struct sf_buf *out, const char *what,
                           const char *cls, const struct cov_count *n)
{
    return put(out, "  %-34.34s %-14.14s %8llu %8llu %8llu %8llu\n", what,
               cls, (unsigned long long)n->fields,
               (unsigned long long)n->sealed,
               (unsigned long long)n->unsealed,
               (unsigned long long)n->mismatched);
}

static sf_status text_tables(const struct sf_coverage *c, struct sf_buf *out)
{
    sf_status rc = put(out, "\nby class:\n  %-34s %-14s %8s %8s %8s %8s\n",
                       "class", "suite", "fields", "sealed", "unsealed",
                       "mismatch");

    for (size_t i = 0; rc == SF_OK && i < c->class_count; i++) {
        const struct sf_policy_class *k = sf_policy_class_at(c->policy, i);

        rc = count_row(out, k->name, sf_policy_suite_name(k->suite),
                       &c->total.classes[i]);
    }
    if (rc == SF_OK) {
        rc = put(out, "\nby rule:\n  %-34s %-14s %8s %8s %8s %8s\n", "rule",
                 "class", "fields", "sealed", "unsealed", "mismatch");
    }
    for (size_t i = 0; rc == SF_OK && i <= c->rule_count; i++) {
        char what[64];
        size_t cls = sf_policy_default_class(c->policy);

        if (i < c->rule_count) {
            const struct sf_policy_rule *r = sf_policy_rule_at(c->policy, i);

            snprintf(what, sizeof what, "%s %s (line %u)", rule_kind(r),
                     r->pattern, r->line);
            cls = r->class_index;
        } else {
            snprintf(what, sizeof what, "(default)");
        }
        rc = count_row(out, what, sf_policy_class_at(c->policy, cls)->name,
                       &c->total.rules[i]);
    }
    return rc;
}

sf_status sf_coverage_text(const struct sf_coverage *c, struct sf_buf *out)
{
    uint64_t v;
    sf_status rc;

    if (c == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    v = sf_coverage_violations(c);
    rc = put(out, "coverage of %s against %s: %llu record(s), %llu without "
             "\"%s\", %llu violation(s)\n", c->input,
             sf_policy_source(c->policy),
             (unsigned long long)c->total.records,
             (unsigned long long)c->total.records_unsealed,
             SF_RECORDS_MEMBER, (unsigned long long)v);
    for (size_t k = 1; rc == SF_OK && k < SF_FINDING_KIND_COUNT; k++) {
        if (c->total.kinds[k] > 0) {
            rc = put(out, "  %-18s %llu\n",
                     sf_finding_kind_name((enum sf_finding_kind)k),
                     (unsigned long long)c->total.kinds[k]);
        }
    }
    if (rc == SF_OK) {
        rc = text_tables(c, out);
    }
    if (rc == SF_OK && c->total.finding_len > 0) {
        rc = put(out, "\nfindings (first %zu):\n", c->total.finding_len);
    }
    for (size_t i = 0; rc == SF_OK && i < c->total.finding_len; i++) {
        const struct cov_finding *f = &c->total.findings[i];

        rc = put(out, "  record %llu %s: %s [%s] %s\n",
                 (unsigned long long)f->record, f->path,
                 sf_finding_kind_name(f->kind), f->cls, f->detail);
    }
    return rc;
}
