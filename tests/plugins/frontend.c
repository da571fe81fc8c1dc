/* A frontend plugin for the config-model tests: keys only, never run. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdint.h>

struct conf {
        char *url;
        int64_t poll_interval_ms;
};

static const struct kubeagent_config_key keys[] = {
        {"url", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, url), "controller URL"},
        {"pollInterval", KUBEAGENT_CFG_DURATION, "2", 0, offsetof(struct conf, poll_interval_ms), "poll period"},
        {0},
};

static int run(void *state, const void *conf, struct kubeagent_bus *bus, struct ka_error *err) {
        (void)state;
        (void)conf;
        (void)bus;
        (void)err;
        return -ENOSYS;
}

static const struct kubeagent_frontend_ops ops = {.run = run};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_FRONTEND),
        .name = "test-frontend",
        .version = "1.0",
        .config_keys = keys,
        .config_size = sizeof(struct conf),
        .frontend = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
