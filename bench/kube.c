/* bench/kube: the Kubernetes client against the API simulator.
 *
 *   1. requests per second and CPU per request, GET of one pod over a
 *      reused TLS connection, from 1 and from 4 threads sharing a client;
 *   2. API requests per pod for create + watch + delete of 100 pods through
 *      the shared informer (target: 2 writes per pod, no per-pod reads).
 *
 * Prints figures; the simulator's own CPU is not counted in "CPU per
 * request" (it is a Python process).  Run: make bench && bench/kube */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/informer.h"
#include "kube/pods.h"
#include "sim.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

#define PODS 100

static struct sim sim;

struct worker {
        struct ka_kube *k;
        int n, failed;
};

static void *hammer(void *arg) {
        struct worker *w = arg;
        struct ka_error err;
        for (int i = 0; i < w->n; i++)
                if (get(w->k, "/api/v1/namespaces/ci/pods/bench-target", &err) < 0)
                        w->failed++;
        return NULL;
}

static void throughput(struct ka_kube *k, int threads, int total) {
        struct worker w[8];
        pthread_t t[8];
        struct ka_kube_counters c0, c1;
        ka_kube_counters(k, &c0);
        double cpu0 = cpu_seconds();
        int64_t t0 = ka_time_now_ms();
        for (int i = 0; i < threads; i++) {
                w[i] = (struct worker){.k = k, .n = total / threads};
                pthread_create(&t[i], NULL, hammer, &w[i]);
        }
        int failed = 0;
        for (int i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                failed += w[i].failed;
        }
        double secs = (double)(ka_time_now_ms() - t0) / 1000.0, cpu = cpu_seconds() - cpu0;
        ka_kube_counters(k, &c1);
        printf("GET pod, %d thread%s: %d requests in %.2f s = %.0f requests/s, CPU %.0f us/request, "
               "%llu new connections, %d failed\n",
               threads, threads == 1 ? "" : "s", total, secs, total / secs, cpu * 1e6 / total,
               (unsigned long long)(c1.connects - c0.connects), failed);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int running, deleted;

static bool seen_running[PODS];

static void on_event(void *ud, enum ka_watch_type type, const cJSON *pod) {
        (void)ud;
        const char *name = ka_json_path_str(pod, "metadata.name");
        int i;
        if (!name || sscanf(name, "bench-%d", &i) != 1 || i < 0 || i >= PODS)
                return;
        pthread_mutex_lock(&lock);
        if (type == KA_WATCH_DELETED) {
                deleted++;
        } else if (!seen_running[i] && ka_streq(ka_json_path_str(pod, "status.phase"), "Running")) {
                seen_running[i] = true;
                running++;
        }
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
}

static long stat_of(const cJSON *requests, const char *prefix) {
        long total = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, requests) if (ka_startswith(e->string, prefix)) total += (long)e->valuedouble;
        return total;
}

static bool wait_for(int *counter, int want, int64_t timeout_ms) {
        int64_t end = ka_time_now_ms() + timeout_ms;
        pthread_mutex_lock(&lock);
        while (*counter < want && ka_time_now_ms() < end) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 1;
                pthread_cond_timedwait(&cond, &lock, &ts);
        }
        bool done = *counter >= want;
        pthread_mutex_unlock(&lock);
        return done;
}

static void per_pod(struct ka_kube *k) {
        struct ka_error err;
        struct ka_informer *inf;
        sim_admin(&sim, "POST", "/reset-stats", NULL, NULL);
        ka_informer_acquire(k, NULL, "bench=pods", &inf, &err);
        ka_informer_wait_synced(inf, 10000);
        struct ka_informer_sub *sub = ka_informer_subscribe(inf, on_event, NULL, false);
        int64_t t0 = ka_time_now_ms();
        for (int i = 0; i < PODS; i++) {
                char text[512];
                snprintf(text, sizeof(text),
                         "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%d\",\"labels\":"
                         "{\"bench\":\"pods\"}},\"spec\":{\"containers\":[{\"name\":\"jnlp\",\"image\":\"busybox:1.36\"}]}}",
                         i);
                cJSON *p = cJSON_Parse(text);
                if (ka_kube_pod_create(k, NULL, p, NULL, &err) < 0)
                        fprintf(stderr, "create: %s\n", err.msg);
                cJSON_Delete(p);
        }
        bool all_running = wait_for(&running, PODS, 60000);
        int64_t t1 = ka_time_now_ms();
        struct ka_kube_delete_options d = KA_KUBE_DELETE_DEFAULTS;
        d.grace_period_s = 0;
        for (int i = 0; i < PODS; i++) {
                char name[32];
                snprintf(name, sizeof(name), "bench-%d", i);
                ka_kube_pod_delete(k, NULL, name, &d, NULL, &err);
        }
        bool all_deleted = wait_for(&deleted, PODS, 60000);
        int64_t t2 = ka_time_now_ms();
        ka_informer_unsubscribe(inf, sub);
        ka_informer_release(inf);
        char *body = NULL;
        sim_admin(&sim, "GET", "/stats", NULL, &body);
        cJSON *stats = cJSON_Parse(body);
        free(body);
        const cJSON *req = cJSON_GetObjectItem(stats, "requests");
        long creates = stat_of(req, "POST /api/v1/namespaces/{namespace}/pods ");
        long deletes = stat_of(req, "DELETE /api/v1/namespaces/{namespace}/pods/{name} ");
        long gets = stat_of(req, "GET /api/v1/namespaces/{namespace}/pods/{name} ");
        long lists = stat_of(req, "GET /api/v1/namespaces/{namespace}/pods ");
        printf("%d pods created, seen Running through the watch%s, deleted, seen DELETED%s: %.1f s + %.1f s\n", PODS,
               all_running ? "" : " (NOT ALL)", all_deleted ? "" : " (NOT ALL)", (double)(t1 - t0) / 1000.0,
               (double)(t2 - t1) / 1000.0);
        printf("API requests per pod: %.2f writes (%ld creates, %ld deletes; target 2), %.2f per-pod reads (target 0); "
               "list and watch requests for all %d pods together: %ld\n",
               (double)(creates + deletes) / PODS, creates, deletes, (double)gets / PODS, PODS, lists);
        cJSON_Delete(stats);
}

int main(void) {
        ka_mem_init();
        const char *why;
        if (!sim_start(&sim, (const char *const[]){"--kubelet-delay-ms", "5", NULL}, &why)) {
                printf("bench/kube: skipped: %s\n", why);
                return 0;
        }
        struct ka_registry reg = {0};
        plugins_load(&reg);
        struct ka_kube_options o;
        ka_kube_options_init(&o);
        o.qps = -1;     /* measure the client, not the rate limit */
        struct ka_kube *k = sim_client(&sim, &reg, "token-admin", &o);
        if (!k) {
                sim_stop(&sim);
                return 1;
        }
        struct ka_error err;
        cJSON *p = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-target\"},"
                               "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox:1.36\"}]}}");
        ka_kube_pod_create(k, NULL, p, NULL, &err);
        cJSON_Delete(p);
        get(k, "/version", &err);       /* warm: connection and TLS session */
        throughput(k, 1, 2000);
        throughput(k, 4, 2000);
        per_pod(k);
        ka_kube_free(k);
        ka_registry_free(&reg);
        sim_stop(&sim);
        ka_secret_reset();
        return 0;
}
