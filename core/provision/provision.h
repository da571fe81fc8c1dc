/* core/provision/provision.h — the scheduler: the core's part of kubeagentd.
 *
 * It turns the demand frontends report into agents and follows each agent
 * through its life (core/bus/PROTOCOL.md, "The lifecycle"): template
 * matching, caps counted from the live agents of its table, registration
 * with the frontend, rendering, pod jobs for the workers, failure reasons,
 * retention, node deletion, and garbage collection of orphan pods and
 * nodes.  Kubernetes and the CI controller are the truth: the table is a
 * cache rebuilt on start from the pods carrying kubeagent's labels (listed
 * by the workers) and the frontends' nodes, so a restart — or a kill -9 at
 * any moment — loses and duplicates nothing.
 *
 *     struct ka_prov *p;
 *     ka_prov_new(&opts, &p, &err);
 *     ka_prov_run(p);                  // on its own thread, until ka_prov_stop()
 *     ka_prov_free(p);
 *
 * The view functions may be called from any thread (the HTTP endpoint);
 * everything they return is the caller's. */
#ifndef KA_PROVISION_PROVISION_H
#define KA_PROVISION_PROVISION_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/clock.h"
#include "bus/config.h"
#include "config/config.h"
#include "plugin/cfgmap.h"
#include "tmplstore.h"

/* kubeagent.provision */
struct ka_prov_config {
        int64_t gc_period; /* ms */
};
extern const struct kubeagent_config_key ka_prov_config_keys[];

struct ka_prov_options {
        const struct ka_config *cfg;
        const struct ka_registry *reg;
        const struct ka_bus_config *bus; /* validated */
        /* The clock of the agents' lives: their deadlines (slaveConnectTimeout,
         * idleMinutes, retentionTimeout, gcPeriod), garbage collection's
         * passes and heartbeat ages, and the times it reports.  NULL: the
         * real one.  The bus below keeps the real clocks. */
        const struct ka_bus_clock *clock;
        /* Orphan Jenkins nodes (no pod behind them) are deleted once they
         * stayed so this long; also the period of pod garbage collection.
         * 0: 60 s. */
        int64_t gc_period_ms;
        /* Templates registered at run time (tmplstore.h), served after the
         * configured ones; NULL: none.  Must outlive the scheduler. */
        struct ka_tmplstore *templates;
};

struct ka_prov;

int ka_prov_new(const struct ka_prov_options *o, struct ka_prov **ret, struct ka_error *err);
void ka_prov_free(struct ka_prov *p);
/* The loop, on the calling thread, until ka_prov_stop().  Agents, nodes
 * and pods are left as they are when it returns. */
int ka_prov_run(struct ka_prov *p);
/* ka_prov_run(arg) as a pthread start routine. */
void *ka_prov_thread(void *arg);
void ka_prov_stop(struct ka_prov *p);

/* ---- views (any thread) ---- */

/* /v1/agents: [{name, state, cloud, template, namespace, frontend, item,
 * pod: {phase, outlook, reason, message}, node, plannedAt, ...}]. */
cJSON *ka_prov_agents_json(struct ka_prov *p);
/* Clouds with their caps and live agents, frontends, bus peers. */
cJSON *ka_prov_status_json(struct ka_prov *p);
/* Whether the scheduler can work: every cloud has a worker and was listed,
 * every configured frontend has synced.  *ret_why (malloc()ed) says what is
 * missing. */
bool ka_prov_ready(struct ka_prov *p, char **ret_why);

/* ---- garbage collection ---- */

/* What garbage collection did lately, oldest first (at most 200):
 * [{what: "pod"|"node", name, cloud?, namespace?, frontend?, reason, at}]. */
cJSON *ka_prov_gc_json(struct ka_prov *p);

/* Run one garbage collection now — every cloud with a garbageCollection
 * block, every frontend's nodes — and wait up to timeout_ms for it (any
 * thread).  With dry_run nothing is deleted.  *ret: what it deleted (or
 * would): [{what, name, cloud?, namespace?, frontend?, reason, at,
 * deleted}].  -EBUSY while another runs, -ETIMEDOUT. */
int ka_prov_gc_run(struct ka_prov *p, bool dry_run, int64_t timeout_ms, cJSON **ret, struct ka_error *err);

/* Whether a pod with kubeagent's labels and no agent behind it is garbage:
 * its heartbeat (KA_ANN_LAST_REFRESH, Unix ms; 0: absent) is older than
 * timeout_ms.  Pods without a heartbeat are never garbage.  With a
 * reason: "heartbeat 12m ago" (into why, size bytes). */
bool ka_gc_stale(int64_t last_refresh, int64_t now_wall, int64_t timeout_ms, char *why, size_t size);

#endif
