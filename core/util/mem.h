/* core/util/mem.h — allocation.
 *
 * kubeagent does not try to keep running when malloc fails: every input it
 * reads has a hard size cap instead, so an allocation failure means the
 * machine is out of memory and the process aborts with a message.  cJSON is
 * given the same allocator (ka_mem_init), so its constructors never return
 * NULL for lack of memory. */
#ifndef KA_UTIL_MEM_H
#define KA_UTIL_MEM_H

#include <stddef.h>

#include "macro.h"

void ka_mem_init(void);

void *ka_malloc(size_t size);
void *ka_calloc(size_t n, size_t size);
void *ka_realloc(void *p, size_t size);
/* realloc for arrays, checking n * size for overflow */
void *ka_reallocarray(void *p, size_t n, size_t size);
#define ka_new0(type, n) ((type *)ka_calloc((n), sizeof(type)))

char *ka_strdup(const char *s); /* NULL in, NULL out */
char *ka_strndup(const char *s, size_t n);
char *ka_asprintf(const char *fmt, ...) KA_PRINTF(1, 2);

/* Overwrite memory in a way the compiler may not optimise away. */
void ka_wipe(void *p, size_t n);
/* Wipe a string's bytes, then free it (NULL is fine). */
void ka_free_secret(char *s);

/* A NULL-terminated array of strings. */
void ka_strv_free(char **v);
size_t ka_strv_len(char *const *v);
/* Append a copy of s; returns the (possibly moved) array. */
char **ka_strv_push(char **v, const char *s);
int ka_strv_contains(char *const *v, const char *s);
KA_DEFINE_CLEANUP(char *, ka_strv_free)

#endif
