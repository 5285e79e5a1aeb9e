/*
 * Fuzz target for the root key file parser (rootkey_parse, behind
 * sf_root_key_load): the file is read from disk, so its bytes are
 * untrusted. Whatever parses must be a 32-byte key from text that starts
 * with the header line and holds no NUL byte; whatever fails must leave
 * no secret and a printable explanation.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rootkey.h"
#include "sealflow/keystore.h"
#include "sealflow/secret.h"
#include "sealflow/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER "sealflow root key v1"

/* sf_last_error() must be printable ASCII: it is shown on terminals. */
static void check_error_text(void)
{
    const char *e = sf_last_error();

    if (e[0] == '\0') {
        __builtin_trap();
    }
    for (size_t i = 0; e[i] != '\0'; i++) {
        if ((unsigned char)e[i] < 0x20 || (unsigned char)e[i] > 0x7e) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sf_secret *key = (struct sf_secret *)&key;
    sf_status rc;

    sf_clear_error();
    rc = rootkey_parse("fuzz input", (const char *)data, size, &key);
    if (rc == SF_OK) {
        if (key == NULL || sf_secret_len(key) != SF_ROOT_KEY_LEN ||
            size < sizeof HEADER - 1 ||
            memcmp(data, HEADER, sizeof HEADER - 1) != 0 ||
            memchr(data, 0, size) != NULL) {
            __builtin_trap();
        }
    } else {
        if (rc != SF_ERR_ROOT_KEY && rc != SF_ERR_NOMEM) {
            __builtin_trap();
        }
        if (key != NULL) {
            __builtin_trap();
        }
        if (rc == SF_ERR_ROOT_KEY) {
            check_error_text();
        }
    }
    sf_secret_free(key);
    return 0;
}
