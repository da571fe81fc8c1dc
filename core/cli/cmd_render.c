/* kubeagent render -c CONFIG (-t TEMPLATE | -l LABEL-EXPRESSION) [--cloud NAME]
 *     [--name AGENT-NAME] [--secret SECRET] [--jenkins-url URL] [-o json|yaml] [--explain]
 * kubeagent render [-c CONFIG] JENKINSFILE [--cloud NAME] [...]
 *
 * Print the one Pod a template renders to, offline, as the daemon would
 * create it: the same code, with placeholders for what only Jenkins knows
 * (the agent secret, a direct connection's endpoint) unless given.  With a
 * Jenkinsfile, the pods of its podTemplate steps and kubernetes agents, in
 * source order. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "yaml/yaml.h"

#define SECRET_PLACEHOLDER "<agent-secret>"
/* A Jenkinsfile's pods: the Jenkins URL when no config or option gives
 * one, and the suffix of agent names (real ones never have vowels). */
#define JENKINS_URL_PLACEHOLDER "<jenkins-url>"
#define AGENT_SUFFIX_PLACEHOLDER "agent"

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent render -c CONFIG (-t TEMPLATE | -l LABEL-EXPRESSION) [--cloud NAME]\n"
                   "                        [--name AGENT-NAME] [--secret SECRET] [--jenkins-url URL]\n"
                   "                        [-o json|yaml] [--explain]\n"
                   "       kubeagent render [-c CONFIG] JENKINSFILE [--cloud NAME] [--name AGENT-NAME]\n"
                   "                        [--secret SECRET] [--jenkins-url URL] [-o json|yaml] [--explain]\n"
                   "\n"
                   "Print the Pod a pod template renders to, exactly as kubeagentd would create it.\n"
                   "With a Jenkinsfile, the pods its podTemplate steps and kubernetes agents would\n"
                   "get, one YAML document each in source order (a List with -o json), with the\n"
                   "config's clouds and templates as parents when there is a config; agent names\n"
                   "end in -" AGENT_SUFFIX_PLACEHOLDER " and the Jenkins URL is " JENKINS_URL_PLACEHOLDER
                   " unless given.\n"
                   "\n"
                   "  -t, --template NAME      the template of that name (first of the first cloud having it)\n"
                   "  -l, --label EXPRESSION   the first template a Jenkins label expression selects\n"
                   "                           ('' selects the first NORMAL template)\n"
                   "      --cloud NAME         only this cloud's templates (Jenkinsfile: the cloud of\n"
                   "                           blocks that name none)\n"
                   "      --name AGENT-NAME    the agent and pod name (default: template name + random suffix)\n"
                   "      --secret SECRET      the agent's secret (default: " SECRET_PLACEHOLDER ")\n"
                   "      --jenkins-url URL    the Jenkins URL agents connect to (default: the cloud's jenkinsUrl)\n"
                   "  -o, --output FORMAT      yaml (default) or json\n"
                   "      --explain            say where every value comes from (template and file:line,\n"
                   "                           YAML fragment, default, decorator)\n"
                   "\n"
                   "Timestamps honour SOURCE_DATE_EPOCH.  Exit 2 when the config is invalid or no\n"
                   "template matches (the templates and their labels are listed).\n");
}

static void list_templates(const struct ka_config *cfg, const struct ka_cloud *only) {
        fprintf(stderr, "Templates:\n");
        for (size_t c = 0; c < cfg->n_clouds; c++) {
                const struct ka_cloud *cl = cfg->clouds[c];
                if (only && cl != only)
                        continue;
                for (size_t i = 0; i < cl->n_templates; i++) {
                        const struct ka_template *t = cl->templates[i];
                        fprintf(stderr, "  cloud %s, template %s: label %s%s\n", cl->name,
                                t->name ? t->name : "(unnamed)", t->label ? t->label : "(none)",
                                t->node_usage_mode == KA_USAGE_NORMAL ? ", NORMAL (also serves jobs without a label)"
                                                                      : "");
                }
        }
}

static const char *note(const cJSON *node, void *ctx) {
        return ka_prov_get(ctx, node);
}

/* {"spec.containers[0].image": origin, ...} for every value with one. */
static void explain_json(const cJSON *n, const char *path, const struct ka_locmap *prov, cJSON *out) {
        const char *from = ka_prov_get(prov, n);
        if (from && !n->child)
                cJSON_AddStringToObject(out, path, from);
        size_t i = 0;
        for (const cJSON *c = n->child; c; c = c->next, i++) {
                _cleanup_free_ char *sub = cJSON_IsArray(n) ? ka_asprintf("%s[%zu]", path, i)
                                                            : ka_asprintf("%s%s%s", path, *path ? "." : "", c->string);
                explain_json(c, sub, prov, out);
        }
}

static int print_pod(const struct ka_rendered *r, bool json, bool explain);

/* The pods of a Jenkinsfile's blocks: in YAML, one document each after a
 * comment naming the block; in JSON, a List as kubectl prints one. */
static int render_jenkinsfile(struct ka_cli *cli, const char *path, struct ka_render_params params, bool json) {
        struct ka_diags diags = {0};
        struct ka_cli_pipeline cp;
        int rc = ka_cli_pipeline_load(cli, path, true, &cp, &diags);
        size_t n = cp.p.n_blocks;
        struct ka_rendered *pods = ka_new0(struct ka_rendered, n + 1);
        const struct ka_template **parents = ka_new0(const struct ka_template *, n + 1);
        if (!params.jenkins_root_url)
                params.jenkins_root_url = JENKINS_URL_PLACEHOLDER; /* the last resort */
        bool given_name = params.agent_name != NULL;
        for (size_t i = 0; rc != KA_EXIT_USAGE && i < n; i++) {
                _cleanup_free_ char *name =
                        given_name ? NULL : ka_agent_name(cp.loaded[i]->name, AGENT_SUFFIX_PLACEHOLDER);
                if (!given_name)
                        params.agent_name = name;
                params.extra = parents;
                params.n_extra = ka_cli_pipeline_parents(&cp, i, parents);
                if (ka_template_render(cp.clouds[i], cp.loaded[i], &params, &pods[i], &diags) < 0)
                        rc = KA_EXIT_USAGE;
        }
        ka_cli_print_diags(&diags);
        if (rc == KA_EXIT_USAGE) {
                ka_cli_print_counts(path, &diags);
        } else if (json) {
                cJSON *list = cJSON_CreateObject(), *items = cJSON_CreateArray(), *explain = cJSON_CreateArray();
                cJSON_AddStringToObject(list, "apiVersion", "v1");
                cJSON_AddItemToObject(list, "items", items);
                cJSON_AddStringToObject(list, "kind", "List");
                cJSON_AddStringToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion", "");
                for (size_t i = 0; i < n; i++) {
                        cJSON_AddItemReferenceToArray(items, pods[i].pod);
                        if (params.explain) {
                                cJSON *e = cJSON_CreateObject();
                                explain_json(pods[i].pod, "", pods[i].prov, e);
                                cJSON_AddItemToArray(explain, e);
                        }
                }
                if (params.explain)
                        cJSON_AddItemToObject(list, "explain", explain);
                else
                        cJSON_Delete(explain);
                char *s = cJSON_Print(list);
                printf("%s\n", s);
                free(s);
                cJSON_Delete(list);
        } else {
                for (size_t i = 0; i < n; i++) {
                        const struct ka_pipeline_block *b = &cp.p.blocks[i];
                        printf("---\n# %s:%u:%u: %s, label %s%s\n", b->where.file, b->where.line, b->where.col,
                               b->kind == KA_PIPELINE_STEP ? "podTemplate" : "kubernetes agent", b->label,
                               b->label_generated ? " (generated)" : "");
                        print_pod(&pods[i], false, params.explain);
                }
                if (!n)
                        fprintf(stderr, "%s: no podTemplate step or kubernetes agent found\n", path);
        }
        for (size_t i = 0; i < n; i++)
                ka_rendered_free(&pods[i]);
        free(pods);
        free(parents);
        ka_cli_pipeline_free(&cp);
        ka_diags_free(&diags);
        return rc;
}

static int print_pod(const struct ka_rendered *r, bool json, bool explain) {
        if (json) {
                cJSON *out = r->pod;
                cJSON *wrapper = NULL;
                if (explain) {
                        wrapper = cJSON_CreateObject();
                        cJSON_AddItemReferenceToObject(wrapper, "pod", r->pod);
                        cJSON *list = cJSON_AddObjectToObject(wrapper, "explain");
                        explain_json(r->pod, "", r->prov, list);
                        out = wrapper;
                }
                char *s = cJSON_Print(out);
                printf("%s\n", s);
                free(s);
                cJSON_Delete(wrapper);
                return KA_EXIT_OK;
        }
        struct ka_buf b = KA_BUF_INIT(0);
        if (explain)
                ka_yaml_emit_notes(r->pod, &b, note, r->prov);
        else
                ka_yaml_emit(r->pod, &b);
        fputs(b.data ? b.data : "", stdout);
        ka_buf_free(&b);
        return KA_EXIT_OK;
}

int ka_cmd_render(struct ka_cli *cli, int argc, char **argv) {
        enum { OPT_CLOUD = 256, OPT_NAME, OPT_SECRET, OPT_URL, OPT_EXPLAIN };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"template", required_argument, NULL, 't'},
                {"label", required_argument, NULL, 'l'},
                {"cloud", required_argument, NULL, OPT_CLOUD},
                {"name", required_argument, NULL, OPT_NAME},
                {"secret", required_argument, NULL, OPT_SECRET},
                {"jenkins-url", required_argument, NULL, OPT_URL},
                {"output", required_argument, NULL, 'o'},
                {"explain", no_argument, NULL, OPT_EXPLAIN},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *template_name = NULL, *label = NULL, *output = "yaml";
        struct ka_render_params params = {
                .secret = SECRET_PLACEHOLDER,
                .direct_endpoint = "<jenkins-host>:<agent-port>",
                .instance_identity = "<jenkins-instance-identity>",
        };
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(argc, argv, "c:t:l:o:h", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        cli->config_path = optarg;
                        break;
                case 't':
                        template_name = optarg;
                        break;
                case 'l':
                        label = optarg;
                        break;
                case OPT_CLOUD:
                        cli->cloud = optarg;
                        break;
                case OPT_NAME:
                        params.agent_name = optarg;
                        break;
                case OPT_SECRET:
                        ka_secret_register(optarg);
                        params.secret = optarg;
                        break;
                case OPT_URL:
                        params.jenkins_url = optarg;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case OPT_EXPLAIN:
                        params.explain = true;
                        break;
                default:
                        return ka_cli_usage(usage, c == 'h');
                }
        }
        bool json = strcmp(output, "json") == 0;
        if (optind + 1 == argc && !template_name && !label && (json || strcmp(output, "yaml") == 0))
                return render_jenkinsfile(cli, argv[optind], params, json);
        if (optind < argc || !template_name == !label || (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0)) {
                if (!template_name == !label || optind < argc)
                        fprintf(stderr, "kubeagent render: give exactly one of -t TEMPLATE, -l LABEL-EXPRESSION and "
                                        "a Jenkinsfile\n");
                return ka_cli_usage(usage, false);
        }
        struct ka_diags diags = {0};
        _cleanup_(ka_config_freep) struct ka_config *cfg = NULL;
        int plugins_rc = ka_cli_config(cli, &cfg, &diags);
        size_t printed = diags.n;
        if (plugins_rc == KA_EXIT_USAGE) {
                ka_diags_free(&diags);
                return plugins_rc;
        }

        /* without --cloud, templates are looked for in every cloud */
        const struct ka_cloud *cloud = NULL;
        if (cli->cloud && ka_cli_cloud(cli, cfg, &cloud)) {
                ka_diags_free(&diags);
                return KA_EXIT_USAGE;
        }
        const struct ka_template *t = NULL;
        if (template_name) {
                for (size_t i = 0; i < cfg->n_clouds && !t; i++)
                        if (!cloud || cfg->clouds[i] == cloud) {
                                t = ka_cloud_template(cfg->clouds[i], template_name);
                                if (t)
                                        cloud = cfg->clouds[i];
                        }
                if (!t)
                        fprintf(stderr, "kubeagent: no template named \"%s\"\n", template_name);
        } else {
                struct ka_error err = {0};
                if (ka_template_match(cfg, cloud, label, NULL, 0, &cloud, &t, &err) < 0) {
                        fprintf(stderr, "kubeagent: %s\n", err.msg);
                        t = NULL;
                }
        }
        if (!t) {
                list_templates(cfg, cloud);
                ka_diags_free(&diags);
                return KA_EXIT_USAGE;
        }
        struct ka_rendered r;
        int ok = ka_template_render(cloud, t, &params, &r, &diags);
        /* warnings the config already printed are not repeated */
        for (size_t i = printed; i < diags.n; i++) {
                bool seen = false;
                for (size_t j = 0; j < printed && !seen; j++)
                        seen = diags.v[j].line == diags.v[i].line && ka_streq(diags.v[j].file, diags.v[i].file) &&
                               ka_streq(diags.v[j].msg, diags.v[i].msg);
                if (!seen)
                        ka_cli_print_diags(&(struct ka_diags){.v = &diags.v[i], .n = 1});
        }
        ka_diags_free(&diags);
        if (ok < 0)
                return KA_EXIT_USAGE;
        int rc = print_pod(&r, json, params.explain);
        ka_rendered_free(&r);
        return rc ? rc : plugins_rc;
}
