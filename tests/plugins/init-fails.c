/* A plugin whose init registers a metric and then fails: the loader must
 * refuse it and remove the metric. */
#include <errno.h>
#include <kubeagent/kubeagent.h>

static int init(const struct kubeagent_host *h, struct kubeagent_plugin_handle *self, void **ret_state,
                struct ka_error *err) {
        struct kubeagent_metric *m;
        (void)ret_state;
        h->metric_register(self, "kubeagent_test_init_fails_total", "Never kept.", KUBEAGENT_METRIC_COUNTER, NULL, &m);
        return h->error_set(err, -EIO, "cannot reach the license server");
}
static enum kubeagent_retention_decision decide(void *s, const struct kubeagent_retention_input *in) {
        (void)s;
        (void)in;
        return KUBEAGENT_RETENTION_KEEP;
}
static const char *const symbols[] = {"testInitFails", NULL};
static const struct kubeagent_retention_ops ops = {.symbols = symbols, .decide = decide};
static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_RETENTION),
        .name = "test-init-fails",
        .init = init,
        .retention = &ops,
};
const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
