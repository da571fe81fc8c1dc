/* Volume type ephemeral (a claim created and deleted with the pod by
 * Kubernetes): the pod volume and workspace volume `genericEphemeralVolume`,
 * as in the Jenkins kubernetes-plugin:
 *   {ephemeral: {volumeClaimTemplate: {spec: {accessModes: [mode],
 *    storageClassName, resources: {requests: {storage: size}}}}}}
 * with ReadWriteOnce and 10Gi when not given. */
#include <kubeagent/kubeagent.h>

#include "../common/volutil.h"

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)err;
        const struct volutil_claim *c = conf;
        out->source = cJSON_CreateObject();
        cJSON *tmpl = cJSON_AddObjectToObject(cJSON_AddObjectToObject(out->source, "ephemeral"), "volumeClaimTemplate");
        volutil_claim_spec(cJSON_AddObjectToObject(tmpl, "spec"), c);
        return ctx->form == KUBEAGENT_VOLUME_WORKSPACE ? 0 : volutil_mount(out, c->mount_path);
}

static const char *const symbols[] = {"genericEphemeralVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = volutil_claim_pod_keys, .conf_size = sizeof(struct volutil_claim)},
        .workspace = {.symbols = symbols,
                      .keys = volutil_claim_workspace_keys,
                      .conf_size = sizeof(struct volutil_claim)},
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME), /* abi_version, struct_size, signature, kind */
        .name = "generic-ephemeral",
        .version = PACKAGE_VERSION,
        .description = "a claim Kubernetes creates and deletes with the pod (ephemeral)",
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
