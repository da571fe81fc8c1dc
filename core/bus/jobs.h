/* core/bus/jobs.h — the core's job table: leases, epochs, re-dispatch, and
 * exactly-once handling of the events workers report.
 *
 * Pure bookkeeping, no sockets: the core endpoint (core.h) tells it what
 * arrives — a worker came, went or was replaced; a job was accepted,
 * refused, renewed, reported on — and takes back the actions to carry out
 * (send this job to that worker, revoke that lease).  Time comes from a
 * struct ka_bus_clock, so tests run it on a hand-moved clock.
 *
 * A job is PENDING until a live worker that serves its target has room;
 * then OFFERED to it under a fresh epoch (max(previous + 1, Unix ms), so an
 * epoch is never reused, even by a restarted core); LEASED once the worker
 * accepts; renewed by every renew, event or accept; back to PENDING when the
 * lease runs out (the worker died or is cut off) and offered again under a
 * new epoch.  Only the current (worker, epoch) of a job counts: anything
 * else a worker says about it is answered with a revoke.  Events are handled
 * once per (job, epoch, seq), in order; the final one makes the job DONE,
 * and it is forgotten some time later.
 *
 * A worker may report a job nobody holds here: one this table has never
 * seen, at an epoch older than the table (the core restarted: an epoch of
 * its own means a job it finished or cancelled and forgot, and is
 * revoked), or one pending — submitted again by a
 * restarted scheduler, or back in the queue after its lease lapsed — at an
 * epoch no older than the last one offered.  The table adopts it — LEASED to
 * that worker at that epoch — and says so; a job it never knew has no work
 * yet: the scheduler submits it (which attaches the work to the lease) or
 * cancels it.  Unclaimed, it lasts the one lease adoption gave it (its
 * holder cannot keep it alive by renewing): then it is dropped and its
 * holder sent a revoke.  For a grace period after it is created (the core
 * uses renewInterval + resendInterval + reconnectIntervalMax) the table
 * dispatches nothing, so that workers can reconnect and re-announce their
 * leases before anything is sent twice. */
#ifndef KA_BUS_JOBS_H
#define KA_BUS_JOBS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "envelope.h"

enum ka_bus_job_state {
        KA_BUS_JOB_PENDING = 1,
        KA_BUS_JOB_OFFERED,
        KA_BUS_JOB_LEASED,
        KA_BUS_JOB_DONE,
};

const char *ka_bus_job_state_name(enum ka_bus_job_state s);

enum ka_bus_action_kind {
        KA_BUS_ACT_DISPATCH = 1, /* send job (epoch, work) to worker */
        KA_BUS_ACT_REVOKE,       /* tell worker to drop its (job, epoch) */
        KA_BUS_ACT_ADOPTED,      /* worker holds job at epoch; the table did not know it */
        KA_BUS_ACT_EXPIRED,      /* worker's lease on job ran out; the job is pending again
                                  * (or dropped, when its work was never submitted) */
};

struct ka_bus_action {
        enum ka_bus_action_kind kind;
        char worker[KA_BUS_NAME_MAX + 1];
        char job[KA_BUS_ID_MAX + 1];
        uint64_t epoch;
        const cJSON *work; /* DISPATCH: valid until the next call that changes the table */
};

enum ka_bus_verdict {
        KA_BUS_HANDLE = 1, /* new: hand it to the application */
        KA_BUS_DUPLICATE,  /* handled before */
        KA_BUS_STALE,      /* from a lease that is no longer current: revoke it */
};

struct ka_bus_jobs_options {
        int64_t lease_ms;  /* how long a lease lasts without renewal */
        int64_t grace_ms;  /* after start, dispatch nothing for this long */
        size_t max_offers; /* per worker, offers not yet accepted (flow control) */
};

struct ka_bus_job_counts {
        size_t pending, offered, leased, done;
        uint64_t dispatched, redispatched, expired, adopted, rejected, duplicates, stale;
};

struct ka_bus_jobs;

struct ka_bus_jobs *ka_bus_jobs_new(const struct ka_bus_jobs_options *o, const struct ka_bus_clock *clock);
void ka_bus_jobs_free(struct ka_bus_jobs *t);

/* A worker said hello.  A new instance under a known name replaces the old
 * one: the old one's leases expire at once.  serves: the targets it takes
 * (NULL or empty: any); capacity: most leases at once (0: no limit). */
void ka_bus_jobs_worker_up(struct ka_bus_jobs *t, const char *name, const char *instance, char *const *serves,
                           size_t capacity);
/* Silent for a lease: nothing new is offered to it; its leases run out on
 * their own.  A worker that lets a lease lapse counts as down too, until it
 * is heard from again (any message from it: ka_bus_jobs_worker_heard()). */
void ka_bus_jobs_worker_down(struct ka_bus_jobs *t, const char *name);
void ka_bus_jobs_worker_heard(struct ka_bus_jobs *t, const char *name);

/* Ask for job to be done by a worker serving target (NULL: any).  work is
 * copied.  -EEXIST when the job is already pending, offered or leased (a
 * job adopted from a worker takes the work and keeps its lease: 0). */
int ka_bus_jobs_submit(struct ka_bus_jobs *t, const char *job, const char *target, const cJSON *work);
/* Forget a job; a worker holding it is sent a revoke.  -ENOENT. */
int ka_bus_jobs_cancel(struct ka_bus_jobs *t, const char *job);

void ka_bus_jobs_accepted(struct ka_bus_jobs *t, const char *worker, const char *job, uint64_t epoch);
void ka_bus_jobs_rejected(struct ka_bus_jobs *t, const char *worker, const char *job, uint64_t epoch);
/* acked: the last event seq of this epoch the worker knows was handled. */
void ka_bus_jobs_renewed(struct ka_bus_jobs *t, const char *worker, const char *job, uint64_t epoch, uint64_t acked);
enum ka_bus_verdict ka_bus_jobs_event(struct ka_bus_jobs *t, const char *worker, const char *job, uint64_t epoch,
                                      uint64_t seq, bool final);

/* Expire leases, offer pending jobs, forget old finished ones. */
void ka_bus_jobs_tick(struct ka_bus_jobs *t);
/* When tick has something to do next (monotonic ms), INT64_MAX when never. */
int64_t ka_bus_jobs_deadline(const struct ka_bus_jobs *t);
bool ka_bus_jobs_next_action(struct ka_bus_jobs *t, struct ka_bus_action *ret);

void ka_bus_jobs_counts(const struct ka_bus_jobs *t, struct ka_bus_job_counts *ret);
/* The state of one job; worker is NULL when nobody holds it.  -ENOENT. */
int ka_bus_jobs_get(const struct ka_bus_jobs *t, const char *job, enum ka_bus_job_state *ret_state,
                    const char **ret_worker, uint64_t *ret_epoch);

#endif
