#include "cred.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/cfgmap.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/timeutil.h"

/* Refresh this long before the plugin's expiry, so a request never leaves
 * with credentials that expire on the way. */
#define EXPIRY_MARGIN_MS 5000

struct ka_kube_cred {
        const struct kubeagent_plugin_handle *plugin;
        void *session;
        void *own_conf; /* a conf the core built (autodetect, kubeconfig role) */
        pthread_mutex_t lock;
        struct ka_kube_endpoint *current;
        uint64_t generation;
};

static void endpoint_free(struct ka_kube_endpoint *e) {
        if (!e)
                return;
        ka_plugin_endpoint_clear(&e->ep);
        free(e);
}

static void own_conf_free(const struct kubeagent_plugin_handle *p, void *conf) {
        if (!conf)
                return;
        ka_cfgmap_clear(p->desc->config_keys, conf);
        free(conf);
}

int ka_kube_cred_open(const struct kubeagent_plugin_handle *plugin, const void *conf, struct ka_kube_cred **ret,
                      struct ka_error *err) {
        if (!plugin || plugin->desc->kind != KUBEAGENT_KIND_CREDENTIAL)
                return ka_error_set(err, -EINVAL, "not a credential plugin");
        void *session = NULL;
        int r = plugin->desc->credential->open(plugin->state, conf, &session, err);
        if (r < 0)
                return r;
        struct ka_kube_cred *c = ka_new0(struct ka_kube_cred, 1);
        c->plugin = plugin;
        c->session = session;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

void ka_kube_cred_free(struct ka_kube_cred *c) {
        if (!c)
                return;
        c->plugin->desc->credential->close(c->session);
        own_conf_free(c->plugin, c->own_conf);
        endpoint_free(c->current);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

const char *ka_kube_cred_plugin(const struct ka_kube_cred *c) {
        return c->plugin->desc->name;
}

/* A conf with the plugin's defaults and the given keys set (string values). */
static int conf_with(const struct kubeagent_plugin_handle *p, const char *const *kv, void **ret, struct ka_error *err) {
        size_t size = p->desc->config_size;
        void *conf = ka_calloc(1, size ? size : 1);
        cJSON *block = cJSON_CreateObject();
        for (size_t i = 0; kv && kv[i]; i += 2)
                if (kv[i + 1])
                        cJSON_AddStringToObject(block, kv[i], kv[i + 1]);
        /* no file: paths stay relative to the working directory, as kubectl's */
        struct kubeagent_config_source src = ka_cfgsrc(block, NULL, (struct ka_loc){0});
        int r = p->desc->config_keys ? ka_cfgmap_fill_err(p->desc->config_keys, &src, conf, err) : 0;
        cJSON_Delete(block);
        if (r < 0) {
                own_conf_free(p, conf);
                return r;
        }
        *ret = conf;
        return 0;
}

static int open_owned(const struct kubeagent_plugin_handle *p, void *conf, struct ka_kube_cred **ret,
                      struct ka_error *err) {
        struct ka_kube_cred *c;
        int r = ka_kube_cred_open(p, conf, &c, err);
        if (r < 0) {
                own_conf_free(p, conf);
                return r;
        }
        c->own_conf = conf;
        *ret = c;
        return 0;
}

static int by_priority(const void *a, const void *b) {
        const struct kubeagent_plugin_handle *x = *(const struct kubeagent_plugin_handle *const *)a;
        const struct kubeagent_plugin_handle *y = *(const struct kubeagent_plugin_handle *const *)b;
        int px = x->desc->credential->autodetect_priority, py = y->desc->credential->autodetect_priority;
        return px != py ? (px < py ? -1 : 1) : strcmp(x->desc->name, y->desc->name);
}

int ka_kube_cred_autodetect(const struct ka_registry *reg, struct ka_kube_cred **ret, struct ka_error *err) {
        _cleanup_free_ const struct kubeagent_plugin_handle **cands =
                ka_new0(const struct kubeagent_plugin_handle *, reg->n + 1);
        size_t n = 0;
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin_handle *p = reg->v[i];
                if (p->desc->kind == KUBEAGENT_KIND_CREDENTIAL && p->desc->credential->autodetect_priority > 0)
                        cands[n++] = p;
        }
        qsort(cands, n, sizeof(*cands), by_priority);
        struct ka_buf tried = KA_BUF_INIT(0);
        for (size_t i = 0; i < n; i++) {
                const struct kubeagent_plugin_handle *p = cands[i];
                void *conf;
                int r = conf_with(p, NULL, &conf, err);
                if (r == 0) {
                        r = p->desc->credential->detect(p->state, conf, err);
                        if (r <= 0)
                                own_conf_free(p, conf);
                        if (r < 0)
                                ka_error_prefix(err, "credentials %s", p->desc->name);
                }
                if (r < 0) {
                        ka_buf_free(&tried);
                        return r;
                }
                if (r == 0) {
                        ka_buf_printf(&tried, "%s%s", tried.len ? ", " : "", p->desc->name);
                        continue;
                }
                ka_buf_free(&tried);
                r = open_owned(p, conf, ret, err);
                if (r < 0)
                        ka_error_prefix(err, "credentials %s (autodetected)", p->desc->name);
                return r;
        }
        if (n == 0)
                ka_error_set(err, -ENOENT,
                             "no Kubernetes credentials: no credential plugin can autodetect; "
                             "set the cloud's credentialsId or use --kubeconfig");
        else
                ka_error_set(err, -ENOENT,
                             "no Kubernetes credentials found (tried %s): set the cloud's serverUrl and "
                             "credentialsId, or use --kubeconfig",
                             tried.data);
        ka_buf_free(&tried);
        return -ENOENT;
}

int ka_kube_cred_kubeconfig(const struct ka_registry *reg, const char *path, const char *context,
                            struct ka_kube_cred **ret, struct ka_error *err) {
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin_handle *p = reg->v[i];
                if (p->desc->kind != KUBEAGENT_KIND_CREDENTIAL ||
                    !(p->desc->credential->roles & KUBEAGENT_CREDENTIAL_ROLE_KUBECONFIG))
                        continue;
                const char *kv[] = {"path", path, "context", context, NULL};
                void *conf;
                int r = conf_with(p, kv, &conf, err);
                if (r < 0)
                        return r;
                return open_owned(p, conf, ret, err);
        }
        return ka_error_set(err, -ENOENT,
                            "no loaded credential plugin reads kubeconfig files "
                            "(is the kubeconfig plugin in the plugin path?)");
}

/* Called with the lock held. */
static int resolve_locked(struct ka_kube_cred *c, enum kubeagent_refresh_reason why, struct ka_error *err) {
        struct ka_kube_endpoint *e = ka_new0(struct ka_kube_endpoint, 1);
        int r = c->plugin->desc->credential->resolve(c->session, why, &e->ep, err);
        if (r < 0) {
                endpoint_free(e);
                return r;
        }
        e->generation = ++c->generation;
        e->refs = 1;
        if (c->current && --c->current->refs == 0)
                endpoint_free(c->current);
        c->current = e;
        return 0;
}

static struct ka_kube_endpoint *ref_current(struct ka_kube_cred *c) {
        c->current->refs++;
        return c->current;
}

static bool expiring(const struct ka_kube_endpoint *e) {
        return e->ep.expires_at_ms > 0 && ka_time_wall_ms_real() >= e->ep.expires_at_ms - EXPIRY_MARGIN_MS;
}

int ka_kube_cred_get(struct ka_kube_cred *c, struct ka_kube_endpoint **ret, struct ka_error *err) {
        pthread_mutex_lock(&c->lock);
        int r = 0;
        if (!c->current)
                r = resolve_locked(c, 0, err);
        else if (expiring(c->current))
                r = resolve_locked(c, KUBEAGENT_REFRESH_EXPIRED, err);
        if (r == 0)
                *ret = ref_current(c);
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                ka_error_prefix(err, "credentials %s", c->plugin->desc->name);
        return r;
}

int ka_kube_cred_refused(struct ka_kube_cred *c, const struct ka_kube_endpoint *seen, struct ka_kube_endpoint **ret,
                         struct ka_error *err) {
        pthread_mutex_lock(&c->lock);
        int r = 0;
        if (!c->current || c->current->generation == seen->generation)
                r = resolve_locked(c, KUBEAGENT_REFRESH_UNAUTHORIZED, err);
        if (r == 0)
                *ret = ref_current(c);
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                ka_error_prefix(err, "credentials %s", c->plugin->desc->name);
        return r;
}

void ka_kube_endpoint_unref(struct ka_kube_cred *c, struct ka_kube_endpoint *e) {
        if (!e)
                return;
        pthread_mutex_lock(&c->lock);
        bool last = --e->refs == 0;
        pthread_mutex_unlock(&c->lock);
        if (last)
                endpoint_free(e);
}
