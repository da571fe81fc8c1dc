/* Credential plugin `token`: a bearer token given inline or kept in a file,
 * plus the server's CA.
 *
 *     credentials:
 *       ci: {type: token, server: "https://k8s:6443", tokenFile: /etc/kubeagent/k8s-token, caFile: ca.crt}
 *
 * A tokenFile is re-read about every minute and after a 401, so a rotated
 * token is picked up; with both token and tokenFile the token serves until
 * the file can be read (as kubeconfig's token + tokenFile). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "../common/credutil.h"

struct conf {
        char *server;
        char *token;
        char *token_file;
        char *ca_file;
        char *ca_data;
        char *namespace_;
};

static const struct kubeagent_config_key keys[] = {
        {"server", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, server),
         "API server URL (the cloud's serverUrl overrides it)"},
        {"token", KUBEAGENT_CFG_SECRET, NULL, 0, offsetof(struct conf, token), "the bearer token"},
        {"tokenFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, token_file),
         "file holding the token, re-read when it changes"},
        {"caFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, ca_file), "PEM file of the cluster CA"},
        {"caData", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, ca_data),
         "the cluster CA as PEM text or base64 of it"},
        {"namespace", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct conf, namespace_),
         "default namespace (the cloud's namespace overrides it)"},
        {NULL},
};

struct session {
        char *server, *namespace_, *ca_pem;
        char *token;                    /* secret; NULL when only the file serves */
        struct cu_tokenfile file;
        bool has_file;
};

static int validate(void *state, const void *conf_, const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        if (!c->token && !c->token_file)
                return cu_host->error_at(err, src, NULL, -EINVAL, "token credentials need token or tokenFile");
        if (c->ca_file && c->ca_data)
                return cu_host->error_at(err, src, "caData", -EINVAL, "give caFile or caData, not both");
        return 0;
}

static void session_free(struct session *s) {
        if (!s)
                return;
        free(s->server);
        free(s->namespace_);
        free(s->ca_pem);
        cu_host->secret_free(s->token);
        if (s->has_file)
                cu_tokenfile_clear(&s->file);
        free(s);
}

static int open_(void *state, const void *conf_, void **ret_session, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        if (validate(NULL, c, NULL, err) < 0)
                return -EINVAL;
        struct session *s = calloc(1, sizeof(*s));
        if (!s)
                return cu_host->error_set(err, -ENOMEM, "out of memory");
        s->server = cu_strdup(c->server);
        s->namespace_ = cu_strdup(c->namespace_);
        if (c->token) {
                s->token = cu_strdup(c->token);
                cu_host->secret_register(s->token);
        }
        int r = 0;
        if (c->ca_file)
                r = cu_load_pem(c->ca_file, "CA", &s->ca_pem, err);
        else if (c->ca_data)
                r = cu_pem_or_base64(c->ca_data, "CA", "caData", &s->ca_pem, err);
        if (r == 0 && c->token_file) {
                s->has_file = true;
                /* a file that cannot be read yet is fine while an inline token serves */
                r = cu_tokenfile_init(&s->file, c->token_file, err);
                if (r < 0 && s->token)
                        r = 0;
        }
        if (r < 0) {
                session_free(s);
                return r;
        }
        *ret_session = s;
        return 0;
}

static int resolve(void *session, enum kubeagent_refresh_reason reason, struct kubeagent_endpoint *ret,
                   struct ka_error *err) {
        struct session *s = session;
        char *token = NULL;
        int64_t expires = 0;
        if (s->has_file) {
                int r = cu_tokenfile_get(&s->file, reason == KUBEAGENT_REFRESH_UNAUTHORIZED, &token, &expires, err);
                if (r < 0 && !s->token)
                        return r;
        }
        if (!token) {
                token = cu_strdup(s->token);
                cu_host->secret_register(token);
        }
        *ret = (struct kubeagent_endpoint){
                .server = cu_strdup(s->server),
                .namespace_ = cu_strdup(s->namespace_),
                .ca_pem = cu_strdup(s->ca_pem),
                .bearer_token = token,
                .expires_at_ms = expires,
                .description = s->has_file ? cu_printf("token from %s", s->file.path) : cu_strdup("token"),
        };
        return 0;
}

static void close_(void *session) {
        session_free(session);
}

static const struct kubeagent_credential_ops ops = {
        .open = open_,
        .resolve = resolve,
        .close = close_,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_CREDENTIAL),
        .name = "token",
        .version = PACKAGE_VERSION,
        .description = "a bearer token, inline or from a file re-read when it rotates",
        .config_keys = keys,
        .config_size = sizeof(struct conf),
        .init = cu_init,
        .validate = validate,
        .credential = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
