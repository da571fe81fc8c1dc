/* core/pipeline/arena.h — one allocation pool per pipeline read.
 *
 * The tokens, syntax tree and evaluated values of one Jenkinsfile live as
 * long as each other, so they come from one pool freed at once, with a hard
 * cap on its total size: a hostile script runs out of pool (an error the
 * reader reports), never out of memory.  ka_arena_alloc() returns zeroed
 * memory, or NULL once the cap is reached; the arena then stays full. */
#ifndef KA_PIPELINE_ARENA_H
#define KA_PIPELINE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct ka_arena_chunk;

struct ka_arena {
        struct ka_arena_chunk *chunks;
        size_t used; /* bytes handed out, over all chunks */
        size_t max;  /* cap on `used` */
        bool full;   /* an allocation was refused */
};

#define KA_ARENA_INIT(max_)                                                                                            \
        { .chunks = NULL, .used = 0, .max = (max_), .full = false }

void *ka_arena_alloc(struct ka_arena *a, size_t size);
/* n elements of size bytes, checking the product. */
void *ka_arena_array(struct ka_arena *a, size_t n, size_t size);
/* A NUL-terminated copy of n bytes (which may contain NULs). */
char *ka_arena_strndup(struct ka_arena *a, const char *s, size_t n);
void ka_arena_free(struct ka_arena *a);

#endif
