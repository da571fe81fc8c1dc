/* Retention policy `never`: never keep an agent's pod; delete it when the
 * agent is done (the cloud default of the Jenkins kubernetes-plugin). */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *state, const struct kubeagent_retention_input *in) {
        (void)state;
        (void)in;
        return KUBEAGENT_RETENTION_DELETE;
}

static const char *const symbols[] = {"never", "Never", NULL};

static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION), /* abi_version, struct_size, signature, kind */
        .name = "never",
        .version = PACKAGE_VERSION,
        .description = "delete the pod when the agent is done",
        .retention = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
