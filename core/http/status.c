/* kubeagentd's routes: metrics, health, the scheduler's views. */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/str.h"

#define GC_RUN_TIMEOUT_MS 60000

static void on_metrics(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)ud, (void)req;
        ka_buf_reset(&res->body);
        ka_metrics_render(&res->body);
        res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void on_healthz(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)ud, (void)req;
        ka_http_reply(res, 200, NULL, "ok\n");
}

static void on_readyz(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)req;
        struct ka_http_status *st = ud;
        struct ka_buf why = KA_BUF_INIT(0);
        char *w = NULL;
        if (st->prov && !ka_prov_ready(st->prov, &w))
                ka_buf_printf(&why, "%s\n", w);
        free(w);
        w = NULL;
        if (st->worker && !ka_worker_ready(st->worker, &w))
                ka_buf_printf(&why, "worker: %s\n", w);
        free(w);
        if (why.len)
                ka_http_reply(res, 503, NULL, "not ready:\n%s", why.data);
        else
                ka_http_reply(res, 200, NULL, "ready\n");
        ka_buf_free(&why);
}

static bool no_scheduler(const struct ka_http_status *st, struct ka_http_response *res) {
        if (st->prov)
                return false;
        ka_http_reply(res, 404, NULL, "this kubeagentd runs no scheduler (role %s)\n", st->role);
        return true;
}

static void on_agents(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)req;
        struct ka_http_status *st = ud;
        if (no_scheduler(st, res))
                return;
        cJSON *a = ka_prov_agents_json(st->prov);
        ka_http_reply_json(res, 200, a);
        cJSON_Delete(a);
}

static void on_status(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)req;
        struct ka_http_status *st = ud;
        cJSON *o = st->prov ? ka_prov_status_json(st->prov) : cJSON_CreateObject();
        ka_json_set_str(o, "role", st->role);
        ka_json_set_str(o, "version", PACKAGE_VERSION);
        if (st->worker)
                ka_json_set_num(o, "podsFollowed", (double)ka_worker_following(st->worker));
        ka_http_reply_json(res, 200, o);
        cJSON_Delete(o);
}

static void on_gc(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)req;
        struct ka_http_status *st = ud;
        if (no_scheduler(st, res))
                return;
        cJSON *g = ka_prov_gc_json(st->prov);
        ka_http_reply_json(res, 200, g);
        cJSON_Delete(g);
}

/* POST /v1/gc[?dryRun=true]: one pass now, answered with what it did. */
static void on_gc_run(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        struct ka_http_status *st = ud;
        if (no_scheduler(st, res))
                return;
        const char *dry = ka_http_arg(req, "dryRun");
        bool dry_run = dry && (!strcmp(dry, "true") || !strcmp(dry, "1"));
        cJSON *entries = NULL;
        struct ka_error err = {0};
        int r = ka_prov_gc_run(st->prov, dry_run, GC_RUN_TIMEOUT_MS, &entries, &err);
        if (r < 0) {
                ka_http_reply(res, r == -EBUSY ? 409 : 504, NULL, "%s\n", err.msg);
                return;
        }
        cJSON *o = cJSON_CreateObject();
        ka_json_set_bool(o, "dryRun", dry_run);
        ka_json_set(o, "collected", entries);
        ka_http_reply_json(res, 200, o);
        cJSON_Delete(o);
}

/* ---- the HTML page ---- */

static void esc(struct ka_buf *b, const char *s) {
        for (; s && *s; s++) {
                switch (*s) {
                case '<':
                        ka_buf_puts(b, "&lt;");
                        break;
                case '>':
                        ka_buf_puts(b, "&gt;");
                        break;
                case '&':
                        ka_buf_puts(b, "&amp;");
                        break;
                case '"':
                        ka_buf_puts(b, "&quot;");
                        break;
                default:
                        ka_buf_putc(b, *s);
                }
        }
}

static void cell(struct ka_buf *b, const char *s) {
        ka_buf_puts(b, "<td>");
        esc(b, s ? s : "");
        ka_buf_puts(b, "</td>");
}

/* A number, or ∞ for a cap that is null (unlimited). */
static void cell_num(struct ka_buf *b, const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (cJSON_IsNumber(v))
                ka_buf_printf(b, "<td>%.0f</td>", v->valuedouble);
        else
                ka_buf_puts(b, "<td>&infin;</td>");
}

static void on_page(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        (void)req;
        struct ka_http_status *st = ud;
        struct ka_buf *b = &res->body;
        ka_buf_reset(b);
        res->content_type = "text/html; charset=utf-8";
        ka_buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>kubeagentd</title>"
                       "<meta http-equiv=\"refresh\" content=\"5\"><style>"
                       "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
                       "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#eee}"
                       ".failed{color:#b00}</style></head><body>\n");
        ka_buf_printf(b, "<h1>kubeagentd %s</h1><p>role %s &middot; <a href=\"/metrics\">metrics</a> &middot; "
                         "<a href=\"/v1/agents\">agents (JSON)</a> &middot; <a href=\"/readyz\">readiness</a></p>\n",
                      PACKAGE_VERSION, st->role);
        if (!st->prov) {
                ka_buf_printf(b, "<p>This process runs a worker only: it follows %zu pod(s).</p></body></html>\n",
                              st->worker ? ka_worker_following(st->worker) : 0);
                return;
        }
        cJSON *status = ka_prov_status_json(st->prov);
        ka_buf_puts(b, "<h2>Clouds</h2><table><tr><th>cloud</th><th>namespace</th><th>agents</th><th>containerCap</th>"
                       "<th>template</th><th>label</th><th>agents</th><th>instanceCap</th></tr>\n");
        const cJSON *c, *t;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "clouds")) {
                const cJSON *ts = cJSON_GetObjectItemCaseSensitive(c, "templates");
                int n = KA_MAX(cJSON_GetArraySize(ts), 1), i = 0;
                ka_buf_printf(b, "<tr><td rowspan=\"%d\">", n);
                esc(b, ka_json_str(c, "name"));
                ka_buf_printf(b, "</td><td rowspan=\"%d\">", n);
                esc(b, ka_json_str(c, "namespace"));
                ka_buf_puts(b, "</td>");
                cell_num(b, c, "agents");
                cell_num(b, c, "containerCap");
                if (!cJSON_GetArraySize(ts))
                        ka_buf_puts(b, "<td></td><td></td><td></td><td></td></tr>\n");
                cJSON_ArrayForEach(t, ts) {
                        if (i++)
                                ka_buf_puts(b, "<tr>");
                        cell(b, ka_json_str(t, "name"));
                        cell(b, ka_json_str(t, "label"));
                        cell_num(b, t, "agents");
                        cell_num(b, t, "instanceCap");
                        ka_buf_puts(b, "</tr>\n");
                }
        }
        ka_buf_puts(b, "</table>\n<h2>Frontends</h2><table><tr><th>frontend</th><th>controller</th><th>connected</th>"
                       "<th>synchronised</th><th>nodes</th><th>waiting items</th></tr>\n");
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "frontends")) {
                ka_buf_puts(b, "<tr>");
                cell(b, ka_json_str(c, "name"));
                cell(b, ka_json_str(c, "url"));
                cell(b, ka_json_bool(c, "up", false) ? "yes" : "no");
                cell(b, ka_json_bool(c, "synced", false) ? "yes" : "no");
                cell_num(b, c, "nodes");
                cell_num(b, c, "waiting");
                ka_buf_puts(b, "</tr>\n");
        }
        cJSON_Delete(status);
        cJSON *agents = ka_prov_agents_json(st->prov);
        ka_buf_printf(b, "</table>\n<h2>Agents (%d)</h2><table><tr><th>agent</th><th>state</th><th>cloud</th>"
                         "<th>template</th><th>pod</th><th>node</th><th>why</th></tr>\n",
                      cJSON_GetArraySize(agents));
        const cJSON *a;
        cJSON_ArrayForEach(a, agents) {
                bool failed = ka_json_bool(a, "failed", false);
                ka_buf_printf(b, "<tr%s>", failed ? " class=\"failed\"" : "");
                cell(b, ka_json_str(a, "name"));
                cell(b, ka_json_str(a, "state"));
                cell(b, ka_json_str(a, "cloud"));
                cell(b, ka_json_str(a, "template"));
                cell(b, ka_json_path_str(a, "pod.phase"));
                cell(b, ka_json_str(a, "node"));
                cell(b, ka_json_str(a, "endReason") ? ka_json_str(a, "endReason") : ka_json_path_str(a, "pod.reason"));
                ka_buf_puts(b, "</tr>\n");
        }
        cJSON_Delete(agents);
        ka_buf_puts(b, "</table></body></html>\n");
}

int ka_http_status_routes(struct ka_http *s, struct ka_http_status *st) {
        static const struct {
                const char *path;
                ka_http_handler h;
        } routes[] = {
                {"/metrics", on_metrics}, {"/healthz", on_healthz}, {"/readyz", on_readyz}, {"/v1/agents", on_agents},
                {"/v1/status", on_status}, {"/v1/gc", on_gc},      {"/", on_page},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(routes); i++) {
                int r = ka_http_route(s, "GET", routes[i].path, routes[i].h, st);
                if (r < 0)
                        return r;
        }
        return ka_http_route(s, "POST", "/v1/gc", on_gc_run, st);
}
