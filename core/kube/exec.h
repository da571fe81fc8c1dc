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
#include "util/macro.h"

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

/* ---- the Jenkins plugin's conventions (kubernetes-plugin.md §4.7) -------- */

/* The script the plugin writes to a container's shell: `cd "DIR"` (when cwd
 * is set), one `export K='V'` per "K=V" of env (a ' written as '\''), the
 * command with every argument in double quotes (\ " $ ` escaped, so the
 * shell gets argv exactly), then `exit`; lines end in \n.  -EINVAL with err
 * for an entry of env that is not K=V with K a shell name. */
int ka_exec_shell_script(const char *cwd, const char *const *env, const char *const *argv, char **ret,
                         struct ka_error *err);
/* s with every occurrence of from replaced by to, malloc()ed (the plugin's
 * workspace remapping: the agent's working directory in paths and values
 * becomes the target container's). */
char *ka_exec_remap(const char *s, const char *from, const char *to);

/* Commands started by kubeagent carry KUBEAGENT_EXEC_MARKER=<marker> in
 * their environment; on an interrupt, a second exec kills every process
 * that carries it, as the plugin does with JENKINS_SERVER_COOKIE. */
#define KA_EXEC_MARKER_VAR "KUBEAGENT_EXEC_MARKER"
/* A fresh marker: 32 random hex digits, malloc()ed. */
char *ka_exec_marker_new(void);
/* The second exec's command: sh -c "kill $(grep -l 'VAR=marker'
 * /proc/X/environ... | cut -d / -f 3)"; a NULL-terminated vector to free
 * with ka_strv_free(). */
char **ka_exec_kill_argv(const char *marker);

/* ---- running a command ------------------------------------------------------ */

struct ka_kube;

struct ka_kube_exec_options {
        const char *namespace_; /* NULL: the client's */
        const char *pod;
        const char *container;   /* NULL: the pod's only container */
        const char *const *argv; /* NULL-terminated */
        bool tty;
        bool stdin_;            /* open the stdin channel */
        const char *stdin_data; /* sent first on stdin (a shell script), or NULL */
        size_t stdin_len;
        int stdin_fd; /* then this until EOF (-1: nothing more); then stdin is closed (v5) */
        /* The command's output as it arrives (channel 1 or 2); <0 ends the run. */
        int (*output)(void *ud, int channel, const void *data, size_t len);
        void *output_ud;
        int wake_fd;        /* readable: ka_kube_exec_run() returns -EINTR; -1: none */
        int attempts;       /* connection attempts; 0: 5 (the plugin's) */
        int64_t backoff_ms; /* first wait, doubled each time, capped at 30 s; 0: 2000 */
        int64_t ping_ms;    /* ping interval; 0: 5000.  61 s without a byte ends the run */
        /* Called before each new attempt (may be NULL). */
        void (*on_retry)(void *ud, int attempt, int attempts, int64_t wait_ms, const struct ka_error *why);
        void *retry_ud;
};

struct ka_kube_exec;

/* Connect to the exec endpoint (offering v5, then v4), retrying what can
 * get better (refused or dropped connections, 429, 5xx) like the plugin
 * does.  Errors, with err saying what the server said:
 *   -ENOENT        no such pod (or namespace)
 *   -EINVAL        a bad request: no such container, several and none named
 *   -ESRCH         the container is not running
 *   -EACCES        RBAC: the message names pods/exec get and create
 *   -EKEYREJECTED  the credentials were refused (401)
 *   -EPROTONOSUPPORT the server speaks neither v5 nor v4 channel protocols
 *   -EINTR         wake_fd became readable while waiting to retry
 *   others         the last attempt's error, after `attempts` attempts */
int ka_kube_exec_start(struct ka_kube *k, const struct ka_kube_exec_options *o, struct ka_kube_exec **ret,
                       struct ka_error *err);
/* Stream until the command ends: 0 with *ret_code its exit status, or
 * ka_exec_stream_status()'s errors (-ESRCH, -ENOEXEC: could not start, ...).
 * -EINTR when wake_fd became readable (call again to go on), -ETIMEDOUT at
 * deadline_ms (CLOCK_MONOTONIC; 0: none), or a connection error. */
int ka_kube_exec_run(struct ka_kube_exec *x, int64_t deadline_ms, int *ret_code, struct ka_error *err);
/* The channel protocol the server chose (KA_EXEC_V5 or KA_EXEC_V4). */
const char *ka_kube_exec_protocol(const struct ka_kube_exec *x);
void ka_kube_exec_free(struct ka_kube_exec *x);
KA_DEFINE_CLEANUP(struct ka_kube_exec, ka_kube_exec_free)

#endif
