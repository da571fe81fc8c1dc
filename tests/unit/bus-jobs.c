/* Unit tests for core/bus/jobs: leases, epochs, re-dispatch, adoption and
 * exactly-once events, on a clock moved by hand. */
#include <errno.h>
#include <string.h>

#include "bus/fakeclock.h"
#include "bus/jobs.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"

#define LEASE 1000

/* Collect the actions of one tick (or of the calls before it) as text:
 * "dispatch a@w1 revoke b@w2 ..." */
static char *actions(struct ka_bus_jobs *t, bool tick) {
        if (tick)
                ka_bus_jobs_tick(t);
        static const char *const names[] = {"?", "dispatch", "revoke", "adopted", "expired"};
        struct ka_buf b = KA_BUF_INIT(0);
        struct ka_bus_action a;
        while (ka_bus_jobs_next_action(t, &a))
                ka_buf_printf(&b, "%s%s %s@%s", b.len ? " " : "", names[a.kind], a.job, a.worker);
        return b.data ? ka_buf_steal(&b) : ka_strdup("");
}

static void is_actions(struct ka_bus_jobs *t, bool tick, const char *want, const char *what) {
        char *got = actions(t, tick);
        is_str(got, want, "%s", what);
        free(got);
}

static uint64_t epoch_of(struct ka_bus_jobs *t, const char *job) {
        uint64_t e = 0;
        ka_bus_jobs_get(t, job, NULL, NULL, &e);
        return e;
}

static const char *state_of(struct ka_bus_jobs *t, const char *job) {
        enum ka_bus_job_state s;
        if (ka_bus_jobs_get(t, job, &s, NULL, NULL) < 0)
                return "gone";
        return ka_bus_job_state_name(s);
}

static struct ka_bus_jobs *table(int64_t grace) {
        struct ka_bus_jobs_options o = {.lease_ms = LEASE, .grace_ms = grace};
        return ka_bus_jobs_new(&o, &fake_clock);
}

static void test_lifecycle(void) {
        struct ka_bus_jobs *t = table(0);
        cJSON *work = cJSON_Parse("{\"pod\":\"maven-1\"}");
        is_int(ka_bus_jobs_submit(t, "a", NULL, work), 0, "submit a");
        is_int(ka_bus_jobs_submit(t, "a", NULL, work), -EEXIST, "submitting it again while pending is refused");
        is_actions(t, true, "", "no worker, no dispatch");
        is_str(state_of(t, "a"), "pending", "a waits");

        ka_bus_jobs_worker_up(t, "w1", "i1", NULL, 0);
        char *got = actions(t, true);
        is_str(got, "dispatch a@w1", "a worker comes: a is offered to it");
        free(got);
        is_str(state_of(t, "a"), "offered", "a is offered");
        uint64_t e1 = epoch_of(t, "a");
        is_int(e1, now.wall, "the first epoch is the Unix time in ms");

        ka_bus_jobs_accepted(t, "w1", "a", e1);
        is_str(state_of(t, "a"), "leased", "accepted: leased");
        is_actions(t, true, "", "nothing to do while the lease runs");

        is_int(ka_bus_jobs_event(t, "w1", "a", e1, 1, false), KA_BUS_HANDLE, "event 1 is handled");
        is_int(ka_bus_jobs_event(t, "w1", "a", e1, 1, false), KA_BUS_DUPLICATE, "event 1 again is a duplicate");
        advance(LEASE - 1);
        ka_bus_jobs_renewed(t, "w1", "a", e1, 1);
        advance(LEASE - 1);
        is_actions(t, true, "", "renewals keep the lease past its first term");
        is_int(ka_bus_jobs_event(t, "w1", "a", e1, 2, true), KA_BUS_HANDLE, "the final event is handled");
        is_str(state_of(t, "a"), "done", "the job is done");
        is_int(ka_bus_jobs_event(t, "w1", "a", e1, 2, true), KA_BUS_DUPLICATE, "the final event resent is a duplicate");
        ka_bus_jobs_renewed(t, "w1", "a", e1, 1);
        is_actions(t, true, "", "a renew sent before the final ack is not revoked");

        struct ka_bus_job_counts c;
        ka_bus_jobs_counts(t, &c);
        ok(c.pending == 0 && c.offered == 0 && c.leased == 0 && c.done == 1, "counts: one done, nothing in flight");
        is_int(c.duplicates, 2, "two duplicates counted");
        advance(4 * LEASE + 1);
        is_actions(t, true, "", "finished jobs are forgotten quietly");
        is_str(state_of(t, "a"), "gone", "after four leases");
        is_int(ka_bus_jobs_submit(t, "a", NULL, work), 0, "the same id can be submitted again");
        got = actions(t, true);
        is_str(got, "dispatch a@w1", "and is offered again");
        free(got);
        ok(epoch_of(t, "a") > e1, "under a new epoch");
        cJSON_Delete(work);
        ka_bus_jobs_free(t);
}

static void test_expiry(void) {
        struct ka_bus_jobs *t = table(0);
        ka_bus_jobs_worker_up(t, "w1", "i1", NULL, 0);
        ka_bus_jobs_submit(t, "a", NULL, NULL);
        ka_bus_jobs_submit(t, "b", NULL, NULL);
        is_actions(t, true, "dispatch a@w1 dispatch b@w1", "both offered to the only worker");
        uint64_t ea = epoch_of(t, "a"), eb = epoch_of(t, "b");
        ka_bus_jobs_accepted(t, "w1", "a", ea);
        ka_bus_jobs_worker_up(t, "w2", "i2", NULL, 0);
        is_actions(t, false, "", "a second worker changes nothing held");
        ok(ka_bus_jobs_deadline(t) == now.mono + LEASE, "the next deadline is the end of the leases");

        /* w1 dies: nothing renews its lease or answers the offer */
        advance(LEASE);
        ka_bus_jobs_worker_down(t, "w1");
        is_actions(t, true, "expired a@w1 expired b@w1 dispatch a@w2 dispatch b@w2",
                   "both leases run out and go to w2 (order: as expired, then FIFO from the front)");
        uint64_t ea2 = epoch_of(t, "a");
        ok(ea2 > ea, "a new epoch for the new lease");
        struct ka_bus_job_counts c;
        ka_bus_jobs_counts(t, &c);
        ok(c.expired == 2 && c.redispatched == 2, "two expired, two re-dispatched");

        /* w1 was only cut off: its late reports are refused */
        is_int(ka_bus_jobs_event(t, "w1", "a", ea, 1, true), KA_BUS_STALE, "a late event from the old epoch is stale");
        ka_bus_jobs_renewed(t, "w1", "b", eb, 0);
        is_actions(t, false, "revoke b@w1", "a renew of the old lease is revoked");
        ka_bus_jobs_accepted(t, "w1", "a", ea);
        is_actions(t, false, "revoke a@w1", "a late accept of the old offer is revoked");
        is_int(ka_bus_jobs_event(t, "w2", "a", ea2, 1, true), KA_BUS_HANDLE, "the new holder's final event counts");

        /* the wall clock steps back: epochs still grow */
        now.wall -= 3600000;
        ka_bus_jobs_accepted(t, "w2", "b", epoch_of(t, "b"));
        uint64_t eb2 = epoch_of(t, "b");
        advance(LEASE);
        ka_bus_jobs_worker_down(t, "w2");
        ka_bus_jobs_worker_up(t, "w3", "i3", NULL, 0);
        is_actions(t, true, "expired b@w2 dispatch b@w3", "b moves on to w3");
        is_int(epoch_of(t, "b"), eb2 + 1, "with the previous epoch + 1 when the clock went back");
        now.wall += 3600000;
        ka_bus_jobs_free(t);
}

static void test_restarted_worker(void) {
        struct ka_bus_jobs *t = table(0);
        ka_bus_jobs_worker_up(t, "w1", "i1", NULL, 0);
        ka_bus_jobs_submit(t, "a", NULL, NULL);
        is_actions(t, true, "dispatch a@w1", "a to w1");
        ka_bus_jobs_accepted(t, "w1", "a", epoch_of(t, "a"));
        ka_bus_jobs_worker_up(t, "w1", "i1", NULL, 0);
        is_actions(t, true, "", "a hello from the same process keeps its leases");
        ka_bus_jobs_worker_up(t, "w1", "i1-new", NULL, 0);
        is_actions(t, true, "expired a@w1 dispatch a@w1",
                   "a new process under the same name: its leases end at once (and it may take the job again)");
        ka_bus_jobs_free(t);
}

static void test_selection(void) {
        struct ka_bus_jobs *t = table(0);
        char *serves_a[] = {"cloud-a", NULL};
        ka_bus_jobs_worker_up(t, "wa", "1", serves_a, 2);
        ka_bus_jobs_worker_up(t, "wany", "2", NULL, 0);
        ka_bus_jobs_submit(t, "x1", "cloud-b", NULL);
        is_actions(t, true, "dispatch x1@wany", "a target only an any-worker serves");
        ka_bus_jobs_submit(t, "y1", "cloud-a", NULL);
        ka_bus_jobs_submit(t, "y2", "cloud-a", NULL);
        ka_bus_jobs_submit(t, "y3", "cloud-a", NULL);
        is_actions(t, true, "dispatch y1@wa dispatch y2@wany dispatch y3@wa",
                   "least loaded first, round-robin among equals, both serve cloud-a");
        ka_bus_jobs_submit(t, "y4", "cloud-a", NULL);
        is_actions(t, true, "dispatch y4@wany", "wa is at its capacity of 2");
        ka_bus_jobs_free(t);

        struct ka_bus_jobs_options o = {.lease_ms = LEASE, .max_offers = 2};
        t = ka_bus_jobs_new(&o, &fake_clock);
        ka_bus_jobs_worker_up(t, "w", "1", NULL, 0);
        for (int i = 0; i < 4; i++) {
                char id[8];
                snprintf(id, sizeof(id), "j%d", i);
                ka_bus_jobs_submit(t, id, NULL, NULL);
        }
        is_actions(t, true, "dispatch j0@w dispatch j1@w", "at most max_offers unanswered offers per worker");
        ka_bus_jobs_accepted(t, "w", "j0", epoch_of(t, "j0"));
        is_actions(t, true, "dispatch j2@w", "an accept makes room for the next");
        ka_bus_jobs_free(t);
}

static void test_reject(void) {
        struct ka_bus_jobs *t = table(0);
        ka_bus_jobs_worker_up(t, "w1", "1", NULL, 0);
        ka_bus_jobs_submit(t, "a", NULL, NULL);
        is_actions(t, true, "dispatch a@w1", "offered to w1");
        ka_bus_jobs_rejected(t, "w1", "a", epoch_of(t, "a"));
        is_actions(t, true, "", "refused: not offered to w1 again at once");
        ka_bus_jobs_worker_up(t, "w2", "2", NULL, 0);
        is_actions(t, true, "dispatch a@w2", "but to another worker");
        ka_bus_jobs_rejected(t, "w2", "a", epoch_of(t, "a"));
        ok(ka_bus_jobs_deadline(t) == now.mono + LEASE, "the refusals end after a lease");
        advance(LEASE);
        is_actions(t, true, "dispatch a@w1", "then anyone may take it again");
        struct ka_bus_job_counts c;
        ka_bus_jobs_counts(t, &c);
        is_int(c.rejected, 2, "two refusals counted");
        ka_bus_jobs_free(t);
}

static void test_adoption(void) {
        /* a core that restarted meets workers that hold leases */
        struct ka_bus_jobs *t = table(500);
        ka_bus_jobs_worker_up(t, "w1", "1", NULL, 0);
        ka_bus_jobs_submit(t, "new", NULL, NULL);
        is_actions(t, true, "", "nothing is dispatched during the grace period");
        is_int(ka_bus_jobs_deadline(t), now.mono + 500, "which ends after grace_ms");
        ka_bus_jobs_renewed(t, "w1", "a", 77, 3);
        is_actions(t, false, "adopted a@w1", "a lease the core did not know is adopted");
        is_str(state_of(t, "a"), "leased", "leased to the worker that reported it");
        is_int(epoch_of(t, "a"), 77, "at its epoch");
        is_int(ka_bus_jobs_event(t, "w1", "a", 77, 3, false), KA_BUS_DUPLICATE,
               "events up to the seq the worker had acked are duplicates");
        is_int(ka_bus_jobs_event(t, "w1", "a", 77, 4, false), KA_BUS_HANDLE, "the next one is handled");
        cJSON *work = cJSON_Parse("{\"w\":1}");
        is_int(ka_bus_jobs_submit(t, "a", NULL, work), 0, "submitting an adopted job attaches its work");
        is_int(ka_bus_jobs_submit(t, "a", NULL, work), -EEXIST, "once");
        cJSON_Delete(work);
        is_actions(t, false, "", "and does not dispatch it again");
        is_int(ka_bus_jobs_event(t, "w1", "b", 9, 1, true), KA_BUS_HANDLE,
               "an event of an unknown job adopts it and is handled");
        is_str(state_of(t, "b"), "done", "its final event finishes it");
        is_actions(t, false, "adopted b@w1", "the adoption is announced");
        ka_bus_jobs_renewed(t, "w1", "c", 5, 0);
        is_actions(t, false, "adopted c@w1", "c adopted too");
        ka_bus_jobs_submit(t, "d", NULL, NULL);
        ka_bus_jobs_renewed(t, "w1", "d", 6, 2);
        is_actions(t, false, "adopted d@w1",
                   "a job submitted again (still pending: grace) that a worker re-announces is adopted, not revoked");
        is_str(state_of(t, "d"), "leased", "d is leased to that worker");
        is_int(ka_bus_jobs_event(t, "w1", "d", 6, 2, false), KA_BUS_DUPLICATE, "d's events continue from its seq");
        advance(500);
        is_actions(t, true, "dispatch new@w1", "after the grace period, pending jobs go (d is not sent again)");
        ka_bus_jobs_renewed(t, "w1", "c", 5, 0);
        advance(LEASE);
        ka_bus_jobs_renewed(t, "w1", "a", 77, 4);
        ka_bus_jobs_renewed(t, "w1", "new", epoch_of(t, "new"), 0);
        ka_bus_jobs_renewed(t, "w1", "d", 6, 2);
        ka_bus_jobs_renewed(t, "w1", "c", 5, 0);
        char *got = actions(t, true);
        ok(strstr(got, "expired c@w1 revoke c@w1") != NULL, "unclaimed, c expires after one lease, renewed or not");
        free(got);
        is_str(state_of(t, "c"), "gone", "and is dropped (its work is unknown), its holder told to drop it too");
        is_str(state_of(t, "a"), "leased", "the submitted one lives on");
        ka_bus_jobs_submit(t, "e", NULL, NULL);
        is_actions(t, true, "dispatch e@w1", "a worker that let such a lease go is not taken for down");
        is_int(ka_bus_jobs_cancel(t, "a"), 0, "cancel a");
        is_actions(t, false, "revoke a@w1", "its holder is told");
        is_int(ka_bus_jobs_cancel(t, "a"), -ENOENT, "cancelling twice: no such job");
        ka_bus_jobs_free(t);
}

/* What a worker says late about a job this table gave out and forgot. */
static void test_forgotten(void) {
        struct ka_bus_jobs *t = table(0);
        ka_bus_jobs_worker_up(t, "w1", "1", NULL, 0);
        ka_bus_jobs_submit(t, "x", NULL, NULL);
        is_actions(t, true, "dispatch x@w1", "x goes to w1");
        uint64_t e = epoch_of(t, "x");
        ka_bus_jobs_accepted(t, "w1", "x", e);
        is_int(ka_bus_jobs_event(t, "w1", "x", e, 1, true), KA_BUS_HANDLE, "x is done");
        advance(5 * LEASE);
        ka_bus_jobs_renewed(t, "w1", "keepalive", 1, 0); /* an epoch before the table: adopted */
        is_actions(t, true, "adopted keepalive@w1", "four leases later x is forgotten");
        is_str(state_of(t, "x"), "gone", "x is gone");
        is_int(ka_bus_jobs_event(t, "w1", "x", e, 1, true), KA_BUS_STALE,
               "its final report resent that late is stale, not handled again");
        is_str(state_of(t, "x"), "gone", "and does not bring it back");
        ka_bus_jobs_submit(t, "y", NULL, NULL);
        is_actions(t, true, "dispatch y@w1", "y goes to w1");
        uint64_t ey = epoch_of(t, "y");
        is_int(ka_bus_jobs_cancel(t, "y"), 0, "y is cancelled");
        is_actions(t, false, "revoke y@w1", "its holder is told");
        ka_bus_jobs_renewed(t, "w1", "y", ey, 0);
        is_actions(t, false, "revoke y@w1", "a renew of y already on its way is answered with a revoke, not adopted");
        is_str(state_of(t, "y"), "gone", "y stays gone");
        ka_bus_jobs_free(t);
}

int main(void) {
        ka_mem_init();
        test_lifecycle();
        test_expiry();
        test_restarted_worker();
        test_selection();
        test_reject();
        test_adoption();
        test_forgotten();
        return tap_done();
}
