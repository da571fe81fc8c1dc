/* Fuzz target: a template registration request (POST /v1/templates) through
 * the daemon's parser — YAML/JSON, the request's keys, a podTemplate call or
 * a config template, loading and a trial render — and, when it is accepted,
 * the store's rules.  Every refusal is located. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"
#include "daemon/register.h"
#include "provision/tmplstore.h"
#include "util/log.h"
#include "util/mem.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config[] = "jenkins:\n"
                             "  clouds:\n"
                             "    - kubernetes:\n"
                             "        name: open\n"
                             "        jenkinsUrl: http://jenkins.example/\n"
                             "        templates:\n"
                             "          - {name: base, label: base, containers: [{name: jnlp, image: agent}]}\n"
                             "    - kubernetes:\n"
                             "        name: restricted\n"
                             "        usageRestricted: true\n"
                             "        allowedFolders: [team-a]\n";

static struct ka_registry reg;
static struct ka_document doc;
static struct ka_config *cfg;
static struct ka_tmplstore *store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!cfg) {
                ka_mem_init();
                ka_log_setup("fuzz", KA_LOG_ERROR, KA_LOG_TEXT);
                const char *path = getenv("KUBEAGENT_PLUGIN_PATH");
                struct ka_diags d = {0};
                if (path)
                        ka_registry_load_dir(&reg, path, &d);
                doc = (struct ka_document){.locs = ka_locmap_new(), .path = ka_strdup("fuzz.yaml")};
                struct ka_error err = {0};
                if (ka_yaml_parse(config, sizeof(config) - 1, NULL, doc.locs, &doc.root, &err) < 0 ||
                    ka_config_load(&doc, &reg, &cfg, &d) < 0)
                        __builtin_trap();
                ka_diags_free(&d);
                ka_tmplstore_new(&(struct ka_tmplstore_options){.cfg = cfg, .max = 4}, &store);
        }
        struct ka_register_ctx ctx = {.cfg = cfg, .reg = &reg};
        struct ka_tmplstore_reg r = {0};
        struct ka_diags d = {0};
        if (ka_register_parse(&ctx, (const char *)data, size, &r, &d) == 0) {
                char *label = ka_strdup(r.label);
                struct ka_error err = {0};
                if (ka_tmplstore_add(store, &r, NULL, &err) == 0) {
                        cJSON_Delete(ka_tmplstore_json(store, label));
                        ka_tmplstore_remove(store, label);
                } else if (!err.msg[0]) {
                        __builtin_trap(); /* a refusal says why */
                }
                free(label);
        } else {
                for (size_t i = 0; i < d.n; i++)
                        if (!d.v[i].file)
                                __builtin_trap(); /* every problem is placed */
                if (d.errors == 0)
                        __builtin_trap();
        }
        ka_tmplstore_reg_clear(&r);
        ka_diags_free(&d);
        return 0;
}
