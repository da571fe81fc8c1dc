/* bench/render: how fast kubeagent renders pods, and in how much memory.
 *
 * A three-level template (base <- java <- app) with YAML fragments merged at
 * each level, containers, env vars and volumes, rendered repeatedly the way
 * the daemon does for each agent (unwrap, YAML merge, render, decorators).
 * Prints renders per second and peak RSS, for `merge` and `strategic`.
 *
 *     make bench && KUBEAGENT_PLUGIN_PATH=plugins/.libs bench/render [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config/config.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static const char config[] =
        "jenkins:\n"
        "  clouds:\n"
        "    - kubernetes:\n"
        "        name: bench\n"
        "        namespace: ci\n"
        "        jenkinsUrl: http://jenkins.ci.svc:8080/\n"
        "        podLabels: [{key: jenkins, value: agent}, {key: team, value: bench}]\n"
        "        templates:\n"
        "          - name: base\n"
        "            yamlMergeStrategy: STRATEGY\n"
        "            inheritYamlMergeStrategy: true\n"
        "            serviceAccount: jenkins-agent\n"
        "            envVars: [{envVar: {key: TZ, value: UTC}}]\n"
        "            yaml: |\n"
        "              spec:\n"
        "                tolerations: [{key: ci, operator: Exists, effect: NoSchedule}]\n"
        "                securityContext: {runAsUser: 1000, fsGroup: 1000}\n"
        "                containers:\n"
        "                  - name: jnlp\n"
        "                    resources: {requests: {cpu: 200m, memory: 512Mi}}\n"
        "          - name: java\n"
        "            inheritFrom: base\n"
        "            volumes: [{hostPathVolume: {hostPath: /var/cache/m2, mountPath: /root/.m2}}]\n"
        "            containers:\n"
        "              - {name: jdk, image: 'eclipse-temurin:21', command: sleep, args: infinity,\n"
        "                 resourceRequestMemory: 1Gi, envVars: [{envVar: {key: JAVA_OPTS, value: -Xmx768m}}]}\n"
        "            yaml: |\n"
        "              spec:\n"
        "                affinity:\n"
        "                  nodeAffinity:\n"
        "                    preferredDuringSchedulingIgnoredDuringExecution:\n"
        "                      - weight: 1\n"
        "                        preference: {matchExpressions: [{key: disk, operator: In, values: [ssd]}]}\n"
        "                containers:\n"
        "                  - name: jdk\n"
        "                    env: [{name: GRADLE_USER_HOME, value: /cache/gradle}]\n"
        "          - name: app\n"
        "            label: app java\n"
        "            inheritFrom: java\n"
        "            annotations: [{key: owner, value: bench}]\n"
        "            containers:\n"
        "              - {name: jdk, image: 'eclipse-temurin:17'}\n"
        "              - {name: db, image: 'postgres:16', envVars: [{envVar: {key: POSTGRES_PASSWORD, value: x}}]}\n"
        "            yaml: |\n"
        "              metadata: {labels: {app: bench}}\n"
        "              spec:\n"
        "                priorityClassName: ci\n"
        "                containers:\n"
        "                  - name: db\n"
        "                    ports: [{containerPort: 5432}]\n";

static long peak_rss_kib(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_maxrss;
}

static int run(const char *strategy, double seconds) {
        char dir[] = "/tmp/ka-bench-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        _cleanup_free_ char *path = ka_path_join(dir, "bench.yaml");
        struct ka_buf text = KA_BUF_INIT(0);
        const char *at = strstr(config, "STRATEGY");
        ka_buf_printf(&text, "%.*s%s%s", (int)(at - config), config, strategy, at + strlen("STRATEGY"));
        struct ka_error err = {0};
        ka_write_file_atomic(path, text.data, text.len, 0644, &err);
        ka_buf_free(&text);

        struct ka_registry reg = {0};
        struct ka_diags d = {0};
        const char *plugins = getenv("KUBEAGENT_PLUGIN_PATH");
        ka_registry_load_dir(&reg, plugins ? plugins : ka_plugin_default_dir(), &d);
        struct ka_document doc;
        struct ka_config *cfg = NULL;
        if (ka_document_load(path, &doc, &d) < 0 || ka_config_load(&doc, &reg, &cfg, &d) < 0) {
                ka_diags_print(&d, stderr);
                fprintf(stderr, "bench/render: set KUBEAGENT_PLUGIN_PATH to the build's plugins/.libs\n");
                return 1;
        }
        const struct ka_cloud *cloud = cfg->clouds[0];
        const struct ka_template *t = ka_cloud_template(cloud, "app");
        struct ka_render_params p = {.agent_name = "app-bench", .secret = "0123456789abcdef"};

        long rss_before = peak_rss_kib();
        int64_t start = ka_time_now_ms(), now = start;
        unsigned long n = 0;
        size_t bytes = 0;
        while (now - start < (int64_t)(seconds * 1000)) {
                for (int i = 0; i < 100; i++, n++) {
                        struct ka_rendered r;
                        if (ka_template_render(cloud, t, &p, &r, &d) < 0) {
                                ka_diags_print(&d, stderr);
                                return 1;
                        }
                        if (n == 0) {
                                char *s = cJSON_PrintUnformatted(r.pod);
                                bytes = strlen(s);
                                free(s);
                        }
                        ka_rendered_free(&r);
                }
                now = ka_time_now_ms();
        }
        double secs = (double)(now - start) / 1000.0;
        printf("render %-9s  %9.0f renders/s  %6.1f us/render  pod %zu bytes of JSON  peak RSS %ld KiB "
               "(%+ld KiB while rendering)\n",
               strategy, (double)n / secs, secs * 1e6 / (double)n, bytes, peak_rss_kib(), peak_rss_kib() - rss_before);
        ka_config_free(cfg);
        ka_document_free(&doc);
        ka_registry_free(&reg);
        ka_diags_free(&d);
        unlink(path);
        rmdir(dir);
        return 0;
}

int main(int argc, char **argv) {
        ka_mem_init();
        double seconds = 2;
        if (argc > 1 && (ka_parse_double(argv[1], &seconds) < 0 || seconds <= 0)) {
                fprintf(stderr, "Usage: bench/render [SECONDS]\n");
                return 2;
        }
        printf("three-level inheritance (base <- java <- app), YAML at each level, %.0f s per strategy\n", seconds);
        return run("merge", seconds) || run("strategic", seconds);
}
