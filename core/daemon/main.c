/* kubeagentd — the provisioning daemon. */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus/config.h"
#include "config/document.h"
#include "plugin/plugin.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: kubeagentd [OPTIONS]\n"
                "\n"
                "Give a Jenkins controller build agents that run as Kubernetes pods.\n"
                "\n"
                "Options:\n"
                "  -c, --config PATH        config file, or folder of *.yaml files\n"
                "                           (default: %s)\n"
                "      --log-level LEVEL    error, warning, info, debug or trace (default: info)\n"
                "      --log-format FORMAT  text or json (default: text)\n"
                "  -h, --help               show this help\n"
                "      --version            show the version\n"
                "\n"
                "SIGTERM or SIGINT stops the daemon and leaves running agents untouched.\n"
                "Exit status: 0 stopped cleanly, 1 runtime failure, 2 usage or config error.\n",
                KA_DEFAULT_CONFIG);
}

static void log_diags(const struct ka_diags *diags) {
        for (size_t i = 0; i < diags->n; i++) {
                const struct ka_diag *d = &diags->v[i];
                enum ka_log_level level = d->severity == KA_DIAG_ERROR ? KA_LOG_ERROR : KA_LOG_WARN;
                if (d->file && d->line)
                        ka_log(level, "config", "%s:%u:%u: %s", d->file, d->line, d->col, d->msg);
                else
                        ka_log(level, "config", "%s%s%s", d->file ? d->file : "", d->file ? ": " : "", d->msg);
        }
}

/* kubeagent.bus must be sound before anything starts: above all, a tcp://
 * bus without a usable key is refused, never run in clear. */
static int check_bus(const struct ka_document *doc) {
        const cJSON *ka = cJSON_GetObjectItemCaseSensitive(doc->root, "kubeagent");
        const cJSON *bus = cJSON_IsObject(ka) ? cJSON_GetObjectItemCaseSensitive(ka, "bus") : NULL;
        struct ka_loc where = ka_document_where(doc, ka ? ka : doc->root);
        struct kubeagent_config_source src = ka_cfgsrc(cJSON_IsNull(bus) ? NULL : bus, doc->locs, where);
        struct ka_bus_config bc = {0};
        struct ka_diags diags = {0};
        int r = ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, &bc, &diags);
        const char *key;
        struct ka_error err = {0};
        if (r == 0 && (r = ka_bus_config_validate(&bc, &key, &err)) < 0) {
                struct ka_loc l = ka_cfgsrc_where(&src, key);
                ka_diags_add(&diags, KA_DIAG_ERROR, l.file, l.line, l.col, "%s", err.msg);
        }
        log_diags(&diags);
        ka_diags_free(&diags);
        ka_cfgmap_clear(ka_bus_config_keys, &bc);
        return r;
}

int main(int argc, char **argv) {
        enum { OPT_LOG_LEVEL = 256, OPT_LOG_FORMAT, OPT_VERSION };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {0},
        };
        ka_mem_init();
        const char *config_path = KA_DEFAULT_CONFIG;
        enum ka_log_level level = KA_LOG_INFO;
        enum ka_log_format format = KA_LOG_TEXT;
        int c;
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case OPT_LOG_LEVEL:
                        if (ka_log_parse_level(optarg, &level) < 0) {
                                fprintf(stderr, "kubeagentd: unknown log level \"%s\"\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_LOG_FORMAT:
                        if (ka_log_parse_format(optarg, &format) < 0) {
                                fprintf(stderr, "kubeagentd: --log-format must be text or json\n");
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        printf("kubeagentd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }
        ka_log_setup("kubeagentd", level, format);

        /* Signals are taken synchronously by the main thread; every thread
         * started later inherits the mask. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct ka_diags diags = {0};
        struct ka_document doc;
        if (ka_document_load(config_path, &doc, &diags) < 0) {
                log_diags(&diags);
                ka_diags_free(&diags);
                return 2;
        }
        if (check_bus(&doc) < 0) {
                ka_document_free(&doc);
                return 2;
        }
        ka_log_info(NULL, "kubeagentd %s starting with %s", PACKAGE_VERSION, config_path);

        struct ka_registry reg = {0};
        _cleanup_(ka_strv_freep) char **extra = ka_document_plugin_path(&doc, &diags);
        _cleanup_(ka_strv_freep) char **dirs = ka_plugin_search_path(extra);
        int refused = ka_registry_load_path(&reg, dirs, &diags);
        for (size_t i = 0; i < diags.n; i++)
                ka_log(diags.v[i].severity == KA_DIAG_ERROR ? KA_LOG_ERROR : KA_LOG_WARN, "plugin", "%s",
                       diags.v[i].msg);
        ka_diags_free(&diags);
        int rc = 0;
        if (refused) {
                ka_log_error(NULL, "%d plugin(s) refused; fix or remove them", refused);
                rc = 1;
                goto out;
        }
        for (size_t i = 0; i < reg.n; i++)
                ka_log_info("plugin", "loaded %s plugin %s %s from %s", ka_plugin_kind_name(reg.v[i]->desc->kind),
                            reg.v[i]->desc->name, reg.v[i]->desc->version ? reg.v[i]->desc->version : "",
                            reg.v[i]->path);
        ka_log_info(NULL, "ready: %zu plugins", reg.n);

        for (;;) {
                int sig;
                if (sigwait(&stop, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        ka_log_info(NULL, "SIGHUP: configuration reload is not supported yet; ignored");
                        continue;
                }
                ka_log_info(NULL, "%s: stopping; running agents are left as they are", strsignal(sig));
                break;
        }
out:
        ka_registry_free(&reg);
        ka_document_free(&doc);
        return rc;
}
