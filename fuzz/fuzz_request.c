/*
 * Fuzz target for what sealflowd parses from the network and from its
 * config file: request routing (method and raw path), JSON bodies, batch
 * items, numbers, booleans, durations, "vault:vN:" ciphertexts and the
 * associated data built from them, and config text.
 *
 * Input: "METHOD PATH\n" then the body. The daemon's parsing modules are
 * compiled into this target directly, since the daemon is a program and
 * not a library.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/daemon/config.c"
#include "../src/daemon/route.c"
#include "../src/daemon/transit_input.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks a routed request: a key name that passed must obey the grammar,
 * and a rejected one must carry a reason. */
static void check_route(const struct sfd_route *r)
{
    if (r->has_bad_key && r->error[0] == '\0') {
        abort();
    }
    if (r->key[0] != '\0' && !r->has_bad_key &&
            sf_key_name_check(r->key) != SF_OK) {
        abort();
    }
}

static void route(const uint8_t *data, size_t len)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE",
                                          "LIST", "HEAD", "PATCH"};
    char line[512];
    char *space;
    struct sfd_route r;

    if (len >= sizeof line) {
        len = sizeof line - 1;
    }
    memcpy(line, data, len);
    line[len] = '\0';
    space = strchr(line, ' ');
    if (space == NULL) {
        return;
    }
    *space = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        bool list = strcmp(line, methods[i]) == 0 && i == 0;

        sfd_route_parse("transit", sfd_method_parse(methods[i], list),
                        space + 1, &r);
        check_route(&r);
    }
}

/* A ciphertext that formats must parse back to the same bytes. */
static void check_ciphertext(const char *text)
{
    struct sf_buf raw = SF_BUF_INIT;
    struct sf_buf again = SF_BUF_INIT;
    struct sf_buf back = SF_BUF_INIT;
    uint32_t v = 0;
    uint32_t v2 = 0;

    if (sfd_ciphertext_parse(text, &v, &raw) == SF_OK) {
        if (sfd_ciphertext_format(v, raw.data, raw.len, &again) != SF_OK ||
                sfd_ciphertext_parse((const char *)again.data, &v2,
                                     &back) != SF_OK ||
                v2 != v || back.len != raw.len ||
                (raw.len > 0 && memcmp(back.data, raw.data, raw.len) != 0)) {
            abort();
        }
    }
    sf_buf_free(&raw);
    sf_buf_free(&again);
    sf_buf_free(&back);
}

static void items(json_t *body, const char *field)
{
    struct sfd_batch b;
    char err[256];

    if (sfd_items_parse(body, field, 1000, &b, err, sizeof err) != SF_OK) {
        return;
    }
    for (size_t i = 0; i < b.count; i++) {
        const struct sfd_item *it = &b.items[i];
        struct sf_buf aad = SF_BUF_INIT;
        const char *c = it->context == NULL ? "" : it->context;

        if (it->value != NULL) {
            check_ciphertext(it->value);
        }
        if (sfd_aad_build((const uint8_t *)c, strlen(c), NULL, 0, &aad) !=
            SF_OK) {
            abort();
        }
        sf_buf_free(&aad);
    }
    sfd_batch_free(&b);
}

static void body(const uint8_t *data, size_t len)
{
    json_t *doc = NULL;
    char err[256];
    uint64_t v;
    bool has;
    bool on;

    if (sfd_body_parse(data, len, &doc, err, sizeof err) != SF_OK) {
        return;
    }
    items(doc, "plaintext");
    items(doc, "ciphertext");
    /* Readers never report a value they refused, nor one out of range. */
    if (sfd_get_uint(doc, "key_version", UINT32_MAX, &has, &v) != SF_OK
            ? has : (has && v > UINT32_MAX)) {
        abort();
    }
    if (sfd_get_bool(doc, "deletion_allowed", &has, &on) != SF_OK && has) {
        abort();
    }
    if (sfd_get_duration(doc, "auto_rotate_period", &has, &v) != SF_OK &&
            (has || v != 0)) {
        abort();
    }
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head = nl == NULL ? size : (size_t)(nl - data);
    struct sfd_config cfg;
    char err[256];

    route(data, head);
    if (nl != NULL) {
        body(nl + 1, size - head - 1);
    }
    sfd_config_defaults(&cfg);
    if (sfd_config_parse(&cfg, (const char *)data, size, "fuzz", err,
                         sizeof err) == SF_OK &&
            (cfg.batch_max == 0 || cfg.mount[0] == '\0' ||
             strchr(cfg.mount, '/') != NULL)) {
        abort();
    }
    return 0;
}
