/* core/bus/fifo.h — internal to core/bus: a first-in first-out queue of
 * fixed-size items (the events an endpoint hands out, the job table's
 * actions).  It owns its storage, not what items point to. */
#ifndef KA_BUS_FIFO_H
#define KA_BUS_FIFO_H

#include <stdbool.h>
#include <stddef.h>

struct ka_bus_fifo {
        unsigned char *v;
        size_t size;          /* of one item */
        size_t first, n, cap; /* items [first, n) are queued */
};

#define KA_BUS_FIFO_INIT(type)                                                                                         \
        { .v = NULL, .size = sizeof(type), .first = 0, .n = 0, .cap = 0 }

/* A zeroed item at the end, to fill in (valid until the next push). */
void *ka_bus_fifo_push(struct ka_bus_fifo *f);
/* Move the first item into *ret; false when empty. */
bool ka_bus_fifo_pop(struct ka_bus_fifo *f, void *ret);
bool ka_bus_fifo_empty(const struct ka_bus_fifo *f);
/* Free the storage, calling clear (when not NULL) on each queued item. */
void ka_bus_fifo_free(struct ka_bus_fifo *f, void (*clear)(void *item));

#endif
