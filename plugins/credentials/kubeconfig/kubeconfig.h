/* plugins/credentials/kubeconfig — kubeconfig files read as kubectl does.
 *
 * load.c: which files (an explicit path alone; else $KUBECONFIG's list,
 * missing files skipped; else ~/.kube/config), merging (the first file that
 * defines a cluster, user or context name wins it whole; the first non-empty
 * current-context wins), context selection, relative paths (against the
 * folder of the file each entry came from), validation with file:line:col,
 * and the auth precedence of reference §6.7, into one struct kc_resolved.
 * exec.c: client.authentication.k8s.io exec plugins. */
#ifndef KA_PLUGINS_KUBECONFIG_H
#define KA_PLUGINS_KUBECONFIG_H

#include <kubeagent/kubeagent.h>
#include <stdbool.h>
#include <stdint.h>

struct kc_exec {
        char *api_version;       /* client.authentication.k8s.io/v1 or /v1beta1 */
        char *command;           /* resolved against the file's folder when it has a '/' */
        char **args;             /* NULL-terminated */
        char **env;              /* NULL-terminated "NAME=value" */
        bool interactive_always; /* interactiveMode: Always (refused: kubeagent has no terminal) */
        char *cluster_json;      /* spec.cluster for KUBERNETES_EXEC_INFO, or NULL */
        char *install_hint;
};

struct kc_resolved {
        char *file; /* the file the context came from */
        char *context, *cluster, *user;
        char *server, *tls_server_name, *proxy_url, *namespace_;
        bool insecure;
        char *ca_pem;
        char *cert_pem;
        char *key_pem; /* secret */
        char *token;   /* secret */
        char *token_file;
        char *username;
        char *password;       /* secret */
        struct kc_exec *exec; /* only when no token, basic auth or certificate is set */
        /* impersonation: as, as-uid, as-groups, as-user-extra (pairs key, value) */
        char *as_user, *as_uid;
        char **as_groups, **as_extra; /* NULL-terminated, or NULL */
};

/* A set of parsed kubeconfig documents being merged. */
struct kc_merge;

struct kc_merge *kc_merge_new(void);
/* Add one parsed document (ownership passes to the merge); file names it. */
int kc_merge_add(struct kc_merge *m, struct kubeagent_config_source *doc, const cJSON *root, const char *file,
                 struct ka_error *err);
/* Select a context (NULL: current-context) and resolve it. */
int kc_merge_resolve(const struct kc_merge *m, const char *context, struct kc_resolved *ret, struct ka_error *err);
void kc_merge_free(struct kc_merge *m);

/* Files, merge and resolve: path alone (kubectl --kubeconfig) when not NULL. */
int kc_load(const char *path, const char *context, struct kc_resolved *ret, struct ka_error *err);
/* Whether kc_load(NULL, ...) would find any file. */
bool kc_default_exists(void);
void kc_resolved_clear(struct kc_resolved *r);

/* Run the exec plugin; its token or certificate/key, and expiry (0 = none). */
struct kc_exec_result {
        char *token; /* secret, or NULL */
        char *cert_pem;
        char *key_pem; /* secret */
        int64_t expires_ms;
};
int kc_exec_run(const struct kc_exec *e, struct kc_exec_result *ret, struct ka_error *err);
void kc_exec_result_clear(struct kc_exec_result *r);

#endif
