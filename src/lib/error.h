/*
 * Internal: setting the thread's last-error explanation.
 */
#ifndef SF_ERROR_H
#define SF_ERROR_H

#include "sealflow/status.h"

/*
 * Records a printf-style explanation for the calling thread and returns
 * code unchanged, so a failure path reads `rc = sf_fail(SF_ERR_X, ...)`.
 * The text must never contain key material or plaintext. Also clears
 * OpenSSL's error queue so no library error leaks past the call.
 */
sf_status sf_fail(sf_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
