/* Volume type emptyDir: the pod volume `emptyDirVolume` and the workspace
 * volume `emptyDirWorkspaceVolume` (JCasC `emptyDir`), as in the Jenkins
 * kubernetes-plugin: {emptyDir: {medium: "" or "Memory"}}, the workspace form
 * with an optional sizeLimit.  The workspace form with neither memory nor a
 * size limit is the default workspace volume. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

struct conf {
        char *mount_path;
        int memory;
        char *size_limit;
};

static const struct kubeagent_config_key pod_keys[] = {
        VOLUTIL_KEY_MOUNT_PATH(struct conf),
        {"memory", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct conf, memory), "back it with memory (tmpfs)"},
        {0},
};

static const struct kubeagent_config_key workspace_keys[] = {
        {"memory", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct conf, memory), "back it with memory (tmpfs)"},
        {"sizeLimit", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, size_limit),
         "the most it may hold (a quantity, e.g. 1Gi)"},
        {0},
};

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON *dir = cJSON_AddObjectToObject(out->source, "emptyDir");
        cJSON_AddStringToObject(dir, "medium", c->memory == 1 ? "Memory" : "");
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE) {
                char *limit = volutil_trimmed(c->size_limit, NULL);
                if (limit)
                        cJSON_AddStringToObject(dir, "sizeLimit", limit);
                free(limit);
                return 0;
        }
        return volutil_mount(out, c->mount_path);
}

static const char *const pod_symbols[] = {"emptyDirVolume", NULL};
static const char *const workspace_symbols[] = {"emptyDirWorkspaceVolume", "emptyDir", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = pod_symbols, .keys = pod_keys, .conf_size = sizeof(struct conf)},
        .workspace = {.symbols = workspace_symbols, .keys = workspace_keys, .conf_size = sizeof(struct conf)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "empty-dir",
        .version = PACKAGE_VERSION,
        .description = "an empty directory that lives as long as the pod (emptyDir)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
