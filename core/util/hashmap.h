/* core/util/hashmap.h — a hash map from strings to pointers.
 *
 * Open addressing with linear probing and backward-shift deletion.  The map
 * copies and owns its keys; values belong to the caller.  The hash is seeded
 * per process, so keys chosen by a peer cannot be lined up to collide.
 * Iteration order is unspecified, and entries must not be added or removed
 * while iterating.  Not thread-safe. */
#ifndef KA_UTIL_HASHMAP_H
#define KA_UTIL_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ka_hashmap_slot {
        char *key; /* NULL: free */
        void *value;
        uint64_t hash;
};

struct ka_hashmap {
        struct ka_hashmap_slot *slots;
        size_t cap; /* 0 or a power of two */
        size_t n;
};

#define KA_HASHMAP_INIT                                                                                                \
        { .slots = NULL, .cap = 0, .n = 0 }

void *ka_hashmap_get(const struct ka_hashmap *m, const char *key);
/* Insert or replace; returns the value that was there (or NULL). */
void *ka_hashmap_put(struct ka_hashmap *m, const char *key, void *value);
/* Returns the value removed (or NULL). */
void *ka_hashmap_remove(struct ka_hashmap *m, const char *key);
/* for (size_t i = 0; ka_hashmap_next(m, &i, &key, &value);) ... */
bool ka_hashmap_next(const struct ka_hashmap *m, size_t *iter, const char **ret_key, void **ret_value);
/* Frees the keys and the table, not the values. */
void ka_hashmap_free(struct ka_hashmap *m);

#endif
