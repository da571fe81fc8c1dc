/* Retention policy `default`: whatever the cloud's podRetention says (a
 * template's default).  The core resolves the deferral; a cloud whose own
 * policy is `default` deletes, as the Jenkins kubernetes-plugin does. */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *state, const struct kubeagent_retention_input *in) {
        (void)state;
        (void)in;
        return KUBEAGENT_RETENTION_DEFER;
}

static const char *const symbols[] = {"default", "Default", NULL};

static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION), /* abi_version, struct_size, signature, kind */
        .name = "default",
        .version = PACKAGE_VERSION,
        .description = "use the cloud's retention policy",
        .retention = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
