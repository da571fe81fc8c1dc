/* kubeagent — the command-line tool. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

static const struct ka_cli_command commands[] = {
        {"plugins", ka_cmd_plugins, "list the loaded plugins and their config keys"},
        {"check", ka_cmd_check, "validate a config and summarise its clouds and templates"},
        {"render", ka_cmd_render, "print the pod a template renders to"},
        {"pods", ka_cmd_pods, "list the agent pods of a cloud"},
        {"logs", ka_cmd_logs, "print (or follow) the log of a container of a pod"},
        {"doctor", ka_cmd_doctor, "check the connection, identity and RBAC permissions kubeagent needs"},
        {"exec", ka_cmd_exec, "run a command in a container of a pod (the container step)"},
        {"gc", ka_cmd_gc, "run one garbage collection of orphan pods and nodes through kubeagentd"},
};

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent [OPTIONS] COMMAND [ARGS...]\n"
                   "\n"
                   "Jenkins build agents as Kubernetes pods: inspect, render and operate.\n"
                   "\n"
                   "Commands:\n");
        for (size_t i = 0; i < KA_ARRAY_SIZE(commands); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fprintf(f,
                "\n"
                "Options:\n"
                "  -c, --config PATH        config file, or folder of *.yaml files\n"
                "                           (default: %s)\n"
                "      --kubeconfig FILE    kubeconfig to use instead of the config's credentials\n"
                "      --context NAME       kubeconfig context\n"
                "  -n, --namespace NS       namespace\n"
                "      --cloud NAME         which cloud of the config to use\n"
                "      --as USER            impersonate USER (overrides the kubeconfig's as)\n"
                "      --as-group GROUP     impersonate GROUP too, repeatable (replaces as-groups)\n"
                "      --as-uid UID         impersonate UID (overrides the kubeconfig's as-uid)\n"
                "      --log-http           log each Kubernetes API request and answer (secrets hidden)\n"
                "      --log-level LEVEL    error, warning, info, debug or trace (default: warning)\n"
                "      --log-format FORMAT  text or json\n"
                "  -v, --verbose            same as --log-level debug\n"
                "  -h, --help               show this help\n"
                "      --version            show the version\n"
                "\n"
                "Run 'kubeagent COMMAND --help' for a command's options.\n"
                "Exit status: 0 success, 1 runtime failure, 2 usage or config error.\n",
                KA_DEFAULT_CONFIG);
}

int main(int argc, char **argv) {
        enum {
                OPT_LOG_LEVEL = 256,
                OPT_LOG_FORMAT,
                OPT_VERSION,
                OPT_KUBECONFIG,
                OPT_CONTEXT,
                OPT_CLOUD,
                OPT_LOG_HTTP,
                OPT_AS,
                OPT_AS_GROUP,
                OPT_AS_UID
        };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
                {"context", required_argument, NULL, OPT_CONTEXT},
                {"namespace", required_argument, NULL, 'n'},
                {"cloud", required_argument, NULL, OPT_CLOUD},
                {"log-http", no_argument, NULL, OPT_LOG_HTTP},
                {"as", required_argument, NULL, OPT_AS},
                {"as-group", required_argument, NULL, OPT_AS_GROUP},
                {"as-uid", required_argument, NULL, OPT_AS_UID},
                {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {0},
        };
        ka_mem_init();
        ka_log_setup("kubeagent", KA_LOG_WARN, KA_LOG_TOOL);
        struct ka_cli cli = {0};
        /* --as-group values (at most one per argument) */
        _cleanup_free_ const char **as_groups = ka_new0(const char *, (size_t)argc + 1);
        size_t n_as_groups = 0;
        int c;
        /* '+': stop at the command name; the command parses the rest */
        while ((c = getopt_long(argc, argv, "+c:n:vh", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        cli.config_path = optarg;
                        break;
                case OPT_KUBECONFIG:
                        cli.kubeconfig = optarg;
                        break;
                case OPT_CONTEXT:
                        cli.context = optarg;
                        break;
                case 'n':
                        cli.namespace_ = optarg;
                        break;
                case OPT_CLOUD:
                        cli.cloud = optarg;
                        break;
                case OPT_LOG_HTTP:
                        cli.log_http = true;
                        break;
                case OPT_AS:
                        cli.as_user = optarg;
                        break;
                case OPT_AS_UID:
                        cli.as_uid = optarg;
                        break;
                case OPT_AS_GROUP:
                        as_groups[n_as_groups++] = optarg;
                        cli.as_groups = as_groups;
                        break;
                case OPT_LOG_LEVEL: {
                        enum ka_log_level l;
                        if (ka_log_parse_level(optarg, &l) < 0) {
                                fprintf(stderr, "kubeagent: unknown log level \"%s\"\n", optarg);
                                return KA_EXIT_USAGE;
                        }
                        ka_log_set_level(l);
                        break;
                }
                case OPT_LOG_FORMAT: {
                        enum ka_log_format fmt;
                        if (ka_log_parse_format(optarg, &fmt) < 0) {
                                fprintf(stderr, "kubeagent: --log-format must be text or json\n");
                                return KA_EXIT_USAGE;
                        }
                        /* tools keep their short text lines; json is json */
                        ka_log_setup("kubeagent",
                                     ka_log_enabled(KA_LOG_DEBUG)  ? KA_LOG_DEBUG
                                     : ka_log_enabled(KA_LOG_INFO) ? KA_LOG_INFO
                                                                   : KA_LOG_WARN,
                                     fmt == KA_LOG_JSON ? KA_LOG_JSON : KA_LOG_TOOL);
                        break;
                }
                case 'v':
                        ka_log_set_level(KA_LOG_DEBUG);
                        break;
                case 'h':
                        usage(stdout);
                        return KA_EXIT_OK;
                case OPT_VERSION:
                        printf("kubeagent %s\n", PACKAGE_VERSION);
                        return KA_EXIT_OK;
                default:
                        usage(stderr);
                        return KA_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return KA_EXIT_USAGE;
        }
        const char *name = argv[optind];
        if (strcmp(name, "help") == 0) {
                usage(stdout);
                return KA_EXIT_OK;
        }
        if (strcmp(name, "version") == 0) {
                printf("kubeagent %s\n", PACKAGE_VERSION);
                return KA_EXIT_OK;
        }
        int rc = -1;
        for (size_t i = 0; i < KA_ARRAY_SIZE(commands); i++)
                if (strcmp(commands[i].name, name) == 0) {
                        optind++;
                        /* the command sees its own name as argv[0] */
                        rc = commands[i].run(&cli, argc - optind + 1, argv + optind - 1);
                        break;
                }
        if (rc < 0) {
                fprintf(stderr, "kubeagent: unknown command \"%s\" (see 'kubeagent --help')\n", name);
                rc = KA_EXIT_USAGE;
        }
        if (cli.have_plugins)
                ka_registry_free(&cli.plugins);
        ka_diags_free(&cli.plugin_diags);
        if (cli.have_doc)
                ka_document_free(&cli.doc);
        return rc;
}
