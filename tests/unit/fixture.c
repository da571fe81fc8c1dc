#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"

static char dir[] = "/tmp/ka-fixture-XXXXXX";
static struct ka_registry reg;
static struct ka_document docs[128];
static struct ka_config *cfgs[128];
static size_t n_cfgs;

bool fixture_start(void) {
        ka_mem_init();
        const char *path = getenv("KUBEAGENT_PLUGIN_PATH");
        if (!path || !mkdtemp(dir))
                return false;
        struct ka_diags d = {0};
        ka_registry_load_dir(&reg, path, &d);
        ka_diags_free(&d);
        return true;
}

void fixture_end(void) {
        for (size_t i = 0; i < n_cfgs; i++) {
                ka_config_free(cfgs[i]);
                ka_document_free(&docs[i]);
        }
        ka_registry_free(&reg);
        _cleanup_free_ char *cmd = ka_asprintf("rm -rf %s", dir);
        if (system(cmd) != 0)
                tap_diag("could not remove %s", dir);
}

const struct ka_registry *fixture_registry(void) {
        return &reg;
}

const struct ka_config *fixture_config(const char *yaml) {
        if (n_cfgs == KA_ARRAY_SIZE(cfgs))
                abort();
        _cleanup_free_ char *name = ka_asprintf("c%zu.yaml", n_cfgs);
        _cleanup_free_ char *path = ka_path_join(dir, name);
        struct ka_error err = {0};
        ka_write_file_atomic(path, yaml, strlen(yaml), 0644, &err);
        struct ka_diags d = {0};
        size_t i = n_cfgs++;
        if (ka_document_load(path, &docs[i], &d) < 0 || ka_config_load(&docs[i], &reg, &cfgs[i], &d) < 0) {
                ka_diags_print(&d, stdout);
                tap_diag("bad test config:\n%s", yaml);
                abort();
        }
        ka_diags_free(&d);
        return cfgs[i];
}

const struct ka_cloud *fixture_cloud(const char *cloud_keys, const char *templates) {
        _cleanup_free_ char *text = ka_asprintf("jenkins:\n  clouds:\n    - kubernetes:\n        name: test\n%s"
                                                "        templates:\n%s",
                                                cloud_keys, templates);
        return fixture_config(text)->clouds[0];
}

const struct ka_template *fixture_template(const char *one_template) {
        _cleanup_free_ char *t = ka_asprintf("          - %s\n", one_template);
        return fixture_cloud("", t)->templates[0];
}

char *fixture_json(const cJSON *obj, const char *path) {
        const cJSON *n = path && *path ? ka_json_path(obj, path) : obj;
        return n ? cJSON_PrintUnformatted(n) : ka_strdup("(absent)");
}
