/* core/kube/exec.h — commands in a container: the exec subresource over
 * WebSocket (reference kubernetes-api.md §5).
 *
 * The channel layer, struct ka_exec_stream, is pure: it takes the data
 * messages of a *.channel.k8s.io WebSocket (as ka_ws_handler.data pieces,
 * any fragmentation), hands channel 1 (stdout) and 2 (stderr) to a
 * callback as bytes arrive, keeps channel 3 (the Status, capped) and turns
 * that Status into the command's exit code.  Going the other way, stdin is
 * a message of channel byte 0 and the bytes; ka_exec_stdin_close closes it
 * (v5 only). */
#ifndef KA_KUBE_EXEC_H
#define KA_KUBE_EXEC_H

#include <kubeagent/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define KA_EXEC_V5 "v5.channel.k8s.io"
#define KA_EXEC_V4 "v4.channel.k8s.io"

enum {
        KA_EXEC_STDIN = 0,
        KA_EXEC_STDOUT = 1,
        KA_EXEC_STDERR = 2,
        KA_EXEC_ERROR = 3,
        KA_EXEC_RESIZE = 4,
        KA_EXEC_CLOSE = 255,
};

struct ka_exec_stream {
        /* Output of the command: channel 1 or 2; <0 stops the stream. */
        int (*output)(void *ud, int channel, const void *data, size_t len);
        void *ud;
        int channel;          /* of the message in progress; -1 before its first byte */
        struct ka_buf status; /* channel 3, capped at 64 KiB */
        bool output_seen;     /* a stdout or stderr byte arrived */
};

void ka_exec_stream_init(struct ka_exec_stream *s, int (*output)(void *ud, int channel, const void *data, size_t len),
                         void *ud);
void ka_exec_stream_clear(struct ka_exec_stream *s);
/* A ka_ws_handler.data callback; ud is the stream. */
int ka_exec_stream_data(void *ud, uint8_t opcode, bool first, bool last, const uint8_t *p, size_t n,
                        struct ka_error *err);
/* Once the connection ended: 0 with *ret_code, the command's exit status
 * (Success is 0, NonZeroExitCode its ExitCode cause).  Otherwise, with err
 * saying what the server said:
 *   -ENOMSG   no Status came (the connection ended before the command did)
 *   -ESRCH    the container is not running ("container not found")
 *   -ENOEXEC  a Failure before any output: the command could not start
 *             (a missing shell or executable)
 *   -EIO      another Failure
 *   -EBADMSG  channel 3 held something that is not a Status */
int ka_exec_stream_status(const struct ka_exec_stream *s, int *ret_code, struct ka_error *err);

/* The v5 message that closes stdin: [255, 0]. */
extern const uint8_t ka_exec_stdin_close[2];

#endif
