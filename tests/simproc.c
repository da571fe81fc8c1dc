/* Run a simulator of tests/sim/ for one test program (simproc.h). */
#include "simproc.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

extern char **environ;

static char *script_path(const char *script, const char *env_override) {
        const char *env = env_override ? getenv(env_override) : NULL;
        if (env && *env)
                return ka_strdup(env);
        const char *top = getenv("top_srcdir");
        return ka_asprintf("%s/tests/sim/%s", top ? top : ".", script);
}

/* A test that crashes (an ASan report aborts) must not leave the
 * simulators running. */
static volatile pid_t running[4];

static void on_fatal(int sig) {
        for (size_t i = 0; i < KA_ARRAY_SIZE(running); i++)
                if (running[i] > 0)
                        kill(running[i], SIGTERM);
        signal(sig, SIG_DFL);
        raise(sig);
}

static void track(pid_t old, pid_t pid) {
        for (size_t i = 0; i < KA_ARRAY_SIZE(running); i++)
                if (running[i] == old) {
                        running[i] = pid;
                        return;
                }
}

bool simproc_start(struct simproc *p, const char *script, const char *env_override, const char *const *extra,
                   const char **why) {
        *p = (struct simproc){0};
        _cleanup_free_ char *path = script_path(script, env_override);
        if (access(path, R_OK) < 0) {
                *why = "the simulator is not in this tree";
                return false;
        }
        const char *py = getenv("PYTHON3");
        if (!py || !*py || strcmp(py, "no") == 0)
                py = "python3";
        snprintf(p->dir, sizeof(p->dir), "%s/ka-sim-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(p->dir)) {
                *why = "cannot make a temporary folder";
                return false;
        }
        const char *argv[32] = {py, path, "--dir", p->dir, "--port", "0", "--admin-port", "0"};
        size_t n = 8;
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        int fds[2];
        if (pipe(fds) < 0) {
                *why = "pipe failed";
                return false;
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_addclose(&fa, fds[0]);
        /* the simulator is Python: keep the sanitizer runtime out of it */
        int r = posix_spawnp(&p->pid, py, &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (r != 0) {
                close(fds[0]);
                *why = "cannot run python3";
                return false;
        }
        /* await "READY <port> <admin>" */
        char line[256];
        size_t len = 0;
        int64_t deadline = ka_time_now_ms() + 60000;
        bool ready = false;
        while (!ready && ka_time_now_ms() < deadline) {
                struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
                if (poll(&pfd, 1, 1000) <= 0)
                        continue;
                ssize_t got = read(fds[0], line + len, sizeof(line) - 1 - len);
                if (got <= 0)
                        break;
                len += (size_t)got;
                line[len] = '\0';
                char *nl = strchr(line, '\n');
                if (nl && sscanf(line, "READY %d %d", &p->port, &p->admin_port) == 2)
                        ready = true;
                else if (nl || len == sizeof(line) - 1)
                        break;
        }
        close(fds[0]);
        if (!ready) {
                simproc_stop(p);
                *why = "the simulator did not become ready";
                tap_diag("simulator output: %.*s", (int)len, line);
                return false;
        }
        track(0, p->pid);
        signal(SIGABRT, on_fatal);
        signal(SIGSEGV, on_fatal);
        return true;
}

void simproc_stop(struct simproc *p) {
        if (p->pid > 0) {
                track(p->pid, 0);
                kill(p->pid, SIGTERM);
                int st;
                while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
                        ;
                p->pid = 0;
        }
        if (p->dir[0] && !getenv("KA_KEEP_SIM_DIR")) {
                pid_t pid;
                const char *argv[] = {"rm", "-rf", p->dir, NULL};
                if (posix_spawnp(&pid, "rm", NULL, NULL, (char *const *)argv, environ) == 0)
                        waitpid(pid, NULL, 0);
        }
        p->dir[0] = '\0';
}

char *simproc_path(const struct simproc *p, const char *name) {
        return ka_path_join(p->dir, name);
}

static size_t collect(char *data, size_t size, size_t n, void *ud) {
        return ka_buf_append(ud, data, size * n) < 0 ? 0 : size * n;
}

int simproc_admin(const struct simproc *p, const char *method, const char *path, const char *json,
                  char **ret_body) {
        return test_http(p->admin_port, method, path, json, ret_body);
}

int test_http(int port, const char *method, const char *path, const char *body, char **ret_body) {
        const char *json = body;
        CURL *c = curl_easy_init();
        char url[512];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        struct ka_buf b = KA_BUF_INIT(16u << 20);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json ? json : "");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        if (ret_body)
                *ret_body = b.data ? ka_buf_steal(&b) : ka_strdup("");
        ka_buf_free(&b);
        return (int)code;
}

long simproc_count(const struct simproc *p, const char *prefix) {
        _cleanup_free_ char *body = NULL;
        if (simproc_admin(p, "GET", "/stats", NULL, &body) != 200)
                return -1;
        cJSON *j = NULL;
        if (ka_json_parse(body, strlen(body), &j, NULL) < 0)
                return -1;
        long total = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "requests")) if (ka_startswith(e->string, prefix)) total +=
                (long)e->valuedouble;
        cJSON_Delete(j);
        return total;
}
