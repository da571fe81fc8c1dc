#include "hashmap.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "mem.h"

static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void) {
        if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
                seed = (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15ull;
}

/* FNV-1a over the seed and the key, with a final avalanche (splitmix64). */
static uint64_t hash(const char *key) {
        pthread_once(&seed_once, seed_init);
        uint64_t h = 0xcbf29ce484222325ull ^ seed;
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
                h = (h ^ *p) * 0x100000001b3ull;
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebull;
        return h ^ (h >> 31);
}

static size_t find(const struct ka_hashmap *m, const char *key, uint64_t h) {
        size_t mask = m->cap - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
                const struct ka_hashmap_slot *s = &m->slots[i];
                if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
                        return i;
        }
}

void *ka_hashmap_get(const struct ka_hashmap *m, const char *key) {
        if (!m->n)
                return NULL;
        const struct ka_hashmap_slot *s = &m->slots[find(m, key, hash(key))];
        return s->key ? s->value : NULL;
}

static void grow(struct ka_hashmap *m) {
        struct ka_hashmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 16;
        m->slots = ka_new0(struct ka_hashmap_slot, m->cap);
        for (size_t i = 0; i < old.cap; i++)
                if (old.slots[i].key)
                        m->slots[find(m, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
        free(old.slots);
}

void *ka_hashmap_put(struct ka_hashmap *m, const char *key, void *value) {
        if ((m->n + 1) * 4 > m->cap * 3)
                grow(m);
        uint64_t h = hash(key);
        struct ka_hashmap_slot *s = &m->slots[find(m, key, h)];
        if (s->key) {
                void *was = s->value;
                s->value = value;
                return was;
        }
        *s = (struct ka_hashmap_slot){.key = ka_strdup(key), .value = value, .hash = h};
        m->n++;
        return NULL;
}

void *ka_hashmap_remove(struct ka_hashmap *m, const char *key) {
        if (!m->n)
                return NULL;
        size_t mask = m->cap - 1;
        size_t i = find(m, key, hash(key));
        if (!m->slots[i].key)
                return NULL;
        void *value = m->slots[i].value;
        free(m->slots[i].key);
        /* Shift back every entry of the run that follows, unless it already
         * sits at or after its home slot (seen cyclically from the hole). */
        for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
                size_t home = m->slots[j].hash & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        m->slots[i] = m->slots[j];
                        i = j;
                }
        }
        m->slots[i] = (struct ka_hashmap_slot){0};
        m->n--;
        return value;
}

bool ka_hashmap_next(const struct ka_hashmap *m, size_t *iter, const char **ret_key, void **ret_value) {
        for (; *iter < m->cap; (*iter)++) {
                const struct ka_hashmap_slot *s = &m->slots[*iter];
                if (s->key) {
                        if (ret_key)
                                *ret_key = s->key;
                        if (ret_value)
                                *ret_value = s->value;
                        (*iter)++;
                        return true;
                }
        }
        return false;
}

void ka_hashmap_free(struct ka_hashmap *m) {
        for (size_t i = 0; i < m->cap; i++)
                free(m->slots[i].key);
        free(m->slots);
        *m = (struct ka_hashmap)KA_HASHMAP_INIT;
}
