/* Volume type nfs: the pod volume `nfsVolume` and the workspace volume
 * `nfsWorkspaceVolume`, as in the Jenkins kubernetes-plugin:
 * {nfs: {server, path, readOnly}}; the mount itself is never read-only. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

struct conf {
        char *server;
        char *path;
        int read_only;
        char *mount_path;
};

/* The keys of both forms; the pod form adds mountPath (a workspace is
 * mounted at the containers' working directories). */
/* clang-format off */
#define NFS_KEYS \
        {"serverAddress", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, server), \
         "the NFS server"}, \
        {"serverPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, path), \
         "the exported path"}, \
        {"readOnly", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct conf, read_only), "export it read-only"}
/* clang-format on */

static const struct kubeagent_config_key pod_keys[] = {NFS_KEYS, VOLUTIL_KEY_MOUNT_PATH(struct conf), {0}};
static const struct kubeagent_config_key workspace_keys[] = {NFS_KEYS, {0}};

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON *nfs = cJSON_AddObjectToObject(out->source, "nfs");
        cJSON_AddStringToObject(nfs, "server", c->server);
        cJSON_AddStringToObject(nfs, "path", c->path);
        cJSON_AddBoolToObject(nfs, "readOnly", c->read_only == 1);
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE)
                return 0;
        return volutil_mount(out, c->mount_path);
}

static const char *const pod_symbols[] = {"nfsVolume", NULL};
static const char *const workspace_symbols[] = {"nfsWorkspaceVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = pod_symbols, .keys = pod_keys, .conf_size = sizeof(struct conf)},
        .workspace = {.symbols = workspace_symbols, .keys = workspace_keys, .conf_size = sizeof(struct conf)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "nfs",
        .version = PACKAGE_VERSION,
        .description = "an NFS export (nfs)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
