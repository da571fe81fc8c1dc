/* Agents' lives beyond the simple case, against the simulator:
 *   - retention: each policy keeps or deletes the pod as §1.8 says (kept
 *     pods are marked kubeagent.io/kept), default defers to the cloud;
 *   - idleMinutes: an idle agent takes the next build of its label;
 *   - bring back: a node waited for by name gets its pod back (a pipeline
 *     resumed after a Jenkins restart); a single-use agent whose node
 *     another build took first stays for the resumed one, and one that
 *     ended meanwhile comes back under its name, its pod once the old one
 *     went;
 *   - restart: a new core adopts the pods it finds, and a burst goes on
 *     across a restart with no pod created twice and nothing left over;
 *   - garbage collection: exactly the orphans go — pods with a stale
 *     heartbeat and no agent (in every configured namespace), nodes with
 *     no pod — while live agents' pods, fresh orphans, pods without a
 *     heartbeat and foreign pods stay.
 * The deadlines (idleMinutes, slaveConnectTimeout, retentionTimeout, the
 * gcPeriod of a surplus agent) are in timers.c, on a fake clock. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kube/pods.h"
#include "provision/proto.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

#define T(name, extra) "          - name: " name "\n            label: " name "\n" extra H_SLEEPER

static const char clouds[] =
        H_CLOUD("        containerCap: 10\n"
                "        podRetention: never\n"
                "        garbageCollection:\n"
                "          namespaces: other\n"
                "          timeout: 120\n") T("never", "            podRetention: never\n")
                T("always", "            podRetention: always\n") T("onfail", "            podRetention: onFailure\n")
                        T("evicted", "            podRetention: evicted\n") T("dflt", "")
                                T("reuse", "            idleMinutes: 5\n") T("burst", "")
                                        T("pvc", "            workspaceVolume:\n"
                                                 "              dynamicPVC: {requestsSize: 1Gi}\n")
        "          - name: onfailexit\n"
        "            label: onfailexit\n"
        "            podRetention: onFailure\n"
        "            containers:\n"
        "              - {name: jnlp, image: busybox, command: sh, args: \"-c 'sleep 1; exit 1'\"}\n"
        "    - kubernetes:\n"
        "        name: keeper\n"
        "        credentialsId: @CRED@\n"
        "        namespace: ci\n"
        "        qps: 200\n"
        "        podRetention: always\n"
        "        templates:\n" T("kdefault", "");

static bool table_empty(struct harness *h, void *ud) {
        (void)ud;
        return h_table_size(h) == 0 && h_nodes(h) == 0;
}

static bool pod_gone(struct harness *h, void *ud) {
        return h_pod(h, ud) == NULL;
}

static bool pod_kept(struct harness *h, void *ud) {
        const cJSON *p = h_pod(h, ud);
        return p && ka_json_str(ka_json_path(p, "metadata.annotations"), KA_ANN_KEPT) != NULL;
}

static char *start(struct harness *h, const char *label, int64_t id) {
        size_t before = h_count(h, "agent.register");
        h_demand(h, label, &id, 1);
        if (!h_until(h, 20000, h_registers_over, (void *)(uintptr_t)before))
                return NULL;
        char *name = ka_strdup(ka_json_str(h_msg(h, "agent.register", before), "name"));
        if (!h_until(h, 20000, h_is_online, name)) {
                free(name);
                return NULL;
        }
        h_demand(h, label, NULL, 0);
        h_node_state(h, name, "busy", NULL);
        return name;
}

enum ending { BUILD_OK, EVICT, EXIT };

static void policy(struct harness *h, const char *label, enum ending how, bool keep, int64_t id) {
        char *name = start(h, label, id);
        ok(name != NULL, "%s: the agent is online and busy", label);
        if (!name)
                return;
        if (how == BUILD_OK) {
                h_node_state(h, name, "idle", "SUCCESS");
        } else if (how == EVICT) {
                char body[256];
                snprintf(body, sizeof(body), "{\"namespace\": \"ci\", \"name\": \"%s\"}", name);
                sim_admin(&h->sim, "POST", "/evict", body, NULL);
        } /* EXIT: the container exits by itself */
        ok(h_until(h, 30000, table_empty, NULL), "%s: the agent ends and its node goes", label);
        if (keep)
                ok(h_until(h, 20000, pod_kept, name), "%s: the pod is kept and marked %s", label, KA_ANN_KEPT);
        else
                ok(h_until(h, 20000, pod_gone, name), "%s: the pod is deleted", label);
        free(name);
}

static void retention(struct harness *h) {
        policy(h, "never", BUILD_OK, false, 10);
        policy(h, "always", BUILD_OK, true, 11);
        policy(h, "onfail", BUILD_OK, false, 12);    /* Running: deleted */
        policy(h, "onfailexit", EXIT, true, 13);     /* Failed: kept */
        policy(h, "evicted", EVICT, true, 14);       /* Failed, reason Evicted: kept */
        policy(h, "evicted", BUILD_OK, false, 15);   /* not evicted: deleted */
        policy(h, "dflt", BUILD_OK, false, 16);      /* default -> cloud never */
        policy(h, "kdefault", BUILD_OK, true, 17);   /* default -> cloud always */
}

/* A dynamic PVC workspace: the worker creates the claim after the pod,
 * with the pod as its owner, and the pod starts once the claim is there. */
static void dynamic_pvc(struct harness *h) {
        char *name = start(h, "pvc", 40);
        ok(name != NULL, "pvc: an agent whose workspace is a dynamic PVC comes online");
        if (!name)
                return;
        const cJSON *pod = h_pod(h, name), *vol;
        const char *claim = NULL;
        cJSON_ArrayForEach(vol, ka_json_path(pod, "spec.volumes"))
                if (ka_streq(ka_json_str(vol, "name"), "workspace-volume"))
                        claim = ka_json_path_str(vol, "persistentVolumeClaim.claimName");
        ok(claim != NULL, "pvc: the pod's workspace volume names a claim");
        char path[256];
        snprintf(path, sizeof(path), "/api/v1/namespaces/ci/persistentvolumeclaims/%s", claim ? claim : "x");
        struct ka_kube_response resp = {0};
        struct ka_error err = {0};
        struct ka_kube_request req = {.method = "GET", .path = path};
        cJSON *pvc = NULL;
        if (ka_kube_request(h->kube, &req, &resp, &err) == 0)
                ka_json_parse(resp.body, resp.len, &pvc, &err);
        ka_kube_response_clear(&resp);
        const cJSON *owner = cJSON_GetArrayItem(ka_json_path(pvc, "metadata.ownerReferences"), 0);
        is_str(ka_json_str(owner, "kind"), "Pod", "pvc: the claim exists, owned by a pod");
        is_str(ka_json_str(owner, "uid"), ka_json_path_str(pod, "metadata.uid"), "pvc: by the agent's pod");
        ok(ka_json_bool(owner, "controller", false), "pvc: as its controller");
        is_str(ka_json_path_str(pvc, "spec.resources.requests.storage"), "1Gi", "pvc: of the size asked for");
        cJSON_Delete(pvc);
        h_node_state(h, name, "idle", "SUCCESS");
        ok(h_until(h, 20000, table_empty, NULL), "pvc: the agent ends");
        free(name);
}

static bool synced(struct harness *h, void *ud) {
        (void)ud;
        return h->synced;
}

/* The agent is in the (new) core's table in one of the states "a|b". */
struct in_state {
        const char *name, *states;
};

static bool agent_in(struct harness *h, void *ud) {
        const struct in_state *w = ud;
        cJSON *a = ka_prov_agents_json(h->prov);
        bool found = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, a) {
                if (ka_streq(ka_json_str(e, "name"), w->name) && strstr(w->states, ka_json_str(e, "state")))
                        found = true;
        }
        cJSON_Delete(a);
        return found;
}

/* An idle reusable agent takes the next build; then the core restarts and
 * finds it again, without registering or creating anything. */
static void reuse_and_restart(struct harness *h) {
        size_t registers = h_count(h, "agent.register");
        char *name = start(h, "reuse", 20);
        ok(name != NULL, "reuse: the agent is online and busy");
        if (!name)
                return;
        h_node_state(h, name, "idle", "SUCCESS");
        int64_t id = 21;
        h_demand(h, "reuse", &id, 1);
        struct in_state idle = {name, "idle"};
        ok(h_until(h, 10000, agent_in, &idle), "reuse: after its build the agent stays, idle");
        /* Jenkins gives the waiting item to the idle node */
        h_demand(h, "reuse", NULL, 0);
        h_node_state(h, name, "busy", NULL);
        h_node_state(h, name, "idle", "SUCCESS");
        ok(h_until(h, 10000, agent_in, &idle) && h_pod(h, name), "reuse: after the second build it is still there");
        is_int(h_count(h, "agent.register") - registers, 1, "reuse: one agent served both builds");

        long posts = sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201");
        registers = h_count(h, "agent.register");
        h_restart_core(h);
        ok(h_until(h, 20000, synced, NULL), "restart: the frontend is welcomed by the new core");
        ok(h_until(h, 20000, agent_in, &idle), "restart: the new core adopts the agent from its pod and node");
        is_int(h_table_size(h), 1, "restart: and nothing else (kept pods are not agents)");
        is_int(h_count(h, "agent.register"), registers, "restart: nothing is registered again");
        is_int(sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201"), posts, "restart: nothing is created");
        h_node_state(h, name, "gone", NULL); /* someone deletes the node */
        ok(h_until(h, 20000, pod_gone, name), "restart: a node removed from Jenkins ends the agent and its pod");
        ok(h_until(h, 20000, table_empty, NULL), "restart: the table is empty");
        free(name);
}

static bool pod_present(struct harness *h, void *ud) {
        return h_pod(h, ud) != NULL;
}

/* Agent ud (a name) is ending, or gone from the table. */
static bool ended(struct harness *h, void *ud) {
        cJSON *a = ka_prov_agents_json(h->prov);
        bool done = true;
        const cJSON *e;
        cJSON_ArrayForEach(e, a) {
                if (ka_streq(ka_json_str(e, "name"), ud))
                        done = strstr("ending|ended", ka_json_str(e, "state")) != NULL;
        }
        cJSON_Delete(a);
        return done;
}

/* The agent planned for the next item of expression: its name (the
 * caller frees it), once it is online. */
static char *next_agent(struct harness *h, const char *expression, int64_t id) {
        size_t registers = h_count(h, "agent.register");
        h_demand(h, expression, &id, 1);
        if (!h_until(h, 20000, h_registers_over, (void *)(uintptr_t)registers))
                return NULL;
        char *name = ka_strdup(ka_json_str(h_msg(h, "agent.register", registers), "name"));
        return h_until(h, 20000, h_is_online, name) ? name : (free(name), NULL);
}

/* After a Jenkins restart the node of a single-use agent came back online
 * and another build took it first; the resumed block waits for the node by
 * name.  The agent stays for it; once nothing waits for it, it goes.  When
 * the block waits for a node that ended meanwhile, node and pod come back
 * under the name (the pod once its predecessor is gone). */
static void resumed_elsewhere(struct harness *h) {
        char *name = next_agent(h, "dflt", 70);
        ok(name != NULL, "resumed: a single-use agent online");
        if (!name)
                return;
        h_node_state(h, name, "busy", NULL); /* the block that will resume on it */
        h_demand(h, "dflt", NULL, 0);
        int64_t id = 71;
        h_demand_node(h, name, &id, 1); /* Jenkins restarted: the block waits for the node by name */
        h_node_state(h, name, "busy", NULL); /* another build took the node first */
        h_node_state(h, name, "idle", "SUCCESS");
        struct in_state idle = {name, "idle|ending|ended"};
        ok(h_until(h, 20000, agent_in, &idle), "resumed: the other build finished");
        struct in_state still = {name, "idle"};
        ok(agent_in(h, &still), "resumed: the single-use agent stays while a block waits for its node");
        h_demand_node(h, name, NULL, 0); /* the block resumed elsewhere, or was cancelled */
        ok(h_until(h, 20000, ended, name), "resumed: it ends once nothing waits for it");
        ok(h_until(h, 20000, table_empty, NULL), "resumed: its node is deleted");

        size_t registers = h_count(h, "agent.register");
        id = 72;
        h_demand_node(h, name, &id, 1); /* a block waits for the node of an agent that ended */
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)registers) &&
                   ka_streq(ka_json_str(h_msg(h, "agent.register", registers), "name"), name),
           "resumed: an ended agent's node is registered again under its name");
        ok(h_until(h, 20000, h_is_online, name), "resumed: with a new pod of that name, whose agent connects");
        ok(h_log_contains(h, "the ended agent ") && h_log_contains(h, " has no pod: bringing it back"),
           "resumed: the log says so");
        h_demand_node(h, name, NULL, 0);
        h_node_state(h, name, "busy", NULL);
        h_node_state(h, name, "idle", "SUCCESS");
        ok(h_until(h, 20000, table_empty, NULL), "resumed: and it ends after its build");
        free(name);
}

/* A pipeline resumed after a Jenkins restart waits for the very node it
 * ran on; the node is there (offline) but its pod is not: the pod comes
 * back under the node's name, from the template with the node's labels. */
static void bring_back(struct harness *h) {
        const char *name = "t-reuse-back1";
        size_t registers = h_count(h, "agent.register");
        h_node_add(h, name, "reuse");
        int64_t id = 40;
        h_demand_node(h, name, &id, 1);
        ok(h_until(h, 20000, pod_present, (void *)name), "bring back: the node's pod is created under its name");
        const cJSON *pod = h_pod(h, name);
        is_str(pod ? ka_json_str(ka_json_path(pod, "metadata.labels"), "jenkins/label") : NULL, "reuse",
               "bring back: from the template with the node's labels");
        ok(h_until(h, 20000, h_is_online, (void *)name), "bring back: the agent reconnects");
        is_int(h_count(h, "agent.register") - registers, 1, "bring back: the node is registered once, by name");
        h_demand_node(h, name, NULL, 0);
        h_node_state(h, name, "busy", NULL);
        h_node_state(h, name, "gone", NULL);
        ok(h_until(h, 20000, table_empty, NULL), "bring back: the agent ends with its node");
}

struct burst {
        int64_t ids[6];
        size_t waiting, served;
        bool restarted;
};

static size_t burst_pods(struct harness *h) {
        size_t n = 0, it = 0;
        void *v;
        while (ka_hashmap_next(&h->pods, &it, NULL, &v)) {
                const cJSON *p = ((struct h_pod *)v)->pod;
                n += ka_streq(ka_json_str(ka_json_path(p, "metadata.labels"), "jenkins/label"), "burst");
        }
        return n;
}

static bool burst_step(struct harness *h, void *ud) {
        struct burst *b = ud;
        if (!b->restarted && burst_pods(h) >= 2) {
                /* some agents have pods, some are still being registered */
                b->restarted = true;
                h_restart_core(h);
                return false;
        }
        b->served += h_serve(h, "burst", b->ids, &b->waiting);
        return b->restarted && b->waiting == 0 && h_table_size(h) == 0 && h_nodes(h) == 0 && burst_pods(h) == 0;
}

static void burst_across_restart(struct harness *h) {
        long posts = sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201");
        struct burst b = {.waiting = 6};
        for (int i = 0; i < 6; i++)
                b.ids[i] = 100 + i;
        h_demand(h, "burst", b.ids, b.waiting);
        ok(h_until(h, 60000, burst_step, &b), "burst: 6 builds are served across a restart of the core");
        is_int(b.served, 6, "burst: each build once");
        is_int(sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201") - posts, 6,
               "burst: 6 pods were created: none twice");
        ok(table_empty(h, NULL) && burst_pods(h) == 0, "burst: no pod, node or agent is left over");
}

/* ---- garbage collection ---- */

static bool gc_logged(struct harness *h, void *ud) {
        cJSON *log = ka_prov_gc_json(h->prov);
        bool found = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, log) found |= ka_streq(ka_json_str(e, "name"), ud);
        cJSON_Delete(log);
        return found;
}

static bool both_gone(struct harness *h, void *ud) {
        (void)ud;
        return !h_pod(h, "gc-stale") && gc_logged(h, "gc-other");
}

static bool fresh_heartbeat(struct harness *h, void *ud) {
        const cJSON *p = h_pod(h, ud);
        int64_t v = 0;
        const char *s = p ? ka_json_str(ka_json_path(p, "metadata.annotations"), KA_ANN_LAST_REFRESH) : NULL;
        return s && ka_parse_int64(s, &v) == 0 && ka_time_wall_ms_real() - v < 60000;
}

static bool node_deleted(struct harness *h, void *ud) {
        return h_msg_for(h, "agent.delete", ud) && !h_node(h, ud);
}

static void gc(struct harness *h) {
        int64_t now = ka_time_wall_ms_real(), old = now - 3600 * 1000;
        cJSON *before = ka_prov_gc_json(h->prov);
        int earlier = cJSON_GetArraySize(before); /* the restart's orphan nodes */
        cJSON_Delete(before);
        char *live = start(h, "never", 30);
        ok(live != NULL, "gc: a live agent");
        if (!live)
                return;
        /* its heartbeat is made stale: the agent owns it, so it stays (and the worker refreshes it) */
        cJSON *patch = cJSON_CreateObject();
        char v[24];
        snprintf(v, sizeof(v), "%" PRId64, old);
        ka_json_set_str(ka_json_object(ka_json_object(patch, "metadata"), "annotations"), KA_ANN_LAST_REFRESH, v);
        struct ka_error err = {0};
        ka_kube_pod_patch(h->kube, "ci", live, patch, NULL, &err);
        cJSON_Delete(patch);
        h_make_pod(h, "ci", "gc-stale", true, old);
        h_make_pod(h, "other", "gc-other", true, old);
        h_make_pod(h, "ci", "gc-fresh", true, now);
        h_make_pod(h, "ci", "gc-legacy", true, 0);
        h_make_pod(h, "ci", "gc-foreign", false, old);
        h_node_add(h, "t-orphan-bcdfg", "burst");
        ok(h_until(h, 30000, both_gone, NULL), "gc: the stale orphans in ci and in other are deleted");
        ok(h_until(h, 30000, node_deleted, "t-orphan-bcdfg"), "gc: a node with no pod is deleted through its frontend");
        h_make_pod(h, "ci", "gc-stale2", true, old);
        ok(h_until(h, 30000, gc_logged, "gc-stale2"), "gc: a later pass runs");
        cJSON *foreign = NULL;
        ka_kube_pod_get(h->kube, "ci", "gc-foreign", &foreign, &err);
        ok(h_pod(h, "gc-fresh") && h_pod(h, "gc-legacy") && foreign && !ka_json_path(foreign, "metadata.deletionTimestamp"),
           "gc: a fresh orphan, one without a heartbeat and a foreign pod stay");
        cJSON_Delete(foreign);
        ok(h_pod(h, live) && !h_msg_for(h, "agent.offline", live), "gc: the live agent's pod stays");
        ok(h_until(h, 10000, fresh_heartbeat, live), "gc: and its heartbeat is refreshed");
        cJSON *log = ka_prov_gc_json(h->prov);
        size_t pods = 0, nodes = 0;
        for (int i = earlier; i < cJSON_GetArraySize(log); i++) {
                const cJSON *e = cJSON_GetArrayItem(log, i);
                pods += ka_streq(ka_json_str(e, "what"), "pod");
                nodes += ka_streq(ka_json_str(e, "what"), "node");
        }
        is_int(pods, 3, "gc: exactly three pods were collected");
        is_int(nodes, 1, "gc: and one node");
        char *text = cJSON_PrintUnformatted(log);
        like(text, "\"reason\":\"heartbeat 1h00m ago, no agent\"", "gc: the log says why");
        free(text);
        cJSON_Delete(log);
        h_node_state(h, live, "idle", "SUCCESS");
        ok(h_until(h, 20000, table_empty, NULL), "gc: the live agent ends normally");
        free(live);
}

int main(void) {
        struct harness h;
        if (!h_begin(&h, clouds, NULL))
                return 0;
        retention(&h);
        dynamic_pvc(&h);
        reuse_and_restart(&h);
        bring_back(&h);
        resumed_elsewhere(&h);
        burst_across_restart(&h);
        gc(&h);
        h_stop(&h);
        return tap_done();
}
