/* Demand to agents: which waiting items already have an agent on the way,
 * and a new agent for each of the others, on the first template that
 * serves its label and has room under its caps.
 *
 * Caps are counted from the table each time (live agents per cloud and per
 * template), never kept as counters: an agent stops counting the moment it
 * ends, whatever path ended it, so nothing can leak a slot. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

/* An agent holds its slot in the caps until its pod is deleted (or kept):
 * the plugin frees it when the node goes, after the pod's deletion (§5.4). */
bool ka_plan_live(const struct agent *a) {
        return !a->ending || !a->pod_done;
}

/* Not busy, not done: it can take the next build of its label. */
static bool available(const struct agent *a) {
        if (a->ending || a->state == AS_BUSY)
                return false;
        /* a single-use agent that had its build is about to go */
        return !(a->ever_busy && a->tmpl && a->tmpl->idle_minutes <= 0);
}

static bool serves(const struct agent *a, const struct item *it) {
        const struct demand *d = it->d;
        if (d->node)
                return ka_streq(a->name, d->node);
        return a->tmpl && !d->parse_error && ka_template_matches(a->tmpl, d->expr) &&
               (!a->reg || ka_tmplref_allows(a->reg, it->job));
}

/* Whether job may use a cloud restricted to some folders (§5.10). */
static bool folder_allowed(const struct ka_cloud *c, const char *job) {
        if (!c->usage_restricted)
                return true;
        for (size_t i = 0; c->allowed_folders[i]; i++)
                if (ka_job_in_folder(job, c->allowed_folders[i]))
                        return true;
        return false;
}

struct counts {
        size_t *cloud;  /* live agents per cloud */
        size_t **tmpl;  /* per cloud, per template */
        bool **capped;  /* this round: a template's cap was counted as reached */
        bool *cloud_capped;
        /* the templates registered at run time (a snapshot for this round) */
        struct ka_tmplref **regs;
        size_t n_regs;
        size_t *reg_live;
        bool *reg_capped;
};

static void counts_init(const struct ka_prov *P, struct counts *k) {
        const struct ka_config *cfg = P->o.cfg;
        size_t n = cfg->n_clouds ? cfg->n_clouds : 1;
        k->cloud = ka_new0(size_t, n);
        k->tmpl = ka_new0(size_t *, n);
        k->capped = ka_new0(bool *, n);
        k->cloud_capped = ka_new0(bool, n);
        for (size_t i = 0; i < cfg->n_clouds; i++) {
                k->tmpl[i] = ka_new0(size_t, cfg->clouds[i]->n_templates + 1);
                k->capped[i] = ka_new0(bool, cfg->clouds[i]->n_templates + 1);
        }
        k->n_regs = ka_tmplstore_take(P->o.templates, &k->regs);
        k->reg_live = ka_new0(size_t, k->n_regs + 1);
        k->reg_capped = ka_new0(bool, k->n_regs + 1);
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v)) {
                const struct agent *a = v;
                if (!ka_plan_live(a))
                        continue;
                k->cloud[a->ci]++;
                if (a->ti < cfg->clouds[a->ci]->n_templates)
                        k->tmpl[a->ci][a->ti]++;
                for (size_t r = 0; a->reg && r < k->n_regs; r++)
                        k->reg_live[r] += k->regs[r] == a->reg;
        }
}

static void counts_free(const struct ka_prov *P, struct counts *k) {
        for (size_t i = 0; i < P->o.cfg->n_clouds; i++) {
                free(k->tmpl[i]);
                free(k->capped[i]);
        }
        free(k->tmpl);
        free(k->capped);
        free(k->cloud);
        free(k->cloud_capped);
        ka_tmplstore_drop(k->regs, k->n_regs);
        free(k->reg_live);
        free(k->reg_capped);
}

static void cap_reached(struct ka_prov *P, const char *cap, const char *name) {
        /* label values are comma-separated: keep commas out of names */
        char labels[256];
        snprintf(labels, sizeof(labels), "%s,%s", cap, name ? name : "");
        for (char *c = labels + strlen(cap) + 1; *c; c++)
                if (*c == ',')
                        *c = ';';
        ka_metric_add(P->m_cap, labels, 1);
}

/* Room under the caps for one more agent of template ti of cloud ci, or
 * (ti == SIZE_MAX) of registered template ri. */
static bool room(struct ka_prov *P, struct counts *k, size_t ci, size_t ti, size_t ri) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        bool reg = ti == SIZE_MAX;
        const struct ka_template *t = reg ? k->regs[ri]->tmpl : c->templates[ti];
        size_t live = reg ? k->reg_live[ri] : k->tmpl[ci][ti];
        bool *capped = reg ? &k->reg_capped[ri] : &k->capped[ci][ti];
        if ((int64_t)k->cloud[ci] >= c->container_cap) {
                if (!k->cloud_capped[ci])
                        cap_reached(P, "cloud", c->name);
                k->cloud_capped[ci] = true;
                return false;
        }
        if ((int64_t)live >= t->instance_cap) {
                if (!*capped)
                        cap_reached(P, "template", t->name);
                *capped = true;
                return false;
        }
        return true;
}

/* A fresh agent name: the frontend's prefix and the template's name, a
 * dash and 5 random characters, not taken by an agent or a node. */
static char *fresh_name(struct ka_prov *P, struct frontend *fe, const struct ka_template *t) {
        /* node names the frontends accept: a-z, 0-9 and '-' */
        char *base = ka_asprintf("%s%s", fe->prefix ? fe->prefix : "", t->name ? t->name : "jenkins-agent");
        for (char *c = base; *c; c++) {
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
                else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
                        *c = '-';
        }
        for (;;) {
                char *name = ka_agent_name(base, NULL);
                if (!ka_hashmap_get(&P->agents, name) && !ka_hashmap_get(&fe->nodes, name)) {
                        free(base);
                        return name;
                }
                free(name);
        }
}

/* An agent of template ti of cloud ci, or (ti == SIZE_MAX) of registered
 * template ri. */
static struct agent *plan(struct ka_prov *P, struct frontend *fe, struct counts *k, size_t ci, size_t ti, size_t ri,
                          const char *name, const struct item *it) {
        const struct ka_cloud *c = P->o.cfg->clouds[ci];
        struct ka_tmplref *reg = ti == SIZE_MAX ? k->regs[ri] : NULL;
        const struct ka_template *t = reg ? reg->tmpl : c->templates[ti];
        _cleanup_free_ char *fresh = name ? NULL : fresh_name(P, fe, t);
        struct agent *a = ka_sched_agent_new(P, name ? name : fresh, fe, ci, ti);
        if (reg) {
                a->reg = ka_tmplref_get(reg);
                a->tmpl = t;
                k->reg_live[ri]++;
        } else {
                k->tmpl[ci][ti]++;
        }
        a->item = it->id;
        a->demand_at = it->seen;
        a->expression = ka_strdup(it->d->expression ? it->d->expression : it->d->node);
        k->cloud[ci]++;
        ka_metric_add(P->m_planned, c->name, 1);
        ka_log_info("provision", "planned agent %s (cloud %s, %stemplate %s) for queue item %" PRId64 " (%s%s)",
                    a->name, c->name, reg ? "registered " : "", t->name ? t->name : "?", it->id,
                    it->d->node ? "node " : "", it->d->node ? it->d->node : it->d->expression);
        ka_sched_register(P, a);
        return a;
}

bool ka_plan_template_for_labels(const struct ka_prov *P, const char *labels, size_t *ret_ci, size_t *ret_ti) {
        char **want = ka_label_atoms(labels);
        bool found = false;
        for (size_t ci = 0; !found && ci < P->o.cfg->n_clouds; ci++) {
                const struct ka_cloud *c = P->o.cfg->clouds[ci];
                for (size_t ti = 0; !found && ti < c->n_templates; ti++) {
                        _cleanup_(ka_strv_freep) char **have = ka_label_atoms(c->templates[ti]->label);
                        bool same = ka_strv_len(have) == ka_strv_len(want);
                        for (size_t i = 0; same && want[i]; i++)
                                same = ka_strv_contains(have, want[i]);
                        if (same) {
                                *ret_ci = ci;
                                *ret_ti = ti;
                                found = true;
                        }
                }
        }
        ka_strv_free(want);
        return found;
}

/* A waiting item no agent covers: plan one, or say why not. */
static void plan_item(struct ka_prov *P, struct frontend *fe, struct counts *k, struct item *it) {
        const struct demand *d = it->d;
        const struct ka_config *cfg = P->o.cfg;
        if (d->node) {
                struct agent *a = ka_hashmap_get(&P->agents, d->node);
                if (a) {
                        if (a->fe == fe && a->failed)
                                ka_sched_fail_items(P, fe, &it->id, 1, a->end_reason, d);
                        return; /* here, or on its way out: once it went, it can come back */
                }
                const struct nodeview *nv = ka_hashmap_get(&fe->nodes, d->node);
                const struct forgotten *f = ka_hashmap_get(&P->forgotten, d->node);
                size_t ci, ti;
                if (nv && nv->labels) {
                        if (!ka_plan_template_for_labels(P, nv->labels, &ci, &ti)) {
                                char msg[512];
                                snprintf(msg, sizeof(msg), "no template has the labels of node %s (\"%s\")", d->node,
                                         nv->labels);
                                ka_sched_fail_items(P, fe, &it->id, 1, msg, d);
                                return;
                        }
                } else if (f && f->fe == fe && f->ti != SIZE_MAX) {
                        ci = f->ci; /* an agent that ended, its node deleted: both come back */
                        ti = f->ti;
                } else {
                        ka_log_debug("provision", "item %" PRId64 " waits for node %s, which kubeagent does not know",
                                     it->id, d->node);
                        return;
                }
                if (!P->clouds[ci].listed || !room(P, k, ci, ti, 0))
                        return;
                ka_log_info("provision", "%s %s has no pod: bringing it back", nv ? "node" : "the ended agent", d->node);
                free(ka_hashmap_remove(&P->forgotten, d->node));
                plan(P, fe, k, ci, ti, 0, d->node, it);
                return;
        }
        if (d->parse_error) {
                ka_sched_fail_items(P, fe, &it->id, 1, d->parse_error, d);
                return;
        }
        bool matched = false, refused = false, waiting = false;
        const char *refused_by = NULL;
        for (size_t ci = 0; ci < cfg->n_clouds; ci++) {
                const struct ka_cloud *c = cfg->clouds[ci];
                for (size_t ti = 0; ti < c->n_templates; ti++) {
                        if (!ka_template_matches(c->templates[ti], d->expr))
                                continue;
                        if (!folder_allowed(c, it->job)) {
                                refused = true;
                                refused_by = c->name;
                                continue;
                        }
                        matched = true;
                        if (!P->clouds[ci].listed) {
                                waiting = true;
                                continue;
                        }
                        if (!room(P, k, ci, ti, 0)) {
                                waiting = true;
                                continue;
                        }
                        plan(P, fe, k, ci, ti, 0, NULL, it);
                        return;
                }
        }
        /* then the templates registered at run time, each for its folders and jobs */
        const char *refused_reg = NULL;
        for (size_t ri = 0; ri < k->n_regs; ri++) {
                struct ka_tmplref *r = k->regs[ri];
                if (!ka_template_matches(r->tmpl, d->expr))
                        continue;
                ka_tmplref_touch(r); /* demand for it keeps it */
                if (!ka_tmplref_allows(r, it->job)) { /* its folders are within its cloud's */
                        refused_reg = r->label;
                        continue;
                }
                matched = true;
                if (!P->clouds[r->ci].listed || !room(P, k, r->ci, SIZE_MAX, ri)) {
                        waiting = true;
                        continue;
                }
                plan(P, fe, k, r->ci, SIZE_MAX, ri, NULL, it);
                return;
        }
        if (matched || waiting)
                return; /* capped, or a cloud not listed yet: wait */
        char msg[1024];
        if (refused)
                snprintf(msg, sizeof(msg), "Kubernetes cloud %s is not allowed for folder containing job %s",
                         refused_by, it->job ? it->job : "(unknown)");
        else if (refused_reg)
                snprintf(msg, sizeof(msg), "the pod template registered for label %s is not for job %s",
                         refused_reg, it->job ? it->job : "(unknown)");
        else
                snprintf(msg, sizeof(msg), "no pod template serves the label expression \"%s\"",
                         d->expression ? d->expression : "");
        ka_sched_fail_items(P, fe, &it->id, 1, msg, d);
}

static int by_seen(const void *a, const void *b) {
        const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;
        if (x->seen != y->seen)
                return x->seen < y->seen ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

void ka_plan(struct ka_prov *P, struct frontend *fe) {
        if (!fe->synced)
                return;
        /* every cloud's pods must be known before anything is counted */
        for (size_t i = 0; i < P->o.cfg->n_clouds; i++)
                if (!P->clouds[i].listed)
                        return;
        /* the waiting items, minus those kubeagent gave up on */
        struct item **items = NULL;
        size_t n = 0, it = 0;
        void *v;
        struct ka_hashmap by_id = KA_HASHMAP_INIT;
        while (ka_hashmap_next(&fe->demand, &it, NULL, &v)) {
                struct demand *d = v;
                for (size_t i = 0; i < d->n; i++) {
                        char key[24];
                        snprintf(key, sizeof(key), "%" PRId64, d->items[i].id);
                        d->items[i].covered = false;
                        if (ka_hashmap_get(&fe->failed, key) || ka_hashmap_get(&by_id, key))
                                continue;
                        items = ka_reallocarray(items, n + 1, sizeof(*items));
                        items[n++] = &d->items[i];
                        ka_hashmap_put(&by_id, key, &d->items[i]);
                }
        }
        /* forget failures of items that no longer wait */
        const char **stale = NULL;
        size_t n_stale = 0;
        const char *key;
        it = 0;
        while (ka_hashmap_next(&fe->failed, &it, &key, &v)) {
                bool waits = false;
                size_t j = 0;
                void *dv;
                int64_t id = 0;
                ka_parse_int64(key, &id);
                while (!waits && ka_hashmap_next(&fe->demand, &j, NULL, &dv)) {
                        const struct demand *d = dv;
                        for (size_t i = 0; i < d->n && !waits; i++)
                                waits = d->items[i].id == id;
                }
                if (!waits) {
                        stale = ka_reallocarray(stale, n_stale + 1, sizeof(*stale));
                        stale[n_stale++] = key;
                }
        }
        for (size_t i = 0; i < n_stale; i++)
                free(ka_hashmap_remove(&fe->failed, stale[i]));
        free(stale);

        /* agents on the way keep the item they were planned for ... */
        struct agent **free_agents = NULL;
        size_t n_free = 0;
        it = 0;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v)) {
                struct agent *a = v;
                a->assigned = false;
                if (a->fe != fe || !available(a))
                        continue;
                char k2[24];
                snprintf(k2, sizeof(k2), "%" PRId64, a->item);
                struct item *mine = a->item ? ka_hashmap_get(&by_id, k2) : NULL;
                if (mine && !mine->covered && serves(a, mine)) {
                        mine->covered = a->assigned = true;
                        continue;
                }
                free_agents = ka_reallocarray(free_agents, n_free + 1, sizeof(*free_agents));
                free_agents[n_free++] = a;
        }
        if (n > 1)
                qsort(items, n, sizeof(*items), by_seen);
        /* ... and the others take any item they serve */
        for (size_t f = 0; f < n_free; f++) {
                struct agent *a = free_agents[f];
                for (size_t i = 0; i < n; i++) {
                        if (!items[i]->covered && serves(a, items[i])) {
                                items[i]->covered = a->assigned = true;
                                a->item = items[i]->id;
                                if (!a->demand_at)
                                        a->demand_at = items[i]->seen;
                                break;
                        }
                }
        }
        free(free_agents);
        /* an agent online that no waiting item wants came for an item another
         * agent took: it is surplus, and goes after a gcPeriod (sched.c) */
        int64_t t = ka_prov_now(P);
        it = 0;
        while (ka_hashmap_next(&P->agents, &it, NULL, &v)) {
                struct agent *a = v;
                if (a->fe != fe)
                        continue;
                if (a->assigned || a->state != AS_ONLINE)
                        a->unwanted_since = 0;
                else if (!a->unwanted_since)
                        a->unwanted_since = t;
        }
        struct counts k = {0};
        counts_init(P, &k);
        for (size_t i = 0; i < n; i++)
                if (!items[i]->covered)
                        plan_item(P, fe, &k, items[i]);
        counts_free(P, &k);
        free(items);
        ka_hashmap_free(&by_id);
}
