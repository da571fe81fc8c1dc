/* Fuzz target: the provisioning messages (core/provision/proto.c).  The
 * input is one JSON object, checked as a frontend message (when it has a
 * "type"), a job's work ("op") or a job event ("kind"); an event the
 * schema accepts is turned into a pod status summary and back, which must
 * give the same summary. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "provision/proto.h"
#include "util/json.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        cJSON *o = NULL;
        struct ka_error err = {0};
        if (size > (1u << 20) || ka_json_parse((const char *)data, size, &o, &err) < 0)
                return 0;
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return 0;
        }
        int r;
        const char *type = ka_json_str(o, "type");
        if (type) {
                char *t = ka_strdup(type);
                cJSON_DeleteItemFromObjectCaseSensitive(o, "type");
                r = ka_proto_check_frontend(t, o, &err);
                free(t);
        } else if (ka_json_str(o, "op")) {
                r = ka_proto_check_work(o, &err);
        } else {
                r = ka_proto_check_event(o, &err);
                if (r == 0 && ka_json_str(o, "phase")) {
                        struct ka_pod_summary s, back;
                        ka_pod_summary_from_json(o, &s);
                        cJSON *again = cJSON_CreateObject();
                        ka_pod_summary_to_json(&s, again);
                        ka_pod_summary_from_json(again, &back);
                        if (!ka_pod_summary_same(&s, &back))
                                __builtin_trap(); /* a summary survives the bus */
                        ka_pod_summary_clear(&s);
                        ka_pod_summary_clear(&back);
                        cJSON_Delete(again);
                }
        }
        if (r < 0 && !err.msg[0])
                __builtin_trap(); /* every refusal says why */
        cJSON_Delete(o);
        return 0;
}
