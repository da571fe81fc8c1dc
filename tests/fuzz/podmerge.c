/* Fuzz target: combining two pods (a two-document YAML stream) with the
 * plugin's merge and with strategic merge, in both orders. */
#include <stddef.h>
#include <stdint.h>

#include "template/template.h"
#include "util/mem.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        cJSON *docs = NULL;
        struct ka_error err = {0};
        if (ka_yaml_parse_all((const char *)data, size, NULL, NULL, &docs, &err) < 0)
                return 0;
        const cJSON *a = cJSON_GetArrayItem(docs, 0), *b = cJSON_GetArrayItem(docs, 1);
        if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
                struct ka_locmap *prov = ka_locmap_new();
                const cJSON *pairs[][2] = {{a, b}, {b, a}, {NULL, a}};
                for (size_t i = 0; i < KA_ARRAY_SIZE(pairs); i++) {
                        cJSON_Delete(ka_pod_combine(pairs[i][0], pairs[i][1], prov));
                        cJSON_Delete(ka_pod_strategic(pairs[i][0], pairs[i][1], prov));
                }
                ka_locmap_free(prov);
        }
        cJSON_Delete(docs);
        return 0;
}
