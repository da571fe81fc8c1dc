/* Credential plugin `service-account`: the pod's own service account, when
 * kubeagent runs inside the cluster (client-go's InClusterConfig).
 *
 * Server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6
 * host in brackets); token, ca.crt and namespace from the service-account
 * folder.  The token is a bound, expiring token the kubelet rotates, so it
 * is re-read about every minute and after a 401.  The namespace is
 * $POD_NAMESPACE, else the folder's namespace file.
 *
 * Autodetects first (priority 10): in-cluster wins over a kubeconfig, as the
 * Jenkins plugin's auto-configuration. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/credutil.h"

#define DEFAULT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct conf {
        char *dir;
        char *server;
};

static const struct kubeagent_config_key keys[] = {
        {"dir", KUBEAGENT_CFG_PATH, DEFAULT_DIR, 0, offsetof(struct conf, dir),
         "folder with token, ca.crt and namespace"},
        {"server", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, server),
         "API server URL (default: from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT)"},
        {NULL},
};

struct session {
        struct cu_server srv;
        struct cu_tokenfile token;
};

static char *in_dir(const char *dir, const char *name) {
        return cu_printf("%s/%s", dir, name);
}

static char *env_server(void) {
        const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
        if (!host || !*host || !port || !*port)
                return NULL;
        return strchr(host, ':') ? cu_printf("https://[%s]:%s", host, port) : cu_printf("https://%s:%s", host, port);
}

static int detect(void *state, void *conf_, struct ka_error *err) {
        (void)state, (void)err;
        struct conf *c = conf_;
        char *server = env_server();
        if (!server)
                return 0;
        free(server);
        char *token = in_dir(c->dir, "token");
        int found = access(token, R_OK) == 0;
        free(token);
        return found;
}

static void close_(void *session) {
        struct session *s = session;
        if (!s)
                return;
        cu_server_clear(&s->srv);
        cu_tokenfile_clear(&s->token);
        free(s);
}

static int open_(void *state, const void *conf_, void **ret_session, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        struct session *s = calloc(1, sizeof(*s));
        if (!s)
                return cu_host->error_set(err, -ENOMEM, "out of memory");
        s->srv.server = c->server ? cu_strdup(c->server) : env_server();
        int r = 0;
        if (!s->srv.server)
                r = cu_host->error_set(err, -ENOENT,
                                       "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                                       "KUBERNETES_SERVICE_PORT are not set (give server)");
        char *path = in_dir(c->dir, "token");
        if (r == 0)
                r = cu_tokenfile_init(&s->token, path, err);
        free(path);
        if (r == 0) {
                path = in_dir(c->dir, "ca.crt");
                r = cu_load_pem(path, "CA", &s->srv.ca_pem, err);
                free(path);
        }
        if (r < 0) {
                close_(s);
                return r;
        }
        s->srv.namespace_ = cu_pod_namespace(c->dir);
        *ret_session = s;
        return 0;
}

static int resolve(void *session, enum kubeagent_refresh_reason reason, struct kubeagent_endpoint *ret,
                   struct ka_error *err) {
        struct session *s = session;
        char *token;
        int64_t expires;
        int r = cu_tokenfile_get(&s->token, reason == KUBEAGENT_REFRESH_UNAUTHORIZED, &token, &expires, err);
        if (r < 0)
                return r;
        *ret = cu_server_endpoint(&s->srv);
        ret->bearer_token = token;
        ret->expires_at_ms = expires;
        ret->description = cu_printf("in-cluster service account (%s)", s->token.path);
        return 0;
}

static const struct kubeagent_credential_ops ops = {
        .autodetect_priority = 10,
        .detect = detect,
        .open = open_,
        .resolve = resolve,
        .close = close_,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_CREDENTIAL), /* abi_version, struct_size, signature, kind */
        .name = "service-account",
        .version = PACKAGE_VERSION,
        .description = "the pod's service account when running in the cluster",
        .config_keys = keys,
        .config_size = sizeof(struct conf),
        .init = cu_init,
        .credential = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
