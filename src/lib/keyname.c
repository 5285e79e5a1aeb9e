/*
 * Key names and key type names: the one grammar every entry point (CLI,
 * policy, daemon, keystore) enforces. The exact rule is in
 * docs/KEYSTORE.md, "Key names".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "utf8.h"
#include "sealflow/keystore.h"

#define ALLOWED_TEXT                                                           \
    "a key name is 1 to 128 bytes of UTF-8 made of ASCII letters and "         \
    "digits, '-', '_', '.', '@', '/' and non-ASCII letters; '/' "              \
    "separates segments, which may not be empty, '.' or '..'"

struct type_entry {
    enum sf_key_type type;
    const char *name;
};

static const struct type_entry types[] = {
    {SF_KEY_AES256_GCM96, "aes256-gcm96"},
    {SF_KEY_CHACHA20_POLY1305, "chacha20-poly1305"},
    {SF_KEY_X25519, "x25519"},
    {SF_KEY_RSA_3072, "rsa-3072"},
    {SF_KEY_RSA_4096, "rsa-4096"},
};

#define TYPE_COUNT (sizeof types / sizeof types[0])

const char *sf_key_type_name(enum sf_key_type t)
{
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        if (types[i].type == t) {
            return types[i].name;
        }
    }
    return NULL;
}

/* true when s is short printable ASCII, so echoing it into an error
 * message cannot smuggle terminal escapes or megabytes of text. */
static bool is_echo_safe(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < 40; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return false;
        }
    }
    return s[i] == '\0';
}

sf_status sf_key_type_parse(const char *name, enum sf_key_type *out)
{
    if (name == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        if (strcmp(types[i].name, name) == 0) {
            *out = types[i].type;
            return SF_OK;
        }
    }
    return sf_fail(SF_ERR_UNSUPPORTED,
                   "unknown key type '%s'; accepted types: aes256-gcm96, "
                   "chacha20-poly1305, x25519, rsa-3072, rsa-4096",
                   is_echo_safe(name) ? name : "?");
}

bool sf_key_type_is_asymmetric(enum sf_key_type t)
{
    return t == SF_KEY_X25519 || t == SF_KEY_RSA_3072 || t == SF_KEY_RSA_4096;
}

/* The "non-ASCII letter" rule (no Unicode tables here): any code point
 * from U+00A1 up, except the space, separator, format and special ranges
 * listed. Surrogates never get here: sf_utf8_next refuses them. */
static bool is_non_ascii_letter(uint32_t cp)
{
    if (cp < 0xa1) {
        return false;
    }
    if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
        (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff ||
        (cp >= 0xfff0 && cp <= 0xffff)) {
        return false;
    }
    return true;
}

static bool is_ascii_allowed(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '@' || c == '/';
}

static sf_status name_fail(const char *why)
{
    return sf_fail(SF_ERR_KEY_NAME, "invalid key name: %s; %s", why,
                   ALLOWED_TEXT);
}

/* Checks one character at byte i; writes the reason into why on
 * failure and returns 0, else returns the character's length. */
static size_t check_char(const uint8_t *s, size_t n, size_t i, char *why,
                         size_t why_len)
{
    uint32_t cp = 0;
    size_t len = sf_utf8_next(s + i, n - i, &cp);

    if (len == 0) {
        snprintf(why, why_len, "not valid UTF-8 at byte %zu", i);
    } else if (cp < 0x20 || cp == 0x7f) {
        snprintf(why, why_len, "control character at byte %zu", i);
    } else if (cp == ' ') {
        snprintf(why, why_len, "space at byte %zu", i);
    } else if (cp < 0x80 && !is_ascii_allowed((uint8_t)cp)) {
        snprintf(why, why_len, "character '%c' at byte %zu", (char)cp, i);
    } else if (cp >= 0x80 && !is_non_ascii_letter(cp)) {
        snprintf(why, why_len,
                 "U+%04X (a space, control or format character) at byte %zu",
                 (unsigned)cp, i);
    } else {
        return len;
    }
    return 0;
}

/* Checks the '/'-separated segments: none empty, none "." or "..". */
static sf_status check_segments(const char *name, size_t n)
{
    size_t start = 0;

    if (name[0] == '/') {
        return name_fail("leading '/'");
    }
    if (name[n - 1] == '/') {
        return name_fail("trailing '/'");
    }
    for (size_t i = 0; i <= n; i++) {
        size_t seg;

        if (i < n && name[i] != '/') {
            continue;
        }
        seg = i - start;
        if (seg == 0) {
            return name_fail("empty segment ('//')");
        }
        if ((seg == 1 && name[start] == '.') ||
            (seg == 2 && name[start] == '.' && name[start + 1] == '.')) {
            return name_fail("'.' or '..' as a name or segment");
        }
        start = i + 1;
    }
    return SF_OK;
}

sf_status sf_key_name_check(const char *name)
{
    const uint8_t *s = (const uint8_t *)name;
    char why[96];
    size_t n;

    if (name == NULL) {
        return name_fail("no name given");
    }
    n = strnlen(name, SF_KEY_NAME_MAX + 1);
    if (n == 0) {
        return name_fail("the name is empty");
    }
    if (n > SF_KEY_NAME_MAX) {
        return name_fail("longer than 128 bytes");
    }
    for (size_t i = 0; i < n;) {
        size_t len = check_char(s, n, i, why, sizeof why);

        if (len == 0) {
            return name_fail(why);
        }
        i += len;
    }
    return check_segments(name, n);
}
