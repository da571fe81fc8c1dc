/* A credential plugin for the config-model tests: keys only, no server. */
#include <errno.h>
#include <kubeagent/kubeagent.h>
#include <stddef.h>

struct conf {
        char *path;
        char *context;
        char *token;
};

static const struct kubeagent_config_key keys[] = {
        {"path", KUBEAGENT_CFG_PATH, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct conf, path), "a file"},
        {"context", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, context), "a context"},
        {"token", KUBEAGENT_CFG_SECRET, NULL, 0, offsetof(struct conf, token), "a secret"},
        {0},
};

static int open_(void *state, const void *conf, void **ret_session, struct ka_error *err) {
        (void)state;
        (void)conf;
        (void)ret_session;
        (void)err;
        return -ENOSYS;
}

static int resolve(void *session, enum kubeagent_refresh_reason reason, struct kubeagent_endpoint *ret,
                   struct ka_error *err) {
        (void)session;
        (void)reason;
        (void)ret;
        (void)err;
        return -ENOSYS;
}

static void close_(void *session) {
        (void)session;
}

static const struct kubeagent_credential_ops ops = {.open = open_, .resolve = resolve, .close = close_};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_CREDENTIAL),
        .name = "test-credential",
        .version = "1.0",
        .config_keys = keys,
        .config_size = sizeof(struct conf),
        .credential = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
