#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "sealflow/secret.h"

/*
 * One table from library status to exit code. A status missing here is a
 * general failure, so a new status never maps to success.
 */
static const unsigned char exit_codes[SF_STATUS_COUNT] = {
    [SF_OK] = CLI_EXIT_OK,
    [SF_ERR_INVALID_ARG] = CLI_EXIT_USAGE,
    [SF_ERR_NOMEM] = CLI_EXIT_FAIL,
    [SF_ERR_CRYPTO] = CLI_EXIT_FAIL,
    [SF_ERR_AUTH] = CLI_EXIT_AUTH,
    [SF_ERR_NO_KEY] = CLI_EXIT_NO_KEY,
    [SF_ERR_FORMAT] = CLI_EXIT_INPUT,
    [SF_ERR_UNSUPPORTED] = CLI_EXIT_INPUT,
    [SF_ERR_LIMIT] = CLI_EXIT_INPUT,
    [SF_ERR_BAD_KEY] = CLI_EXIT_INPUT,
    [SF_ERR_KEY_NOT_FOUND] = CLI_EXIT_NO_KEY,
    [SF_ERR_KEY_EXISTS] = CLI_EXIT_FAIL,
    [SF_ERR_KEY_NAME] = CLI_EXIT_INPUT,
    [SF_ERR_KEY_VERSION] = CLI_EXIT_NO_KEY,
    [SF_ERR_KEY_TYPE] = CLI_EXIT_FAIL,
    [SF_ERR_KEY_CONFIG] = CLI_EXIT_FAIL,
    [SF_ERR_ROOT_KEY] = CLI_EXIT_KEYSTORE,
    [SF_ERR_STORE] = CLI_EXIT_KEYSTORE,
    [SF_ERR_IO] = CLI_EXIT_IO,
    [SF_ERR_DENIED] = CLI_EXIT_NO_KEY,
    [SF_ERR_UNAVAILABLE] = CLI_EXIT_IO,
    [SF_ERR_TIMEOUT] = CLI_EXIT_IO,
    [SF_ERR_REMOTE] = CLI_EXIT_FAIL,
    [SF_ERR_POLICY] = CLI_EXIT_INPUT,
    [SF_ERR_PARSE] = CLI_EXIT_INPUT,
    [SF_ERR_INTERNAL] = CLI_EXIT_FAIL,
};

int cli_exit_code(sf_status rc)
{
    if (rc == SF_OK) {
        return CLI_EXIT_OK;
    }
    if ((unsigned)rc >= SF_STATUS_COUNT || exit_codes[rc] == 0) {
        return CLI_EXIT_FAIL;
    }
    return exit_codes[rc];
}

/* The last error line printed, without "sealflow: ", for reports that
 * repeat it (rewrap --json). */
static char last_message[1024];

/* A message is formatted here before it is escaped: arguments, paths and
 * library text may carry bytes a terminal would act on. */
#define MESSAGE_MAX 2048

/* Prints "<lead><text>\n" on stderr with text escaped. */
static void print_line(const char *lead, const char *text)
{
    char safe[MESSAGE_MAX];

    cli_escape(text, strlen(text), safe, sizeof safe);
    fprintf(stderr, "%s%s\n", lead, safe);
}

/* Prints "sealflow: <what><tail>" and remembers it. */
static void print_error(const char *fmt, va_list ap, const char *tail)
    __attribute__((format(printf, 1, 0)));

static void print_error(const char *fmt, va_list ap, const char *tail)
{
    char text[MESSAGE_MAX];
    size_t len;

    vsnprintf(text, sizeof text, fmt, ap);
    len = strlen(text);
    snprintf(text + len, sizeof text - len, "%s", tail);
    cli_escape(text, strlen(text), last_message, sizeof last_message);
    fprintf(stderr, "sealflow: %s\n", last_message);
}

const char *cli_last_message(void)
{
    return last_message;
}

int cli_fail(sf_status rc, const char *fmt, ...)
{
    const char *detail = sf_last_error();
    char tail[600];
    va_list ap;

    if (detail == NULL || detail[0] == '\0') {
        detail = sf_status_str(rc);
    }
    snprintf(tail, sizeof tail, ": %s", detail);
    va_start(ap, fmt);
    print_error(fmt, ap, tail);
    va_end(ap);
    sf_clear_error();
    return cli_exit_code(rc);
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_error(fmt, ap, "");
    va_end(ap);
    return code;
}

int cli_errno(int errnum, const char *fmt, ...)
{
    char tail[256];
    va_list ap;

    snprintf(tail, sizeof tail, ": %s", strerror(errnum));
    va_start(ap, fmt);
    print_error(fmt, ap, tail);
    va_end(ap);
    return CLI_EXIT_IO;
}

void cli_hint(const char *fmt, ...)
{
    char text[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    print_line("hint: ", text);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    char text[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sealflow: %s: ", cmd);
    print_line("", text);
    fprintf(stderr, "Try 'sealflow %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

void cli_note(const char *fmt, ...)
{
    char text[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    print_line("sealflow: ", text);
}

/* Reads leading decimal digits into *out; returns the count read, or 0
 * when there are none or the value overflows. */
static size_t scan_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    while (s[i] >= '0' && s[i] <= '9') {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
        i++;
    }
    *out = v;
    return i;
}

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;
    size_t n;

    if (s == NULL) {
        return false;
    }
    n = scan_digits(s, &v);
    if (n == 0 || s[n] != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0}, {"k", 10}, {"kib", 10}, {"kb", 10},
                 {"m", 20}, {"mib", 20}, {"mb", 20}};
    uint64_t v;
    size_t n;
    size_t i;

    if (s == NULL) {
        return false;
    }
    n = scan_digits(s, &v);
    if (n == 0) {
        return false;
    }
    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(s + n, units[i].suffix) != 0) {
            continue;
        }
        if (v > (UINT64_MAX >> units[i].shift)) {
            return false;
        }
        *out = v << units[i].shift;
        return true;
    }
    return false;
}

static uint64_t unit_seconds(char c)
{
    switch (c) {
    case 's':
        return 1;
    case 'm':
        return 60;
    case 'h':
        return 3600;
    case 'd':
        return 86400;
    case 'w':
        return 7 * 86400;
    default:
        return 0;
    }
}

bool cli_parse_duration(const char *s, uint64_t *out)
{
    uint64_t total = 0;
    uint64_t v;
    uint64_t unit;
    size_t n;

    if (s == NULL || s[0] == '\0') {
        return false;
    }
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return true;
    }
    while (*s != '\0') {
        n = scan_digits(s, &v);
        if (n == 0) {
            return false;
        }
        unit = unit_seconds(s[n]);
        if (unit == 0 || v > UINT64_MAX / unit ||
            total > UINT64_MAX - v * unit) {
            return false;
        }
        total += v * unit;
        s += n + 1;
    }
    *out = total;
    return true;
}

void cli_format_duration(uint64_t secs, char *out, size_t out_len)
{
    static const struct {
        char unit;
        uint64_t secs;
    } parts[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t used = 0;
    size_t i;

    if (out_len == 0) {
        return;
    }
    out[0] = '\0';
    if (secs == 0) {
        snprintf(out, out_len, "0s");
        return;
    }
    for (i = 0; i < sizeof parts / sizeof parts[0] && used < out_len; i++) {
        uint64_t q = secs / parts[i].secs;
        int w;

        if (q == 0) {
            continue;
        }
        secs -= q * parts[i].secs;
        w = snprintf(out + used, out_len - used, "%llu%c",
                     (unsigned long long)q, parts[i].unit);
        if (w < 0) {
            return;
        }
        used += (size_t)w;
    }
}

void cli_format_time(int64_t t, char *out, size_t out_len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, out_len, "-");
    }
}

void cli_format_bytes(uint64_t n, char *out, size_t out_len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t i = 0;

    while (v >= 1024.0 && i + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        i++;
    }
    if (i == 0) {
        snprintf(out, out_len, "%llu B", (unsigned long long)n);
    } else {
        snprintf(out, out_len, "%.1f %s", v, units[i]);
    }
}

int cli_json_print(json_t *v)
{
    int rc;

    if (v == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory building JSON");
    }
    rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (rc != 0 || fputc('\n', stdout) == EOF) {
        return cli_error(CLI_EXIT_IO, "writing JSON to stdout failed");
    }
    return CLI_EXIT_OK;
}

/* Reads fd to its end into out, refusing more than max bytes. The chunk
 * may hold secret bytes (identity files), so it is wiped on every path. */
static int read_fd(int fd, const char *path, size_t max, struct sf_buf *out)
{
    uint8_t chunk[4096];
    ssize_t got;
    int rc = CLI_EXIT_OK;

    for (;;) {
        got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            rc = cli_errno(errno, "reading %s", path);
            goto out;
        }
        if (got == 0) {
            break;
        }
        if (out->len + (size_t)got > max ||
            sf_buf_append(out, chunk, (size_t)got) != SF_OK) {
            rc = cli_error(CLI_EXIT_INPUT, "%s: file too large "
                           "(at most %zu bytes expected)", path, max);
            goto out;
        }
    }
    if (sf_buf_terminate(out) != SF_OK) {
        rc = cli_error(CLI_EXIT_FAIL, "out of memory reading %s", path);
    }

out:
    sf_wipe(chunk, sizeof chunk);
    return rc;
}

int cli_read_file(const char *path, size_t max, struct sf_buf *out)
{
    char shown[CLI_SHOW_MAX * 4 + 32];
    int fd;
    int rc;

    /* The name is quoted safely: an identity pasted where its file name
     * belongs must not be echoed. */
    cli_show(path, shown, sizeof shown);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return cli_errno(errno, "cannot open %s", shown);
    }
    rc = read_fd(fd, shown, max, out);
    close(fd);
    return rc;
}

bool cli_has_word(const char *s, const char *needle)
{
    size_t n = strlen(needle);

    for (; *s != '\0'; s++) {
        if (strncasecmp(s, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

bool cli_arg_is_secret(const char *s)
{
    return strlen(s) > CLI_SHOW_MAX || strpbrk(s, "\r\n") != NULL ||
           cli_has_word(s, "secret") || cli_has_word(s, "private key");
}

const char *cli_show(const char *s, char *out, size_t out_len)
{
    if (cli_arg_is_secret(s)) {
        snprintf(out, out_len, "(%zu bytes, not shown)", strlen(s));
        return out;
    }
    return cli_escape(s, strlen(s), out, out_len);
}

/* Length of the valid UTF-8 sequence at s (2 to 4 bytes) and its code
 * point, or 0 when s does not start one: overlong forms, surrogates and
 * values past U+10FFFF are invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t v;
    uint32_t min;

    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, v = s[0] & 0x1Fu, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, v = s[0] & 0x0Fu, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, v = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len) {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            return 0;
        }
        v = v << 6 | (s[k] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return n;
}

/* Code points a terminal acts on or that reorder text: C1 controls and
 * the bidirectional marks, embeddings, overrides and isolates. */
static bool is_hidden_cp(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Renders the character at s (len > 0 bytes left) into unit; returns the
 * bytes consumed. */
static size_t render_unit(const unsigned char *s, size_t len, char unit[16])
{
    uint32_t cp = 0;
    size_t n;

    if (s[0] == '\n' || s[0] == '\r' || s[0] == '\t') {
        snprintf(unit, 16, "\\%c", s[0] == '\n' ? 'n'
                                   : s[0] == '\r' ? 'r' : 't');
        return 1;
    }
    if (s[0] < 0x20 || s[0] == 0x7F) {
        snprintf(unit, 16, "\\x%02x", s[0]);
        return 1;
    }
    if (s[0] < 0x80) {
        unit[0] = (char)s[0];
        unit[1] = '\0';
        return 1;
    }
    n = utf8_seq(s, len, &cp);
    if (n == 0) {
        snprintf(unit, 16, "\\x%02x", s[0]);
        return 1;
    }
    if (is_hidden_cp(cp)) {
        snprintf(unit, 16, "\\u%04x", (unsigned)cp);
    } else {
        memcpy(unit, s, n);
        unit[n] = '\0';
    }
    return n;
}

const char *cli_escape(const char *s, size_t len, char *out,
                       size_t out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t at = 0;
    char unit[16];

    if (out_len == 0) {
        return out;
    }
    out[0] = '\0';
    while (len > 0) {
        size_t used = render_unit(p, len, unit);
        size_t n = strlen(unit);
        /* Unless this is the last unit, keep room for "..." after it. */
        size_t room = used < len ? n + 4 : n + 1;

        if (at + room > out_len) {
            if (at + 4 <= out_len) {
                memcpy(out + at, "...", 4);
            }
            return out;
        }
        memcpy(out + at, unit, n + 1);
        at += n;
        p += used;
        len -= used;
    }
    return out;
}

void cli_fput_escaped(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    char unit[16];

    while (len > 0) {
        size_t used = render_unit(p, len, unit);

        fputs(unit, f);
        p += used;
        len -= used;
    }
}

int cli_flush_stdout(void)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return cli_errno(errno != 0 ? errno : EIO,
                         "writing to stdout failed");
    }
    return CLI_EXIT_OK;
}
