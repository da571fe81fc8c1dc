/* tests/provision/harness.h — the scheduler and a worker in one test
 * process, against the Kubernetes simulator, with a scripted frontend.
 *
 * h_start_ex() starts the simulator, writes a config (the caller's clouds and
 * templates after a credentials block for the simulator), and runs the
 * scheduler and a worker on threads over an inproc bus.  The test thread
 * plays the frontend, a small fake Jenkins: it registers every node the
 * core asks for (state offline, then agent.registered with a secret), says
 * a node is online once its pod is Ready (seen on its own watch of the
 * simulator), and answers agent.delete with gone.  The test drives the
 * rest (demand, busy, idle) and waits for events with h_until(), which
 * pumps the bus and the watch — no sleeping. */
#ifndef KA_TESTS_PROVISION_HARNESS_H
#define KA_TESTS_PROVISION_HARNESS_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kube/sim.h"
#include "bus/agent.h"
#include "bus/config.h"
#include "config/config.h"
#include "config/document.h"
#include "kube/informer.h"
#include "provision/provision.h"
#include "provision/worker.h"
#include "util/hashmap.h"

struct h_node {
        char *name, *state, *labels;
        bool registered;
};

struct h_msg {
        char *type;
        cJSON *payload;
};

struct h_pod {
        cJSON *pod;
        bool deleted;
};

/* A kubeagentd process (external mode). */
struct h_proc {
        pid_t pid;
        char role[16];
        int http_port;
        char *log;
};

struct h_options {
        const char *const *extra_sim; /* more simulator arguments, NULL-terminated */
        /* External mode: no scheduler or worker in the test process; the
         * config gets a kubeagent.bus on "tcp" (sealed with a key file) or
         * "ipc", an HTTP endpoint on a free port and a gcPeriod of 2s, and
         * the test runs kubeagentd processes with h_spawn(). */
        const char *transport;
        const char *gc_period; /* external mode: kubeagent.provision.gcPeriod (default 2s) */
        /* External mode: more of the kubeagent: block (YAML lines at 2
         * spaces), e.g. a templates: block. */
        const char *kubeagent_extra;
        /* The scheduler's clock (ka_prov_options.clock), e.g. the fake one
         * of tests/bus/fakeclock.h; NULL: the real one. */
        const struct ka_bus_clock *clock;
};

struct harness {
        struct sim sim;
        bool external;
        char *config_path;
        struct h_proc *core_proc; /* the last core spawned (for h_agents) */
        struct h_proc **procs;
        size_t n_procs;
        char *dir;
        char *log_path; /* the daemon's log (info and up); KA_TEST_LOG=1 prints it at the end */
        int log_fd;
        struct ka_registry reg;
        struct ka_document doc;
        bool have_doc;
        struct ka_config *cfg;
        struct ka_bus_config bus;
        const struct ka_bus_clock *clock; /* the scheduler's (h_options) */
        struct ka_prov *prov;
        pthread_t prov_thread;
        struct ka_worker *worker;
        pthread_t worker_thread;
        /* the frontend */
        struct ka_bus_agent *fe;
        bool auto_register, auto_online, auto_gone;
        bool synced; /* said hello and synced since the last connection */
        struct ka_hashmap nodes; /* name -> struct h_node */
        struct h_msg *msgs;
        size_t n_msgs;
        cJSON *demand; /* expression -> the last demand sent (sent again after a reconnect) */
        /* the simulator's pods, as the test's own watch sees them */
        struct ka_kube *kube;
        struct ka_informer *inf;
        struct ka_informer_sub *sub;
        pthread_mutex_t lock;
        cJSON *pending; /* watch events not yet taken in: [{type, pod}] */
        int efd;
        struct ka_hashmap pods; /* name -> struct h_pod (live ones) */
        size_t live, max_live, created, deleted;
};

/* The cloud block the tests start from: cloud "kubernetes" on the
 * simulator's credentials in namespace ci, then `extra` (more cloud keys,
 * each line indented by 8), then the "templates:" key. */
#define H_CLOUD(extra)                                                                                                 \
        "    - kubernetes:\n"                                                                                          \
        "        name: kubernetes\n"                                                                                   \
        "        credentialsId: @CRED@\n"                                                                              \
        "        namespace: ci\n"                                                                                      \
        "        qps: 200\n"                                                                                           \
        "        burst: 400\n" extra "        templates:\n"
/* A template whose agent container sleeps (no real agent in it). */
#define H_SLEEPER "            containers:\n              - {name: jnlp, image: busybox, command: sleep, args: infinity}\n"

/* Start everything.  clouds: the YAML of `jenkins.clouds` items, where
 * every "@CRED@" becomes the simulator's credentials id and "@SERVER@"
 * its URL.  false with *why when the simulator cannot run (skip_all). */
bool h_start_ex(struct harness *h, const char *clouds, const struct h_options *o, const char **why);
/* h_start_ex(), or when the simulator cannot run print the TAP plan that
 * skips the program and clean up: false means "return 0 now". */
bool h_begin(struct harness *h, const char *clouds, const struct h_options *o);
/* External mode: start `kubeagentd --role role` and wait for its READY
 * line; NULL when it does not start.  h_kill() sends sig and reaps it
 * (SIGKILL: it dies on the spot); the exit status, or -1. */
struct h_proc *h_spawn(struct harness *h, const char *role);
int h_kill(struct harness *h, struct h_proc *p, int sig);
/* The frontend is welcomed by a core (after a start or a restart). */
bool h_wait_connected(struct harness *h, int64_t timeout_ms);
/* The scheduler's agents: from the core in this process, or from the
 * last core spawned (GET /v1/agents); the caller frees it. */
cJSON *h_agents(struct harness *h);
/* GET path from a process's HTTP endpoint: status, *ret_body (may be NULL). */
int h_http_get(int port, const char *path, char **ret_body);
void h_stop(struct harness *h);
/* Stop and start the scheduler (a restart of the core; the worker and the
 * frontend stay). */
void h_restart_core(struct harness *h);

/* Pump the bus and the watch until cond(h, ud) holds (checked after each
 * event) or timeout_ms passes; returns whether it holds. */
bool h_until(struct harness *h, int64_t timeout_ms, bool (*cond)(struct harness *h, void *ud), void *ud);

/* A round trip through the scheduler: a demand no template serves,
 * answered with demand.failed.  The scheduler plans and then checks its
 * deadlines in one step under its lock, so h_agents() afterwards shows
 * what it decided at its clock's time when the demand came -- after an
 * advance() of a fake clock, the deadlines at the new time.  Also what
 * the frontend sent before has been taken in. */
bool h_settle(struct harness *h);

/* ---- the frontend ---- */
void h_send(struct harness *h, const char *type, cJSON *payload); /* takes payload */
/* A new life of the frontend (its controller restarted): frontend.hello,
 * every node's state, the demand, frontend.synced -- as on a connection. */
void h_hello(struct harness *h);
/* demand for expression with items (ids), n of them; n 0 withdraws it. */
void h_demand(struct harness *h, const char *expression, const int64_t *ids, size_t n);
/* The same, the items being builds of job (a full name, "team-a/app"). */
void h_demand_job(struct harness *h, const char *expression, const char *job, const int64_t *ids, size_t n);
/* demand for the node name (a pipeline resumed after a controller restart
 * waits for the very node it ran on); n 0 withdraws it. */
void h_demand_node(struct harness *h, const char *name, const int64_t *ids, size_t n);
void h_node_state(struct harness *h, const char *name, const char *state, const char *result);
/* Jenkins at work: every online node takes the next waiting item of
 * expression (ids, *waiting of them; the demand is updated) and finishes
 * its build at once.  With waiting NULL every online node builds.
 * Returns how many builds finished. */
size_t h_serve(struct harness *h, const char *expression, const int64_t *ids, size_t *waiting);
/* Conditions for h_until(): node ud (a name) is online; more than ud
 * (a count, cast) agent.register messages came. */
bool h_is_online(struct harness *h, void *ud);
bool h_registers_over(struct harness *h, void *ud);
/* Condition for h_until(): the item *(int64_t *)ud got demand.failed. */
bool h_item_failed(struct harness *h, void *ud);
/* The string at path (ka_json_path_str()) of agent name in the
 * scheduler's table (h_agents()), e.g. "state" or "pod.reason"; NULL when
 * the agent or the field is not there.  The caller frees it. */
char *h_agent_field(struct harness *h, const char *name, const char *path);
/* How many agents the scheduler's table holds (h_agents()). */
size_t h_table_size(struct harness *h);
/* A pod made behind kubeagent's back in namespace ns: with the cloud
 * "kubernetes" label (ours) or only jenkins=slave, and a heartbeat
 * annotation of refresh (Unix ms; 0: none). */
void h_make_pod(struct harness *h, const char *ns, const char *name, bool ours, int64_t refresh);
/* Messages of a type received so far, and the n-th of them (NULL). */
size_t h_count(const struct harness *h, const char *type);
const cJSON *h_msg(const struct harness *h, const char *type, size_t n);
/* The last message of type about agent name, or NULL. */
const cJSON *h_msg_for(const struct harness *h, const char *type, const char *name);
struct h_node *h_node(struct harness *h, const char *name);
size_t h_nodes(const struct harness *h);
/* A node the frontend has without the core asking (as Jenkins would list
 * one created before a restart), reported offline. */
void h_node_add(struct harness *h, const char *name, const char *labels);

/* ---- the simulator ---- */
/* The live pod named name (NULL when none); its phase. */
const cJSON *h_pod(const struct harness *h, const char *name);
/* Whether the daemon's log so far contains text. */
bool h_log_contains(const struct harness *h, const char *text);
/* A metric's value from the process registry ("name{a=\"b\"}" text lookup). */
double h_metric(const char *series);

#endif
