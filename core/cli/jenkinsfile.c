/* The Jenkinsfile forms of `kubeagent check` and `kubeagent render`: the pod
 * templates of a Jenkinsfile, read (core/pipeline), loaded and checked like
 * config templates, each in its cloud, with the Jenkinsfile's own templates
 * as further parents (nested podTemplate steps). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "template/template.h"
#include "util/mem.h"
#include "yaml/yaml.h"

/* Without a config, blocks go to a cloud with every default, named like
 * the plugin's default cloud. */
static const char DEFAULT_CLOUD[] = "jenkins:\n  clouds:\n    - kubernetes:\n        name: kubernetes\n";
#define DEFAULT_CLOUD_ORIGIN "(kubeagent's default cloud)"

void ka_cli_pipeline_free(struct ka_cli_pipeline *cp) {
        for (size_t i = 0; cp->loaded && i < cp->p.n_blocks; i++)
                ka_template_free(cp->loaded[i]);
        free(cp->loaded);
        free(cp->clouds);
        ka_pipeline_free(&cp->p);
        ka_config_free(cp->cfg);
        ka_document_free(&cp->default_doc);
        memset(cp, 0, sizeof(*cp));
}

/* The model of DEFAULT_CLOUD. */
static int default_config(struct ka_cli_pipeline *cp, const struct ka_registry *reg, struct ka_diags *diags) {
        struct ka_document *d = &cp->default_doc;
        struct ka_error err = {0};
        struct ka_yaml_origin o = {.file = DEFAULT_CLOUD_ORIGIN};
        d->locs = ka_locmap_new();
        d->path = ka_strdup(DEFAULT_CLOUD_ORIGIN);
        d->files = ka_new0(char *, 1);
        if (ka_yaml_parse(DEFAULT_CLOUD, strlen(DEFAULT_CLOUD), &o, d->locs, &d->root, &err) < 0) {
                ka_diags_add_error(diags, &err);
                return -EINVAL;
        }
        return ka_config_load(d, reg, &cp->cfg, diags);
}

int ka_cli_pipeline_load(struct ka_cli *cli, const char *path, bool default_cloud, struct ka_cli_pipeline *ret,
                         struct ka_diags *diags) {
        struct ka_cli_pipeline cp = {0};
        *ret = cp;
        const struct ka_document *doc = NULL;
        int rc = ka_cli_document(cli, false, &doc);
        if (rc)
                return rc;
        const struct ka_registry *reg;
        rc = ka_cli_plugins(cli, &reg);
        if (rc == KA_EXIT_USAGE)
                return rc;
        if (doc ? ka_config_load(doc, reg, &cp.cfg, diags) < 0 : default_cloud && default_config(&cp, reg, diags) < 0) {
                ka_cli_pipeline_free(&cp);
                return KA_EXIT_USAGE;
        }
        struct ka_pipeline_options o = {.plugins = reg};
        int r = ka_pipeline_read_file(path, &o, &cp.p, diags);
        if (r < 0 && r != -EINVAL) {
                ka_cli_pipeline_free(&cp);
                return KA_EXIT_USAGE;
        }
        size_t n = cp.p.n_blocks;
        cp.loaded = ka_new0(struct ka_template *, n);
        cp.clouds = ka_new0(const struct ka_cloud *, n);
        for (size_t i = 0; i < n; i++) {
                const struct ka_pipeline_block *b = &cp.p.blocks[i];
                const char *cloud = b->cloud ? b->cloud : cli->cloud;
                if (cp.cfg && !doc) {
                        /* no config: every block in the default cloud */
                        if (cloud && strcmp(cloud, "kubernetes") != 0)
                                ka_diags_add(diags, KA_DIAG_WARNING, b->where.file, b->where.line, b->where.col,
                                             "cloud %s: without a config (-c), kubeagent uses a default cloud", cloud);
                        cloud = NULL;
                }
                if (cp.cfg) {
                        cp.clouds[i] = ka_config_cloud(cp.cfg, cloud);
                        if (!cp.clouds[i]) {
                                if (cloud)
                                        ka_diags_add(diags, KA_DIAG_ERROR, b->where.file, b->where.line, b->where.col,
                                                     "Cloud does not exist: %s", cloud);
                                else
                                        ka_diags_add(diags, KA_DIAG_ERROR, b->where.file, b->where.line, b->where.col,
                                                     "No Kubernetes cloud was found.");
                                continue;
                        }
                }
                /* a block with errors of its own would only add noise */
                if (!b->errors)
                        ka_template_load(b->tmpl, cp.p.locs, reg, &cp.loaded[i], diags);
        }
        *ret = cp;
        return diags->errors ? KA_EXIT_USAGE : rc;
}

size_t ka_cli_pipeline_parents(const struct ka_cli_pipeline *cp, size_t i, const struct ka_template **ret) {
        size_t k = 0;
        for (size_t j = 0; j < cp->p.n_blocks; j++)
                if (cp->loaded[j] && cp->clouds[j] == cp->clouds[i])
                        ret[k++] = cp->loaded[j];
        return k;
}

static void print_block(const struct ka_cli_pipeline *cp, size_t i, const struct ka_template *t) {
        const struct ka_pipeline_block *b = &cp->p.blocks[i];
        printf("%s:%u:%u %s: label %s%s", b->where.file, b->where.line, b->where.col,
               b->kind == KA_PIPELINE_STEP ? "podTemplate" : "kubernetes agent", b->label,
               b->label_generated ? " (generated)" : "");
        if (cp->clouds[i])
                printf(", cloud %s", cp->clouds[i]->name);
        if (t->namespace_)
                printf(", namespace %s", t->namespace_);
        printf(", %zu container%s", t->n_containers, t->n_containers == 1 ? "" : "s");
        if (t->n_yamls)
                printf(", yaml (%s)", ka_yaml_merge_name(t->yaml_merge_strategy));
        if (cp->loaded[i]->inherit_from)
                printf(", inheritFrom %s", cp->loaded[i]->inherit_from);
        if (b->default_container)
                printf(", defaultContainer %s", b->default_container);
        putchar('\n');
}

int ka_cmd_check_jenkinsfile(struct ka_cli *cli, const char *path) {
        struct ka_diags diags = {0};
        struct ka_cli_pipeline cp;
        int rc = ka_cli_pipeline_load(cli, path, false, &cp, &diags);
        /* with their parents: a missing one or a cycle is reported too */
        size_t n = cp.p.n_blocks;
        struct ka_template **unwrapped = ka_new0(struct ka_template *, n + 1);
        const struct ka_template **parents = ka_new0(const struct ka_template *, n + 1);
        for (size_t i = 0; i < n; i++)
                if (cp.loaded[i])
                        ka_template_unwrap(cp.clouds[i], cp.loaded[i], parents,
                                           ka_cli_pipeline_parents(&cp, i, parents), &unwrapped[i], &diags);
        ka_cli_print_diags(&diags);
        if (rc == KA_EXIT_USAGE || diags.errors) {
                fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", path, diags.errors, diags.errors == 1 ? "" : "s",
                        diags.warnings, diags.warnings == 1 ? "" : "s");
                rc = KA_EXIT_USAGE;
        } else {
                for (size_t i = 0; i < n; i++)
                        print_block(&cp, i, unwrapped[i]);
                if (!n)
                        printf("%s: no podTemplate step or kubernetes agent found\n", path);
                printf("%s: OK, %zu pod template%s, %zu warning%s\n", path, n, n == 1 ? "" : "s", diags.warnings,
                       diags.warnings == 1 ? "" : "s");
        }
        /* unwrapped templates borrow from the loaded ones, any of them */
        for (size_t i = 0; i < n; i++)
                ka_template_free(unwrapped[i]);
        free(unwrapped);
        free(parents);
        ka_cli_pipeline_free(&cp);
        ka_diags_free(&diags);
        return rc;
}
