/* kubeagentd as separate processes: `--role worker` and `--role core` on a
 * sealed tcp:// bus provision pods together against the simulator, with
 * the test playing the frontend over the same bus.  Then the failures the
 * bus is built for: a worker killed -9 while it holds leases (its jobs go
 * to a new worker, which adopts the pods: none is created twice), and the
 * core killed -9 in the middle of a burst (the new core adopts what
 * exists: every build is served by one pod, nothing is left over).  The
 * HTTP endpoint of each process is checked on the way. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static const char clouds[] = H_CLOUD("        containerCap: 10\n") "          - name: build\n"
                                                                     "            label: build\n" H_SLEEPER;

#define CREATES "POST /api/v1/namespaces/{namespace}/pods 201"

static size_t build_pods(struct harness *h) {
        size_t n = 0, it = 0;
        void *v;
        while (ka_hashmap_next(&h->pods, &it, NULL, &v))
                n += !ka_json_path(((struct h_pod *)v)->pod, "metadata.deletionTimestamp");
        return n;
}

struct builds {
        int64_t ids[8];
        size_t waiting, served;
        bool hold; /* online agents wait (their builds do not start) */
};

/* Jenkins: an online node takes a waiting item and finishes at once. */
static bool serve(struct harness *h, void *ud) {
        struct builds *b = ud;
        if (!b->hold)
                b->served += h_serve(h, "build", b->ids, &b->waiting);
        return b->waiting == 0 && h->live == 0 && h_nodes(h) == 0 && h_table_size(h) == 0;
}

static void demand(struct harness *h, struct builds *b, size_t n, int64_t first) {
        b->waiting = n;
        b->served = 0;
        for (size_t i = 0; i < n; i++)
                b->ids[i] = first + (int64_t)i;
        h_demand(h, "build", b->ids, n);
}

static bool n_online(struct harness *h, void *ud) {
        size_t n = 0, it = 0;
        void *v;
        while (ka_hashmap_next(&h->nodes, &it, NULL, &v))
                n += ka_streq(((struct h_node *)v)->state, "online");
        return n >= (size_t)(uintptr_t)ud;
}

static bool n_pods(struct harness *h, void *ud) {
        return build_pods(h) >= (size_t)(uintptr_t)ud;
}

static int status_of(int port, const char *path, const char *want, const char *what) {
        char *body = NULL;
        int code = h_http_get(port, path, &body);
        if (want)
                like(body, want, "%s", what);
        free(body);
        return code;
}

static void together(struct harness *h, struct h_proc *core, struct h_proc *worker) {
        long creates = sim_count(&h->sim, CREATES);
        struct builds b = {0};
        demand(h, &b, 4, 1);
        ok(h_until(h, 60000, serve, &b), "worker and core on a sealed tcp bus serve 4 builds");
        is_int(sim_count(&h->sim, CREATES) - creates, 4, "with 4 pods");
        is_int(status_of(core->http_port, "/healthz", "ok", "core /healthz says ok"), 200, "core /healthz");
        is_int(status_of(core->http_port, "/readyz", "ready", "core /readyz says ready"), 200, "core /readyz");
        is_int(status_of(worker->http_port, "/readyz", "ready", "worker /readyz says ready"), 200, "worker /readyz");
        is_int(status_of(core->http_port, "/metrics", "kubeagent_provision_latency_seconds_count{stage=\"online\"} 4",
                         "core /metrics: the latency of the 4 agents"),
               200, "core /metrics");
        is_int(status_of(worker->http_port, "/metrics", "kubeagent_kube_requests_total{verb=\"POST\",code=\"201\"} 4",
                         "worker /metrics: its API requests by verb and code"),
               200, "worker /metrics");
        is_int(status_of(core->http_port, "/v1/agents", "[]", "core /v1/agents: empty again"), 200, "/v1/agents");
        is_int(status_of(worker->http_port, "/v1/agents", "no scheduler", "a worker has no agents to show"), 404,
               "worker /v1/agents is 404");
        is_int(status_of(core->http_port, "/", "<h2>Clouds</h2>", "the status page lists the clouds"), 200, "/ (HTML)");
        is_int(status_of(core->http_port, "/nope", "no such path", "an unknown path"), 404, "404");
}

static void kill_worker(struct harness *h, struct h_proc **worker) {
        long creates = sim_count(&h->sim, CREATES);
        struct builds b = {.hold = true};
        demand(h, &b, 4, 100);
        ok(h_until(h, 60000, n_online, (void *)(uintptr_t)4), "4 agents online, their pods held by the worker");
        is_int(h_kill(h, *worker, SIGKILL), 128 + SIGKILL, "the worker is killed -9");
        *worker = h_spawn(h, "worker");
        ok(*worker != NULL, "a new worker starts");
        char *body = NULL;
        bool followed = false;
        for (int64_t end = ka_time_now_ms() + 30000; *worker && !followed && ka_time_now_ms() < end;) {
                free(body);
                body = NULL;
                h_until(h, 200, n_online, (void *)(uintptr_t)99); /* pump for 200ms */
                h_http_get((*worker)->http_port, "/v1/status", &body);
                cJSON *st = NULL;
                struct ka_error err = {0};
                if (body && ka_json_parse(body, strlen(body), &st, &err) == 0)
                        followed = ka_json_int(st, "podsFollowed", 0) == 4;
                cJSON_Delete(st);
        }
        ok(followed, "the new worker follows the 4 pods: the leases were given to it");
        free(body);
        b.hold = false;
        ok(h_until(h, 60000, serve, &b), "the 4 builds finish and everything is cleaned up");
        is_int(sim_count(&h->sim, CREATES) - creates, 4, "no pod was created twice");
        is_int(status_of(h->core_proc->http_port, "/metrics", "kubeagent_agents{state=\"busy\"} 0", "counters are back to zero"),
               200, "core /metrics");
}

static void kill_core(struct harness *h, struct h_proc **core) {
        long creates = sim_count(&h->sim, CREATES);
        struct builds b = {0};
        demand(h, &b, 6, 200);
        ok(h_until(h, 60000, n_pods, (void *)(uintptr_t)2), "a burst of 6 is under way");
        is_int(h_kill(h, *core, SIGKILL), 128 + SIGKILL, "the core is killed -9 in the middle of it");
        h->synced = false;
        *core = h_spawn(h, "core");
        ok(*core && h_wait_connected(h, 30000), "a new core starts and the frontend is welcomed by it");
        ok(h_until(h, 60000, serve, &b), "the 6 builds are served, and no pod, node or agent is left over");
        is_int(b.served, 6, "each build once");
        is_int(sim_count(&h->sim, CREATES) - creates, 6, "6 pods were created: none twice");
}

/* SIGTERM stops both processes at once and touches nothing; the next
 * start adopts the agents. */
static void sigterm(struct harness *h, struct h_proc **core, struct h_proc **worker) {
        long creates = sim_count(&h->sim, CREATES);
        struct builds b = {.hold = true};
        demand(h, &b, 2, 300);
        ok(h_until(h, 60000, n_online, (void *)(uintptr_t)2), "2 agents online");
        size_t deletes = h_count(h, "agent.delete"), offlines = h_count(h, "agent.offline");
        int64_t t0 = ka_time_now_ms();
        is_int(h_kill(h, *core, SIGTERM), 0, "SIGTERM: the core exits 0");
        is_int(h_kill(h, *worker, SIGTERM), 0, "SIGTERM: the worker exits 0");
        int64_t took = ka_time_now_ms() - t0;
        ok(took < 5000, "both stop promptly (%" PRId64 " ms)", took);
        h_until(h, 500, n_online, (void *)(uintptr_t)99); /* let anything that would happen arrive */
        is_int(build_pods(h), 2, "the agents' pods are untouched");
        ok(h_count(h, "agent.delete") == deletes && h_count(h, "agent.offline") == offlines && n_online(h, (void *)2),
           "their nodes too");
        h->synced = false;
        *worker = h_spawn(h, "worker");
        *core = h_spawn(h, "core");
        ok(*worker && *core && h_wait_connected(h, 30000), "both start again");
        b.hold = false;
        ok(h_until(h, 60000, serve, &b), "the adopted agents finish their builds and go");
        is_int(sim_count(&h->sim, CREATES) - creates, 2, "no pod was created again");
}

int main(void) {
        struct harness h;
        struct h_options o = {.transport = "tcp"};
        if (!h_begin(&h, clouds, &o))
                return 0;
        struct h_proc *worker = h_spawn(&h, "worker"), *core = h_spawn(&h, "core");
        ok(worker && core, "kubeagentd --role worker and --role core start on a sealed tcp bus");
        ok(h_wait_connected(&h, 30000), "the test's frontend is welcomed by the core");
        if (worker && core) {
                together(&h, core, worker);
                kill_worker(&h, &worker);
                kill_core(&h, &core);
                if (core)
                        sigterm(&h, &core, &worker);
        }
        h_stop(&h);
        return tap_done();
}
