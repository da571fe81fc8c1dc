/* Volume type dynamicPVC (deprecated in the plugin in favour of
 * genericEphemeralVolume): a PersistentVolumeClaim created after the pod,
 * owned by it.  As in the Jenkins kubernetes-plugin the pod refers to
 * {persistentVolumeClaim: {claimName, readOnly: false}} with claim name
 * "pvc-<pod>-<id>" for a pod volume and "pvc-workspace-<pod>" for the
 * workspace, and the claim asks for [accessModes or ReadWriteOnce],
 * requestsSize or 10Gi, and storageClassName when given.  The plugin's <id>
 * is random per template volume; here it is derived from the mount path, so
 * that rendering is reproducible and two volumes of a pod never share it. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/volutil.h"

/* 8 characters [a-z0-9] from the mount path (FNV-1a). */
static void volume_id(const char *mount_path, char id[9]) {
        uint64_t h = 1469598103934665603ull;
        for (const unsigned char *p = (const unsigned char *)mount_path; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 8; i++, h /= 36)
                id[i] = alphabet[h % 36];
        id[8] = '\0';
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct volutil_claim *c = conf;
        char name[320], id[9];
        if (ctx->form == KUBEAGENT_VOLUME_WORKSPACE) {
                snprintf(name, sizeof(name), "pvc-workspace-%s", ctx->pod_name);
        } else {
                volume_id(c->mount_path, id);
                snprintf(name, sizeof(name), "pvc-%s-%s", ctx->pod_name, id);
        }
        out->source = cJSON_CreateObject();
        cJSON *ref = cJSON_AddObjectToObject(out->source, "persistentVolumeClaim");
        cJSON_AddStringToObject(ref, "claimName", name);
        cJSON_AddBoolToObject(ref, "readOnly", 0);

        cJSON *pvc = cJSON_CreateObject();
        cJSON_AddStringToObject(pvc, "apiVersion", "v1");
        cJSON_AddStringToObject(pvc, "kind", "PersistentVolumeClaim");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(pvc, "metadata"), "name", name);
        volutil_claim_spec(cJSON_AddObjectToObject(pvc, "spec"), c);
        out->extra_objects = cJSON_CreateArray();
        cJSON_AddItemToArray(out->extra_objects, pvc);
        return ctx->form == KUBEAGENT_VOLUME_WORKSPACE ? 0 : volutil_mount(out, c->mount_path);
}

static const char *const symbols[] = {"dynamicPVC", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = volutil_claim_pod_keys, .conf_size = sizeof(struct volutil_claim)},
        .workspace = {.symbols = symbols,
                      .keys = volutil_claim_workspace_keys,
                      .conf_size = sizeof(struct volutil_claim)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "dynamic-pvc",
        .version = PACKAGE_VERSION,
        .description = "a PersistentVolumeClaim created for the pod and deleted with it (deprecated: "
                       "prefer genericEphemeralVolume)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
