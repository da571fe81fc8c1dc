/* Fuzz target: server WebSocket frames through the frame decoder and the
 * exec channel layer, down to the exit status.  The first byte picks how
 * the rest is cut into reads (1 to 256 bytes at a time), so that every
 * split of headers and payloads across reads is tried. */
#include <stddef.h>
#include <stdint.h>

#include "kube/exec.h"
#include "kube/ws.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t delivered;

static int sink(void *ud, int channel, const void *p, size_t n) {
        (void)ud, (void)channel, (void)p;
        delivered += n;
        return 0;
}

static int control(void *ud, uint8_t opcode, const uint8_t *p, size_t n, struct ka_error *err) {
        (void)ud, (void)err;
        uint16_t code;
        if (n > 125 || (opcode == KA_WS_CLOSE && ka_ws_close_payload(p, n, &code, NULL) < 0))
                __builtin_trap(); /* the decoder let a bad control frame through */
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        if (size == 0)
                return 0;
        size_t step = (size_t)data[0] + 1;
        data++, size--;
        struct ka_exec_stream s;
        ka_exec_stream_init(&s, sink, NULL);
        const struct ka_ws_handler h = {.data = ka_exec_stream_data, .control = control};
        struct ka_ws_decoder d;
        ka_ws_decoder_init(&d);
        struct ka_error err = {0};
        delivered = 0;
        int r = 0;
        for (size_t i = 0; i < size && r == 0; i += step)
                r = ka_ws_decode(&d, data + i, step < size - i ? step : size - i, &h, &s, &err);
        if (delivered > size || (r < 0 && err.msg[0] == '\0'))
                __builtin_trap(); /* more out than in, or an error without a message */
        int code;
        if (ka_exec_stream_status(&s, &code, &err) == 0 && (code < 0 || code > 255))
                __builtin_trap();
        ka_exec_stream_clear(&s);
        return 0;
}
