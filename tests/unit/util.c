/* Unit tests for core/util. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hashmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

static void test_buf(void) {
        struct ka_buf b = KA_BUF_INIT(8);
        is_int(ka_buf_puts(&b, "abcd"), 0, "append within the cap");
        is_int(ka_buf_printf(&b, "%d", 1234), 0, "printf up to the cap");
        is_int(ka_buf_putc(&b, 'x'), -E2BIG, "appending past the cap fails");
        is_str(b.data, "abcd1234", "contents are unchanged by a refused append");
        ka_buf_consume(&b, 3);
        is_str(b.data, "d1234", "consume drops the front");
        char *s = ka_buf_steal(&b);
        is_str(s, "d1234", "steal hands over the string");
        ok(b.data == NULL && b.len == 0, "steal empties the buffer");
        free(s);
}

static void test_parse(void) {
        int64_t v;
        is_int(ka_parse_int64("42", &v), 0, "parse 42");
        is_int(v, 42, "value 42");
        is_int(ka_parse_int64("-7", &v), 0, "parse -7");
        is_int(ka_parse_int64("42x", &v), -EINVAL, "trailing garbage refused");
        is_int(ka_parse_int64("", &v), -EINVAL, "empty refused");
        is_int(ka_parse_int64(" 1", &v), -EINVAL, "leading space refused");
        is_int(ka_parse_int64("99999999999999999999", &v), -ERANGE, "overflow is ERANGE");
        int i;
        is_int(ka_parse_int("3000000000", &i), -ERANGE, "int overflow is ERANGE");
        bool b;
        is_int(ka_parse_bool("Yes", &b), 0, "Yes is a bool");
        ok(b, "Yes is true");
        is_int(ka_parse_bool("off", &b), 0, "off is a bool");
        ok(!b, "off is false");
        is_int(ka_parse_bool("maybe", &b), -EINVAL, "maybe is not a bool");
        char *s = ka_strip("  a b \n");
        is_str(s, "a b", "strip both ends");
        free(s);
}

static void test_time(void) {
        int64_t ms;
        is_int(ka_time_parse_duration("2", 1000, &ms), 0, "bare number is in units");
        is_int(ms, 2000, "2 seconds");
        is_int(ka_time_parse_duration("500ms", 1000, &ms), 0, "500ms");
        is_int(ms, 500, "500 ms");
        is_int(ka_time_parse_duration("1m", 1000, &ms), 0, "1m");
        is_int(ms, 60000, "60000 ms");
        is_int(ka_time_parse_duration("1.5h", 1000, &ms), 0, "1.5h");
        is_int(ms, 5400000, "5400000 ms");
        is_int(ka_time_parse_duration("-1", 1000, &ms), -EINVAL, "negative refused");
        is_int(ka_time_parse_duration("2 s", 1000, &ms), -EINVAL, "space refused");
        is_int(ka_time_parse_duration("nan", 1000, &ms), -EINVAL, "nan refused");
        is_int(ka_time_parse_duration("5d", 1000, &ms), -EINVAL, "unknown unit refused");

        is_int(ka_time_parse_rfc3339("2018-03-05T17:30:20-08:00", &ms), 0, "RFC 3339 with an offset");
        is_int(ms, 1520299820000LL, "offset applied");
        is_int(ka_time_parse_rfc3339("2026-11-26T04:50:14.5Z", &ms), 0, "fraction");
        char buf[40];
        is_str(ka_time_format_rfc3339_ms(ms, buf, sizeof(buf)), "2026-11-26T04:50:14.500Z", "round trip with ms");
        is_int(ka_time_parse_rfc3339("2026-11-26 04:50", &ms), -EINVAL, "truncated refused");

        setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
        is_int(ka_time_wall_ms(), 1700000000000LL, "SOURCE_DATE_EPOCH is honoured");
        setenv("SOURCE_DATE_EPOCH", "junk", 1);
        ok(ka_time_wall_ms() > 1700000000000LL, "an invalid SOURCE_DATE_EPOCH is ignored");
        unsetenv("SOURCE_DATE_EPOCH");
}

static void test_base64(void) {
        char *e = ka_base64_encode("hello!?", 7);
        is_str(e, "aGVsbG8hPw==", "encode with padding");
        unsigned char *d;
        size_t n;
        is_int(ka_base64_decode(e, strlen(e), &d, &n), 0, "decode");
        ok(n == 7 && memcmp(d, "hello!?", 7) == 0, "decode round trip");
        free(d);
        free(e);
        is_int(ka_base64_decode("aGVs\nbG8=", 9, &d, &n), 0, "whitespace ignored");
        ok(n == 5 && memcmp(d, "hello", 5) == 0, "decoded across a newline");
        free(d);
        is_int(ka_base64_decode("aGV*", 4, &d, &n), -EINVAL, "bad character refused");
        is_int(ka_base64_decode("aG=x", 4, &d, &n), -EINVAL, "data after padding refused");
}

static void test_secret(void) {
        ka_secret_register("s3cr3t-t0ken");
        ka_secret_register("abc");      /* too short to register */
        struct ka_error err = {0};
        ka_error_set(&err, -EACCES, "token s3cr3t-t0ken refused (abc)");
        is_str(err.msg, "token ******** refused (abc)", "secrets are masked in errors");

        int fds[2];
        ok(pipe(fds) == 0, "pipe");
        ka_log_setup("test", KA_LOG_INFO, KA_LOG_TEXT);
        ka_log_set_fd(fds[1]);
        ka_log_info("auth", "using s3cr3t-t0ken and s3cr3t-t0ken");
        ka_log_set_fd(2);
        char line[512] = {0};
        ssize_t r = read(fds[0], line, sizeof(line) - 1);
        ok(r > 0, "a log line was written");
        ok(strstr(line, "s3cr3t") == NULL, "secret absent from the log line");
        like(line, "using ******** and ********", "both occurrences masked");
        ka_log_setup("test", KA_LOG_INFO, KA_LOG_TOOL);
        ka_log_set_fd(fds[1]);
        ka_log_warn("auth", "one line");
        ka_log_set_fd(2);
        memset(line, 0, sizeof(line));
        r = read(fds[0], line, sizeof(line) - 1);
        is_str(line, "test: warning: one line\n", "the tool format is one line");
        close(fds[0]);
        close(fds[1]);

        /* a message truncated in the middle of a secret keeps none of it */
        char pad[KA_ERROR_MSG_MAX];
        memset(pad, 'x', sizeof(pad));
        pad[KA_ERROR_MSG_MAX - 6] = '\0';
        ka_error_set(&err, -EACCES, "%s s3cr3t-t0ken", pad);
        ok(strstr(err.msg, "s3c") == NULL, "truncated message keeps no part of the secret");
        ka_secret_unregister("s3cr3t-t0ken");
        ka_error_set(&err, -EACCES, "s3cr3t-t0ken");
        is_str(err.msg, "s3cr3t-t0ken", "unregistered secrets are no longer masked");
        ka_secret_reset();
        ok(ka_secret_equal("s3cr3t-t0ken", "s3cr3t-t0ken"), "equal tokens compare equal");
        ok(!ka_secret_equal("s3cr3t-t0keN", "s3cr3t-t0ken"), "a different last byte differs");
        ok(!ka_secret_equal("s3cr3t", "s3cr3t-t0ken"), "a prefix of the secret differs");
        ok(!ka_secret_equal("s3cr3t-t0ken-", "s3cr3t-t0ken"), "the secret and more differs");
        ok(!ka_secret_equal("s3cr3t-t0kens3cr", "s3cr3t-t0ken"), "a repetition of the secret differs");
        ok(!ka_secret_equal("", "") && !ka_secret_equal("x", ""), "an empty secret matches nothing");
}

static void test_error(void) {
        struct ka_error err = {0};
        char buf[KA_ERROR_FORMAT_MAX];
        ka_error_at(&err, "a.yaml", 3, 7, -EINVAL, "expected %s", "a string");
        is_str(ka_error_format(&err, buf, sizeof(buf)), "a.yaml:3:7: expected a string", "located error");
        ka_error_prefix(&err, "loading");
        is_str(err.msg, "loading: expected a string", "prefix keeps the message");
        is_int(err.code, -EINVAL, "prefix keeps the code");

        struct ka_diags d = {0};
        ka_diags_add(&d, KA_DIAG_ERROR, "x.yaml", 1, 2, "one");
        ka_diags_add(&d, KA_DIAG_WARNING, NULL, 0, 0, "two");
        is_int(d.errors, 1, "one error");
        is_int(d.warnings, 1, "one warning");
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        ka_diags_print(&d, f);
        fclose(f);
        is_str(out, "x.yaml:1:2: error: one\nwarning: two\n", "diagnostics print in order with places");
        free(out);
        ka_diags_free(&d);
}

static void test_fs(void) {
        char dir[] = "/tmp/ka-util-XXXXXX";
        ok(mkdtemp(dir) != NULL, "temp dir");
        char *path = ka_path_join(dir, "f.txt");
        struct ka_error err = {0};
        is_int(ka_write_file_atomic(path, "hello", 5, 0600, &err), 0, "atomic write");
        char *data;
        size_t n;
        is_int(ka_read_file(path, 100, &data, &n, &err), 0, "read back");
        is_str(data, "hello", "same contents");
        free(data);
        is_int(ka_read_file(path, 4, &data, &n, &err), -EFBIG, "cap enforced");
        like(err.msg, "larger than 4 bytes", "cap error names the size");
        like(err.msg, path, "cap error names the file");
        unlink(path);
        is_int(ka_read_file(path, 4, &data, &n, &err), -ENOENT, "missing file");
        like(err.msg, "No such file", "missing file message");
        free(path);
        rmdir(dir);

        char *r = ka_path_resolve("certs/ca.crt", "/etc/kube");
        is_str(r, "/etc/kube/certs/ca.crt", "relative path resolved against the base");
        free(r);
        r = ka_path_resolve("/abs", "/etc/kube");
        is_str(r, "/abs", "absolute path untouched");
        free(r);
        setenv("HOME", "/home/u", 1);
        r = ka_path_resolve("~/.kube/config", NULL);
        is_str(r, "/home/u/.kube/config", "~ expands to HOME");
        free(r);
        r = ka_path_dirname("a/b/c");
        is_str(r, "a/b", "dirname");
        free(r);
}

static void test_json(void) {
        cJSON *j;
        struct ka_error err = {0};
        const char *text = "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"b\"}},\"n\":3,\"t\":true}";
        is_int(ka_json_parse(text, strlen(text), &j, &err), 0, "parse");
        is_str(ka_json_path_str(j, "metadata.labels.a"), "b", "dotted path");
        ok(ka_json_path(j, "metadata.nope.x") == NULL, "missing path is NULL");
        is_int(ka_json_int(j, "n", -1), 3, "int member");
        is_int(ka_json_int(j, "t", -1), -1, "int of a bool falls back");
        ok(ka_json_bool(j, "t", false), "bool member");
        ka_json_set_str(ka_json_object(j, "spec"), "x", "y");
        is_str(ka_json_path_str(j, "spec.x"), "y", "created object path");
        cJSON_Delete(j);
        is_int(ka_json_parse("{\"a\":", 5, &j, &err), -EBADMSG, "truncated JSON refused");
        like(err.msg, "invalid JSON", "JSON error message");

        struct ka_buf b = KA_BUF_INIT(0);
        ka_json_quote(&b, "a\"b\n\x01");
        is_str(b.data, "\"a\\\"b\\n\\u0001\"", "quote escapes");
        ka_buf_free(&b);
}

static void test_metrics(void) {
        struct ka_metric *m, *m2, *g;
        struct ka_error err = {0};
        is_int(ka_metric_register(NULL, "kubeagent_pods_created_total", "Pods created.", KUBEAGENT_METRIC_COUNTER,
                                  "cloud,reason", &m, &err),
               0, "register a counter");
        is_int(ka_metric_register(NULL, "kubeagent_pods_created_total", "Pods created.", KUBEAGENT_METRIC_COUNTER,
                                  "cloud,reason", &m2, &err),
               0, "same registration again");
        ok(m == m2, "returns the same metric");
        is_int(ka_metric_register(NULL, "kubeagent_pods_created_total", "x", KUBEAGENT_METRIC_GAUGE, NULL, &m2, &err),
               -EEXIST, "conflicting registration refused");
        is_int(ka_metric_register(NULL, "9bad", "x", KUBEAGENT_METRIC_GAUGE, NULL, &m2, &err), -EINVAL,
               "invalid name refused");
        int owner;
        is_int(ka_metric_register(&owner, "kubeagent_agents", "Agents.", KUBEAGENT_METRIC_GAUGE, NULL, &g, &err), 0,
               "register a gauge");
        ka_metric_add(m, "k8s,ok", 2);
        ka_metric_add(m, "k8s,ok", 1);
        ka_metric_add(m, "k8s", 1);     /* wrong arity: ignored */
        ka_metric_set(g, NULL, 5);
        struct ka_buf out = KA_BUF_INIT(0);
        ka_metrics_render(&out);
        like(out.data, "# TYPE kubeagent_pods_created_total counter\n", "counter type line");
        like(out.data, "kubeagent_pods_created_total{cloud=\"k8s\",reason=\"ok\"} 3\n", "labelled value");
        like(out.data, "kubeagent_agents 5\n", "gauge value");
        ok(!strstr(out.data, "cloud=\"k8s\"} "), "wrong-arity update left no series");
        ka_buf_free(&out);
        ka_metrics_unregister_owner(&owner);
        ka_metrics_render(&out);
        ok(!strstr(out.data, "kubeagent_agents"), "owner's metrics removed");
        ka_buf_free(&out);

        struct ka_metric *h;
        static const double bounds[] = {0.5, 1, 5, KA_HISTOGRAM_END};
        static const double bad[] = {1, 0.5, KA_HISTOGRAM_END};
        is_int(ka_histogram_register(NULL, "kubeagent_x_seconds", "X.", "stage", bad, &h, &err), -EINVAL,
               "histogram bounds must ascend");
        is_int(ka_histogram_register(NULL, "kubeagent_x_seconds", "X.", "stage", bounds, &h, &err), 0,
               "register a histogram");
        ka_histogram_observe(h, "created", 0.2);
        ka_histogram_observe(h, "created", 0.5); /* on a bound: in that bucket */
        ka_histogram_observe(h, "created", 3);
        ka_histogram_observe(h, "created", 60);
        ka_metric_add(h, "created", 1); /* not a counter: ignored */
        is_int(ka_histogram_count(h, "created"), 4, "four observations");
        ka_metrics_render(&out);
        like(out.data, "# TYPE kubeagent_x_seconds histogram\n", "histogram type line");
        like(out.data, "kubeagent_x_seconds_bucket{stage=\"created\",le=\"0.5\"} 2\n", "buckets count up to their bound");
        like(out.data, "kubeagent_x_seconds_bucket{stage=\"created\",le=\"1\"} 2\n", "cumulative");
        like(out.data, "kubeagent_x_seconds_bucket{stage=\"created\",le=\"5\"} 3\n", "cumulative again");
        like(out.data, "kubeagent_x_seconds_bucket{stage=\"created\",le=\"+Inf\"} 4\n", "+Inf has them all");
        like(out.data, "kubeagent_x_seconds_sum{stage=\"created\"} 63.7", "sum");
        like(out.data, "kubeagent_x_seconds_count{stage=\"created\"} 4\n", "count");
        ka_buf_free(&out);
        ka_metrics_reset();
}

static void test_hashmap(void) {
        struct ka_hashmap m = KA_HASHMAP_INIT;
        ok(ka_hashmap_get(&m, "a") == NULL, "an empty map has nothing");
        ok(ka_hashmap_remove(&m, "a") == NULL, "removing from an empty map is fine");
        static int values[1000];
        char key[16];
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                ka_hashmap_put(&m, key, &values[i]);
        }
        is_int(m.n, 1000, "1000 entries");
        int found = 0;
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                found += ka_hashmap_get(&m, key) == &values[i];
        }
        is_int(found, 1000, "each one found");
        ok(ka_hashmap_put(&m, "k5", &values[0]) == &values[5], "put replaces and returns the old value");
        ka_hashmap_put(&m, "k5", &values[5]);
        for (int i = 0; i < 1000; i += 2) {
                snprintf(key, sizeof(key), "k%d", i);
                ka_hashmap_remove(&m, key);
        }
        is_int(m.n, 500, "half removed");
        found = 0;
        int gone = 0;
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                void *v = ka_hashmap_get(&m, key);
                if (i % 2)
                        found += v == &values[i];
                else
                        gone += v == NULL;
        }
        ok(found == 500 && gone == 500, "the rest is intact after removals (backward shift keeps runs whole)");
        size_t it = 0, seen = 0;
        const char *k;
        void *v;
        while (ka_hashmap_next(&m, &it, &k, &v))
                seen++;
        is_int(seen, 500, "iteration visits every entry once");
        ka_hashmap_free(&m);
        is_int(m.n, 0, "free empties the map");
}

int main(void) {
        ka_mem_init();
        test_buf();
        test_parse();
        test_time();
        test_base64();
        test_secret();
        test_error();
        test_fs();
        test_json();
        test_metrics();
        test_hashmap();
        return tap_done();
}
