/* Unit tests for ka_template_render: the cases of the plugin's
 * PodTemplateBuilderTest (reference §3.8.2; cloud "test", node name
 * jenkins-agent, secret xxx, Jenkins URL http://jenkins.example.com), the
 * agent's environment, labels, volumes through the real volume plugins, and
 * --explain provenance. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "tap.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

#define IMAGE KA_DEFAULT_AGENT_IMAGE

/* The plugin's test fixtures, as described in the reference (§8.3). */
#define POD_BUSYBOX                                                                                                    \
        "metadata: {labels: {some-label: some-label-value}}\n"                                                         \
        "spec:\n"                                                                                                      \
        "  affinity:\n"                                                                                                \
        "    podAntiAffinity:\n"                                                                                       \
        "      preferredDuringSchedulingIgnoredDuringExecution:\n"                                                     \
        "        - weight: 1\n"                                                                                        \
        "          podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {a: b}}}\n"     \
        "  containers:\n"                                                                                              \
        "    - name: busybox\n"                                                                                        \
        "      image: busybox\n"                                                                                       \
        "      command: [cat]\n"                                                                                       \
        "      tty: true\n"                                                                                            \
        "      env: [{name: CONTAINER_ENV_VAR, value: container-env-var-value}]\n"                                     \
        "      resources:\n"                                                                                           \
        "        requests: {example.com/dongle: 42}\n"                                                                 \
        "        limits: {example.com/dongle: 42}\n"                                                                   \
        "      volumeMounts: [{name: host-volume, mountPath: /container/data}]\n"                                      \
        "  volumes:\n"                                                                                                 \
        "    - {name: empty-volume, emptyDir: {}}\n"                                                                   \
        "    - {name: host-volume, hostPath: {path: /host/data}}\n"

#define POD_OVERRIDES                                                                                                  \
        "metadata: {namespace: yaml-namespace}\n"                                                                      \
        "spec:\n"                                                                                                      \
        "  containers:\n"                                                                                              \
        "    - name: jnlp\n"                                                                                           \
        "      image: jenkins/inbound-agent:custom\n"                                                                  \
        "      securityContext: {runAsUser: 1000, runAsGroup: 2000}\n"                                                 \
        "      workingDir: /home/jenkins/agent\n"                                                                      \
        "      volumeMounts: [{name: host-volume, mountPath: /home/jenkins/agent}]\n"                                  \
        "      resources: {limits: {cpu: 2, memory: 2Gi}, requests: {cpu: 200m, memory: 256Mi}}\n"                     \
        "  volumes: [{name: host-volume, hostPath: {path: /host/data}}]\n"

/* A cloud with `keys` and one template `t` whose yaml (indented to fit)
 * is `yaml` (may be NULL). */
static const struct ka_cloud *cloud(const char *keys, const char *t, const char *yaml) {
        struct ka_buf b = KA_BUF_INIT(0);
        size_t n = strlen(t);
        if (yaml) {
                /* "{...}" + ", yaml: \"...\"}" */
                ka_buf_printf(&b, "          - %.*s, yaml: ", (int)n - 1, t);
                ka_json_quote(&b, yaml);
                ka_buf_puts(&b, "}\n");
        } else {
                ka_buf_printf(&b, "          - %s\n", t);
        }
        const struct ka_cloud *c = fixture_cloud(keys, b.data);
        ka_buf_free(&b);
        return c;
}

static cJSON *render_with(const struct ka_cloud *c, const struct ka_template *t, bool explain,
                          struct ka_locmap **ret_prov) {
        struct ka_render_params p = {
                .agent_name = "jenkins-agent",
                .secret = "xxx",
                .jenkins_root_url = "http://jenkins.example.com",
                .direct_endpoint = "localhost:50000",
                .instance_identity = "ID",
                .explain = explain,
        };
        struct ka_rendered r;
        struct ka_diags d = {0};
        if (ka_template_render(c, t, &p, &r, &d) < 0) {
                ka_diags_print(&d, stdout);
                ka_diags_free(&d);
                return NULL;
        }
        ka_diags_free(&d);
        cJSON_Delete(r.extra_objects);
        if (ret_prov)
                *ret_prov = r.prov;
        else
                ka_locmap_free(r.prov);
        return r.pod;
}

static cJSON *render(const struct ka_cloud *c) {
        return render_with(c, c->templates[0], false, NULL);
}

static cJSON *container(const cJSON *pod, const char *name) {
        for (cJSON *c = cJSON_GetObjectItem(ka_json_path(pod, "spec"), "containers")->child; c; c = c->next)
                if (ka_streq(ka_json_str(c, "name"), name))
                        return c;
        return NULL;
}

static const char *env(const cJSON *c, const char *name) {
        for (const cJSON *e = ka_json_path(c, "env") ? ka_json_path(c, "env")->child : NULL; e; e = e->next)
                if (ka_streq(ka_json_str(e, "name"), name))
                        return ka_json_str(e, "value") ? ka_json_str(e, "value") : "(valueFrom)";
        return NULL;
}

static size_t count(const cJSON *list) {
        return (size_t)cJSON_GetArraySize(list);
}

/* validateJnlpContainer: the agent's variables for TCP/WebSocket or direct. */
static void validate_jnlp(const cJSON *jnlp, bool direct, const char *what) {
        ok(ka_streq(env(jnlp, "JENKINS_SECRET"), "xxx") && ka_streq(env(jnlp, "JENKINS_NAME"), "jenkins-agent") &&
                   ka_streq(env(jnlp, "JENKINS_AGENT_NAME"), "jenkins-agent") &&
                   ka_streq(env(jnlp, "JENKINS_AGENT_WORKDIR"), "/home/jenkins/agent") &&
                   ka_streq(env(jnlp, "REMOTING_OPTS"), "-noReconnectAfter 1d"),
           "%s: secret, names, workdir, remoting options", what);
        if (direct)
                ok(!env(jnlp, "JENKINS_URL") && ka_streq(env(jnlp, "JENKINS_PROTOCOLS"), "JNLP4-connect") &&
                           ka_streq(env(jnlp, "JENKINS_DIRECT_CONNECTION"), "localhost:50000") &&
                           ka_streq(env(jnlp, "JENKINS_INSTANCE_IDENTITY"), "ID"),
                   "%s: direct connection variables instead of JENKINS_URL", what);
        else
                ok(ka_streq(env(jnlp, "JENKINS_URL"), "http://jenkins.example.com/") && !env(jnlp, "JENKINS_PROTOCOLS"),
                   "%s: JENKINS_URL with its slash", what);
}

static void test_build_from_yaml(void) {
        for (int direct = 0; direct < 2; direct++) {
                const struct ka_cloud *c =
                        cloud(direct ? "        directConnection: true\n" : "", "{name: t}", POD_BUSYBOX);
                cJSON *pod = render(c);
                const char *mode = direct ? "direct" : "tcp";
                is_json(pod, "metadata.labels.some-label", "\"some-label-value\"", "%s: YAML labels kept", mode);
                is_json(pod, "metadata.labels.jenkins", "\"slave\"", "%s: jenkins=slave", mode);
                is_json(pod, "spec.restartPolicy", "\"Never\"", "%s: restartPolicy Never", mode);
                is_int(count(ka_json_path(pod, "spec.containers")), 2, "%s: busybox and jnlp", mode);
                cJSON *busybox = container(pod, "busybox"), *jnlp = container(pod, "jnlp");
                is_str(ka_json_str(jnlp, "image"), IMAGE, "%s: jnlp has the default image", mode);
                is_json(pod, "spec.volumes",
                        "[{\"emptyDir\":{},\"name\":\"empty-volume\"},{\"hostPath\":{\"path\":\"/host/data\"},\"name\":"
                        "\"host-volume\"},{\"emptyDir\":{\"medium\":\"\"},\"name\":\"workspace-volume\"}]",
                        "%s: volumes workspace-volume, empty-volume, host-volume", mode);
                is_json(busybox, "volumeMounts",
                        "[{\"mountPath\":\"/container/data\",\"name\":\"host-volume\"},{\"mountPath\":\"/home/jenkins/"
                        "agent\",\"name\":\"workspace-volume\",\"readOnly\":false}]",
                        "%s: busybox mounts the host volume and the workspace", mode);
                is_json(jnlp, "volumeMounts",
                        "[{\"mountPath\":\"/home/jenkins/agent\",\"name\":\"workspace-volume\",\"readOnly\":false}]",
                        "%s: jnlp mounts only the workspace", mode);
                is_json(busybox, "resources",
                        "{\"limits\":{\"example.com/dongle\":42},\"requests\":{\"example.com/dongle\":42}}",
                        "%s: extended resources survive", mode);
                validate_jnlp(jnlp, direct, mode);
                ok(!env(busybox, "JENKINS_URL") && !env(busybox, "JENKINS_SECRET") &&
                           ka_streq(env(busybox, "CONTAINER_ENV_VAR"), "container-env-var-value"),
                   "%s: busybox has no JENKINS_* variables", mode);
                ok(ka_json_path(pod, "spec.affinity.podAntiAffinity") != NULL, "%s: affinity from YAML", mode);
                cJSON_Delete(pod);
        }
}

static void test_small_cases(void) {
        /* testBuildJnlpFromYamlWithNullEnv */
        cJSON *pod = render(cloud("", "{name: t}", "spec:\n  containers:\n    - {name: jnlp, image: i, env: null}\n"));
        ok(ka_json_path(container(pod, "jnlp"), "env") && env(container(pod, "jnlp"), "JENKINS_SECRET"),
           "a jnlp container with env: null gets the agent's variables");
        cJSON_Delete(pod);

        /* testInjectRestrictedPssSecurityContextInJnlp */
        pod = render(cloud("        restrictedPssSecurityContext: true\n", "{name: t}", POD_BUSYBOX));
        is_json(container(pod, "jnlp"), "securityContext",
                "{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]},\"runAsNonRoot\":true,"
                "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}",
                "restricted PSS: jnlp hardened");
        ok(ka_json_path(container(pod, "busybox"), "securityContext.seccompProfile") != NULL,
           "restricted PSS: every container");
        cJSON_Delete(pod);

        /* testValidateDockerRegistry{UI,Prefix}Override(WithSlashSuffix) */
        static const char *const registries[] = {"registry.example.com", "registry.example.com/",
                                                 "jenkins.docker.com/docker-hub", "jenkins.docker.com/docker-hub/"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(registries); i++) {
                _cleanup_free_ char *keys = ka_asprintf("        jnlpregistry: %s\n", registries[i]);
                pod = render(cloud(keys, "{name: t}", NULL));
                size_t n = strlen(registries[i]) - ka_endswith(registries[i], "/");
                _cleanup_free_ char *want = ka_asprintf("%.*s/%s", (int)n, registries[i], IMAGE);
                is_str(ka_json_str(container(pod, "jnlp"), "image"), want, "jnlpregistry %s prefixes the default image",
                       registries[i]);
                cJSON_Delete(pod);
        }

        /* testValidateDockerRegistryPrefixOverrideForInitContainer */
        pod = render(cloud("        jnlpregistry: registry.example.com\n",
                           "{name: t, agentContainer: busybox, agentInjection: true}", POD_BUSYBOX));
        is_int(count(ka_json_path(pod, "spec.containers")), 1, "agent injection: one container");
        is_int(count(ka_json_path(pod, "spec.initContainers")), 1, "and one init container");
        cJSON *busybox = container(pod, "busybox");
        is_str(ka_json_str(busybox, "image"), "busybox", "the agent container keeps its image");
        is_json(busybox, "command", "[\"/jenkins-agent/jenkins-agent\"]", "and runs the injected agent");
        is_json(busybox, "workingDir", "\"/home/jenkins/agent\"", "in the default working directory");
        ok(ka_streq(env(busybox, "JENKINS_AGENT_FILE"), "/jenkins-agent/agent.jar"), "with JENKINS_AGENT_FILE");
        is_json(cJSON_GetArrayItem(ka_json_path(pod, "spec.initContainers"), 0), "image",
                "\"registry.example.com/" IMAGE "\"", "the init container's image has the registry prefix");
        char *m = fixture_json(busybox, "volumeMounts");
        like(m, "{\"mountPath\":\"/jenkins-agent\",\"name\":\"jenkins-agent\",\"readOnly\":true}",
             "the agent volume is mounted read-only");
        free(m);
        cJSON_Delete(pod);

        /* testBuildWithCustomWorkspaceVolume, testBuildWithDynamicPVCWorkspaceVolume */
        static const char *const ws[] = {"{emptyDirWorkspaceVolume: {memory: true, sizeLimit: ' 1Gi '}}",
                                         "{dynamicPVC: {}}"};
        static const char *const first_volume[] = {
                "{\"emptyDir\":{\"medium\":\"Memory\",\"sizeLimit\":\"1Gi\"},\"name\":\"workspace-volume\"}",
                "{\"name\":\"workspace-volume\",\"persistentVolumeClaim\":{\"claimName\":\"pvc-workspace-jenkins-"
                "agent\",\"readOnly\":false}}"};
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *t = ka_asprintf(
                        "{name: t, workspaceVolume: %s, containers: [{name: name, image: image, workingDir: ''}]}",
                        ws[i]);
                pod = render(cloud("", t, NULL));
                is_int(count(ka_json_path(pod, "spec.containers")), 2, "custom workspace %zu: two containers", i);
                const char *mounts = "[{\"mountPath\":\"/home/jenkins/agent\",\"name\":\"workspace-volume\","
                                     "\"readOnly\":false}]";
                is_json(container(pod, "name"), "volumeMounts", mounts, "custom workspace %zu: one mount each", i);
                is_json(container(pod, "jnlp"), "volumeMounts", mounts, "custom workspace %zu: jnlp too", i);
                is_json(cJSON_GetArrayItem(ka_json_path(pod, "spec.volumes"), 0), "", first_volume[i],
                        "custom workspace %zu: the first volume", i);
                cJSON_Delete(pod);
        }

        /* namespaceFromCloud / namespaceFromTemplate */
        pod = render(cloud("        namespace: cloud-namespace\n", "{name: t}", NULL));
        is_json(pod, "metadata.namespace", "\"cloud-namespace\"", "namespace from the cloud");
        cJSON_Delete(pod);
        pod = render(cloud("        namespace: cloud-namespace\n", "{name: t, namespace: template-namespace}", NULL));
        is_json(pod, "metadata.namespace", "\"template-namespace\"", "namespace from the template");
        cJSON_Delete(pod);

        /* defaultRequests */
        pod = render(cloud("", "{name: t}", NULL));
        is_json(cJSON_GetArrayItem(ka_json_path(pod, "spec.containers"), 0), "resources.requests",
                "{\"cpu\":\"100m\",\"memory\":\"256Mi\"}", "an empty template: default requests");
        cJSON_Delete(pod);

        /* testOverridesFromYaml, testOverridesContainerSpec */
        pod = render(cloud("", "{name: t, namespace: template-namespace}", POD_OVERRIDES));
        is_json(pod, "metadata.namespace", "\"yaml-namespace\"", "the YAML's namespace beats the template's");
        is_int(count(ka_json_path(pod, "spec.containers")), 1, "one container");
        cJSON *jnlp = container(pod, "jnlp");
        is_int(count(ka_json_path(jnlp, "volumeMounts")), 1, "jnlp has one mount (at its working directory)");
        is_json(jnlp, "resources",
                "{\"limits\":{\"cpu\":2,\"memory\":\"2Gi\"},\"requests\":{\"cpu\":\"200m\","
                "\"memory\":\"256Mi\"}}",
                "jnlp resources from YAML");
        cJSON_Delete(pod);
        pod = render(cloud("", "{name: t, containers: [{name: jnlp, image: 'jenkins/inbound-agent:custom'}]}",
                           POD_OVERRIDES));
        is_int(count(ka_json_path(pod, "spec.containers")), 1, "container spec + YAML: one container");
        is_int(count(ka_json_path(container(pod, "jnlp"), "volumeMounts")), 1, "container spec + YAML: one mount");
        cJSON_Delete(pod);

        /* testInheritsFromWithYaml: fields beat YAML */
        const struct ka_config *cfg = fixture_config(
                "jenkins:\n  clouds:\n    - kubernetes:\n        name: test\n        templates:\n"
                "          - {name: parent, containers: [{name: jnlp, image: i, resourceLimitCpu: '1', "
                "resourceLimitMemory: 1Gi, resourceRequestCpu: 100m, resourceRequestMemory: 156Mi, runAsUser: 1000, "
                "runAsGroup: 2000}]}\n"
                "          - name: child\n            inheritFrom: parent\n            yaml: |\n"
                "              spec:\n                containers:\n                  - name: jnlp\n"
                "                    securityContext: {runAsUser: 3000, runAsGroup: 4000}\n"
                "                    resources: {limits: {cpu: 2, memory: 2Gi}, requests: {cpu: 200m, memory: "
                "256Mi}}\n");
        pod = render_with(cfg->clouds[0], cfg->clouds[0]->templates[1], false, NULL);
        jnlp = container(pod, "jnlp");
        is_json(jnlp, "resources",
                "{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"100m\","
                "\"memory\":\"156Mi\"}}",
                "the parent's container fields beat the child's YAML resources");
        ok(ka_json_int(ka_json_path(jnlp, "securityContext"), "runAsUser", 0) == 1000 &&
                   ka_json_int(ka_json_path(jnlp, "securityContext"), "runAsGroup", 0) == 2000,
           "and its runAs ids");
        cJSON_Delete(pod);

        /* whenRuntimeClassNameIsSetDoNotSetDefaultNodeSelector */
        pod = render(cloud("", "{name: t}", "spec: {runtimeClassName: windows}\n"));
        is_json(pod, "spec.nodeSelector", "(absent)", "runtimeClassName: no default node selector");
        cJSON_Delete(pod);
        pod = render(cloud("", "{name: t, nodeSelector: 'disk=ssd, bad, zone=a'}", NULL));
        is_json(pod, "spec.nodeSelector", "{\"disk\":\"ssd\",\"zone\":\"a\"}",
                "nodeSelector field: pairs, malformed ones skipped, no default");
        cJSON_Delete(pod);
}

static void test_build_from_template(void) {
        cJSON *pod = render(cloud(
                "",
                "{name: t, runAsUser: 1000, runAsGroup: 1000, supplementalGroups: '5001,5002', hostNetwork: false, "
                "volumes: [{hostPathVolume: {hostPath: /host/data, mountPath: /container/data}}, "
                "{emptyDirVolume: {mountPath: /empty/dir}}], containers: [{name: busybox, image: busybox, command: "
                "cat, "
                "ttyEnabled: true, runAsUser: 2000, runAsGroup: 2000, envVars: [{envVar: {key: CONTAINER_ENV_VAR, "
                "value: container-env-var-value}}]}]}",
                NULL));
        is_json(pod, "spec.securityContext",
                "{\"runAsGroup\":1000,\"runAsUser\":1000,\"supplementalGroups\":[5001,5002]}",
                "pod securityContext from fields");
        is_json(pod, "spec.hostNetwork", "false", "hostNetwork set explicitly");
        cJSON *busybox = container(pod, "busybox");
        is_json(busybox, "securityContext", "{\"privileged\":false,\"runAsGroup\":2000,\"runAsUser\":2000}",
                "container securityContext");
        is_json(busybox, "command", "[\"cat\"]", "command split");
        is_json(busybox, "tty", "true", "tty");
        is_json(pod, "spec.volumes",
                "[{\"hostPath\":{\"path\":\"/host/data\"},\"name\":\"volume-0\"},{\"emptyDir\":{\"medium\":\"\"},"
                "\"name\":\"volume-1\"},{\"emptyDir\":{\"medium\":\"\"},\"name\":\"workspace-volume\"}]",
                "volumes volume-0, volume-1, workspace-volume");
        const char *mounts =
                "[{\"mountPath\":\"/container/data\",\"name\":\"volume-0\",\"readOnly\":false},"
                "{\"mountPath\":\"/empty/dir\",\"name\":\"volume-1\",\"readOnly\":false},"
                "{\"mountPath\":\"/home/jenkins/agent\",\"name\":\"workspace-volume\",\"readOnly\":false}]";
        is_json(busybox, "volumeMounts", mounts, "busybox mounts all three");
        is_json(container(pod, "jnlp"), "volumeMounts", mounts, "so does the auto-created jnlp");
        is_json(busybox, "imagePullPolicy", "\"IfNotPresent\"", "imagePullPolicy always written");
        is_json(busybox, "resources", "{}", "field containers always carry resources (so no defaults)");
        cJSON_Delete(pod);
}

static void test_yaml_merges(void) {
        const struct ka_config *cfg = fixture_config(
                "jenkins:\n  clouds:\n    - kubernetes:\n        name: test\n        templates:\n"
                /* yamlMergeContainers */
                "          - {name: p1, yaml: '{metadata: {labels: {some-label: v}}, spec: {containers: [{name: "
                "container1, image: busybox}]}}'}\n"
                "          - {name: c1, inheritFrom: p1, yamlMergeStrategy: merge, yaml: 'spec: {containers: [{name: "
                "container2, image: busybox}]}'}\n"
                /* yamlOverrideContainer */
                "          - {name: p2, yaml: 'spec: {containers: [{name: container, image: busybox}]}'}\n"
                "          - {name: c2, inheritFrom: p2, yamlMergeStrategy: merge, yaml: 'spec: {containers: [{name: "
                "container, image: busybox2}]}'}\n"
                /* yamlOverrideContainerEnvvar */
                "          - {name: p3, yaml: 'spec: {containers: [{name: jnlp, env: [{name: VAR1, value: \"1\"}, "
                "{name: VAR2, value: \"1\"}]}]}'}\n"
                "          - {name: c3, inheritFrom: p3, yamlMergeStrategy: merge, yaml: 'spec: {containers: [{name: "
                "jnlp, env: [{name: VAR1, value: \"2\"}]}]}'}\n"
                /* yamlOverrideVolume */
                "          - {name: p4, yaml: 'spec: {containers: [{name: jnlp, volumeMounts: [{name: host-volume, "
                "mountPath: /etc/config, subPath: mypath}]}], volumes: [{name: host-volume, hostPath: {path: "
                "/host/data}}]}'}\n"
                "          - {name: c4, inheritFrom: p4, yamlMergeStrategy: merge, containers: [{name: jnlp, image: "
                "jenkins/inbound-agent}], volumes: [{configMapVolume: {configMapName: cm, mountPath: /etc/configmap, "
                "subPath: subpath}}], yaml: 'spec: {volumes: [{name: host-volume, hostPath: {path: /host/data2}}]}'}\n"
                /* yamlOverrideHostNetwork, yamlOverrideSchedulerName, yamlOverrideSecurityContext */
                "          - {name: p5, yaml: 'spec: {hostNetwork: false, schedulerName: default-scheduler, "
                "securityContext: {runAsUser: 2000, runAsGroup: 2000}, containers: [{name: jnlp, securityContext: "
                "{runAsUser: 1000, runAsGroup: 1000}}, {name: other, image: o}]}'}\n"
                "          - {name: c5, inheritFrom: p5, yamlMergeStrategy: merge, yaml: 'spec: {hostNetwork: true, "
                "schedulerName: custom-scheduler, securityContext: {runAsUser: 3000, runAsGroup: 3000}, containers: "
                "[{name: jnlp, securityContext: {runAsUser: 2000, runAsGroup: 2000}}]}'}\n"
                /* yamlMergeVolumes */
                "          - {name: p6, yaml: 'spec: {volumes: [{name: host-volume, hostPath: {path: /host/data}}]}'}\n"
                "          - {name: c6, inheritFrom: p6, yamlMergeStrategy: merge, yaml: 'spec: {volumes: [{name: "
                "host-volume2, hostPath: {path: /host/data2}}]}'}\n");
        const struct ka_cloud *c = cfg->clouds[0];
        cJSON *pod = render_with(c, ka_cloud_template(c, "c1"), false, NULL);
        is_json(pod, "metadata.labels.some-label", "\"v\"", "yamlMergeContainers: the parent's label");
        is_int(count(ka_json_path(pod, "spec.containers")), 3, "yamlMergeContainers: container1, container2, jnlp");
        cJSON_Delete(pod);
        pod = render_with(c, ka_cloud_template(c, "c2"), false, NULL);
        is_int(count(ka_json_path(pod, "spec.containers")), 2, "yamlOverrideContainer: two containers");
        is_str(ka_json_str(container(pod, "container"), "image"), "busybox2", "yamlOverrideContainer: child image");
        cJSON_Delete(pod);
        pod = render_with(c, ka_cloud_template(c, "c3"), false, NULL);
        ok(ka_streq(env(container(pod, "jnlp"), "VAR1"), "2") && ka_streq(env(container(pod, "jnlp"), "VAR2"), "1"),
           "yamlOverrideContainerEnvvar: VAR1=2, VAR2=1");
        cJSON_Delete(pod);
        pod = render_with(c, ka_cloud_template(c, "c4"), false, NULL);
        is_int(count(ka_json_path(pod, "spec.containers")), 1, "yamlOverrideVolume: one container");
        const cJSON *hv = NULL;
        for (const cJSON *v = ka_json_path(pod, "spec.volumes")->child; v; v = v->next)
                if (ka_streq(ka_json_str(v, "name"), "host-volume"))
                        hv = v;
        is_json(hv, "hostPath.path", "\"/host/data2\"", "yamlOverrideVolume: the child's volume");
        char *mounts = fixture_json(container(pod, "jnlp"), "volumeMounts");
        like(mounts, "{\"mountPath\":\"/etc/config\",\"name\":\"host-volume\",\"subPath\":\"mypath\"}",
             "yamlOverrideVolume: the parent's mount with its subPath");
        like(mounts,
             "{\"mountPath\":\"/etc/configmap\",\"name\":\"volume-0\",\"readOnly\":false,\"subPath\":"
             "\"subpath\"}",
             "yamlOverrideVolume: the configMap volume's subPath");
        free(mounts);
        cJSON_Delete(pod);
        pod = render_with(c, ka_cloud_template(c, "c5"), false, NULL);
        is_json(pod, "spec.hostNetwork", "true", "yamlOverrideHostNetwork");
        is_json(pod, "spec.schedulerName", "\"custom-scheduler\"", "yamlOverrideSchedulerName");
        is_json(pod, "spec.securityContext", "{\"runAsGroup\":3000,\"runAsUser\":3000}",
                "yamlOverrideSecurityContext: pod");
        is_json(container(pod, "jnlp"), "securityContext.runAsUser", "2000", "yamlOverrideSecurityContext: container");
        is_int(count(ka_json_path(pod, "spec.containers")), 2, "yamlOverrideSecurityContext: two containers");
        cJSON_Delete(pod);
        pod = render_with(c, ka_cloud_template(c, "c6"), false, NULL);
        is_int(count(ka_json_path(pod, "spec.volumes")), 3, "yamlMergeVolumes: three volumes with the workspace");
        cJSON_Delete(pod);
}

/* What the plugin's §2.3 says about env precedence, args, probes, ports. */
static void test_agent_details(void) {
        const struct ka_cloud *c = cloud(
                "        webSocket: true\n        jenkinsTunnel: ''\n        podLabels: [{key: team, value: ci}]\n",
                "{name: t, label: 'java maven', envVars: [{envVar: {key: POD_VAR, value: pod}}, {envVar: {key: "
                "JENKINS_URL, value: 'http://override/'}}], annotations: [{key: a, value: '${HOME}'}], containers: "
                "[{name: "
                "jnlp, image: 'my/agent', args: '${computer.jnlpmac} ${computer.name}', workingDir: /w, envVars: "
                "[{envVar: {key: POD_VAR, value: container}}]}, {name: tool, image: tool, command: \"sh -c 'sleep "
                "1'\", "
                "ports: [{name: http, containerPort: 8080, hostPort: 80}], livenessProbe: {execArgs: 'cat /tmp/ok', "
                "periodSeconds: 5}, alwaysPullImage: true, privileged: true, envVars: [{secretEnvVar: {key: TOKEN, "
                "secretName: s, secretKey: k}}]}]}",
                NULL);
        cJSON *pod = render(c);
        cJSON *jnlp = container(pod, "jnlp"), *tool = container(pod, "tool");
        is_json(jnlp, "args", "[\"xxx\",\"jenkins-agent\"]", "${computer.jnlpmac} and ${computer.name} in args");
        ok(ka_streq(env(jnlp, "JENKINS_WEB_SOCKET"), "true"), "JENKINS_WEB_SOCKET on a WebSocket cloud");
        ok(ka_streq(env(jnlp, "JENKINS_URL"), "http://override/"), "the template's env beats the computed JENKINS_URL");
        ok(ka_streq(env(jnlp, "POD_VAR"), "container"), "the container's env beats the template's");
        ok(ka_streq(env(jnlp, "JENKINS_AGENT_WORKDIR"), "/w"), "JENKINS_AGENT_WORKDIR is the agent's workingDir");
        is_json(tool, "workingDir", "\"/w\"", "containers without a workingDir get the agent's");
        ok(ka_streq(env(tool, "POD_VAR"), "pod") && !env(tool, "JENKINS_SECRET"),
           "other containers get the template's env and none of the agent's");
        is_json(tool, "env",
                "[{\"name\":\"POD_VAR\",\"value\":\"pod\"},{\"name\":\"JENKINS_URL\",\"value\":"
                "\"http://override/"
                "\"},{\"name\":\"TOKEN\",\"valueFrom\":{\"secretKeyRef\":{\"key\":\"k\",\"name\":\"s\"}}}]",
                "secretEnvVar renders a secretKeyRef");
        is_json(tool, "command", "[\"sh\",\"-c\",\"sleep 1\"]", "command split like a shell");
        is_json(tool, "ports", "[{\"containerPort\":8080,\"hostPort\":80,\"name\":\"http\"}]", "ports");
        is_json(tool, "livenessProbe",
                "{\"exec\":{\"command\":[\"cat\",\"/tmp/ok\"]},\"failureThreshold\":0,"
                "\"initialDelaySeconds\":0,\"periodSeconds\":5,\"successThreshold\":0,\"timeoutSeconds\":0}",
                "an exec liveness probe, ints as configured");
        is_json(tool, "imagePullPolicy", "\"Always\"", "alwaysPullImage");
        is_json(tool, "securityContext", "{\"privileged\":true}", "privileged");
        is_json(pod, "metadata.labels",
                "{\"jenkins/label\":\"java_maven\",\"jenkins/label-digest\":\"" /* sha1("java maven") */
                "ae90cf1fb1b63ef39b9acb64d0f72d21fc55c978\",\"kubernetes.jenkins.io/controller\":"
                "\"http___jenkins_example_comx\",\"team\":\"ci\"}",
                "podLabels replace jenkins=slave; label, digest and controller labels");
        is_json(pod, "metadata.annotations.a", "\"${HOME}\"", "annotation values stay literal (no ${VAR} expansion)");
        ok(ka_json_str(ka_json_path(pod, "metadata.annotations"), "kubernetes.jenkins.io/last-refresh") != NULL,
           "last-refresh");
        cJSON_Delete(pod);

        setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
        pod = render(cloud("", "{name: t}", NULL));
        const cJSON *ann = ka_json_path(pod, "metadata.annotations");
        is_str(ka_json_str(ann, "kubernetes.jenkins.io/last-refresh"), "1700000000000",
               "last-refresh honours SOURCE_DATE_EPOCH");
        unsetenv("SOURCE_DATE_EPOCH");
        cJSON_Delete(pod);
}

static void test_volumes(void) {
        const struct ka_cloud *c =
                cloud("",
                      "{name: t, workspaceVolume: {genericEphemeralVolume: {requestsSize: 5Gi}}, volumes: ["
                      "{hostPathVolume: {hostPath: /a, mountPath: /m/a, readOnly: true}}, "
                      "{nfsVolume: {serverAddress: nfs.example.com, serverPath: /export, readOnly: true, mountPath: "
                      "/m/nfs}}, "
                      "{persistentVolumeClaim: {claimName: cache, mountPath: /m/pvc}}, "
                      "{secretVolume: {secretName: s, mountPath: /m/secret, defaultMode: 0400, optional: false}}, "
                      "{dynamicPVC: {mountPath: /m/dyn, storageClassName: fast}}, "
                      "{emptyDirVolume: {mountPath: /m/a/}}]}",
                      NULL);
        struct ka_render_params p = {.agent_name = "agent-1", .secret = "xxx", .jenkins_root_url = "http://j"};
        struct ka_rendered r;
        struct ka_diags d = {0};
        is_int(ka_template_render(c, c->templates[0], &p, &r, &d), 0, "every volume type renders");
        is_json(r.pod, "spec.volumes",
                "[{\"hostPath\":{\"path\":\"/a\"},\"name\":\"volume-0\"},{\"name\":\"volume-1\",\"nfs\":{\"path\":"
                "\"/export\",\"readOnly\":true,\"server\":\"nfs.example.com\"}},{\"name\":\"volume-2\","
                "\"persistentVolumeClaim\":{\"claimName\":\"cache\",\"readOnly\":false}},{\"name\":\"volume-3\","
                "\"secret\":{\"defaultMode\":256,\"optional\":false,\"secretName\":\"s\"}},{\"name\":\"volume-4\","
                "\"persistentVolumeClaim\":{\"claimName\":\"pvc-agent-1-153pzwtw\",\"readOnly\":false}},"
                "{\"ephemeral\":{\"volumeClaimTemplate\":{\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":"
                "{\"requests\":{\"storage\":\"5Gi\"}}}}},\"name\":\"workspace-volume\"}]",
                "volumes named volume-<i>, the second at /m/a skipped, the workspace volume from its plugin");
        char *mounts = fixture_json(cJSON_GetArrayItem(ka_json_path(r.pod, "spec.containers"), 0), "volumeMounts");
        like(mounts, "{\"mountPath\":\"/m/a\",\"name\":\"volume-0\",\"readOnly\":true}",
             "only a hostPath mount may be read-only");
        like(mounts, "{\"mountPath\":\"/m/nfs\",\"name\":\"volume-1\",\"readOnly\":false}",
             "an NFS export read-only is not a read-only mount");
        free(mounts);
        is_int(count(r.extra_objects), 1, "a dynamic PVC is an object to create after the pod");
        is_json(cJSON_GetArrayItem(r.extra_objects, 0), "",
                "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"labels\":{\"jenkins\":"
                "\"slave\",\"jenkins/label\":\"slave-default\",\"jenkins/label-digest\":\"0\",\"kubernetes.jenkins.io/"
                "controller\":\"http___jx\"},\"name\":\"pvc-agent-1-153pzwtw\"},\"spec\":{\"accessModes\":["
                "\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"10Gi\"}},\"storageClassName\":"
                "\"fast\"}}",
                "labelled like the pod");
        ka_rendered_free(&r);
        ka_diags_free(&d);
}

static void test_strategic_render(void) {
        /* strategic: a YAML workspace-volume is kept; merge replaces it with the default */
        const char *yaml = "spec:\n  volumes: [{name: workspace-volume, hostPath: {path: /ws}}]\n"
                           "  containers: [{name: jnlp, ports: [{containerPort: 5005}]}]\n";
        cJSON *pod = render(cloud("",
                                  "{name: t, yamlMergeStrategy: strategic, containers: [{name: jnlp, image: "
                                  "agent}]}",
                                  yaml));
        is_json(pod, "spec.volumes", "[{\"hostPath\":{\"path\":\"/ws\"},\"name\":\"workspace-volume\"}]",
                "strategic keeps a YAML workspace-volume");
        is_json(container(pod, "jnlp"), "ports", "[{\"containerPort\":5005}]",
                "strategic keeps the ports of a YAML container a field container also defines");
        cJSON_Delete(pod);
        pod = render(cloud("", "{name: t, yamlMergeStrategy: merge, containers: [{name: jnlp, image: agent}]}", yaml));
        is_json(pod, "spec.volumes", "[{\"emptyDir\":{\"medium\":\"\"},\"name\":\"workspace-volume\"}]",
                "merge replaces it with the template's (default) one, as the plugin does");
        is_json(container(pod, "jnlp"), "ports", "[{\"containerPort\":5005}]",
                "(the YAML is the parent here, so merge keeps the ports too)");
        cJSON_Delete(pod);
}

static void test_explain_and_errors(void) {
        const struct ka_config *cfg =
                fixture_config("jenkins:\n  clouds:\n    - kubernetes:\n        name: test\n        namespace: ns\n"
                               "        templates:\n"
                               "          - name: base\n            serviceAccount: builder\n"
                               "            yaml: 'spec: {priorityClassName: high}'\n"
                               "          - name: app\n            inheritFrom: base\n"
                               "            containers: [{name: app, image: 'app:1'}]\n");
        const struct ka_cloud *c = cfg->clouds[0];
        struct ka_locmap *prov = NULL;
        cJSON *pod = render_with(c, ka_cloud_template(c, "app"), true, &prov);
        struct {
                const char *path, *want;
        } cases[] = {
                {"spec.serviceAccountName", "template base serviceAccount ("},
                {"spec.priorityClassName", "template base yaml ("},
                {"metadata.namespace", "cloud test namespace"},
                {"spec.restartPolicy", "decorator: default restart policy"},
                {"spec.nodeSelector", "decorator: default node selector"},
                {"metadata.name", "agent name (given)"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(cases); i++) {
                const cJSON *n = ka_json_path(pod, cases[i].path);
                if (cJSON_IsObject(n)) /* the (one) value of a map */
                        n = n->child;
                like(ka_prov_get(prov, n), cases[i].want, "explain %s", cases[i].path);
        }
        like(ka_prov_get(prov, ka_json_path(container(pod, "app"), "image")), "template app containers app image (",
             "explain a container field");
        like(ka_prov_get(prov, ka_json_path(pod, "spec.serviceAccountName")), ".yaml:8:13)", "with line and column");
        cJSON_Delete(pod);
        ka_locmap_free(prov);

        struct ka_render_params p = {.agent_name = "Bad Name", .secret = "xxx", .jenkins_root_url = "http://j"};
        struct ka_rendered r;
        struct ka_diags d = {0};
        is_int(ka_template_render(c, c->templates[0], &p, &r, &d), -EINVAL, "a bad agent name is refused");
        like(d.n ? d.v[0].msg : "", "agent name \"Bad Name\" is not a valid pod name", "and says why");
        ka_diags_free(&d);
        const struct ka_cloud *nourl = cloud("", "{name: t}", NULL);
        p = (struct ka_render_params){.agent_name = "a", .secret = "xxx"};
        unsetenv("KUBERNETES_JENKINS_URL");
        is_int(ka_template_render(nourl, nourl->templates[0], &p, &r, &d), -EINVAL, "no Jenkins URL is an error");
        like(d.n ? d.v[0].msg : "", "no Jenkins URL for the agents of template t: set jenkinsUrl on cloud test",
             "naming the fix");
        ka_diags_free(&d);
        setenv("KUBERNETES_JENKINS_URL", "http://env.example.com", 1);
        is_int(ka_template_render(nourl, nourl->templates[0], &p, &r, &d), 0, "KUBERNETES_JENKINS_URL is used");
        char *text = fixture_json(r.pod, "");
        like(text, "http://env.example.com/", "with its slash");
        free(text);
        ka_rendered_free(&r);
        unsetenv("KUBERNETES_JENKINS_URL");
        ka_diags_free(&d);
}

int main(void) {
        if (!fixture_start()) {
                ok(false, "plugins from the test environment");
                return tap_done();
        }
        test_build_from_yaml();
        test_small_cases();
        test_build_from_template();
        test_yaml_merges();
        test_agent_details();
        test_volumes();
        test_strategic_render();
        test_explain_and_errors();
        fixture_end();
        return tap_done();
}
