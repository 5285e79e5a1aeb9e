/*
 * Record sealing throughput, as ratios to limits measured in the same run.
 *
 * Limits: a plain yajl parse-and-serialize of the same JSON Lines (what
 * any record sealer must at least do), and, for a DEK per record wrapped
 * to an X25519 recipient, OpenSSL's X25519 key generation plus key
 * agreement (what each such wrap must at least do).
 *
 * Inputs: 200,000 generated order records (symmetric KEKs: shared DEKs
 * for internal and personal values, a DEK per record for card data), and
 * the FHIR Patient NDJSON under $SF_DATA_DIR when present.
 *
 * Each figure is the best of REPEAT runs (default 1). Beside the wall
 * clock rates it prints rates per CPU-second of the process, which stay
 * meaningful on a machine that is busy with other work, and, for the
 * all-core runs, how many cores were kept busy on average.
 *
 * Usage: bench_records [RECORDS [REPEAT]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "sealflow/sealflow.h"
#include "sealflow/records.h"
#include "x25519.h"

static const char orders_policy[] =
    "version: 1\n"
    "classes:\n"
    "  public: {suite: none}\n"
    "  internal:\n"
    "    keys: [local:b-internal]\n"
    "    dek_scope: {type: shared, max_age: 1h, max_records: 100000,"
    " max_bytes: 64M}\n"
    "  confidential:\n"
    "    keys: [local:b-pii]\n"
    "    dek_scope: {type: shared, max_age: 1h, max_records: 100000,"
    " max_bytes: 64M}\n"
    "  restricted: {keys: [local:b-pci]}\n"
    "rules:\n"
    "  - {path: $.customer, class: confidential}\n"
    "  - {path: $.shipping_address, class: confidential}\n"
    "  - {path: $.payment.card, class: restricted}\n"
    "  - {path: $.order_id, class: public}\n"
    "  - {path: '$.items[*].sku', class: public}\n"
    "default: internal\n";

static const char fhir_policy[] =
    "version: 1\n"
    "classes:\n"
    "  public: {suite: none}\n"
    "  internal:\n"
    "    keys: [local:b-internal]\n"
    "    dek_scope: {type: shared, max_age: 1h, max_records: 100000,"
    " max_bytes: 64M}\n"
    "  restricted: {keys: [local:b-pci]}\n"
    "rules:\n"
    "  - {path: $.identifier, class: restricted}\n"
    "  - {path: $.name, class: restricted}\n"
    "  - {path: $.telecom, class: restricted}\n"
    "  - {path: $.address, class: restricted}\n"
    "  - {path: $.birthDate, class: restricted}\n"
    "  - {path: $.extension, class: restricted}\n"
    "  - {path: $.text, class: restricted}\n"
    "  - {path: $.resourceType, class: public}\n"
    "  - {path: $.meta, class: public}\n"
    "default: internal\n";

static unsigned repeat = 1;

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* A span of wall and process CPU time. */
struct span {
    double wall;
    double cpu;
};

static struct span span_start(void)
{
    struct span t = {now(), clock_s(CLOCK_PROCESS_CPUTIME_ID)};

    return t;
}

static struct span span_end(struct span t0)
{
    struct span t = {now() - t0.wall,
                     clock_s(CLOCK_PROCESS_CPUTIME_ID) - t0.cpu};

    return t;
}

/* Keeps the shorter of each time. */
static void span_best(struct span *best, struct span t, unsigned run)
{
    if (run == 0 || t.wall < best->wall) {
        best->wall = t.wall;
    }
    if (run == 0 || t.cpu < best->cpu) {
        best->cpu = t.cpu;
    }
}

/* Touches every page of the room reserved after b->len, so that the
 * kernel's page faults are not timed as sealing. */
static void prefault(struct sf_buf *b)
{
    memset(b->data + b->len, 0, b->cap - b->len);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_records: %s: %s\n", what, sf_last_error());
    exit(1);
}

static void gen_orders(struct sf_buf *out, unsigned n)
{
    char line[1024];

    for (unsigned i = 0; i < n; i++) {
        int len = snprintf(
            line, sizeof line,
            "{\"order_id\":\"ord-%08u\",\"placed_at\":\"2024-03-02T09:%02u:"
            "%02uZ\",\"customer\":{\"name\":\"Customer %u\",\"email\":"
            "\"c%u@example.com\",\"phone\":\"+44 20 7946 %04u\"},"
            "\"shipping_address\":{\"line1\":\"%u Rowan Court\",\"city\":"
            "\"Leeds\",\"postcode\":\"LS6 2AB\"},\"items\":[{\"sku\":"
            "\"SKU-%u\",\"qty\":%u,\"unit_price\":%u.%02u},{\"sku\":"
            "\"SKU-7\",\"qty\":1,\"unit_price\":9.90}],\"total\":%u.%02u,"
            "\"currency\":\"GBP\",\"payment\":{\"method\":\"card\",\"card\":"
            "{\"number\":\"4111%012u\",\"expiry\":\"09/27\"}}}\n",
            i, i % 60, (i / 60) % 60, i, i, i % 10000, i % 500, i % 977,
            1 + i % 3, i % 2000, i % 100, i % 5000, i % 100, i);

        if (sf_buf_append(out, line, (size_t)len) != SF_OK) {
            die("generate");
        }
    }
}

/* ---- the yajl limit ------------------------------------------------- */

static int y_null(void *g)
{
    return yajl_gen_null(g) == yajl_gen_status_ok;
}

static int y_bool(void *g, int v)
{
    return yajl_gen_bool(g, v) == yajl_gen_status_ok;
}

static int y_num(void *g, const char *s, size_t n)
{
    return yajl_gen_number(g, s, n) == yajl_gen_status_ok;
}

static int y_str(void *g, const unsigned char *s, size_t n)
{
    return yajl_gen_string(g, s, n) == yajl_gen_status_ok;
}

static int y_mo(void *g)
{
    return yajl_gen_map_open(g) == yajl_gen_status_ok;
}

static int y_mc(void *g)
{
    return yajl_gen_map_close(g) == yajl_gen_status_ok;
}

static int y_ao(void *g)
{
    return yajl_gen_array_open(g) == yajl_gen_status_ok;
}

static int y_ac(void *g)
{
    return yajl_gen_array_close(g) == yajl_gen_status_ok;
}

static const yajl_callbacks reformat = {y_null, y_bool, NULL, NULL, y_num,
                                        y_str, y_mo, y_str, y_mc, y_ao,
                                        y_ac};

/* Parses and re-serialises every line, one parser per record as the
 * sealer does. */
static struct span yajl_once(const struct sf_buf *in)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const uint8_t *p = in->data;
    const uint8_t *end = in->data + in->len;
    size_t bytes = 0;
    struct span t0 = span_start();
    struct span t;

    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        yajl_handle h = yajl_alloc(&reformat, NULL, g);
        const unsigned char *out;
        size_t out_len;

        yajl_gen_reset(g, NULL);
        if (yajl_parse(h, p, len) != yajl_status_ok ||
                yajl_complete_parse(h) != yajl_status_ok) {
            die("yajl");
        }
        yajl_gen_get_buf(g, &out, &out_len);
        bytes += out_len;
        yajl_gen_clear(g);
        yajl_free(h);
        p += len + 1;
    }
    yajl_gen_free(g);
    t = span_end(t0);
    if (bytes == 0) {
        die("yajl produced nothing");
    }
    return t;
}

static struct span yajl_limit(const struct sf_buf *in)
{
    struct span best = {0, 0};

    for (unsigned r = 0; r < repeat; r++) {
        span_best(&best, yajl_once(in), r);
    }
    return best;
}

/* ---- sealing and opening --------------------------------------------- */

struct result {
    struct span seal;
    struct span open;
    size_t sealed_len;
    struct sf_records_stats st;
};

static void run_once(struct sf_policy *p, struct sf_keystore *ks,
                     struct sf_identity *id, const struct sf_buf *in,
                     unsigned threads, struct result *r, unsigned run)
{
    struct sf_records_seal_opts so = {SF_RECORDS_JSONL, NULL, 0, threads,
                                      "bench"};
    struct sf_records_open_opts oo = {SF_RECORDS_JSONL, NULL, NULL, 0, true,
                                      threads, "bench"};
    struct sf_record_sealer *s = NULL;
    struct sf_record_opener *o = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    struct span t0;

    if (sf_record_sealer_new(p, ks, &so, &s) != SF_OK ||
            sf_record_opener_new(&oo, &id, 1, &o) != SF_OK) {
        die("setup");
    }
    /* Room for the output up front: the measure is sealing, not the
     * growth of an in-memory sink. */
    if (sf_buf_reserve(&sealed, in->len * 4) != SF_OK ||
            sf_buf_reserve(&back, in->len + 4096) != SF_OK) {
        die("reserve");
    }
    prefault(&sealed);
    prefault(&back);
    t0 = span_start();
    if (sf_records_seal_buffer(s, in->data, in->len, &sealed, &r->st) !=
            SF_OK) {
        die("seal");
    }
    span_best(&r->seal, span_end(t0), run);
    t0 = span_start();
    if (sf_records_open_buffer(o, sealed.data, sealed.len, &back, NULL) !=
            SF_OK) {
        die("open");
    }
    span_best(&r->open, span_end(t0), run);
    if (back.len != in->len || memcmp(back.data, in->data, in->len) != 0) {
        fprintf(stderr, "bench_records: round trip differs\n");
        exit(1);
    }
    r->sealed_len = sealed.len;
    sf_record_sealer_free(s);
    sf_record_opener_free(o);
    sf_buf_free(&sealed);
    sf_buf_free(&back);
}

static void run(struct sf_policy *p, struct sf_keystore *ks,
                struct sf_identity *id, const struct sf_buf *in,
                unsigned threads, struct result *r)
{
    for (unsigned k = 0; k < repeat; k++) {
        run_once(p, ks, id, in, threads, r, k);
    }
}

/* Bytes of the "_sealflow" members, to split the growth into metadata
 * and tokens, and the stanzas in them. */
static size_t meta_bytes(struct sf_policy *p, struct sf_keystore *ks,
                         const struct sf_buf *in, size_t *tokens,
                         size_t *stanzas)
{
    struct sf_records_seal_opts so = {SF_RECORDS_JSONL, NULL, 0, 0, "m"};
    struct sf_record_sealer *s = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_records_stats st;
    size_t total = 0;
    const char *q;

    *stanzas = 0;
    if (sf_record_sealer_new(p, ks, &so, &s) != SF_OK ||
            sf_records_seal_buffer(s, in->data, in->len, &sealed, &st) !=
                SF_OK || sf_buf_terminate(&sealed) != SF_OK) {
        die("meta");
    }
    for (q = strstr((const char *)sealed.data, ",\"_sealflow\":");
         q != NULL; q = strstr(q + 1, ",\"_sealflow\":")) {
        const char *nl = strchr(q, '\n');

        total += (size_t)(nl - q) - 1;
        /* A stanza is the only array in "_sealflow" that opens with a
         * string. */
        for (const char *k = strstr(q, "[\""); k != NULL && k < nl;
             k = strstr(k + 1, "[\"")) {
            (*stanzas)++;
        }
    }
    *tokens = st.tokens;
    sf_record_sealer_free(s);
    sf_buf_free(&sealed);
    return total;
}

/* "N records/s M MB/s" of a time, then the same per CPU-second. */
static void rates(double recs, double mb, struct span t)
{
    printf("%9.0f records/s %7.1f MB/s  (%6.0f records/cpu-s)", recs / t.wall,
           mb / t.wall, recs / t.cpu);
}

static void report(const char *name, struct sf_policy *p,
                   struct sf_keystore *ks, struct sf_identity *id,
                   const struct sf_buf *in)
{
    unsigned cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    struct span limit = yajl_limit(in);
    struct result one;
    struct result all;
    size_t tokens = 0;
    size_t stanzas = 0;
    size_t meta = meta_bytes(p, ks, in, &tokens, &stanzas);
    double mb = (double)in->len / 1e6;
    double recs;

    run(p, ks, id, in, 1, &one);
    run(p, ks, id, in, cores, &all);
    recs = (double)one.st.records;
    printf("\n== %s: %.0f records, %.1f MB, best of %u ==\n", name, recs, mb,
           repeat);
    printf("yajl parse+serialize, 1 core: ");
    rates(recs, mb, limit);
    printf(" (limit)\n");
    printf("seal, 1 core:                 ");
    rates(recs, mb, one.seal);
    printf("\n    ratio %.2f, per CPU-second %.2f (target >= 0.50; "
           ">= 40000 records/s)\n", limit.wall / one.seal.wall,
           limit.cpu / one.seal.cpu);
    printf("open, 1 core:                 ");
    rates(recs, mb, one.open);
    printf("\n    ratio %.2f, per CPU-second %.2f (target >= 0.50; "
           ">= 40000 records/s)\n", limit.wall / one.open.wall,
           limit.cpu / one.open.cpu);
    printf("seal, %u cores:                ", cores);
    rates(recs, mb, all.seal);
    printf(" %.1f cores busy\n", all.seal.cpu / all.seal.wall);
    printf("open, %u cores:                ", cores);
    rates(recs, mb, all.open);
    printf(" %.1f cores busy\n", all.open.cpu / all.open.wall);
    printf("size: %.1f tokens/record; %.1f bytes added per sealed field "
           "(target <= 40); %.1f bytes of \"_sealflow\" per record, %.1f "
           "per stanza with its class entry\n",
           (double)tokens / recs,
           (double)(one.sealed_len - in->len - meta) / (double)tokens,
           (double)meta / recs,
           stanzas > 0 ? (double)meta / (double)stanzas : 0.0);
}

/* ---- X25519 -------------------------------------------------------------- */

static double x25519_once(unsigned n)
{
    uint8_t a[SF_X25519_LEN];
    uint8_t pa[SF_X25519_LEN];
    uint8_t b[SF_X25519_LEN];
    uint8_t pb[SF_X25519_LEN];
    uint8_t shared[SF_X25519_LEN];
    double t0;

    if (sf_x25519_keygen(b, pb) != SF_OK) {
        die("x25519");
    }
    t0 = now();
    for (unsigned i = 0; i < n; i++) {
        if (sf_x25519_keygen(a, pa) != SF_OK ||
                sf_x25519_shared(a, pb, shared) != SF_OK) {
            die("x25519");
        }
    }
    return (double)n / (now() - t0);
}

/* Operations per second, the best of repeat runs. */
static double x25519_limit(unsigned n)
{
    double best = 0;

    for (unsigned r = 0; r < repeat; r++) {
        double v = x25519_once(n);

        best = v > best ? v : best;
    }
    return best;
}

static void x25519_report(unsigned n)
{
    struct sf_buf sec = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_buf in = SF_BUF_INIT;
    struct sf_policy *p = NULL;
    struct sf_identity *id = NULL;
    char yaml[512];
    double limit = x25519_limit(n);
    struct result r;

    if (sf_identity_generate_x25519(&sec, &pub) != SF_OK ||
            sf_identity_parse((const char *)sec.data, sec.len, &id) !=
                SF_OK) {
        die("identity");
    }
    snprintf(yaml, sizeof yaml, "version: 1\nclasses:\n  public: {suite: "
             "none}\n  partner: {keys: ['recipient:%s']}\nrules:\n  - {path: "
             "$.email, class: partner}\ndefault: public\n",
             (const char *)pub.data);
    if (sf_policy_load_buffer(yaml, strlen(yaml), "x", &p) != SF_OK) {
        die("policy");
    }
    for (unsigned i = 0; i < n; i++) {
        char line[96];
        int len = snprintf(line, sizeof line, "{\"id\":%u,\"email\":"
                           "\"c%u@example.com\"}\n", i, i);

        if (sf_buf_append(&in, line, (size_t)len) != SF_OK) {
            die("generate");
        }
    }
    run(p, NULL, id, &in, 1, &r);
    printf("\n== a DEK per record wrapped to one X25519 recipient, "
           "%u records, 1 core ==\n", n);
    printf("X25519 keygen+derive (OpenSSL): %8.0f /s (limit)\n", limit);
    printf("seal:                           %8.0f records/s  ratio %.2f "
           "(target >= 0.80)\n", (double)n / r.seal.wall,
           (double)n / r.seal.wall / limit);
    printf("open:                           %8.0f records/s\n",
           (double)n / r.open.wall);
    sf_policy_free(p);
    sf_identity_free(id);
    sf_buf_free(&sec);
    sf_buf_free(&pub);
    sf_buf_free(&in);
}

/* ---- main ---------------------------------------------------------------- */

static void fhir_report(struct sf_keystore *ks, struct sf_identity *id)
{
    const char *dir = getenv("SF_DATA_DIR");
    struct sf_buf one = SF_BUF_INIT;
    struct sf_buf in = SF_BUF_INIT;
    struct sf_policy *p = NULL;
    char path[1024];
    FILE *f;
    size_t got;
    uint8_t chunk[65536];

    snprintf(path, sizeof path, "%s/healthcare/fhir-bulk-ndjson/"
             "Patient.000.ndjson", dir != NULL ? dir : "../shared/data");
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("\nSKIP: FHIR Patient NDJSON (no %s)\n", path);
        return;
    }
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (sf_buf_append(&one, chunk, got) != SF_OK) {
            die("read");
        }
    }
    fclose(f);
    /* 120 patients are too few to time: repeat them to about 20 MB */
    while (in.len < 20u * 1000 * 1000) {
        if (sf_buf_append(&in, one.data, one.len) != SF_OK) {
            die("read");
        }
    }
    if (sf_policy_load_buffer(fhir_policy, sizeof fhir_policy - 1, "fhir",
                              &p) != SF_OK) {
        die("policy");
    }
    report("FHIR Patient NDJSON (repeated)", p, ks, id, &in);
    sf_policy_free(p);
    sf_buf_free(&one);
    sf_buf_free(&in);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
    char dir[] = "/tmp/sf-bench-records-XXXXXX";
    char db[64];
    struct sf_secret *root = NULL;
    struct sf_keystore *ks = NULL;
    struct sf_identity *id = NULL;
    struct sf_policy *p = NULL;
    struct sf_buf orders = SF_BUF_INIT;
    struct sf_key_info info;

    if (argc > 2) {
        repeat = (unsigned)strtoul(argv[2], NULL, 10);
        repeat = repeat < 1 ? 1 : repeat;
    }
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    snprintf(db, sizeof db, "%s/ks.db", dir);
    if (sf_secret_random(SF_ROOT_KEY_LEN, &root) != SF_OK ||
            sf_keystore_create(db, root, &ks) != SF_OK ||
            sf_keystore_create_key(ks, "b-internal", SF_KEY_AES256_GCM96,
                                   &info) != SF_OK ||
            sf_keystore_create_key(ks, "b-pii", SF_KEY_AES256_GCM96,
                                   &info) != SF_OK ||
            sf_keystore_create_key(ks, "b-pci", SF_KEY_AES256_GCM96,
                                   &info) != SF_OK ||
            sf_identity_keystore(ks, &id) != SF_OK ||
            sf_policy_load_buffer(orders_policy, sizeof orders_policy - 1,
                                  "orders", &p) != SF_OK) {
        die("setup");
    }
    gen_orders(&orders, n);
    report("generated orders", p, ks, id, &orders);
    fhir_report(ks, id);
    x25519_report(20000);
    sf_policy_free(p);
    sf_identity_free(id);
    sf_keystore_close(ks);
    sf_secret_free(root);
    sf_buf_free(&orders);
    unlink(db);
    rmdir(dir);
    return 0;
}
