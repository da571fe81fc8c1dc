/* The exec subresource: the channel layer. */
#include "exec.h"

#include <errno.h>
#include <string.h>

#include "status.h"
#include "util/error.h"
#include "util/json.h"
#include "util/str.h"
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
