/* The client's behaviour against the API simulator: Status errors (409,
 * 422 causes, 403 RBAC vs quota wording, 404 on delete = done), 429 with
 * Retry-After, 5xx retried for idempotent requests only, connection
 * reuse, response size cap, timeouts, rate limit, pods API basics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube/pods.h"
#include "sim.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

static struct sim sim;
static struct ka_registry reg;

static struct ka_kube *connect_as(const char *token_file, struct ka_kube_options *o) {
        return sim_client(&sim, &reg, token_file, o);
}

static cJSON *pod(const char *name, const char *image) {
        _cleanup_free_ char *text = ka_asprintf(
                "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":{\"jenkins\":"
                "\"slave\"}},\"spec\":{\"containers\":[{\"name\":\"jnlp\"%s%s%s}]}}",
                name, image ? ",\"image\":\"" : "", image ? image : "", image ? "\"" : "");
        return cJSON_Parse(text);
}

static void add_fault(const char *json) {
        if (sim_admin(&sim, "POST", "/faults", json, NULL) != 201)
                tap_diag("fault not added: %s", json);
}

static void test_errors(struct ka_kube *k, struct ka_kube *restricted) {
        struct ka_error err = {0};
        cJSON *p = pod("err-a", "busybox:1.36"), *got = NULL;
        is_int(ka_kube_pod_create(k, NULL, p, &got, &err), 0, "create: 201");
        ok(ka_json_path_str(got, "metadata.uid") != NULL, "create: the stored pod comes back with a uid");
        cJSON_Delete(got);
        is_int(ka_kube_pod_create(k, NULL, p, NULL, &err), -EEXIST, "create again: AlreadyExists is -EEXIST");
        like(err.msg, "create pod ci/err-a: already exists (409 AlreadyExists)", "409: clear message");
        cJSON_Delete(p);

        p = pod("err-b", NULL);
        is_int(ka_kube_pod_create(k, NULL, p, NULL, &err), -EINVAL, "no image: 422 is -EINVAL");
        like(err.msg, "invalid (422 Invalid): spec.containers[0].image: Required value", "422: lists the field cause");
        cJSON_Delete(p);

        p = pod("err-c", "busybox:1.36");
        is_int(ka_kube_pod_create(restricted, NULL, p, NULL, &err), -EACCES, "RBAC denial is -EACCES");
        like(err.msg, "forbidden by RBAC (403 Forbidden)", "403 RBAC: says RBAC");
        like(err.msg, "cannot create resource \"pods\"", "403 RBAC: keeps the server's reason");
        like(err.msg, "Role", "403 RBAC: says how to fix it");

        add_fault("{\"match\":{\"verb\":\"POST\",\"path\":\"/api/v1/namespaces/ci/pods\"},\"status\":403,\"count\":1,"
                  "\"message\":\"pods \\\"err-c\\\" is forbidden: exceeded quota: compute, requested: "
                  "limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=8\"}");
        is_int(ka_kube_pod_create(k, NULL, p, NULL, &err), -EDQUOT, "quota rejection is -EDQUOT, not RBAC");
        like(err.msg, "resource quota exceeded (403", "403 quota: says quota");
        ok(!strstr(err.msg, "RBAC"), "403 quota: does not blame RBAC");
        cJSON_Delete(p);

        bool existed = true;
        is_int(ka_kube_pod_delete(k, NULL, "no-such-pod", NULL, &existed, &err), 0, "delete of a missing pod is done");
        ok(!existed, "delete: says it was not there");
        is_int(ka_kube_pod_get(k, NULL, "no-such-pod", NULL, &err), -ENOENT, "get of a missing pod is -ENOENT");
        like(err.msg, "get pod ci/no-such-pod: not found (404 NotFound)", "404: clear message");

        struct ka_kube_delete_options d = KA_KUBE_DELETE_DEFAULTS;
        d.uid = "00000000-0000-0000-0000-000000000000";
        d.grace_period_s = 0;
        is_int(ka_kube_pod_delete(k, NULL, "err-a", &d, &existed, &err), -EBUSY,
               "delete with another pod's uid: 409 Conflict, nothing deleted");
        is_int(ka_kube_pod_get(k, NULL, "err-a", NULL, &err), 0, "the pod is still there");
        is_int(ka_kube_pod_delete(k, NULL, "err-a", NULL, &existed, &err), 0, "delete");
        ok(existed, "delete: it was there");
}

static void test_retries(struct ka_kube *k) {
        struct ka_error err = {0};
        struct ka_kube_counters c0, c1;
        const char *path = "/api/v1/namespaces/ci/pods";

        ka_kube_counters(k, &c0);
        add_fault("{\"match\":{\"verb\":\"GET\",\"path\":\"/api/v1/namespaces/ci/pods\"},\"status\":429,"
                  "\"retryAfter\":1,\"count\":2}");
        int64_t t0 = ka_time_now_ms();
        is_int(get(k, path, &err), 0, "429 twice, then served");
        int64_t took = ka_time_now_ms() - t0;
        ok(took >= 1900, "429: Retry-After (1 s) honoured each time (%lld ms)", (long long)took);
        ka_kube_counters(k, &c1);
        is_int(c1.retries - c0.retries, 2, "429: two retries");

        add_fault("{\"match\":{\"verb\":\"POST\",\"path\":\"/api/v1/namespaces/ci/pods\"},\"status\":429,"
                  "\"retryAfter\":0,\"count\":1}");
        cJSON *p = pod("retry-429", "busybox:1.36");
        is_int(ka_kube_pod_create(k, NULL, p, NULL, &err), 0, "429 on a create is retried too (not processed)");
        cJSON_Delete(p);

        ka_kube_counters(k, &c0);
        add_fault("{\"match\":{\"verb\":\"GET\",\"path\":\"/api/v1/namespaces/ci/pods\"},\"status\":503,\"count\":2}");
        is_int(get(k, path, &err), 0, "503 on a GET is retried");
        ka_kube_counters(k, &c1);
        is_int(c1.retries - c0.retries, 2, "503 GET: two retries");

        ka_kube_counters(k, &c0);
        sim_admin(&sim, "POST", "/reset-stats", NULL, NULL);
        add_fault("{\"match\":{\"verb\":\"POST\",\"path\":\"/api/v1/namespaces/ci/pods\"},\"status\":500,\"count\":1}");
        p = pod("retry-500", "busybox:1.36");
        is_int(ka_kube_pod_create(k, NULL, p, NULL, &err), -EIO, "500 on a create is not retried");
        like(err.msg, "server error (500", "500: says server error");
        cJSON_Delete(p);
        ka_kube_counters(k, &c1);
        is_int(c1.retries - c0.retries, 0, "500 POST: no retry");
        is_int(sim_count(&sim, "POST "), 1, "500 POST: the server saw exactly one POST");

        add_fault("{\"match\":{\"verb\":\"GET\",\"path\":\"/api/v1/namespaces/ci/pods/x\"},\"close\":true,\"count\":1}");
        is_int(ka_kube_pod_get(k, NULL, "x", NULL, &err), -ENOENT, "a dropped connection on a GET is retried");

        sim_admin(&sim, "DELETE", "/faults", NULL, NULL);
}

static void test_reuse_and_caps(struct ka_kube *k) {
        struct ka_error err = {0};
        struct ka_kube_counters c0, c1;
        ka_kube_counters(k, &c0);
        for (int i = 0; i < 20; i++)
                get(k, "/api/v1/namespaces/ci/pods", &err);
        ka_kube_counters(k, &c1);
        ok(c1.connects - c0.connects <= 1, "20 requests reuse the connection (%llu new)",
           (unsigned long long)(c1.connects - c0.connects));

        struct ka_kube_options o;
        ka_kube_options_init(&o);
        o.max_response_bytes = 300;
        o.max_retries = 0;
        struct ka_kube *small = NULL;
        _cleanup_free_ char *ca = sim_path(&sim, "ca.crt"), *tf = sim_path(&sim, "token-admin");
        _cleanup_free_ char *yaml = ka_asprintf("{tokenFile: %s, caFile: %s}", tf, ca);
        struct ka_kube_cred *cred;
        if (cred_open(&reg, "token", yaml, &cred, &err) == 0) {
                o.server_url = sim.server;
                small = client_new(cred, &o);
        }
        is_int(get(small, "/api/v1/namespaces/ci/pods", &err), -E2BIG, "a response over the cap is refused");
        like(err.msg, "larger than 300 bytes", "cap: says so");
        ka_kube_free(small);

        ka_kube_options_init(&o);
        o.request_timeout_ms = 300;
        o.max_retries = 0;
        small = connect_as("token-admin", &o);
        add_fault("{\"match\":{\"verb\":\"GET\",\"path\":\"/version\"},\"latencyMs\":1500,\"count\":1}");
        is_int(get(small, "/version", &err), -ETIMEDOUT, "a server slower than the request timeout: -ETIMEDOUT");
        ka_kube_free(small);

        ka_kube_options_init(&o);
        o.qps = 10;
        o.burst = 2;
        small = connect_as("token-admin", &o);
        int64_t t0 = ka_time_now_ms();
        for (int i = 0; i < 7; i++)
                get(small, "/version", &err);
        int64_t took = ka_time_now_ms() - t0;
        ok(took >= 450, "rate limit: 7 requests at 10 QPS with burst 2 take at least 0.5 s (%lld ms)",
           (long long)took);
        ka_kube_free(small);
}

static void test_identity(struct ka_kube *k, struct ka_kube *restricted) {
        struct ka_error err = {0};
        cJSON *v = NULL, *ui = NULL;
        is_int(ka_kube_server_version(k, &v, &err), 0, "server version");
        ok(ka_json_str(v, "gitVersion") != NULL, "server version: gitVersion");
        cJSON_Delete(v);
        is_int(ka_kube_whoami(restricted, &ui, &err), 0, "SelfSubjectReview (%s)", err.msg);
        is_str(ka_json_str(ui, "username"), "restricted", "who am I: the restricted user");
        cJSON_Delete(ui);
        bool allowed = true;
        is_int(ka_kube_can_i(restricted, NULL, "create", "pods", NULL, &allowed, NULL, &err), 0, "SSAR");
        ok(!allowed, "restricted may not create pods");
        ka_kube_can_i(restricted, NULL, "get", "pods", "log", &allowed, NULL, &err);
        ok(allowed, "restricted may get pods/log");
}

static int until_scheduled(void *ud, const char *data, size_t len) {
        (void)ud;
        return memmem(data, len, "\"nodeName\"", 10) ? -ECANCELED : 0;
}

static void test_list_and_logs(struct ka_kube *k) {
        struct ka_error err = {0};
        for (int i = 0; i < 7; i++) {
                char name[32];
                snprintf(name, sizeof(name), "list-%d", i);
                cJSON *p = pod(name, "busybox:1.36");
                ka_kube_pod_create(k, NULL, p, NULL, &err);
                cJSON_Delete(p);
        }
        struct ka_kube_list_options lo = {.label_selector = "jenkins=slave", .limit = 3};
        cJSON *items = NULL;
        char *rv = NULL;
        sim_admin(&sim, "POST", "/reset-stats", NULL, NULL);
        is_int(ka_kube_pod_list(k, NULL, &lo, &items, &rv, &err), 0, "list with paging");
        ok(cJSON_GetArraySize(items) >= 7, "list: every page collected (%d)", cJSON_GetArraySize(items));
        ok(sim_count(&sim, "GET /api/v1/namespaces/{namespace}/pods 200") >= 3, "list: in pages of 3");
        ok(rv && *rv, "list: a resourceVersion to watch from");
        cJSON_Delete(items);
        free(rv);
        lo = (struct ka_kube_list_options){.label_selector = "jenkins=nobody"};
        ka_kube_pod_list(k, NULL, &lo, &items, NULL, &err);
        is_int(cJSON_GetArraySize(items), 0, "list: the label selector is applied");
        cJSON_Delete(items);

        /* events of one pod: the scheduler's first, oldest first (wait, on
         * a watch, until the pod is scheduled) */
        struct ka_kube_request w = {.method = "GET", .path = "/api/v1/namespaces/ci/pods",
                                    .query = "watch=1&fieldSelector=metadata.name%3Dlist-0&timeoutSeconds=10",
                                    .sink = until_scheduled, .timeout_ms = 15000};
        is_int(ka_kube_request(k, &w, NULL, &err), -ECANCELED, "a watch stopped by its sink: the pod is scheduled");
        cJSON *events = NULL;
        is_int(ka_kube_pod_events(k, NULL, "list-0", &events, &err), 0, "events of a pod (%s)", err.msg);
        ok(cJSON_GetArraySize(events) >= 1, "events: at least the scheduling (%d)", cJSON_GetArraySize(events));
        is_str(ka_json_str(cJSON_GetArrayItem(events, 0), "reason"), "Scheduled", "events: oldest first");
        bool only_this = true;
        const cJSON *e;
        cJSON_ArrayForEach(e, events) only_this = only_this && ka_streq(ka_json_path_str(e, "involvedObject.name"),
                                                                        "list-0");
        ok(only_this, "events: only about that pod");
        cJSON_Delete(events);
}

int main(void) {
        ka_mem_init();
        const char *why;
        if (!sim_start(&sim, NULL, &why)) {
                printf("1..0 # SKIP %s\n", why);
                return 0;
        }
        plugins_load(&reg);
        struct ka_kube *k = connect_as("token-admin", NULL), *restricted = connect_as("token-restricted", NULL);
        test_errors(k, restricted);
        test_retries(k);
        test_reuse_and_caps(k);
        test_identity(k, restricted);
        test_list_and_logs(k);
        ka_kube_free(k);
        ka_kube_free(restricted);
        ka_registry_free(&reg);
        sim_stop(&sim);
        ka_secret_reset();
        return tap_done();
}
