/* core/http: the route-registering server over a real loopback socket —
 * exact and prefix routes, 404 and 405 (with Allow), HEAD, query
 * parameters and headers, request bodies and their cap (413), the
 * listen-address parser, and the metrics route of the status routes. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "http/status.h"
#include "tap.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/metrics.h"

struct got {
        long code;
        char *body;
        char *allow, *type;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
        ka_buf_append(ud, data, size * n);
        return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
        struct got *g = ud;
        size_t len = size * n;
        char *line = ka_strndup(data, len);
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncasecmp(line, "Allow: ", 7))
                g->allow = ka_strdup(line + 7);
        if (!strncasecmp(line, "Content-Type: ", 14))
                g->type = ka_strdup(line + 14);
        free(line);
        return len;
}

static void request(int port, const char *method, const char *path, const char *body, struct got *g) {
        CURL *c = curl_easy_init();
        char url[256];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        struct ka_buf b = KA_BUF_INIT(0);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (!strcmp(method, "HEAD"))
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
        struct curl_slist *h = curl_slist_append(NULL, "X-Test: yes");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        g->code = 0;
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        g->body = ka_buf_steal(&b);
        ka_buf_free(&b);
}

static void got_clear(struct got *g) {
        free(g->body);
        free(g->allow);
        free(g->type);
        *g = (struct got){0};
}

static void hello(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)ud;
        const char *who = ka_http_arg(req, "who");
        ka_http_reply(res, 200, NULL, "hello %s (%s)", who ? who : "nobody", ka_http_header(req, "X-Test"));
}

static void echo(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)ud;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "body", req->body);
        cJSON_AddNumberToObject(o, "length", (double)req->body_len);
        ka_http_reply_json(res, 201, o);
        cJSON_Delete(o);
}

static void item(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)ud;
        ka_http_reply(res, 200, NULL, "item %s", req->path + strlen("/v1/items/"));
}

int main(void) {
        struct ka_http *s = NULL;
        struct ka_error err = {0};
        is_int(ka_http_new("127.0.0.1", 0, &s, &err), -EINVAL, "an address without a port is refused");
        like(err.msg, "kubeagent.http.listen: \"127.0.0.1\" is not HOST:PORT", "and the error says where");
        is_int(ka_http_new("127.0.0.1:99999", 0, &s, &err), -EINVAL, "a port out of range is refused");
        is_int(ka_http_new("[::1:80", 0, &s, &err), -EINVAL, "a broken IPv6 address is refused");
        is_int(ka_http_new("127.0.0.1:0", 16, &s, &err), 0, "listen on any free loopback port");
        is_int(ka_http_route(s, "GET", "/hello", hello, NULL), 0, "a GET route");
        is_int(ka_http_route(s, "GET", "/hello", hello, NULL), -EEXIST, "the same route twice is refused");
        is_int(ka_http_route(s, "POST", "/echo", echo, NULL), 0, "a POST route");
        is_int(ka_http_route(s, "GET", "/v1/items/*", item, NULL), 0, "a prefix route");
        struct ka_http_status st = {.role = "worker"};
        is_int(ka_http_status_routes(s, &st), 0, "the daemon's routes");
        is_int(ka_http_start(s, &err), 0, "start");
        int port = ka_http_port(s);
        ok(port > 0, "the actual port is known (%d)", port);
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
        is_str(ka_http_address(s), addr, "and the address shows it");

        struct got g = {0};
        request(port, "GET", "/hello?who=kubeagent", NULL, &g);
        is_int(g.code, 200, "GET /hello");
        is_str(g.body, "hello kubeagent (yes)", "query parameters and headers reach the handler");
        like(g.type, "text/plain", "text by default");
        got_clear(&g);
        request(port, "HEAD", "/hello", NULL, &g);
        is_int(g.code, 200, "HEAD is answered by the GET route");
        got_clear(&g);
        request(port, "POST", "/echo", "0123456789", &g);
        is_int(g.code, 201, "POST with a body");
        like(g.body, "\"body\":\t\"0123456789\"", "the handler gets the body");
        is_str(g.type, "application/json", "JSON");
        got_clear(&g);
        request(port, "POST", "/echo", "01234567890123456789", &g);
        is_int(g.code, 413, "a body over the cap is refused with 413");
        got_clear(&g);
        request(port, "DELETE", "/hello", NULL, &g);
        is_int(g.code, 405, "another method on a known path: 405");
        is_str(g.allow, "GET, HEAD", "with Allow");
        got_clear(&g);
        request(port, "GET", "/v1/items/abc", NULL, &g);
        is_str(g.body, "item abc", "a prefix route gets the rest of the path");
        got_clear(&g);
        request(port, "GET", "/nothing", NULL, &g);
        is_int(g.code, 404, "an unknown path: 404");
        got_clear(&g);

        struct ka_metric *m = NULL;
        ka_metric_register(NULL, "kubeagent_test_total", "A test counter.", KUBEAGENT_METRIC_COUNTER, NULL, &m, NULL);
        ka_metric_add(m, NULL, 3);
        request(port, "GET", "/metrics", NULL, &g);
        is_int(g.code, 200, "GET /metrics");
        like(g.body, "kubeagent_test_total 3\n", "the process's metrics, in the text format");
        like(g.type, "version=0.0.4", "with the Prometheus content type");
        got_clear(&g);
        request(port, "GET", "/healthz", NULL, &g);
        is_str(g.body, "ok\n", "/healthz");
        got_clear(&g);
        request(port, "GET", "/v1/agents", NULL, &g);
        is_int(g.code, 404, "no scheduler: /v1/agents is 404");
        got_clear(&g);
        ka_http_free(s);
        ka_metrics_reset();
        return tap_done();
}
