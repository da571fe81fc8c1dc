/* Credential plugin `kubeconfig`: a kubeconfig file (or $KUBECONFIG's list,
 * or ~/.kube/config) and a context, resolved exactly as kubectl resolves
 * them (load.c), with token files re-read and exec plugins re-run when their
 * credentials expire or the server answers 401.
 *
 *     credentials:
 *       ci-cluster: {type: kubeconfig, path: ~/.kube/config, context: ci}
 *
 * Autodetects after the in-cluster service account (priority 20), and
 * serves the command line's --kubeconfig/--context (the kubeconfig role). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/credutil.h"
#include "kubeconfig.h"

struct conf {
        char *path;
        char *context;
};

static const struct kubeagent_config_key keys[] = {
        {"path", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, path),
         "kubeconfig file, used alone (default: $KUBECONFIG's files merged, else ~/.kube/config)"},
        {"context", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, context),
         "context to use (default: the current-context)"},
        {NULL},
};

struct session {
        struct kc_resolved kc;
        struct cu_tokenfile token_file;
        bool has_token_file;
        struct kc_exec_result exec; /* cached exec plugin credentials */
        bool has_exec;
        char *description;
};

static int detect(void *state, void *conf, struct ka_error *err) {
        (void)state, (void)conf, (void)err;
        return kc_default_exists() ? 1 : 0;
}

static void close_(void *session) {
        struct session *s = session;
        if (!s)
                return;
        kc_resolved_clear(&s->kc);
        if (s->has_token_file)
                cu_tokenfile_clear(&s->token_file);
        kc_exec_result_clear(&s->exec);
        free(s->description);
        free(s);
}

static int open_(void *state, const void *conf_, void **ret_session, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        struct session *s = calloc(1, sizeof(*s));
        if (!s)
                return cu_host->error_set(err, -ENOMEM, "out of memory");
        int r = kc_load(c->path, c->context, &s->kc, err);
        if (r == 0 && s->kc.token_file) {
                s->has_token_file = true;
                r = cu_tokenfile_init(&s->token_file, s->kc.token_file, err);
                /* an inline token serves while the file cannot be read */
                if (r < 0 && s->kc.token)
                        r = 0;
                else if (r < 0)
                        cu_host->error_set(err, r, "user \"%s\": tokenFile: %s", s->kc.user, err->msg);
        }
        if (r < 0) {
                close_(s);
                return r;
        }
        s->description = cu_printf("kubeconfig %s, context %s (cluster %s, user %s)", s->kc.file, s->kc.context,
                                   s->kc.cluster ? s->kc.cluster : "-", s->kc.user ? s->kc.user : "-");
        *ret_session = s;
        return 0;
}

static char **strv_dup(char *const *v) {
        if (!v)
                return NULL;
        size_t n = 0;
        while (v[n])
                n++;
        char **w = calloc(n + 1, sizeof(*w));
        if (!w)
                abort();
        for (size_t i = 0; i < n; i++)
                w[i] = cu_strdup(v[i]);
        return w;
}

static int resolve(void *session, enum kubeagent_refresh_reason reason, struct kubeagent_endpoint *ret,
                   struct ka_error *err) {
        struct session *s = session;
        const struct kc_resolved *kc = &s->kc;
        struct kubeagent_endpoint ep = {
                .server = cu_strdup(kc->server),
                .namespace_ = cu_strdup(kc->namespace_),
                .ca_pem = cu_strdup(kc->ca_pem),
                .insecure = kc->insecure,
                .tls_server_name = cu_strdup(kc->tls_server_name),
                .proxy_url = cu_strdup(kc->proxy_url),
                .client_cert_pem = cu_strdup(kc->cert_pem),
                .client_key_pem = cu_secret_dup(kc->key_pem),
                .username = cu_strdup(kc->username),
                .password = cu_secret_dup(kc->password),
                .description = cu_strdup(s->description),
                .impersonate_user = cu_strdup(kc->as_user),
                .impersonate_uid = cu_strdup(kc->as_uid),
                .impersonate_groups = strv_dup(kc->as_groups),
                .impersonate_extra = strv_dup(kc->as_extra),
        };
        if (s->has_token_file) {
                int64_t exp;
                if (cu_tokenfile_get(&s->token_file, reason == KUBEAGENT_REFRESH_UNAUTHORIZED, &ep.bearer_token, &exp,
                                     err) == 0)
                        ep.expires_at_ms = exp;
        }
        if (!ep.bearer_token)
                ep.bearer_token = cu_secret_dup(kc->token);
        if (kc->exec) {
                bool stale = !s->has_exec || reason != 0 ||
                             (s->exec.expires_ms > 0 && cu_host->wall_ms() >= s->exec.expires_ms);
                if (stale) {
                        kc_exec_result_clear(&s->exec);
                        s->has_exec = false;
                        int r = kc_exec_run(kc->exec, &s->exec, err);
                        if (r < 0) {
                                cu_host->endpoint_clear(&ep);
                                return r;
                        }
                        s->has_exec = true;
                }
                ep.bearer_token = cu_secret_dup(s->exec.token);
                if (s->exec.cert_pem) {
                        ep.client_cert_pem = cu_strdup(s->exec.cert_pem);
                        ep.client_key_pem = cu_secret_dup(s->exec.key_pem);
                }
                ep.expires_at_ms = s->exec.expires_ms;
        }
        *ret = ep;
        return 0;
}

static const struct kubeagent_credential_ops ops = {
        .autodetect_priority = 20,
        .detect = detect,
        .open = open_,
        .resolve = resolve,
        .close = close_,
        .roles = KUBEAGENT_CREDENTIAL_ROLE_KUBECONFIG,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_CREDENTIAL), /* abi_version, struct_size, signature, kind */
        .name = "kubeconfig",
        .version = PACKAGE_VERSION,
        .description = "a kubeconfig file and context, resolved as kubectl does",
        .config_keys = keys,
        .config_size = sizeof(struct conf),
        .init = cu_init,
        .credential = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
