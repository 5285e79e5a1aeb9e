#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_io.h"
#include "cli_util.h"
#include "cmd.h"
#include "sealflow/encoding.h"
#include "sealflow/envelope.h"

/* Room for an argument quoted in a message (cli_show). */
#define SHOW_LEN (CLI_SHOW_MAX * 4 + 32)

/* ---- inspect -------------------------------------------------------- */

static const char *suite_name(enum sf_suite s)
{
    switch (s) {
    case SF_SUITE_AES256GCM:
        return "aes-256-gcm";
    case SF_SUITE_CHACHA20POLY1305:
        return "chacha20-poly1305";
    default:
        return "unknown";
    }
}

static const char *stanza_name(enum sf_stanza_type t)
{
    switch (t) {
    case SF_STANZA_KEK:
        return "kek";
    case SF_STANZA_X25519:
        return "x25519";
    case SF_STANZA_RSA_OAEP:
        return "rsa-oaep";
    case SF_STANZA_REMOTE:
        return "kms";
    default:
        return "unknown";
    }
}

/* Lower-case hex of the message id ("" when out of memory). */
static void message_id_hex(const struct sf_header_info *h, char *out,
                           size_t out_len)
{
    struct sf_buf hex = SF_BUF_INIT;

    out[0] = '\0';
    if (sf_hex_encode(h->message_id, sizeof h->message_id, &hex) == SF_OK) {
        snprintf(out, out_len, "%s", (const char *)hex.data);
    }
    sf_buf_free(&hex);
}

static json_t *inspect_json(const char *name, const struct sf_header_info *h,
                            int64_t size)
{
    char id[2 * sizeof h->message_id + 1];
    json_t *ctx = json_object();
    json_t *st = json_array();
    size_t i;

    message_id_hex(h, id, sizeof id);
    for (i = 0; ctx != NULL && i < h->context_len; i++) {
        json_object_set_new(ctx, h->context_keys[i],
                            json_string(h->context_values[i]));
    }
    for (i = 0; st != NULL && i < h->stanza_len; i++) {
        json_array_append_new(st, json_pack(
            "{s:s, s:i, s:s, s:I}", "type", stanza_name(h->stanzas[i].type),
            "type_id", (int)h->stanzas[i].type, "key_id",
            h->stanzas[i].key_id, "version",
            (json_int_t)h->stanzas[i].version));
    }
    return json_pack("{s:s, s:i, s:s, s:I, s:s, s:I, s:o*, s:o?, s:o?}",
                     "file", name, "format_version", (int)h->format_version,
                     "suite", suite_name(h->suite), "frame_size",
                     (json_int_t)h->frame_len, "message_id", id,
                     "header_size", (json_int_t)h->header_len, "body_size",
                     size >= 0 ? json_integer(size - (json_int_t)h->header_len)
                               : NULL, "context", ctx, "stanzas", st);
}

static void inspect_text(const char *name, const struct sf_header_info *h,
                         int64_t size)
{
    char id[2 * sizeof h->message_id + 1];
    char fr[32];
    size_t i;

    message_id_hex(h, id, sizeof id);
    cli_format_bytes(h->frame_len, fr, sizeof fr);
    fputs("file:            ", stdout);
    cli_fput_escaped(stdout, name);
    fputc('\n', stdout);
    printf("format version:  %u\n", (unsigned)h->format_version);
    printf("suite:           %s\n", suite_name(h->suite));
    printf("frame size:      %" PRIu32 " (%s)\n", h->frame_len, fr);
    printf("message id:      %s\n", id);
    printf("header size:     %zu bytes\n", h->header_len);
    if (size >= 0) {
        printf("body size:       %" PRId64 " bytes\n",
               size - (int64_t)h->header_len);
    }
    printf("context:         %zu pair%s\n", h->context_len,
           h->context_len == 1 ? "" : "s");
    /* Context and key ids come from the unverified file: escaped, so a
     * crafted value cannot move the cursor or fake more lines. */
    for (i = 0; i < h->context_len; i++) {
        fputs("  ", stdout);
        cli_fput_escaped(stdout, h->context_keys[i]);
        fputc('=', stdout);
        cli_fput_escaped(stdout, h->context_values[i]);
        fputc('\n', stdout);
    }
    printf("stanzas:         %zu\n", h->stanza_len);
    for (i = 0; i < h->stanza_len; i++) {
        const struct sf_stanza_info *z = &h->stanzas[i];

        printf("  %-9s ", stanza_name(z->type));
        cli_fput_escaped(stdout, z->key_id);
        if (z->version > 0) {
            printf("  version %" PRIu32, z->version);
        }
        fputc('\n', stdout);
    }
}

static const char inspect_help[] =
    "Usage: sealflow inspect [--json] FILE\n"
    "\n"
    "Prints what a sealflow envelope's header says, without any key and\n"
    "without verifying it: format version, suite, frame size, message id,\n"
    "header and body sizes, the encryption context, and one line per\n"
    "wrapped data key (stanza type, key id, key version). It never prints\n"
    "key material. FILE may be '-' for stdin. Text from the file is\n"
    "escaped (\\n, \\x1b, ...) so that it cannot act on the terminal.\n"
    "\n"
    "Options:\n"
    "  --json   print the header as JSON (exact values, JSON-escaped)\n"
    "\n"
    "Example:\n"
    "  sealflow inspect --json data.sf\n";

int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_spec spec = {"inspect", inspect_help, NULL, NULL, NULL, 1, 1,
                            true, false};
    struct sf_buf head = SF_BUF_INIT;
    struct sf_header_info info;
    struct cli_in in;
    sf_status st = SF_ERR_FORMAT;
    char shown[SHOW_LEN];
    char **pos;
    int n;
    int code;

    code = cli_parse(ctx, &spec, argc, argv, &pos, &n);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = cli_in_open(&in, pos[0]);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = cli_read_header(&in, &head, &info, &st);
    if (code == CLI_EXIT_OK && st != SF_OK) {
        code = cli_fail(st, "%s is not a readable sealflow envelope",
                        cli_show(in.name, shown, sizeof shown));
    } else if (code == CLI_EXIT_OK && ctx->json) {
        code = cli_json_print(inspect_json(in.name, &info, in.size));
    } else if (code == CLI_EXIT_OK) {
        inspect_text(in.name, &info, in.size);
        code = cli_flush_stdout();
    }
    if (st == SF_OK) {
        sf_header_info_free(&info);
    }
    sf_buf_free(&head);
    cli_in_close(&in);
    return code;
}

/* ---- rewrap --------------------------------------------------------- */

enum rw_result { RW_MOVED, RW_CURRENT, RW_FAILED };

struct rw_file {
    const char *path;     /* as given */
    char *real;           /* symlinks resolved: the file rewritten */
    struct sf_buf head;   /* first bytes of the file, header included */
    struct sf_buf header; /* the new header */
    size_t old_len;       /* old header length */
    struct sf_header_info old_info;
    bool has_info;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

/* Copies the rest of in (after what was read into head) to out. */
static int copy_rest(struct cli_in *in, struct cli_out *out)
{
    uint8_t *buf = malloc(CLI_CHUNK);
    size_t got = CLI_CHUNK;
    int code = buf != NULL ? CLI_EXIT_OK : CLI_EXIT_FAIL;

    while (code == CLI_EXIT_OK && got == CLI_CHUNK) {
        code = cli_in_read(in, buf, CLI_CHUNK, &got);
        if (code == CLI_EXIT_OK) {
            code = cli_out_write(out, buf, got);
        }
    }
    free(buf);
    return code;
}

/*
 * Writes new header + old body to a temporary file beside the original,
 * keeps its mode (and owner where allowed), syncs and renames it over the
 * original. The original stays untouched on any failure.
 */
static int rewrite(struct rw_file *f, struct cli_in *in)
{
    struct cli_out out;
    int code;

    code = cli_out_open(&out, f->real, f->mode, false);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (fchown(out.fd, f->uid, f->gid) != 0) {
        /* Only root (or the owner keeping its own ids) may do this; the
         * file otherwise belongs to whoever runs rewrap. */
    }
    code = cli_out_write(&out, f->header.data, f->header.len);
    if (code == CLI_EXIT_OK) {
        code = cli_out_write(&out, f->head.data + f->old_len,
                             f->head.len - f->old_len);
    }
    if (code == CLI_EXIT_OK) {
        code = copy_rest(in, &out);
    }
    if (code == CLI_EXIT_OK) {
        code = cli_out_commit(&out);
    }
    if (code != CLI_EXIT_OK) {
        cli_out_abort(&out);
    }
    return code;
}

/* Opens the file (through symlinks) and reads its header. */
static int rw_read(struct rw_file *f, struct cli_in *in)
{
    char shown[SHOW_LEN];
    struct stat st;
    sf_status hst;
    int code;

    cli_show(f->path, shown, sizeof shown);
    f->real = realpath(f->path, NULL);
    if (f->real == NULL) {
        return cli_errno(errno, "rewrap: cannot open %s", shown);
    }
    code = cli_in_open(in, f->real);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (fstat(in->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return cli_error(CLI_EXIT_IO, "rewrap: %s is not a regular file",
                         shown);
    }
    f->mode = st.st_mode & 07777;
    f->uid = st.st_uid;
    f->gid = st.st_gid;
    code = cli_read_header(in, &f->head, &f->old_info, &hst);
    if (code == CLI_EXIT_OK && hst != SF_OK) {
        return cli_fail(hst, "rewrap: %s is not a readable sealflow "
                        "envelope", shown);
    }
    f->has_info = code == CLI_EXIT_OK;
    return code;
}

/* The per-stanza version moves between the old and the new header. */
static json_t *changes_of(const struct rw_file *f)
{
    struct sf_header_info now;
    json_t *arr = json_array();
    size_t i;

    if (arr == NULL ||
        sf_envelope_inspect(f->header.data, f->header.len, &now) != SF_OK) {
        sf_clear_error();
        return arr;
    }
    for (i = 0; i < now.stanza_len && i < f->old_info.stanza_len; i++) {
        const struct sf_stanza_info *a = &f->old_info.stanzas[i];
        const struct sf_stanza_info *b = &now.stanzas[i];

        if (a->version != b->version || strcmp(a->key_id, b->key_id) != 0) {
            json_array_append_new(arr, json_pack(
                "{s:s, s:I, s:I}", "key", b->key_id, "from",
                (json_int_t)a->version, "to", (json_int_t)b->version));
        }
    }
    sf_header_info_free(&now);
    return arr;
}

static void rw_free(struct rw_file *f)
{
    if (f->has_info) {
        sf_header_info_free(&f->old_info);
    }
    sf_buf_free(&f->head);
    sf_buf_free(&f->header);
    free(f->real);
}

struct rw_state {
    const char *key;
    struct sf_identity *id;
    json_t *files;        /* JSON report entries */
    size_t counts[3];     /* by enum rw_result */
    int first_error;
};

/* Prints one file's outcome (text) or records it (JSON). */
static void rw_report(struct cli_ctx *ctx, struct rw_state *s,
                      const char *path, enum rw_result r, json_t *changes)
{
    static const char *const words[] = {"moved", "current", "failed"};
    size_t i;

    s->counts[r]++;
    if (ctx->json) {
        json_array_append_new(s->files, json_pack(
            "{s:s, s:s, s:o*, s:s*}", "file", path, "result", words[r],
            "changes", changes, "error",
            r == RW_FAILED ? cli_last_message() : NULL));
        return;
    }
    printf("%-8s ", words[r]);
    cli_fput_escaped(stdout, path);
    for (i = 0; changes != NULL && i < json_array_size(changes); i++) {
        json_t *c = json_array_get(changes, i);

        fputs(i == 0 ? "  (" : ", ", stdout);
        cli_fput_escaped(stdout,
                         json_string_value(json_object_get(c, "key")));
        printf(" v%" JSON_INTEGER_FORMAT " -> v%" JSON_INTEGER_FORMAT,
               json_integer_value(json_object_get(c, "from")),
               json_integer_value(json_object_get(c, "to")));
    }
    printf("%s\n", changes != NULL && json_array_size(changes) > 0 ? ")"
                                                                   : "");
    json_decref(changes);
}

/*
 * Reports why a header could not be rewrapped. The library speaks of
 * "given identities", but rewrap takes none: it tries the keystore alone,
 * so that case is worded for it, keeping the list of what the file is
 * sealed to.
 */
static int rewrap_failed(sf_status rc, const char *path)
{
    static const char tag[] = "it is sealed to: ";
    const char *why = sf_last_error();
    const char *to = why != NULL ? strstr(why, tag) : NULL;
    char shown[SHOW_LEN];

    cli_show(path, shown, sizeof shown);
    if (rc != SF_ERR_NO_KEY) {
        return cli_fail(rc, "rewrap: cannot rewrap %s", shown);
    }
    cli_error(cli_exit_code(rc), "rewrap: cannot rewrap %s: no key in the "
              "keystore can unwrap its data key%s%s", shown,
              to != NULL ? "; " : "", to != NULL ? to : "");
    sf_clear_error();
    return cli_exit_code(rc);
}

static void rewrap_one(struct cli_ctx *ctx, struct rw_state *s,
                       const char *path)
{
    struct rw_file f = {.path = path};
    struct cli_in in = {.fd = -1};
    bool changed = false;
    sf_status rc;
    int code;

    code = rw_read(&f, &in);
    if (code == CLI_EXIT_OK) {
        sf_clear_error();
        rc = sf_envelope_rewrap_header(f.head.data, f.head.len, &s->id, 1,
                                       ctx->ks, s->key, &f.header,
                                       &f.old_len, &changed);
        code = rc == SF_OK ? CLI_EXIT_OK : rewrap_failed(rc, path);
    }
    if (code == CLI_EXIT_OK && changed) {
        code = rewrite(&f, &in);
    }
    if (code != CLI_EXIT_OK) {
        s->first_error = s->first_error != 0 ? s->first_error : code;
        rw_report(ctx, s, path, RW_FAILED, NULL);
    } else {
        rw_report(ctx, s, path, changed ? RW_MOVED : RW_CURRENT,
                  changed ? changes_of(&f) : NULL);
    }
    cli_in_close(&in);
    rw_free(&f);
}

static int rewrap_opt(void *state, int id, const char *arg)
{
    struct rw_state *s = state;

    (void)id;
    s->key = arg;
    return CLI_EXIT_OK;
}

static const struct cli_opt rewrap_opts[] = {
    {"key", 'k', true, 0},
    {NULL, 0, false, 0},
};

static const char rewrap_help[] =
    "Usage: sealflow rewrap [-k KEY] [--json] FILE...\n"
    "\n"
    "Moves each file's wrapped data key to the newest version of its\n"
    "keystore key, after 'sealflow keys rotate'. Only the header changes:\n"
    "the data key is unwrapped with the keystore, wrapped again, and a new\n"
    "header is written with the body copied unchanged into a temporary\n"
    "file beside the original, which is synced and renamed over it. A file\n"
    "that cannot be unwrapped stays byte for byte unchanged.\n"
    "\n"
    "Each file is reported as moved, current (nothing to move) or failed;\n"
    "the exit code is that of the first failure, 0 when none failed.\n"
    "Files are rewritten in place, so FILE cannot be '-' (stdin); name a\n"
    "file called '-' as ./-.\n"
    "\n"
    "Options:\n"
    "  -k, --key KEY   move only stanzas of this key, which must be in\n"
    "                  the keystore (default: every keystore key in the\n"
    "                  file)\n"
    "  --json          report as JSON\n"
    "\n"
    "Example:\n"
    "  sealflow keys rotate orders && sealflow rewrap -k orders *.sf\n";

static int rewrap_all(struct cli_ctx *ctx, struct rw_state *s, char **pos,
                      int n)
{
    int i;

    for (i = 0; i < n; i++) {
        rewrap_one(ctx, s, pos[i]);
    }
    if (ctx->json) {
        return cli_json_print(json_pack(
            "{s:o, s:I, s:I, s:I}", "files", s->files, "moved",
            (json_int_t)s->counts[RW_MOVED], "current",
            (json_int_t)s->counts[RW_CURRENT], "failed",
            (json_int_t)s->counts[RW_FAILED]));
    }
    cli_note("rewrap: %zu moved, %zu already current, %zu failed",
             s->counts[RW_MOVED], s->counts[RW_CURRENT],
             s->counts[RW_FAILED]);
    return CLI_EXIT_OK;
}

/* Refuses '-': rewrap replaces each file, which stdin cannot be. */
static int refuse_stdin(char **pos, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (strcmp(pos[i], "-") == 0) {
            return cli_usage("rewrap", "rewrap rewrites files in place and "
                             "cannot read stdin ('-'); name the file "
                             "(./- for a file called '-')");
        }
    }
    return CLI_EXIT_OK;
}

/* -k must name a keystore key: a misspelt name would otherwise report
 * every file as current. */
static int check_key(struct cli_ctx *ctx, const char *key)
{
    struct sf_key_info k;
    char shown[SHOW_LEN];
    sf_status rc;

    cli_show(key, shown, sizeof shown);
    sf_clear_error();
    rc = sf_keystore_key_info(ctx->ks, key, &k);
    if (rc == SF_ERR_KEY_NOT_FOUND) {
        sf_clear_error();
        cli_error(CLI_EXIT_NO_KEY, "rewrap: key '%s' is not in keystore %s",
                  shown, ctx->keystore_path);
        cli_hint("'sealflow keys list' shows the keys; -k names the key "
                 "whose stanzas move");
        return CLI_EXIT_NO_KEY;
    }
    return rc == SF_OK ? CLI_EXIT_OK : cli_fail(rc, "key '%s'", shown);
}

int cmd_rewrap(struct cli_ctx *ctx, int argc, char **argv)
{
    struct rw_state s = {0};
    struct cli_spec spec = {"rewrap", rewrap_help, rewrap_opts, rewrap_opt,
                            &s, 1, -1, true, false};
    char shown[SHOW_LEN];
    char **pos;
    int n;
    int code;
    sf_status rc;

    code = cli_parse(ctx, &spec, argc, argv, &pos, &n);
    if (code != CLI_PARSE_GO) {
        return code;
    }
    code = refuse_stdin(pos, n);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (s.key != NULL && (rc = sf_key_name_check(s.key)) != SF_OK) {
        return cli_fail(rc, "key '%s'", cli_show(s.key, shown, sizeof shown));
    }
    code = cli_keystore_open(ctx);
    if (code == CLI_EXIT_OK && s.key != NULL) {
        code = check_key(ctx, s.key);
    }
    if (code != CLI_EXIT_OK) {
        return code;
    }
    rc = sf_identity_keystore(ctx->ks, &s.id);
    if (rc != SF_OK) {
        return cli_fail(rc, "cannot use keystore %s", ctx->keystore_path);
    }
    s.files = json_array();
    code = rewrap_all(ctx, &s, pos, n);
    sf_identity_free(s.id);
    if (!ctx->json) {
        json_decref(s.files);
    }
    return code == CLI_EXIT_OK ? s.first_error : code;
}
