/* A cloud's Kubernetes client and retention policies. */
#include "cloud.h"

#include <errno.h>

#include "kube/cred.h"
#include "util/error.h"

void ka_cloud_kube_options(const struct ka_cloud *c, struct ka_kube_options *o) {
        if (!c)
                return;
        o->server_url = c->server_url;
        o->ca_pem = c->server_certificate;
        o->skip_tls_verify = c->skip_tls_verify;
        o->namespace_ = c->namespace_;
        o->connect_timeout_ms = c->connect_timeout_ms;
        o->request_timeout_ms = c->read_timeout_ms;
        o->qps = c->qps;
        o->burst = (int)c->burst;
}

int ka_cloud_kube_open(const struct ka_registry *reg, const struct ka_cloud *c, struct ka_kube_options *o,
                       struct ka_kube **ret, struct ka_error *err) {
        int r = c->credentials ? ka_kube_cred_open(c->credentials->plugin, c->credentials->conf, &o->cred, err)
                               : ka_kube_cred_autodetect(reg, &o->cred, err);
        if (r < 0)
                return ka_error_prefix(err, "cloud %s", c->name);
        r = ka_kube_new(o, ret, err);
        o->cred = NULL; /* the client took it, even on failure */
        if (r < 0)
                return ka_error_prefix(err, "cloud %s", c->name);
        return 0;
}

int ka_retention_decide(const struct ka_registry *reg, char *const *symbols, const struct kubeagent_retention_input *in,
                        enum kubeagent_retention_decision *ret, struct ka_error *err) {
        for (size_t i = 0; symbols && symbols[i]; i++) {
                const struct kubeagent_plugin_handle *p =
                        ka_registry_find_symbol(reg, KUBEAGENT_KIND_RETENTION, symbols[i], NULL);
                if (!p)
                        return ka_error_set(err, -ENOENT, "no retention plugin serves \"%s\"", symbols[i]);
                enum kubeagent_retention_decision d = p->desc->retention->decide(p->state, in);
                if (d != KUBEAGENT_RETENTION_DEFER) {
                        *ret = d;
                        return 0;
                }
        }
        *ret = KUBEAGENT_RETENTION_DELETE;
        return 0;
}
