/* Retention policy `always`: keep every agent's pod after the agent is done,
 * for inspection; only the garbage collector may remove it later. */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *state, const struct kubeagent_retention_input *in) {
        (void)state;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}

static const char *const symbols[] = {"always", "Always", NULL};

static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION), /* abi_version, struct_size, signature, kind */
        .name = "always",
        .version = PACKAGE_VERSION,
        .description = "keep the pod when the agent is done",
        .retention = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
