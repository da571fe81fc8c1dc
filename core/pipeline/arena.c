#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

struct ka_arena_chunk {
        struct ka_arena_chunk *next;
        size_t size, used;
        max_align_t data[];
};

#define CHUNK_MIN (64u * 1024u)
#define ALIGN (sizeof(max_align_t))

void *ka_arena_alloc(struct ka_arena *a, size_t size) {
        size = (size + ALIGN - 1) & ~(ALIGN - 1);
        if (size == 0)
                size = ALIGN;
        if (a->full || size > a->max - KA_MIN(a->used, a->max)) {
                a->full = true;
                return NULL;
        }
        struct ka_arena_chunk *c = a->chunks;
        if (!c || c->size - c->used < size) {
                size_t n = KA_MAX(size, (size_t)CHUNK_MIN);
                c = ka_malloc(sizeof(*c) + n);
                c->next = a->chunks;
                c->size = n;
                c->used = 0;
                a->chunks = c;
        }
        void *p = (char *)c->data + c->used;
        c->used += size;
        a->used += size;
        memset(p, 0, size);
        return p;
}

void *ka_arena_array(struct ka_arena *a, size_t n, size_t size) {
        if (size && n > SIZE_MAX / size) {
                a->full = true;
                return NULL;
        }
        return ka_arena_alloc(a, n * size);
}

char *ka_arena_strndup(struct ka_arena *a, const char *s, size_t n) {
        if (n == SIZE_MAX) {
                a->full = true;
                return NULL;
        }
        char *p = ka_arena_alloc(a, n + 1);
        if (p && n)
                memcpy(p, s, n);
        return p;
}

void ka_arena_free(struct ka_arena *a) {
        while (a->chunks) {
                struct ka_arena_chunk *c = a->chunks;
                a->chunks = c->next;
                free(c);
        }
        a->used = 0;
        a->full = false;
}
