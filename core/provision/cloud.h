/* core/provision/cloud.h — what a cloud's settings mean for the parts that
 * act on it: its Kubernetes client and its retention policies.
 *
 * The client options come from the cloud (serverUrl, serverCertificate,
 * skipTlsVerify, namespace, timeouts, qps/burst); its credentials from the
 * cloud's credentialsId, else autodetection (in-cluster service account,
 * then kubeconfig), as the Jenkins plugin does (reference §6). */
#ifndef KA_PROVISION_CLOUD_H
#define KA_PROVISION_CLOUD_H

#include <kubeagent/retention.h>

#include "config/config.h"
#include "kube/kube.h"

/* Fill the cloud's settings into o (after ka_kube_options_init); c may be
 * NULL (nothing to fill). */
void ka_cloud_kube_options(const struct ka_cloud *c, struct ka_kube_options *o);
/* Open the cloud's credentials and make its client from o (filled by
 * ka_cloud_kube_options and then adjusted by the caller). */
int ka_cloud_kube_open(const struct ka_registry *reg, const struct ka_cloud *c, struct ka_kube_options *o,
                       struct ka_kube **ret, struct ka_error *err);

/* Ask the retention policies named by symbols (NULL-terminated: the
 * template's, then the cloud's) in turn, as the plugin's Default does: a
 * policy answering DEFER hands over to the next, and deferring past the
 * last deletes.  -ENOENT (err names it) for a symbol no loaded retention
 * plugin serves: the caller keeps the pod. */
int ka_retention_decide(const struct ka_registry *reg, char *const *symbols, const struct kubeagent_retention_input *in,
                        enum kubeagent_retention_decision *ret, struct ka_error *err);

#endif
