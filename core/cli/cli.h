/* core/cli/cli.h — the `kubeagent` command: shared state of one invocation
 * and the table of subcommands.
 *
 * Each subcommand lives in its own cmd_<name>.c and is listed once in
 * main.c's table.  It gets the global options already parsed and loads the
 * config and plugins through the helpers below, which do it at most once.
 * A subcommand returns the process exit code: 0 success, 1 runtime failure,
 * 2 usage or config error. */
#ifndef KA_CLI_CLI_H
#define KA_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "config/document.h"
#include "pipeline/pipeline.h"
#include "plugin/plugin.h"

enum {
        KA_EXIT_OK = 0,
        KA_EXIT_FAILURE = 1,
        KA_EXIT_USAGE = 2,
};

struct ka_cli {
        const char *config_path; /* -c; NULL = the default file, if it exists */
        const char *kubeconfig;  /* --kubeconfig */
        const char *context;     /* --context */
        const char *namespace_;  /* -n, --namespace */
        const char *cloud;       /* --cloud */
        bool log_http;           /* --log-http */
        const char *as_user;     /* --as */
        const char *as_uid;      /* --as-uid */
        const char **as_groups;  /* --as-group, repeatable; NULL-terminated, or NULL */

        bool have_doc;
        struct ka_document doc;
        bool have_plugins;
        struct ka_registry plugins;
        struct ka_diags plugin_diags; /* refusals and warnings from loading */
};

struct ka_cli_command {
        const char *name;
        int (*run)(struct ka_cli *cli, int argc, char **argv);
        const char *summary;
};

/* The config document: -c, or the default file when it exists.  Returns
 * 0 with *ret = NULL when there is no config at all and none was asked for.
 * Problems are printed; the return is then KA_EXIT_USAGE. */
int ka_cli_document(struct ka_cli *cli, bool required, const struct ka_document **ret);
/* The plugins from the search path (the config's kubeagent.pluginPath
 * included).  Refusals are printed as errors; returns KA_EXIT_FAILURE if
 * any plugin was refused, else 0. */
int ka_cli_plugins(struct ka_cli *cli, const struct ka_registry **ret);

/* The config model (ka_cli_document, ka_cli_plugins, ka_config_load); its
 * diagnostics are added to diags and printed.  Returns an exit code:
 * KA_EXIT_USAGE when there is no config or it has errors (*ret unset),
 * KA_EXIT_FAILURE when a plugin was refused (*ret set), else 0 (*ret set;
 * free it with ka_config_free). */
struct ka_config;
int ka_cli_config(struct ka_cli *cli, struct ka_config **ret, struct ka_diags *diags);

/* The cloud --cloud names, else the config's first (NULL when it has
 * none).  An unknown name is printed; the return is then KA_EXIT_USAGE. */
struct ka_cloud;
int ka_cli_cloud(const struct ka_cli *cli, const struct ka_config *cfg, const struct ka_cloud **ret);

/* Print a located diagnostics list to stderr. */
void ka_cli_print_diags(const struct ka_diags *d);
/* Print "PATH: N errors, N warnings" to stderr. */
void ka_cli_print_counts(const char *path, const struct ka_diags *d);
/* Print a command's usage: for --help to stdout (returns KA_EXIT_OK), else
 * to stderr (returns KA_EXIT_USAGE). */
int ka_cli_usage(void (*usage)(FILE *f), bool help);

int ka_cmd_plugins(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_check(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_render(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_pods(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_logs(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_doctor(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_exec(struct ka_cli *cli, int argc, char **argv);
int ka_cmd_gc(struct ka_cli *cli, int argc, char **argv);

/* The Kubernetes side of a command (kube.c): the config (when there is
 * one), the cloud (--cloud, else the first), and a client for it —
 * credentials from --kubeconfig/--context, else the cloud's credentialsId,
 * else autodetection; namespace from -n, else the cloud's, else the
 * credentials'. */
struct ka_config;
struct ka_cloud;
struct ka_kube;

struct ka_cli_kube {
        struct ka_config *cfg;        /* NULL without a config file */
        const struct ka_cloud *cloud; /* NULL without a config file */
        struct ka_kube *kube;
        char *selector; /* agent pods: the cloud's podLabels, or jenkins=slave */
};
/* Returns an exit code; problems are printed.  On failure *ret holds
 * nothing (closing it is harmless). */
int ka_cli_kube_open(struct ka_cli *cli, struct ka_cli_kube *ret);
void ka_cli_kube_close(struct ka_cli_kube *k);

/* A Jenkinsfile's pod templates (jenkinsfile.c): read, and loaded like
 * config templates, each with its cloud: the block's `cloud`, else --cloud,
 * else the config's first.  Without a config, `clouds` are NULL, or with
 * `default_cloud` every block is in a cloud with every default.  `loaded`
 * is NULL for a block with errors.  Problems go to diags; returns 0,
 * KA_EXIT_FAILURE (a plugin was refused) or KA_EXIT_USAGE (any error).
 * *ret is always set: free it with ka_cli_pipeline_free(). */
struct ka_cli_pipeline {
        struct ka_pipeline p;
        struct ka_config *cfg;
        struct ka_template **loaded;
        const struct ka_cloud **clouds;
        struct ka_document default_doc; /* the default cloud's, when used */
};
int ka_cli_pipeline_load(struct ka_cli *cli, const char *path, bool default_cloud, struct ka_cli_pipeline *ret,
                         struct ka_diags *diags);
void ka_cli_pipeline_free(struct ka_cli_pipeline *cp);
/* The loaded templates of block i's cloud (the parents a nested block may
 * name), into ret (room for every block); returns how many. */
size_t ka_cli_pipeline_parents(const struct ka_cli_pipeline *cp, size_t i, const struct ka_template **ret);
/* `kubeagent check JENKINSFILE` */
int ka_cmd_check_jenkinsfile(struct ka_cli *cli, const char *path);

#endif
