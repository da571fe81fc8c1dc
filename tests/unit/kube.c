/* Unit tests for core/kube without a server: Status errors and their
 * wording, query encoding, the watch line splitter and event parser, and
 * the pod status outlooks on hand-made pods. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "kube/podstatus.h"
#include "kube/proxy.h"
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

/* The proxy a request to host:port goes through, or "direct". */
static const char *via(const char *proxy_url, const char *https_proxy, const char *no_proxy, const char *host,
                       const char *port) {
        static char out[KA_ERROR_MSG_MAX + 16];
        struct ka_kube_proxy_env env = {.https_proxy = (char *)https_proxy, .no_proxy = (char *)no_proxy};
        char *p = NULL;
        struct ka_error err = {0};
        if (ka_kube_proxy_for(proxy_url, &env, true, host, port, &p, &err) < 0)
                snprintf(out, sizeof(out), "error: %s", err.msg);
        else
                snprintf(out, sizeof(out), "%s", p ? p : "direct");
        free(p);
        return out;
}

static void test_proxy(void) {
        const char *px = "http://proxy:3128";
        is_str(via(NULL, px, NULL, "api.example.com", "443"), px, "HTTPS_PROXY for an https server");
        is_str(via(NULL, "proxy:3128", NULL, "api.example.com", "443"), px, "a proxy without a scheme is http://");
        is_str(via(NULL, NULL, NULL, "api.example.com", "443"), "direct", "no proxy set: direct");
        is_str(via(NULL, px, NULL, "127.0.0.1", "443"), "direct", "loopback IPv4: never proxied from the environment");
        is_str(via(NULL, px, NULL, "127.9.9.9", "443"), "direct", "all of 127/8 is loopback");
        is_str(via(NULL, px, NULL, "[::1]", "443"), "direct", "IPv6 loopback");
        is_str(via(NULL, px, NULL, "[::ffff:127.0.0.1]", "443"), "direct", "IPv4-mapped loopback");
        is_str(via(NULL, px, NULL, "LocalHost", "443"), "direct", "localhost");
        is_str(via(NULL, px, NULL, "localhost.example.com", "443"), px, "a name that only starts with localhost");
        is_str(via("http://other:1", px, "*", "127.0.0.1", "443"), "http://other:1",
               "proxy-url wins over NO_PROXY and loopback");
        is_str(via(NULL, px, "*", "api.example.com", "443"), "direct", "NO_PROXY=*");
        is_str(via(NULL, px, "example.com", "api.example.com", "443"), "direct", "a domain covers its subdomains");
        is_str(via(NULL, px, "example.com", "example.com", "443"), "direct", "and itself");
        is_str(via(NULL, px, "example.com", "badexample.com", "443"), px, "but not a name that only ends like it");
        is_str(via(NULL, px, ".example.com", "example.com", "443"), px, ".domain: subdomains only");
        is_str(via(NULL, px, ".example.com", "a.example.com", "443"), "direct", ".domain: a subdomain");
        is_str(via(NULL, px, "*.example.com", "example.com", "443"), px, "*.domain: subdomains only");
        is_str(via(NULL, px, " other.org , EXAMPLE.com ", "Api.Example.Com", "443"), "direct",
               "entries trimmed, case ignored");
        is_str(via(NULL, px, "example.com:8443", "api.example.com", "443"), px, "an entry with a port: that port only");
        is_str(via(NULL, px, "example.com:443", "api.example.com", "443"), "direct", "the right port");
        is_str(via(NULL, px, "10.0.0.0/8", "10.1.2.3", "443"), "direct", "CIDR");
        is_str(via(NULL, px, "10.0.0.0/8", "11.1.2.3", "443"), px, "CIDR: outside");
        is_str(via(NULL, px, "10.0.0.0/33", "10.1.2.3", "443"), px, "a malformed CIDR matches nothing");
        is_str(via(NULL, px, "fd00::/8", "[fd12::1]", "443"), "direct", "IPv6 CIDR");
        is_str(via(NULL, px, "10.1.2.3", "10.1.2.3", "6443"), "direct", "an IP address");
        is_str(via(NULL, px, "10.1.2.3:443", "10.1.2.3", "6443"), px, "an IP address with another port");
        is_str(via(NULL, px, "[fd12::1]:6443", "[fd12::1]", "6443"), "direct", "a bracketed IPv6 address with a port");
        is_str(via(NULL, px, "10.1.2.3", "api.example.com", "443"), px, "an IP entry does not match a name");
        is_str(via(NULL, px, ",,", "api.example.com", "443"), px, "empty entries are skipped");
        is_str(via("socks5://u:p@s:1080", NULL, NULL, "api", "443"), "socks5h://u:p@s:1080",
               "socks5: the proxy resolves names (libcurl's socks5h), as Go's dialer");
        is_str(via(NULL, "ftp://p:1", NULL, "api.example.com", "443"),
               "error: proxy \"ftp://p:1\": unsupported scheme \"ftp\", must be http, https, or socks5",
               "an unsupported scheme is an error");
        char *shown = ka_kube_proxy_display("http://user:s3cret@proxy:3128/");
        is_str(shown, "http://user:********@proxy:3128/", "display: the password masked");
        free(shown);
        shown = ka_kube_proxy_display("http://user@proxy:3128");
        is_str(shown, "http://user@proxy:3128", "display: a user without a password is kept");
        free(shown);
}

int main(void) {
        ka_mem_init();
        test_proxy();
        test_status();
        test_query();
        test_lines();
        test_podstatus();
        return tap_done();
}
