/* The Jenkins frontend's side of the provisioning protocol
 * (core/bus/PROTOCOL.md) against the Jenkins simulator, with this program
 * playing the core: hello and synced, demand per label expression in every
 * why form (no agents at all, a label, a node of ours starting for it, a
 * foreign node, a resumed pipeline block), sent before the nodes' states, agents registered with their
 * secret, their states (offline, busy with the run, idle with the result,
 * gone), single-use agents taken offline when their build starts (looked
 * at every 250 ms while they wait for it; a build that began and ended
 * between two looks found from its queue item), failure marks, deletions,
 * adoption by a new frontend, a controller restart in the middle of a
 * build, refused registrations and malformed messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugins/credentials/common/credutil.h"
#include "../../plugins/frontends/jenkins/jenkins.h"
#include "jsim.h"
#include "plugin/plugin.h"
#include "pluginconf.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"

static struct ka_registry reg;
static const struct kubeagent_plugin_handle *plugin;
static struct jsim sim;

/* ---- the core's end: what the frontend sent ---------------------------------------- */

struct box {
        cJSON *msgs;            /* array, in order */
};

static void collect(void *ud, const cJSON *m) {
        struct box *b = ud;
        cJSON_AddItemToArray(b->msgs, cJSON_Duplicate(m, true));
}

static void box_clear(struct box *b) {
        cJSON_Delete(b->msgs);
        b->msgs = cJSON_CreateArray();
}

/* The first message of type `type` whose `key` member is `value` (key NULL:
 * any), taken out of the box (the caller deletes it), or NULL. */
static cJSON *take(struct box *b, const char *type, const char *key, const char *value) {
        int i = 0;
        cJSON *m;
        cJSON_ArrayForEach(m, b->msgs) {
                const char *t = ka_json_path_str(m, "type");
                const char *v = key ? ka_json_path_str(m, key) : NULL;
                if (t && strcmp(t, type) == 0 && (!key || (v && strcmp(v, value) == 0)))
                        return cJSON_DetachItemFromArray(b->msgs, i);
                i++;
        }
        return NULL;
}

/* Where the first message of `type` whose `key` member is `value` is in
 * the box, or -1. */
static int position(const struct box *b, const char *type, const char *key, const char *value) {
        int i = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, b->msgs) {
                const char *v = ka_json_path_str(m, key);
                if (strcmp(ka_json_path_str(m, "type"), type) == 0 && v && strcmp(v, value) == 0)
                        return i;
                i++;
        }
        return -1;
}

static int count(const struct box *b, const char *type) {
        int n = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, b->msgs) n += strcmp(ka_json_path_str(m, "type"), type) == 0;
        return n;
}

struct fe {
        struct jk_conf *conf;
        struct jk_frontend *f;
        struct box box;
        int64_t last_delay;
};

/* A frontend acting as user that looks every `poll` ("200ms"). */
static bool fe_new(struct fe *fe, const char *user, const char *poll) {
        char yaml[1024], name[64];
        snprintf(name, sizeof(name), "token-%s", user);
        _cleanup_free_ char *tf = jsim_file(&sim, name);
        snprintf(yaml, sizeof(yaml), "{url: \"%s\", user: %s, tokenFile: \"%s\", pollInterval: %s, timeout: 5, "
                                     "namePrefix: ka-}",
                 sim.url, user, tf, poll);
        struct ka_error err = {0};
        void *conf = NULL;
        *fe = (struct fe){.box.msgs = cJSON_CreateArray()};
        if (plugin_conf_yaml(plugin, yaml, &conf, &err) < 0 || jk_frontend_new(conf, collect, &fe->box, &fe->f, &err) < 0) {
                tap_diag("frontend: %s", err.msg);
                if (conf)
                        ka_plugin_conf_free(plugin, 0, conf);
                return false;
        }
        fe->conf = conf;
        return true;
}

static void fe_free(struct fe *fe) {
        jk_frontend_free(fe->f);
        ka_plugin_conf_free(plugin, 0, fe->conf);
        cJSON_Delete(fe->box.msgs);
}

static void cycle(struct fe *fe) {
        fe->last_delay = jk_frontend_cycle(fe->f);
}

/* Look again and again until a message of `type` (with key == value)
 * arrives; it is returned, taken out of the box. */
static cJSON *await(struct fe *fe, const char *type, const char *key, const char *value) {
        for (int64_t end = ka_time_now_ms() + 10000; ka_time_now_ms() < end;) {
                cJSON *m = take(&fe->box, type, key, value);
                if (m)
                        return m;
                cycle(fe);
                usleep(20000);
        }
        tap_diag("no %s %s=%s came", type, key ? key : "", value ? value : "");
        return NULL;
}

/* An agent.state of name with state `state`. */
static cJSON *await_state(struct fe *fe, const char *name, const char *state) {
        for (int64_t end = ka_time_now_ms() + 10000; ka_time_now_ms() < end;) {
                cJSON *m;
                while ((m = take(&fe->box, "agent.state", "name", name))) {
                        if (strcmp(ka_json_path_str(m, "state"), state) == 0)
                                return m;
                        cJSON_Delete(m);
                }
                cycle(fe);
                usleep(20000);
        }
        tap_diag("%s never reported %s", name, state);
        return NULL;
}

static void send_msg(struct fe *fe, const char *json) {
        cJSON *m = cJSON_Parse(json);
        if (!m)
                tap_diag("test bug: bad JSON %s", json);
        jk_frontend_handle(fe->f, m);
        cJSON_Delete(m);
}

static void send_register(struct fe *fe, const char *name, const char *labels, int idle, const char *items) {
        char json[1024];
        snprintf(json, sizeof(json),
                 "{\"type\": \"agent.register\", \"name\": \"%s\", \"cloud\": \"kubernetes\", \"template\": \"t\", "
                 "\"labels\": \"%s\", \"mode\": \"EXCLUSIVE\", \"remoteFs\": \"/home/jenkins/agent\", "
                 "\"webSocket\": false, \"idleMinutes\": %d, \"description\": \"kubeagent: template t\", "
                 "\"items\": %s}",
                 name, labels, idle, items);
        send_msg(fe, json);
}

/* The items of a demand message, as "id:job" separated by commas. */
static char *items_of(const cJSON *m) {
        char *out = ka_strdup("");
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(m, "items")) {
                char *next = ka_asprintf("%s%s%d:%s", out, *out ? "," : "", (int)ka_json_path(it, "id")->valuedouble,
                                         ka_json_path_str(it, "job") ? ka_json_path_str(it, "job") : "-");
                free(out);
                out = next;
        }
        return out;
}

static int item_count(const cJSON *m) {
        return m ? cJSON_GetArraySize(cJSON_GetObjectItem(m, "items")) : -1;
}

/* ---- the scenarios -------------------------------------------------------------------------- */

/* How many node deletions the controller was asked for. */
static int delete_requests(void) {
        char *body = NULL;
        int n = -1;
        if (jsim_admin(&sim, "GET", "/stats", NULL, &body) == 200) {
                cJSON *doc = cJSON_Parse(body), *r;
                n = 0;
                cJSON_ArrayForEach(r, ka_json_path(doc, "requests"))
                        if (ka_startswith(r->string, "POST /computer/{name}/doDelete "))
                                n += r->valueint;
                cJSON_Delete(doc);
        }
        free(body);
        return n;
}

static int agent_fd[8];

static void test_demand_and_agents(struct fe *fe) {
        jk_frontend_connected(fe->f);
        cJSON *hello = take(&fe->box, "frontend.hello", NULL, NULL);
        ok(hello && strcmp(ka_json_path_str(hello, "url"), sim.url) == 0 &&
                   strcmp(ka_json_path_str(hello, "namePrefix"), "ka-") == 0,
           "frontend.hello with the root URL and the name prefix");
        cJSON_Delete(hello);
        cJSON *synced = await(fe, "frontend.synced", NULL, NULL);
        ok(synced != NULL, "frontend.synced after the first good look");
        cJSON_Delete(synced);
        is_int(count(&fe->box, "demand"), 0, "no demand in an empty queue");

        /* no agents at all: Jenkins does not say which label pipelines want */
        jsim_build(&sim, "{\"job\": \"team-a/app\", \"label\": \"linux && docker\", \"durationMs\": 300, \"afterMs\": 400}");
        jsim_build(&sim, "{\"job\": \"team-b/web\", \"label\": \"linux && docker\", \"durationMs\": 300, \"afterMs\": 400}");
        jsim_build(&sim, "{\"job\": \"folder/pack\", \"kind\": \"freestyle\", \"label\": \"win\", \"durationMs\": 100}");
        cJSON *win = await(fe, "demand", "expression", "win");
        _cleanup_free_ char *win_items = win ? items_of(win) : NULL;
        like(win_items ? win_items : "", ":folder/pack", "a free-style job: its labelExpression, job in a folder");
        cJSON_Delete(win);

        /* the frontend creates a placeholder node: then Jenkins names the label */
        cJSON *ld = await(fe, "demand", "expression", "linux&&docker");
        cJSON *anchor = jsim_node(&sim, "ka-anchor");
        ok(anchor && cJSON_IsTrue(ka_json_path(anchor, "temporarilyOffline")) &&
                   strcmp(ka_json_path_str(anchor, "mode"), "EXCLUSIVE") == 0 &&
                   strcmp(ka_json_path_str(anchor, "labels"), "") == 0,
           "no agents at all: a placeholder node (EXCLUSIVE, no label, offline) makes Jenkins name labels");
        cJSON_Delete(anchor);
        ok(!take(&fe->box, "agent.state", "name", "ka-anchor"), "  it is not an agent");
        jsim_admin(&sim, "POST", "/nodes", "{\"name\": \"static-1\", \"labels\": \"tools\"}", NULL);
        is_int(item_count(ld), 2, "demand for linux&&docker: two items, grouped by expression");
        const cJSON *first = ld ? cJSON_GetArrayItem(cJSON_GetObjectItem(ld, "items"), 0) : NULL;
        ok(first && strcmp(ka_json_path_str(first, "url"), "job/team-a/job/app/1/") == 0 &&
                   ka_json_path(first, "since")->valuedouble > 0,
           "  each with its id, job, task URL and time in the queue");
        _cleanup_free_ char *ids = ka_strdup("[");
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(ld, "items")) {
                char *next = ka_asprintf("%s%s%d", ids, strlen(ids) > 1 ? "," : "", (int)ka_json_path(it, "id")->valuedouble);
                free(ids);
                ids = next;
        }
        char *closed = ka_asprintf("%s]", ids);
        free(ids);
        ids = closed;
        cJSON_Delete(ld);
        ok(!take(&fe->box, "demand", "expression", ""),
           "  and before, while Jenkins hid it, the blocks were no demand (not demand for no label)");
        cycle(fe);
        cycle(fe);
        is_int(count(&fe->box, "demand"), 0, "an unchanged set is not sent again");

        /* the core plans a single-use agent for linux&&docker */
        send_register(fe, "ka-linux-b2c3d", "linux docker", 0, ids);
        cJSON *r = take(&fe->box, "agent.registered", "name", "ka-linux-b2c3d");
        _cleanup_free_ char *want = jsim_secret(&sim, "ka-linux-b2c3d");
        ok(r && strcmp(ka_json_path_str(r, "secret"), want) == 0, "agent.registered with the node's secret");
        cJSON_Delete(r);
        cJSON *node = jsim_node(&sim, "ka-linux-b2c3d");
        ok(node && strcmp(ka_json_path_str(node, "mode"), "EXCLUSIVE") == 0 &&
                   strcmp(ka_json_path_str(node, "labels"), "linux docker") == 0 &&
                   ka_endswith(ka_json_path_str(node, "description"), " [single-use]"),
           "the node: EXCLUSIVE, the template's labels, marked single-use in its description");
        cJSON_Delete(node);
        cJSON *st = await_state(fe, "ka-linux-b2c3d", "offline");
        ok(st != NULL, "agent.state offline while its agent is not connected");
        cJSON_Delete(st);
        cycle(fe);
        cycle(fe);
        ok(count(&fe->box, "demand") == 0,
           "why now names our node: its items stay with linux&&docker, not counted again");

        _cleanup_free_ char *secret = jsim_secret(&sim, "ka-linux-b2c3d");
        agent_fd[0] = jsim_agent(&sim, "ka-linux-b2c3d", secret);
        int busy_at = -1;
        for (int64_t end = ka_time_now_ms() + 10000; busy_at < 0 && ka_time_now_ms() < end; usleep(20000)) {
                cycle(fe);
                busy_at = position(&fe->box, "agent.state", "state", "busy");
        }
        int shrink_at = position(&fe->box, "demand", "expression", "linux&&docker");
        ok(shrink_at >= 0 && shrink_at < busy_at,
           "the item the agent took leaves the demand before the agent is said busy (else the core would "
           "plan another agent for the item it had been planned for)");
        st = await_state(fe, "ka-linux-b2c3d", "busy");
        ok(st && ka_endswith(ka_json_path_str(st, "run"), "/job/team-a/job/app/1/"), "busy, with the run's URL");
        cJSON_Delete(st);
        node = jsim_node(&sim, "ka-linux-b2c3d");
        ok(node && cJSON_IsTrue(ka_json_path(node, "temporarilyOffline")) &&
                   ka_startswith(ka_json_path_str(node, "offlineCauseReason"), "single-use agent"),
           "single use: taken temporarily offline as soon as its build started");
        cJSON_Delete(node);
        cJSON *shrunk = await(fe, "demand", "expression", "linux&&docker");
        is_int(item_count(shrunk), 1, "the demand shrinks when an item leaves the queue");
        cJSON_Delete(shrunk);
        st = await_state(fe, "ka-linux-b2c3d", "idle");
        ok(st && !ka_json_path(st, "result"), "idle when its node block ended, no result while the run builds");
        cJSON_Delete(st);
        st = await(fe, "agent.state", "result", "SUCCESS");
        ok(st && strcmp(ka_json_path_str(st, "name"), "ka-linux-b2c3d") == 0 &&
                   strcmp(ka_json_path_str(st, "state"), "idle") == 0,
           "then idle with the result, once the run is no longer building");
        cJSON_Delete(st);

        send_msg(fe, "{\"type\": \"agent.delete\", \"name\": \"ka-linux-b2c3d\"}");
        st = take(&fe->box, "agent.state", "name", "ka-linux-b2c3d");
        ok(st && strcmp(ka_json_path_str(st, "state"), "gone") == 0, "agent.delete: deleted, agent.state gone");
        cJSON_Delete(st);
        node = jsim_node(&sim, "ka-linux-b2c3d");
        ok(!node, "the node is gone from the controller");
        cJSON_Delete(node);
        int deletes = delete_requests();
        send_msg(fe, "{\"type\": \"agent.delete\", \"name\": \"ka-linux-b2c3d\"}");
        st = take(&fe->box, "agent.state", "name", "ka-linux-b2c3d");
        ok(st && strcmp(ka_json_path_str(st, "state"), "gone") == 0 && deletes > 0 && delete_requests() == deletes,
           "agent.delete again (the core repeats it after a late report): gone, without asking the controller again");
        cJSON_Delete(st);
        close(agent_fd[0]);

        /* a failure shows as the node's offline cause */
        send_register(fe, "ka-linux-f4g5h", "linux docker", 5, "[]");
        cJSON_Delete(take(&fe->box, "agent.registered", NULL, NULL));
        send_msg(fe, "{\"type\": \"agent.offline\", \"name\": \"ka-linux-f4g5h\", "
                     "\"reason\": \"ImagePullBackOff: image maven:nope not found\"}");
        node = jsim_node(&sim, "ka-linux-f4g5h");
        ok(node && cJSON_IsTrue(ka_json_path(node, "temporarilyOffline")) &&
                   strcmp(ka_json_path_str(node, "offlineCauseReason"), "ImagePullBackOff: image maven:nope not found") ==
                           0,
           "agent.offline: the node is temporarily offline with the failure as its cause");
        cJSON_Delete(node);
        st = await(fe, "agent.state", "reason", "ImagePullBackOff: image maven:nope not found");
        ok(st && strcmp(ka_json_path_str(st, "state"), "offline") == 0, "  and reported offline with that reason");
        cJSON_Delete(st);
        send_msg(fe, "{\"type\": \"agent.delete\", \"name\": \"ka-linux-f4g5h\"}");
        cJSON_Delete(take(&fe->box, "agent.state", "name", "ka-linux-f4g5h"));

        /* deleted by someone else */
        send_register(fe, "ka-linux-h6j7k", "linux docker", 0, "[]");
        cJSON_Delete(take(&fe->box, "agent.registered", NULL, NULL));
        cJSON_Delete(await_state(fe, "ka-linux-h6j7k", "offline"));
        struct jk_client *adm = NULL;
        struct jk_conf aconf = *fe->conf;
        _cleanup_free_ char *atok = jsim_file(&sim, "token-admin");
        aconf.user = (char *)"admin";
        aconf.token_file = atok;
        struct ka_error err = {0};
        if (jk_client_new(&aconf, &adm, &err) == 0) {
                jk_node_delete(adm, "ka-linux-h6j7k", &err);
                jk_client_free(adm);
        }
        st = await_state(fe, "ka-linux-h6j7k", "gone");
        ok(st != NULL, "a node deleted outside kubeagent: agent.state gone");
        cJSON_Delete(st);
}

static void test_foreign_and_adoption(struct fe *fe) {
        /* one foreign node matches: what it offers stands for the label */
        jsim_admin(&sim, "POST", "/nodes", "{\"name\": \"solo-1\", \"labels\": \"solo extra\"}", NULL);
        jsim_build(&sim, "{\"job\": \"solo-job\", \"label\": \"solo\", \"durationMs\": 100}");
        cJSON *d = await(fe, "demand", "expression", "extra&&solo");
        is_int(item_count(d), 1, "why names a foreign node: demand for what that node offers");
        cJSON_Delete(d);

        /* a new frontend (kubeagent restarted) finds its nodes by prefix and shape */
        jsim_admin(&sim, "POST", "/nodes", "{\"name\": \"ka-tools\", \"labels\": \"tools\"}", NULL);
        send_register(fe, "ka-linux-k8m9n", "linux docker", 0, "[]");
        cJSON_Delete(take(&fe->box, "agent.registered", NULL, NULL));
        struct fe fe2;
        if (!fe_new(&fe2, "kubeagent", "200ms")) {
                ok(false, "a second frontend");
                return;
        }
        jk_frontend_connected(fe2.f);
        cJSON *st = await_state(&fe2, "ka-linux-k8m9n", "offline");
        ok(st != NULL, "adoption: a restarted frontend reports the nodes with its prefix");
        cJSON_Delete(st);
        ok(!take(&fe2.box, "agent.state", "name", "static-1") && !take(&fe2.box, "agent.state", "name", "solo-1") &&
                   !take(&fe2.box, "agent.state", "name", "ka-anchor") &&
                   !take(&fe2.box, "agent.state", "name", "ka-tools"),
           "  and only those (not the placeholder, nor a user's node that merely has the prefix)");
        cJSON *synced = await(&fe2, "frontend.synced", NULL, NULL);
        ok(synced != NULL, "  then frontend.synced");
        cJSON_Delete(synced);
        _cleanup_free_ char *secret = jsim_secret(&sim, "ka-linux-k8m9n");
        agent_fd[1] = jsim_agent(&sim, "ka-linux-k8m9n", secret);
        st = await_state(&fe2, "ka-linux-k8m9n", "busy");
        ok(st != NULL, "the adopted agent takes the waiting linux&&docker build");
        cJSON_Delete(st);
        cJSON *node = jsim_node(&sim, "ka-linux-k8m9n");
        ok(node && cJSON_IsTrue(ka_json_path(node, "temporarilyOffline")),
           "its description says single use: taken offline when busy");
        cJSON_Delete(node);

        /* kubeagent restarts again while the build runs; it ends meanwhile */
        fe_free(&fe2);
        bool ended = false;
        for (int64_t end = ka_time_now_ms() + 10000; !ended && ka_time_now_ms() < end; usleep(20000)) {
                node = jsim_node(&sim, "ka-linux-k8m9n");
                ended = node && cJSON_IsTrue(ka_json_path(node, "idle"));
                cJSON_Delete(node);
        }
        ok(ended, "the build on the adopted agent ends while no frontend looks");
        if (!fe_new(&fe2, "kubeagent", "200ms")) {
                ok(false, "a third frontend");
                return;
        }
        jk_frontend_connected(fe2.f);
        st = await(&fe2, "agent.state", "name", "ka-linux-k8m9n");
        ok(st && strcmp(ka_json_path_str(st, "state"), "idle") == 0,
           "a single-use node found offline as single-use and idle had its build: reported idle, not online (%s)",
           st ? ka_json_path_str(st, "state") : "none");
        cJSON_Delete(st);
        send_msg(&fe2, "{\"type\": \"agent.delete\", \"name\": \"ka-linux-k8m9n\"}");
        close(agent_fd[1]);
        fe_free(&fe2);
        cJSON_Delete(await_state(fe, "ka-linux-k8m9n", "gone"));
}

static void test_restart(struct fe *fe) {
        send_register(fe, "ka-rs-p1q2r", "rs", 0, "[]");
        cJSON_Delete(take(&fe->box, "agent.registered", NULL, NULL));
        _cleanup_free_ char *secret = jsim_secret(&sim, "ka-rs-p1q2r");
        agent_fd[2] = jsim_agent(&sim, "ka-rs-p1q2r", secret);
        jsim_build(&sim, "{\"job\": \"team-r/long\", \"label\": \"rs\", \"durationMs\": 1500, \"result\": \"UNSTABLE\"}");
        cJSON *st = await_state(fe, "ka-rs-p1q2r", "busy");
        char *run = st ? ka_strdup(ka_json_path_str(st, "run")) : NULL;
        cJSON_Delete(st);
        cycle(fe);      /* marked single use */

        jsim_admin(&sim, "POST", "/restart", "{\"downMs\": 500, \"loadingMs\": 400}", NULL);
        send_register(fe, "ka-rs-s3t4v", "rs", 0, "[]");
        cJSON *rf = take(&fe->box, "agent.register-failed", "name", "ka-rs-s3t4v");
        ok(rf && cJSON_IsTrue(ka_json_path(rf, "retry")), "a register while the controller is down: retry true");
        cJSON_Delete(rf);
        bool backed_off = false, up = false;
        for (int64_t end = ka_time_now_ms() + 10000; !(backed_off && up) && ka_time_now_ms() < end; usleep(50000)) {
                cycle(fe);
                backed_off |= fe->last_delay > fe->conf->poll_interval_ms;
                char *body = NULL;
                jsim_admin(&sim, "GET", "/healthz", NULL, &body);
                up = body && strstr(body, "\"up\"");
                free(body);
        }
        ok(backed_off, "while the controller is down the looks back off");
        close(agent_fd[2]);
        cJSON *d = await(fe, "demand", "node", "ka-rs-p1q2r");
        _cleanup_free_ char *items = d ? items_of(d) : NULL;
        like(items ? items : "", ":team-r/long", "the resumed block is demand for its node, by name");
        cJSON_Delete(d);
        cJSON *node = jsim_node(&sim, "ka-rs-p1q2r");
        ok(node && !cJSON_IsTrue(ka_json_path(node, "temporarilyOffline")),
           "the single-use node is let back online for it");
        cJSON_Delete(node);
        agent_fd[2] = jsim_agent(&sim, "ka-rs-p1q2r", secret);
        st = await_state(fe, "ka-rs-p1q2r", "busy");
        ok(st && run && strcmp(ka_json_path_str(st, "run"), run) == 0, "the block resumes on it: busy with the same run");
        cJSON_Delete(st);
        st = await(fe, "agent.state", "result", "UNSTABLE");
        ok(st && strcmp(ka_json_path_str(st, "name"), "ka-rs-p1q2r") == 0, "and ends with its result");
        cJSON_Delete(st);
        node = jsim_node(&sim, "ka-rs-p1q2r");
        ok(node && cJSON_IsTrue(ka_json_path(node, "temporarilyOffline")), "taken offline again (single use)");
        cJSON_Delete(node);
        send_msg(fe, "{\"type\": \"agent.delete\", \"name\": \"ka-rs-p1q2r\"}");
        close(agent_fd[2]);
        free(run);
}

/* The simulator's run of job (#1) once it no longer builds (admin /builds,
 * read until it says so), or NULL. */
static cJSON *finished_run(const char *job) {
        for (int64_t end = ka_time_now_ms() + 10000; ka_time_now_ms() < end; usleep(20000)) {
                _cleanup_free_ char *body = NULL;
                cJSON *list = NULL, *found = NULL;
                if (jsim_admin(&sim, "GET", "/builds", NULL, &body) == 200)
                        ka_json_parse(body, strlen(body), &list, NULL);
                const cJSON *b;
                cJSON_ArrayForEach(b, list) if (!found && strcmp(ka_json_path_str(b, "job"), job) == 0 &&
                                                cJSON_IsFalse(ka_json_path(b, "building"))) found =
                        cJSON_Duplicate(b, true);
                cJSON_Delete(list);
                if (found)
                        return found;
        }
        tap_diag("%s never finished", job);
        return NULL;
}

/* How many requests of `key` ("GET /queue/api/json 200") the simulator served. */
static int served(const char *key) {
        _cleanup_free_ char *body = NULL;
        cJSON *st = NULL;
        if (jsim_admin(&sim, "GET", "/stats", NULL, &body) != 200 || ka_json_parse(body, strlen(body), &st, NULL) < 0)
                return -1;
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "requests"), key);
        int v = cJSON_IsNumber(n) ? (int)n->valuedouble : 0;
        cJSON_Delete(st);
        return v;
}

/* Single use with builds far shorter than pollInterval (2 s here): while
 * the agent waits for its first build the nodes are looked at every 250 ms
 * (the queue still every pollInterval); a 100 ms build that starts and ends
 * between two looks is found from its queue item: the node is taken offline
 * and reported idle with the run, and the next build does not go to it. */
static void test_short_build(void) {
        struct fe f;
        if (!fe_new(&f, "kubeagent", "2s")) {
                ok(false, "a frontend with pollInterval 2s");
                return;
        }
        jk_frontend_connected(f.f);
        cJSON_Delete(await(&f, "frontend.synced", NULL, NULL));
        ok(f.last_delay > 1000 && f.last_delay <= 2000,
           "no single-use agent waits: the next look in pollInterval (%lld ms)", (long long)f.last_delay);
        jsim_build(&sim, "{\"job\": \"quick/one\", \"kind\": \"freestyle\", \"label\": \"quick\", \"durationMs\": 100}");
        cJSON *d = await(&f, "demand", "expression", "quick");
        const cJSON *item = d ? cJSON_GetArrayItem(cJSON_GetObjectItem(d, "items"), 0) : NULL;
        char items[64];
        snprintf(items, sizeof(items), "[%d]", item ? (int)ka_json_path(item, "id")->valuedouble : -1);
        cJSON_Delete(d);
        send_register(&f, "ka-quick-a1b2c", "quick", 0, items);
        cJSON_Delete(take(&f.box, "agent.registered", "name", "ka-quick-a1b2c"));
        ok(jk_frontend_due(f.f) - ka_time_now_ms() <= 250, "registering a single-use agent brings the next look within 250 ms");
        int queue_polls = served("GET /queue/api/json 200"), node_polls = served("GET /computer/api/json 200");
        cycle(&f);
        int64_t delay = f.last_delay;
        cycle(&f);
        ok(delay <= 250 && f.last_delay <= 250,
           "a single-use agent waits for its first build (its pod starting): the next look in 250 ms (%lld, %lld)",
           (long long)delay, (long long)f.last_delay);
        ok(served("GET /computer/api/json 200") == node_polls + 2 && served("GET /queue/api/json 200") == queue_polls,
           "  those looks read the nodes only, not the queue");

        /* the agent connects, runs its build and is idle again before the next look */
        _cleanup_free_ char *secret = jsim_secret(&sim, "ka-quick-a1b2c");
        int fd = jsim_agent(&sim, "ka-quick-a1b2c", secret);
        cJSON *run = finished_run("quick/one");
        ok(run && strcmp(ka_json_path_str(run, "builtOn"), "ka-quick-a1b2c") == 0,
           "a 100 ms build ran on the agent between two looks");
        cJSON *st = await_state(&f, "ka-quick-a1b2c", "idle");
        ok(st && run && strcmp(ka_json_path_str(st, "run"), ka_json_path_str(run, "url")) == 0 &&
                   ka_json_path_str(st, "result") && strcmp(ka_json_path_str(st, "result"), "SUCCESS") == 0,
           "found from its queue item: the agent is reported idle with that run and its result");
        cJSON_Delete(st);
        cJSON_Delete(run);
        cJSON *node = jsim_node(&sim, "ka-quick-a1b2c");
        ok(node && cJSON_IsTrue(ka_json_path(node, "temporarilyOffline")) &&
                   ka_startswith(ka_json_path_str(node, "offlineCauseReason"), "single-use agent"),
           "  and its node is taken offline as single use");
        cJSON_Delete(node);
        cycle(&f);
        ok(f.last_delay > 250, "  no single-use agent waits any more: looks every pollInterval again");
        jsim_build(&sim, "{\"job\": \"quick/two\", \"kind\": \"freestyle\", \"label\": \"quick\", \"durationMs\": 100}");
        d = await(&f, "demand", "expression", "quick");
        _cleanup_free_ char *body = NULL;
        cJSON *queue = NULL;
        if (jsim_admin(&sim, "GET", "/queue", NULL, &body) == 200)
                ka_json_parse(body, strlen(body), &queue, NULL);
        const char *why = NULL;
        const cJSON *q;
        cJSON_ArrayForEach(q, queue) if (strcmp(ka_json_path_str(q, "job"), "quick/two") == 0) why =
                ka_json_path_str(q, "why");
        is_str(why, "\u2018ka-quick-a1b2c\u2019 is offline",
               "the next build does not go to it: it waits, the node being offline");
        cJSON_Delete(queue);
        cJSON_Delete(d);
        send_msg(&f, "{\"type\": \"agent.delete\", \"name\": \"ka-quick-a1b2c\"}");
        close(fd);
        fe_free(&f);
}

static void test_refusals(struct fe *fe) {
        box_clear(&fe->box);
        send_register(fe, "other-x-12345", "x", 0, "[]");
        cJSON *m = take(&fe->box, "agent.register-failed", NULL, NULL);
        ok(m && !cJSON_IsTrue(ka_json_path(m, "retry")), "a name without our prefix: register-failed, retry false");
        cJSON_Delete(m);
        static const char *const bad[] = {
                "{\"type\": \"agent.delete\", \"name\": \"ka-x-12345\", \"extra\": 1}",
                "{\"type\": \"agent.delete\"}",
                "{\"type\": \"agent.offline\", \"name\": \"ka-x-12345\", \"reason\": 7}",
                "{\"type\": \"agent.reboot\", \"name\": \"ka-x-12345\"}",
                "{\"name\": \"ka-x-12345\"}",
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(bad); i++)
                send_msg(fe, bad[i]);
        is_int(cJSON_GetArraySize(fe->box.msgs), 0, "malformed messages are refused: nothing done, nothing sent");
        send_msg(fe, "{\"type\": \"demand.failed\", \"items\": [41, 42], \"error\": \"no template matches gpu\", "
                     "\"expression\": \"gpu\"}");
        is_int(cJSON_GetArraySize(fe->box.msgs), 0, "demand.failed is logged");

        struct fe reader;
        if (!fe_new(&reader, "reader", "200ms"))
                return;
        jk_frontend_connected(reader.f);
        send_register(&reader, "ka-perm-12345", "x", 0, "[]");
        m = take(&reader.box, "agent.register-failed", NULL, NULL);
        ok(m && !cJSON_IsTrue(ka_json_path(m, "retry")) &&
                   strstr(ka_json_path_str(m, "error"), "hudson.model.Computer.Create"),
           "without Agent/Create: register-failed, retry false, naming the permission");
        cJSON_Delete(m);
        fe_free(&reader);
}

int main(void) {
        ka_mem_init();
        struct ka_error err = {0};
        plugin = jsim_plugin(&reg, &err);
        if (!plugin) {
                printf("1..0 # SKIP %s\n", err.msg);
                return 0;
        }
        struct fe fe;
        if (!jsim_start(&sim, NULL) || !fe_new(&fe, "kubeagent", "200ms")) {
                ok(false, "the Jenkins simulator and a frontend start");
                ka_registry_free(&reg);
                return tap_done();
        }
        test_demand_and_agents(&fe);
        test_foreign_and_adoption(&fe);
        test_restart(&fe);
        test_short_build();
        test_refusals(&fe);
        fe_free(&fe);

        char *log = jsim_log();
        like(log ? log : "", "refused a agent.delete message: unknown member \"extra\"", "a malformed message is logged");
        like(log ? log : "", "cannot serve queue items 41, 42 (label gpu): no template matches gpu",
             "demand.failed is logged with the items");
        _cleanup_free_ char *secret = jsim_secret(&sim, "ka-linux-b2c3d");
        ok(log && !strstr(log, secret), "no agent secret in the log");
        int rc = tap_done();
        if (rc && log)
                tap_diag("log:\n%s", log);
        free(log);
        jsim_log_end();
        jsim_stop(&sim);
        ka_registry_free(&reg);
        ka_secret_reset();
        return rc;
}
