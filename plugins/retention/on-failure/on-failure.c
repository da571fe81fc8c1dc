/* Retention policy `onFailure`: keep the pod when it failed.
 *
 * As the Jenkins kubernetes-plugin's OnFailure: the pod is kept when its
 * phase is Failed or Unknown (compared case-insensitively), and also when it
 * could not be fetched or has no status, since then nothing proves it
 * succeeded; it is deleted otherwise (Running, Pending, Succeeded). */
#include <kubeagent/kubeagent.h>
#include <strings.h>

static enum kubeagent_retention_decision decide(void *state, const struct kubeagent_retention_input *in) {
        (void)state;
        const cJSON *status = in->pod ? cJSON_GetObjectItemCaseSensitive(in->pod, "status") : NULL;
        if (!cJSON_IsObject(status))
                return KUBEAGENT_RETENTION_KEEP;
        const cJSON *phase = cJSON_GetObjectItemCaseSensitive(status, "phase");
        if (!cJSON_IsString(phase))
                return KUBEAGENT_RETENTION_KEEP;
        if (strcasecmp(phase->valuestring, "failed") == 0 || strcasecmp(phase->valuestring, "unknown") == 0)
                return KUBEAGENT_RETENTION_KEEP;
        return KUBEAGENT_RETENTION_DELETE;
}

static const char *const symbols[] = {"onFailure", "OnFailure", NULL};

static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION), /* abi_version, struct_size, signature, kind */
        .name = "on-failure",
        .version = PACKAGE_VERSION,
        .description = "keep the pod when its phase is Failed or Unknown",
        .retention = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
