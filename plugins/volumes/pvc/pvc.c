/* Volume type persistentVolumeClaim (an existing claim): the pod volume
 * `persistentVolumeClaim` and the workspace volume
 * `persistentVolumeClaimWorkspaceVolume`, as in the Jenkins kubernetes-plugin:
 * {persistentVolumeClaim: {claimName, readOnly}}; the mount itself is never
 * read-only. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

struct conf {
        char *claim_name;
        int read_only;
        char *mount_path;
};

/* The keys of both forms; the pod form adds mountPath. */
/* clang-format off */
#define PVC_KEYS \
        {"claimName", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, claim_name), \
         "the PersistentVolumeClaim, in the pod's namespace"}, \
        {"readOnly", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct conf, read_only), "use the claim read-only"}
/* clang-format on */

static const struct kubeagent_config_key pod_keys[] = {PVC_KEYS, VOLUTIL_KEY_MOUNT_PATH(struct conf), {0}};
static const struct kubeagent_config_key workspace_keys[] = {PVC_KEYS, {0}};

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON *pvc = cJSON_AddObjectToObject(out->source, "persistentVolumeClaim");
        cJSON_AddStringToObject(pvc, "claimName", c->claim_name);
        cJSON_AddBoolToObject(pvc, "readOnly", c->read_only == 1);
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE)
                return 0;
        return volutil_mount(out, c->mount_path);
}

static const char *const pod_symbols[] = {"persistentVolumeClaim", NULL};
static const char *const workspace_symbols[] = {"persistentVolumeClaimWorkspaceVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = pod_symbols, .keys = pod_keys, .conf_size = sizeof(struct conf)},
        .workspace = {.symbols = workspace_symbols, .keys = workspace_keys, .conf_size = sizeof(struct conf)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "pvc",
        .version = PACKAGE_VERSION,
        .description = "an existing PersistentVolumeClaim (persistentVolumeClaim)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
