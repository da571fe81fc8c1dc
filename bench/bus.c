/* bench/bus — jobs through the bus: the core submits a burst, workers in
 * their own threads report each job finished at once; printed per transport
 * (inproc, ipc, ipc sealed, tcp sealed): jobs per second, submit→final
 * latency p50/p99, CPU time per job, peak RSS.
 *
 *     make bench && bench/bus [JOBS] [WORKERS]      (default 5000 jobs, 2 workers) */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus/agent.h"
#include "bus/freeport.h"
#include "bus/config.h"
#include "bus/core.h"
#include "plugin/cfgmap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static void *worker(void *arg) {
        struct ka_bus_agent *a = arg;
        struct ka_bus_agent_event ev;
        int r;
        cJSON *done = cJSON_Parse("{\"result\":\"created\"}");
        while ((r = ka_bus_agent_next(a, 1000, &ev)) != -ECANCELED) {
                if (r == 0 && ev.kind == KA_BUS_AGENT_JOB)
                        ka_bus_agent_report(a, ev.job, done, true, NULL);
                if (r == 0)
                        ka_bus_agent_event_clear(&ev);
        }
        cJSON_Delete(done);
        return NULL;
}

static int cmp(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static double cpu_s(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void run(const char *what, const char *workers_addr, const char *key, int jobs, int n_workers) {
        cJSON *o = cJSON_CreateObject();
        ka_json_set_str(o, "workers", workers_addr);
        ka_json_set_str(o, "frontends", "inproc://bench-frontends");
        if (key)
                ka_json_set_str(o, "keyFile", key);
        ka_json_set_str(o, "renewInterval", "200ms");
        ka_json_set_str(o, "resendInterval", "100ms");
        ka_json_set_str(o, "reconnectIntervalMax", "100ms");
        struct kubeagent_config_source src = ka_cfgsrc(o, NULL, (struct ka_loc){0});
        struct ka_bus_config cfg = {0};
        struct ka_diags d = {0};
        ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, &cfg, &d);
        ka_diags_free(&d);
        cJSON_Delete(o);
        struct ka_error err = {0};
        struct ka_bus_core *core;
        if (ka_bus_core_new(&cfg, NULL, &core, &err) < 0) {
                fprintf(stderr, "%s: %s\n", what, err.msg);
                exit(1);
        }
        struct ka_bus_agent *agents[16];
        pthread_t threads[16];
        for (int i = 0; i < n_workers; i++) {
                char name[16];
                snprintf(name, sizeof(name), "w%d", i);
                struct ka_bus_agent_options ao = {.role = KA_BUS_ROLE_WORKER, .name = name};
                if (ka_bus_agent_new(&cfg, &ao, NULL, &agents[i], &err) < 0) {
                        fprintf(stderr, "%s: %s\n", what, err.msg);
                        exit(1);
                }
                pthread_create(&threads[i], NULL, worker, agents[i]);
        }
        /* wait until every worker is up, then past the start-up grace */
        struct ka_bus_core_event ev;
        while (ka_bus_core_peers(core, "worker") < (size_t)n_workers || !ka_bus_core_settled(core))
                if (ka_bus_core_next(core, 50, &ev) == 0)
                        ka_bus_core_event_clear(&ev);

        cJSON *work =
                cJSON_Parse("{\"op\":\"run\",\"cloud\":\"kubernetes\",\"pod\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
                            "\"metadata\":{\"name\":\"maven-x\",\"namespace\":\"ci\"},\"spec\":{\"containers\":[{"
                            "\"name\":\"jnlp\",\"image\":\"jenkins/inbound-agent:3309.v27b_9314fd1a_4-1\"}]}}}");
        int64_t *submitted = ka_new0(int64_t, (size_t)jobs), *latency = ka_new0(int64_t, (size_t)jobs);
        double cpu0 = cpu_s();
        int64_t t0 = ka_time_now_ms();
        for (int i = 0; i < jobs; i++) {
                char id[32];
                snprintf(id, sizeof(id), "pod/ci/agent-%06d", i);
                submitted[i] = ka_time_now_ms();
                ka_bus_core_submit(core, id, NULL, work, &err);
        }
        int done = 0;
        while (done < jobs) {
                if (ka_bus_core_next(core, 5000, &ev) < 0) {
                        fprintf(stderr, "%s: stalled at %d/%d\n", what, done, jobs);
                        break;
                }
                if (ev.kind == KA_BUS_CORE_JOB_EVENT && ev.final) {
                        int i = atoi(strrchr(ev.job, '-') + 1);
                        latency[done++] = ka_time_now_ms() - submitted[i];
                }
                ka_bus_core_event_clear(&ev);
        }
        int64_t ms = ka_time_now_ms() - t0;
        double cpu = cpu_s() - cpu0;
        qsort(latency, (size_t)done, sizeof(*latency), cmp);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("%-12s %6d jobs %3d workers  %8.0f jobs/s  latency p50 %4lld ms p99 %4lld ms  cpu %6.1f us/job  "
               "peak rss %ld MiB\n",
               what, done, n_workers, ms ? done * 1000.0 / ms : 0.0, done ? (long long)latency[done / 2] : 0,
               done ? (long long)latency[done * 99 / 100] : 0, done ? cpu * 1e6 / done : 0, ru.ru_maxrss / 1024);
        for (int i = 0; i < n_workers; i++)
                ka_bus_agent_cancel(agents[i]);
        for (int i = 0; i < n_workers; i++) {
                pthread_join(threads[i], NULL);
                ka_bus_agent_free(agents[i]);
        }
        ka_bus_core_free(core);
        ka_cfgmap_clear(ka_bus_config_keys, &cfg);
        cJSON_Delete(work);
        free(submitted);
        free(latency);
}

int main(int argc, char **argv) {
        ka_mem_init();
        int jobs = 5000, workers = 2;
        if ((argc > 1 && ka_parse_int(argv[1], &jobs) < 0) || (argc > 2 && ka_parse_int(argv[2], &workers) < 0) ||
            jobs < 1 || workers < 1 || workers > 16) {
                fprintf(stderr, "usage: bench/bus [JOBS] [WORKERS (1-16)]\n");
                return 2;
        }
        char dir[] = "/tmp/ka-bus-bench-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        char *key = ka_path_join(dir, "bus.key");
        const char hex[] = "5a1e2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8\n";
        ka_write_file_atomic(key, hex, strlen(hex), 0600, NULL);
        char addr[200];
        run("inproc", "inproc://bench-workers", NULL, jobs, workers);
        snprintf(addr, sizeof(addr), "ipc://%s/w.sock", dir);
        run("ipc", addr, NULL, jobs, workers);
        snprintf(addr, sizeof(addr), "ipc://%s/ws.sock", dir);
        run("ipc sealed", addr, key, jobs, workers);
        snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", ka_test_free_port());
        run("tcp sealed", addr, key, jobs, workers);
        unlink(key);
        free(key);
        char *cmd = ka_asprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", dir);
        free(cmd);
        return 0;
}
