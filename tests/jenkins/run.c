/* The Jenkins frontend as the daemon runs it: frontend-jenkins.so loaded
 * through the real loader, its run() on a thread of its own, talking to a
 * real core endpoint over the bus (inproc://) through the host table's
 * bus_send/bus_recv, against the Jenkins simulator.  This program is the
 * core: it takes hello, synced and the demand, registers an agent, follows
 * it through busy to idle with its result, deletes it, and stops the
 * frontend (run() returns 0). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/agent.h"
#include "bus/config.h"
#include "bus/core.h"
#include "jsim.h"
#include "plugin/cfgmap.h"
#include "plugin/plugin.h"
#include "pluginconf.h"
#include "tap.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

static struct ka_registry reg;
static const struct kubeagent_plugin_handle *plugin;
static struct jsim sim;

static void bus_config(struct ka_bus_config *c) {
        cJSON *o = cJSON_CreateObject();
        ka_json_set_str(o, "workers", "inproc://jenkins-run-workers");
        ka_json_set_str(o, "frontends", "inproc://jenkins-run-frontends");
        ka_json_set_str(o, "resendInterval", "100ms");
        ka_json_set_str(o, "reconnectIntervalMax", "200ms");
        struct kubeagent_config_source src = ka_cfgsrc(o, NULL, (struct ka_loc){0});
        struct ka_diags d = {0};
        *c = (struct ka_bus_config){0};
        ka_cfgmap_fill(ka_bus_config_keys, &src, NULL, c, &d);
        ka_diags_free(&d);
        cJSON_Delete(o);
        const char *key;
        struct ka_error err = {0};
        if (ka_bus_config_validate(c, &key, &err) < 0)
                tap_diag("bus config: %s: %s", key, err.msg);
}

struct frontend_thread {
        pthread_t thread;
        void *conf;
        struct ka_bus_agent *agent;
        int rc;
        struct ka_error err;
};

static void *frontend_main(void *ud) {
        struct frontend_thread *f = ud;
        f->rc = plugin->desc->frontend->run(plugin->state, f->conf, ka_bus_agent_handle(f->agent), &f->err);
        return NULL;
}

/* The next application message from the frontend of type `type` (others
 * are dropped), with the sender's name in peer; NULL after 10 s. */
static cJSON *next_message(struct ka_bus_core *core, const char *type, char *peer) {
        for (int64_t end = ka_time_now_ms() + 10000; ka_time_now_ms() < end;) {
                struct ka_bus_core_event ev;
                if (ka_bus_core_next(core, 200, &ev) < 0)
                        continue;
                cJSON *got = NULL;
                if (ev.kind == KA_BUS_CORE_MESSAGE && strcmp(ev.type, type) == 0) {
                        got = ev.data;
                        ev.data = NULL;
                        if (peer)
                                snprintf(peer, KA_BUS_NAME_MAX + 1, "%s", ev.peer);
                }
                ka_bus_core_event_clear(&ev);
                if (got)
                        return got;
        }
        tap_diag("no %s message came", type);
        return NULL;
}

/* The next agent.state of name with the given state. */
static cJSON *next_state(struct ka_bus_core *core, const char *name, const char *state) {
        for (int64_t end = ka_time_now_ms() + 10000; ka_time_now_ms() < end;) {
                cJSON *m = next_message(core, "agent.state", NULL);
                if (!m)
                        break;
                if (strcmp(ka_json_path_str(m, "name"), name) == 0 && strcmp(ka_json_path_str(m, "state"), state) == 0)
                        return m;
                cJSON_Delete(m);
        }
        return NULL;
}

static void send_json(struct ka_bus_core *core, const char *peer, const char *type, const char *json) {
        cJSON *p = cJSON_Parse(json);
        struct ka_error err = {0};
        if (ka_bus_core_send(core, peer, type, p, &err) < 0)
                tap_diag("send %s: %s", type, err.msg);
        cJSON_Delete(p);
}

int main(void) {
        ka_mem_init();
        struct ka_error err = {0};
        plugin = jsim_plugin(&reg, &err);
        if (!plugin) {
                printf("1..0 # SKIP %s\n", err.msg);
                return 0;
        }
        if (!jsim_start(&sim, NULL)) {
                ok(false, "the Jenkins simulator starts");
                ka_registry_free(&reg);
                return tap_done();
        }
        /* a static node: Jenkins then names the label in why */
        jsim_admin(&sim, "POST", "/nodes", "{\"name\": \"static-1\", \"labels\": \"tools\"}", NULL);

        struct ka_bus_config bc;
        bus_config(&bc);
        struct ka_bus_core *core = NULL;
        is_int(ka_bus_core_new(&bc, NULL, &core, &err), 0, "a core endpoint");
        struct frontend_thread f = {0};
        struct ka_bus_agent_options o = {.role = KA_BUS_ROLE_FRONTEND, .name = "jenkins"};
        is_int(ka_bus_agent_new(&bc, &o, NULL, &f.agent, &err), 0, "the frontend's end of the bus");
        static const struct ka_host_bus ops = {.send = ka_bus_host_send, .recv = ka_bus_host_recv};
        ka_host_set_bus(&ops);

        _cleanup_free_ char *tf = jsim_file(&sim, "token-kubeagent");
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "{url: \"%s\", user: kubeagent, tokenFile: \"%s\", pollInterval: 200ms, "
                                     "namePrefix: ka-}",
                 sim.url, tf);
        is_int(plugin_conf_yaml(plugin, yaml, &f.conf, &err), 0, "frontends.jenkins through the plugin's key table");
        pthread_create(&f.thread, NULL, frontend_main, &f);

        char peer[KA_BUS_NAME_MAX + 1] = "";
        cJSON *m = next_message(core, "frontend.hello", peer);
        ok(m && strcmp(ka_json_path_str(m, "namePrefix"), "ka-") == 0 && *peer, "frontend.hello from run(), over the bus");
        cJSON_Delete(m);
        m = next_message(core, "frontend.synced", NULL);
        ok(m != NULL, "frontend.synced");
        cJSON_Delete(m);

        jsim_build(&sim, "{\"job\": \"team-a/app\", \"label\": \"linux\", \"durationMs\": 300, \"afterMs\": 200, "
                         "\"result\": \"FAILURE\"}");
        m = next_message(core, "demand", NULL);
        const cJSON *item = m ? cJSON_GetArrayItem(cJSON_GetObjectItem(m, "items"), 0) : NULL;
        ok(m && strcmp(ka_json_path_str(m, "expression"), "linux") == 0 && item &&
                   strcmp(ka_json_path_str(item, "job"), "team-a/app") == 0,
           "demand for linux with the job's full name");
        char items[64] = "[]";
        if (item)
                snprintf(items, sizeof(items), "[%d]", (int)ka_json_path(item, "id")->valuedouble);
        cJSON_Delete(m);

        char reg_json[1024];
        snprintf(reg_json, sizeof(reg_json),
                 "{\"name\": \"ka-linux-r5s6t\", \"cloud\": \"kubernetes\", \"template\": \"linux\", \"labels\": "
                 "\"linux\", \"mode\": \"EXCLUSIVE\", \"remoteFs\": \"/home/jenkins/agent\", \"webSocket\": false, "
                 "\"idleMinutes\": 0, \"description\": \"kubeagent\", \"items\": %s}",
                 items);
        send_json(core, peer, "agent.register", reg_json);
        m = next_message(core, "agent.registered", NULL);
        _cleanup_free_ char *want = jsim_secret(&sim, "ka-linux-r5s6t");
        ok(m && strcmp(ka_json_path_str(m, "secret"), want) == 0, "agent.registered with the secret, over the bus");
        cJSON_Delete(m);
        int fd = jsim_agent(&sim, "ka-linux-r5s6t", want);
        m = next_state(core, "ka-linux-r5s6t", "busy");
        ok(m && ka_endswith(ka_json_path_str(m, "run"), "job/team-a/job/app/1/"), "agent.state busy with its run");
        cJSON_Delete(m);
        for (m = NULL; !m;) {
                cJSON *s = next_state(core, "ka-linux-r5s6t", "idle");
                if (!s)
                        break;
                if (ka_json_path_str(s, "result"))
                        m = s;
                else
                        cJSON_Delete(s);
        }
        ok(m && strcmp(ka_json_path_str(m, "result"), "FAILURE") == 0, "agent.state idle with the result FAILURE");
        cJSON_Delete(m);
        send_json(core, peer, "agent.delete", "{\"name\": \"ka-linux-r5s6t\"}");
        m = next_state(core, "ka-linux-r5s6t", "gone");
        ok(m != NULL, "agent.delete: agent.state gone");
        cJSON_Delete(m);
        cJSON *node = jsim_node(&sim, "ka-linux-r5s6t");
        ok(!node, "the node is deleted from the controller");
        cJSON_Delete(node);
        if (fd >= 0)
                close(fd);

        ka_bus_core_stop(core, peer, "the test is over");
        for (int64_t end = ka_time_now_ms() + 5000; ka_time_now_ms() < end;) {
                struct ka_bus_core_event ev;
                if (ka_bus_core_next(core, 100, &ev) == 0)
                        ka_bus_core_event_clear(&ev);
                if (pthread_tryjoin_np(f.thread, NULL) == 0) {
                        f.thread = 0;
                        break;
                }
        }
        ok(f.thread == 0 && f.rc == 0, "stop: run() returns 0");
        if (f.thread)
                pthread_join(f.thread, NULL);
        ka_host_set_bus(NULL);
        ka_bus_agent_free(f.agent);
        ka_bus_core_free(core);
        ka_cfgmap_clear(ka_bus_config_keys, &bc);
        ka_plugin_conf_free(plugin, 0, f.conf);
        char *log = jsim_log();
        ok(!strstr(log, want), "no agent secret in the log");
        free(log);
        int rc = tap_done();
        jsim_log_end();
        jsim_stop(&sim);
        ka_registry_free(&reg);
        ka_secret_reset();
        return rc;
}
