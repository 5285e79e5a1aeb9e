#include <stdarg.h>
#include <stdio.h>

#include "log_internal.h"

static sf_log_fn log_fn;
static void *log_ctx;
static enum sf_log_level log_max = SF_LOG_INFO;

void sf_log_set(sf_log_fn fn, void *ctx, enum sf_log_level max)
{
    log_fn = fn;
    log_ctx = ctx;
    log_max = max;
}

void sf_log(enum sf_log_level level, const char *event, const char *fmt, ...)
{
    char fields[512];
    va_list ap;

    if (log_fn == NULL || level > log_max) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    log_fn(log_ctx, level, event, fields);
}
