/* Loading what subcommands share, once per invocation. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"
#include "util/fs.h"
#include "util/mem.h"

void ka_cli_print_diags(const struct ka_diags *d) {
        ka_diags_print(d, stderr);
}

void ka_cli_print_counts(const char *path, const struct ka_diags *d) {
        fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", path, d->errors, d->errors == 1 ? "" : "s", d->warnings,
                d->warnings == 1 ? "" : "s");
}

int ka_cli_usage(void (*usage)(FILE *f), bool help) {
        usage(help ? stdout : stderr);
        return help ? KA_EXIT_OK : KA_EXIT_USAGE;
}

int ka_cli_cloud(const struct ka_cli *cli, const struct ka_config *cfg, const struct ka_cloud **ret) {
        const struct ka_cloud *c = ka_config_cloud(cfg, cli->cloud);
        if (cli->cloud && !c) {
                fprintf(stderr, "kubeagent: no cloud named \"%s\" in %s\n", cli->cloud, cli->doc.path);
                return KA_EXIT_USAGE;
        }
        *ret = c;
        return 0;
}

int ka_cli_document(struct ka_cli *cli, bool required, const struct ka_document **ret) {
        if (cli->have_doc) {
                *ret = &cli->doc;
                return 0;
        }
        const char *path = cli->config_path;
        if (!path) {
                if (access(KA_DEFAULT_CONFIG, F_OK) < 0 && !required) {
                        *ret = NULL;
                        return 0;
                }
                path = KA_DEFAULT_CONFIG;
        }
        struct ka_diags d = {0};
        int r = ka_document_load(path, &cli->doc, &d);
        ka_cli_print_diags(&d);
        ka_diags_free(&d);
        if (r < 0)
                return KA_EXIT_USAGE;
        cli->have_doc = true;
        *ret = &cli->doc;
        return 0;
}

int ka_cli_plugins(struct ka_cli *cli, const struct ka_registry **ret) {
        if (!cli->have_plugins) {
                const struct ka_document *doc = NULL;
                int r = ka_cli_document(cli, false, &doc);
                if (r)
                        return r;
                _cleanup_(ka_strv_freep) char **extra = doc ? ka_document_plugin_path(doc, &cli->plugin_diags) : NULL;
                _cleanup_(ka_strv_freep) char **dirs = ka_plugin_search_path(extra);
                ka_registry_load_path(&cli->plugins, dirs, &cli->plugin_diags);
                cli->have_plugins = true;
                ka_cli_print_diags(&cli->plugin_diags);
        }
        *ret = &cli->plugins;
        return cli->plugin_diags.errors ? KA_EXIT_FAILURE : 0;
}

int ka_cli_config(struct ka_cli *cli, struct ka_config **ret, struct ka_diags *diags) {
        const struct ka_document *doc;
        int rc = ka_cli_document(cli, true, &doc);
        if (rc)
                return rc;
        const struct ka_registry *reg;
        int plugins_rc = ka_cli_plugins(cli, &reg);
        if (plugins_rc == KA_EXIT_USAGE)
                return plugins_rc;
        size_t from = diags->n;
        int r = ka_config_load(doc, reg, ret, diags);
        ka_cli_print_diags(&(struct ka_diags){.v = diags->v + from, .n = diags->n - from});
        return r < 0 ? KA_EXIT_USAGE : plugins_rc;
}
