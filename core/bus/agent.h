/* core/bus/agent.h — a worker's or a frontend's end of the bus.
 *
 * An agent connects to one channel of the core (kubeagent.bus.workers or
 * .frontends), says hello until the core welcomes it, and from then on:
 *   - a worker receives jobs (each accepted at once, or refused with
 *     ka_bus_agent_reject()), renews its leases every renewInterval, and
 *     reports on each job with ka_bus_agent_report() — resent until the core
 *     has it, handled there once; the final report ends the job;
 *   - a frontend exchanges application messages with the core
 *     (ka_bus_agent_send(), KA_BUS_AGENT_MESSAGE), each delivered once and
 *     in order.
 * When the core restarts the agent says hello to the new one, re-announces
 * its leases and resends what the old one never acknowledged.
 *
 *     struct ka_bus_agent_options o = {.role = KA_BUS_ROLE_WORKER, .serves = clouds};
 *     ka_bus_agent_new(&cfg, &o, NULL, &agent, &err);
 *     while ((r = ka_bus_agent_next(agent, 1000, &ev)) != -ECANCELED) {
 *             if (r == 0 && ev.kind == KA_BUS_AGENT_JOB)
 *                     ... do ev.data, then ka_bus_agent_report(agent, ev.job, result, true, &err);
 *             ka_bus_agent_event_clear(&ev);
 *     }
 *
 * One thread owns an agent; only ka_bus_agent_cancel() may be called from
 * another.  Frontend plugins reach their agent through the host table's
 * bus_send/bus_recv (ka_bus_host_send/recv below). */
#ifndef KA_BUS_AGENT_H
#define KA_BUS_AGENT_H

#include <cjson/cJSON.h>
#include <kubeagent/host.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "envelope.h"

struct ka_bus_agent;

struct ka_bus_agent_options {
        enum ka_bus_role role;
        const char *name;    /* NULL: the config's name, else the host name */
        char *const *serves; /* worker: the targets it takes (NULL: any) */
        size_t capacity;     /* worker: most jobs at once (0: no limit) */
};

enum ka_bus_agent_event_kind {
        KA_BUS_AGENT_CONNECTED = 1, /* welcomed by the core; restarted: a new core, leases re-announced */
        KA_BUS_AGENT_JOB,           /* do job (epoch, data = the work); resumed: held already, new epoch */
        KA_BUS_AGENT_REVOKED,       /* stop working on job: the lease is someone else's now */
        KA_BUS_AGENT_MESSAGE,       /* an application message: type, data = the payload */
        KA_BUS_AGENT_STOP,          /* the core asks this process to stop (reason) */
};

struct ka_bus_agent_event {
        enum ka_bus_agent_event_kind kind;
        char job[KA_BUS_ID_MAX + 1];
        char type[KA_BUS_TYPE_MAX + 1];
        char reason[256];
        uint64_t epoch;
        bool resumed;   /* JOB */
        bool restarted; /* CONNECTED */
        cJSON *data;    /* owned by the event */
};

/* Connect to the channel of o->role.  cfg must have passed
 * ka_bus_config_validate(); clock NULL means the real clocks. */
int ka_bus_agent_new(const struct ka_bus_config *cfg, const struct ka_bus_agent_options *o,
                     const struct ka_bus_clock *clock, struct ka_bus_agent **ret, struct ka_error *err);
void ka_bus_agent_free(struct ka_bus_agent *a);

int ka_bus_agent_fd(struct ka_bus_agent *a);
int ka_bus_agent_timeout(struct ka_bus_agent *a);
void ka_bus_agent_process(struct ka_bus_agent *a);
/* The next event, waiting up to timeout_ms (real time; -1: forever).
 * -ETIMEDOUT; -ECANCELED after ka_bus_agent_cancel() or once STOP was
 * handed out. */
int ka_bus_agent_next(struct ka_bus_agent *a, int timeout_ms, struct ka_bus_agent_event *ret);
void ka_bus_agent_event_clear(struct ka_bus_agent_event *ev);
void ka_bus_agent_cancel(struct ka_bus_agent *a);

/* Report on a job this worker holds (data is copied); final ends it.
 * -ENOENT: not held (revoked meanwhile); -EALREADY: already final. */
int ka_bus_agent_report(struct ka_bus_agent *a, const char *job, const cJSON *data, bool final, struct ka_error *err);
/* Give a job back; the core offers it to another worker. */
int ka_bus_agent_reject(struct ka_bus_agent *a, const char *job, const char *reason, struct ka_error *err);
/* A reliable application message to the core (payload is copied). */
int ka_bus_agent_send(struct ka_bus_agent *a, const char *type, const cJSON *payload, struct ka_error *err);

bool ka_bus_agent_connected(const struct ka_bus_agent *a);
size_t ka_bus_agent_jobs(const struct ka_bus_agent *a);
const char *ka_bus_agent_name(const struct ka_bus_agent *a);
const struct ka_bus_stats *ka_bus_agent_stats(const struct ka_bus_agent *a);

/* ---- the host table's bus functions (sdk/include/kubeagent/host.h) ----
 * A frontend plugin's struct kubeagent_bus is its agent.  Messages are
 * objects {"type": T, ...payload members}.  recv hands out application
 * messages, and {"type":"bus.connected","restarted":B} each time the core
 * welcomes the frontend (restarted: a new core; send your state again);
 * -ETIMEDOUT after timeout_ms, -ECANCELED once the core asks the frontend to
 * stop (or the daemon cancels the agent). */
struct kubeagent_bus *ka_bus_agent_handle(struct ka_bus_agent *a);
int ka_bus_host_send(struct kubeagent_bus *bus, const cJSON *message, struct ka_error *err);
int ka_bus_host_recv(struct kubeagent_bus *bus, int timeout_ms, cJSON **ret_message, struct ka_error *err);

#endif
