#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kube/watch.h"
#include "pluginconf.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"
#include "yaml/yaml.h"

bool sim_start(struct sim *s, const char *const *extra, const char **why) {
        *s = (struct sim){0};
        if (!simproc_start(&s->proc, "kube_sim.py", "KA_KUBE_SIM", extra, why))
                return false;
        snprintf(s->server, sizeof(s->server), "https://127.0.0.1:%d", s->proc.port);
        return true;
}

void sim_stop(struct sim *s) {
        simproc_stop(&s->proc);
}

char *sim_path(const struct sim *s, const char *name) {
        return simproc_path(&s->proc, name);
}

int sim_admin(const struct sim *s, const char *method, const char *path, const char *json, char **ret_body) {
        return simproc_admin(&s->proc, method, path, json, ret_body);
}

long sim_count(const struct sim *s, const char *prefix) {
        return simproc_count(&s->proc, prefix);
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
        void *conf = NULL;
        int r = plugin_conf_yaml(p, yaml, &conf, err);
        if (r == 0) {
                r = ka_kube_cred_open(p, conf, ret, err);
                ka_plugin_conf_free(p, 0, conf);
        }
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
        struct ka_error err = {0};
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
        struct ka_error err = {0};
        if (ka_write_file_atomic(path, text, strlen(text), mode, &err) < 0)
                tap_diag("write %s: %s", path, err.msg);
}

struct wait_pod {
        struct ka_lines lines;
        const char *const *all;
};

static int wait_pod_line(void *ud, char *line, size_t len) {
        (void)len;
        const struct wait_pod *w = ud;
        for (size_t i = 0; w->all[i]; i++)
                if (!strstr(line, w->all[i]))
                        return 0;
        return -ECANCELED;
}

static int wait_pod_chunk(void *ud, const char *data, size_t len) {
        struct wait_pod *w = ud;
        return ka_lines_feed(&w->lines, data, len, wait_pod_line, w);
}

bool sim_wait_pod(struct ka_kube *k, const char *name, const char *const *all, int timeout_s) {
        struct wait_pod w = {.lines = KA_LINES_INIT(KA_WATCH_LINE_MAX), .all = all};
        _cleanup_free_ char *query =
                ka_asprintf("watch=1&fieldSelector=metadata.name%%3D%s&timeoutSeconds=%d", name, timeout_s);
        struct ka_kube_request req = {.method = "GET",
                                      .path = "/api/v1/namespaces/ci/pods",
                                      .query = query,
                                      .sink = wait_pod_chunk,
                                      .sink_ud = &w,
                                      .timeout_ms = (int64_t)timeout_s * 1000 + 5000};
        struct ka_error err = {0};
        int r = ka_kube_request(k, &req, NULL, &err);
        ka_lines_free(&w.lines);
        return r == -ECANCELED;
}

double cpu_seconds(void) {
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
               (double)u.ru_stime.tv_usec / 1e6;
}
