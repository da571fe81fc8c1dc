/* A plugin built for another plugin ABI version. */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *s, const struct kubeagent_retention_input *in) {
        (void)s;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}
static const char *const symbols[] = {"testWrongAbi", NULL};
static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};
static const struct kubeagent_plugin plugin = {
        .abi_version = KUBEAGENT_ABI_VERSION + 98,
        .struct_size = sizeof(struct kubeagent_plugin),
        .signature = KUBEAGENT_BUILD_SIGNATURE,
        .kind = KUBEAGENT_KIND_RETENTION,
        .name = "test-wrong-abi",
        .retention = &ops,
};
const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
