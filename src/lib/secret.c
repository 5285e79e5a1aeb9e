#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sealflow/secret.h"

#define SECRET_MAX (1024 * 1024)
/* Size of OpenSSL's locked secure heap; secrets beyond it fall back to the
 * normal heap (still wiped on free). */
#define SECURE_HEAP_LEN (1024 * 1024)
#define SECURE_HEAP_MIN 32

struct sf_secret {
    uint8_t *data;
    size_t len;
    int is_secure;
};

static pthread_once_t heap_once = PTHREAD_ONCE_INIT;

static void heap_init(void)
{
    /* Failure (e.g. RLIMIT_MEMLOCK too low) just means secrets come from the
     * normal heap; they are still wiped. */
    (void)CRYPTO_secure_malloc_init(SECURE_HEAP_LEN, SECURE_HEAP_MIN);
}

sf_status sf_secret_new(size_t len, struct sf_secret **out)
{
    struct sf_secret *s;

    if (out == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (len == 0 || len > SECRET_MAX) {
        return SF_ERR_INVALID_ARG;
    }
    pthread_once(&heap_once, heap_init);
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return SF_ERR_NOMEM;
    }
    s->data = CRYPTO_secure_zalloc(len, __FILE__, __LINE__);
    s->is_secure = s->data != NULL && CRYPTO_secure_allocated(s->data);
    if (s->data == NULL) {
        s->data = OPENSSL_zalloc(len);
    }
    if (s->data == NULL) {
        free(s);
        return SF_ERR_NOMEM;
    }
    s->len = len;
    *out = s;
    return SF_OK;
}

sf_status sf_secret_random(size_t len, struct sf_secret **out)
{
    sf_status rc = sf_secret_new(len, out);

    if (rc != SF_OK) {
        return rc;
    }
    rc = sf_random((*out)->data, len);
    if (rc != SF_OK) {
        sf_secret_free(*out);
        *out = NULL;
    }
    return rc;
}

sf_status sf_secret_from(const uint8_t *p, size_t len, struct sf_secret **out)
{
    sf_status rc;

    if (p == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    rc = sf_secret_new(len, out);
    if (rc == SF_OK) {
        memcpy((*out)->data, p, len);
    }
    return rc;
}

sf_status sf_secret_dup(const struct sf_secret *s, struct sf_secret **out)
{
    if (s == NULL) {
        return SF_ERR_INVALID_ARG;
    }
    return sf_secret_from(s->data, s->len, out);
}

uint8_t *sf_secret_data(struct sf_secret *s)
{
    return s == NULL ? NULL : s->data;
}

const uint8_t *sf_secret_cdata(const struct sf_secret *s)
{
    return s == NULL ? NULL : s->data;
}

size_t sf_secret_len(const struct sf_secret *s)
{
    return s == NULL ? 0 : s->len;
}

void sf_secret_free(struct sf_secret *s)
{
    if (s == NULL) {
        return;
    }
    if (s->is_secure) {
        CRYPTO_secure_clear_free(s->data, s->len, __FILE__, __LINE__);
    } else {
        OPENSSL_clear_free(s->data, s->len);
    }
    free(s);
}

void sf_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        OPENSSL_cleanse(p, len);
    }
}

bool sf_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

sf_status sf_random(uint8_t *p, size_t len)
{
    if (p == NULL && len > 0) {
        return SF_ERR_INVALID_ARG;
    }
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;

        if (RAND_bytes(p, chunk) != 1) {
            return sf_fail(SF_ERR_CRYPTO, "the random generator failed");
        }
        p += chunk;
        len -= (size_t)chunk;
    }
    return SF_OK;
}
