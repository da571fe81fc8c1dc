/* Garbage collection (reference §5.9, and what an outside provisioner adds):
 *
 * - pods: every gcPeriod, for each cloud with a garbageCollection block,
 *   a worker lists the pods carrying the cloud's kubeagent.io/cloud label
 *   (cloud namespace, templates' namespaces, the block's namespaces); a pod
 *   no agent of the table owns whose heartbeat is older than the block's
 *   timeout is deleted (uid as precondition).  Live agents' pods have
 *   their heartbeat refreshed by the worker following them; pods without
 *   a heartbeat are never touched.
 * - nodes: a node a frontend reports (one it created, or one with its name
 *   prefix) with no agent behind it, for a whole gcPeriod once every
 *   cloud's pods are known, is deleted through its frontend — unless an
 *   item waits for that very node (it is being brought back). */
#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#include "table.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

#define GC_LOG_MAX 200

bool ka_gc_stale(int64_t last_refresh, int64_t now_wall, int64_t timeout_ms, char *why, size_t size) {
        if (last_refresh <= 0 || now_wall - last_refresh <= timeout_ms)
                return false;
        int64_t age = (now_wall - last_refresh) / 1000;
        if (why) {
                if (age >= 3600)
                        snprintf(why, size, "heartbeat %" PRId64 "h%02" PRId64 "m ago", age / 3600, age % 3600 / 60);
                else if (age >= 60)
                        snprintf(why, size, "heartbeat %" PRId64 "m%02" PRId64 "s ago", age / 60, age % 60);
                else
                        snprintf(why, size, "heartbeat %" PRId64 "s ago", age);
        }
        return true;
}

static cJSON *entry(const struct ka_prov *P, const char *what, const char *name, const char *reason) {
        cJSON *e = cJSON_CreateObject();
        ka_json_set_str(e, "what", what);
        ka_json_set_str(e, "name", name);
        ka_json_set_str(e, "reason", reason);
        char at[40];
        ka_time_format_rfc3339(ka_prov_wall(P), at, sizeof(at));
        ka_json_set_str(e, "at", at);
        return e;
}

/* What a pass found: deleted (logged, counted) unless dry; handed to the
 * request waiting for this pass, if any.  Takes e. */
static void record(struct ka_prov *P, cJSON *e, bool dry, bool for_request) {
        ka_json_set_bool(e, "deleted", !dry);
        if (for_request && P->gcr.entries)
                cJSON_AddItemToArray(P->gcr.entries, cJSON_Duplicate(e, true));
        if (dry) {
                cJSON_Delete(e);
                return;
        }
        if (!P->gc_log)
                P->gc_log = cJSON_CreateArray();
        while (cJSON_GetArraySize(P->gc_log) >= GC_LOG_MAX)
                cJSON_DeleteItemFromArray(P->gc_log, 0);
        ka_metric_add(P->m_gc, ka_json_str(e, "what"), 1);
        cJSON_AddItemToArray(P->gc_log, e);
}

cJSON *ka_prov_gc_json(struct ka_prov *P) {
        pthread_mutex_lock(&P->lock);
        cJSON *copy = P->gc_log ? cJSON_Duplicate(P->gc_log, true) : cJSON_CreateArray();
        pthread_mutex_unlock(&P->lock);
        return copy;
}

static void finish_request(struct ka_prov *P);

/* ---- pods ---- */

cJSON *ka_gc_namespaces(const struct ka_cloud *c) {
        cJSON *nss = cJSON_CreateArray();
        char **seen = ka_new0(char *, 1);
        for (size_t i = 0; i <= c->n_templates; i++) {
                const char *ns = i == 0 ? c->namespace_ : c->templates[i - 1]->namespace_;
                if (ns && !ka_strv_contains(seen, ns))
                        seen = ka_strv_push(seen, ns);
        }
        for (size_t i = 0; c->gc_namespaces[i]; i++)
                if (!ka_strv_contains(seen, c->gc_namespaces[i]))
                        seen = ka_strv_push(seen, c->gc_namespaces[i]);
        for (size_t i = 0; seen[i]; i++)
                cJSON_AddItemToArray(nss, cJSON_CreateString(seen[i]));
        ka_strv_free(seen);
        return nss;
}

char *ka_gc_submit_list(struct ka_prov *P, size_t ci) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        cJSON *w = cJSON_CreateObject();
        ka_json_set_str(w, "op", "list");
        ka_json_set_str(w, "cloud", c->name);
        ka_json_set(w, "namespaces", ka_gc_namespaces(c));
        char job[KA_BUS_ID_MAX + 1];
        snprintf(job, sizeof(job), "list/%" PRIu64, ++P->seq);
        struct ka_error err = {0};
        int r = ka_bus_core_submit(P->bus, job, c->name, w, &err);
        cJSON_Delete(w);
        if (r < 0) {
                ka_log_error("provision", "cloud %s: %s", c->name, err.msg);
                return NULL;
        }
        return ka_strdup(job);
}

static void start_pass(struct ka_prov *P, size_t ci, bool dry) {
        struct cloudstate *cs = &P->clouds[ci];
        char *job = ka_gc_submit_list(P, ci);
        if (!job)
                return;
        free(cs->gc_job);
        cs->gc_job = job;
        cs->gc_dry = dry;
        cJSON_Delete(cs->gc_pods);
        cs->gc_pods = cJSON_CreateArray();
}

static void collect(struct ka_prov *P, size_t ci, bool dry, bool for_request) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        struct cloudstate *cs = &P->clouds[ci];
        int64_t now = ka_prov_wall(P);
        const cJSON *e;
        cJSON_ArrayForEach(e, cs->gc_pods) {
                const char *name = ka_json_str(e, "name"), *ns = ka_json_str(e, "namespace");
                char why[64];
                if (ka_hashmap_get(&P->agents, name) || ka_json_bool(e, "deleting", false) ||
                    !ka_gc_stale(ka_json_int(e, "lastRefresh", 0), now, c->gc_timeout_s * 1000, why, sizeof(why)))
                        continue;
                char reason[128];
                snprintf(reason, sizeof(reason), "%s, no agent", why);
                cJSON *n = entry(P, "pod", name, reason);
                ka_json_set_str(n, "cloud", c->name);
                ka_json_set_str(n, "namespace", ns);
                if (dry) {
                        record(P, n, true, for_request);
                        continue;
                }
                cJSON *w = cJSON_CreateObject();
                ka_json_set_str(w, "op", "delete");
                ka_json_set_str(w, "cloud", c->name);
                ka_json_set_str(w, "namespace", ns);
                ka_json_set_str(w, "name", name);
                if (ka_json_str(e, "uid"))
                        ka_json_set_str(w, "uid", ka_json_str(e, "uid"));
                char job[KA_BUS_ID_MAX + 1];
                snprintf(job, sizeof(job), "delete/%s/%s", ns, name);
                struct ka_error err = {0};
                if (ka_bus_core_submit(P->bus, job, c->name, w, &err) == 0) {
                        ka_log_info("gc", "deleting pod %s/%s of cloud %s: %s", ns, name, c->name, reason);
                        record(P, n, false, for_request);
                } else {
                        cJSON_Delete(n);
                }
                cJSON_Delete(w);
        }
}

void ka_gc_list_event(struct ka_prov *P, size_t ci, const char *kind, const cJSON *data) {
        struct cloudstate *cs = &P->clouds[ci];
        const cJSON *e;
        if (!strcmp(kind, "pods")) {
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(data, "pods"))
                        cJSON_AddItemToArray(cs->gc_pods, cJSON_Duplicate(e, true));
                return;
        }
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(data, "errors"))
                ka_log_warn("gc", "cloud %s: %s", P->o.cfg->clouds[ci]->name, e->valuestring);
        bool for_request = P->gcr.running && P->gcr.waiting[ci];
        collect(P, ci, cs->gc_dry, for_request);
        cJSON_Delete(cs->gc_pods);
        cs->gc_pods = NULL;
        free(cs->gc_job);
        cs->gc_job = NULL;
        if (for_request) {
                P->gcr.waiting[ci] = false;
                finish_request(P);
        }
}

/* ---- nodes ---- */

static bool waited_for(const struct frontend *fe, const char *node) {
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&fe->demand, &it, NULL, &v)) {
                const struct demand *d = v;
                if (ka_streq(d->node, node) && d->n)
                        return true;
        }
        return false;
}

/* immediate: a pass asked for now (a node without an agent goes at once). */
static int64_t orphan_nodes(struct ka_prov *P, struct frontend *fe, int64_t now, bool immediate, bool dry) {
        int64_t next = INT64_MAX;
        size_t it = 0;
        void *v;
        const char *name;
        while (ka_hashmap_next(&fe->nodes, &it, &name, &v)) {
                struct nodeview *nv = v;
                if (ka_hashmap_get(&P->agents, name) || waited_for(fe, name)) {
                        nv->orphan_since = 0;
                        continue;
                }
                if (!nv->orphan_since)
                        nv->orphan_since = now;
                if (nv->delete_sent)
                        continue;
                if (!immediate && now - nv->orphan_since < P->o.gc_period_ms) {
                        next = KA_MIN(next, nv->orphan_since + P->o.gc_period_ms);
                        continue;
                }
                cJSON *n = entry(P, "node", name, "no pod and no agent behind it");
                ka_json_set_str(n, "frontend", fe->name);
                if (!dry) {
                        cJSON *m = cJSON_CreateObject();
                        ka_json_set_str(m, "name", name);
                        ka_sched_send(P, fe, "agent.delete", m);
                        nv->delete_sent = true;
                        ka_log_info("gc", "deleting node %s of %s: no pod and no agent behind it", name, fe->name);
                }
                record(P, n, dry, immediate);
        }
        return next;
}

static bool all_listed(const struct ka_prov *P) {
        for (size_t ci = 0; ci < P->o.cfg->n_clouds; ci++)
                if (!P->clouds[ci].listed)
                        return false;
        return true;
}

/* A request whose clouds all answered is done. */
static void finish_request(struct ka_prov *P) {
        for (size_t ci = 0; ci < P->o.cfg->n_clouds; ci++)
                if (P->gcr.waiting[ci])
                        return;
        P->gcr.running = false;
        P->gcr.done = true;
        pthread_cond_broadcast(&P->gcr.cond);
}

/* Start the pass a request asked for. */
static void start_request(struct ka_prov *P, int64_t now) {
        const struct ka_config *cfg = P->o.cfg;
        P->gcr.pending = false;
        P->gcr.running = true;
        for (size_t ci = 0; ci < cfg->n_clouds; ci++) {
                if (!cfg->clouds[ci]->gc_enabled)
                        continue;
                if (!P->clouds[ci].gc_job)
                        start_pass(P, ci, P->gcr.dry);
                P->gcr.waiting[ci] = P->clouds[ci].gc_job != NULL;
        }
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&P->frontends, &it, NULL, &v)) {
                struct frontend *fe = v;
                if (fe->synced)
                        orphan_nodes(P, fe, now, true, P->gcr.dry);
        }
        finish_request(P);
}

int ka_prov_gc_run(struct ka_prov *P, bool dry_run, int64_t timeout_ms, cJSON **ret, struct ka_error *err) {
        pthread_mutex_lock(&P->lock);
        if (P->gcr.pending || P->gcr.running) {
                pthread_mutex_unlock(&P->lock);
                return ka_error_set(err, -EBUSY, "a garbage collection asked for is already running");
        }
        P->gcr.pending = true;
        P->gcr.done = false;
        P->gcr.dry = dry_run;
        P->gcr.entries = cJSON_CreateArray();
        struct timespec ts = ka_time_deadline(timeout_ms);
        while (!P->gcr.done && pthread_cond_timedwait(&P->gcr.cond, &P->lock, &ts) != ETIMEDOUT)
                ;
        int r = 0;
        if (P->gcr.done) {
                *ret = KA_TAKE(P->gcr.entries);
        } else {
                r = ka_error_set(err, -ETIMEDOUT, "garbage collection did not finish within %" PRId64 " s%s",
                                 timeout_ms / 1000,
                                 all_listed(P) ? " (is a worker up for every cloud?)" : ": the clouds are not listed yet");
                /* the pass goes on; nobody waits for its answer */
                cJSON_Delete(P->gcr.entries);
                P->gcr.entries = NULL;
                if (P->gcr.pending)
                        P->gcr.pending = false;
        }
        P->gcr.done = false;
        pthread_mutex_unlock(&P->lock);
        return r;
}

int64_t ka_gc_tick(struct ka_prov *P, int64_t now) {
        const struct ka_config *cfg = P->o.cfg;
        int64_t next = INT64_MAX;
        bool listed = all_listed(P);
        if (P->gcr.pending && listed)
                start_request(P, now);
        for (size_t ci = 0; ci < cfg->n_clouds; ci++) {
                struct cloudstate *cs = &P->clouds[ci];
                if (!cfg->clouds[ci]->gc_enabled || !cs->listed)
                        continue;
                if (!cs->next_gc)
                        cs->next_gc = now + P->o.gc_period_ms; /* the first a period after the start */
                if (!cs->gc_job && now >= cs->next_gc) {
                        start_pass(P, ci, false);
                        cs->next_gc = now + P->o.gc_period_ms;
                }
                next = KA_MIN(next, cs->next_gc);
        }
        if (!listed)
                return next;
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&P->frontends, &it, NULL, &v)) {
                struct frontend *fe = v;
                if (fe->synced)
                        next = KA_MIN(next, orphan_nodes(P, fe, now, false, false));
        }
        return next;
}
