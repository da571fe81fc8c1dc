/* Fuzz target: a config file through the whole model — YAML, document,
 * ka_config_load with the build's volume and retention plugins (when
 * $KUBEAGENT_PLUGIN_PATH names them), then matching and rendering every
 * template (with and without --explain) and writing the pods out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/mem.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ka_registry reg;

static void render_all(const struct ka_config *cfg) {
        for (size_t c = 0; c < cfg->n_clouds; c++)
                for (size_t i = 0; i < cfg->clouds[c]->n_templates; i++) {
                        struct ka_render_params p = {
                                .agent_name = i % 2 ? "fuzz-agent" : NULL,
                                .secret = "fuzz-secret",
                                .jenkins_root_url = "http://jenkins.example.com",
                                .direct_endpoint = "jenkins:50000",
                                .instance_identity = "id",
                                .explain = i % 2 == 0,
                        };
                        struct ka_rendered r;
                        struct ka_diags d = {0};
                        if (ka_template_render(cfg->clouds[c], cfg->clouds[c]->templates[i], &p, &r, &d) == 0) {
                                struct ka_buf out = KA_BUF_INIT(0);
                                ka_yaml_emit(r.pod, &out);
                                /* a rendered pod always parses back */
                                cJSON *back = NULL;
                                struct ka_error err = {0};
                                if (ka_yaml_parse(out.data, out.len, NULL, NULL, &back, &err) < 0 || !back)
                                        __builtin_trap();
                                cJSON_Delete(back);
                                ka_buf_free(&out);
                                ka_rendered_free(&r);
                        }
                        ka_diags_free(&d);
                }
        static const char *const labels[] = {"", "linux", "a && !b", "maven || (java -> x)"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(labels); i++) {
                const struct ka_cloud *cl;
                const struct ka_template *t;
                struct ka_error err = {0};
                ka_template_match(cfg, NULL, labels[i], NULL, 0, &cl, &t, &err);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                const char *path = getenv("KUBEAGENT_PLUGIN_PATH");
                struct ka_diags d = {0};
                if (path)
                        ka_registry_load_dir(&reg, path, &d);
                ka_diags_free(&d);
                init = 1;
        }
        struct ka_document doc = {.locs = ka_locmap_new(), .path = ka_strdup("fuzz.yaml")};
        struct ka_yaml_origin o = {.file = "fuzz.yaml"};
        struct ka_error err = {0};
        if (ka_yaml_parse((const char *)data, size, &o, doc.locs, &doc.root, &err) == 0 && cJSON_IsObject(doc.root)) {
                struct ka_config *cfg = NULL;
                struct ka_diags d = {0};
                if (ka_config_load(&doc, &reg, &cfg, &d) == 0) {
                        render_all(cfg);
                        ka_config_free(cfg);
                }
                ka_diags_free(&d);
        }
        ka_document_free(&doc);
        return 0;
}
