/* The exec session (core/kube/exec.c over the client's raw connection)
 * against the API simulator: exit codes and streams, stdin on v5 and v4,
 * the server-side errors, fragmented output, retries and their limits,
 * credentials refreshed after a 401, RBAC, interrupts and deadlines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/exec.h"
#include "kube/pods.h"
#include "sim.h"
#include "tap.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static struct sim sim;
static struct ka_registry reg;

struct capture {
        struct ka_buf out, err;
};

static int capture(void *ud, int channel, const void *data, size_t len) {
        struct capture *c = ud;
        ka_buf_append(channel == KA_EXEC_STDOUT ? &c->out : &c->err, data, len);
        return 0;
}

static void capture_clear(struct capture *c) {
        ka_buf_free(&c->out);
        ka_buf_free(&c->err);
        *c = (struct capture){.out = KA_BUF_INIT(0), .err = KA_BUF_INIT(0)};
}

static struct ka_kube_exec_options opts(const char *container, const char *const *argv, struct capture *c) {
        return (struct ka_kube_exec_options){.pod = "ex",
                                             .container = container,
                                             .argv = argv,
                                             .stdin_fd = -1,
                                             .output = capture,
                                             .output_ud = c,
                                             .wake_fd = -1,
                                             .backoff_ms = 10};
}

/* Start and run to the end; the protocol the server chose goes to proto. */
static int run(struct ka_kube *k, const struct ka_kube_exec_options *o, int *code, const char **proto,
               struct ka_error *err) {
        struct ka_kube_exec *x = NULL;
        *code = -1;
        int r = ka_kube_exec_start(k, o, &x, err);
        if (r == 0) {
                if (proto)
                        *proto = ka_kube_exec_protocol(x);
                r = ka_kube_exec_run(x, ka_time_now_ms() + 20000, code, err);
        }
        ka_kube_exec_free(x);
        return r;
}

static int retries;
static char last_retry[KA_ERROR_MSG_MAX];

static void count_retry(void *ud, int attempt, int attempts, int64_t wait_ms, const struct ka_error *why) {
        (void)ud, (void)attempts, (void)wait_ms;
        retries = attempt;
        snprintf(last_retry, sizeof(last_retry), "%s", why->msg);
}

static void test_streams(struct ka_kube *k) {
        struct capture c = {0};
        capture_clear(&c);
        struct ka_error err = {0};
        int code;
        const char *proto = NULL;
        static const char *const exit3[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
        struct ka_kube_exec_options o = opts("main", exit3, &c);
        is_int(run(k, &o, &code, &proto, &err), 0, "a command runs: %s", err.msg);
        is_int(code, 3, "its exit code");
        is_str(c.out.data, "out\n", "stdout");
        is_str(c.err.data, "err\n", "stderr, apart");
        is_str(proto, KA_EXEC_V5, "v5 is chosen when the server has it");
        capture_clear(&c);

        static const char *const cat[] = {"cat", NULL};
        o = opts("main", cat, &c);
        o.stdin_ = true;
        o.stdin_data = "through stdin\n";
        o.stdin_len = strlen(o.stdin_data);
        is_int(run(k, &o, &code, NULL, &err), 0, "stdin, then closed (v5): %s", err.msg);
        ok(code == 0 && ka_streq(c.out.data, "through stdin\n"), "cat echoes it and ends");
        capture_clear(&c);

        int fds[2];
        if (pipe(fds) == 0) {
                ssize_t w = write(fds[1], "from a pipe", 11);
                close(fds[1]);
                o.stdin_data = "first, ";
                o.stdin_len = 7;
                o.stdin_fd = fds[0];
                is_int(run(k, &o, &code, NULL, &err), 0, "stdin data then a file descriptor: %s", err.msg);
                ok(w == 11 && ka_streq(c.out.data, "first, from a pipe"), "both arrive in order: %s", c.out.data);
                close(fds[0]);
                capture_clear(&c);
        }

        static const char *const zeros[] = {"head", "-c", "8000000", "/dev/zero", NULL};
        sim_admin(&sim, "POST", "/config", "{\"execFragmentBytes\": 4000, \"execMessageBytes\": 100000}", NULL);
        o = opts("main", zeros, &c);
        is_int(run(k, &o, &code, NULL, &err), 0, "8 MB in 4000-byte continuation frames: %s", err.msg);
        size_t zero = 0;
        for (size_t i = 0; i < c.out.len; i++)
                zero += c.out.data[i] == 0;
        ok(code == 0 && c.out.len == 8000000 && zero == c.out.len, "... all of it (%zu bytes)", c.out.len);
        sim_admin(&sim, "POST", "/config", "{\"execFragmentBytes\": 0, \"execMessageBytes\": 32768}", NULL);
        capture_clear(&c);

        sim_admin(&sim, "POST", "/config", "{\"execProtocols\": \"v4\"}", NULL);
        static const char *const sh[] = {"sh", NULL};
        o = opts("main", sh, &c);
        o.stdin_ = true;
        o.stdin_data = "echo on v4\nexit 5\n";
        o.stdin_len = strlen(o.stdin_data);
        is_int(run(k, &o, &code, &proto, &err), 0, "a v4 server: %s", err.msg);
        ok(code == 5 && ka_streq(c.out.data, "on v4\n") && ka_streq(proto, KA_EXEC_V4),
           "v4: the script ends with exit, the status is read");
        capture_clear(&c);
        o = opts("main", cat, &c);
        o.stdin_ = true;
        o.stdin_data = "no EOF on v4";
        o.stdin_len = strlen(o.stdin_data);
        struct ka_kube_exec *x = NULL;
        is_int(ka_kube_exec_start(k, &o, &x, &err), 0, "v4: cat started");
        if (x) {
                int r = ka_kube_exec_run(x, ka_time_now_ms() + 300, &code, &err);
                ok(r == -ETIMEDOUT && ka_streq(c.out.data, "no EOF on v4"),
                   "v4 cannot close stdin: cat keeps running (%d) until the connection ends", r);
        }
        ka_kube_exec_free(x);
        sim_admin(&sim, "POST", "/config", "{\"execProtocols\": \"v5,v4\"}", NULL);
        capture_clear(&c);
        ka_buf_free(&c.out);
        ka_buf_free(&c.err);
}

static void test_errors(struct ka_kube *k, struct ka_kube *restricted) {
        struct capture c = {0};
        capture_clear(&c);
        struct ka_error err = {0};
        int code;
        static const char *const t[] = {"true", NULL};
        struct ka_kube_exec_options o = opts("quick", t, &c);
        is_int(run(k, &o, &code, NULL, &err), -ESRCH, "v5: a container that is not running");
        like(err.msg, "container not found (\"quick\")", "... in the server's words: %s", err.msg);
        sim_admin(&sim, "POST", "/config", "{\"execProtocols\": \"v4\"}", NULL);
        is_int(run(k, &o, &code, NULL, &err), -ESRCH, "v4: the same, refused before the handshake");
        like(err.msg, "the container is not running", "... said plainly: %s", err.msg);
        sim_admin(&sim, "POST", "/config", "{\"execProtocols\": \"v5,v4\"}", NULL);

        static const char *const bash[] = {"/bin/bash", NULL};
        o = opts("main", bash, &c);
        is_int(run(k, &o, &code, NULL, &err), -ENOEXEC, "a shell the image lacks: could not start");
        like(err.msg, "stat /bin/bash: no such file or directory", "... with the runtime's reason");
        o = opts("nope", t, &c);
        is_int(run(k, &o, &code, NULL, &err), -EINVAL, "an unknown container");
        like(err.msg, "container nope is not valid for pod ex", "... in the server's words");
        o = opts("main", t, &c);
        o.pod = "absent";
        is_int(run(k, &o, &code, NULL, &err), -ENOENT, "no such pod");
        o = opts("main", t, &c);
        is_int(run(restricted, &o, &code, NULL, &err), -EACCES, "RBAC");
        like(err.msg, "cannot get resource \"pods/exec\"", "... the server's words");
        like(err.msg, "needs both get and create on pods/exec", "... and what to grant");
        ka_buf_free(&c.out);
        ka_buf_free(&c.err);
}

static void test_retries(struct ka_kube *k) {
        struct capture c = {0};
        capture_clear(&c);
        struct ka_error err = {0};
        int code;
        static const char *const echo[] = {"echo", "made it", NULL};
        struct ka_kube_exec_options o = opts("main", echo, &c);
        o.on_retry = count_retry;
        sim_admin(&sim, "POST", "/faults",
                  "{\"match\": {\"path\": \"/api/v1/namespaces/ci/pods/ex/exec\"}, \"status\": 503, \"count\": 2}",
                  NULL);
        retries = 0;
        is_int(run(k, &o, &code, NULL, &err), 0, "two 503s, then the exec: %s", err.msg);
        ok(retries == 3 && ka_streq(c.out.data, "made it\n"), "... after two retries (%d)", retries);
        like(last_retry, "server error (503", "... which say why");
        capture_clear(&c);
        sim_admin(&sim, "POST", "/faults",
                  "{\"match\": {\"path\": \"/api/v1/namespaces/ci/pods/ex/exec\"}, \"status\": 500, \"message\": "
                  "\"etcd is down\"}",
                  NULL);
        retries = 0;
        is_int(run(k, &o, &code, NULL, &err), -EIO, "a server that keeps failing");
        ok(retries == 5, "... is tried 5 times, like the plugin (%d)", retries);
        like(err.msg, "gave up after 5 attempts", "... then given up: %s", err.msg);
        like(err.msg, "etcd is down", "... saying why");

        int wake[2];
        if (pipe(wake) == 0) {
                ssize_t w = write(wake[1], "x", 1);
                o.wake_fd = wake[0];
                o.backoff_ms = 60000;
                int64_t t0 = ka_time_now_ms();
                is_int(run(k, &o, &code, NULL, &err), -EINTR, "an interrupt while waiting to retry (%zd)", w);
                ok(ka_time_now_ms() - t0 < 5000, "... ends the wait at once");
                close(wake[0]);
                close(wake[1]);
                o.wake_fd = -1;
                o.backoff_ms = 10;
        }
        sim_admin(&sim, "DELETE", "/faults", NULL, NULL);

        struct ka_kube_options ko;
        ka_kube_options_init(&ko);
        ko.retry_base_ms = 10;
        ko.qps = -1;
        ko.server_url = "https://127.0.0.1:1";
        struct ka_kube *nowhere = sim_client(&sim, &reg, "sa-token", &ko);
        o.attempts = 3;
        retries = 0;
        is_int(run(nowhere, &o, &code, NULL, &err), -ECONNREFUSED, "nothing listening");
        ok(retries == 3 && strstr(err.msg, "gave up after 3 attempts") && strstr(err.msg, "cannot connect"),
           "... tried as often as asked: %s", err.msg);
        ka_kube_free(nowhere);
        ka_buf_free(&c.out);
        ka_buf_free(&c.err);
}

static void test_refresh(struct ka_kube *k) {
        struct capture c = {0};
        capture_clear(&c);
        struct ka_error err = {0};
        int code;
        static const char *const t[] = {"true", NULL};
        struct ka_kube_exec_options o = opts("main", t, &c);
        is_int(sim_admin(&sim, "POST", "/rotate-token", "{\"name\": \"sa-token\"}", NULL), 200, "token rotated");
        struct ka_kube_counters before, after;
        ka_kube_counters(k, &before);
        is_int(run(k, &o, &code, NULL, &err), 0, "the exec after a rotation: %s", err.msg);
        ka_kube_counters(k, &after);
        is_int(after.refreshes - before.refreshes, 1, "... refreshed the credentials once after the 401");
        ka_buf_free(&c.out);
        ka_buf_free(&c.err);
}

static void test_interrupt(struct ka_kube *k) {
        struct capture c = {0};
        capture_clear(&c);
        struct ka_error err = {0};
        int code = -1;
        _cleanup_free_ char *marker = ka_exec_marker_new();
        _cleanup_free_ char *var = ka_asprintf(KA_EXEC_MARKER_VAR "=%s", marker);
        const char *const argv[] = {"env", var, "sh", "-c", "echo started; sleep 30", NULL};
        int wake[2];
        if (pipe(wake) < 0)
                return;
        struct ka_kube_exec_options o = opts("main", argv, &c);
        o.wake_fd = wake[0];
        struct ka_kube_exec *x = NULL;
        is_int(ka_kube_exec_start(k, &o, &x, &err), 0, "a long command starts");
        if (!x)
                return;
        is_int(ka_kube_exec_run(x, ka_time_now_ms() + 500, &code, &err), -ETIMEDOUT, "a deadline ends a run");
        is_str(c.out.data, "started\n", "... after its output so far");
        ssize_t w = write(wake[1], "x", 1);
        is_int(ka_kube_exec_run(x, 0, &code, &err), -EINTR, "a readable wake_fd interrupts the run (%zd)", w);
        _cleanup_(ka_strv_freep) char **kill = ka_exec_kill_argv(marker);
        struct capture kc = {0};
        capture_clear(&kc);
        struct ka_kube_exec_options ko = opts("main", (const char *const *)kill, &kc);
        int kcode;
        is_int(run(k, &ko, &kcode, NULL, &err), 0, "the plugin's kill exec runs: %s", err.msg);
        is_int(kcode, 0, "... and finds the marked processes");
        char b;
        while (read(wake[0], &b, 1) != 1)
                ;
        is_int(ka_kube_exec_run(x, ka_time_now_ms() + 10000, &code, &err), 0, "the first exec then ends: %s", err.msg);
        is_int(code, 143, "... killed by SIGTERM (143)");
        ka_kube_exec_free(x);
        close(wake[0]);
        close(wake[1]);
        ka_buf_free(&c.out);
        ka_buf_free(&c.err);
        ka_buf_free(&kc.out);
        ka_buf_free(&kc.err);
}

int main(void) {
        ka_mem_init();
        const char *why;
        if (!sim_start(&sim, NULL, &why)) {
                printf("1..0 # SKIP %s\n", why);
                return 0;
        }
        plugins_load(&reg);
        struct ka_kube *k = sim_client(&sim, &reg, "sa-token", NULL);
        struct ka_kube *restricted = sim_client(&sim, &reg, "token-restricted", NULL);
        cJSON *pod = cJSON_Parse(
                "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"ex\"},\"spec\":{\"restartPolicy\":"
                "\"Never\",\"containers\":[{\"name\":\"main\",\"image\":\"busybox:1.36\",\"command\":[\"sleep\","
                "\"infinity\"]},{\"name\":\"quick\",\"image\":\"busybox:1.36\",\"command\":[\"true\"]}]}}");
        struct ka_error err = {0};
        is_int(ka_kube_pod_create(k, NULL, pod, NULL, &err), 0, "the test pod is created: %s", err.msg);
        cJSON_Delete(pod);
        static const char *const ready[] = {"\"running\"", "\"terminated\"", NULL};
        ok(sim_wait_pod(k, "ex", ready, 20), "the pod runs, with one container done");
        test_streams(k);
        test_errors(k, restricted);
        test_retries(k);
        test_interrupt(k);
        test_refresh(k);
        ka_kube_free(k);
        ka_kube_free(restricted);
        ka_registry_free(&reg);
        sim_stop(&sim);
        return tap_done();
}
