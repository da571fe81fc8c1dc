/* A second plugin that claims the name "test-good". */
#include <kubeagent/kubeagent.h>

static enum kubeagent_retention_decision decide(void *s, const struct kubeagent_retention_input *in) {
        (void)s;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}
static const char *const symbols[] = {"testDuplicate", NULL};
static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};
static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION),
        .name = "test-good",
        .retention = &ops,
};
const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
