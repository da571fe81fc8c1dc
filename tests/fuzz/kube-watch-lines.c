/* Fuzz target: the watch stream splitter, fed the input in chunks whose
 * sizes come from the input itself, with every line parsed as an event.
 * Whatever the chunking, the lines must be the same: checked against a
 * second pass in one chunk. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/podstatus.h"
#include "kube/watch.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
        uint64_t lines, bytes, hash;
};

static int on_line(void *ud, char *line, size_t len) {
        struct tally *t = ud;
        t->lines++;
        t->bytes += len;
        for (size_t i = 0; i < len; i++)
                t->hash = t->hash * 131 + (unsigned char)line[i];
        if (strlen(line) > len)
                __builtin_trap();       /* NUL-terminated at len */
        enum ka_watch_type type;
        cJSON *obj = NULL;
        struct ka_error err = {0};
        if (ka_kube_watch_event_parse(line, len, &type, &obj, &err) == 0) {
                struct ka_pod_state ps;
                ka_pod_state_of(obj, &ps);
                cJSON_Delete(obj);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        struct tally a = {0}, b = {0};
        struct ka_lines l = KA_LINES_INIT(4096);
        int ra = 0;
        for (size_t at = 0, i = 0; at < size && ra == 0; i++) {
                size_t chunk = 1 + data[i % size] % 17;
                if (chunk > size - at)
                        chunk = size - at;
                ra = ka_lines_feed(&l, (const char *)data + at, chunk, on_line, &a);
                at += chunk;
        }
        ka_lines_free(&l);
        struct ka_lines m = KA_LINES_INIT(4096);
        int rb = ka_lines_feed(&m, (const char *)data, size, on_line, &b);
        ka_lines_free(&m);
        if (ra != rb || (ra == 0 && (a.lines != b.lines || a.bytes != b.bytes || a.hash != b.hash)))
                __builtin_trap();
        return 0;
}
