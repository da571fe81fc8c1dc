/* The host function table: the core's services as plugins see them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "util/base64.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/secret.h"
#include "util/timeutil.h"
#include "yaml/yaml.h"

KA_PRINTF(3, 4)
static void host_log(struct kubeagent_plugin_handle *self, enum kubeagent_log_level level, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_logv((enum ka_log_level)level, self && self->desc ? self->desc->name : "plugin", fmt, ap);
        va_end(ap);
}

static int host_log_enabled(enum kubeagent_log_level level) {
        return ka_log_enabled((enum ka_log_level)level);
}

KA_PRINTF(3, 4) static int host_error_set(struct ka_error *err, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_error_vset(err, code, fmt, ap);
        va_end(ap);
        return code;
}

KA_PRINTF(5, 6)
static int host_error_at(struct ka_error *err, const struct kubeagent_config_source *src, const char *key, int code,
                         const char *fmt, ...) {
        struct ka_loc l = src ? ka_cfgsrc_where(src, key) : (struct ka_loc){0};
        va_list ap;
        va_start(ap, fmt);
        ka_error_vat(err, l.file, l.line, l.col, code, fmt, ap);
        va_end(ap);
        return code;
}

KA_PRINTF(4, 5)
static void host_warn_at(struct kubeagent_plugin_handle *self, const struct kubeagent_config_source *src,
                         const char *key, const char *fmt, ...) {
        struct ka_loc l = src ? ka_cfgsrc_where(src, key) : (struct ka_loc){0};
        char msg[KA_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const char *name = self && self->desc ? self->desc->name : "plugin";
        if (l.file && l.line)
                ka_log(KA_LOG_WARN, name, "%s:%u:%u: %s", l.file, l.line, l.col, msg);
        else
                ka_log(KA_LOG_WARN, name, "%s", msg);
}

static const cJSON *host_config_node(const struct kubeagent_config_source *src, const char *key) {
        return src && cJSON_IsObject(src->node) ? cJSON_GetObjectItemCaseSensitive(src->node, key) : NULL;
}

/* Child sources live in a small per-thread ring: plugins use them at once
 * (fill, blame) and never keep them. */
static const struct kubeagent_config_source *host_config_child(const struct kubeagent_config_source *src,
                                                               const char *key) {
        static __thread struct kubeagent_config_source ring[16];
        static __thread unsigned next;
        const cJSON *n = host_config_node(src, key);
        if (!n)
                return NULL;
        struct kubeagent_config_source *c = &ring[next++ % KA_ARRAY_SIZE(ring)];
        *c = ka_cfgsrc(n, src->locs, ka_cfgsrc_where(src, key));
        return c;
}

static const struct kubeagent_config_source *host_config_at(const struct kubeagent_config_source *src,
                                                            const cJSON *node) {
        static __thread struct kubeagent_config_source ring[16];
        static __thread unsigned next;
        if (!src || !node)
                return NULL;
        struct kubeagent_config_source *c = &ring[next++ % KA_ARRAY_SIZE(ring)];
        *c = ka_cfgsrc(node, src->locs, src->where);
        return c;
}

/* A document a plugin loaded: the source handed out is the first member. */
struct host_doc {
        struct kubeagent_config_source src;
        cJSON *root;
        struct ka_locmap *locs;
};

static int host_document_load(const char *path, struct kubeagent_config_source **ret_doc, const cJSON **ret_root,
                              struct ka_error *err) {
        struct ka_locmap *locs = ka_locmap_new();
        cJSON *root = NULL;
        int r = ka_yaml_load_file(path, locs, &root, err);
        if (r < 0) {
                ka_locmap_free(locs);
                return r;
        }
        struct host_doc *d = ka_new0(struct host_doc, 1);
        d->root = root;
        d->locs = locs;
        d->src = ka_cfgsrc(root, locs, (struct ka_loc){.file = ka_locmap_intern(locs, path), .line = 0, .col = 0});
        *ret_doc = &d->src;
        if (ret_root)
                *ret_root = root;
        return 0;
}

static void host_document_free(struct kubeagent_config_source *doc) {
        struct host_doc *d = (struct host_doc *)doc;
        if (!d)
                return;
        cJSON_Delete(d->root);
        ka_locmap_free(d->locs);
        free(d);
}

static int host_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct ka_error *err) {
        return ka_read_file(path, max, ret_data, ret_len, err);
}

static int host_metric_register(struct kubeagent_plugin_handle *self, const char *name, const char *help,
                                enum kubeagent_metric_type type, const char *label_names,
                                struct kubeagent_metric **ret_metric) {
        struct ka_metric *m;
        int r = ka_metric_register(self, name, help, type, label_names, &m, NULL);
        if (r == 0)
                *ret_metric = (struct kubeagent_metric *)m;
        return r;
}

static void host_metric_add(struct kubeagent_metric *metric, const char *label_values, double delta) {
        ka_metric_add((struct ka_metric *)metric, label_values, delta);
}

static void host_metric_set(struct kubeagent_metric *metric, const char *label_values, double value) {
        ka_metric_set((struct ka_metric *)metric, label_values, value);
}

/* The bus functions come from core/bus, which core/plugin may not include
 * (DESIGN.md §7): the daemon installs them with ka_host_set_bus(). */
static const struct ka_host_bus *bus_ops;

void ka_host_set_bus(const struct ka_host_bus *ops) {
        bus_ops = ops;
}

static int host_bus_send(struct kubeagent_bus *bus, const cJSON *message, struct ka_error *err) {
        if (!bus_ops)
                return ka_error_set(err, -ENOSYS, "the bus is not running in this process");
        return bus_ops->send(bus, message, err);
}

static int host_bus_recv(struct kubeagent_bus *bus, int timeout_ms, cJSON **ret_message, struct ka_error *err) {
        if (!bus_ops)
                return ka_error_set(err, -ENOSYS, "the bus is not running in this process");
        return bus_ops->recv(bus, timeout_ms, ret_message, err);
}

void ka_plugin_endpoint_clear(struct kubeagent_endpoint *ep) {
        free(ep->server);
        free(ep->namespace_);
        free(ep->ca_pem);
        free(ep->tls_server_name);
        free(ep->proxy_url);
        free(ep->client_cert_pem);
        ka_secret_free(ep->client_key_pem);
        ka_secret_free(ep->bearer_token);
        free(ep->username);
        ka_secret_free(ep->password);
        free(ep->description);
        free(ep->impersonate_user);
        free(ep->impersonate_uid);
        for (char **v = ep->impersonate_groups; v && *v; v++)
                free(*v);
        free(ep->impersonate_groups);
        for (char **v = ep->impersonate_extra; v && *v; v++)
                free(*v);
        free(ep->impersonate_extra);
        *ep = (struct kubeagent_endpoint){0};
}

static const struct kubeagent_host host = {
        .abi_version = KUBEAGENT_ABI_VERSION,
        .size = sizeof(struct kubeagent_host),
        .log = host_log,
        .log_enabled = host_log_enabled,
        .secret_register = ka_secret_register,
        .secret_unregister = ka_secret_unregister,
        .secret_free = ka_secret_free,
        .error_set = host_error_set,
        .error_at = host_error_at,
        .warn_at = host_warn_at,
        .config_node = host_config_node,
        .config_child = host_config_child,
        .config_fill = ka_cfgmap_fill_err,
        .config_clear = ka_cfgmap_clear,
        .read_file = host_read_file,
        .base64_decode = ka_base64_decode,
        .now_ms = ka_time_now_ms,
        .wall_ms = ka_time_wall_ms,
        .metric_register = host_metric_register,
        .metric_add = host_metric_add,
        .metric_set = host_metric_set,
        .bus_send = host_bus_send,
        .bus_recv = host_bus_recv,
        .document_load = host_document_load,
        .document_free = host_document_free,
        .config_at = host_config_at,
        .parse_time = ka_time_parse_rfc3339,
        .endpoint_clear = ka_plugin_endpoint_clear,
};

const struct kubeagent_host *ka_host(void) {
        return &host;
}
