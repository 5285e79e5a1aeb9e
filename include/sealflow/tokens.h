/*
 * Access tokens for the key service and their policies.
 *
 * A token is a bearer secret ("sfs." followed by 43 base64url characters,
 * 256 random bits). Only its SHA-256 is stored, so the token file alone
 * cannot be used to authenticate. Each token has a random public accessor
 * (24 hex digits) that audit logs and listings use in its place.
 *
 * A token carries rules "GLOB:OP[,OP...]": GLOB is matched against key
 * names with fnmatch(3) and no flags ('*' also crosses '/'), OP is one of
 * the names of enum sf_token_op or "*" for all of them. Access is denied
 * unless some rule of the token matches both the key and the operation. A
 * root token is allowed everything.
 *
 * The token file is JSON (mode 0600, by default beside the keystore as
 * "<keystore>.tokens"); changes go to a temporary file that is renamed
 * over it, under an exclusive lock on "<file>.lock", so a CLI and a
 * running daemon may both add tokens. A struct sf_token_store may be
 * shared by threads.
 */
#ifndef SEALFLOW_TOKENS_H
#define SEALFLOW_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Operations a rule may grant; a rule holds a bit set of them. */
enum sf_token_op {
    SF_OP_READ = 1u << 0,              /* "read": key metadata */
    SF_OP_LIST = 1u << 1,              /* "list": key names */
    SF_OP_CREATE = 1u << 2,            /* "create": new keys */
    SF_OP_ENCRYPT = 1u << 3,           /* "encrypt" */
    SF_OP_DECRYPT = 1u << 4,           /* "decrypt" */
    SF_OP_REWRAP = 1u << 5,            /* "rewrap" */
    SF_OP_DATAKEY_PLAINTEXT = 1u << 6, /* "datakey-plaintext" */
    SF_OP_DATAKEY_WRAPPED = 1u << 7,   /* "datakey-wrapped" */
    SF_OP_ROTATE = 1u << 8,            /* "rotate" */
    SF_OP_CONFIG = 1u << 9,            /* "config" */
    SF_OP_DELETE = 1u << 10,           /* "delete" */
    SF_OP_TRIM = 1u << 11              /* "trim": drop old versions */
};

#define SF_OP_ALL 0xfffu

#define SF_TOKEN_LEN 47         /* "sfs." + 43 characters */
#define SF_TOKEN_ACCESSOR_LEN 24
#define SF_TOKEN_NAME_MAX 64
#define SF_TOKEN_RULES_MAX 32
#define SF_TOKEN_GLOB_MAX 128

/* The name of one operation bit ("datakey-plaintext"); NULL when op is not
 * exactly one known bit. */
SF_API const char *sf_token_op_name(uint32_t op);

/* Parses one operation name, or "*" for SF_OP_ALL. SF_ERR_FORMAT with the
 * accepted names in sf_last_error() otherwise. */
SF_API SF_MUST_CHECK sf_status sf_token_op_parse(const char *name,
                                                 uint32_t *op);

struct sf_token_rule {
    char glob[SF_TOKEN_GLOB_MAX + 1];
    uint32_t ops; /* bit set of enum sf_token_op */
};

/* Parses "GLOB:OP[,OP...]". SF_ERR_FORMAT (with the reason) for an empty
 * or too long glob, a missing ':' or an unknown operation; *out is zeroed
 * on failure. */
SF_API SF_MUST_CHECK sf_status sf_token_rule_parse(const char *text,
                                                   struct sf_token_rule *out);

/* Writes the rule back as text ("GLOB:op,op"); SF_ERR_LIMIT when out_max
 * is too small. */
SF_API SF_MUST_CHECK sf_status sf_token_rule_format(
    const struct sf_token_rule *rule, char *out, size_t out_max);

/* What is known about a token; holds no secret. */
struct sf_token_info {
    char accessor[SF_TOKEN_ACCESSOR_LEN + 1];
    char name[SF_TOKEN_NAME_MAX + 1];
    bool is_root;
    int64_t created_at; /* Unix seconds */
    size_t rule_count;
    struct sf_token_rule rules[SF_TOKEN_RULES_MAX];
};

/* true when the token may perform op (one bit) on key. key may be NULL
 * for operations on no particular key; then any rule granting op
 * matches. */
SF_API bool sf_token_allows(const struct sf_token_info *t, uint32_t op,
                            const char *key);

struct sf_token_store;

/* Opens the token file at path, creating an empty one (mode 0600) when it
 * does not exist. SF_ERR_FORMAT (with the position) for a damaged file,
 * SF_ERR_IO when it cannot be read or created. */
SF_API SF_MUST_CHECK sf_status sf_token_store_open(
    const char *path, struct sf_token_store **out);

/* Re-reads the file (e.g. on SIGHUP). On failure the tokens loaded before
 * stay in force. */
SF_API SF_MUST_CHECK sf_status sf_token_store_reload(
    struct sf_token_store *ts);

SF_API void sf_token_store_close(struct sf_token_store *ts);

/* Number of tokens currently loaded. */
SF_API size_t sf_token_store_count(struct sf_token_store *ts);

/*
 * Creates a token. name is a label (1..64 printable ASCII characters);
 * rules are rule texts as sf_token_rule_parse() takes them, ignored for a
 * root token. The new token is written to the file and loaded, and its
 * text is written to token_out (at least SF_TOKEN_LEN + 1 bytes): that is
 * the only time it is ever available, so the caller must show it and then
 * wipe it. info (may be NULL) receives the token's description.
 */
SF_API SF_MUST_CHECK sf_status sf_token_create(
    struct sf_token_store *ts, const char *name, bool is_root,
    const char *const *rules, size_t rule_count, char *token_out,
    size_t token_out_max, struct sf_token_info *info);

/* Removes the token with this accessor from the file and from memory.
 * SF_ERR_KEY_NOT_FOUND when there is none. */
SF_API SF_MUST_CHECK sf_status sf_token_revoke(struct sf_token_store *ts,
                                               const char *accessor);

/* Finds the token whose text is token (compared by its SHA-256 in
 * constant time) and copies its description to out. SF_ERR_DENIED when
 * no token matches; out is zeroed then. */
SF_API SF_MUST_CHECK sf_status sf_token_lookup(struct sf_token_store *ts,
                                               const char *token,
                                               struct sf_token_info *out);

/* Copies the descriptions of all tokens; *out is malloc'd (free()). */
SF_API SF_MUST_CHECK sf_status sf_token_list(struct sf_token_store *ts,
                                             struct sf_token_info **out,
                                             size_t *count);

#ifdef __cplusplus
}
#endif
#endif
