/* Unit tests for the bus endpoints (core/bus/core.h, agent.h) in one
 * process over inproc:// — plain and sealed — driven step by step on a
 * clock moved by hand: handshake, jobs and reports, frontend messages and
 * the host table's bus functions, lease expiry and revocation, a core
 * restart with adoption, a wrong key, cancel from another thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bus/agent.h"
#include "bus/config.h"
#include "bus/core.h"
#include "bus/fakeclock.h"
#include "plugin/cfgmap.h"
#include "plugin/plugin.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/timeutil.h"

static int test_no;

/* Times an endpoint, having processed everything due, still asked to be
 * woken at once: each would be a busy loop in a daemon. */
static int spins;

/* A config on fresh inproc addresses; key_file NULL for a plain bus. */
static void config(struct ka_bus_config *c, const char *key_file) {
        test_no++;
        cJSON *o = cJSON_CreateObject();
        char addr[64];
        snprintf(addr, sizeof(addr), "inproc://t%d-workers", test_no);
        ka_json_set_str(o, "workers", addr);
        snprintf(addr, sizeof(addr), "inproc://t%d-frontends", test_no);
        ka_json_set_str(o, "frontends", addr);
        ka_json_set_str(o, "leaseDuration", "1000ms");
        ka_json_set_str(o, "renewInterval", "300ms");
        ka_json_set_str(o, "resendInterval", "100ms");
        ka_json_set_str(o, "reconnectIntervalMax", "200ms"); /* start-up grace: 300 + 100 + 200 ms */
        if (key_file)
                ka_json_set_str(o, "keyFile", key_file);
        struct kubeagent_config_source src = ka_cfgsrc(o, NULL, (struct ka_loc){0});
        struct ka_diags d = {0};
        *c = (struct ka_bus_config){0};
        if (ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, c, &d) < 0)
                abort();
        ka_diags_free(&d);
        cJSON_Delete(o);
        const char *key;
        struct ka_error err = {0};
        if (ka_bus_config_validate(c, &key, &err) < 0) {
                tap_diag("config: %s: %s", key, err.msg);
                abort();
        }
}

static void config_clear(struct ka_bus_config *c) {
        ka_cfgmap_clear(ka_bus_config_keys, c);
}

/* ---- driving endpoints in one thread ---- */

#define MAX_EP 4

struct world {
        struct ka_bus_core *core;
        struct ka_bus_agent *agents[MAX_EP];
        size_t n;
        /* what happened, as text, for assertions */
        struct ka_buf core_log, agent_log[MAX_EP];
        bool auto_finish; /* workers finish each job at once */
};

static void add_agent(struct world *w, struct ka_bus_agent *a) {
        w->agents[w->n] = a;
        w->agent_log[w->n] = (struct ka_buf)KA_BUF_INIT(0);
        w->n++;
}

static void log_core(struct world *w) {
        struct ka_bus_core_event ev;
        if (!w->core)
                return; /* between a core's death and its successor */
        while (ka_bus_core_next(w->core, 0, &ev) == 0) {
                static const char *const k[] = {"?",       "up",      "down",     "event",
                                                "adopted", "expired", "rejected", "message"};
                ka_buf_printf(&w->core_log, "%s:%s:%s%s%s;", k[ev.kind], ev.peer, ev.job[0] ? ev.job : ev.type,
                              ev.final ? ":final" : "", ev.restarted ? ":restarted" : "");
                ka_bus_core_event_clear(&ev);
        }
}

static void log_agent(struct world *w, size_t i) {
        struct ka_bus_agent_event ev;
        int r;
        while ((r = ka_bus_agent_next(w->agents[i], 0, &ev)) == 0) {
                static const char *const k[] = {"?", "connected", "job", "revoked", "message", "stop"};
                ka_buf_printf(&w->agent_log[i], "%s:%s%s%s;", k[ev.kind], ev.job[0] ? ev.job : ev.type,
                              ev.resumed ? ":resumed" : "", ev.restarted ? ":restarted" : "");
                if (ev.kind == KA_BUS_AGENT_JOB && w->auto_finish) {
                        cJSON *d = cJSON_CreateObject();
                        ka_json_set_str(d, "result", "created");
                        ka_bus_agent_report(w->agents[i], ev.job, d, true, NULL);
                        cJSON_Delete(d);
                }
                ka_bus_agent_event_clear(&ev);
        }
}

/* Process everything until nothing moves (inproc delivers at once, but
 * connections are set up by nanomsg's thread: wait on the fds for that). */
static void settle(struct world *w) {
        int ep = epoll_create1(0);
        struct epoll_event e = {.events = EPOLLIN};
        if (w->core) {
                e.data.fd = ka_bus_core_fd(w->core);
                epoll_ctl(ep, EPOLL_CTL_ADD, e.data.fd, &e);
        }
        for (size_t i = 0; i < w->n; i++) {
                e.data.fd = ka_bus_agent_fd(w->agents[i]);
                epoll_ctl(ep, EPOLL_CTL_ADD, e.data.fd, &e);
        }
        for (int quiet = 0; quiet < 3;) {
                log_core(w);
                for (size_t i = 0; i < w->n; i++)
                        log_agent(w, i);
                struct epoll_event got[8];
                quiet = epoll_wait(ep, got, 8, 20) > 0 ? 0 : quiet + 1;
        }
        close(ep);
        if (w->core && ka_bus_core_timeout(w->core) == 0) {
                tap_diag("the core wants to be woken at once");
                spins++;
        }
        for (size_t i = 0; i < w->n; i++)
                if (ka_bus_agent_timeout(w->agents[i]) == 0) {
                        tap_diag("agent %zu wants to be woken at once", i);
                        spins++;
                }
}

static bool contains(const struct ka_buf *b, const char *s) {
        return b->data && strstr(b->data, s);
}

static void clear_logs(struct world *w) {
        ka_buf_reset(&w->core_log);
        for (size_t i = 0; i < w->n; i++)
                ka_buf_reset(&w->agent_log[i]);
}

static void world_free(struct world *w) {
        for (size_t i = 0; i < w->n; i++) {
                ka_bus_agent_free(w->agents[i]);
                ka_buf_free(&w->agent_log[i]);
        }
        ka_bus_core_free(w->core);
        ka_buf_free(&w->core_log);
}

static struct ka_bus_agent *agent(const struct ka_bus_config *c, enum ka_bus_role role, const char *name) {
        struct ka_bus_agent_options o = {.role = role, .name = name};
        struct ka_bus_agent *a;
        struct ka_error err = {0};
        if (ka_bus_agent_new(c, &o, &fake_clock, &a, &err) < 0) {
                tap_diag("agent %s: %s", name, err.msg);
                abort();
        }
        return a;
}

static void flows(const char *key_file, const char *what) {
        struct ka_bus_config c;
        config(&c, key_file);
        struct world w = {.core_log = KA_BUF_INIT(0)};
        struct ka_error err = {0};
        is_int(ka_bus_core_new(&c, &fake_clock, &w.core, &err), 0, "%s: the core listens", what);
        add_agent(&w, agent(&c, KA_BUS_ROLE_WORKER, "w1"));
        add_agent(&w, agent(&c, KA_BUS_ROLE_FRONTEND, "jenkins"));
        settle(&w);
        ok(contains(&w.core_log, "up:w1:;") && contains(&w.core_log, "up:jenkins:;"), "%s: both peers are up", what);
        ok(contains(&w.agent_log[0], "connected:") && contains(&w.agent_log[1], "connected:"), "%s: both were welcomed",
           what);
        is_int(ka_bus_core_peers(w.core, "worker"), 1, "%s: one worker", what);
        ok(ka_bus_agent_connected(w.agents[0]), "%s: the worker knows it is connected", what);

        /* a job with two reports */
        cJSON *work = cJSON_Parse("{\"pod\":{\"metadata\":{\"name\":\"maven-1\"}}}");
        is_int(ka_bus_core_submit(w.core, "pod/ci/maven-1", NULL, work, &err), 0, "%s: submit", what);
        advance(700); /* past the start-up grace period */
        clear_logs(&w);
        settle(&w);
        ok(contains(&w.agent_log[0], "job:pod/ci/maven-1;"), "%s: the worker gets the job", what);
        is_int(ka_bus_agent_jobs(w.agents[0]), 1, "%s: and holds it", what);
        cJSON *d = cJSON_Parse("{\"phase\":\"Pending\"}");
        is_int(ka_bus_agent_report(w.agents[0], "pod/ci/maven-1", d, false, &err), 0, "%s: report 1", what);
        is_int(ka_bus_agent_report(w.agents[0], "pod/ci/maven-1", d, true, &err), 0, "%s: final report", what);
        is_int(ka_bus_agent_report(w.agents[0], "pod/ci/maven-1", d, true, &err), -EALREADY,
               "%s: nothing after the final report", what);
        is_int(ka_bus_agent_report(w.agents[0], "nope", d, true, &err), -ENOENT, "%s: nor on a job not held", what);
        cJSON_Delete(d);
        settle(&w);
        ok(contains(&w.core_log, "event:w1:pod/ci/maven-1;event:w1:pod/ci/maven-1:final;"),
           "%s: the core handles both reports, in order, once", what);
        is_int(ka_bus_agent_jobs(w.agents[0]), 0, "%s: the worker forgets the job once its final report is acked",
               what);
        struct ka_bus_job_counts n;
        ka_bus_core_job_counts(w.core, &n);
        ok(n.pending + n.offered + n.leased == 0 && n.done == 1, "%s: counters: nothing in flight, one done", what);

        /* frontend messages, through the host table a plugin gets */
        struct kubeagent_bus *fb = ka_bus_agent_handle(w.agents[1]);
        const struct kubeagent_host *host = ka_host();
        cJSON *m = cJSON_Parse("{\"type\":\"demand\",\"label\":\"maven\",\"count\":2}");
        ka_host_set_bus(NULL);
        is_int(host->bus_send(fb, m, &err), -ENOSYS, "%s: before the daemon installs the bus, bus_send fails", what);
        like(err.msg, "not running", "%s: saying so", what);
        static const struct ka_host_bus ops = {.send = ka_bus_host_send, .recv = ka_bus_host_recv};
        ka_host_set_bus(&ops);
        is_int(host->bus_send(fb, m, &err), 0, "%s: the frontend sends demand", what);
        cJSON_Delete(m);
        m = cJSON_Parse("{\"type\":\"job\"}");
        is_int(host->bus_send(fb, m, &err), -EINVAL, "%s: a frontend cannot send the bus's own types", what);
        like(err.msg, "cannot be the type", "%s: saying so", what);
        cJSON_Delete(m);
        clear_logs(&w);
        settle(&w);
        ok(contains(&w.core_log, "message:jenkins:demand;"), "%s: the core gets it", what);
        cJSON *p = cJSON_Parse("{\"agent\":\"maven-1\",\"secret\":\"s3cr3t-agent-secret\"}");
        is_int(ka_bus_core_send(w.core, "jenkins", "register-agent", p, &err), 0, "%s: the core answers", what);
        is_int(ka_bus_core_send(w.core, "nobody", "register-agent", p, &err), -ENOENT, "%s: not to an unknown peer",
               what);
        cJSON_Delete(p);
        ka_bus_core_process(w.core);
        cJSON *got = NULL;
        is_int(host->bus_recv(fb, 2000, &got, &err), 0, "%s: the frontend receives", what);
        is_str(ka_json_str(got, "type"), "register-agent", "%s: the core's message", what);
        is_str(ka_json_str(got, "secret"), "s3cr3t-agent-secret", "%s: with its payload", what);
        cJSON_Delete(got);
        got = NULL;
        int64_t t0 = ka_time_now_ms();
        is_int(host->bus_recv(fb, 50, &got, &err), -ETIMEDOUT, "%s: nothing more: -ETIMEDOUT", what);
        ok(ka_time_now_ms() - t0 >= 50, "%s: after the timeout", what);
        ka_bus_core_stop(w.core, "jenkins", "shutting down");
        ka_bus_core_process(w.core);
        is_int(host->bus_recv(fb, 2000, &got, &err), -ECANCELED, "%s: the core asks it to stop: -ECANCELED", what);
        is_int(host->bus_recv(fb, 0, &got, &err), -ECANCELED, "%s: and keeps saying so", what);

        const struct ka_bus_stats *s = ka_bus_core_stats(w.core);
        size_t rejected = 0;
        for (int i = 0; i < KA_BUS_REJECT_COUNT_; i++)
                rejected += s->rejected[i];
        is_int(rejected, 0, "%s: the core refused nothing", what);
        cJSON_Delete(work);
        world_free(&w);
        config_clear(&c);
}

static void leases(void) {
        struct ka_bus_config c;
        config(&c, NULL);
        struct world w = {.core_log = KA_BUF_INIT(0)};
        struct ka_error err = {0};
        ka_bus_core_new(&c, &fake_clock, &w.core, &err);
        add_agent(&w, agent(&c, KA_BUS_ROLE_WORKER, "w1"));
        settle(&w);
        ka_bus_core_submit(w.core, "a", NULL, NULL, &err);
        advance(700);
        settle(&w);
        ok(contains(&w.agent_log[0], "job:a;"), "w1 takes a");
        uint64_t e1;
        ka_bus_core_job_get(w.core, "a", NULL, NULL, &e1);

        /* w1 goes silent (its process is stopped); w2 arrives */
        struct ka_bus_agent *w1 = w.agents[0];
        w.n = 0;
        ka_buf_free(&w.agent_log[0]);
        add_agent(&w, agent(&c, KA_BUS_ROLE_WORKER, "w2"));
        clear_logs(&w);
        settle(&w);
        for (int i = 0; i < 3; i++) {
                advance(400); /* w2 renews every 300ms; w1 says nothing */
                settle(&w);
        }
        ok(contains(&w.core_log, "down:w1:;"), "w1 is down after a silent lease");
        ok(!contains(&w.core_log, "down:w2"), "w2, renewing, stays up");
        ok(contains(&w.core_log, "expired:w1:a;"), "its lease on a expires");
        ok(contains(&w.agent_log[0], "job:a;"), "a goes to w2");
        uint64_t e2;
        const char *holder;
        ka_bus_core_job_get(w.core, "a", NULL, &holder, &e2);
        ok(e2 > e1 && holder && !strcmp(holder, "w2"), "under a new epoch, held by w2");

        /* w1 wakes up and reports on its stale lease */
        add_agent(&w, w1);
        is_int(ka_bus_agent_report(w1, "a", NULL, false, &err), 0, "w1 reports, late");
        clear_logs(&w);
        settle(&w);
        ok(!contains(&w.core_log, "event:w1:a"), "the core ignores the report from the old epoch");
        ok(contains(&w.agent_log[1], "revoked:a;"), "w1 is told to drop a");
        is_int(ka_bus_agent_jobs(w1), 0, "w1 holds nothing");
        ok(contains(&w.core_log, "up:w1:;"), "w1 counts as up again");
        struct ka_bus_job_counts n;
        ka_bus_core_job_counts(w.core, &n);
        ok(n.stale >= 1, "a stale event was counted");
        is_int(ka_bus_agent_report(w.agents[0], "a", NULL, true, &err), 0, "w2 finishes a");
        clear_logs(&w);
        settle(&w);
        ok(contains(&w.core_log, "event:w2:a:final;"), "the core takes w2's report");
        ka_bus_core_job_counts(w.core, &n);
        ok(n.pending + n.offered + n.leased == 0, "counters back to zero");
        world_free(&w);
        config_clear(&c);
}

static void core_restart(const char *key_file, const char *what) {
        struct ka_bus_config c;
        config(&c, key_file);
        struct world w = {.core_log = KA_BUF_INIT(0)};
        struct ka_error err = {0};
        ka_bus_core_new(&c, &fake_clock, &w.core, &err);
        add_agent(&w, agent(&c, KA_BUS_ROLE_WORKER, "w1"));
        add_agent(&w, agent(&c, KA_BUS_ROLE_FRONTEND, "jenkins"));
        settle(&w);
        ka_bus_core_submit(w.core, "a", NULL, NULL, &err);
        ka_bus_core_submit(w.core, "b", NULL, NULL, &err);
        advance(700);
        settle(&w);
        ok(contains(&w.agent_log[0], "job:a;") && contains(&w.agent_log[0], "job:b;"), "%s: w1 takes a and b", what);
        uint64_t ea;
        ka_bus_core_job_get(w.core, "a", NULL, NULL, &ea);
        ka_bus_agent_report(w.agents[0], "b", NULL, true, &err);
        cJSON *st = cJSON_Parse("{\"agents\":[\"maven-1\"]}");
        ka_bus_agent_send(w.agents[1], "state", st, &err);
        cJSON_Delete(st);

        /* the core dies before it reads either; for a while nobody answers
         * (the peers resend, backing off); then a new one takes its place */
        ka_bus_core_free(w.core);
        w.core = NULL;
        for (int i = 0; i < 8; i++) {
                advance(150);
                settle(&w);
        }
        is_int(ka_bus_core_new(&c, &fake_clock, &w.core, &err), 0, "%s: a new core listens on the same addresses",
               what);
        clear_logs(&w);
        int submitted = 1;
        for (int i = 0; i < 12; i++) {
                advance(150); /* renewals and resends (backing off) bring the peers back */
                settle(&w);
                /* the scheduler claims an adopted lease as soon as it knows
                 * it wants it (unclaimed, it lasts one lease) */
                if (submitted > 0 && contains(&w.core_log, "adopted:w1:a;"))
                        submitted = ka_bus_core_submit(w.core, "a", NULL, NULL, &err);
        }
        ok(contains(&w.agent_log[0], "connected::restarted;"), "%s: the worker meets the new core", what);
        ok(contains(&w.agent_log[1], "connected::restarted;"), "%s: so does the frontend", what);
        ok(contains(&w.core_log, "adopted:w1:a;"), "%s: the new core adopts the lease w1 re-announced", what);
        ok(contains(&w.core_log, "event:w1:b:final;"), "%s: and handles the report the old core never acked", what);
        ok(contains(&w.core_log, "message:jenkins:state;"), "%s: and the frontend's unacknowledged message", what);
        uint64_t e;
        const char *holder;
        enum ka_bus_job_state s;
        ka_bus_core_job_get(w.core, "a", &s, &holder, &e);
        ok(s == KA_BUS_JOB_LEASED && e == ea && holder && !strcmp(holder, "w1"), "%s: a is leased to w1 at its epoch",
           what);
        is_int(submitted, 0, "%s: the scheduler submits a again", what);
        clear_logs(&w);
        advance(300);
        settle(&w);
        ok(!contains(&w.agent_log[0], "job:a"), "%s: which does not send it twice", what);
        is_int(ka_bus_agent_report(w.agents[0], "a", NULL, true, &err), 0, "%s: w1 finishes a", what);
        settle(&w);
        ok(contains(&w.core_log, "event:w1:a:final;"), "%s: the new core handles it", what);
        struct ka_bus_job_counts n;
        ka_bus_core_job_counts(w.core, &n);
        ok(n.pending + n.offered + n.leased == 0, "%s: counters back to zero", what);
        is_int(ka_bus_core_stats(w.core)->rejected[KA_BUS_REJECT_UNKNOWN_SESSION] > 0, 1,
               "%s: the old sessions were refused as unknown (and reset)", what);
        world_free(&w);
        config_clear(&c);
}

static char *write_key(const char *dir, const char *name, const char *hex) {
        char *path = ka_path_join(dir, name);
        struct ka_error err = {0};
        if (ka_write_file_atomic(path, hex, strlen(hex), 0600, &err) < 0)
                abort();
        return path;
}

static void wrong_key(const char *good, const char *bad) {
        struct ka_bus_config c, cbad;
        config(&c, good);
        cbad = c;
        cbad.key_file = (char *)bad;
        struct world w = {.core_log = KA_BUF_INIT(0)};
        struct ka_error err = {0};
        ka_bus_core_new(&c, &fake_clock, &w.core, &err);
        add_agent(&w, agent(&cbad, KA_BUS_ROLE_WORKER, "intruder"));
        ka_bus_core_submit(w.core, "a", NULL, NULL, &err);
        for (int i = 0; i < 4; i++) {
                advance(300);
                settle(&w);
        }
        ok(!contains(&w.core_log, "up:intruder"), "a worker with the wrong key is never up");
        ok(!contains(&w.agent_log[0], "job:"), "and never receives a job");
        ok(!ka_bus_agent_connected(w.agents[0]), "it knows it is not connected");
        ok(ka_bus_core_stats(w.core)->rejected[KA_BUS_REJECT_FORGED] >= 2, "its hellos are counted as forged");
        struct ka_bus_config cplain;
        config(&cplain, NULL);
        free(cplain.workers);
        cplain.workers = ka_strdup(c.workers);
        struct ka_bus_agent *plain = agent(&cplain, KA_BUS_ROLE_WORKER, "plain");
        add_agent(&w, plain);
        advance(300);
        settle(&w);
        ok(ka_bus_core_stats(w.core)->rejected[KA_BUS_REJECT_UNSEALED] >= 1,
           "a worker without a key is refused as unsealed");
        ok(!contains(&w.agent_log[1], "job:"), "and gets no job either");
        world_free(&w);
        config_clear(&c);
        config_clear(&cplain);
}

static void *core_loop(void *arg) {
        struct ka_bus_core *core = arg;
        struct ka_bus_core_event ev;
        int r;
        while ((r = ka_bus_core_next(core, 1000, &ev)) != -ECANCELED)
                if (r == 0)
                        ka_bus_core_event_clear(&ev);
        return NULL;
}

/* A frontend plugin's first bus_recv, with the core running in its own
 * thread on the real clock: the welcome shows as bus.connected. */
static void host_connected(void) {
        struct ka_bus_config c;
        config(&c, NULL);
        struct ka_bus_core *core;
        struct ka_error err = {0};
        ka_bus_core_new(&c, NULL, &core, &err);
        pthread_t t;
        pthread_create(&t, NULL, core_loop, core);
        struct ka_bus_agent_options o = {.role = KA_BUS_ROLE_FRONTEND, .name = "jenkins"};
        struct ka_bus_agent *a;
        ka_bus_agent_new(&c, &o, NULL, &a, &err);
        static const struct ka_host_bus ops = {.send = ka_bus_host_send, .recv = ka_bus_host_recv};
        ka_host_set_bus(&ops);
        cJSON *got = NULL;
        is_int(ka_host()->bus_recv(ka_bus_agent_handle(a), 10000, &got, &err), 0, "a frontend's first bus_recv");
        is_str(ka_json_str(got, "type"), "bus.connected", "tells it the core welcomed it");
        ok(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(got, "restarted")), "a first welcome: not restarted");
        cJSON_Delete(got);
        ka_bus_core_cancel(core);
        pthread_join(t, NULL);
        ka_host_set_bus(NULL);
        ka_bus_agent_free(a);
        ka_bus_core_free(core);
        config_clear(&c);
}

/* A peer that says hello and dies before it uses the session it was
 * offered: the core keeps it until it is forgotten, without spinning. */
static void unconfirmed(void) {
        struct ka_bus_config c;
        config(&c, NULL);
        struct world w = {.core_log = KA_BUF_INIT(0)};
        struct ka_error err = {0};
        ka_bus_core_new(&c, &fake_clock, &w.core, &err);
        struct ka_bus_agent *a = agent(&c, KA_BUS_ROLE_WORKER, "brief");
        struct pollfd p = {.fd = ka_bus_core_fd(w.core), .events = POLLIN};
        for (int i = 0; i < 200 && !ka_bus_core_peers(w.core, "worker"); i++) {
                ka_bus_agent_process(a); /* its hello */
                poll(&p, 1, 10);
                ka_bus_core_process(w.core);
        }
        is_int(ka_bus_core_peers(w.core, "worker"), 1, "a peer said hello");
        ka_bus_agent_free(a); /* and died before it read the welcome */
        for (int i = 0; i < 4; i++) {
                advance(400);
                settle(&w);
        }
        ok(contains(&w.core_log, "down:brief:;"), "it is down after a silent lease");
        world_free(&w);
        config_clear(&c);
}

struct canceller {
        struct ka_bus_agent *a;
};

static void *cancel_later(void *arg) {
        struct canceller *c = arg;
        usleep(20000); /* the waiting thread is blocked in next() by now; the test asserts only the result */
        ka_bus_agent_cancel(c->a);
        return NULL;
}

static void cancel(void) {
        struct ka_bus_config c;
        config(&c, NULL);
        struct ka_bus_agent *a = agent(&c, KA_BUS_ROLE_FRONTEND, "fe");
        struct canceller cc = {.a = a};
        pthread_t t;
        pthread_create(&t, NULL, cancel_later, &cc);
        struct ka_bus_agent_event ev;
        int64_t t0 = ka_time_now_ms();
        is_int(ka_bus_agent_next(a, 10000, &ev), -ECANCELED, "cancel from another thread ends a blocked next()");
        ok(ka_time_now_ms() - t0 < 5000, "at once, not at the timeout");
        pthread_join(t, NULL);
        ka_bus_agent_free(a);
        config_clear(&c);
}

int main(void) {
        ka_mem_init();
        char dir[] = "/tmp/ka-bus-endpoint-XXXXXX";
        if (!mkdtemp(dir))
                abort();
        char *key = write_key(dir, "bus.key", "4f9c2a1b7d3e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef\n");
        char *other = write_key(dir, "other.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
        flows(NULL, "plain");
        flows(key, "sealed");
        leases();
        core_restart(NULL, "plain");
        core_restart(key, "sealed");
        wrong_key(key, other);
        host_connected();
        unconfirmed();
        cancel();
        is_int(spins, 0, "after processing, no endpoint asks to be woken at once (no busy loop)");
        unlink(key);
        unlink(other);
        rmdir(dir);
        free(key);
        free(other);
        return tap_done();
}
