/*
 * The audit log file: opening and locking it, finding the end of its
 * chain, following it across rotation, and all-or-nothing appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_writer.h"
#include "error.h"
#include "kdf.h"

/* Opens path for appending and takes an exclusive lock on it, so two
 * services cannot interleave lines of one chain. */
static sf_status open_locked(const char *path, int *fd, struct stat *st)
{
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) {
        return sf_fail(SF_ERR_IO, "audit: cannot open %.200s: %s", path,
                       strerror(errno));
    }
    if (fstat(*fd, st) != 0) {
        close(*fd);
        *fd = -1;
        return sf_fail(SF_ERR_IO, "audit: cannot stat %.200s", path);
    }
    if (S_ISREG(st->st_mode) && flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return sf_fail(SF_ERR_IO, "audit: %.200s is locked by another "
                       "process; each log has one writer", path);
    }
    return SF_OK;
}

/* Parses the last complete line (len bytes at line) into the chain. */
static sf_status chain_from_line(const char *line, size_t len,
                                 struct sf_audit_chain *chain)
{
    json_t *doc = json_loadb(line, len, 0, NULL);
    json_t *seq = json_object_get(doc, "seq");
    sf_status rc = SF_OK;

    if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
        rc = sf_fail(SF_ERR_FORMAT, "audit: the last line of the log is not "
                     "an audit line; run 'audit verify' on it");
    } else {
        chain->seq = (uint64_t)json_integer_value(seq);
        rc = sf_hash(SF_MD_SHA256, (const uint8_t *)line, len, chain->head);
    }
    json_decref(doc);
    return rc;
}

/* Reads the chain end from the last line of a regular file. */
static sf_status read_tail(const char *path, off_t size,
                           struct sf_audit_chain *chain)
{
    size_t want = size > SF_AUDIT_LINE_MAX ? SF_AUDIT_LINE_MAX + 1
                                           : (size_t)size;
    char *buf = malloc(want + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t end;
    size_t start;
    sf_status rc = SF_ERR_IO;

    if (buf == NULL || fd < 0 ||
            pread(fd, buf, want, size - (off_t)want) != (ssize_t)want) {
        rc = sf_fail(SF_ERR_IO, "audit: cannot read the end of %.200s",
                     path);
        goto out;
    }
    /* Limitation: a crash in the middle of a write can leave a partial
     * last line; it is refused rather than repaired, since cutting it
     * would change the evidence. An operator inspects and truncates it. */
    if (buf[want - 1] != '\n') {
        rc = sf_fail(SF_ERR_FORMAT, "audit: %.200s ends with an incomplete "
                     "line (a crash during a write?); verify and repair it "
                     "before appending", path);
        goto out;
    }
    end = want - 1;
    start = end;
    while (start > 0 && buf[start - 1] != '\n') {
        start--;
    }
    if (start == 0 && (off_t)want < size) {
        rc = sf_fail(SF_ERR_FORMAT, "audit: the last line of %.200s is "
                     "longer than %d bytes", path, SF_AUDIT_LINE_MAX);
        goto out;
    }
    rc = chain_from_line(buf + start, end - start, chain);

out:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return rc;
}

sf_status sf_audit_file_open(struct sf_audit_file *f, const char *path,
                             struct sf_audit_chain *chain)
{
    struct stat st;
    sf_status rc;

    memset(chain, 0, sizeof *chain);
    f->path = strdup(path);
    if (f->path == NULL) {
        return SF_ERR_NOMEM;
    }
    rc = open_locked(path, &f->fd, &st);
    if (rc != SF_OK) {
        return rc;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        rc = read_tail(path, st.st_size, chain);
    }
    return rc;
}

sf_status sf_audit_file_check(struct sf_audit_file *f, bool *is_new_file)
{
    struct stat st;
    int fd;
    sf_status rc;

    *is_new_file = false;
    if (f->is_broken) {
        return sf_fail(SF_ERR_IO, "audit: an earlier failed write could not "
                       "be undone; restart after checking the log");
    }
    if (stat(f->path, &st) == 0 && st.st_dev == f->dev &&
            st.st_ino == f->ino) {
        return SF_OK;
    }
    rc = open_locked(f->path, &fd, &st);
    if (rc != SF_OK) {
        return rc;
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        close(fd);
        return sf_fail(SF_ERR_IO, "audit: %.200s was replaced by another "
                       "non-empty file; refusing to continue the chain in "
                       "it", f->path);
    }
    close(f->fd);
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    *is_new_file = true;
    return SF_OK;
}

/* Writes all bytes, retrying short writes and interrupts. */
static int write_all(int fd, const uint8_t *p, size_t len, size_t *done)
{
    *done = 0;
    while (*done < len) {
        ssize_t n = write(fd, p + *done, len - *done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        *done += (size_t)n;
    }
    return 0;
}

sf_status sf_audit_file_write(struct sf_audit_file *f, const uint8_t *p,
                              size_t len, bool sync)
{
    struct stat st;
    size_t done = 0;
    int err;

    if (f->fd < 0 || f->is_broken) {
        return sf_fail(SF_ERR_IO, "audit: the log is not open");
    }
    if (fstat(f->fd, &st) != 0) {
        return sf_fail(SF_ERR_IO, "audit: cannot stat the log");
    }
    if (write_all(f->fd, p, len, &done) == 0 &&
            (!sync || fdatasync(f->fd) == 0)) {
        return SF_OK;
    }
    err = errno;
    /* Cut a partial batch back so the file ends on a chained line. */
    if (done > 0 && S_ISREG(st.st_mode) &&
            ftruncate(f->fd, st.st_size) != 0) {
        f->is_broken = true;
    }
    return sf_fail(SF_ERR_IO, "audit: writing %.200s failed: %s", f->path,
                   strerror(err));
}

void sf_audit_file_close(struct sf_audit_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    free(f->path);
    f->path = NULL;
}
