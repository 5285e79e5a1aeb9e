/*
 * Internal: emitting log events through the application's hook.
 */
#ifndef SF_LOG_INTERNAL_H
#define SF_LOG_INTERNAL_H

#include "sealflow/log.h"

/* Sends one event with printf-style key=value fields to the hook, if one
 * is installed and level is enabled. Never pass secrets. */
void sf_log(enum sf_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
