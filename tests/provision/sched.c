/* The scheduler and a worker against the Kubernetes simulator, with the
 * test playing Jenkins: one agent through its whole life (the messages of
 * PROTOCOL.md, the pod it gets, its end), then a burst of builds under a
 * cloud cap and a template cap, the caps holding at every step and every
 * build served by exactly one pod. */
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

static const char clouds[] =
        H_CLOUD("        containerCap: 4\n")
        "          - name: small\n"
        "            label: linux small\n"
        "            instanceCap: 3\n"
        "            slaveConnectTimeout: 60\n"
        "            containers:\n"
        "              - {name: jnlp, image: busybox, command: sleep, args: infinity}\n"
        "          - name: any\n"
        "            label: anything\n"
        "            nodeUsageMode: NORMAL\n"
        "            slaveConnectTimeout: 60\n"
        "            containers:\n"
        "              - {name: jnlp, image: busybox, command: sleep, args: infinity}\n"
        "          - name: big\n"
        "            label: linux big\n"
        "            slaveConnectTimeout: 60\n"
        "            containers:\n"
        "              - {name: jnlp, image: busybox, command: sleep, args: infinity, workingDir: /work}\n"
        "          - name: one\n"
        "            label: one\n"
        "            instanceCap: 1\n"
        "            containers:\n"
        "              - {name: jnlp, image: busybox, command: sleep, args: infinity}\n";

static bool have_msg(struct harness *h, void *ud) {
        return h_count(h, ud) > 0;
}

static bool pod_ready_and_online(struct harness *h, void *ud) {
        struct h_node *n = h_node(h, ud);
        return n && ka_streq(n->state, "online");
}

/* Agents the core counts against caps, per template name (NULL: all). */
static size_t live(struct harness *h, const char *tmpl) {
        cJSON *a = ka_prov_agents_json(h->prov);
        size_t n = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, a) {
                const char *s = ka_json_str(e, "state");
                if (!ka_streq(s, "ending") && !ka_streq(s, "ended") && (!tmpl || ka_streq(ka_json_str(e, "template"), tmpl)))
                        n++;
        }
        cJSON_Delete(a);
        return n;
}

static bool table_empty(struct harness *h, void *ud) {
        (void)ud;
        return h_table_size(h) == 0 && h->live == 0;
}

static const char *env_of(const cJSON *pod, const char *name) {
        const cJSON *c, *e;
        cJSON_ArrayForEach(c, ka_json_path(pod, "spec.containers")) {
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env")) {
                        if (ka_streq(ka_json_str(e, "name"), name))
                                return ka_json_str(e, "value");
                }
        }
        return NULL;
}

static void one_agent(struct harness *h) {
        int64_t id = 101;
        h_demand(h, "linux&&small", &id, 1);
        ok(h_until(h, 20000, have_msg, "agent.register"), "demand for linux&&small asks the frontend to register an agent");
        const cJSON *reg = h_msg(h, "agent.register", 0);
        if (!reg)
                return;
        const char *name = ka_json_str(reg, "name");
        ok(ka_startswith(name, "t-small-") && strlen(name) == strlen("t-small-") + 5,
           "its name is the frontend's prefix, the template name and 5 random characters (%s)", name);
        is_str(ka_json_str(reg, "cloud"), "kubernetes", "register: cloud");
        is_str(ka_json_str(reg, "template"), "small", "register: template");
        is_str(ka_json_str(reg, "labels"), "linux small", "register: the template's labels");
        is_str(ka_json_str(reg, "mode"), "EXCLUSIVE", "register: mode");
        is_str(ka_json_str(reg, "remoteFs"), "/home/jenkins/agent", "register: remote FS");
        is_int(ka_json_int(reg, "idleMinutes", -1), 0, "register: a single-use agent");
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(reg, "items");
        is_int(cJSON_GetArraySize(items), 1, "register: planned for one item");
        ok(cJSON_IsNumber(cJSON_GetArrayItem(items, 0)) && cJSON_GetArrayItem(items, 0)->valuedouble == 101,
           "register: item 101");

        char *agent = ka_strdup(name);
        ok(h_until(h, 20000, pod_ready_and_online, agent), "its pod runs and the agent comes online");
        const cJSON *pod = h_pod(h, agent);
        ok(pod != NULL, "the pod is named after the agent");
        const cJSON *labels = ka_json_path(pod, "metadata.labels");
        is_str(ka_json_str(labels, "kubeagent.io/cloud"), "kubernetes", "label kubeagent.io/cloud");
        is_str(ka_json_str(labels, "kubeagent.io/agent"), agent, "label kubeagent.io/agent");
        is_str(ka_json_str(labels, "jenkins/label"), "linux_small", "the plugin's jenkins/label");
        const cJSON *ann = ka_json_path(pod, "metadata.annotations");
        is_str(ka_json_str(ann, "kubeagent.io/template"), "small", "annotation kubeagent.io/template");
        is_str(ka_json_str(ann, "kubeagent.io/frontend"), "jenkins", "annotation kubeagent.io/frontend");
        ok(ka_json_str(ann, "kubernetes.jenkins.io/last-refresh") != NULL, "the heartbeat annotation");
        char secret[128];
        snprintf(secret, sizeof(secret), "0123456789abcdef-%s", agent);
        is_str(env_of(pod, "JENKINS_SECRET"), secret, "JENKINS_SECRET is the secret the frontend gave");
        is_str(env_of(pod, "JENKINS_AGENT_NAME"), agent, "JENKINS_AGENT_NAME is the agent");
        is_str(env_of(pod, "JENKINS_URL"), "http://jenkins.invalid/", "JENKINS_URL is the frontend's root URL");
        is_int(live(h, NULL), 1, "one live agent in the table");

        /* the build */
        int64_t none = 0;
        h_demand(h, "linux&&small", &none, 0);
        h_node_state(h, agent, "busy", NULL);
        h_node_state(h, agent, "idle", "SUCCESS");
        ok(h_until(h, 20000, have_msg, "agent.delete"), "after its build a single-use agent's node is deleted");
        is_str(ka_json_str(h_msg(h, "agent.delete", 0), "name"), agent, "(that agent's)");
        ok(h_until(h, 20000, table_empty, NULL), "its pod is deleted and the table is empty");
        is_int(h_count(h, "agent.offline"), 0, "no failure was reported");
        free(agent);
}

struct burst {
        int64_t *waiting;
        size_t n_waiting, served, max_live, max_small;
        bool cap_broken;
};

/* Jenkins's side: an online node takes a waiting item, builds, and is idle
 * again at once. */
static bool burst_step(struct harness *h, void *ud) {
        struct burst *b = ud;
        size_t l = live(h, NULL), s = live(h, "small");
        b->max_live = KA_MAX(b->max_live, l);
        b->max_small = KA_MAX(b->max_small, s);
        if (l > 4 || s > 3)
                b->cap_broken = true;
        b->served += h_serve(h, "linux", b->waiting, &b->n_waiting);
        return b->n_waiting == 0 && h_table_size(h) == 0 && h->live == 0;
}

static void burst(struct harness *h) {
        size_t before = h->created;
        long posts_before = sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201");
        struct burst b = {.n_waiting = 12};
        b.waiting = ka_new0(int64_t, 12);
        for (int i = 0; i < 12; i++)
                b.waiting[i] = 200 + i;
        h_demand(h, "linux", b.waiting, b.n_waiting);
        ok(h_until(h, 60000, burst_step, &b), "12 builds for label linux are all served");
        ok(!b.cap_broken, "the caps held at every step (most live agents %zu, of template small %zu)", b.max_live,
           b.max_small);
        is_int(b.max_live, 4, "the cloud's containerCap (4) was reached");
        is_int(b.max_small, 3, "the template's instanceCap (3) was reached");
        is_int(h->created - before, 12, "12 pods were created");
        is_int(sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201") - posts_before, 12,
               "12 creates reached the API server: no duplicates");
        ok(h_metric("kubeagent_cap_reached_total{cap=\"cloud\",name=\"kubernetes\"}") > 0, "the cloud cap was counted");
        ok(h_metric("kubeagent_agents{state=\"busy\"}") == 0 && h_metric("kubeagent_agents{state=\"registering\"}") == 0,
           "no agent is left in the table's gauges");
        free(b.waiting);
}

/* Items that ask for no label go to a template in NORMAL mode. */
static void no_label(struct harness *h) {
        size_t before = h_count(h, "agent.register");
        int64_t id = 300;
        h_demand(h, "", &id, 1);
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)before), "an item without a label gets an agent");
        const cJSON *reg = h_msg(h, "agent.register", before);
        is_str(ka_json_str(reg, "template"), "any", "from the NORMAL template");
        is_str(ka_json_str(reg, "mode"), "NORMAL", "in NORMAL mode");
        char *name = ka_strdup(ka_json_str(reg, "name"));
        ok(h_until(h, 20000, h_is_online, name), "it comes online");
        h_demand(h, "", NULL, 0);
        h_node_state(h, name, "busy", NULL);
        h_node_state(h, name, "idle", "SUCCESS");
        ok(h_until(h, 20000, table_empty, NULL), "and goes after its build");
        free(name);
}

/* The frontend and the worker are not ordered: the node may report its
 * build over before the core hears that the pod was created.  The
 * single-use agent goes all the same, once its pod is known. */
static void build_before_created(struct harness *h) {
        size_t before = h_count(h, "agent.register");
        int64_t id = 400;
        h->auto_register = false;
        h_demand(h, "linux&&small", &id, 1);
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)before), "an agent is planned");
        char *name = ka_strdup(ka_json_str(h_msg(h, "agent.register", before), "name"));
        h_node_add(h, name, "linux small");
        h_node_state(h, name, "busy", NULL);
        h_demand(h, "linux&&small", NULL, 0);
        h_node_state(h, name, "idle", "SUCCESS");
        cJSON *m = cJSON_CreateObject();
        ka_json_set_str(m, "name", name);
        ka_json_set_str(m, "secret", "0123456789abcdef-late");
        h_send(h, "agent.registered", m);
        h->auto_register = true;
        ok(h_until(h, 20000, table_empty, NULL) && !h_node(h, name),
           "its build over before its pod was created, the agent goes once the pod is");
        free(name);
}

/* An ended agent holds its slot until its pod is deleted, as the plugin
 * frees it when the node goes, after the pod's deletion: with instanceCap 1
 * and the pod's DELETE slow, the next item's agent waits for it. */
struct slot {
        long deletes;   /* pod deletions the API server had done before */
        size_t registers;
        bool early;     /* a second agent was planned before the first's pod was deleted */
};

#define POD_DELETES "DELETE /api/v1/namespaces/{namespace}/pods/{name} 2"

/* The API server counts a request once it has done it (after the fault's
 * latency): a register seen while the count is unchanged came first. */
static bool slot_step(struct harness *h, void *ud) {
        struct slot *w = ud;
        bool planned = h_count(h, "agent.register") > w->registers;
        if (planned && sim_count(&h->sim, POD_DELETES) == w->deletes)
                w->early = true;
        return planned;
}

static void slot_until_deleted(struct harness *h) {
        size_t before = h_count(h, "agent.register");
        int64_t id = 500;
        h_demand(h, "one", &id, 1);
        ok(h_until(h, 20000, h_registers_over, (void *)(uintptr_t)before), "slot: an agent of the capped template");
        char *first = ka_strdup(ka_json_str(h_msg(h, "agent.register", before), "name"));
        ok(h_until(h, 20000, pod_ready_and_online, first), "slot: it is online");
        is_int(sim_admin(&h->sim, "POST", "/faults",
                         "{\"match\": {\"verb\": \"DELETE\", \"pathPrefix\": \"/api/v1/namespaces/ci/pods/\"},"
                         " \"latencyMs\": 1500, \"count\": 1}",
                         NULL),
               201, "slot: the API server will be slow to delete a pod");
        h_demand(h, "one", NULL, 0);
        h_node_state(h, first, "busy", NULL);
        h_node_state(h, first, "idle", "SUCCESS");
        struct slot w = {sim_count(&h->sim, POD_DELETES), h_count(h, "agent.register"), false};
        id = 501;
        h_demand(h, "one", &id, 1); /* the next build, while the first agent ends */
        ok(h_until(h, 20000, slot_step, &w), "slot: the next item gets an agent");
        ok(!w.early, "slot: not before the first agent's pod is deleted (instanceCap 1)");
        char *second = ka_strdup(ka_json_str(h_msg(h, "agent.register", w.registers), "name"));
        ok(h_until(h, 20000, pod_ready_and_online, second), "slot: the second agent is online");
        h_demand(h, "one", NULL, 0);
        h_node_state(h, second, "busy", NULL);
        h_node_state(h, second, "idle", "SUCCESS");
        ok(h_until(h, 20000, table_empty, NULL), "slot: both are gone");
        sim_admin(&h->sim, "DELETE", "/faults", NULL, NULL);
        free(first);
        free(second);
}

int main(void) {
        struct harness h;
        if (!h_begin(&h, clouds, NULL))
                return 0;
        one_agent(&h);
        burst(&h);
        no_label(&h);
        build_before_created(&h);
        slot_until_deleted(&h);
        ok(h.live == 0 && h_nodes(&h) == 0, "no pod and no node is left");
        h_stop(&h);
        return tap_done();
}
