/* Unit tests for core/template's inheritance, merging, labels and names:
 * the cases of the plugin's PodTemplateUtilsTest (reference §3.8.1), the
 * small-function vectors (§3.8.3), label expressions, and what `strategic`
 * keeps that `merge` drops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "fixture.h"
#include "tap.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml/yaml.h"

static const struct ka_cloud *cloud_of(const char *templates_yaml) {
        return fixture_cloud("", templates_yaml);
}

static cJSON *json(const char *text) {
        cJSON *j = cJSON_Parse(text);
        if (!j)
                abort();
        return j;
}

static const struct ka_container *container(const struct ka_template *t, const char *name) {
        for (size_t i = 0; i < t->n_containers; i++)
                if (strcmp(t->containers[i]->name, name) == 0)
                        return t->containers[i];
        return NULL;
}

static void test_combine_templates(void) {
        const struct ka_template *p, *c, *c2, *c3;
        struct ka_template *r;

        /* shouldReturnPodTemplateWhenParentIsNull, shouldReturnContainerTemplateWhenParentIsNull */
        c = fixture_template("{name: t, label: l, serviceAccount: sa, containers: [{name: jnlp, image: 'jnlp:2'}]}");
        r = ka_template_combine(NULL, c);
        ok(strcmp(r->name, "t") == 0 && strcmp(r->service_account, "sa") == 0 && r->n_containers == 1,
           "combine(null, template) is the template");
        ok(r->containers[0] == c->containers[0], "combine(null, container) is the same container");
        ka_template_free(r);

        /* shouldOverrideTheImageAndInheritTheRest */
        p = fixture_template("{name: p, containers: [{name: maven, image: 'maven:1', command: 'sh -c', args: cat}]}");
        c = fixture_template("{name: c, containers: [{name: maven, image: 'maven:2'}]}");
        r = ka_template_combine(p, c);
        const struct ka_container *m = container(r, "maven");
        ok(m && strcmp(m->image, "maven:2") == 0, "child image overrides");
        ok(m && strcmp(m->args, "cat") == 0 && strcmp(m->command, "sh -c") == 0, "parent args and command inherited");
        ok(m && m->from[KA_CF_IMAGE].tmpl == c && m->from[KA_CF_ARGS].tmpl == p, "each field knows its template");
        ka_template_free(r);

        /* shouldOverrideServiceAccountIfSpecified */
        p = fixture_template("{name: p, serviceAccount: sa}");
        c = fixture_template("{name: c, serviceAccount: sa1}");
        c2 = fixture_template("{name: c2}");
        r = ka_template_combine(p, c);
        is_str(r->service_account, "sa1", "child serviceAccount wins");
        ka_template_free(r);
        r = ka_template_combine(p, c2);
        is_str(r->service_account, "sa", "parent serviceAccount kept when the child has none");
        ka_template_free(r);

        /* shouldOverrideNodeSelectorIfSpecified */
        p = fixture_template("{name: p, nodeSelector: 'key:value'}");
        c = fixture_template("{name: c, nodeSelector: 'key:value1'}");
        r = ka_template_combine(p, c);
        is_str(r->node_selector, "key:value1", "child nodeSelector replaces the whole string");
        ka_template_free(r);
        r = ka_template_combine(p, c2);
        is_str(r->node_selector, "key:value", "parent nodeSelector kept");
        ka_template_free(r);

        /* shouldCombineAllImagePullSecrets */
        p = fixture_template("{name: p, imagePullSecrets: [{name: s1}]}");
        c = fixture_template("{name: c, imagePullSecrets: [{name: s1}, {name: s2}, {name: s3}]}");
        c2 = fixture_template("{name: c2, imagePullSecrets: [{name: s2}, {name: s3}]}");
        c3 = fixture_template("{name: c3}");
        const struct ka_template *children[] = {c, c2, c3};
        const size_t want_secrets[] = {3, 3, 1};
        for (size_t i = 0; i < 3; i++) {
                r = ka_template_combine(p, children[i]);
                is_int(r->n_image_pull_secrets, want_secrets[i], "image pull secrets united (%zu)", i);
                ka_template_free(r);
        }

        /* shouldCombineAllAnnotations */
        p = fixture_template("{name: p, annotations: [{key: key1, value: value1}, {key: key2, value: value2}]}");
        c = fixture_template("{name: c, annotations: [{key: key1, value: value3}]}");
        r = ka_template_combine(p, c);
        ok(r->n_annotations == 2 && strcmp(r->annotations[0]->key, "key1") == 0 &&
                   strcmp(r->annotations[0]->value, "value3") == 0,
           "annotations united, the child's first and winning");
        ka_template_free(r);

        /* shouldDropNoDataWhenIdentical */
        p = fixture_template(
                "{name: t, namespace: ns, label: l, serviceAccount: sa, nodeSelector: 'k=v', "
                "nodeUsageMode: EXCLUSIVE, imagePullSecrets: [{name: secret1}], inheritFrom: x, instanceCap: 99, "
                "yaml: 'spec: {}'}");
        r = ka_template_combine(p, p);
        ok(strcmp(r->name, "t") == 0 && strcmp(r->namespace_, "ns") == 0 && strcmp(r->label, "l") == 0 &&
                   strcmp(r->service_account, "sa") == 0 && strcmp(r->node_selector, "k=v") == 0 &&
                   r->node_usage_mode == KA_USAGE_EXCLUSIVE && r->n_image_pull_secrets == 1 &&
                   strcmp(r->inherit_from, "x") == 0 && r->instance_cap == 99,
           "combining a template with itself keeps every value");
        is_int(r->n_yamls, 2, "and has its yaml twice");
        ka_template_free(r);

        /* shouldCombineAllPodKeyValueEnvVars / SecretEnvVars, at pod and container level */
        p = fixture_template("{name: p, envVars: [{envVar: {key: key-1, value: v}}], "
                             "containers: [{name: a, image: a, envVars: [{secretEnvVar: {key: key-1, secretName: s, "
                             "secretKey: k}}]}]}");
        c = fixture_template(
                "{name: c, envVars: [{envVar: {key: key-2, value: v}}, {secretEnvVar: {key: key-3, secretName: s, "
                "secretKey: k}}], containers: [{name: a, image: a, envVars: [{envVar: {key: key-2, value: v}}, "
                "{envVar: {key: key-3, value: v}}]}]}");
        r = ka_template_combine(p, c);
        ok(r->n_env == 3 && strcmp(r->env[0]->key, "key-1") == 0 && strcmp(r->env[1]->key, "key-2") == 0 &&
                   strcmp(r->env[2]->key, "key-3") == 0,
           "pod env vars united in order");
        m = container(r, "a");
        ok(m && m->n_env == 3 && strcmp(m->env[0]->key, "key-1") == 0 && m->env[0]->secret &&
                   strcmp(m->env[2]->key, "key-3") == 0,
           "container env vars united in order");
        ka_template_free(r);
        /* shouldFilterOutNullOrEmpty...EnvVars: an empty key is dropped (with a warning) */
        p = fixture_template("{name: p, envVars: [{envVar: {key: '', value: v}}], "
                             "containers: [{name: a, image: a, envVars: [{secretEnvVar: {key: ' ', secretName: s, "
                             "secretKey: k}}]}]}");
        r = ka_template_combine(p, p);
        ok(r->n_env == 0 && container(r, "a")->n_env == 0, "env vars without a name are dropped");
        ka_template_free(r);

        /* childShouldOverrideParentActiveDeadlineSeconds, shouldCombineActiveDeadlineSeconds */
        p = fixture_template("{name: p, activeDeadlineSeconds: 1}");
        c = fixture_template("{name: c, activeDeadlineSeconds: 2}");
        r = ka_template_combine(p, c);
        is_int(r->active_deadline_seconds, 2, "child activeDeadlineSeconds wins");
        ka_template_free(r);
        r = ka_template_combine(p, c2);
        is_int(r->active_deadline_seconds, 1, "parent activeDeadlineSeconds kept");
        ka_template_free(r);

        /* shouldCombineAllMounts: volumes by mount path */
        p = fixture_template(
                "{name: p, volumes: [{hostPathVolume: {hostPath: /host/mnt1, mountPath: /container/mnt1}}, "
                "{hostPathVolume: {hostPath: /host/mnt2, mountPath: /container/mnt2}}]}");
        c = fixture_template(
                "{name: c, volumes: [{hostPathVolume: {hostPath: /host/mnt3, mountPath: /container/mnt3}}, "
                "{hostPathVolume: {hostPath: /host/mnt1, mountPath: /container/mnt4}}]}");
        r = ka_template_combine(p, c);
        is_int(r->n_volumes, 4, "volumes at four mount paths are all kept");
        ka_template_free(r);
        c = fixture_template("{name: c, volumes: [{emptyDirVolume: {mountPath: /container/mnt2/}}]}");
        r = ka_template_combine(p, c);
        ok(r->n_volumes == 2 && strcmp(r->volumes[1]->symbol, "emptyDirVolume") == 0,
           "a child volume at the same (normalised) mount path replaces the parent's");
        ka_template_free(r);

        /* shouldCombineAllPorts: by name */
        p = fixture_template("{name: p, containers: [{name: a, image: a, ports: [{name: port-1, containerPort: 1}]}]}");
        c = fixture_template("{name: c, containers: [{name: a, image: a}]}");
        r = ka_template_combine(p, c);
        is_int(container(r, "a")->n_ports, 1, "port-1 + nothing = port-1");
        ka_template_free(r);
        c = fixture_template("{name: c, containers: [{name: a, image: a, ports: [{name: port-2, containerPort: 2}]}]}");
        r = ka_template_combine(p, c);
        is_int(container(r, "a")->n_ports, 2, "port-1 + port-2 = both");
        ka_template_free(r);
        c = fixture_template("{name: c, containers: [{name: a, image: a, ports: [{name: port-1, containerPort: 3}]}]}");
        r = ka_template_combine(p, c);
        ok(container(r, "a")->n_ports == 1 && container(r, "a")->ports[0]->container_port == 3,
           "a child port with the same name replaces the parent's");
        ka_template_free(r);

        /* shouldCombineAllResources */
        p = fixture_template(
                "{name: p, containers: [{name: a, image: a, resourceLimitCpu: '1', resourceLimitMemory: 1Gi, "
                "resourceRequestCpu: 100m, resourceRequestMemory: 156Mi}]}");
        c = fixture_template(
                "{name: c, containers: [{name: a, image: a, resourceLimitCpu: '2', resourceLimitMemory: 2Gi, "
                "resourceRequestCpu: 200m, resourceRequestMemory: 256Mi}]}");
        r = ka_template_combine(p, c);
        m = container(r, "a");
        ok(strcmp(m->limits[KA_RES_CPU], "2") == 0 && strcmp(m->limits[KA_RES_MEMORY], "2Gi") == 0 &&
                   strcmp(m->requests[KA_RES_CPU], "200m") == 0 && strcmp(m->requests[KA_RES_MEMORY], "256Mi") == 0,
           "child resources win");
        ka_template_free(r);

        /* booleans: true if the child says true, else the parent's */
        p = fixture_template("{name: p, agentInjection: true, showRawYaml: false, hostNetwork: true, "
                             "containers: [{name: a, image: a, ttyEnabled: true, privileged: true}]}");
        c = fixture_template("{name: c, agentInjection: false, showRawYaml: true, containers: [{name: a, image: a, "
                             "ttyEnabled: false}]}");
        r = ka_template_combine(p, c);
        ok(r->agent_injection == 1 && r->show_raw_yaml == 0 && r->host_network == 1, "template booleans");
        ok(container(r, "a")->tty == 1 && container(r, "a")->privileged == 1, "container booleans");
        ka_template_free(r);

        /* caps and timeouts: the child's unless it is the default */
        p = fixture_template("{name: p, instanceCap: 3, slaveConnectTimeout: 60, idleMinutes: 5}");
        c = fixture_template("{name: c, slaveConnectTimeout: 1000}");
        r = ka_template_combine(p, c);
        ok(r->instance_cap == 3 && r->slave_connect_timeout == 60 && r->idle_minutes == 5,
           "default-valued child fields fall back to the parent's");
        ka_template_free(r);

        /* workspace volume: the child's unless default */
        p = fixture_template("{name: p, workspaceVolume: {hostPathWorkspaceVolume: {hostPath: /w}}}");
        c = fixture_template("{name: c, workspaceVolume: {emptyDirWorkspaceVolume: {memory: false}}}");
        r = ka_template_combine(p, c);
        ok(r->workspace_volume && strcmp(r->workspace_volume->symbol, "hostPathWorkspaceVolume") == 0,
           "a default workspace volume counts as not set");
        ka_template_free(r);

        /* podRetention is not inherited */
        p = fixture_template("{name: p, podRetention: always}");
        r = ka_template_combine(p, c);
        ok(r->pod_retention == NULL, "podRetention is the child's own");
        ka_template_free(r);
}

static void test_unwrap(void) {
        struct ka_diags d = {0};
        struct ka_template *r;
        /* shouldUnwrapParent */
        const struct ka_cloud *cl = cloud_of(
                "          - {name: parent, serviceAccount: sa, nodeSelector: 'key:value', imagePullSecrets: "
                "[{name: secret1}], yaml: 'metadata: {name: Yaml}', agentContainer: agent, agentInjection: true, "
                "showRawYaml: false}\n"
                "          - {name: child, inheritFrom: parent, serviceAccount: sa1, imagePullSecrets: [{name: "
                "secret2}, "
                "{name: secret3}], yaml: 'metadata: {name: Yaml2}'}\n");
        is_int(ka_template_unwrap(cl, cl->templates[1], NULL, 0, &r, &d), 0, "unwrap");
        ok(r->n_image_pull_secrets == 3 && strcmp(r->service_account, "sa1") == 0 &&
                   strcmp(r->node_selector, "key:value") == 0,
           "unwrapped: secrets, serviceAccount, nodeSelector");
        ok(r->n_yamls == 2 && strcmp(r->yamls[0]->text, "metadata: {name: Yaml}") == 0 &&
                   strcmp(r->yamls[1]->text, "metadata: {name: Yaml2}") == 0,
           "yamls: parent's, then child's");
        ok(strcmp(ka_template_agent_container(r), "agent") == 0 && r->agent_injection == 1 && r->show_raw_yaml == 0,
           "agentContainer, agentInjection and showRawYaml inherited");
        ka_template_free(r);

        /* shouldUnwrapMultipleParents */
        cl = cloud_of("          - {name: parent, serviceAccount: sa, nodeSelector: 'key:value', imagePullSecrets: "
                      "[{name: s1}], containers: [{name: jnlp, image: 'jnlp:1'}, {name: maven, image: 'maven:2'}]}\n"
                      "          - {name: template1, inheritFrom: parent, serviceAccount: sa1, imagePullSecrets: "
                      "[{name: s2}], containers: [{name: jnlp, image: 'jnlp:2'}]}\n"
                      "          - {name: template2, imagePullSecrets: [{name: s3}], containers: [{name: maven, "
                      "image: 'maven:2'}]}\n"
                      "          - {name: toUnwrap, inheritFrom: template1 template2}\n");
        is_int(ka_template_unwrap(cl, cl->templates[3], NULL, 0, &r, &d), 0, "unwrap two parents");
        ok(r->n_image_pull_secrets == 3 && strcmp(r->service_account, "sa1") == 0 &&
                   strcmp(r->node_selector, "key:value") == 0 && r->n_containers == 2 &&
                   strcmp(container(r, "maven")->image, "maven:2") == 0 &&
                   strcmp(container(r, "jnlp")->image, "jnlp:2") == 0,
           "later parents override earlier ones");
        ka_template_free(r);

        /* defaultsProviderTemplate: first parent of every template */
        cl = fixture_cloud("        defaultsProviderTemplate: defaults\n",
                           "          - {name: defaults, serviceAccount: dsa, label: d}\n"
                           "          - {name: a, label: a, containers: [{name: c, image: c}]}\n");
        is_int(ka_template_unwrap(cl, cl->templates[1], NULL, 0, &r, &d), 0, "unwrap with a defaults provider");
        is_str(r->service_account, "dsa", "the defaults provider is an implicit first parent");
        ka_template_free(r);
        is_int(ka_template_unwrap(cl, cl->templates[0], NULL, 0, &r, &d), 0, "the defaults provider itself");
        ka_template_free(r);

        /* extra (pipeline) templates inherit from config ones, and the other way round */
        const struct ka_template *pipeline =
                fixture_template("{name: pipe, inheritFrom: a, containers: [{name: p, image: p}]}");
        const struct ka_template *extra[] = {pipeline};
        is_int(ka_template_unwrap(cl, pipeline, extra, 1, &r, &d), 0, "unwrap a template from elsewhere");
        is_int(r->n_containers, 2, "it inherits from the cloud's templates");
        ka_template_free(r);

        /* missing parents are warnings, cycles errors */
        size_t warnings = d.warnings;
        cl = cloud_of("          - {name: a, inheritFrom: 'gone b'}\n          - {name: b}\n");
        is_int(ka_template_unwrap(cl, cl->templates[0], NULL, 0, &r, &d), 0, "a missing parent is ignored");
        is_int(d.warnings, warnings + 1, "with a warning");
        like(d.v[d.n - 1].msg, "inheritFrom: no template named \"gone\" in cloud \"test\"; ignored", "naming it");
        ka_template_free(r);
        const struct ka_template *x = fixture_template("{name: xx, inheritFrom: yy}");
        const struct ka_template *y = fixture_template("{name: yy, inheritFrom: xx}");
        const struct ka_template *xy[] = {x, y};
        r = NULL;
        is_int(ka_template_unwrap(NULL, x, xy, 2, &r, &d), -ELOOP, "a cycle is an error");
        ok(r == NULL, "and returns nothing");
        like(d.v[d.n - 1].msg, "inheritance cycle: xx -> yy -> xx", "naming the cycle");
        ka_diags_free(&d);
}

/* The plugin's Pod combine (§3.4, §3.5) on YAML pods. */
static void test_pod_combine(void) {
        cJSON *p, *c, *r;
        /* shouldCombineAllLabels */
        p = json("{\"metadata\":{\"labels\":{\"label1\":\"pod1\",\"label2\":\"pod1\"}}}");
        c = json("{\"metadata\":{\"labels\":{\"label1\":\"pod2\",\"label3\":\"pod2\"}}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(r, "metadata.labels", "{\"label1\":\"pod2\",\"label2\":\"pod1\",\"label3\":\"pod2\"}",
                "labels merged, child wins");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldCombineInitContainers, childShouldOverrideParentInitContainer */
        p = json("{\"spec\":{\"initContainers\":[{\"name\":\"init-parent\",\"image\":\"image-parent\"}]}}");
        c = json("{\"spec\":{\"initContainers\":[{\"name\":\"init-child\",\"image\":\"image-child\"}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(r, "spec.initContainers",
                "[{\"name\":\"init-parent\",\"image\":\"image-parent\"},{\"name\":\"init-child\",\"image\":\"image-"
                "child\"}]",
                "init containers combined in order");
        cJSON_Delete(c), cJSON_Delete(r);
        c = json("{\"spec\":{\"initContainers\":[{\"name\":\"init-parent\",\"image\":\"image-child\"}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(r, "spec.initContainers", "[{\"name\":\"init-parent\",\"image\":\"image-child\"}]",
                "a child init container overrides the parent's");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldCombineAllEnvFromSourcesWithoutChangingOrder, shouldFilterOutEnvFromSourcesWithNullOrEmptyKey */
        p = json("{\"spec\":{\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"configMapRef\":{\"name\":\"cm1\"}},"
                 "{\"secretRef\":{\"name\":\"s1\"}}]}]}}");
        c = json("{\"spec\":{\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"configMapRef\":{\"name\":\"cm2\"}},"
                 "{\"secretRef\":{\"name\":\"s2\"}},{},{\"configMapRef\":{\"name\":\"\"}},{\"secretRef\":{}}]}]}}");
        r = ka_pod_combine(p, c, NULL);
        const cJSON *ct = cJSON_GetArrayItem(ka_json_path(r, "spec.containers"), 0);
        is_json(ct, "envFrom",
                "[{\"configMapRef\":{\"name\":\"cm1\"}},{\"secretRef\":{\"name\":\"s1\"}},{\"configMapRef\":"
                "{\"name\":\"cm2\"}},{\"secretRef\":{\"name\":\"s2\"}}]",
                "envFrom: parent's then child's, nameless sources dropped");
        is_json(ct, "securityContext", "(absent)", "no securityContext appears");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldTreatNullEnvFromSouresAsEmpty */
        p = json("{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":null}]}}");
        c = json("{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[]}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(cJSON_GetArrayItem(ka_json_path(r, "spec.containers"), 0), "env", "[]", "null and empty env: empty");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldCombineAllPodMounts */
        p = json("{\"spec\":{\"containers\":[{\"name\":\"jnlp\",\"volumeMounts\":[{\"mountPath\":\"/host/mnt1\","
                 "\"name\":\"vol-1\"},{\"mountPath\":\"/host/mnt2\",\"name\":\"vol-2\"}]}]}}");
        c = json("{\"spec\":{\"containers\":[{\"name\":\"jnlp\",\"volumeMounts\":[{\"mountPath\":\"/host/mnt3\","
                 "\"name\":\"vol-3\"},{\"mountPath\":\"/host/mnt1\",\"name\":\"vol-4\"}]}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_int(cJSON_GetArraySize(ka_json_path(r, "spec.containers")), 1, "one container");
        is_json(cJSON_GetArrayItem(ka_json_path(r, "spec.containers"), 0), "volumeMounts",
                "[{\"mountPath\":\"/host/mnt1\",\"name\":\"vol-4\"},{\"mountPath\":\"/host/mnt2\",\"name\":\"vol-2\"},"
                "{\"mountPath\":\"/host/mnt3\",\"name\":\"vol-3\"}]",
                "mounts keyed by mount path: vol-2, vol-3, vol-4");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldCombineAllTolerations */
        p = json("{\"spec\":{\"tolerations\":[{\"key\":\"t1\"},{\"key\":\"t2\"}]}}");
        c = json("{\"spec\":{\"tolerations\":[{\"key\":\"t3\"},{\"key\":\"t4\"}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_int(cJSON_GetArraySize(ka_json_path(r, "spec.tolerations")), 4, "all four tolerations");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldCombineContainersInOrder */
        p = json("{\"spec\":{\"containers\":[{\"name\":\"mysql\"},{\"name\":\"jnlp\"}]}}");
        c = json("{\"spec\":{\"containers\":[{\"name\":\"alpine\"},{\"name\":\"node\"},{\"name\":\"mvn\"}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(r, "spec.containers",
                "[{\"name\":\"mysql\"},{\"name\":\"jnlp\"},{\"name\":\"alpine\"},{\"name\":\"node\"},{\"name\":"
                "\"mvn\"}]",
                "containers in order");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldIgnoreContainerEmptyArgs */
        p = json("{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[\"arg1\",\"arg2\"],\"command\":[\"parent "
                 "command\"]}]}}");
        c = json("{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[],\"command\":[]}]}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(cJSON_GetArrayItem(ka_json_path(r, "spec.containers"), 0), "args", "[\"arg1\",\"arg2\"]",
                "empty child args keep the parent's");
        is_json(cJSON_GetArrayItem(ka_json_path(r, "spec.containers"), 0), "command", "[\"parent command\"]",
                "and command");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);

        /* shouldCombineCapabilities, shouldOverrideCapabilitiesWithTemplate, shouldRetainNulls... */
        const char *c1 = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"capabilities\":"
                         "{\"add\":[\"TO_ADD\"]},\"runAsUser\":1000}}]}}";
        const char *c2 = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"capabilities\":"
                         "{\"drop\":[\"TO_DROP\"]}}}]}}";
        const char *c3 = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{}}]}}";
        const char *nosc = "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}";
        const char *priv = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"privileged\":true}}]}}";
        const char *both = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"capabilities\":"
                           "{\"add\":[\"CHILD_ADD\"],\"drop\":[\"CHILD_DROP\"]}}}]}}";
        const char *both_parent = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"capabilities\":"
                                  "{\"add\":[\"P_ADD\"],\"drop\":[\"P_DROP\"]}}}]}}";
        const struct {
                const char *p, *c, *path, *want, *name;
        } caps[] = {
                {c1, c3, "securityContext.capabilities.add", "[\"TO_ADD\"]", "c1 + c3 keeps add"},
                {c3, c1, "securityContext.capabilities.add", "[\"TO_ADD\"]", "c3 + c1 keeps add"},
                {c2, c3, "securityContext.capabilities.drop", "[\"TO_DROP\"]", "c2 + c3 keeps drop"},
                {c1, c2, "securityContext.capabilities", "{\"add\":[\"TO_ADD\"],\"drop\":[\"TO_DROP\"]}",
                 "c1 + c2 has both"},
                {both_parent, both, "securityContext.capabilities",
                 "{\"add\":[\"CHILD_ADD\"],\"drop\":[\"CHILD_DROP\"]}", "the child's add and drop override"},
                {nosc, nosc, "securityContext", "(absent)", "no securityContext + none = none"},
                {nosc, priv, "securityContext.capabilities", "(absent)", "privileged: no capabilities appear"},
                {nosc, priv, "securityContext.privileged", "true", "privileged kept"},
                {c1, c3, "securityContext.runAsUser", "1000", "runAsUser kept"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(caps); i++) {
                p = json(caps[i].p);
                c = json(caps[i].c);
                r = ka_pod_combine(p, c, NULL);
                is_json(cJSON_GetArrayItem(ka_json_path(r, "spec.containers"), 0), caps[i].path, caps[i].want, "%s",
                        caps[i].name);
                cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);
        }

        /* shouldOverrideShareProcessNamespaceIfSpecified */
        static const struct {
                const char *p, *c, *want;
        } spn[] = {
                {"{}", "{\"spec\":{\"shareProcessNamespace\":false}}", "false"},
                {"{}", "{}", "(absent)"},
                {"{\"spec\":{\"shareProcessNamespace\":true}}", "{\"spec\":{\"shareProcessNamespace\":false}}",
                 "false"},
                {"{\"spec\":{\"shareProcessNamespace\":true}}", "{}", "true"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(spn); i++) {
                p = json(spn[i].p);
                c = json(spn[i].c);
                r = ka_pod_combine(p, c, NULL);
                is_json(r, "spec.shareProcessNamespace", spn[i].want, "shareProcessNamespace %s + %s", spn[i].p,
                        spn[i].c);
                cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);
        }

        /* the rest of §3.4 */
        p = json(
                "{\"metadata\":{\"name\":\"p\",\"namespace\":\"pn\",\"generateName\":\"g\"},\"spec\":{\"nodeSelector\":"
                "{\"a\":\"1\"},\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],\"imagePullSecrets\":[{\"name\":\"s\"}],"
                "\"securityContext\":{\"runAsUser\":1,\"fsGroup\":5}}}");
        c = json("{\"metadata\":{\"namespace\":\"cn\",\"generateName\":\"x\"},\"spec\":{\"nodeSelector\":{\"b\":\"2\"},"
                 "\"volumes\":[{\"name\":\"v\",\"hostPath\":{\"path\":\"/h\"}}],\"imagePullSecrets\":[{\"name\":"
                 "\"s\"},{\"name\":\"t\"}],\"securityContext\":{\"runAsUser\":2,\"fsGroup\":6},\"hostNetwork\":true,"
                 "\"schedulerName\":\"custom\"}}");
        r = ka_pod_combine(p, c, NULL);
        is_json(r, "metadata", "{\"name\":\"p\",\"namespace\":\"cn\",\"generateName\":\"g\"}",
                "metadata: name/namespace from the child when set, the rest from the parent");
        is_json(r, "spec.nodeSelector", "{\"a\":\"1\",\"b\":\"2\"}", "nodeSelector merged");
        is_json(r, "spec.volumes", "[{\"name\":\"v\",\"hostPath\":{\"path\":\"/h\"}}]", "volumes replaced by name");
        is_json(r, "spec.imagePullSecrets", "[{\"name\":\"s\"},{\"name\":\"t\"}]", "imagePullSecrets united");
        is_json(r, "spec.securityContext", "{\"runAsUser\":2,\"fsGroup\":5}",
                "pod securityContext: only runAsUser/runAsGroup from the child");
        ok(cJSON_IsTrue(ka_json_path(r, "spec.hostNetwork")), "hostNetwork from the child");
        is_json(r, "spec.schedulerName", "\"custom\"", "schedulerName from the child");
        cJSON_Delete(p), cJSON_Delete(c), cJSON_Delete(r);
}

/* What the plugin's merge drops from a child fragment and strategic keeps
 * (README: "merge versus strategic"). */
static void test_strategic(void) {
        cJSON *p = json("{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"app:1\",\"env\":[{\"name\":\"A\","
                        "\"value\":\"1\"}],\"ports\":[{\"containerPort\":80}]}],\"tolerations\":[{\"key\":\"t1\"}],"
                        "\"securityContext\":{\"runAsUser\":1000},\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}}]}}");
        cJSON *c = json(
                "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"kind\":\"Job\"}]},\"spec\":{\"affinity\":{\""
                "nodeAffinity\":{}},\"runtimeClassName\":\"gvisor\",\"priorityClassName\":\"high\",\"dnsPolicy\":"
                "\"None\",\"terminationGracePeriodSeconds\":5,\"hostAliases\":[{\"ip\":\"10.0.0.1\",\"hostnames\":["
                "\"db\"]}],\"securityContext\":{\"fsGroup\":2000},\"tolerations\":[{\"key\":\"t2\"},{\"key\":"
                "\"t1\"}],\"volumes\":[{\"name\":\"data\",\"hostPath\":{\"path\":\"/d\"}}],\"containers\":[{\"name\":"
                "\"app\",\"env\":[{\"name\":\"B\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":80,\"name\":"
                "\"http\"},{\"containerPort\":443}],\"readinessProbe\":{\"tcpSocket\":{\"port\":80}},\"lifecycle\":{"
                "\"preStop\":{\"exec\":{\"command\":[\"stop\"]}}},\"stdin\":true}]}}");
        static const struct {
                const char *path, *merge, *strategic;
        } cases[] = {
                {"spec.affinity", "(absent)", "{\"nodeAffinity\":{}}"},
                {"spec.runtimeClassName", "(absent)", "\"gvisor\""},
                {"spec.priorityClassName", "(absent)", "\"high\""},
                {"spec.dnsPolicy", "(absent)", "\"None\""},
                {"spec.terminationGracePeriodSeconds", "(absent)", "5"},
                {"spec.hostAliases", "(absent)", "[{\"ip\":\"10.0.0.1\",\"hostnames\":[\"db\"]}]"},
                {"spec.securityContext", "{\"runAsUser\":1000}", "{\"runAsUser\":1000,\"fsGroup\":2000}"},
                {"metadata.ownerReferences", "(absent)", "[{\"uid\":\"u1\",\"kind\":\"Job\"}]"},
                {"spec.tolerations", "[{\"key\":\"t1\"},{\"key\":\"t2\"},{\"key\":\"t1\"}]",
                 "[{\"key\":\"t1\"},{\"key\":\"t2\"}]"},
                {"spec.volumes", "[{\"name\":\"data\",\"hostPath\":{\"path\":\"/d\"}}]",
                 "[{\"name\":\"data\",\"hostPath\":{\"path\":\"/d\"}}]"},
        };
        cJSON *m = ka_pod_combine(p, c, NULL), *s = ka_pod_strategic(p, c, NULL);
        for (size_t i = 0; i < KA_ARRAY_SIZE(cases); i++) {
                is_json(m, cases[i].path, cases[i].merge, "merge: %s", cases[i].path);
                is_json(s, cases[i].path, cases[i].strategic, "strategic: %s", cases[i].path);
        }
        const cJSON *mc = cJSON_GetArrayItem(ka_json_path(m, "spec.containers"), 0);
        const cJSON *sc = cJSON_GetArrayItem(ka_json_path(s, "spec.containers"), 0);
        static const struct {
                const char *path, *merge, *strategic;
        } ccases[] = {
                {"readinessProbe", "(absent)", "{\"tcpSocket\":{\"port\":80}}"},
                {"lifecycle", "(absent)", "{\"preStop\":{\"exec\":{\"command\":[\"stop\"]}}}"},
                {"stdin", "(absent)", "true"},
                {"ports", "[{\"containerPort\":80}]",
                 "[{\"containerPort\":80,\"name\":\"http\"},{\"containerPort\":443}]"},
                {"env", "[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]",
                 "[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]"},
                {"image", "\"app:1\"", "\"app:1\""},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(ccases); i++) {
                is_json(mc, ccases[i].path, ccases[i].merge, "merge: a same-named container's %s", ccases[i].path);
                is_json(sc, ccases[i].path, ccases[i].strategic, "strategic: a same-named container's %s",
                        ccases[i].path);
        }
        cJSON_Delete(m), cJSON_Delete(s), cJSON_Delete(c);

        /* $patch directives, null, and retainKeys on volumes */
        c = json("{\"spec\":{\"containers\":[{\"name\":\"app\",\"$patch\":\"delete\"},{\"name\":\"new\"}],"
                 "\"tolerations\":[{\"$patch\":\"replace\"},{\"key\":\"only\"}],\"securityContext\":{\"$patch\":"
                 "\"delete\"},\"volumes\":[{\"name\":\"data\",\"emptyDir\":{\"medium\":\"Memory\"}}]}}");
        s = ka_pod_strategic(p, c, NULL);
        is_json(s, "spec.containers", "[{\"name\":\"new\"}]", "$patch: delete removes a list item by key");
        is_json(s, "spec.tolerations", "[{\"key\":\"only\"}]", "$patch: replace replaces a list");
        is_json(s, "spec.securityContext", "(absent)", "$patch: delete removes a field");
        is_json(s, "spec.volumes", "[{\"name\":\"data\",\"emptyDir\":{\"medium\":\"Memory\"}}]",
                "volumes of the same name merge their source");
        cJSON_Delete(s), cJSON_Delete(c);
        c = json("{\"spec\":null}");
        s = ka_pod_strategic(p, c, NULL);
        ok(cJSON_Compare(s, p, true), "a fragment's bare `spec:` leaves its parent's spec alone");
        cJSON_Delete(s), cJSON_Delete(c), cJSON_Delete(p);
}

/* inheritYamlMergeStrategy (PodTemplateBuilderTest), and YAML pods of a template. */
static void test_yaml_strategy(void) {
        static const struct {
                const char *parent, *child;
                int tolerations;
        } cases[] = {
                {"yamlMergeStrategy: merge, inheritYamlMergeStrategy: false", "", 0},
                {"yamlMergeStrategy: merge, inheritYamlMergeStrategy: true", "", 1},
                {"yamlMergeStrategy: override, inheritYamlMergeStrategy: true", "", 0},
                {"yamlMergeStrategy: merge, inheritYamlMergeStrategy: true", ", yamlMergeStrategy: override", 0},
                {"yamlMergeStrategy: override, inheritYamlMergeStrategy: true", ", yamlMergeStrategy: merge", 1},
                {"yamlMergeStrategy: strategic, inheritYamlMergeStrategy: true", "", 1},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *text = ka_asprintf(
                        "          - {name: parent, %s, yaml: 'spec: {tolerations: [{key: a, operator: Exists}]}'}\n"
                        "          - {name: child, inheritFrom: parent, yaml: 'spec:'%s}\n",
                        cases[i].parent, cases[i].child);
                const struct ka_cloud *cl = cloud_of(text);
                struct ka_diags d = {0};
                struct ka_template *r;
                ka_template_unwrap(cl, cl->templates[1], NULL, 0, &r, &d);
                cJSON *pod = ka_template_yaml_pod(r, NULL);
                is_int(cJSON_GetArraySize(ka_json_path(pod, "spec.tolerations")), cases[i].tolerations,
                       "parent {%s}, child {%s}", cases[i].parent, cases[i].child + (*cases[i].child ? 2 : 0));
                cJSON_Delete(pod);
                ka_template_free(r);
                ka_diags_free(&d);
        }
        /* testParseYaml; octal and decimal modes parse alike */
        const struct ka_template *t = fixture_template("{name: t, yaml: '{}'}");
        cJSON *pod = ka_template_yaml_pod(t, NULL);
        is_json(pod, "", "{}", "yaml '{}' is an empty pod");
        cJSON_Delete(pod);
        t = fixture_template("{name: t, yaml: ''}");
        ok(t->n_yamls == 0 && ka_template_yaml_pod(t, NULL) == NULL, "a blank yaml is no fragment");
        const char *octal = "{name: t, yaml: 'spec: {volumes: [{name: a, configMap: {name: c, defaultMode: 0755}}, "
                            "{name: b, secret: {secretName: s, defaultMode: 0744, items: [{key: k, path: p, mode: "
                            "0400}]}}, {name: c, projected: {defaultMode: 0644}}]}'}";
        const char *decimal = "{name: t, yaml: 'spec: {volumes: [{name: a, configMap: {name: c, defaultMode: 493}}, "
                              "{name: b, secret: {secretName: s, defaultMode: 484, items: [{key: k, path: p, mode: "
                              "256}]}}, {name: c, projected: {defaultMode: 420}}]}'}";
        cJSON *o = ka_template_yaml_pod(fixture_template(octal), NULL),
              *d = ka_template_yaml_pod(fixture_template(decimal), NULL);
        ok(cJSON_Compare(o, d, true), "YAML 1.1 octal modes read as octal (0755 = 493)");
        cJSON_Delete(o), cJSON_Delete(d);
}

static void test_labels(void) {
        /* shouldSanitizeJenkinsLabel */
        static const char *const sanitize[][2] = {
                {"foo", "foo"},
                {"foo bar #3", "foo_bar__3"},
                {"This/Thing", "This_Thing"},
                {"/whatever", "xwhatever"},
                {"way-way-way-too-prolix-for-the-sixty-three-character-limit-in-kubernetes",
                 "xprolix-for-the-sixty-three-character-limit-in-kubernetes"},
                {"label1 label2", "label1_label2"},
                {"label1 label2 verylooooooooooooooooooooooooooooonglabelover63chars",
                 "bel2_verylooooooooooooooooooooooooooooonglabelover63chars"},
                {":foo:bar", "xfoo_bar"},
                {":foo:bar:", "xfoo_barx"},
                {"http://jenkins.example.com/", "http___jenkins_example_comx"},
                {"0123456789012345678901234567890123456789012345678901234567_",
                 "23456789012345678901234567890123456789012345678901234567x"},
                {"caf\xc3\xa9 \xf0\x9f\x90\xb3", "caf__x"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(sanitize); i++) {
                _cleanup_free_ char *s = ka_label_sanitize(sanitize[i][0]);
                is_str(s, sanitize[i][1], "sanitizeLabel(%s)", sanitize[i][0]);
        }
        /* testValidateLabel */
        static const char *const valid[] = {"1",    "a",    "12",    "ab",          "123",   "abc",
                                            "1234", "abcd", "mypod", "mypodNested", "x-_.z", ""};
        for (size_t i = 0; i < KA_ARRAY_SIZE(valid); i++)
                ok(ka_label_value_valid(valid[i]), "valid label value \"%s\"", valid[i]);
        char l63[64], l64[65];
        memset(l63, 'a', 63), l63[63] = '\0';
        memset(l64, 'a', 64), l64[64] = '\0';
        ok(ka_label_value_valid(l63), "63 characters are valid");
        const char *const invalid[] = {"one two", "-x", l64};
        for (size_t i = 0; i < KA_ARRAY_SIZE(invalid); i++)
                ok(!ka_label_value_valid(invalid[i]), "invalid label value \"%.20s\"", invalid[i]);

        /* the template label map (PodTemplateJenkinsTest) */
        _cleanup_free_ char *d1 = ka_label_digest("foo");
        _cleanup_free_ char *d2 = ka_label_digest("foo bar");
        _cleanup_free_ char *d3 = ka_label_digest(NULL);
        is_str(d1, "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", "label digest of foo");
        is_str(d2, "3773dea65156909838fa6c22825cafe090ff8030", "label digest of \"foo bar\"");
        is_str(d3, "0", "no label: digest 0");

        /* label atoms */
        char **atoms = ka_label_atoms("  foo bar\t\"with space\" 'it''s' ");
        ok(ka_strv_len(atoms) == 4 && strcmp(atoms[2], "with space") == 0 && strcmp(atoms[3], "its") == 0,
           "label atoms: whitespace-separated, quotes group");
        ka_strv_free(atoms);
        atoms = ka_label_atoms(NULL);
        ok(atoms && !atoms[0], "no label: no atoms");
        ka_strv_free(atoms);
}

static void test_expressions(void) {
        char *atoms_foo_bar[] = {"foo", "bar", NULL};
        static const struct {
                const char *expr;
                bool want;
                const char *canonical;
        } cases[] = {
                {"foo", true, "foo"},
                {"baz", false, "baz"},
                {"foo && bar", true, "foo&&bar"},
                {"foo&&baz", false, "foo&&baz"},
                {"baz || bar", true, "baz||bar"},
                {"!baz", true, "!baz"},
                {"!foo", false, "!foo"},
                {"foo -> bar", true, "foo->bar"},
                {"foo -> baz", false, "foo->baz"},
                {"baz -> nothing", true, "baz->nothing"},
                {"foo <-> bar", true, "foo<->bar"},
                {"foo <-> baz", false, "foo<->baz"},
                {"baz <-> qux", true, "baz<->qux"},
                {"(foo || baz) && !qux", true, "(foo||baz)&&!qux"},
                {"foo || baz && qux", true, "foo||baz&&qux"},
                {"(foo || baz) && qux", false, "(foo||baz)&&qux"},
                {"!(foo && bar)", false, "!(foo&&bar)"},
                {"a || b -> c <-> d", false, "a||b->c<->d"},
                {"\"foo\" && \"b\\\"r\"", false, "foo&&\"b\\\"r\""},
                {"my-label", false, "my-label"},
                {"foo-", false, "foo-"},
                {"(foo->bar)->baz", false, "(foo->bar)->baz"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(cases); i++) {
                struct ka_labelexpr *e = NULL;
                struct ka_error err = {0};
                if (ka_labelexpr_parse(cases[i].expr, &e, &err) < 0) {
                        ok(false, "parse \"%s\": %s", cases[i].expr, err.msg);
                        continue;
                }
                is_int(ka_labelexpr_eval(e, atoms_foo_bar), cases[i].want, "\"%s\" on {foo, bar}", cases[i].expr);
                _cleanup_free_ char *c = ka_labelexpr_format(e);
                is_str(c, cases[i].canonical, "canonical form of \"%s\"", cases[i].expr);
                ka_labelexpr_free(e);
        }
        static const struct {
                const char *expr, *msg;
        } bad[] = {
                {"", "expected a label, '!' or '(' at the end at column 1"},
                {"foo &&", "expected a label, '!' or '(' at the end at column 7"},
                {"foo bar", "expected '&&', '||', '->' or '<->' at column 5"},
                {"(foo", "unbalanced '(' at column 1"},
                {"foo)", "unbalanced ')' at column 4"},
                {"a -> b -> c", "'->' cannot be chained: add parentheses at column 8"},
                {"!!a", "expected a label, '!' or '(' at column 2"},
                {"a & b", "unexpected character at column 3"},
                {"\"open", "unterminated quoted label at column 1"},
                {"a > b", "unexpected character at column 3"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(bad); i++) {
                struct ka_labelexpr *e = NULL;
                struct ka_error err = {0};
                is_int(ka_labelexpr_parse(bad[i].expr, &e, &err), -EINVAL, "\"%s\" is refused", bad[i].expr);
                like(err.msg, bad[i].msg, "with a located message");
                ok(e == NULL, "and nothing returned");
        }
        char deep[1024];
        memset(deep, '(', 500);
        strcpy(deep + 500, "a");
        struct ka_labelexpr *e = NULL;
        struct ka_error err = {0};
        is_int(ka_labelexpr_parse(deep, &e, &err), -EINVAL, "deep nesting is refused, not a stack overflow");
}

static void test_match(void) {
        const struct ka_config *cfg =
                fixture_config("jenkins:\n  clouds:\n    - kubernetes:\n        name: test\n        templates:\n"
                               "          - {name: multi, label: 'label1 label2'}\n"
                               "          - {name: normal, label: other, nodeUsageMode: NORMAL}\n"
                               "          - {name: maven, label: 'maven java'}\n");
        const struct ka_cloud *cl = cfg->clouds[0];
        const struct ka_cloud *rc;
        const struct ka_template *t;
        struct ka_error err = {0};
        ok(ka_template_match(cfg, NULL, "label1", NULL, 0, &rc, &t, &err) == 0 && rc == cl &&
                   strcmp(t->name, "multi") == 0,
           "a template with two labels serves either (podTemplateWithMultipleLabels)");
        ok(ka_template_match(cfg, cl, "java && !label1", NULL, 0, &rc, &t, &err) == 0 && strcmp(t->name, "maven") == 0,
           "the first template whose atoms satisfy the expression");
        ok(ka_template_match(cfg, NULL, "", NULL, 0, &rc, &t, &err) == 0 && strcmp(t->name, "normal") == 0,
           "an empty label: the first NORMAL template");
        ok(ka_template_match(cfg, NULL, NULL, NULL, 0, &rc, &t, &err) == 0 && strcmp(t->name, "normal") == 0,
           "no label at all: the same");
        const struct ka_template *dyn = fixture_template("{name: pipeline-x, label: dyn}");
        const struct ka_template *extra[] = {dyn};
        ok(ka_template_match(cfg, NULL, "dyn", extra, 1, &rc, &t, &err) == 0 && t == dyn && rc == cl,
           "extra (pipeline) templates count after the cloud's");
        is_int(ka_template_match(cfg, NULL, "gradle", NULL, 0, &rc, &t, &err), -ENOENT, "no match: -ENOENT");
        is_str(err.msg,
               "no template matches the label expression \"gradle\"; templates: multi (label1 label2), normal "
               "(other, NORMAL), maven (maven java)",
               "listing the templates and their labels");
        is_int(ka_template_match(cfg, NULL, "a &&", NULL, 0, &rc, &t, &err), -EINVAL, "a bad expression: -EINVAL");
}

static void test_names(void) {
        /* splitCommandLine */
        static const struct {
                const char *in;
                const char *out; /* words joined by '|' */
        } split[] = {
                {"", NULL},
                {"bash", "bash"},
                {"bash -c \"x y\"", "bash|-c|x y"},
                {"bash -c 'x y'", "bash|-c|x y"},
                {"bash -c 'x''y'", "bash|-c|xy"},
                {"bash -c '\"'\"$folder\"'\"'", "bash|-c|\"$folder\""},
                {"a b c d", "a|b|c|d"},
                {"echo \"I said: 'I am alive'\"", "echo|I said: 'I am alive'"},
                {"curl -k --silent --output=/dev/null \"https://localhost:8080\"",
                 "curl|-k|--silent|--output=/dev/null|https://localhost:8080"},
                {"a '' b", "a||b"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(split); i++) {
                char **w = NULL;
                is_int(ka_split_command_line(split[i].in, &w), 0, "split %s", split[i].in);
                struct ka_buf b = KA_BUF_INIT(0);
                for (size_t j = 0; w && w[j]; j++)
                        ka_buf_printf(&b, "%s%s", j ? "|" : "", w[j]);
                is_str(w ? b.data ? b.data : "" : NULL, split[i].out, "split %s", split[i].in);
                ka_buf_free(&b);
                ka_strv_free(w);
        }
        char **w = NULL;
        ok(ka_split_command_line(NULL, &w) == 0 && !w, "split null is null");
        is_int(ka_split_command_line("echo 'oops", &w), -EINVAL, "an unbalanced quote is refused");

        /* pod names (PodUtilsTest, KubernetesSlaveTest) */
        static const char *const names[][2] = {
                {"foo", "foo-x2345"},
                {"foo bar_cat", "foo-bar-cat-x2345"},
                {NULL, "jenkins-agent-x2345"},
                {"", "jenkins-agent-x2345"},
                {"a name", "a-name-x2345"},
                {"an_other_name", "an-other-name-x2345"},
                {"whatever...", "jenkins-agent-x2345"},
                {"Maven", "maven-x2345"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *n = ka_agent_name(names[i][0], "x2345");
                is_str(n, names[i][1], "agent name for \"%s\"", names[i][0] ? names[i][0] : "(null)");
        }
        char a70[71];
        memset(a70, 'a', 70), a70[70] = '\0';
        _cleanup_free_ char *n = ka_agent_name(a70, "x2345");
        is_int(strlen(n), 63, "a long template name is cut to 57 + '-' + 5");
        char **seen = ka_new0(char *, 1);
        bool unique = true, alphabet = true;
        for (int i = 0; i < 100; i++) {
                _cleanup_free_ char *r = ka_agent_name("foo", NULL);
                alphabet = alphabet && strlen(r) == 9 && strspn(r + 4, "bcdfghjklmnpqrstvwxz0123456789") == 5;
                unique = unique && !ka_strv_contains(seen, r);
                seen = ka_strv_push(seen, r);
        }
        ka_strv_free(seen);
        ok(alphabet, "random suffixes: 5 characters of the plugin's alphabet");
        ok(unique, "100 draws are unique");
        static const char *const dns_ok[] = {"foo", "foo-bar", "foo.bar", "foo.123", "123-foo"};
        static const char *const dns_bad[] = {"foo bar", "-foo", ".foo", "foo-", "Foo", ""};
        for (size_t i = 0; i < KA_ARRAY_SIZE(dns_ok); i++)
                ok(ka_dns_subdomain_valid(dns_ok[i]), "valid name %s", dns_ok[i]);
        for (size_t i = 0; i < KA_ARRAY_SIZE(dns_bad); i++)
                ok(!ka_dns_subdomain_valid(dns_bad[i]), "invalid name \"%s\"", dns_bad[i]);
}

int main(void) {
        ok(fixture_start(), "plugins from the test environment");
        test_combine_templates();
        test_unwrap();
        test_pod_combine();
        test_strategic();
        test_yaml_strategy();
        test_labels();
        test_expressions();
        test_match();
        test_names();
        fixture_end();
        return tap_done();
}
