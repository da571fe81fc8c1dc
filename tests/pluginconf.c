/* A plugin's conf from YAML text (pluginconf.h). */
#include "pluginconf.h"

#include <string.h>

#include "plugin/cfgmap.h"
#include "yaml/yaml.h"

int plugin_conf_yaml(const struct kubeagent_plugin_handle *p, const char *yaml, void **ret_conf,
                     struct ka_error *err) {
        struct ka_locmap *locs = ka_locmap_new();
        cJSON *node = NULL;
        struct ka_yaml_origin o = {.file = "test.yaml"};
        int r = ka_yaml_parse(yaml, strlen(yaml), &o, locs, &node, err);
        if (r == 0) {
                struct kubeagent_config_source src = ka_cfgsrc(node, locs, (struct ka_loc){.file = "test.yaml"});
                struct ka_diags d = {0};
                r = ka_plugin_conf_new(p, 0, &src, NULL, ret_conf, &d);
                if (r < 0 && d.n)
                        ka_error_at(err, d.v[0].file, d.v[0].line, d.v[0].col, r, "%s", d.v[0].msg);
                ka_diags_free(&d);
        }
        cJSON_Delete(node);
        ka_locmap_free(locs);
        return r;
}
