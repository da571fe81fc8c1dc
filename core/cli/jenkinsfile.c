/* The Jenkinsfile forms of `kubeagent check` and `kubeagent render`: the pod
 * templates of a Jenkinsfile, read (core/pipeline), loaded and checked like
 * config templates, and given their parents from the config's cloud and
 * from the Jenkinsfile itself (nested podTemplate steps). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "template/template.h"
#include "util/mem.h"

void ka_cli_pipeline_free(struct ka_cli_pipeline *cp) {
        /* unwrapped templates borrow from the loaded ones, any of them */
        for (size_t i = 0; cp->unwrapped && i < cp->p.n_blocks; i++)
                ka_template_free(cp->unwrapped[i]);
        for (size_t i = 0; cp->loaded && i < cp->p.n_blocks; i++)
                ka_template_free(cp->loaded[i]);
        free(cp->unwrapped);
        free(cp->loaded);
        free(cp->clouds);
        ka_pipeline_free(&cp->p);
        ka_config_free(cp->cfg);
        memset(cp, 0, sizeof(*cp));
}

int ka_cli_pipeline_load(struct ka_cli *cli, const char *path, struct ka_cli_pipeline *ret, struct ka_diags *diags) {
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
        if (doc && ka_config_load(doc, reg, &cp.cfg, diags) < 0)
                return KA_EXIT_USAGE;

        struct ka_pipeline_options o = {.plugins = reg};
        int r = ka_pipeline_read_file(path, &o, &cp.p, diags);
        if (r < 0 && r != -EINVAL) {
                ka_config_free(cp.cfg);
                return KA_EXIT_USAGE;
        }
        size_t n = cp.p.n_blocks;
        cp.loaded = ka_new0(struct ka_template *, n);
        cp.unwrapped = ka_new0(struct ka_template *, n);
        cp.clouds = ka_new0(const struct ka_cloud *, n);
        for (size_t i = 0; i < n; i++) {
                const struct ka_pipeline_block *b = &cp.p.blocks[i];
                const char *cloud = b->cloud ? b->cloud : cli->cloud;
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
        /* parents: the cloud's templates, then the Jenkinsfile's of the same cloud */
        const struct ka_template **extra = ka_new0(const struct ka_template *, n + 1);
        for (size_t i = 0; i < n; i++) {
                if (!cp.loaded[i])
                        continue;
                size_t k = 0;
                for (size_t j = 0; j < n; j++)
                        if (cp.loaded[j] && cp.clouds[j] == cp.clouds[i])
                                extra[k++] = cp.loaded[j];
                ka_template_unwrap(cp.clouds[i], cp.loaded[i], extra, k, &cp.unwrapped[i], diags);
        }
        free(extra);
        *ret = cp;
        return diags->errors ? KA_EXIT_USAGE : rc;
}

static void print_block(const struct ka_cli_pipeline *cp, size_t i) {
        const struct ka_pipeline_block *b = &cp->p.blocks[i];
        const struct ka_template *t = cp->unwrapped[i];
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
        int rc = ka_cli_pipeline_load(cli, path, &cp, &diags);
        ka_cli_print_diags(&diags);
        if (rc == KA_EXIT_USAGE) {
                fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", path, diags.errors, diags.errors == 1 ? "" : "s",
                        diags.warnings, diags.warnings == 1 ? "" : "s");
                ka_cli_pipeline_free(&cp);
                ka_diags_free(&diags);
                return KA_EXIT_USAGE;
        }
        for (size_t i = 0; i < cp.p.n_blocks; i++)
                print_block(&cp, i);
        if (!cp.p.n_blocks)
                printf("%s: no podTemplate step or kubernetes agent found\n", path);
        printf("%s: OK, %zu pod template%s, %zu warning%s\n", path, cp.p.n_blocks, cp.p.n_blocks == 1 ? "" : "s",
               diags.warnings, diags.warnings == 1 ? "" : "s");
        ka_cli_pipeline_free(&cp);
        ka_diags_free(&diags);
        return rc;
}
