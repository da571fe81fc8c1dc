/* bench/exec: running commands in containers, against the API simulator.
 *
 *   1. stdout streaming: `head -c N /dev/zero` in a container, counted as it
 *      arrives, on a v5 and on a v4 server: MB/s and client CPU per MB;
 *   2. exec round trip: `true` run M times one after the other (connect,
 *      TLS, upgrade, Status, close): median and 95th percentile;
 *   3. stdin to stdout round trip inside one exec (`cat`): a 64-byte line
 *      sent when the previous one came back, median and 95th percentile.
 *
 * The simulator is a Python process on the same machine: its CPU is not in
 * "client CPU" and it is usually the slower side.  Run: make bench &&
 * bench/exec [MEGABYTES] (default 500). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/exec.h"
#include "kube/pods.h"
#include "sim.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define EXECS 50
#define ROUNDS 500

static struct sim sim;

static int cmp_ms(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static uint64_t received;

static int count(void *ud, int channel, const void *data, size_t len) {
        (void)ud, (void)channel, (void)data;
        received += len;
        return 0;
}

static int exec_once(struct ka_kube *k, const char *const *argv, int (*out)(void *, int, const void *, size_t),
                     void *ud, int stdin_fd, int *code, const char **proto) {
        struct ka_kube_exec_options o = {.pod = "bench",
                                         .container = "main",
                                         .argv = argv,
                                         .stdin_ = stdin_fd >= 0,
                                         .stdin_fd = stdin_fd,
                                         .output = out,
                                         .output_ud = ud,
                                         .wake_fd = -1};
        struct ka_kube_exec *x = NULL;
        struct ka_error err = {0};
        int r = ka_kube_exec_start(k, &o, &x, &err);
        if (r == 0) {
                if (proto)
                        *proto = ka_kube_exec_protocol(x);
                r = ka_kube_exec_run(x, 0, code, &err);
        }
        ka_kube_exec_free(x);
        if (r < 0)
                fprintf(stderr, "bench/exec: %s\n", err.msg);
        return r;
}

static void streaming(struct ka_kube *k, long megabytes, const char *protocols) {
        char body[64], size[32];
        snprintf(body, sizeof(body), "{\"execProtocols\": \"%s\"}", protocols);
        sim_admin(&sim, "POST", "/config", body, NULL);
        snprintf(size, sizeof(size), "%ld", megabytes * 1000000);
        const char *const argv[] = {"head", "-c", size, "/dev/zero", NULL};
        received = 0;
        int code = -1;
        const char *proto = "?";
        double c0 = cpu_seconds();
        int64_t t0 = ka_time_now_ms();
        int r = exec_once(k, argv, count, NULL, -1, &code, &proto);
        double secs = (double)(ka_time_now_ms() - t0) / 1000.0, cpu = cpu_seconds() - c0;
        if (r < 0 || received != (uint64_t)megabytes * 1000000) {
                printf("stdout streaming (%s): FAILED (%llu bytes)\n", protocols, (unsigned long long)received);
                return;
        }
        printf("stdout streaming, %-17s %ld MB in %.2f s: %.1f MB/s, client CPU %.2f ms/MB\n", proto, megabytes, secs,
               (double)megabytes / secs, cpu * 1000.0 / (double)megabytes);
}

static void round_trips(struct ka_kube *k) {
        static const char *const t[] = {"true", NULL};
        double ms[EXECS];
        int n = 0;
        for (int i = 0; i < EXECS; i++) {
                int64_t t0 = ka_time_now_ms();
                int code;
                if (exec_once(k, t, count, NULL, -1, &code, NULL) == 0 && code == 0)
                        ms[n++] = (double)(ka_time_now_ms() - t0);
        }
        qsort(ms, (size_t)n, sizeof(double), cmp_ms);
        if (n == EXECS)
                printf("exec round trip (`true`, new connection each): median %.1f ms, p95 %.1f ms (%d runs)\n",
                       ms[n / 2], ms[n * 95 / 100], n);
        else
                printf("exec round trip: FAILED (%d of %d)\n", n, EXECS);
}

struct echo {
        int to_cat; /* the pipe the exec reads its stdin from */
        int rounds;
        size_t got;
        int64_t sent_us;
        double ms[ROUNDS];
};

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_line(struct echo *e) {
        static const char line[64] = "0123456789012345678901234567890123456789012345678901234567890\n";
        e->sent_us = now_us();
        if (write(e->to_cat, line, sizeof(line)) != (ssize_t)sizeof(line))
                fprintf(stderr, "bench/exec: write failed\n");
}

static int echoed(void *ud, int channel, const void *data, size_t len) {
        (void)channel, (void)data;
        struct echo *e = ud;
        e->got += len;
        if (e->got < 64)
                return 0;
        e->got -= 64;
        e->ms[e->rounds++] = (double)(now_us() - e->sent_us) / 1000.0;
        if (e->rounds < ROUNDS)
                send_line(e);
        else
                close(e->to_cat); /* EOF: cat ends */
        return 0;
}

static void echo_latency(struct ka_kube *k) {
        int fds[2];
        if (pipe(fds) < 0)
                return;
        struct echo *e = ka_new0(struct echo, 1);
        e->to_cat = fds[1];
        static const char *const cat[] = {"cat", NULL};
        send_line(e);
        int code = -1;
        int r = exec_once(k, cat, echoed, e, fds[0], &code, NULL);
        close(fds[0]);
        if (r == 0 && e->rounds == ROUNDS) {
                qsort(e->ms, ROUNDS, sizeof(double), cmp_ms);
                printf("stdin -> stdout round trip in one exec (64 bytes): median %.2f ms, p95 %.2f ms (%d lines)\n",
                       e->ms[ROUNDS / 2], e->ms[ROUNDS * 95 / 100], ROUNDS);
        } else {
                printf("stdin -> stdout round trip: FAILED (%d lines)\n", e->rounds);
        }
        free(e);
}

int main(int argc, char **argv) {
        ka_mem_init();
        long megabytes = argc > 1 ? atol(argv[1]) : 500;
        const char *why;
        const char *const extra[] = {"--kubelet-delay-ms", "0", NULL};
        if (!sim_start(&sim, extra, &why)) {
                fprintf(stderr, "bench/exec: %s\n", why);
                return 1;
        }
        struct ka_registry reg = {0};
        plugins_load(&reg);
        struct ka_kube *k = sim_client(&sim, &reg, "token-admin", NULL);
        cJSON *pod = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench\"},\"spec\":"
                                 "{\"containers\":[{\"name\":\"main\",\"image\":\"busybox:1.36\",\"command\":"
                                 "[\"sleep\",\"infinity\"]}]}}");
        struct ka_error err = {0};
        ka_kube_pod_create(k, NULL, pod, NULL, &err);
        cJSON_Delete(pod);
        static const char *const running[] = {"\"running\"", NULL};
        if (!sim_wait_pod(k, "bench", running, 20))
                fprintf(stderr, "bench/exec: the pod did not start\n");

        streaming(k, megabytes, "v5,v4");
        streaming(k, megabytes, "v4");
        sim_admin(&sim, "POST", "/config", "{\"execProtocols\": \"v5,v4\"}", NULL);
        round_trips(k);
        echo_latency(k);
        ka_kube_free(k);
        ka_registry_free(&reg);
        sim_stop(&sim);
        return 0;
}
