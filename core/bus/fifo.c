#include "fifo.h"

#include <string.h>

#include "util/mem.h"

void *ka_bus_fifo_push(struct ka_bus_fifo *f) {
        if (f->first == f->n)
                f->first = f->n = 0; /* empty: start over at the front */
        if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 16;
                f->v = ka_reallocarray(f->v, f->cap, f->size);
        }
        void *item = f->v + f->n++ * f->size;
        memset(item, 0, f->size);
        return item;
}

bool ka_bus_fifo_pop(struct ka_bus_fifo *f, void *ret) {
        if (f->first >= f->n)
                return false;
        memcpy(ret, f->v + f->first++ * f->size, f->size);
        return true;
}

bool ka_bus_fifo_empty(const struct ka_bus_fifo *f) {
        return f->first >= f->n;
}

void ka_bus_fifo_free(struct ka_bus_fifo *f, void (*clear)(void *item)) {
        for (size_t i = f->first; clear && i < f->n; i++)
                clear(f->v + i * f->size);
        free(f->v);
        *f = (struct ka_bus_fifo){.size = f->size};
}
