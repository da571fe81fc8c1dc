/* The exec channel layer (core/kube/exec.c): demultiplexing by channel
 * through any fragmentation, and the channel-3 Status to an exit code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/exec.h"
#include "kube/ws.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/str.h"

struct outputs {
        struct ka_buf out, err;
        int fail_with;
};

static int collect(void *ud, int channel, const void *data, size_t len) {
        struct outputs *o = ud;
        if (o->fail_with)
                return o->fail_with;
        ka_buf_append(channel == KA_EXEC_STDOUT ? &o->out : &o->err, data, len);
        return 0;
}

/* Feed one whole message as `pieces` pieces. */
static int message(struct ka_exec_stream *s, const char *bytes, size_t len, size_t pieces, struct ka_error *err) {
        size_t step = pieces > 1 ? (len + pieces - 1) / pieces : len;
        if (len == 0)
                return ka_exec_stream_data(s, KA_WS_BINARY, true, true, NULL, 0, err);
        for (size_t i = 0; i < len; i += step) {
                size_t n = KA_MIN(step, len - i);
                int r = ka_exec_stream_data(s, KA_WS_BINARY, i == 0, i + n == len, (const uint8_t *)bytes + i, n, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int status_of(const char *json, bool with_output, int *code, struct ka_error *err) {
        struct outputs o = {.out = KA_BUF_INIT(0), .err = KA_BUF_INIT(0)};
        struct ka_exec_stream s;
        ka_exec_stream_init(&s, collect, &o);
        if (with_output)
                message(&s, "\x01hi", 3, 1, err);
        struct ka_buf m = KA_BUF_INIT(0);
        ka_buf_putc(&m, 3);
        ka_buf_puts(&m, json);
        message(&s, m.data, m.len, 3, err);
        int r = ka_exec_stream_status(&s, code, err);
        ka_buf_free(&m);
        ka_exec_stream_clear(&s);
        ka_buf_free(&o.out);
        ka_buf_free(&o.err);
        return r;
}

static void test_demux(void) {
        struct outputs o = {.out = KA_BUF_INIT(0), .err = KA_BUF_INIT(0)};
        struct ka_exec_stream s;
        struct ka_error err = {0};
        ka_exec_stream_init(&s, collect, &o);
        is_int(message(&s, "\x01", 1, 1, &err), 0, "the empty first message");
        is_int(message(&s, "\x01hello ", 7, 3, &err), 0, "stdout in three pieces");
        is_int(message(&s, "\x02oops\n", 6, 1, &err), 0, "stderr");
        is_int(message(&s, "\x01world\n", 7, 7, &err), 0, "stdout byte by byte");
        /* a fragmented message whose first fragment is empty: the channel byte comes later */
        ka_exec_stream_data(&s, KA_WS_BINARY, true, false, NULL, 0, &err);
        ka_exec_stream_data(&s, KA_WS_BINARY, false, false, (const uint8_t *)"\x02", 1, &err);
        is_int(ka_exec_stream_data(&s, KA_WS_BINARY, false, true, (const uint8_t *)"late\n", 5, &err), 0,
               "a channel byte after an empty fragment");
        is_int(message(&s, "", 0, 1, &err), 0, "an empty message is ignored");
        is_str(o.out.data, "hello world\n", "stdout is whole and in order");
        is_str(o.err.data, "oops\nlate\n", "stderr is kept apart");
        ok(s.output_seen, "output was seen");
        is_int(message(&s, "\x03{\"metadata\":{},\"status\":\"Success\"}", 36, 2, &err), 0, "status message");
        int code = -1;
        is_int(ka_exec_stream_status(&s, &code, &err), 0, "Success");
        is_int(code, 0, "... is exit code 0");
        is_int(ka_exec_stream_data(&s, KA_WS_TEXT, true, true, (const uint8_t *)"1x", 2, &err), -EPROTO,
               "a text message is refused");
        like(err.msg, "text message", "... saying so");
        is_int(message(&s, "\x04{}", 3, 1, &err), -EPROTO, "a resize message from the server is refused");
        like(err.msg, "channel 4", "... naming the channel");
        o.fail_with = -EPIPE;
        is_int(message(&s, "\x01x", 2, 1, &err), -EPIPE, "an output error stops the stream");
        ka_exec_stream_clear(&s);
        ka_buf_free(&o.out);
        ka_buf_free(&o.err);

        ka_exec_stream_init(&s, collect, &o);
        struct ka_buf big = KA_BUF_INIT(0);
        ka_buf_putc(&big, 3);
        for (int i = 0; i < 70000; i++)
                ka_buf_putc(&big, 'x');
        is_int(message(&s, big.data, big.len, 10, &err), -EPROTO, "a Status over 64 KiB is refused");
        ka_buf_free(&big);
        ka_exec_stream_clear(&s);
}

static void test_status(void) {
        struct ka_error err = {0};
        int code = -1;
        is_int(status_of("{\"metadata\":{},\"status\":\"Success\"}", false, &code, &err), 0, "Success");
        is_int(code, 0, "... exit 0");
        const char *v5 = "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit "
                         "code: command terminated with exit code 3\",\"reason\":\"NonZeroExitCode\",\"details\":"
                         "{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]}}";
        is_int(status_of(v5, true, &code, &err), 0, "NonZeroExitCode");
        is_int(code, 3, "... its ExitCode cause");
        const char *v4 = "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit "
                         "code: error executing command [sh -c exit 127], exit code 127\",\"reason\":"
                         "\"NonZeroExitCode\",\"details\":{\"causes\":[{\"message\":\"x\"},{\"reason\":\"ExitCode\","
                         "\"message\":\"127\"}]}}";
        is_int(status_of(v4, false, &code, &err), 0, "the kubelet's NonZeroExitCode");
        is_int(code, 127, "... the ExitCode cause among others");
        const char *range =
                "{\"status\":\"Failure\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
                "\"ExitCode\",\"message\":\"256\"}]}}";
        is_int(status_of(range, false, &code, &err), -EBADMSG, "an exit code over 255 is refused");
        const char *nf = "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error occurred: unable to "
                         "upgrade connection: container not found (\\\"maven\\\")\",\"reason\":\"InternalError\","
                         "\"details\":{\"causes\":[{\"message\":\"unable to upgrade connection\"}]},\"code\":500}";
        is_int(status_of(nf, false, &code, &err), -ESRCH, "container not found is -ESRCH");
        like(err.msg, "container not found (\"maven\")", "... with the server's words");
        const char *start = "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error occurred: error "
                            "executing command in container: ... exec: \\\"/bin/bash\\\": stat /bin/bash: no such file "
                            "or directory: unknown\",\"reason\":\"InternalError\",\"code\":500}";
        is_int(status_of(start, false, &code, &err), -ENOEXEC, "a Failure before any output: could not start");
        like(err.msg, "stat /bin/bash", "... saying why");
        is_int(status_of(start, true, &code, &err), -EIO, "a Failure after output");
        is_int(status_of("not json at all\nsecond line", false, &code, &err), -EBADMSG, "not a Status");
        like(err.msg, "not a Status object: not json at all", "... quoted");
        is_int(status_of("{\"status\":\"Maybe\"}", false, &code, &err), -EBADMSG, "an unknown status");
        is_int(status_of("{\"status\":\"Failure\",\"reason\":\"NonZeroExitCode\"}", false, &code, &err), -EBADMSG,
               "NonZeroExitCode without a cause");

        struct ka_exec_stream s;
        ka_exec_stream_init(&s, collect, NULL);
        is_int(ka_exec_stream_status(&s, &code, &err), -ENOMSG, "no Status at all");
        like(err.msg, "without the command's exit status", "... said plainly");
        ka_exec_stream_clear(&s);
        ok(ka_exec_stdin_close[0] == 255 && ka_exec_stdin_close[1] == 0, "the v5 stdin close signal is [255, 0]");
}

/* Run a script through the host's /bin/sh; its stdout. */
static char *host_sh(const char *script) {
        char path[] = "/tmp/ka-exec-script-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0)
                return NULL;
        ssize_t w = write(fd, script, strlen(script));
        close(fd);
        _cleanup_free_ char *cmd = ka_asprintf("/bin/sh < %s", path);
        FILE *f = w >= 0 ? popen(cmd, "r") : NULL;
        struct ka_buf out = KA_BUF_INIT(0);
        char buf[4096];
        size_t n;
        while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
                ka_buf_append(&out, buf, n);
        if (f)
                pclose(f);
        unlink(path);
        return out.data ? ka_buf_steal(&out) : ka_strdup("");
}

static void test_script(void) {
        static const char *const argv[] = {"printf",      "[%s]", "a b",       "$HOME", "`id`", "\"q\"",
                                           "back\\slash", "it's", "new\nline", "",      NULL};
        static const char *const env[] = {"PLAIN=x", "TRICKY=it's \"q\" $HOME `id` \\", "MULTI=one\ntwo",
                                          "EMPTY=", NULL};
        char *script = NULL;
        struct ka_error err = {0};
        is_int(ka_exec_shell_script("/tmp/a \"dir\"", env, argv, &script, &err), 0, "a script");
        is_str(script,
               "cd \"/tmp/a \\\"dir\\\"\"\n"
               "export PLAIN='x'\n"
               "export TRICKY='it'\\''s \"q\" $HOME `id` \\'\n"
               "export MULTI='one\ntwo'\n"
               "export EMPTY=''\n"
               "\"printf\" \"[%s]\" \"a b\" \"\\$HOME\" \"\\`id\\`\" \"\\\"q\\\"\" \"back\\\\slash\" \"it's\" "
               "\"new\nline\" \"\"\n"
               "exit\n",
               "cd, exports in single quotes, arguments in double quotes, exit");
        /* what a real shell makes of it (without the cd, which needs the folder) */
        free(script);
        static const char *const show[] = {"sh", "-c", "printf '<%s>' \"$TRICKY\" \"$MULTI\" \"$EMPTY\"", NULL};
        is_int(ka_exec_shell_script(NULL, env, argv, &script, &err), 0, "a script without cd");
        _cleanup_free_ char *got = host_sh(script);
        is_str(got, "[a b][$HOME][`id`][\"q\"][back\\slash][it's][new\nline][]", "/bin/sh gets argv exactly");
        free(script);
        is_int(ka_exec_shell_script(NULL, env, show, &script, &err), 0, "a script that shows its exports");
        _cleanup_free_ char *vars = host_sh(script);
        is_str(vars, "<it's \"q\" $HOME `id` \\><one\ntwo><>", "/bin/sh gets the values exactly");
        free(script);
        script = NULL;
        static const char *const bad[] = {"WILL.NOT=x", NULL};
        is_int(ka_exec_shell_script(NULL, bad, argv, &script, &err), -EINVAL, "a name that is not a shell name");
        like(err.msg, "\"WILL.NOT\"", "... is named");
        static const char *const noeq[] = {"SECRET", NULL};
        is_int(ka_exec_shell_script(NULL, noeq, argv, &script, &err), -EINVAL, "an entry without =");
        static const char *const digit[] = {"1X=secret-value", NULL};
        is_int(ka_exec_shell_script(NULL, digit, argv, &script, &err), -EINVAL, "a name starting with a digit");
        ok(!strstr(err.msg, "secret-value"), "... the value is never shown");
        ok(script == NULL, "no script on errors");
}

static void test_plugin_helpers(void) {
        _cleanup_free_ char *a = ka_exec_remap("/home/jenkins/agent/workspace/x", "/home/jenkins/agent", "/src");
        is_str(a, "/src/workspace/x", "remap a path");
        _cleanup_free_ char *b =
                ka_exec_remap("-f /home/jenkins/agent/a -o /home/jenkins/agent/b", "/home/jenkins/agent", "/w");
        is_str(b, "-f /w/a -o /w/b", "remap every occurrence in command text");
        _cleanup_free_ char *c = ka_exec_remap("/elsewhere", "/home/jenkins/agent", "/w");
        is_str(c, "/elsewhere", "other text is left alone");
        _cleanup_free_ char *m1 = ka_exec_marker_new(), *m2 = ka_exec_marker_new();
        ok(strlen(m1) == 32 && strspn(m1, "0123456789abcdef") == 32 && strcmp(m1, m2) != 0, "markers: 32 random hex");
        _cleanup_(ka_strv_freep) char **kill = ka_exec_kill_argv("abc");
        ok(ka_strv_len(kill) == 3 && ka_streq(kill[0], "sh") && ka_streq(kill[1], "-c"), "the kill exec is sh -c");
        is_str(kill[2], "kill $(grep -l 'KUBEAGENT_EXEC_MARKER=abc' /proc/*/environ 2>/dev/null | cut -d / -f 3)",
               "... killing what carries the marker, like the plugin");
}

int main(void) {
        ka_mem_init();
        test_demux();
        test_status();
        test_script();
        test_plugin_helpers();
        return tap_done();
}
