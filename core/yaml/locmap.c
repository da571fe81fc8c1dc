#include "locmap.h"

#include <stdint.h>
#include <string.h>

#include "util/mem.h"

struct entry {
        const cJSON *node; /* NULL = empty slot; TOMBSTONE = deleted */
        struct ka_loc value, key;
};

#define TOMBSTONE ((const cJSON *)(uintptr_t)1)

struct ka_locmap {
        struct entry *slots;
        size_t cap, used; /* used counts live entries and tombstones */
        char **files;
        size_t n_files;
};

struct ka_locmap *ka_locmap_new(void) {
        return ka_new0(struct ka_locmap, 1);
}

void ka_locmap_free(struct ka_locmap *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_files; i++)
                free(m->files[i]);
        free(m->files);
        free(m->slots);
        free(m);
}

const char *ka_locmap_intern(struct ka_locmap *m, const char *file) {
        if (!file)
                return NULL;
        for (size_t i = 0; i < m->n_files; i++)
                if (strcmp(m->files[i], file) == 0)
                        return m->files[i];
        m->files = ka_reallocarray(m->files, m->n_files + 1, sizeof(char *));
        return m->files[m->n_files++] = ka_strdup(file);
}

static size_t hash(const cJSON *p) {
        uintptr_t x = (uintptr_t)p;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return (size_t)x;
}

static struct entry *lookup(const struct ka_locmap *m, const cJSON *node, bool for_insert) {
        if (!m || !m->cap)
                return NULL;
        struct entry *grave = NULL;
        for (size_t i = hash(node) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
                struct entry *e = &m->slots[i];
                if (e->node == node)
                        return e;
                if (e->node == TOMBSTONE && !grave)
                        grave = e;
                if (!e->node)
                        return for_insert ? (grave ? grave : e) : NULL;
        }
}

static void grow(struct ka_locmap *m) {
        struct entry *old = m->slots;
        size_t old_cap = m->cap;
        m->cap = old_cap ? old_cap * 2 : 256;
        m->slots = ka_calloc(m->cap, sizeof(struct entry));
        m->used = 0;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].node && old[i].node != TOMBSTONE) {
                        *lookup(m, old[i].node, true) = old[i];
                        m->used++;
                }
        free(old);
}

void ka_locmap_set(struct ka_locmap *m, const cJSON *node, struct ka_loc value, struct ka_loc key) {
        if (!m || !node)
                return;
        if ((m->used + 1) * 4 >= m->cap * 3)
                grow(m);
        struct entry *e = lookup(m, node, true);
        if (e->node != node)
                m->used += e->node == NULL;
        *e = (struct entry){.node = node, .value = value, .key = key};
}

bool ka_locmap_get(const struct ka_locmap *m, const cJSON *node, struct ka_loc *ret) {
        const struct entry *e = node ? lookup(m, node, false) : NULL;
        *ret = e ? e->value : (struct ka_loc){0};
        return e != NULL;
}

bool ka_locmap_get_key(const struct ka_locmap *m, const cJSON *node, struct ka_loc *ret) {
        const struct entry *e = node ? lookup(m, node, false) : NULL;
        if (!e) {
                *ret = (struct ka_loc){0};
                return false;
        }
        *ret = e->key.line ? e->key : e->value;
        return true;
}

static void copy_node(struct ka_locmap *m, const cJSON *from, const cJSON *to) {
        const struct entry *e = lookup(m, from, false);
        if (e) {
                struct entry copy = *e;
                ka_locmap_set(m, to, copy.value, copy.key);
        }
        for (from = from->child, to = to->child; from && to; from = from->next, to = to->next)
                copy_node(m, from, to);
}

void ka_locmap_copy_tree(struct ka_locmap *m, const cJSON *from, const cJSON *to) {
        if (m && from && to)
                copy_node(m, from, to);
}

static void forget_node(struct ka_locmap *m, const cJSON *node) {
        struct entry *e = lookup(m, node, false);
        if (e)
                e->node = TOMBSTONE;
        for (node = node->child; node; node = node->next)
                forget_node(m, node);
}

void ka_locmap_forget_tree(struct ka_locmap *m, const cJSON *tree) {
        if (m && tree)
                forget_node(m, tree);
}
