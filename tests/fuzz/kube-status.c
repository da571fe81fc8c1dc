/* Fuzz target: API error bodies (Status or text) into errors, and watch
 * event lines into events and pod outlooks.  The first byte picks the HTTP
 * code of the answer. */
#include <stddef.h>
#include <stdint.h>

#include "kube/podstatus.h"
#include "kube/status.h"
#include "kube/watch.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        static const int codes[] = {400, 401, 403, 404, 409, 410, 413, 422, 429, 500, 503, 504};
        int code = size ? codes[data[0] % (sizeof(codes) / sizeof(codes[0]))] : 500;
        const char *body = size ? (const char *)data + 1 : "";
        size_t len = size ? size - 1 : 0;
        struct ka_kube_status st;
        ka_kube_status_parse(code, body, len, &st);
        struct ka_error err = {0};
        if (ka_kube_status_error(&st, "fuzz", &err) >= 0)
                __builtin_trap();       /* an error response is always an error */
        ka_kube_status_clear(&st);

        enum ka_watch_type type;
        cJSON *obj = NULL;
        if (ka_kube_watch_event_parse(body, len, &type, &obj, &err) == 0) {
                struct ka_pod_state ps;
                ka_pod_state_of(obj, &ps);
                if (type == KA_WATCH_ERROR) {
                        ka_kube_status_from_json(500, obj, &st);
                        ka_kube_status_clear(&st);
                }
                cJSON_Delete(obj);
        }
        return 0;
}
