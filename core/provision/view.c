/* What the scheduler shows the HTTP endpoint: the table as JSON, and
 * whether the scheduler can work.  Read under the scheduler's lock. */
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "table.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static void set_opt(cJSON *o, const char *key, const char *v) {
        if (v)
                ka_json_set_str(o, key, v);
}

static cJSON *agent_json(const struct agent *a) {
        cJSON *o = cJSON_CreateObject();
        ka_json_set_str(o, "name", a->name);
        ka_json_set_str(o, "state", ka_astate_name(a->state));
        ka_json_set_str(o, "cloud", a->cloud->name);
        set_opt(o, "template", a->tmpl ? a->tmpl->name : NULL);
        if (a->reg)
                ka_json_set_bool(o, "registered", true);
        set_opt(o, "namespace", a->ns);
        ka_json_set_str(o, "frontend", a->fe->name);
        set_opt(o, "expression", a->expression);
        if (a->item)
                ka_json_set_num(o, "item", (double)a->item);
        ka_json_set_num(o, "plannedAt", (double)a->planned_wall);
        if (a->created) {
                cJSON *p = ka_json_object(o, "pod");
                set_opt(p, "uid", a->uid);
                set_opt(p, "phase", a->pod.phase);
                ka_json_set_str(p, "outlook", ka_pod_outlook_name(a->pod.outlook));
                ka_json_set_bool(p, "ready", a->pod.ready);
                set_opt(p, "reason", a->pod.reason);
                set_opt(p, "message", a->pod.message);
                set_opt(p, "node", a->pod.node);
        }
        set_opt(o, "node", a->node_state);
        set_opt(o, "buildResult", a->build_result);
        if (a->ending) {
                set_opt(o, "endReason", a->end_reason);
                ka_json_set_bool(o, "failed", a->failed);
        }
        return o;
}

static int by_name(const void *x, const void *y) {
        return strcmp(ka_json_str(*(cJSON *const *)x, "name"), ka_json_str(*(cJSON *const *)y, "name"));
}

cJSON *ka_prov_agents_json(struct ka_prov *P) {
        pthread_mutex_lock(&P->lock);
        size_t n = P->agents.n, i = 0, it = 0;
        cJSON **v = ka_new0(cJSON *, n + 1);
        void *a;
        while (ka_hashmap_next(&P->agents, &it, NULL, &a))
                v[i++] = agent_json(a);
        pthread_mutex_unlock(&P->lock);
        if (i > 1)
                qsort(v, i, sizeof(*v), by_name);
        cJSON *arr = cJSON_CreateArray();
        for (size_t k = 0; k < i; k++)
                cJSON_AddItemToArray(arr, v[k]);
        free(v);
        return arr;
}

static void cap_json(cJSON *o, const char *key, int64_t cap) {
        if (cap == KA_UNLIMITED)
                cJSON_AddItemToObject(o, key, cJSON_CreateNull());
        else
                ka_json_set_num(o, key, (double)cap);
}

cJSON *ka_prov_status_json(struct ka_prov *P) {
        cJSON *o = cJSON_CreateObject();
        cJSON *clouds = ka_json_array(o, "clouds");
        pthread_mutex_lock(&P->lock);
        const struct ka_config *cfg = P->o.cfg;
        for (size_t ci = 0; ci < cfg->n_clouds; ci++) {
                const struct ka_cloud *c = cfg->clouds[ci];
                cJSON *co = cJSON_CreateObject();
                ka_json_set_str(co, "name", c->name);
                set_opt(co, "namespace", c->namespace_);
                cap_json(co, "containerCap", c->container_cap);
                ka_json_set_bool(co, "listed", P->clouds[ci].listed);
                size_t live = 0;
                size_t *per = ka_new0(size_t, c->n_templates + 1);
                size_t it = 0;
                void *v;
                while (ka_hashmap_next(&P->agents, &it, NULL, &v)) {
                        const struct agent *a = v;
                        if (a->ci != ci || !ka_plan_live(a))
                                continue;
                        live++;
                        if (a->ti < c->n_templates)
                                per[a->ti]++;
                }
                ka_json_set_num(co, "agents", (double)live);
                cJSON *ts = ka_json_array(co, "templates");
                for (size_t ti = 0; ti < c->n_templates; ti++) {
                        const struct ka_template *t = c->templates[ti];
                        cJSON *to = cJSON_CreateObject();
                        set_opt(to, "name", t->name);
                        ka_json_set_str(to, "label", t->label ? t->label : "");
                        cap_json(to, "instanceCap", t->instance_cap);
                        ka_json_set_num(to, "agents", (double)per[ti]);
                        cJSON_AddItemToArray(ts, to);
                }
                free(per);
                cJSON_AddItemToArray(clouds, co);
        }
        cJSON *fes = ka_json_array(o, "frontends");
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&P->frontends, &it, NULL, &v)) {
                const struct frontend *fe = v;
                cJSON *f = cJSON_CreateObject();
                ka_json_set_str(f, "name", fe->name);
                set_opt(f, "url", fe->url);
                ka_json_set_bool(f, "up", fe->up);
                ka_json_set_bool(f, "synced", fe->synced);
                ka_json_set_num(f, "nodes", (double)fe->nodes.n);
                size_t waiting = 0, j = 0;
                void *dv;
                while (ka_hashmap_next(&fe->demand, &j, NULL, &dv))
                        waiting += ((const struct demand *)dv)->n;
                ka_json_set_num(f, "waiting", (double)waiting);
                cJSON_AddItemToArray(fes, f);
        }
        cJSON *peers = ka_json_object(o, "bus");
        ka_json_set_num(peers, "workers", (double)ka_bus_core_peers(P->bus, "worker"));
        ka_json_set_num(peers, "frontends", (double)ka_bus_core_peers(P->bus, "frontend"));
        pthread_mutex_unlock(&P->lock);
        return o;
}

bool ka_prov_ready(struct ka_prov *P, char **ret_why) {
        struct ka_buf why = KA_BUF_INIT(0);
        pthread_mutex_lock(&P->lock);
        const struct ka_config *cfg = P->o.cfg;
        for (size_t ci = 0; ci < cfg->n_clouds; ci++)
                if (!P->clouds[ci].listed)
                        ka_buf_printf(&why, "%scloud %s: no worker has listed its pods yet", why.len ? "; " : "",
                                      cfg->clouds[ci]->name);
        for (size_t i = 0; i < cfg->n_frontends; i++) {
                const struct frontend *fe = ka_hashmap_get(&P->frontends, cfg->frontends[i]->name);
                if (!fe || !fe->up)
                        ka_buf_printf(&why, "%sfrontend %s: not connected", why.len ? "; " : "", cfg->frontends[i]->name);
                else if (!fe->synced)
                        ka_buf_printf(&why, "%sfrontend %s: cannot reach its controller", why.len ? "; " : "",
                                      cfg->frontends[i]->name);
        }
        pthread_mutex_unlock(&P->lock);
        bool ready = why.len == 0;
        if (ret_why)
                *ret_why = ready ? NULL : ka_buf_steal(&why);
        ka_buf_free(&why);
        return ready;
}
