/*
 * Test helpers shared by the test programs: whole-file reads, hex
 * decoding, and loading external JSON vectors from SF_VECTORS_DIR.
 *
 * External vectors are optional: when SF_VECTORS_DIR is unset or names no
 * directory, vec_load_json() prints a "SKIP: ..." line and the calling test
 * passes without running them. When the directory exists, a missing or
 * malformed file is an error, so a broken setup never passes silently.
 */
#ifndef SF_TEST_VECTORS_H
#define SF_TEST_VECTORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealflow/buf.h"
#include "sealflow/status.h"

/* Replaces the contents of out with the whole file at path, followed by a
 * NUL that len does not count. SF_ERR_IO when it cannot be read. */
sf_status vec_read_file(const char *path, struct sf_buf *out);

/* Replaces the contents of out with the bytes of the hex string. */
sf_status vec_hex(const char *hex, struct sf_buf *out);

/* Replaces the contents of out with the bytes of the hex string member
 * key of obj. SF_ERR_FORMAT when the member is missing or not a string. */
sf_status vec_hex_field(const json_t *obj, const char *key, struct sf_buf *out);

/* Integer member key of obj, or -1 when missing. */
long long vec_int_field(const json_t *obj, const char *key);

/* String member key of obj, or "" when missing. */
const char *vec_str_field(const json_t *obj, const char *key);

/* True when the JSON array member "flags" of obj contains flag. */
bool vec_has_flag(const json_t *obj, const char *flag);

/*
 * Loads SF_VECTORS_DIR/rel_path. Returns the document (json_decref it)
 * with *is_skipped false; or NULL with *is_skipped true after printing a
 * SKIP line when the vectors directory is absent; or NULL with *is_skipped
 * false after printing the reason when the file is missing or malformed.
 */
json_t *vec_load_json(const char *rel_path, bool *is_skipped);

#endif
