#include "secret.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t n_secrets;

void ka_secret_register(const char *secret) {
        if (!secret || strlen(secret) < KA_SECRET_MIN_LEN)
                return;
        pthread_mutex_lock(&lock);
        secrets = ka_reallocarray(secrets, n_secrets + 1, sizeof(char *));
        secrets[n_secrets++] = ka_strdup(secret);
        pthread_mutex_unlock(&lock);
}

void ka_secret_unregister(const char *secret) {
        if (!secret)
                return;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_secrets; i++)
                if (strcmp(secrets[i], secret) == 0) {
                        ka_free_secret(secrets[i]);
                        secrets[i] = secrets[--n_secrets];
                        break;
                }
        pthread_mutex_unlock(&lock);
}

bool ka_secret_equal(const char *given, const char *secret) {
        size_t n = strlen(given), m = strlen(secret);
        volatile unsigned char diff = (unsigned char)(n != m || m == 0);
        for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(given[i] ^ (m ? secret[i % m] : 0));
        return diff == 0;
}

void ka_secret_free(char *secret) {
        if (!secret)
                return;
        ka_secret_unregister(secret);
        ka_free_secret(secret);
}

/* Replace every occurrence of secret in *s (a malloc()ed string). */
static void mask_one(char **s, const char *secret) {
        if (!strstr(*s, secret))
                return;
        size_t slen = strlen(secret);
        struct ka_buf out = KA_BUF_INIT(0);
        const char *p = *s, *q;
        while ((q = strstr(p, secret))) {
                ka_buf_append(&out, p, (size_t)(q - p));
                ka_buf_puts(&out, KA_SECRET_MASK);
                p = q + slen;
        }
        ka_buf_puts(&out, p);
        ka_free_secret(*s);
        *s = ka_buf_steal(&out);
}

void ka_secret_mask_inplace(char *s, size_t size) {
        if (!s || !size)
                return;
        pthread_mutex_lock(&lock);
        if (n_secrets) {
                /* Mask in a copy of unbounded size, then truncate: truncating
                 * first could leave the beginning of a secret behind. */
                char *copy = ka_strdup(s);
                for (size_t i = 0; i < n_secrets; i++)
                        mask_one(&copy, secrets[i]);
                size_t n = strlen(copy);
                if (n >= size)
                        n = size - 1;
                memcpy(s, copy, n);
                s[n] = '\0';
                ka_free_secret(copy);
        }
        pthread_mutex_unlock(&lock);
}

void ka_secret_reset(void) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_secrets; i++)
                ka_free_secret(secrets[i]);
        free(secrets);
        secrets = NULL;
        n_secrets = 0;
        pthread_mutex_unlock(&lock);
}

char *ka_secret_vformat(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return ka_strdup("(message could not be formatted)");
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_secrets; i++)
                mask_one(&s, secrets[i]);
        pthread_mutex_unlock(&lock);
        return s;
}

void ka_secret_copy_masked(char *dst, size_t size, const char *fmt, va_list ap) {
        char *s = ka_secret_vformat(fmt, ap);
        size_t n = strlen(s);
        if (n >= size)
                n = size - 1;
        memcpy(dst, s, n);
        dst[n] = '\0';
        ka_free_secret(s);
}
