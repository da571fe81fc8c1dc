#include "jobs.h"

#include <errno.h>
#include <string.h>

#include "fifo.h"
#include "util/hashmap.h"
#include "util/macro.h"
#include "util/mem.h"
#include "util/str.h"

/* Finished jobs are remembered this many leases, so that a final event
 * resent after its ack was lost is recognised as a duplicate. */
#define DONE_KEEP_LEASES 4

struct worker {
        char *name, *instance;
        char **serves;   /* NULL: any target */
        size_t capacity; /* 0: no limit */
        bool alive;
        size_t offers, leases;
        uint64_t last_pick; /* for round-robin among equals */
};

struct job {
        char *id;
        char *target; /* NULL: any worker */
        cJSON *work;  /* NULL for a job adopted and not (yet) submitted */
        enum ka_bus_job_state state;
        struct worker *worker; /* OFFERED, LEASED; also DONE (who finished it) */
        uint64_t epoch;
        uint64_t next_seq; /* the next event seq to handle */
        int64_t expires;   /* OFFERED/LEASED: end of lease; DONE: when forgotten */
        struct worker *refused_by;
        int64_t refused_until;
        struct job *prev, *next; /* the pending queue, in submission order */
};

struct ka_bus_jobs {
        struct ka_bus_jobs_options o;
        const struct ka_bus_clock *clock;
        struct ka_hashmap jobs;
        struct job *pending_head, *pending_tail;
        struct worker **workers;
        size_t n_workers;
        int64_t start;
        uint64_t start_wall;  /* epochs this table gives out are no older than this */
        int64_t scan_at;      /* no lease or tombstone ends before this */
        int64_t refusals_end; /* no refusal of a pending job ends before this */
        uint64_t picks;
        struct ka_bus_fifo actions; /* struct ka_bus_action */
        struct ka_bus_job_counts counts;
};

const char *ka_bus_job_state_name(enum ka_bus_job_state s) {
        switch (s) {
        case KA_BUS_JOB_PENDING:
                return "pending";
        case KA_BUS_JOB_OFFERED:
                return "offered";
        case KA_BUS_JOB_LEASED:
                return "leased";
        case KA_BUS_JOB_DONE:
                return "done";
        }
        return "?";
}

static int64_t now(const struct ka_bus_jobs *t) {
        return ka_bus_now(t->clock);
}

struct ka_bus_jobs *ka_bus_jobs_new(const struct ka_bus_jobs_options *o, const struct ka_bus_clock *clock) {
        struct ka_bus_jobs *t = ka_new0(struct ka_bus_jobs, 1);
        t->actions = (struct ka_bus_fifo)KA_BUS_FIFO_INIT(struct ka_bus_action);
        t->o = *o;
        if (!t->o.max_offers)
                t->o.max_offers = 64;
        t->clock = clock;
        t->start = now(t);
        t->start_wall = (uint64_t)KA_MAX(ka_bus_wall(clock), 0);
        t->scan_at = INT64_MAX;
        t->refusals_end = INT64_MAX;
        return t;
}

static void job_free(struct job *j) {
        free(j->id);
        free(j->target);
        cJSON_Delete(j->work);
        free(j);
}

void ka_bus_jobs_free(struct ka_bus_jobs *t) {
        if (!t)
                return;
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&t->jobs, &it, NULL, &v))
                job_free(v);
        ka_hashmap_free(&t->jobs);
        for (size_t i = 0; i < t->n_workers; i++) {
                free(t->workers[i]->name);
                free(t->workers[i]->instance);
                ka_strv_free(t->workers[i]->serves);
                free(t->workers[i]);
        }
        free(t->workers);
        ka_bus_fifo_free(&t->actions, NULL);
        free(t);
}

/* ---- actions ---- */

static void act(struct ka_bus_jobs *t, enum ka_bus_action_kind kind, const struct worker *w, const struct job *j,
                uint64_t epoch) {
        struct ka_bus_action *a = ka_bus_fifo_push(&t->actions);
        *a = (struct ka_bus_action){.kind = kind, .epoch = epoch, .work = kind == KA_BUS_ACT_DISPATCH ? j->work : NULL};
        ka_strlcpy(a->worker, w ? w->name : "", sizeof(a->worker));
        ka_strlcpy(a->job, j->id, sizeof(a->job));
}

static void act_revoke(struct ka_bus_jobs *t, const char *worker, const char *job, uint64_t epoch) {
        struct job tmp = {.id = (char *)job};
        struct worker w = {.name = (char *)worker};
        act(t, KA_BUS_ACT_REVOKE, &w, &tmp, epoch);
}

bool ka_bus_jobs_next_action(struct ka_bus_jobs *t, struct ka_bus_action *ret) {
        return ka_bus_fifo_pop(&t->actions, ret);
}

/* ---- workers ---- */

static struct worker *worker_find(const struct ka_bus_jobs *t, const char *name) {
        for (size_t i = 0; i < t->n_workers; i++)
                if (strcmp(t->workers[i]->name, name) == 0)
                        return t->workers[i];
        return NULL;
}

/* Any word from a worker shows it is alive. */
static struct worker *heard(struct ka_bus_jobs *t, const char *name) {
        struct worker *w = worker_find(t, name);
        if (w)
                w->alive = true;
        return w;
}

/* ---- the pending queue ---- */

static void pending_push(struct ka_bus_jobs *t, struct job *j, bool front) {
        j->state = KA_BUS_JOB_PENDING;
        j->worker = NULL;
        j->prev = j->next = NULL;
        if (!t->pending_head) {
                t->pending_head = t->pending_tail = j;
        } else if (front) {
                j->next = t->pending_head;
                t->pending_head->prev = j;
                t->pending_head = j;
        } else {
                j->prev = t->pending_tail;
                t->pending_tail->next = j;
                t->pending_tail = j;
        }
}

static void pending_remove(struct ka_bus_jobs *t, struct job *j) {
        if (j->prev)
                j->prev->next = j->next;
        else
                t->pending_head = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                t->pending_tail = j->prev;
        j->prev = j->next = NULL;
}

/* Take a job away from its holder (the lease ended one way or another). */
static void release(struct job *j) {
        struct worker *w = j->worker;
        if (w && j->state == KA_BUS_JOB_OFFERED)
                w->offers--;
        else if (w && j->state == KA_BUS_JOB_LEASED)
                w->leases--;
        j->worker = NULL;
}

static void job_drop(struct ka_bus_jobs *t, struct job *j) {
        if (j->state == KA_BUS_JOB_PENDING)
                pending_remove(t, j);
        release(j);
        ka_hashmap_remove(&t->jobs, j->id);
        job_free(j);
}

/* Order of expiry: earliest first, then by id, so that runs are repeatable. */
static int by_expiry(const void *a, const void *b) {
        const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
        if (x->expires != y->expires)
                return x->expires < y->expires ? -1 : 1;
        return strcmp(x->id, y->id);
}

/* These leases are over: say so, and put the jobs back at the front of the
 * queue in the order they ran out.  A job adopted and never submitted has
 * no work to offer again: it is dropped -- and with revoke, its holder is
 * told to drop it too (it would renew it for ever). */
static void lose(struct ka_bus_jobs *t, struct job **v, size_t n, bool revoke) {
        if (n)
                qsort(v, n, sizeof(*v), by_expiry);
        for (size_t i = 0; i < n; i++) {
                struct job *j = v[i];
                t->counts.expired++;
                act(t, KA_BUS_ACT_EXPIRED, j->worker, j, j->epoch);
                if (!j->work && revoke)
                        act(t, KA_BUS_ACT_REVOKE, j->worker, j, j->epoch);
                release(j);
                if (!j->work) {
                        job_drop(t, j);
                        v[i] = NULL;
                }
        }
        for (size_t i = n; i-- > 0;)
                if (v[i])
                        pending_push(t, v[i], true);
}

void ka_bus_jobs_worker_up(struct ka_bus_jobs *t, const char *name, const char *instance, char *const *serves,
                           size_t capacity) {
        struct worker *w = worker_find(t, name);
        if (!w) {
                w = ka_new0(struct worker, 1);
                w->name = ka_strdup(name);
                t->workers = ka_reallocarray(t->workers, t->n_workers + 1, sizeof(*t->workers));
                t->workers[t->n_workers++] = w;
        } else if (!ka_streq(w->instance, instance)) {
                /* a new process under the same name: the old one is gone, and its leases with it */
                struct job **lost = NULL;
                size_t n_lost = 0, it = 0;
                void *v;
                while (ka_hashmap_next(&t->jobs, &it, NULL, &v)) {
                        struct job *j = v;
                        if (j->worker == w && (j->state == KA_BUS_JOB_OFFERED || j->state == KA_BUS_JOB_LEASED)) {
                                lost = ka_reallocarray(lost, n_lost + 1, sizeof(*lost));
                                lost[n_lost++] = j;
                        }
                }
                lose(t, lost, n_lost, false);
                free(lost);
        }
        free(w->instance);
        w->instance = ka_strdup(instance);
        ka_strv_free(w->serves);
        w->serves = NULL;
        for (char *const *s = serves; s && *s; s++)
                w->serves = ka_strv_push(w->serves ? w->serves : ka_new0(char *, 1), *s);
        w->capacity = capacity;
        w->alive = true;
}

void ka_bus_jobs_worker_down(struct ka_bus_jobs *t, const char *name) {
        struct worker *w = worker_find(t, name);
        if (w)
                w->alive = false;
}

void ka_bus_jobs_worker_heard(struct ka_bus_jobs *t, const char *name) {
        heard(t, name);
}

/* ---- jobs ---- */

static struct job *job_new(struct ka_bus_jobs *t, const char *id) {
        struct job *j = ka_new0(struct job, 1);
        j->id = ka_strdup(id);
        j->next_seq = 1;
        ka_hashmap_put(&t->jobs, id, j);
        return j;
}

int ka_bus_jobs_submit(struct ka_bus_jobs *t, const char *id, const char *target, const cJSON *work) {
        struct job *j = ka_hashmap_get(&t->jobs, id);
        if (j && j->state != KA_BUS_JOB_DONE) {
                if (j->work)
                        return -EEXIST;
                j->work = work ? cJSON_Duplicate(work, true) : cJSON_CreateObject();
                j->target = ka_strdup(target);
                return 0;
        }
        if (j)
                job_drop(t, j); /* done before: this is a new request under the same id */
        j = job_new(t, id);
        j->target = ka_strdup(target);
        j->work = work ? cJSON_Duplicate(work, true) : cJSON_CreateObject();
        pending_push(t, j, false);
        return 0;
}

int ka_bus_jobs_cancel(struct ka_bus_jobs *t, const char *id) {
        struct job *j = ka_hashmap_get(&t->jobs, id);
        if (!j)
                return -ENOENT;
        if (j->worker && (j->state == KA_BUS_JOB_OFFERED || j->state == KA_BUS_JOB_LEASED))
                act(t, KA_BUS_ACT_REVOKE, j->worker, j, j->epoch);
        job_drop(t, j);
        return 0;
}

static bool holds(const struct job *j, const struct worker *w, uint64_t epoch) {
        return j && w && j->worker == w && j->epoch == epoch &&
               (j->state == KA_BUS_JOB_OFFERED || j->state == KA_BUS_JOB_LEASED);
}

static void lease(struct ka_bus_jobs *t, struct job *j) {
        if (j->state == KA_BUS_JOB_OFFERED) {
                j->worker->offers--;
                j->worker->leases++;
                j->state = KA_BUS_JOB_LEASED;
        }
        /* an adopted job nobody submitted keeps the one lease adoption gave
         * it: whoever holds it cannot keep it alive by renewing */
        if (j->work)
                j->expires = now(t) + t->o.lease_ms;
}

/* A worker holds a job nobody holds here — one the table does not know
 * (created for it), or one pending (j: submitted again after a restart, or
 * back in the queue after its lease lapsed) at an epoch no older than the
 * last one offered: take its word for it. */
static struct job *adopt(struct ka_bus_jobs *t, struct job *j, struct worker *w, const char *id, uint64_t epoch,
                         uint64_t acked) {
        if (!j)
                j = job_new(t, id);
        else
                pending_remove(t, j);
        j->state = KA_BUS_JOB_LEASED;
        j->worker = w;
        j->epoch = epoch;
        j->next_seq = acked + 1;
        j->expires = now(t) + t->o.lease_ms;
        t->scan_at = KA_MIN(t->scan_at, j->expires);
        w->leases++;
        t->counts.adopted++;
        act(t, KA_BUS_ACT_ADOPTED, w, j, epoch);
        return j;
}

/* A job this table does not know is adopted only at an epoch older than
 * the table: one of its own epochs (max(previous + 1, Unix ms) at dispatch,
 * never older than its start) means a job it finished or cancelled and
 * forgot -- the late word of a holder it revoked, not a lease to take over. */
static bool adoptable(const struct ka_bus_jobs *t, const struct job *j, uint64_t epoch) {
        if (!j)
                return epoch < t->start_wall;
        return j->state == KA_BUS_JOB_PENDING && epoch >= j->epoch;
}

void ka_bus_jobs_accepted(struct ka_bus_jobs *t, const char *worker, const char *id, uint64_t epoch) {
        struct job *j = ka_hashmap_get(&t->jobs, id);
        struct worker *w = heard(t, worker);
        if (holds(j, w, epoch))
                lease(t, j);
        else if (!(j && j->state == KA_BUS_JOB_DONE && j->epoch == epoch && j->worker == w))
                act_revoke(t, worker, id, epoch);
}

void ka_bus_jobs_rejected(struct ka_bus_jobs *t, const char *worker, const char *id, uint64_t epoch) {
        struct job *j = ka_hashmap_get(&t->jobs, id);
        struct worker *w = heard(t, worker);
        if (!holds(j, w, epoch))
                return;
        t->counts.rejected++;
        release(j);
        j->refused_by = w;
        j->refused_until = now(t) + t->o.lease_ms;
        t->refusals_end = KA_MIN(t->refusals_end, j->refused_until);
        if (!j->work) {
                job_drop(t, j);
                return;
        }
        pending_push(t, j, false);
}

void ka_bus_jobs_renewed(struct ka_bus_jobs *t, const char *worker, const char *id, uint64_t epoch, uint64_t acked) {
        struct job *j = ka_hashmap_get(&t->jobs, id);
        struct worker *w = heard(t, worker);
        if (!w)
                return;
        if (adoptable(t, j, epoch)) {
                adopt(t, j, w, id, epoch, acked);
                return;
        }
        if (holds(j, w, epoch)) {
                lease(t, j);
                return;
        }
        if (j && j->state == KA_BUS_JOB_DONE && j->worker == w && j->epoch == epoch)
                return; /* renewed before our ack of its final event arrived */
        act_revoke(t, worker, id, epoch);
}

enum ka_bus_verdict ka_bus_jobs_event(struct ka_bus_jobs *t, const char *worker, const char *id, uint64_t epoch,
                                      uint64_t seq, bool final) {
        struct job *j = ka_hashmap_get(&t->jobs, id);
        struct worker *w = heard(t, worker);
        if (!w)
                return KA_BUS_STALE;
        if (adoptable(t, j, epoch))
                j = adopt(t, j, w, id, epoch, seq - 1);
        if (j && j->state == KA_BUS_JOB_DONE && j->worker == w && j->epoch == epoch) {
                t->counts.duplicates++;
                return KA_BUS_DUPLICATE;
        }
        if (!holds(j, w, epoch)) {
                t->counts.stale++;
                return KA_BUS_STALE;
        }
        if (seq < j->next_seq) {
                t->counts.duplicates++;
                lease(t, j);
                return KA_BUS_DUPLICATE;
        }
        j->next_seq = seq + 1;
        lease(t, j);
        if (final) {
                release(j);
                j->worker = w; /* remembered for duplicates; holds no lease */
                j->state = KA_BUS_JOB_DONE;
                j->expires = now(t) + DONE_KEEP_LEASES * t->o.lease_ms;
                t->scan_at = KA_MIN(t->scan_at, j->expires);
        }
        return KA_BUS_HANDLE;
}

/* ---- time ---- */

static bool serves(const struct worker *w, const char *target) {
        if (!target || !w->serves || !w->serves[0])
                return true;
        return ka_strv_contains(w->serves, target);
}

static bool has_room(const struct ka_bus_jobs *t, const struct worker *w) {
        return w->alive && w->offers < t->o.max_offers && (!w->capacity || w->offers + w->leases < w->capacity);
}

static struct worker *pick(struct ka_bus_jobs *t, const struct job *j, int64_t at) {
        struct worker *best = NULL;
        for (size_t i = 0; i < t->n_workers; i++) {
                struct worker *w = t->workers[i];
                if (!has_room(t, w) || !serves(w, j->target) || (w == j->refused_by && at < j->refused_until))
                        continue;
                size_t load = w->offers + w->leases, best_load = best ? best->offers + best->leases : 0;
                if (!best || load < best_load || (load == best_load && w->last_pick < best->last_pick))
                        best = w;
        }
        return best;
}

static void dispatch(struct ka_bus_jobs *t, int64_t at) {
        for (struct job *j = t->pending_head, *next; j; j = next) {
                next = j->next;
                bool any = false;
                for (size_t i = 0; i < t->n_workers && !any; i++)
                        any = has_room(t, t->workers[i]);
                if (!any)
                        return;
                struct worker *w = pick(t, j, at);
                if (!w)
                        continue;
                pending_remove(t, j);
                if (j->epoch)
                        t->counts.redispatched++;
                int64_t wall = ka_bus_wall(t->clock);
                j->epoch = (int64_t)j->epoch + 1 > wall ? j->epoch + 1 : (uint64_t)wall;
                j->next_seq = 1;
                j->state = KA_BUS_JOB_OFFERED;
                j->worker = w;
                j->expires = at + t->o.lease_ms;
                t->scan_at = KA_MIN(t->scan_at, j->expires);
                w->offers++;
                w->last_pick = ++t->picks;
                t->counts.dispatched++;
                act(t, KA_BUS_ACT_DISPATCH, w, j, j->epoch);
        }
}

void ka_bus_jobs_tick(struct ka_bus_jobs *t) {
        int64_t at = now(t);
        if (at >= t->scan_at) {
                t->scan_at = INT64_MAX;
                struct job **gone = NULL;
                size_t n_gone = 0, it = 0;
                void *v;
                while (ka_hashmap_next(&t->jobs, &it, NULL, &v)) {
                        struct job *j = v;
                        if (j->state == KA_BUS_JOB_PENDING)
                                continue;
                        if (j->expires > at) {
                                t->scan_at = KA_MIN(t->scan_at, j->expires);
                                continue;
                        }
                        gone = ka_reallocarray(gone, n_gone + 1, sizeof(*gone));
                        gone[n_gone++] = j;
                }
                size_t n_lost = 0;
                for (size_t i = 0; i < n_gone; i++) {
                        if (gone[i]->state == KA_BUS_JOB_DONE) {
                                job_drop(t, gone[i]);
                                continue;
                        }
                        /* it let a lease lapse: offer it nothing until it is heard
                         * from again (an adopted lease nobody claimed is not its fault) */
                        if (gone[i]->work)
                                gone[i]->worker->alive = false;
                        gone[n_lost++] = gone[i];
                }
                lose(t, gone, n_lost, true);
                free(gone);
        }
        if (at >= t->refusals_end) {
                /* a refusal ended: when does the next one? */
                t->refusals_end = INT64_MAX;
                for (const struct job *j = t->pending_head; j; j = j->next)
                        if (j->refused_by && j->refused_until > at)
                                t->refusals_end = KA_MIN(t->refusals_end, j->refused_until);
        }
        if (at >= t->start + t->o.grace_ms)
                dispatch(t, at);
}

int64_t ka_bus_jobs_deadline(const struct ka_bus_jobs *t) {
        int64_t d = t->scan_at;
        if (t->pending_head) {
                int64_t grace_end = t->start + t->o.grace_ms;
                if (grace_end > now(t))
                        d = KA_MIN(d, grace_end);
                /* a refusal that ends can make a pending job dispatchable */
                d = KA_MIN(d, t->refusals_end);
        }
        return d;
}

void ka_bus_jobs_counts(const struct ka_bus_jobs *t, struct ka_bus_job_counts *ret) {
        struct ka_bus_job_counts c = t->counts;
        c.pending = c.offered = c.leased = c.done = 0;
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&t->jobs, &it, NULL, &v)) {
                const struct job *j = v;
                c.pending += j->state == KA_BUS_JOB_PENDING;
                c.offered += j->state == KA_BUS_JOB_OFFERED;
                c.leased += j->state == KA_BUS_JOB_LEASED;
                c.done += j->state == KA_BUS_JOB_DONE;
        }
        *ret = c;
}

int ka_bus_jobs_get(const struct ka_bus_jobs *t, const char *id, enum ka_bus_job_state *ret_state,
                    const char **ret_worker, uint64_t *ret_epoch) {
        const struct job *j = ka_hashmap_get(&t->jobs, id);
        if (!j)
                return -ENOENT;
        if (ret_state)
                *ret_state = j->state;
        if (ret_worker)
                *ret_worker = j->worker && j->state != KA_BUS_JOB_DONE ? j->worker->name : NULL;
        if (ret_epoch)
                *ret_epoch = j->epoch;
        return 0;
}
