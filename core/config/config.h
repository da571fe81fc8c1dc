/* core/config/config.h — the validated configuration model.
 *
 * ka_config_load() turns a loaded document (document.h) and the plugin
 * registry into a struct ka_config: kubeagent's own `kubeagent:`,
 * `credentials:` and `frontends:` blocks and every
 * `jenkins.clouds[].kubernetes` cloud with its pod templates, with the
 * Jenkins kubernetes-plugin's defaults, normalisations and validations.
 * Every problem goes into a ka_diags with file:line:col, and loading goes on
 * after an error so that `kubeagent check` reports all of them at once.
 * Keys that only mean something inside Jenkins are accepted with one warning
 * per key name; unknown keys are errors.
 *
 * ka_template_load() reads one template from any JCasC-shaped tree (the
 * pipeline parser and the run-time registration API produce such trees).
 *
 * Who owns what:
 *  - this folder (the templates engineer) owns the model and its loading;
 *    core/template/ does inheritance, matching and rendering on it.
 *  - a struct ka_config owns everything reachable from it, except that it
 *    BORROWS the document and the registry it was loaded from: both must
 *    outlive it (the model points into the document's tree for places and
 *    into the registry for plugins).  ka_template_load() likewise borrows
 *    its tree, locmap and registry.
 *  - `kubeagent:` sub-blocks other than pluginPath (http, bus, roles, ...)
 *    belong to the daemon, bus and http engineers: the model only checks
 *    that the key is one of daemon_sections[] in config.c (add yours there)
 *    and hands the raw located block out with ka_config_section(); parse
 *    it with your own key table (ka_cfgmap_fill).
 *  - credential and frontend confs are filled by the plugins' own key
 *    tables (ka_plugin_conf_new); the Kubernetes client and the daemon use
 *    them through the plugin's ops.
 *
 * Conventions: strings are NULL when unset (blank values are normalised to
 * NULL), booleans read from the file are ints that are -1 when unset,
 * integers use KA_UNSET when unset. */
#ifndef KA_CONFIG_CONFIG_H
#define KA_CONFIG_CONFIG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/document.h"
#include "plugin/plugin.h"
#include "util/error.h"
#include "yaml/locmap.h"

#define KA_UNSET INT64_MIN
#define KA_UNLIMITED INT64_MAX

/* ---- pod templates (JCasC `templates:` items, §1.3–§1.7) ---------------- */

struct ka_template;

/* Where a value came from, for `kubeagent render --explain`: the template
 * that gave it and the place of its key. */
struct ka_origin {
        const struct ka_template *tmpl;
        struct ka_loc loc;
};

struct ka_keyval {
        char *key;
        char *value;
        struct ka_origin from;
};

/* envVar / containerEnvVar / podEnvVar (key + value) or secretEnvVar. */
struct ka_env {
        char *key;
        char *value;       /* key/value form */
        char *secret_name; /* secret form: secretKeyRef */
        char *secret_key;
        int optional; /* -1 when unset */
        bool secret;
        struct ka_origin from;
};

struct ka_port {
        char *name;
        int64_t container_port; /* KA_UNSET when not given */
        int64_t host_port;      /* KA_UNSET when not given */
        struct ka_origin from;
};

struct ka_probe {
        char *exec_args;
        int64_t initial_delay_seconds, timeout_seconds, failure_threshold, period_seconds, success_threshold;
};

/* Resource names, in the order of the six container fields. */
enum { KA_RES_CPU, KA_RES_MEMORY, KA_RES_EPHEMERAL, KA_RES__N };
extern const char *const ka_resource_names[KA_RES__N]; /* "cpu", "memory", "ephemeral-storage" */

/* Per-field provenance of a container (combine takes fields from several). */
enum ka_container_field {
        KA_CF_NAME,
        KA_CF_IMAGE,
        KA_CF_COMMAND,
        KA_CF_ARGS,
        KA_CF_WORKING_DIR,
        KA_CF_TTY,
        KA_CF_ALWAYS_PULL,
        KA_CF_PRIVILEGED,
        KA_CF_RUN_AS_USER,
        KA_CF_RUN_AS_GROUP,
        KA_CF_SHELL,
        KA_CF_REQUEST, /* + KA_RES_* */
        KA_CF_LIMIT = KA_CF_REQUEST + KA_RES__N,
        KA_CF_PROBE = KA_CF_LIMIT + KA_RES__N,
        KA_CF__N,
};
extern const char *const ka_container_field_keys[KA_CF__N]; /* JCasC key of each */

struct ka_container {
        char *name;
        char *image;
        char *command; /* split like a shell line when rendered (§1.4.1) */
        char *args;
        char *working_dir;
        char *shell;
        int tty, always_pull, privileged;  /* -1 unset */
        int64_t run_as_user, run_as_group; /* KA_UNSET */
        char *requests[KA_RES__N], *limits[KA_RES__N];
        struct ka_env **env;
        size_t n_env;
        struct ka_port **ports;
        size_t n_ports;
        struct ka_probe *probe;
        struct ka_origin from[KA_CF__N]; /* .tmpl NULL: the field is unset */
        struct ka_loc loc;
        bool borrowed; /* made by inheritance: members belong to other containers */
};

/* A volume entry or a workspace volume: served by the volume plugin whose
 * symbol selected it.  The plugin rendered it once at load time, so the
 * core knows its mount path (pod form) and that it renders. */
struct ka_volume {
        const struct kubeagent_plugin_handle *plugin;
        int form;           /* KUBEAGENT_VOLUME_POD or _WORKSPACE */
        const char *symbol; /* as written, e.g. "hostPathVolume" (the plugin's string) */
        void *conf;         /* filled from the plugin's key table */
        char *mount_path;   /* pod form: normalised mount path */
        struct ka_origin from;
};

/* One `yaml:` fragment, parsed at load time. */
struct ka_fragment {
        char *text;
        cJSON *pod;             /* always an object */
        struct ka_locmap *locs; /* places of the nodes of pod, in the template's file */
        struct ka_origin from;
};

enum ka_yaml_merge {
        KA_MERGE_UNSET = 0, /* ⇒ override */
        KA_MERGE_OVERRIDE,
        KA_MERGE_MERGE,
        KA_MERGE_STRATEGIC, /* kubeagent: Kubernetes strategic-merge-patch semantics */
};
const char *ka_yaml_merge_name(enum ka_yaml_merge m);

enum ka_node_usage {
        KA_USAGE_EXCLUSIVE = 0, /* the default: only jobs asking for one of its labels */
        KA_USAGE_NORMAL,        /* also jobs without a label */
};

/* Per-field provenance of a template's scalar fields. */
enum ka_template_field {
        KA_TF_NAME,
        KA_TF_NAMESPACE,
        KA_TF_LABEL,
        KA_TF_NODE_USAGE_MODE,
        KA_TF_INHERIT_FROM,
        KA_TF_AGENT_CONTAINER,
        KA_TF_AGENT_INJECTION,
        KA_TF_INSTANCE_CAP,
        KA_TF_IDLE_MINUTES,
        KA_TF_ACTIVE_DEADLINE,
        KA_TF_SLAVE_CONNECT_TIMEOUT,
        KA_TF_SERVICE_ACCOUNT,
        KA_TF_SCHEDULER_NAME,
        KA_TF_NODE_SELECTOR,
        KA_TF_RUN_AS_USER,
        KA_TF_RUN_AS_GROUP,
        KA_TF_SUPPLEMENTAL_GROUPS,
        KA_TF_HOST_NETWORK,
        KA_TF_SHOW_RAW_YAML,
        KA_TF_YAML_MERGE_STRATEGY,
        KA_TF_INHERIT_YAML_MERGE_STRATEGY,
        KA_TF_POD_RETENTION,
        KA_TF_WORKSPACE_VOLUME,
        KA_TF_TERMINATION_GRACE,
        KA_TF__N,
};
extern const char *const ka_template_field_keys[KA_TF__N];

#define KA_SLAVE_CONNECT_TIMEOUT_DEFAULT 1000

struct ka_template {
        char *id;
        char *name;
        char *namespace_;
        char *label; /* whitespace-separated atoms, as written (trimmed) */
        enum ka_node_usage node_usage_mode;
        char *inherit_from;              /* space-separated template names */
        char *agent_container;           /* NULL ⇒ "jnlp" */
        int agent_injection;             /* -1 unset */
        int64_t instance_cap;            /* KA_UNLIMITED by default; 0 blocks provisioning */
        int64_t idle_minutes;            /* 0: single use */
        int64_t active_deadline_seconds; /* 0: unset */
        int64_t slave_connect_timeout;   /* seconds, default 1000 */
        char *service_account;
        char *scheduler_name;
        char *node_selector;               /* "k=v,k2=v2" as written */
        int64_t run_as_user, run_as_group; /* KA_UNSET */
        char *supplemental_groups;         /* "1,2" as written */
        int host_network;                  /* -1 unset */
        int show_raw_yaml;                 /* -1 unset (⇒ true) */
        enum ka_yaml_merge yaml_merge_strategy;
        int inherit_yaml_merge_strategy; /* -1 unset (⇒ false) */
        char *pod_retention;             /* a retention plugin's symbol, NULL ⇒ "default" */
        const struct kubeagent_plugin_handle *pod_retention_plugin;
        int64_t termination_grace_period_seconds; /* KA_UNSET */
        struct ka_volume *workspace_volume;       /* NULL ⇒ the default emptyDir */

        struct ka_container **containers;
        size_t n_containers;
        struct ka_env **env;
        size_t n_env;
        struct ka_volume **volumes;
        size_t n_volumes;
        struct ka_keyval **annotations;
        size_t n_annotations;
        struct ka_keyval **image_pull_secrets; /* .key is the secret name */
        size_t n_image_pull_secrets;
        struct ka_fragment **yamls; /* the `yaml:` of this template; after inheritance, ancestors' first */
        size_t n_yamls;

        struct ka_origin from[KA_TF__N];
        const cJSON *src;             /* the template's node (borrowed) */
        const struct ka_locmap *locs; /* where src's nodes are (borrowed) */
        struct ka_loc loc;
        bool borrowed; /* made by inheritance: members belong to other templates */
};

/* Read one template from a JCasC-shaped tree (the same keys as an item of
 * `templates:`).  Volume types are found among the registry's volume
 * plugins, retention symbols among its retention plugins.  Problems go to
 * diags (all of them); on error nothing is returned. */
int ka_template_load(const cJSON *node, const struct ka_locmap *locs, const struct ka_registry *reg,
                     struct ka_template **ret, struct ka_diags *diags);
void ka_template_free(struct ka_template *t);
KA_DEFINE_CLEANUP(struct ka_template, ka_template_free)

/* splitCommandLine (§1.4.1), for command, args and execArgs: split on
 * whitespace; 'single' and "double" quotes group and are removed; pieces
 * next to each other join; no escapes.  *ret is NULL for a blank line;
 * -EINVAL for an unbalanced quote. */
int ka_split_command_line(const char *s, char ***ret);

/* The agent container's name: agentContainer, or "jnlp". */
const char *ka_template_agent_container(const struct ka_template *t);

/* ---- clouds (JCasC `jenkins.clouds[].kubernetes`, §1.1) ------------------ */

struct ka_credential {
        char *id;                                     /* the key in `credentials:` */
        const struct kubeagent_plugin_handle *plugin; /* found by `type:` */
        void *conf;                                   /* filled by the plugin's key table */
        struct ka_loc loc;
};

struct ka_frontend {
        char *name; /* the key in `frontends:` = the plugin's name */
        const struct kubeagent_plugin_handle *plugin;
        void *conf;
        struct ka_loc loc;
};

struct ka_cloud {
        char *name;
        char *server_url;         /* NULL: autodetect (in-cluster, then kubeconfig) */
        char *server_certificate; /* PEM text (a base64-wrapped PEM is decoded), or NULL */
        bool skip_tls_verify;
        char *credentials_id;
        const struct ka_credential *credentials; /* the entry credentials_id names, or NULL */
        char *namespace_;
        char *jnlpregistry;  /* registry prefix of the default agent image */
        bool restricted_pss; /* restrictedPssSecurityContext */
        bool websocket;
        bool direct_connection;
        char *jenkins_url; /* with a trailing '/', or NULL */
        char *jenkins_tunnel;
        int64_t connect_timeout_ms;    /* ≥ 5 s */
        int64_t read_timeout_ms;       /* ≥ 15 s */
        int64_t container_cap;         /* KA_UNLIMITED when not capped */
        int64_t max_requests_per_host; /* default 32 */
        double qps;                    /* kubeagent: client-side rate limit, default 5 (< 0 disables) */
        int64_t burst;                 /* kubeagent: default 10 */
        int64_t wait_for_pod_sec;      /* default 600 (the plugin stores it and never reads it) */
        int64_t retention_timeout_min; /* ≥ 5 */
        bool usage_restricted;
        char **allowed_folders; /* kubeagent: folders that may use a restricted cloud; never NULL */
        char *defaults_provider_template;
        struct ka_keyval **pod_labels; /* as configured; empty ⇒ effective jenkins=slave */
        size_t n_pod_labels;
        char *pod_retention; /* a retention plugin's symbol; "never" by default */
        const struct kubeagent_plugin_handle *pod_retention_plugin;
        bool gc_enabled;      /* garbageCollection present */
        char **gc_namespaces; /* never NULL */
        int64_t gc_timeout_s; /* ≥ 120, default 300 */
        struct ka_template **templates;
        size_t n_templates;
        struct ka_loc loc;
};

/* The effective pod labels: the configured ones, or jenkins=slave. */
size_t ka_cloud_pod_labels(const struct ka_cloud *c, const struct ka_keyval *const **ret);
/* A template of this cloud by exact name (the first), or NULL. */
const struct ka_template *ka_cloud_template(const struct ka_cloud *c, const char *name);

/* ---- the whole file ------------------------------------------------------ */

struct ka_config {
        const struct ka_document *doc;     /* borrowed */
        const struct ka_registry *plugins; /* borrowed */
        const cJSON *kubeagent;            /* the raw `kubeagent:` block, or NULL */
        struct ka_credential **credentials;
        size_t n_credentials;
        struct ka_frontend **frontends;
        size_t n_frontends;
        struct ka_cloud **clouds;
        size_t n_clouds;
};

int ka_config_load(const struct ka_document *doc, const struct ka_registry *reg, struct ka_config **ret,
                   struct ka_diags *diags);
void ka_config_free(struct ka_config *cfg);
KA_DEFINE_CLEANUP(struct ka_config, ka_config_free)

/* A cloud by name; name NULL = the first cloud.  NULL when none. */
const struct ka_cloud *ka_config_cloud(const struct ka_config *cfg, const char *name);
const struct ka_credential *ka_config_credential(const struct ka_config *cfg, const char *id);
const struct ka_frontend *ka_config_frontend(const struct ka_config *cfg, const char *name);
/* `kubeagent.<key>` as a located block for a key table (node NULL when absent). */
struct kubeagent_config_source ka_config_section(const struct ka_config *cfg, const char *key);

#endif
