/* Fuzz target: the HTTP answer to a WebSocket upgrade — the head parser,
 * header lookups and token lists, and the chunked-body decoder (on what
 * follows the head, or on the whole input when there is no head). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/ws.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        const char *text = (const char *)data;
        const char *end = memmem(text, size, "\r\n\r\n", 4);
        size_t head = end ? (size_t)(end - text) + 4 : size;
        struct ka_http_head h;
        struct ka_error err = {0};
        if (ka_http_head_parse(text, head, &h, &err) == 0) {
                if (h.code < 100 || h.code > 599)
                        __builtin_trap();
                const char *c = ka_http_head_get(&h, "Connection");
                ka_http_has_token(c, "upgrade");
                ka_http_has_token(ka_http_head_get(&h, "Transfer-Encoding"), "chunked");
                ka_http_head_clear(&h);
        } else if (err.msg[0] == '\0') {
                __builtin_trap();
        }
        struct ka_buf out = KA_BUF_INIT(4096);
        bool done;
        size_t from = end ? head : 0;
        ka_http_dechunk(text + from, size - from, &out, &done);
        if (out.len > size)
                __builtin_trap();
        ka_buf_free(&out);
        return 0;
}
