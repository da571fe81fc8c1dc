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
        struct cu_server_conf srv;
        char *token;
        char *token_file;
};

static const struct kubeagent_config_key keys[] = {
        CU_KEY_SERVER(struct conf, srv),
        {"token", KUBEAGENT_CFG_SECRET, NULL, 0, offsetof(struct conf, token), "the bearer token"},
        {"tokenFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct conf, token_file),
         "file holding the token, re-read when it changes"},
        CU_KEY_CA_FILE(struct conf, srv),
        CU_KEY_CA_DATA(struct conf, srv),
        CU_KEY_NAMESPACE(struct conf, srv),
        {NULL},
};

struct session {
        struct cu_server srv;
        char *token; /* secret; NULL when only the file serves */
        struct cu_tokenfile file;
        bool has_file;
};

static int validate(void *state, const void *conf_, const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        const struct conf *c = conf_;
        if (!c->token && !c->token_file)
                return cu_host->error_at(err, src, NULL, -EINVAL, "token credentials need token or tokenFile");
        return cu_server_validate(&c->srv, src, err);
}

static void close_(void *session) {
        struct session *s = session;
        if (!s)
                return;
        cu_server_clear(&s->srv);
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
        s->token = cu_secret_dup(c->token);
        int r = cu_server_open(&s->srv, &c->srv, err);
        if (r == 0 && c->token_file) {
                s->has_file = true;
                /* a file that cannot be read yet is fine while an inline token serves */
                r = cu_tokenfile_init(&s->file, c->token_file, err);
                if (r < 0 && s->token)
                        r = 0;
        }
        if (r < 0) {
                close_(s);
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
        *ret = cu_server_endpoint(&s->srv);
        ret->bearer_token = token ? token : cu_secret_dup(s->token);
        ret->expires_at_ms = expires;
        ret->description = s->has_file ? cu_printf("token from %s", s->file.path) : cu_strdup("token");
        return 0;
}

static const struct kubeagent_credential_ops ops = {
        .open = open_,
        .resolve = resolve,
        .close = close_,
};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_CREDENTIAL), /* abi_version, struct_size, signature, kind */
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
