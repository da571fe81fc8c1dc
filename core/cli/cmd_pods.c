/* kubeagent pods — the agent pods of a cloud, with what keeps them from running. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kube/pods.h"
#include "kube/podstatus.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/timeutil.h"

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent [-n NAMESPACE] [--cloud NAME] pods [-l SELECTOR]\n"
                   "\n"
                   "List kubeagent's agent pods (label selector: the cloud's podLabels, or\n"
                   "jenkins=slave) with their phase, age, node, and the reason when not running.\n"
                   "\n"
                   "  -l, --selector SELECTOR  another label selector\n");
}

/* kubectl's short ages: 45s, 12m, 3h, 5d. */
static void age(const char *created, char *buf, size_t size) {
        int64_t t;
        if (!created || ka_time_parse_rfc3339(created, &t) < 0) {
                snprintf(buf, size, "-");
                return;
        }
        int64_t s = (ka_time_wall_ms_real() - t) / 1000;
        if (s < 0)
                s = 0;
        if (s < 120)
                snprintf(buf, size, "%llds", (long long)s);
        else if (s < 7200)
                snprintf(buf, size, "%lldm", (long long)(s / 60));
        else if (s < 172800)
                snprintf(buf, size, "%lldh", (long long)(s / 3600));
        else
                snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

int ka_cmd_pods(struct ka_cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                {"selector", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *selector = NULL;
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(argc, argv, "l:h", options, NULL)) != -1) {
                switch (c) {
                case 'l':
                        selector = optarg;
                        break;
                default:
                        return ka_cli_usage(usage, c == 'h');
                }
        }
        if (optind < argc)
                return ka_cli_usage(usage, false);
        struct ka_cli_kube k;
        int rc = ka_cli_kube_open(cli, &k);
        if (rc)
                return rc;
        struct ka_kube_list_options lo = {.label_selector = selector ? selector : k.selector};
        cJSON *items = NULL;
        struct ka_error err = {0};
        if (ka_kube_pod_list(k.kube, NULL, &lo, &items, NULL, &err) < 0) {
                fprintf(stderr, "kubeagent: %s\n", err.msg);
                ka_cli_kube_close(&k);
                return KA_EXIT_FAILURE;
        }
        if (cJSON_GetArraySize(items) == 0) {
                fprintf(stderr, "kubeagent: no agent pods (%s) in namespace %s\n", lo.label_selector,
                        ka_kube_namespace(k.kube));
        } else {
                printf("%-40s %-10s %-5s %-20s %s\n", "NAME", "PHASE", "AGE", "NODE", "REASON");
                const cJSON *p;
                cJSON_ArrayForEach(p, items) {
                        struct ka_pod_state st;
                        ka_pod_state_of(p, &st);
                        char a[16];
                        age(ka_json_path_str(p, "metadata.creationTimestamp"), a, sizeof(a));
                        const char *node = ka_json_path_str(p, "spec.nodeName");
                        printf("%-40s %-10s %-5s %-20s", ka_json_path_str(p, "metadata.name"), st.phase, a,
                               node ? node : "-");
                        if (st.outlook != KA_POD_RUNNING || st.deleting) {
                                if (st.reason)
                                        printf(" %s", st.reason);
                                if (st.container && st.exit_code >= 0)
                                        printf(" (container %s, exit code %d)", st.container, st.exit_code);
                                else if (st.container)
                                        printf(" (container %s)", st.container);
                                if (st.message)
                                        printf(": %.*s", (int)strcspn(st.message, "\n"), st.message);
                        }
                        printf("\n");
                }
        }
        cJSON_Delete(items);
        ka_cli_kube_close(&k);
        return KA_EXIT_OK;
}
