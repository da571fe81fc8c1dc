/* kubeagent exec — run a command in a container of a pod, as the Jenkins
 * plugin's container step does (kubernetes-plugin.md §4.3, §4.7). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kube/exec.h"
#include "kube/pods.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

/* The agent container's working directory in the plugin's pods: paths under
 * it are remapped to the target container's workingDir. */
#define AGENT_WORKDIR "/home/jenkins/agent"

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent [-n NAMESPACE] [--cloud NAME] exec [POD] [-c CONTAINER] [--shell SH]\n"
                   "                 [--cwd DIR] [--env NAME=VALUE]... [-i] -- COMMAND [ARGS...]\n"
                   "\n"
                   "Run a command in a container of a pod (the container step, from a shell) and\n"
                   "exit with its exit status.  Output is streamed as it comes.\n"
                   "\n"
                   "  -c, --container NAME   the container (required when the pod has several)\n"
                   "      --shell SH         run COMMAND through this shell the way the plugin does:\n"
                   "                         the script `cd`, `export`s, the quoted command and\n"
                   "                         `exit` goes to the shell's stdin\n"
                   "      --cwd DIR          working directory (implies --shell sh)\n"
                   "      --env NAME=VALUE   environment variable, repeatable (implies --shell sh)\n"
                   "  -i, --stdin            pass stdin to the command\n"
                   "\n"
                   "Without POD, the pod is the one kubeagent runs in ($POD_NAME, else\n"
                   "$JENKINS_AGENT_NAME, else $HOSTNAME) and --cwd defaults to the current directory.\n"
                   "Paths under " AGENT_WORKDIR " become the container's workingDir.\n"
                   "Ctrl-C or SIGTERM stops the command in the container too (exit 130 or 143).\n"
                   "\n"
                   "Exit status: the command's; 1 when it could not be run (no such pod or\n"
                   "container, not running, refused, unreachable); 2 for usage errors; 127 when\n"
                   "the container has no such shell or executable.\n");
}

static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig) {
        int saved = errno;
        unsigned char b = (unsigned char)sig;
        if (write(wake_pipe[1], &b, 1) < 0) {
                /* the pipe is full: a signal is already pending */
        }
        errno = saved;
}

/* The signal that woke us, 0 if none. */
static int take_signal(void) {
        unsigned char b = 0, got = 0;
        while (read(wake_pipe[0], &b, 1) == 1)
                got = b;
        return got;
}

static int to_terminal(void *ud, int channel, const void *data, size_t len) {
        (void)ud;
        return ka_write_all(channel == KA_EXEC_STDERR ? STDERR_FILENO : STDOUT_FILENO, data, len) < 0 ? -EPIPE : 0;
}

static int discard(void *ud, int channel, const void *data, size_t len) {
        (void)ud, (void)channel, (void)data, (void)len;
        return 0;
}

static void on_retry(void *ud, int attempt, int attempts, int64_t wait_ms, const struct ka_error *why) {
        (void)ud;
        fprintf(stderr, "kubeagent: %s; trying again in %lld s (attempt %d of %d)\n", why->msg,
                (long long)(wait_ms + 999) / 1000, attempt, attempts);
}

/* The pod this process runs in, from the environment. */
static const char *own_pod(const char **ret_from) {
        static const char *const vars[] = {"POD_NAME", "JENKINS_AGENT_NAME", "HOSTNAME"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(vars); i++) {
                const char *v = getenv(vars[i]);
                if (!ka_isempty(v)) {
                        *ret_from = vars[i];
                        return v;
                }
        }
        return NULL;
}

/* 0 when the container's status says it runs; else says why not, -1. */
static int not_running(const char *ns, const char *pod, const char *name, const char *phase, const cJSON *status) {
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(status, "state");
        if (cJSON_GetObjectItemCaseSensitive(state, "running"))
                return 0;
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(state, "waiting");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(state, "terminated");
        fprintf(stderr, "kubeagent: container %s in pod %s/%s is not running", name, ns, pod);
        if (w)
                fprintf(stderr, " (waiting: %s)", ka_json_str(w, "reason") ? ka_json_str(w, "reason") : "?");
        else if (t)
                fprintf(stderr, " (terminated: %s, exit code %lld)",
                        ka_json_str(t, "reason") ? ka_json_str(t, "reason") : "?",
                        (long long)ka_json_int(t, "exitCode", -1));
        else
                fprintf(stderr, " (not started yet; pod %s)", phase ? phase : "Pending");
        fputc('\n', stderr);
        return -1;
}

/* One container of the pod by name (init containers too), or NULL. */
static const cJSON *find_container(const cJSON *pod, const char *name, const char *list, const char *statuses,
                                   const cJSON **ret_status) {
        const cJSON *c;
        cJSON_ArrayForEach(c, ka_json_path(pod, list)) {
                if (!ka_streq(ka_json_str(c, "name"), name))
                        continue;
                const cJSON *s;
                *ret_status = NULL;
                cJSON_ArrayForEach(
                        s, ka_json_path(pod, statuses)) if (ka_streq(ka_json_str(s, "name"), name)) *ret_status = s;
                return c;
        }
        return NULL;
}

static void container_names(const cJSON *pod, struct ka_buf *b) {
        const cJSON *c;
        cJSON_ArrayForEach(c, ka_json_path(pod, "spec.containers"))
                ka_buf_printf(b, "%s%s", b->len ? ", " : "", ka_json_str(c, "name"));
}

/* Check what the API says of the pod before connecting, for clear errors:
 * the container (chosen when the pod has just one), that it runs, and its
 * workingDir.  0 to go on, with *ret_container (NULL when the pod could not
 * be read: the server then decides); an exit code otherwise. */
static int preflight(struct ka_kube *kube, const char *pod, const char *from, const char *wanted, char **ret_container,
                     char **ret_workdir) {
        cJSON *obj = NULL;
        struct ka_error err = {0};
        const char *ns = ka_kube_namespace(kube);
        int r = ka_kube_pod_get(kube, NULL, pod, &obj, &err);
        if (r == -ENOENT) {
                fprintf(stderr, "kubeagent: no pod \"%s\" in namespace %s", pod, ns);
                if (from)
                        fprintf(stderr, " (the name came from $%s; name the pod: kubeagent exec POD ...)", from);
                fputc('\n', stderr);
                return KA_EXIT_FAILURE;
        }
        if (r == -EACCES || r == -EPERM) {
                /* not allowed to look: the exec itself will say what is wrong */
                *ret_container = ka_strdup(wanted);
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "kubeagent: %s\n", err.msg);
                return KA_EXIT_FAILURE;
        }
        int rc = KA_EXIT_FAILURE;
        struct ka_buf names = KA_BUF_INIT(0);
        container_names(obj, &names);
        const char *phase = ka_json_path_str(obj, "status.phase");
        const cJSON *list = ka_json_path(obj, "spec.containers"), *spec = NULL, *status = NULL;
        if (ka_streq(phase, "Succeeded") || ka_streq(phase, "Failed")) {
                fprintf(stderr, "kubeagent: pod %s/%s has ended (%s): nothing runs in it any more\n", ns, pod, phase);
        } else if (!wanted && cJSON_GetArraySize(list) != 1) {
                fprintf(stderr, "kubeagent: pod %s/%s has %d containers; choose one with -c: %s\n", ns, pod,
                        cJSON_GetArraySize(list), names.data ? names.data : "");
                rc = KA_EXIT_USAGE;
        } else {
                const char *name = wanted ? wanted : ka_json_str(cJSON_GetArrayItem(list, 0), "name");
                spec = find_container(obj, name, "spec.containers", "status.containerStatuses", &status);
                if (!spec)
                        spec = find_container(obj, name, "spec.initContainers", "status.initContainerStatuses",
                                              &status);
                if (!spec)
                        fprintf(stderr, "kubeagent: pod %s/%s has no container \"%s\" (it has: %s)\n", ns, pod, name,
                                names.data ? names.data : "none");
                else if (not_running(ns, pod, name, phase, status) == 0) {
                        *ret_container = ka_strdup(name);
                        *ret_workdir = ka_strdup(ka_json_str(spec, "workingDir"));
                        rc = 0;
                }
        }
        ka_buf_free(&names);
        cJSON_Delete(obj);
        return rc;
}

/* After an interrupt: the plugin's second exec, which kills every process
 * carrying the marker, then what is left of the first session's output. */
static void stop_remote(struct ka_kube *kube, struct ka_kube_exec *first, const struct ka_kube_exec_options *o,
                        const char *marker) {
        _cleanup_(ka_strv_freep) char **argv = ka_exec_kill_argv(marker);
        struct ka_kube_exec_options ko = *o;
        ko.argv = (const char *const *)argv;
        ko.stdin_ = false;
        ko.stdin_data = NULL;
        ko.stdin_len = 0;
        ko.stdin_fd = -1;
        ko.output = discard;
        ko.attempts = 1;
        ko.on_retry = NULL;
        struct ka_error err = {0};
        struct ka_kube_exec *kill = NULL;
        int code = 0;
        int r = ka_kube_exec_start(kube, &ko, &kill, &err);
        if (r == 0)
                r = ka_kube_exec_run(kill, ka_time_now_ms() + 10000, &code, &err);
        ka_kube_exec_free(kill);
        if (r < 0 && r != -EINTR)
                fprintf(stderr, "kubeagent: could not stop the command in the container: %s\n", err.msg);
        if (r != -EINTR && first)
                ka_kube_exec_run(first, ka_time_now_ms() + 10000, &code, NULL);
}

/* env with the agent's working directory remapped in the values (wd NULL: as is). */
static char **remap_env(char *const *env, const char *wd) {
        char **out = ka_new0(char *, 1);
        for (size_t i = 0; env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                _cleanup_free_ char *value = eq && wd ? ka_exec_remap(eq + 1, AGENT_WORKDIR, wd) : NULL;
                _cleanup_free_ char *entry = value ? ka_asprintf("%.*s=%s", (int)(eq - env[i]), env[i], value) : NULL;
                out = ka_strv_push(out, entry ? entry : env[i]);
        }
        return out;
}

int ka_cmd_exec(struct ka_cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                {"container", required_argument, NULL, 'c'},
                {"shell", required_argument, NULL, 's'},
                {"cwd", required_argument, NULL, 'd'},
                {"env", required_argument, NULL, 'e'},
                {"stdin", no_argument, NULL, 'i'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        /* the command is everything after the first "--" */
        int dd = 1;
        while (dd < argc && strcmp(argv[dd], "--") != 0)
                dd++;
        const char *container = NULL, *shell = NULL, *cwd = NULL;
        bool interactive = false;
        _cleanup_(ka_strv_freep) char **env = ka_new0(char *, 1);
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(dd, argv, "c:ih", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        container = optarg;
                        break;
                case 's':
                        shell = optarg;
                        break;
                case 'd':
                        cwd = optarg;
                        break;
                case 'e':
                        env = ka_strv_push(env, optarg);
                        break;
                case 'i':
                        interactive = true;
                        break;
                case 'h':
                        usage(stdout);
                        return KA_EXIT_OK;
                default:
                        usage(stderr);
                        return KA_EXIT_USAGE;
                }
        }
        if (dd >= argc - 1 || optind < dd - 1) {
                fprintf(stderr, dd >= argc - 1 ? "kubeagent exec: no command: put it after --\n"
                                               : "kubeagent exec: one POD at most before --\n");
                usage(stderr);
                return KA_EXIT_USAGE;
        }
        const char *pod = optind < dd ? argv[optind] : NULL, *from = NULL;
        _cleanup_free_ char *here = NULL;
        if (!pod) {
                pod = own_pod(&from);
                if (!pod) {
                        fprintf(stderr, "kubeagent exec: no POD given, and none in the environment ($POD_NAME, "
                                        "$JENKINS_AGENT_NAME, $HOSTNAME)\n");
                        return KA_EXIT_USAGE;
                }
                if (!cwd)
                        cwd = here = getcwd(NULL, 0);
        }
        if (!shell && (cwd || env[0]))
                shell = "sh";
        const char *const *command = (const char *const *)argv + dd + 1;

        struct ka_cli_kube k;
        int rc = ka_cli_kube_open(cli, &k);
        if (rc) {
                ka_cli_kube_close(&k);
                return rc;
        }
        _cleanup_free_ char *workdir = NULL, *target = NULL;
        rc = preflight(k.kube, pod, from, container, &target, &workdir);
        if (rc) {
                ka_cli_kube_close(&k);
                return rc;
        }
        /* the plugin's workspace remapping */
        const char *wd = workdir && *workdir && strcmp(workdir, AGENT_WORKDIR) != 0 ? workdir : NULL;
        _cleanup_(ka_strv_freep) char **cmd = ka_new0(char *, 1);
        for (size_t i = 0; command[i]; i++) {
                _cleanup_free_ char *a = wd ? ka_exec_remap(command[i], AGENT_WORKDIR, wd) : ka_strdup(command[i]);
                cmd = ka_strv_push(cmd, a);
        }
        _cleanup_free_ char *marker = ka_exec_marker_new();
        _cleanup_free_ char *marker_env = ka_asprintf(KA_EXEC_MARKER_VAR "=%s", marker);
        _cleanup_(ka_strv_freep) char **run = ka_new0(char *, 1);
        _cleanup_free_ char *script = NULL;
        struct ka_kube_exec_options o = {
                .pod = pod,
                .container = target,
                .stdin_fd = interactive ? STDIN_FILENO : -1,
                .output = to_terminal,
                .on_retry = on_retry,
        };
        if (shell) {
                _cleanup_free_ char *dir = cwd && wd ? ka_exec_remap(cwd, AGENT_WORKDIR, wd) : ka_strdup(cwd);
                _cleanup_(ka_strv_freep) char **vars = remap_env(env, wd);
                vars = ka_strv_push(vars, marker_env);
                struct ka_error err = {0};
                if (ka_exec_shell_script(dir, (const char *const *)vars, (const char *const *)cmd, &script, &err) < 0) {
                        fprintf(stderr, "kubeagent exec: --env: %s\n", err.msg);
                        ka_cli_kube_close(&k);
                        return KA_EXIT_USAGE;
                }
                run = ka_strv_push(run, shell);
                o.stdin_ = true;
                o.stdin_data = script;
                o.stdin_len = strlen(script);
        } else {
                run = ka_strv_push(run, "env");
                run = ka_strv_push(run, marker_env);
                for (size_t i = 0; cmd[i]; i++)
                        run = ka_strv_push(run, cmd[i]);
                o.stdin_ = interactive;
        }
        o.argv = (const char *const *)run;

        if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
                fprintf(stderr, "kubeagent exec: pipe: %s\n", strerror(errno));
                ka_cli_kube_close(&k);
                return KA_EXIT_FAILURE;
        }
        o.wake_fd = wake_pipe[0];
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct ka_error err = {0};
        struct ka_kube_exec *x = NULL;
        int code = 0;
        int r = ka_kube_exec_start(k.kube, &o, &x, &err);
        if (r == 0)
                r = ka_kube_exec_run(x, 0, &code, &err);
        int sig = r == -EINTR ? take_signal() : r == -EPIPE ? SIGPIPE : 0;
        if (sig) {
                if (sig != SIGPIPE)
                        fprintf(stderr, "kubeagent: %s; stopping the command in the container\n",
                                sig == SIGINT ? "interrupted" : "terminated");
                stop_remote(k.kube, x, &o, marker);
                rc = 128 + sig;
        } else if (r == -ENOEXEC) {
                fprintf(stderr,
                        "kubeagent: %s\nkubeagent: process exited immediately after creation: is \"%s\" in the "
                        "container's image?\n",
                        err.msg, run[0]);
                rc = 127;
        } else if (r < 0) {
                fprintf(stderr, "kubeagent: %s\n", err.msg);
                rc = KA_EXIT_FAILURE;
        } else {
                rc = code;
        }
        ka_kube_exec_free(x);
        ka_cli_kube_close(&k);
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        return rc;
}
