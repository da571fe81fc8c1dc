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
#include <inttypes.h>
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

static cJSON *note(struct ka_prov *P, const char *what, const char *name, const char *reason) {
        if (!P->gc_log)
                P->gc_log = cJSON_CreateArray();
        while (cJSON_GetArraySize(P->gc_log) >= GC_LOG_MAX)
                cJSON_DeleteItemFromArray(P->gc_log, 0);
        cJSON *e = cJSON_CreateObject();
        ka_json_set_str(e, "what", what);
        ka_json_set_str(e, "name", name);
        ka_json_set_str(e, "reason", reason);
        char at[40];
        ka_time_format_rfc3339(ka_time_wall_ms_real(), at, sizeof(at));
        ka_json_set_str(e, "at", at);
        cJSON_AddItemToArray(P->gc_log, e);
        ka_metric_add(P->m_gc, what, 1);
        return e;
}

cJSON *ka_prov_gc_json(struct ka_prov *P) {
        pthread_mutex_lock(&P->lock);
        cJSON *copy = P->gc_log ? cJSON_Duplicate(P->gc_log, true) : cJSON_CreateArray();
        pthread_mutex_unlock(&P->lock);
        return copy;
}

/* ---- pods ---- */

static void start_pass(struct ka_prov *P, size_t ci) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        struct cloudstate *cs = &P->clouds[ci];
        cJSON *w = cJSON_CreateObject();
        ka_json_set_str(w, "op", "list");
        ka_json_set_str(w, "cloud", c->name);
        cJSON *nss = cJSON_CreateArray();
        char **seen = ka_new0(char *, 1);
        const char *own[] = {c->namespace_};
        for (size_t i = 0; i < 1 + c->n_templates; i++) {
                const char *ns = i == 0 ? own[0] : c->templates[i - 1]->namespace_;
                if (ns && !ka_strv_contains(seen, ns))
                        seen = ka_strv_push(seen, ns);
        }
        for (size_t i = 0; c->gc_namespaces[i]; i++)
                if (!ka_strv_contains(seen, c->gc_namespaces[i]))
                        seen = ka_strv_push(seen, c->gc_namespaces[i]);
        for (size_t i = 0; seen[i]; i++)
                cJSON_AddItemToArray(nss, cJSON_CreateString(seen[i]));
        ka_strv_free(seen);
        ka_json_set(w, "namespaces", nss);
        char job[KA_BUS_ID_MAX + 1];
        snprintf(job, sizeof(job), "list/%" PRIu64, ++P->seq);
        struct ka_error err = {0};
        if (ka_bus_core_submit(P->bus, job, c->name, w, &err) < 0) {
                ka_log_warn("gc", "cloud %s: %s", c->name, err.msg);
        } else {
                free(cs->gc_job);
                cs->gc_job = ka_strdup(job);
                cJSON_Delete(cs->gc_pods);
                cs->gc_pods = cJSON_CreateArray();
        }
        cJSON_Delete(w);
}

static void collect(struct ka_prov *P, size_t ci) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        struct cloudstate *cs = &P->clouds[ci];
        int64_t now = ka_time_wall_ms_real();
        const cJSON *e;
        cJSON_ArrayForEach(e, cs->gc_pods) {
                const char *name = ka_json_str(e, "name"), *ns = ka_json_str(e, "namespace");
                char why[64];
                if (ka_hashmap_get(&P->agents, name) ||
                    !ka_gc_stale(ka_json_int(e, "lastRefresh", 0), now, c->gc_timeout_s * 1000, why, sizeof(why)))
                        continue;
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
                        char reason[128];
                        snprintf(reason, sizeof(reason), "%s, no agent", why);
                        cJSON *n = note(P, "pod", name, reason);
                        ka_json_set_str(n, "cloud", c->name);
                        ka_json_set_str(n, "namespace", ns);
                        ka_log_info("gc", "deleting pod %s/%s of cloud %s: %s", ns, name, c->name, reason);
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
        collect(P, ci);
        cJSON_Delete(cs->gc_pods);
        cs->gc_pods = NULL;
        free(cs->gc_job);
        cs->gc_job = NULL;
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

static int64_t orphan_nodes(struct ka_prov *P, struct frontend *fe, int64_t now) {
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
                if (now - nv->orphan_since < P->o.gc_period_ms) {
                        next = KA_MIN(next, nv->orphan_since + P->o.gc_period_ms);
                        continue;
                }
                cJSON *m = cJSON_CreateObject();
                ka_json_set_str(m, "name", name);
                ka_sched_send(P, fe, "agent.delete", m);
                nv->delete_sent = true;
                cJSON *n = note(P, "node", name, "no pod and no agent behind it");
                ka_json_set_str(n, "frontend", fe->name);
                ka_log_info("gc", "deleting node %s of %s: no pod and no agent behind it", name, fe->name);
        }
        return next;
}

int64_t ka_gc_tick(struct ka_prov *P, int64_t now) {
        const struct ka_config *cfg = P->o.cfg;
        int64_t next = INT64_MAX;
        bool listed = true;
        for (size_t ci = 0; ci < cfg->n_clouds; ci++) {
                struct cloudstate *cs = &P->clouds[ci];
                listed &= cs->listed;
                if (!cfg->clouds[ci]->gc_enabled || !cs->listed)
                        continue;
                if (!cs->gc_job && now >= cs->next_gc) {
                        start_pass(P, ci);
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
                        next = KA_MIN(next, orphan_nodes(P, fe, now));
        }
        return next;
}
