/*
 * Scalar values of a policy: names, durations, sizes, counts, suites and
 * key references. Each parser reports errors at the value's position and
 * says what a good value looks like.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "policy_internal.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"

#define DURATION_MAX 3155760000ull /* 100 years in seconds */
#define SIZE_VALUE_MAX (1ull << 60)

static bool is_alnum_ascii(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

sf_status sf_pval_name(const struct sf_pctx *c, const struct sf_ynode *n,
                       const char *what)
{
    sf_status rc = sf_expect_text(c, n, what);

    if (rc != SF_OK) {
        return rc;
    }
    if (n->len > SF_POLICY_NAME_MAX) {
        return sf_pfail_at(c, n, "%s '%.40s...' is longer than %d "
                           "characters", what, n->value,
                           SF_POLICY_NAME_MAX);
    }
    for (size_t i = 0; i < n->len; i++) {
        int ch = (unsigned char)n->value[i];

        if (is_alnum_ascii(ch) ||
                (i > 0 && (ch == '-' || ch == '_' || ch == '.'))) {
            continue;
        }
        return sf_pfail_at(c, n, "%s '%s' is not a valid name: use ASCII "
                           "letters, digits, '-', '_' and '.', starting "
                           "with a letter or digit", what, n->value);
    }
    return SF_OK;
}

/* Reads decimal digits at s (no sign); false on overflow of max. */
static bool read_number(const char **s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!isdigit((unsigned char)**s)) {
        return false;
    }
    while (isdigit((unsigned char)**s)) {
        uint64_t d = (uint64_t)(**s - '0');

        if (v > (max - d) / 10) {
            return false;
        }
        v = v * 10 + d;
        (*s)++;
    }
    *out = v;
    return true;
}

static uint64_t duration_unit(char u)
{
    switch (u) {
    case 's':
        return 1;
    case 'm':
        return 60;
    case 'h':
        return 3600;
    case 'd':
        return 86400;
    case 'w':
        return 604800;
    default:
        return 0;
    }
}

sf_status sf_pval_duration(const struct sf_pctx *c, const struct sf_ynode *n,
                           const char *what, uint64_t *out)
{
    const char *s;
    uint64_t total = 0;
    sf_status rc = sf_expect_text(c, n, what);

    if (rc != SF_OK) {
        return rc;
    }
    for (s = n->value; *s != '\0';) {
        uint64_t v;
        uint64_t unit;

        if (!read_number(&s, DURATION_MAX, &v) ||
                (unit = duration_unit(*s)) == 0) {
            return sf_pfail_at(c, n, "bad %s '%s': expected a number and "
                               "a unit (s, m, h, d or w), e.g. 90s, 1h, "
                               "30d or 1h30m", what, n->value);
        }
        s++;
        if (v > (DURATION_MAX - total) / unit) {
            return sf_pfail_at(c, n, "%s '%s' is longer than 100 years",
                               what, n->value);
        }
        total += v * unit;
    }
    if (total == 0) {
        return sf_pfail_at(c, n, "%s must be longer than 0s", what);
    }
    *out = total;
    return SF_OK;
}

sf_status sf_pval_size(const struct sf_pctx *c, const struct sf_ynode *n,
                       const char *what, uint64_t *out)
{
    static const char *const units[] = {"", "B", "K", "KiB", "M", "MiB",
                                        "G", "GiB", "T", "TiB"};
    static const unsigned shifts[] = {0, 0, 10, 10, 20, 20, 30, 30, 40, 40};
    const char *s;
    uint64_t v;
    sf_status rc = sf_expect_text(c, n, what);

    if (rc != SF_OK) {
        return rc;
    }
    s = n->value;
    if (read_number(&s, SIZE_VALUE_MAX, &v)) {
        for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
            if (strcmp(s, units[i]) != 0) {
                continue;
            }
            if (v > (SIZE_VALUE_MAX >> shifts[i])) {
                break;
            }
            if (v == 0) {
                return sf_pfail_at(c, n, "%s must be more than 0", what);
            }
            *out = v << shifts[i];
            return SF_OK;
        }
    }
    return sf_pfail_at(c, n, "bad %s '%s': expected a number of bytes, "
                       "optionally followed by K, M, G or T (powers of "
                       "1024), e.g. 64M", what, n->value);
}

sf_status sf_pval_count(const struct sf_pctx *c, const struct sf_ynode *n,
                        const char *what, uint64_t *out)
{
    const char *s;
    uint64_t v;
    sf_status rc = sf_expect_text(c, n, what);

    if (rc != SF_OK) {
        return rc;
    }
    s = n->value;
    if (!read_number(&s, UINT64_MAX, &v) || *s != '\0' ||
            (n->value[0] == '0' && n->len > 1)) {
        return sf_pfail_at(c, n, "bad %s '%s': expected a whole number "
                           "without leading zeros, e.g. 100000", what,
                           n->value);
    }
    if (v == 0) {
        return sf_pfail_at(c, n, "%s must be more than 0", what);
    }
    *out = v;
    return SF_OK;
}

static bool contains_ci(const char *s, const char *word)
{
    size_t wl = strlen(word);

    for (; *s != '\0'; s++) {
        if (strncasecmp(s, word, wl) == 0) {
            return true;
        }
    }
    return false;
}

/* true for the names of modes that encrypt without authenticating. */
static bool is_unauthenticated(const char *v)
{
    static const char *const modes[] = {"cbc", "ctr", "ecb", "cfb", "ofb",
                                        "xts"};

    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        if (contains_ci(v, modes[i])) {
            return true;
        }
    }
    return strcasecmp(v, "chacha20") == 0 || strcasecmp(v, "aes-256") == 0;
}

sf_status sf_pval_suite(const struct sf_pctx *c, const struct sf_ynode *n,
                        const char *class_name, enum sf_policy_suite *out)
{
    static const char *const names[] = {"aes-256-gcm", "chacha20-poly1305",
                                        "none"};
    static const enum sf_policy_suite values[] = {
        SF_POLICY_SUITE_AES256GCM, SF_POLICY_SUITE_CHACHA20POLY1305,
        SF_POLICY_SUITE_NONE};
    const char *near;
    sf_status rc = sf_expect_text(c, n, "suite");

    if (rc != SF_OK) {
        return rc;
    }
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(n->value, names[i]) != 0) {
            continue;
        }
        if (values[i] == SF_POLICY_SUITE_NONE &&
                strcmp(class_name, "public") != 0) {
            return sf_pfail_at(c, n, "suite 'none' is refused for class "
                               "'%s': its values would be neither secret "
                               "nor protected against undetected "
                               "tampering; only the class 'public' may "
                               "use none", class_name);
        }
        *out = values[i];
        return SF_OK;
    }
    if (is_unauthenticated(n->value)) {
        return sf_pfail_at(c, n, "suite '%s' is refused: unauthenticated "
                           "modes (CBC, CTR, ECB) allow undetected "
                           "tampering; use aes-256-gcm or "
                           "chacha20-poly1305", n->value);
    }
    near = sf_nearest(n->value, names, 2);
    for (size_t i = 0; i < 3 && near == NULL; i++) {
        if (strcasecmp(n->value, names[i]) == 0) {
            near = names[i];
        }
    }
    if (near != NULL) {
        return sf_pfail_at(c, n, "unknown suite '%s'; did you mean '%s'?",
                           n->value, near);
    }
    return sf_pfail_at(c, n, "unknown suite '%s'; expected aes-256-gcm or "
                       "chacha20-poly1305%s", n->value,
                       strcmp(class_name, "public") == 0 ? " or none" : "");
}

/* ---- key references -------------------------------------------------- */

static sf_status check_key_name(const struct sf_pctx *c,
                                const struct sf_ynode *n, const char *name)
{
    char why[300];

    if (sf_key_name_check(name) == SF_OK) {
        return SF_OK;
    }
    /* Copy first: sf_pfail rewrites the buffer sf_last_error() returns. */
    snprintf(why, sizeof why, "%s", sf_last_error());
    return sf_pfail_at(c, n, "key reference '%s': %s", n->value, why);
}

static bool is_bech32_char(int ch)
{
    static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    return ch != '\0' && strchr(charset, ch) != NULL;
}

/*
 * Checks the form of a recipient string.
 * Limitation: only the form is checked here (prefix, base64url length,
 * bech32 characters, PEM markers); the key itself is validated when a
 * keyring loads it, so a damaged key is reported then.
 */
static sf_status check_recipient(const struct sf_pctx *c,
                                 const struct sf_ynode *n, const char *v)
{
    static const char x25519[] = "sealflow-x25519:";
    struct sf_buf raw = SF_BUF_INIT;
    bool ok = false;

    if (strncmp(v, x25519, sizeof x25519 - 1) == 0) {
        const char *b = v + sizeof x25519 - 1;

        ok = sf_b64_decode(SF_B64_URL, b, strlen(b), &raw) == SF_OK &&
             raw.len == 32;
        sf_buf_free(&raw);
        if (!ok) {
            return sf_pfail_at(c, n, "recipient '%.60s' is not a valid "
                               "sealflow-x25519 key: expected 43 base64url "
                               "characters (32 bytes)", v);
        }
        return SF_OK;
    }
    if (strncmp(v, "age1", 4) == 0) {
        ok = strlen(v) == 62;
        for (size_t i = 4; ok && v[i] != '\0'; i++) {
            ok = is_bech32_char((unsigned char)v[i]);
        }
        if (!ok) {
            return sf_pfail_at(c, n, "recipient '%.60s' is not a valid age "
                               "recipient (age1 and 58 bech32 "
                               "characters)", v);
        }
        return SF_OK;
    }
    if (strstr(v, "-----BEGIN PUBLIC KEY-----") != NULL &&
            strstr(v, "-----END PUBLIC KEY-----") != NULL) {
        return SF_OK;
    }
    return sf_pfail_at(c, n, "unknown recipient form '%.60s'; expected "
                       "sealflow-x25519:<base64url>, an age1... recipient "
                       "or a PEM public key", v);
}

static char *join_base_dir(const struct sf_pctx *c, const char *path)
{
    size_t bl;
    size_t pl = strlen(path);
    char *out;

    if (c->base_dir == NULL || path[0] == '/') {
        return sf_arena_strndup(&c->pol->arena, path, pl);
    }
    bl = strlen(c->base_dir);
    out = sf_arena_alloc(&c->pol->arena, bl + pl + 2);
    if (out != NULL) {
        memcpy(out, c->base_dir, bl);
        if (bl == 0 || out[bl - 1] != '/') {
            out[bl++] = '/';
        }
        memcpy(out + bl, path, pl);
    }
    return out;
}

static const char *const ref_kinds[] = {"local", "recipient",
                                        "recipient-file", "kms", "hsm"};

/* Resolves the "KIND:" prefix of a reference; prefix_len 0 means a bare
 * local name. */
static sf_status ref_kind(const struct sf_pctx *c, const struct sf_ynode *n,
                          size_t prefix_len, enum sf_key_ref_kind *kind)
{
    static const enum sf_key_ref_kind kinds[] = {
        SF_KEY_REF_LOCAL, SF_KEY_REF_RECIPIENT, SF_KEY_REF_RECIPIENT_FILE,
        SF_KEY_REF_KMS, SF_KEY_REF_HSM};
    char prefix[40];
    const char *near;

    *kind = SF_KEY_REF_LOCAL;
    if (prefix_len == 0) {
        return SF_OK;
    }
    for (size_t i = 0; i < 5; i++) {
        if (strlen(ref_kinds[i]) == prefix_len &&
                strncmp(n->value, ref_kinds[i], prefix_len) == 0) {
            *kind = kinds[i];
            return SF_OK;
        }
    }
    snprintf(prefix, sizeof prefix, "%.*s", (int)prefix_len, n->value);
    near = sf_nearest(prefix, ref_kinds, 5);
    return sf_pfail_at(c, n, "unknown key reference kind '%s:'%s%s%s; "
                       "expected local:, recipient:, recipient-file:, "
                       "kms: or hsm:", prefix, near ? " (did you mean '" : "",
                       near ? near : "", near ? ":'?)" : "");
}

sf_status sf_pval_key_ref(const struct sf_pctx *c, const struct sf_ynode *n,
                          struct sf_key_ref *out)
{
    const char *colon;
    const char *v;
    sf_status rc = sf_expect_text(c, n, "a key reference");

    if (rc != SF_OK) {
        return rc;
    }
    colon = strchr(n->value, ':');
    rc = ref_kind(c, n, colon != NULL ? (size_t)(colon - n->value) : 0,
                  &out->kind);
    if (rc != SF_OK) {
        return rc;
    }
    v = colon != NULL ? colon + 1 : n->value;
    if (*v == '\0') {
        return sf_pfail_at(c, n, "key reference '%s' names nothing after "
                           "the ':'", n->value);
    }
    if (out->kind == SF_KEY_REF_RECIPIENT) {
        rc = check_recipient(c, n, v);
    } else if (out->kind != SF_KEY_REF_RECIPIENT_FILE) {
        rc = check_key_name(c, n, v);
    }
    if (rc != SF_OK) {
        return rc;
    }
    out->text = sf_arena_strndup(&c->pol->arena, n->value, n->len);
    out->value = out->kind == SF_KEY_REF_RECIPIENT_FILE
                     ? join_base_dir(c, v)
                     : sf_arena_strndup(&c->pol->arena, v, strlen(v));
    out->line = n->line;
    out->column = n->column;
    return out->value != NULL && out->text != NULL ? SF_OK : SF_ERR_NOMEM;
}

sf_status sf_pval_recipient(const struct sf_pctx *c,
                            const struct sf_ynode *n, struct sf_key_ref *out)
{
    sf_status rc = sf_expect_text(c, n, "a partner's recipient");

    if (rc != SF_OK) {
        return rc;
    }
    if (strncmp(n->value, "recipient:", 10) != 0 &&
            strncmp(n->value, "recipient-file:", 15) != 0) {
        const char *colon = strchr(n->value, ':');
        size_t plen = colon != NULL ? (size_t)(colon - n->value) : 0;

        for (size_t i = 0; i < 5; i++) {
            if (strlen(ref_kinds[i]) == plen &&
                    strncmp(n->value, ref_kinds[i], plen) == 0) {
                return sf_pfail_at(c, n, "a partner's recipient is a "
                                   "public key: write recipient:KEY, "
                                   "recipient-file:PATH or the key "
                                   "itself, not '%s'", n->value);
            }
        }
        rc = check_recipient(c, n, n->value);
        if (rc != SF_OK) {
            return rc;
        }
        out->kind = SF_KEY_REF_RECIPIENT;
        out->text = sf_arena_strndup(&c->pol->arena, n->value, n->len);
        out->value = out->text;
        out->line = n->line;
        out->column = n->column;
        return out->text != NULL ? SF_OK : SF_ERR_NOMEM;
    }
    return sf_pval_key_ref(c, n, out);
}
