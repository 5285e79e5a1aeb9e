/*
 * The token store: a JSON file of hashed tokens, loaded into memory and
 * guarded by a read-write lock so lookups from many request threads do not
 * contend. The file layout is documented in docs/sealflowd.md.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "kdf.h"
#include "sealflow/buf.h"
#include "sealflow/encoding.h"
#include "sealflow/secret.h"
#include "sealflow/tokens.h"
#include "tokens_file.h"

#define TOKEN_PREFIX "sfs."
#define TOKEN_RANDOM_LEN 32
#define ACCESSOR_RANDOM_LEN 12
/* How often a lookup checks whether the file changed on disk. */
#define RECHECK_MS 1000

/* Identifies one version of the token file. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct sf_token_store {
    char *path;
    pthread_rwlock_t lock;
    struct sf_token_rec *recs;
    size_t count;
    pthread_mutex_t check_mu;  /* guards the two fields below */
    struct file_id loaded;     /* the file as last loaded */
    uint64_t last_check_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void file_id_of(const char *path, struct file_id *id)
{
    struct stat st;

    memset(id, 0, sizeof *id);
    if (stat(path, &st) == 0) {
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        id->size = st.st_size;
        id->mtime = st.st_mtim;
    }
}

static bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Reloads the file when another process (the CLI, a second daemon)
 * changed it, at most once every RECHECK_MS, so new and revoked tokens
 * take effect without a signal. A failed reload keeps the loaded set. */
static void refresh_if_changed(struct sf_token_store *ts)
{
    struct file_id now;
    bool is_changed;
    uint64_t t = now_ms();

    if (pthread_mutex_trylock(&ts->check_mu) != 0) {
        return;
    }
    if (t - ts->last_check_ms < RECHECK_MS) {
        pthread_mutex_unlock(&ts->check_mu);
        return;
    }
    ts->last_check_ms = t;
    file_id_of(ts->path, &now);
    is_changed = !file_id_equal(&now, &ts->loaded);
    pthread_mutex_unlock(&ts->check_mu);
    if (is_changed && sf_token_store_reload(ts) != SF_OK) {
        /* The tokens loaded before stay in force. */
        sf_clear_error();
    }
}

/* Replaces the loaded set with recs (taking ownership). */
static void install(struct sf_token_store *ts, struct sf_token_rec *recs,
                    size_t count)
{
    struct sf_token_rec *old;
    size_t old_count;

    pthread_rwlock_wrlock(&ts->lock);
    old = ts->recs;
    old_count = ts->count;
    ts->recs = recs;
    ts->count = count;
    pthread_rwlock_unlock(&ts->lock);
    sf_token_recs_free(old, old_count);
}

sf_status sf_token_store_open(const char *path, struct sf_token_store **out)
{
    struct sf_token_store *ts = NULL;
    sf_status rc;

    if (path == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    ts = calloc(1, sizeof *ts);
    if (ts == NULL) {
        return SF_ERR_NOMEM;
    }
    ts->path = strdup(path);
    if (ts->path == NULL || pthread_rwlock_init(&ts->lock, NULL) != 0) {
        free(ts->path);
        free(ts);
        return SF_ERR_NOMEM;
    }
    pthread_mutex_init(&ts->check_mu, NULL);
    ts->last_check_ms = now_ms();
    rc = sf_token_file_ensure(path);
    if (rc == SF_OK) {
        rc = sf_token_store_reload(ts);
    }
    if (rc != SF_OK) {
        sf_token_store_close(ts);
        return rc;
    }
    *out = ts;
    return SF_OK;
}

sf_status sf_token_store_reload(struct sf_token_store *ts)
{
    struct sf_token_rec *recs = NULL;
    struct file_id id;
    size_t count = 0;
    sf_status rc;

    if (ts == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    /* Taken before reading: a change made meanwhile is seen again by the
     * next check rather than missed. */
    file_id_of(ts->path, &id);
    rc = sf_token_file_load(ts->path, &recs, &count);
    pthread_mutex_lock(&ts->check_mu);
    ts->loaded = id;
    pthread_mutex_unlock(&ts->check_mu);
    if (rc == SF_OK) {
        install(ts, recs, count);
    }
    return rc;
}

void sf_token_store_close(struct sf_token_store *ts)
{
    if (ts == NULL) {
        return;
    }
    sf_token_recs_free(ts->recs, ts->count);
    pthread_rwlock_destroy(&ts->lock);
    pthread_mutex_destroy(&ts->check_mu);
    free(ts->path);
    free(ts);
}

size_t sf_token_store_count(struct sf_token_store *ts)
{
    size_t n;

    if (ts == NULL) {
        return 0;
    }
    pthread_rwlock_rdlock(&ts->lock);
    n = ts->count;
    pthread_rwlock_unlock(&ts->lock);
    return n;
}

/* Fills token (SF_TOKEN_LEN + 1 bytes) with a fresh random token, and
 * hash with its SHA-256. */
static sf_status new_token(char *token, uint8_t hash[32])
{
    uint8_t raw[TOKEN_RANDOM_LEN];
    struct sf_buf enc = SF_BUF_INIT;
    sf_status rc;

    rc = sf_random(raw, sizeof raw);
    if (rc != SF_OK) {
        goto out;
    }
    rc = sf_buf_put_str(&enc, TOKEN_PREFIX);
    if (rc != SF_OK) {
        goto out;
    }
    rc = sf_b64_encode(SF_B64_URL, raw, sizeof raw, &enc);
    if (rc != SF_OK) {
        goto out;
    }
    if (enc.len != SF_TOKEN_LEN) {
        rc = sf_fail(SF_ERR_INTERNAL, "token: unexpected encoded length");
        goto out;
    }
    memcpy(token, enc.data, SF_TOKEN_LEN);
    token[SF_TOKEN_LEN] = '\0';
    rc = sf_hash(SF_MD_SHA256, (const uint8_t *)token, SF_TOKEN_LEN, hash);

out:
    sf_wipe(raw, sizeof raw);
    sf_buf_free(&enc);
    return rc;
}

/* Random accessor: 24 lower-case hex digits. */
static sf_status new_accessor(char *out)
{
    uint8_t raw[ACCESSOR_RANDOM_LEN];
    static const char hex[] = "0123456789abcdef";
    sf_status rc;

    rc = sf_random(raw, sizeof raw);
    if (rc != SF_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SF_TOKEN_ACCESSOR_LEN] = '\0';
    return SF_OK;
}

/* Validates the label and the rules and fills the description part of
 * rec; the hash and accessor are set by the caller. */
static sf_status describe(const char *name, bool is_root,
                          const char *const *rules, size_t rule_count,
                          struct sf_token_rec *rec)
{
    size_t len = name == NULL ? 0 : strlen(name);
    sf_status rc;

    memset(rec, 0, sizeof *rec);
    rc = sf_token_name_check(name);
    if (rc != SF_OK) {
        return rc;
    }
    memcpy(rec->info.name, name, len + 1);
    rec->info.is_root = is_root;
    rec->info.created_at = (int64_t)time(NULL);
    if (is_root) {
        return SF_OK;
    }
    if (rule_count == 0 || rule_count > SF_TOKEN_RULES_MAX) {
        return sf_fail(SF_ERR_LIMIT, "token: give 1 to %d rules (--policy "
                       "GLOB:OP,...)", SF_TOKEN_RULES_MAX);
    }
    for (size_t i = 0; i < rule_count; i++) {
        rc = sf_token_rule_parse(rules[i], &rec->info.rules[i]);
        if (rc != SF_OK) {
            return rc;
        }
    }
    rec->info.rule_count = rule_count;
    return SF_OK;
}

/* Adds rec to the file, under the file lock so concurrent writers do
 * not lose each other's tokens, and loads the result. */
static sf_status persist_add(struct sf_token_store *ts,
                             const struct sf_token_rec *rec)
{
    struct sf_token_rec *recs = NULL;
    size_t count = 0;
    int lock_fd = -1;
    sf_status rc;

    rc = sf_token_file_lock(ts->path, &lock_fd);
    if (rc == SF_OK) {
        rc = sf_token_file_load(ts->path, &recs, &count);
    }
    if (rc == SF_OK) {
        rc = sf_token_recs_add(&recs, &count, rec);
    }
    if (rc == SF_OK) {
        rc = sf_token_file_save(ts->path, recs, count);
    }
    if (rc == SF_OK) {
        install(ts, recs, count);
        recs = NULL;
    }
    sf_token_file_unlock(lock_fd);
    sf_token_recs_free(recs, count);
    return rc;
}

sf_status sf_token_create(struct sf_token_store *ts, const char *name,
                          bool is_root, const char *const *rules,
                          size_t rule_count, char *token_out,
                          size_t token_out_max, struct sf_token_info *info)
{
    struct sf_token_rec rec;
    char token[SF_TOKEN_LEN + 1];
    sf_status rc;

    if (ts == NULL || token_out == NULL || token_out_max <= SF_TOKEN_LEN ||
            (rule_count > 0 && rules == NULL)) {
        return SF_ERR_INVALID_ARG;
    }
    rc = describe(name, is_root, rules, rule_count, &rec);
    if (rc == SF_OK) {
        rc = new_token(token, rec.hash);
    }
    if (rc == SF_OK) {
        rc = new_accessor(rec.info.accessor);
    }
    if (rc == SF_OK) {
        rc = persist_add(ts, &rec);
    }
    if (rc == SF_OK) {
        memcpy(token_out, token, SF_TOKEN_LEN + 1);
        if (info != NULL) {
            *info = rec.info;
        }
    }
    sf_wipe(token, sizeof token);
    sf_wipe(&rec, sizeof rec);
    return rc;
}

sf_status sf_token_revoke(struct sf_token_store *ts, const char *accessor)
{
    struct sf_token_rec *recs = NULL;
    size_t count = 0;
    size_t kept = 0;
    int lock_fd = -1;
    sf_status rc;

    if (ts == NULL || accessor == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_token_file_lock(ts->path, &lock_fd);
    if (rc == SF_OK) {
        rc = sf_token_file_load(ts->path, &recs, &count);
    }
    if (rc != SF_OK) {
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(recs[i].info.accessor, accessor) != 0) {
            recs[kept++] = recs[i];
        }
    }
    if (kept == count) {
        rc = sf_fail(SF_ERR_KEY_NOT_FOUND, "token: no token has accessor "
                     "'%.30s'", accessor);
        goto out;
    }
    count = kept;
    rc = sf_token_file_save(ts->path, recs, count);
    if (rc == SF_OK) {
        install(ts, recs, count);
        recs = NULL;
    }

out:
    sf_token_file_unlock(lock_fd);
    sf_token_recs_free(recs, count);
    return rc;
}

sf_status sf_token_lookup(struct sf_token_store *ts, const char *token,
                          struct sf_token_info *out)
{
    uint8_t hash[32];
    bool found = false;
    sf_status rc;

    if (ts == NULL || token == NULL || out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    refresh_if_changed(ts);
    rc = sf_hash(SF_MD_SHA256, (const uint8_t *)token, strlen(token), hash);
    if (rc != SF_OK) {
        return rc;
    }
    pthread_rwlock_rdlock(&ts->lock);
    for (size_t i = 0; i < ts->count; i++) {
        /* Every entry is compared in full so the scan reveals nothing
         * about how close a guess came. */
        if (sf_ct_equal(ts->recs[i].hash, hash, sizeof hash) && !found) {
            *out = ts->recs[i].info;
            found = true;
        }
    }
    pthread_rwlock_unlock(&ts->lock);
    sf_wipe(hash, sizeof hash);
    if (!found) {
        return SF_ERR_DENIED;
    }
    return SF_OK;
}

sf_status sf_token_list(struct sf_token_store *ts, struct sf_token_info **out,
                        size_t *count)
{
    struct sf_token_info *list;
    sf_status rc = SF_OK;

    if (ts == NULL || out == NULL || count == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    *count = 0;
    pthread_rwlock_rdlock(&ts->lock);
    list = calloc(ts->count + 1, sizeof *list);
    if (list == NULL) {
        rc = SF_ERR_NOMEM;
    } else {
        for (size_t i = 0; i < ts->count; i++) {
            list[i] = ts->recs[i].info;
        }
        *out = list;
        *count = ts->count;
    }
    pthread_rwlock_unlock(&ts->lock);
    return rc;
}
