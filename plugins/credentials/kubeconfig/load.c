#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/credutil.h"
#include "kubeconfig.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct entry {
        const char *name;
        const cJSON *item; /* the list element {name:, cluster:} */
        const cJSON *body; /* its cluster/user/context mapping, or NULL */
        const struct kubeagent_config_source *doc;
        const char *file;
};

struct list {
        struct entry *v;
        size_t n;
};

struct kc_merge {
        struct kubeagent_config_source **docs;
        char **files;
        size_t n_docs;
        struct list clusters, users, contexts;
        const char *current; /* first non-empty current-context */
};

static int blame(struct ka_error *err, const struct kubeagent_config_source *doc, const cJSON *node, const char *key,
                 const char *fmt, ...) KUBEAGENT_PRINTF(5, 6);
static int blame(struct ka_error *err, const struct kubeagent_config_source *doc, const cJSON *node, const char *key,
                 const char *fmt, ...) {
        char msg[KA_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const struct kubeagent_config_source *at = node ? cu_host->config_at(doc, node) : doc;
        return cu_host->error_at(err, at, key, -EINVAL, "%s", msg);
}

struct kc_merge *kc_merge_new(void) {
        struct kc_merge *m = calloc(1, sizeof(*m));
        if (!m)
                abort();
        return m;
}

void kc_merge_free(struct kc_merge *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_docs; i++) {
                cu_host->document_free(m->docs[i]);
                free(m->files[i]);
        }
        free(m->docs);
        free(m->files);
        free(m->clusters.v);
        free(m->users.v);
        free(m->contexts.v);
        free(m);
}

static const struct entry *find(const struct list *l, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].name, name) == 0)
                        return &l->v[i];
        return NULL;
}

/* One of clusters/users/contexts of a file: a list of {name, <body>}. */
static int add_list(const struct kubeagent_config_source *doc, const char *file, const char *key, const char *body_key,
                    struct list *l, struct ka_error *err) {
        const cJSON *arr = cu_host->config_node(doc, key);
        if (!arr || cJSON_IsNull(arr))
                return 0;
        if (!cJSON_IsArray(arr))
                return blame(err, doc, arr, NULL, "%s: expected a list", key);
        size_t first = l->n;
        const cJSON *item;
        cJSON_ArrayForEach(item, arr) {
                if (!cJSON_IsObject(item))
                        return blame(err, doc, item, NULL, "%s: each entry must be a mapping with name and %s", key,
                                     body_key);
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
                if (!cJSON_IsString(name) || !*name->valuestring)
                        return blame(err, doc, item, name ? "name" : NULL, "%s: an entry without a name", key);
                const cJSON *body = cJSON_GetObjectItemCaseSensitive(item, body_key);
                if (body && !cJSON_IsNull(body) && !cJSON_IsObject(body))
                        return blame(err, doc, item, body_key, "%s \"%s\": %s must be a mapping", key,
                                     name->valuestring, body_key);
                for (size_t i = first; i < l->n; i++)
                        if (strcmp(l->v[i].name, name->valuestring) == 0)
                                return blame(err, doc, item, "name", "duplicate name \"%s\" in %s", name->valuestring,
                                             key);
                /* merge: the first file that defines a name keeps it whole */
                if (find(l, name->valuestring))
                        continue;
                struct entry *v = realloc(l->v, (l->n + 1) * sizeof(*v));
                if (!v)
                        abort();
                l->v = v;
                l->v[l->n++] = (struct entry){.name = name->valuestring,
                                              .item = item,
                                              .body = cJSON_IsObject(body) ? body : NULL,
                                              .doc = doc,
                                              .file = file};
        }
        return 0;
}

int kc_merge_add(struct kc_merge *m, struct kubeagent_config_source *doc, const cJSON *root, const char *file,
                 struct ka_error *err) {
        struct kubeagent_config_source **d = realloc(m->docs, (m->n_docs + 1) * sizeof(*d));
        if (!d)
                abort();
        m->docs = d;
        char **f = realloc(m->files, (m->n_docs + 1) * sizeof(*f));
        if (!f)
                abort();
        m->files = f;
        m->docs[m->n_docs] = doc;
        m->files[m->n_docs] = cu_strdup(file);
        file = m->files[m->n_docs++];
        if (!root || cJSON_IsNull(root))
                return 0; /* an empty file is an empty config */
        if (!cJSON_IsObject(root))
                return blame(err, doc, root, NULL, "a kubeconfig must be a mapping (apiVersion, clusters, ...)");
        int r = add_list(doc, file, "clusters", "cluster", &m->clusters, err);
        if (r == 0)
                r = add_list(doc, file, "users", "user", &m->users, err);
        if (r == 0)
                r = add_list(doc, file, "contexts", "context", &m->contexts, err);
        if (r < 0)
                return r;
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(root, "current-context");
        if (cur && !cJSON_IsNull(cur) && !cJSON_IsString(cur))
                return blame(err, doc, root, "current-context", "current-context must be a string");
        if (!m->current && cJSON_IsString(cur) && *cur->valuestring)
                m->current = cur->valuestring;
        return 0;
}

/* ---- fields -------------------------------------------------------------- */

/* A string member, or NULL; another type is an error. */
static int field_str(const struct entry *e, const char *key, const char **ret, struct ka_error *err) {
        const cJSON *v = e->body ? cJSON_GetObjectItemCaseSensitive(e->body, key) : NULL;
        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsString(v))
                return blame(err, e->doc, e->body, key, "%s must be a string", key);
        *ret = *v->valuestring ? v->valuestring : NULL;
        return 0;
}

static int field_bool(const struct entry *e, const char *key, bool *ret, struct ka_error *err) {
        const cJSON *v = e->body ? cJSON_GetObjectItemCaseSensitive(e->body, key) : NULL;
        *ret = false;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsBool(v))
                return blame(err, e->doc, e->body, key, "%s must be true or false", key);
        *ret = cJSON_IsTrue(v);
        return 0;
}

/* A path relative to the folder of the file the entry came from. */
static char *local_path(const struct entry *e, const char *p) {
        if (p[0] == '/')
                return cu_strdup(p);
        const char *slash = strrchr(e->file, '/');
        if (slash)
                return cu_printf("%.*s/%s", (int)(slash - e->file), e->file, p);
        char cwd[4096];
        return getcwd(cwd, sizeof(cwd)) ? cu_printf("%s/%s", cwd, p) : cu_strdup(p);
}

/* `key` (a path) and `key-data` (base64 of PEM): the data wins. */
static int pem_field(const struct entry *e, const char *key, const char *what, char **ret, struct ka_error *err) {
        char data_key[64];
        snprintf(data_key, sizeof(data_key), "%s-data", key);
        const char *path, *data;
        int r = field_str(e, key, &path, err);
        if (r == 0)
                r = field_str(e, data_key, &data, err);
        if (r < 0)
                return r;
        *ret = NULL;
        if (data) {
                unsigned char *pem;
                size_t len;
                if (cu_host->base64_decode(data, strlen(data), &pem, &len) < 0)
                        return blame(err, e->doc, e->body, data_key, "%s is not valid base64", data_key);
                if (strcmp(what, "key") == 0)
                        cu_host->secret_register((char *)pem);
                struct ka_error inner = {0};
                if (cu_check_pem((char *)pem, len, what, data_key, &inner) < 0) {
                        cu_host->secret_free((char *)pem);
                        return blame(err, e->doc, e->body, data_key, "%s", inner.msg);
                }
                *ret = (char *)pem;
                return 0;
        }
        if (!path)
                return 0;
        char *full = local_path(e, path);
        struct ka_error inner = {0};
        r = cu_load_pem(full, what, ret, &inner);
        free(full);
        if (r < 0)
                return blame(err, e->doc, e->body, key, "%s %s: %s", e->name, key, inner.msg);
        return 0;
}

/* ---- exec ------------------------------------------------------------------ */

static char **strv_push(char **v, char *s) {
        size_t n = 0;
        while (v && v[n])
                n++;
        char **w = realloc(v, (n + 2) * sizeof(*w));
        if (!w)
                abort();
        w[n] = s;
        w[n + 1] = NULL;
        return w;
}

static void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static char *b64(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        if (!out)
                abort();
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
        return out;
}

static void exec_free(struct kc_exec *x) {
        if (!x)
                return;
        free(x->api_version);
        free(x->command);
        strv_free(x->args);
        strv_free(x->env);
        free(x->cluster_json);
        free(x->install_hint);
        free(x);
}

static int parse_exec(const struct entry *user, const cJSON *node, const struct kc_resolved *r, struct kc_exec **ret,
                      struct ka_error *err) {
        struct entry e = *user;
        e.body = node;
        if (!cJSON_IsObject(node))
                return blame(err, user->doc, user->body, "exec", "exec must be a mapping");
        const char *command, *api, *mode, *hint;
        int rc = field_str(&e, "command", &command, err);
        if (rc == 0)
                rc = field_str(&e, "apiVersion", &api, err);
        if (rc == 0)
                rc = field_str(&e, "interactiveMode", &mode, err);
        if (rc == 0)
                rc = field_str(&e, "installHint", &hint, err);
        bool provide;
        if (rc == 0)
                rc = field_bool(&e, "provideClusterInfo", &provide, err);
        if (rc < 0)
                return rc;
        if (!command)
                return blame(err, e.doc, node, NULL, "user \"%s\": exec needs command", e.name);
        if (!api)
                return blame(err, e.doc, node, NULL, "user \"%s\": exec needs apiVersion", e.name);
        if (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
            strcmp(api, "client.authentication.k8s.io/v1beta1") != 0)
                return blame(err, e.doc, node, "apiVersion",
                             "user \"%s\": exec apiVersion \"%s\" is not supported (use "
                             "client.authentication.k8s.io/v1 or v1beta1)",
                             e.name, api);
        bool v1 = strcmp(api, "client.authentication.k8s.io/v1") == 0;
        if (!mode && v1)
                return blame(err, e.doc, node, NULL,
                             "user \"%s\": exec needs interactiveMode (Never, IfAvailable "
                             "or Always) with apiVersion client.authentication.k8s.io/v1",
                             e.name);
        if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0 && strcmp(mode, "Always") != 0)
                return blame(err, e.doc, node, "interactiveMode",
                             "user \"%s\": interactiveMode must be Never, IfAvailable or Always", e.name);
        struct kc_exec *x = calloc(1, sizeof(*x));
        if (!x)
                abort();
        x->api_version = cu_strdup(api);
        x->command = strchr(command, '/') ? local_path(&e, command) : cu_strdup(command);
        x->install_hint = cu_strdup(hint);
        x->interactive_always = mode && strcmp(mode, "Always") == 0;
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(node, "args"), *a;
        if (args && !cJSON_IsNull(args) && !cJSON_IsArray(args))
                rc = blame(err, e.doc, node, "args", "exec args must be a list of strings");
        const cJSON *list = cJSON_IsArray(args) ? args : NULL;
        cJSON_ArrayForEach(a, list) {
                if (!cJSON_IsString(a)) {
                        rc = blame(err, e.doc, a, NULL, "exec args must be strings");
                        break;
                }
                x->args = strv_push(x->args, cu_strdup(a->valuestring));
        }
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(node, "env");
        if (rc == 0 && env && !cJSON_IsNull(env) && !cJSON_IsArray(env))
                rc = blame(err, e.doc, node, "env", "exec env must be a list of {name, value}");
        list = rc == 0 && cJSON_IsArray(env) ? env : NULL;
        cJSON_ArrayForEach(a, list) {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "name");
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "value");
                if (!cJSON_IsString(n) || !*n->valuestring || strchr(n->valuestring, '=') ||
                    (v && !cJSON_IsString(v))) {
                        rc = blame(err, e.doc, a, NULL, "exec env entries need a name and a string value");
                        break;
                }
                x->env = strv_push(x->env, cu_printf("%s=%s", n->valuestring, v ? v->valuestring : ""));
        }
        if (rc == 0 && provide) {
                cJSON *c = cJSON_CreateObject();
                cJSON_AddStringToObject(c, "server", r->server);
                if (r->tls_server_name)
                        cJSON_AddStringToObject(c, "tls-server-name", r->tls_server_name);
                if (r->insecure)
                        cJSON_AddBoolToObject(c, "insecure-skip-tls-verify", 1);
                if (r->ca_pem) {
                        char *d = b64(r->ca_pem);
                        cJSON_AddStringToObject(c, "certificate-authority-data", d);
                        free(d);
                }
                if (r->proxy_url)
                        cJSON_AddStringToObject(c, "proxy-url", r->proxy_url);
                x->cluster_json = cJSON_PrintUnformatted(c);
                cJSON_Delete(c);
        }
        if (rc < 0) {
                exec_free(x);
                return rc;
        }
        *ret = x;
        return 0;
}

/* ---- resolve ----------------------------------------------------------------- */

void kc_resolved_clear(struct kc_resolved *r) {
        free(r->file);
        free(r->context);
        free(r->cluster);
        free(r->user);
        free(r->server);
        free(r->tls_server_name);
        free(r->proxy_url);
        free(r->namespace_);
        free(r->ca_pem);
        free(r->cert_pem);
        cu_host->secret_free(r->key_pem);
        cu_host->secret_free(r->token);
        free(r->token_file);
        free(r->username);
        cu_host->secret_free(r->password);
        exec_free(r->exec);
        free(r->as_user);
        free(r->as_uid);
        strv_free(r->as_groups);
        strv_free(r->as_extra);
        *r = (struct kc_resolved){0};
}

/* proxy-url: http, https or socks5 (client-go); its password is a secret. */
static int check_proxy(const struct entry *c, const char *proxy, struct ka_error *err) {
        const char *sep = strstr(proxy, "://");
        const char *auth = sep ? sep + 3 : proxy;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = NULL, *colon = NULL;
        for (const char *p = auth; p < end; p++)
                if (*p == '@')
                        at = p;
        if (at)
                colon = memchr(auth, ':', (size_t)(at - auth));
        char *shown = colon ? cu_printf("%.*s********%s", (int)(colon + 1 - proxy), proxy, at) : cu_strdup(proxy);
        if (colon && at > colon + 1) {
                char *pass = cu_strndup(colon + 1, (size_t)(at - colon - 1));
                cu_host->secret_register(pass);
                cu_host->secret_free(pass);
        }
        size_t n = sep ? (size_t)(sep - proxy) : 0;
        int rc = 0;
        if (!((n == 4 && strncasecmp(proxy, "http", 4) == 0) || (n == 5 && strncasecmp(proxy, "https", 5) == 0) ||
              (n == 6 && strncasecmp(proxy, "socks5", 6) == 0)))
                rc = blame(err, c->doc, c->body, "proxy-url",
                           "invalid 'proxy-url' \"%s\" for cluster \"%s\": unsupported scheme \"%.*s\", must be http, "
                           "https, or socks5",
                           shown, c->name, (int)n, proxy);
        free(shown);
        return rc;
}

static int resolve_cluster(const struct entry *c, struct kc_resolved *r, struct ka_error *err) {
        const char *server, *tls, *proxy;
        int rc = field_str(c, "server", &server, err);
        if (rc == 0)
                rc = field_str(c, "tls-server-name", &tls, err);
        if (rc == 0)
                rc = field_str(c, "proxy-url", &proxy, err);
        if (rc == 0)
                rc = field_bool(c, "insecure-skip-tls-verify", &r->insecure, err);
        if (rc < 0)
                return rc;
        if (!server)
                return blame(err, c->doc, c->item, NULL, "no server found for cluster \"%s\"", c->name);
        if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
                return blame(err, c->doc, c->body, "server", "cluster \"%s\": server \"%s\" must be an https:// URL",
                             c->name, server);
        size_t n = strlen(server);
        while (n > 8 && server[n - 1] == '/')
                n--;
        r->server = cu_strndup(server, n);
        r->tls_server_name = cu_strdup(tls);
        if (proxy) {
                rc = check_proxy(c, proxy, err);
                if (rc < 0)
                        return rc;
                r->proxy_url = cu_strdup(proxy);
        }
        rc = pem_field(c, "certificate-authority", "CA", &r->ca_pem, err);
        if (rc < 0)
                return rc;
        if (r->insecure && r->ca_pem)
                return blame(err, c->doc, c->body, "insecure-skip-tls-verify",
                             "cluster \"%s\": specifying a root certificates file with the insecure flag is not "
                             "allowed",
                             c->name);
        return 0;
}

/* A list of strings, appended to *v; another shape is an error. */
static int string_list(const struct entry *u, const cJSON *node, const char *what, char ***v, struct ka_error *err) {
        if (!node || cJSON_IsNull(node))
                return 0;
        if (!cJSON_IsArray(node))
                return blame(err, u->doc, node, NULL, "user \"%s\": %s must be a list of strings", u->name, what);
        const cJSON *s;
        cJSON_ArrayForEach(s, node) {
                if (!cJSON_IsString(s))
                        return blame(err, u->doc, s, NULL, "user \"%s\": %s must be a list of strings", u->name, what);
                *v = strv_push(*v, cu_strdup(s->valuestring));
        }
        return 0;
}

/* as, as-uid, as-groups, as-user-extra (a map of lists). */
static int impersonation(const struct entry *u, struct kc_resolved *r, struct ka_error *err) {
        const char *as, *uid;
        int rc = field_str(u, "as", &as, err);
        if (rc == 0)
                rc = field_str(u, "as-uid", &uid, err);
        if (rc == 0)
                rc = string_list(u, cJSON_GetObjectItemCaseSensitive(u->body, "as-groups"), "as-groups", &r->as_groups,
                                 err);
        if (rc < 0)
                return rc;
        r->as_user = cu_strdup(as);
        r->as_uid = cu_strdup(uid);
        const cJSON *extra = cJSON_GetObjectItemCaseSensitive(u->body, "as-user-extra"), *key;
        if (!extra || cJSON_IsNull(extra))
                return 0;
        if (!cJSON_IsObject(extra))
                return blame(err, u->doc, u->body, "as-user-extra",
                             "user \"%s\": as-user-extra must be a mapping of lists of strings", u->name);
        cJSON_ArrayForEach(key, extra) {
                char **values = NULL;
                rc = string_list(u, key, "each as-user-extra entry", &values, err);
                for (size_t i = 0; values && values[i]; i++) {
                        r->as_extra = strv_push(r->as_extra, cu_strdup(key->string));
                        r->as_extra = strv_push(r->as_extra, values[i]);
                }
                free(values);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

static int resolve_user(const struct entry *u, struct kc_resolved *r, struct ka_error *err) {
        const char *token, *token_file, *username, *password;
        int rc = field_str(u, "token", &token, err);
        if (rc == 0)
                rc = field_str(u, "tokenFile", &token_file, err);
        if (rc == 0)
                rc = field_str(u, "username", &username, err);
        if (rc == 0)
                rc = field_str(u, "password", &password, err);
        if (rc < 0)
                return rc;
        r->token = cu_secret_dup(token);
        if ((token || token_file) && (username || password))
                return blame(err, u->doc, u->body, NULL,
                             "user \"%s\": more than one authentication method found (token and username/password)",
                             u->name);
        if (token_file)
                r->token_file = local_path(u, token_file);
        r->username = cu_strdup(username);
        r->password = cu_secret_dup(password);
        rc = pem_field(u, "client-certificate", "certificate", &r->cert_pem, err);
        if (rc == 0)
                rc = pem_field(u, "client-key", "key", &r->key_pem, err);
        if (rc < 0)
                return rc;
        if (r->cert_pem && !r->key_pem)
                return blame(err, u->doc, u->body, NULL,
                             "user \"%s\": client-key-data or client-key must be specified to use the client "
                             "certificate",
                             u->name);
        if (r->key_pem && !r->cert_pem)
                return blame(err, u->doc, u->body, NULL,
                             "user \"%s\": client-certificate-data or client-certificate must be specified to use "
                             "the client key",
                             u->name);
        if (r->cert_pem) {
                struct ka_error inner = {0};
                if (cu_check_pair(r->cert_pem, r->key_pem, u->name, &inner) < 0)
                        return blame(err, u->doc, u->body, "client-key", "user %s", inner.msg);
        }
        rc = impersonation(u, r, err);
        if (rc < 0)
                return rc;
        const cJSON *exec = cJSON_GetObjectItemCaseSensitive(u->body, "exec");
        const cJSON *provider = cJSON_GetObjectItemCaseSensitive(u->body, "auth-provider");
        bool has_exec = exec && !cJSON_IsNull(exec), has_provider = provider && !cJSON_IsNull(provider);
        if (has_exec && has_provider)
                return blame(err, u->doc, u->body, "auth-provider",
                             "user \"%s\": exec and auth-provider cannot both be set", u->name);
        bool static_auth = token || token_file || username || r->cert_pem;
        if (has_provider && !static_auth)
                return blame(err, u->doc, u->body, "auth-provider",
                             "user \"%s\": auth-provider plugins are not supported (gcp and azure were removed from "
                             "kubectl too); use an exec credential plugin",
                             u->name);
        /* an exec plugin is ignored when static credentials are set (client-go) */
        if (has_exec && !static_auth)
                return parse_exec(u, exec, r, &r->exec, err);
        if (has_exec) {
                struct kc_exec *unused = NULL;
                rc = parse_exec(u, exec, r, &unused, err);
                exec_free(unused);
        }
        return rc;
}

static char *pod_namespace(void) {
        /* only when running in a pod (kubectl's in-cluster fallback) */
        if (!getenv("KUBERNETES_SERVICE_HOST") || !getenv("KUBERNETES_SERVICE_PORT"))
                return NULL;
        return cu_pod_namespace(SA_DIR);
}

int kc_merge_resolve(const struct kc_merge *m, const char *context, struct kc_resolved *ret, struct ka_error *err) {
        const char *files = m->n_docs == 1 ? m->files[0] : "the kubeconfig files";
        if (m->contexts.n == 0 && m->clusters.n == 0 && m->users.n == 0 && !context)
                return cu_host->error_set(err, -ENOENT, "%s: invalid configuration: no configuration has been provided",
                                          m->n_docs ? files : "kubeconfig");
        const char *name = context ? context : m->current;
        if (!name)
                return cu_host->error_set(err, -EINVAL,
                                          "%s: no current-context is set; set one (kubectl config use-context) or "
                                          "name a context",
                                          files);
        const struct entry *x = find(&m->contexts, name);
        if (!x)
                return cu_host->error_set(err, -ENOENT, "%s: context \"%s\" does not exist", files, name);
        const char *cluster, *user, *ns;
        struct kc_resolved r = {0};
        int rc = field_str(x, "cluster", &cluster, err);
        if (rc == 0)
                rc = field_str(x, "user", &user, err);
        if (rc == 0)
                rc = field_str(x, "namespace", &ns, err);
        if (rc < 0)
                return rc;
        r.file = cu_strdup(x->file);
        r.context = cu_strdup(name);
        r.cluster = cu_strdup(cluster);
        r.user = cu_strdup(user);
        r.namespace_ = ns ? cu_strdup(ns) : pod_namespace();
        const struct entry *c = cluster ? find(&m->clusters, cluster) : NULL;
        if (!c)
                rc = cluster ? blame(err, x->doc, x->body, "cluster",
                                     "context \"%s\": cluster \"%s\" is not defined in %s", name, cluster, files)
                             : blame(err, x->doc, x->item, NULL, "context \"%s\" names no cluster", name);
        if (rc == 0)
                rc = resolve_cluster(c, &r, err);
        /* a user that is not defined means no credentials, as kubectl */
        const struct entry *u = user ? find(&m->users, user) : NULL;
        if (rc == 0 && u)
                rc = resolve_user(u, &r, err);
        if (rc < 0) {
                kc_resolved_clear(&r);
                return rc;
        }
        *ret = r;
        return 0;
}

/* ---- files --------------------------------------------------------------------- */

static char *home_config(void) {
        const char *home = getenv("HOME");
        return home && *home ? cu_printf("%s/.kube/config", home) : NULL;
}

bool kc_default_exists(void) {
        const char *env = getenv("KUBECONFIG");
        if (env && *env) {
                char *list = cu_strdup(env), *save = NULL;
                bool found = false;
                for (char *p = strtok_r(list, ":", &save); p && !found; p = strtok_r(NULL, ":", &save))
                        found = access(p, R_OK) == 0;
                free(list);
                return found;
        }
        char *p = home_config();
        bool found = p && access(p, R_OK) == 0;
        free(p);
        return found;
}

static int load_one(struct kc_merge *m, const char *path, struct ka_error *err) {
        struct kubeagent_config_source *doc;
        const cJSON *root;
        int r = cu_host->document_load(path, &doc, &root, err);
        if (r < 0)
                return r;
        return kc_merge_add(m, doc, root, path, err);
}

int kc_load(const char *path, const char *context, struct kc_resolved *ret, struct ka_error *err) {
        struct kc_merge *m = kc_merge_new();
        int r = 0;
        const char *env = getenv("KUBECONFIG");
        if (path) {
                r = load_one(m, path, err);
        } else if (env && *env) {
                char *list = cu_strdup(env), *save = NULL;
                char **seen = NULL;
                for (char *p = strtok_r(list, ":", &save); p && r == 0; p = strtok_r(NULL, ":", &save)) {
                        bool dup = false;
                        for (size_t i = 0; seen && seen[i]; i++)
                                dup = dup || strcmp(seen[i], p) == 0;
                        if (dup || access(p, F_OK) < 0)
                                continue; /* missing files are skipped, as kubectl */
                        seen = strv_push(seen, cu_strdup(p));
                        r = load_one(m, p, err);
                }
                strv_free(seen);
                free(list);
                if (r == 0 && m->n_docs == 0)
                        r = cu_host->error_set(err, -ENOENT, "none of the files in KUBECONFIG (%s) exists", env);
        } else {
                char *p = home_config();
                if (p && access(p, F_OK) == 0)
                        r = load_one(m, p, err);
                else
                        r = cu_host->error_set(err, -ENOENT,
                                               "no kubeconfig: %s does not exist and KUBECONFIG is not set",
                                               p ? p : "~/.kube/config");
                free(p);
        }
        if (r == 0)
                r = kc_merge_resolve(m, context, ret, err);
        kc_merge_free(m);
        return r;
}
