/* The scheduler's clocks, against the simulator, on a fake clock that moves
 * only when the test says so (tests/bus/fakeclock.h): each rule is checked
 * on both sides of its deadline -- nothing happens 1 ms before it, the
 * agent ends at it -- with no waiting for minutes.  The bus, the worker
 * and the simulator keep real time.
 *   - idleMinutes: an idle reusable agent takes new demand within the
 *     window, and ends (node and pod deleted) once idle that long; one that
 *     never had a build is idle since it came online;
 *   - slaveConnectTimeout: not registered by the frontend, pod not Ready,
 *     agent not connected -- each ends the agent with the plugin's words and
 *     frees its slot of the caps; an agent that was online and lost its
 *     connection has that long to come back, from when it went or from its
 *     controller's restart;
 *   - retentionTimeout: a single-use agent online with no build ends; the
 *     node of an agent that failed stays while its item waits, that long
 *     at most;
 *   - gcPeriod: an online agent no waiting item wants ends after it, and
 *     a node of ours with nothing behind it is deleted after it;
 *   - a registration the frontend could not make for now is asked again
 *     after 2 s, then 4 s;
 *   - an ended agent's name is remembered for 10 minutes (a resumed build
 *     waiting for its node gets it back within them);
 *   - garbage collection: an orphan pod goes once its heartbeat is older
 *     than the timeout, not when it is just that old. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bus/fakeclock.h"
#include "harness.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

#define MINUTE 60000
#define SCT 100000     /* slaveConnectTimeout: 100 */
#define GC_PERIOD 2000 /* the harness's */

#define T(name, extra) "          - name: " name "\n            label: " name "\n" extra

static const char clouds[] =
        H_CLOUD("        containerCap: 10\n"
                "        retentionTimeout: 5\n"
                "        garbageCollection: {timeout: 120}\n") T("reuse", "            idleMinutes: 3\n" H_SLEEPER)
                T("once", "            slaveConnectTimeout: 100\n" H_SLEEPER)
                        T("silent", "            slaveConnectTimeout: 100\n            instanceCap: 1\n" H_SLEEPER)
                                T("pending", "            slaveConnectTimeout: 100\n"
                                             "            nodeSelector: kubeagent.io/test=nowhere\n" H_SLEEPER);

/* ---- what the scheduler's table says ---- */

/* The agent is in one of the states "a|b" (or "gone" from the table). */
struct in_state {
        const char *name, *states;
};

static bool agent_in(struct harness *h, void *ud) {
        const struct in_state *w = ud;
        _cleanup_free_ char *s = h_agent_field(h, w->name, "state");
        return strstr(w->states, s ? s : "gone") != NULL;
}

static bool in(struct harness *h, const char *name, const char *states, int64_t timeout_ms) {
        struct in_state w = {name, states};
        return h_until(h, timeout_ms, agent_in, &w);
}

/* The scheduler saw the agent's pod stuck for reason ud. */
struct pod_reason {
        const char *name, *reason;
};

static bool pod_reason_is(struct harness *h, void *ud) {
        const struct pod_reason *w = ud;
        _cleanup_free_ char *r = h_agent_field(h, w->name, "pod.reason");
        return ka_streq(r, w->reason);
}

struct want {
        const char *type, *name;
};

static bool got(struct harness *h, void *ud) {
        const struct want *w = ud;
        return h_msg_for(h, w->type, w->name) != NULL;
}

static const char *offline_reason(struct harness *h, const char *name) {
        return ka_json_str(h_msg_for(h, "agent.offline", name), "reason");
}

static bool pod_gone(struct harness *h, void *ud) {
        return h_pod(h, ud) == NULL;
}

static bool pod_present(struct harness *h, void *ud) {
        return h_pod(h, ud) != NULL;
}

static bool clean(struct harness *h, void *ud) {
        (void)ud;
        return h_table_size(h) == 0 && h->live == 0 && h_nodes(h) == 0;
}

/* Demand items for label; the name of the next agent planned (NULL). */
static char *planned(struct harness *h, const char *label, const int64_t *ids, size_t n) {
        size_t before = h_count(h, "agent.register");
        h_demand(h, label, ids, n);
        if (!h_until(h, 20000, h_registers_over, (void *)(uintptr_t)before))
                return NULL;
        return ka_strdup(ka_json_str(h_msg(h, "agent.register", before), "name"));
}

/* The node is online and the scheduler took it in. */
static bool online(struct harness *h, const char *name) {
        return h_until(h, 20000, h_is_online, (void *)name) && in(h, name, "online", 10000);
}

/* Move the scheduler's clock, once it took in what the frontend said at
 * the old time, and let it act on the new one. */
static void tick(struct harness *h, int64_t ms) {
        h_settle(h);
        advance(ms);
        h_settle(h);
}

/* Agent name stays `waits` until 1 ms before its deadline, ms from now,
 * and fails at it: the reason the frontend is told (agent.offline). */
static const char *fails_at(struct harness *h, const char *what, const char *name, const char *waits, int64_t ms) {
        tick(h, ms - 1);
        ok(in(h, name, waits, 0), "%s: 1 ms before its deadline it is still %s", what, waits);
        tick(h, 1);
        ok(in(h, name, "ending|ended|gone", 0), "%s: at its deadline it ends", what);
        struct want off = {"agent.offline", name};
        ok(h_until(h, 10000, got, &off), "%s: the frontend is told", what);
        return offline_reason(h, name);
}

/* ---- idleMinutes ---- */

static void idle_minutes(struct harness *h) {
        int64_t id = 1;
        char *name = planned(h, "reuse", &id, 1);
        ok(name && online(h, name), "reuse: the agent is online");
        if (!name)
                return;
        h_demand(h, "reuse", NULL, 0);
        h_node_state(h, name, "busy", NULL);
        h_node_state(h, name, "idle", "SUCCESS");
        h_settle(h);
        ok(in(h, name, "idle", 0), "reuse: after its build the reusable agent stays, idle");

        /* new demand within the window: the idle agent takes it */
        tick(h, 3 * MINUTE - 1);
        size_t registers = h_count(h, "agent.register");
        id = 2;
        h_demand(h, "reuse", &id, 1);
        h_settle(h);
        is_int(h_count(h, "agent.register"), registers,
               "reuse: idle 3 min less 1 ms, it serves new demand: "
               "no agent is planned");
        h_demand(h, "reuse", NULL, 0); /* Jenkins gives it the item */
        h_node_state(h, name, "busy", NULL);
        tick(h, 10 * MINUTE);
        ok(in(h, name, "busy", 0), "reuse: a busy agent has no idle deadline");
        h_node_state(h, name, "idle", "SUCCESS");
        h_settle(h); /* idle again since now */

        tick(h, 3 * MINUTE - 1);
        ok(in(h, name, "idle", 0) && h_pod(h, name), "reuse: idle 3 min less 1 ms after its second build, it stays");
        ok(h_msg_for(h, "agent.delete", name) == NULL, "reuse: and its node stays");
        tick(h, 1);
        ok(in(h, name, "ending|ended|gone", 0), "reuse: idle 3 min, it ends");
        struct want del = {"agent.delete", name};
        ok(h_until(h, 20000, got, &del), "reuse: its node is deleted");
        ok(h_until(h, 20000, pod_gone, name), "reuse: and its pod");
        ok(h_log_contains(h, "ends: idle for 3 minutes"), "reuse: the log says why");
        ok(h_msg_for(h, "agent.offline", name) == NULL, "reuse: ending idle is no failure");
        ok(h_until(h, 20000, clean, NULL), "reuse: nothing is left");
        free(name);

        /* one that never had a build is idle since it came online */
        id = 3;
        name = planned(h, "reuse", &id, 1);
        ok(name && online(h, name), "reuse, unused: the agent is online");
        if (!name)
                return;
        h_demand(h, "reuse", NULL, 0); /* the item went elsewhere */
        tick(h, 3 * MINUTE - 1);
        ok(in(h, name, "online", 0), "reuse, unused: online 3 min less 1 ms, it stays (no gcPeriod for a reusable "
                                     "agent)");
        tick(h, 1);
        ok(in(h, name, "ending|ended|gone", 0), "reuse, unused: online 3 min with no build, it ends");
        ok(h_until(h, 20000, clean, NULL), "reuse, unused: nothing is left");
        free(name);
}

/* ---- slaveConnectTimeout ---- */

static void not_registered(struct harness *h) {
        h->auto_register = false;
        int64_t id = 10;
        char *name = planned(h, "once", &id, 1);
        ok(name != NULL, "unregistered: an agent is planned, its node never registered");
        if (!name) {
                h->auto_register = true;
                return;
        }
        h->auto_register = true; /* the next one is registered */
        size_t registers = h_count(h, "agent.register");
        /* slaveConnectTimeout after it was planned */
        is_str(fails_at(h, "unregistered", name, "registering", SCT),
               "jenkins did not register the agent within 100 seconds", "unregistered: why");
        ok(!h_item_failed(h, &id), "unregistered: its item does not fail");
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)registers), "unregistered: another agent is planned "
                                                                              "for it");
        const char *next = ka_json_str(h_msg(h, "agent.register", registers), "name");
        ok(next && !ka_streq(next, name), "unregistered: under another name");
        free(name);
}

/* Follows not_registered(): the agent planned again for item 10. */
static void retention_online(struct harness *h) {
        const char *n = ka_json_str(h_msg(h, "agent.register", h_count(h, "agent.register") - 1), "name");
        char *name = ka_strdup(n);
        ok(name && online(h, name), "online: a single-use agent is online, its item waiting");
        if (!name)
                return;
        tick(h, 5 * MINUTE - 1);
        ok(in(h, name, "online", 0), "online: 5 min less 1 ms with no build, it stays (retentionTimeout 5)");
        h_demand(h, "once", NULL, 0); /* the item goes: no agent planned again */
        h_settle(h);
        tick(h, 1);
        ok(in(h, name, "ending|ended|gone", 0), "online: after retentionTimeout with no build, it ends");
        ok(h_until(h, 20000, clean, NULL), "online: nothing is left");
        ok(h_log_contains(h, "no build came for it in 5 minutes"), "online: the log says why");
        free(name);
}

static void not_ready(struct harness *h) {
        int64_t id = 20;
        char *name = planned(h, "pending", &id, 1);
        ok(name && h_until(h, 20000, pod_present, name), "not ready: the pod is created and cannot be scheduled");
        if (!name)
                return;
        struct pod_reason unschedulable = {name, "Unschedulable"};
        ok(in(h, name, "starting", 20000) && h_until(h, 20000, pod_reason_is, &unschedulable),
           "not ready: the agent is starting, its pod Unschedulable");
        size_t registers = h_count(h, "agent.register");
        /* slaveConnectTimeout after the pod was created */
        like(fails_at(h, "not ready", name, "starting", SCT),
             "Pod is not Ready after 100 seconds: Unschedulable: 0/3 nodes are available",
             "not ready: why, with the pod's reason");
        ok(h_until(h, 20000, pod_gone, name), "not ready: its pod is deleted");
        ok(!h_item_failed(h, &id), "not ready: its item does not fail (it may schedule next time)");
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)registers),
           "not ready: another agent is planned for it");
        char *next = ka_strdup(ka_json_str(h_msg(h, "agent.register", registers), "name"));
        ok(next && h_until(h, 20000, pod_present, next) && in(h, next, "starting", 20000),
           "not ready: its pod is created");
        h_demand(h, "pending", NULL, 0);
        tick(h, SCT); /* the next one fails the same way */
        ok(h_until(h, 20000, clean, NULL), "not ready: once the item goes, nothing is left");
        free(name);
        free(next);
}

static void not_connected(struct harness *h) {
        h->auto_online = false;
        int64_t ids[] = {30, 31};
        char *name = planned(h, "silent", ids, 1);
        ok(name && in(h, name, "running", 20000), "silent: the pod is Ready, the agent never connects");
        if (!name) {
                h->auto_online = true;
                return;
        }
        /* slaveConnectTimeout after the pod was Ready */
        is_str(fails_at(h, "silent", name, "running", SCT), "Agent is not connected after 100 seconds, status: Running",
               "silent: the plugin's words");
        ok(h_until(h, 10000, h_item_failed, &ids[0]), "silent: its item gets demand.failed");
        ok(h_until(h, 20000, pod_gone, name), "silent: its pod is deleted");

        /* its slot is free at once (instanceCap 1) */
        size_t registers = h_count(h, "agent.register");
        h_demand(h, "silent", ids, 2);
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)registers), "silent: instanceCap 1 lets another "
                                                                              "agent come for the next item");
        char *next = ka_strdup(ka_json_str(h_msg(h, "agent.register", registers), "name"));

        /* its node shows the cause while item 30 waits: retentionTimeout at most */
        ok(in(h, next, "running", 20000), "silent: the next one's pod is Ready");
        tick(h, 5 * MINUTE - 1);
        ok(h_msg_for(h, "agent.delete", name) == NULL && h_node(h, name),
           "silent: 5 min less 1 ms after the failure, its node stays while its item waits");
        tick(h, 1);
        struct want del = {"agent.delete", name};
        ok(h_until(h, 10000, got, &del), "silent: after retentionTimeout the node is deleted all the same");
        ok(in(h, next, "ending|ended|gone", 0), "silent: (and the next one failed the same way)");
        h_demand(h, "silent", NULL, 0);
        ok(h_until(h, 20000, clean, NULL), "silent: once the items go, nothing is left");
        h->auto_online = true;
        free(name);
        free(next);
}

/* ---- gcPeriod ---- */

static void surplus(struct harness *h) {
        int64_t ids[] = {40, 41};
        char *first = planned(h, "once", ids, 1);
        ok(first && online(h, first), "surplus: an agent for item 40 is online");
        size_t registers = h_count(h, "agent.register");
        h_demand(h, "once", ids, 2);
        char *extra = h_until(h, 20000, h_registers_over, (void *)(uintptr_t)registers)
                              ? ka_strdup(ka_json_str(h_msg(h, "agent.register", registers), "name"))
                              : NULL;
        ok(extra && online(h, extra), "surplus: another for item 41 is online");
        if (!first || !extra) {
                free(first);
                free(extra);
                return;
        }
        h_demand(h, "once", ids, 1); /* item 41 went elsewhere */
        h_settle(h);
        tick(h, GC_PERIOD - 1);
        ok(in(h, extra, "online", 0), "surplus: unwanted for a gcPeriod less 1 ms, it stays");
        tick(h, 1);
        ok(in(h, extra, "ending|ended|gone", 0), "surplus: unwanted for a gcPeriod, it ends");
        ok(in(h, first, "online", 0), "surplus: the one an item waits for stays");
        h_demand(h, "once", NULL, 0);
        h_node_state(h, first, "busy", NULL);
        h_node_state(h, first, "idle", "SUCCESS");
        ok(h_until(h, 20000, clean, NULL), "surplus: both are gone");
        free(first);
        free(extra);
}

/* After a controller restart a block waits for its single-use agent's node
 * by name; another build took the node first and finished.  When the
 * block leaves the queue it most likely started there, and the report that
 * the node is busy may come after: the agent is given a gcPeriod to show
 * busy before it is taken as done. */
static char *resumed_on(struct harness *h, int64_t item) {
        char *name = planned(h, "once", &item, 1);
        if (!name || !online(h, name)) {
                free(name);
                return NULL;
        }
        h_demand(h, "once", NULL, 0);
        h_node_state(h, name, "busy", NULL); /* the block that will resume on it */
        int64_t resumed = item + 1;
        h_demand_node(h, name, &resumed, 1); /* the controller restarted: the block waits for the node */
        h_node_state(h, name, "busy", NULL); /* another build took the node first */
        h_node_state(h, name, "idle", "SUCCESS");
        h_settle(h);
        return name;
}

static void resumed(struct harness *h) {
        char *name = resumed_on(h, 50);
        ok(name && in(h, name, "idle", 0), "resumed: idle after another build, kept while the block waits");
        if (name) {
                h_demand_node(h, name, NULL, 0); /* the block left the queue: it started there */
                tick(h, GC_PERIOD - 1);
                ok(in(h, name, "idle", 0), "resumed: the block left the queue; a gcPeriod less 1 ms later, it stays");
                h_node_state(h, name, "busy", NULL);
                tick(h, 1);
                ok(in(h, name, "busy", 0), "resumed: the node shows busy with the block: it stays");
                tick(h, GC_PERIOD);
                ok(in(h, name, "busy", 0), "resumed: however long the block runs");
                h_node_state(h, name, "idle", "SUCCESS");
                ok(in(h, name, "ending|ended|gone", 10000), "resumed: it ends when the block is done");
                ok(h_until(h, 20000, clean, NULL), "resumed: nothing is left");
        }
        free(name);

        name = resumed_on(h, 60);
        ok(name && in(h, name, "idle", 0), "resumed, cancelled: kept while the block waits");
        if (name) {
                h_demand_node(h, name, NULL, 0); /* the block was cancelled: the node stays idle */
                tick(h, GC_PERIOD - 1);
                ok(in(h, name, "idle", 0), "resumed, cancelled: a gcPeriod less 1 ms later, it stays");
                tick(h, 1);
                ok(in(h, name, "ending|ended|gone", 0), "resumed, cancelled: a gcPeriod later, it ends");
                ok(h_until(h, 20000, clean, NULL), "resumed, cancelled: nothing is left");
        }
        free(name);
}

/* An agent that was online and disconnects -- a network blip, a controller
 * restart -- is not ended for it: it has slaveConnectTimeout to come back,
 * counted from when it went, or from its controller's restart. */
static void disconnected(struct harness *h) {
        h->auto_online = false; /* the test says when the agent connects */
        int64_t id = 70;
        char *name = planned(h, "once", &id, 1);
        ok(name && h_until(h, 20000, pod_present, name) && in(h, name, "running", 20000),
           "disconnected: an agent's pod is Ready");
        if (!name) {
                h->auto_online = true;
                return;
        }
        h_node_state(h, name, "online", NULL);
        h_demand(h, "once", NULL, 0);
        h_node_state(h, name, "busy", NULL);
        tick(h, 30 * MINUTE); /* a long build */
        ok(in(h, name, "busy", 0), "disconnected: its build runs for 30 min");
        h_node_state(h, name, "offline", NULL); /* the agent loses its connection */
        tick(h, SCT - 1);
        ok(in(h, name, "running", 0) && h_pod(h, name), "disconnected: 100 s less 1 ms later it may still come back");
        h_node_state(h, name, "busy", NULL);
        tick(h, SCT);
        ok(in(h, name, "busy", 0), "disconnected: it came back and goes on");

        h_node_state(h, name, "offline", NULL); /* the controller goes down */
        tick(h, SCT - 1);
        h_hello(h); /* and is back */
        tick(h, SCT - 1);
        ok(in(h, name, "running", 0), "disconnected: 100 s less 1 ms after its controller restarted, it may still "
                                      "come back");
        tick(h, 1);
        ok(in(h, name, "ending|ended|gone", 0), "disconnected: after slaveConnectTimeout it ends");
        struct want off = {"agent.offline", name};
        ok(h_until(h, 10000, got, &off), "disconnected: the frontend is told");
        is_str(offline_reason(h, name), "Agent is not connected again after 100 seconds, status: Running",
               "disconnected: why");
        ok(!h_item_failed(h, &id), "disconnected: an agent that had come online fails no item");
        ok(h_until(h, 20000, clean, NULL), "disconnected: nothing is left");
        h->auto_online = true;
        free(name);
}

/* ---- the frontend's answers, nodes and names ---- */

static size_t count_for(const struct harness *h, const char *type, const char *name) {
        size_t n = 0;
        for (size_t i = 0; i < h_count(h, type); i++)
                n += ka_streq(ka_json_str(h_msg(h, type, i), "name"), name);
        return n;
}

struct count_for {
        const char *type, *name;
        size_t n;
};

static bool counted(struct harness *h, void *ud) {
        const struct count_for *c = ud;
        return count_for(h, c->type, c->name) >= c->n;
}

static void register_failed(struct harness *h, const char *name) {
        cJSON *m = cJSON_CreateObject();
        ka_json_set_str(m, "name", name);
        ka_json_set_str(m, "error", "HTTP 503 from the controller");
        ka_json_set_bool(m, "retry", true);
        h_send(h, "agent.register-failed", m);
}

/* A registration that failed for a reason that passes is asked for again
 * after 2 s, then 4 s, ... */
static void register_retry(struct harness *h) {
        h->auto_register = false;
        int64_t id = 50;
        char *name = planned(h, "once", &id, 1);
        ok(name != NULL, "retry: an agent is planned");
        if (!name) {
                h->auto_register = true;
                return;
        }
        for (int64_t tries = 1; tries <= 2; tries++) {
                register_failed(h, name);
                tick(h, 2000 * tries - 1);
                is_int(count_for(h, "agent.register", name), tries,
                       "retry: %" PRId64 " ms less 1 after failure %" PRId64 ", not asked again", 2000 * tries, tries);
                if (tries == 2)
                        h->auto_register = true; /* the last one is answered */
                tick(h, 1);
                struct count_for c = {"agent.register", name, (size_t)tries + 1};
                ok(h_until(h, 10000, counted, &c), "retry: %" PRId64 " ms after, asked again", 2000 * tries);
        }
        ok(online(h, name), "retry: registered at last, the agent comes online");
        h_demand(h, "once", NULL, 0);
        h_node_state(h, name, "busy", NULL);
        h_node_state(h, name, "idle", "SUCCESS");
        ok(h_until(h, 20000, clean, NULL), "retry: it ends after its build");
        free(name);
}

/* A node of ours with no agent or pod behind it goes after a gcPeriod. */
static void orphan_node(struct harness *h) {
        const char *name = "t-once-orphan";
        h_node_add(h, name, "once");
        tick(h, GC_PERIOD - 1);
        ok(count_for(h, "agent.delete", name) == 0 && h_node(h, name),
           "orphan node: after a gcPeriod less 1 ms it stays");
        tick(h, 1);
        struct want del = {"agent.delete", name};
        ok(h_until(h, 10000, got, &del), "orphan node: after a gcPeriod it is deleted");
        ok(h_until(h, 10000, clean, NULL), "orphan node: nothing is left");
}

/* An ended agent's name is remembered for 10 minutes: a build resumed
 * after a controller restart that waits for its node gets the node back
 * within them, not after. */
static void remembered(struct harness *h) {
        int64_t ids[] = {60, 61};
        size_t before = h_count(h, "agent.register");
        h_demand(h, "once", ids, 2);
        bool two = h_until(h, 20000, h_registers_over, (void *)(uintptr_t)(before + 1));
        char *x = two ? ka_strdup(ka_json_str(h_msg(h, "agent.register", before), "name")) : NULL;
        char *y = two ? ka_strdup(ka_json_str(h_msg(h, "agent.register", before + 1), "name")) : NULL;
        ok(two && online(h, x) && online(h, y), "remembered: two single-use agents online");
        if (!two)
                return;
        h_demand(h, "once", NULL, 0);
        for (int i = 0; i < 2; i++) {
                h_node_state(h, i ? y : x, "busy", NULL);
                h_node_state(h, i ? y : x, "idle", "SUCCESS");
        }
        ok(h_until(h, 20000, clean, NULL), "remembered: both end after their builds");
        tick(h, 10 * MINUTE);
        int64_t id = 62;
        h_demand_node(h, x, &id, 1);
        struct count_for back = {"agent.register", x, 2};
        ok(h_until(h, 10000, counted, &back), "remembered: 10 min after it ended, a node waited for comes back");
        tick(h, 1);
        id = 63;
        h_demand_node(h, y, &id, 1);
        h_settle(h);
        is_int(count_for(h, "agent.register", y), 1, "remembered: 1 ms later, the other's name is forgotten");
        h_demand_node(h, y, NULL, 0);
        ok(online(h, x), "remembered: the agent brought back comes online");
        h_demand_node(h, x, NULL, 0);
        h_node_state(h, x, "busy", NULL);
        h_node_state(h, x, "idle", "SUCCESS");
        ok(h_until(h, 20000, clean, NULL), "remembered: nothing is left");
        free(x);
        free(y);
}

/* ---- garbage collection ---- */

/* What a garbage collection now would do to pod name: "" (nothing), or
 * its reason; the caller frees it. */
static char *gc_verdict(struct harness *h, const char *name, bool dry) {
        cJSON *ret = NULL;
        struct ka_error err = {0};
        if (ka_prov_gc_run(h->prov, dry, 10000, &ret, &err) < 0) {
                tap_diag("gc: %s", err.msg);
                return ka_strdup("(failed)");
        }
        char *why = ka_strdup("");
        const cJSON *e;
        cJSON_ArrayForEach(e, ret) {
                if (ka_streq(ka_json_str(e, "what"), "pod") && ka_streq(ka_json_str(e, "name"), name)) {
                        free(why);
                        why = ka_strdup(ka_json_str(e, "reason"));
                }
        }
        cJSON_Delete(ret);
        return why;
}

/* A pod of ours with no agent goes once its heartbeat is older than the
 * timeout (120 s), by the scheduler's clock -- not when it is just that old. */
static void heartbeat(struct harness *h) {
        h_make_pod(h, "ci", "gc-edge", true, now.wall - 120000);
        ok(h_until(h, 20000, pod_present, "gc-edge"), "gc: an orphan pod whose heartbeat is 120 s old");
        char *why = gc_verdict(h, "gc-edge", true);
        is_str(why, "", "gc: a heartbeat as old as the timeout is not stale");
        free(why);
        advance(1);
        why = gc_verdict(h, "gc-edge", true);
        is_str(why, "heartbeat 2m00s ago, no agent", "gc: 1 ms older, it is");
        free(why);
        why = gc_verdict(h, "gc-edge", false);
        is_str(why, "heartbeat 2m00s ago, no agent", "gc: a pass deletes it");
        free(why);
        ok(h_until(h, 20000, pod_gone, "gc-edge"), "gc: the pod is gone");
}

int main(void) {
        struct harness h;
        now.wall = ka_time_wall_ms_real(); /* the worker writes real times into pods */
        struct h_options o = {.clock = &fake_clock};
        if (!h_begin(&h, clouds, &o))
                return 0;
        idle_minutes(&h);
        not_registered(&h);
        retention_online(&h);
        not_ready(&h);
        not_connected(&h);
        surplus(&h);
        resumed(&h);
        disconnected(&h);
        register_retry(&h);
        orphan_node(&h);
        remembered(&h);
        heartbeat(&h);
        h_stop(&h);
        return tap_done();
}
