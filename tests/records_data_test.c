/*
 * Seals and reopens every sample dataset under $SF_DATA_DIR with the
 * example policies and all their keys, and checks that the reopened
 * documents equal the originals, that coverage finds no violation, and
 * that the research partner of the healthcare example opens clinical
 * content only. Skips, visibly, when the datasets are absent.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "keystore_testutil.h"
#include "records_test_util.h"
#include "vectors.h"

struct data_fix {
    struct ks_fixture *f;
    struct sf_identity *ks_id;
    struct sf_identity *partner;
    struct sf_policy *shop;
    struct sf_policy *clinic;
    char data[1024];
};

static bool has_data(const char *dir)
{
    struct stat st;
    char probe[1200];

    snprintf(probe, sizeof probe, "%s/ecommerce", dir);
    return stat(probe, &st) == 0 && S_ISDIR(st.st_mode);
}

static struct sf_policy *load_policy(const char *path)
{
    struct sf_policy *p = NULL;

    if (sf_policy_load_file(path, &p) != SF_OK) {
        fprintf(stderr, "%s\n", sf_last_error());
    }
    return p;
}

/* The healthcare policy names research-partner.pub beside it: copy the
 * policy into the test folder with a freshly made partner key. */
static struct sf_policy *clinic_policy(struct data_fix *d, const char *src)
{
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf yaml = SF_BUF_INIT;
    char path[600];
    FILE *f;

    snprintf(path, sizeof path, "%s/examples/healthcare/policy.yaml", src);
    if (vec_read_file(path, &yaml) != SF_OK ||
            sf_identity_generate_x25519(&sec, &pub) != SF_OK ||
            sf_identity_parse((const char *)sec.data, sec.len,
                              &d->partner) != SF_OK) {
        return NULL;
    }
    snprintf(path, sizeof path, "%s/research-partner.pub", d->f->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", (const char *)pub.data);
    fclose(f);
    snprintf(path, sizeof path, "%s/clinic.yaml", d->f->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(yaml.data, 1, yaml.len, f), yaml.len);
    fclose(f);
    sf_buf_free(&sec);
    sf_buf_free(&pub);
    sf_buf_free(&yaml);
    return load_policy(path);
}

static int setup(void **state)
{
    static const char *const keys[] = {
        "shop-internal", "shop-pii", "shop-pci", "clinic-internal",
        "clinic-phi", "clinic-identity"};
    struct data_fix *d = calloc(1, sizeof *d);
    const char *src = getenv("SF_SOURCE_DIR");
    const char *dir = getenv("SF_DATA_DIR");
    struct sf_key_info info;
    char path[600];
    void *fs = NULL;

    if (d == NULL || src == NULL || tu_setup(&fs) != 0) {
        return -1;
    }
    d->f = fs;
    *state = d;
    if (dir == NULL || !has_data(dir)) {
        return 0;
    }
    snprintf(d->data, sizeof d->data, "%s", dir);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (sf_keystore_create_key(d->f->ks, keys[i], SF_KEY_AES256_GCM96,
                                   &info) != SF_OK) {
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/examples/ecommerce/policy.yaml", src);
    d->shop = load_policy(path);
    d->clinic = clinic_policy(d, src);
    return d->shop != NULL && d->clinic != NULL &&
                   sf_identity_keystore(d->f->ks, &d->ks_id) == SF_OK
               ? 0 : -1;
}

static int teardown(void **state)
{
    struct data_fix *d = *state;
    void *fs = d->f;

    sf_identity_free(d->ks_id);
    sf_identity_free(d->partner);
    sf_policy_free(d->shop);
    sf_policy_free(d->clinic);
    tu_teardown(&fs);
    free(d);
    return 0;
}

static bool no_data(const struct data_fix *d)
{
    if (d->data[0] == '\0') {
        printf("SKIP: records over the sample datasets (SF_DATA_DIR is "
               "unset or holds no datasets)\n");
        return true;
    }
    return false;
}

static char *seal_file(struct data_fix *d, const struct sf_policy *p,
                       const struct sf_buf *in, enum sf_records_format fmt,
                       const char *name)
{
    struct sf_records_seal_opts o = {fmt, NULL, 0, 2, name};
    struct sf_record_sealer *s = NULL;
    struct sf_buf out = SF_BUF_INIT;
    sf_status rc = sf_record_sealer_new(p, d->f->ks, &o, &s);

    if (rc == SF_OK) {
        rc = sf_records_seal_buffer(s, in->data, in->len, &out, NULL);
    }
    if (rc != SF_OK) {
        fprintf(stderr, "seal %s: %s\n", name, sf_last_error());
    }
    assert_int_equal(rc, SF_OK);
    sf_record_sealer_free(s);
    return rt_text(&out);
}

static char *open_text(const struct sf_policy *p, const char *sealed,
                       enum sf_records_format fmt, const char *reader,
                       struct sf_identity *id)
{
    const char *readers[] = {reader};
    /* all keys: every token must open; a partner: some stay sealed */
    struct sf_records_open_opts o = {fmt, p, readers, reader != NULL,
                                     reader == NULL, 2, "sealed"};
    struct sf_record_opener *op = NULL;
    struct sf_buf out = SF_BUF_INIT;
    sf_status rc = sf_record_opener_new(&o, &id, 1, &op);

    if (rc == SF_OK) {
        rc = sf_records_open_buffer(op, (const uint8_t *)sealed,
                                    strlen(sealed), &out, NULL);
    }
    if (rc != SF_OK) {
        fprintf(stderr, "open: %s\n", sf_last_error());
    }
    assert_int_equal(rc, SF_OK);
    sf_record_opener_free(op);
    return rt_text(&out);
}

static void no_violation(struct data_fix *d, const struct sf_policy *p,
                         const char *sealed, enum sf_records_format fmt,
                         const char *name)
{
    struct sf_coverage_opts o = {fmt, d->f->ks, 0, 10, 2, name};
    struct sf_coverage *c = NULL;
    struct sf_buf text = SF_BUF_INIT;

    assert_int_equal(sf_coverage_run_buffer(p, &o, (const uint8_t *)sealed,
                                            strlen(sealed), &c), SF_OK);
    if (sf_coverage_violations(c) != 0 &&
            sf_coverage_text(c, &text) == SF_OK) {
        fprintf(stderr, "%s\n", (const char *)text.data);
    }
    assert_int_equal(sf_coverage_violations(c), 0);
    sf_buf_free(&text);
    sf_coverage_free(c);
}

/* Seals, checks coverage, reopens with all keys and compares. */
static void round_trip(struct data_fix *d, const struct sf_policy *p,
                       const char *rel, enum sf_records_format fmt)
{
    struct sf_buf in = SF_BUF_INIT;
    char path[1400];
    char *sealed;
    char *back;

    snprintf(path, sizeof path, "%s/%s", d->data, rel);
    assert_int_equal(vec_read_file(path, &in), SF_OK);
    sealed = seal_file(d, p, &in, fmt, rel);
    no_violation(d, p, sealed, fmt, rel);
    back = open_text(p, sealed, fmt, NULL, d->ks_id);
    if (fmt == SF_RECORDS_CSV) {
        assert_string_equal(back, (const char *)in.data);
    } else if (fmt == SF_RECORDS_JSONL) {
        rt_assert_same_json((const char *)in.data, back);
    } else {
        rt_assert_same_doc((const char *)in.data, back);
    }
    free(sealed);
    free(back);
    sf_buf_free(&in);
}

static void test_ecommerce_datasets_round_trip(void **state)
{
    struct data_fix *d = *state;
    static const char *const csv[] = {
        "ecommerce/contoso-orders/customers.csv",
        "ecommerce/contoso-orders/orders.csv",
        "ecommerce/contoso-orders/line_items.csv",
        "ecommerce/contoso-orders/products.csv"};

    if (no_data(d)) {
        return;
    }
    round_trip(d, d->shop, "ecommerce/dummyjson/users.json",
               SF_RECORDS_JSON);
    round_trip(d, d->shop, "ecommerce/dummyjson/carts.json",
               SF_RECORDS_JSON);
    round_trip(d, d->shop, "ecommerce/dummyjson/products.json",
               SF_RECORDS_JSON);
    for (size_t i = 0; i < sizeof csv / sizeof *csv; i++) {
        round_trip(d, d->shop, csv[i], SF_RECORDS_CSV);
    }
}

static void test_healthcare_datasets_round_trip(void **state)
{
    struct data_fix *d = *state;
    char dir[1200];
    struct dirent *e;
    DIR *dp;
    size_t n = 0;

    if (no_data(d)) {
        return;
    }
    round_trip(d, d->clinic, "healthcare/fhir-bulk-ndjson/Patient.000.ndjson",
               SF_RECORDS_JSONL);
    round_trip(d, d->clinic,
               "healthcare/fhir-bulk-ndjson/AllergyIntolerance.000.ndjson",
               SF_RECORDS_JSONL);
    snprintf(dir, sizeof dir, "%s/healthcare/synthea-fhir-r4-bundles",
             d->data);
    dp = opendir(dir);
    assert_non_null(dp);
    while ((e = readdir(dp)) != NULL) {
        char rel[600];
        size_t len = strlen(e->d_name);

        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 ||
                strcmp(e->d_name, "MANIFEST.json") == 0) {
            continue;
        }
        snprintf(rel, sizeof rel, "healthcare/synthea-fhir-r4-bundles/%s",
                 e->d_name);
        round_trip(d, d->clinic, rel, SF_RECORDS_JSON);
        n++;
    }
    closedir(dp);
    assert_int_equal(n, 30);
}

/* The partner's key opens clinical codes and nothing that identifies the
 * patient. */
static void test_research_partner_sees_clinical_content_only(void **state)
{
    struct data_fix *d = *state;
    static const char rel[] = "healthcare/synthea-fhir-r4-bundles/"
                              "Abdul_Koepp_e925b0f3-8006-43f6-aa31-"
                              "94bd215e55e7.json";
    struct sf_buf in = SF_BUF_INIT;
    char path[1400];
    char *sealed;
    char *seen;

    if (no_data(d)) {
        return;
    }
    snprintf(path, sizeof path, "%s/%s", d->data, rel);
    assert_int_equal(vec_read_file(path, &in), SF_OK);
    sealed = seal_file(d, d->clinic, &in, SF_RECORDS_JSON, rel);
    seen = open_text(d->clinic, sealed, SF_RECORDS_JSON, "research-partner",
                     d->partner);
    assert_non_null(strstr((const char *)in.data, "\"family\": \"Koepp"));
    assert_null(strstr(seen, "Koepp"));
    assert_non_null(strstr(seen, "\"code\":{\"coding\":[{\"system\":"
                           "\"http://snomed.info/sct\""));
    free(sealed);
    free(seen);
    sf_buf_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ecommerce_datasets_round_trip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthcare_datasets_round_trip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_research_partner_sees_clinical_content_only, setup,
            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
