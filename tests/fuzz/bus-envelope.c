/* Fuzz target: the bus envelope decoder, and re-encoding whatever it accepts
 * (which must decode again to the same message). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus/envelope.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        struct ka_bus_msg m = {0}, back = {0};
        enum ka_bus_reject reason;
        struct ka_error err = {0};
        if (ka_bus_msg_decode((const char *)data, size, 1 << 20, &m, &reason, &err) < 0) {
                if (reason <= KA_BUS_REJECT_NONE || reason >= KA_BUS_REJECT_COUNT_ || !err.msg[0])
                        __builtin_trap(); /* every refusal has a reason and a message */
                return 0;
        }
        struct ka_buf out = KA_BUF_INIT(2u << 20);
        if (ka_bus_msg_encode(&m, &out, &err) < 0 ||
            ka_bus_msg_decode(out.data, out.len, 2u << 20, &back, &reason, &err) < 0)
                __builtin_trap();
        if (strcmp(m.type, back.type) || strcmp(m.id, back.id) || strcmp(m.sender, back.sender) ||
            strcmp(m.to, back.to) || m.time != back.time || m.seq != back.seq ||
            !cJSON_Compare(m.payload, back.payload, 1))
                __builtin_trap();
        ka_buf_free(&out);
        ka_bus_msg_clear(&m);
        ka_bus_msg_clear(&back);
        return 0;
}
