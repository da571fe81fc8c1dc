#include "clock.h"

#include "util/timeutil.h"

static int64_t mono(void *data) {
        (void)data;
        return ka_time_now_ms();
}

static int64_t wall(void *data) {
        (void)data;
        return ka_time_wall_ms_real();
}

const struct ka_bus_clock *ka_bus_clock_real(void) {
        static const struct ka_bus_clock real = {.now_ms = mono, .wall_ms = wall};
        return &real;
}
