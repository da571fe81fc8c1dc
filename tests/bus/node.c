/* busnode — one part of the bus, as its own process, for the multi-process
 * tests (tests/bus/multiproc.c).  It speaks on stdout, one event a line, and
 * takes commands on stdin, so that the test waits on what happens instead
 * of sleeping.
 *
 *   busnode core     --jobs N --state DIR [bus options]
 *       Submits job-0001 .. job-N, except those whose pod already exists in
 *       DIR/pods (as a scheduler would after a restart), and prints
 *       "ready", "up W", "down W", "done JOB W RESULT", "adopted JOB W",
 *       "expired JOB W", "all-done" (every job has a pod and no lease is
 *       out, once workers had the time to re-announce their leases).
 *   busnode worker   --name W --state DIR [--hold | --hold-after-effect]
 *                    [--pause-at N] [--delay MS] [--clock-offset MS] [bus options]
 *       Does its jobs one after the other, --delay ms each: creates
 *       DIR/pods/JOB exclusively, holding W (EEXIST: adopts it); then reports {"result": "created"|"adopted"} as final.
 * --hold takes jobs but does nothing; --hold-after-effect creates the pod but never reports; --pause-at holds
 * its jobs once DIR/pods has N pods (whoever created them), saying "paused".  Prints "connected", "job
 * JOB EPOCH", "holding N", "revoked JOB". busnode proxy    --listen ADDR --connect ADDR [--replay] [--tamper] Relays
 * frames both ways; --replay sends every data frame twice,
 *       --tamper also sends a copy of every third frame with one bit
 *       flipped.  Prints "ready".
 *   busnode attacker --connect ADDR --max-size N
 *       Sends, every 100ms until told to quit: random bytes, a frame
 *       larger than N, and a hello in clear.  Prints "ready".
 *
 * Bus options: --workers ADDR --key FILE --lease MS --renew MS --resend MS.
 * Commands: "stats" prints "stats key=value ..."; "release" (worker) makes
 * a holding worker do its jobs; "quit" exits 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/agent.h"
#include "bus/config.h"
#include "bus/core.h"
#include "bus/seal.h"
#include "bus/socket.h"
#include "plugin/cfgmap.h"
#include "util/hashmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static struct {
        const char *role, *workers, *key, *lease, *renew, *resend, *name, *state, *listen, *connect;
        int jobs, delay, pause_at;
        bool hold, hold_after_effect, replay, tamper;
        int64_t clock_offset;
        size_t max_size;
} opt = {.lease = "1000ms", .renew = "250ms", .resend = "100ms", .max_size = 65536};

static void say(const char *fmt, ...) KA_PRINTF(1, 2);
static void say(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void die(const char *what, const struct ka_error *err) {
        fprintf(stderr, "busnode %s: %s: %s\n", opt.role, what, err ? err->msg : strerror(errno));
        exit(1);
}

/* ---- stdin commands ---- */

static char cmd_buf[256];
static size_t cmd_len;

/* The next complete command line, or NULL (stdin is non-blocking). */
static const char *command(void) {
        char *nl = memchr(cmd_buf, '\n', cmd_len);
        if (!nl) {
                ssize_t n = read(STDIN_FILENO, cmd_buf + cmd_len, sizeof(cmd_buf) - 1 - cmd_len);
                if (n == 0)
                        return "quit"; /* the test went away */
                if (n < 0)
                        return NULL; /* EAGAIN: nothing more for now */
                cmd_len += (size_t)n;
                nl = memchr(cmd_buf, '\n', cmd_len);
                if (!nl)
                        return NULL;
        }
        static char line[256];
        size_t n = (size_t)(nl - cmd_buf);
        memcpy(line, cmd_buf, n);
        line[n] = '\0';
        memmove(cmd_buf, nl + 1, cmd_len - n - 1);
        cmd_len -= n + 1;
        return line;
}

static void stats_line(struct ka_buf *b, const struct ka_bus_stats *s) {
        ka_buf_printf(b, " sent=%llu resent=%llu received=%llu duplicates=%llu ignored=%llu",
                      (unsigned long long)s->sent, (unsigned long long)s->resent, (unsigned long long)s->received,
                      (unsigned long long)s->duplicates, (unsigned long long)s->ignored);
        for (int i = 1; i < KA_BUS_REJECT_COUNT_; i++)
                ka_buf_printf(b, " rej.%s=%llu", ka_bus_reject_name(i), (unsigned long long)s->rejected[i]);
}

/* ---- the bus config ---- */

static void config(struct ka_bus_config *c) {
        cJSON *o = cJSON_CreateObject();
        if (opt.workers)
                ka_json_set_str(o, "workers", opt.workers);
        char fe[64];
        snprintf(fe, sizeof(fe), "inproc://busnode-frontends-%d", (int)getpid());
        ka_json_set_str(o, "frontends", fe);
        if (opt.key)
                ka_json_set_str(o, "keyFile", opt.key);
        ka_json_set_str(o, "leaseDuration", opt.lease);
        ka_json_set_str(o, "renewInterval", opt.renew);
        ka_json_set_str(o, "resendInterval", opt.resend);
        ka_json_set_num(o, "maxMessageSize", (double)opt.max_size);
        ka_json_set_str(o, "reconnectIntervalMax", "200ms");
        struct kubeagent_config_source src = ka_cfgsrc(o, NULL, (struct ka_loc){0});
        struct ka_diags d = {0};
        *c = (struct ka_bus_config){0};
        if (ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, c, &d) < 0) {
                ka_diags_print(&d, stderr);
                exit(2);
        }
        ka_diags_free(&d);
        cJSON_Delete(o);
        const char *key;
        struct ka_error err = {0};
        if (ka_bus_config_validate(c, &key, &err) < 0)
                die(key, &err);
}

static char *pod_path(const char *job) {
        return ka_asprintf("%s/pods/%s", opt.state, job);
}

static size_t count_pods(void) {
        _cleanup_free_ char *dir = ka_asprintf("%s/pods", opt.state);
        DIR *d = opendir(dir);
        size_t n = 0;
        for (struct dirent *de; d && (de = readdir(d));)
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

static bool pod_exists(const char *job) {
        _cleanup_free_ char *p = pod_path(job);
        return access(p, F_OK) == 0;
}

/* ---- core ---- */

static int run_core(void) {
        struct ka_bus_config cfg;
        config(&cfg);
        struct ka_bus_core *core;
        struct ka_error err = {0};
        if (ka_bus_core_new(&cfg, NULL, &core, &err) < 0)
                die("listen", &err);
        struct ka_hashmap done = KA_HASHMAP_INIT;
        for (int i = 1; i <= opt.jobs; i++) {
                char id[32];
                snprintf(id, sizeof(id), "job-%04d", i);
                if (pod_exists(id))
                        continue; /* the pod is there: its worker re-announces it, or it is finished */
                cJSON *work = cJSON_CreateObject();
                ka_json_set_str(work, "pod", id);
                if (ka_bus_core_submit(core, id, NULL, work, &err) < 0)
                        die("submit", &err);
                cJSON_Delete(work);
        }
        say("ready");
        bool all_done = false;
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = ka_bus_core_fd(core), .events = POLLIN}};
        for (;;) {
                struct ka_bus_core_event ev;
                while (ka_bus_core_next(core, 0, &ev) == 0) {
                        switch (ev.kind) {
                        case KA_BUS_CORE_PEER_UP:
                                say("up %s", ev.peer);
                                break;
                        case KA_BUS_CORE_PEER_DOWN:
                                say("down %s", ev.peer);
                                break;
                        case KA_BUS_CORE_JOB_EVENT:
                                if (ev.final) {
                                        const char *result = ka_json_str(ev.data, "result");
                                        say("done %s %s %s", ev.job, ev.peer, result ? result : "?");
                                        ka_hashmap_put(&done, ev.job, (void *)1);
                                }
                                break;
                        case KA_BUS_CORE_JOB_ADOPTED:
                                say("adopted %s %s", ev.job, ev.peer);
                                break;
                        case KA_BUS_CORE_JOB_EXPIRED:
                                say("expired %s %s", ev.job, ev.peer);
                                break;
                        default:
                                break;
                        }
                        ka_bus_core_event_clear(&ev);
                }
                if (!all_done && ka_bus_core_settled(core)) {
                        struct ka_bus_job_counts n;
                        ka_bus_core_job_counts(core, &n);
                        bool every = n.pending + n.offered + n.leased == 0;
                        for (int i = 1; every && i <= opt.jobs; i++) {
                                char id[32];
                                snprintf(id, sizeof(id), "job-%04d", i);
                                every = pod_exists(id);
                        }
                        if (every) {
                                all_done = true;
                                say("all-done");
                        }
                }
                int timeout = ka_bus_core_timeout(core);
                if (poll(p, 2, timeout < 0 || timeout > 100 ? 100 : timeout) > 0 &&
                    (p[0].revents & (POLLIN | POLLHUP))) {
                        const char *c;
                        while ((c = command())) {
                                if (!strcmp(c, "quit"))
                                        goto out;
                                if (!strcmp(c, "stats")) {
                                        struct ka_bus_job_counts n;
                                        ka_bus_core_job_counts(core, &n);
                                        struct ka_buf b = KA_BUF_INIT(0);
                                        ka_buf_printf(
                                                &b,
                                                "stats pending=%zu offered=%zu leased=%zu done=%zu dispatched=%llu "
                                                "redispatched=%llu expired=%llu adopted=%llu dup=%llu stale=%llu",
                                                n.pending, n.offered, n.leased, n.done,
                                                (unsigned long long)n.dispatched, (unsigned long long)n.redispatched,
                                                (unsigned long long)n.expired, (unsigned long long)n.adopted,
                                                (unsigned long long)n.duplicates, (unsigned long long)n.stale);
                                        stats_line(&b, ka_bus_core_stats(core));
                                        say("%s", b.data);
                                        ka_buf_free(&b);
                                }
                        }
                }
                ka_bus_core_process(core);
        }
out:
        ka_hashmap_free(&done);
        ka_bus_core_free(core);
        ka_cfgmap_clear(ka_bus_config_keys, &cfg);
        return 0;
}

/* ---- worker ---- */

struct offset_clock {
        int64_t offset;
};

static int64_t mono(void *d) {
        (void)d;
        return ka_time_now_ms();
}

static int64_t skewed_wall(void *d) {
        return ka_time_wall_ms_real() + ((struct offset_clock *)d)->offset;
}

struct task {
        char job[KA_BUS_ID_MAX + 1];
        int64_t due;
        bool effect_done;
};

/* Create the pod exclusively, with its creator's name in it, in one step
 * (a link of a finished file, so that a kill -9 never leaves a pod without
 * its creator): "created" the first time, "adopted" after, as a 409 would
 * say. */
static const char *effect(const char *job) {
        _cleanup_free_ char *path = pod_path(job);
        _cleanup_free_ char *tmp = ka_asprintf("%s/pods/.%s.%s", opt.state, job, opt.name);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, opt.name, strlen(opt.name)) != (ssize_t)strlen(opt.name))
                die(tmp, NULL);
        close(fd);
        int r = link(tmp, path);
        int e = errno;
        unlink(tmp);
        if (r < 0 && e == EEXIST)
                return "adopted";
        if (r < 0)
                die(path, NULL);
        return "created";
}

static int run_worker(void) {
        struct ka_bus_config cfg;
        config(&cfg);
        struct offset_clock oc = {.offset = opt.clock_offset};
        struct ka_bus_clock clock = {.now_ms = mono, .wall_ms = skewed_wall, .data = &oc};
        struct ka_bus_agent_options o = {.role = KA_BUS_ROLE_WORKER, .name = opt.name};
        struct ka_bus_agent *a;
        struct ka_error err = {0};
        if (ka_bus_agent_new(&cfg, &o, &clock, &a, &err) < 0)
                die("connect", &err);
        struct task *tasks = NULL;
        size_t n_tasks = 0;
        int64_t last_due = 0;
        bool released = false, said_paused = false;
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = ka_bus_agent_fd(a), .events = POLLIN}};
        for (;;) {
                struct ka_bus_agent_event ev;
                while (ka_bus_agent_next(a, 0, &ev) == 0) {
                        if (ev.kind == KA_BUS_AGENT_CONNECTED) {
                                say("connected");
                        } else if (ev.kind == KA_BUS_AGENT_JOB) {
                                say("job %s %llu", ev.job, (unsigned long long)ev.epoch);
                                bool have = false;
                                for (size_t i = 0; i < n_tasks; i++)
                                        have = have || !strcmp(tasks[i].job, ev.job);
                                if (!have) {
                                        /* one job at a time, --delay ms each */
                                        int64_t start = KA_MAX(ka_time_now_ms(), last_due);
                                        last_due = start + opt.delay;
                                        tasks = ka_reallocarray(tasks, n_tasks + 1, sizeof(*tasks));
                                        tasks[n_tasks] = (struct task){.due = last_due};
                                        ka_strlcpy(tasks[n_tasks].job, ev.job, sizeof(tasks[n_tasks].job));
                                        n_tasks++;
                                }
                                say("holding %zu", ka_bus_agent_jobs(a));
                        } else if (ev.kind == KA_BUS_AGENT_REVOKED) {
                                say("revoked %s", ev.job);
                                for (size_t i = 0; i < n_tasks; i++)
                                        if (!strcmp(tasks[i].job, ev.job))
                                                tasks[i] = tasks[--n_tasks];
                        }
                        ka_bus_agent_event_clear(&ev);
                }
                int64_t now = ka_time_now_ms(), next_due = INT64_MAX;
                for (size_t i = 0; i < n_tasks;) {
                        struct task *t = &tasks[i];
                        if (t->due > now) {
                                next_due = KA_MIN(next_due, t->due);
                                i++;
                                continue;
                        }
                        if (opt.hold_after_effect && !t->effect_done) {
                                effect(t->job);
                                t->effect_done = true;
                        }
                        bool paused = opt.pause_at && !released && count_pods() >= (size_t)opt.pause_at;
                        if (paused && !said_paused) {
                                say("paused");
                                said_paused = true;
                        }
                        if ((opt.hold || opt.hold_after_effect || paused) && !released) {
                                i++;
                                continue;
                        }
                        cJSON *d = cJSON_CreateObject();
                        ka_json_set_str(d, "result", effect(t->job));
                        if (ka_bus_agent_report(a, t->job, d, true, &err) < 0)
                                fprintf(stderr, "busnode %s: %s\n", opt.name, err.msg);
                        cJSON_Delete(d);
                        *t = tasks[--n_tasks];
                }
                int timeout = ka_bus_agent_timeout(a);
                if (next_due != INT64_MAX)
                        timeout = (int)KA_MIN((int64_t)(timeout < 0 ? INT32_MAX : timeout), next_due - now);
                if (poll(p, 2, timeout < 0 || timeout > 100 ? 100 : timeout) > 0 &&
                    (p[0].revents & (POLLIN | POLLHUP))) {
                        const char *c;
                        while ((c = command())) {
                                if (!strcmp(c, "quit"))
                                        goto out;
                                if (!strcmp(c, "release"))
                                        released = true;
                                if (!strcmp(c, "stats")) {
                                        struct ka_buf b = KA_BUF_INIT(0);
                                        ka_buf_printf(&b, "stats holding=%zu connected=%d", ka_bus_agent_jobs(a),
                                                      ka_bus_agent_connected(a));
                                        stats_line(&b, ka_bus_agent_stats(a));
                                        say("%s", b.data);
                                        ka_buf_free(&b);
                                }
                        }
                }
                ka_bus_agent_process(a);
        }
out:
        free(tasks);
        ka_bus_agent_free(a);
        ka_cfgmap_clear(ka_bus_config_keys, &cfg);
        return 0;
}

/* ---- proxy ---- */

static int run_proxy(void) {
        struct ka_bus_socket in = KA_BUS_SOCKET_INIT, out = KA_BUS_SOCKET_INIT;
        struct ka_error err = {0};
        if (ka_bus_socket_open(&in, opt.listen, true, 1 << 20, 200, &err) < 0)
                die("listen", &err);
        if (ka_bus_socket_open(&out, opt.connect, false, 1 << 20, 200, &err) < 0)
                die("connect", &err);
        say("ready");
        unsigned long n = 0, relayed[2] = {0, 0};
        struct pollfd p[3] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = in.rcvfd, .events = POLLIN},
                              {.fd = out.rcvfd, .events = POLLIN}};
        for (;;) {
                if (poll(p, 3, 1000) < 0 && errno != EINTR)
                        die("poll", NULL);
                if (p[0].revents & (POLLIN | POLLHUP)) {
                        const char *c;
                        while ((c = command())) {
                                if (!strcmp(c, "quit"))
                                        goto out;
                                if (!strcmp(c, "stats"))
                                        say("stats to-core=%lu to-peers=%lu", relayed[0], relayed[1]);
                        }
                }
                struct ka_bus_socket *from[] = {&in, &out}, *to[] = {&out, &in};
                for (int side = 0; side < 2; side++) {
                        void *data;
                        size_t len;
                        while (ka_bus_socket_recv(from[side], &data, &len) == 0) {
                                bool is_data = len > 3 && ((unsigned char *)data)[3] == KA_BUS_FRAME_DATA;
                                if (opt.tamper && ++n % 3 == 0 && len > KA_BUS_FRAME_HDR) {
                                        unsigned char *copy = ka_malloc(len);
                                        memcpy(copy, data, len);
                                        copy[KA_BUS_FRAME_HDR + (n / 3) % (len - KA_BUS_FRAME_HDR)] ^= 0x04;
                                        ka_bus_socket_send(to[side], copy, len);
                                        free(copy);
                                }
                                ka_bus_socket_send(to[side], data, len);
                                relayed[side]++;
                                if (opt.replay && (is_data || side == 0))
                                        ka_bus_socket_send(to[side], data, len);
                                ka_bus_socket_msg_free(data);
                        }
                }
        }
out:
        ka_bus_socket_close(&in);
        ka_bus_socket_close(&out);
        return 0;
}

/* ---- attacker ---- */

static int run_attacker(void) {
        struct ka_bus_socket s = KA_BUS_SOCKET_INIT;
        struct ka_error err = {0};
        if (ka_bus_socket_open(&s, opt.connect, false, 1 << 22, 200, &err) < 0)
                die("connect", &err);
        say("ready");
        unsigned char junk[100];
        size_t big_len = opt.max_size + KA_BUS_FRAME_HDR + KA_BUS_TAG_LEN + 100;
        unsigned char *big = ka_calloc(1, big_len);
        memcpy(big, "KB\x01\x04\x01", 5);
        struct ka_buf plain = KA_BUF_INIT(0);
        unsigned char iv[KA_BUS_IV_LEN] = {0};
        const char *hello = "{\"type\":\"hello\",\"id\":\"x.1\",\"sender\":\"mallory\",\"to\":\"core\",\"time\":1,"
                            "\"payload\":{}}";
        ka_bus_frame_write(&plain, KA_BUS_FRAME_HELLO, 0, ka_time_wall_ms_real(), iv, NULL, hello, strlen(hello));
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        for (;;) {
                ka_bus_random(junk, sizeof(junk));
                ka_bus_socket_send(&s, junk, sizeof(junk));
                ka_bus_socket_send(&s, big, big_len);
                ka_bus_socket_send(&s, plain.data, plain.len);
                if (poll(&p, 1, 100) > 0) {
                        const char *c;
                        while ((c = command()))
                                if (!strcmp(c, "quit"))
                                        goto out;
                }
        }
out:
        free(big);
        ka_buf_free(&plain);
        ka_bus_socket_close(&s);
        return 0;
}

int main(int argc, char **argv) {
        enum {
                O_WORKERS = 256,
                O_KEY,
                O_LEASE,
                O_RENEW,
                O_RESEND,
                O_JOBS,
                O_STATE,
                O_NAME,
                O_HOLD,
                O_HOLD_EFFECT,
                O_DELAY,
                O_PAUSE_AT,
                O_OFFSET,
                O_LISTEN,
                O_CONNECT,
                O_REPLAY,
                O_TAMPER,
                O_MAXSIZE
        };
        static const struct option options[] = {
                {"workers", required_argument, NULL, O_WORKERS},
                {"key", required_argument, NULL, O_KEY},
                {"lease", required_argument, NULL, O_LEASE},
                {"renew", required_argument, NULL, O_RENEW},
                {"resend", required_argument, NULL, O_RESEND},
                {"jobs", required_argument, NULL, O_JOBS},
                {"state", required_argument, NULL, O_STATE},
                {"name", required_argument, NULL, O_NAME},
                {"hold", no_argument, NULL, O_HOLD},
                {"hold-after-effect", no_argument, NULL, O_HOLD_EFFECT},
                {"delay", required_argument, NULL, O_DELAY},
                {"pause-at", required_argument, NULL, O_PAUSE_AT},
                {"clock-offset", required_argument, NULL, O_OFFSET},
                {"listen", required_argument, NULL, O_LISTEN},
                {"connect", required_argument, NULL, O_CONNECT},
                {"replay", no_argument, NULL, O_REPLAY},
                {"tamper", no_argument, NULL, O_TAMPER},
                {"max-size", required_argument, NULL, O_MAXSIZE},
                {0},
        };
        ka_mem_init();
        signal(SIGPIPE, SIG_IGN);
        fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
        ka_log_setup("busnode", KA_LOG_WARN, KA_LOG_TOOL);
        if (argc < 2) {
                fprintf(stderr, "usage: busnode core|worker|proxy|attacker [options]\n");
                return 2;
        }
        opt.role = argv[1];
        optind = 2;
        int c, v;
        while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (c) {
                case O_WORKERS:
                        opt.workers = optarg;
                        break;
                case O_KEY:
                        opt.key = optarg;
                        break;
                case O_LEASE:
                        opt.lease = optarg;
                        break;
                case O_RENEW:
                        opt.renew = optarg;
                        break;
                case O_RESEND:
                        opt.resend = optarg;
                        break;
                case O_JOBS:
                        if (ka_parse_int(optarg, &opt.jobs) < 0)
                                return 2;
                        break;
                case O_STATE:
                        opt.state = optarg;
                        break;
                case O_NAME:
                        opt.name = optarg;
                        break;
                case O_HOLD:
                        opt.hold = true;
                        break;
                case O_HOLD_EFFECT:
                        opt.hold_after_effect = true;
                        break;
                case O_DELAY:
                        if (ka_parse_int(optarg, &opt.delay) < 0)
                                return 2;
                        break;
                case O_PAUSE_AT:
                        if (ka_parse_int(optarg, &opt.pause_at) < 0)
                                return 2;
                        break;
                case O_OFFSET:
                        if (ka_parse_int64(optarg, &opt.clock_offset) < 0)
                                return 2;
                        break;
                case O_LISTEN:
                        opt.listen = optarg;
                        break;
                case O_CONNECT:
                        opt.connect = optarg;
                        break;
                case O_REPLAY:
                        opt.replay = true;
                        break;
                case O_TAMPER:
                        opt.tamper = true;
                        break;
                case O_MAXSIZE:
                        if (ka_parse_int(optarg, &v) < 0)
                                return 2;
                        opt.max_size = (size_t)v;
                        break;
                default:
                        return 2;
                }
        }
        if (!strcmp(opt.role, "core"))
                return run_core();
        if (!strcmp(opt.role, "worker"))
                return run_worker();
        if (!strcmp(opt.role, "proxy"))
                return run_proxy();
        if (!strcmp(opt.role, "attacker"))
                return run_attacker();
        fprintf(stderr, "busnode: unknown role %s\n", opt.role);
        return 2;
}
