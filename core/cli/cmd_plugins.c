/* kubeagent plugins [-o text|json] [--help NAME] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/mem.h"

static void print_keys_inline(const struct kubeagent_config_key *keys) {
        const char *sep = "";
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                printf("%s%s", sep, k->name);
                sep = ", ";
        }
        if (!keys || !keys->name)
                printf("-");
}

static void print_symbols(const char *const *s) {
        for (const char *sep = ""; s && *s; s++, sep = "/")
                printf("%s%s", sep, *s);
}

/* One line of "config keys": what the user writes for this plugin. */
static void print_config(const struct kubeagent_plugin *d) {
        switch (d->kind) {
        case KUBEAGENT_KIND_VOLUME:
                if (d->volume->pod.symbols) {
                        print_symbols(d->volume->pod.symbols);
                        printf(": ");
                        print_keys_inline(d->volume->pod.keys);
                }
                if (d->volume->workspace.symbols) {
                        printf(d->volume->pod.symbols ? "; " : "");
                        print_symbols(d->volume->workspace.symbols);
                        printf(": ");
                        print_keys_inline(d->volume->workspace.keys);
                }
                break;
        case KUBEAGENT_KIND_RETENTION:
                print_symbols(d->retention->symbols);
                break;
        default:
                print_keys_inline(d->config_keys);
        }
}

static cJSON *keys_json(const struct kubeagent_config_key *keys) {
        cJSON *a = cJSON_CreateArray();
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", k->name);
                cJSON_AddStringToObject(o, "type", ka_cfgmap_type_name(k->type));
                if (k->default_value)
                        cJSON_AddStringToObject(o, "default", k->default_value);
                cJSON_AddBoolToObject(o, "required", (k->flags & KUBEAGENT_CFG_REQUIRED) != 0);
                if (k->description)
                        cJSON_AddStringToObject(o, "description", k->description);
                cJSON_AddItemToArray(a, o);
        }
        return a;
}

static cJSON *symbols_json(const char *const *s) {
        cJSON *a = cJSON_CreateArray();
        for (; s && *s; s++)
                cJSON_AddItemToArray(a, cJSON_CreateString(*s));
        return a;
}

static void print_json(const struct ka_registry *reg) {
        cJSON *list = cJSON_CreateArray();
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin *d = reg->v[i]->desc;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "kind", ka_plugin_kind_name(d->kind));
                cJSON_AddStringToObject(o, "name", d->name);
                cJSON_AddStringToObject(o, "version", d->version ? d->version : "");
                cJSON_AddStringToObject(o, "path", reg->v[i]->path);
                if (d->description)
                        cJSON_AddStringToObject(o, "description", d->description);
                cJSON_AddItemToObject(o, "configKeys", keys_json(d->config_keys));
                if (d->kind == KUBEAGENT_KIND_VOLUME) {
                        cJSON *forms = cJSON_AddObjectToObject(o, "forms");
                        if (d->volume->pod.symbols) {
                                cJSON *f = cJSON_AddObjectToObject(forms, "pod");
                                cJSON_AddItemToObject(f, "symbols", symbols_json(d->volume->pod.symbols));
                                cJSON_AddItemToObject(f, "keys", keys_json(d->volume->pod.keys));
                        }
                        if (d->volume->workspace.symbols) {
                                cJSON *f = cJSON_AddObjectToObject(forms, "workspace");
                                cJSON_AddItemToObject(f, "symbols", symbols_json(d->volume->workspace.symbols));
                                cJSON_AddItemToObject(f, "keys", keys_json(d->volume->workspace.keys));
                        }
                }
                if (d->kind == KUBEAGENT_KIND_RETENTION)
                        cJSON_AddItemToObject(o, "symbols", symbols_json(d->retention->symbols));
                cJSON_AddItemToArray(list, o);
        }
        char *s = cJSON_Print(list);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(list);
}

static int help_for(const struct ka_registry *reg, const char *name) {
        const struct kubeagent_plugin_handle *h = NULL;
        for (size_t i = 0; i < reg->n && !h; i++)
                if (strcmp(reg->v[i]->desc->name, name) == 0)
                        h = reg->v[i];
        if (!h) {
                fprintf(stderr, "kubeagent: no plugin named \"%s\" is loaded (see 'kubeagent plugins')\n", name);
                return KA_EXIT_USAGE;
        }
        const struct kubeagent_plugin *d = h->desc;
        printf("%s %s (%s plugin, %s)\n", d->name, d->version ? d->version : "", ka_plugin_kind_name(d->kind), h->path);
        if (d->description)
                printf("  %s\n", d->description);
        switch (d->kind) {
        case KUBEAGENT_KIND_VOLUME:
                if (d->volume->pod.symbols) {
                        printf("\nPod volume (");
                        print_symbols(d->volume->pod.symbols);
                        printf("):\n");
                        ka_cfgmap_print_help(d->volume->pod.keys, "  ", stdout);
                }
                if (d->volume->workspace.symbols) {
                        printf("\nWorkspace volume (");
                        print_symbols(d->volume->workspace.symbols);
                        printf("):\n");
                        ka_cfgmap_print_help(d->volume->workspace.keys, "  ", stdout);
                }
                break;
        case KUBEAGENT_KIND_RETENTION:
                printf("\nSelected with: podRetention: ");
                print_symbols(d->retention->symbols);
                printf("\n");
                break;
        default:
                if (d->config_keys && d->config_keys->name) {
                        printf("\nConfig keys:\n");
                        ka_cfgmap_print_help(d->config_keys, "  ", stdout);
                } else {
                        printf("\nNo config keys.\n");
                }
        }
        return KA_EXIT_OK;
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: kubeagent plugins [-o text|json] [--help NAME]\n"
                "\n"
                "List the plugins kubeagent loads (from $KUBEAGENT_PLUGIN_PATH, or the config's\n"
                "kubeagent.pluginPath and %s), or show the config keys of one.\n",
                ka_plugin_default_dir());
}

int ka_cmd_plugins(struct ka_cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                {"output", required_argument, NULL, 'o'},
                {"help", optional_argument, NULL, 'h'},
                {0},
        };
        const char *help_name = NULL, *output = "text";
        bool help = false;
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                case 'h':
                        help = true;
                        help_name = optarg;
                        break;
                default:
                        return ka_cli_usage(usage, false);
                }
        }
        if (help && !help_name && optind < argc)
                help_name = argv[optind++];
        if (optind < argc || (strcmp(output, "text") != 0 && strcmp(output, "json") != 0))
                return ka_cli_usage(usage, false);
        if (help && !help_name)
                return ka_cli_usage(usage, true);
        const struct ka_registry *reg;
        int rc = ka_cli_plugins(cli, &reg);
        if (rc == KA_EXIT_USAGE)
                return rc;
        if (help_name) {
                int r = help_for(reg, help_name);
                return r ? r : rc;
        }
        if (strcmp(output, "json") == 0) {
                print_json(reg);
                return rc;
        }
        int wn = 4, wv = 7;
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin *d = reg->v[i]->desc;
                wn = KA_MAX(wn, (int)strlen(d->name));
                wv = KA_MAX(wv, d->version ? (int)strlen(d->version) : 0);
        }
        printf("%-11s %-*s %-*s %s\n", "KIND", wn, "NAME", wv, "VERSION", "CONFIG KEYS");
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin *d = reg->v[i]->desc;
                printf("%-11s %-*s %-*s ", ka_plugin_kind_name(d->kind), wn, d->name, wv, d->version ? d->version : "");
                print_config(d);
                printf("\n");
        }
        return rc;
}
