/*
 * The root key file and the default keystore folder.
 *
 * File format (docs/KEYSTORE.md, "Root key file"): the header line
 * "sealflow root key v1", then one line of standard base64 holding exactly
 * 32 bytes. Each line may end in LF or CRLF and carry trailing spaces or
 * tabs; blank lines may follow. Anything else is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "rootkey.h"
#include "sealflow/encoding.h"
#include "sealflow/keystore.h"

#define ROOT_KEY_LEN 32
#define ROOT_HEADER "sealflow root key v1"
/* Header, 44 base64 characters, line ends and some slack. */
#define ROOT_FILE_MAX 1024

static sf_status write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return SF_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return SF_OK;
}

/* Builds the file text for key into text (secret: the caller wipes). */
static sf_status format_root_file(const struct sf_secret *key,
                                  struct sf_buf *text)
{
    sf_status rc;

    rc = sf_buf_put_str(text, ROOT_HEADER "\n");
    if (rc == SF_OK) {
        rc = sf_b64_encode(SF_B64_STD, sf_secret_cdata(key), sf_secret_len(key),
                           text);
    }
    if (rc == SF_OK) {
        rc = sf_buf_put_str(text, "\n");
    }
    return rc;
}

sf_status sf_root_key_create(const char *path, struct sf_secret **out)
{
    struct sf_buf text = SF_BUF_INIT;
    struct sf_secret *key = NULL;
    int fd = -1;
    sf_status rc;

    if (path == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;

    rc = sf_secret_random(ROOT_KEY_LEN, &key);
    if (rc == SF_OK) {
        rc = format_root_file(key, &text);
    }
    if (rc != SF_OK) {
        goto out;
    }
    /* O_EXCL: never replace an existing root key, which would orphan
     * every keystore sealed under it. The mode is set at creation so the
     * key is never readable by others, not even for a moment. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = sf_fail(SF_ERR_IO,
                     errno == EEXIST
                         ? "root key file %s already exists; refusing to "
                           "overwrite it"
                         : "cannot create root key file %s: %s",
                     path, strerror(errno));
        goto out;
    }
    rc = write_all(fd, text.data, text.len);
    if (rc == SF_OK && fsync(fd) != 0) {
        rc = SF_ERR_IO;
    }
    if (close(fd) != 0 && rc == SF_OK) {
        rc = SF_ERR_IO;
    }
    if (rc != SF_OK) {
        (void)unlink(path);
        rc = sf_fail(SF_ERR_IO, "cannot write root key file %s", path);
        goto out;
    }
    *out = key;
    key = NULL;

out:
    sf_buf_free(&text);
    sf_secret_free(key);
    return rc;
}

/* Reads at most ROOT_FILE_MAX bytes of the file at path into buf
 * (NUL-terminated). Refuses files others may read. */
static sf_status read_root_file(const char *path, char *buf, size_t buf_len,
                                size_t *len)
{
    struct stat st;
    sf_status rc = SF_OK;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return sf_fail(SF_ERR_ROOT_KEY, "cannot open root key file %s: %s",
                       path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc =
            sf_fail(SF_ERR_ROOT_KEY, "root key %s is not a regular file", path);
    } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        rc = sf_fail(SF_ERR_ROOT_KEY,
                     "root key file %s is accessible by group or others "
                     "(mode %04o); restrict it with: chmod 600 %s",
                     path, (unsigned)(st.st_mode & 07777), path);
    }
    while (rc == SF_OK && got < buf_len - 1) {
        ssize_t n = read(fd, buf + got, buf_len - 1 - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = sf_fail(SF_ERR_ROOT_KEY, "cannot read root key file %s", path);
        } else if (n == 0) {
            break;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    (void)close(fd);
    if (rc == SF_OK && got >= buf_len - 1) {
        rc = sf_fail(SF_ERR_ROOT_KEY, "root key file %s is too large", path);
    }
    buf[got] = '\0';
    *len = got;
    return rc;
}

/* Returns the length of the line at s (up to '\n' or end) without its
 * trailing spaces, tabs and CR; *next is set past the '\n'. */
static size_t take_line(const char *s, size_t n, size_t *next)
{
    size_t end = 0;
    size_t len;

    while (end < n && s[end] != '\n') {
        end++;
    }
    *next = end < n ? end + 1 : end;
    len = end;
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) {
        len--;
    }
    return len;
}

static sf_status parse_root_file(const char *path, const char *s, size_t n,
                                 struct sf_buf *raw)
{
    size_t pos = 0;
    size_t next;
    size_t len;
    const char *b64;

    len = take_line(s, n, &next);
    if (len != strlen(ROOT_HEADER) || memcmp(s, ROOT_HEADER, len) != 0) {
        return sf_fail(SF_ERR_ROOT_KEY,
                       "%s is not a root key file: the first line must be "
                       "'" ROOT_HEADER "'",
                       path);
    }
    pos = next;
    b64 = s + pos;
    len = take_line(b64, n - pos, &next);
    pos += next;
    while (pos < n) {
        size_t blank = take_line(s + pos, n - pos, &next);

        if (blank != 0) {
            return sf_fail(SF_ERR_ROOT_KEY,
                           "root key file %s has extra text after the key",
                           path);
        }
        pos += next;
    }
    if (sf_b64_decode(SF_B64_STD, b64, len, raw) != SF_OK ||
        raw->len != ROOT_KEY_LEN) {
        return sf_fail(SF_ERR_ROOT_KEY,
                       "root key file %s: the second line must be the "
                       "base64 of exactly 32 bytes",
                       path);
    }
    return SF_OK;
}

sf_status rootkey_parse(const char *where, const char *text, size_t len,
                        struct sf_secret **out)
{
    struct sf_buf raw = SF_BUF_INIT;
    sf_status rc;

    *out = NULL;
    rc = parse_root_file(where, text, len, &raw);
    if (rc == SF_OK) {
        rc = sf_secret_from(raw.data, raw.len, out);
    }
    sf_buf_free(&raw);
    return rc;
}

sf_status sf_root_key_load(const char *path, struct sf_secret **out)
{
    char text[ROOT_FILE_MAX + 1];
    size_t len = 0;
    sf_status rc;

    if (path == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;

    rc = read_root_file(path, text, sizeof text, &len);
    if (rc == SF_OK) {
        rc = rootkey_parse(path, text, len, out);
    }

    sf_wipe(text, sizeof text);
    return rc;
}

/* Appends s to dir, then suffix (may be ""). */
static sf_status put_dir(struct sf_buf *dir, const char *s, const char *suffix)
{
    sf_status rc = sf_buf_put_str(dir, s);

    if (rc == SF_OK) {
        rc = sf_buf_put_str(dir, suffix);
    }
    return rc;
}

sf_status sf_keystore_default_path(struct sf_buf *dir)
{
    const char *v;

    if (dir == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    v = getenv("SEALFLOW_HOME");
    if (v != NULL && v[0] != '\0') {
        return put_dir(dir, v, "");
    }
    /* The XDG spec says relative values are to be ignored. */
    v = getenv("XDG_DATA_HOME");
    if (v != NULL && v[0] == '/') {
        return put_dir(dir, v, "/sealflow");
    }
    v = getenv("HOME");
    if (v != NULL && v[0] != '\0') {
        return put_dir(dir, v, "/.local/share/sealflow");
    }
    return sf_fail(SF_ERR_INVALID_ARG,
                   "no keystore folder: set SEALFLOW_HOME (or HOME)");
}
