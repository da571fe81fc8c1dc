/* kubeagent SDK — credential plugins.
 *
 * A credential plugin turns its parameters (an entry of the config's
 * `credentials:` map, or an autodetection) into an endpoint: how to reach one
 * Kubernetes API server and how to authenticate to it.  The core's Kubernetes
 * client asks for the endpoint before requests, again when it is about to
 * expire, and after a 401; the plugin decides when to re-read files or re-run
 * an exec plugin.  Credentials never leave the process that owns the plugin:
 * they do not travel on the bus.
 *
 * Ownership: every string in a struct kubeagent_endpoint is malloc()ed by the
 * plugin and owned by the core once resolve() returns 0; the core frees the
 * secret members with host->secret_free() and the rest with free().
 *
 * Threads: the core calls open(), resolve() and close() of one session from
 * one thread at a time (it serialises them); different sessions may be used
 * from different threads at once. */
#ifndef KUBEAGENT_CREDENTIAL_H
#define KUBEAGENT_CREDENTIAL_H

#include <stdint.h>

#include <kubeagent/error.h>
#include <kubeagent/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kubeagent_endpoint {
        char *server;     /* https://host:port[/prefix], no trailing slash */
        char *namespace_; /* default namespace, or NULL */

        /* Server verification.  With a CA, only that CA is trusted. */
        char *ca_pem;          /* PEM text of the CA bundle, or NULL for system roots */
        int insecure;          /* skip verification; only when the user asked */
        char *tls_server_name; /* SNI and verification name, or NULL */
        char *proxy_url;       /* or NULL: the environment decides */

        /* Client authentication; any combination the plugin's rules allow. */
        char *client_cert_pem; /* PEM certificate chain, or NULL */
        char *client_key_pem;  /* secret: PEM private key, or NULL */
        char *bearer_token;    /* secret, or NULL */
        char *username;        /* basic auth, or NULL */
        char *password;        /* secret, or NULL */

        /* When the credentials above stop being valid (Unix ms), 0 = unknown.
         * The core calls resolve() again shortly before this. */
        int64_t expires_at_ms;

        /* What to show a human: "kubeconfig /home/u/.kube/config context ci",
         * "in-cluster service account".  Never a secret. */
        char *description;

        /* Impersonation (kubeconfig's as, as-uid, as-groups, as-user-extra):
         * Impersonate-User, -Uid, -Group and -Extra-<key> headers on every
         * request.  NULL when not set. */
        char *impersonate_user;
        char *impersonate_uid;
        char **impersonate_groups; /* NULL-terminated */
        char **impersonate_extra;  /* NULL-terminated pairs: key, value, key, value, ... (a key once per value) */
};

/* What else a plugin can stand in for (bits of kubeagent_credential_ops.roles). */
enum kubeagent_credential_role {
        /* Reads kubeconfig files the way kubectl does.  Its config takes the
         * keys `path` (one kubeconfig file, used alone, as kubectl's
         * --kubeconfig; unset: $KUBECONFIG, then ~/.kube/config) and
         * `context` (kubectl's --context), so that the core can build an
         * instance from the command line without naming the plugin. */
        KUBEAGENT_CREDENTIAL_ROLE_KUBECONFIG = 1u << 0,
};

enum kubeagent_refresh_reason {
        KUBEAGENT_REFRESH_EXPIRED = 1,      /* expires_at_ms passed */
        KUBEAGENT_REFRESH_UNAUTHORIZED = 2, /* the server answered 401 */
};

struct kubeagent_credential_ops {
        /* Autodetection order when a cloud names no credentials: plugins with
         * priority > 0 are asked lowest first (in-cluster before kubeconfig);
         * 0 means never autodetect. */
        int autodetect_priority;

        /* Whether this source is available here with no configuration (e.g.
         * in-cluster environment present).  Returns 1 yes, 0 no, <0 error.
         * On 1 it fills `conf` (zeroed, sized config_size) as if the user had
         * written those keys.  NULL when autodetect_priority is 0. */
        int (*detect)(void *state, void *conf, struct ka_error *err);

        /* Prepare a session for one configured credential; *ret_session is
         * passed to resolve() and close().  Checks everything that can be
         * checked without the network (files exist, kubeconfig parses,
         * context exists) and names the file and the problem otherwise. */
        int (*open)(void *state, const void *conf, void **ret_session, struct ka_error *err);

        /* Produce the current endpoint.  reason is 0 for a normal call, or
         * why the previous one is no longer good (re-read the token file,
         * re-run the exec plugin, ignore caches). */
        int (*resolve)(void *session, enum kubeagent_refresh_reason reason, struct kubeagent_endpoint *ret,
                       struct ka_error *err);

        void (*close)(void *session);

        unsigned roles; /* enum kubeagent_credential_role bits */

        void *reserved[3];
};

#ifdef __cplusplus
}
#endif
#endif
