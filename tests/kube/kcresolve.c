/* kcresolve [--kubeconfig FILE] [--context NAME]: resolve a kubeconfig the
 * way kubeagent does (through the plugin with the kubeconfig role, loaded
 * from $KUBEAGENT_PLUGIN_PATH) and print the endpoint as JSON, for the
 * comparison with kubectl (kubectl_compare.py).  Prints {"error": "..."}
 * and exits 1 when resolution fails.  Test tool: prints credentials. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "kube/cred.h"
#include "sim.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"

static void add(cJSON *o, const char *key, const char *value) {
        if (value)
                cJSON_AddStringToObject(o, key, value);
}

int main(int argc, char **argv) {
        ka_mem_init();
        static const struct option options[] = {
                {"kubeconfig", required_argument, NULL, 'k'},
                {"context", required_argument, NULL, 'x'},
                {0},
        };
        const char *path = NULL, *context = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                if (c == 'k')
                        path = optarg;
                else if (c == 'x')
                        context = optarg;
                else
                        return 2;
        }
        struct ka_registry reg = {0};
        plugins_load(&reg);
        struct ka_kube_cred *cred = NULL;
        struct ka_kube_endpoint *e = NULL;
        struct ka_error err = {0};
        cJSON *out = cJSON_CreateObject();
        int rc = 0;
        if (ka_kube_cred_kubeconfig(&reg, path, context, &cred, &err) < 0 || ka_kube_cred_get(cred, &e, &err) < 0) {
                char buf[KA_ERROR_FORMAT_MAX];
                add(out, "error", ka_error_format(&err, buf, sizeof(buf)));
                rc = 1;
        } else {
                add(out, "server", e->ep.server);
                add(out, "namespace", e->ep.namespace_);
                add(out, "ca", e->ep.ca_pem);
                cJSON_AddBoolToObject(out, "insecure", e->ep.insecure);
                add(out, "tlsServerName", e->ep.tls_server_name);
                add(out, "proxyUrl", e->ep.proxy_url);
                add(out, "clientCertificate", e->ep.client_cert_pem);
                add(out, "clientKey", e->ep.client_key_pem);
                add(out, "token", e->ep.bearer_token);
                add(out, "username", e->ep.username);
                add(out, "password", e->ep.password);
                add(out, "description", e->ep.description);
                add(out, "as", e->ep.impersonate_user);
                add(out, "asUid", e->ep.impersonate_uid);
                if (e->ep.impersonate_groups) {
                        cJSON *g = cJSON_AddArrayToObject(out, "asGroups");
                        for (char **v = e->ep.impersonate_groups; *v; v++)
                                cJSON_AddItemToArray(g, cJSON_CreateString(*v));
                }
                if (e->ep.impersonate_extra) {
                        cJSON *x = cJSON_AddObjectToObject(out, "asUserExtra");
                        for (char **v = e->ep.impersonate_extra; v[0] && v[1]; v += 2) {
                                cJSON *list = cJSON_GetObjectItemCaseSensitive(x, v[0]);
                                if (!list)
                                        list = cJSON_AddArrayToObject(x, v[0]);
                                cJSON_AddItemToArray(list, cJSON_CreateString(v[1]));
                        }
                }
        }
        char *text = cJSON_PrintUnformatted(out);
        puts(text);
        free(text);
        cJSON_Delete(out);
        if (e)
                ka_kube_endpoint_unref(cred, e);
        ka_kube_cred_free(cred);
        ka_registry_free(&reg);
        ka_secret_reset();
        return rc;
}
