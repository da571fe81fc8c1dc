#include "informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pods.h"
#include "status.h"
#include "util/error.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

#define BACKOFF_INIT_MS 800
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 120000
#define WATCH_MIN_S 300     /* timeoutSeconds in [300, 600) */
#define SHORT_WATCH_MS 1000 /* a watch that ends sooner without events is a failure */

struct item {
        char *uid, *name, *rv;
        cJSON *pod;
};

struct ka_informer_sub {
        ka_informer_cb cb;
        void *ud;
        struct ka_informer_sub *next;
};

struct ka_informer {
        struct ka_kube *k;
        char *ns, *selector;
        int refs;                 /* under registry_lock */
        struct ka_informer *next; /* registry */

        pthread_t thread;
        atomic_bool stop;

        pthread_mutex_t lock; /* cache, rv, stats, synced */
        pthread_cond_t cond;
        struct item *items;
        size_t n, cap;
        char *rv;
        bool synced;
        struct ka_informer_stats stats;

        /* Held while a change is applied and delivered, and while a
         * subscriber joins, so every subscriber sees each change once. */
        pthread_mutex_t dispatch;
        struct ka_informer_sub *subs;

        /* the watch in progress (informer thread only) */
        struct ka_lines lines;
        bool expired; /* a 410 arrived */
        int stream_error;
        uint64_t stream_events;
        uint64_t rng;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ka_informer *registry;

/* ---- cache and delivery ---------------------------------------------------- */

static void item_clear(struct item *it) {
        free(it->uid);
        free(it->name);
        free(it->rv);
        cJSON_Delete(it->pod);
}

static struct item *find_uid(struct ka_informer *inf, const char *uid) {
        for (size_t i = 0; uid && i < inf->n; i++)
                if (strcmp(inf->items[i].uid, uid) == 0)
                        return &inf->items[i];
        return NULL;
}

static void deliver(struct ka_informer *inf, enum ka_watch_type type, const cJSON *pod) {
        for (struct ka_informer_sub *s = inf->subs; s; s = s->next)
                s->cb(s->ud, type, pod);
        pthread_mutex_lock(&inf->lock);
        inf->stats.delivered++;
        pthread_mutex_unlock(&inf->lock);
}

/* Put a pod in the cache (taking it) and deliver ADDED or MODIFIED, unless
 * the cache already has this resourceVersion.  Called with dispatch held. */
static void upsert(struct ka_informer *inf, cJSON *pod) {
        const char *uid = ka_json_path_str(pod, "metadata.uid");
        const char *name = ka_json_path_str(pod, "metadata.name");
        const char *rv = ka_json_path_str(pod, "metadata.resourceVersion");
        if (!uid || !name) {
                cJSON_Delete(pod);
                return;
        }
        pthread_mutex_lock(&inf->lock);
        struct item *it = find_uid(inf, uid);
        enum ka_watch_type type = it ? KA_WATCH_MODIFIED : KA_WATCH_ADDED;
        if (it && ka_streq(it->rv, rv)) {
                pthread_mutex_unlock(&inf->lock);
                cJSON_Delete(pod);
                return; /* seen already: a relist or a replayed event */
        }
        if (!it) {
                if (inf->n == inf->cap) {
                        inf->cap = inf->cap ? inf->cap * 2 : 16;
                        inf->items = ka_reallocarray(inf->items, inf->cap, sizeof(*inf->items));
                }
                it = &inf->items[inf->n++];
                *it = (struct item){.uid = ka_strdup(uid), .name = ka_strdup(name)};
        }
        free(it->rv);
        it->rv = ka_strdup(rv);
        cJSON_Delete(it->pod);
        it->pod = pod;
        pthread_mutex_unlock(&inf->lock);
        /* the cache owns pod; it changes only on this thread, under dispatch */
        deliver(inf, type, pod);
}

/* Drop a pod from the cache and deliver DELETED with `last` (or the cached
 * state when last is NULL).  Called with dispatch held. */
static void remove_uid(struct ka_informer *inf, const char *uid, cJSON *last) {
        pthread_mutex_lock(&inf->lock);
        struct item *it = find_uid(inf, uid);
        if (!it) {
                pthread_mutex_unlock(&inf->lock);
                cJSON_Delete(last);
                return;
        }
        struct item gone = *it;
        *it = inf->items[--inf->n];
        pthread_mutex_unlock(&inf->lock);
        deliver(inf, KA_WATCH_DELETED, last ? last : gone.pod);
        item_clear(&gone);
        cJSON_Delete(last);
}

/* A full list: deliver what changed, and DELETED for what vanished. */
static void replace(struct ka_informer *inf, cJSON *items) {
        pthread_mutex_lock(&inf->dispatch);
        pthread_mutex_lock(&inf->lock);
        char **gone = ka_new0(char *, inf->n + 1);
        size_t n_gone = 0;
        for (size_t i = 0; i < inf->n; i++) {
                bool listed = false;
                const cJSON *p;
                cJSON_ArrayForEach(p, items) if (ka_streq(ka_json_path_str(p, "metadata.uid"), inf->items[i].uid))
                        listed = true;
                if (!listed)
                        gone[n_gone++] = ka_strdup(inf->items[i].uid);
        }
        pthread_mutex_unlock(&inf->lock);
        for (size_t i = 0; i < n_gone; i++)
                remove_uid(inf, gone[i], NULL);
        ka_strv_free(gone);
        cJSON *p;
        while ((p = cJSON_DetachItemFromArray(items, 0)))
                upsert(inf, p);
        pthread_mutex_unlock(&inf->dispatch);
}

static void set_rv(struct ka_informer *inf, const char *rv) {
        if (!rv || !*rv)
                return;
        pthread_mutex_lock(&inf->lock);
        free(inf->rv);
        inf->rv = ka_strdup(rv);
        pthread_mutex_unlock(&inf->lock);
}

static void count(struct ka_informer *inf, uint64_t *field) {
        pthread_mutex_lock(&inf->lock);
        (*field)++;
        pthread_mutex_unlock(&inf->lock);
}

/* ---- the watch stream ------------------------------------------------------ */

static int on_line(void *ud, char *line, size_t len) {
        struct ka_informer *inf = ud;
        enum ka_watch_type type;
        cJSON *obj;
        struct ka_error err = {0};
        if (ka_kube_watch_event_parse(line, len, &type, &obj, &err) < 0) {
                ka_log_debug("kube", "informer %s: %s", inf->ns, err.msg);
                inf->stream_error = -EBADMSG;
                return -EBADMSG;
        }
        count(inf, &inf->stats.events);
        inf->stream_events++;
        char *rv = ka_strdup(ka_json_path_str(obj, "metadata.resourceVersion"));
        int r = 0;
        switch (type) {
        case KA_WATCH_ADDED:
        case KA_WATCH_MODIFIED:
                pthread_mutex_lock(&inf->dispatch);
                upsert(inf, obj);
                pthread_mutex_unlock(&inf->dispatch);
                break;
        case KA_WATCH_DELETED: {
                _cleanup_free_ char *uid = ka_strdup(ka_json_path_str(obj, "metadata.uid"));
                pthread_mutex_lock(&inf->dispatch);
                remove_uid(inf, uid, obj);
                pthread_mutex_unlock(&inf->dispatch);
                break;
        }
        case KA_WATCH_BOOKMARK:
                count(inf, &inf->stats.bookmarks);
                cJSON_Delete(obj);
                break;
        case KA_WATCH_ERROR: {
                struct ka_kube_status st;
                ka_kube_status_from_json(500, obj, &st);
                cJSON_Delete(obj);
                if (st.code == 410 || ka_streq(st.reason, "Expired") || ka_streq(st.reason, "Gone"))
                        inf->expired = true;
                ka_log_debug("kube", "informer %s: watch error %d %s: %s", inf->ns, st.code, st.reason ? st.reason : "",
                             st.message ? st.message : "");
                ka_kube_status_clear(&st);
                free(rv);
                rv = NULL;
                inf->stream_error = inf->expired ? -ESTALE : -EIO;
                r = inf->stream_error;
                break;
        }
        }
        if (r == 0)
                set_rv(inf, rv);
        free(rv);
        return r;
}

static int sink(void *ud, const char *data, size_t len) {
        struct ka_informer *inf = ud;
        int r = ka_lines_feed(&inf->lines, data, len, on_line, inf);
        if (r == -E2BIG)
                inf->stream_error = r;
        return r;
}

static uint64_t rnd(struct ka_informer *inf) {
        uint64_t x = inf->rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        inf->rng = x;
        return x;
}

static char *query(struct ka_informer *inf, bool watch, const char *rv, int timeout_s) {
        struct ka_buf q = KA_BUF_INIT(0);
        if (inf->selector)
                ka_kube_query_add(&q, "labelSelector", inf->selector);
        if (watch) {
                char t[16];
                snprintf(t, sizeof(t), "%d", timeout_s);
                ka_kube_query_add(&q, "watch", "1");
                ka_kube_query_add(&q, "allowWatchBookmarks", "true");
                ka_kube_query_add(&q, "timeoutSeconds", t);
                if (rv)
                        ka_kube_query_add(&q, "resourceVersion", rv);
        }
        return ka_buf_steal(&q);
}

/* One watch from the last resourceVersion; 0 when it ended normally. */
static int watch_once(struct ka_informer *inf) {
        pthread_mutex_lock(&inf->lock);
        char *rv = ka_strdup(inf->rv);
        pthread_mutex_unlock(&inf->lock);
        int timeout_s = WATCH_MIN_S + (int)(rnd(inf) % WATCH_MIN_S);
        _cleanup_free_ char *q = query(inf, true, rv, timeout_s);
        free(rv);
        struct ka_buf path = KA_BUF_INIT(0);
        ka_buf_puts(&path, "/api/v1/namespaces/");
        ka_kube_path_add(&path, inf->ns);
        ka_buf_puts(&path, "/pods");
        _cleanup_free_ char *what = ka_asprintf("watch pods in %s", inf->ns);
        struct ka_kube_request req = {.method = "GET",
                                      .path = path.data,
                                      .query = q,
                                      .what = what,
                                      .timeout_ms = ((int64_t)timeout_s + 30) * 1000,
                                      .sink = sink,
                                      .sink_ud = inf,
                                      .stop = &inf->stop};
        inf->expired = false;
        inf->stream_error = 0;
        inf->stream_events = 0;
        ka_buf_reset(&inf->lines.buf);
        count(inf, &inf->stats.watches);
        struct ka_error err = {0};
        int64_t t0 = ka_time_now_ms();
        int r = ka_kube_request(inf->k, &req, NULL, &err);
        ka_buf_free(&path);
        if (inf->expired || r == -ESTALE)
                return -ESTALE;
        if (r == 0 && inf->stream_error == 0 && inf->stream_events == 0 && ka_time_now_ms() - t0 < SHORT_WATCH_MS)
                r = -EIO; /* closed at once with nothing: don't spin */
        if (r < 0 && r != -ECANCELED)
                ka_log_debug("kube", "informer %s: %s", inf->ns, err.msg[0] ? err.msg : "watch ended early");
        return r;
}

static int list(struct ka_informer *inf, bool relist) {
        struct ka_kube_list_options o = {.label_selector = inf->selector};
        cJSON *items = NULL;
        char *rv = NULL;
        struct ka_error err = {0};
        count(inf, &inf->stats.lists);
        if (relist)
                count(inf, &inf->stats.relists);
        inf->stream_events = 0;
        int r = ka_kube_pod_list(inf->k, inf->ns, &o, &items, &rv, &err);
        if (r < 0) {
                ka_log_debug("kube", "informer %s: %s", inf->ns, err.msg);
                return r;
        }
        replace(inf, items);
        cJSON_Delete(items);
        set_rv(inf, rv);
        free(rv);
        pthread_mutex_lock(&inf->lock);
        inf->synced = true;
        pthread_cond_broadcast(&inf->cond);
        pthread_mutex_unlock(&inf->lock);
        return 0;
}

/* Sleep unless asked to stop; false when stopping. */
static bool pause_ms(struct ka_informer *inf, int64_t ms) {
        struct timespec ts = ka_time_deadline(ms);
        pthread_mutex_lock(&inf->lock);
        while (!atomic_load(&inf->stop) && pthread_cond_timedwait(&inf->cond, &inf->lock, &ts) != ETIMEDOUT)
                ;
        pthread_mutex_unlock(&inf->lock);
        return !atomic_load(&inf->stop);
}

static void *run(void *arg) {
        struct ka_informer *inf = arg;
        bool need_list = true, relist = false;
        int failures = 0;
        int64_t last_failure = 0;
        while (!atomic_load(&inf->stop)) {
                int r = need_list ? list(inf, relist) : watch_once(inf);
                if (atomic_load(&inf->stop))
                        break;
                if (r == 0) {
                        need_list = false;
                        continue;
                }
                if (inf->stream_events > 0)
                        failures = 0; /* it streamed: the server is healthy again */
                if (r == -ESTALE) {
                        /* history gone: relist and diff, at once */
                        need_list = relist = true;
                        continue;
                }
                count(inf, &inf->stats.errors);
                int64_t now = ka_time_now_ms();
                if (now - last_failure > BACKOFF_RESET_MS)
                        failures = 0;
                last_failure = now;
                int64_t d = BACKOFF_INIT_MS;
                for (int i = 0; i < failures && d < BACKOFF_MAX_MS; i++)
                        d *= 2;
                d = KA_MIN(d, BACKOFF_MAX_MS);
                d += (int64_t)(rnd(inf) % (uint64_t)d); /* jitter 1.0 */
                d = KA_MIN(d, BACKOFF_MAX_MS);
                failures++;
                if (!pause_ms(inf, d))
                        break;
        }
        return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void informer_free(struct ka_informer *inf) {
        for (size_t i = 0; i < inf->n; i++)
                item_clear(&inf->items[i]);
        free(inf->items);
        while (inf->subs) {
                struct ka_informer_sub *s = inf->subs;
                inf->subs = s->next;
                free(s);
        }
        ka_lines_free(&inf->lines);
        pthread_mutex_destroy(&inf->lock);
        pthread_mutex_destroy(&inf->dispatch);
        pthread_cond_destroy(&inf->cond);
        free(inf->ns);
        free(inf->selector);
        free(inf->rv);
        free(inf);
}

int ka_informer_acquire(struct ka_kube *k, const char *ns, const char *selector, struct ka_informer **ret,
                        struct ka_error *err) {
        if (!ns)
                ns = ka_kube_namespace(k);
        pthread_mutex_lock(&registry_lock);
        for (struct ka_informer *i = registry; i; i = i->next)
                if (i->k == k && strcmp(i->ns, ns) == 0 && ka_streq(i->selector, selector)) {
                        i->refs++;
                        pthread_mutex_unlock(&registry_lock);
                        *ret = i;
                        return 0;
                }
        struct ka_informer *inf = ka_new0(struct ka_informer, 1);
        inf->k = k;
        inf->ns = ka_strdup(ns);
        inf->selector = ka_strdup(selector);
        inf->refs = 1;
        inf->lines = (struct ka_lines)KA_LINES_INIT(KA_WATCH_LINE_MAX);
        inf->rng = (uint64_t)ka_time_wall_ms_real() * 6364136223846793005u + (uint64_t)(uintptr_t)inf;
        if (!inf->rng)
                inf->rng = 1;
        pthread_mutex_init(&inf->lock, NULL);
        pthread_mutex_init(&inf->dispatch, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&inf->cond, &ca);
        pthread_condattr_destroy(&ca);
        int r = pthread_create(&inf->thread, NULL, run, inf);
        if (r != 0) {
                pthread_mutex_unlock(&registry_lock);
                informer_free(inf);
                return ka_error_set(err, -r, "cannot start the pod watch for %s: %s", ns, strerror(r));
        }
        inf->next = registry;
        registry = inf;
        pthread_mutex_unlock(&registry_lock);
        *ret = inf;
        return 0;
}

void ka_informer_release(struct ka_informer *inf) {
        if (!inf)
                return;
        pthread_mutex_lock(&registry_lock);
        if (--inf->refs > 0) {
                pthread_mutex_unlock(&registry_lock);
                return;
        }
        for (struct ka_informer **p = &registry; *p; p = &(*p)->next)
                if (*p == inf) {
                        *p = inf->next;
                        break;
                }
        pthread_mutex_unlock(&registry_lock);
        atomic_store(&inf->stop, true);
        pthread_mutex_lock(&inf->lock);
        pthread_cond_broadcast(&inf->cond);
        pthread_mutex_unlock(&inf->lock);
        pthread_join(inf->thread, NULL);
        informer_free(inf);
}

struct ka_informer_sub *ka_informer_subscribe(struct ka_informer *inf, ka_informer_cb cb, void *ud, bool replay) {
        struct ka_informer_sub *s = ka_new0(struct ka_informer_sub, 1);
        s->cb = cb;
        s->ud = ud;
        pthread_mutex_lock(&inf->dispatch);
        if (replay) {
                /* the cache changes only under dispatch: this is a consistent view */
                for (size_t i = 0; i < inf->n; i++)
                        cb(ud, KA_WATCH_ADDED, inf->items[i].pod);
        }
        s->next = inf->subs;
        inf->subs = s;
        pthread_mutex_unlock(&inf->dispatch);
        return s;
}

void ka_informer_unsubscribe(struct ka_informer *inf, struct ka_informer_sub *sub) {
        if (!sub)
                return;
        pthread_mutex_lock(&inf->dispatch);
        for (struct ka_informer_sub **p = &inf->subs; *p; p = &(*p)->next)
                if (*p == sub) {
                        *p = sub->next;
                        break;
                }
        pthread_mutex_unlock(&inf->dispatch);
        free(sub);
}

bool ka_informer_wait_synced(struct ka_informer *inf, int64_t timeout_ms) {
        struct timespec ts = ka_time_deadline(timeout_ms);
        pthread_mutex_lock(&inf->lock);
        while (!inf->synced && pthread_cond_timedwait(&inf->cond, &inf->lock, &ts) != ETIMEDOUT)
                ;
        bool synced = inf->synced;
        pthread_mutex_unlock(&inf->lock);
        return synced;
}

cJSON *ka_informer_get(struct ka_informer *inf, const char *name) {
        pthread_mutex_lock(&inf->lock);
        cJSON *copy = NULL;
        for (size_t i = 0; i < inf->n && !copy; i++)
                if (strcmp(inf->items[i].name, name) == 0)
                        copy = cJSON_Duplicate(inf->items[i].pod, true);
        pthread_mutex_unlock(&inf->lock);
        return copy;
}

cJSON *ka_informer_list(struct ka_informer *inf) {
        cJSON *arr = cJSON_CreateArray();
        pthread_mutex_lock(&inf->lock);
        for (size_t i = 0; i < inf->n; i++)
                cJSON_AddItemToArray(arr, cJSON_Duplicate(inf->items[i].pod, true));
        pthread_mutex_unlock(&inf->lock);
        return arr;
}

void ka_informer_stats(struct ka_informer *inf, struct ka_informer_stats *ret) {
        pthread_mutex_lock(&inf->lock);
        *ret = inf->stats;
        pthread_mutex_unlock(&inf->lock);
}

char *ka_informer_resource_version(struct ka_informer *inf) {
        pthread_mutex_lock(&inf->lock);
        char *rv = ka_strdup(inf->rv);
        pthread_mutex_unlock(&inf->lock);
        return rv;
}
