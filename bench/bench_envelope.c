/*
 * Envelope throughput, as a ratio to the limit measured in the same run.
 *
 * The limit is `openssl speed -elapsed -evp <cipher> -bytes 65536`: the raw
 * AEAD rate of this machine on one core. sealflow seals and opens a
 * generated stream (default 1 GiB) in memory, output discarded, so what is
 * measured is the envelope and its crypto, not the disk. Each suite runs
 * with one thread and with every core.
 *
 * Usage: bench_envelope [SIZE_MIB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sealflow/sealflow.h"

#define CHUNK (1024 * 1024)

struct run {
    double seal_s;
    double open_s;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses the last figure of `openssl speed`, in 1000s of bytes/s. */
static double openssl_speed(const char *cipher)
{
    char cmd[256];
    char line[512];
    double kbps = 0;
    FILE *p;

    snprintf(cmd, sizeof cmd, "openssl speed -elapsed -seconds 3 -evp %s "
             "-bytes 65536 2>/dev/null", cipher);
    p = popen(cmd, "r");
    if (p == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, p) != NULL) {
        char *k = strrchr(line, 'k');
        char *sp;

        if (k == NULL || k[1] != '\n') {
            continue;
        }
        *k = '\0';
        sp = strrchr(line, ' ');
        if (sp != NULL) {
            kbps = strtod(sp + 1, NULL);
        }
    }
    pclose(p);
    return kbps * 1000.0 / 1e6; /* MB/s */
}

static int fail(const char *what, sf_status rc)
{
    fprintf(stderr, "bench_envelope: %s: %s (%s)\n", what,
            sf_status_str(rc), sf_last_error());
    return 1;
}

/*
 * Seals size_mib MiB of generated data chunk by chunk and feeds each sealed
 * chunk straight to an opener, timing the two sides separately. Memory
 * stays bounded by a few chunks whatever the size.
 */
static int run_once(enum sf_suite suite, unsigned threads, size_t size_mib,
                    struct sf_recipient *rcpt, struct sf_identity *id,
                    struct run *r)
{
    struct sf_seal_opts opts = {suite, 0, NULL, 0, threads};
    struct sf_sealer *s = NULL;
    struct sf_opener *o = NULL;
    struct sf_buf sealed = SF_BUF_INIT;
    struct sf_buf plain = SF_BUF_INIT;
    uint8_t *data = malloc(CHUNK);
    sf_status rc = SF_ERR_NOMEM;
    double t;

    memset(r, 0, sizeof *r);
    if (data == NULL) {
        goto out;
    }
    for (size_t i = 0; i < CHUNK; i++) {
        data[i] = (uint8_t)(i * 131u + 7u);
    }
    rc = sf_sealer_new(&opts, &rcpt, 1, &s);
    if (rc == SF_OK) {
        rc = sf_opener_new(&id, 1, &o);
    }
    for (size_t i = 0; rc == SF_OK && i <= size_mib; i++) {
        t = now();
        rc = i < size_mib ? sf_sealer_update(s, data, CHUNK, &sealed)
                          : sf_sealer_final(s, &sealed);
        r->seal_s += now() - t;
        if (rc != SF_OK) {
            break;
        }
        t = now();
        rc = sf_opener_update(o, sealed.data, sealed.len, &plain);
        if (rc == SF_OK && i == size_mib) {
            rc = sf_opener_final(o, &plain);
        }
        r->open_s += now() - t;
        sealed.len = 0;
        plain.len = 0;
    }

out:
    if (rc != SF_OK) {
        fail("seal/open", rc);
    }
    sf_sealer_free(s);
    sf_opener_free(o);
    sf_buf_free(&sealed);
    sf_buf_free(&plain);
    free(data);
    return rc == SF_OK ? 0 : 1;
}

static int bench_suite(const char *label, const char *ossl_name,
                       enum sf_suite suite, size_t size_mib,
                       struct sf_recipient *rcpt, struct sf_identity *id)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double limit = openssl_speed(ossl_name);
    double mb = (double)size_mib * CHUNK / 1e6;
    struct run one;
    struct run all;

    if (run_once(suite, 1, size_mib, rcpt, id, &one) != 0 ||
            run_once(suite, (unsigned)(cores > 1 ? cores : 1), size_mib,
                     rcpt, id, &all) != 0) {
        return 1;
    }
    printf("%-18s openssl speed (1 core, 64 KiB): %8.0f MB/s\n", label, limit);
    printf("%-18s seal 1 thread:  %8.0f MB/s  ratio %.2f (target >= 0.90)\n",
           label, mb / one.seal_s, mb / one.seal_s / limit);
    printf("%-18s open 1 thread:  %8.0f MB/s  ratio %.2f (target >= 0.90)\n",
           label, mb / one.open_s, mb / one.open_s / limit);
    printf("%-18s seal %ld threads: %7.0f MB/s  ratio %.2f (target >= 1.60)\n",
           label, cores, mb / all.seal_s, mb / all.seal_s / limit);
    printf("%-18s open %ld threads: %7.0f MB/s  ratio %.2f (target >= 1.60)\n",
           label, cores, mb / all.open_s, mb / all.open_s / limit);
    return 0;
}

int main(int argc, char **argv)
{
    size_t size_mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    struct sf_buf secret = SF_BUF_INIT;
    struct sf_buf pub = SF_BUF_INIT;
    struct sf_recipient *rcpt = NULL;
    struct sf_identity *id = NULL;
    struct rusage ru;
    sf_status rc;
    int status = 1;

    rc = sf_identity_generate_x25519(&secret, &pub);
    if (rc == SF_OK) {
        rc = sf_recipient_parse((const char *)pub.data, pub.len, &rcpt);
    }
    if (rc == SF_OK) {
        rc = sf_identity_parse((const char *)secret.data, secret.len, &id);
    }
    if (rc != SF_OK) {
        fail("key setup", rc);
        goto out;
    }
    printf("envelope throughput, %zu MiB generated stream, output "
           "discarded\n", size_mib);
    if (bench_suite("AES-256-GCM", "aes-256-gcm", SF_SUITE_AES256GCM,
                    size_mib, rcpt, id) != 0 ||
            bench_suite("ChaCha20-Poly1305", "chacha20-poly1305",
                        SF_SUITE_CHACHA20POLY1305, size_mib, rcpt, id) != 0) {
        goto out;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("bench_envelope peak RSS: %.1f MiB (1 MiB chunks in and out)\n",
           (double)ru.ru_maxrss / 1024.0);
    status = 0;

out:
    sf_recipient_free(rcpt);
    sf_identity_free(id);
    sf_buf_free(&secret);
    sf_buf_free(&pub);
    return status;
}
