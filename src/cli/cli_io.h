/*
 * Files for the sealflow CLI: input streams, output files, the progress
 * bar, and reading an envelope header from the front of a stream.
 *
 * A regular output file is never written in place: bytes go to a
 * temporary file in the target's folder, which is synced and renamed over
 * the target only when everything succeeded. On failure, or on
 * SIGINT/SIGTERM/SIGHUP, the temporary file is removed, so a failure
 * leaves no partial output. A symbolic link is followed and the file it
 * names is replaced; the link stays. An output that exists and is not a
 * regular file (a device, a FIFO) is written directly, as a shell
 * redirect would, and so is the file that is already stdout
 * (/dev/stdout): there a failure can leave part of the output behind.
 */
#ifndef SF_CLI_IO_H
#define SF_CLI_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sealflow/buf.h"
#include "sealflow/envelope.h"

/* Read granularity for streams; a multiple of every common frame size. */
#define CLI_CHUNK (1024 * 1024)

struct cli_in {
    int fd;
    const char *name;   /* the path, or "stdin" */
    bool is_stdin;
    int64_t size;       /* -1 when unknown (pipes) */
};

/* Opens path, or stdin for NULL or "-". Prints the error. */
int cli_in_open(struct cli_in *in, const char *path);

/* Reads up to cap bytes, fewer only at end of input; *got is 0 at the end.
 * Prints the error. */
int cli_in_read(struct cli_in *in, uint8_t *buf, size_t cap, size_t *got);

void cli_in_close(struct cli_in *in);

struct cli_out {
    int fd;
    char *path;       /* the file replaced on commit, symlinks resolved;
                         NULL when writing to stdout or directly */
    char *tmp;        /* temporary file beside path */
    char *name;       /* the output as given, for messages; NULL: stdout */
    bool no_clobber;  /* refuse to replace an existing path */
    bool is_direct;   /* writing into an existing non-regular file */
};

/*
 * Starts an output: stdout for NULL or "-" (or a path that is the file
 * open as stdout), a direct write for an existing device or FIFO, else a
 * temporary file with the given mode beside the file path names. A
 * folder, a socket, a missing folder, or (with no_clobber) anything that
 * exists is refused. Prints the error.
 */
int cli_out_open(struct cli_out *o, const char *path, mode_t mode,
                 bool no_clobber);

/* Writes all len bytes. Prints the error. */
int cli_out_write(struct cli_out *o, const void *p, size_t len);

/* Syncs the temporary file, renames it over path and syncs the directory
 * (closes a direct output). On failure the temporary file is removed.
 * Prints the error. */
int cli_out_commit(struct cli_out *o);

/* Removes the temporary file (if any) and releases o. */
void cli_out_abort(struct cli_out *o);

/* The mode for a new non-secret file: 0666 minus the umask. */
mode_t cli_default_mode(void);

/* Refuses an output path that names the input file when that is a
 * regular file (a usage error). */
int cli_check_distinct(const char *cmd, const struct cli_in *in,
                       const char *out_path);

struct cli_progress {
    bool is_on;       /* drawing */
    bool is_auto;     /* may still switch on when the input grows */
    bool is_tty;      /* stderr is a terminal: redraw in place */
    uint64_t done;
    int64_t total;    /* -1 when unknown */
    double start;
    double last;
};

/* mode: -1 automatic (stderr is a terminal and the input is over 4 MiB),
 * 0 off, 1 forced. */
void cli_progress_start(struct cli_progress *p, int mode, int64_t total);
void cli_progress_add(struct cli_progress *p, uint64_t n);
void cli_progress_end(struct cli_progress *p);

/*
 * Reads from in into head until sf_envelope_inspect() parses a header
 * (*st = SF_OK, *info filled: release it with sf_header_info_free), the
 * input ends, or a size limit is reached (*st holds the last inspect
 * status). Returns an exit code only for read errors.
 */
int cli_read_header(struct cli_in *in, struct sf_buf *head,
                    struct sf_header_info *info, sf_status *st);

#endif
