/* The HTTP side of the client: handles, TLS, retries, rate limit, logging. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "kube.h"
#include "proxy.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

#define BACKOFF_CAP_MS 30000
#define LOG_BODY_MAX 4096

/* One easy handle and the endpoint generation its TLS settings came from. */
struct handle {
        CURL *easy;
        uint64_t generation;
};

struct ka_kube {
        struct ka_kube_options o; /* strings below are our copies */
        char *server_url, *ca_pem, *namespace_;
        struct ka_kube_cred *cred;
        char *user_agent;
        struct ka_kube_proxy_env proxy_env; /* read once, as Go does */
        char *as_user, *as_uid;             /* the options' impersonation */
        char **as_groups;

        CURLSH *share;
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

        pthread_mutex_t lock; /* pool, rate limit, counters, rng */
        struct handle **idle;
        size_t n_idle;
        double tokens;
        int64_t tokens_at_ms;
        uint64_t rng;
        struct ka_kube_counters counters;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ka_kube_options_init(struct ka_kube_options *o) {
        *o = (struct ka_kube_options){
                .connect_timeout_ms = 5000,
                .request_timeout_ms = 15000,
                .qps = 5,
                .burst = 10,
                .max_response_bytes = 32u << 20,
                .max_retries = 5,
                .retry_base_ms = 500,
                .pool_size = 8,
        };
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud) {
        (void)h;
        (void)access;
        struct ka_kube *k = ud;
        pthread_mutex_lock(&k->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud) {
        (void)h;
        struct ka_kube *k = ud;
        pthread_mutex_unlock(&k->share_locks[data]);
}

int ka_kube_new(const struct ka_kube_options *o, struct ka_kube **ret, struct ka_error *err) {
        pthread_once(&global_once, global_init);
        struct ka_kube_cred *cred = o->cred;
        if (!cred) {
                if (!o->cred_plugin)
                        return ka_error_set(err, -EINVAL, "no credentials given to the Kubernetes client");
                int r = ka_kube_cred_open(o->cred_plugin, o->cred_conf, &cred, err);
                if (r < 0)
                        return r;
        }
        if (o->server_url && !ka_startswith(o->server_url, "https://") && !ka_startswith(o->server_url, "http://")) {
                ka_kube_cred_free(cred);
                return ka_error_set(err, -EINVAL, "server URL \"%s\" must start with https:// (or http://)",
                                    o->server_url);
        }
        struct ka_kube *k = ka_new0(struct ka_kube, 1);
        k->o = *o;
        k->o.cred = NULL;
        k->cred = cred;
        k->server_url = ka_strdup(o->server_url);
        k->ca_pem = ka_strdup(o->ca_pem);
        k->namespace_ = ka_strdup(o->namespace_);
        k->o.impersonate_user = k->o.impersonate_uid = NULL;
        k->o.impersonate_groups = NULL;
        k->as_user = ka_strdup(o->impersonate_user);
        k->as_uid = ka_strdup(o->impersonate_uid);
        for (size_t i = 0; o->impersonate_groups && o->impersonate_groups[i]; i++) {
                k->as_groups = ka_reallocarray(k->as_groups, i + 2, sizeof(char *));
                k->as_groups[i] = ka_strdup(o->impersonate_groups[i]);
                k->as_groups[i + 1] = NULL;
        }
        ka_kube_proxy_env_read(&k->proxy_env);
        if (k->o.pool_size == 0)
                k->o.pool_size = 1;
        if (k->o.max_response_bytes == 0)
                k->o.max_response_bytes = 32u << 20;
        if (k->o.burst < 1)
                k->o.burst = 1;
        k->tokens = k->o.burst;
        k->tokens_at_ms = ka_time_now_ms();
        k->rng = (uint64_t)ka_time_wall_ms_real() ^ (uint64_t)(uintptr_t)k;
        struct utsname u;
        k->user_agent = uname(&u) == 0 ? ka_asprintf("kubeagent/%s (%s/%s)", PACKAGE_VERSION, u.sysname, u.machine)
                                       : ka_asprintf("kubeagent/%s", PACKAGE_VERSION);
        pthread_mutex_init(&k->lock, NULL);
        for (size_t i = 0; i < KA_ARRAY_SIZE(k->share_locks); i++)
                pthread_mutex_init(&k->share_locks[i], NULL);
        k->share = curl_share_init();
        curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
        curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        k->idle = ka_new0(struct handle *, k->o.pool_size);
        *ret = k;
        return 0;
}

static void handle_free(struct handle *h) {
        if (!h)
                return;
        curl_easy_cleanup(h->easy);
        free(h);
}

void ka_kube_free(struct ka_kube *k) {
        if (!k)
                return;
        for (size_t i = 0; i < k->n_idle; i++)
                handle_free(k->idle[i]);
        free(k->idle);
        curl_share_cleanup(k->share);
        for (size_t i = 0; i < KA_ARRAY_SIZE(k->share_locks); i++)
                pthread_mutex_destroy(&k->share_locks[i]);
        pthread_mutex_destroy(&k->lock);
        ka_kube_cred_free(k->cred);
        free(k->server_url);
        free(k->ca_pem);
        free(k->namespace_);
        free(k->user_agent);
        ka_kube_proxy_env_clear(&k->proxy_env);
        free(k->as_user);
        free(k->as_uid);
        for (char **g = k->as_groups; g && *g; g++)
                free(*g);
        free(k->as_groups);
        free(k);
}

/* ---- small pieces ------------------------------------------------------ */

static uint64_t rand_next(struct ka_kube *k) {
        /* xorshift64*, under k->lock */
        uint64_t x = k->rng ? k->rng : 0x9e3779b97f4a7c15u;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        k->rng = x;
        return x * 2685821657736338717u;
}

/* Backoff for attempt n (0-based): base * 2^n, capped, times [0.5, 1.5). */
static int64_t backoff_ms(struct ka_kube *k, int attempt) {
        int64_t d = k->o.retry_base_ms > 0 ? k->o.retry_base_ms : 1;
        for (int i = 0; i < attempt && d < BACKOFF_CAP_MS; i++)
                d *= 2;
        d = KA_MIN(d, BACKOFF_CAP_MS);
        pthread_mutex_lock(&k->lock);
        double f = 0.5 + (double)(rand_next(k) >> 11) / (double)(1ull << 53);
        pthread_mutex_unlock(&k->lock);
        return (int64_t)((double)d * f);
}

static bool sleep_ms(int64_t ms, const atomic_bool *stop) {
        int64_t end = ka_time_now_ms() + ms;
        for (;;) {
                if (stop && atomic_load(stop))
                        return false;
                int64_t left = end - ka_time_now_ms();
                if (left <= 0)
                        return true;
                int64_t step = stop ? KA_MIN(left, 100) : left;
                struct timespec ts = {.tv_sec = step / 1000, .tv_nsec = (step % 1000) * 1000000};
                nanosleep(&ts, NULL);
        }
}

/* Token bucket: take one token, waiting for it when the bucket is empty. */
static bool rate_limit(struct ka_kube *k, const atomic_bool *stop) {
        if (k->o.qps <= 0)
                return true;
        pthread_mutex_lock(&k->lock);
        int64_t now = ka_time_now_ms();
        k->tokens = KA_MIN((double)k->o.burst, k->tokens + (double)(now - k->tokens_at_ms) * k->o.qps / 1000.0);
        k->tokens_at_ms = now;
        k->tokens -= 1.0;
        int64_t wait = k->tokens < 0 ? (int64_t)(-k->tokens * 1000.0 / k->o.qps) + 1 : 0;
        pthread_mutex_unlock(&k->lock);
        return wait == 0 || sleep_ms(wait, stop);
}

static struct handle *handle_take(struct ka_kube *k) {
        pthread_mutex_lock(&k->lock);
        struct handle *h = k->n_idle ? k->idle[--k->n_idle] : NULL;
        pthread_mutex_unlock(&k->lock);
        if (!h) {
                h = ka_new0(struct handle, 1);
                h->easy = curl_easy_init();
                if (!h->easy) {
                        fprintf(stderr, "kubeagent: out of memory (curl_easy_init)\n");
                        abort();
                }
        }
        return h;
}

static void handle_give(struct ka_kube *k, struct handle *h) {
        pthread_mutex_lock(&k->lock);
        if (k->n_idle < k->o.pool_size) {
                k->idle[k->n_idle++] = h;
                h = NULL;
        }
        pthread_mutex_unlock(&k->lock);
        handle_free(h);
}

void ka_kube_query_add(struct ka_buf *q, const char *key, const char *value) {
        if (q->len)
                ka_buf_putc(q, '&');
        ka_kube_path_add(q, key);
        ka_buf_putc(q, '=');
        ka_kube_path_add(q, value ? value : "");
}

void ka_kube_path_add(struct ka_buf *p, const char *segment) {
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *s = (const unsigned char *)segment; *s; s++) {
                if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                    *s == '.' || *s == '_' || *s == '~') {
                        ka_buf_putc(p, (char)*s);
                } else {
                        char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
                        ka_buf_append(p, e, 3);
                }
        }
}

void ka_kube_counters(struct ka_kube *k, struct ka_kube_counters *ret) {
        pthread_mutex_lock(&k->lock);
        *ret = k->counters;
        pthread_mutex_unlock(&k->lock);
}

static void count(struct ka_kube *k, uint64_t *field, uint64_t n) {
        pthread_mutex_lock(&k->lock);
        *field += n;
        pthread_mutex_unlock(&k->lock);
}

/* ---- endpoint ------------------------------------------------------------ */

/* The server URL in use: the options' override, else the credential's. */
static const char *server_of(const struct ka_kube *k, const struct ka_kube_endpoint *e) {
        return k->server_url ? k->server_url : e->ep.server;
}

/* The namespace: options, else the credential's, else "default".  The
 * first endpoint decides (a kubeconfig's context namespace). */
static void learn_namespace(struct ka_kube *k, const struct ka_kube_endpoint *e) {
        pthread_mutex_lock(&k->lock);
        if (!k->namespace_ && e->ep.namespace_ && *e->ep.namespace_)
                k->namespace_ = ka_strdup(e->ep.namespace_);
        pthread_mutex_unlock(&k->lock);
}

static int check_endpoint(const struct ka_kube *k, const struct ka_kube_endpoint *e, struct ka_error *err);

static int get_endpoint(struct ka_kube *k, struct ka_kube_endpoint **ret, struct ka_error *err) {
        struct ka_kube_endpoint *e;
        int r = ka_kube_cred_get(k->cred, &e, err);
        if (r < 0)
                return r;
        const char *server = server_of(k, e);
        if (ka_isempty(server)) {
                ka_kube_endpoint_unref(k->cred, e);
                return ka_error_set(err, -EINVAL,
                                    "no API server URL: the credentials (%s) name none; set the cloud's serverUrl",
                                    ka_kube_cred_plugin(k->cred));
        }
        if (!ka_startswith(server, "https://") && !ka_startswith(server, "http://")) {
                ka_kube_endpoint_unref(k->cred, e);
                return ka_error_set(err, -EINVAL, "server URL \"%s\" must start with https://", server);
        }
        r = check_endpoint(k, e, err);
        if (r < 0) {
                ka_kube_endpoint_unref(k->cred, e);
                return r;
        }
        learn_namespace(k, e);
        *ret = e;
        return 0;
}

const char *ka_kube_namespace(struct ka_kube *k) {
        pthread_mutex_lock(&k->lock);
        const char *ns = k->namespace_;
        pthread_mutex_unlock(&k->lock);
        if (!ns) {
                /* the credentials may name one (a kubeconfig context) */
                struct ka_kube_endpoint *e;
                if (get_endpoint(k, &e, NULL) == 0)
                        ka_kube_endpoint_unref(k->cred, e);
                pthread_mutex_lock(&k->lock);
                if (!k->namespace_)
                        k->namespace_ = ka_strdup("default");
                ns = k->namespace_;
                pthread_mutex_unlock(&k->lock);
        }
        return ns;
}

int ka_kube_describe(struct ka_kube *k, char **ret, struct ka_error *err) {
        struct ka_kube_endpoint *e;
        int r = get_endpoint(k, &e, err);
        if (r < 0)
                return r;
        *ret = ka_asprintf("%s via %s%s%s", server_of(k, e), ka_kube_cred_plugin(k->cred),
                           e->ep.description ? ": " : "", e->ep.description ? e->ep.description : "");
        ka_kube_endpoint_unref(k->cred, e);
        return 0;
}

/* Split "https://host:port/prefix" into what the URL and CONNECT_TO need. */
struct url_parts {
        char *scheme_host_port; /* "https://host:port" */
        char *host;             /* "host" or "[::1]" */
        char *port;             /* "443" */
        char *prefix;           /* "" or "/prefix" (no trailing slash) */
};

static void url_parts_clear(struct url_parts *u) {
        free(u->scheme_host_port);
        free(u->host);
        free(u->port);
        free(u->prefix);
}

static void url_split(const char *url, struct url_parts *u) {
        bool https = ka_startswith(url, "https://");
        const char *hp = url + (https ? 8 : 7);
        const char *slash = strchr(hp, '/');
        size_t hp_len = slash ? (size_t)(slash - hp) : strlen(hp);
        const char *pfx = slash ? slash : "";
        size_t pfx_len = strlen(pfx);
        while (pfx_len > 0 && pfx[pfx_len - 1] == '/')
                pfx_len--;
        u->prefix = ka_strndup(pfx, pfx_len);
        /* host[:port], host may be [v6] */
        const char *colon = NULL;
        if (hp[0] == '[') {
                const char *close = memchr(hp, ']', hp_len);
                if (close && (size_t)(close + 1 - hp) < hp_len && close[1] == ':')
                        colon = close + 1;
        } else {
                colon = memchr(hp, ':', hp_len);
        }
        if (colon) {
                u->host = ka_strndup(hp, (size_t)(colon - hp));
                u->port = ka_strndup(colon + 1, hp_len - (size_t)(colon + 1 - hp));
        } else {
                u->host = ka_strndup(hp, hp_len);
                u->port = ka_strdup(https ? "443" : "80");
        }
        u->scheme_host_port = ka_asprintf("%s://%.*s", https ? "https" : "http", (int)hp_len, hp);
}

/* The proxy for the endpoint's server (NULL: direct), in libcurl's form. */
static int proxy_of(const struct ka_kube *k, const struct ka_kube_endpoint *e, char **ret, struct ka_error *err) {
        const char *server = server_of(k, e);
        struct url_parts u = {0};
        url_split(server, &u);
        int r = ka_kube_proxy_for(e->ep.proxy_url, &k->proxy_env, ka_startswith(server, "https://"), u.host, u.port,
                                  ret, err);
        url_parts_clear(&u);
        return r;
}

/* Who to impersonate: the options' user, uid and groups over the
 * credentials'; extra from the credentials. */
struct impersonation {
        const char *user, *uid;
        char *const *groups, *const *extra;
};

static struct impersonation impersonation_of(const struct ka_kube *k, const struct ka_kube_endpoint *e) {
        return (struct impersonation){
                .user = k->as_user ? k->as_user : e->ep.impersonate_user,
                .uid = k->as_uid ? k->as_uid : e->ep.impersonate_uid,
                .groups = k->as_groups ? k->as_groups : e->ep.impersonate_groups,
                .extra = e->ep.impersonate_extra,
        };
}

/* A header value Go's client would send: no control characters but tab. */
static bool header_value_ok(const char *v) {
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
                if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                        return false;
        return true;
}

static int check_endpoint(const struct ka_kube *k, const struct ka_kube_endpoint *e, struct ka_error *err) {
        char *proxy = NULL;
        int r = proxy_of(k, e, &proxy, err);
        free(proxy);
        if (r < 0)
                return r;
        struct impersonation im = impersonation_of(k, e);
        bool extras = im.uid || (im.groups && im.groups[0]) || (im.extra && im.extra[0]);
        if (ka_isempty(im.user) && extras)
                return ka_error_set(err, -EINVAL,
                                    "requesting uid, groups or user-extra without impersonating a user (%s): set the "
                                    "user's as (or --as)",
                                    e->ep.description ? e->ep.description : ka_kube_cred_plugin(k->cred));
        const char *bad = im.user && !header_value_ok(im.user) ? im.user
                          : im.uid && !header_value_ok(im.uid) ? im.uid
                                                               : NULL;
        for (char *const *g = im.groups; !bad && g && *g; g++)
                bad = header_value_ok(*g) ? NULL : *g;
        for (char *const *x = im.extra; !bad && x && *x; x += 2)
                bad = header_value_ok(x[1]) ? NULL : x[1];
        if (bad)
                return ka_error_set(err, -EINVAL,
                                    "impersonation: a value with a line break or control character cannot be sent in "
                                    "an HTTP header");
        return 0;
}

/* The Impersonate-* header lines (client-go's impersonatingRoundTripper:
 * extra keys percent-encoded outside the token characters, '%' included). */
static struct curl_slist *impersonation_headers(const struct ka_kube *k, const struct ka_kube_endpoint *e,
                                                struct curl_slist *l) {
        struct impersonation im = impersonation_of(k, e);
        if (ka_isempty(im.user))
                return l;
        struct ka_buf h = KA_BUF_INIT(0);
        ka_buf_printf(&h, "Impersonate-User: %s", im.user);
        l = curl_slist_append(l, h.data);
        if (im.uid) {
                ka_buf_reset(&h);
                ka_buf_printf(&h, "Impersonate-Uid: %s", im.uid);
                l = curl_slist_append(l, h.data);
        }
        for (char *const *g = im.groups; g && *g; g++) {
                ka_buf_reset(&h);
                ka_buf_printf(&h, "Impersonate-Group: %s", *g);
                l = curl_slist_append(l, h.data);
        }
        for (char *const *x = im.extra; x && x[0] && x[1]; x += 2) {
                ka_buf_reset(&h);
                ka_buf_puts(&h, "Impersonate-Extra-");
                for (const unsigned char *c = (const unsigned char *)x[0]; *c; c++) {
                        if (*c != '%' && *c < 0x7f &&
                            ((*c >= '0' && *c <= '9') || ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') ||
                             strchr("!#$&'*+-.^_`|~", *c)))
                                ka_buf_putc(&h, (char)*c);
                        else
                                ka_buf_printf(&h, "%%%02X", *c);
                }
                ka_buf_printf(&h, ": %s", x[1]);
                l = curl_slist_append(l, h.data);
        }
        ka_buf_free(&h);
        return l;
}

/* Everything about a handle that depends on the endpoint, set again when
 * the endpoint changes (a new CA or client certificate needs other
 * connections; libcurl only reuses a connection whose TLS settings match). */
static void configure_handle(struct ka_kube *k, struct handle *h, const struct ka_kube_endpoint *e) {
        CURL *c = h->easy;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_SHARE, k->share);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_USERAGENT, k->user_agent);
        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)k->o.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        const struct kubeagent_endpoint *ep = &e->ep;
        const char *ca = k->ca_pem ? k->ca_pem : ep->ca_pem;
        if (k->o.skip_tls_verify || ep->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (ca) {
                struct curl_blob blob = {.data = (void *)ca, .len = strlen(ca), .flags = CURL_BLOB_COPY};
                curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
                /* Debian's libcurl keeps its compiled-in CAPATH next to a
                 * CA blob: clear it so that only the cluster CA is trusted */
                curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        }
        if (ep->client_cert_pem && ep->client_key_pem) {
                struct curl_blob cert = {
                        .data = ep->client_cert_pem, .len = strlen(ep->client_cert_pem), .flags = CURL_BLOB_COPY};
                struct curl_blob key = {
                        .data = ep->client_key_pem, .len = strlen(ep->client_key_pem), .flags = CURL_BLOB_COPY};
                curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
                curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
                curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
                curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        }
        /* always set: "" keeps libcurl from reading the environment itself
         * (it would apply its own rules, and NO_PROXY even to a proxy-url) */
        char *proxy = NULL;
        proxy_of(k, e, &proxy, NULL);
        curl_easy_setopt(c, CURLOPT_PROXY, proxy ? proxy : "");
        curl_easy_setopt(c, CURLOPT_NOPROXY, "");
        ka_free_secret(proxy);
        h->generation = e->generation;
}

/* ---- one exchange -------------------------------------------------------- */

struct exchange {
        struct ka_kube *k;
        const struct ka_kube_request *req;
        CURL *easy;
        struct ka_buf body;
        bool too_large;
        bool streamed; /* the sink got data: never retry */
        bool sink_stopped;
        int sink_code;
        const atomic_bool *stop; /* the request's, else the client's */
};

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
        struct exchange *x = ud;
        size_t len = size * n;
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (x->req->sink && code >= 200 && code < 300) {
                x->streamed = true;
                int r = x->req->sink(x->req->sink_ud, data, len);
                if (r < 0) {
                        x->sink_stopped = true;
                        x->sink_code = r;
                        return 0;
                }
                return len;
        }
        if (ka_buf_append(&x->body, data, len) < 0) {
                x->too_large = true;
                return 0;
        }
        return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        struct exchange *x = ud;
        return x->stop && atomic_load(x->stop) ? 1 : 0;
}

static void log_line(struct ka_kube *k, const char *fmt, ...) KA_PRINTF(2, 3);
static void log_line(struct ka_kube *k, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *line = ka_secret_vformat(fmt, ap);
        va_end(ap);
        k->o.http_log(k->o.http_log_ud, line);
        free(line);
}

/* "> proxy: http://user:********@host:port" when there is one. */
static void log_proxy(struct ka_kube *k, const struct ka_kube_endpoint *e) {
        char *proxy = NULL;
        if (proxy_of(k, e, &proxy, NULL) == 0 && proxy) {
                _cleanup_free_ char *shown = ka_kube_proxy_display(proxy);
                log_line(k, "> proxy: %s", shown);
        }
        ka_free_secret(proxy);
}

static void log_body(struct ka_kube *k, const char *prefix, const char *body, size_t len) {
        if (!body || len == 0)
                return;
        size_t n = KA_MIN(len, (size_t)LOG_BODY_MAX);
        while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r'))
                n--;
        log_line(k, "%s%.*s%s", prefix, (int)n, body, len > LOG_BODY_MAX ? " [...]" : "");
}

static bool is_idempotent(const struct ka_kube_request *req) {
        if (req->idempotent != 0)
                return req->idempotent > 0;
        return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 || strcmp(req->method, "PUT") == 0 ||
               strcmp(req->method, "DELETE") == 0;
}

/* What one attempt came to. */
struct outcome {
        CURLcode cc;
        int code;          /* HTTP status, 0 if none */
        int retry_after_s; /* Retry-After header, -1 when absent */
        bool sent;         /* the request may have reached the server */
        int proxy_code;    /* the proxy's answer to CONNECT when it refused the tunnel, else 0 */
};

static int proxy_refusal(CURL *c) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_HTTP_CONNECTCODE, &code);
        return code >= 300 ? (int)code : 0;
}

/* The URL of path?query on the endpoint's server, and the CONNECT_TO entry
 * that makes a tls-server-name work (NULL without one). */
static void request_url(const struct ka_kube *k, const struct ka_kube_endpoint *e, const char *path, const char *query,
                        struct ka_buf *url, struct curl_slist **ret_connect_to) {
        const char *server = server_of(k, e);
        struct url_parts u = {0};
        url_split(server, &u);
        const char *tls_name = ka_startswith(server, "https://") ? e->ep.tls_server_name : NULL;
        if (tls_name)
                ka_buf_printf(url, "https://%s:%s", tls_name, u.port);
        else
                ka_buf_puts(url, u.scheme_host_port);
        ka_buf_printf(url, "%s%s%s%s", u.prefix, path, query && *query ? "?" : "", query ? query : "");
        *ret_connect_to = NULL;
        if (tls_name) {
                char *ct = ka_asprintf("%s:%s:%s:%s", tls_name, u.port, u.host, u.port);
                *ret_connect_to = curl_slist_append(NULL, ct);
                free(ct);
        }
        url_parts_clear(&u);
}

static void perform(struct exchange *x, struct handle *h, const struct ka_kube_endpoint *e, struct outcome *out,
                    char *errbuf) {
        struct ka_kube *k = x->k;
        const struct ka_kube_request *req = x->req;
        if (h->generation != e->generation)
                configure_handle(k, h, e);
        CURL *c = h->easy;
        x->easy = c;

        bool https = ka_startswith(server_of(k, e), "https://");
        struct ka_buf url = KA_BUF_INIT(0);
        struct curl_slist *connect_to;
        request_url(k, e, req->path, req->query, &url, &connect_to);
        curl_easy_setopt(c, CURLOPT_URL, url.data);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);

        /* method and body */
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
        if (req->body || strcmp(req->method, "POST") == 0) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
                if (strcmp(req->method, "POST") != 0)
                        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        } else {
                curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
                if (strcmp(req->method, "GET") != 0)
                        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        }

        /* headers; credentials only over TLS, as client-go */
        struct curl_slist *hdrs = NULL;
        char *hline = ka_asprintf("Accept: %s", req->accept ? req->accept : "application/json");
        hdrs = curl_slist_append(hdrs, hline);
        free(hline);
        if (req->body) {
                hline = ka_asprintf("Content-Type: %s", req->content_type ? req->content_type : "application/json");
                hdrs = curl_slist_append(hdrs, hline);
                free(hline);
        }
        hdrs = curl_slist_append(hdrs, "Expect:");
        const char *auth_kind = NULL;
        if (https && e->ep.bearer_token) {
                struct ka_buf a = KA_BUF_INIT_SECRET(0);
                ka_buf_printf(&a, "Authorization: Bearer %s", e->ep.bearer_token);
                hdrs = curl_slist_append(hdrs, a.data);
                ka_buf_free_secret(&a);
                auth_kind = "Bearer";
        }
        if (https && e->ep.username && e->ep.password && !e->ep.bearer_token) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERNAME, e->ep.username);
                curl_easy_setopt(c, CURLOPT_PASSWORD, e->ep.password);
                auth_kind = "Basic";
        } else {
                curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
                curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);
        }
        hdrs = impersonation_headers(k, e, hdrs);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

        int64_t timeout = req->timeout_ms == 0 ? k->o.request_timeout_ms : req->timeout_ms;
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout > 0 ? (long)timeout : 0L);
        size_t max = req->max_response ? req->max_response : k->o.max_response_bytes;
        x->body = (struct ka_buf)KA_BUF_INIT(max);
        x->too_large = x->streamed = x->sink_stopped = false;
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, req->sink ? (curl_off_t)0 : (curl_off_t)max);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, x->stop ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
        errbuf[0] = '\0';
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

        if (k->o.http_log) {
                log_line(k, "> %s %s", req->method, url.data);
                log_proxy(k, e);
                if (auth_kind)
                        log_line(k, "> Authorization: %s " KA_SECRET_MASK, auth_kind);
                for (struct curl_slist *s = hdrs; s; s = s->next)
                        if (!ka_startswith(s->data, "Authorization:") && strcmp(s->data, "Expect:") != 0)
                                log_line(k, "> %s", s->data);
                log_body(k, "> ", req->body, req->body_len);
        }
        int64_t t0 = ka_time_now_ms();
        out->cc = curl_easy_perform(c);
        long code = 0, connects = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        curl_off_t ra = -1;
        if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK || ra <= 0)
                ra = -1;
        out->code = (int)code;
        out->proxy_code = out->cc != CURLE_OK ? proxy_refusal(c) : 0;
        out->retry_after_s = ra > 0 ? (int)KA_MIN(ra, (curl_off_t)3600) : -1;
        out->sent = !(out->cc == CURLE_COULDNT_CONNECT || out->cc == CURLE_COULDNT_RESOLVE_HOST ||
                      out->cc == CURLE_COULDNT_RESOLVE_PROXY || out->cc == CURLE_SSL_CONNECT_ERROR);
        if (k->o.http_log) {
                if (code)
                        log_line(k, "< %ld (%lld ms, %zu bytes)", code, (long long)(ka_time_now_ms() - t0),
                                 x->body.len);
                else
                        log_line(k, "< %s", errbuf[0] ? errbuf : curl_easy_strerror(out->cc));
                log_body(k, "< ", x->body.data, x->body.len);
        }
        pthread_mutex_lock(&k->lock);
        k->counters.requests++;
        k->counters.connects += (uint64_t)connects;
        pthread_mutex_unlock(&k->lock);

        /* wipe the header that carried the token before freeing it */
        for (struct curl_slist *s = hdrs; s; s = s->next)
                if (ka_startswith(s->data, "Authorization:"))
                        ka_wipe(s->data, strlen(s->data));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, NULL);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdrs);
        curl_slist_free_all(connect_to);
        ka_buf_free(&url);
}

/* The server, and the proxy on the way if any, for messages. */
static char *server_desc(const struct ka_kube *k, const struct ka_kube_endpoint *e) {
        char *proxy = NULL;
        if (proxy_of(k, e, &proxy, NULL) < 0 || !proxy)
                return ka_strdup(server_of(k, e));
        _cleanup_free_ char *shown = ka_kube_proxy_display(proxy);
        ka_free_secret(proxy);
        return ka_asprintf("%s (through proxy %s)", server_of(k, e), shown);
}

static int transport_error(const struct exchange *x, const struct outcome *out, const char *what, const char *server,
                           const char *errbuf, struct ka_error *err) {
        const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(out->cc);
        if (out->proxy_code == 407)
                return ka_error_set(err, -EACCES,
                                    "%s: %s: the proxy refused its credentials (407 Proxy Authentication Required): "
                                    "check the user and password of proxy-url or HTTPS_PROXY",
                                    what, server);
        if (out->proxy_code)
                return ka_error_set(err, -ECONNREFUSED, "%s: %s: the proxy refused the tunnel (%s)", what, server,
                                    detail);
        switch (out->cc) {
        case CURLE_PEER_FAILED_VERIFICATION:
                return ka_error_set(err, -EPROTO,
                                    "%s: the server certificate of %s is not trusted (%s): check the cluster CA "
                                    "(certificate-authority, serverCertificate)",
                                    what, server, detail);
        case CURLE_SSL_CERTPROBLEM:
                return ka_error_set(err, -EPROTO, "%s: the client certificate cannot be used (%s)", what, detail);
        case CURLE_SSL_CONNECT_ERROR:
                return ka_error_set(err, -EPROTO, "%s: TLS handshake with %s failed (%s)", what, server, detail);
        case CURLE_OPERATION_TIMEDOUT:
                return ka_error_set(err, -ETIMEDOUT, "%s: %s did not answer in time (%s)", what, server, detail);
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return ka_error_set(err, -ECONNREFUSED, "%s: cannot connect to %s (%s)", what, server, detail);
        case CURLE_FILESIZE_EXCEEDED:
                return ka_error_set(err, -E2BIG, "%s: the response is larger than %zu bytes", what, x->body.max);
        case CURLE_WRITE_ERROR:
                if (x->too_large)
                        return ka_error_set(err, -E2BIG, "%s: the response is larger than %zu bytes", what,
                                            x->body.max);
                break;
        case CURLE_ABORTED_BY_CALLBACK:
                return ka_error_set(err, -ECANCELED, "%s: cancelled", what);
        default:
                break;
        }
        return ka_error_set(err, -EIO, "%s: %s: %s", what, server, detail);
}

/* Whether an attempt should be tried again, and after how long. */
static bool should_retry(struct ka_kube *k, const struct exchange *x, const struct outcome *out, int attempt,
                         int64_t *ret_wait) {
        const struct ka_kube_request *req = x->req;
        if (attempt >= k->o.max_retries || x->streamed || x->sink_stopped)
                return false;
        bool idem = is_idempotent(req);
        int64_t wait = backoff_ms(k, attempt);
        if (out->proxy_code == 407)
                return false;
        if (out->cc != CURLE_OK) {
                switch (out->cc) {
                case CURLE_PEER_FAILED_VERIFICATION:
                case CURLE_SSL_CERTPROBLEM:
                case CURLE_FILESIZE_EXCEEDED:
                case CURLE_WRITE_ERROR:
                case CURLE_ABORTED_BY_CALLBACK:
                case CURLE_URL_MALFORMAT:
                /* a name that does not resolve is reported at once, as
                 * client-go does (watch loops retry on their own) */
                case CURLE_COULDNT_RESOLVE_HOST:
                case CURLE_COULDNT_RESOLVE_PROXY:
                case CURLE_UNSUPPORTED_PROTOCOL:
                        return false;
                default:
                        break;
                }
                if (out->cc == CURLE_SSL_CONNECT_ERROR && out->code == 0) {
                        /* a handshake refused for good (bad client cert) looks the same; try once more only */
                        if (attempt > 0)
                                return false;
                }
                if (out->sent && !idem)
                        return false;
                *ret_wait = wait;
                return true;
        }
        if (out->code == 429 || (out->code >= 500 && idem && out->code != 501)) {
                if (out->retry_after_s > 0)
                        wait = KA_MAX(wait, (int64_t)out->retry_after_s * 1000);
                *ret_wait = wait;
                return true;
        }
        return false;
}

void ka_kube_response_clear(struct ka_kube_response *r) {
        if (!r)
                return;
        free(r->body);
        ka_kube_status_clear(&r->status);
        *r = (struct ka_kube_response){0};
}

static void count_request(const char *method, long code) {
        /* registered each time (cheap): the registry may have been reset */
        struct ka_metric *m = NULL;
        ka_metric_register(NULL, "kubeagent_kube_requests_total", "Kubernetes API requests, by verb and HTTP code",
                           KUBEAGENT_METRIC_COUNTER, "verb,code", &m, NULL);
        char labels[48];
        snprintf(labels, sizeof(labels), "%s,%ld", method, code);
        ka_metric_add(m, labels, 1);
}

int ka_kube_request(struct ka_kube *k, const struct ka_kube_request *req, struct ka_kube_response *ret,
                    struct ka_error *err) {
        _cleanup_free_ char *what_default = req->what ? NULL : ka_asprintf("%s %s", req->method, req->path);
        const char *what = req->what ? req->what : what_default;
        struct ka_kube_endpoint *e = NULL;
        int r = get_endpoint(k, &e, err);
        if (r < 0)
                return r;
        struct handle *h = handle_take(k);
        struct exchange x = {.k = k, .req = req, .stop = req->stop ? req->stop : k->o.stop};
        struct outcome out = {0};
        char errbuf[CURL_ERROR_SIZE];
        bool refreshed = false;
        for (int attempt = 0;;) {
                if (!rate_limit(k, x.stop)) {
                        r = ka_error_set(err, -ECANCELED, "%s: cancelled", what);
                        break;
                }
                perform(&x, h, e, &out, errbuf);
                count_request(req->method, out.cc == CURLE_OK ? out.code : 0);
                if (out.cc == CURLE_OK && out.code == 401 && !refreshed && !x.streamed) {
                        /* the token may have rotated: ask the plugin once */
                        struct ka_kube_endpoint *fresh;
                        refreshed = true;
                        if (ka_kube_cred_refused(k->cred, e, &fresh, err) < 0) {
                                ka_buf_free(&x.body);
                                r = -EKEYREJECTED;
                                break;
                        }
                        ka_kube_endpoint_unref(k->cred, e);
                        e = fresh;
                        count(k, &k->counters.refreshes, 1);
                        ka_buf_free(&x.body);
                        continue;
                }
                int64_t wait;
                if ((out.cc != CURLE_OK || out.code == 429 || out.code >= 500) &&
                    should_retry(k, &x, &out, attempt, &wait)) {
                        ka_buf_free(&x.body);
                        attempt++;
                        count(k, &k->counters.retries, 1);
                        if (!sleep_ms(wait, x.stop)) {
                                r = ka_error_set(err, -ECANCELED, "%s: cancelled", what);
                                break;
                        }
                        continue;
                }
                if (x.sink_stopped) {
                        r = x.sink_code;
                        ka_error_set(err, r, "%s: stopped", what);
                } else if (out.cc != CURLE_OK) {
                        _cleanup_free_ char *where = server_desc(k, e);
                        r = transport_error(&x, &out, what, where, errbuf, err);
                } else if (out.code >= 200 && out.code < 300) {
                        r = 0;
                } else {
                        struct ka_kube_status st;
                        ka_kube_status_parse(out.code, x.body.data, x.body.len, &st);
                        r = ka_kube_status_error(&st, what, err);
                        if (ret)
                                ret->status = st;
                        else
                                ka_kube_status_clear(&st);
                }
                break;
        }
        if (ret) {
                ret->code = out.code;
                ret->len = x.body.len;
                ret->body = x.body.data ? ka_buf_steal(&x.body) : ka_strdup("");
        }
        ka_buf_free(&x.body);
        handle_give(k, h);
        ka_kube_endpoint_unref(k->cred, e);
        return r;
}

/* ---- raw connections ------------------------------------------------------ */

struct ka_kube_raw {
        struct ka_kube *k;
        CURL *easy;
        curl_socket_t fd;
        struct ka_kube_endpoint *e; /* the snapshot the credentials came from */
};

void ka_kube_raw_close(struct ka_kube_raw *r) {
        if (!r)
                return;
        curl_easy_cleanup(r->easy);
        ka_kube_endpoint_unref(r->k->cred, r->e);
        free(r);
}

int ka_kube_raw_fd(const struct ka_kube_raw *r) {
        return (int)r->fd;
}

/* The request head: request line, Host, User-Agent, Authorization (only
 * over TLS, as requests). */
static char *raw_head(struct ka_kube *k, const struct ka_kube_endpoint *e, const char *method, const char *url) {
        const char *authority = strstr(url, "://") + 3;
        const char *path = strchr(authority, '/');
        struct ka_buf h = KA_BUF_INIT(0);
        ka_buf_printf(&h, "%s %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: %s\r\n", method, path, (int)(path - authority),
                      authority, k->user_agent);
        if (ka_startswith(url, "https://") && e->ep.bearer_token) {
                ka_buf_printf(&h, "Authorization: Bearer %s\r\n", e->ep.bearer_token);
        } else if (ka_startswith(url, "https://") && e->ep.username && e->ep.password) {
                struct ka_buf up = KA_BUF_INIT_SECRET(0);
                ka_buf_printf(&up, "%s:%s", e->ep.username, e->ep.password);
                char *b64 = ka_base64_encode(up.data, up.len);
                ka_buf_printf(&h, "Authorization: Basic %s\r\n", b64);
                ka_free_secret(b64);
                ka_buf_free_secret(&up);
        }
        struct curl_slist *im = impersonation_headers(k, e, NULL);
        for (struct curl_slist *s = im; s; s = s->next)
                ka_buf_printf(&h, "%s\r\n", s->data);
        curl_slist_free_all(im);
        return ka_buf_steal(&h);
}

int ka_kube_raw_open(struct ka_kube *k, const char *method, const char *path, const char *query,
                     struct ka_kube_raw **ret, char **ret_head, struct ka_error *err) {
        struct ka_kube_endpoint *e;
        int r = get_endpoint(k, &e, err);
        if (r < 0)
                return r;
        rate_limit(k, NULL);
        struct handle h = {.easy = curl_easy_init()};
        if (!h.easy) {
                fprintf(stderr, "kubeagent: out of memory (curl_easy_init)\n");
                abort();
        }
        configure_handle(k, &h, e);
        CURL *c = h.easy;
        /* a connection of its own: not from, nor into, the shared cache */
        curl_easy_setopt(c, CURLOPT_SHARE, NULL);
        curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        /* through an HTTP proxy, a tunnel even to an http:// server: the
         * upgrade is ours to write */
        curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 1L);
        struct ka_buf url = KA_BUF_INIT(0);
        struct curl_slist *connect_to;
        request_url(k, e, path, query, &url, &connect_to);
        curl_easy_setopt(c, CURLOPT_URL, url.data);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        if (k->o.http_log) {
                log_line(k, "> %s %s (connection of its own)", method, url.data);
                log_proxy(k, e);
        }
        struct outcome out = {.cc = curl_easy_perform(c)};
        out.proxy_code = out.cc != CURLE_OK ? proxy_refusal(c) : 0;
        long connects = 0;
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        pthread_mutex_lock(&k->lock);
        k->counters.requests++;
        k->counters.connects += (uint64_t)connects;
        pthread_mutex_unlock(&k->lock);
        curl_socket_t fd = CURL_SOCKET_BAD;
        if (out.cc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &fd);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, NULL);
        curl_slist_free_all(connect_to);
        if (out.cc != CURLE_OK || fd == CURL_SOCKET_BAD) {
                struct exchange x = {.k = k};
                _cleanup_free_ char *what = ka_asprintf("%s %s", method, path);
                _cleanup_free_ char *where = server_desc(k, e);
                r = transport_error(&x, &out, what, where, errbuf, err);
                if (k->o.http_log)
                        log_line(k, "< %s", err ? err->msg : curl_easy_strerror(out.cc));
                curl_easy_cleanup(c);
                ka_buf_free(&url);
                ka_kube_endpoint_unref(k->cred, e);
                return r < 0 ? r : -EIO;
        }
        if (k->o.http_log && e->ep.bearer_token)
                log_line(k, "> Authorization: Bearer " KA_SECRET_MASK);
        struct ka_kube_raw *raw = ka_new0(struct ka_kube_raw, 1);
        *raw = (struct ka_kube_raw){.k = k, .easy = c, .fd = fd, .e = e};
        *ret_head = raw_head(k, e, method, url.data);
        ka_buf_free(&url);
        *ret = raw;
        return 0;
}

ssize_t ka_kube_raw_send(struct ka_kube_raw *r, const void *buf, size_t len) {
        size_t n = 0;
        CURLcode cc = curl_easy_send(r->easy, buf, len, &n);
        if (cc == CURLE_AGAIN)
                return -EAGAIN;
        if (cc != CURLE_OK)
                return -ECONNRESET;
        return (ssize_t)n;
}

ssize_t ka_kube_raw_recv(struct ka_kube_raw *r, void *buf, size_t len) {
        size_t n = 0;
        CURLcode cc = curl_easy_recv(r->easy, buf, len, &n);
        if (cc == CURLE_AGAIN)
                return -EAGAIN;
        if (cc != CURLE_OK)
                return -ECONNRESET;
        return (ssize_t)n;
}

int ka_kube_raw_refused(struct ka_kube_raw *r, struct ka_error *err) {
        struct ka_kube_endpoint *fresh;
        int ret = ka_kube_cred_refused(r->k->cred, r->e, &fresh, err);
        if (ret < 0)
                return -EKEYREJECTED;
        ka_kube_endpoint_unref(r->k->cred, fresh);
        count(r->k, &r->k->counters.refreshes, 1);
        return 0;
}
