/* Clouds (§1.1): one `jenkins.clouds[].kubernetes` block to a struct ka_cloud. */
#include <errno.h>
#include <string.h>

#include "load.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

/* What the key table fills; converted into struct ka_cloud below. */
struct raw {
        char *name, *server_url, *server_certificate, *credentials_id, *namespace_, *jnlpregistry, *jenkins_url,
                *jenkins_tunnel, *defaults_provider_template;
        int skip_tls_verify, restricted_pss, websocket, direct_connection, usage_restricted;
        int64_t connect_timeout_ms, read_timeout_ms, wait_for_pod_sec, retention_timeout_min, burst;
        char **allowed_folders;
};

#define R(f) offsetof(struct raw, f)
static const struct kubeagent_config_key cloud_keys[] = {
        {"name", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, R(name), "the cloud's name"},
        {"serverUrl", KUBEAGENT_CFG_STRING, NULL, 0, R(server_url),
         "API server URL; empty: autodetect (in-cluster service account, then kubeconfig)"},
        {"serverCertificate", KUBEAGENT_CFG_STRING, NULL, 0, R(server_certificate),
         "CA certificate (PEM, or base64 of a PEM)"},
        {"skipTlsVerify", KUBEAGENT_CFG_BOOL, "false", 0, R(skip_tls_verify), "trust any server certificate"},
        {"credentialsId", KUBEAGENT_CFG_STRING, NULL, 0, R(credentials_id), "an entry of credentials:"},
        {"namespace", KUBEAGENT_CFG_STRING, NULL, 0, R(namespace_), "default namespace of agent pods"},
        {"jnlpregistry", KUBEAGENT_CFG_STRING, NULL, 0, R(jnlpregistry), "registry prefix of the default agent image"},
        {"restrictedPssSecurityContext", KUBEAGENT_CFG_BOOL, "false", 0, R(restricted_pss),
         "make every container comply with the restricted Pod Security Standard"},
        {"webSocket", KUBEAGENT_CFG_BOOL, "false", 0, R(websocket), "agents connect over WebSocket"},
        {"directConnection", KUBEAGENT_CFG_BOOL, "false", 0, R(direct_connection),
         "agents connect straight to the inbound TCP port"},
        {"jenkinsUrl", KUBEAGENT_CFG_STRING, NULL, 0, R(jenkins_url), "Jenkins URL as seen from the agents"},
        {"jenkinsTunnel", KUBEAGENT_CFG_STRING, NULL, 0, R(jenkins_tunnel), "HOST:PORT of the inbound TCP port"},
        {"connectTimeout", KUBEAGENT_CFG_DURATION, "5", 0, R(connect_timeout_ms), "API connect timeout (≥ 5 s)"},
        {"readTimeout", KUBEAGENT_CFG_DURATION, "15", 0, R(read_timeout_ms), "API request timeout (≥ 15 s)"},
        {"waitForPodSec", KUBEAGENT_CFG_INT, "600", 0, R(wait_for_pod_sec), "stored by the plugin, never used"},
        {"retentionTimeout", KUBEAGENT_CFG_INT, "5", 0, R(retention_timeout_min),
         "minutes before an idle single-use agent is removed (≥ 5)"},
        {"usageRestricted", KUBEAGENT_CFG_BOOL, "false", 0, R(usage_restricted),
         "only jobs in allowedFolders may use this cloud"},
        {"allowedFolders", KUBEAGENT_CFG_STRLIST, NULL, 0, R(allowed_folders),
         "kubeagent: folders allowed to use a usageRestricted cloud"},
        {"defaultsProviderTemplate", KUBEAGENT_CFG_STRING, NULL, 0, R(defaults_provider_template),
         "template every template implicitly inherits from first"},
        {"burst", KUBEAGENT_CFG_INT, "10", 0, R(burst), "kubeagent: API requests allowed in a burst"},
        {"addMasterProxyEnvVars", KUBEAGENT_CFG_BOOL, NULL, KUBEAGENT_CFG_IGNORED, 0,
         "copies the Jenkins controller's proxy variables"},
        {"useJenkinsProxy", KUBEAGENT_CFG_BOOL, NULL, KUBEAGENT_CFG_IGNORED, 0, "Jenkins' HTTP proxy"},
        {"traits", KUBEAGENT_CFG_JSON, NULL, KUBEAGENT_CFG_IGNORED, 0, "Jenkins extension data"},
        {"capOnlyOnAlivePods", KUBEAGENT_CFG_BOOL, NULL, KUBEAGENT_CFG_IGNORED, 0, "deprecated, unused"},
        {0},
};
#undef R
static const char *const cloud_manual[] = {"containerCap",
                                           "containerCapStr",
                                           "maxRequestsPerHost",
                                           "maxRequestsPerHostStr",
                                           "qps",
                                           "podLabels",
                                           "podRetention",
                                           "garbageCollection",
                                           "templates",
                                           NULL};

struct gc_raw {
        char **namespaces;
        int64_t timeout_ms;
};
static const struct kubeagent_config_key gc_keys[] = {
        {"namespaces", KUBEAGENT_CFG_STRLIST, NULL, 0, offsetof(struct gc_raw, namespaces),
         "more namespaces to clean (one per line, or a list)"},
        {"timeout", KUBEAGENT_CFG_DURATION, "300", 0, offsetof(struct gc_raw, timeout_ms),
         "seconds without a heartbeat before a pod is an orphan (≥ 120)"},
        {0},
};

void ka_cloud_free(struct ka_cloud *c) {
        if (!c)
                return;
        free(c->name);
        free(c->server_url);
        free(c->server_certificate);
        free(c->credentials_id);
        free(c->namespace_);
        free(c->jnlpregistry);
        free(c->jenkins_url);
        free(c->jenkins_tunnel);
        free(c->defaults_provider_template);
        ka_strv_free(c->allowed_folders);
        ka_keyvals_free(c->pod_labels, c->n_pod_labels);
        free(c->pod_retention);
        ka_strv_free(c->gc_namespaces);
        for (size_t i = 0; i < c->n_templates; i++)
                ka_template_free(c->templates[i]);
        free(c->templates);
        free(c);
}

size_t ka_cloud_pod_labels(const struct ka_cloud *c, const struct ka_keyval *const **ret) {
        static const struct ka_keyval slave = {.key = (char *)"jenkins", .value = (char *)"slave"};
        static const struct ka_keyval *const fallback[] = {&slave};
        if (c && c->n_pod_labels) {
                *ret = (const struct ka_keyval *const *)c->pod_labels;
                return c->n_pod_labels;
        }
        *ret = fallback;
        return 1;
}

const struct ka_template *ka_cloud_template(const struct ka_cloud *c, const char *name) {
        for (size_t i = 0; c && name && i < c->n_templates; i++)
                if (ka_streq(c->templates[i]->name, name))
                        return c->templates[i];
        return NULL;
}

static bool is_http_url(const char *s) {
        const char *rest = ka_startswith(s, "https://") ? s + 8 : ka_startswith(s, "http://") ? s + 7 : NULL;
        return rest && *rest && *rest != '/' && !s[strcspn(s, " \t\r\n")];
}

/* serverCertificate: PEM text, or base64 of it (as EKS shows it). */
static char *certificate(const struct ka_loader *ld, const cJSON *node, const char *text) {
        if (strstr(text, "-----BEGIN CERTIFICATE-----"))
                return ka_strdup(text);
        unsigned char *pem = NULL;
        size_t len = 0;
        if (ka_base64_decode(text, strlen(text), &pem, &len) < 0 ||
            !strstr((char *)pem, "-----BEGIN CERTIFICATE-----")) {
                free(pem);
                ka_load_error(ld, node, "serverCertificate: expected a PEM certificate, or base64 of one");
                return NULL;
        }
        return (char *)pem;
}

/* Inheritance, checked by name: a missing parent is a warning (the plugin
 * ignores it), a cycle an error naming it (the plugin overflows its stack). */
static void check_inheritance(const struct ka_loader *ld, const struct ka_cloud *c, const struct ka_template *t,
                              const struct ka_template **stack, size_t depth) {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(stack[0]->src, "inheritFrom");
        for (const char *p = t->inherit_from ? t->inherit_from : ""; *p;) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (!n)
                        break;
                _cleanup_free_ char *name = ka_strndup(p, n);
                p += n;
                const struct ka_template *parent = ka_cloud_template(c, name);
                if (!parent) {
                        if (depth == 1)
                                ka_load_warn(ld, at, "inheritFrom: no template named \"%s\" in cloud \"%s\"; ignored",
                                             name, c->name);
                        continue;
                }
                size_t i = 0;
                while (i < depth && stack[i] != parent)
                        i++;
                if (i < depth) {
                        if (i != 0)
                                continue; /* reported from the template that starts it */
                        struct ka_buf b = KA_BUF_INIT(0);
                        for (size_t j = 0; j < depth; j++)
                                ka_buf_printf(&b, "%s -> ", stack[j]->name);
                        ka_buf_puts(&b, parent->name);
                        ka_load_error(ld, at, "inheritance cycle: %s", b.data);
                        ka_buf_free(&b);
                        continue;
                }
                if (depth < 64) {
                        stack[depth] = parent;
                        check_inheritance(ld, c, parent, stack, depth + 1);
                }
        }
}

void ka_cloud_add_templates(const struct ka_loader *ld, struct ka_cloud *c, const cJSON *list) {
        for (const cJSON *item = list ? list->child : NULL; item; item = item->next) {
                struct ka_template *t;
                if (ka_template_load(item, ld->locs, ld->reg, &t, ld->diags) < 0)
                        continue;
                if (t->name && ka_cloud_template(c, t->name))
                        ka_load_warn(ld, cJSON_GetObjectItemCaseSensitive(item, "name"),
                                     "another template of cloud \"%s\" is named \"%s\"; inheritFrom finds the first",
                                     c->name, t->name);
                KA_PUSH(c->templates, c->n_templates, t);
        }
}

void ka_cloud_finish(const struct ka_loader *ld, struct ka_cloud *c, const cJSON *node) {
        const struct ka_template *stack[64];
        for (size_t i = 0; i < c->n_templates; i++) {
                stack[0] = c->templates[i];
                check_inheritance(ld, c, c->templates[i], stack, 1);
        }
        if (c->defaults_provider_template && !ka_cloud_template(c, c->defaults_provider_template))
                ka_load_warn(ld, cJSON_GetObjectItemCaseSensitive(node, "defaultsProviderTemplate"),
                             "defaultsProviderTemplate: no template named \"%s\"; ignored",
                             c->defaults_provider_template);
}

int ka_cloud_load(const struct ka_loader *ld, const struct ka_config *cfg, const cJSON *node, struct ka_cloud **ret) {
        size_t errors = ld->diags->errors;
        struct raw raw = {0};
        ka_load_fill(ld, cloud_keys, node, cloud_manual, &raw);
        struct ka_cloud *c = ka_new0(struct ka_cloud, 1);
        c->loc = ka_load_where(ld, node);
        c->name = raw.name;
        c->server_url = raw.server_url;
        c->credentials_id = raw.credentials_id;
        c->namespace_ = raw.namespace_;
        c->jnlpregistry = raw.jnlpregistry;
        c->jenkins_tunnel = raw.jenkins_tunnel;
        c->defaults_provider_template = raw.defaults_provider_template;
        c->allowed_folders = raw.allowed_folders ? raw.allowed_folders : ka_new0(char *, 1);
        c->skip_tls_verify = raw.skip_tls_verify == 1;
        c->restricted_pss = raw.restricted_pss == 1;
        c->websocket = raw.websocket == 1;
        c->direct_connection = raw.direct_connection == 1;
        c->usage_restricted = raw.usage_restricted == 1;
        c->wait_for_pod_sec = raw.wait_for_pod_sec;
        c->burst = raw.burst;
        c->gc_namespaces = ka_new0(char *, 1);
        char **strs[] = {&c->name,
                         &c->server_url,
                         &c->credentials_id,
                         &c->namespace_,
                         &c->jnlpregistry,
                         &c->jenkins_tunnel,
                         &c->defaults_provider_template,
                         &raw.jenkins_url};
        for (size_t i = 0; i < KA_ARRAY_SIZE(strs); i++)
                ka_load_normalize(strs[i]);
        if (!cJSON_IsObject(node)) {
                ka_cloud_free(c);
                free(raw.server_certificate);
                free(raw.jenkins_url);
                return -EINVAL;
        }
#define AT(key) cJSON_GetObjectItemCaseSensitive(node, key)
        if (!c->name && AT("name"))
                ka_load_error(ld, AT("name"), "a cloud's name must not be empty");
        if (c->server_url && !is_http_url(c->server_url))
                ka_load_error(ld, AT("serverUrl"), "serverUrl \"%s\" is not an http(s) URL", c->server_url);
        if (!ka_isempty(raw.server_certificate))
                c->server_certificate = certificate(ld, AT("serverCertificate"), raw.server_certificate);
        free(raw.server_certificate);
        if (raw.jenkins_url) {
                if (!is_http_url(raw.jenkins_url))
                        ka_load_error(ld, AT("jenkinsUrl"), "jenkinsUrl \"%s\" is not an http(s) URL", raw.jenkins_url);
                c->jenkins_url = ka_endswith(raw.jenkins_url, "/") ? ka_strdup(raw.jenkins_url)
                                                                   : ka_asprintf("%s/", raw.jenkins_url);
                free(raw.jenkins_url);
        }
        if (c->websocket && c->jenkins_tunnel)
                ka_load_error(ld, AT("jenkinsTunnel"), "jenkinsTunnel cannot be used with webSocket");
        if (c->websocket && c->direct_connection)
                ka_load_error(ld, AT("directConnection"), "directConnection cannot be used with webSocket");
        if (c->credentials_id) {
                c->credentials = ka_config_credential(cfg, c->credentials_id);
                if (!c->credentials) {
                        struct ka_buf b = KA_BUF_INIT(0);
                        for (size_t i = 0; i < cfg->n_credentials; i++)
                                ka_buf_printf(&b, "%s%s", i ? ", " : "", cfg->credentials[i]->id);
                        ka_load_error(ld, AT("credentialsId"),
                                      "credentialsId \"%s\" is not an entry of credentials: (%s)", c->credentials_id,
                                      b.len ? b.data : "there are none");
                        ka_buf_free(&b);
                }
        }
        c->connect_timeout_ms = raw.connect_timeout_ms;
        if (c->connect_timeout_ms < 5000) {
                ka_load_warn(ld, AT("connectTimeout"), "connectTimeout is at least 5 seconds; using 5");
                c->connect_timeout_ms = 5000;
        }
        c->read_timeout_ms = raw.read_timeout_ms;
        if (c->read_timeout_ms < 15000) {
                ka_load_warn(ld, AT("readTimeout"), "readTimeout is at least 15 seconds; using 15");
                c->read_timeout_ms = 15000;
        }
        c->retention_timeout_min = raw.retention_timeout_min;
        if (c->retention_timeout_min < 5) {
                ka_load_warn(ld, AT("retentionTimeout"), "retentionTimeout is at least 5 minutes; using 5");
                c->retention_timeout_min = 5;
        }
        if (c->burst < 1) {
                ka_load_error(ld, AT("burst"), "burst must be at least 1");
                c->burst = 10;
        }
        ka_load_int(ld, node, "containerCap", "containerCapStr", KA_UNLIMITED, &c->container_cap);
        if (c->container_cap <= 0)
                c->container_cap = KA_UNLIMITED;
        ka_load_int(ld, node, "maxRequestsPerHost", "maxRequestsPerHostStr", 32, &c->max_requests_per_host);
        if (c->max_requests_per_host <= 0)
                c->max_requests_per_host = 32;
        c->qps = 5;
        const cJSON *qps = AT("qps");
        if (qps && !cJSON_IsNull(qps)) {
                if (cJSON_IsNumber(qps))
                        c->qps = qps->valuedouble;
                else if (!cJSON_IsString(qps) || ka_parse_double(qps->valuestring, &c->qps) < 0)
                        ka_load_error(ld, qps, "\"qps\": expected a number (requests per second; < 0: no limit)");
        }

        const cJSON *labels = ka_load_list(ld, node, "podLabels");
        ka_load_keyvals(ld, labels, false, NULL, &c->pod_labels, &c->n_pod_labels);
        const cJSON *ret_node = AT("podRetention");
        if (ret_node && !cJSON_IsNull(ret_node))
                c->pod_retention_plugin = ka_load_retention(ld, ret_node, &c->pod_retention);
        if (c->pod_retention_plugin &&
            (strcmp(c->pod_retention, "default") == 0 || strcmp(c->pod_retention, "Default") == 0)) {
                ka_load_warn(ld, ret_node, "podRetention \"default\" means \"the cloud's\"; a cloud uses never");
                c->pod_retention_plugin = NULL;
        }
        if (!c->pod_retention_plugin) {
                free(c->pod_retention);
                c->pod_retention = ka_strdup("never");
                c->pod_retention_plugin = ka_registry_find_symbol(ld->reg, KUBEAGENT_KIND_RETENTION, "never", NULL);
        }

        c->gc_timeout_s = 300;
        const cJSON *gc = AT("garbageCollection");
        if (gc && !cJSON_IsNull(gc)) {
                struct gc_raw g = {0};
                ka_load_fill(ld, gc_keys, gc, NULL, &g);
                c->gc_enabled = true;
                if (g.namespaces) {
                        ka_strv_free(c->gc_namespaces);
                        c->gc_namespaces = g.namespaces;
                }
                c->gc_timeout_s = g.timeout_ms / 1000;
                if (c->gc_timeout_s < 120) {
                        ka_load_warn(ld, cJSON_GetObjectItemCaseSensitive(gc, "timeout"),
                                     "garbageCollection timeout is at least 120 seconds; using 120");
                        c->gc_timeout_s = 120;
                }
        }
        ka_cloud_add_templates(ld, c, ka_load_list(ld, node, "templates"));
#undef AT
        if (ld->diags->errors > errors) {
                ka_cloud_free(c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}
