#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_io.h"
#include "cli_remote.h"
#include "cli_util.h"
#include "cmd.h"
#include "sealflow/envelope.h"

enum {
    OPT_KEY,
    OPT_RECIPIENT,
    OPT_CONTEXT,
    OPT_SUITE,
    OPT_FRAME,
    OPT_THREADS,
    OPT_OUT,
    OPT_IDENTITY,
    OPT_ADDR,
    OPT_TOKEN_FILE,
    OPT_TOKEN
};

/* Largest recipient or identity file read (PEM RSA-4096 keys are ~3 KiB).
 */
#define KEY_FILE_MAX (64 * 1024)

/* Room for an argument quoted in a message (cli_show). */
#define SHOW_LEN (CLI_SHOW_MAX * 4 + 32)

/* The -c pairs; keys are copies, values point into argv. */
struct ctx_pairs {
    struct sf_kv kv[SF_CONTEXT_MAX];
    size_t len;
};

struct file_state {
    const char *cmd;
    const char *keys[SF_STANZA_MAX];
    size_t key_len;
    const char *rcpts[SF_STANZA_MAX];
    size_t rcpt_len;
    const char *ids[SF_STANZA_MAX];
    size_t id_len;
    struct ctx_pairs pairs;
    struct sf_seal_opts opts;
    const char *out;
    struct cli_remote remote;
};

static const struct cli_opt encrypt_opts[] = {
    {"key", 'k', true, OPT_KEY},
    {"recipient", 'r', true, OPT_RECIPIENT},
    {"context", 'c', true, OPT_CONTEXT},
    {"suite", 0, true, OPT_SUITE},
    {"frame-size", 0, true, OPT_FRAME},
    {"threads", 0, true, OPT_THREADS},
    {"output", 'o', true, OPT_OUT},
    {"addr", 0, true, OPT_ADDR},
    {"token-file", 0, true, OPT_TOKEN_FILE},
    {"token", 0, true, OPT_TOKEN},
    {NULL, 0, false, 0},
};

static const struct cli_opt decrypt_opts[] = {
    {"identity", 'i', true, OPT_IDENTITY},
    {"context", 'c', true, OPT_CONTEXT},
    {"threads", 0, true, OPT_THREADS},
    {"output", 'o', true, OPT_OUT},
    {"addr", 0, true, OPT_ADDR},
    {"token-file", 0, true, OPT_TOKEN_FILE},
    {"token", 0, true, OPT_TOKEN},
    {NULL, 0, false, 0},
};

/* Appends arg to a bounded list of repeated options. */
static int push(const char *cmd, const char **list, size_t *len,
                const char *arg, const char *what)
{
    if (*len >= SF_STANZA_MAX) {
        return cli_usage(cmd, "too many %s (at most %d)", what,
                         SF_STANZA_MAX);
    }
    list[(*len)++] = arg;
    return CLI_EXIT_OK;
}

static int parse_suite(const char *cmd, const char *arg, enum sf_suite *out)
{
    if (strcmp(arg, "aes-256-gcm") == 0) {
        *out = SF_SUITE_AES256GCM;
    } else if (strcmp(arg, "chacha20-poly1305") == 0) {
        *out = SF_SUITE_CHACHA20POLY1305;
    } else {
        char shown[SHOW_LEN];

        return cli_usage(cmd, "unknown suite '%s' (use aes-256-gcm or "
                         "chacha20-poly1305)",
                         cli_show(arg, shown, sizeof shown));
    }
    return CLI_EXIT_OK;
}

static int parse_frame(const char *cmd, const char *arg, uint32_t *out)
{
    uint64_t v;

    if (!cli_parse_size(arg, &v) || v == 0 || v > SF_FRAME_MAX) {
        char shown[SHOW_LEN];

        return cli_usage(cmd, "bad frame size '%s': give 1 byte to 16M, "
                         "e.g. 64K or 1M", cli_show(arg, shown, sizeof shown));
    }
    *out = (uint32_t)v;
    return CLI_EXIT_OK;
}

/* Adds a -c KEY=VALUE pair: the key non-empty and unique, both within
 * the format's limits. */
static int context_add(const char *cmd, struct ctx_pairs *p, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t klen = eq != NULL ? (size_t)(eq - arg) : 0;
    size_t i;

    if (eq == NULL || klen == 0) {
        char shown[SHOW_LEN];

        return cli_usage(cmd, "-c wants KEY=VALUE with a non-empty KEY, "
                         "not '%s'", cli_show(arg, shown, sizeof shown));
    }
    if (klen > SF_CONTEXT_KEY_MAX || strlen(eq + 1) > SF_CONTEXT_VALUE_MAX) {
        return cli_usage(cmd, "-c: keys are at most %d bytes and values "
                         "at most %d", SF_CONTEXT_KEY_MAX,
                         SF_CONTEXT_VALUE_MAX);
    }
    for (i = 0; i < p->len; i++) {
        if (strlen(p->kv[i].key) == klen &&
            strncmp(p->kv[i].key, arg, klen) == 0) {
            return cli_usage(cmd, "-c: context key '%.*s' given twice",
                             (int)klen, arg);
        }
    }
    if (p->len >= SF_CONTEXT_MAX) {
        return cli_usage(cmd, "-c: at most %d context pairs",
                         SF_CONTEXT_MAX);
    }
    p->kv[p->len].key = strndup(arg, klen);
    if (p->kv[p->len].key == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    p->kv[p->len++].value = eq + 1;
    return CLI_EXIT_OK;
}

static void context_free(struct ctx_pairs *p)
{
    while (p->len > 0) {
        free((char *)p->kv[--p->len].key);
    }
}

static int file_opt(void *state, int id, const char *arg)
{
    struct file_state *st = state;
    uint64_t v;

    switch (id) {
    case OPT_KEY:
        return push(st->cmd, st->keys, &st->key_len, arg, "keys");
    case OPT_RECIPIENT:
        return push(st->cmd, st->rcpts, &st->rcpt_len, arg, "recipients");
    case OPT_IDENTITY:
        return push(st->cmd, st->ids, &st->id_len, arg, "identities");
    case OPT_CONTEXT:
        return context_add(st->cmd, &st->pairs, arg);
    case OPT_SUITE:
        return parse_suite(st->cmd, arg, &st->opts.suite);
    case OPT_FRAME:
        return parse_frame(st->cmd, arg, &st->opts.frame_len);
    case OPT_THREADS:
        if (!cli_parse_u64(arg, 1, SF_THREADS_MAX, &v)) {
            char shown[SHOW_LEN];

            return cli_usage(st->cmd, "--threads wants 1 to %d, not '%s'",
                             SF_THREADS_MAX,
                             cli_show(arg, shown, sizeof shown));
        }
        st->opts.threads = (unsigned)v;
        return CLI_EXIT_OK;
    case OPT_ADDR:
        st->remote.addr_opt = arg;
        return CLI_EXIT_OK;
    case OPT_TOKEN_FILE:
        st->remote.token_file_opt = arg;
        return CLI_EXIT_OK;
    case OPT_TOKEN:
        return cli_remote_refuse_token(st->cmd);
    default:
        st->out = arg;
        return CLI_EXIT_OK;
    }
}

/* The number of online CPUs, the default thread count. */
static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1) {
        return 1;
    }
    return n > SF_THREADS_MAX ? SF_THREADS_MAX : (unsigned)n;
}

/* ---- encrypt ------------------------------------------------------- */

/* true when text holds an identity: an X25519 secret or a PEM private
 * key, whatever the case. */
static bool holds_identity(const char *text)
{
    return cli_has_word(text, "SEALFLOW-X25519-SECRET") ||
           cli_has_word(text, "PRIVATE KEY");
}

/*
 * Refuses an identity given as -r: the argument is never echoed, as it
 * is a secret that just landed on the command line.
 */
static int refuse_identity_arg(const char *arg)
{
    cli_error(CLI_EXIT_INPUT, "the -r argument (%zu bytes) is an identity "
              "(a secret key), not a recipient: give the public recipient "
              "instead", strlen(arg));
    cli_hint("'sealflow identity generate -o FILE' prints the public "
             "recipient, and keeps it in FILE's '# public recipient:' "
             "line; never put a secret key on a command line, where other "
             "users can see it");
    return CLI_EXIT_INPUT;
}

/* For a recipient file that holds an identity: names its public
 * recipient when the file's comment line gives it (it is public). */
static void identity_file_hint(const struct sf_buf *text)
{
    static const char tag[] = "# public recipient: sealflow-x25519:";
    const char *p = strstr((const char *)text->data, tag);
    char pub[80];
    size_t n;

    if (p == NULL) {
        cli_hint("use the identity's public recipient, which 'sealflow "
                 "identity generate' prints");
        return;
    }
    p += sizeof tag - 1 - strlen("sealflow-x25519:");
    n = strcspn(p, " \t\r\n");
    if (n >= sizeof pub) {
        n = sizeof pub - 1;
    }
    memcpy(pub, p, n);
    pub[n] = '\0';
    cli_hint("its public recipient, from the file's comment line, is %s",
             pub);
}

/* Reads the -r argument: the recipient itself, or the file it names. */
static int recipient_text(const char *arg, struct sf_buf *text,
                          bool *is_file)
{
    char shown[SHOW_LEN];
    struct stat st;

    *is_file = strncmp(arg, "sealflow-x25519:", 16) != 0 &&
               strncmp(arg, "-----BEGIN", 10) != 0;
    if (*is_file && stat(arg, &st) != 0 && errno == ENOENT) {
        if (holds_identity(arg)) {
            return refuse_identity_arg(arg);
        }
        if (cli_arg_is_secret(arg)) {
            cli_error(CLI_EXIT_INPUT, "the -r argument (%zu bytes) is "
                      "neither a recipient string nor an existing file",
                      strlen(arg));
        } else {
            cli_error(CLI_EXIT_INPUT, "recipient '%s' is neither a "
                      "recipient string nor an existing file",
                      cli_show(arg, shown, sizeof shown));
        }
        cli_hint("a recipient is \"sealflow-x25519:...\", or a file "
                 "holding one or an RSA public key in PEM");
        return CLI_EXIT_INPUT;
    }
    if (!*is_file && holds_identity(arg)) {
        return refuse_identity_arg(arg);
    }
    if (*is_file) {
        return cli_read_file(arg, KEY_FILE_MAX, text);
    }
    return sf_buf_put_str(text, arg) == SF_OK
               ? CLI_EXIT_OK
               : cli_error(CLI_EXIT_FAIL, "out of memory");
}

/*
 * The key in recipient text with blank and comment lines and all spaces
 * dropped (and a "public recipient:" label), so one recipient given
 * twice, as a string and as a file say, is seen once. NULL when out of
 * memory.
 */
static char *recipient_key(const struct sf_buf *text)
{
    static const char label[] = "publicrecipient:";
    const char *p = (const char *)text->data;
    const char *end = p + text->len;
    char *key = malloc(text->len + 1);
    size_t n = 0;
    bool is_comment = false;
    bool at_line = true;

    for (; key != NULL && p < end; p++) {
        if (*p == '\n') {
            at_line = true;
            is_comment = false;
        } else if (*p != ' ' && *p != '\t' && *p != '\r') {
            is_comment = is_comment || (at_line && *p == '#');
            at_line = false;
            if (!is_comment) {
                key[n++] = *p;
            }
        }
    }
    if (key != NULL) {
        key[n] = '\0';
        if (strncasecmp(key, label, sizeof label - 1) == 0) {
            memmove(key, key + sizeof label - 1, n - (sizeof label - 2));
        }
    }
    return key;
}

/* Parses one -r recipient; *key gets its key text for spotting repeats.
 */
static int load_recipient(const char *arg, struct sf_recipient **out,
                          char **key)
{
    struct sf_buf text = SF_BUF_INIT;
    char shown[SHOW_LEN];
    bool is_file = false;
    sf_status rc;
    int code;

    *key = NULL;
    code = recipient_text(arg, &text, &is_file);
    if (code == CLI_EXIT_OK) {
        *key = recipient_key(&text);
        code = *key != NULL ? CLI_EXIT_OK
                            : cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    if (code == CLI_EXIT_OK) {
        sf_clear_error();
        rc = sf_recipient_parse((const char *)text.data, text.len, out);
        if (rc != SF_OK) {
            code = cli_fail(rc, "recipient %s",
                            is_file ? cli_show(arg, shown, sizeof shown)
                                    : "string");
        }
        if (rc != SF_OK && is_file &&
            holds_identity((const char *)text.data)) {
            identity_file_hint(&text);
        }
    }
    sf_buf_free(&text);
    return code;
}

/* One -k key: "kms:NAME" is wrapped by the key service (opened on first
 * use), any other name by the keystore (opened on first use). No request
 * is sent yet: the service is first asked when the message is sealed. */
static int key_recipient(struct cli_ctx *ctx, struct file_state *st,
                         const char *name, struct sf_recipient **out)
{
    bool is_kms = cli_remote_is_kms(name);
    sf_status rc;
    int code;

    code = is_kms ? cli_remote_open(st->cmd, &st->remote)
                  : cli_keystore_open(ctx);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    sf_clear_error();
    rc = is_kms ? sf_recipient_remote(st->remote.r, name, out)
                : sf_recipient_keystore(ctx->ks, name, out);
    if (rc != SF_OK) {
        char shown[SHOW_LEN];

        return cli_fail(rc, "key '%s'", cli_show(name, shown, sizeof shown));
    }
    return CLI_EXIT_OK;
}

/* true when keys[i] repeats an earlier -k: it is then skipped. */
static bool key_repeats(const struct file_state *st, size_t i)
{
    char shown[SHOW_LEN];
    size_t j;

    for (j = 0; j < i; j++) {
        if (strcmp(st->keys[j], st->keys[i]) == 0) {
            cli_note("warning: -k %s is given twice; sealing to it once",
                     cli_show(st->keys[i], shown, sizeof shown));
            return true;
        }
    }
    return false;
}

/* true when key (a recipient's key text) repeats one of seen[0..n-1]. */
static bool recipient_repeats(char *const *seen, size_t n, const char *key,
                              const char *arg)
{
    char shown[SHOW_LEN];
    size_t j;

    for (j = 0; j < n; j++) {
        if (seen[j] != NULL && strcmp(seen[j], key) == 0) {
            cli_note("warning: recipient %s is given twice; sealing to it "
                     "once", cli_show(arg, shown, sizeof shown));
            return true;
        }
    }
    return false;
}

/* Builds every -k and -r recipient, each once; rcpts[*n] on success. */
static int build_recipients(struct cli_ctx *ctx, struct file_state *st,
                            struct sf_recipient **rcpts, size_t *n)
{
    char *seen[SF_STANZA_MAX] = {NULL};
    size_t i;
    int code = CLI_EXIT_OK;

    for (i = 0; i < st->key_len && code == CLI_EXIT_OK; i++) {
        if (key_repeats(st, i)) {
            continue;
        }
        code = key_recipient(ctx, st, st->keys[i], &rcpts[*n]);
        *n += code == CLI_EXIT_OK;
    }
    for (i = 0; i < st->rcpt_len && code == CLI_EXIT_OK; i++) {
        code = load_recipient(st->rcpts[i], &rcpts[*n], &seen[i]);
        if (code == CLI_EXIT_OK &&
            recipient_repeats(seen, i, seen[i], st->rcpts[i])) {
            sf_recipient_free(rcpts[*n]);
            rcpts[*n] = NULL;
            continue;
        }
        *n += code == CLI_EXIT_OK;
    }
    for (i = 0; i < st->rcpt_len; i++) {
        free(seen[i]);
    }
    return code;
}

/* Streams in through the sealer into out. */
static int seal_stream(struct cli_ctx *ctx, struct sf_sealer *s,
                       struct cli_in *in, struct cli_out *out)
{
    uint8_t *buf = malloc(CLI_CHUNK);
    struct sf_buf sealed = SF_BUF_INIT;
    struct cli_progress bar;
    size_t got = CLI_CHUNK;
    sf_status rc = SF_OK;
    int code = buf != NULL ? CLI_EXIT_OK : CLI_EXIT_FAIL;

    cli_progress_start(&bar, ctx->progress, in->size);
    while (code == CLI_EXIT_OK && rc == SF_OK && got == CLI_CHUNK) {
        code = cli_in_read(in, buf, CLI_CHUNK, &got);
        if (code == CLI_EXIT_OK && got > 0) {
            rc = sf_sealer_update(s, buf, got, &sealed);
            cli_progress_add(&bar, got);
        }
        if (rc == SF_OK && code == CLI_EXIT_OK) {
            code = cli_out_write(out, sealed.data, sealed.len);
            sealed.len = 0; /* ciphertext: no wipe needed */
        }
    }
    if (rc == SF_OK && code == CLI_EXIT_OK) {
        rc = sf_sealer_final(s, &sealed);
    }
    if (rc == SF_OK && code == CLI_EXIT_OK) {
        code = cli_out_write(out, sealed.data, sealed.len);
    }
    cli_progress_end(&bar);
    if (rc != SF_OK) {
        code = cli_fail(rc, "cannot encrypt %s", in->name);
    }
    if (buf != NULL) {
        sf_wipe(buf, CLI_CHUNK);
    }
    free(buf);
    sf_buf_free(&sealed);
    return code;
}

/* Refuses binary ciphertext on a terminal (stdout, or -o naming one). */
static int refuse_tty(int fd)
{
    if (!isatty(fd)) {
        return CLI_EXIT_OK;
    }
    cli_error(CLI_EXIT_USAGE, "encrypt: refusing to write binary "
              "ciphertext to a terminal");
    cli_hint("use -o FILE, or redirect stdout to a file or pipe");
    return CLI_EXIT_USAGE;
}

/* Opens input and output (refusing a terminal for ciphertext) and runs
 * the sealer; the output is renamed into place only on success. */
static int encrypt_file(struct cli_ctx *ctx, struct file_state *st,
                        struct sf_sealer *s, const char *in_path)
{
    struct cli_in in;
    struct cli_out out;
    int code;

    if ((st->out == NULL || strcmp(st->out, "-") == 0) &&
        refuse_tty(STDOUT_FILENO) != CLI_EXIT_OK) {
        return CLI_EXIT_USAGE;
    }
    code = cli_in_open(&in, in_path);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = cli_check_distinct(st->cmd, &in, st->out);
    if (code == CLI_EXIT_OK) {
        code = cli_out_open(&out, st->out, cli_default_mode(), false);
        if (code == CLI_EXIT_OK) {
            code = refuse_tty(out.fd);
            code = code == CLI_EXIT_OK ? seal_stream(ctx, s, &in, &out)
                                       : code;
            code = code == CLI_EXIT_OK ? cli_out_commit(&out) : code;
            if (code != CLI_EXIT_OK) {
                cli_out_abort(&out);
            }
        }
    }
    cli_in_close(&in);
    return code;
}

static const char encrypt_help[] =
    "Usage: sealflow encrypt [-k KEY]... [-r RECIPIENT]... [-c KEY=VALUE]...\n"
    "                        [--suite SUITE] [--frame-size SIZE]\n"
    "                        [--threads N] [--progress | --no-progress]\n"
    "                        [--addr URL] [--token-file FILE] [-o OUT]\n"
    "                        [IN]\n"
    "\n"
    "Seals IN (default: stdin) into the sealflow envelope format, on OUT\n"
    "(default: stdout). A fresh data key is drawn for the message and\n"
    "wrapped for every keystore key (-k) and every recipient (-r); any of\n"
    "them can open the result. At least one -k or -r is needed.\n"
    "\n"
    "Options:\n"
    "  -k, --key KEY            a keystore key (its newest version), or\n"
    "                           kms:NAME, a key held by the key service\n"
    "  -r, --recipient R        \"sealflow-x25519:...\", or a file holding a\n"
    "                           recipient string or an RSA public key PEM\n"
    "  -c, --context KEY=VALUE  authenticated, unencrypted context pair;\n"
    "                           repeat for more (unique, non-empty keys)\n"
    "  --suite SUITE            aes-256-gcm (default) or chacha20-poly1305\n"
    "  --frame-size SIZE        plaintext bytes per frame: 1 to 16M,\n"
    "                           suffix K or M (default 64K)\n"
    "  --threads N              frames sealed in parallel (default: CPUs)\n"
    "  -o, --output OUT         write OUT (atomically) instead of stdout;\n"
    "                           a device or FIFO is written directly\n"
    "  --progress, --no-progress  force or hide the progress bar\n"
    "  --addr URL               the key service for kms: keys (default:\n"
    "                           $SEALFLOW_ADDR, else $VAULT_ADDR)\n"
    "  --token-file FILE        read the service token from FILE (default:\n"
    "                           $SEALFLOW_TOKEN, else $VAULT_TOKEN)\n"
    "\n"
    "Refuses to write ciphertext to a terminal, and -o naming IN.\n"
    "\n"
    "Examples:\n"
    "  sealflow encrypt -k orders -c tenant=acme -o data.sf data.csv\n"
    "  SEALFLOW_ADDR=https://kms:8200 sealflow encrypt -k kms:orders \\\n"
    "      --token-file ~/.kms-token -o data.sf data.csv\n"
    "  tar c dir | sealflow encrypt -r partner.pub > dir.tar.sf\n";

/* Builds the recipients and the sealer, then seals in_path. */
static int encrypt_run(struct cli_ctx *ctx, struct file_state *st,
                       const char *in_path)
{
    struct sf_recipient *rcpts[SF_STANZA_MAX] = {NULL};
    struct sf_sealer *s = NULL;
    size_t n = 0;
    sf_status rc;
    int code;

    code = build_recipients(ctx, st, rcpts, &n);
    if (code == CLI_EXIT_OK) {
        st->opts.context = st->pairs.kv;
        st->opts.context_len = st->pairs.len;
        sf_clear_error();
        rc = sf_sealer_new(&st->opts, rcpts, n, &s);
        code = rc == SF_OK ? encrypt_file(ctx, st, s, in_path)
                           : cli_fail(rc, "cannot start encrypting");
        if (rc != SF_OK && st->remote.r != NULL) {
            code = cli_remote_exit(rc, code);
            cli_remote_hint(rc);
        }
    }
    sf_sealer_free(s);
    while (n > 0) {
        sf_recipient_free(rcpts[--n]);
    }
    return code;
}

int cmd_encrypt(struct cli_ctx *ctx, int argc, char **argv)
{
    struct file_state st = {.cmd = "encrypt"};
    struct cli_spec spec = {"encrypt", encrypt_help, encrypt_opts,
                            file_opt, &st, 0, 1, false, true};
    char **pos;
    int npos;
    int code;

    st.opts.threads = default_threads();
    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code != CLI_PARSE_GO) {
        goto out;
    }
    if (st.key_len + st.rcpt_len == 0) {
        code = cli_usage(spec.cmd, "give at least one -k KEY or "
                         "-r RECIPIENT");
    } else if (st.key_len + st.rcpt_len > SF_STANZA_MAX) {
        code = cli_usage(spec.cmd, "at most %d keys and recipients in all",
                         SF_STANZA_MAX);
    } else {
        code = encrypt_run(ctx, &st, npos > 0 ? pos[0] : NULL);
    }

out:
    cli_remote_close(&st.remote);
    context_free(&st.pairs);
    return code;
}

/* ---- decrypt ------------------------------------------------------- */

/* Warns, as ssh does, about an identity file other users may read; the
 * file is still used. */
static void warn_if_exposed(const char *path, const struct stat *st)
{
    char shown[SHOW_LEN];

    if (S_ISREG(st->st_mode) && (st->st_mode & 077) != 0) {
        cli_show(path, shown, sizeof shown);
        cli_note("warning: identity file %s is accessible by group or "
                 "others (mode %04o)", shown,
                 (unsigned)(st->st_mode & 07777));
        cli_hint("keep it private: chmod 600 %s", shown);
    }
}

/* Loads one -i identity file; the text is secret and wiped on release. */
static int load_identity(const char *path, struct sf_identity **out)
{
    struct sf_buf text = SF_BUF_INIT;
    char shown[SHOW_LEN];
    struct stat st;
    sf_status rc;
    int code;

    if (stat(path, &st) != 0 && errno == ENOENT && holds_identity(path)) {
        cli_error(CLI_EXIT_USAGE, "the -i argument (%zu bytes) is an "
                  "identity itself, not the name of a file holding one",
                  strlen(path));
        cli_hint("save it in a file (chmod 600) and pass -i FILE; never "
                 "put a secret key on a command line");
        return CLI_EXIT_USAGE;
    }
    code = cli_read_file(path, KEY_FILE_MAX, &text);
    if (code == CLI_EXIT_OK && stat(path, &st) == 0) {
        warn_if_exposed(path, &st);
    }
    if (code == CLI_EXIT_OK) {
        sf_clear_error();
        rc = sf_identity_parse((const char *)text.data, text.len, out);
        if (rc != SF_OK) {
            code = cli_fail(rc, "identity file %s",
                            cli_show(path, shown, sizeof shown));
        }
    }
    sf_buf_free(&text);
    return code;
}

/*
 * The keystore (when one exists) and then every -i file. A keystore that
 * exists but cannot be opened is fatal only when there is no -i.
 */
static int build_identities(struct cli_ctx *ctx, struct file_state *st,
                            struct sf_identity **ids, size_t *n)
{
    sf_status rc;
    size_t i;
    int code;

    if (cli_keystore_exists(ctx)) {
        code = cli_keystore_open(ctx);
        if (code != CLI_EXIT_OK && st->id_len == 0) {
            return code;
        }
        if (code != CLI_EXIT_OK) {
            cli_note("going on with the -i identities only");
        } else if ((rc = sf_identity_keystore(ctx->ks, &ids[*n])) != SF_OK) {
            return cli_fail(rc, "cannot use keystore %s",
                            ctx->keystore_path);
        } else {
            (*n)++;
        }
    }
    for (i = 0; i < st->id_len; i++) {
        code = load_identity(st->ids[i], &ids[*n]);
        if (code != CLI_EXIT_OK) {
            return code;
        }
        (*n)++;
    }
    return CLI_EXIT_OK;
}

static int no_identities(struct cli_ctx *ctx, bool has_kms)
{
    cli_error(CLI_EXIT_NO_KEY, "decrypt: nothing to decrypt with: no "
              "keystore at %s, no -i IDENTITY%s", ctx->keystore_path,
              has_kms ? " and no key service" : "");
    if (has_kms) {
        cli_remote_setup_hint();
    } else {
        cli_hint("pass -i FILE with your identity, or point --keystore at "
                 "the keystore holding the key");
    }
    return CLI_EXIT_NO_KEY;
}

/* Reports a -c pair the header lacks or holds another value for. The
 * header's value comes from the file, so it is escaped (and cut short):
 * a crafted file must not write to the terminal through it. */
static int context_mismatch(const char *key, const char *have,
                            const char *want)
{
    char k[CLI_SHOW_MAX * 4 + 8];
    char h[CLI_SHOW_MAX * 4 + 8];
    char w[CLI_SHOW_MAX * 4 + 8];

    cli_escape(key, strlen(key), k, sizeof k);
    cli_escape(want, strlen(want), w, sizeof w);
    if (have == NULL) {
        return cli_error(CLI_EXIT_AUTH, "decrypt: context mismatch: %s is "
                         "missing, expected '%s'", k, w);
    }
    cli_escape(have, strlen(have), h, sizeof h);
    return cli_error(CLI_EXIT_AUTH, "decrypt: context mismatch: %s is '%s', "
                     "expected '%s'", k, h, w);
}

/* Compares the -c pairs with the header's context. The header is not yet
 * authenticated here, but the opener checks its MAC before any plaintext
 * is released, so a context edited to pass this check fails there. */
static int check_context(const struct ctx_pairs *want,
                         const struct sf_header_info *info)
{
    size_t i;
    size_t j;

    for (i = 0; i < want->len; i++) {
        const char *key = want->kv[i].key;
        const char *have = NULL;

        for (j = 0; j < info->context_len; j++) {
            if (strcmp(info->context_keys[j], key) == 0) {
                have = info->context_values[j];
            }
        }
        if (have == NULL || strcmp(have, want->kv[i].value) != 0) {
            return context_mismatch(key, have, want->kv[i].value);
        }
    }
    return CLI_EXIT_OK;
}

/* Adds hints, stanza by stanza, on how the file could be opened after no
 * available key did: the library's message already says why. */
static void diagnose(struct cli_ctx *ctx, const struct file_state *st,
                     const struct sf_header_info *info)
{
    bool has_partner = false;
    struct sf_key_info k;
    size_t i;

    for (i = 0; i < info->stanza_len; i++) {
        const struct sf_stanza_info *z = &info->stanzas[i];

        if (z->type == SF_STANZA_REMOTE || cli_remote_is_kms(z->key_id)) {
            continue; /* the key service's hint follows the loop */
        }
        if (strchr(z->key_id, ':') != NULL) {
            has_partner = true;
        } else if (ctx->ks == NULL) {
            continue;
        } else if (sf_keystore_key_info(ctx->ks, z->key_id, &k) != SF_OK) {
            cli_hint("key '%s' is not in keystore %s; is --keystore right?",
                     z->key_id, ctx->keystore_path);
        } else if (z->version < k.min_decryption_version) {
            cli_hint("key '%s' version %u is retired (min_decryption_version "
                     "%u); to read this file, lower it again: sealflow keys "
                     "config %s --min-decryption-version %u", z->key_id,
                     z->version, k.min_decryption_version, z->key_id,
                     z->version);
        }
    }
    if (has_partner && st->id_len == 0) {
        cli_hint("the file is also sealed to partner keys; pass -i FILE "
                 "with a matching identity");
    }
    if (cli_remote_in_header(info) && st->remote.r == NULL) {
        cli_remote_setup_hint();
    }
    sf_clear_error();
}

/* Writes pt to out and wipes it for reuse. */
static int flush_plain(struct cli_out *out, struct sf_buf *pt)
{
    int code = cli_out_write(out, pt->data, pt->len);

    sf_buf_reset(pt);
    return code;
}

/* Feeds head, then the rest of in, through the opener into out. */
static int open_stream(struct cli_ctx *ctx, struct sf_opener *o,
                       struct cli_in *in, const struct sf_buf *head,
                       struct cli_out *out, sf_status *rc)
{
    uint8_t *buf = malloc(CLI_CHUNK);
    struct sf_buf pt = SF_BUF_INIT;
    struct cli_progress bar;
    size_t got = head->len;
    int code = buf != NULL ? CLI_EXIT_OK : CLI_EXIT_FAIL;

    cli_progress_start(&bar, ctx->progress, in->size);
    *rc = sf_opener_update(o, head->data, head->len, &pt);
    while (code == CLI_EXIT_OK && *rc == SF_OK && got > 0) {
        cli_progress_add(&bar, got);
        code = flush_plain(out, &pt);
        if (code == CLI_EXIT_OK) {
            code = cli_in_read(in, buf, CLI_CHUNK, &got);
        }
        if (code == CLI_EXIT_OK && got > 0) {
            *rc = sf_opener_update(o, buf, got, &pt);
        }
    }
    if (code == CLI_EXIT_OK && *rc == SF_OK) {
        *rc = sf_opener_final(o, &pt);
    }
    if (code == CLI_EXIT_OK && *rc == SF_OK) {
        code = flush_plain(out, &pt);
    }
    cli_progress_end(&bar);
    if (*rc != SF_OK) {
        code = cli_fail(*rc, "cannot decrypt %s", in->name);
    }
    free(buf);
    sf_buf_free(&pt);
    return code;
}

/* Opens the output, streams, and renames it into place on success. */
static int decrypt_to(struct cli_ctx *ctx, struct file_state *st,
                      struct sf_opener *o, struct cli_in *in,
                      const struct sf_buf *head, sf_status *rc)
{
    struct cli_out out;
    int code;

    code = cli_out_open(&out, st->out, 0600, false);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = open_stream(ctx, o, in, head, &out, rc);
    if (code == CLI_EXIT_OK) {
        code = cli_out_commit(&out);
    }
    if (code != CLI_EXIT_OK) {
        cli_out_abort(&out);
    }
    return code;
}

/* Checks the -c pairs, adds the key service when the message needs it,
 * and makes sure something can open the message. info is NULL when the
 * header did not parse (status hst); the opener then says why. */
static int before_open(struct cli_ctx *ctx, struct file_state *st,
                       const char *in_name,
                       const struct sf_header_info *info, sf_status hst,
                       struct sf_identity **ids, size_t *n)
{
    int code = CLI_EXIT_OK;

    if (st->pairs.len > 0) {
        code = info != NULL ? check_context(&st->pairs, info)
                            : cli_fail(hst, "decrypt: %s", in_name);
    }
    if (code == CLI_EXIT_OK && info != NULL) {
        code = cli_remote_add_identity(st->cmd, &st->remote, info, ids,
                                       n);
    }
    if (code == CLI_EXIT_OK && *n == 0) {
        code = no_identities(ctx,
                             info != NULL && cli_remote_in_header(info));
    }
    return code;
}

static int decrypt_file(struct cli_ctx *ctx, struct file_state *st,
                        struct sf_identity **ids, size_t *n,
                        const char *in_path)
{
    struct sf_open_opts oo = {st->opts.threads};
    struct sf_header_info info;
    struct sf_buf head = SF_BUF_INIT;
    struct sf_opener *o = NULL;
    struct cli_in in;
    sf_status hst = SF_ERR_FORMAT;
    sf_status rc = SF_OK;
    int code;

    code = cli_in_open(&in, in_path);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = cli_check_distinct(st->cmd, &in, st->out);
    if (code == CLI_EXIT_OK) {
        code = cli_read_header(&in, &head, &info, &hst);
    }
    if (code == CLI_EXIT_OK) {
        code = before_open(ctx, st, in.name, hst == SF_OK ? &info : NULL,
                           hst, ids, n);
    }
    if (code == CLI_EXIT_OK) {
        rc = sf_opener_new_opts(&oo, ids, *n, &o);
        code = rc == SF_OK ? decrypt_to(ctx, st, o, &in, &head, &rc)
                           : cli_fail(rc, "cannot start decrypting");
    }
    if ((rc == SF_ERR_NO_KEY || rc == SF_ERR_KEY_VERSION) && hst == SF_OK) {
        diagnose(ctx, st, &info);
    }
    if (rc != SF_OK && st->remote.r != NULL) {
        code = cli_remote_exit(rc, code);
        cli_remote_hint(rc);
    }
    if (hst == SF_OK) {
        sf_header_info_free(&info);
    }
    sf_opener_free(o);
    sf_buf_free(&head);
    cli_in_close(&in);
    return code;
}

static const char decrypt_help[] =
    "Usage: sealflow decrypt [-i IDENTITY]... [-c KEY=VALUE]... [--threads N]\n"
    "                        [--progress | --no-progress] [--addr URL]\n"
    "                        [--token-file FILE] [-o OUT] [IN]\n"
    "\n"
    "Opens a sealflow envelope from IN (default: stdin) and writes the\n"
    "plaintext to OUT (default: stdout). The keystore is tried first when\n"
    "it exists, then each identity file, then the key service for kms:\n"
    "stanzas when an address is set. Plaintext is released only after\n"
    "the header and each frame are authenticated; with -o, OUT appears\n"
    "(mode 0600) only when the whole message opened.\n"
    "\n"
    "Options:\n"
    "  -i, --identity FILE      an identity file (X25519 secret or RSA\n"
    "                           private key PEM); repeat for more\n"
    "  -c, --context KEY=VALUE  require this context pair; a message\n"
    "                           without it fails with exit code 4\n"
    "  --threads N              frames opened in parallel (default: CPUs)\n"
    "  -o, --output OUT         write OUT (atomically) instead of stdout;\n"
    "                           a device or FIFO is written directly\n"
    "  --progress, --no-progress  force or hide the progress bar\n"
    "  --addr URL               the key service that opens kms: stanzas\n"
    "                           (default: $SEALFLOW_ADDR, else $VAULT_ADDR)\n"
    "  --token-file FILE        read the service token from FILE (default:\n"
    "                           $SEALFLOW_TOKEN, else $VAULT_TOKEN)\n"
    "\n"
    "Examples:\n"
    "  sealflow decrypt -o data.csv data.sf\n"
    "  sealflow decrypt -i partner.key -c tenant=acme < data.sf\n";

int cmd_decrypt(struct cli_ctx *ctx, int argc, char **argv)
{
    struct file_state st = {.cmd = "decrypt"};
    struct cli_spec spec = {"decrypt", decrypt_help, decrypt_opts, file_opt,
                            &st, 0, 1, false, true};
    /* the keystore, every -i and the key service */
    struct sf_identity *ids[SF_STANZA_MAX + 2] = {NULL};
    size_t n = 0;
    char **pos;
    int npos;
    int code;

    st.opts.threads = default_threads();
    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code != CLI_PARSE_GO) {
        goto out;
    }
    code = build_identities(ctx, &st, ids, &n);
    if (code == CLI_EXIT_OK) {
        code = decrypt_file(ctx, &st, ids, &n, npos > 0 ? pos[0] : NULL);
    }

out:
    while (n > 0) {
        sf_identity_free(ids[--n]);
    }
    cli_remote_close(&st.remote);
    context_free(&st.pairs);
    return code;
}
