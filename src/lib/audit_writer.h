/*
 * Internal: the audit log file as the writer thread sees it.
 */
#ifndef SF_AUDIT_WRITER_H
#define SF_AUDIT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit_internal.h"

struct sf_audit_file {
    char *path;
    int fd;
    dev_t dev;
    ino_t ino;
    bool is_broken; /* a failed write could not be cut back */
};

/* Opens path for appending (creating it, mode 0600), locks it against a
 * second writer and reads the chain end from its last line (seq 0 and a
 * zero hash for an empty file). */
SF_MUST_CHECK sf_status sf_audit_file_open(struct sf_audit_file *f,
                                           const char *path,
                                           struct sf_audit_chain *chain);

/* Follows the path: when the file was removed or replaced by an empty
 * file, opens the file now at the path and sets *is_new_file. Fails when
 * the path cannot be opened (folder removed) or holds another non-empty
 * file. */
SF_MUST_CHECK sf_status sf_audit_file_check(struct sf_audit_file *f,
                                            bool *is_new_file);

/* Writes all len bytes and, when sync is set, fdatasync()s them. On
 * failure the file is cut back to its length before the call. */
SF_MUST_CHECK sf_status sf_audit_file_write(struct sf_audit_file *f,
                                            const uint8_t *p, size_t len,
                                            bool sync);

void sf_audit_file_close(struct sf_audit_file *f);

#endif
