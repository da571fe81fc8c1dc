/* core/bus/clock.h — the time the bus runs on.
 *
 * Leases, resends and heartbeats read a monotonic clock; frames and epochs
 * carry Unix time.  Both come through this table so that tests can run the
 * reliability layer on a clock they move by hand. */
#ifndef KA_BUS_CLOCK_H
#define KA_BUS_CLOCK_H

#include <stdint.h>

struct ka_bus_clock {
        int64_t (*now_ms)(void *data);  /* monotonic */
        int64_t (*wall_ms)(void *data); /* Unix time */
        void *data;
};

/* CLOCK_MONOTONIC and CLOCK_REALTIME. */
const struct ka_bus_clock *ka_bus_clock_real(void);

static inline int64_t ka_bus_now(const struct ka_bus_clock *c) {
        return c->now_ms(c->data);
}

static inline int64_t ka_bus_wall(const struct ka_bus_clock *c) {
        return c->wall_ms(c->data);
}

#endif
