#include "sim.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/cfgmap.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"
#include "yaml/yaml.h"

extern char **environ;

static char *sim_script(void) {
        const char *env = getenv("KA_KUBE_SIM");
        if (env && *env)
                return ka_strdup(env);
        const char *top = getenv("top_srcdir");
        return ka_asprintf("%s/tests/sim/kube_sim.py", top ? top : ".");
}

/* A test that crashes (an ASan report aborts) must not leave the
 * simulator running. */
static volatile pid_t running_pid;

static void on_fatal(int sig) {
        if (running_pid > 0)
                kill(running_pid, SIGTERM);
        signal(sig, SIG_DFL);
        raise(sig);
}

bool sim_start(struct sim *s, const char *const *extra, const char **why) {
        *s = (struct sim){0};
        _cleanup_free_ char *script = sim_script();
        if (access(script, R_OK) < 0) {
                *why = "the Kubernetes API simulator (tests/sim/kube_sim.py) is not in this tree";
                return false;
        }
        const char *py = getenv("PYTHON3");
        if (!py || !*py || strcmp(py, "no") == 0)
                py = "python3";
        snprintf(s->dir, sizeof(s->dir), "%s/ka-kubesim-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(s->dir)) {
                *why = "cannot make a temporary folder";
                return false;
        }
        const char *argv[32] = {py, script, "--dir", s->dir, "--port", "0", "--admin-port", "0"};
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
        int r = posix_spawnp(&s->pid, py, &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (r != 0) {
                close(fds[0]);
                *why = "cannot run python3";
                return false;
        }
        /* await "READY <api> <admin>" */
        char line[256];
        size_t len = 0;
        int64_t deadline = ka_time_now_ms() + 60000;
        bool ready = false;
        while (!ready && ka_time_now_ms() < deadline) {
                struct pollfd p = {.fd = fds[0], .events = POLLIN};
                if (poll(&p, 1, 1000) <= 0)
                        continue;
                ssize_t got = read(fds[0], line + len, sizeof(line) - 1 - len);
                if (got <= 0)
                        break;
                len += (size_t)got;
                line[len] = '\0';
                char *nl = strchr(line, '\n');
                if (nl && sscanf(line, "READY %d %d", &s->api_port, &s->admin_port) == 2)
                        ready = true;
                else if (nl || len == sizeof(line) - 1)
                        break;
        }
        close(fds[0]);
        if (!ready) {
                sim_stop(s);
                *why = "the simulator did not become ready";
                tap_diag("simulator output: %.*s", (int)len, line);
                return false;
        }
        snprintf(s->server, sizeof(s->server), "https://127.0.0.1:%d", s->api_port);
        running_pid = s->pid;
        signal(SIGABRT, on_fatal);
        signal(SIGSEGV, on_fatal);
        return true;
}

void sim_stop(struct sim *s) {
        if (s->pid > 0) {
                running_pid = 0;
                kill(s->pid, SIGTERM);
                int st;
                while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
                        ;
                s->pid = 0;
        }
        if (s->dir[0] && !getenv("KA_KEEP_SIM_DIR")) {
                pid_t pid;
                const char *argv[] = {"rm", "-rf", s->dir, NULL};
                if (posix_spawnp(&pid, "rm", NULL, NULL, (char *const *)argv, environ) == 0)
                        waitpid(pid, NULL, 0);
        }
        s->dir[0] = '\0';
}

char *sim_path(const struct sim *s, const char *name) {
        return ka_path_join(s->dir, name);
}

static size_t collect(char *data, size_t size, size_t n, void *ud) {
        return ka_buf_append(ud, data, size * n) < 0 ? 0 : size * n;
}

int sim_admin(const struct sim *s, const char *method, const char *path, const char *json, char **ret_body) {
        CURL *c = curl_easy_init();
        char url[256];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->admin_port, path);
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

long sim_count(const struct sim *s, const char *prefix) {
        _cleanup_free_ char *body = NULL;
        if (sim_admin(s, "GET", "/stats", NULL, &body) != 200)
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

void plugins_load(struct ka_registry *reg) {
        const char *dir = getenv("KUBEAGENT_PLUGIN_PATH");
        struct ka_diags d = {0};
        ka_registry_load_dir(reg, dir ? dir : "plugins/.libs", &d);
        if (d.n)
                ka_diags_print(&d, stderr);
        ka_diags_free(&d);
}

int cred_open(const struct ka_registry *reg, const char *name, const char *yaml, struct ka_kube_cred **ret,
              struct ka_error *err) {
        const struct kubeagent_plugin_handle *p = ka_registry_find(reg, KUBEAGENT_KIND_CREDENTIAL, name);
        if (!p)
                return ka_error_set(err, -ENOENT, "no credential plugin %s", name);
        struct ka_locmap *locs = ka_locmap_new();
        cJSON *node = NULL;
        struct ka_yaml_origin o = {.file = "test.yaml"};
        int r = ka_yaml_parse(yaml, strlen(yaml), &o, locs, &node, err);
        void *conf = NULL;
        if (r == 0) {
                struct kubeagent_config_source src = ka_cfgsrc(node, locs, (struct ka_loc){.file = "test.yaml"});
                struct ka_diags d = {0};
                r = ka_plugin_conf_new(p, 0, &src, NULL, &conf, &d);
                if (r < 0 && d.n)
                        ka_error_set(err, r, "%s", d.v[0].msg);
                ka_diags_free(&d);
        }
        if (r == 0) {
                r = ka_kube_cred_open(p, conf, ret, err);
                ka_plugin_conf_free(p, 0, conf);
        }
        cJSON_Delete(node);
        ka_locmap_free(locs);
        return r;
}

static void diag_line(void *ud, const char *line) {
        (void)ud;
        tap_diag("%s", line);
}

struct ka_kube *client_new(struct ka_kube_cred *cred, struct ka_kube_options *o) {
        struct ka_kube_options def;
        if (!o) {
                ka_kube_options_init(&def);
                o = &def;
                o->retry_base_ms = 20;
                o->qps = -1;
        }
        o->cred = cred;
        if (getenv("KA_TEST_LOG_HTTP") && !o->http_log)
                o->http_log = diag_line;        /* debugging a test: KA_TEST_LOG_HTTP=1 */
        struct ka_kube *k = NULL;
        struct ka_error err = {0};
        if (ka_kube_new(o, &k, &err) < 0)
                tap_diag("ka_kube_new: %s", err.msg);
        return k;
}

struct ka_kube *sim_client(const struct sim *s, const struct ka_registry *reg, const char *token_file,
                           struct ka_kube_options *o) {
        _cleanup_free_ char *ca = sim_path(s, "ca.crt"), *tf = sim_path(s, token_file);
        _cleanup_free_ char *yaml =
                ka_asprintf("{tokenFile: %s, caFile: %s, namespace: ci, server: \"%s\"}", tf, ca, s->server);
        struct ka_kube_cred *cred;
        struct ka_error err;
        if (cred_open(reg, "token", yaml, &cred, &err) < 0) {
                tap_diag("open %s: %s", token_file, err.msg);
                return NULL;
        }
        return client_new(cred, o);
}

int get(struct ka_kube *k, const char *path, struct ka_error *err) {
        struct ka_kube_request req = {.method = "GET", .path = path};
        ka_error_clear(err);
        return ka_kube_request(k, &req, NULL, err);
}

void write_text(const char *path, const char *text, unsigned mode) {
        struct ka_error err;
        if (ka_write_file_atomic(path, text, strlen(text), mode, &err) < 0)
                tap_diag("write %s: %s", path, err.msg);
}
