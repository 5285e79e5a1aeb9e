/*
 * Shared helpers of the sealflow CLI: exit codes, error messages, value
 * parsers (sizes, durations, numbers), time formatting and JSON output.
 *
 * The CLI writes data to stdout and every message to stderr. Messages
 * never carry key material or plaintext: they are built from command-line
 * arguments, paths and sf_last_error(), which is secret-free by contract.
 */
#ifndef SF_CLI_UTIL_H
#define SF_CLI_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

/* Exit codes; docs/cli/exit-codes.md is the reference. */
enum cli_exit {
    CLI_EXIT_OK = 0,       /* success */
    CLI_EXIT_FAIL = 1,     /* general failure */
    CLI_EXIT_USAGE = 2,    /* bad command line */
    CLI_EXIT_INPUT = 3,    /* malformed file, recipient or key name */
    CLI_EXIT_AUTH = 4,     /* authentication failed */
    CLI_EXIT_NO_KEY = 5,   /* key not found, no key can open, retired */
    CLI_EXIT_IO = 6,       /* reading or writing a file failed */
    CLI_EXIT_KEYSTORE = 7  /* keystore or root key problem */
};

/* The exit code for a library status (one table, in cli_util.c). */
int cli_exit_code(sf_status rc);

/*
 * Prints "sealflow: <what>: <detail>" where detail is sf_last_error() or,
 * when that is empty, sf_status_str(rc). Clears the library's explanation
 * and returns cli_exit_code(rc).
 */
int cli_fail(sf_status rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "sealflow: <message>" and returns code. */
int cli_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "sealflow: <message>: <strerror(errnum)>"; returns CLI_EXIT_IO. */
int cli_errno(int errnum, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The text of the last error printed by cli_fail, cli_error or cli_errno
 * (without the "sealflow: " prefix); "" when there was none. */
const char *cli_last_message(void);

/* Prints "hint: <message>" on stderr. */
void cli_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a usage error for command cmd with a pointer to its --help, and
 * returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints an informational line on stderr ("sealflow: ..."). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Decimal unsigned integer within [min, max]; false on any other text. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A byte size: digits with an optional K, KiB, M or MiB suffix (powers of
 * 1024, case-insensitive). false on overflow or unknown suffix. */
bool cli_parse_size(const char *s, uint64_t *out);

/* A duration: "0" or one or more <digits><unit> with unit s, m, h, d or w
 * ("90d", "1d12h"). false on overflow or malformed text. */
bool cli_parse_duration(const char *s, uint64_t *out);

/* Formats seconds as "90d", "1d12h", "30m", "0s" into out. */
void cli_format_duration(uint64_t secs, char *out, size_t out_len);

/* Formats Unix seconds as "2024-05-01T12:00:00Z"; "-" for 0 or less. */
void cli_format_time(int64_t t, char *out, size_t out_len);

/* Formats a byte count as "1.5 MiB". */
void cli_format_bytes(uint64_t n, char *out, size_t out_len);

/* Prints a JSON value on stdout (indented, key order kept) and releases
 * it. Returns CLI_EXIT_OK, or CLI_EXIT_FAIL when v is NULL (allocation
 * failed) or printing failed. */
int cli_json_print(json_t *v);

/* Reads a whole file (at most max bytes) into out, which is wiped on
 * release, so this is fit for secret files. Prints the error. */
int cli_read_file(const char *path, size_t max, struct sf_buf *out);

#endif
