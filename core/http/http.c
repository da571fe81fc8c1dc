/* The HTTP server: libmicrohttpd with one internal thread, and routes. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"

#define DEFAULT_MAX_BODY (1u << 20)
#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 30

#define KEY(name_, type_, default_, member_, description_)                                                             \
        { name_, type_, default_, 0, offsetof(struct ka_http_config, member_), description_ }

const struct kubeagent_config_key ka_http_config_keys[] = {
        KEY("listen", KUBEAGENT_CFG_STRING, KA_HTTP_DEFAULT_LISTEN, listen,
            "where the endpoint listens (HOST:PORT, [IPv6]:PORT; port 0: any free port; \"off\": no endpoint)"),
        KEY("maxBodySize", KUBEAGENT_CFG_INT, "1048576", max_body, "largest request body accepted, in bytes"),
        {NULL, 0, NULL, 0, 0, NULL},
};

struct route {
        char *method, *path;
        bool prefix;
        ka_http_handler handler;
        void *ud;
};

struct ka_http {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char address[128];
        int port;
        size_t max_body;
        struct route *routes;
        size_t n_routes;
        struct MHD_Daemon *mhd;
};

/* A request's body as it arrives. */
struct upload {
        struct ka_buf body;
        bool too_large;
};

/* ---- requests and responses ---- */

const char *ka_http_arg(const struct ka_http_request *req, const char *key) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *ka_http_header(const struct ka_http_request *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void ka_http_reply(struct ka_http_response *res, int status, const char *content_type, const char *fmt, ...) {
        res->status = status;
        res->content_type = content_type;
        ka_buf_reset(&res->body);
        va_list ap;
        va_start(ap, fmt);
        ka_buf_vprintf(&res->body, fmt, ap);
        va_end(ap);
}

void ka_http_set_header(struct ka_http_response *res, const char *name, const char *value) {
        res->headers = ka_strv_push(ka_strv_push(res->headers ? res->headers : ka_new0(char *, 1), name), value);
}

bool ka_http_authorized(const struct ka_http_request *req, const char *token, struct ka_http_response *res) {
        if (!token)
                return true;
        const char *h = ka_http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *given = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
        while (given && *given == ' ')
                given++;
        if (given && ka_secret_equal(given, token))
                return true;
        cJSON *e = cJSON_CreateObject();
        ka_json_set_str(e, "error",
                        given ? "the bearer token is not valid"
                              : "this path needs an Authorization: Bearer <token> header");
        ka_http_reply_json(res, 401, e);
        cJSON_Delete(e);
        ka_http_set_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                           given ? "Bearer realm=\"kubeagent\", error=\"invalid_token\""
                                 : "Bearer realm=\"kubeagent\"");
        return false;
}

void ka_http_reply_json(struct ka_http_response *res, int status, const cJSON *json) {
        char *text = cJSON_Print(json);
        ka_http_reply(res, status, "application/json", "%s\n", text ? text : "null");
        free(text);
}

/* ---- dispatch ---- */

static bool path_matches(const struct route *r, const char *path) {
        if (!r->prefix)
                return strcmp(r->path, path) == 0;
        size_t n = strlen(r->path);
        return strncmp(r->path, path, n) == 0;
}

static void dispatch(struct ka_http *s, const struct ka_http_request *req, struct ka_http_response *res) {
        struct ka_buf allow = KA_BUF_INIT(0);
        for (size_t i = 0; i < s->n_routes; i++) {
                const struct route *r = &s->routes[i];
                if (!path_matches(r, req->path))
                        continue;
                if (strcmp(r->method, req->method) == 0) {
                        ka_buf_free(&allow);
                        r->handler(r->ud, req, res);
                        return;
                }
                ka_buf_printf(&allow, "%s%s", allow.len ? ", " : "", r->method);
                if (!strcmp(r->method, "GET"))
                        ka_buf_puts(&allow, ", HEAD");
        }
        if (allow.len) {
                ka_http_reply(res, 405, NULL, "%s is not allowed on %s (allowed: %s)\n", req->method, req->path,
                              allow.data);
                ka_http_set_header(res, MHD_HTTP_HEADER_ALLOW, allow.data);
        } else {
                ka_http_reply(res, 404, NULL, "no such path: %s\n", req->path);
        }
        ka_buf_free(&allow);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct ka_http_response *res) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(res->body.len, res->body.data ? res->body.data : (void *)"",
                                                MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                res->content_type ? res->content_type : "text/plain; charset=utf-8");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        for (size_t i = 0; res->headers && res->headers[i]; i += 2)
                MHD_add_response_header(r, res->headers[i], res->headers[i + 1]);
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        (void)version;
        struct ka_http *s = cls;
        struct upload *u = *con_cls;
        if (!u) {
                /* the headers: keep a place for the body */
                u = ka_new0(struct upload, 1);
                u->body = (struct ka_buf)KA_BUF_INIT(s->max_body);
                *con_cls = u;
                return MHD_YES;
        }
        if (*upload_data_size) {
                if (ka_buf_append(&u->body, upload_data, *upload_data_size) < 0)
                        u->too_large = true;
                *upload_data_size = 0;
                return MHD_YES;
        }
        struct ka_http_response res = {.status = 200, .body = KA_BUF_INIT(0)};
        if (u->too_large) {
                ka_http_reply(&res, 413, NULL, "the request body is larger than %zu bytes\n", s->max_body);
        } else {
                struct ka_http_request req = {.method = strcmp(method, "HEAD") == 0 ? "GET" : method,
                                              .path = url,
                                              .body = u->body.data ? u->body.data : "",
                                              .body_len = u->body.len,
                                              .conn = conn};
                ka_log_debug("http", "%s %s", method, url);
                dispatch(s, &req, &res);
        }
        enum MHD_Result ret = send_response(conn, &res);
        ka_buf_free(&res.body);
        ka_strv_free(res.headers);
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        (void)cls, (void)conn, (void)toe;
        struct upload *u = *con_cls;
        if (u) {
                ka_buf_free(&u->body);
                free(u);
        }
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        (void)cls;
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        ka_log_debug("http", "%s", buf);
}

/* ---- the server ---- */

static int parse_listen(struct ka_http *s, const char *listen, struct ka_error *err) {
        const char *colon = strrchr(listen, ':');
        if (!colon || colon == listen)
                return ka_error_set(err, -EINVAL, "\"%s\" is not HOST:PORT", listen);
        _cleanup_free_ char *host = NULL;
        if (listen[0] == '[') {
                if (colon[-1] != ']')
                        return ka_error_set(err, -EINVAL, "\"%s\" is not [IPv6]:PORT", listen);
                host = ka_strndup(listen + 1, (size_t)(colon - listen - 2));
        } else {
                host = ka_strndup(listen, (size_t)(colon - listen));
        }
        int port;
        if (ka_parse_int(colon + 1, &port) < 0 || port < 0 || port > 65535)
                return ka_error_set(err, -EINVAL, "\"%s\": the port must be a number from 0 to 65535", listen);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        struct addrinfo *ai = NULL;
        int r = getaddrinfo(host, colon + 1, &hints, &ai);
        if (r != 0)
                return ka_error_set(err, -EINVAL, "\"%s\": %s", listen, gai_strerror(r));
        memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
        s->addr_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        s->port = port;
        ka_strlcpy(s->address, listen, sizeof(s->address));
        return 0;
}

int ka_http_new(const char *listen, size_t max_body, struct ka_http **ret, struct ka_error *err) {
        struct ka_http *s = ka_new0(struct ka_http, 1);
        s->max_body = max_body ? max_body : DEFAULT_MAX_BODY;
        int r = parse_listen(s, listen, err);
        if (r < 0) {
                free(s);
                return ka_error_prefix(err, "kubeagent.http.listen");
        }
        *ret = s;
        return 0;
}

int ka_http_route(struct ka_http *s, const char *method, const char *path, ka_http_handler handler, void *ud) {
        size_t n = strlen(path);
        bool prefix = n >= 2 && strcmp(path + n - 2, "/*") == 0;
        char *p = prefix ? ka_strndup(path, n - 1) : ka_strdup(path);
        for (size_t i = 0; i < s->n_routes; i++) {
                if (!strcmp(s->routes[i].method, method) && !strcmp(s->routes[i].path, p) &&
                    s->routes[i].prefix == prefix) {
                        free(p);
                        return -EEXIST;
                }
        }
        s->routes = ka_reallocarray(s->routes, s->n_routes + 1, sizeof(*s->routes));
        s->routes[s->n_routes++] =
                (struct route){.method = ka_strdup(method), .path = p, .prefix = prefix, .handler = handler, .ud = ud};
        return 0;
}

int ka_http_start(struct ka_http *s, struct ka_error *err) {
        /* a thread per connection: a handler may wait (a garbage collection
         * asked for) while /metrics and the probes are answered */
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        if (s->addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        s->mhd = MHD_start_daemon(flags, (uint16_t)s->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                  (struct sockaddr *)&s->addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                                  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
        if (!s->mhd)
                return ka_error_set(err, -EADDRNOTAVAIL, "kubeagent.http: cannot listen on %s (in use, or not an "
                                    "address of this host)", s->address);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
        if (info && info->port) {
                s->port = info->port;
                const char *colon = strrchr(s->address, ':');
                char host[sizeof(s->address) - 8];
                ka_strlcpy(host, s->address, KA_MIN(sizeof(host), (size_t)(colon - s->address) + 1));
                snprintf(s->address, sizeof(s->address), "%s:%d", host, s->port);
        }
        return 0;
}

const char *ka_http_address(const struct ka_http *s) {
        return s->address;
}

int ka_http_port(const struct ka_http *s) {
        return s->port;
}

bool ka_http_loopback(const struct ka_http *s) {
        if (s->addr.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)&s->addr;
                return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        if (s->addr.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&s->addr;
                return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        }
        return false;
}

void ka_http_free(struct ka_http *s) {
        if (!s)
                return;
        if (s->mhd)
                MHD_stop_daemon(s->mhd);
        for (size_t i = 0; i < s->n_routes; i++) {
                free(s->routes[i].method);
                free(s->routes[i].path);
        }
        free(s->routes);
        free(s);
}
