/* Multi-process tests of the bus: the core and its workers as separate
 * processes (tests/bus/node.c) on ipc:// and on tcp://127.0.0.1, killed
 * with SIGKILL at the worst moments.
 *
 *  - a worker killed while it holds leases: its jobs go to another worker,
 *    each pod is created once, the core's counters come back to zero;
 *  - the core killed in the middle of a burst and started again: no job is
 *    lost, none is done twice;
 *  - sealed tcp: a worker with the wrong key, a worker whose clock is an
 *    hour off, an attacker sending garbage, oversized and clear frames, and
 *    a man in the middle replaying and tampering with frames — all refused
 *    and counted, while the jobs still get done exactly once.
 *
 * This program never touches nanomsg itself (a process must not use
 * nanomsg across fork): it only spawns busnode, reads what the nodes print
 * and waits for the lines it expects, with a deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "freeport.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hashmap.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

extern char **environ;

#define DEADLINE 20000 /* ms: generous for a loaded machine under ASan; a pass takes far less */

struct proc {
        char name[32];
        pid_t pid;
        int in, out;
        struct ka_buf pending; /* a partial line */
        struct ka_buf lines;   /* every line so far, each ending in \n */
        size_t seen;           /* how much of lines wait_line() has looked at */
        bool eof;
};

static struct proc *procs[16];
static size_t n_procs;
static const char *node_path;

struct net {
        const char *what;
        char workers[160];
        const char *key; /* NULL on ipc */
};

/* Start busnode with the arguments after `net` (NULL-terminated), preceded
 * by the bus options of net when it is not NULL. */
static struct proc *spawn(const char *name, const struct net *net, ...) {
        char *argv[40] = {(char *)node_path};
        size_t argc = 1;
        va_list ap;
        va_start(ap, net);
        argv[argc++] = va_arg(ap, char *); /* the role */
        if (net) {
                argv[argc++] = "--workers";
                argv[argc++] = (char *)net->workers;
                if (net->key) {
                        argv[argc++] = "--key";
                        argv[argc++] = (char *)net->key;
                }
        }
        for (char *a; (a = va_arg(ap, char *)) && argc < 39;)
                argv[argc++] = a;
        va_end(ap);
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                abort();
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        struct proc *p = ka_new0(struct proc, 1);
        ka_strlcpy(p->name, name, sizeof(p->name));
        if (posix_spawn(&p->pid, node_path, &fa, NULL, argv, environ) != 0)
                abort();
        posix_spawn_file_actions_destroy(&fa);
        close(in[0]);
        close(out[1]);
        p->in = in[1];
        p->out = out[0];
        fcntl(p->out, F_SETFL, O_NONBLOCK);
        p->pending = (struct ka_buf)KA_BUF_INIT(0);
        p->lines = (struct ka_buf)KA_BUF_INIT(0);
        procs[n_procs++] = p;
        return p;
}

/* Read whatever any process printed, waiting up to timeout_ms for some. */
static void pump(int timeout_ms) {
        struct pollfd p[16];
        size_t n = 0;
        for (size_t i = 0; i < n_procs; i++)
                if (!procs[i]->eof)
                        p[n++] = (struct pollfd){.fd = procs[i]->out, .events = POLLIN};
        if (poll(p, n, timeout_ms) <= 0)
                return;
        for (size_t i = 0; i < n_procs; i++) {
                struct proc *pr = procs[i];
                if (pr->eof)
                        continue;
                char buf[4096];
                ssize_t r;
                while ((r = read(pr->out, buf, sizeof(buf))) > 0)
                        ka_buf_append(&pr->pending, buf, (size_t)r);
                if (r == 0)
                        pr->eof = true;
                char *nl;
                while (pr->pending.len && (nl = memchr(pr->pending.data, '\n', pr->pending.len))) {
                        size_t len = (size_t)(nl - pr->pending.data) + 1;
                        ka_buf_append(&pr->lines, pr->pending.data, len);
                        ka_buf_consume(&pr->pending, len);
                }
        }
}

/* Wait for the next line of p (after those already looked at) that starts
 * with prefix; returns it (a static copy) or NULL at the deadline. */
static const char *wait_line(struct proc *p, const char *prefix) {
        static char line[1024];
        int64_t end = ka_time_now_ms() + DEADLINE;
        for (;;) {
                while (p->seen < p->lines.len) {
                        const char *s = p->lines.data + p->seen;
                        const char *nl = strchr(s, '\n');
                        p->seen = (size_t)(nl - p->lines.data) + 1;
                        if (ka_startswith(s, prefix)) {
                                size_t n = KA_MIN((size_t)(nl - s), sizeof(line) - 1);
                                memcpy(line, s, n);
                                line[n] = '\0';
                                return line;
                        }
                }
                int64_t left = end - ka_time_now_ms();
                if (left <= 0 || p->eof) {
                        tap_diag("%s: no line \"%s\" (it printed %zu bytes%s)", p->name, prefix, p->lines.len,
                                 p->eof ? ", then exited" : "");
                        return NULL;
                }
                pump((int)KA_MIN(left, 200));
        }
}

static size_t count_lines(struct proc *p, const char *prefix) {
        size_t n = 0;
        for (const char *s = p->lines.data; s && *s; s = strchr(s, '\n') + 1)
                n += ka_startswith(s, prefix);
        return n;
}

/* Lines of p that start with prefix and end with suffix. */
static size_t count_lines_ending(struct proc *p, const char *prefix, const char *suffix) {
        size_t n = 0, ls = strlen(suffix);
        for (const char *s = p->lines.data; s && *s;) {
                const char *nl = strchr(s, '\n');
                size_t len = (size_t)(nl - s);
                n += ka_startswith(s, prefix) && len >= ls && memcmp(nl - ls, suffix, ls) == 0;
                s = nl + 1;
        }
        return n;
}

/* Wait until a or b prints a line that starts with prefix. */
static bool wait_either(struct proc *a, struct proc *b, const char *prefix) {
        int64_t end = ka_time_now_ms() + DEADLINE;
        while (count_lines(a, prefix) + count_lines(b, prefix) == 0) {
                if (ka_time_now_ms() >= end) {
                        tap_diag("neither %s nor %s printed \"%s\"", a->name, b->name, prefix);
                        return false;
                }
                pump(200);
        }
        return true;
}

static void command(struct proc *p, const char *cmd) {
        size_t n = strlen(cmd);
        if (write(p->in, cmd, n) != (ssize_t)n || write(p->in, "\n", 1) != 1)
                tap_diag("%s: cannot send \"%s\"", p->name, cmd);
}

/* The value of key=... in a fresh "stats" line of p; -1 when missing. */
static long long stat_of(struct proc *p, const char *key) {
        command(p, "stats");
        const char *line = wait_line(p, "stats ");
        if (!line)
                return -1;
        char pat[64];
        snprintf(pat, sizeof(pat), " %s=", key);
        const char *at = strstr(line, pat);
        return at ? strtoll(at + strlen(pat), NULL, 10) : -1;
}

/* Ask for stats until key reaches at least want (it is a counter that
 * events move), or the deadline passes. */
static long long wait_stat(struct proc *p, const char *key, long long want) {
        int64_t end = ka_time_now_ms() + DEADLINE;
        long long v;
        while ((v = stat_of(p, key)) < want && v >= 0 && ka_time_now_ms() < end)
                pump(100);
        return v;
}

static void forget(struct proc *p) {
        if (getenv("KA_BUS_TEST_VERBOSE")) /* everything each node said, for debugging */
                for (const char *l = p->lines.data; l && *l; l = strchr(l, '\n') + 1)
                        tap_diag("%s: %.*s", p->name, (int)(strchr(l, '\n') - l), l);
        for (size_t i = 0; i < n_procs; i++)
                if (procs[i] == p) {
                        procs[i] = procs[--n_procs];
                        break;
                }
        close(p->in);
        close(p->out);
        ka_buf_free(&p->pending);
        ka_buf_free(&p->lines);
        free(p);
}

static void kill9(struct proc *p) {
        kill(p->pid, SIGKILL);
        int st;
        waitpid(p->pid, &st, 0);
        forget(p);
}

/* "quit", then its exit status (its stdout closing is the event). */
static int quit(struct proc *p) {
        command(p, "quit");
        int64_t end = ka_time_now_ms() + DEADLINE;
        while (!p->eof && ka_time_now_ms() < end)
                pump(200);
        int st = -1;
        if (!p->eof)
                kill(p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
        forget(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- the side effects ---- */

struct effects {
        size_t pods;  /* created, each exactly once by construction (as Kubernetes names are) */
        size_t by[4]; /* how many each of the workers a, b, w1, w created */
};

static struct effects read_effects(const char *state) {
        static const char *const names[] = {"a", "b", "w1", "w"};
        struct effects e = {0};
        _cleanup_free_ char *pods = ka_path_join(state, "pods");
        DIR *d = opendir(pods);
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                e.pods++;
                _cleanup_free_ char *path = ka_path_join(pods, de->d_name);
                char *who;
                if (ka_read_file(path, 64, &who, NULL, NULL) < 0)
                        continue;
                for (size_t i = 0; i < KA_ARRAY_SIZE(names); i++)
                        e.by[i] += strcmp(who, names[i]) == 0;
                free(who);
        }
        if (d)
                closedir(d);
        return e;
}

/* No job is "done" twice in one core's output. */
static size_t repeated_done(struct proc *core) {
        struct ka_hashmap seen = KA_HASHMAP_INIT;
        size_t repeated = 0;
        for (const char *s = core->lines.data; s && *s; s = strchr(s, '\n') + 1) {
                if (!ka_startswith(s, "done "))
                        continue;
                char job[64];
                if (sscanf(s, "done %63s", job) == 1 && ka_hashmap_put(&seen, job, (void *)1))
                        repeated++;
        }
        ka_hashmap_free(&seen);
        return repeated;
}

static char *state_dir(void) {
        char tmpl[] = "/tmp/ka-bus-mp-XXXXXX";
        if (!mkdtemp(tmpl))
                abort();
        _cleanup_free_ char *pods = ka_path_join(tmpl, "pods");
        if (mkdir(pods, 0755) < 0)
                abort();
        return ka_strdup(tmpl);
}

static void rm_rf(const char *dir) {
        _cleanup_free_ char *cmd = ka_asprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
                tap_diag("cannot remove %s", dir);
}

/* ---- scenarios ---- */

static void kill_worker(const struct net *n, bool effect_first) {
        char *state = state_dir();
        const char *what = n->what;
        struct proc *core = spawn("core", n, "core", "--jobs", "20", "--state", state, NULL);
        ok(wait_line(core, "ready") != NULL, "%s: the core is ready", what);
        struct proc *a = spawn("worker a", n, "worker", "--name", "a", "--state", state,
                               effect_first ? "--hold-after-effect" : "--hold", NULL);
        ok(wait_line(a, "holding 20") != NULL, "%s: worker a holds all 20 leases", what);
        struct proc *b = spawn("worker b", n, "worker", "--name", "b", "--state", state, NULL);
        ok(wait_line(core, "up b") != NULL, "%s: worker b is up", what);
        ok(count_lines(b, "job ") == 0, "%s: b gets nothing while a holds everything", what);
        kill9(a);
        ok(wait_line(core, "all-done") != NULL, "%s: after a is killed, every job gets done", what);
        is_int(count_lines(core, "expired "), 20, "%s: a's 20 leases expired", what);
        is_int(count_lines(b, "job "), 20, "%s: b was given the 20 jobs", what);
        is_int(count_lines(core, "done "), 20, "%s: the core handled 20 final reports", what);
        is_int(repeated_done(core), 0, "%s: none twice", what);
        struct effects e = read_effects(state);
        is_int(e.pods, 20, "%s: 20 pods", what);
        if (effect_first) {
                is_int(count_lines_ending(core, "done ", " b adopted"), e.by[0],
                       "%s: b adopted the %zu pods a had created", what, e.by[0]);
                is_int(count_lines_ending(core, "done ", " b created"), e.by[1], "%s: and created the other %zu", what,
                       e.by[1]);
        } else {
                is_int(e.by[1], 20, "%s: b created them all (a never did anything)", what);
        }
        is_int(stat_of(core, "leased") + stat_of(core, "offered") + stat_of(core, "pending"), 0,
               "%s: the core's counters are back to zero", what);
        is_int(stat_of(core, "redispatched"), 20, "%s: 20 re-dispatches counted", what);
        is_int(quit(b), 0, "%s: worker b exits cleanly", what);
        is_int(quit(core), 0, "%s: the core exits cleanly", what);
        rm_rf(state);
        free(state);
}

static void restart_core(const struct net *n) {
        char *state = state_dir();
        const char *what = n->what;
        struct proc *core = spawn("core", n, "core", "--jobs", "200", "--state", state, NULL);
        ok(wait_line(core, "ready") != NULL, "%s: the core is ready", what);
        /* the workers stop at 40 pods, holding the other jobs, however fast
         * they are next to this program: the kill comes mid-burst */
        struct proc *w1 = spawn("worker w1", n, "worker", "--name", "w1", "--state", state, "--delay", "10",
                                "--pause-at", "40", NULL);
        struct proc *w2 = spawn("worker w2", n, "worker", "--name", "w2", "--state", state, "--delay", "10",
                                "--pause-at", "40", NULL);
        ok(wait_either(w1, w2, "paused"), "%s: the workers stop at 40 pods, holding the other jobs", what);
        kill9(core);
        struct effects before = read_effects(state);
        ok(before.pods >= 40 && before.pods < 200, "%s: the core was killed mid-burst (%zu pods by then)", what,
           before.pods);
        /* they go on while no core listens: their reports wait for the next */
        command(w1, "release");
        command(w2, "release");
        core = spawn("core again", n, "core", "--jobs", "200", "--state", state, NULL);
        ok(wait_line(core, "ready") != NULL, "%s: a new core starts on the same address", what);
        ok(wait_line(core, "all-done") != NULL, "%s: and finishes the burst", what);
        struct effects e = read_effects(state);
        is_int(e.pods, 200, "%s: 200 pods: none lost", what);
        is_int(repeated_done(core), 0, "%s: the new core handled no report twice", what);
        ok(count_lines(core, "adopted ") > 0, "%s: it adopted the leases the workers re-announced", what);
        is_int(stat_of(core, "leased") + stat_of(core, "offered") + stat_of(core, "pending"), 0,
               "%s: the core's counters are back to zero", what);
        is_int(quit(w1), 0, "%s: w1 exits cleanly", what);
        is_int(quit(w2), 0, "%s: w2 exits cleanly", what);
        is_int(quit(core), 0, "%s: the core exits cleanly", what);
        rm_rf(state);
        free(state);
}

static void attacks(const struct net *n, const char *wrong_key) {
        char *state = state_dir();
        const char *what = n->what;
        struct proc *core = spawn("core", n, "core", "--jobs", "10", "--state", state, NULL);
        ok(wait_line(core, "ready") != NULL, "%s: the core is ready", what);

        struct proc *intruder = spawn("intruder", NULL, "worker", "--workers", n->workers, "--key", wrong_key, "--name",
                                      "intruder", "--state", state, NULL);
        ok(wait_stat(core, "rej.forged", 2) >= 2, "%s: hellos sealed with the wrong key are refused as forged", what);
        struct proc *late =
                spawn("late", n, "worker", "--name", "late", "--state", state, "--clock-offset", "3600000", NULL);
        ok(wait_stat(core, "rej.stale", 2) >= 2, "%s: frames stamped an hour ahead are refused as stale", what);
        struct proc *attacker =
                spawn("attacker", NULL, "attacker", "--connect", n->workers, "--max-size", "65536", NULL);
        ok(wait_stat(core, "rej.malformed", 1) >= 1, "%s: random bytes are refused as malformed", what);
        ok(wait_stat(core, "rej.oversized", 1) >= 1, "%s: a frame over maxMessageSize is refused as oversized", what);
        ok(wait_stat(core, "rej.unsealed", 1) >= 1, "%s: a frame in clear is refused as unsealed", what);
        is_int(count_lines(core, "up "), 0, "%s: none of them became a peer", what);

        /* an honest worker behind a man in the middle who replays and tampers */
        char mitm[160];
        snprintf(mitm, sizeof(mitm), "tcp://127.0.0.1:%d", ka_test_free_port());
        struct proc *proxy =
                spawn("proxy", NULL, "proxy", "--listen", mitm, "--connect", n->workers, "--replay", "--tamper", NULL);
        ok(wait_line(proxy, "ready") != NULL, "%s: the man in the middle is ready", what);
        struct proc *w = spawn("worker w", NULL, "worker", "--workers", mitm, "--key", n->key, "--name", "w", "--state",
                               state, NULL);
        ok(wait_line(core, "all-done") != NULL, "%s: the honest worker gets every job done through the proxy", what);
        struct effects e = read_effects(state);
        ok(e.pods == 10 && e.by[3] == 10, "%s: w created the 10 pods (%zu)", what, e.pods);
        is_int(repeated_done(core), 0, "%s: no report handled twice", what);
        ok(stat_of(core, "rej.replayed") >= 1, "%s: the core refused replayed frames", what);
        ok(stat_of(core, "rej.forged") >= 3, "%s: and tampered ones", what);
        ok(stat_of(w, "rej.replayed") >= 1, "%s: so did the worker", what);
        is_int(count_lines(intruder, "connected") + count_lines(intruder, "job "), 0,
               "%s: the worker with the wrong key was never welcomed and never got a job", what);
        is_int(count_lines(late, "connected") + count_lines(late, "job "), 0, "%s: nor the worker with the wrong clock",
               what);
        is_int(quit(attacker), 0, "%s: attacker exits", what);
        is_int(quit(intruder), 0, "%s: intruder exits", what);
        is_int(quit(late), 0, "%s: late worker exits", what);
        is_int(quit(w), 0, "%s: worker exits", what);
        is_int(quit(proxy), 0, "%s: proxy exits", what);
        is_int(quit(core), 0, "%s: the core exits cleanly", what);
        rm_rf(state);
        free(state);
}

static char *write_key(const char *dir, const char *name, const char *hex) {
        char *path = ka_path_join(dir, name);
        if (ka_write_file_atomic(path, hex, strlen(hex), 0600, NULL) < 0)
                abort();
        return path;
}

/* `multiproc [kill|restart|attacks]` runs one scenario (for debugging). */
int main(int argc, char **argv) {
        ka_mem_init();
        const char *only = argc > 1 ? argv[1] : NULL;
        signal(SIGPIPE, SIG_IGN);
        const char *builddir = getenv("top_builddir");
        _cleanup_free_ char *path = ka_asprintf("%s/tests/bus/busnode", builddir ? builddir : ".");
        node_path = path;
        if (access(node_path, X_OK) < 0) {
                printf("Bail out! %s not built\n", node_path);
                return 1;
        }
        char *keys = state_dir();
        char *key = write_key(keys, "bus.key", "8e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7\n");
        char *wrong =
                write_key(keys, "wrong.key", "1111111111111111111111111111111111111111111111111111111111111111\n");

        struct net ipc = {.what = "ipc"};
        snprintf(ipc.workers, sizeof(ipc.workers), "ipc://%s/workers.sock", keys);
        struct net tcp = {.what = "tcp", .key = key};
        snprintf(tcp.workers, sizeof(tcp.workers), "tcp://127.0.0.1:%d", ka_test_free_port());

        if (!only || !strcmp(only, "kill")) {
                kill_worker(&ipc, true);
                kill_worker(&tcp, false);
        }
        if (!only || !strcmp(only, "restart")) {
                restart_core(&ipc);
                snprintf(tcp.workers, sizeof(tcp.workers), "tcp://127.0.0.1:%d", ka_test_free_port());
                restart_core(&tcp);
        }
        if (!only || !strcmp(only, "attacks")) {
                snprintf(tcp.workers, sizeof(tcp.workers), "tcp://127.0.0.1:%d", ka_test_free_port());
                attacks(&tcp, wrong);
        }

        while (n_procs)
                kill9(procs[0]);
        rm_rf(keys);
        free(keys);
        free(key);
        free(wrong);
        return tap_done();
}
