/* kubeagentd — the provisioning daemon.
 *
 * One process runs the parts its role names, each on its own threads, all
 * joined by the bus (kubeagent.bus):
 *   core    the scheduler (core/provision) and the frontend plugins;
 *   worker  a worker for every cloud of the config (core/provision/worker);
 *   all     both, over inproc:// (the default).
 * The HTTP endpoint (kubeagent.http) serves metrics, health and the
 * scheduler's views, and (kubeagent.templates, role core) the API that
 * registers pod templates at run time.  SIGTERM or SIGINT stops every part without touching
 * an agent, a node or a pod, and exits 0: the next start adopts them. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus/agent.h"
#include "bus/config.h"
#include "config/config.h"
#include "config/document.h"
#include "http/http.h"
#include "http/status.h"
#include "http/templates.h"
#include "plugin/plugin.h"
#include "provision/provision.h"
#include "provision/tmplstore.h"
#include "provision/worker.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/str.h"

#include "register.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: kubeagentd [OPTIONS]\n"
                "\n"
                "Give a Jenkins controller build agents that run as Kubernetes pods.\n"
                "\n"
                "Options:\n"
                "  -c, --config PATH        config file, or folder of *.yaml files\n"
                "                           (default: %s)\n"
                "      --role ROLE          core (the scheduler and the frontends), worker (the\n"
                "                           clouds' Kubernetes side) or all (default)\n"
                "      --ready-fd FD        write \"READY <http-port>\" to FD once running, and close it\n"
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
 * bus without a usable key is refused, never run in clear.  Fills bc. */
static int load_bus(const struct ka_document *doc, struct ka_bus_config *bc) {
        const cJSON *ka = cJSON_GetObjectItemCaseSensitive(doc->root, "kubeagent");
        const cJSON *bus = cJSON_IsObject(ka) ? cJSON_GetObjectItemCaseSensitive(ka, "bus") : NULL;
        struct ka_loc where = ka_document_where(doc, ka ? ka : doc->root);
        struct kubeagent_config_source src = ka_cfgsrc(cJSON_IsNull(bus) ? NULL : bus, doc->locs, where);
        struct ka_diags diags = {0};
        int r = ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, bc, &diags);
        const char *key;
        struct ka_error err = {0};
        if (r == 0 && (r = ka_bus_config_validate(bc, &key, &err)) < 0) {
                struct ka_loc l = ka_cfgsrc_where(&src, key);
                ka_diags_add(&diags, KA_DIAG_ERROR, l.file, l.line, l.col, "%s", err.msg);
        }
        log_diags(&diags);
        ka_diags_free(&diags);
        return r;
}

/* ---- the parts ---- */

struct frontend_thread {
        const struct ka_frontend *fe;
        struct ka_bus_agent *agent;
        pthread_t thread;
        bool started;
};

struct daemon {
        const char *role;
        bool core, worker;
        struct ka_document doc;
        struct ka_registry reg;
        struct ka_config *cfg;
        struct ka_bus_config bus;
        struct ka_http_config http_cfg;
        struct ka_prov_config prov_cfg;
        struct ka_prov *prov;
        pthread_t prov_thread;
        bool prov_started;
        struct ka_worker *work;
        pthread_t worker_thread;
        bool worker_started;
        struct frontend_thread *fes;
        size_t n_fes;
        struct ka_http *http;
        struct ka_http_status status;
        /* the template registration API (kubeagent.templates given) */
        bool templates;
        struct ka_http_templates_config tmpl_cfg;
        struct ka_tmplstore *store;
        struct ka_register_ctx reg_ctx;
        struct ka_http_templates tmpl_api;
};

/* kubeagent.templates, when given: its keys, its token, and the rule that
 * an endpoint beyond loopback needs one — before anything starts. */
static int load_templates(struct daemon *d) {
        struct kubeagent_config_source src = ka_config_section(d->cfg, "templates");
        if (!src.node)
                return 0;
        d->templates = true;
        struct ka_diags diags = {0};
        int r = ka_cfgmap_fill(ka_http_templates_config_keys, &src, NULL, &d->tmpl_cfg, &diags);
        const char *key;
        struct ka_error err = {0};
        if (r == 0 && (r = ka_http_templates_init(&d->tmpl_api, &d->tmpl_cfg, d->http_cfg.listen, &key, &err)) < 0) {
                struct ka_loc l = ka_cfgsrc_where(&src, key);
                ka_diags_add(&diags, KA_DIAG_ERROR, l.file, l.line, l.col, "%s", err.msg);
        }
        log_diags(&diags);
        ka_diags_free(&diags);
        return r;
}

static void *frontend_main(void *arg) {
        struct frontend_thread *f = arg;
        const struct kubeagent_plugin_handle *p = f->fe->plugin;
        struct ka_error err = {0};
        ka_log_info("frontend", "%s: started", f->fe->name);
        if (p->desc->frontend->run(p->state, f->fe->conf, ka_bus_agent_handle(f->agent), &err) < 0)
                ka_log_error("frontend", "%s stopped: %s", f->fe->name, err.msg);
        return NULL;
}

static const struct ka_host_bus host_bus = {.send = ka_bus_host_send, .recv = ka_bus_host_recv};

static int start(struct daemon *d) {
        struct ka_error err = {0};
        int r;
        if (d->core && d->templates) {
                struct ka_tmplstore_options so = {.cfg = d->cfg,
                                                  .expire_after_ms = d->tmpl_cfg.expire_after,
                                                  .max = (size_t)d->tmpl_cfg.max_templates};
                ka_tmplstore_new(&so, &d->store);
                d->reg_ctx = (struct ka_register_ctx){.cfg = d->cfg, .reg = &d->reg};
                d->tmpl_api.store = d->store;
                d->tmpl_api.parse = ka_register_parse;
                d->tmpl_api.parse_ud = &d->reg_ctx;
        }
        if (d->core) {
                struct ka_prov_options po = {.cfg = d->cfg,
                                             .reg = &d->reg,
                                             .bus = &d->bus,
                                             .gc_period_ms = d->prov_cfg.gc_period,
                                             .templates = d->store};
                if ((r = ka_prov_new(&po, &d->prov, &err)) < 0)
                        goto fail;
                pthread_create(&d->prov_thread, NULL, ka_prov_thread, d->prov);
                d->prov_started = true;
        }
        if (d->worker) {
                struct ka_worker_options wo = {.cfg = d->cfg, .reg = &d->reg, .bus = &d->bus};
                if ((r = ka_worker_new(&wo, &d->work, &err)) < 0)
                        goto fail;
                pthread_create(&d->worker_thread, NULL, ka_worker_thread, d->work);
                d->worker_started = true;
        }
        if (d->core) {
                ka_host_set_bus(&host_bus);
                d->fes = ka_new0(struct frontend_thread, d->cfg->n_frontends + 1);
                for (size_t i = 0; i < d->cfg->n_frontends; i++) {
                        struct frontend_thread *f = &d->fes[d->n_fes++];
                        f->fe = d->cfg->frontends[i];
                        struct ka_bus_agent_options ao = {.role = KA_BUS_ROLE_FRONTEND, .name = f->fe->name};
                        if ((r = ka_bus_agent_new(&d->bus, &ao, NULL, &f->agent, &err)) < 0) {
                                ka_error_prefix(&err, "frontend %s", f->fe->name);
                                goto fail;
                        }
                        pthread_create(&f->thread, NULL, frontend_main, f);
                        f->started = true;
                }
                if (!d->cfg->n_frontends)
                        ka_log_warn(NULL, "no frontend is configured (frontends:): nothing will ask for agents");
        }
        const char *listen = d->http_cfg.listen;
        if (!ka_isempty(listen) && strcmp(listen, "off") != 0) {
                d->status = (struct ka_http_status){.prov = d->prov, .worker = d->work, .role = d->role};
                if ((r = ka_http_new(listen, (size_t)d->http_cfg.max_body, &d->http, &err)) < 0 ||
                    (r = ka_http_status_routes(d->http, &d->status)) < 0 ||
                    (d->store && (r = ka_http_templates_routes(d->http, &d->tmpl_api)) < 0) ||
                    (r = ka_http_start(d->http, &err)) < 0)
                        goto fail;
        }
        return 0;
fail:
        ka_log_error(NULL, "%s", err.msg[0] ? err.msg : strerror(-r));
        return r;
}

/* Stop every part without touching an agent: frontends first (they act on
 * the controller), then the endpoint, then worker and scheduler. */
static void stop(struct daemon *d) {
        for (size_t i = 0; i < d->n_fes; i++)
                if (d->fes[i].agent)
                        ka_bus_agent_cancel(d->fes[i].agent);
        for (size_t i = 0; i < d->n_fes; i++) {
                if (d->fes[i].started)
                        pthread_join(d->fes[i].thread, NULL);
                ka_bus_agent_free(d->fes[i].agent);
        }
        free(d->fes);
        ka_host_set_bus(NULL);
        ka_http_free(d->http);
        if (d->work)
                ka_worker_stop(d->work);
        if (d->prov)
                ka_prov_stop(d->prov);
        if (d->worker_started)
                pthread_join(d->worker_thread, NULL);
        if (d->prov_started)
                pthread_join(d->prov_thread, NULL);
        ka_worker_free(d->work);
        ka_prov_free(d->prov);
        ka_tmplstore_free(d->store);
}

static void count_plugins(const struct ka_registry *reg) {
        struct ka_metric *m = NULL;
        ka_metric_register(NULL, "kubeagent_plugins_loaded", "Plugins loaded, by kind", KUBEAGENT_METRIC_GAUGE, "kind",
                           &m, NULL);
        static const enum kubeagent_plugin_kind kinds[] = {KUBEAGENT_KIND_CREDENTIAL, KUBEAGENT_KIND_VOLUME,
                                                           KUBEAGENT_KIND_RETENTION, KUBEAGENT_KIND_FRONTEND};
        for (size_t k = 0; k < KA_ARRAY_SIZE(kinds); k++) {
                size_t n = 0;
                for (size_t i = 0; i < reg->n; i++)
                        n += reg->v[i]->desc->kind == kinds[k];
                ka_metric_set(m, ka_plugin_kind_name(kinds[k]), (double)n);
        }
}

int main(int argc, char **argv) {
        enum { OPT_LOG_LEVEL = 256, OPT_LOG_FORMAT, OPT_VERSION, OPT_ROLE, OPT_READY_FD };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"role", required_argument, NULL, OPT_ROLE},
                {"ready-fd", required_argument, NULL, OPT_READY_FD},
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
        struct daemon d = {.role = "all"};
        int ready_fd = -1;
        int c;
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case OPT_ROLE:
                        if (strcmp(optarg, "core") && strcmp(optarg, "worker") && strcmp(optarg, "all")) {
                                fprintf(stderr, "kubeagentd: --role must be core, worker or all\n");
                                return 2;
                        }
                        d.role = optarg;
                        break;
                case OPT_READY_FD:
                        if (ka_parse_int(optarg, &ready_fd) < 0 || ready_fd < 0) {
                                fprintf(stderr, "kubeagentd: --ready-fd must be a file descriptor number\n");
                                return 2;
                        }
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
        d.core = strcmp(d.role, "worker") != 0;
        d.worker = strcmp(d.role, "core") != 0;
        ka_log_setup("kubeagentd", level, format);

        /* Signals are taken synchronously by the main thread; every thread
         * started later inherits the mask. */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct ka_diags diags = {0};
        if (ka_document_load(config_path, &d.doc, &diags) < 0) {
                log_diags(&diags);
                ka_diags_free(&diags);
                return 2;
        }
        int rc = 0;
        /* before the first goto: their cleanup runs on every way out */
        _cleanup_(ka_strv_freep) char **extra = NULL, **dirs = NULL;
        if (load_bus(&d.doc, &d.bus) < 0) {
                rc = 2;
                goto out_doc;
        }
        ka_log_info(NULL, "kubeagentd %s starting with %s (role %s)", PACKAGE_VERSION, config_path, d.role);

        extra = ka_document_plugin_path(&d.doc, &diags);
        dirs = ka_plugin_search_path(extra);
        int refused = ka_registry_load_path(&d.reg, dirs, &diags);
        for (size_t i = 0; i < diags.n; i++)
                ka_log(diags.v[i].severity == KA_DIAG_ERROR ? KA_LOG_ERROR : KA_LOG_WARN, "plugin", "%s",
                       diags.v[i].msg);
        ka_diags_free(&diags);
        if (refused) {
                ka_log_error(NULL, "%d plugin(s) refused; fix or remove them", refused);
                rc = 1;
                goto out;
        }
        for (size_t i = 0; i < d.reg.n; i++)
                ka_log_info("plugin", "loaded %s plugin %s %s from %s", ka_plugin_kind_name(d.reg.v[i]->desc->kind),
                            d.reg.v[i]->desc->name, d.reg.v[i]->desc->version ? d.reg.v[i]->desc->version : "",
                            d.reg.v[i]->path);
        count_plugins(&d.reg);

        if (ka_config_load(&d.doc, &d.reg, &d.cfg, &diags) < 0) {
                log_diags(&diags);
                ka_diags_free(&diags);
                rc = 2;
                goto out;
        }
        log_diags(&diags);
        ka_diags_free(&diags);
        struct kubeagent_config_source hsrc = ka_config_section(d.cfg, "http");
        struct kubeagent_config_source psrc = ka_config_section(d.cfg, "provision");
        int hr = ka_cfgmap_fill(ka_http_config_keys, &hsrc, NULL, &d.http_cfg, &diags);
        if (ka_cfgmap_fill(ka_prov_config_keys, &psrc, NULL, &d.prov_cfg, &diags) < 0 || hr < 0) {
                log_diags(&diags);
                ka_diags_free(&diags);
                rc = 2;
                goto out;
        }
        ka_diags_free(&diags);
        if (load_templates(&d) < 0) {
                rc = 2;
                goto out;
        }

        if (start(&d) < 0) {
                rc = 1;
                goto out_stop;
        }
        ka_log_info(NULL, "ready: role %s, %zu plugins, %zu cloud(s), %zu frontend(s), http %s", d.role, d.reg.n,
                    d.cfg->n_clouds, d.core ? d.cfg->n_frontends : 0, d.http ? ka_http_address(d.http) : "off");
        if (ready_fd >= 0) {
                char line[32];
                int n = snprintf(line, sizeof(line), "READY %d\n", d.http ? ka_http_port(d.http) : 0);
                if (write(ready_fd, line, (size_t)n) != n)
                        ka_log_warn(NULL, "--ready-fd %d: %s", ready_fd, strerror(errno));
                close(ready_fd);
        }

        for (;;) {
                int sig;
                if (sigwait(&sigs, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        ka_log_info(NULL, "SIGHUP: configuration reload is not supported yet; ignored");
                        continue;
                }
                ka_log_info(NULL, "%s: stopping; running agents are left as they are", strsignal(sig));
                break;
        }
out_stop:
        stop(&d);
out:
        ka_http_templates_clear(&d.tmpl_api);
        ka_cfgmap_clear(ka_http_templates_config_keys, &d.tmpl_cfg);
        ka_cfgmap_clear(ka_http_config_keys, &d.http_cfg);
        ka_cfgmap_clear(ka_prov_config_keys, &d.prov_cfg);
        ka_config_free(d.cfg);
        ka_registry_free(&d.reg);
out_doc:
        ka_cfgmap_clear(ka_bus_config_keys, &d.bus);
        ka_document_free(&d.doc);
        return rc;
}
