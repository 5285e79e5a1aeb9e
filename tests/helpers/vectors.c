#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sealflow/encoding.h"
#include "vectors.h"

sf_status vec_read_file(const char *path, struct sf_buf *out)
{
    FILE *f = fopen(path, "rb");
    uint8_t chunk[65536];
    size_t n;
    sf_status rc = SF_OK;

    sf_buf_reset(out);
    if (f == NULL) {
        return SF_ERR_IO;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = sf_buf_append(out, chunk, n);
        if (rc != SF_OK) {
            goto out;
        }
    }
    rc = ferror(f) ? SF_ERR_IO : sf_buf_terminate(out);

out:
    fclose(f);
    if (rc != SF_OK) {
        sf_buf_reset(out);
    }
    return rc;
}

sf_status vec_hex(const char *hex, struct sf_buf *out)
{
    sf_buf_reset(out);
    if (hex == NULL) {
        return SF_ERR_FORMAT;
    }
    return sf_hex_decode(hex, strlen(hex), out);
}

sf_status vec_hex_field(const json_t *obj, const char *key, struct sf_buf *out)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        sf_buf_reset(out);
        return SF_ERR_FORMAT;
    }
    return vec_hex(json_string_value(v), out);
}

long long vec_int_field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

const char *vec_str_field(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s == NULL ? "" : s;
}

bool vec_has_flag(const json_t *obj, const char *flag)
{
    const json_t *flags = json_object_get(obj, "flags");
    size_t i;
    const json_t *f;

    json_array_foreach(flags, i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), flag) == 0) {
            return true;
        }
    }
    return false;
}

json_t *vec_load_json(const char *rel_path, bool *is_skipped)
{
    const char *dir = getenv("SF_VECTORS_DIR");
    struct stat st;
    char path[4096];
    json_error_t err;
    json_t *doc;

    *is_skipped = false;
    if (dir == NULL || dir[0] == '\0' || stat(dir, &st) != 0 ||
        !S_ISDIR(st.st_mode)) {
        printf("SKIP: %s (SF_VECTORS_DIR is not set or not a directory)\n",
               rel_path);
        *is_skipped = true;
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel_path) >=
        sizeof path) {
        printf("vectors: path too long for %s\n", rel_path);
        return NULL;
    }
    doc = json_load_file(path, 0, &err);
    if (doc == NULL) {
        printf("vectors: cannot load %s: %s (line %d)\n", path, err.text,
               err.line);
    }
    return doc;
}
