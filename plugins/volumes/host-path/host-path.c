/* Volume type hostPath: the pod volume `hostPathVolume` and the workspace
 * volume `hostPathWorkspaceVolume` (JCasC `hostPath`), as in the Jenkins
 * kubernetes-plugin: {hostPath: {path}} without a type.  It is the only type
 * whose mount may be read-only. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

struct conf {
        char *host_path;
        char *mount_path;
        int read_only;
};

static const struct kubeagent_config_key pod_keys[] = {
        {"hostPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, host_path),
         "the folder on the node"},
        VOLUTIL_KEY_MOUNT_PATH(struct conf),
        {"readOnly", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct conf, read_only), "mount it read-only"},
        {0},
};

static const struct kubeagent_config_key workspace_keys[] = {
        {"hostPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, host_path),
         "the folder on the node"},
        {0},
};

static int validate(void *state, enum kubeagent_volume_form form, const void *conf,
                    const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        (void)form;
        const struct conf *c = conf;
        if (c->host_path[0] != '/')
                return volutil_host->error_at(err, src, "hostPath", -EINVAL,
                                              "hostPath must be an absolute path, not \"%s\"", c->host_path);
        return 0;
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON_AddStringToObject(cJSON_AddObjectToObject(out->source, "hostPath"), "path", c->host_path);
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE)
                return 0;
        out->read_only = c->read_only == 1;
        return volutil_mount(out, c->mount_path);
}

static const char *const pod_symbols[] = {"hostPathVolume", NULL};
static const char *const workspace_symbols[] = {"hostPathWorkspaceVolume", "hostPath", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = pod_symbols, .keys = pod_keys, .conf_size = sizeof(struct conf)},
        .workspace = {.symbols = workspace_symbols, .keys = workspace_keys, .conf_size = sizeof(struct conf)},
        .validate = validate,
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "host-path",
        .version = PACKAGE_VERSION,
        .description = "a folder of the node the pod runs on (hostPath)",
        .init = volutil_init,
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
