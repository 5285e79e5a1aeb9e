/*
 * sealflow status codes.
 *
 * Every fallible function returns an sf_status; SF_OK is zero. The text of
 * sf_status_str() is fixed and never carries data. A function that fails
 * may also leave a short, secret-free explanation for the calling thread in
 * sf_last_error() (which key, which version, which limit), so callers can
 * print what went wrong and where.
 */
#ifndef SEALFLOW_STATUS_H
#define SEALFLOW_STATUS_H

#if defined(SF_BUILDING_LIB) || defined(SF_STATIC)
#define SF_API __attribute__((visibility("default")))
#else
#define SF_API
#endif
#define SF_MUST_CHECK __attribute__((warn_unused_result))

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SF_OK = 0,
    SF_ERR_INVALID_ARG,   /* a caller passed a bad argument */
    SF_ERR_NOMEM,         /* allocation failed */
    SF_ERR_CRYPTO,        /* the crypto library failed unexpectedly */
    SF_ERR_AUTH,          /* authentication failed: tampered, truncated,
                             malformed, or wrong key or context */
    SF_ERR_NO_KEY,        /* no available key can unwrap the data key */
    SF_ERR_FORMAT,        /* input text or structure is malformed */
    SF_ERR_UNSUPPORTED,   /* unknown version, suite, type or feature */
    SF_ERR_LIMIT,         /* a documented limit would be exceeded */
    SF_ERR_BAD_KEY,       /* a key is invalid (e.g. low-order point) */
    SF_ERR_KEY_NOT_FOUND, /* no key of that name */
    SF_ERR_KEY_EXISTS,    /* a key of that name already exists */
    SF_ERR_KEY_NAME,      /* a key name breaks the name grammar */
    SF_ERR_KEY_VERSION,   /* version missing or retired by config */
    SF_ERR_KEY_TYPE,      /* operation not possible with this key type */
    SF_ERR_KEY_CONFIG,    /* config change breaks a rule, or refused */
    SF_ERR_ROOT_KEY,      /* root key missing, unreadable or wrong */
    SF_ERR_STORE,         /* the keystore failed or is damaged */
    SF_ERR_IO,            /* reading or writing a file failed */
    SF_ERR_DENIED,        /* access denied by policy or token */
    SF_ERR_UNAVAILABLE,   /* service down or circuit breaker open */
    SF_ERR_TIMEOUT,       /* an operation timed out */
    SF_ERR_REMOTE,        /* the key service returned an error */
    SF_ERR_POLICY,        /* the policy is invalid */
    SF_ERR_PARSE,         /* a record could not be parsed */
    SF_ERR_INTERNAL,      /* an internal invariant failed */
    SF_STATUS_COUNT
} sf_status;

/* Fixed, data-free description of a status. Never NULL. */
SF_API const char *sf_status_str(sf_status s);

/*
 * The explanation left by the last failing call on this thread, or "" when
 * there is none. It names keys, versions, limits and positions, never key
 * material or plaintext. Valid until the next sealflow call on the thread.
 */
SF_API const char *sf_last_error(void);

/* Forgets the thread's last explanation. */
SF_API void sf_clear_error(void);

/* The library version, e.g. "0.1.0". */
SF_API const char *sf_version(void);

#ifdef __cplusplus
}
#endif
#endif
