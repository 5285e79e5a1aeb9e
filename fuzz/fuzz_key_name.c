/*
 * Fuzz target for the key name grammar (sf_key_name_check), which every
 * entry point applies to names from the CLI, policy files and daemon
 * requests before they reach the keystore or a URL, and for key type
 * names (sf_key_type_parse). An accepted name must obey the rules an
 * independent check can state simply; a refusal must explain itself in
 * printable ASCII without echoing the name's raw bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealflow/keystore.h"
#include "sealflow/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_printable(const char *s)
{
    for (size_t i = 0; s[i] != '\0'; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static bool ascii_ok(unsigned char c)
{
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '@' || c == '/';
}

/* What every accepted name satisfies, checked without the library's
 * code: length, allowed ASCII, no C0/C1 controls, bytes that can start
 * or continue UTF-8, and segments that are neither empty, "." nor "..". */
static void check_accepted(const char *name)
{
    size_t n = strlen(name);
    size_t seg = 0;

    if (n < 1 || n > SF_KEY_NAME_MAX) {
        __builtin_trap();
    }
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (i < n &&
            (!ascii_ok(c) || c == 0xc0 || c == 0xc1 || c >= 0xf5 ||
             (c == 0xc2 && i + 1 < n && (unsigned char)name[i + 1] < 0xa1))) {
            __builtin_trap();
        }
        if (i < n && c != '/') {
            continue;
        }
        if (i == seg || (i - seg == 1 && name[seg] == '.') ||
            (i - seg == 2 && name[seg] == '.' && name[seg + 1] == '.')) {
            __builtin_trap();
        }
        seg = i + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1);
    enum sf_key_type type;
    sf_status rc;

    if (name == NULL) {
        return 0;
    }
    memcpy(name, data, size);
    name[size] = '\0';

    sf_clear_error();
    rc = sf_key_name_check(name);
    if (rc == SF_OK) {
        check_accepted(name);
    } else if (rc != SF_ERR_KEY_NAME || !is_printable(sf_last_error()) ||
               strstr(sf_last_error(), "invalid key name: ") == NULL) {
        __builtin_trap();
    }

    rc = sf_key_type_parse(name, &type);
    if (rc == SF_OK) {
        if (sf_key_type_name(type) == NULL ||
            strcmp(sf_key_type_name(type), name) != 0) {
            __builtin_trap();
        }
    } else if (rc != SF_ERR_UNSUPPORTED || !is_printable(sf_last_error())) {
        __builtin_trap();
    }
    free(name);
    return 0;
}
