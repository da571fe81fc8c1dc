#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

static int reserve(struct ka_buf *b, size_t extra) {
        if (b->max && (extra > b->max || b->len > b->max - extra))
                return -E2BIG;
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (b->secret && b->data) {
                char *n = ka_malloc(cap);
                memcpy(n, b->data, b->len + 1);
                ka_wipe(b->data, b->cap);
                free(b->data);
                b->data = n;
        } else {
                b->data = ka_realloc(b->data, cap);
        }
        b->cap = cap;
        return 0;
}

int ka_buf_append(struct ka_buf *b, const void *data, size_t len) {
        int r = reserve(b, len);
        if (r < 0)
                return r;
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

int ka_buf_puts(struct ka_buf *b, const char *s) {
        return ka_buf_append(b, s, strlen(s));
}

int ka_buf_putc(struct ka_buf *b, char c) {
        return ka_buf_append(b, &c, 1);
}

int ka_buf_vprintf(struct ka_buf *b, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        int r = reserve(b, (size_t)n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return 0;
}

int ka_buf_printf(struct ka_buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = ka_buf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void ka_buf_consume(struct ka_buf *b, size_t n) {
        if (n >= b->len) {
                ka_buf_reset(b);
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        if (b->secret)
                ka_wipe(b->data + b->len - n, n);
        b->len -= n;
        b->data[b->len] = '\0';
}

void ka_buf_reset(struct ka_buf *b) {
        if (b->secret && b->data)
                ka_wipe(b->data, b->len);
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

char *ka_buf_steal(struct ka_buf *b) {
        char *s = b->data ? b->data : ka_strdup("");
        b->data = NULL;
        b->len = b->cap = 0;
        return s;
}

void ka_buf_free(struct ka_buf *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

void ka_buf_free_secret(struct ka_buf *b) {
        if (b->data)
                ka_wipe(b->data, b->cap);
        ka_buf_free(b);
}
