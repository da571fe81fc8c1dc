/* Unit tests for core/config: the model of clouds, templates, containers,
 * env vars, volumes (through the real volume plugins), credentials and
 * frontends (through test plugins); defaults, normalisations, and located
 * errors and warnings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml/yaml.h"

static char dir[] = "/tmp/ka-config-XXXXXX";
static struct ka_registry reg;

static char *put(const char *name, const char *text) {
        char *p = ka_path_join(dir, name);
        struct ka_error err = {0};
        ka_write_file_atomic(p, text, strlen(text), 0644, &err);
        return p;
}

static char *diags_text(const struct ka_diags *d) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        ka_diags_print(d, f);
        fclose(f);
        return out;
}

struct loaded {
        struct ka_document doc;
        struct ka_config *cfg;
        struct ka_diags diags;
        char *text; /* the diagnostics */
        int r;
};

static void load(struct loaded *l, const char *name, const char *yaml) {
        memset(l, 0, sizeof(*l));
        _cleanup_free_ char *p = put(name, yaml);
        l->r = ka_document_load(p, &l->doc, &l->diags);
        if (l->r == 0)
                l->r = ka_config_load(&l->doc, &reg, &l->cfg, &l->diags);
        l->text = diags_text(&l->diags);
}

static void unload(struct loaded *l) {
        ka_config_free(l->cfg);
        if (l->doc.root)
                ka_document_free(&l->doc);
        ka_diags_free(&l->diags);
        free(l->text);
}

static const char full[] =
        "kubeagent:\n"
        "  http: {listen: \"127.0.0.1:9090\"}\n"
        "credentials:\n"
        "  ci: {type: test-credential, path: kube.conf, context: ci, token: s3cr3t-token}\n"
        "frontends:\n"
        "  test-frontend: {url: \"https://jenkins.example.com/\", pollInterval: 500ms}\n"
        "jenkins:\n"
        "  clouds:\n"
        "    - kubernetes:\n"
        "        name: k8s\n"
        "        serverUrl: https://api.example.com:6443\n"
        "        skipTlsVerify: true\n"
        "        credentialsId: ci\n"
        "        namespace: ' ci '\n"
        "        jnlpregistry: registry.example.com\n"
        "        restrictedPssSecurityContext: true\n"
        "        webSocket: true\n"
        "        jenkinsUrl: http://jenkins.ci.svc:8080\n"
        "        connectTimeout: 7\n"
        "        readTimeout: 30s\n"
        "        containerCap: 20\n"
        "        maxRequestsPerHost: 64\n"
        "        qps: 12.5\n"
        "        burst: 25\n"
        "        waitForPodSec: 100\n"
        "        retentionTimeout: 9\n"
        "        usageRestricted: true\n"
        "        allowedFolders: [team-a, team-b]\n"
        "        defaultsProviderTemplate: base\n"
        "        podLabels: [{key: team, value: build}, {key: tier, value: ci}]\n"
        "        podRetention: onFailure\n"
        "        garbageCollection: {namespaces: \"a\\nb\", timeout: 600}\n"
        "        templates:\n"
        "          - name: base\n"
        "            label: linux\n"
        "            nodeUsageMode: NORMAL\n"
        "            workspaceVolume: {emptyDirWorkspaceVolume: {memory: true, sizeLimit: 1Gi}}\n"
        "          - name: ' maven '\n"
        "            namespace: builds\n"
        "            label: 'maven java'\n"
        "            inheritFrom: base\n"
        "            agentContainer: maven\n"
        "            agentInjection: true\n"
        "            instanceCapStr: '5'\n"
        "            idleMinutes: 10\n"
        "            activeDeadlineSeconds: '3600'\n"
        "            slaveConnectTimeout: 100\n"
        "            serviceAccount: builder\n"
        "            schedulerName: custom\n"
        "            nodeSelector: 'disk=ssd,zone=a'\n"
        "            runAsUser: 1000\n"
        "            runAsGroup: '2000'\n"
        "            supplementalGroups: '5001,5002'\n"
        "            hostNetwork: false\n"
        "            showRawYaml: false\n"
        "            yamlMergeStrategy: strategic\n"
        "            inheritYamlMergeStrategy: true\n"
        "            podRetention: {always: {}}\n"
        "            terminationGracePeriodSeconds: 0\n"
        "            imagePullSecrets: [{name: regcred}]\n"
        "            annotations: [{key: a, value: '1'}, {key: b, value: two}]\n"
        "            envVars:\n"
        "              - envVar: {key: GREETING, value: hello}\n"
        "              - secretEnvVar: {key: TOKEN, secretName: tokens, secretKey: ci, optional: true}\n"
        "            volumes:\n"
        "              - hostPathVolume: {hostPath: /var/cache, mountPath: '/cache//m2/./', readOnly: true}\n"
        "              - configMapVolume: {configMapName: settings, mountPath: /etc/settings, subPath: s.xml}\n"
        "            containers:\n"
        "              - name: maven\n"
        "                image: maven:3.9\n"
        "                command: sleep\n"
        "                args: infinity\n"
        "                workingDir: /src\n"
        "                ttyEnabled: true\n"
        "                alwaysPullImage: true\n"
        "                privileged: false\n"
        "                runAsUser: 1001\n"
        "                shell: /bin/bash\n"
        "                resourceRequestCpu: 500m\n"
        "                resourceRequestMemory: 1Gi\n"
        "                resourceLimitEphemeralStorage: 2Gi\n"
        "                envVars: [{envVar: {key: MAVEN_OPTS, value: -Xmx1g}}]\n"
        "                ports: [{name: http, containerPort: 8080, hostPort: 18080}]\n"
        "                livenessProbe: {execArgs: 'true', initialDelaySeconds: 5, timeoutSeconds: 2,\n"
        "                                failureThreshold: 3, periodSeconds: 10, successThreshold: 1}\n"
        "            yaml: |\n"
        "              spec:\n"
        "                tolerations:\n"
        "                  - {key: dedicated, operator: Exists}\n";

static void test_full(void) {
        struct loaded l;
        load(&l, "full.yaml", full);
        is_int(l.r, 0, "a config using every field loads");
        is_str(l.text, "", "without diagnostics");
        if (l.r < 0) {
                unload(&l);
                return;
        }
        const struct ka_config *cfg = l.cfg;
        is_int(cfg->n_credentials, 1, "one credential");
        const struct ka_credential *cr = ka_config_credential(cfg, "ci");
        ok(cr && strcmp(cr->plugin->desc->name, "test-credential") == 0, "credentials found by type");
        _cleanup_free_ char *kube = ka_path_join(dir, "kube.conf");
        is_str(cr ? *(char **)cr->conf : NULL, kube, "credential conf filled by the plugin's table (path resolved)");
        const struct ka_frontend *fe = ka_config_frontend(cfg, "test-frontend");
        ok(fe && fe->plugin, "frontend found by name");
        is_int(fe ? ((int64_t *)fe->conf)[1] : 0, 500, "frontend conf filled (pollInterval 500 ms)");
        struct kubeagent_config_source http = ka_config_section(cfg, "http");
        is_str(ka_json_str(http.node, "listen"), "127.0.0.1:9090", "kubeagent.http handed out raw");
        is_int(http.where.line, 2, "with its place");
        ok(ka_config_section(cfg, "bus").node == NULL, "an absent section is NULL");

        const struct ka_cloud *c = ka_config_cloud(cfg, NULL);
        ok(c == ka_config_cloud(cfg, "k8s"), "cloud by name, first by default");
        is_str(c->name, "k8s", "name");
        is_str(c->server_url, "https://api.example.com:6443", "serverUrl");
        ok(c->skip_tls_verify, "skipTlsVerify");
        ok(c->credentials == cr, "credentialsId resolved");
        is_str(c->namespace_, "ci", "namespace trimmed");
        is_str(c->jnlpregistry, "registry.example.com", "jnlpregistry");
        ok(c->restricted_pss && c->websocket && !c->direct_connection, "booleans");
        is_str(c->jenkins_url, "http://jenkins.ci.svc:8080/", "jenkinsUrl gets its trailing slash");
        is_int(c->connect_timeout_ms, 7000, "connectTimeout in seconds");
        is_int(c->read_timeout_ms, 30000, "readTimeout as a duration");
        is_int(c->container_cap, 20, "containerCap");
        is_int(c->max_requests_per_host, 64, "maxRequestsPerHost");
        ok(c->qps == 12.5 && c->burst == 25, "qps and burst");
        is_int(c->wait_for_pod_sec, 100, "waitForPodSec");
        is_int(c->retention_timeout_min, 9, "retentionTimeout");
        ok(c->usage_restricted && ka_strv_len(c->allowed_folders) == 2, "usageRestricted, allowedFolders");
        is_str(c->defaults_provider_template, "base", "defaultsProviderTemplate");
        const struct ka_keyval *const *labels;
        is_int(ka_cloud_pod_labels(c, &labels), 2, "podLabels");
        is_str(labels[1]->value, "ci", "podLabels values");
        is_str(c->pod_retention, "onFailure", "cloud podRetention symbol");
        is_str(c->pod_retention_plugin ? c->pod_retention_plugin->desc->name : NULL, "on-failure",
               "resolved to the retention plugin");
        ok(c->gc_enabled && ka_strv_len(c->gc_namespaces) == 2 && c->gc_timeout_s == 600, "garbageCollection");
        is_int(c->n_templates, 2, "two templates");

        const struct ka_template *base = ka_cloud_template(c, "base");
        ok(base && base->node_usage_mode == KA_USAGE_NORMAL, "nodeUsageMode NORMAL");
        ok(base && base->workspace_volume && strcmp(base->workspace_volume->plugin->desc->name, "empty-dir") == 0,
           "a non-default workspace volume is kept");
        is_int(base ? base->instance_cap : 0, KA_UNLIMITED, "instanceCap unlimited by default");
        is_int(base ? base->slave_connect_timeout : 0, 1000, "slaveConnectTimeout default");

        const struct ka_template *t = ka_cloud_template(c, "maven");
        ok(t != NULL, "template names are trimmed");
        if (!t) {
                unload(&l);
                return;
        }
        is_str(t->namespace_, "builds", "namespace");
        is_str(t->label, "maven java", "label");
        is_str(t->inherit_from, "base", "inheritFrom");
        is_str(ka_template_agent_container(t), "maven", "agentContainer");
        is_int(t->agent_injection, 1, "agentInjection");
        is_int(t->instance_cap, 5, "instanceCapStr");
        is_int(t->idle_minutes, 10, "idleMinutes");
        is_int(t->active_deadline_seconds, 3600, "activeDeadlineSeconds as text");
        is_int(t->slave_connect_timeout, 100, "slaveConnectTimeout");
        is_str(t->service_account, "builder", "serviceAccount");
        is_str(t->scheduler_name, "custom", "schedulerName");
        is_str(t->node_selector, "disk=ssd,zone=a", "nodeSelector");
        ok(t->run_as_user == 1000 && t->run_as_group == 2000, "runAsUser, runAsGroup");
        is_str(t->supplemental_groups, "5001,5002", "supplementalGroups");
        ok(t->host_network == 0 && t->show_raw_yaml == 0, "hostNetwork, showRawYaml");
        is_int(t->yaml_merge_strategy, KA_MERGE_STRATEGIC, "yamlMergeStrategy strategic");
        is_int(t->inherit_yaml_merge_strategy, 1, "inheritYamlMergeStrategy");
        is_str(t->pod_retention, "always", "podRetention as a describable");
        is_int(t->termination_grace_period_seconds, 0, "terminationGracePeriodSeconds");
        ok(t->n_image_pull_secrets == 1 && strcmp(t->image_pull_secrets[0]->key, "regcred") == 0, "imagePullSecrets");
        ok(t->n_annotations == 2 && strcmp(t->annotations[1]->value, "two") == 0, "annotations");
        ok(t->n_env == 2 && !t->env[0]->secret && t->env[1]->secret && t->env[1]->optional == 1 &&
                   strcmp(t->env[1]->secret_key, "ci") == 0,
           "pod env vars of both types");
        is_int(t->n_volumes, 2, "volumes");
        is_str(t->volumes[0]->mount_path, "/cache/m2", "mount paths are normalised");
        is_str(t->volumes[0]->symbol, "hostPathVolume", "volume symbol");
        is_str(t->volumes[1]->plugin->desc->name, "config-map", "volume plugin by symbol");
        ok(t->workspace_volume == NULL, "no workspace volume of its own");
        is_int(t->n_yamls, 1, "yaml fragment parsed");
        is_str(ka_json_path_str(cJSON_GetArrayItem(ka_json_path(t->yamls[0]->pod, "spec.tolerations"), 0), "key"),
               "dedicated", "fragment content");
        struct ka_loc fl;
        ka_locmap_get(t->yamls[0]->locs, ka_json_path(t->yamls[0]->pod, "spec.tolerations"), &fl);
        is_int(fl.line, 89, "fragment nodes know their line in the config file");
        is_int(fl.col, 19, "and their column");
        is_int(t->from[KA_TF_SERVICE_ACCOUNT].loc.line, 48, "field origins: line of the key");
        ok(t->from[KA_TF_NAMESPACE].tmpl == t, "field origins: the template");
        ok(t->from[KA_TF_HOST_NETWORK].tmpl == t && t->from[KA_TF_WORKSPACE_VOLUME].tmpl == NULL,
           "unset fields have no origin");

        is_int(t->n_containers, 1, "one container");
        const struct ka_container *m = t->containers[0];
        is_str(m->name, "maven", "container name");
        is_str(m->image, "maven:3.9", "image");
        ok(strcmp(m->command, "sleep") == 0 && strcmp(m->args, "infinity") == 0, "command, args");
        is_str(m->working_dir, "/src", "workingDir");
        ok(m->tty == 1 && m->always_pull == 1 && m->privileged == 0, "container booleans");
        ok(m->run_as_user == 1001 && m->run_as_group == KA_UNSET, "container runAsUser");
        is_str(m->shell, "/bin/bash", "shell");
        ok(strcmp(m->requests[KA_RES_CPU], "500m") == 0 && strcmp(m->requests[KA_RES_MEMORY], "1Gi") == 0 &&
                   !m->limits[KA_RES_CPU] && strcmp(m->limits[KA_RES_EPHEMERAL], "2Gi") == 0,
           "resources");
        ok(m->n_env == 1 && strcmp(m->env[0]->value, "-Xmx1g") == 0, "container env");
        ok(m->n_ports == 1 && m->ports[0]->container_port == 8080 && m->ports[0]->host_port == 18080, "ports");
        ok(m->probe && strcmp(m->probe->exec_args, "true") == 0 && m->probe->period_seconds == 10 &&
                   m->probe->success_threshold == 1,
           "livenessProbe");
        is_int(m->from[KA_CF_IMAGE].loc.line, 70, "container field origins");
        unload(&l);
}

static void test_defaults(void) {
        struct loaded l;
        load(&l, "defaults.yaml",
             "jenkins:\n  clouds:\n    - kubernetes:\n        name: plain\n        containerCap: 0\n"
             "        maxRequestsPerHostStr: ''\n        templates:\n          - label: x\n"
             "            instanceCap: -1\n"
             "            workspaceVolume: {emptyDir: {memory: false}}\n"
             "            containers: [{name: c, image: busybox}]\n");
        is_int(l.r, 0, "a minimal cloud loads");
        const struct ka_cloud *c = l.cfg ? l.cfg->clouds[0] : NULL;
        if (c) {
                ok(!c->server_url && !c->namespace_ && !c->credentials && !c->jenkins_url, "unset strings are NULL");
                is_int(c->connect_timeout_ms, 5000, "connectTimeout default 5 s");
                is_int(c->read_timeout_ms, 15000, "readTimeout default 15 s");
                is_int(c->container_cap, KA_UNLIMITED, "containerCap 0 is unlimited");
                is_int(c->max_requests_per_host, 32, "maxRequestsPerHost blank is 32");
                is_int(c->wait_for_pod_sec, 600, "waitForPodSec default");
                is_int(c->retention_timeout_min, 5, "retentionTimeout default");
                ok(c->qps == 5 && c->burst == 10, "client-go's rate limit by default");
                is_str(c->pod_retention, "never", "cloud podRetention default never");
                const struct ka_keyval *const *labels;
                ok(ka_cloud_pod_labels(c, &labels) == 1 && strcmp(labels[0]->key, "jenkins") == 0 &&
                           strcmp(labels[0]->value, "slave") == 0,
                   "podLabels default jenkins=slave");
                ok(!c->gc_enabled && c->gc_namespaces && !c->gc_namespaces[0], "no garbage collection by default");
                const struct ka_template *t = c->templates[0];
                ok(!t->name && t->node_usage_mode == KA_USAGE_EXCLUSIVE, "unnamed, EXCLUSIVE by default");
                is_int(t->instance_cap, KA_UNLIMITED, "negative instanceCap is unlimited");
                ok(t->workspace_volume == NULL, "a workspace volume equal to the default is \"not set\"");
                ok(t->agent_injection == -1 && t->host_network == -1 && t->show_raw_yaml == -1, "tri-state unset");
                is_str(ka_template_agent_container(t), "jnlp", "agent container jnlp by default");
                const struct ka_container *ct = t->containers[0];
                ok(!ct->command && !ct->args && !ct->working_dir && ct->tty == -1, "container defaults unset");
                ok(ct->from[KA_CF_COMMAND].tmpl == NULL && ct->from[KA_CF_IMAGE].tmpl == t, "container origins");
        }
        unload(&l);
}

static void test_errors(void) {
        struct loaded l;
        load(&l, "bad.yaml",
             "kubeagent: {htp: 1}\n"                                                          /* 1 */
             "credentials:\n"                                                                 /* 2 */
             "  a: {type: nosuch}\n"                                                          /* 3 */
             "  b: {type: test-credential}\n"                                                 /* 4 */
             "frontends: {jenkinz: {}}\n"                                                     /* 5 */
             "unclassified: {}\n"                                                             /* 6 */
             "bogus: 1\n"                                                                     /* 7 */
             "jenkins:\n"                                                                     /* 8 */
             "  clouds:\n"                                                                    /* 9 */
             "    - kubernetes:\n"                                                            /* 10 */
             "        name: k\n"                                                              /* 11 */
             "        namspace: x\n"                                                          /* 12 */
             "        jenkinsUrl: 'not a url'\n"                                              /* 13 */
             "        webSocket: true\n"                                                      /* 14 */
             "        jenkinsTunnel: 'j:50000'\n"                                             /* 15 */
             "        templates:\n"                                                           /* 16 */
             "          - name: t\n"                                                          /* 17 */
             "            nodeProperties: []\n"                                               /* 18 */
             "            nodeUsageMode: SOMETIMES\n"                                         /* 19 */
             "            volumes: [{hostPathVolume: {hostPath: relative, mountPath: /m}}]\n" /* 20 */
             "            containers:\n"                                                      /* 21 */
             "              - {name: Maven, image: maven}\n"                                  /* 22 */
             "              - {name: x, image: ''}\n"                                         /* 23 */
             "              - {name: y, image: 'y z', ports: [{containerPort: 70000}]}\n"     /* 24 */
             "          - name: u\n"                                                          /* 25 */
             "            nodeProperties: []\n"                                               /* 26 */
             "            volumes: [{nosuchVolume: {}}]\n"                                    /* 27 */
             "            yaml: 'spec: {containers: [{name: a}, {name: a}]}'\n");             /* 28 */
        is_int(l.r, -EINVAL, "a bad config is refused");
        static const char *const want[] = {
                "bad.yaml:1:13: error: unknown key \"htp\" under kubeagent",
                "bad.yaml:3:13: error: unknown credentials type \"nosuch\" (known: ",
                "bad.yaml:4:6: error: missing required key \"path\"",
                "bad.yaml:5:13: error: unknown frontend \"jenkinz\" (known: jenkins, test-frontend)",
                "bad.yaml:6:1: warning: \"unclassified\" only has a meaning inside Jenkins; ignored",
                "bad.yaml:7:1: error: unknown key \"bogus\"",
                "bad.yaml:12:9: error: unknown key \"namspace\" (did you mean \"namespace\"?)",
                "bad.yaml:13:21: error: jenkinsUrl \"not a url\" is not an http(s) URL",
                "bad.yaml:15:24: error: jenkinsTunnel cannot be used with webSocket",
                "bad.yaml:18:13: warning: \"nodeProperties\" only has a meaning inside Jenkins; ignored (and 1 more "
                "time)\n",
                "bad.yaml:19:28: error: nodeUsageMode: expected NORMAL or EXCLUSIVE",
                "bad.yaml:20:41: error: hostPath must be an absolute path, not \"relative\"",
                "bad.yaml:22:24: error: container name \"Maven\" must match RFC 1123",
                "bad.yaml:23:34: error: image must not be empty",
                "bad.yaml:24:34: error: malformed image \"y z\": it must not contain whitespace",
                "bad.yaml:24:65: error: containerPort must be between 1 and 65535",
                "bad.yaml:27:24: error: unknown volume type \"nosuchVolume\" (known: ",
                "bad.yaml:28:58: error: yaml: container \"a\" is listed twice",
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(want); i++)
                like(l.text, want[i], "located: %.60s", strchr(want[i], ' ') + 1);
        ok(!strstr(l.text, "bad.yaml:26:13: warning"), "a Jenkins-only key warns once, not once per template");
        is_int(l.diags.errors, 16, "every error is reported");
        unload(&l);

        load(&l, "cycle.yaml",
             "jenkins:\n  clouds:\n    - kubernetes:\n        name: k\n        defaultsProviderTemplate: gone\n"
             "        templates:\n"
             "          - {name: a, inheritFrom: b}\n"
             "          - {name: b, inheritFrom: 'c a'}\n"
             "          - {name: c, inheritFrom: missing}\n"
             "          - {name: d, inheritFrom: c}\n");
        is_int(l.r, -EINVAL, "an inheritance cycle is an error");
        like(l.text, "cycle.yaml:7:36: error: inheritance cycle: a -> b -> a", "naming the cycle");
        like(l.text, "cycle.yaml:8:36: error: inheritance cycle: b -> a -> b", "from each template on it");
        like(l.text, "cycle.yaml:9:36: warning: inheritFrom: no template named \"missing\" in cloud \"k\"; ignored",
             "a missing parent is a warning");
        like(l.text, "cycle.yaml:5:35: warning: defaultsProviderTemplate: no template named \"gone\"",
             "so is a missing defaults provider");
        ok(!strstr(l.text, "d -> "), "a template inheriting from a cycle is not itself a cycle");
        unload(&l);

        load(&l, "retention.yaml",
             "jenkins:\n  clouds:\n    - kubernetes:\n        name: k\n        podRetention: keepForever\n");
        is_int(l.r, -EINVAL, "an unknown podRetention is an error");
        like(l.text,
             "retention.yaml:5:23: error: unknown podRetention \"keepForever\" (known: ", "naming it and where");
        ok(strstr(l.text, "always") && strstr(l.text, "onFailure") && strstr(l.text, "never"),
           "and every retention the loaded plugins know: %s", l.text);
        unload(&l);

        load(&l, "jcasc.yaml",
             "credentials:\n  system:\n    domainCredentials: [{credentials: []}]\n"
             "jenkins:\n  systemMessage: hi\n  clouds:\n    - docker: {name: d}\n");
        is_int(l.r, 0, "a pasted casc.yaml with other Jenkins settings loads");
        like(l.text, "jcasc.yaml:2:3: warning: Jenkins credentials (credentials.system)", "JCasC credentials ignored");
        like(l.text, "jcasc.yaml:5:3: warning: \"jenkins.systemMessage\" only has a meaning inside Jenkins",
             "other jenkins keys ignored");
        like(l.text, "jcasc.yaml:7:7: warning: \"docker\" clouds are not served by kubeagent", "other clouds ignored");
        unload(&l);
}

/* A cloud repeated in another file of a config folder adds its templates. */
static void test_folder(void) {
        _cleanup_free_ char *sub = ka_path_join(dir, "conf.d");
        ok(mkdir(sub, 0755) == 0, "config folder");
        _cleanup_free_ char *a = ka_path_join(sub, "10-cloud.yaml");
        _cleanup_free_ char *b = ka_path_join(sub, "20-maven.yaml");
        _cleanup_free_ char *c = ka_path_join(sub, "30-bad.yaml");
        struct ka_error err = {0};
        const char *ta = "jenkins:\n  clouds:\n    - kubernetes:\n        name: k\n        namespace: ci\n"
                         "        templates: [{name: base, label: base}]\n";
        const char *tb = "jenkins:\n  clouds:\n    - kubernetes:\n        name: k\n        namespace: ci\n"
                         "        templates: [{name: maven, label: maven, inheritFrom: base}]\n";
        ka_write_file_atomic(a, ta, strlen(ta), 0644, &err);
        ka_write_file_atomic(b, tb, strlen(tb), 0644, &err);
        struct ka_document doc;
        struct ka_diags d = {0};
        struct ka_config *cfg = NULL;
        ok(ka_document_load(sub, &doc, &d) == 0 && ka_config_load(&doc, &reg, &cfg, &d) == 0,
           "templates of one cloud in two files");
        ok(cfg && cfg->n_clouds == 1 && cfg->clouds[0]->n_templates == 2, "make one cloud with both templates");
        ka_config_free(cfg);
        ka_document_free(&doc);
        const char *tc = "jenkins:\n  clouds:\n    - kubernetes:\n        name: k\n        namespace: other\n";
        ka_write_file_atomic(c, tc, strlen(tc), 0644, &err);
        cfg = NULL;
        ok(ka_document_load(sub, &doc, &d) == 0 && ka_config_load(&doc, &reg, &cfg, &d) == -EINVAL,
           "a cloud repeated with other settings is refused");
        _cleanup_free_ char *text = diags_text(&d);
        like(text, "30-bad.yaml:5:9: error: cloud \"k\" is also defined at", "naming both places");
        ka_document_free(&doc);
        ka_diags_free(&d);
        unlink(a);
        unlink(b);
        unlink(c);
        rmdir(sub);
}

/* A template from any JCasC-shaped tree (what the pipeline parser makes). */
static void test_template_load(void) {
        struct ka_locmap *locs = ka_locmap_new();
        const char *text = "name: from-tree\nlabel: x\ncontainers: [{name: a, image: alpine}]\n"
                           "volumes: [{emptyDirVolume: {mountPath: /scratch, memory: true}}]\n";
        struct ka_yaml_origin o = {.file = "Jenkinsfile", .line_offset = 10};
        cJSON *tree = NULL;
        struct ka_error err = {0};
        ka_yaml_parse(text, strlen(text), &o, locs, &tree, &err);
        struct ka_template *t = NULL;
        struct ka_diags d = {0};
        is_int(ka_template_load(tree, locs, &reg, &t, &d), 0, "ka_template_load on a tree");
        ok(t && t->n_containers == 1 && t->n_volumes == 1 && strcmp(t->volumes[0]->mount_path, "/scratch") == 0,
           "with containers and volumes");
        ka_template_free(t);
        cJSON_Delete(tree);

        const char *bad = "name: t\ncontainers: [{name: a}]\nlabel: [x]\n";
        tree = NULL;
        ka_yaml_parse(bad, strlen(bad), &o, locs, &tree, &err);
        t = NULL;
        is_int(ka_template_load(tree, locs, &reg, &t, &d), -EINVAL, "a bad tree is refused");
        ok(t == NULL, "and nothing is returned");
        _cleanup_free_ char *msgs = diags_text(&d);
        like(msgs, "Jenkinsfile:12:14: error: missing required key \"image\"", "located in the tree's file");
        like(msgs, "Jenkinsfile:13:8: error: \"label\": expected a string", "every error");
        cJSON_Delete(tree);
        ka_diags_free(&d);
        ka_locmap_free(locs);
}

int main(void) {
        ka_mem_init();
        ok(mkdtemp(dir) != NULL, "temp dir");
        struct ka_diags d = {0};
        const char *path = getenv("KUBEAGENT_PLUGIN_PATH"), *test_dir = getenv("KA_TEST_PLUGIN_DIR");
        ok(path && test_dir, "plugin folders given by the test environment");
        if (!path || !test_dir)
                return tap_done();
        ka_registry_load_dir(&reg, path, &d);
        struct ka_error err = {0};
        _cleanup_free_ char *cred = ka_path_join(test_dir, "test-credential.so");
        _cleanup_free_ char *front = ka_path_join(test_dir, "test-frontend.so");
        ok(ka_registry_load_file(&reg, cred, &err) == 0 && ka_registry_load_file(&reg, front, &err) == 0,
           "test credential and frontend plugins load");
        is_int(d.errors, 0, "the build's plugins load");
        ka_diags_free(&d);

        test_full();
        test_defaults();
        test_errors();
        test_folder();
        test_template_load();

        ka_registry_free(&reg);
        _cleanup_free_ char *cmd = ka_asprintf("rm -rf %s", dir);
        ok(system(cmd) == 0, "cleanup");
        return tap_done();
}
