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
#include <stdio.h>

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

/* true when s holds needle, ignoring ASCII case. */
bool cli_has_word(const char *s, const char *needle);

/* Longest command-line argument that messages may quote. */
#define CLI_SHOW_MAX 100

/*
 * true when a command-line argument must never be echoed because it may
 * be a secret: it holds "secret" or "private key" (in any case), a line
 * break, or more than CLI_SHOW_MAX bytes. An identity pasted where a
 * file name or a recipient belongs is the case this guards against.
 */
bool cli_arg_is_secret(const char *s);

/*
 * Renders an argument for a message into out (always NUL-terminated) and
 * returns out: "(N bytes, not shown)" when cli_arg_is_secret(s), else s
 * escaped by cli_escape.
 */
const char *cli_show(const char *s, char *out, size_t out_len);

/*
 * Escapes len bytes of s for a terminal into out (always NUL-terminated)
 * and returns out: control characters become \n, \r, \t or \xHH, bytes
 * that are not valid UTF-8 become \xHH, and C1 controls and the Unicode
 * direction overrides become \uHHHH, so text read from a file cannot
 * move the cursor, recolour or reorder what the terminal shows. Text
 * that does not fit is cut at a character and ends in "...".
 */
const char *cli_escape(const char *s, size_t len, char *out,
                       size_t out_len);

/* Writes the NUL-terminated s to f escaped as cli_escape does, whatever
 * its length. */
void cli_fput_escaped(FILE *f, const char *s);

/* Flushes stdout; on failure prints "writing to stdout failed" and
 * returns CLI_EXIT_IO. */
int cli_flush_stdout(void);

#endif
