/* A plugin built with other build options (e.g. sanitizers) than kubeagent. */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *s, const struct kubeagent_retention_input *in) {
        (void)s;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}
static const char *const symbols[] = {"testBadSignature", NULL};
static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};
static const struct kubeagent_plugin plugin = {
        .abi_version = KUBEAGENT_ABI_VERSION,
        .struct_size = sizeof(struct kubeagent_plugin),
        .signature = "abi=1;asan=7;ptr=8",
        .kind = KUBEAGENT_KIND_RETENTION,
        .name = "test-bad-signature",
        .retention = &ops,
};
const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
