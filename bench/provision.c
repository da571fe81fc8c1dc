/* bench/provision: a burst of agents through the whole daemon against the
 * API simulator, fault-free.
 *
 * kubeagentd runs as two processes (--role core and --role worker, on
 * ipc://) and this program plays the frontend: it asks for N builds of one
 * label at once, registers every node the core asks for, says an agent is
 * online once its pod is Ready, holds every build until all N agents are
 * online (so that the table tracks them all), then lets them finish.  It
 * prints:
 *   - agents per second (demand to all online, and to all cleaned up);
 *   - API requests per agent, by verb (target: one create and one delete;
 *     the shared watch's few requests are not per agent);
 *   - CPU time per agent of the two kubeagentd processes;
 *   - their peak RSS, and RSS per tracked agent (the growth from idle to N
 *     agents online);
 *   - p50/p99 of demand to pod created, as the simulator's watch shows it.
 *
 * Run: make bench && bench/provision [N]   (default 1000) */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/provision/harness.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static const char clouds[] =
        "    - kubernetes:\n"
        "        name: kubernetes\n"
        "        credentialsId: @CRED@\n"
        "        namespace: ci\n"
        "        qps: -1\n"
        "        maxRequestsPerHost: 64\n"
        "        templates:\n"
        "          - name: bench\n"
        "            label: bench\n"
        "            containers:\n"
        "              - {name: jnlp, image: busybox, command: sleep, args: infinity}\n";

/* utime + stime (s) and VmRSS, VmHWM (kB) of a process. */
static void proc_stats(pid_t pid, double *cpu, long *rss_kb, long *hwm_kb) {
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        *cpu = 0;
        if (f && fgets(buf, sizeof(buf), f)) {
                const char *p = strrchr(buf, ')');
                unsigned long ut = 0, st = 0;
                /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                        *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
        if (f)
                fclose(f);
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "r");
        *rss_kb = *hwm_kb = 0;
        while (f && fgets(buf, sizeof(buf), f)) {
                sscanf(buf, "VmRSS: %ld", rss_kb);
                sscanf(buf, "VmHWM: %ld", hwm_kb);
        }
        if (f)
                fclose(f);
}

struct run {
        size_t n;
        int64_t t0;
        int64_t *created; /* ms after t0, in order of creation */
        size_t n_created;
        struct ka_hashmap seen;
        bool hold;
        size_t served;
        int64_t *ids;
        size_t waiting;
};

static void note_pods(struct harness *h, struct run *r) {
        size_t it = 0;
        void *v;
        const char *name;
        while (ka_hashmap_next(&h->pods, &it, &name, &v)) {
                if (ka_hashmap_get(&r->seen, name))
                        continue;
                ka_hashmap_put(&r->seen, name, (void *)1);
                r->created[r->n_created++] = ka_time_now_ms() - r->t0;
        }
}

static bool all_online(struct harness *h, void *ud) {
        struct run *r = ud;
        note_pods(h, r);
        size_t n = 0, it = 0;
        void *v;
        while (ka_hashmap_next(&h->nodes, &it, NULL, &v))
                n += ka_streq(((struct h_node *)v)->state, "online");
        return n >= r->n;
}

static bool all_done(struct harness *h, void *ud) {
        struct run *r = ud;
        r->served += h_serve(h, NULL, NULL, NULL);
        return r->served >= r->n && h->live == 0 && h_nodes(h) == 0;
}

static int cmp64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static long count(struct harness *h, const char *prefix) {
        return sim_count(&h->sim, prefix);
}

int main(int argc, char **argv) {
        size_t n = 1000;
        if (argc > 1 && (ka_parse_uint64(argv[1], (uint64_t *)&n) < 0 || n == 0 || n > 100000)) {
                fprintf(stderr, "usage: bench/provision [AGENTS]\n");
                return 2;
        }
        setenv("KUBEAGENT_PLUGIN_PATH", "plugins/.libs", 0);
        setenv("KUBEAGENTD", "core/daemon/kubeagentd", 0);
        static const char *const sim_args[] = {"--kubelet-delay-ms", "5", NULL};
        struct harness h;
        const char *why = NULL;
        struct h_options o = {.transport = "ipc", .extra_sim = sim_args, .gc_period = "1h"};
        if (!h_start_ex(&h, clouds, &o, &why)) {
                fprintf(stderr, "bench/provision: %s\n", why);
                h_stop(&h);
                return 1;
        }
        struct h_proc *worker = h_spawn(&h, "worker"), *core = h_spawn(&h, "core");
        if (!worker || !core || !h_wait_connected(&h, 30000)) {
                fprintf(stderr, "bench/provision: kubeagentd did not start\n");
                h_stop(&h);
                return 1;
        }
        double c0, w0, c1, w1, c2, w2;
        long crss0, chwm, wrss0, whwm, crss1, wrss1;
        proc_stats(core->pid, &c0, &crss0, &chwm);
        proc_stats(worker->pid, &w0, &wrss0, &whwm);
        sim_admin(&h.sim, "POST", "/reset-stats", "{}", NULL);

        struct run r = {.n = n, .created = ka_new0(int64_t, n + 1)};
        r.ids = ka_new0(int64_t, n);
        for (size_t i = 0; i < n; i++)
                r.ids[i] = (int64_t)i + 1;
        r.t0 = ka_time_now_ms();
        h_demand(&h, "bench", r.ids, n);
        bool up = h_until(&h, 600000, all_online, &r);
        int64_t t_online = ka_time_now_ms() - r.t0;
        proc_stats(core->pid, &c1, &crss1, &chwm);
        proc_stats(worker->pid, &w1, &wrss1, &whwm);
        h_demand(&h, "bench", NULL, 0); /* Jenkins hands every item to a node */
        bool done = up && h_until(&h, 600000, all_done, &r);
        int64_t t_done = ka_time_now_ms() - r.t0;
        long crss2, wrss2;
        proc_stats(core->pid, &c2, &crss2, &chwm);
        proc_stats(worker->pid, &w2, &wrss2, &whwm);

        long total = count(&h, "");
        long creates = count(&h, "POST /api/v1/namespaces/{namespace}/pods 201");
        long deletes = count(&h, "DELETE /api/v1/namespaces/{namespace}/pods/{name}");
        long gets = count(&h, "GET /api/v1/namespaces/{namespace}/pods/{name}");
        long patches = count(&h, "PATCH /api/v1/namespaces/{namespace}/pods/{name}");
        long lists = count(&h, "GET /api/v1/namespaces/{namespace}/pods ");
        printf("bench/provision: %zu agents through kubeagentd (--role core + --role worker on ipc://)\n", n);
        if (!up || !done)
                printf("  NOT COMPLETE: %zu online, %zu served, %zu pods live\n", r.n_created, r.served, h.live);
        printf("  demand -> all online:    %7.2f s   %8.1f agents/s\n", (double)t_online / 1000.0,
               (double)n * 1000.0 / (double)KA_MAX(t_online, 1));
        printf("  demand -> all cleaned:   %7.2f s   %8.1f agents/s\n", (double)t_done / 1000.0,
               (double)n * 1000.0 / (double)KA_MAX(t_done, 1));
        printf("  API requests per agent:  %7.2f   (creates %.2f, deletes %.2f, pod GETs %.2f, PATCHes %.2f, "
               "lists/watches %ld; %ld in all)\n",
               (double)total / (double)n, (double)creates / (double)n, (double)deletes / (double)n,
               (double)gets / (double)n, (double)patches / (double)n, lists, total);
        printf("  CPU per agent:           %7.3f ms  (core %.2f s, worker %.2f s)\n",
               ((c2 - c0) + (w2 - w0)) * 1000.0 / (double)n, c2 - c0, w2 - w0);
        printf("  peak RSS:                core %ld kB, worker %ld kB\n", chwm, whwm);
        printf("  RSS per tracked agent:   core %.1f kB, worker %.1f kB  (idle %ld/%ld kB, %zu online %ld/%ld kB)\n",
               (double)(crss1 - crss0) / (double)n, (double)(wrss1 - wrss0) / (double)n, crss0, wrss0, n, crss1,
               wrss1);
        qsort(r.created, r.n_created, sizeof(*r.created), cmp64);
        if (r.n_created)
                printf("  demand -> pod created:   p50 %" PRId64 " ms, p99 %" PRId64 " ms (%zu pods)\n",
                       r.created[r.n_created / 2], r.created[KA_MIN(r.n_created - 1, r.n_created * 99 / 100)],
                       r.n_created);
        free(r.created);
        free(r.ids);
        ka_hashmap_free(&r.seen);
        h_stop(&h);
        return up && done ? 0 : 1;
}
