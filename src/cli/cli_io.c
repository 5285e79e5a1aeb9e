#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_io.h"
#include "cli_util.h"

/* Largest prefix read while looking for a complete header: no valid
 * header is longer. */
#define HEADER_READ_MAX ((size_t)SF_HEADER_MAX)
#define PROGRESS_AUTO_MIN (4 * 1024 * 1024)

/*
 * The temporary file being written, for the signal handler: an interrupted
 * run must not leave a partial file behind. Only one output is open at a
 * time. unlink() is async-signal-safe.
 */
static char pending_tmp[PATH_MAX];
static volatile sig_atomic_t has_pending;

static void on_signal(int sig)
{
    if (has_pending) {
        unlink(pending_tmp);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_tmp(const char *tmp)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    snprintf(pending_tmp, sizeof pending_tmp, "%s", tmp);
    has_pending = 1;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
    }
}

static void unwatch_tmp(void)
{
    has_pending = 0;
}

int cli_in_open(struct cli_in *in, const char *path)
{
    struct stat st;

    memset(in, 0, sizeof *in);
    in->size = -1;
    if (path == NULL || strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
        in->name = "stdin";
        in->is_stdin = true;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        in->name = path;
        if (in->fd < 0) {
            return cli_errno(errno, "cannot open %s", path);
        }
    }
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->size = (int64_t)st.st_size;
    } else if (fstat(in->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_in_close(in);
        return cli_error(CLI_EXIT_IO, "%s is a directory", in->name);
    }
    return CLI_EXIT_OK;
}

int cli_in_read(struct cli_in *in, uint8_t *buf, size_t cap, size_t *got)
{
    size_t n = 0;
    ssize_t r;

    while (n < cap) {
        r = read(in->fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            *got = n;
            return cli_errno(errno, "reading %s", in->name);
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    *got = n;
    return CLI_EXIT_OK;
}

void cli_in_close(struct cli_in *in)
{
    if (!in->is_stdin && in->fd >= 0) {
        close(in->fd);
    }
    in->fd = -1;
}

/* Builds "<dir>/.<base>.sf-XXXXXX" for mkstemp. */
static char *tmp_template(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    int dir_len = slash != NULL ? (int)(slash - path) + 1 : 0;
    size_t len = strlen(path) + 16;
    char *t = malloc(len);

    if (t != NULL) {
        snprintf(t, len, "%.*s.%s.sf-XXXXXX", dir_len, path, base);
    }
    return t;
}

int cli_out_open(struct cli_out *o, const char *path, mode_t mode,
                 bool no_clobber)
{
    memset(o, 0, sizeof *o);
    o->fd = STDOUT_FILENO;
    o->no_clobber = no_clobber;
    if (path == NULL || strcmp(path, "-") == 0) {
        return CLI_EXIT_OK;
    }
    if (no_clobber && access(path, F_OK) == 0) {
        return cli_error(CLI_EXIT_FAIL, "%s already exists; refusing to "
                         "overwrite it", path);
    }
    o->path = strdup(path);
    o->tmp = tmp_template(path);
    if (o->path == NULL || o->tmp == NULL) {
        cli_out_abort(o);
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        cli_out_abort(o);
        return cli_errno(e, "cannot create a temporary file beside %s",
                         path);
    }
    watch_tmp(o->tmp);
    if (fchmod(o->fd, mode) != 0) {
        int e = errno;
        cli_out_abort(o);
        return cli_errno(e, "cannot set the mode of the file for %s", path);
    }
    return CLI_EXIT_OK;
}

int cli_out_write(struct cli_out *o, const void *p, size_t len)
{
    const uint8_t *b = p;
    ssize_t w;

    while (len > 0) {
        w = write(o->fd, b, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return cli_errno(errno, "writing %s",
                             o->path != NULL ? o->path : "stdout");
        }
        b += w;
        len -= (size_t)w;
    }
    return CLI_EXIT_OK;
}

/* fsync on the directory makes the rename durable; file systems that
 * cannot sync a directory say EINVAL, which is not an error here. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    int fd;

    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        snprintf(dir, sizeof dir, "%.*s",
                 slash == path ? 1 : (int)(slash - path), path);
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Moves the finished temporary file to its name. Without clobbering, link()
 * fails atomically if the name appeared meanwhile. */
static int place(struct cli_out *o)
{
    if (!o->no_clobber) {
        return rename(o->tmp, o->path) == 0 ? 0 : errno;
    }
    if (link(o->tmp, o->path) == 0) {
        unlink(o->tmp);
        return 0;
    }
    if (errno == EEXIST || access(o->path, F_OK) == 0) {
        return EEXIST;
    }
    return rename(o->tmp, o->path) == 0 ? 0 : errno;
}

int cli_out_commit(struct cli_out *o)
{
    int e = 0;

    if (o->path == NULL) {
        return CLI_EXIT_OK;
    }
    if (fsync(o->fd) != 0) {
        e = errno;
    }
    if (close(o->fd) != 0 && e == 0) {
        e = errno;
    }
    o->fd = -1;
    if (e == 0) {
        e = place(o);
    }
    if (e != 0) {
        cli_out_abort(o);
        return cli_errno(e, "cannot write %s", o->path != NULL ? o->path
                                                               : "output");
    }
    unwatch_tmp();
    sync_dir(o->path);
    free(o->tmp);
    free(o->path);
    o->tmp = NULL;
    o->path = NULL;
    return CLI_EXIT_OK;
}

void cli_out_abort(struct cli_out *o)
{
    if (o->path != NULL && o->fd >= 0) {
        close(o->fd);
    }
    o->fd = -1;
    if (o->tmp != NULL) {
        unlink(o->tmp);
        unwatch_tmp();
    }
    free(o->tmp);
    free(o->path);
    o->tmp = NULL;
    o->path = NULL;
}

mode_t cli_default_mode(void)
{
    mode_t m = umask(077);

    umask(m);
    return 0666 & ~m;
}

int cli_check_distinct(const char *cmd, const struct cli_in *in,
                       const char *out_path)
{
    struct stat a;
    struct stat b;

    if (out_path == NULL || strcmp(out_path, "-") == 0) {
        return CLI_EXIT_OK;
    }
    if (fstat(in->fd, &a) != 0 || stat(out_path, &b) != 0) {
        return CLI_EXIT_OK;
    }
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        return cli_usage(cmd, "output %s is the input file; refusing to "
                         "overwrite the input", out_path);
    }
    return CLI_EXIT_OK;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(struct cli_progress *p)
{
    double secs = now_s() - p->start;
    double mbs = secs > 0 ? (double)p->done / 1e6 / secs : 0.0;
    char done[32];
    char total[32];

    cli_format_bytes(p->done, done, sizeof done);
    if (p->total >= 0) {
        cli_format_bytes((uint64_t)p->total, total, sizeof total);
        fprintf(stderr, "\r%s / %s  %3d%%  %.1f MB/s%s", done, total,
                p->total > 0 ? (int)(p->done * 100 / (uint64_t)p->total)
                             : 100, mbs, p->is_tty ? "\033[K" : "");
    } else {
        fprintf(stderr, "\r%s  %.1f MB/s%s", done, mbs,
                p->is_tty ? "\033[K" : "");
    }
    fflush(stderr);
}

void cli_progress_start(struct cli_progress *p, int mode, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->total = total;
    p->start = now_s();
    p->last = 0;
    p->is_tty = isatty(STDERR_FILENO) != 0;
    if (mode == 1) {
        p->is_on = true;
    } else if (mode == -1 && p->is_tty) {
        p->is_auto = true;
        p->is_on = total > PROGRESS_AUTO_MIN;
    }
}

void cli_progress_add(struct cli_progress *p, uint64_t n)
{
    double t;

    p->done += n;
    if (!p->is_on && p->is_auto && p->done > PROGRESS_AUTO_MIN) {
        p->is_on = true;
    }
    if (!p->is_on) {
        return;
    }
    t = now_s();
    if (t - p->last >= 0.1) {
        p->last = t;
        progress_draw(p);
    }
}

void cli_progress_end(struct cli_progress *p)
{
    if (p->is_on) {
        progress_draw(p);
        fputc('\n', stderr);
    }
    p->is_on = false;
}

/* Appends up to want bytes of input to head; *got is 0 at the end. */
static int read_more(struct cli_in *in, struct sf_buf *head, size_t want,
                     size_t *got)
{
    int rc;

    if (sf_buf_reserve(head, want) != SF_OK) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    rc = cli_in_read(in, head->data + head->len, want, got);
    head->len += *got;
    return rc;
}

int cli_read_header(struct cli_in *in, struct sf_buf *head,
                    struct sf_header_info *info, sf_status *st)
{
    size_t want = 64 * 1024;
    size_t got = 1;
    int rc;

    memset(info, 0, sizeof *info);
    *st = SF_ERR_FORMAT;
    while (got > 0 && head->len < HEADER_READ_MAX) {
        rc = read_more(in, head, want, &got);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        sf_clear_error();
        *st = sf_envelope_inspect(head->data, head->len, info);
        if (*st != SF_ERR_FORMAT) {
            break;
        }
        want = head->len; /* double the prefix each time */
    }
    if (*st != SF_OK) {
        memset(info, 0, sizeof *info);
    }
    return CLI_EXIT_OK;
}
