/* The worker: jobs in, Kubernetes requests out, pod events back.
 *
 * The loop thread owns the bus end, the job table and every struct wpod.
 * API requests are tasks run by a pool of threads; the results come back
 * to the loop (the `done` list), as do the informers' watch events (the
 * `inbox`), both waking it through one eventfd.  Tasks on one pod run one
 * after the other (a pod's queue), so that an end never overtakes the
 * create it follows. */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus/agent.h"
#include "cloud.h"
#include "kube/informer.h"
#include "kube/pods.h"
#include "proto.h"
#include "util/buf.h"
#include "util/hashmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

#define DEFAULT_THREADS 8
#define LIST_BATCH 200
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define TIMER_PERIOD_MS 1000
#define REFRESH_MIN_GAP_MS 5000

struct ka_worker;
struct wpod;

struct wcloud {
        struct ka_worker *w;
        const struct ka_cloud *cloud;
        char *label;    /* KA_LABEL_CLOUD's value */
        char *selector; /* "kubeagent.io/cloud=<label>" */
        struct ka_kube *kube;
        char *default_ns;
        struct ka_hashmap informers; /* namespace -> struct winf */
        struct ka_hashmap pods;      /* name -> struct wpod */
};

struct winf {
        struct wcloud *c;
        char *ns;
        struct ka_informer *inf;
        struct ka_informer_sub *sub;
};

enum tkind { T_CREATE, T_LOGS, T_REFRESH, T_END, T_DELETE, T_LIST };

struct task {
        enum tkind kind;
        struct wcloud *c;
        struct wpod *p; /* every kind but T_LIST */
        char *job;      /* the job it reports on (NULL: the pod's own upkeep) */
        cJSON *work;
        char *ns, *name;
        char *container;          /* T_LOGS */
        struct ka_informer *inf;  /* T_END: the namespace's watch */
        /* results, filled by the pool thread */
        cJSON *report; /* event data */
        bool final;
        bool transient;                 /* T_CREATE: try again later */
        bool created;                   /* T_CREATE: the pod exists (created or adopted) */
        struct ka_pod_summary summary;  /* T_CREATE: as the API server answered */
        int64_t last_refresh;           /* T_CREATE, T_REFRESH */
        char *text;                     /* T_LOGS */
        cJSON *batches;                 /* T_LIST: arrays of listed pods */
        struct task *next;
};

struct wpod {
        struct wcloud *c;
        char *name, *ns;
        char *job; /* the pod job following it, or NULL */
        cJSON *work;
        int64_t heartbeat_ms;
        bool created; /* exists, as created or adopted: watch events count */
        bool busy;
        struct task *queue, **queue_tail;
        int64_t retry_at;
        unsigned retries;
        struct ka_pod_summary cur;
        bool have_cur;
        uint64_t cur_rv;
        int64_t last_refresh;  /* the heartbeat the pod carries (Unix ms) */
        int64_t refreshed_at;  /* when this worker last refreshed it (monotonic ms) */
        struct ka_pod_summary sent;
        bool have_sent;
        unsigned backoffs;
        bool in_backoff;
        int log_state; /* 0 not needed yet, 1 being fetched, 2 fetched */
        bool log_sent;
        char *log;
        char *secret; /* the agent's, registered (masked in every line) while the pod is known here */
        atomic_bool deleted_by_us;
};

/* A watch event, taken out of the informer's thread. */
struct ievent {
        struct wcloud *c;
        char *ns, *name;
        enum ka_watch_type type;
        uint64_t rv;
        int64_t last_refresh;
        struct ka_pod_summary sum;
        struct ievent *next;
};

/* What a job id stands for: a followed pod, or a task in flight. */
struct jobref {
        struct wpod *p;
        struct task *t;
};

struct ka_worker {
        struct ka_worker_options o;
        struct ka_bus_agent *bus;
        struct wcloud *clouds;
        size_t n_clouds;
        struct ka_hashmap jobs; /* job id -> struct jobref */
        pthread_t *threads;
        size_t n_threads;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct task *todo, **todo_tail;
        struct task *done, **done_tail;
        struct ievent *inbox, **inbox_tail;
        bool quit;
        int efd;
        atomic_bool stop;
        atomic_size_t following;
        atomic_bool connected;
        int64_t next_timers;
        /* readiness probes of the API servers (the HTTP thread) */
        pthread_mutex_t probe_lock;
        int64_t probed_at;
        char *probe_error; /* NULL: every API server answered */
};

/* ---- small helpers ---- */

static void wake(struct ka_worker *w) {
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof(one));
        (void)n;
}

static uint64_t parse_rv(const char *s) {
        uint64_t v = 0;
        return s && ka_parse_uint64(s, &v) == 0 ? v : 0;
}

static int64_t parse_ms(const char *s) {
        int64_t v = 0;
        return s && ka_parse_int64(s, &v) == 0 && v > 0 ? v : 0;
}

static struct wcloud *cloud_by_name(struct ka_worker *w, const char *name) {
        for (size_t i = 0; i < w->n_clouds; i++)
                if (ka_streq(w->clouds[i].cloud->name, name))
                        return &w->clouds[i];
        return NULL;
}

static void report(struct ka_worker *w, const char *job, cJSON *data, bool final) {
        struct ka_error err = {0};
        int r = ka_bus_agent_report(w->bus, job, data, final, &err);
        if (r < 0)
                ka_log_debug("worker", "report on %s dropped: %s", job, r == -ENOENT ? "no longer held" : err.msg);
        cJSON_Delete(data);
}

static cJSON *event(const char *kind) {
        cJSON *d = cJSON_CreateObject();
        ka_json_set_str(d, "kind", kind);
        return d;
}

/* ---- the pool ---- */

static void task_free(struct task *t) {
        if (!t)
                return;
        free(t->job);
        cJSON_Delete(t->work);
        free(t->ns);
        free(t->name);
        free(t->container);
        cJSON_Delete(t->report);
        ka_pod_summary_clear(&t->summary);
        free(t->text);
        cJSON_Delete(t->batches);
        free(t);
}

static void run_task(struct task *t);

static void *pool_main(void *arg) {
        struct ka_worker *w = arg;
        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->todo && !w->quit)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (w->quit)
                        break;
                struct task *t = w->todo;
                w->todo = t->next;
                if (!w->todo)
                        w->todo_tail = &w->todo;
                t->next = NULL;
                pthread_mutex_unlock(&w->lock);
                run_task(t);
                pthread_mutex_lock(&w->lock);
                *w->done_tail = t;
                w->done_tail = &t->next;
                wake(w);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void pool_push(struct ka_worker *w, struct task *t) {
        pthread_mutex_lock(&w->lock);
        *w->todo_tail = t;
        w->todo_tail = &t->next;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

/* Run t now, or after what is running on its pod. */
static void submit(struct ka_worker *w, struct task *t) {
        struct wpod *p = t->p;
        if (p && p->busy) {
                *p->queue_tail = t;
                p->queue_tail = &t->next;
                return;
        }
        if (p)
                p->busy = true;
        pool_push(w, t);
}

static struct task *task_new(enum tkind kind, struct wcloud *c, struct wpod *p, const char *job, const cJSON *work) {
        struct task *t = ka_new0(struct task, 1);
        t->kind = kind;
        t->c = c;
        t->p = p;
        t->job = ka_strdup(job);
        t->work = work ? cJSON_Duplicate(work, true) : NULL;
        t->ns = ka_strdup(p ? p->ns : NULL);
        t->name = ka_strdup(p ? p->name : NULL);
        t->summary.exit_code = -1;
        return t;
}

/* ---- pods ---- */

static struct wpod *pod_get(struct wcloud *c, const char *name, const char *ns) {
        struct wpod *p = ka_hashmap_get(&c->pods, name);
        if (p)
                return p;
        p = ka_new0(struct wpod, 1);
        p->c = c;
        p->name = ka_strdup(name);
        p->ns = ka_strdup(ns ? ns : c->default_ns);
        p->queue_tail = &p->queue;
        p->cur.exit_code = p->sent.exit_code = -1;
        ka_hashmap_put(&c->pods, name, p);
        return p;
}

static void pod_free(struct wpod *p) {
        free(p->name);
        free(p->ns);
        free(p->job);
        cJSON_Delete(p->work);
        ka_pod_summary_clear(&p->cur);
        ka_pod_summary_clear(&p->sent);
        free(p->log);
        ka_secret_free(p->secret);
        for (struct task *t = p->queue, *n; t; t = n) {
                n = t->next;
                task_free(t);
        }
        free(p);
}

/* Forget a pod nobody follows and nothing works on. */
static void pod_maybe_forget(struct wpod *p) {
        if (p->job || p->busy || p->queue)
                return;
        ka_hashmap_remove(&p->c->pods, p->name);
        pod_free(p);
}

static void job_put(struct ka_worker *w, const char *job, struct wpod *p, struct task *t) {
        struct jobref *jr = ka_new0(struct jobref, 1);
        jr->p = p;
        jr->t = t;
        free(ka_hashmap_put(&w->jobs, job, jr));
}

static void job_drop(struct ka_worker *w, const char *job) {
        free(ka_hashmap_remove(&w->jobs, job));
}

static void unfollow(struct ka_worker *w, struct wpod *p) {
        if (!p->job)
                return;
        job_drop(w, p->job);
        free(p->job);
        p->job = NULL;
        cJSON_Delete(p->work);
        p->work = NULL;
        atomic_fetch_sub(&w->following, 1);
}

/* The shared watch of a namespace (started the first time). */
static void on_watch(void *ud, enum ka_watch_type type, const cJSON *pod);

static struct winf *informer(struct wcloud *c, const char *ns) {
        struct winf *wi = ka_hashmap_get(&c->informers, ns);
        if (wi)
                return wi;
        wi = ka_new0(struct winf, 1);
        wi->c = c;
        wi->ns = ka_strdup(ns);
        struct ka_error err = {0};
        if (ka_informer_acquire(c->kube, ns, c->selector, &wi->inf, &err) < 0) {
                ka_log_warn("worker", "cloud %s: cannot watch pods in %s: %s", c->cloud->name, ns, err.msg);
                free(wi->ns);
                free(wi);
                return NULL;
        }
        wi->sub = ka_informer_subscribe(wi->inf, on_watch, wi, false);
        ka_hashmap_put(&c->informers, ns, wi);
        return wi;
}

static void on_watch(void *ud, enum ka_watch_type type, const cJSON *pod) {
        struct winf *wi = ud;
        struct ka_worker *w = wi->c->w;
        const char *name = ka_json_path_str(pod, "metadata.name");
        if (!name)
                return;
        struct ievent *e = ka_new0(struct ievent, 1);
        e->c = wi->c;
        e->ns = ka_strdup(wi->ns);
        e->name = ka_strdup(name);
        e->type = type;
        e->rv = parse_rv(ka_json_path_str(pod, "metadata.resourceVersion"));
        const cJSON *ann = ka_json_path(pod, "metadata.annotations");
        e->last_refresh = parse_ms(ka_json_str(ann, KA_ANN_LAST_REFRESH));
        ka_pod_summary_of(pod, &e->sum);
        pthread_mutex_lock(&w->lock);
        *w->inbox_tail = e;
        w->inbox_tail = &e->next;
        pthread_mutex_unlock(&w->lock);
        wake(w);
}

static void ievent_free(struct ievent *e) {
        free(e->ns);
        free(e->name);
        ka_pod_summary_clear(&e->sum);
        free(e);
}

/* ---- reporting a followed pod ---- */

static bool needs_log(const struct wpod *p) {
        const struct ka_pod_summary *s = &p->cur;
        return (s->outlook == KA_POD_FINISHED || s->outlook == KA_POD_NEVER) && s->container && s->exit_code >= 0;
}

static void report_status(struct ka_worker *w, struct wpod *p) {
        if (!p->job || !p->created || !p->have_cur)
                return;
        if (p->log_state == 0 && needs_log(p)) {
                p->log_state = 1;
                struct task *t = task_new(T_LOGS, p->c, p, NULL, NULL);
                t->container = ka_strdup(p->cur.container);
                submit(w, t);
                return;
        }
        if (p->log_state == 1)
                return; /* the status goes out with the log */
        bool with_log = p->log_state == 2 && !p->log_sent && p->log;
        if (p->have_sent && ka_pod_summary_same(&p->cur, &p->sent) && !with_log)
                return;
        cJSON *d = event("status");
        ka_pod_summary_to_json(&p->cur, d);
        if (with_log) {
                ka_json_set_str(d, "log", p->log);
                p->log_sent = true;
        }
        ka_pod_summary_clear(&p->sent);
        ka_pod_summary_copy(&p->sent, &p->cur);
        p->have_sent = true;
        report(w, p->job, d, false);
}

static void set_cur(struct wpod *p, struct ka_pod_summary *s, uint64_t rv, int64_t last_refresh) {
        bool off = ka_pod_summary_backing_off(s);
        if (off && !p->in_backoff)
                p->backoffs++;
        p->in_backoff = off;
        ka_pod_summary_clear(&p->cur);
        p->cur = *s;
        *s = (struct ka_pod_summary){.exit_code = -1};
        p->cur.backoffs = p->backoffs;
        p->cur.log = NULL;
        p->have_cur = true;
        if (rv)
                p->cur_rv = rv;
        if (last_refresh)
                p->last_refresh = last_refresh; /* what the pod says, even older than before */
}

static void report_gone(struct ka_worker *w, struct wpod *p) {
        cJSON *d = event("gone");
        ka_pod_summary_to_json(&p->cur, d);
        ka_json_set_str(d, "deletedBy", atomic_load(&p->deleted_by_us) ? "kubeagent" : "other");
        char *job = ka_strdup(p->job);
        unfollow(w, p);
        report(w, job, d, true);
        free(job);
}

static void handle_watch(struct ka_worker *w, struct ievent *e) {
        struct wpod *p = ka_hashmap_get(&e->c->pods, e->name);
        if (!p || !p->created || !ka_streq(p->ns, e->ns))
                return;
        if (e->type != KA_WATCH_DELETED && e->rv && e->rv <= p->cur_rv)
                return; /* older than what the pod's create or a newer event said */
        if (p->have_cur && p->cur.uid && e->sum.uid && !ka_streq(p->cur.uid, e->sum.uid))
                return; /* another incarnation of the name */
        set_cur(p, &e->sum, e->rv, e->last_refresh);
        if (e->type == KA_WATCH_DELETED) {
                if (p->job)
                        report_gone(w, p);
                p->created = false;
                pod_maybe_forget(p);
                return;
        }
        report_status(w, p);
}

/* ---- tasks: what the pool threads do ---- */

static int worker_http_code(const struct ka_kube_response *resp) {
        return resp->code > 0 ? resp->code : 0;
}

/* Retried with back-off: quota, the quota's update conflict, throttling,
 * server errors, no answer.  Anything else 4xx is final. */
static bool transient(int r, int code) {
        if (code == 403)
                return r == -EDQUOT;
        if (code == 409)
                return r == -EBUSY;
        if (code == 429 || code >= 500 || code == 0)
                return true;
        return false;
}

static void identity(const cJSON *pod, cJSON *d) {
        const cJSON *ann = ka_json_path(pod, "metadata.annotations");
        const char *tmpl = ka_json_str(ann, KA_ANN_TEMPLATE), *fe = ka_json_str(ann, KA_ANN_FRONTEND);
        if (tmpl)
                ka_json_set_str(d, "template", tmpl);
        if (fe && ka_bus_valid_name(fe))
                ka_json_set_str(d, "frontend", fe);
        int64_t planned = parse_ms(ka_json_str(ann, KA_ANN_PLANNED_AT));
        if (planned)
                ka_json_set_num(d, "plannedAt", (double)planned);
}

static bool ours(const struct wcloud *c, const cJSON *pod, const char *name) {
        const cJSON *labels = ka_json_path(pod, "metadata.labels");
        return ka_streq(ka_json_str(labels, KA_LABEL_CLOUD), c->label) && ka_streq(ka_json_str(labels, KA_LABEL_AGENT), name);
}

/* The plural of a kind for its collection path (the extra objects are
 * namespaced core objects: PersistentVolumeClaim). */
static char *collection(const char *ns, const char *kind) {
        struct ka_buf b = KA_BUF_INIT(0);
        ka_buf_puts(&b, "/api/v1/namespaces/");
        ka_kube_path_add(&b, ns);
        ka_buf_putc(&b, '/');
        for (const char *s = kind; *s; s++)
                ka_buf_putc(&b, (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s));
        ka_buf_putc(&b, 's');
        return ka_buf_steal(&b);
}

static int create_extra(struct task *t, const cJSON *obj, const char *uid, struct ka_error *err) {
        cJSON *o = cJSON_Duplicate(obj, true);
        cJSON *meta = ka_json_object(o, "metadata");
        ka_json_set_str(meta, "namespace", t->ns);
        cJSON *owners = cJSON_CreateArray();
        cJSON *owner = cJSON_CreateObject();
        ka_json_set_str(owner, "apiVersion", "v1");
        ka_json_set_str(owner, "kind", "Pod");
        ka_json_set_str(owner, "name", t->name);
        ka_json_set_str(owner, "uid", uid);
        ka_json_set_bool(owner, "controller", true);
        cJSON_AddItemToArray(owners, owner);
        ka_json_set(meta, "ownerReferences", owners);
        const char *kind = ka_json_str(o, "kind");
        _cleanup_free_ char *path = collection(t->ns, kind ? kind : "PersistentVolumeClaim");
        _cleanup_free_ char *body = ka_json_print(o);
        _cleanup_free_ char *what = ka_asprintf("create %s %s/%s", kind ? kind : "object", t->ns,
                                                ka_json_str(meta, "name") ? ka_json_str(meta, "name") : "?");
        cJSON_Delete(o);
        struct ka_kube_request req = {.method = "POST", .path = path, .body = body, .body_len = strlen(body),
                                      .what = what};
        int r = ka_kube_request(t->c->kube, &req, NULL, err);
        return r == -EEXIST ? 0 : r;
}

static void create_failed(struct task *t, int r, int code, const struct ka_kube_response *resp, const char *msg) {
        t->transient = transient(r, code);
        cJSON *d = event(t->transient ? "waiting" : "create-failed");
        ka_json_set_str(d, "error", msg);
        ka_json_set_num(d, "code", code);
        if (!t->transient && resp && resp->status.n_causes) {
                cJSON *causes = cJSON_CreateArray();
                for (size_t i = 0; i < resp->status.n_causes && i < 64; i++) {
                        cJSON *c = cJSON_CreateObject();
                        if (resp->status.causes[i].field)
                                ka_json_set_str(c, "field", resp->status.causes[i].field);
                        if (resp->status.causes[i].message)
                                ka_json_set_str(c, "message", resp->status.causes[i].message);
                        cJSON_AddItemToArray(causes, c);
                }
                ka_json_set(d, "causes", causes);
        }
        t->report = d;
        t->final = !t->transient;
}

static void do_create(struct task *t) {
        struct ka_kube *k = t->c->kube;
        const cJSON *pod = cJSON_GetObjectItemCaseSensitive(t->work, "pod");
        struct ka_error err = {0};
        struct ka_kube_response resp = {0};
        cJSON *stored = NULL;
        bool adopted = false;
        int r;
        if (pod) {
                struct ka_buf path = KA_BUF_INIT(0);
                ka_buf_puts(&path, "/api/v1/namespaces/");
                ka_kube_path_add(&path, t->ns);
                ka_buf_puts(&path, "/pods");
                _cleanup_free_ char *body = ka_json_print(pod);
                _cleanup_free_ char *what = ka_asprintf("create pod %s/%s", t->ns, t->name);
                struct ka_kube_request req = {.method = "POST", .path = path.data, .body = body,
                                              .body_len = strlen(body), .what = what};
                r = ka_kube_request(k, &req, &resp, &err);
                ka_buf_free(&path);
                if (r == 0 && ka_json_parse(resp.body, resp.len, &stored, &err) < 0)
                        r = -EPROTO;
                if (r == -EEXIST) {
                        adopted = true;
                        r = ka_kube_pod_get(k, t->ns, t->name, &stored, &err);
                        if (r == -ENOENT) {
                                /* deleted between the two: the next try creates it */
                                ka_error_set(&err, -EAGAIN, "pod %s/%s existed and is gone again", t->ns, t->name);
                                r = -EAGAIN;
                        } else if (r == 0 && ka_json_path(stored, "metadata.deletionTimestamp")) {
                                /* an earlier agent's pod of that name, on its way out: ours once it went */
                                ka_error_set(&err, -EAGAIN, "pod %s/%s is still being deleted", t->ns, t->name);
                                cJSON_Delete(stored);
                                stored = NULL;
                                r = -EAGAIN;
                        }
                }
        } else {
                adopted = true;
                r = ka_kube_pod_get(k, t->ns, t->name, &stored, &err);
                if (r == -ENOENT) {
                        /* nothing to adopt: the pod went while nobody followed it */
                        cJSON *d = event("gone");
                        struct ka_pod_summary none = {.phase = ka_strdup("Unknown"), .outlook = KA_POD_FINISHED,
                                                      .reason = ka_strdup("NotFound"),
                                                      .message = ka_strdup("the pod no longer exists"),
                                                      .exit_code = -1};
                        ka_pod_summary_to_json(&none, d);
                        ka_pod_summary_clear(&none);
                        ka_json_set_str(d, "deletedBy", "other");
                        t->report = d;
                        t->final = true;
                        ka_kube_response_clear(&resp);
                        return;
                }
        }
        if (r < 0) {
                create_failed(t, r, r == -EAGAIN ? 0 : worker_http_code(&resp), &resp, err.msg);
                ka_kube_response_clear(&resp);
                return;
        }
        ka_kube_response_clear(&resp);
        if (adopted && !ours(t->c, stored, t->name)) {
                char msg[512];
                snprintf(msg, sizeof(msg),
                         "a pod named %s/%s exists and is not kubeagent's (its %s label is not \"%s\")", t->ns,
                         t->name, KA_LABEL_CLOUD, t->c->label);
                create_failed(t, -EEXIST, 409, NULL, msg);
                cJSON_Delete(stored);
                return;
        }
        const char *uid = ka_json_path_str(stored, "metadata.uid");
        const cJSON *extra = cJSON_GetObjectItemCaseSensitive(t->work, "extra");
        const cJSON *o;
        cJSON_ArrayForEach(o, extra) {
                if (create_extra(t, o, uid ? uid : "", &err) < 0) {
                        create_failed(t, -EINVAL, 0, NULL, err.msg);
                        t->transient = false;
                        t->final = true;
                        cJSON_Delete(stored);
                        return;
                }
        }
        cJSON *d = event("created");
        ka_json_set_str(d, "cloud", t->c->cloud->name);
        ka_json_set_str(d, "namespace", t->ns);
        ka_json_set_str(d, "uid", uid ? uid : "");
        ka_json_set_bool(d, "adopted", adopted);
        identity(stored, d);
        t->report = d;
        t->created = true;
        ka_pod_summary_of(stored, &t->summary);
        t->last_refresh = parse_ms(ka_json_path_str(stored, "metadata.annotations." KA_ANN_LAST_REFRESH));
        cJSON_Delete(stored);
}

static int log_sink(void *ud, const char *data, size_t len) {
        struct ka_buf *b = ud;
        if (b->len + len > 4 * KA_LOG_TAIL_BYTES)
                ka_buf_consume(b, KA_MIN(b->len, b->len + len - 4 * KA_LOG_TAIL_BYTES));
        ka_buf_append(b, data, KA_MIN(len, (size_t)(4 * KA_LOG_TAIL_BYTES)));
        return 0;
}

static void do_logs(struct task *t) {
        struct ka_kube_log_options lo = KA_KUBE_LOG_DEFAULTS;
        lo.container = t->container;
        lo.tail_lines = KA_LOG_TAIL_LINES;
        struct ka_buf b = KA_BUF_INIT(0);
        struct ka_error err = {0};
        if (ka_kube_pod_logs(t->c->kube, t->ns, t->name, &lo, log_sink, &b, NULL, &err) < 0) {
                ka_buf_free(&b);
                return;
        }
        /* the last KA_LOG_TAIL_BYTES, from a line start */
        size_t from = 0;
        if (b.len > KA_LOG_TAIL_BYTES) {
                from = b.len - KA_LOG_TAIL_BYTES;
                const char *nl = memchr(b.data + from, '\n', b.len - from);
                if (nl)
                        from = (size_t)(nl - b.data) + 1;
        }
        t->text = ka_strndup(b.data + from, b.len - from);
        ka_buf_free(&b);
}

static void do_refresh(struct task *t) {
        int64_t now = ka_time_wall_ms_real();
        char v[24];
        snprintf(v, sizeof(v), "%lld", (long long)now);
        cJSON *patch = cJSON_CreateObject();
        ka_json_set_str(ka_json_object(ka_json_object(patch, "metadata"), "annotations"), KA_ANN_LAST_REFRESH, v);
        struct ka_error err = {0};
        if (ka_kube_pod_patch(t->c->kube, t->ns, t->name, patch, NULL, &err) == 0)
                t->last_refresh = now;
        else
                ka_log_debug("worker", "heartbeat of %s/%s: %s", t->ns, t->name, err.msg);
        cJSON_Delete(patch);
}

/* The freshest view of a pod: the watch's cache, else a GET.  NULL when
 * it does not exist; -errno when it cannot be known. */
static int fresh_pod(struct task *t, cJSON **ret, struct ka_error *err) {
        *ret = NULL;
        if (t->inf && ka_informer_wait_synced(t->inf, 0)) {
                *ret = ka_informer_get(t->inf, t->name);
                if (*ret)
                        return 0;
        }
        int r = ka_kube_pod_get(t->c->kube, t->ns, t->name, ret, err);
        return r == -ENOENT ? 0 : r;
}

static void do_end(struct task *t) {
        struct ka_error err = {0};
        cJSON *pod = NULL;
        cJSON *d = event("ended");
        t->report = d;
        t->final = true;
        int r = fresh_pod(t, &pod, &err);
        if (r < 0) {
                /* nothing is decided without a view of the pod: keep it */
                ka_json_set_str(d, "decision", "keep");
                ka_json_set_bool(d, "deleted", false);
                ka_json_set_str(d, "error", err.msg);
                return;
        }
        const char *want_uid = ka_json_str(t->work, "uid");
        const char *uid = ka_json_path_str(pod, "metadata.uid");
        if (!pod || (want_uid && !ka_streq(want_uid, uid))) {
                ka_json_set_str(d, "decision", "delete");
                ka_json_set_bool(d, "deleted", false);
                cJSON_Delete(pod);
                return;
        }
        ka_json_set_str(d, "phase", ka_json_path_str(pod, "status.phase") ? ka_json_path_str(pod, "status.phase") : "Unknown");
        char **symbols = NULL;
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(t->work, "retention"))
                symbols = ka_strv_push(symbols ? symbols : ka_new0(char *, 1), s->valuestring);
        struct kubeagent_retention_input in = {.pod = pod,
                                               .build_result = ka_json_str(t->work, "buildResult"),
                                               .end_reason = ka_json_str(t->work, "reason")};
        enum kubeagent_retention_decision dec = KUBEAGENT_RETENTION_KEEP;
        r = ka_retention_decide(t->c->w->o.reg, symbols, &in, &dec, &err);
        ka_strv_free(symbols);
        if (r < 0)
                ka_json_set_str(d, "error", err.msg);
        if (r == 0 && dec == KUBEAGENT_RETENTION_DELETE) {
                ka_json_set_str(d, "decision", "delete");
                struct ka_kube_delete_options o = KA_KUBE_DELETE_DEFAULTS;
                o.uid = uid;
                if (cJSON_GetObjectItemCaseSensitive(t->work, "graceSeconds"))
                        o.grace_period_s = ka_json_int(t->work, "graceSeconds", -1);
                bool existed = false;
                atomic_store(&t->p->deleted_by_us, true);
                r = ka_kube_pod_delete(t->c->kube, t->ns, t->name, &o, &existed, &err);
                if (r == -EBUSY)
                        r = 0; /* a newer pod took the name: not ours to delete */
                ka_json_set_bool(d, "deleted", r == 0 && existed);
                if (r < 0) {
                        atomic_store(&t->p->deleted_by_us, false);
                        ka_json_set_str(d, "error", err.msg);
                }
        } else {
                ka_json_set_str(d, "decision", "keep");
                ka_json_set_bool(d, "deleted", false);
                char when[40], v[1024];
                ka_time_format_rfc3339(ka_time_wall_ms_real(), when, sizeof(when));
                const char *why = ka_json_str(t->work, "reason");
                snprintf(v, sizeof(v), "%s %s", when, why ? why : "kept by the retention policy");
                cJSON *patch = cJSON_CreateObject();
                ka_json_set_str(ka_json_object(ka_json_object(patch, "metadata"), "annotations"), KA_ANN_KEPT, v);
                if (ka_kube_pod_patch(t->c->kube, t->ns, t->name, patch, NULL, &err) < 0 && r == 0)
                        ka_json_set_str(d, "error", err.msg);
                cJSON_Delete(patch);
        }
        cJSON_Delete(pod);
}

static void do_delete(struct task *t) {
        struct ka_error err = {0};
        struct ka_kube_delete_options o = KA_KUBE_DELETE_DEFAULTS;
        o.uid = ka_json_str(t->work, "uid");
        if (cJSON_GetObjectItemCaseSensitive(t->work, "graceSeconds"))
                o.grace_period_s = ka_json_int(t->work, "graceSeconds", -1);
        bool existed = false;
        atomic_store(&t->p->deleted_by_us, true);
        int r = ka_kube_pod_delete(t->c->kube, t->ns, t->name, &o, &existed, &err);
        cJSON *d = event("deleted");
        ka_json_set_bool(d, "existed", r == 0 && existed);
        if (r < 0 && r != -EBUSY)
                ka_json_set_str(d, "error", err.msg);
        t->report = d;
        t->final = true;
}

static cJSON *listed_pod(const cJSON *pod) {
        cJSON *e = cJSON_CreateObject();
        const cJSON *ann = ka_json_path(pod, "metadata.annotations");
        ka_json_set_str(e, "name", ka_json_path_str(pod, "metadata.name"));
        ka_json_set_str(e, "namespace", ka_json_path_str(pod, "metadata.namespace"));
        ka_json_set_bool(e, "kept", ka_json_str(ann, KA_ANN_KEPT) != NULL);
        int64_t refresh = parse_ms(ka_json_str(ann, KA_ANN_LAST_REFRESH));
        if (refresh)
                ka_json_set_num(e, "lastRefresh", (double)refresh);
        identity(pod, e);
        struct ka_pod_summary s;
        ka_pod_summary_of(pod, &s);
        ka_pod_summary_to_json(&s, e);
        ka_pod_summary_clear(&s);
        return e;
}

static void do_list(struct task *t) {
        char **nss = ka_strv_push(ka_new0(char *, 1), t->c->default_ns);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(t->work, "namespaces")) {
                if (!ka_strv_contains(nss, s->valuestring))
                        nss = ka_strv_push(nss, s->valuestring);
        }
        t->batches = cJSON_CreateArray();
        cJSON *batch = NULL, *errors = NULL;
        size_t count = 0;
        for (size_t i = 0; nss[i]; i++) {
                struct ka_kube_list_options lo = {.label_selector = t->c->selector};
                cJSON *items = NULL;
                struct ka_error err = {0};
                if (ka_kube_pod_list(t->c->kube, nss[i], &lo, &items, NULL, &err) < 0) {
                        if (!errors)
                                errors = cJSON_CreateArray();
                        cJSON_AddItemToArray(errors, cJSON_CreateString(err.msg));
                        continue;
                }
                const cJSON *pod;
                cJSON_ArrayForEach(pod, items) {
                        if (!ka_json_path_str(pod, "metadata.name") || !ka_json_path_str(pod, "metadata.namespace"))
                                continue;
                        if (!batch || cJSON_GetArraySize(batch) >= LIST_BATCH) {
                                batch = cJSON_CreateArray();
                                cJSON_AddItemToArray(t->batches, batch);
                        }
                        cJSON_AddItemToArray(batch, listed_pod(pod));
                        count++;
                }
                cJSON_Delete(items);
        }
        ka_strv_free(nss);
        cJSON *d = event("listed");
        ka_json_set_num(d, "count", (double)count);
        if (errors)
                ka_json_set(d, "errors", errors);
        t->report = d;
        t->final = true;
}

static void run_task(struct task *t) {
        switch (t->kind) {
        case T_CREATE:
                do_create(t);
                break;
        case T_LOGS:
                do_logs(t);
                break;
        case T_REFRESH:
                do_refresh(t);
                break;
        case T_END:
                do_end(t);
                break;
        case T_DELETE:
                do_delete(t);
                break;
        case T_LIST:
                do_list(t);
                break;
        }
}

/* ---- tasks: what the loop does with their results ---- */

static bool still_held(struct ka_worker *w, const struct task *t) {
        const struct jobref *jr = t->job ? ka_hashmap_get(&w->jobs, t->job) : NULL;
        return jr && (t->kind == T_CREATE ? jr->p == t->p : jr->t == t);
}

static void create_done(struct ka_worker *w, struct task *t) {
        struct wpod *p = t->p;
        if (!still_held(w, t) || !ka_streq(p->job, t->job))
                return; /* revoked meanwhile: touch nothing, say nothing */
        if (t->created) {
                p->created = true;
                p->retries = 0;
                p->retry_at = 0;
                cJSON_Delete(p->work); /* kept for retries only: the pod exists now */
                p->work = NULL;
                p->last_refresh = KA_MAX(p->last_refresh, t->last_refresh);
                report(w, p->job, KA_TAKE(t->report), false);
                /* the watch's view, when it is ahead of the create's answer */
                struct winf *wi = ka_hashmap_get(&p->c->informers, p->ns);
                cJSON *cached = wi ? ka_informer_get(wi->inf, p->name) : NULL;
                struct ka_pod_summary s;
                uint64_t rv = 0;
                if (cached && ka_streq(ka_json_path_str(cached, "metadata.uid"), t->summary.uid)) {
                        ka_pod_summary_of(cached, &s);
                        rv = parse_rv(ka_json_path_str(cached, "metadata.resourceVersion"));
                } else {
                        ka_pod_summary_copy(&s, &t->summary);
                }
                cJSON_Delete(cached);
                if (!p->have_cur || rv > p->cur_rv)
                        set_cur(p, &s, rv, 0);
                ka_pod_summary_clear(&s);
                report_status(w, p);
                return;
        }
        if (t->transient) {
                report(w, p->job, KA_TAKE(t->report), false);
                int64_t delay = RETRY_MIN_MS << KA_MIN(p->retries, 5u);
                p->retries++;
                p->retry_at = ka_time_now_ms() + KA_MIN(delay, (int64_t)RETRY_MAX_MS);
                return;
        }
        char *job = ka_strdup(p->job);
        unfollow(w, p);
        report(w, job, KA_TAKE(t->report), true);
        free(job);
}

static void task_done(struct ka_worker *w, struct task *t) {
        struct wpod *p = t->p;
        switch (t->kind) {
        case T_CREATE:
                create_done(w, t);
                break;
        case T_LOGS:
                p->log_state = 2;
                free(p->log);
                p->log = KA_TAKE(t->text);
                report_status(w, p);
                break;
        case T_REFRESH:
                if (t->last_refresh)
                        p->last_refresh = t->last_refresh;
                break;
        case T_END:
        case T_DELETE:
        case T_LIST:
                if (still_held(w, t)) {
                        job_drop(w, t->job);
                        const cJSON *batch;
                        cJSON_ArrayForEach(batch, t->batches) {
                                cJSON *d = event("pods");
                                ka_json_set(d, "pods", cJSON_Duplicate(batch, true));
                                report(w, t->job, d, false);
                        }
                        report(w, t->job, KA_TAKE(t->report), true);
                }
                break;
        }
        if (p) {
                p->busy = false;
                struct task *next = p->queue;
                if (next) {
                        p->queue = next->next;
                        if (!p->queue)
                                p->queue_tail = &p->queue;
                        next->next = NULL;
                        p->busy = true;
                        free(next->ns);
                        next->ns = ka_strdup(p->ns);
                        pool_push(w, next);
                }
                pod_maybe_forget(p);
        }
        task_free(t);
}

/* ---- jobs ---- */

/* The agent secret of a rendered pod, masked from now on. */
static void register_secret(struct wpod *p, const cJSON *pod) {
        const cJSON *c, *e;
        cJSON_ArrayForEach(c, ka_json_path(pod, "spec.containers")) {
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env")) {
                        if (!p->secret && ka_streq(ka_json_str(e, "name"), "JENKINS_SECRET") && ka_json_str(e, "value")) {
                                p->secret = ka_strdup(ka_json_str(e, "value"));
                                ka_secret_register(p->secret);
                        }
                }
        }
}

/* A pod this worker follows already, under a job given (again): say what is. */
static void report_followed(struct ka_worker *w, struct wpod *p) {
        cJSON *d = event("created");
        ka_json_set_str(d, "cloud", p->c->cloud->name);
        ka_json_set_str(d, "namespace", p->ns);
        ka_json_set_str(d, "uid", p->cur.uid ? p->cur.uid : "");
        ka_json_set_bool(d, "adopted", true);
        report(w, p->job, d, false);
        p->have_sent = false;
        report_status(w, p);
}

static void start_pod_job(struct ka_worker *w, struct wcloud *c, const char *job, const cJSON *work, bool resumed) {
        const char *name = ka_json_str(work, "name");
        struct wpod *p = pod_get(c, name, ka_json_str(work, "namespace"));
        if (p->job && ka_streq(p->job, job)) {
                if (resumed && p->created) {
                        /* a new epoch (a new core): say again what is */
                        p->log_sent = false;
                        report_followed(w, p);
                }
                return;
        }
        if (p->job)
                unfollow(w, p); /* a job of the same pod under another id: the newer wins */
        p->job = ka_strdup(job);
        p->work = cJSON_Duplicate(work, true);
        p->heartbeat_ms = ka_json_int(work, "heartbeatMs", 0);
        p->have_sent = false;
        atomic_store(&p->deleted_by_us, false);
        job_put(w, job, p, NULL);
        atomic_fetch_add(&w->following, 1);
        register_secret(p, cJSON_GetObjectItemCaseSensitive(work, "pod"));
        informer(c, p->ns);
        if (p->created) {
                /* already followed here (the same pod under a job given again) */
                report_followed(w, p);
                return;
        }
        submit(w, task_new(T_CREATE, c, p, job, work));
}

static void start_job(struct ka_worker *w, const struct ka_bus_agent_event *ev) {
        struct ka_error err = {0};
        const cJSON *work = ev->data;
        if (ka_proto_check_work(work, &err) < 0) {
                ka_log_warn("worker", "job %s refused: %s", ev->job, err.msg);
                ka_bus_agent_reject(w->bus, ev->job, "invalid work", NULL);
                return;
        }
        struct wcloud *c = cloud_by_name(w, ka_json_str(work, "cloud"));
        if (!c) {
                ka_bus_agent_reject(w->bus, ev->job, "cloud not served here", NULL);
                return;
        }
        const char *op = ka_json_str(work, "op");
        if (ka_streq(op, "pod")) {
                start_pod_job(w, c, ev->job, work, ev->resumed);
                return;
        }
        if (ka_hashmap_get(&w->jobs, ev->job))
                return; /* in progress: its report goes out under the current epoch */
        enum tkind kind = ka_streq(op, "end") ? T_END : ka_streq(op, "delete") ? T_DELETE : T_LIST;
        struct wpod *p = NULL;
        struct winf *wi = NULL;
        if (kind != T_LIST) {
                p = pod_get(c, ka_json_str(work, "name"), ka_json_str(work, "namespace"));
                wi = informer(c, p->ns);
        }
        struct task *t = task_new(kind, c, p, ev->job, work);
        t->inf = wi ? wi->inf : NULL;
        job_put(w, ev->job, NULL, t);
        submit(w, t);
}

static void revoke_job(struct ka_worker *w, const char *job) {
        struct jobref *jr = ka_hashmap_get(&w->jobs, job);
        if (!jr)
                return;
        if (jr->p) {
                struct wpod *p = jr->p;
                unfollow(w, p);
                pod_maybe_forget(p);
                return;
        }
        job_drop(w, job); /* a task in flight: its result is dropped */
}

/* ---- the loop ---- */

static void timers(struct ka_worker *w) {
        int64_t now = ka_time_now_ms();
        if (now < w->next_timers)
                return;
        w->next_timers = now + TIMER_PERIOD_MS;
        int64_t wall = ka_time_wall_ms_real();
        for (size_t i = 0; i < w->n_clouds; i++) {
                size_t it = 0;
                void *v;
                while (ka_hashmap_next(&w->clouds[i].pods, &it, NULL, &v)) {
                        struct wpod *p = v;
                        if (!p->job || p->busy)
                                continue;
                        if (!p->created && p->retry_at && now >= p->retry_at) {
                                p->retry_at = 0;
                                submit(w, task_new(T_CREATE, p->c, p, p->job, p->work));
                        } else if (p->created && p->heartbeat_ms > 0 && wall - p->last_refresh >= p->heartbeat_ms &&
                                   now - p->refreshed_at >= REFRESH_MIN_GAP_MS) {
                                p->refreshed_at = now; /* the watch shows the new value a moment later */
                                submit(w, task_new(T_REFRESH, p->c, p, NULL, NULL));
                        }
                }
        }
}

static void drain(struct ka_worker *w) {
        pthread_mutex_lock(&w->lock);
        struct ievent *in = w->inbox;
        struct task *done = w->done;
        w->inbox = NULL;
        w->inbox_tail = &w->inbox;
        w->done = NULL;
        w->done_tail = &w->done;
        pthread_mutex_unlock(&w->lock);
        for (struct ievent *e = in, *n; e; e = n) {
                n = e->next;
                handle_watch(w, e);
                ievent_free(e);
        }
        for (struct task *t = done, *n; t; t = n) {
                n = t->next;
                t->next = NULL;
                task_done(w, t);
        }
}

int ka_worker_run(struct ka_worker *w) {
        int rc = 0;
        while (!atomic_load(&w->stop)) {
                int timeout = ka_bus_agent_timeout(w->bus);
                if (timeout < 0 || timeout > TIMER_PERIOD_MS)
                        timeout = TIMER_PERIOD_MS;
                struct pollfd fds[2] = {{.fd = ka_bus_agent_fd(w->bus), .events = POLLIN},
                                        {.fd = w->efd, .events = POLLIN}};
                if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
                        rc = -errno;
                        ka_log_error("worker", "poll: %s", strerror(errno));
                        break;
                }
                if (fds[1].revents) {
                        uint64_t n;
                        ssize_t got = read(w->efd, &n, sizeof(n));
                        (void)got;
                }
                struct ka_bus_agent_event ev;
                int r;
                while ((r = ka_bus_agent_next(w->bus, 0, &ev)) == 0) {
                        switch (ev.kind) {
                        case KA_BUS_AGENT_CONNECTED:
                                ka_log_info("worker", "%s to the core as %s", ev.restarted ? "reconnected" : "connected",
                                            ka_bus_agent_name(w->bus));
                                break;
                        case KA_BUS_AGENT_JOB:
                                start_job(w, &ev);
                                break;
                        case KA_BUS_AGENT_REVOKED:
                                revoke_job(w, ev.job);
                                break;
                        case KA_BUS_AGENT_MESSAGE:
                                break;
                        case KA_BUS_AGENT_STOP:
                                ka_log_info("worker", "the core asks this worker to stop%s%s", ev.reason[0] ? ": " : "",
                                            ev.reason);
                                atomic_store(&w->stop, true);
                                break;
                        }
                        ka_bus_agent_event_clear(&ev);
                }
                if (r == -ECANCELED)
                        break;
                atomic_store(&w->connected, ka_bus_agent_connected(w->bus));
                drain(w);
                timers(w);
        }
        return rc;
}

void *ka_worker_thread(void *arg) {
        ka_worker_run(arg);
        return NULL;
}

void ka_worker_stop(struct ka_worker *w) {
        atomic_store(&w->stop, true);
        wake(w);
        if (w->bus)
                ka_bus_agent_cancel(w->bus);
}

size_t ka_worker_following(struct ka_worker *w) {
        return atomic_load(&w->following);
}

#define PROBE_KEEP_MS 5000

bool ka_worker_ready(struct ka_worker *w, char **ret_why) {
        struct ka_buf why = KA_BUF_INIT(0);
        if (!atomic_load(&w->connected))
                ka_buf_puts(&why, "not connected to the core");
        pthread_mutex_lock(&w->probe_lock);
        int64_t now = ka_time_now_ms();
        if (!w->probed_at || now - w->probed_at > PROBE_KEEP_MS) {
                struct ka_buf errs = KA_BUF_INIT(0);
                for (size_t i = 0; i < w->n_clouds; i++) {
                        cJSON *v = NULL;
                        struct ka_error err = {0};
                        if (ka_kube_server_version(w->clouds[i].kube, &v, &err) < 0)
                                ka_buf_printf(&errs, "%scloud %s: %s", errs.len ? "; " : "", w->clouds[i].cloud->name,
                                              err.msg);
                        cJSON_Delete(v);
                }
                free(w->probe_error);
                w->probe_error = errs.len ? ka_buf_steal(&errs) : NULL;
                ka_buf_free(&errs);
                w->probed_at = now;
        }
        if (w->probe_error)
                ka_buf_printf(&why, "%s%s", why.len ? "; " : "", w->probe_error);
        pthread_mutex_unlock(&w->probe_lock);
        bool ready = why.len == 0;
        if (ret_why)
                *ret_why = ready ? NULL : ka_buf_steal(&why);
        ka_buf_free(&why);
        return ready;
}

/* ---- making and freeing ---- */

static int cloud_open(struct ka_worker *w, struct wcloud *c, const struct ka_cloud *cloud, struct ka_error *err) {
        c->w = w;
        c->cloud = cloud;
        c->label = ka_cloud_label(cloud->name);
        c->selector = ka_asprintf("%s=%s", KA_LABEL_CLOUD, c->label);
        struct ka_kube_options ko;
        ka_kube_options_init(&ko);
        ka_cloud_kube_options(cloud, &ko);
        ko.stop = &w->stop;
        if (w->o.kube_options)
                w->o.kube_options(w->o.kube_options_ud, cloud, &ko);
        int r = ka_cloud_kube_open(w->o.reg, cloud, &ko, &c->kube, err);
        if (r < 0)
                return r;
        c->default_ns = ka_strdup(ka_kube_namespace(c->kube));
        return 0;
}

static void cloud_close(struct wcloud *c) {
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&c->informers, &it, NULL, &v)) {
                struct winf *wi = v;
                if (wi->sub)
                        ka_informer_unsubscribe(wi->inf, wi->sub);
                ka_informer_release(wi->inf);
                free(wi->ns);
                free(wi);
        }
        ka_hashmap_free(&c->informers);
        it = 0;
        while (ka_hashmap_next(&c->pods, &it, NULL, &v))
                pod_free(v);
        ka_hashmap_free(&c->pods);
        ka_kube_free(c->kube);
        free(c->label);
        free(c->selector);
        free(c->default_ns);
}

int ka_worker_new(const struct ka_worker_options *o, struct ka_worker **ret, struct ka_error *err) {
        struct ka_worker *w = ka_new0(struct ka_worker, 1);
        w->o = *o;
        w->todo_tail = &w->todo;
        w->done_tail = &w->done;
        w->inbox_tail = &w->inbox;
        w->efd = -1;
        pthread_mutex_init(&w->lock, NULL);
        pthread_mutex_init(&w->probe_lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        int r;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                r = ka_error_set(err, -errno, "eventfd: %s", strerror(errno));
                goto fail;
        }
        w->clouds = ka_new0(struct wcloud, o->cfg->n_clouds ? o->cfg->n_clouds : 1);
        for (size_t i = 0; i < o->cfg->n_clouds; i++) {
                w->n_clouds++;
                if ((r = cloud_open(w, &w->clouds[i], o->cfg->clouds[i], err)) < 0)
                        goto fail;
        }
        char **serves = ka_new0(char *, 1);
        for (size_t i = 0; i < w->n_clouds; i++)
                serves = ka_strv_push(serves, w->clouds[i].cloud->name);
        struct ka_bus_agent_options ao = {.role = KA_BUS_ROLE_WORKER, .name = o->name, .serves = serves};
        r = ka_bus_agent_new(o->bus, &ao, o->clock, &w->bus, err);
        ka_strv_free(serves);
        if (r < 0)
                goto fail;
        w->n_threads = o->threads ? o->threads : DEFAULT_THREADS;
        w->threads = ka_new0(pthread_t, w->n_threads);
        for (size_t i = 0; i < w->n_threads; i++) {
                if ((r = -pthread_create(&w->threads[i], NULL, pool_main, w)) < 0) {
                        w->n_threads = i;
                        ka_error_set(err, r, "cannot start a worker thread: %s", strerror(-r));
                        goto fail;
                }
        }
        *ret = w;
        return 0;
fail:
        ka_worker_free(w);
        return r;
}

void ka_worker_free(struct ka_worker *w) {
        if (!w)
                return;
        atomic_store(&w->stop, true);
        pthread_mutex_lock(&w->lock);
        w->quit = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);
        free(w->threads);
        /* the informers stop before their events' list goes away */
        for (size_t i = 0; i < w->n_clouds; i++) {
                size_t it = 0;
                void *v;
                while (ka_hashmap_next(&w->clouds[i].informers, &it, NULL, &v)) {
                        struct winf *wi = v;
                        ka_informer_unsubscribe(wi->inf, wi->sub);
                        wi->sub = NULL;
                }
        }
        for (struct task *t = w->todo, *n; t; t = n) {
                n = t->next;
                task_free(t);
        }
        for (struct task *t = w->done, *n; t; t = n) {
                n = t->next;
                task_free(t);
        }
        for (struct ievent *e = w->inbox, *n; e; e = n) {
                n = e->next;
                ievent_free(e);
        }
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&w->jobs, &it, NULL, &v))
                free(v);
        ka_hashmap_free(&w->jobs);
        for (size_t i = 0; i < w->n_clouds; i++)
                cloud_close(&w->clouds[i]);
        free(w->clouds);
        ka_bus_agent_free(w->bus);
        if (w->efd >= 0)
                close(w->efd);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->probe_lock);
        free(w->probe_error);
        free(w);
}
