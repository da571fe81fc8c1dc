/* The exec subresource: the channel layer, the plugin's conventions, and
 * a session over the client's raw connection. */
#include "exec.h"

#include <errno.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kube.h"
#include "status.h"
#include "util/error.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"
#include "ws.h"

#define STATUS_MAX (64u << 10)

const uint8_t ka_exec_stdin_close[2] = {KA_EXEC_CLOSE, KA_EXEC_STDIN};

void ka_exec_stream_init(struct ka_exec_stream *s, int (*output)(void *ud, int channel, const void *data, size_t len),
                         void *ud) {
        *s = (struct ka_exec_stream){.output = output, .ud = ud, .channel = -1, .status = KA_BUF_INIT(STATUS_MAX)};
}

void ka_exec_stream_clear(struct ka_exec_stream *s) {
        ka_buf_free(&s->status);
}

int ka_exec_stream_data(void *ud, uint8_t opcode, bool first, bool last, const uint8_t *p, size_t n,
                        struct ka_error *err) {
        struct ka_exec_stream *s = ud;
        if (opcode != KA_WS_BINARY)
                return ka_error_set(err, -EPROTO, "the server sent a text message on a binary channel protocol");
        if (first)
                s->channel = -1;
        if (s->channel < 0 && n > 0) {
                s->channel = p[0];
                p++;
                n--;
        }
        int r = 0;
        switch (s->channel) {
        case -1:
                break; /* an empty message: nothing to deliver */
        case KA_EXEC_STDOUT:
        case KA_EXEC_STDERR:
                if (n > 0) {
                        s->output_seen = true;
                        r = s->output ? s->output(s->ud, s->channel, p, n) : 0;
                }
                break;
        case KA_EXEC_ERROR:
                if (ka_buf_append(&s->status, p, n) < 0)
                        r = ka_error_set(err, -EPROTO, "the exit status from the server is over %u bytes", STATUS_MAX);
                break;
        default:
                r = ka_error_set(err, -EPROTO, "the server sent a message on channel %d, which it must not use",
                                 s->channel);
                break;
        }
        if (last)
                s->channel = -1;
        return r;
}

/* The ExitCode cause of a NonZeroExitCode Status, 0..255, or -1. */
static int exit_code_of(const struct ka_kube_status *st) {
        for (size_t i = 0; i < st->n_causes; i++) {
                int code;
                if (ka_streq(st->causes[i].type, "ExitCode") && st->causes[i].message &&
                    ka_parse_int(st->causes[i].message, &code) == 0 && code >= 0 && code <= 255)
                        return code;
        }
        return -1;
}

int ka_exec_stream_status(const struct ka_exec_stream *s, int *ret_code, struct ka_error *err) {
        if (s->status.len == 0)
                return ka_error_set(err, -ENOMSG, "the connection ended without the command's exit status");
        cJSON *j = NULL;
        if (ka_json_parse(s->status.data, s->status.len, &j, NULL) < 0 || !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                size_t n = 0;
                while (n < s->status.len && n < 200 && s->status.data[n] != '\n')
                        n++;
                return ka_error_set(err, -EBADMSG, "the exit status is not a Status object: %.*s", (int)n,
                                    s->status.data);
        }
        struct ka_kube_status st;
        ka_kube_status_from_json(500, j, &st);
        cJSON_Delete(j);
        int r;
        const char *msg = st.message && *st.message ? st.message : "(no message)";
        if (ka_streq(st.status, "Success")) {
                *ret_code = 0;
                r = 0;
        } else if (!ka_streq(st.status, "Failure")) {
                r = ka_error_set(err, -EBADMSG, "the exit status has status \"%s\"", st.status ? st.status : "");
        } else if (ka_streq(st.reason, "NonZeroExitCode")) {
                int code = exit_code_of(&st);
                r = code < 0 ? ka_error_set(err, -EBADMSG, "the exit status names no exit code: %s", msg) : 0;
                if (r == 0)
                        *ret_code = code;
        } else if (strstr(msg, "container not found")) {
                r = ka_error_set(err, -ESRCH, "%s", msg);
        } else if (!s->output_seen) {
                r = ka_error_set(err, -ENOEXEC, "%s", msg);
        } else {
                r = ka_error_set(err, -EIO, "%s", msg);
        }
        ka_kube_status_clear(&st);
        return r;
}

/* ---- the Jenkins plugin's conventions ------------------------------------ */

static bool shell_name(const char *s, size_t n) {
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

/* "text" with the characters special inside double quotes escaped. */
static void dquote(struct ka_buf *b, const char *s) {
        ka_buf_putc(b, '"');
        for (; *s; s++) {
                if (strchr("\\\"$`", *s))
                        ka_buf_putc(b, '\\');
                ka_buf_putc(b, *s);
        }
        ka_buf_putc(b, '"');
}

/* 'text' with every ' written as '\'' */
static void squote(struct ka_buf *b, const char *s) {
        ka_buf_putc(b, '\'');
        for (; *s; s++) {
                if (*s == '\'')
                        ka_buf_puts(b, "'\\''");
                else
                        ka_buf_putc(b, *s);
        }
        ka_buf_putc(b, '\'');
}

int ka_exec_shell_script(const char *cwd, const char *const *env, const char *const *argv, char **ret,
                         struct ka_error *err) {
        struct ka_buf b = KA_BUF_INIT_SECRET(0); /* env values may be secrets */
        if (cwd) {
                ka_buf_puts(&b, "cd ");
                dquote(&b, cwd);
                ka_buf_putc(&b, '\n');
        }
        for (size_t i = 0; env && env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                if (!eq || !shell_name(env[i], (size_t)(eq - env[i]))) {
                        ka_buf_free_secret(&b);
                        /* never the value: it may be a secret */
                        if (!eq)
                                return ka_error_set(err, -EINVAL, "an environment entry without '=' (NAME=VALUE)");
                        return ka_error_set(err, -EINVAL,
                                            "environment variable \"%.*s\": a name is letters, digits and _, "
                                            "not starting with a digit",
                                            (int)KA_MIN((size_t)(eq - env[i]), 64), env[i]);
                }
                ka_buf_printf(&b, "export %.*s=", (int)(eq - env[i]), env[i]);
                squote(&b, eq + 1);
                ka_buf_putc(&b, '\n');
        }
        for (size_t i = 0; argv[i]; i++) {
                if (i)
                        ka_buf_putc(&b, ' ');
                dquote(&b, argv[i]);
        }
        ka_buf_puts(&b, "\nexit\n");
        *ret = ka_buf_steal(&b);
        return 0;
}

char *ka_exec_remap(const char *s, const char *from, const char *to) {
        struct ka_buf b = KA_BUF_INIT(0);
        size_t n = strlen(from);
        for (const char *p; n && (p = strstr(s, from)); s = p + n) {
                ka_buf_append(&b, s, (size_t)(p - s));
                ka_buf_puts(&b, to);
        }
        ka_buf_puts(&b, s);
        return ka_buf_steal(&b);
}

char *ka_exec_marker_new(void) {
        uint8_t r[16];
        if (RAND_bytes(r, sizeof(r)) != 1) {
                fprintf(stderr, "kubeagent: the system random generator failed\n");
                abort();
        }
        char hex[33];
        for (size_t i = 0; i < sizeof(r); i++)
                snprintf(hex + 2 * i, 3, "%02x", r[i]);
        return ka_strdup(hex);
}

char **ka_exec_kill_argv(const char *marker) {
        char **v = ka_new0(char *, 1);
        v = ka_strv_push(v, "sh");
        v = ka_strv_push(v, "-c");
        char *cmd = ka_asprintf("kill $(grep -l '" KA_EXEC_MARKER_VAR "=%s' /proc/*/environ 2>/dev/null | "
                                "cut -d / -f 3)",
                                marker);
        v = ka_strv_push(v, cmd);
        free(cmd);
        return v;
}

/* ---- running a command ----------------------------------------------------- */

#define STDIN_CHUNK (32u << 10)
#define STDIN_QUEUE_MAX (256u << 10)
#define SILENCE_MAX_MS 61000
#define BACKOFF_CAP_MS 30000

struct ka_kube_exec {
        struct ka_kube *k;
        struct ka_kube_exec_options o;
        char *what; /* "exec in pod ci/p" for messages */
        char *path, *query;
        struct ka_kube_raw *raw;
        struct ka_ws *ws;
        struct ka_exec_stream stream;
        bool v5;
        size_t stdin_sent; /* of o.stdin_data */
        bool stdin_eof, stdin_closed;
        int64_t next_ping_ms;
        uint8_t *inbuf; /* channel byte + one read of stdin */
};

void ka_kube_exec_free(struct ka_kube_exec *x) {
        if (!x)
                return;
        ka_ws_free(x->ws);
        ka_kube_raw_close(x->raw);
        ka_exec_stream_clear(&x->stream);
        free(x->what);
        free(x->path);
        free(x->query);
        free(x->inbuf);
        free(x);
}

const char *ka_kube_exec_protocol(const struct ka_kube_exec *x) {
        return x->v5 ? KA_EXEC_V5 : KA_EXEC_V4;
}

static ssize_t raw_send(void *ud, const void *buf, size_t len) {
        return ka_kube_raw_send(ud, buf, len);
}

static ssize_t raw_recv(void *ud, void *buf, size_t len) {
        return ka_kube_raw_recv(ud, buf, len);
}

/* The server refused the upgrade: what it means, and whether to try again
 * (-EAGAIN: at once, the credentials were refreshed). */
static int refused(struct ka_kube_exec *x, struct ka_kube_raw *raw, const struct ka_ws_refusal *ref, bool *refreshed,
                   bool *ret_retry, struct ka_error *err) {
        if (ref->code == 401 && !*refreshed) {
                *refreshed = true;
                if (ka_kube_raw_refused(raw, NULL) == 0)
                        return -EAGAIN;
        }
        if (ref->code == 403 && ref->len == 0)
                return ka_error_set(err, -EPROTONOSUPPORT,
                                    "%s: the server accepts neither " KA_EXEC_V5 " nor " KA_EXEC_V4
                                    " (403 to the WebSocket handshake)",
                                    x->what);
        struct ka_kube_status st;
        ka_kube_status_parse(ref->code, ref->body, ref->len, &st);
        int r;
        if (st.message && strstr(st.message, "container not found")) {
                r = ka_error_set(err, -ESRCH, "%s: the container is not running (%s)", x->what, st.message);
        } else {
                r = ka_kube_status_error(&st, x->what, err);
                if (r == -EACCES && err) {
                        char msg[KA_ERROR_MSG_MAX];
                        ka_strlcpy(msg, err->msg, sizeof(msg));
                        ka_error_set(err, r, "%s; a WebSocket exec needs both get and create on pods/exec", msg);
                }
                *ret_retry = ref->code == 429 || ref->code >= 500;
        }
        ka_kube_status_clear(&st);
        return r;
}

/* One connection attempt. */
static int attempt(struct ka_kube_exec *x, bool *refreshed, bool *ret_retry, struct ka_error *err) {
        *ret_retry = false;
        struct ka_kube_raw *raw;
        char *head;
        int r = ka_kube_raw_open(x->k, "GET", x->path, x->query, &raw, &head, err);
        if (r < 0) {
                *ret_retry = r != -EPROTO && r != -EINVAL && r != -EKEYREJECTED && r != -EACCES;
                return r;
        }
        static const char *const protocols[] = {KA_EXEC_V5, KA_EXEC_V4, NULL};
        const struct ka_ws_io io = {.send = raw_send, .recv = raw_recv, .fd = ka_kube_raw_fd(raw), .ud = raw};
        const struct ka_ws_options wo = {.request = head, .protocols = protocols, .timeout_ms = 30000};
        struct ka_ws_refusal ref = {0};
        struct ka_ws *ws = NULL;
        r = ka_ws_connect(&io, &wo, &ws, &ref, err);
        ka_free_secret(head);
        if (r == -ECONNREFUSED)
                r = refused(x, raw, &ref, refreshed, ret_retry, err);
        else if (r < 0) {
                *ret_retry = r != -EPROTO;
                ka_error_prefix(err, "%s", x->what);
        } else if (!ka_streq(ka_ws_protocol(ws), KA_EXEC_V5) && !ka_streq(ka_ws_protocol(ws), KA_EXEC_V4))
                r = ka_error_set(err, -EPROTONOSUPPORT, "%s: the server agreed to no channel protocol", x->what);
        ka_ws_refusal_clear(&ref);
        if (r < 0) {
                ka_ws_free(ws);
                ka_kube_raw_close(raw);
                return r;
        }
        x->raw = raw;
        x->ws = ws;
        x->v5 = ka_streq(ka_ws_protocol(ws), KA_EXEC_V5);
        return 0;
}

/* Sleep ms, or until wake_fd is readable (-EINTR). */
static int pause_ms(int wake_fd, int64_t ms) {
        int64_t end = ka_time_now_ms() + ms;
        for (int64_t left; (left = end - ka_time_now_ms()) > 0;) {
                struct pollfd p = {.fd = wake_fd, .events = POLLIN};
                int r = poll(&p, wake_fd >= 0 ? 1 : 0, (int)KA_MIN(left, 1000));
                if (r > 0)
                        return -EINTR;
        }
        return 0;
}

int ka_kube_exec_start(struct ka_kube *k, const struct ka_kube_exec_options *o, struct ka_kube_exec **ret,
                       struct ka_error *err) {
        struct ka_kube_exec *x = ka_new0(struct ka_kube_exec, 1);
        x->k = k;
        x->o = *o;
        const char *ns = o->namespace_ ? o->namespace_ : ka_kube_namespace(k);
        x->what = o->container ? ka_asprintf("exec in pod %s/%s, container %s", ns, o->pod, o->container)
                               : ka_asprintf("exec in pod %s/%s", ns, o->pod);
        struct ka_buf p = KA_BUF_INIT(0), q = KA_BUF_INIT(0);
        ka_buf_puts(&p, "/api/v1/namespaces/");
        ka_kube_path_add(&p, ns);
        ka_buf_puts(&p, "/pods/");
        ka_kube_path_add(&p, o->pod);
        ka_buf_puts(&p, "/exec");
        for (size_t i = 0; o->argv[i]; i++)
                ka_kube_query_add(&q, "command", o->argv[i]);
        if (o->container)
                ka_kube_query_add(&q, "container", o->container);
        if (o->stdin_)
                ka_kube_query_add(&q, "stdin", "true");
        ka_kube_query_add(&q, "stdout", "true");
        ka_kube_query_add(&q, o->tty ? "tty" : "stderr", "true");
        x->path = ka_buf_steal(&p);
        x->query = ka_buf_steal(&q);
        ka_buf_free(&p);
        ka_buf_free(&q);
        int attempts = o->attempts > 0 ? o->attempts : 5;
        int64_t backoff = o->backoff_ms > 0 ? o->backoff_ms : 2000;
        bool refreshed = false;
        for (int n = 1;;) {
                bool retry;
                int r = attempt(x, &refreshed, &retry, err);
                if (r == 0)
                        break;
                if (r == -EAGAIN)
                        continue;
                if (!retry || n >= attempts) {
                        if (retry && attempts > 1)
                                ka_error_prefix(err, "gave up after %d attempts", attempts);
                        ka_kube_exec_free(x);
                        return r;
                }
                int64_t wait = backoff;
                for (int i = 1; i < n && wait < BACKOFF_CAP_MS; i++)
                        wait *= 2;
                wait = KA_MIN(wait, BACKOFF_CAP_MS);
                if (o->on_retry)
                        o->on_retry(o->retry_ud, n + 1, attempts, wait, err);
                if (pause_ms(o->wake_fd, wait) < 0) {
                        ka_error_set(err, -EINTR, "%s: interrupted", x->what);
                        ka_kube_exec_free(x);
                        return -EINTR;
                }
                n++;
        }
        ka_exec_stream_init(&x->stream, o->output, o->output_ud);
        x->inbuf = ka_malloc(1 + STDIN_CHUNK);
        x->next_ping_ms = ka_time_now_ms() + (o->ping_ms > 0 ? o->ping_ms : 5000);
        *ret = x;
        return 0;
}

/* Queue one stdin message (channel byte in x->inbuf[0]); once the server
 * closed the connection, stdin just stops. */
static int send_stdin(struct ka_kube_exec *x, const void *p, size_t n, struct ka_error *err) {
        int r = ka_ws_send(x->ws, KA_WS_BINARY, p, n, err);
        if (r == -EPIPE) {
                x->stdin_closed = true;
                return 0;
        }
        return r;
}

/* Queue what stdin has for the server; *ret_read_fd: poll stdin_fd. */
static int feed_stdin(struct ka_kube_exec *x, bool *ret_read_fd, struct ka_error *err) {
        const struct ka_kube_exec_options *o = &x->o;
        *ret_read_fd = false;
        if (!o->stdin_ || x->stdin_closed)
                return 0;
        while (x->stdin_sent < o->stdin_len && ka_ws_queued(x->ws) < STDIN_QUEUE_MAX) {
                size_t n = KA_MIN(o->stdin_len - x->stdin_sent, (size_t)STDIN_CHUNK);
                x->inbuf[0] = KA_EXEC_STDIN;
                memcpy(x->inbuf + 1, o->stdin_data + x->stdin_sent, n);
                int r = send_stdin(x, x->inbuf, n + 1, err);
                if (r < 0 || x->stdin_closed)
                        return r;
                x->stdin_sent += n;
        }
        if (x->stdin_sent < o->stdin_len)
                return 0;
        if (o->stdin_fd >= 0 && !x->stdin_eof) {
                *ret_read_fd = ka_ws_queued(x->ws) < STDIN_QUEUE_MAX;
                return 0;
        }
        x->stdin_closed = true; /* v4 cannot close stdin: the connection ending does */
        return x->v5 ? send_stdin(x, ka_exec_stdin_close, sizeof(ka_exec_stdin_close), err) : 0;
}

/* r, with err's message prefixed by what the session is. */
static int failed(const struct ka_kube_exec *x, int r, struct ka_error *err) {
        ka_error_prefix(err, "%s", x->what);
        return r;
}

static int read_stdin(struct ka_kube_exec *x, struct ka_error *err) {
        ssize_t n = read(x->o.stdin_fd, x->inbuf + 1, STDIN_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0) {
                x->stdin_eof = true;
                return 0;
        }
        x->inbuf[0] = KA_EXEC_STDIN;
        return send_stdin(x, x->inbuf, (size_t)n + 1, err);
}

int ka_kube_exec_run(struct ka_kube_exec *x, int64_t deadline_ms, int *ret_code, struct ka_error *err) {
        static const struct ka_ws_handler h = {.data = ka_exec_stream_data};
        int64_t ping = x->o.ping_ms > 0 ? x->o.ping_ms : 5000;
        for (;;) {
                int more = ka_ws_receive(x->ws, &h, &x->stream, err);
                if (more < 0) {
                        ka_ws_flush(x->ws, NULL); /* say why we close, if the frames were bad */
                        return failed(x, more, err);
                }
                bool read_fd;
                int r = feed_stdin(x, &read_fd, err);
                if (r == 0)
                        r = ka_ws_flush(x->ws, err);
                if (r < 0)
                        return failed(x, r, err);
                if (ka_ws_ended(x->ws))
                        break;
                int64_t now = ka_time_now_ms();
                if (now >= x->next_ping_ms) {
                        if (now - ka_ws_last_receive_ms(x->ws) > SILENCE_MAX_MS)
                                return ka_error_set(err, -ETIMEDOUT, "%s: no answer from the server for %d s", x->what,
                                                    SILENCE_MAX_MS / 1000);
                        ka_ws_send(x->ws, KA_WS_PING, NULL, 0, NULL);
                        x->next_ping_ms = now + ping;
                        continue;
                }
                if (deadline_ms && now >= deadline_ms)
                        return ka_error_set(err, -ETIMEDOUT, "%s: still running", x->what);
                struct pollfd p[3] = {
                        {.fd = ka_kube_raw_fd(x->raw), .events = POLLIN | (ka_ws_queued(x->ws) ? POLLOUT : 0)},
                        {.fd = read_fd ? x->o.stdin_fd : -1, .events = POLLIN},
                        {.fd = x->o.wake_fd, .events = POLLIN},
                };
                int64_t wait = x->next_ping_ms - now;
                if (deadline_ms)
                        wait = KA_MIN(wait, deadline_ms - now);
                if (poll(p, 3, more ? 0 : (int)wait) < 0 && errno != EINTR)
                        return ka_error_set(err, -errno, "%s: poll: %s", x->what, strerror(errno));
                if (p[2].revents)
                        return -EINTR;
                if (p[1].revents && (r = read_stdin(x, err)) < 0)
                        return failed(x, r, err);
        }
        int r = ka_exec_stream_status(&x->stream, ret_code, err);
        return r < 0 ? failed(x, r, err) : 0;
}
