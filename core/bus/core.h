/* core/bus/core.h — the core's end of the bus.
 *
 * The core listens on two channels (kubeagent.bus.workers and .frontends),
 * greets every peer that says hello, keeps the job table (jobs.h) for the
 * workers and a reliable stream with every peer, and hands what happens to
 * its owner as events:
 *
 *     struct ka_bus_core *core;
 *     ka_bus_core_new(&cfg, NULL, &core, &err);
 *     ka_bus_core_submit(core, "pod/ci/maven-1x2y3", "kubernetes", work, &err);
 *     for (;;) {
 *             struct ka_bus_core_event ev;
 *             int r = ka_bus_core_next(core, 1000, &ev);     // or poll ka_bus_core_fd()
 *             if (r == -ETIMEDOUT) continue;
 *             ... ev.kind, ev.peer, ev.job, ev.data ...
 *             ka_bus_core_event_clear(&ev);
 *     }
 *
 * One thread owns a core endpoint; only ka_bus_core_cancel() may be called
 * from another.  The core endpoint owns everything it returns until
 * ka_bus_core_event_clear(). */
#ifndef KA_BUS_CORE_H
#define KA_BUS_CORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "jobs.h"

struct ka_bus_core;

enum ka_bus_core_event_kind {
        KA_BUS_CORE_PEER_UP = 1,  /* peer said hello (role; restarted: it replaces an instance the core knew) */
        KA_BUS_CORE_PEER_DOWN,    /* peer silent for leaseDuration, or replaced by a new instance */
        KA_BUS_CORE_JOB_EVENT,    /* worker reported on job: epoch, seq, final, data — once per (job, epoch, seq) */
        KA_BUS_CORE_JOB_ADOPTED,  /* a worker holds job (epoch) that this core never submitted: submit or cancel it
                                   * within a lease */
        KA_BUS_CORE_JOB_EXPIRED,  /* peer's lease on job ran out; the job is offered again under a new epoch
                                   * (an adopted job never submitted is dropped, its holder told) */
        KA_BUS_CORE_JOB_REJECTED, /* peer refused job (reason); it is offered to another worker */
        KA_BUS_CORE_MESSAGE,      /* an application message from a frontend: type, data */
};

struct ka_bus_core_event {
        enum ka_bus_core_event_kind kind;
        char peer[KA_BUS_NAME_MAX + 1];
        char job[KA_BUS_ID_MAX + 1];
        char type[KA_BUS_TYPE_MAX + 1];
        char reason[256];
        const char *role; /* PEER_UP: "worker" or "frontend" */
        bool restarted;   /* PEER_UP */
        uint64_t epoch, seq;
        bool final;
        cJSON *data; /* JOB_EVENT: the data; MESSAGE: the payload.  Owned by the event. */
};

/* Listen on cfg's channels.  cfg must have passed ka_bus_config_validate();
 * clock NULL means the real clocks.  Errors name the address. */
int ka_bus_core_new(const struct ka_bus_config *cfg, const struct ka_bus_clock *clock, struct ka_bus_core **ret,
                    struct ka_error *err);
void ka_bus_core_free(struct ka_bus_core *c);

/* An fd that is readable when ka_bus_core_process() has something to do;
 * and how long until a timer is due (ms, -1: none). */
int ka_bus_core_fd(struct ka_bus_core *c);
int ka_bus_core_timeout(struct ka_bus_core *c);
/* Take in everything waiting, run the timers; never blocks. */
void ka_bus_core_process(struct ka_bus_core *c);
/* The next event: waits up to timeout_ms (real time; -1: forever),
 * processing as it goes.  -ETIMEDOUT, or -ECANCELED after ka_bus_core_cancel(). */
int ka_bus_core_next(struct ka_bus_core *c, int timeout_ms, struct ka_bus_core_event *ret);
void ka_bus_core_event_clear(struct ka_bus_core_event *ev);
/* Thread-safe: make next() return -ECANCELED. */
void ka_bus_core_cancel(struct ka_bus_core *c);

/* Jobs (see jobs.h for the semantics).  target: a name workers announce in
 * `serves` (NULL: any worker).  work is copied. */
int ka_bus_core_submit(struct ka_bus_core *c, const char *job, const char *target, const cJSON *work,
                       struct ka_error *err);
int ka_bus_core_cancel_job(struct ka_bus_core *c, const char *job);
void ka_bus_core_job_counts(const struct ka_bus_core *c, struct ka_bus_job_counts *ret);
int ka_bus_core_job_get(const struct ka_bus_core *c, const char *job, enum ka_bus_job_state *ret_state,
                        const char **ret_worker, uint64_t *ret_epoch);

/* A reliable application message to a peer (a frontend): delivered once,
 * in order, while the peer's process lives.  type must not be one of the
 * bus's own; payload is copied.  -ENOENT when the peer is unknown. */
int ka_bus_core_send(struct ka_bus_core *c, const char *peer, const char *type, const cJSON *payload,
                     struct ka_error *err);
/* Ask a peer (or every peer, when peer is NULL) to stop. */
void ka_bus_core_stop(struct ka_bus_core *c, const char *peer, const char *reason);

/* Whether the start-up grace period is over: a new core dispatches
 * nothing for renewInterval + resendInterval + reconnectIntervalMax, the
 * time workers need to reconnect and re-announce the leases they hold.
 * Until then, a job the table does not know may still be held somewhere.
 * (No grace on an inproc:// workers' channel: its workers start with it.) */
bool ka_bus_core_settled(const struct ka_bus_core *c);

/* Peers: how many are up, by role. */
size_t ka_bus_core_peers(const struct ka_bus_core *c, const char *role);
const struct ka_bus_stats *ka_bus_core_stats(const struct ka_bus_core *c);
const char *ka_bus_core_instance(const struct ka_bus_core *c);

#endif
