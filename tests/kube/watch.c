/* The shared pod watch (informer) against the API simulator: list then
 * watch, dropped streams, a server restart that forgets history (410 and a
 * relist with diff), changes made while the watch was down, bookmarks —
 * and through all of it every change delivered exactly once.  Then the pod
 * status interpretation on real pod lifecycles read from the cache. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/informer.h"
#include "kube/podstatus.h"
#include "kube/pods.h"
#include "sim.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

static struct sim sim;
static struct ka_registry reg;

/* Everything a subscriber saw. */
struct seen {
        char name[64], uid[64], rv[32];
        enum ka_watch_type type;
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
static struct seen *rec;
static size_t n_rec;

static void on_event(void *ud, enum ka_watch_type type, const cJSON *pod) {
        (void)ud;
        pthread_mutex_lock(&rec_lock);
        rec = ka_reallocarray(rec, n_rec + 1, sizeof(*rec));
        struct seen *s = &rec[n_rec++];
        *s = (struct seen){.type = type};
        ka_strlcpy(s->name, ka_json_path_str(pod, "metadata.name"), sizeof(s->name));
        ka_strlcpy(s->uid, ka_json_path_str(pod, "metadata.uid"), sizeof(s->uid));
        ka_strlcpy(s->rv, ka_json_path_str(pod, "metadata.resourceVersion"), sizeof(s->rv));
        pthread_cond_broadcast(&rec_cond);
        pthread_mutex_unlock(&rec_lock);
}

static int count_of(const char *name, enum ka_watch_type type) {
        int n = 0;
        for (size_t i = 0; i < n_rec; i++)
                n += strcmp(rec[i].name, name) == 0 && rec[i].type == type;
        return n;
}

/* Wait (on events, not by sleeping) until count_of(name, type) >= want. */
static bool await(const char *name, enum ka_watch_type type, int want, int64_t timeout_ms) {
        int64_t end = ka_time_now_ms() + timeout_ms;
        pthread_mutex_lock(&rec_lock);
        while (count_of(name, type) < want) {
                int64_t left = end - ka_time_now_ms();
                if (left <= 0)
                        break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += left / 1000 + 1;
                pthread_cond_timedwait(&rec_cond, &rec_lock, &ts);
        }
        bool done = count_of(name, type) >= want;
        pthread_mutex_unlock(&rec_lock);
        return done;
}

static cJSON *make_pod(const char *name, const char *labels, const char *spec) {
        _cleanup_free_ char *t = ka_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
                                             "\"labels\":{%s}},\"spec\":%s}",
                                             name, labels, spec);
        return cJSON_Parse(t);
}

static const char *const simple = "{\"containers\":[{\"name\":\"jnlp\",\"image\":\"busybox:1.36\"}]}";

static int create(struct ka_kube *k, const char *name, const char *spec) {
        cJSON *p = make_pod(name, "\"test\":\"watch\"", spec ? spec : simple);
        struct ka_error err = {0};
        int r = ka_kube_pod_create(k, NULL, p, NULL, &err);
        if (r < 0)
                tap_diag("create %s: %s", name, err.msg);
        cJSON_Delete(p);
        return r;
}

static void destroy(struct ka_kube *k, const char *name) {
        struct ka_kube_delete_options o = KA_KUBE_DELETE_DEFAULTS;
        o.grace_period_s = 0;
        struct ka_error err = {0};
        ka_kube_pod_delete(k, NULL, name, &o, NULL, &err);
}

static void check_no_duplicates(const char *when) {
        pthread_mutex_lock(&rec_lock);
        int dups = 0, added_twice = 0;
        for (size_t i = 0; i < n_rec; i++)
                for (size_t j = i + 1; j < n_rec; j++) {
                        if (strcmp(rec[i].uid, rec[j].uid) != 0)
                                continue;
                        if (rec[i].type == rec[j].type && strcmp(rec[i].rv, rec[j].rv) == 0)
                                dups++;
                        if (rec[i].type == KA_WATCH_ADDED && rec[j].type == KA_WATCH_ADDED)
                                added_twice++;
                }
        pthread_mutex_unlock(&rec_lock);
        is_int(dups, 0, "%s: no change delivered twice", when);
        is_int(added_twice, 0, "%s: no pod ADDED twice", when);
}

static void test_informer(struct ka_kube *k) {
        struct ka_error err = {0};
        struct ka_informer *inf = NULL, *again = NULL;
        is_int(ka_informer_acquire(k, NULL, "test=watch", &inf, &err), 0, "informer starts");
        is_int(ka_informer_acquire(k, "ci", "test=watch", &again, &err), 0, "acquire again");
        ok(inf == again, "one informer per namespace and selector, shared");
        ka_informer_release(again);
        ok(ka_informer_wait_synced(inf, 10000), "first list synced");
        struct ka_informer_sub *sub = ka_informer_subscribe(inf, on_event, NULL, true);

        char name[32];
        for (int i = 0; i < 10; i++) {
                snprintf(name, sizeof(name), "w-%d", i);
                create(k, name, NULL);
        }
        ok(await("w-9", KA_WATCH_ADDED, 1, 10000), "ADDED for new pods");
        ok(await("w-0", KA_WATCH_MODIFIED, 1, 10000), "MODIFIED as the kubelet moves them");

        /* dropped streams: re-watch from the last resourceVersion, no relist */
        struct ka_informer_stats s0, s1;
        ka_informer_stats(inf, &s0);
        sim_admin(&sim, "POST", "/drop-watches", NULL, NULL);
        create(k, "w-10", NULL);
        ok(await("w-10", KA_WATCH_ADDED, 1, 10000), "after a dropped stream: new pods still arrive");
        sim_admin(&sim, "POST", "/drop-watches", NULL, NULL);
        destroy(k, "w-1");
        ok(await("w-1", KA_WATCH_DELETED, 1, 10000), "after a dropped stream: deletions still arrive");
        ka_informer_stats(inf, &s1);
        ok(s1.watches > s0.watches, "the watch was re-opened (%llu watches)", (unsigned long long)s1.watches);
        is_int(s1.relists, 0, "a dropped stream is not a reason to relist");
        check_no_duplicates("dropped streams");

        /* server restart that forgets history, with changes while the watch is down */
        sim_admin(&sim, "POST", "/faults", "{\"match\":{\"watch\":true},\"status\":503}", NULL);
        sim_admin(&sim, "POST", "/drop-watches", NULL, NULL);
        destroy(k, "w-2");
        destroy(k, "w-3");
        create(k, "w-11", NULL);
        create(k, "w-12", NULL);
        sim_admin(&sim, "POST", "/restart", "{}", NULL);
        sim_admin(&sim, "DELETE", "/faults", NULL, NULL);
        ok(await("w-2", KA_WATCH_DELETED, 1, 40000), "a pod deleted while the watch was down: DELETED on relist");
        ok(await("w-3", KA_WATCH_DELETED, 1, 10000), "and another");
        ok(await("w-11", KA_WATCH_ADDED, 1, 10000), "a pod created while the watch was down: ADDED");
        ok(await("w-12", KA_WATCH_ADDED, 1, 10000), "and another");
        ka_informer_stats(inf, &s1);
        ok(s1.relists >= 1, "410 after the restart made it relist (%llu)", (unsigned long long)s1.relists);
        ok(s1.errors >= 1, "the refused watches were counted as errors and backed off");
        check_no_duplicates("restart");
        pthread_mutex_lock(&rec_lock);
        is_int(count_of("w-2", KA_WATCH_DELETED), 1, "DELETED exactly once");
        is_int(count_of("w-0", KA_WATCH_ADDED), 1, "ADDED exactly once across the restart");
        pthread_mutex_unlock(&rec_lock);

        /* the cache equals the server */
        cJSON *cached = ka_informer_list(inf), *listed = NULL;
        struct ka_kube_list_options lo = {.label_selector = "test=watch"};
        ka_kube_pod_list(k, NULL, &lo, &listed, NULL, &err);
        is_int(cJSON_GetArraySize(cached), cJSON_GetArraySize(listed), "the cache holds what the server has");
        cJSON_Delete(cached);
        cJSON_Delete(listed);
        cJSON *one = ka_informer_get(inf, "w-0");
        is_str(ka_json_path_str(one, "metadata.name"), "w-0", "a cached pod can be read");
        cJSON_Delete(one);
        ok(ka_informer_get(inf, "w-2") == NULL, "a deleted pod is gone from the cache");

        /* bookmarks keep the resourceVersion moving on a quiet watch */
        sim_admin(&sim, "POST", "/config", "{\"bookmarkIntervalMs\":100}", NULL);
        sim_admin(&sim, "POST", "/drop-watches", NULL, NULL);       /* the next watch gets the new interval */
        int64_t end = ka_time_now_ms() + 10000;
        do {
                ka_informer_stats(inf, &s1);
        } while (s1.bookmarks == 0 && ka_time_now_ms() < end && (nanosleep(&(struct timespec){0, 50000000}, NULL), 1));
        ok(s1.bookmarks > 0, "bookmarks arrive and are applied (%llu)", (unsigned long long)s1.bookmarks);
        sim_admin(&sim, "POST", "/config", "{\"bookmarkIntervalMs\":60000}", NULL);

        ka_informer_unsubscribe(inf, sub);
        ka_informer_release(inf);
        ok(true, "informer stops");
}

/* Wait until the cached pod's outlook is `want`. */
static bool await_outlook(struct ka_informer *inf, const char *name, enum ka_pod_outlook want,
                          struct ka_pod_state *ret, cJSON **ret_pod) {
        int64_t end = ka_time_now_ms() + 20000;
        pthread_mutex_lock(&rec_lock);
        for (;;) {
                pthread_mutex_unlock(&rec_lock);
                cJSON *p = ka_informer_get(inf, name);
                if (p) {
                        ka_pod_state_of(p, ret);
                        if (ret->outlook == want) {
                                *ret_pod = p;
                                return true;
                        }
                        cJSON_Delete(p);
                }
                pthread_mutex_lock(&rec_lock);
                if (ka_time_now_ms() > end)
                        break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 1;
                pthread_cond_timedwait(&rec_cond, &rec_lock, &ts);   /* woken by the next event */
        }
        pthread_mutex_unlock(&rec_lock);
        *ret_pod = NULL;
        return false;
}

static void expect(struct ka_informer *inf, const char *name, enum ka_pod_outlook want, const char *reason,
                   const char *what) {
        struct ka_pod_state st;
        cJSON *p;
        bool got = await_outlook(inf, name, want, &st, &p);
        ok(got, "%s: %s", what, ka_pod_outlook_name(want));
        if (got && reason)
                is_str(st.reason, reason, "%s: reason %s", what, reason);
        cJSON_Delete(p);
}

static void test_status(struct ka_kube *k) {
        struct ka_error err = {0};
        struct ka_informer *inf;
        ka_informer_acquire(k, NULL, "test=watch", &inf, &err);
        struct ka_informer_sub *sub = ka_informer_subscribe(inf, on_event, NULL, false);
        create(k, "st-run", NULL);
        create(k, "st-pull", "{\"containers\":[{\"name\":\"jnlp\",\"image\":\"example.com/nope/agent:1\"}]}");
        create(k, "st-invalid", "{\"containers\":[{\"name\":\"jnlp\",\"image\":\"Busy Box\"}]}");
        create(k, "st-exit", "{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"jnlp\",\"image\":"
                             "\"busybox:1.36\",\"command\":[\"sh\",\"-c\",\"exit 3\"]}]}");
        create(k, "st-sched", "{\"nodeSelector\":{\"disk\":\"none\"},\"containers\":[{\"name\":\"jnlp\","
                              "\"image\":\"busybox:1.36\"}]}");
        create(k, "st-config", "{\"containers\":[{\"name\":\"jnlp\",\"image\":\"busybox:1.36\",\"env\":[{\"name\":"
                               "\"X\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"missing\",\"key\":\"k\"}}}]}]}");
        create(k, "st-crash", "{\"containers\":[{\"name\":\"jnlp\",\"image\":\"busybox:1.36\",\"command\":[\"sh\","
                              "\"-c\",\"exit 1\"]}]}");
        expect(inf, "st-run", KA_POD_RUNNING, NULL, "a plain pod");
        expect(inf, "st-pull", KA_POD_STUCK, NULL, "an image that does not exist");
        expect(inf, "st-invalid", KA_POD_NEVER, "InvalidImageName", "an unparsable image");
        expect(inf, "st-sched", KA_POD_STUCK, "Unschedulable", "no node matches");
        expect(inf, "st-config", KA_POD_STUCK, "CreateContainerConfigError", "a missing secret");
        expect(inf, "st-crash", KA_POD_STUCK, "CrashLoopBackOff", "a container that keeps failing");
        struct ka_pod_state st;
        cJSON *p;
        ok(await_outlook(inf, "st-exit", KA_POD_FINISHED, &st, &p), "a container that exited: finished");
        is_int(st.exit_code, 3, "exit code 3");
        is_str(st.phase, "Failed", "phase Failed");
        cJSON_Delete(p);
        sim_admin(&sim, "POST", "/evict", "{\"name\":\"st-run\"}", NULL);
        expect(inf, "st-run", KA_POD_FINISHED, "Evicted", "an evicted pod");
        ka_informer_unsubscribe(inf, sub);
        ka_informer_release(inf);
}

int main(void) {
        ka_mem_init();
        const char *why;
        if (!sim_start(&sim, NULL, &why)) {
                printf("1..0 # SKIP %s\n", why);
                return 0;
        }
        plugins_load(&reg);
        struct ka_kube *k = sim_client(&sim, &reg, "token-admin", NULL);
        if (!k)
                return 1;
        test_informer(k);
        test_status(k);
        ka_kube_free(k);
        ka_registry_free(&reg);
        sim_stop(&sim);
        free(rec);
        ka_secret_reset();
        return tap_done();
}
