/* core/kube/kube.h — the Kubernetes API client: one per cloud (API server
 * and credentials), shared by every thread of the process.
 *
 * Requests go over libcurl with connection reuse: the client keeps a pool of
 * easy handles that share one connection cache, TLS session cache and DNS
 * cache, so concurrent requests from worker threads each take a handle and
 * reuse whatever connection is idle, and HTTP/2 is used when the server
 * offers it.  Every request passes the client-side rate limit (token bucket,
 * QPS/burst), asks the credential session for the current endpoint (token
 * re-read, exec plugin re-run, refresh after a 401), and is retried with
 * jittered exponential backoff on 429 (honouring Retry-After, any method),
 * on 5xx and on connection errors (idempotent requests only; a connection
 * that could not be made at all is retried for every method; a host name
 * that does not resolve is not retried, as client-go).  Response
 * bodies are capped.  A non-2xx answer becomes a clear error from its
 * Status (status.h).
 *
 * Proxies: a cluster's proxy-url, else HTTPS_PROXY/HTTP_PROXY/NO_PROXY by
 * client-go's rules (proxy.h), for requests and raw connections alike.
 * Impersonation: the credentials' (or the options') as, as-uid, as-groups
 * and as-user-extra go out as Impersonate-* headers, as client-go sends them
 * (over http:// too); uid, groups or extra without a user are refused.
 *
 * TLS: verification is always on unless the options or the credentials say
 * insecure explicitly; with a cluster CA only that CA is trusted
 * (CURLOPT_CAINFO_BLOB with CURLOPT_CAPATH cleared).
 *
 * Thread safety: every function here may be called from any thread at once
 * on the same client.  Callbacks (sinks) run on the calling thread. */
#ifndef KA_KUBE_KUBE_H
#define KA_KUBE_KUBE_H

#include <kubeagent/error.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cred.h"
#include "status.h"
#include "util/buf.h"

struct ka_kube_options {
        /* Where and who: an opened credential session (the client takes
         * ownership, even on failure), or a plugin and its filled conf
         * (opened by ka_kube_new; conf stays the caller's). */
        struct ka_kube_cred *cred;
        const struct kubeagent_plugin_handle *cred_plugin;
        const void *cred_conf;

        const char *server_url; /* the cloud's serverUrl: overrides the credential's server */
        const char *ca_pem;     /* the cloud's serverCertificate (PEM): overrides the credential's CA */
        bool skip_tls_verify;   /* the cloud's skipTlsVerify: trust any server certificate */
        const char *namespace_; /* overrides the credential's namespace; else it, else "default" */

        /* kubectl's --as, --as-uid and --as-group: override the
         * credentials' impersonation (groups replace theirs when given). */
        const char *impersonate_user;
        const char *impersonate_uid;
        const char *const *impersonate_groups; /* NULL-terminated, or NULL */

        int64_t connect_timeout_ms; /* default 5000 (the plugin's connectTimeout) */
        int64_t request_timeout_ms; /* default 15000 (the plugin's readTimeout) */
        double qps;                 /* default 5; <0 disables the rate limit */
        int burst;                  /* default 10 */
        size_t max_response_bytes;  /* default 32 MiB */
        int max_retries;            /* default 5 */
        int64_t retry_base_ms;      /* first backoff, doubled per attempt, capped at 30 s; default 500 */
        size_t pool_size;           /* idle easy handles kept; default 8 */

        /* --log-http: one call per line of each request and response, with
         * Authorization never shown and registered secrets masked. */
        void (*http_log)(void *ud, const char *line);
        void *http_log_ud;

        /* When set, every request of the client (without a stop of its
         * own) ends soon after *stop becomes true, with -ECANCELED: the
         * daemon stops promptly even while the API server hangs. */
        const atomic_bool *stop;
};

/* Fill o with the defaults (and no credentials). */
void ka_kube_options_init(struct ka_kube_options *o);

struct ka_kube;

/* Check the options and open the credentials; nothing is sent yet. */
int ka_kube_new(const struct ka_kube_options *o, struct ka_kube **ret, struct ka_error *err);
void ka_kube_free(struct ka_kube *k);
KA_DEFINE_CLEANUP(struct ka_kube, ka_kube_free)

/* The namespace requests default to: the options', else the credentials'
 * (resolving them on first use), else "default".  Stable for the client's
 * life. */
const char *ka_kube_namespace(struct ka_kube *k);
/* "https://host:port via kubeconfig /x/config context ci" (resolves the
 * endpoint; never shows a secret). */
int ka_kube_describe(struct ka_kube *k, char **ret, struct ka_error *err);

struct ka_kube_request {
        const char *method; /* "GET", "POST", "DELETE", "PATCH", "PUT" */
        const char *path;   /* escaped: "/api/v1/namespaces/ci/pods" */
        const char *query;  /* encoded, without '?'; or NULL */
        const char *body;   /* or NULL */
        size_t body_len;
        const char *content_type; /* default "application/json" when there is a body */
        const char *accept;       /* default "application/json" */
        const char *what;         /* error prefix: "create pod ci/x"; default "METHOD path" */
        int idempotent;           /* 0: from the method (GET, HEAD, PUT, DELETE); 1 yes; -1 no */
        int64_t timeout_ms;       /* 0: the client's request timeout; <0: none (streams) */
        size_t max_response;      /* 0: the client's cap */
        /* Streams (watch, follow): a 2xx body goes to sink as it arrives
         * instead of being kept; sink returns <0 to stop the request. */
        int (*sink)(void *ud, const char *data, size_t len);
        void *sink_ud;
        /* When set, the request stops soon (within a second) after *stop
         * becomes true, and returns -ECANCELED. */
        const atomic_bool *stop;
};

struct ka_kube_response {
        int code;   /* HTTP status, 0 when none arrived */
        char *body; /* NUL-terminated (not for streamed 2xx) */
        size_t len;
        struct ka_kube_status status; /* parsed for non-2xx answers */
};

void ka_kube_response_clear(struct ka_kube_response *r);

/* Send a request.  0 for a 2xx answer; otherwise a negative errno (the
 * Status mapping of status.h, or -ECONNREFUSED, -ETIMEDOUT, -EPROTO for TLS
 * verification, -E2BIG for an oversized body, -ECANCELED) with err saying
 * what happened.  ret (may be NULL) receives the answer either way. */
int ka_kube_request(struct ka_kube *k, const struct ka_kube_request *req, struct ka_kube_response *ret,
                    struct ka_error *err);

/* Append "key=value" to a query, percent-encoding both ('+' too). */
void ka_kube_query_add(struct ka_buf *q, const char *key, const char *value);
/* Append one path segment, percent-encoded. */
void ka_kube_path_add(struct ka_buf *p, const char *segment);

/* ---- raw connections ------------------------------------------------------
 * For a protocol libcurl does not speak (the exec WebSocket; Debian's
 * libcurl 7.88 has no WebSocket support, reference §5.8): a dedicated
 * CONNECT_ONLY connection to the API server made exactly as requests are —
 * the endpoint the credentials give now, the client's TLS settings (cluster
 * CA only, client certificate, verification, tls-server-name), proxy,
 * connect timeout and rate limit — over HTTP/1.1 (ALPN offers only
 * http/1.1).  The caller writes the request itself, starting with the
 * head ka_kube_raw_open() returns; bytes move with ka_kube_raw_send() and
 * ka_kube_raw_recv(), which never block (poll ka_kube_raw_fd(), and read
 * until -EAGAIN: TLS may hold bytes poll() cannot see). */
struct ka_kube_raw;

/* Connect.  *ret_head is the request head without its final blank line:
 * "METHOD <prefix><path>?<query> HTTP/1.1\r\n", Host, User-Agent and the
 * Authorization line.  It holds a secret: free it with ka_free_secret().
 * Errors are those of ka_kube_request() for a connection that failed. */
int ka_kube_raw_open(struct ka_kube *k, const char *method, const char *path, const char *query,
                     struct ka_kube_raw **ret, char **ret_head, struct ka_error *err);
/* >0 bytes moved, -EAGAIN nothing now, 0 (recv) the server closed, other <0 an error. */
ssize_t ka_kube_raw_send(struct ka_kube_raw *r, const void *buf, size_t len);
ssize_t ka_kube_raw_recv(struct ka_kube_raw *r, void *buf, size_t len);
int ka_kube_raw_fd(const struct ka_kube_raw *r);
/* The server answered 401 on this connection: refresh the credentials (once
 * per endpoint snapshot, as requests do) so that the next ka_kube_raw_open()
 * uses new ones.  -EKEYREJECTED when they cannot be refreshed. */
int ka_kube_raw_refused(struct ka_kube_raw *r, struct ka_error *err);
void ka_kube_raw_close(struct ka_kube_raw *r);
KA_DEFINE_CLEANUP(struct ka_kube_raw, ka_kube_raw_close)

/* Every request also counts in the process-wide metric
 * kubeagent_kube_requests_total{verb, code} (code "0": no answer). */

/* Counters since the client was made (for benchmarks and tests). */
struct ka_kube_counters {
        uint64_t requests; /* HTTP exchanges, retries included */
        uint64_t retries;
        uint64_t refreshes; /* credential refreshes after a 401 */
        uint64_t connects;  /* new connections opened */
};
void ka_kube_counters(struct ka_kube *k, struct ka_kube_counters *ret);

#endif
