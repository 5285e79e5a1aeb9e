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
/* Room for a path or argument quoted in a message. */
#define SHOW_LEN (CLI_SHOW_MAX * 4 + 32)

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
            char name[SHOW_LEN];

            return cli_errno(errno, "cannot open %s",
                             cli_show(path, name, sizeof name));
        }
    }
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->size = (int64_t)st.st_size;
    } else if (fstat(in->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        char name[SHOW_LEN];

        cli_show(in->name, name, sizeof name);
        cli_in_close(in);
        return cli_error(CLI_EXIT_IO, "cannot read %s: it is a directory",
                         name);
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
            char name[SHOW_LEN];

            return cli_errno(errno, "reading %s",
                             cli_show(in->name, name, sizeof name));
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

/* Most symbolic links followed for one output path, as the kernel's
 * limit. */
#define LINKS_MAX 40

/* The output's name for messages: "stdout" or the path as given. */
static const char *out_name(const struct cli_out *o, char *buf, size_t len)
{
    return o->name == NULL ? "stdout" : cli_show(o->name, buf, len);
}

/*
 * Builds "<dir>/.<base>.sf-XXXXXX" for mkstemp. A base too long for that
 * to fit in NAME_MAX is cut short in the temporary name: mkstemp keeps it
 * unique, and it only lives until the rename.
 */
static char *tmp_template(const char *path)
{
    static const char suffix[] = ".sf-XXXXXX";
    const size_t base_max = NAME_MAX - 1 - (sizeof suffix - 1);
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    int dir_len = slash != NULL ? (int)(slash - path) + 1 : 0;
    size_t base_len = strlen(base);
    size_t len = strlen(path) + sizeof suffix + 2;
    char *t = malloc(len);

    if (base_len > base_max) {
        base_len = base_max;
    }
    if (t != NULL) {
        snprintf(t, len, "%.*s.%.*s%s", dir_len, path, (int)base_len, base,
                 suffix);
    }
    return t;
}

/* The folder part of path ("." when there is none) into dir. */
static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        snprintf(dir, len, ".");
    } else {
        snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path),
                 path);
    }
}

/*
 * For a path that does not exist: follows a chain of dangling symbolic
 * links to the name that would be created, so the file appears where the
 * link points and the link stays. Returns a new string, or NULL with
 * errno set.
 */
static char *follow_links(const char *path)
{
    char *cur = strdup(path);
    char target[PATH_MAX];
    char dir[PATH_MAX];
    struct stat st;
    ssize_t n;
    int hops;

    for (hops = 0; cur != NULL && hops < LINKS_MAX; hops++) {
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            return cur;
        }
        n = readlink(cur, target, sizeof target - 1);
        if (n < 0) {
            free(cur);
            return NULL;
        }
        target[n] = '\0';
        dir_of(cur, dir, sizeof dir);
        free(cur);
        cur = malloc(strlen(dir) + (size_t)n + 2);
        if (cur != NULL && target[0] == '/') {
            memcpy(cur, target, (size_t)n + 1);
        } else if (cur != NULL) {
            snprintf(cur, strlen(dir) + (size_t)n + 2, "%s/%s", dir, target);
        }
    }
    errno = cur == NULL ? ENOMEM : ELOOP;
    free(cur);
    return NULL;
}

/* The folder that will hold a new output file must exist. */
static int check_folder(const struct cli_out *o, const char *target)
{
    char dir[PATH_MAX];
    char name[SHOW_LEN];
    char dshow[SHOW_LEN];
    struct stat st;

    dir_of(target, dir, sizeof dir);
    out_name(o, name, sizeof name);
    cli_show(dir, dshow, sizeof dshow);
    if (stat(dir, &st) != 0 && errno == ENOENT) {
        return cli_error(CLI_EXIT_IO, "cannot write output %s: folder %s "
                         "does not exist", name, dshow);
    }
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        return cli_error(CLI_EXIT_IO, "cannot write output %s: %s is not "
                         "a folder", name, dshow);
    }
    return CLI_EXIT_OK;
}

/* true when st is the file already open as stdout (/dev/stdout, or the
 * file stdout was redirected to). */
static bool is_stdout(const struct stat *st)
{
    struct stat so;

    return fstat(STDOUT_FILENO, &so) == 0 && so.st_dev == st->st_dev &&
           so.st_ino == st->st_ino;
}

/*
 * An output path that exists. A device or FIFO is opened for writing
 * without creating or truncating it: replacing it with a regular file
 * would destroy the node (as root, /dev/full or /dev/null). A regular file
 * is replaced by a temporary file renamed over it; through a symlink, the
 * file the link names is replaced.
 */
static int open_existing(struct cli_out *o, const char *path,
                         const struct stat *st)
{
    char name[SHOW_LEN];

    out_name(o, name, sizeof name);
    if (o->no_clobber) {
        return cli_error(CLI_EXIT_FAIL, "%s already exists; refusing to "
                         "overwrite it", name);
    }
    if (is_stdout(st)) {
        o->is_direct = true;
        return CLI_EXIT_OK;
    }
    if (S_ISDIR(st->st_mode)) {
        return cli_error(CLI_EXIT_IO, "cannot write output %s: it is a "
                         "directory", name);
    }
    if (S_ISSOCK(st->st_mode)) {
        return cli_error(CLI_EXIT_IO, "cannot write output %s: it is a "
                         "socket", name);
    }
    if (!S_ISREG(st->st_mode)) {
        o->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (o->fd < 0) {
            return cli_errno(errno, "cannot write output %s", name);
        }
        o->is_direct = true;
        return CLI_EXIT_OK;
    }
    o->path = realpath(path, NULL);
    if (o->path == NULL) {
        return cli_errno(errno, "cannot write output %s", name);
    }
    return CLI_EXIT_OK;
}

/* Creates the temporary file beside o->path with the given mode. */
static int open_tmp(struct cli_out *o, mode_t mode)
{
    char name[SHOW_LEN];
    int e;

    out_name(o, name, sizeof name);
    o->tmp = tmp_template(o->path);
    if (o->tmp == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0) {
        e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return cli_errno(e, "cannot write output %s: cannot create a "
                         "temporary file in its folder", name);
    }
    watch_tmp(o->tmp);
    if (fchmod(o->fd, mode) != 0) {
        return cli_errno(errno, "cannot set the mode of the file for %s",
                         name);
    }
    return CLI_EXIT_OK;
}

/* Sets up o for a path: see cli_out_open. */
static int open_path(struct cli_out *o, const char *path, mode_t mode)
{
    char name[SHOW_LEN];
    struct stat st;
    int code;

    out_name(o, name, sizeof name);
    if (stat(path, &st) == 0) {
        code = open_existing(o, path, &st);
    } else if (errno != ENOENT) {
        return cli_errno(errno, "cannot write output %s", name);
    } else {
        o->path = follow_links(path);
        code = o->path == NULL ? cli_errno(errno, "cannot write output %s",
                                           name)
                               : check_folder(o, o->path);
    }
    if (code == CLI_EXIT_OK && !o->is_direct) {
        code = open_tmp(o, mode);
    }
    return code;
}

int cli_out_open(struct cli_out *o, const char *path, mode_t mode,
                 bool no_clobber)
{
    int code;

    memset(o, 0, sizeof *o);
    o->fd = STDOUT_FILENO;
    o->no_clobber = no_clobber;
    if (path == NULL || strcmp(path, "-") == 0) {
        return CLI_EXIT_OK;
    }
    o->name = strdup(path);
    if (o->name == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    code = open_path(o, path, mode);
    if (code != CLI_EXIT_OK) {
        cli_out_abort(o);
    }
    return code;
}

int cli_out_write(struct cli_out *o, const void *p, size_t len)
{
    const uint8_t *b = p;
    char name[SHOW_LEN];
    ssize_t w;

    while (len > 0) {
        w = write(o->fd, b, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return cli_errno(errno, "writing %s",
                             out_name(o, name, sizeof name));
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
    char dir[PATH_MAX];
    int fd;

    dir_of(path, dir, sizeof dir);
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

/* Closes a direct output; stdout stays open for the rest of the run. */
static int close_direct(struct cli_out *o)
{
    char name[SHOW_LEN];
    int e = 0;

    if (o->fd != STDOUT_FILENO && o->fd >= 0 && close(o->fd) != 0) {
        e = errno;
    }
    o->fd = -1;
    if (e != 0) {
        cli_errno(e, "cannot write %s", out_name(o, name, sizeof name));
        cli_out_abort(o);
        return CLI_EXIT_IO;
    }
    cli_out_abort(o);
    return CLI_EXIT_OK;
}

int cli_out_commit(struct cli_out *o)
{
    char name[SHOW_LEN];
    int e = 0;

    if (o->is_direct) {
        return close_direct(o);
    }
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
        cli_errno(e, "cannot write %s", out_name(o, name, sizeof name));
        cli_out_abort(o);
        return e == EEXIST && o->no_clobber ? CLI_EXIT_FAIL : CLI_EXIT_IO;
    }
    unwatch_tmp();
    sync_dir(o->path);
    free(o->tmp);
    o->tmp = NULL;
    cli_out_abort(o);
    return CLI_EXIT_OK;
}

void cli_out_abort(struct cli_out *o)
{
    if (o->fd >= 0 && o->fd != STDOUT_FILENO) {
        close(o->fd);
    }
    o->fd = -1;
    if (o->tmp != NULL) {
        unlink(o->tmp);
        unwatch_tmp();
    }
    free(o->tmp);
    free(o->path);
    free(o->name);
    o->tmp = NULL;
    o->path = NULL;
    o->name = NULL;
    o->is_direct = false;
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
    char name[SHOW_LEN];
    struct stat a;
    struct stat b;

    if (out_path == NULL || strcmp(out_path, "-") == 0) {
        return CLI_EXIT_OK;
    }
    if (fstat(in->fd, &a) != 0 || stat(out_path, &b) != 0 ||
        !S_ISREG(b.st_mode)) {
        return CLI_EXIT_OK;
    }
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        return cli_usage(cmd, "output %s is the input file; refusing to "
                         "overwrite the input",
                         cli_show(out_path, name, sizeof name));
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
