/* core/http/http.h — kubeagentd's HTTP endpoint: a small server (Debian's
 * libmicrohttpd, one internal thread) that dispatches requests to the
 * routes its users register.
 *
 *     struct ka_http *s;
 *     ka_http_new("127.0.0.1:9090", 0, &s, &err);
 *     ka_http_route(s, "GET", "/metrics", on_metrics, ud);
 *     ka_http_route(s, "POST", "/v1/templates", on_register, ud);   // a body, up to max_body
 *     ka_http_route(s, "GET", "/v1/agents/" "*", on_agent, ud);   // a prefix
 *     ka_http_start(s, &err);
 *     ...
 *     ka_http_free(s);
 *
 * Routes are registered before ka_http_start(); handlers run on a thread
 * per connection (so they must be thread-safe and may block) and fill a
 * response.  An unknown
 * path answers 404, a known path with another method 405 (with Allow), a
 * body larger than max_body 413; HEAD is answered by a GET route.  Nothing
 * from the request is logged but the method and path (at debug). */
#ifndef KA_HTTP_HTTP_H
#define KA_HTTP_HTTP_H

#include <cjson/cJSON.h>
#include <kubeagent/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

/* kubeagent.http */
struct ka_http_config {
        char *listen;     /* "HOST:PORT" ("[v6]:PORT"); port 0: any free port; "" or "off": no endpoint */
        int64_t max_body; /* bytes */
};
extern const struct kubeagent_config_key ka_http_config_keys[];
#define KA_HTTP_DEFAULT_LISTEN "127.0.0.1:9090"

struct ka_http;

struct ka_http_request {
        const char *method; /* HEAD is passed as GET */
        const char *path;   /* without the query */
        const char *body;   /* NUL-terminated; "" when none */
        size_t body_len;
        void *conn; /* for ka_http_arg / ka_http_header */
};

struct ka_http_response {
        int status;               /* default 200 */
        const char *content_type; /* default "text/plain; charset=utf-8" */
        struct ka_buf body;
        char **headers; /* internal: name, value, name, value, ... (ka_http_set_header) */
};

typedef void (*ka_http_handler)(void *ud, const struct ka_http_request *req, struct ka_http_response *res);

/* A query parameter or a request header (NULL when absent). */
const char *ka_http_arg(const struct ka_http_request *req, const char *key);
const char *ka_http_header(const struct ka_http_request *req, const char *name);
/* Set the status and type and print the body (replacing what was there). */
void ka_http_reply(struct ka_http_response *res, int status, const char *content_type, const char *fmt, ...)
        KA_PRINTF(4, 5);
void ka_http_reply_json(struct ka_http_response *res, int status, const cJSON *json);
/* Add a response header (Location, WWW-Authenticate, ...). */
void ka_http_set_header(struct ka_http_response *res, const char *name, const char *value);
/* Whether the request carries "Authorization: Bearer <token>" (compared in
 * constant time; token NULL: nothing is required).  If not, res is a 401
 * with WWW-Authenticate: Bearer and a JSON {"error": ...} body that never
 * shows what was sent. */
bool ka_http_authorized(const struct ka_http_request *req, const char *token, struct ka_http_response *res);

/* listen as in ka_http_config; max_body 0: 1 MiB.  Errors name the address. */
int ka_http_new(const char *listen, size_t max_body, struct ka_http **ret, struct ka_error *err);
/* path: exact, or a prefix when it ends with a slash and a star.  -EEXIST for a route
 * registered twice. */
int ka_http_route(struct ka_http *s, const char *method, const char *path, ka_http_handler handler, void *ud);
int ka_http_start(struct ka_http *s, struct ka_error *err);
/* "127.0.0.1:9090": where it listens (the actual port once started). */
const char *ka_http_address(const struct ka_http *s);
int ka_http_port(const struct ka_http *s);
/* Whether it listens on a loopback address only (127.0.0.0/8, ::1). */
bool ka_http_loopback(const struct ka_http *s);
void ka_http_free(struct ka_http *s);

#endif
