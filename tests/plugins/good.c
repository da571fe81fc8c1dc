/* A well-formed volume plugin for the loader tests: every key type, a
 * cross-field check, a metric registered in init. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct conf {
        char *path;
        char *mount_path;
        int read_only;
        int64_t size;
        int64_t timeout_ms;
        char **tags;
        cJSON *extra;
        char *token;
};

static const struct kubeagent_config_key keys[] = {
        {"path", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, path), "host path"},
        {"mountPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, mount_path),
         "where to mount it"},
        {"readOnly", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct conf, read_only), "mount read-only"},
        {"size", KUBEAGENT_CFG_INT, NULL, 0, offsetof(struct conf, size), "a number"},
        {"timeout", KUBEAGENT_CFG_DURATION, "2s", 0, offsetof(struct conf, timeout_ms), "a duration"},
        {"tags", KUBEAGENT_CFG_STRLIST, NULL, 0, offsetof(struct conf, tags), "a list"},
        {"extra", KUBEAGENT_CFG_JSON, NULL, 0, offsetof(struct conf, extra), "anything"},
        {"token", KUBEAGENT_CFG_SECRET, NULL, 0, offsetof(struct conf, token), "a secret"},
        {"nodeProperties", KUBEAGENT_CFG_JSON, NULL, KUBEAGENT_CFG_IGNORED, 0, "Jenkins only"},
        {"oldName", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_DEPRECATED, offsetof(struct conf, path), "old"},
        {0},
};

static const struct kubeagent_host *host;

static int init(const struct kubeagent_host *h, struct kubeagent_plugin_handle *self, void **ret_state,
                struct ka_error *err) {
        struct kubeagent_metric *m;
        host = h;
        int r = h->metric_register(self, "kubeagent_test_good_loads_total", "Loads.", KUBEAGENT_METRIC_COUNTER, NULL,
                                   &m);
        if (r < 0)
                return h->error_set(err, r, "cannot register a metric");
        h->metric_add(m, NULL, 1);
        *ret_state = self;
        return 0;
}

static int validate(void *state, enum kubeagent_volume_form form, const void *conf,
                    const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        (void)form;
        const struct conf *c = conf;
        if (c->path[0] != '/')
                return host->error_at(err, src, "path", -EINVAL, "path must be absolute, not \"%s\"", c->path);
        return 0;
}

static int render(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                  struct kubeagent_volume_out *out, struct ka_error *err) {
        (void)state;
        (void)ctx;
        (void)err;
        const struct conf *c = conf;
        out->source = cJSON_CreateObject();
        cJSON_AddStringToObject(cJSON_AddObjectToObject(out->source, "hostPath"), "path", c->path);
        out->mount_path = strdup(c->mount_path);
        out->read_only = c->read_only;
        return 0;
}

static const char *const symbols[] = {"testVolume", NULL};

static const struct kubeagent_volume_ops ops = {
        .pod = {.symbols = symbols, .keys = keys, .conf_size = sizeof(struct conf)},
        .validate = validate,
        .render = render,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_VOLUME),
        .name = "test-good",
        .version = "1.2.3",
        .description = "a test volume",
        .init = init,
        .volume = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}

/* Not exported: the link keeps only kubeagent_plugin_entry. */
int test_good_helper(void);
int test_good_helper(void) {
        return 1;
}
