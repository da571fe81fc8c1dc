#include "harness.h"
#include "provision/proto.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../bus/freeport.h"
#include "kube/pods.h"
#include "plugin/cfgmap.h"
#include "provision/proto.h"
#include "simproc.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/str.h"
#include "util/timeutil.h"

static int instance;

static void fast_retries(void *ud, const struct ka_cloud *cloud, struct ka_kube_options *o) {
        (void)ud, (void)cloud;
        o->retry_base_ms = 20;
        o->max_retries = 2;
}

static void on_pod(void *ud, enum ka_watch_type type, const cJSON *pod) {
        struct harness *h = ud;
        cJSON *e = cJSON_CreateObject();
        ka_json_set_num(e, "type", type);
        ka_json_set(e, "pod", cJSON_Duplicate(pod, true));
        pthread_mutex_lock(&h->lock);
        cJSON_AddItemToArray(h->pending, e);
        pthread_mutex_unlock(&h->lock);
        uint64_t one = 1;
        ssize_t n = write(h->efd, &one, sizeof(one));
        (void)n;
}

static void prov_start(struct harness *h) {
        struct ka_prov_options po = {
                .cfg = h->cfg, .reg = &h->reg, .bus = &h->bus, .gc_period_ms = 2000, .clock = h->clock};
        struct ka_error err = {0};
        if (ka_prov_new(&po, &h->prov, &err) < 0)
                tap_diag("ka_prov_new: %s", err.msg);
        else
                pthread_create(&h->prov_thread, NULL, ka_prov_thread, h->prov);
}

static void prov_halt(struct harness *h) {
        if (!h->prov)
                return;
        ka_prov_stop(h->prov);
        pthread_join(h->prov_thread, NULL);
        ka_prov_free(h->prov);
        h->prov = NULL;
}

static bool connected(struct harness *h, void *ud) {
        (void)ud;
        return h->synced;
}

static void write_key(const char *path) {
        write_text(path, "8e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7\n", 0600);
}

bool h_start_ex(struct harness *h, const char *clouds, const struct h_options *o, const char **why) {
        *h = (struct harness){.auto_register = true, .auto_online = true, .auto_gone = true, .efd = -1, .log_fd = -1,
                              .external = o->transport != NULL, .clock = o->clock};
        if (!sim_start(&h->sim, o->extra_sim, why))
                return false;
        pthread_mutex_init(&h->lock, NULL);
        h->pending = cJSON_CreateArray();
        h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        char tmpl[] = "/tmp/ka-prov-XXXXXX";
        h->dir = ka_strdup(mkdtemp(tmpl));
        h->log_path = ka_path_join(h->dir, "kubeagentd.log");
        h->log_fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        ka_log_setup("test", getenv("KA_TEST_LOG") ? KA_LOG_DEBUG : KA_LOG_INFO, KA_LOG_TEXT);
        ka_log_set_fd(h->log_fd);
        plugins_load(&h->reg);

        /* the config */
        _cleanup_free_ char *token = sim_path(&h->sim, "token-admin"), *ca = sim_path(&h->sim, "ca.crt");
        struct ka_buf y = KA_BUF_INIT(0);
        instance++;
        if (h->external) {
                bool tcp = !strcmp(o->transport, "tcp");
                _cleanup_free_ char *key = ka_path_join(h->dir, "bus.key");
                if (tcp) {
                        write_key(key);
                        ka_buf_printf(&y,
                                      "kubeagent:\n  bus:\n    workers: tcp://127.0.0.1:%d\n"
                                      "    frontends: tcp://127.0.0.1:%d\n    keyFile: %s\n",
                                      ka_test_free_port(), ka_test_free_port(), key);
                } else {
                        ka_buf_printf(&y, "kubeagent:\n  bus:\n    workers: ipc://%s/workers.sock\n"
                                          "    frontends: ipc://%s/frontends.sock\n", h->dir, h->dir);
                }
                ka_buf_printf(&y, "    leaseDuration: 2s\n    renewInterval: 500ms\n    resendInterval: 100ms\n"
                                  "    reconnectIntervalMax: 200ms\n  http: {listen: \"127.0.0.1:0\"}\n"
                                  "  provision: {gcPeriod: %s}\n",
                              o->gc_period ? o->gc_period : "2s");
                if (o->kubeagent_extra)
                        ka_buf_puts(&y, o->kubeagent_extra);
        } else {
                ka_buf_printf(&y, "kubeagent:\n  bus:\n    workers: inproc://h-workers-%d-%d\n"
                                  "    frontends: inproc://h-frontends-%d-%d\n"
                                  "    leaseDuration: 2s\n    renewInterval: 500ms\n    resendInterval: 100ms\n"
                                  "    reconnectIntervalMax: 200ms\n",
                              (int)getpid(), instance, (int)getpid(), instance);
        }
        ka_buf_printf(&y,
                      "credentials:\n  sim: {type: token, tokenFile: %s, caFile: %s, server: \"%s\", namespace: ci}\n"
                      "jenkins:\n  clouds:\n",
                      token, ca, h->sim.server);
        for (const char *p = clouds; *p;) {
                if (ka_startswith(p, "@CRED@")) {
                        ka_buf_puts(&y, "sim");
                        p += 6;
                } else if (ka_startswith(p, "@SERVER@")) {
                        ka_buf_puts(&y, h->sim.server);
                        p += 8;
                } else {
                        ka_buf_putc(&y, *p++);
                }
        }
        h->config_path = ka_path_join(h->dir, "kubeagent.yaml");
        write_text(h->config_path, y.data, 0600);
        ka_buf_free(&y);
        struct ka_diags d = {0};
        if (ka_document_load(h->config_path, &h->doc, &d) < 0 || !(h->have_doc = true) ||
            ka_config_load(&h->doc, &h->reg, &h->cfg, &d) < 0) {
                for (size_t i = 0; i < d.n; i++)
                        tap_diag("config: %s:%u:%u: %s", d.v[i].file ? d.v[i].file : "", d.v[i].line, d.v[i].col,
                                 d.v[i].msg);
                ka_diags_free(&d);
                *why = "the test's config does not load";
                return false;
        }
        ka_diags_free(&d);
        struct kubeagent_config_source src = ka_config_section(h->cfg, "bus");
        ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, &h->bus, &d);
        ka_diags_free(&d);

        struct ka_error err = {0};
        if (!h->external) {
                prov_start(h);
                struct ka_worker_options wo = {.cfg = h->cfg, .reg = &h->reg, .bus = &h->bus, .name = "w1",
                                               .kube_options = fast_retries};
                if (ka_worker_new(&wo, &h->worker, &err) < 0) {
                        tap_diag("ka_worker_new: %s", err.msg);
                        *why = "the worker does not start";
                        return false;
                }
                pthread_create(&h->worker_thread, NULL, ka_worker_thread, h->worker);
        }
        struct ka_bus_agent_options fo = {.role = KA_BUS_ROLE_FRONTEND, .name = "jenkins"};
        if (ka_bus_agent_new(&h->bus, &fo, NULL, &h->fe, &err) < 0) {
                tap_diag("frontend: %s", err.msg);
                *why = "the frontend does not connect";
                return false;
        }
        /* the test's own view of the pods */
        h->kube = sim_client(&h->sim, &h->reg, "token-admin", NULL);
        if (!h->kube || ka_informer_acquire(h->kube, "ci", "kubeagent.io/cloud", &h->inf, &err) < 0) {
                *why = "cannot watch the simulator";
                return false;
        }
        h->sub = ka_informer_subscribe(h->inf, on_pod, h, true);
        if (!h->external && !h_wait_connected(h, 10000)) {
                *why = "the frontend is not welcomed by the core";
                return false;
        }
        return true;
}

bool h_begin(struct harness *h, const char *clouds, const struct h_options *o) {
        const char *why = NULL;
        struct h_options none = {0};
        if (h_start_ex(h, clouds, o ? o : &none, &why))
                return true;
        printf("1..0 # SKIP %s\n", why);
        h_stop(h);
        return false;
}

bool h_wait_connected(struct harness *h, int64_t timeout_ms) {
        return h_until(h, timeout_ms, connected, NULL);
}

/* ---- kubeagentd processes ---- */

struct h_proc *h_spawn(struct harness *h, const char *role) {
        const char *bin = getenv("KUBEAGENTD");
        if (!bin)
                bin = "core/daemon/kubeagentd";
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return NULL;
        static int n;
        struct h_proc *p = ka_new0(struct h_proc, 1);
        p->log = ka_asprintf("%s/kubeagentd-%s-%d.log", h->dir, role, ++n);
        ka_strlcpy(p->role, role, sizeof(p->role));
        pid_t pid = fork();
        if (pid == 0) {
                int log = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(log, 2);
                dup2(fds[1], 3); /* dup2 clears CLOEXEC */
                char rolearg[32];
                snprintf(rolearg, sizeof(rolearg), "--role=%s", role);
                execl(bin, bin, "-c", h->config_path, rolearg, "--ready-fd=3",
                      getenv("KA_TEST_LOG") ? "--log-level=debug" : "--log-level=info", (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        p->pid = pid;
        char line[64] = {0};
        size_t got = 0;
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int64_t end = ka_time_now_ms() + 30000;
        while (got < sizeof(line) - 1 && !memchr(line, '\n', got) && ka_time_now_ms() < end) {
                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                ssize_t r = read(fds[0], line + got, sizeof(line) - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        close(fds[0]);
        if (sscanf(line, "READY %d", &p->http_port) != 1) {
                tap_diag("kubeagentd --role %s did not start (see %s)", role, p->log);
                h_kill(h, p, SIGKILL);
                return NULL;
        }
        if (strcmp(role, "worker") != 0)
                h->core_proc = p;
        h->procs = ka_reallocarray(h->procs, h->n_procs + 1, sizeof(*h->procs));
        h->procs[h->n_procs++] = p;
        return p;
}

int h_kill(struct harness *h, struct h_proc *p, int sig) {
        if (!p || p->pid <= 0)
                return -1;
        kill(p->pid, sig);
        int status = 0;
        if (waitpid(p->pid, &status, 0) < 0)
                return -1;
        p->pid = 0;
        if (h->core_proc == p)
                h->core_proc = NULL;
        if (getenv("KA_TEST_LOG")) {
                char *text = NULL;
                size_t len;
                struct ka_error err = {0};
                if (ka_read_file(p->log, 64 << 20, &text, &len, &err) == 0)
                        fprintf(stderr, "---- %s ----\n%s", p->log, text);
                free(text);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int h_http_get(int port, const char *path, char **ret_body) {
        return test_http(port, "GET", path, NULL, ret_body);
}

cJSON *h_agents(struct harness *h) {
        if (h->prov)
                return ka_prov_agents_json(h->prov);
        char *body = NULL;
        cJSON *a = NULL;
        struct ka_error err = {0};
        if (h->core_proc && h_http_get(h->core_proc->http_port, "/v1/agents", &body) == 200)
                ka_json_parse(body, strlen(body), &a, &err);
        free(body);
        return a ? a : cJSON_CreateArray();
}

static void msgs_free(struct harness *h) {
        for (size_t i = 0; i < h->n_msgs; i++) {
                free(h->msgs[i].type);
                cJSON_Delete(h->msgs[i].payload);
        }
        free(h->msgs);
        h->msgs = NULL;
        h->n_msgs = 0;
}

void h_stop(struct harness *h) {
        for (size_t i = 0; i < h->n_procs; i++) {
                if (h->procs[i]->pid > 0)
                        ok(h_kill(h, h->procs[i], SIGTERM) == 0,
                           "kubeagentd --role %s stops cleanly on SIGTERM (exit 0, nothing leaked)", h->procs[i]->role);
                free(h->procs[i]->log);
                free(h->procs[i]);
        }
        free(h->procs);
        if (h->inf) {
                ka_informer_unsubscribe(h->inf, h->sub);
                ka_informer_release(h->inf);
        }
        ka_kube_free(h->kube);
        ka_bus_agent_free(h->fe);
        if (h->worker) {
                ka_worker_stop(h->worker);
                pthread_join(h->worker_thread, NULL);
                ka_worker_free(h->worker);
        }
        prov_halt(h);
        ka_cfgmap_clear(ka_bus_config_keys, &h->bus);
        ka_config_free(h->cfg);
        if (h->have_doc)
                ka_document_free(&h->doc);
        ka_registry_free(&h->reg);
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&h->nodes, &it, NULL, &v)) {
                struct h_node *n = v;
                free(n->name);
                free(n->state);
                free(n->labels);
                free(n);
        }
        ka_hashmap_free(&h->nodes);
        it = 0;
        while (ka_hashmap_next(&h->pods, &it, NULL, &v)) {
                struct h_pod *p = v;
                cJSON_Delete(p->pod);
                free(p);
        }
        ka_hashmap_free(&h->pods);
        msgs_free(h);
        cJSON_Delete(h->demand);
        cJSON_Delete(h->pending);
        if (h->efd >= 0)
                close(h->efd);
        if (h->log_fd >= 0) {
                if (getenv("KA_TEST_LOG")) {
                        char *text = NULL;
                        size_t len;
                        struct ka_error err = {0};
                        if (ka_read_file(h->log_path, 64 << 20, &text, &len, &err) == 0)
                                fputs(text, stderr);
                        free(text);
                }
                ka_log_set_fd(2);
                close(h->log_fd);
        }
        free(h->log_path);
        free(h->config_path);
        if (h->dir) {
                _cleanup_free_ char *cmd = ka_asprintf("rm -rf '%s'", h->dir);
                if (system(cmd) != 0)
                        tap_diag("could not remove %s", h->dir);
                free(h->dir);
        }
        sim_stop(&h->sim);
}

void h_restart_core(struct harness *h) {
        h->synced = false;
        prov_halt(h);
        prov_start(h);
}

/* ---- the frontend ---- */

void h_send(struct harness *h, const char *type, cJSON *payload) {
        ka_json_set_str(payload, "type", type);
        struct ka_error err = {0};
        if (ka_bus_host_send(ka_bus_agent_handle(h->fe), payload, &err) < 0)
                tap_diag("send %s: %s", type, err.msg);
        cJSON_Delete(payload);
}

struct h_node *h_node(struct harness *h, const char *name) {
        return ka_hashmap_get(&h->nodes, name);
}

size_t h_nodes(const struct harness *h) {
        return h->nodes.n;
}

void h_node_state(struct harness *h, const char *name, const char *state, const char *result) {
        struct h_node *n = h_node(h, name);
        if (n && n->state != state) {
                free(n->state);
                n->state = ka_strdup(state);
        }
        cJSON *m = cJSON_CreateObject();
        ka_json_set_str(m, "name", name);
        ka_json_set_str(m, "state", state);
        if (result)
                ka_json_set_str(m, "result", result);
        if (n && n->labels)
                ka_json_set_str(m, "labels", n->labels);
        h_send(h, "agent.state", m);
        if (n && !strcmp(state, "gone")) {
                ka_hashmap_remove(&h->nodes, name);
                free(n->name);
                free(n->state);
                free(n->labels);
                free(n);
        }
}

void h_node_add(struct harness *h, const char *name, const char *labels) {
        struct h_node *n = ka_new0(struct h_node, 1);
        n->name = ka_strdup(name);
        n->state = ka_strdup("offline");
        n->labels = ka_strdup(labels);
        n->registered = true;
        ka_hashmap_put(&h->nodes, name, n);
        h_node_state(h, name, "offline", NULL);
}

void h_demand(struct harness *h, const char *expression, const int64_t *ids, size_t n) {
        h_demand_job(h, expression, NULL, ids, n);
}

static void send_demand(struct harness *h, const char *key, const char *value, const char *job,
                        const int64_t *ids, size_t n) {
        cJSON *m = cJSON_CreateObject();
        ka_json_set_str(m, key, value);
        cJSON *items = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
                cJSON *it = cJSON_CreateObject();
                ka_json_set_num(it, "id", (double)ids[i]);
                if (job)
                        ka_json_set_str(it, "job", job);
                cJSON_AddItemToArray(items, it);
        }
        ka_json_set(m, "items", items);
        if (!h->demand)
                h->demand = cJSON_CreateObject();
        _cleanup_free_ char *slot = ka_asprintf("%s:%s", key, value);
        cJSON_DeleteItemFromObjectCaseSensitive(h->demand, slot);
        cJSON_AddItemToObject(h->demand, slot, cJSON_Duplicate(m, true));
        h_send(h, "demand", m);
}

void h_demand_job(struct harness *h, const char *expression, const char *job, const int64_t *ids, size_t n) {
        send_demand(h, "expression", expression, job, ids, n);
}

void h_demand_node(struct harness *h, const char *name, const int64_t *ids, size_t n) {
        send_demand(h, "node", name, NULL, ids, n);
}

void h_hello(struct harness *h) {
        cJSON *m = cJSON_CreateObject();
        ka_json_set_str(m, "url", "http://jenkins.invalid/");
        ka_json_set_str(m, "namePrefix", "t-");
        h_send(h, "frontend.hello", m);
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&h->nodes, &it, NULL, &v)) {
                struct h_node *n = v;
                h_node_state(h, n->name, n->state, NULL);
        }
        const cJSON *d;
        cJSON_ArrayForEach(d, h->demand) h_send(h, "demand", cJSON_Duplicate(d, true));
        h_send(h, "frontend.synced", cJSON_CreateObject());
        h->synced = true;
}

static void on_core_message(struct harness *h, const char *type, cJSON *payload) {
        struct ka_error err = {0};
        cJSON_DeleteItemFromObjectCaseSensitive(payload, "type");
        if (ka_proto_check_frontend(type, payload, &err) < 0)
                tap_diag("the core sent an invalid message: %s", err.msg);
        h->msgs = ka_reallocarray(h->msgs, h->n_msgs + 1, sizeof(*h->msgs));
        h->msgs[h->n_msgs++] = (struct h_msg){.type = ka_strdup(type), .payload = payload};
        const char *name = ka_json_str(payload, "name");
        if (!strcmp(type, "agent.register") && h->auto_register) {
                struct h_node *n = h_node(h, name);
                if (!n) {
                        n = ka_new0(struct h_node, 1);
                        n->name = ka_strdup(name);
                        n->state = ka_strdup("offline");
                        n->labels = ka_strdup(ka_json_str(payload, "labels"));
                        ka_hashmap_put(&h->nodes, name, n);
                }
                n->registered = true;
                h_node_state(h, name, n->state, NULL);
                cJSON *m = cJSON_CreateObject();
                ka_json_set_str(m, "name", name);
                char secret[128];
                snprintf(secret, sizeof(secret), "0123456789abcdef-%s", name);
                ka_json_set_str(m, "secret", secret);
                h_send(h, "agent.registered", m);
        } else if (!strcmp(type, "agent.delete") && h->auto_gone) {
                h_node_state(h, name, "gone", NULL);
        } else if (!strcmp(type, "agent.offline")) {
                struct h_node *n = h_node(h, name);
                if (n) {
                        free(n->state);
                        n->state = ka_strdup("offline");
                }
        }
}

static bool pod_ready(const cJSON *pod) {
        const cJSON *c;
        cJSON_ArrayForEach(c, ka_json_path(pod, "status.conditions")) {
                if (ka_streq(ka_json_str(c, "type"), "Ready"))
                        return ka_streq(ka_json_str(c, "status"), "True");
        }
        return false;
}

static void on_pod_event(struct harness *h, int type, cJSON *pod) {
        const char *name = ka_json_path_str(pod, "metadata.name");
        struct h_pod *p = ka_hashmap_get(&h->pods, name);
        if (type == KA_WATCH_DELETED) {
                if (p) {
                        ka_hashmap_remove(&h->pods, name);
                        cJSON_Delete(p->pod);
                        free(p);
                        h->deleted++;
                        h->live--;
                }
                cJSON_Delete(pod);
                return;
        }
        if (!p) {
                p = ka_new0(struct h_pod, 1);
                ka_hashmap_put(&h->pods, name, p);
                h->created++;
                h->live++;
                h->max_live = KA_MAX(h->max_live, h->live);
        }
        cJSON_Delete(p->pod);
        p->pod = pod;
        struct h_node *n = h_node(h, name);
        if (h->auto_online && n && n->registered && ka_streq(n->state, "offline") && pod_ready(pod) &&
            !ka_json_path(pod, "metadata.deletionTimestamp"))
                h_node_state(h, name, "online", NULL);
}

static void pump(struct harness *h, int timeout_ms) {
        struct pollfd fds[2] = {{.fd = ka_bus_agent_fd(h->fe), .events = POLLIN}, {.fd = h->efd, .events = POLLIN}};
        int t = ka_bus_agent_timeout(h->fe);
        if (t < 0 || t > timeout_ms)
                t = timeout_ms;
        poll(fds, 2, t);
        uint64_t n;
        ssize_t got = read(h->efd, &n, sizeof(n));
        (void)got;
        struct ka_bus_agent_event ev;
        while (ka_bus_agent_next(h->fe, 0, &ev) == 0) {
                if (ev.kind == KA_BUS_AGENT_CONNECTED)
                        h_hello(h);
                else if (ev.kind == KA_BUS_AGENT_MESSAGE)
                        on_core_message(h, ev.type, KA_TAKE(ev.data));
                ka_bus_agent_event_clear(&ev);
        }
        pthread_mutex_lock(&h->lock);
        cJSON *pending = h->pending;
        h->pending = cJSON_CreateArray();
        pthread_mutex_unlock(&h->lock);
        cJSON *e;
        while ((e = cJSON_DetachItemFromArray(pending, 0))) {
                on_pod_event(h, (int)ka_json_int(e, "type", 0), cJSON_DetachItemFromObjectCaseSensitive(e, "pod"));
                cJSON_Delete(e);
        }
        cJSON_Delete(pending);
}

bool h_until(struct harness *h, int64_t timeout_ms, bool (*cond)(struct harness *h, void *ud), void *ud) {
        int64_t end = ka_time_now_ms() + timeout_ms;
        for (;;) {
                if (cond(h, ud))
                        return true;
                int64_t left = end - ka_time_now_ms();
                if (left <= 0)
                        return false;
                pump(h, (int)KA_MIN(left, 100));
        }
}

size_t h_serve(struct harness *h, const char *expression, const int64_t *ids, size_t *waiting) {
        char **online = ka_new0(char *, 1);
        size_t it = 0, served = 0;
        void *v;
        while (ka_hashmap_next(&h->nodes, &it, NULL, &v)) {
                const struct h_node *n = v;
                if (ka_streq(n->state, "online"))
                        online = ka_strv_push(online, n->name);
        }
        for (size_t i = 0; online[i] && (!waiting || *waiting); i++) {
                if (waiting) {
                        --*waiting; /* the item leaves the queue */
                        h_demand(h, expression, ids, *waiting);
                }
                h_node_state(h, online[i], "busy", NULL);
                h_node_state(h, online[i], "idle", "SUCCESS");
                served++;
        }
        ka_strv_free(online);
        return served;
}

bool h_is_online(struct harness *h, void *ud) {
        const struct h_node *n = h_node(h, ud);
        return n && ka_streq(n->state, "online");
}

bool h_registers_over(struct harness *h, void *ud) {
        return h_count(h, "agent.register") > (size_t)(uintptr_t)ud;
}

bool h_item_failed(struct harness *h, void *ud) {
        int64_t id = *(int64_t *)ud;
        for (size_t i = 0; i < h_count(h, "demand.failed"); i++) {
                const cJSON *it;
                cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(h_msg(h, "demand.failed", i), "items"))
                        if ((int64_t)it->valuedouble == id)
                                return true;
        }
        return false;
}

bool h_settle(struct harness *h) {
        static int64_t ping = INT32_MAX;
        int64_t id = ++ping;
        h_demand(h, "kubeagent-test-settle", &id, 1);
        bool answered = h_until(h, 10000, h_item_failed, &id);
        h_demand(h, "kubeagent-test-settle", NULL, 0);
        if (!answered)
                tap_diag("the scheduler did not answer within 10 s");
        return answered;
}

char *h_agent_field(struct harness *h, const char *name, const char *path) {
        cJSON *a = h_agents(h);
        char *v = NULL;
        const cJSON *e;
        cJSON_ArrayForEach(e, a) {
                if (!v && ka_streq(ka_json_str(e, "name"), name))
                        v = ka_strdup(ka_json_path_str(e, path));
        }
        cJSON_Delete(a);
        return v;
}

size_t h_table_size(struct harness *h) {
        cJSON *a = h_agents(h);
        size_t n = (size_t)cJSON_GetArraySize(a);
        cJSON_Delete(a);
        return n;
}

void h_make_pod(struct harness *h, const char *ns, const char *name, bool ours, int64_t refresh) {
        cJSON *pod = cJSON_CreateObject();
        ka_json_set_str(pod, "apiVersion", "v1");
        ka_json_set_str(pod, "kind", "Pod");
        cJSON *meta = ka_json_object(pod, "metadata");
        ka_json_set_str(meta, "name", name);
        ka_json_set_str(ka_json_object(meta, "labels"), ours ? KA_LABEL_CLOUD : "jenkins", ours ? "kubernetes" : "slave");
        if (refresh) {
                char v[24];
                snprintf(v, sizeof(v), "%" PRId64, refresh);
                ka_json_set_str(ka_json_object(meta, "annotations"), KA_ANN_LAST_REFRESH, v);
        }
        cJSON *c = cJSON_CreateObject();
        ka_json_set_str(c, "name", "c");
        ka_json_set_str(c, "image", "busybox");
        cJSON *cmd = cJSON_CreateArray();
        cJSON_AddItemToArray(cmd, cJSON_CreateString("sleep"));
        cJSON_AddItemToArray(cmd, cJSON_CreateString("infinity"));
        ka_json_set(c, "command", cmd);
        cJSON_AddItemToArray(ka_json_array(ka_json_object(pod, "spec"), "containers"), c);
        struct ka_error err = {0};
        if (ka_kube_pod_create(h->kube, ns, pod, NULL, &err) < 0)
                tap_diag("create %s/%s: %s", ns, name, err.msg);
        cJSON_Delete(pod);
}

size_t h_count(const struct harness *h, const char *type) {
        size_t n = 0;
        for (size_t i = 0; i < h->n_msgs; i++)
                n += !strcmp(h->msgs[i].type, type);
        return n;
}

const cJSON *h_msg(const struct harness *h, const char *type, size_t n) {
        for (size_t i = 0; i < h->n_msgs; i++)
                if (!strcmp(h->msgs[i].type, type) && n-- == 0)
                        return h->msgs[i].payload;
        return NULL;
}

const cJSON *h_msg_for(const struct harness *h, const char *type, const char *name) {
        const cJSON *last = NULL;
        for (size_t i = 0; i < h->n_msgs; i++)
                if (!strcmp(h->msgs[i].type, type) && ka_streq(ka_json_str(h->msgs[i].payload, "name"), name))
                        last = h->msgs[i].payload;
        return last;
}

const cJSON *h_pod(const struct harness *h, const char *name) {
        const struct h_pod *p = ka_hashmap_get(&h->pods, name);
        return p ? p->pod : NULL;
}

bool h_log_contains(const struct harness *h, const char *text) {
        char *data = NULL;
        size_t len;
        struct ka_error err = {0};
        if (ka_read_file(h->log_path, 64 << 20, &data, &len, &err) < 0)
                return false;
        bool found = strstr(data, text) != NULL;
        free(data);
        return found;
}

double h_metric(const char *series) {
        struct ka_buf b = KA_BUF_INIT(0);
        ka_metrics_render(&b);
        double v = 0;
        size_t n = strlen(series);
        for (const char *l = b.data; l && *l;) {
                if (strncmp(l, series, n) == 0 && l[n] == ' ') {
                        v = strtod(l + n + 1, NULL);
                        break;
                }
                const char *nl = strchr(l, '\n');
                l = nl ? nl + 1 : NULL;
        }
        ka_buf_free(&b);
        return v;
}
