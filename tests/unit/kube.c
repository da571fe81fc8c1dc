/* Unit tests for core/kube without a server: Status errors and their
 * wording, query encoding, the watch line splitter and event parser, and
 * the pod status outlooks on hand-made pods. */
#include <errno.h>
#include <string.h>

#include "kube/kube.h"
#include "kube/podstatus.h"
#include "kube/status.h"
#include "kube/watch.h"
#include "tap.h"
#include "util/mem.h"

static int status_error(int code, const char *body, struct ka_error *err) {
        struct ka_kube_status st;
        ka_kube_status_parse(code, body, strlen(body), &st);
        int r = ka_kube_status_error(&st, "create pod ci/a", err);
        ka_kube_status_clear(&st);
        return r;
}

static void test_status(void) {
        struct ka_error err = {0};
        is_int(status_error(403, "{\"kind\":\"Status\",\"message\":\"pods \\\"a\\\" is forbidden: violates PodSecurity "
                                 "\\\"restricted:latest\\\": privileged\",\"reason\":\"Forbidden\",\"code\":403}",
                            &err),
               -EPERM, "PodSecurity rejection: -EPERM");
        like(err.msg, "rejected by PodSecurity admission (403 Forbidden)", "PodSecurity: named");
        is_int(status_error(403, "{\"kind\":\"Status\",\"message\":\"admission webhook \\\"x\\\" denied the request\","
                                 "\"reason\":\"Forbidden\",\"code\":403}",
                            &err),
               -EPERM, "a webhook denial: -EPERM");
        like(err.msg, "forbidden by an admission check", "webhook: not blamed on RBAC");
        is_int(status_error(502, "<html>\n<body>Bad Gateway</body></html>", &err), -EIO, "a proxy's HTML: -EIO");
        like(err.msg, "server error (502): <html>", "a text body: its first line");
        is_int(status_error(410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410}", &err), -ESTALE,
               "410 Expired: -ESTALE");
        is_int(status_error(409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}", &err), -EBUSY,
               "409 Conflict: -EBUSY, not AlreadyExists");
        is_int(status_error(429, "", &err), -EAGAIN, "429 without a body: -EAGAIN");
        struct ka_kube_status st;
        const char *body = "{\"kind\":\"Status\",\"code\":429,\"details\":{\"retryAfterSeconds\":7}}";
        ka_kube_status_parse(429, body, strlen(body), &st);
        is_int(st.retry_after_s, 7, "details.retryAfterSeconds is kept");
        ka_kube_status_clear(&st);
}

static void test_query(void) {
        struct ka_buf q = KA_BUF_INIT(0);
        ka_kube_query_add(&q, "labelSelector", "a in (x,y),b!=c");
        ka_kube_query_add(&q, "command", "echo 1+1 \"%\"");
        is_str(q.data, "labelSelector=a%20in%20%28x%2Cy%29%2Cb%21%3Dc&command=echo%201%2B1%20%22%25%22",
               "query values are percent-encoded, '+' included");
        ka_buf_free(&q);
}

static int collect(void *ud, char *line, size_t len) {
        struct ka_buf *b = ud;
        ka_buf_printf(b, "[%.*s]", (int)len, line);
        return 0;
}

static void test_lines(void) {
        struct ka_lines l = KA_LINES_INIT(16);
        struct ka_buf out = KA_BUF_INIT(0);
        const char *chunks[] = {"ab", "c\r\nde", "\n\n", "f", "g\n"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(chunks); i++)
                ka_lines_feed(&l, chunks[i], strlen(chunks[i]), collect, &out);
        is_str(out.data, "[abc][de][fg]", "lines across chunks; CR trimmed; empty lines skipped");
        is_int(ka_lines_feed(&l, "0123456789abcdefXYZ", 19, collect, &out), -E2BIG, "a line over the cap: -E2BIG");
        ka_lines_free(&l);
        ka_buf_free(&out);

        enum ka_watch_type t;
        cJSON *o = NULL;
        struct ka_error err = {0};
        const char *ev = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}";
        is_int(ka_kube_watch_event_parse(ev, strlen(ev), &t, &o, &err), 0, "a bookmark parses");
        is_int(t, KA_WATCH_BOOKMARK, "type BOOKMARK");
        cJSON_Delete(o);
        ev = "{\"type\":\"ADDED\"}";
        is_int(ka_kube_watch_event_parse(ev, strlen(ev), &t, &o, &err), -EBADMSG, "an event without object: refused");
        ev = "{\"type\":\"ADDED\",";
        is_int(ka_kube_watch_event_parse(ev, strlen(ev), &t, &o, &err), -EBADMSG, "a cut event: refused");
}

/* The state's strings point into the pod: keep the last one alive. */
static cJSON *last;

static enum ka_pod_outlook outlook(const char *json, struct ka_pod_state *st) {
        cJSON_Delete(last);
        last = cJSON_Parse(json);
        ka_pod_state_of(last, st);
        return st->outlook;
}

static void test_podstatus(void) {
        struct ka_pod_state st;
        is_int(outlook("{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":"
                       "\"False\",\"reason\":\"SchedulingGated\"}]}}",
                       &st),
               KA_POD_STARTING, "scheduling gated: still starting");
        is_int(outlook("{\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"waiting\":"
                       "{\"reason\":\"ErrImagePull\"}}},{\"name\":\"b\",\"state\":{\"waiting\":{\"reason\":"
                       "\"ErrImageNeverPull\"}}}]}}",
                       &st),
               KA_POD_NEVER, "one container that can never start decides, even listed second");
        is_str(st.container, "b", "and it is named");
        is_int(outlook("{\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i\",\"state\":"
                       "{\"terminated\":{\"exitCode\":0}}}],\"containerStatuses\":[{\"name\":\"c\",\"state\":"
                       "{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
                       &st),
               KA_POD_STARTING, "a finished init container is normal");
        is_str(st.reason, "PodInitializing", "reason PodInitializing");
        is_int(outlook("{\"metadata\":{\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":{\"phase\":"
                       "\"Running\"}}",
                       &st),
               KA_POD_FINISHED, "a pod being deleted is finished");
        ok(st.deleting, "deleting");
        is_int(outlook("{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":"
                       "\"True\",\"reason\":\"EvictionByEvictionAPI\"}]}}",
                       &st),
               KA_POD_FINISHED, "a disruption target is finished");
        is_str(st.reason, "EvictionByEvictionAPI", "with the disruption's reason");
        is_int(outlook("{\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"c\",\"state\":"
                       "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}",
                       &st),
               KA_POD_FINISHED, "Succeeded is finished");
        is_str(st.reason, "Completed", "with the container's reason");
        is_int(st.exit_code, 0, "and exit code");
        is_int(outlook("{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                       &st),
               KA_POD_RUNNING, "running");
        ok(st.ready, "ready");
        is_int(outlook("{}", &st), KA_POD_STARTING, "no status at all: starting");
        is_str(st.phase, "Unknown", "phase Unknown");
        cJSON_Delete(last);
}

int main(void) {
        ka_mem_init();
        test_status();
        test_query();
        test_lines();
        test_podstatus();
        return tap_done();
}
