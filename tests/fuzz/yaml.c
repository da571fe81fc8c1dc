/* Fuzz target: the YAML loader and the emitter on whatever it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/mem.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        struct ka_locmap *locs = ka_locmap_new();
        struct ka_error err = {0};
        cJSON *tree = NULL;
        struct ka_yaml_origin o = {.file = "fuzz.yaml"};
        if (ka_yaml_parse((const char *)data, size, &o, locs, &tree, &err) == 0 && tree) {
                struct ka_buf out = KA_BUF_INIT(0);
                ka_yaml_emit(tree, &out);
                /* what we emit must parse back */
                cJSON *back = NULL;
                if (ka_yaml_parse(out.data, out.len, &o, NULL, &back, &err) < 0)
                        __builtin_trap();
                cJSON_Delete(back);
                ka_buf_free(&out);
        }
        cJSON_Delete(tree);
        cJSON *all = NULL;
        if (ka_yaml_parse_all((const char *)data, size, &o, locs, &all, &err) == 0)
                cJSON_Delete(all);
        ka_locmap_free(locs);
        return 0;
}
