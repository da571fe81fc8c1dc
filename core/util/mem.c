#include "mem.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

KA_NORETURN static void oom(void) {
        static const char msg[] = "kubeagent: out of memory\n";
        ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)r;
        abort();
}

void *ka_malloc(size_t size) {
        void *p = malloc(size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *ka_calloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *ka_realloc(void *p, size_t size) {
        void *q = realloc(p, size ? size : 1);
        if (!q)
                oom();
        return q;
}

void *ka_reallocarray(void *p, size_t n, size_t size) {
        if (size && n > SIZE_MAX / size)
                oom();
        return ka_realloc(p, n * size);
}

static void *cjson_malloc(size_t size) {
        return ka_malloc(size);
}

void ka_mem_init(void) {
        cJSON_Hooks hooks = {.malloc_fn = cjson_malloc, .free_fn = free};
        cJSON_InitHooks(&hooks);
}

char *ka_strdup(const char *s) {
        return s ? ka_strndup(s, strlen(s)) : NULL;
}

char *ka_strndup(const char *s, size_t n) {
        if (!s)
                return NULL;
        size_t len = strnlen(s, n);
        char *d = ka_malloc(len + 1);
        memcpy(d, s, len);
        d[len] = '\0';
        return d;
}

char *ka_asprintf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return s;
}

void ka_wipe(void *p, size_t n) {
        volatile unsigned char *v = p;
        while (n--)
                *v++ = 0;
}

void ka_free_secret(char *s) {
        if (!s)
                return;
        ka_wipe(s, strlen(s));
        free(s);
}

void ka_strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t ka_strv_len(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

char **ka_strv_push(char **v, const char *s) {
        size_t n = ka_strv_len(v);
        v = ka_reallocarray(v, n + 2, sizeof(char *));
        v[n] = ka_strdup(s);
        v[n + 1] = NULL;
        return v;
}

int ka_strv_contains(char *const *v, const char *s) {
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return 1;
        return 0;
}
