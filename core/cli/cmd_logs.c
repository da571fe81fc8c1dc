/* kubeagent logs — a container's log, as the Jenkins plugin's containerLog step. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kube/pods.h"
#include "util/fs.h"
#include "util/str.h"

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent [-n NAMESPACE] [--cloud NAME] logs POD [-c CONTAINER] [--tail N]\n"
                   "                 [--since SECONDS] [--limit-bytes N] [-f]\n"
                   "\n"
                   "Print the log of a container of a pod (the containerLog step, from a shell).\n"
                   "\n"
                   "  -c, --container NAME   the container (required when the pod has several)\n"
                   "      --tail N           only the last N lines\n"
                   "      --since SECONDS    only lines newer than this\n"
                   "      --limit-bytes N    stop after about N bytes\n"
                   "  -f, --follow           keep printing until the container stops\n");
}

static atomic_bool stop;

static void on_signal(int sig) {
        (void)sig;
        atomic_store(&stop, true);
}

static int to_stdout(void *ud, const char *data, size_t len) {
        (void)ud;
        return ka_write_all(STDOUT_FILENO, data, len) < 0 ? -EPIPE : 0;
}

static int number(const char *opt, const char *s, int64_t min, int64_t *ret) {
        if (ka_parse_int64(s, ret) < 0 || *ret < min) {
                fprintf(stderr, "kubeagent logs: %s needs a whole number >= %lld, not \"%s\"\n", opt, (long long)min,
                        s);
                return -EINVAL;
        }
        return 0;
}

int ka_cmd_logs(struct ka_cli *cli, int argc, char **argv) {
        enum { OPT_TAIL = 256, OPT_SINCE, OPT_LIMIT };
        static const struct option options[] = {
                {"container", required_argument, NULL, 'c'},
                {"tail", required_argument, NULL, OPT_TAIL},
                {"since", required_argument, NULL, OPT_SINCE},
                {"limit-bytes", required_argument, NULL, OPT_LIMIT},
                {"follow", no_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        struct ka_kube_log_options lo = KA_KUBE_LOG_DEFAULTS;
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(argc, argv, "c:fh", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        lo.container = optarg;
                        break;
                case OPT_TAIL:
                        if (number("--tail", optarg, 0, &lo.tail_lines) < 0)
                                return KA_EXIT_USAGE;
                        break;
                case OPT_SINCE:
                        if (number("--since", optarg, 1, &lo.since_seconds) < 0)
                                return KA_EXIT_USAGE;
                        break;
                case OPT_LIMIT:
                        if (number("--limit-bytes", optarg, 1, &lo.limit_bytes) < 0)
                                return KA_EXIT_USAGE;
                        break;
                case 'f':
                        lo.follow = true;
                        break;
                default:
                        return ka_cli_usage(usage, c == 'h');
                }
        }
        if (optind != argc - 1)
                return ka_cli_usage(usage, false);
        const char *pod = argv[optind];
        struct ka_cli_kube k;
        int rc = ka_cli_kube_open(cli, &k);
        if (rc)
                return rc;
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        struct ka_error err = {0};
        int r = ka_kube_pod_logs(k.kube, NULL, pod, &lo, to_stdout, NULL, &stop, &err);
        ka_cli_kube_close(&k);
        if (r == -ECANCELED || r == -EPIPE)
                return KA_EXIT_OK; /* interrupted, or the reader went away */
        if (r < 0) {
                fprintf(stderr, "kubeagent: %s\n", err.msg);
                return KA_EXIT_FAILURE;
        }
        return KA_EXIT_OK;
}
