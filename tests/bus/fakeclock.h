/* tests/bus/fakeclock.h — a struct ka_bus_clock that moves only when the
 * test says so: fake_clock, advance(ms).  The times are atomic: a part
 * running on another thread (the scheduler) may read them while the test
 * moves them. */
#ifndef KA_TESTS_BUS_FAKECLOCK_H
#define KA_TESTS_BUS_FAKECLOCK_H

#include "bus/clock.h"

struct fake_time {
        _Atomic int64_t mono, wall;
};

static struct fake_time now = {.mono = 5000, .wall = 1764133814000};

static inline int64_t fake_mono(void *d) {
        return ((struct fake_time *)d)->mono;
}

static inline int64_t fake_wall(void *d) {
        return ((struct fake_time *)d)->wall;
}

static const struct ka_bus_clock fake_clock = {.now_ms = fake_mono, .wall_ms = fake_wall, .data = &now};

static inline void advance(int64_t ms) {
        now.mono += ms;
        now.wall += ms;
}

#endif
