/* core/provision/table.h — internal to core/provision: the scheduler's
 * table of agents and frontends, shared by sched.c (the loop, messages and
 * lifecycle), plan.c (demand to agents) and view.c (what the HTTP endpoint
 * shows).
 *
 * Everything here belongs to the scheduler's thread, under prov->lock
 * while it changes (the HTTP thread reads the table under the same lock). */
#ifndef KA_PROVISION_TABLE_H
#define KA_PROVISION_TABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/core.h"
#include "provision.h"
#include "proto.h"
#include "template/template.h"
#include "tmplstore.h"
#include "util/hashmap.h"
#include "util/metrics.h"

/* Where an agent is in its life, derived from what the pod and the node
 * say (agent_derive()); ENDING and ENDED once it was ended. */
enum astate {
        AS_REGISTERING = 0, /* planned; the frontend is creating its node */
        AS_CREATING,        /* the worker is creating its pod */
        AS_STARTING,        /* the pod exists and is not Ready */
        AS_RUNNING,         /* the pod is Ready; the agent has not connected */
        AS_ONLINE,          /* connected, no build yet */
        AS_BUSY,
        AS_IDLE, /* connected and idle after a build */
        AS_ENDING,
        AS_ENDED, /* the pod is dealt with; the node waits to be deleted */
        AS__N,
};
const char *ka_astate_name(enum astate s);

struct item {
        int64_t id;
        char *job, *url;
        int64_t seen; /* when the core first saw it (monotonic ms) */
        bool covered;
        struct demand *d;
};

/* One `demand` message: the items waiting for an expression or a node. */
struct demand {
        char *expression, *node;
        struct ka_labelexpr *expr; /* parsed expression (NULL for node demand or a bad one) */
        char *parse_error;
        struct item *items;
        size_t n;
};

/* A node as its frontend last reported it. */
struct nodeview {
        char *state, *labels, *reason, *run, *result;
        uint64_t gen;         /* the sync it was last reported in */
        int64_t orphan_since; /* no agent behind it since (0: it has one) */
        bool delete_sent;
};

struct frontend {
        char name[KA_BUS_NAME_MAX + 1];
        bool up;
        bool synced, ever_synced; /* since the last frontend.hello / ever */
        uint64_t gen;             /* counts frontend.hello */
        char *url, *prefix;
        struct ka_hashmap demand; /* "e:EXPR" / "n:NODE" -> struct demand */
        struct ka_hashmap failed; /* item id -> error text */
        struct ka_hashmap nodes;  /* name -> struct nodeview */
};

struct agent {
        char *name;
        struct frontend *fe;
        size_t ci, ti; /* cloud and template index (ti == SIZE_MAX: the template is gone, or registered) */
        const struct ka_cloud *cloud;
        const struct ka_template *tmpl;
        struct ka_tmplref *reg; /* the registered template it uses (a reference), or NULL */
        char *ns, *uid, *secret, *expression;
        int64_t item; /* the queue item it is planned for (0: none) */
        enum astate state;
        bool registered, pod_job, created, ever_ready, ever_online, ever_busy;
        bool ending, pod_done, node_done, node_delete_sent, failed, permanent;
        bool assigned; /* plan.c: covers an item this round */
        int64_t unwanted_since; /* plan.c: online, and no waiting item it serves, since (0: wanted) */
        int64_t offline_since;  /* it was online, and is not connected since (0: connected, or never was) */
        int64_t unawaited_at;   /* the block that resumed on its node left the queue: busy soon (0: not so) */
        char *node_state, *build_result, *end_reason;
        struct ka_pod_summary pod;
        int64_t demand_at, planned_at, submitted_at, created_at, ready_at, online_at, idle_since, ended_at;
        int64_t node_delete_at, register_retry_at;
        int64_t planned_wall;
        unsigned register_tries;
        uint64_t node_gen, reg_gen;
        char *last_wait; /* the last `waiting` error logged */
};

struct cloudstate {
        bool listed;       /* its pods were listed since the start */
        char *list_job;    /* the start-up list in flight */
        char *gc_job;      /* a garbage-collection list in flight */
        int64_t next_gc;   /* monotonic ms */
        cJSON *gc_pods;    /* what the GC list found so far */
        bool gc_dry;       /* the GC list in flight is a dry run */
        char **remote_fs;  /* per template: the agent container's working directory */
};

/* An agent that ended lately: when, and where it ran -- a pipeline block
 * resumed after a controller restart may wait for its node, which then
 * comes back under the same name. */
struct forgotten {
        int64_t at;
        const struct frontend *fe;
        size_t ci, ti; /* ti == SIZE_MAX: the template is gone */
};

struct ka_prov {
        struct ka_prov_options o;
        struct ka_bus_core *bus;
        pthread_mutex_t lock;
        struct ka_hashmap agents;    /* name -> struct agent */
        struct ka_hashmap frontends; /* peer name -> struct frontend */
        struct ka_hashmap forgotten; /* agents that ended lately -> struct forgotten: a late list must not revive them */
        struct cloudstate *clouds;
        uint64_t seq; /* for job ids */
        bool dirty;   /* something changed: plan again */
        cJSON *gc_log;  /* what garbage collection did (ka_prov_gc_json) */
        struct {        /* a pass asked for (ka_prov_gc_run), answered under lock */
                bool pending, running, done, dry;
                bool *waiting; /* per cloud: its list is still out */
                cJSON *entries;
                pthread_cond_t cond;
        } gcr;
        uint64_t gc_seq;
        atomic_bool stop;
        /* metrics */
        struct ka_metric *m_agents, *m_created, *m_deleted, *m_failed, *m_latency, *m_cap, *m_gc, *m_planned;
};

/* The time the scheduler runs on: its clock (provision.h), monotonic and
 * Unix.  Every deadline and timestamp of core/provision is read here. */
static inline int64_t ka_prov_now(const struct ka_prov *P) {
        return ka_bus_now(P->o.clock);
}

static inline int64_t ka_prov_wall(const struct ka_prov *P) {
        return ka_bus_wall(P->o.clock);
}

/* sched.c */
void ka_sched_end(struct ka_prov *P, struct agent *a, const char *reason, bool failed, bool permanent);
void ka_sched_send(struct ka_prov *P, struct frontend *fe, const char *type, cJSON *payload);
void ka_sched_fail_items(struct ka_prov *P, struct frontend *fe, const int64_t *ids, size_t n, const char *error,
                         const struct demand *d);
void ka_sched_register(struct ka_prov *P, struct agent *a);
struct agent *ka_sched_agent_new(struct ka_prov *P, const char *name, struct frontend *fe, size_t ci, size_t ti);
/* gc.c: start passes, delete orphan nodes; the next deadline */
int64_t ka_gc_tick(struct ka_prov *P, int64_t now);
void ka_gc_list_event(struct ka_prov *P, size_t ci, const char *kind, const cJSON *data);
/* The namespaces a cloud's pods may be in: its own, its templates', its
 * garbageCollection block's (a JSON array of strings). */
cJSON *ka_gc_namespaces(const struct ka_cloud *c);
/* Ask a worker of cloud ci for its pods (list/N); the job id, or NULL
 * (logged). */
char *ka_gc_submit_list(struct ka_prov *P, size_t ci);
/* plan.c */
void ka_plan(struct ka_prov *P, struct frontend *fe);
bool ka_plan_live(const struct agent *a);
/* The first cloud and template whose label string has the same atoms as
 * labels (a node kubeagent created, known only by its labels). */
bool ka_plan_template_for_labels(const struct ka_prov *P, const char *labels, size_t *ret_ci, size_t *ret_ti);

#endif
