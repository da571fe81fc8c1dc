/* Every way an agent's pod can fail, against the simulator's fake kubelet:
 * the agent ends, the frontend is told why (agent.offline), the log says it
 * with the failing container's last lines, the items of a failure that
 * would repeat get demand.failed, and nothing is left behind — no pod, no
 * node, no slot of a cap.  Then the create errors: a 422 ends the demand,
 * quota and 5xx are retried until the pod is created.  (The deadlines --
 * an agent that never connects -- are in timers.c, on a fake clock.) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kube/pods.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

#define T(name, body)                                                                                                  \
        "          - name: " name "\n"                                                                                 \
        "            label: " name "\n"                                                                                \
        "            slaveConnectTimeout: 30\n" body

#define SLEEPER H_SLEEPER

static const char clouds[] =
        H_CLOUD("        containerCap: 2\n") T("invalid", "            containers:\n              - {name: jnlp, image: \"Busybox:Latest\"}\n")
                T("nopull", "            containers:\n              - {name: jnlp, image: \"busybox:nope\"}\n")
                        T("config", "            containers:\n"
                                    "              - name: jnlp\n"
                                    "                image: busybox\n"
                                    "                command: sleep\n"
                                    "                args: infinity\n"
                                    "                envVars:\n"
                                    "                  - secretEnvVar: {key: TOKEN, secretName: missing, secretKey: k}\n")
                                T("exits", "            containers:\n"
                                           "              - {name: jnlp, image: busybox, command: sh, args: \"-c 'echo "
                                           "warming up; echo bye for now; exit 3'\"}\n")
                                        T("deadline", "            activeDeadlineSeconds: 2\n" SLEEPER)
                                                T("evict", SLEEPER) T("deleted", SLEEPER)
                                                        T("invalidpod", "            yaml: |\n"
                                                                        "              spec:\n"
                                                                        "                containers:\n"
                                                                        "                  - name: jnlp\n"
                                                                        "                    resources:\n"
                                                                        "                      requests: {cpu: 2}\n"
                                                                        "                      limits: {cpu: 1}\n" SLEEPER)
                                                                T("quota", SLEEPER) T("busy", SLEEPER);

struct want {
        const char *name;
        const char *type;
};

static bool got_for(struct harness *h, void *ud) {
        const struct want *w = ud;
        return h_msg_for(h, w->type, w->name) != NULL;
}

static bool clean(struct harness *h, void *ud) {
        (void)ud;
        return h_table_size(h) == 0 && h->live == 0 && h_nodes(h) == 0;
}

static const char *failed_error(struct harness *h, int64_t id) {
        for (size_t i = 0; i < h_count(h, "demand.failed"); i++) {
                const cJSON *m = h_msg(h, "demand.failed", i), *it;
                cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(m, "items"))
                        if ((int64_t)it->valuedouble == id)
                                return ka_json_str(m, "error");
        }
        return NULL;
}

/* Demand one item for label; the name of the agent planned for it. */
static char *start(struct harness *h, const char *label, int64_t id) {
        size_t before = h_count(h, "agent.register");
        h_demand(h, label, &id, 1);
        if (!h_until(h, 20000, h_registers_over, (void *)(uintptr_t)before))
                return NULL;
        return ka_strdup(ka_json_str(h_msg(h, "agent.register", before), "name"));
}

/* An agent that fails before it comes online, for good. */
static void never_starts(struct harness *h, const char *label, int64_t id, const char *reason, const char *log) {
        char *name = start(h, label, id);
        ok(name != NULL, "%s: an agent is planned", label);
        if (!name)
                return;
        struct want w = {name, "agent.offline"};
        ok(h_until(h, 30000, got_for, &w), "%s: the agent fails and its node is taken offline", label);
        const cJSON *m = h_msg_for(h, "agent.offline", name);
        like(ka_json_str(m, "reason"), reason, "%s: the cause names the reason", label);
        ok(h_until(h, 5000, h_item_failed, &id), "%s: its item gets demand.failed", label);
        like(failed_error(h, id), reason, "%s: with the same reason", label);
        if (log)
                ok(h_log_contains(h, log), "%s: the log shows the container's last lines", label);
        ok(h_msg_for(h, "agent.delete", name) == NULL, "%s: the node stays (showing the cause) while the item waits",
           label);
        h_demand(h, label, NULL, 0); /* the user cancels the item */
        ok(h_until(h, 30000, clean, NULL), "%s: then the node and the pod go, and the table is empty", label);
        free(name);
}

/* An agent that fails after it came online and took its build. */
static void dies(struct harness *h, const char *label, int64_t id, void (*kill)(struct harness *h, const char *name),
                 const char *reason) {
        char *name = start(h, label, id);
        ok(name && h_until(h, 30000, h_is_online, name), "%s: the agent comes online", label);
        if (!name)
                return;
        h_demand(h, label, NULL, 0);
        h_node_state(h, name, "busy", NULL);
        if (kill)
                kill(h, name);
        struct want w = {name, "agent.offline"};
        ok(h_until(h, 30000, got_for, &w), "%s: the agent fails", label);
        like(ka_json_str(h_msg_for(h, "agent.offline", name), "reason"), reason, "%s: the cause", label);
        ok(!h_item_failed(h, &id), "%s: an agent that had come online fails no item", label);
        ok(h_until(h, 30000, clean, NULL), "%s: nothing is left", label);
        free(name);
}

static void evict(struct harness *h, const char *name) {
        char body[256];
        snprintf(body, sizeof(body), "{\"namespace\": \"ci\", \"name\": \"%s\"}", name);
        is_int(sim_admin(&h->sim, "POST", "/evict", body, NULL), 200, "the simulator evicts the pod");
}

static void delete_pod(struct harness *h, const char *name) {
        struct ka_error err = {0};
        struct ka_kube_delete_options o = KA_KUBE_DELETE_DEFAULTS;
        is_int(ka_kube_pod_delete(h->kube, "ci", name, &o, NULL, &err), 0, "someone deletes the pod");
}

static void create_errors(struct harness *h) {
        /* 422: the demand ends with the error */
        int64_t id = 900;
        char *name = start(h, "invalidpod", id);
        ok(name != NULL, "invalidpod: an agent is planned");
        ok(h_until(h, 20000, h_item_failed, &id), "invalidpod: the 422 ends the demand");
        like(failed_error(h, id), "Invalid", "invalidpod: with the API server's reason");
        like(failed_error(h, id), "spec.containers[0].resources.requests", "invalidpod: and the field at fault");
        h_demand(h, "invalidpod", NULL, 0);
        ok(h_until(h, 30000, clean, NULL), "invalidpod: nothing is left");
        free(name);

        /* quota, then a 500: retried with back-off until the pod is created */
        is_int(sim_admin(&h->sim, "POST", "/faults",
                         "{\"match\": {\"verb\": \"POST\", \"path\": \"/api/v1/namespaces/ci/pods\"}, \"status\": 403,"
                         " \"message\": \"pods \\\"x\\\" is forbidden: exceeded quota: compute, requested: pods=1, "
                         "used: pods=10, limited: pods=10\", \"count\": 2}",
                         NULL),
               201, "the API server refuses two creates for quota");
        is_int(sim_admin(&h->sim, "POST", "/faults",
                         "{\"match\": {\"verb\": \"POST\", \"path\": \"/api/v1/namespaces/ci/pods\"}, \"status\": 500,"
                         " \"count\": 1}",
                         NULL),
               201, "and then fails one with a 500");
        long before = sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201");
        id = 901;
        name = start(h, "quota", id);
        ok(name && h_until(h, 30000, h_is_online, name), "quota: the pod is created in the end and the agent comes online");
        ok(h_log_contains(h, "exceeded quota") && h_log_contains(h, "(retrying)"), "quota: the refusals are logged as retried");
        is_int(sim_count(&h->sim, "POST /api/v1/namespaces/{namespace}/pods 201") - before, 1, "quota: one pod created");
        ok(!h_item_failed(h, &id), "quota: the item did not fail");
        h_demand(h, "quota", NULL, 0);
        if (name) {
                h_node_state(h, name, "busy", NULL);
                h_node_state(h, name, "idle", "SUCCESS");
        }
        ok(h_until(h, 30000, clean, NULL), "quota: nothing is left");
        free(name);
        sim_admin(&h->sim, "DELETE", "/faults", NULL, NULL);
}

int main(void) {
        struct harness h;
        if (!h_begin(&h, clouds, NULL))
                return 0;
        never_starts(&h, "invalid", 1, "InvalidImageName", NULL);
        never_starts(&h, "nopull", 2, "ImagePullBackOff", NULL);
        never_starts(&h, "config", 3, "CreateContainerConfigError", NULL);
        h.auto_online = false; /* its container is no agent: it never connects */
        never_starts(&h, "exits", 4, "Pod failed because container terminated (Reason: Error, Container: jnlp, Exit code: 3)",
                     "bye for now");
        h.auto_online = true;
        dies(&h, "deadline", 5, NULL, "DeadlineExceeded");
        dies(&h, "evict", 6, evict, "Evicted");
        dies(&h, "deleted", 7, delete_pod, "Pod deleted");
        create_errors(&h);
        ok(h_metric("kubeagent_agents_failed_total{reason=\"InvalidImageName\"}") >= 1, "failures are counted by reason");
        h_stop(&h);
        return tap_done();
}
