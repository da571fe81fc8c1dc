/* kubeagent check -c CONFIG: validate a config, report every problem with
 * file:line:col, and print one line per cloud and per template. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus/config.h"
#include "cli.h"
#include "config/config.h"
#include "http/http.h"
#include "http/templates.h"
#include "provision/provision.h"
#include "util/mem.h"
#include "util/str.h"

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent check [-c CONFIG]\n"
                   "       kubeagent check [-c CONFIG] [--cloud NAME] JENKINSFILE\n"
                   "\n"
                   "Validate a config file (or folder): every error and warning with file:line:col,\n"
                   "then one line per cloud and per template.  Exit 2 when there are errors.\n"
                   "\n"
                   "With a Jenkinsfile, validate the pod templates of its podTemplate steps and\n"
                   "kubernetes agents the same way, with the config's clouds and templates for\n"
                   "inheritFrom when there is a config; --cloud names the cloud of the blocks that\n"
                   "do not name one (default: the first).\n");
}

static const char *or_dash(const char *s) {
        return s ? s : "-";
}

static void print_cap(const char *what, int64_t cap) {
        if (cap == KA_UNLIMITED)
                printf(", %s unlimited", what);
        else
                printf(", %s %lld", what, (long long)cap);
}

static void print_cloud(const struct ka_cloud *c) {
        printf("cloud %s: server %s, namespace %s, credentials %s, jenkinsUrl %s, %s", c->name,
               c->server_url       ? c->server_url
               : c->credentials_id ? "from its credentials"
                                   : "autodetected",
               or_dash(c->namespace_), or_dash(c->credentials_id), or_dash(c->jenkins_url),
               c->websocket           ? "webSocket"
               : c->direct_connection ? "direct connection"
                                      : "inbound TCP");
        print_cap("containerCap", c->container_cap);
        printf(", podRetention %s, %zu template%s\n", c->pod_retention, c->n_templates, c->n_templates == 1 ? "" : "s");
        for (size_t i = 0; i < c->n_templates; i++) {
                const struct ka_template *t = c->templates[i];
                printf("  template %s: label %s, %s, %zu container%s", t->name ? t->name : "(unnamed)",
                       t->label ? t->label : "(none)", t->node_usage_mode == KA_USAGE_NORMAL ? "NORMAL" : "EXCLUSIVE",
                       t->n_containers, t->n_containers == 1 ? "" : "s");
                if (t->inherit_from)
                        printf(", inheritFrom %s", t->inherit_from);
                if (t->n_yamls)
                        printf(", yaml (%s)", ka_yaml_merge_name(t->yaml_merge_strategy));
                print_cap("instanceCap", t->instance_cap);
                printf(", idleMinutes %lld, podRetention %s\n", (long long)t->idle_minutes,
                       t->pod_retention ? t->pod_retention : "default");
        }
}

/* kubeagent.bus: its keys, then what goes beyond them (a tcp bus needs a
 * usable key file...), blamed on the key at fault.  Prints one line. */
static void check_bus(const struct ka_config *cfg, struct ka_diags *diags) {
        struct kubeagent_config_source src = ka_config_section(cfg, "bus");
        struct ka_bus_config bc = {0};
        size_t from = diags->n;
        if (ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, &bc, diags) == 0) {
                const char *key;
                struct ka_error err = {0};
                if (ka_bus_config_validate(&bc, &key, &err) < 0) {
                        struct ka_loc l = ka_cfgsrc_where(&src, key);
                        ka_diags_add(diags, KA_DIAG_ERROR, l.file, l.line, l.col, "%s", err.msg);
                } else {
                        printf("bus: workers %s, frontends %s, %s\n", bc.workers, bc.frontends,
                               bc.key_file ? "sealed" : "in clear (local only)");
                }
        }
        ka_cli_print_diags(&(struct ka_diags){.v = diags->v + from, .n = diags->n - from});
        ka_cfgmap_clear(ka_bus_config_keys, &bc);
}

/* kubeagent.templates, when given: its keys, its token file, and that an
 * endpoint beyond loopback has one.  Prints one line. */
static void check_templates(const struct ka_config *cfg, const char *listen, struct ka_diags *diags) {
        struct kubeagent_config_source src = ka_config_section(cfg, "templates");
        if (!src.node)
                return;
        struct ka_http_templates_config tc = {0};
        struct ka_http_templates t = {0};
        if (ka_cfgmap_fill(ka_http_templates_config_keys, &src, NULL, &tc, diags) == 0) {
                const char *key;
                struct ka_error err = {0};
                if (ka_http_templates_init(&t, &tc, listen, &key, &err) < 0) {
                        struct ka_loc l = ka_cfgsrc_where(&src, key);
                        ka_diags_add(diags, KA_DIAG_ERROR, l.file, l.line, l.col, "%s", err.msg);
                } else {
                        printf("templates: registration at /v1/templates, %s, ",
                               t.token ? "bearer token required" : "open (loopback only)");
                        if (tc.expire_after)
                                printf("unused ones expire after %llds\n", (long long)(tc.expire_after / 1000));
                        else
                                printf("they never expire\n");
                }
        }
        ka_http_templates_clear(&t);
        ka_cfgmap_clear(ka_http_templates_config_keys, &tc);
}

/* kubeagent.http and kubeagent.provision: their keys, and that the
 * endpoint's address parses.  Prints one line. */
static void check_daemon(const struct ka_config *cfg, struct ka_diags *diags) {
        struct kubeagent_config_source hsrc = ka_config_section(cfg, "http");
        struct kubeagent_config_source psrc = ka_config_section(cfg, "provision");
        struct ka_http_config hc = {0};
        struct ka_prov_config pc = {0};
        size_t from = diags->n;
        int hr = ka_cfgmap_fill(ka_http_config_keys, &hsrc, NULL, &hc, diags);
        int pr = ka_cfgmap_fill(ka_prov_config_keys, &psrc, NULL, &pc, diags);
        if (hr == 0 && !ka_isempty(hc.listen) && strcmp(hc.listen, "off") != 0) {
                struct ka_http *h = NULL;
                struct ka_error err = {0};
                if (ka_http_new(hc.listen, 0, &h, &err) < 0) {
                        struct ka_loc l = ka_cfgsrc_where(&hsrc, "listen");
                        ka_diags_add(diags, KA_DIAG_ERROR, l.file, l.line, l.col, "%s", err.msg);
                        hr = -EINVAL;
                }
                ka_http_free(h);
        }
        if (hr == 0 && pr == 0)
                printf("daemon: http %s, garbage collection every %llds\n", ka_isempty(hc.listen) ? "off" : hc.listen,
                       (long long)(pc.gc_period / 1000));
        if (hr == 0)
                check_templates(cfg, hc.listen, diags);
        ka_cli_print_diags(&(struct ka_diags){.v = diags->v + from, .n = diags->n - from});
        ka_cfgmap_clear(ka_http_config_keys, &hc);
        ka_cfgmap_clear(ka_prov_config_keys, &pc);
}

int ka_cmd_check(struct ka_cli *cli, int argc, char **argv) {
        enum { OPT_CLOUD = 256 };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"cloud", required_argument, NULL, OPT_CLOUD},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        cli->config_path = optarg;
                        break;
                case OPT_CLOUD:
                        cli->cloud = optarg;
                        break;
                default:
                        return ka_cli_usage(usage, c == 'h');
                }
        }
        if (optind + 1 == argc)
                return ka_cmd_check_jenkinsfile(cli, argv[optind]);
        if (optind < argc)
                return ka_cli_usage(usage, false);
        struct ka_diags diags = {0};
        struct ka_config *cfg = NULL;
        int rc = ka_cli_config(cli, &cfg, &diags);
        if (rc == KA_EXIT_USAGE) {
                if (diags.errors)
                        ka_cli_print_counts(cli->doc.path, &diags);
                ka_diags_free(&diags);
                return rc;
        }
        const struct ka_document *doc = &cli->doc;
        size_t templates = 0;
        for (size_t i = 0; i < cfg->n_clouds; i++) {
                print_cloud(cfg->clouds[i]);
                templates += cfg->clouds[i]->n_templates;
        }
        check_bus(cfg, &diags);
        check_daemon(cfg, &diags);
        if (diags.errors) {
                ka_cli_print_counts(doc->path, &diags);
                ka_diags_free(&diags);
                ka_config_free(cfg);
                return KA_EXIT_USAGE;
        }
        printf("%s: OK, %zu cloud%s, %zu template%s, %zu warning%s\n", doc->path, cfg->n_clouds,
               cfg->n_clouds == 1 ? "" : "s", templates, templates == 1 ? "" : "s", diags.warnings,
               diags.warnings == 1 ? "" : "s");
        ka_diags_free(&diags);
        ka_config_free(cfg);
        return rc;
}
