/* Volume type configMap: the pod volume `configMapVolume`, as in the Jenkins
 * kubernetes-plugin: {configMap: {name, optional}} mounted at mountPath, with
 * subPath when given.  There is no workspace form. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

struct conf {
        char *name;
        char *mount_path;
        int optional;
        char *sub_path;
};

static const struct kubeagent_config_key keys[] = {
        {"configMapName", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, name),
         "the ConfigMap, in the pod's namespace"},
        VOLUTIL_KEY_MOUNT_PATH(struct conf),
        {"optional", KUBEAGENT_CFG_BOOL, NULL, 0, offsetof(struct conf, optional),
         "start the pod even when the ConfigMap is missing"},
        {"subPath", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, sub_path), "mount only this entry"},
        {0},
};

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)ctx;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON *cm = cJSON_AddObjectToObject(out->source, "configMap");
        cJSON_AddStringToObject(cm, "name", c->name);
        if (c->optional >= 0)
                cJSON_AddBoolToObject(cm, "optional", c->optional);
        if (volutil_mount(out, c->mount_path) < 0)
                return -ENOMEM;
        if (c->sub_path && c->sub_path[strspn(c->sub_path, " \t")]) {
                out->sub_path = strdup(c->sub_path);
                if (!out->sub_path)
                        return -ENOMEM;
        }
        return 0;
}

static const char *const symbols[] = {"configMapVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = keys, .conf_size = sizeof(struct conf)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "config-map",
        .version = PACKAGE_VERSION,
        .description = "a ConfigMap's entries as files (configMap)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
