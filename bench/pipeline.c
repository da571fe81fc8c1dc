/* bench/pipeline: how fast kubeagent reads Jenkinsfiles, and in how much
 * memory.
 *
 * Two scripts, read repeatedly the way `kubeagent render` and the
 * registration API read them (lex, parse, evaluate, build the templates):
 * a typical Jenkinsfile (a declarative pipeline with stage agents and a
 * nested podTemplate step), and a large generated one (500 stages, each with
 * a podTemplate of two containers, volumes, env vars and YAML).  Prints
 * scripts per second, megabytes per second and peak RSS.
 *
 *     make bench && bench/pipeline [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "pipeline/pipeline.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static const char typical[] =
        "def registry = 'registry.example.com'\n"
        "pipeline {\n"
        "  agent {\n"
        "    kubernetes {\n"
        "      yaml '''\n"
        "        spec:\n"
        "          containers:\n"
        "          - name: node\n"
        "            image: node:22\n"
        "            command: [sleep]\n"
        "            args: [infinity]\n"
        "        '''.stripIndent()\n"
        "      defaultContainer 'node'\n"
        "    }\n"
        "  }\n"
        "  stages {\n"
        "    stage('Test') { steps { sh 'npm test' } }\n"
        "    stage('Build') {\n"
        "      agent { kubernetes { inheritFrom 'java17'; defaultContainer 'build'; podRetention onFailure() } }\n"
        "      steps {\n"
        "        script {\n"
        "          podTemplate(containers: [containerTemplate(name: 'docker', image: \"${registry}/docker:27\",\n"
        "                                   command: 'cat', ttyEnabled: true)],\n"
        "                      volumes: [hostPathVolume(hostPath: '/var/run/docker.sock', mountPath: "
        "'/var/run/docker.sock')]) {\n"
        "            node(POD_LABEL) { container('docker') { sh 'docker build .' } }\n"
        "          }\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n";

static char *large(void) {
        struct ka_buf b = KA_BUF_INIT(0);
        ka_buf_puts(&b, "def tag = '3.9'\npipeline {\n  agent none\n  stages {\n");
        for (int i = 0; i < 500; i++)
                ka_buf_printf(&b,
                              "    stage('s%d') {\n"
                              "      steps {\n"
                              "        podTemplate(label: \"s%d-${tag}\", containers: [\n"
                              "            containerTemplate(name: 'maven', image: \"maven:${tag}\", command: 'cat', "
                              "ttyEnabled: true,\n"
                              "                              envVars: [envVar(key: 'N', value: '%d')]),\n"
                              "            containerTemplate(name: 'db', image: 'postgres:16', ports: "
                              "[portMapping(name: 'pg', containerPort: 5432)])],\n"
                              "          volumes: [emptyDirVolume(mountPath: '/cache'), secretVolume(secretName: "
                              "'s', mountPath: '/s')],\n"
                              "          yaml: '''\n"
                              "spec:\n"
                              "  tolerations: [{key: ci, operator: Exists}]\n"
                              "''') {\n"
                              "          node(\"s%d-${tag}\") { container('maven') { sh 'mvn verify' } }\n"
                              "        }\n"
                              "      }\n"
                              "    }\n",
                              i, i, i, i);
        ka_buf_puts(&b, "  }\n}\n");
        return ka_buf_steal(&b);
}

static long peak_rss_kib(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_maxrss;
}

static void run(const char *what, const char *text, double seconds) {
        size_t len = strlen(text), n = 0, blocks = 0;
        int64_t start = ka_time_now_ms(), now;
        do {
                struct ka_pipeline p;
                struct ka_diags d = {0};
                if (ka_pipeline_read(text, len, "Jenkinsfile", NULL, &p, &d) < 0) {
                        ka_diags_print(&d, stderr);
                        exit(1);
                }
                blocks = p.n_blocks;
                ka_pipeline_free(&p);
                ka_diags_free(&d);
                n++;
                now = ka_time_now_ms();
        } while (now - start < seconds * 1000);
        double s = (double)(now - start) / 1000;
        printf("%-8s %7zu bytes, %3zu blocks: %9.0f scripts/s, %6.1f MB/s\n", what, len, blocks, (double)n / s,
               (double)n * (double)len / s / 1e6);
}

int main(int argc, char **argv) {
        ka_mem_init();
        double seconds = 2;
        if (argc > 1 && (ka_parse_double(argv[1], &seconds) < 0 || seconds <= 0)) {
                fprintf(stderr, "usage: bench/pipeline [SECONDS]\n");
                return 2;
        }
        run("typical", typical, seconds);
        char *big = large();
        run("large", big, seconds);
        free(big);
        printf("peak RSS %ld KiB\n", peak_rss_kib());
        return 0;
}
