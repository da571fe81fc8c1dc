/* Retention policy `evicted`: keep the pod when Kubernetes evicted it
 * (status.reason "Evicted", compared case-insensitively); delete it
 * otherwise, including when it could not be fetched. */
#include <kubeagent/kubeagent.h>
#include <strings.h>

static enum kubeagent_retention_decision decide(void *state, const struct kubeagent_retention_input *in) {
        (void)state;
        const cJSON *status = in->pod ? cJSON_GetObjectItemCaseSensitive(in->pod, "status") : NULL;
        const cJSON *reason = cJSON_IsObject(status) ? cJSON_GetObjectItemCaseSensitive(status, "reason") : NULL;
        if (cJSON_IsString(reason) && strcasecmp(reason->valuestring, "evicted") == 0)
                return KUBEAGENT_RETENTION_KEEP;
        return KUBEAGENT_RETENTION_DELETE;
}

static const char *const symbols[] = {"evicted", "Evicted", NULL};

static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION), /* abi_version, struct_size, signature, kind */
        .name = "evicted",
        .version = PACKAGE_VERSION,
        .description = "keep the pod when Kubernetes evicted it",
        .retention = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
