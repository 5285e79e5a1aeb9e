/*
 * Logging hook. libsealflow never prints; an application may install one
 * callback that receives a level, a fixed event name and a string of
 * key=value fields. Fields never carry key material or plaintext.
 */
#ifndef SEALFLOW_LOG_H
#define SEALFLOW_LOG_H

#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sf_log_level {
    SF_LOG_ERROR = 0,
    SF_LOG_WARN = 1,
    SF_LOG_INFO = 2,
    SF_LOG_DEBUG = 3
};

typedef void (*sf_log_fn)(void *ctx, enum sf_log_level level,
                          const char *event, const char *fields);

/* Installs the callback (NULL removes it). Not thread-safe against
 * concurrent logging: set it once at start-up. */
SF_API void sf_log_set(sf_log_fn fn, void *ctx, enum sf_log_level max);

#ifdef __cplusplus
}
#endif
#endif
