#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>

#include "error.h"
#include "sealflow/status.h"

#ifndef SF_VERSION_STRING
#define SF_VERSION_STRING "0.0.0"
#endif

static const char *const messages[SF_STATUS_COUNT] = {
    [SF_OK] = "success",
    [SF_ERR_INVALID_ARG] = "invalid argument",
    [SF_ERR_NOMEM] = "out of memory",
    [SF_ERR_CRYPTO] = "cryptographic library failure",
    [SF_ERR_AUTH] = ("authentication failed: data is corrupt, truncated, "
                     "or was sealed with another key or context"),
    [SF_ERR_NO_KEY] = "no available key can open this data",
    [SF_ERR_FORMAT] = "malformed input",
    [SF_ERR_UNSUPPORTED] = "unsupported version, algorithm or feature",
    [SF_ERR_LIMIT] = "a limit would be exceeded",
    [SF_ERR_BAD_KEY] = "invalid key",
    [SF_ERR_KEY_NOT_FOUND] = "key not found",
    [SF_ERR_KEY_EXISTS] = "key already exists",
    [SF_ERR_KEY_NAME] = "invalid key name",
    [SF_ERR_KEY_VERSION] = "key version not available",
    [SF_ERR_KEY_TYPE] = "operation not supported by this key type",
    [SF_ERR_KEY_CONFIG] = "key configuration refused",
    [SF_ERR_ROOT_KEY] = "root key missing, unreadable or wrong",
    [SF_ERR_STORE] = "keystore error",
    [SF_ERR_IO] = "input/output error",
    [SF_ERR_DENIED] = "permission denied",
    [SF_ERR_UNAVAILABLE] = "service unavailable",
    [SF_ERR_TIMEOUT] = "timed out",
    [SF_ERR_REMOTE] = "key service error",
    [SF_ERR_POLICY] = "invalid policy",
    [SF_ERR_PARSE] = "record could not be parsed",
    [SF_ERR_INTERNAL] = "internal error",
};

static _Thread_local char last_error[512];

const char *sf_status_str(sf_status s)
{
    if ((unsigned)s >= SF_STATUS_COUNT || messages[s] == NULL) {
        return "unknown status";
    }
    return messages[s];
}

const char *sf_last_error(void)
{
    return last_error;
}

void sf_clear_error(void)
{
    last_error[0] = '\0';
}

const char *sf_version(void)
{
    return SF_VERSION_STRING;
}

sf_status sf_fail(sf_status code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return code;
}
