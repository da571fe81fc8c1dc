/* kubeagent gc: one garbage collection through the running kubeagentd
 * (a core and a worker as processes; garbage collection of its own only
 * once an hour, so that every deletion here is the command's).  A dry run
 * names the stale orphan pod and the node without a pod and deletes
 * nothing; the real run deletes exactly them; a third finds nothing.  And
 * the command's errors: no daemon there, an endpoint it cannot find. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "kube/pods.h"
#include "provision/proto.h"
#include "tap.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

static const char clouds[] = H_CLOUD("        garbageCollection: {timeout: 120}\n") "          - name: build\n"
                                                                                   "            label: build\n" H_SLEEPER;

/* Run a command line; its stdout and stderr together, and its exit status. */
static char *run(const char *cmd, int *ret_status) {
        _cleanup_free_ char *full = ka_asprintf("%s 2>&1", cmd);
        FILE *f = popen(full, "r");
        struct ka_buf out = KA_BUF_INIT(0);
        char chunk[4096];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                ka_buf_append(&out, chunk, n);
        int st = f ? pclose(f) : -1;
        *ret_status = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (!out.data)
                ka_buf_puts(&out, "");
        return ka_buf_steal(&out);
}

static bool have_pods(struct harness *h, void *ud) {
        (void)ud;
        return h_pod(h, "gc-stale") && h_pod(h, "gc-fresh") && h_node(h, "t-build-bcdfg");
}

static bool stale_going(struct harness *h, void *ud) {
        (void)ud;
        const cJSON *p = h_pod(h, "gc-stale");
        return (!p || ka_json_path(p, "metadata.deletionTimestamp")) && !h_node(h, "t-build-bcdfg");
}

int main(void) {
        struct harness h;
        struct h_options o = {.transport = "ipc", .gc_period = "1h"};
        if (!h_begin(&h, clouds, &o))
                return 0;
        const char *kubeagent = getenv("KUBEAGENT") ? getenv("KUBEAGENT") : "core/cli/kubeagent";
        struct h_proc *worker = h_spawn(&h, "worker"), *core = h_spawn(&h, "core");
        ok(worker && core && h_wait_connected(&h, 30000), "kubeagentd runs (core and worker on ipc)");
        if (!worker || !core) {
                h_stop(&h);
                return tap_done();
        }
        int64_t now = ka_time_wall_ms_real();
        h_make_pod(&h, "ci", "gc-stale", true, now - 3600 * 1000);
        h_make_pod(&h, "ci", "gc-fresh", true, now);
        h_node_add(&h, "t-build-bcdfg", "build");
        ok(h_until(&h, 20000, have_pods, NULL), "a stale orphan pod, a fresh one, and a node with no pod");

        int st;
        _cleanup_free_ char *cmd = ka_asprintf("%s gc --dry-run --url http://127.0.0.1:%d", kubeagent, core->http_port);
        char *out = run(cmd, &st);
        is_int(st, 0, "kubeagent gc --dry-run succeeds");
        like(out, "would delete pod ci/gc-stale (cloud kubernetes): heartbeat 1h00m ago, no agent\n",
             "it names the stale orphan and why");
        like(out, "would delete node t-build-bcdfg (frontend jenkins): no pod and no agent behind it\n",
             "and the node with no pod");
        like(out, "1 pod and 1 node would be deleted\n", "then counts them");
        ok(!strstr(out, "gc-fresh"), "the fresh orphan is not named");
        free(out);
        h_until(&h, 300, have_pods, (void *)1); /* pump a little */
        ok(have_pods(&h, NULL) && !h_msg_for(&h, "agent.delete", "t-build-bcdfg"), "a dry run deletes nothing");

        free(cmd);
        cmd = ka_asprintf("%s gc --url http://127.0.0.1:%d/", kubeagent, core->http_port);
        out = run(cmd, &st);
        is_int(st, 0, "kubeagent gc succeeds");
        like(out, "deleted pod ci/gc-stale (cloud kubernetes): heartbeat 1h00m ago, no agent\n", "it deleted the pod");
        like(out, "deleted node t-build-bcdfg (frontend jenkins): no pod and no agent behind it\n", "and the node");
        like(out, "1 pod and 1 node deleted\n", "and says how many");
        free(out);
        ok(h_until(&h, 20000, stale_going, NULL), "the pod is being deleted and the node is gone");
        ok(h_pod(&h, "gc-fresh") != NULL, "the fresh orphan stays");
        out = run(cmd, &st);
        is_str(out, "nothing to collect\n", "a second run finds nothing");
        free(out);

        free(cmd);
        cmd = ka_asprintf("%s gc --url http://127.0.0.1:1", kubeagent);
        out = run(cmd, &st);
        is_int(st, 1, "no kubeagentd there: exit 1");
        like(out, "cannot reach kubeagentd at http://127.0.0.1:1", "saying so");
        free(out);
        free(cmd);
        cmd = ka_asprintf("%s gc -c %s", kubeagent, h.config_path);
        out = run(cmd, &st);
        is_int(st, 2, "an endpoint on port 0 cannot be found: exit 2");
        like(out, "kubeagent.http.listen is 127.0.0.1:0: say where kubeagentd listens with --url", "saying what to do");
        free(out);
        free(cmd);
        cmd = ka_asprintf("%s gc --url http://127.0.0.1:%d", kubeagent, worker->http_port);
        out = run(cmd, &st);
        is_int(st, 1, "a worker runs no garbage collection: exit 1");
        like(out, "runs no scheduler (role worker)", "saying why");
        free(out);
        free(cmd);
        cmd = NULL;
        h_stop(&h);
        return tap_done();
}
