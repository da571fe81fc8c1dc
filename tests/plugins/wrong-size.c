/* A plugin whose descriptor has another size than this kubeagent's (built
 * against an SDK with fewer or more members), the ABI version the same. */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *s, const struct kubeagent_retention_input *in) {
        (void)s;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}
static const char *const symbols[] = {"testWrongSize", NULL};
static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};
static const struct kubeagent_plugin plugin = {
        .abi_version = KUBEAGENT_ABI_VERSION,
        .struct_size = sizeof(struct kubeagent_plugin) - sizeof(void *),
        .signature = KUBEAGENT_BUILD_SIGNATURE,
        .kind = KUBEAGENT_KIND_RETENTION,
        .name = "test-wrong-size",
        .retention = &ops,
};
const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
