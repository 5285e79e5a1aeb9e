#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_io.h"
#include "cli_util.h"
#include "cmd_records.h"
#include "sealflow/envelope.h"
#include "sealflow/secret.h"

enum {
    OPT_POLICY,
    OPT_FORMAT,
    OPT_CONTEXT,
    OPT_THREADS,
    OPT_OUT,
    OPT_AS,
    OPT_IDENTITY,
    OPT_STRICT,
    OPT_MAX_FINDINGS
};

#define READER_MAX 64
#define IDENTITY_MAX 16
#define KEY_FILE_MAX (64 * 1024)

struct rec_state {
    const char *cmd;
    const char *policy;
    const char *format;
    const char *out;
    unsigned threads;
    struct sf_kv ctx[SF_CONTEXT_MAX];
    size_t ctx_len;
    const char *as[READER_MAX];
    size_t as_len;
    const char *ids[IDENTITY_MAX];
    size_t id_len;
    bool is_strict;
    uint64_t max_findings;
};

/* ---- shared by the commands ------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int records_format(const char *cmd, const char *opt, const char *path,
                   enum sf_records_format *out)
{
    if (opt != NULL) {
        sf_clear_error();
        if (sf_records_format_parse(opt, out) != SF_OK) {
            return cli_usage(cmd, "--format wants json, jsonl or csv, not "
                             "'%s'", opt);
        }
        return CLI_EXIT_OK;
    }
    *out = SF_RECORDS_JSON;
    if (path != NULL && (ends_with(path, ".jsonl") ||
                         ends_with(path, ".ndjson"))) {
        *out = SF_RECORDS_JSONL;
    } else if (path != NULL && ends_with(path, ".csv")) {
        *out = SF_RECORDS_CSV;
    }
    return CLI_EXIT_OK;
}

int records_policy(const char *path, struct sf_policy **out)
{
    sf_status rc;

    sf_clear_error();
    rc = sf_policy_load_file(path, out);
    if (rc != SF_OK) {
        return cli_error(cli_exit_code(rc), "%s", sf_last_error()[0] != '\0'
                         ? sf_last_error() : sf_status_str(rc));
    }
    return CLI_EXIT_OK;
}

static int push(const char *cmd, const char **list, size_t *len, size_t max,
                const char *arg, const char *what)
{
    if (*len >= max) {
        return cli_usage(cmd, "too many %s (at most %zu)", what, max);
    }
    list[(*len)++] = arg;
    return CLI_EXIT_OK;
}

/* A -c KEY=VALUE pair; the key is copied, the value points into argv. */
static int context_add(struct rec_state *st, const char *arg)
{
    const char *eq = strchr(arg, '=');

    if (eq == NULL || eq == arg) {
        return cli_usage(st->cmd, "-c wants KEY=VALUE with a non-empty KEY, "
                         "not '%s'", arg);
    }
    if (st->ctx_len >= SF_CONTEXT_MAX) {
        return cli_usage(st->cmd, "-c: at most %d context pairs",
                         SF_CONTEXT_MAX);
    }
    st->ctx[st->ctx_len].key = strndup(arg, (size_t)(eq - arg));
    if (st->ctx[st->ctx_len].key == NULL) {
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    st->ctx[st->ctx_len++].value = eq + 1;
    return CLI_EXIT_OK;
}

static int rec_opt(void *state, int id, const char *arg)
{
    struct rec_state *st = state;
    uint64_t v;

    switch (id) {
    case OPT_POLICY:
        st->policy = arg;
        return CLI_EXIT_OK;
    case OPT_FORMAT:
        st->format = arg;
        return CLI_EXIT_OK;
    case OPT_CONTEXT:
        return context_add(st, arg);
    case OPT_THREADS:
        if (!cli_parse_u64(arg, 1, SF_THREADS_MAX, &v)) {
            return cli_usage(st->cmd, "--threads wants 1 to %d, not '%s'",
                             SF_THREADS_MAX, arg);
        }
        st->threads = (unsigned)v;
        return CLI_EXIT_OK;
    case OPT_AS:
        return push(st->cmd, st->as, &st->as_len, READER_MAX, arg,
                    "readers");
    case OPT_IDENTITY:
        return push(st->cmd, st->ids, &st->id_len, IDENTITY_MAX, arg,
                    "identities");
    case OPT_STRICT:
        st->is_strict = true;
        return CLI_EXIT_OK;
    case OPT_MAX_FINDINGS:
        if (!cli_parse_u64(arg, 1, 1000000, &st->max_findings)) {
            return cli_usage(st->cmd, "--max-findings wants 1 to 1000000");
        }
        return CLI_EXIT_OK;
    default:
        st->out = arg;
        return CLI_EXIT_OK;
    }
}

static void state_free(struct rec_state *st)
{
    while (st->ctx_len > 0) {
        free((char *)st->ctx[--st->ctx_len].key);
    }
}

/* Streams between the CLI's input and output and the library. */
struct io_glue {
    struct cli_in *in;
    struct cli_out *out;
    struct cli_progress bar;
    bool has_failed;   /* the CLI already printed why */
};

static sf_status glue_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    struct io_glue *g = arg;

    if (cli_in_read(g->in, buf, cap, got) != CLI_EXIT_OK) {
        g->has_failed = true;
        return SF_ERR_IO;
    }
    cli_progress_add(&g->bar, *got);
    return SF_OK;
}

static sf_status glue_write(void *arg, const uint8_t *p, size_t len)
{
    struct io_glue *g = arg;

    if (cli_out_write(g->out, p, len) != CLI_EXIT_OK) {
        g->has_failed = true;
        return SF_ERR_IO;
    }
    return SF_OK;
}

typedef sf_status (*run_fn)(void *engine, const struct sf_records_io *io,
                            struct sf_records_stats *stats);

static sf_status run_seal(void *e, const struct sf_records_io *io,
                          struct sf_records_stats *st)
{
    return sf_records_seal_stream(e, io, st);
}

static sf_status run_open(void *e, const struct sf_records_io *io,
                          struct sf_records_stats *st)
{
    return sf_records_open_stream(e, io, st);
}

/* Opens IN and OUT, runs fn, and renames OUT into place on success. */
static int run_files(struct cli_ctx *ctx, struct rec_state *st,
                     const char *in_path, run_fn fn, void *engine,
                     struct sf_records_stats *stats)
{
    struct cli_in in;
    struct cli_out out;
    struct io_glue g;
    struct sf_records_io io = {glue_read, &g, glue_write, &g};
    sf_status rc;
    int code;

    memset(&g, 0, sizeof g);
    code = cli_in_open(&in, in_path);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = cli_check_distinct(st->cmd, &in, st->out);
    if (code == CLI_EXIT_OK) {
        code = cli_out_open(&out, st->out, cli_default_mode(), false);
    }
    if (code == CLI_EXIT_OK) {
        g.in = &in;
        g.out = &out;
        cli_progress_start(&g.bar, ctx->progress, in.size);
        sf_clear_error();
        rc = fn(engine, &io, stats);
        cli_progress_end(&g.bar);
        code = rc == SF_OK       ? cli_out_commit(&out)
               : g.has_failed    ? CLI_EXIT_IO
                                 : cli_fail(rc, "%s", st->cmd);
        if (code != CLI_EXIT_OK) {
            cli_out_abort(&out);
        }
    }
    cli_in_close(&in);
    return code;
}

static void print_classes(const struct sf_records_stats *s, bool is_open)
{
    char line[1024];
    size_t n = 0;

    line[0] = '\0';
    for (size_t i = 0; i < s->class_count && n < sizeof line - 80; i++) {
        const struct sf_records_class_stats *c = &s->classes[i];

        if (!is_open) {
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %llu",
                                  n > 0 ? ", " : "", c->name,
                                  (unsigned long long)c->sealed);
            continue;
        }
        n += (size_t)snprintf(line + n, sizeof line - n,
                              "%s%s: %llu opened", n > 0 ? "; " : "",
                              c->name, (unsigned long long)c->opened);
        if (c->not_allowed + c->no_key + c->retired > 0) {
            n += (size_t)snprintf(
                line + n, sizeof line - n, ", %llu sealed (%llu not "
                "allowed, %llu no key, %llu retired)",
                (unsigned long long)(c->not_allowed + c->no_key + c->retired),
                (unsigned long long)c->not_allowed,
                (unsigned long long)c->no_key,
                (unsigned long long)c->retired);
        }
    }
    if (n > 0) {
        cli_note("  %s", line);
    }
}

/* true when some class wraps with a keystore key. */
static bool needs_keystore(const struct sf_policy *p)
{
    for (size_t i = 0; i < sf_policy_class_count(p); i++) {
        const struct sf_policy_class *c = sf_policy_class_at(p, i);

        for (size_t k = 0; k < c->wrap_key_count; k++) {
            if (c->wrap_keys[k]->kind == SF_KEY_REF_LOCAL) {
                return true;
            }
        }
    }
    return false;
}

/* ---- seal ------------------------------------------------------------- */

static const struct cli_opt seal_opts[] = {
    {"policy", 'p', true, OPT_POLICY},
    {"format", 'f', true, OPT_FORMAT},
    {"context", 'c', true, OPT_CONTEXT},
    {"threads", 0, true, OPT_THREADS},
    {"output", 'o', true, OPT_OUT},
    {NULL, 0, false, 0},
};

static const char seal_help[] =
    "Usage: sealflow seal --policy POLICY [--format json|jsonl|csv]\n"
    "                     [-c KEY=VALUE]... [--threads N] [-o OUT] [IN]\n"
    "\n"
    "Seals the records of IN (default: stdin) field by field as POLICY\n"
    "decides: each value of an encrypted class becomes a token, clear\n"
    "fields stay as they are, and each record gets a \"_sealflow\" member\n"
    "(a column for CSV) with its wrapped data keys. Nothing is written\n"
    "unless every record seals.\n"
    "\n"
    "Options:\n"
    "  -p, --policy POLICY      the policy file (YAML)\n"
    "  -f, --format F           json (an object, or an array of objects),\n"
    "                           jsonl, or csv; default: from IN's name\n"
    "                           (.jsonl, .ndjson, .csv), else json\n"
    "  -c, --context KEY=VALUE  encryption context bound to every record;\n"
    "                           repeat for more\n"
    "  --threads N              records sealed in parallel (default: CPUs)\n"
    "  -o, --output OUT         write OUT (atomically) instead of stdout\n"
    "\n"
    "Examples:\n"
    "  sealflow seal -p shop.yaml -c tenant=acme -o orders.sealed.jsonl \\\n"
    "      orders.jsonl\n"
    "  sealflow seal -p shop.yaml --format csv < customers.csv > out.csv\n";

static int seal_run(struct cli_ctx *ctx, struct rec_state *st,
                    const char *in_path)
{
    struct sf_records_seal_opts o;
    struct sf_policy *p = NULL;
    struct sf_record_sealer *s = NULL;
    struct sf_records_stats *stats = calloc(1, sizeof *stats);
    char size[32];
    sf_status rc;
    int code;

    memset(&o, 0, sizeof o);
    code = stats == NULL ? CLI_EXIT_FAIL
                         : records_format(st->cmd, st->format, in_path,
                                          &o.format);
    if (code == CLI_EXIT_OK) {
        code = records_policy(st->policy, &p);
    }
    if (code == CLI_EXIT_OK && needs_keystore(p)) {
        code = cli_keystore_open(ctx);
    }
    if (code == CLI_EXIT_OK) {
        o.context = st->ctx;
        o.context_len = st->ctx_len;
        o.threads = st->threads;
        o.input_name = in_path != NULL ? in_path : "stdin";
        sf_clear_error();
        rc = sf_record_sealer_new(p, ctx->ks, &o, &s);
        code = rc == SF_OK ? run_files(ctx, st, in_path, run_seal, s, stats)
                           : cli_fail(rc, "seal");
    }
    if (code == CLI_EXIT_OK) {
        cli_format_bytes(stats->bytes_in, size, sizeof size);
        cli_note("sealed %llu record(s) (%s): %llu token(s)",
                 (unsigned long long)stats->records, size,
                 (unsigned long long)stats->tokens);
        print_classes(stats, false);
    }
    sf_record_sealer_free(s);
    sf_policy_free(p);
    free(stats);
    return code;
}

int cmd_seal(struct cli_ctx *ctx, int argc, char **argv)
{
    struct rec_state st;
    struct cli_spec spec = {"seal", seal_help, seal_opts, rec_opt, &st,
                            0, 1, false, true};
    char **pos;
    int npos;
    int code;

    memset(&st, 0, sizeof st);
    st.cmd = "seal";
    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code == CLI_PARSE_GO && st.policy == NULL) {
        code = cli_usage(st.cmd, "give the policy with --policy FILE");
    } else if (code == CLI_PARSE_GO) {
        code = seal_run(ctx, &st, npos > 0 ? pos[0] : NULL);
    }
    state_free(&st);
    return code;
}

/* ---- open --------------------------------------------------------------- */

static const struct cli_opt open_opts[] = {
    {"as", 0, true, OPT_AS},
    {"identity", 'i', true, OPT_IDENTITY},
    {"policy", 'p', true, OPT_POLICY},
    {"strict", 0, false, OPT_STRICT},
    {"format", 'f', true, OPT_FORMAT},
    {"threads", 0, true, OPT_THREADS},
    {"output", 'o', true, OPT_OUT},
    {NULL, 0, false, 0},
};

static const char open_help[] =
    "Usage: sealflow open [--as READER]... [-i IDENTITY]... [--policy POLICY]\n"
    "                     [--strict] [--format F] [--threads N] [-o OUT] [IN]\n"
    "\n"
    "Opens the tokens of sealed records. Without --as, every class whose\n"
    "data key the keystore or an -i identity unwraps is opened. With --as\n"
    "(a stage or partner of POLICY), only the classes the reader may see\n"
    "are opened; the rest stay tokens, \"_sealflow\" stays with them, and\n"
    "a summary on stderr counts them per class.\n"
    "\n"
    "Options:\n"
    "  --as READER              open as this stage or partner (repeatable);\n"
    "                           needs --policy\n"
    "  -i, --identity FILE      an X25519 or RSA identity file (repeatable);\n"
    "                           the keystore is used too when it exists\n"
    "  -p, --policy POLICY      the policy naming the readers\n"
    "  --strict                 fail instead of leaving any token sealed\n"
    "  -f, --format F           json, jsonl or csv (default: from IN's name)\n"
    "  --threads N              records opened in parallel (default: CPUs)\n"
    "  -o, --output OUT         write OUT (atomically) instead of stdout\n"
    "\n"
    "CSV: a selective (--as) open keeps a \"_sealflow\" column; any other\n"
    "open must open every token.\n"
    "\n"
    "Examples:\n"
    "  sealflow open --as order-service -p shop.yaml orders.sealed.jsonl\n"
    "  sealflow open -i research.key --strict -o cohort.json sealed.json\n";

static int load_identity(const char *path, struct sf_identity **out)
{
    struct sf_buf text = SF_BUF_INIT;
    sf_status rc;
    int code = cli_read_file(path, KEY_FILE_MAX, &text);

    if (code == CLI_EXIT_OK) {
        sf_clear_error();
        rc = sf_identity_parse((const char *)text.data, text.len, out);
        code = rc == SF_OK ? CLI_EXIT_OK : cli_fail(rc, "identity file %s",
                                                    path);
    }
    sf_buf_free(&text);
    return code;
}

/* The keystore when it exists, then every -i file. */
static int build_identities(struct cli_ctx *ctx, struct rec_state *st,
                            struct sf_identity **ids, size_t *n)
{
    int code;

    if (cli_keystore_exists(ctx)) {
        code = cli_keystore_open(ctx);
        if (code != CLI_EXIT_OK && st->id_len == 0) {
            return code;
        }
        if (code == CLI_EXIT_OK) {
            sf_clear_error();
            if (sf_identity_keystore(ctx->ks, &ids[*n]) != SF_OK) {
                return cli_fail(SF_ERR_NOMEM, "keystore identity");
            }
            (*n)++;
        }
    }
    for (size_t i = 0; i < st->id_len; i++) {
        code = load_identity(st->ids[i], &ids[*n]);
        if (code != CLI_EXIT_OK) {
            return code;
        }
        (*n)++;
    }
    if (*n == 0) {
        cli_error(CLI_EXIT_NO_KEY, "open: nothing to open with: no keystore "
                  "and no -i IDENTITY");
        cli_hint("pass -i FILE with your identity, or point --keystore at "
                 "the keystore holding the keys");
        return CLI_EXIT_NO_KEY;
    }
    return CLI_EXIT_OK;
}

static int open_run(struct cli_ctx *ctx, struct rec_state *st,
                    const char *in_path)
{
    struct sf_identity *ids[IDENTITY_MAX + 1] = {NULL};
    struct sf_records_open_opts o;
    struct sf_policy *p = NULL;
    struct sf_record_opener *op = NULL;
    struct sf_records_stats *stats = calloc(1, sizeof *stats);
    size_t n = 0;
    sf_status rc;
    int code;

    memset(&o, 0, sizeof o);
    code = stats == NULL ? CLI_EXIT_FAIL
                         : records_format(st->cmd, st->format, in_path,
                                          &o.format);
    if (code == CLI_EXIT_OK && st->policy != NULL) {
        code = records_policy(st->policy, &p);
    }
    if (code == CLI_EXIT_OK) {
        code = build_identities(ctx, st, ids, &n);
    }
    if (code == CLI_EXIT_OK) {
        o.policy = p;
        o.readers = st->as;
        o.reader_count = st->as_len;
        o.is_strict = st->is_strict;
        o.threads = st->threads;
        o.input_name = in_path != NULL ? in_path : "stdin";
        sf_clear_error();
        rc = sf_record_opener_new(&o, ids, n, &op);
        code = rc == SF_OK ? run_files(ctx, st, in_path, run_open, op, stats)
                           : cli_fail(rc, "open");
    }
    if (code == CLI_EXIT_OK) {
        cli_note("opened %llu record(s): %llu token(s) opened, %llu stayed "
                 "sealed", (unsigned long long)stats->records,
                 (unsigned long long)(stats->tokens - stats->kept),
                 (unsigned long long)stats->kept);
        print_classes(stats, true);
    }
    sf_record_opener_free(op);
    while (n > 0) {
        sf_identity_free(ids[--n]);
    }
    sf_policy_free(p);
    free(stats);
    return code;
}

int cmd_open(struct cli_ctx *ctx, int argc, char **argv)
{
    struct rec_state st;
    struct cli_spec spec = {"open", open_help, open_opts, rec_opt, &st,
                            0, 1, false, true};
    char **pos;
    int npos;
    int code;

    memset(&st, 0, sizeof st);
    st.cmd = "open";
    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code == CLI_PARSE_GO && st.as_len > 0 && st.policy == NULL) {
        code = cli_usage(st.cmd, "--as needs the policy that names the "
                         "reader: add --policy FILE");
    } else if (code == CLI_PARSE_GO) {
        code = open_run(ctx, &st, npos > 0 ? pos[0] : NULL);
    }
    state_free(&st);
    return code;
}

/* ---- coverage ------------------------------------------------------------ */

static const struct cli_opt coverage_opts[] = {
    {"policy", 'p', true, OPT_POLICY},
    {"format", 'f', true, OPT_FORMAT},
    {"threads", 0, true, OPT_THREADS},
    {"max-findings", 0, true, OPT_MAX_FINDINGS},
    {NULL, 0, false, 0},
};

static const char coverage_help[] =
    "Usage: sealflow coverage --policy POLICY [--json] [--format F]\n"
    "                         [--max-findings N] [SEALED]\n"
    "\n"
    "Checks a sealed file (default: stdin) against POLICY and reports, per\n"
    "class and per rule: fields the policy seals that are clear or sealed\n"
    "under another class, classes sealed with the wrong suite or missing a\n"
    "stanza for a key or partner the policy names, and classes wrapped only\n"
    "under retired or rotation-overdue KEK versions (when the keystore\n"
    "exists). Exits 0 when there is no violation, 1 when there is any.\n"
    "\n"
    "Options:\n"
    "  -p, --policy POLICY      the policy the data must follow\n"
    "  --json                   the report as one JSON object\n"
    "  -f, --format F           json, jsonl or csv (default: from the name)\n"
    "  --max-findings N         findings listed in detail (default 1000);\n"
    "                           all are counted\n"
    "  --threads N              records checked in parallel\n"
    "\n"
    "Example:\n"
    "  sealflow coverage -p shop.yaml --json orders.sealed.jsonl\n";

static int coverage_report(struct cli_ctx *ctx, const struct sf_coverage *c)
{
    struct sf_buf text = SF_BUF_INIT;
    sf_status rc = ctx->json ? sf_coverage_json(c, &text)
                             : sf_coverage_text(c, &text);
    int code = rc == SF_OK ? CLI_EXIT_OK : cli_fail(rc, "coverage report");

    if (code == CLI_EXIT_OK &&
            fwrite(text.data, 1, text.len, stdout) != text.len) {
        code = cli_error(CLI_EXIT_IO, "writing to stdout failed");
    }
    sf_buf_free(&text);
    if (code == CLI_EXIT_OK && sf_coverage_violations(c) > 0) {
        code = CLI_EXIT_FAIL;
    }
    return code;
}

static int coverage_run(struct cli_ctx *ctx, struct rec_state *st,
                        const char *in_path)
{
    struct sf_coverage_opts o;
    struct sf_policy *p = NULL;
    struct sf_coverage *c = NULL;
    struct cli_in in;
    struct io_glue g;
    struct sf_records_io io = {glue_read, &g, NULL, NULL};
    sf_status rc;
    int code;

    memset(&o, 0, sizeof o);
    memset(&g, 0, sizeof g);
    code = records_format(st->cmd, st->format, in_path, &o.format);
    if (code == CLI_EXIT_OK) {
        code = records_policy(st->policy, &p);
    }
    if (code == CLI_EXIT_OK && cli_keystore_exists(ctx) &&
            cli_keystore_open(ctx) == CLI_EXIT_OK) {
        o.ks = ctx->ks;
    } else if (code == CLI_EXIT_OK) {
        cli_note("no keystore: KEK versions and rotation are not checked");
    }
    if (code == CLI_EXIT_OK) {
        code = cli_in_open(&in, in_path);
    }
    if (code == CLI_EXIT_OK) {
        g.in = &in;
        o.threads = st->threads;
        o.finding_max = (size_t)st->max_findings;
        o.input_name = in_path != NULL ? in_path : "stdin";
        sf_clear_error();
        rc = sf_coverage_run(p, &o, &io, &c);
        code = rc == SF_OK  ? coverage_report(ctx, c)
               : g.has_failed ? CLI_EXIT_IO
                              : cli_fail(rc, "coverage");
        cli_in_close(&in);
    }
    sf_coverage_free(c);
    sf_policy_free(p);
    return code;
}

int cmd_coverage(struct cli_ctx *ctx, int argc, char **argv)
{
    struct rec_state st;
    struct cli_spec spec = {"coverage", coverage_help, coverage_opts,
                            rec_opt, &st, 0, 1, true, false};
    char **pos;
    int npos;
    int code;

    memset(&st, 0, sizeof st);
    st.cmd = "coverage";
    code = cli_parse(ctx, &spec, argc, argv, &pos, &npos);
    if (code == CLI_PARSE_GO && st.policy == NULL) {
        code = cli_usage(st.cmd, "give the policy with --policy FILE");
    } else if (code == CLI_PARSE_GO) {
        code = coverage_run(ctx, &st, npos > 0 ? pos[0] : NULL);
    }
    state_free(&st);
    return code;
}
