/* A plugin with a fresh name that claims a symbol another plugin serves. */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *s, const struct kubeagent_retention_input *in) {
        (void)s;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}
static const char *const symbols[] = {"onFailure", NULL};
static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};
static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION),
        .name = "test-duplicate-symbol",
        .retention = &ops,
};
const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
