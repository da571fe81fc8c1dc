/* The scheduler's loop: bus events in, decisions out.
 *
 * Level-triggered: every message updates what the table knows (a pod's
 * status, a node's state, a label's demand) and marks the table dirty;
 * after each batch the scheduler plans (plan.c) and checks each agent's
 * deadlines.  Each decision is idempotent, so a message seen twice or a
 * state sent again changes nothing. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "table.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

#define LOOP_MAX_WAIT_MS 1000
#define REGISTER_RETRY_MS 2000
#define DEFAULT_GC_PERIOD_MS 60000
#define MIN_HEARTBEAT_MS 40000

const struct kubeagent_config_key ka_prov_config_keys[] = {
        {"gcPeriod", KUBEAGENT_CFG_DURATION, "60", 0, offsetof(struct ka_prov_config, gc_period),
         "how often garbage collection looks for orphan pods, how long a node without a pod may stay, and how "
         "long an online agent no build wants may stay"},
        {NULL, 0, NULL, 0, 0, NULL},
};

static const char *const astate_names[AS__N] = {"registering", "creating", "starting", "running", "online",
                                                "busy",        "idle",     "ending",   "ended"};

const char *ka_astate_name(enum astate s) {
        return s < AS__N ? astate_names[s] : "?";
}

/* ---- frontends ---- */

static void demand_free(struct demand *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].job);
                free(d->items[i].url);
        }
        free(d->items);
        free(d->expression);
        free(d->node);
        ka_labelexpr_free(d->expr);
        free(d->parse_error);
        free(d);
}

static void nodeview_free(struct nodeview *n) {
        if (!n)
                return;
        free(n->state);
        free(n->labels);
        free(n->reason);
        free(n->run);
        free(n->result);
        free(n);
}

static void frontend_clear_demand(struct frontend *fe) {
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&fe->demand, &it, NULL, &v))
                demand_free(v);
        ka_hashmap_free(&fe->demand);
}

static void frontend_free(struct frontend *fe) {
        frontend_clear_demand(fe);
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&fe->failed, &it, NULL, &v))
                free(v);
        ka_hashmap_free(&fe->failed);
        it = 0;
        while (ka_hashmap_next(&fe->nodes, &it, NULL, &v))
                nodeview_free(v);
        ka_hashmap_free(&fe->nodes);
        free(fe->url);
        free(fe->prefix);
        free(fe);
}

static struct frontend *frontend_get(struct ka_prov *P, const char *name) {
        struct frontend *fe = ka_hashmap_get(&P->frontends, name);
        if (!fe) {
                fe = ka_new0(struct frontend, 1);
                ka_strlcpy(fe->name, name, sizeof(fe->name));
                ka_hashmap_put(&P->frontends, name, fe);
        }
        return fe;
}

void ka_sched_send(struct ka_prov *P, struct frontend *fe, const char *type, cJSON *payload) {
        struct ka_error err = {0};
        if (ka_bus_core_send(P->bus, fe->name, type, payload, &err) < 0)
                ka_log_debug("provision", "%s to %s not sent: %s", type, fe->name, err.msg);
        cJSON_Delete(payload);
}

void ka_sched_fail_items(struct ka_prov *P, struct frontend *fe, const int64_t *ids, size_t n, const char *error,
                         const struct demand *d) {
        if (!n)
                return;
        cJSON *items = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
                char key[24];
                snprintf(key, sizeof(key), "%" PRId64, ids[i]);
                free(ka_hashmap_put(&fe->failed, key, ka_strdup(error)));
                cJSON_AddItemToArray(items, cJSON_CreateNumber((double)ids[i]));
        }
        cJSON *m = cJSON_CreateObject();
        ka_json_set(m, "items", items);
        ka_json_set_str(m, "error", error);
        if (d && d->expression)
                ka_json_set_str(m, "expression", d->expression);
        if (d && d->node)
                ka_json_set_str(m, "node", d->node);
        ka_log_warn("provision", "%s: cannot serve queue item%s %s%" PRId64 "%s: %s", fe->name, n > 1 ? "s" : "",
                    n > 1 ? "" : "", ids[0], n > 1 ? " and others" : "", error);
        ka_sched_send(P, fe, "demand.failed", m);
}

/* ---- agents ---- */

struct agent *ka_sched_agent_new(struct ka_prov *P, const char *name, struct frontend *fe, size_t ci, size_t ti) {
        struct agent *a = ka_new0(struct agent, 1);
        a->name = ka_strdup(name);
        a->fe = fe;
        a->ci = ci;
        a->ti = ti;
        a->cloud = P->o.cfg->clouds[ci];
        a->tmpl = ti < a->cloud->n_templates ? a->cloud->templates[ti] : NULL;
        a->pod.exit_code = -1;
        a->planned_at = ka_prov_now(P);
        a->planned_wall = ka_prov_wall(P);
        ka_hashmap_put(&P->agents, name, a);
        P->dirty = true;
        return a;
}

static void agent_free(struct agent *a) {
        free(a->name);
        free(a->ns);
        free(a->uid);
        ka_secret_free(a->secret);
        free(a->expression);
        free(a->node_state);
        free(a->build_result);
        free(a->end_reason);
        free(a->last_wait);
        ka_pod_summary_clear(&a->pod);
        ka_tmplref_put(a->reg);
        free(a);
}

#define FORGOTTEN_KEEP_MS (10 * 60000)

static void agent_forget(struct ka_prov *P, struct agent *a) {
        struct forgotten *f = ka_new0(struct forgotten, 1);
        *f = (struct forgotten){.at = ka_prov_now(P), .fe = a->fe, .ci = a->ci, .ti = a->ti};
        free(ka_hashmap_put(&P->forgotten, a->name, f));
        ka_hashmap_remove(&P->agents, a->name);
        agent_free(a);
        P->dirty = true;
}

static void agent_maybe_forget(struct ka_prov *P, struct agent *a) {
        if (a->ending && a->pod_done && a->node_done)
                agent_forget(P, a);
}

static bool time_since(int64_t from, int64_t at, double *ret_s) {
        if (!from || at < from)
                return false;
        *ret_s = (double)(at - from) / 1000.0;
        return true;
}

static void observe(struct ka_prov *P, const char *stage, int64_t from, int64_t at) {
        double s;
        if (time_since(from, at, &s))
                ka_histogram_observe(P->m_latency, stage, s);
}

/* The state the facts say. */
static void agent_derive(struct ka_prov *P, struct agent *a) {
        if (a->ending) {
                a->state = a->pod_done ? AS_ENDED : AS_ENDING;
                return;
        }
        enum astate s;
        const char *n = a->node_state;
        if (!a->registered)
                s = AS_REGISTERING;
        else if (!a->created)
                s = AS_CREATING;
        else if (ka_streq(n, "busy"))
                s = AS_BUSY;
        else if (ka_streq(n, "idle") || (ka_streq(n, "online") && a->ever_busy))
                s = AS_IDLE; /* "idle" is idle after a build */
        else if (ka_streq(n, "online"))
                s = AS_ONLINE;
        else if (a->pod.ready)
                s = AS_RUNNING;
        else
                s = AS_STARTING;
        int64_t t = ka_prov_now(P);
        if (s >= AS_RUNNING && s != AS_IDLE && !a->ever_ready && a->pod.ready) {
                a->ever_ready = true;
                a->ready_at = t;
                observe(P, "running", a->demand_at, t);
        }
        if (s >= AS_ONLINE && !a->ever_online) {
                a->ever_online = true;
                a->online_at = t;
                observe(P, "online", a->demand_at, t);
                ka_log_info("provision", "agent %s is online", a->name);
        }
        if (s == AS_BUSY || s == AS_IDLE)
                a->ever_busy = true;
        if (s == AS_BUSY)
                a->unawaited_at = 0;
        if (s >= AS_ONLINE)
                a->offline_since = 0;
        else if (a->ever_online && !a->offline_since)
                a->offline_since = t; /* it lost its connection */
        if (s == AS_IDLE && a->state != AS_IDLE)
                a->idle_since = t;
        if (s != a->state)
                P->dirty = true;
        a->state = s;
}

/* ---- ending ---- */

static const char *retention_symbol(const char *s, const char *fallback) {
        return s ? s : fallback;
}

static void submit_end(struct ka_prov *P, struct agent *a) {
        cJSON *w = cJSON_CreateObject();
        ka_json_set_str(w, "op", "end");
        ka_json_set_str(w, "cloud", a->cloud->name);
        if (a->ns)
                ka_json_set_str(w, "namespace", a->ns);
        ka_json_set_str(w, "name", a->name);
        if (a->uid)
                ka_json_set_str(w, "uid", a->uid);
        cJSON *ret = cJSON_CreateArray();
        cJSON_AddItemToArray(ret, cJSON_CreateString(retention_symbol(a->tmpl ? a->tmpl->pod_retention : NULL, "default")));
        cJSON_AddItemToArray(ret, cJSON_CreateString(retention_symbol(a->cloud->pod_retention, "never")));
        ka_json_set(w, "retention", ret);
        if (a->build_result)
                ka_json_set_str(w, "buildResult", a->build_result);
        if (a->end_reason)
                ka_json_set_str(w, "reason", a->end_reason);
        if (a->tmpl && a->tmpl->termination_grace_period_seconds != KA_UNSET &&
            a->tmpl->termination_grace_period_seconds >= 0)
                ka_json_set_num(w, "graceSeconds", (double)a->tmpl->termination_grace_period_seconds);
        char job[KA_BUS_ID_MAX + 1];
        snprintf(job, sizeof(job), "end/%s", a->name);
        struct ka_error err = {0};
        if (ka_bus_core_submit(P->bus, job, a->cloud->name, w, &err) < 0 && err.code != -EEXIST)
                ka_log_error("provision", "agent %s: %s", a->name, err.msg);
        cJSON_Delete(w);
}

/* A failure that is not the pod's: name it for kubeagent_agents_failed_total. */
static void fail(struct ka_prov *P, struct agent *a, const char *label, const char *why, bool permanent) {
        if (!a->pod.reason)
                a->pod.reason = ka_strdup(label);
        ka_sched_end(P, a, why, true, permanent);
}

void ka_sched_end(struct ka_prov *P, struct agent *a, const char *reason, bool failed, bool permanent) {
        if (a->ending)
                return;
        bool was_online = a->ever_online;
        a->ending = true;
        a->failed = failed;
        a->permanent = permanent;
        a->ended_at = ka_prov_now(P);
        free(a->end_reason);
        a->end_reason = ka_strdup(reason);
        P->dirty = true;
        if (a->pod_job) {
                char job[KA_BUS_ID_MAX + 1];
                snprintf(job, sizeof(job), "pod/%s", a->name);
                ka_bus_core_cancel_job(P->bus, job);
                a->pod_job = false;
        }
        if (a->submitted_at && !a->pod_done)
                submit_end(P, a);
        else
                a->pod_done = true;
        if (failed) {
                ka_metric_add(P->m_failed, a->pod.reason ? a->pod.reason : "other", 1);
                if (a->pod.log && *a->pod.log)
                        ka_log_error("provision", "agent %s failed: %s\n---Logs---\n%s", a->name, reason, a->pod.log);
                else
                        ka_log_error("provision", "agent %s failed: %s", a->name, reason);
                if (a->registered || !a->node_done) {
                        cJSON *m = cJSON_CreateObject();
                        ka_json_set_str(m, "name", a->name);
                        ka_json_set_str(m, "reason", reason);
                        ka_sched_send(P, a->fe, "agent.offline", m);
                }
                if (permanent && !was_online && a->item)
                        ka_sched_fail_items(P, a->fe, &a->item, 1, reason, NULL);
        } else {
                ka_log_info("provision", "agent %s ends: %s", a->name, reason);
        }
        if (a->node_done) {
                /* nothing was registered */
        } else if (failed) {
                /* the node shows the cause while its item waits (at most retentionTimeout) */
                a->node_delete_at = a->ended_at + a->cloud->retention_timeout_min * 60000;
        } else {
                a->node_delete_at = a->ended_at;
        }
        agent_derive(P, a);
        agent_maybe_forget(P, a);
}

/* ---- registration and the pod ---- */

static void send_register(struct ka_prov *P, struct agent *a);

static void render_and_submit(struct ka_prov *P, struct agent *a) {
        if (!a->tmpl) {
                fail(P, a, "TemplateGone", "its template is no longer in the configuration", true);
                return;
        }
        struct ka_render_params params = {.agent_name = a->name,
                                          .secret = a->secret,
                                          .jenkins_root_url = a->fe->url};
        struct ka_rendered r = {0};
        struct ka_diags diags = {0};
        int rc = ka_template_render(a->cloud, a->tmpl, &params, &r, &diags);
        if (rc < 0) {
                char msg[KA_ERROR_MSG_MAX];
                snprintf(msg, sizeof(msg), "cannot render template %s: %s", a->tmpl->name ? a->tmpl->name : "?",
                         diags.n ? diags.v[diags.n - 1].msg : "error");
                ka_diags_free(&diags);
                fail(P, a, "RenderFailed", msg, true);
                return;
        }
        ka_diags_free(&diags);
        cJSON *meta = ka_json_object(r.pod, "metadata");
        _cleanup_free_ char *label = ka_cloud_label(a->cloud->name);
        cJSON *labels = ka_json_object(meta, "labels");
        ka_json_set_str(labels, KA_LABEL_CLOUD, label);
        ka_json_set_str(labels, KA_LABEL_AGENT, a->name);
        cJSON *ann = ka_json_object(meta, "annotations");
        ka_json_set_str(ann, KA_ANN_CLOUD, a->cloud->name);
        if (a->tmpl->name)
                ka_json_set_str(ann, KA_ANN_TEMPLATE, a->tmpl->name);
        ka_json_set_str(ann, KA_ANN_FRONTEND, a->fe->name);
        char planned[24];
        snprintf(planned, sizeof(planned), "%" PRId64, a->planned_wall);
        ka_json_set_str(ann, KA_ANN_PLANNED_AT, planned);
        const char *ns = ka_json_str(meta, "namespace");
        free(a->ns);
        a->ns = ns ? ka_strdup(ns) : NULL;

        cJSON *w = cJSON_CreateObject();
        ka_json_set_str(w, "op", "pod");
        ka_json_set_str(w, "cloud", a->cloud->name);
        if (a->ns)
                ka_json_set_str(w, "namespace", a->ns);
        ka_json_set_str(w, "name", a->name);
        ka_json_set(w, "pod", KA_TAKE(r.pod));
        if (cJSON_GetArraySize(r.extra_objects) > 0)
                ka_json_set(w, "extra", KA_TAKE(r.extra_objects));
        if (a->cloud->gc_enabled)
                ka_json_set_num(w, "heartbeatMs", (double)KA_MAX(a->cloud->gc_timeout_s * 1000 / 3, MIN_HEARTBEAT_MS));
        ka_rendered_free(&r);
        char job[KA_BUS_ID_MAX + 1];
        snprintf(job, sizeof(job), "pod/%s", a->name);
        struct ka_error err = {0};
        int rc2 = ka_bus_core_submit(P->bus, job, a->cloud->name, w, &err);
        cJSON_Delete(w);
        if (rc2 < 0 && rc2 != -EEXIST) {
                fail(P, a, "SubmitFailed", err.msg, false);
                return;
        }
        a->pod_job = true;
        a->submitted_at = ka_prov_now(P);
        agent_derive(P, a);
}

/* ---- messages from frontends ---- */

static struct agent *frontend_agent(struct ka_prov *P, struct frontend *fe, const char *name) {
        struct agent *a = name ? ka_hashmap_get(&P->agents, name) : NULL;
        return a && a->fe == fe ? a : NULL;
}

static void on_hello(struct ka_prov *P, struct frontend *fe, const cJSON *m) {
        free(fe->url);
        const char *url = ka_json_str(m, "url");
        fe->url = ka_endswith(url, "/") ? ka_strdup(url) : ka_asprintf("%s/", url);
        free(fe->prefix);
        fe->prefix = ka_strdup(ka_json_str(m, "namePrefix"));
        fe->synced = false;
        fe->gen++;
        frontend_clear_demand(fe);
        ka_log_info("provision", "frontend %s: %s", fe->name, fe->url);
        /* registrations and deletions it may have lost with its previous life */
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&fe->nodes, &it, NULL, &v))
                ((struct nodeview *)v)->delete_sent = false;
        it = 0;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v)) {
                struct agent *a = v;
                if (a->fe == fe && !a->ending && !a->registered)
                        a->register_retry_at = ka_prov_now(P);
                if (a->fe == fe && a->offline_since)
                        a->offline_since = ka_prov_now(P); /* its agent reconnects to the controller's new life */
                if (a->fe == fe && a->ending && !a->node_done)
                        a->node_delete_sent = false;
        }
}

static void node_gone(struct ka_prov *P, struct agent *a) {
        a->node_done = true;
        free(a->node_state);
        a->node_state = ka_strdup("gone");
        if (!a->ending) {
                if (a->registered)
                        ka_sched_end(P, a, "its node was removed from the controller", false, false);
        } else {
                agent_maybe_forget(P, a);
        }
}

static void on_synced(struct ka_prov *P, struct frontend *fe) {
        fe->synced = true;
        if (!fe->ever_synced)
                ka_log_info("provision", "frontend %s synchronised", fe->name);
        fe->ever_synced = true;
        /* nodes it did not report are gone */
        const char **gone = NULL;
        size_t n = 0, it = 0;
        void *v;
        const char *key;
        while (ka_hashmap_next(&fe->nodes, &it, &key, &v)) {
                if (((struct nodeview *)v)->gen != fe->gen) {
                        gone = ka_reallocarray(gone, n + 1, sizeof(*gone));
                        gone[n++] = key;
                }
        }
        for (size_t i = 0; i < n; i++)
                nodeview_free(ka_hashmap_remove(&fe->nodes, gone[i]));
        free(gone);
        struct agent **ended = NULL;
        n = 0;
        it = 0;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v)) {
                struct agent *a = v;
                if (a->fe == fe && a->registered && a->node_gen != fe->gen && a->reg_gen != fe->gen &&
                    !a->node_done) {
                        ended = ka_reallocarray(ended, n + 1, sizeof(*ended));
                        ended[n++] = a;
                }
        }
        for (size_t i = 0; i < n; i++)
                node_gone(P, ended[i]);
        free(ended);
        P->dirty = true;
}

/* Whether an item waits for this agent's very node: a pipeline block that
 * ran on it before a controller restart resumes only there. */
static bool node_awaited(const struct agent *a) {
        char *key = ka_asprintf("n:%s", a->name);
        bool awaited = ka_hashmap_get(&a->fe->demand, key) != NULL;
        free(key);
        return awaited;
}

/* What the node's state means for its agent.  A single-use agent is done
 * after its build -- unless a resumed block waits for its node (another
 * item took the node first, as Jenkins may when it comes back online), or
 * has just left the queue to run there (unawaited_at: agent_timers()). */
static void check_node(struct ka_prov *P, struct agent *a) {
        if (!a->ending && a->state == AS_IDLE && a->ever_busy && a->tmpl && a->tmpl->idle_minutes <= 0 &&
            !a->unawaited_at && !node_awaited(a))
                ka_sched_end(P, a, "its build finished (a single-use agent)", false, false);
}

static void on_demand(struct ka_prov *P, struct frontend *fe, const cJSON *m) {
        const char *expr = ka_json_str(m, "expression"), *node = ka_json_str(m, "node");
        if (!!expr == !!node) {
                ka_log_warn("provision", "%s: a demand needs either expression or node", fe->name);
                return;
        }
        char *key = ka_asprintf("%c:%s", expr ? 'e' : 'n', expr ? expr : node);
        struct demand *old = ka_hashmap_remove(&fe->demand, key);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(m, "items");
        if (cJSON_GetArraySize(items) == 0) {
                demand_free(old);
                free(key);
                /* The block that waited for this node left the queue: it most
                 * likely started there, and the report saying so can lag the
                 * demand (the frontend reads the nodes before the queue).  A
                 * single-use agent idle after another build is given a gcPeriod
                 * to show busy before it is taken as done (agent_timers()). */
                struct agent *a = node ? frontend_agent(P, fe, node) : NULL;
                if (a && !a->ending && a->state == AS_IDLE)
                        a->unawaited_at = ka_prov_now(P);
                P->dirty = true;
                return;
        }
        struct demand *d = ka_new0(struct demand, 1);
        d->expression = ka_strdup(expr);
        d->node = ka_strdup(node);
        if (expr && *expr) { /* "": items that ask for no label (NORMAL templates serve them) */
                struct ka_error err = {0};
                if (ka_labelexpr_parse(expr, &d->expr, &err) < 0)
                        d->parse_error = ka_asprintf("the label expression \"%s\" is invalid: %s", expr, err.msg);
        }
        d->items = ka_new0(struct item, (size_t)cJSON_GetArraySize(items));
        int64_t t = ka_prov_now(P);
        const cJSON *i;
        cJSON_ArrayForEach(i, items) {
                struct item *it = &d->items[d->n++];
                it->id = ka_json_int(i, "id", 0);
                it->job = ka_strdup(ka_json_str(i, "job"));
                it->url = ka_strdup(ka_json_str(i, "url"));
                it->seen = t;
                it->d = d;
                for (size_t k = 0; old && k < old->n; k++)
                        if (old->items[k].id == it->id)
                                it->seen = old->items[k].seen;
        }
        demand_free(old);
        ka_hashmap_put(&fe->demand, key, d);
        free(key);
        P->dirty = true;
}

static void on_registered(struct ka_prov *P, struct frontend *fe, const cJSON *m) {
        const char *name = ka_json_str(m, "name"), *secret = ka_json_str(m, "secret");
        ka_secret_register(secret);
        struct agent *a = frontend_agent(P, fe, name);
        if (!a || a->ending || a->registered) {
                ka_log_debug("provision", "%s: registration of %s not awaited", fe->name, name);
                ka_secret_unregister(secret);
                return;
        }
        a->registered = true;
        a->reg_gen = fe->gen;
        a->node_done = false;
        a->secret = ka_strdup(secret);
        ka_secret_register(a->secret);
        ka_secret_unregister(secret);
        render_and_submit(P, a);
}

static void on_register_failed(struct ka_prov *P, struct frontend *fe, const cJSON *m) {
        struct agent *a = frontend_agent(P, fe, ka_json_str(m, "name"));
        if (!a || a->ending || a->registered)
                return;
        const char *error = ka_json_str(m, "error");
        if (ka_json_bool(m, "retry", false)) {
                a->register_tries++;
                a->register_retry_at = ka_prov_now(P) + REGISTER_RETRY_MS * KA_MIN(a->register_tries, 15u);
                ka_log_warn("provision", "agent %s: %s: %s (will try again)", a->name, fe->name, error);
                return;
        }
        char msg[KA_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s could not register the agent: %s", fe->name, error);
        fail(P, a, "RegisterFailed", msg, true);
}

static void on_state(struct ka_prov *P, struct frontend *fe, const cJSON *m) {
        const char *name = ka_json_str(m, "name"), *state = ka_json_str(m, "state");
        static const char *const states[] = {"offline", "online", "busy", "idle", "gone", NULL};
        bool known = false;
        for (size_t i = 0; states[i]; i++)
                known |= ka_streq(states[i], state);
        if (!known) {
                ka_log_warn("provision", "%s: node %s in an unknown state \"%s\"", fe->name, name, state);
                return;
        }
        struct agent *a = frontend_agent(P, fe, name);
        P->dirty = true;
        if (ka_streq(state, "gone")) {
                nodeview_free(ka_hashmap_remove(&fe->nodes, name));
                if (a)
                        node_gone(P, a);
                return;
        }
        struct nodeview *nv = ka_hashmap_get(&fe->nodes, name);
        if (!nv) {
                nv = ka_new0(struct nodeview, 1);
                ka_hashmap_put(&fe->nodes, name, nv);
        }
        nv->gen = fe->gen;
#define SETS(field, key)                                                                                               \
        do {                                                                                                           \
                free(nv->field);                                                                                       \
                nv->field = ka_strdup(ka_json_str(m, key));                                                            \
        } while (0)
        SETS(state, "state");
        SETS(labels, "labels");
        SETS(reason, "reason");
        SETS(run, "run");
        SETS(result, "result");
#undef SETS
        if (!a)
                return;
        nv->orphan_since = 0;
        a->node_gen = fe->gen;
        a->node_done = false;
        if (a->ending) {
                /* a node that should be gone: say it again */
                if (a->node_delete_sent && !a->node_done && fe->synced)
                        a->node_delete_sent = false;
                return;
        }
        free(a->node_state);
        a->node_state = ka_strdup(state);
        if (ka_json_str(m, "result")) {
                free(a->build_result);
                a->build_result = ka_strdup(ka_json_str(m, "result"));
        }
        agent_derive(P, a);
        check_node(P, a);
}

static void on_message(struct ka_prov *P, const struct ka_bus_core_event *ev) {
        struct ka_error err = {0};
        if (ka_proto_check_frontend(ev->type, ev->data, &err) < 0) {
                ka_log_warn("provision", "message from %s refused: %s", ev->peer, err.msg);
                return;
        }
        struct frontend *fe = frontend_get(P, ev->peer);
        const char *t = ev->type;
        if (!strcmp(t, "frontend.hello"))
                on_hello(P, fe, ev->data);
        else if (!fe->gen)
                ka_log_debug("provision", "%s from %s before its frontend.hello: ignored", t, fe->name);
        else if (!strcmp(t, "frontend.synced"))
                on_synced(P, fe);
        else if (!strcmp(t, "demand"))
                on_demand(P, fe, ev->data);
        else if (!strcmp(t, "agent.registered"))
                on_registered(P, fe, ev->data);
        else if (!strcmp(t, "agent.register-failed"))
                on_register_failed(P, fe, ev->data);
        else if (!strcmp(t, "agent.state"))
                on_state(P, fe, ev->data);
        else
                ka_log_warn("provision", "%s sent %s, which only the core sends", fe->name, t);
}

/* ---- job events ---- */

static char *summary_text(const struct ka_pod_summary *s) {
        struct ka_buf b = KA_BUF_INIT(0);
        if (s->outlook == KA_POD_FINISHED && s->deleting && ka_streq(s->reason, "Terminating"))
                ka_buf_puts(&b, "Pod deleted (by someone else: it is terminating)");
        else if (s->outlook == KA_POD_FINISHED && s->container && s->exit_code >= 0)
                ka_buf_printf(&b, "Pod failed because container terminated (Reason: %s, Container: %s, Exit code: %d)",
                              s->reason ? s->reason : "?", s->container, s->exit_code);
        else if (s->outlook == KA_POD_FINISHED)
                ka_buf_printf(&b, "Pod just failed (Reason: %s, Message: %s)", s->reason ? s->reason : s->phase,
                              s->message ? s->message : "");
        else
                ka_buf_printf(&b, "%s%s%s", s->reason ? s->reason : s->phase, s->message ? ": " : "",
                              s->message ? s->message : "");
        return ka_buf_steal(&b);
}

/* What the pod's status means for its agent. */
static void check_pod(struct ka_prov *P, struct agent *a) {
        const struct ka_pod_summary *s = &a->pod;
        if (a->ending)
                return;
        if (s->outlook == KA_POD_NEVER) {
                _cleanup_free_ char *why = summary_text(s);
                ka_sched_end(P, a, why, true, true);
        } else if (s->backoffs >= KA_IMAGE_PULL_BACKOFF_LIMIT) {
                char why[KA_ERROR_MSG_MAX];
                snprintf(why, sizeof(why), "ImagePullBackOff: %s (Unable to pull the container image; check the "
                         "image name and tag)", s->message ? s->message : "Back-off pulling image");
                ka_sched_end(P, a, why, true, true);
        } else if (s->outlook == KA_POD_STUCK && ka_streq(s->reason, "CreateContainerConfigError")) {
                _cleanup_free_ char *why = summary_text(s);
                ka_sched_end(P, a, why, true, true);
        } else if (s->outlook == KA_POD_FINISHED) {
                _cleanup_free_ char *why = summary_text(s);
                /* an agent that never connected would fail the same way again */
                ka_sched_end(P, a, why, true, !a->ever_online);
        }
}

static void on_pod_event(struct ka_prov *P, struct agent *a, const char *kind, const cJSON *d, bool final) {
        if (final)
                a->pod_job = false;
        if (!strcmp(kind, "created")) {
                free(a->uid);
                a->uid = ka_strdup(ka_json_str(d, "uid"));
                free(a->ns);
                a->ns = ka_strdup(ka_json_str(d, "namespace"));
                bool adopted = ka_json_bool(d, "adopted", false);
                if (!a->created) {
                        a->created = true;
                        a->created_at = ka_prov_now(P);
                        if (!adopted || a->demand_at) {
                                ka_metric_add(P->m_created, a->cloud->name, 1);
                                observe(P, "created", a->demand_at, a->created_at);
                        }
                        ka_log_info("provision", "%s pod %s/%s (cloud %s)", adopted ? "adopted" : "created", a->ns,
                                    a->name, a->cloud->name);
                }
                agent_derive(P, a);
        } else if (!strcmp(kind, "waiting")) {
                const char *e = ka_json_str(d, "error");
                if (!ka_streq(e, a->last_wait)) {
                        ka_log_warn("provision", "agent %s: %s (retrying)", a->name, e);
                        free(a->last_wait);
                        a->last_wait = ka_strdup(e);
                }
        } else if (!strcmp(kind, "status")) {
                struct ka_pod_summary s;
                ka_pod_summary_from_json(d, &s);
                if (!s.log && a->pod.log)
                        s.log = KA_TAKE(a->pod.log);
                ka_pod_summary_clear(&a->pod);
                a->pod = s;
                agent_derive(P, a);
                check_pod(P, a);
        } else if (!strcmp(kind, "create-failed")) {
                struct ka_buf b = KA_BUF_INIT(0);
                ka_buf_printf(&b, "Unable to create pod %s: %s", a->name, ka_json_str(d, "error"));
                a->pod_done = true;
                fail(P, a, "CreateFailed", b.data, true);
                ka_buf_free(&b);
        } else if (!strcmp(kind, "gone")) {
                a->pod_done = true;
                struct ka_pod_summary s;
                ka_pod_summary_from_json(d, &s);
                if (!s.log && a->pod.log)
                        s.log = KA_TAKE(a->pod.log);
                ka_pod_summary_clear(&a->pod);
                a->pod = s;
                if (!a->ending) {
                        bool ours = ka_streq(ka_json_str(d, "deletedBy"), "kubeagent");
                        ka_sched_end(P, a, ours ? "its pod was deleted" : "Pod deleted (by someone else)", !ours, false);
                } else {
                        agent_maybe_forget(P, a);
                }
        }
}

static void on_end_event(struct ka_prov *P, struct agent *a, const cJSON *d) {
        const char *decision = ka_json_str(d, "decision"), *error = ka_json_str(d, "error");
        bool deleted = ka_json_bool(d, "deleted", false);
        if (deleted) {
                ka_metric_add(P->m_deleted, a->cloud->name, 1);
                ka_log_info("provision", "deleted pod %s/%s", a->ns ? a->ns : "", a->name);
        } else if (ka_streq(decision, "keep")) {
                ka_log_info("provision", "kept pod %s/%s (retention policy)%s%s", a->ns ? a->ns : "", a->name,
                            error ? ": " : "", error ? error : "");
        } else if (error) {
                ka_log_warn("provision", "pod %s/%s: %s", a->ns ? a->ns : "", a->name, error);
        }
        a->pod_done = true;
        agent_derive(P, a);
        agent_maybe_forget(P, a);
}

/* A pod that exists from before: the agent it stands for, followed again. */
static void adopt(struct ka_prov *P, size_t ci, const cJSON *e) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        const char *name = ka_json_str(e, "name"), *fe_name = ka_json_str(e, "frontend");
        const char *tmpl = ka_json_str(e, "template");
        if (ka_json_bool(e, "kept", false) || ka_json_bool(e, "deleting", false) || ka_hashmap_get(&P->agents, name) ||
            ka_hashmap_get(&P->forgotten, name))
                return; /* kept by retention, going away, known, or ended meanwhile */
        if (!fe_name) {
                ka_log_warn("provision", "pod %s/%s carries no %s annotation: left to garbage collection",
                            ka_json_str(e, "namespace"), name, KA_ANN_FRONTEND);
                return;
        }
        size_t ti = SIZE_MAX;
        for (size_t i = 0; tmpl && i < c->n_templates; i++)
                if (ka_streq(c->templates[i]->name, tmpl)) {
                        ti = i;
                        break;
                }
        struct agent *a = ka_sched_agent_new(P, name, frontend_get(P, fe_name), ci, ti);
        a->registered = a->created = true;
        a->ns = ka_strdup(ka_json_str(e, "namespace"));
        a->uid = ka_strdup(ka_json_str(e, "uid"));
        int64_t planned = ka_json_int(e, "plannedAt", 0);
        if (planned)
                a->planned_wall = planned;
        a->created_at = a->submitted_at = ka_prov_now(P);
        if (ka_json_str(e, "phase"))
                ka_pod_summary_from_json(e, &a->pod);
        cJSON *w = cJSON_CreateObject();
        ka_json_set_str(w, "op", "pod");
        ka_json_set_str(w, "cloud", c->name);
        ka_json_set_str(w, "namespace", a->ns);
        ka_json_set_str(w, "name", a->name);
        if (c->gc_enabled)
                ka_json_set_num(w, "heartbeatMs", (double)KA_MAX(c->gc_timeout_s * 1000 / 3, MIN_HEARTBEAT_MS));
        char job[KA_BUS_ID_MAX + 1];
        snprintf(job, sizeof(job), "pod/%s", a->name);
        struct ka_error err = {0};
        if (ka_bus_core_submit(P->bus, job, c->name, w, &err) < 0 && err.code != -EEXIST)
                ka_log_error("provision", "agent %s: %s", a->name, err.msg);
        else
                a->pod_job = true;
        cJSON_Delete(w);
        ka_log_info("provision", "found pod %s/%s of agent %s (%s): following it again", a->ns, a->name, a->name,
                    a->pod.phase ? a->pod.phase : "?");
        /* what its frontend says of the node, if it said it already */
        struct nodeview *nv = ka_hashmap_get(&a->fe->nodes, name);
        if (nv) {
                a->node_gen = nv->gen;
                a->node_state = ka_strdup(nv->state);
                a->build_result = ka_strdup(nv->result);
                nv->orphan_since = 0;
        }
        agent_derive(P, a);
        check_pod(P, a);
        check_node(P, a);
        if (!a->ending && a->fe->synced && (!nv || nv->gen != a->fe->gen))
                node_gone(P, a);
}

static void on_list_event(struct ka_prov *P, size_t ci, const char *kind, const cJSON *d) {
        struct cloudstate *cs = &P->clouds[ci];
        const char *cloud = P->o.cfg->clouds[ci]->name;
        if (!strcmp(kind, "pods")) {
                const cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "pods")) adopt(P, ci, e);
                return;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "errors"))
                ka_log_warn("provision", "cloud %s: %s", cloud, e->valuestring);
        if (!cs->listed)
                ka_log_info("provision", "cloud %s: %" PRId64 " pod(s) of kubeagent found", cloud,
                            ka_json_int(d, "count", 0));
        cs->listed = true;
        free(cs->list_job);
        cs->list_job = NULL;
        P->dirty = true;
}

static void on_job_event(struct ka_prov *P, const struct ka_bus_core_event *ev) {
        struct ka_error err = {0};
        if (ka_proto_check_event(ev->data, &err) < 0) {
                ka_log_warn("provision", "event of job %s from %s refused: %s", ev->job, ev->peer, err.msg);
                return;
        }
        const char *kind = ka_json_str(ev->data, "kind");
        const char *slash = strchr(ev->job, '/');
        const char *name = slash ? slash + 1 : "";
        struct agent *a = ka_hashmap_get(&P->agents, name);
        if (ka_startswith(ev->job, "pod/")) {
                if (!a && !strcmp(kind, "created")) {
                        /* a pod a worker created for a core before this one */
                        for (size_t i = 0; i < P->o.cfg->n_clouds; i++) {
                                if (!ka_streq(P->o.cfg->clouds[i]->name, ka_json_str(ev->data, "cloud")))
                                        continue;
                                cJSON *e = cJSON_Duplicate(ev->data, true);
                                ka_json_set_str(e, "name", name);
                                adopt(P, i, e);
                                cJSON_Delete(e);
                                break;
                        }
                        return;
                }
                if (a && !a->ending)
                        on_pod_event(P, a, kind, ev->data, ev->final);
                else if (a && !strcmp(kind, "gone"))
                        on_pod_event(P, a, kind, ev->data, ev->final);
                else
                        ka_log_debug("provision", "%s event of %s: no live agent", kind, ev->job);
        } else if (ka_startswith(ev->job, "end/")) {
                if (a && !strcmp(kind, "ended"))
                        on_end_event(P, a, ev->data);
        } else if (ka_startswith(ev->job, "list/")) {
                for (size_t i = 0; i < P->o.cfg->n_clouds; i++) {
                        if (ka_streq(P->clouds[i].list_job, ev->job))
                                on_list_event(P, i, kind, ev->data);
                        else if (ka_streq(P->clouds[i].gc_job, ev->job))
                                ka_gc_list_event(P, i, kind, ev->data);
                }
        } else if (ka_startswith(ev->job, "delete/")) {
                const char *error = ka_json_str(ev->data, "error");
                if (error)
                        ka_log_warn("gc", "%s: %s", ev->job + 7, error);
        } else {
                ka_log_debug("provision", "event of unknown job %s", ev->job);
        }
}

static void on_bus_event(struct ka_prov *P, const struct ka_bus_core_event *ev) {
        switch (ev->kind) {
        case KA_BUS_CORE_PEER_UP:
                ka_log_info("provision", "%s %s is up%s", ev->role, ev->peer, ev->restarted ? " (restarted)" : "");
                if (ka_streq(ev->role, "frontend"))
                        frontend_get(P, ev->peer)->up = true;
                P->dirty = true;
                break;
        case KA_BUS_CORE_PEER_DOWN: {
                ka_log_warn("provision", "%s is down", ev->peer);
                struct frontend *fe = ka_hashmap_get(&P->frontends, ev->peer);
                if (fe)
                        fe->up = false;
                break;
        }
        case KA_BUS_CORE_JOB_EVENT:
                on_job_event(P, ev);
                break;
        case KA_BUS_CORE_JOB_ADOPTED:
                ka_log_debug("provision", "%s holds %s from before this core started", ev->peer, ev->job);
                break;
        case KA_BUS_CORE_JOB_EXPIRED:
                ka_log_warn("provision", "%s's lease on %s ran out: offered again", ev->peer, ev->job);
                break;
        case KA_BUS_CORE_JOB_REJECTED:
                ka_log_warn("provision", "%s refused %s: %s", ev->peer, ev->job, ev->reason);
                if (ka_streq(ev->reason, "invalid work")) {
                        ka_bus_core_cancel_job(P->bus, ev->job);
                        /* an end no worker will do: the pod is left to garbage collection,
                         * and the agent's slot is not held for it */
                        struct agent *a = ka_startswith(ev->job, "end/") ? ka_hashmap_get(&P->agents, ev->job + 4)
                                                                          : NULL;
                        if (a && a->ending && !a->pod_done) {
                                a->pod_done = true;
                                agent_derive(P, a);
                                agent_maybe_forget(P, a);
                        }
                }
                break;
        case KA_BUS_CORE_MESSAGE:
                on_message(P, ev);
                break;
        }
}

/* ---- deadlines ---- */

static int64_t sct_ms(const struct agent *a) {
        int64_t s = a->tmpl ? a->tmpl->slave_connect_timeout : KA_SLAVE_CONNECT_TIMEOUT_DEFAULT;
        return (s > 0 ? s : KA_SLAVE_CONNECT_TIMEOUT_DEFAULT) * 1000;
}

/* A reusable agent (idleMinutes > 0) idle since `since` ends once it was
 * idle for so many minutes -- Jenkins's cloud retention, for which an
 * agent that never had a build is idle since it connected.  Its deadline,
 * or INT64_MAX once ended. */
static int64_t idle_timer(struct ka_prov *P, struct agent *a, int64_t since, int64_t minutes, int64_t t) {
        if (t < since + minutes * 60000)
                return since + minutes * 60000;
        char why[64];
        snprintf(why, sizeof(why), "idle for %" PRId64 " minute%s", minutes, minutes == 1 ? "" : "s");
        ka_sched_end(P, a, why, false, false);
        return INT64_MAX;
}

/* slaveConnectTimeout: the pod is Ready within it after it was created,
 * then the agent connects within it (the plugin's launcher) -- and an
 * agent that was online and lost its connection is back within it, counted
 * from when it went or its controller came back (agents reconnect by
 * themselves: a network blip or a controller restart ends no build).  Its
 * deadline, or INT64_MAX once ended. */
static int64_t connect_timer(struct ka_prov *P, struct agent *a, int64_t sct, int64_t t) {
        char why[512];
        const char *phase = a->pod.phase ? a->pod.phase : "Unknown";
        if (a->ever_online) {
                if (t < a->offline_since + sct)
                        return a->offline_since + sct;
                snprintf(why, sizeof(why), "Agent is not connected again after %" PRId64 " seconds, status: %s",
                         sct / 1000, phase);
                fail(P, a, "AgentNotReconnected", why, false);
        } else if (a->ever_ready) {
                if (t < a->ready_at + sct)
                        return a->ready_at + sct;
                snprintf(why, sizeof(why), "Agent is not connected after %" PRId64 " seconds, status: %s", sct / 1000,
                         phase);
                fail(P, a, "AgentNotConnected", why, true);
        } else {
                int64_t from = a->created_at ? a->created_at : a->submitted_at;
                if (t < from + sct)
                        return from + sct;
                _cleanup_free_ char *st = summary_text(&a->pod);
                snprintf(why, sizeof(why), "Pod is not Ready after %" PRId64 " seconds: %s", sct / 1000, st);
                fail(P, a, "NotReady", why, false);
        }
        return INT64_MAX;
}

/* Check one agent's clocks; returns its next deadline (INT64_MAX: none). */
static int64_t agent_timers(struct ka_prov *P, struct agent *a, int64_t t) {
        char why[512];
        if (a->ending) {
                if (!a->node_done && !a->node_delete_sent && a->node_delete_at) {
                        bool due = t >= a->node_delete_at;
                        if (!due && a->failed && a->item) {
                                /* the cause stays visible while its item waits */
                                bool waiting = false;
                                size_t it = 0;
                                void *v;
                                while (!waiting && ka_hashmap_next(&a->fe->demand, &it, NULL, &v)) {
                                        const struct demand *d = v;
                                        for (size_t i = 0; i < d->n && !waiting; i++)
                                                waiting = d->items[i].id == a->item;
                                }
                                due = !waiting;
                        }
                        if (due) {
                                cJSON *m = cJSON_CreateObject();
                                ka_json_set_str(m, "name", a->name);
                                ka_sched_send(P, a->fe, "agent.delete", m);
                                a->node_delete_sent = true;
                        } else {
                                return a->failed && a->item ? KA_MIN(a->node_delete_at, t + LOOP_MAX_WAIT_MS)
                                                            : a->node_delete_at;
                        }
                }
                return INT64_MAX;
        }
        int64_t sct = sct_ms(a), due = INT64_MAX;
        switch (a->state) {
        case AS_REGISTERING:
                if (a->register_retry_at && t >= a->register_retry_at) {
                        a->register_retry_at = 0;
                        send_register(P, a);
                }
                if (t >= a->planned_at + sct) {
                        snprintf(why, sizeof(why), "%s did not register the agent within %" PRId64 " seconds",
                                 a->fe->name, sct / 1000);
                        fail(P, a, "NotRegistered", why, false);
                        return INT64_MAX;
                }
                due = a->planned_at + sct;
                if (a->register_retry_at)
                        due = KA_MIN(due, a->register_retry_at);
                return due;
        case AS_CREATING:
        case AS_STARTING:
        case AS_RUNNING:
                return connect_timer(P, a, sct, t);
        case AS_ONLINE: {
                if (a->tmpl && a->tmpl->idle_minutes > 0)
                        return idle_timer(P, a, a->online_at, a->tmpl->idle_minutes, t); /* idle since it connected */
                int64_t limit = a->cloud->retention_timeout_min * 60000;
                if (t >= a->online_at + limit) {
                        snprintf(why, sizeof(why), "no build came for it in %" PRId64 " minutes",
                                 a->cloud->retention_timeout_min);
                        ka_sched_end(P, a, why, false, false);
                        return INT64_MAX;
                }
                /* surplus (plan.c): only while its frontend's view is current */
                if (a->unwanted_since && a->fe->synced) {
                        if (t >= a->unwanted_since + P->o.gc_period_ms) {
                                ka_sched_end(P, a, "no build waits for it (another agent took the one it came for)",
                                             false, false);
                                return INT64_MAX;
                        }
                        return KA_MIN(a->online_at + limit, a->unwanted_since + P->o.gc_period_ms);
                }
                return a->online_at + limit;
        }
        case AS_IDLE:
                if (a->tmpl && a->tmpl->idle_minutes <= 0) {
                        if (!a->unawaited_at) {
                                /* done after its build -- also when the node's
                                 * idle came before the pod's created (the
                                 * frontend and the worker are not ordered) */
                                check_node(P, a);
                                return INT64_MAX;
                        }
                        if (t < a->unawaited_at + P->o.gc_period_ms)
                                return a->unawaited_at + P->o.gc_period_ms;
                        ka_sched_end(P, a, "its build finished (a single-use agent)", false, false);
                        return INT64_MAX;
                }
                return idle_timer(P, a, a->idle_since, a->tmpl ? a->tmpl->idle_minutes : 0, t);
        default:
                return INT64_MAX;
        }
}

static int64_t timers(struct ka_prov *P) {
        int64_t t = ka_prov_now(P), next = INT64_MAX;
        /* a snapshot: agent_timers may end (and forget) the agent it is given, never another */
        struct agent **v = ka_new0(struct agent *, P->agents.n + 1);
        size_t n = 0, it = 0;
        void *a;
        while (ka_hashmap_next(&P->agents, &it, NULL, &a))
                v[n++] = a;
        for (size_t i = 0; i < n; i++)
                next = KA_MIN(next, agent_timers(P, v[i], t));
        free(v);
        /* forget the ended agents' names after a while */
        const char **old = NULL;
        size_t n_old = 0;
        const char *key;
        it = 0;
        while (ka_hashmap_next(&P->forgotten, &it, &key, &a)) {
                if (t - ((const struct forgotten *)a)->at > FORGOTTEN_KEEP_MS) {
                        old = ka_reallocarray(old, n_old + 1, sizeof(*old));
                        old[n_old++] = key;
                }
        }
        for (size_t i = 0; i < n_old; i++)
                free(ka_hashmap_remove(&P->forgotten, old[i]));
        free(old);
        return KA_MIN(next, ka_gc_tick(P, t));
}

/* ---- start-up: what exists already ---- */

static void submit_list(struct ka_prov *P, size_t ci) {
        free(P->clouds[ci].list_job);
        P->clouds[ci].list_job = ka_gc_submit_list(P, ci);
}

/* ---- the loop ---- */

static char *probe_remote_fs(const struct ka_cloud *c, const struct ka_template *t);

static void send_register(struct ka_prov *P, struct agent *a) {
        const struct ka_template *t = a->tmpl;
        /* a registered template's is found for each of its agents */
        _cleanup_free_ char *reg_fs = a->reg ? probe_remote_fs(a->cloud, t) : NULL;
        cJSON *m = cJSON_CreateObject();
        ka_json_set_str(m, "name", a->name);
        ka_json_set_str(m, "cloud", a->cloud->name);
        ka_json_set_str(m, "template", t && t->name ? t->name : "");
        ka_json_set_str(m, "labels", t && t->label ? t->label : "");
        ka_json_set_str(m, "mode", t && t->node_usage_mode == KA_USAGE_NORMAL ? "NORMAL" : "EXCLUSIVE");
        const char *fs = reg_fs ? reg_fs
                         : P->clouds[a->ci].remote_fs && a->ti < a->cloud->n_templates ? P->clouds[a->ci].remote_fs[a->ti]
                                                                                        : NULL;
        ka_json_set_str(m, "remoteFs", fs ? fs : "/home/jenkins/agent");
        ka_json_set_bool(m, "webSocket", a->cloud->websocket);
        if (a->cloud->jenkins_tunnel)
                ka_json_set_str(m, "tunnel", a->cloud->jenkins_tunnel);
        ka_json_set_num(m, "idleMinutes", t && t->idle_minutes > 0 ? (double)t->idle_minutes : 0);
        char desc[512];
        snprintf(desc, sizeof(desc), "kubeagent: cloud %s, template %s", a->cloud->name, t && t->name ? t->name : "?");
        ka_json_set_str(m, "description", desc);
        cJSON *items = cJSON_CreateArray();
        if (a->item)
                cJSON_AddItemToArray(items, cJSON_CreateNumber((double)a->item));
        ka_json_set(m, "items", items);
        ka_sched_send(P, a->fe, "agent.register", m);
}

void ka_sched_register(struct ka_prov *P, struct agent *a) {
        send_register(P, a);
}

static void gauges(struct ka_prov *P) {
        size_t by[AS__N] = {0};
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v))
                by[((struct agent *)v)->state]++;
        for (int s = 0; s < AS__N; s++)
                ka_metric_set(P->m_agents, astate_names[s], (double)by[s]);
}

int ka_prov_run(struct ka_prov *P) {
        for (size_t i = 0; i < P->o.cfg->n_clouds; i++)
                submit_list(P, i);
        int64_t next = 0;
        while (!atomic_load(&P->stop)) {
                int64_t t = ka_prov_now(P);
                int wait = ka_bus_core_timeout(P->bus);
                int64_t until = next == INT64_MAX ? LOOP_MAX_WAIT_MS : KA_MAX(0, next - t);
                if (wait < 0 || wait > until)
                        wait = (int)KA_MIN(until, (int64_t)LOOP_MAX_WAIT_MS);
                struct ka_bus_core_event ev;
                int r = ka_bus_core_next(P->bus, wait, &ev);
                if (r == -ECANCELED)
                        break;
                pthread_mutex_lock(&P->lock);
                while (r == 0) {
                        on_bus_event(P, &ev);
                        ka_bus_core_event_clear(&ev);
                        r = ka_bus_core_next(P->bus, 0, &ev);
                }
                for (int round = 0; P->dirty && round < 4; round++) {
                        P->dirty = false;
                        size_t it = 0;
                        void *v;
                        while (ka_hashmap_next(&P->frontends, &it, NULL, &v))
                                ka_plan(P, v);
                }
                next = timers(P);
                gauges(P);
                pthread_mutex_unlock(&P->lock);
                if (r == -ECANCELED)
                        break;
        }
        return 0;
}

void *ka_prov_thread(void *arg) {
        ka_prov_run(arg);
        return NULL;
}

void ka_prov_stop(struct ka_prov *P) {
        atomic_store(&P->stop, true);
        ka_bus_core_cancel(P->bus);
}

/* The agent container's working directory, per template: what the
 * frontend sets as the node's remote FS (a render with placeholders). */
static char *probe_remote_fs(const struct ka_cloud *c, const struct ka_template *t) {
        struct ka_render_params params = {.agent_name = "kubeagent-probe-00000",
                                          .secret = "probe",
                                          .jenkins_root_url = "http://kubeagent.invalid/"};
        struct ka_rendered r = {0};
        struct ka_diags diags = {0};
        char *fs = NULL;
        if (ka_template_render(c, t, &params, &r, &diags) == 0) {
                const cJSON *ct, *e;
                cJSON_ArrayForEach(ct, ka_json_path(r.pod, "spec.containers")) {
                        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ct, "env")) {
                                if (!fs && ka_streq(ka_json_str(e, "name"), "JENKINS_SECRET"))
                                        fs = ka_strdup(ka_json_str(ct, "workingDir"));
                        }
                }
        }
        ka_rendered_free(&r);
        ka_diags_free(&diags);
        return fs;
}

int ka_prov_new(const struct ka_prov_options *o, struct ka_prov **ret, struct ka_error *err) {
        struct ka_prov *P = ka_new0(struct ka_prov, 1);
        P->o = *o;
        if (!P->o.gc_period_ms)
                P->o.gc_period_ms = DEFAULT_GC_PERIOD_MS;
        if (!P->o.clock)
                P->o.clock = ka_bus_clock_real();
        /* job ids (list/N) a core before this one may still have out with its workers
         * must not be taken for this core's: start from the time, not from 1 */
        P->seq = (uint64_t)ka_time_wall_ms_real();
        pthread_mutex_init(&P->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&P->gcr.cond, &ca);
        pthread_condattr_destroy(&ca);
        int r = ka_bus_core_new(o->bus, NULL, &P->bus, err);
        if (r < 0) {
                free(P);
                return r;
        }
        const struct ka_config *cfg = o->cfg;
        P->clouds = ka_new0(struct cloudstate, cfg->n_clouds ? cfg->n_clouds : 1);
        P->gcr.waiting = ka_new0(bool, cfg->n_clouds ? cfg->n_clouds : 1);
        for (size_t i = 0; i < cfg->n_clouds; i++) {
                const struct ka_cloud *c = cfg->clouds[i];
                P->clouds[i].remote_fs = ka_new0(char *, c->n_templates + 1);
                for (size_t j = 0; j < c->n_templates; j++)
                        P->clouds[i].remote_fs[j] = probe_remote_fs(c, c->templates[j]);
        }
        ka_metric_register(NULL, "kubeagent_agents", "Agents in the scheduler's table, by state",
                           KUBEAGENT_METRIC_GAUGE, "state", &P->m_agents, NULL);
        ka_metric_register(NULL, "kubeagent_pods_created_total", "Pods created (409 adoptions not counted), by cloud",
                           KUBEAGENT_METRIC_COUNTER, "cloud", &P->m_created, NULL);
        ka_metric_register(NULL, "kubeagent_pods_deleted_total", "Pods deleted when their agent ended, by cloud",
                           KUBEAGENT_METRIC_COUNTER, "cloud", &P->m_deleted, NULL);
        ka_metric_register(NULL, "kubeagent_agents_failed_total", "Agents that failed, by the pod's reason",
                           KUBEAGENT_METRIC_COUNTER, "reason", &P->m_failed, NULL);
        ka_metric_register(NULL, "kubeagent_agents_planned_total", "Agents planned for demand, by cloud",
                           KUBEAGENT_METRIC_COUNTER, "cloud", &P->m_planned, NULL);
        ka_metric_register(NULL, "kubeagent_cap_reached_total",
                           "Agents not planned because a cap was reached, by cap (cloud, template) and name",
                           KUBEAGENT_METRIC_COUNTER, "cap,name", &P->m_cap, NULL);
        ka_metric_register(NULL, "kubeagent_gc_deleted_total", "Orphans deleted by garbage collection (pod, node)",
                           KUBEAGENT_METRIC_COUNTER, "what", &P->m_gc, NULL);
        ka_histogram_register(NULL, "kubeagent_provision_latency_seconds",
                              "Time from the demand to the agent's pod created, running, and the agent online",
                              "stage", ka_histogram_latency_buckets, &P->m_latency, NULL);
        *ret = P;
        return 0;
}

void ka_prov_free(struct ka_prov *P) {
        if (!P)
                return;
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v))
                agent_free(v);
        ka_hashmap_free(&P->agents);
        it = 0;
        while (ka_hashmap_next(&P->frontends, &it, NULL, &v))
                frontend_free(v);
        ka_hashmap_free(&P->frontends);
        it = 0;
        while (ka_hashmap_next(&P->forgotten, &it, NULL, &v))
                free(v);
        ka_hashmap_free(&P->forgotten);
        for (size_t i = 0; i < P->o.cfg->n_clouds; i++) {
                free(P->clouds[i].list_job);
                free(P->clouds[i].gc_job);
                cJSON_Delete(P->clouds[i].gc_pods);
                for (size_t j = 0; j < P->o.cfg->clouds[i]->n_templates; j++)
                        free(P->clouds[i].remote_fs[j]);
                free(P->clouds[i].remote_fs);
        }
        free(P->clouds);
        cJSON_Delete(P->gc_log);
        cJSON_Delete(P->gcr.entries);
        free(P->gcr.waiting);
        pthread_cond_destroy(&P->gcr.cond);
        ka_bus_core_free(P->bus);
        pthread_mutex_destroy(&P->lock);
        free(P);
}
