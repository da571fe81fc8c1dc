/* core/util/buf.h — a growable byte buffer with a hard cap.
 *
 * Every buffer that holds outside input (HTTP bodies, YAML, watch lines, bus
 * messages) is a ka_buf with `max` set: appending past it fails with -E2BIG
 * and leaves the contents as they were.  data is always NUL-terminated.
 *
 * A buffer that holds a secret (a token, a password, a request carrying
 * credentials) is made with KA_BUF_INIT_SECRET: growing it copies and wipes
 * instead of realloc(), so no stale copy is left in freed memory, and it is
 * released with ka_buf_free_secret(). */
#ifndef KA_UTIL_BUF_H
#define KA_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

struct ka_buf {
        char *data;
        size_t len;
        size_t cap;
        size_t max;  /* 0 = no cap (only for data kubeagent produces itself) */
        bool secret; /* wipe every copy it leaves behind */
};

#define KA_BUF_INIT(max_)                                                                                              \
        { .data = NULL, .len = 0, .cap = 0, .max = (max_), .secret = false }
#define KA_BUF_INIT_SECRET(max_)                                                                                       \
        { .data = NULL, .len = 0, .cap = 0, .max = (max_), .secret = true }

int ka_buf_append(struct ka_buf *b, const void *data, size_t len);
int ka_buf_puts(struct ka_buf *b, const char *s);
int ka_buf_putc(struct ka_buf *b, char c);
int ka_buf_printf(struct ka_buf *b, const char *fmt, ...) KA_PRINTF(2, 3);
int ka_buf_vprintf(struct ka_buf *b, const char *fmt, va_list ap) KA_PRINTF(2, 0);
/* Drop the first n bytes. */
void ka_buf_consume(struct ka_buf *b, size_t n);
void ka_buf_reset(struct ka_buf *b);
/* Hand the contents to the caller (a NUL-terminated malloc()ed string). */
char *ka_buf_steal(struct ka_buf *b);
void ka_buf_free(struct ka_buf *b);
/* ka_buf_free, wiping the bytes first. */
void ka_buf_free_secret(struct ka_buf *b);

#endif
