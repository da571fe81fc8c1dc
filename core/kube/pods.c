#include "pods.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

const struct ka_kube_permission ka_kube_permissions[] = {
        {"pods", NULL, "create", "starting agents"},
        {"pods", NULL, "get", "following an agent's pod"},
        {"pods", NULL, "list", "finding agent pods at startup and for cleanup"},
        {"pods", NULL, "watch", "the shared pod watch"},
        {"pods", NULL, "delete", "removing finished agents"},
        {"pods", "log", "get", "agent logs (kubeagent logs, containerLog)"},
        {"pods", "exec", "create", "running commands in containers"},
        {"pods", "exec", "get", "running commands in containers over WebSocket"},
        {"events", NULL, "list", "explaining pods that do not start"},
        {NULL, NULL, NULL, NULL},
};

static const char *ns_or_default(struct ka_kube *k, const char *ns) {
        return ns ? ns : ka_kube_namespace(k);
}

/* "/api/v1/namespaces/<ns>/pods[/<name>[/<sub>]]" */
static char *pods_path(const char *ns, const char *name, const char *sub) {
        struct ka_buf p = KA_BUF_INIT(0);
        ka_buf_puts(&p, "/api/v1/namespaces/");
        ka_kube_path_add(&p, ns);
        ka_buf_puts(&p, "/pods");
        if (name) {
                ka_buf_putc(&p, '/');
                ka_kube_path_add(&p, name);
        }
        if (sub)
                ka_buf_printf(&p, "/%s", sub);
        return ka_buf_steal(&p);
}

/* Do a request and parse its JSON body. */
static int request_json(struct ka_kube *k, const struct ka_kube_request *req, cJSON **ret, struct ka_error *err) {
        struct ka_kube_response resp = {0};
        int r = ka_kube_request(k, req, &resp, err);
        if (r == 0 && ret) {
                cJSON *j;
                r = ka_json_parse(resp.body, resp.len, &j, err);
                if (r < 0)
                        ka_error_prefix(err, "%s: the server's answer", req->what ? req->what : req->path);
                else
                        *ret = j;
        }
        ka_kube_response_clear(&resp);
        return r;
}

int ka_kube_pod_create(struct ka_kube *k, const char *ns, const cJSON *pod, cJSON **ret_pod, struct ka_error *err) {
        ns = ns_or_default(k, ns);
        _cleanup_free_ char *path = pods_path(ns, NULL, NULL);
        _cleanup_free_ char *body = ka_json_print(pod);
        const char *name = ka_json_path_str(pod, "metadata.name");
        _cleanup_free_ char *what = ka_asprintf("create pod %s/%s", ns, name ? name : "(generated name)");
        struct ka_kube_request req = {
                .method = "POST", .path = path, .body = body, .body_len = strlen(body), .what = what};
        return request_json(k, &req, ret_pod, err);
}

int ka_kube_pod_get(struct ka_kube *k, const char *ns, const char *name, cJSON **ret_pod, struct ka_error *err) {
        ns = ns_or_default(k, ns);
        _cleanup_free_ char *path = pods_path(ns, name, NULL);
        _cleanup_free_ char *what = ka_asprintf("get pod %s/%s", ns, name);
        struct ka_kube_request req = {.method = "GET", .path = path, .what = what};
        return request_json(k, &req, ret_pod, err);
}

int ka_kube_pod_patch(struct ka_kube *k, const char *ns, const char *name, const cJSON *patch, cJSON **ret_pod,
                      struct ka_error *err) {
        ns = ns_or_default(k, ns);
        _cleanup_free_ char *path = pods_path(ns, name, NULL);
        _cleanup_free_ char *body = ka_json_print(patch);
        _cleanup_free_ char *what = ka_asprintf("patch pod %s/%s", ns, name);
        struct ka_kube_request req = {.method = "PATCH",
                                      .path = path,
                                      .body = body,
                                      .body_len = strlen(body),
                                      .content_type = "application/merge-patch+json",
                                      .idempotent = 1,
                                      .what = what};
        return request_json(k, &req, ret_pod, err);
}

int ka_kube_pod_delete(struct ka_kube *k, const char *ns, const char *name, const struct ka_kube_delete_options *o,
                       bool *ret_existed, struct ka_error *err) {
        ns = ns_or_default(k, ns);
        _cleanup_free_ char *path = pods_path(ns, name, NULL);
        _cleanup_free_ char *what = ka_asprintf("delete pod %s/%s", ns, name);
        cJSON *opts = cJSON_CreateObject();
        cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
        cJSON_AddStringToObject(opts, "apiVersion", "v1");
        if (o && o->grace_period_s >= 0)
                cJSON_AddNumberToObject(opts, "gracePeriodSeconds", (double)o->grace_period_s);
        if (o && o->propagation)
                cJSON_AddStringToObject(opts, "propagationPolicy", o->propagation);
        if (o && o->uid)
                cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", o->uid);
        _cleanup_free_ char *body = ka_json_print(opts);
        cJSON_Delete(opts);
        struct ka_kube_request req = {
                .method = "DELETE", .path = path, .body = body, .body_len = strlen(body), .what = what};
        struct ka_error e2 = {0};
        int r = ka_kube_request(k, &req, NULL, &e2);
        if (ret_existed)
                *ret_existed = r == 0;
        if (r == -ENOENT)
                return 0; /* already gone: done */
        if (r < 0 && err)
                *err = e2;
        return r;
}

int ka_kube_pod_list(struct ka_kube *k, const char *ns, const struct ka_kube_list_options *o, cJSON **ret_items,
                     char **ret_rv, struct ka_error *err) {
        ns = ns_or_default(k, ns);
        _cleanup_free_ char *path = pods_path(ns, NULL, NULL);
        _cleanup_free_ char *what = ka_asprintf("list pods in %s", ns);
        char limit[24];
        snprintf(limit, sizeof(limit), "%d", o && o->limit > 0 ? o->limit : 500);
        cJSON *items = cJSON_CreateArray();
        char *rv = NULL, *cont = NULL;
        int r = 0;
        bool restarted = false;
        for (;;) {
                struct ka_buf q = KA_BUF_INIT(0);
                ka_kube_query_add(&q, "limit", limit);
                if (o && o->label_selector)
                        ka_kube_query_add(&q, "labelSelector", o->label_selector);
                if (o && o->field_selector)
                        ka_kube_query_add(&q, "fieldSelector", o->field_selector);
                if (cont)
                        ka_kube_query_add(&q, "continue", cont);
                else if (o && o->resource_version)
                        ka_kube_query_add(&q, "resourceVersion", o->resource_version);
                struct ka_kube_request req = {.method = "GET", .path = path, .query = q.data, .what = what};
                cJSON *page = NULL;
                r = request_json(k, &req, &page, err);
                ka_buf_free(&q);
                if (r == -ESTALE && cont && !restarted) {
                        /* the continue token expired: start over, once */
                        restarted = true;
                        free(cont);
                        cont = NULL;
                        cJSON_Delete(items);
                        items = cJSON_CreateArray();
                        continue;
                }
                if (r < 0)
                        break;
                cJSON *pi = cJSON_DetachItemFromObjectCaseSensitive(page, "items");
                cJSON *it;
                while (cJSON_IsArray(pi) && (it = cJSON_DetachItemFromArray(pi, 0)))
                        cJSON_AddItemToArray(items, it);
                cJSON_Delete(pi);
                free(rv);
                rv = ka_strdup(ka_json_path_str(page, "metadata.resourceVersion"));
                const char *next = ka_json_path_str(page, "metadata.continue");
                free(cont);
                cont = next && *next ? ka_strdup(next) : NULL;
                cJSON_Delete(page);
                if (!cont)
                        break;
        }
        free(cont);
        if (r < 0) {
                cJSON_Delete(items);
                free(rv);
                return r;
        }
        *ret_items = items;
        if (ret_rv)
                *ret_rv = rv;
        else
                free(rv);
        return 0;
}

int ka_kube_pod_logs(struct ka_kube *k, const char *ns, const char *name, const struct ka_kube_log_options *o,
                     int (*sink)(void *ud, const char *data, size_t len), void *ud, const atomic_bool *stop,
                     struct ka_error *err) {
        ns = ns_or_default(k, ns);
        _cleanup_free_ char *path = pods_path(ns, name, "log");
        _cleanup_free_ char *what =
                ka_asprintf("logs of pod %s/%s%s%s", ns, name, o && o->container ? " container " : "",
                            o && o->container ? o->container : "");
        struct ka_buf q = KA_BUF_INIT(0);
        char n[24];
        if (o && o->container)
                ka_kube_query_add(&q, "container", o->container);
        if (o && o->tail_lines >= 0) {
                snprintf(n, sizeof(n), "%lld", (long long)o->tail_lines);
                ka_kube_query_add(&q, "tailLines", n);
        }
        if (o && o->since_seconds > 0) {
                snprintf(n, sizeof(n), "%lld", (long long)o->since_seconds);
                ka_kube_query_add(&q, "sinceSeconds", n);
        }
        if (o && o->limit_bytes > 0) {
                snprintf(n, sizeof(n), "%lld", (long long)o->limit_bytes);
                ka_kube_query_add(&q, "limitBytes", n);
        }
        if (o && o->timestamps)
                ka_kube_query_add(&q, "timestamps", "true");
        if (o && o->follow)
                ka_kube_query_add(&q, "follow", "true");
        if (o && o->previous)
                ka_kube_query_add(&q, "previous", "true");
        struct ka_kube_request req = {.method = "GET",
                                      .path = path,
                                      .query = q.data,
                                      .accept = "*/*",
                                      .what = what,
                                      .sink = sink,
                                      .sink_ud = ud,
                                      .stop = stop,
                                      .timeout_ms = o && o->follow ? -1 : 0};
        int r = ka_kube_request(k, &req, NULL, err);
        ka_buf_free(&q);
        return r;
}

static double event_time(const cJSON *e) {
        const char *t = ka_json_str(e, "lastTimestamp");
        if (!t)
                t = ka_json_str(e, "eventTime");
        if (!t)
                t = ka_json_path_str(e, "metadata.creationTimestamp");
        int64_t ms = 0;
        return t && ka_time_parse_rfc3339(t, &ms) == 0 ? (double)ms : 0;
}

static int by_time(const void *a, const void *b) {
        double x = event_time(*(cJSON *const *)a), y = event_time(*(cJSON *const *)b);
        return x < y ? -1 : x > y;
}

int ka_kube_pod_events(struct ka_kube *k, const char *ns, const char *name, cJSON **ret_items, struct ka_error *err) {
        ns = ns_or_default(k, ns);
        struct ka_buf p = KA_BUF_INIT(0), q = KA_BUF_INIT(0);
        ka_buf_puts(&p, "/api/v1/namespaces/");
        ka_kube_path_add(&p, ns);
        ka_buf_puts(&p, "/events");
        _cleanup_free_ char *sel = ka_asprintf("involvedObject.kind=Pod,involvedObject.name=%s", name);
        ka_kube_query_add(&q, "fieldSelector", sel);
        _cleanup_free_ char *what = ka_asprintf("events of pod %s/%s", ns, name);
        struct ka_kube_request req = {.method = "GET", .path = p.data, .query = q.data, .what = what};
        cJSON *list = NULL;
        int r = request_json(k, &req, &list, err);
        ka_buf_free(&p);
        ka_buf_free(&q);
        if (r < 0)
                return r;
        cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(list, "items");
        cJSON_Delete(list);
        if (!cJSON_IsArray(items)) {
                cJSON_Delete(items);
                items = cJSON_CreateArray();
        }
        /* sort: detach into a vector, sort, reattach */
        size_t n = (size_t)cJSON_GetArraySize(items);
        cJSON **v = ka_new0(cJSON *, n + 1);
        for (size_t i = 0; i < n; i++)
                v[i] = cJSON_DetachItemFromArray(items, 0);
        qsort(v, n, sizeof(*v), by_time);
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(items, v[i]);
        free(v);
        *ret_items = items;
        return 0;
}

int ka_kube_server_version(struct ka_kube *k, cJSON **ret, struct ka_error *err) {
        struct ka_kube_request req = {.method = "GET", .path = "/version", .what = "server version"};
        return request_json(k, &req, ret, err);
}

int ka_kube_whoami(struct ka_kube *k, cJSON **ret_user_info, struct ka_error *err) {
        static const char body[] =
                "{\"kind\":\"SelfSubjectReview\",\"apiVersion\":\"authentication.k8s.io/v1\",\"metadata\":{}}";
        struct ka_kube_request req = {.method = "POST",
                                      .path = "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                      .body = body,
                                      .body_len = sizeof(body) - 1,
                                      .idempotent = 1,
                                      .what = "who am I (SelfSubjectReview)"};
        cJSON *review = NULL;
        int r = request_json(k, &req, &review, err);
        if (r < 0)
                return r;
        cJSON *status = cJSON_GetObjectItemCaseSensitive(review, "status");
        cJSON *ui = cJSON_IsObject(status) ? cJSON_DetachItemFromObjectCaseSensitive(status, "userInfo") : NULL;
        cJSON_Delete(review);
        if (!cJSON_IsObject(ui)) {
                cJSON_Delete(ui);
                return ka_error_set(err, -EBADMSG, "SelfSubjectReview: the answer has no status.userInfo");
        }
        *ret_user_info = ui;
        return 0;
}

int ka_kube_can_i(struct ka_kube *k, const char *ns, const char *verb, const char *resource, const char *subresource,
                  bool *ret_allowed, char **ret_reason, struct ka_error *err) {
        ns = ns_or_default(k, ns);
        cJSON *review = cJSON_CreateObject();
        cJSON_AddStringToObject(review, "kind", "SelfSubjectAccessReview");
        cJSON_AddStringToObject(review, "apiVersion", "authorization.k8s.io/v1");
        cJSON *ra = cJSON_AddObjectToObject(cJSON_AddObjectToObject(review, "spec"), "resourceAttributes");
        cJSON_AddStringToObject(ra, "namespace", ns);
        cJSON_AddStringToObject(ra, "verb", verb);
        cJSON_AddStringToObject(ra, "group", "");
        cJSON_AddStringToObject(ra, "resource", resource);
        if (subresource)
                cJSON_AddStringToObject(ra, "subresource", subresource);
        _cleanup_free_ char *body = ka_json_print(review);
        cJSON_Delete(review);
        _cleanup_free_ char *what = ka_asprintf("can I %s %s%s%s in %s", verb, resource, subresource ? "/" : "",
                                                subresource ? subresource : "", ns);
        struct ka_kube_request req = {.method = "POST",
                                      .path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                      .body = body,
                                      .body_len = strlen(body),
                                      .idempotent = 1,
                                      .what = what};
        cJSON *ans = NULL;
        int r = request_json(k, &req, &ans, err);
        if (r < 0)
                return r;
        const cJSON *st = ka_json_path(ans, "status");
        if (!cJSON_IsObject(st)) {
                cJSON_Delete(ans);
                return ka_error_set(err, -EBADMSG, "%s: the answer has no status", what);
        }
        *ret_allowed = ka_json_bool(st, "allowed", false);
        if (ret_reason)
                *ret_reason = ka_strdup(ka_json_str(st, "reason"));
        cJSON_Delete(ans);
        return 0;
}
