/* core/kube/cred.h — one opened credential (a credential plugin's session),
 * shared by every request of a client.
 *
 * The session hands out endpoint snapshots: reference-counted, immutable
 * copies of what the plugin resolved, so that a request in one thread keeps
 * using its snapshot while another thread refreshes.  A snapshot is refreshed
 * when its expires_at_ms is near, and after a 401 — once per snapshot, so
 * that many requests failing together re-run an exec plugin only once.
 * Every call is thread-safe; calls into the plugin are serialised.
 *
 * The core names no plugin: sessions come from a plugin handle and its conf,
 * from autodetection (plugins asked in their autodetect_priority order), or
 * from the plugin that declares the kubeconfig role. */
#ifndef KA_KUBE_CRED_H
#define KA_KUBE_CRED_H

#include <kubeagent/kubeagent.h>
#include <stdint.h>

#include "plugin/plugin.h"

struct ka_kube_cred;

struct ka_kube_endpoint {
        struct kubeagent_endpoint ep; /* as the plugin resolved it */
        uint64_t generation;          /* increases with every resolve() */
        int refs;
};

/* Open a session of `plugin` with its filled conf (the caller keeps owning
 * conf; the plugin copies what it needs). */
int ka_kube_cred_open(const struct kubeagent_plugin_handle *plugin, const void *conf, struct ka_kube_cred **ret,
                      struct ka_error *err);
/* Ask every credential plugin that can autodetect, lowest priority first;
 * open the first that detects its source.  -ENOENT (with a message listing
 * what was tried) when none does. */
int ka_kube_cred_autodetect(const struct ka_registry *reg, struct ka_kube_cred **ret, struct ka_error *err);
/* Open the plugin serving KUBEAGENT_CREDENTIAL_ROLE_KUBECONFIG with `path`
 * and `context` (either may be NULL), as kubectl's --kubeconfig/--context. */
int ka_kube_cred_kubeconfig(const struct ka_registry *reg, const char *path, const char *context,
                            struct ka_kube_cred **ret, struct ka_error *err);
void ka_kube_cred_free(struct ka_kube_cred *c);
KA_DEFINE_CLEANUP(struct ka_kube_cred, ka_kube_cred_free)

/* The plugin's name ("kubeconfig"). */
const char *ka_kube_cred_plugin(const struct ka_kube_cred *c);

/* The current endpoint, resolving or refreshing it when needed.  Release
 * with ka_kube_endpoint_unref(). */
int ka_kube_cred_get(struct ka_kube_cred *c, struct ka_kube_endpoint **ret, struct ka_error *err);
/* The server refused `seen` with 401: refresh (unless another caller
 * already replaced it) and return the new snapshot. */
int ka_kube_cred_refused(struct ka_kube_cred *c, const struct ka_kube_endpoint *seen, struct ka_kube_endpoint **ret,
                         struct ka_error *err);
void ka_kube_endpoint_unref(struct ka_kube_cred *c, struct ka_kube_endpoint *e);

#endif
