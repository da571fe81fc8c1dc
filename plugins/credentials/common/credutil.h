/* plugins/credentials/common — helpers the credential plugins share.
 *
 * Compiled into each credential plugin (a plugin never links the core): the
 * re-read token file, loading and checking PEM material, and building an
 * endpoint.  Every function reports through the host table the plugin got
 * in init(), stored in cu_host. */
#ifndef KA_PLUGINS_CREDUTIL_H
#define KA_PLUGINS_CREDUTIL_H

#include <kubeagent/kubeagent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct kubeagent_host *cu_host;

/* The init() of every credential plugin: keep the host table, no state. */
int cu_init(const struct kubeagent_host *host, struct kubeagent_plugin_handle *self, void **ret_state,
            struct ka_error *err);
/* The namespace of the pod kubeagent runs in: $POD_NAMESPACE, else the
 * namespace file of the service-account folder; NULL when neither. */
char *cu_pod_namespace(const char *sa_dir);

#define CU_FILE_MAX (1u << 20) /* PEM files, kubeconfig data, tokens */

char *cu_strdup(const char *s); /* NULL in, NULL out; aborts on OOM */
char *cu_strndup(const char *s, size_t n);
char *cu_printf(const char *fmt, ...) KUBEAGENT_PRINTF(1, 2);
/* A copy of a secret, registered (free it with secret_free); NULL in, NULL out. */
char *cu_secret_dup(const char *s);

/* The API server a credential names by itself (token, certificate): the
 * keys `server` first and `caFile`, `caData`, `namespace` last in its table,
 * stored in a struct cu_server_conf member of its conf struct. */
struct cu_server_conf {
        char *server;
        char *ca_file;
        char *ca_data;
        char *namespace_;
};
/* clang-format off */
#define CU_KEY_SERVER(type, member) \
        {"server", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(type, member.server), \
         "API server URL (the cloud's serverUrl overrides it)"}
#define CU_KEY_CA_FILE(type, member) \
        {"caFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(type, member.ca_file), "PEM file of the cluster CA"}
#define CU_KEY_CA_DATA(type, member) \
        {"caData", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(type, member.ca_data), \
         "the cluster CA as PEM text or base64 of it"}
#define CU_KEY_NAMESPACE(type, member) \
        {"namespace", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(type, member.namespace_), \
         "default namespace (the cloud's namespace overrides it)"}
/* clang-format on */
/* The cross-key check of those keys, for validate(): caFile or caData. */
int cu_server_validate(const struct cu_server_conf *c, const struct kubeagent_config_source *src, struct ka_error *err);

/* What a session keeps of the server: its URL, namespace and CA (each may
 * be NULL). */
struct cu_server {
        char *server;
        char *namespace_;
        char *ca_pem;
};
/* Copy the URL and namespace, load and check the CA. */
int cu_server_open(struct cu_server *s, const struct cu_server_conf *c, struct ka_error *err);
void cu_server_clear(struct cu_server *s);
/* An endpoint with copies of the server's URL, namespace and CA. */
struct kubeagent_endpoint cu_server_endpoint(const struct cu_server *s);

/* A bearer token kept in a file that rotates (a projected service-account
 * token, a tokenFile): read at first use, again when older than about a
 * minute (client-go caches 1 min with 10 s leeway) and after a 401.
 * Whitespace is trimmed; an empty file is an error; when a re-read fails
 * the last good token stays in use. */
struct cu_tokenfile {
        char *path;
        char *token;        /* secret, registered */
        int64_t read_at_ms; /* wall clock */
};

#define CU_TOKENFILE_TTL_MS 50000

int cu_tokenfile_init(struct cu_tokenfile *tf, const char *path, struct ka_error *err);
/* The current token (a new secret copy) and until when it is good. */
int cu_tokenfile_get(struct cu_tokenfile *tf, bool force, char **ret_token, int64_t *ret_expires_ms,
                     struct ka_error *err);
void cu_tokenfile_clear(struct cu_tokenfile *tf);

/* Read a PEM file and check that it holds what `what` says:
 * "certificate" (one or more X.509), "CA" (same) or "key" (a private key;
 * the result is then a registered secret).  Errors name the file. */
int cu_load_pem(const char *path, const char *what, char **ret_pem, struct ka_error *err);
/* The same for PEM text given inline; `origin` names where it came from. */
int cu_check_pem(const char *pem, size_t len, const char *what, const char *origin, struct ka_error *err);
/* PEM text, or base64 of PEM text (how EKS hands out CAs and kubeconfig
 * *-data fields store them), into checked PEM. */
int cu_pem_or_base64(const char *text, const char *what, const char *origin, char **ret_pem, struct ka_error *err);
/* Check that a certificate and a key belong together. */
int cu_check_pair(const char *cert_pem, const char *key_pem, const char *origin, struct ka_error *err);

#endif
