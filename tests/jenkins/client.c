/* The Jenkins frontend plugin against the Jenkins simulator over real
 * sockets: its config keys through the real loader, the why/task/jnlp
 * parsers, and its client API (compiled in from plugins/frontends/jenkins):
 * auth with an API token and with a password (crumbs), token rotation,
 * 401/403 with the missing permission, queue polls, node creation, the
 * secret, one poll of every computer, offline marks, deletion, run results,
 * faults, restarts, TLS with a context path, health logged once per change,
 * and no secret in any error or log line. */
#include <errno.h>
#include <poll.h>
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
#include "util/buf.h"
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

/* ---- config through the loader ------------------------------------------------- */

static int conf_new(const char *yaml, struct jk_conf **ret, struct ka_error *err) {
        void *conf = NULL;
        int r = plugin_conf_yaml(plugin, yaml, &conf, err);
        if (r == 0)
                *ret = conf;
        return r;
}

static void conf_free(struct jk_conf *c) {
        ka_plugin_conf_free(plugin, 0, c);
}

static void test_config(void) {
        ok(plugin && plugin->desc->kind == KUBEAGENT_KIND_FRONTEND && plugin->desc->frontend->run,
           "the loader loads frontend-jenkins.so");
        struct jk_conf *c = NULL;
        struct ka_error err = {0};
        is_int(conf_new("{url: http://j:8080, user: kubeagent, tokenFile: /etc/kubeagent/token}", &c, &err), 0,
               "a minimal block fills");
        if (c) {
                ok(c->poll_interval_ms == 2000 && c->timeout_ms == 30000 && c->insecure == 0 &&
                           strcmp(c->name_prefix, "kubeagent-") == 0 && !c->ca_file,
                   "defaults: pollInterval 2 s, timeout 30 s, insecure false, namePrefix kubeagent-");
                conf_free(c);
        }
        static const struct {
                const char *yaml, *want;
        } bad[] = {
                {"{url: ftp://j/, user: u, tokenFile: /t}", "url must be http://"},
                {"{url: \"http://u:pw@j/\", user: u, tokenFile: /t}", "url must not carry credentials"},
                {"{url: https://j/, user: u, tokenFile: /t, caFile: /ca, insecure: true}", "set only one"},
                {"{url: https://j/, user: u, tokenFile: /t, namePrefix: Bad_}", "namePrefix must be"},
                {"{url: https://j/, user: u, tokenFile: /t, pollInterval: 100ms}", "at least 200ms"},
                {"{url: https://j/, user: u}", "tokenFile"},
                {"{url: https://j/, user: u, tokenFile: /t, token: x}", "unknown key"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(bad); i++) {
                ka_error_clear(&err);
                c = NULL;
                ok(conf_new(bad[i].yaml, &c, &err) < 0, "refused: %s", bad[i].yaml);
                like(err.msg, bad[i].want, "  with a clear message");
                ok(strcmp(err.file, "test.yaml") == 0 && err.line == 1 && err.col >= 1, "  at the key's place");
                if (c)
                        conf_free(c);
        }
}

/* ---- pure parsers ------------------------------------------------------------------ */

static void why_is(const char *text, enum jk_why_kind kind, const char *subject, const char *name) {
        struct jk_why w;
        jk_why_parse(text, &w);
        ok(w.kind == kind && ((!subject && !w.subject) || (subject && w.subject && strcmp(subject, w.subject) == 0)),
           "why: %s", name);
        if (w.kind != kind || (subject && (!w.subject || strcmp(subject, w.subject))))
                tap_diag("got kind %d subject %s", w.kind, w.subject ? w.subject : "(null)");
        jk_why_clear(&w);
}

static void test_why(void) {
        why_is("Waiting for next available executor", JK_WHY_ANY, NULL, "no label / no agents at all");
        why_is("There are no nodes with the label \u2018linux&&(docker||podman)\u2019", JK_WHY_LABEL,
               "linux&&(docker||podman)", "no nodes with the label");
        why_is("All nodes of label \u2018maven\u2019 are offline", JK_WHY_LABEL, "maven", "all nodes offline");
        why_is("\u2018kubeagent-maven-x1\u2019 is offline", JK_WHY_NODE, "kubeagent-maven-x1", "a single node offline");
        why_is("Waiting for next available executor on \u2018maven\u2019", JK_WHY_LABEL_OR_NODE, "maven",
               "waiting for an executor on a label or node");
        why_is("There are no nodes with the label 'old-style'", JK_WHY_LABEL, "old-style", "straight quotes");
        why_is("There are no nodes with the label \u2018\"a b\"&&c\u2019", JK_WHY_LABEL, "\"a b\"&&c",
               "a quoted atom inside the label");
        why_is("\u2018n1\u2019 doesn\u2019t have label \u2018gpu\u2019; \u2018n2\u2019 is offline", JK_WHY_LABEL, "gpu",
               "composite: the label a node lacks");
        why_is("\u2018excl\u2019 is reserved for jobs with matching label expression", JK_WHY_ANY, NULL,
               "composite: reserved for labelled jobs (an unlabelled task)");
        why_is("In the quiet period. Expires in 4.9 sec", JK_WHY_NONE, NULL, "quiet period is no demand");
        why_is("Build #3 is already in progress (ETA: 12 sec)", JK_WHY_NONE, NULL, "blocked is no demand");
        why_is("Jenkins is about to shut down", JK_WHY_NONE, NULL, "shutting down is no demand");
        why_is("Es gibt keine Knoten mit dem Label \u201emaven\u201c", JK_WHY_NONE, NULL, "German is not guessed");
        why_is("\u2018\u2019 is offline", JK_WHY_NONE, NULL, "an empty subject is nothing");
        why_is(NULL, JK_WHY_NONE, NULL, "null why (a left item)");
}

static void job_is(const char *url, const char *root, const char *full, long number, const char *name) {
        char *got = NULL;
        long n = -1;
        int r = jk_task_job(url, root, &got, &n);
        if (!full)
                ok(r == -EINVAL, "task URL: %s", name);
        else
                ok(r == 0 && strcmp(got, full) == 0 && n == number, "task URL: %s", name);
        if (r == 0 && full && (strcmp(got, full) != 0 || n != number))
                tap_diag("got %s #%ld", got, n);
        free(got);
}

static void test_task_job(void) {
        job_is("job/team-a/job/app/12/", "http://ci/", "team-a/app", 12, "a pipeline block (relative)");
        job_is("http://ci/jenkins/job/pack/", "http://ci/jenkins/", "pack", 0, "a free-style job (absolute)");
        job_is("job/a%20b/job/feature%252Fx/3/", NULL, "a b/feature%2Fx", 3, "each segment decoded exactly once");
        job_is("https://public.example/jenkins/job/f/job/j/7/", "http://jenkins.ci.svc:8080/jenkins/", "f/j", 7,
               "another host name, same context path");
        job_is("view/all/job/x/", "http://ci/", "x", 0, "a view before the job");
        job_is("computer/n1/", "http://ci/", NULL, 0, "not a job");
        job_is("", "http://ci/", NULL, 0, "empty");
}

static void test_jnlp(void) {
        static const char secret[] = "8b9cf0c1e2d3a4b5968778695a4b3c2d1e0f8b9cf0c1e2d3a4b5968778695a4b";
        char doc[1024];
        snprintf(doc, sizeof(doc),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<jnlp spec=\"1.0+\"><information><title>Agent"
                 "</title></information><application-desc main-class=\"hudson.remoting.jnlp.Main\">"
                 "<argument>%s</argument><argument>k8s&amp;1</argument><argument>-url</argument>"
                 "</application-desc></jnlp>",
                 secret);
        char *s = NULL;
        struct ka_error err = {0};
        ok(jk_jnlp_secret(doc, strlen(doc), "k8s&1", &s, &err) == 0 && s && strcmp(s, secret) == 0,
           "jnlp: first argument, second argument is the (entity-decoded) name");
        free(s);
        s = NULL;
        is_int(jk_jnlp_secret(doc, strlen(doc), "other", &s, &err), -EPROTO, "jnlp: another node's file refused");
        ok(!strstr(err.msg, secret), "jnlp: the error does not show the secret");
        const char *notsecret = "<argument>not-hex</argument><argument>n</argument>";
        is_int(jk_jnlp_secret(notsecret, strlen(notsecret), "n", &s, &err), -EPROTO, "jnlp: a non-hex secret refused");
        const char *cut = "<argument>abc";
        is_int(jk_jnlp_secret(cut, strlen(cut), "n", &s, &err), -EPROTO, "jnlp: a cut document refused");
}

/* ---- against the simulator ------------------------------------------------------------ */

static struct jk_client *client_as(const struct jsim *j, const char *user, const char *token_file,
                                   const char *extra_yaml, struct ka_error *err) {
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "{url: \"%s\", user: %s, tokenFile: \"%s\", timeout: 5%s}", j->url, user,
                 token_file, extra_yaml ? extra_yaml : "");
        struct jk_conf *conf = NULL;
        struct jk_client *c = NULL;
        if (conf_new(yaml, &conf, err) == 0) {
                if (jk_client_new(conf, &c, err) < 0)
                        c = NULL;
                conf_free(conf);
        }
        return c;
}

static struct jk_client *client_for(const struct jsim *j, const char *user) {
        char name[64];
        snprintf(name, sizeof(name), "token-%s", user);
        _cleanup_free_ char *tf = jsim_file(j, name);
        struct ka_error err = {0};
        struct jk_client *c = client_as(j, user, tf, NULL, &err);
        if (!c)
                tap_diag("client for %s: %s", user, err.msg);
        return c;
}

static const struct jk_computer *find(struct jk_client *c, struct jk_computers *cs, const char *name) {
        jk_computers_clear(cs);
        struct ka_error err;
        if (jk_computers_poll(c, cs, &err) < 0) {
                tap_diag("computers: %s", err.msg);
                return NULL;
        }
        return jk_computers_find(cs, name);
}

/* Poll until the computer is in the wanted state (or 10 s pass). */
static bool wait_computer(struct jk_client *c, const char *name, bool (*pred)(const struct jk_computer *)) {
        struct jk_computers cs = {0};
        bool good = false;
        for (int64_t end = ka_time_now_ms() + 10000; !good && ka_time_now_ms() < end; usleep(20000)) {
                const struct jk_computer *x = find(c, &cs, name);
                good = pred(x);
        }
        jk_computers_clear(&cs);
        return good;
}

static bool is_online(const struct jk_computer *x) {
        return x && !x->offline;
}
static bool is_busy(const struct jk_computer *x) {
        return x && x->busy > 0 && x->run_url;
}
static bool is_idle(const struct jk_computer *x) {
        return x && x->idle && x->busy == 0;
}

static const struct jk_item *item_with(const struct jk_queue *q, const char *job) {
        for (size_t i = 0; i < q->n; i++)
                if (q->v[i].job && strcmp(q->v[i].job, job) == 0 && !q->v[i].flyweight)
                        return &q->v[i];
        return NULL;
}

/* Poll the queue until job's item is there and its why has the given kind. */
static bool wait_why(struct jk_client *c, const char *job, enum jk_why_kind kind, const char *subject) {
        for (int64_t end = ka_time_now_ms() + 10000; ka_time_now_ms() < end; usleep(20000)) {
                struct jk_queue q = {0};
                struct ka_error err;
                if (jk_queue_poll(c, &q, &err) == 0) {
                        const struct jk_item *it = item_with(&q, job);
                        bool good = it && it->why.kind == kind &&
                                    (!subject || (it->why.subject && strcmp(it->why.subject, subject) == 0));
                        if (it && !good && ka_time_now_ms() + 100 > end)
                                tap_diag("%s: why \"%s\"", job, it->why_text ? it->why_text : "(null)");
                        jk_queue_clear(&q);
                        if (good)
                                return true;
                }
        }
        return false;
}

static void test_queue_and_nodes(struct jk_client *c) {
        struct ka_error err = {0};
        is_int(jk_client_hello(c, &err), 0, "hello: root URL and whoAmI");
        ok(strcmp(jk_client_root(c), sim.url) == 0, "the controller's root URL is known");

        jsim_build(&sim, "{\"job\": \"team-a/app\", \"label\": \"linux && docker\", \"durationMs\": 400, \"afterMs\": 300,"
                    " \"result\": \"UNSTABLE\"}");
        ok(wait_why(c, "team-a/app", JK_WHY_ANY, NULL), "no agents at all: the label is not in why (ANY)");
        struct jk_queue q = {0};
        is_int(jk_queue_poll(c, &q, &err), 0, "queue poll");
        const struct jk_item *it = item_with(&q, "team-a/app");
        ok(it && it->pipeline_block && !it->blocked && it->buildable && strcmp(it->task_url, "job/team-a/job/app/1/") == 0,
           "a pipeline block: PlaceholderTask, buildable, task URL of a job in a folder");
        jk_queue_clear(&q);

        struct jk_node_spec spec = {.name = "kubeagent-linux-a1b2c", .description = "kubeagent: template linux",
                                    .remote_fs = "/home/jenkins/agent", .labels = "linux docker", .exclusive = true,
                                    .websocket = true};
        is_int(jk_node_create(c, &spec, &err), 0, "create an inbound node");
        cJSON *node = jsim_node(&sim, spec.name);
        ok(node && strcmp(ka_json_path_str(node, "labels"), "linux docker") == 0 &&
                   strcmp(ka_json_path_str(node, "mode"), "EXCLUSIVE") == 0 &&
                   ka_json_path(node, "numExecutors")->valueint == 1 &&
                   strcmp(ka_json_path_str(node, "remoteFS"), "/home/jenkins/agent") == 0 &&
                   strcmp(ka_json_path_str(node, "retention"), "hudson.slaves.RetentionStrategy$Always") == 0 &&
                   cJSON_IsTrue(ka_json_path(node, "webSocket")),
           "one executor, remote FS, labels, EXCLUSIVE, retention Always, WebSocket");
        cJSON_Delete(node);
        is_int(jk_node_create(c, &spec, &err), -EEXIST, "the same name again: -EEXIST (400 X-Error)");
        struct jk_node_spec bad = spec;
        bad.name = "a:b";
        is_int(jk_node_create(c, &bad, &err), -EINVAL, "an unsafe name: -EINVAL");
        like(err.msg, "is an unsafe character", "  with Jenkins' reason");

        ok(wait_why(c, "team-a/app", JK_WHY_NODE, "kubeagent-linux-a1b2c"), "one matching node offline: why names it");
        char *secret = NULL;
        is_int(jk_node_secret(c, spec.name, &secret, &err), 0, "read the secret from jenkins-agent.jnlp");
        _cleanup_free_ char *want = jsim_secret(&sim, spec.name);
        ok(secret && strcmp(secret, want) == 0, "the secret is HMAC-SHA256 of the name under the controller key");
        struct ka_error masked;
        ka_error_set(&masked, -1, "secret %s", secret ? secret : "");
        is_str(masked.msg, "secret ********", "the secret is registered: masked in errors and logs");
        is_int(jk_node_secret(c, "no-such-node", &secret, &err), -ENOENT, "the secret of an unknown node: -ENOENT");

        int fd = secret ? jsim_agent(&sim, spec.name, secret) : -1;
        ok(fd >= 0, "the agent connects with that secret");
        ok(wait_computer(c, spec.name, is_online), "one computer poll shows it online");
        struct jk_computers cs = {0};
        const struct jk_computer *x = find(c, &cs, spec.name);
        ok(x && x->executors == 1 && x->labels && ka_strv_len(x->labels) == 3 &&
                   strcmp(x->description, "kubeagent: template linux") == 0,
           "its labels (with its own name), description and one executor");
        ok(cs.n >= 2 && cs.v[0].built_in, "the built-in node is in the list, marked");
        jk_computers_clear(&cs);

        ok(wait_computer(c, spec.name, is_busy), "the block runs there: busy with the run's URL");
        x = find(c, &cs, spec.name);
        char *run_url = x && x->run_url ? ka_strdup(x->run_url) : NULL;
        ok(run_url && strcmp(run_url, "") != 0 && ka_endswith(run_url, "job/team-a/job/app/1/"), "run URL %s",
           run_url ? run_url : "(none)");
        jk_computers_clear(&cs);
        is_int(jk_node_offline(c, spec.name, "single-use agent: retired after one build", &err), 0,
               "mark it temporarily offline (single use) while the block runs");
        x = find(c, &cs, spec.name);
        ok(x && x->temporarily_offline && x->offline &&
                   strcmp(x->offline_reason, "single-use agent: retired after one build") == 0,
           "the poll shows it temporarily offline with the reason");
        jk_computers_clear(&cs);
        ok(wait_computer(c, spec.name, is_idle), "the block ends: idle");
        struct jk_run run = {0};
        is_int(run_url ? jk_run_get(c, run_url, &run, &err) : -1, 0, "read the run");
        ok(run.building && !run.result, "the pipeline run still builds after its node block");
        jk_run_clear(&run);
        bool done = false;
        for (int64_t end = ka_time_now_ms() + 10000; !done && ka_time_now_ms() < end; usleep(20000)) {
                if (jk_run_get(c, run_url, &run, &err) == 0 && !run.building)
                        done = true;
                else
                        jk_run_clear(&run);
        }
        ok(done && run.result && strcmp(run.result, "UNSTABLE") == 0, "then it ends with its result (UNSTABLE)");
        jk_run_clear(&run);
        free(run_url);
        is_int(jk_run_get(c, "job/team-a/job/app/99/", &run, &err), -ENOENT, "an unknown run: -ENOENT");

        is_int(jk_node_online(c, spec.name, &err), 0, "back online");
        x = find(c, &cs, spec.name);
        ok(x && !x->temporarily_offline && !x->offline, "no longer temporarily offline");
        jk_computers_clear(&cs);
        is_int(jk_node_online(c, spec.name, &err), 0, "online when online: nothing to do");

        /* a free-style build: FAILURE, on the agent */
        jsim_build(&sim, "{\"job\": \"pack\", \"kind\": \"freestyle\", \"label\": \"docker\", \"durationMs\": 200, "
                    "\"result\": \"FAILURE\"}");
        ok(wait_computer(c, spec.name, is_busy), "a free-style build runs on the agent");
        x = find(c, &cs, spec.name);
        run_url = x && x->run_url ? ka_strdup(x->run_url) : NULL;
        jk_computers_clear(&cs);
        ok(wait_computer(c, spec.name, is_idle), "and ends");
        is_int(run_url ? jk_run_get(c, run_url, &run, &err) : -1, 0, "read the free-style run");
        ok(!run.building && run.result && strcmp(run.result, "FAILURE") == 0, "its result: FAILURE");
        jk_run_clear(&run);
        free(run_url);

        /* why names the label when two nodes match */
        spec.name = "kubeagent-linux-d3f4g";
        is_int(jk_node_create(c, &spec, &err), 0, "a second node for the label");
        jsim_build(&sim, "{\"job\": \"team-b/other\", \"label\": \"linux && docker && gpu\", \"durationMs\": 100}");
        ok(wait_why(c, "team-b/other", JK_WHY_LABEL, "linux&&docker&&gpu"), "a label no node has: why names it");
        jsim_build(&sim, "{\"job\": \"team-b/long\", \"label\": \"linux\", \"durationMs\": 3000}");
        ok(wait_computer(c, "kubeagent-linux-a1b2c", is_busy), "a long build keeps the online node busy");
        jsim_build(&sim, "{\"job\": \"team-b/two\", \"label\": \"linux\", \"durationMs\": 100}");
        ok(wait_why(c, "team-b/two", JK_WHY_LABEL_OR_NODE, "linux"),
           "two nodes for the label, the online one busy: why names the label");

        is_int(jk_node_delete(c, "kubeagent-linux-d3f4g", &err), 0, "delete a node");
        is_int(jk_node_delete(c, "kubeagent-linux-d3f4g", &err), 0, "delete it again: 404 is done");
        is_int(jk_node_delete(c, "kubeagent-linux-a1b2c", &err), 0, "delete the connected one");
        ok(!find(c, &cs, "kubeagent-linux-a1b2c"), "no longer in the poll");
        jk_computers_clear(&cs);
        char buf[8];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ok(fd >= 0 && poll(&p, 1, 5000) > 0 && read(fd, buf, sizeof(buf)) == 0, "its agent was disconnected");
        if (fd >= 0)
                close(fd);
        ka_secret_free(secret);
}

static void test_auth(void) {
        struct ka_error err = {0};
        struct jk_client *reader = client_for(&sim, "reader");
        struct jk_node_spec spec = {.name = "kubeagent-x-00001", .remote_fs = "/a", .labels = "x"};
        is_int(jk_node_create(reader, &spec, &err), -EPERM, "a user without Agent/Create: -EPERM");
        like(err.msg, "lacks the Jenkins permission hudson.model.Computer.Create (403)", "  naming the permission");
        ok(jk_client_denied(reader, "hudson.model.Computer.Create") && jk_client_health(reader) == JK_OK,
           "  a denied permission, not an unhealthy controller");
        jk_node_create(reader, &spec, &err);
        struct jk_queue q = {0};
        is_int(jk_queue_poll(reader, &q, &err), 0, "  reading still works");
        jk_queue_clear(&q);
        jk_node_create(reader, &spec, &err);
        jk_client_free(reader);

        /* a wrong token: 401, re-read the file once, then the right one works */
        _cleanup_free_ char *dir = ka_strdup("/tmp/ka-jenkins-tok-XXXXXX");
        if (!mkdtemp(dir))
                return;
        _cleanup_free_ char *tf = ka_path_join(dir, "token");
        struct ka_error werr;
        ka_write_file_atomic(tf, "11deadbeefdeadbeefdeadbeefdeadbeef\n", 35, 0600, &werr);
        struct jk_client *c = client_as(&sim, "kubeagent", tf, NULL, &err);
        is_int(jk_client_hello(c, &err), -EACCES, "a wrong token: -EACCES");
        like(err.msg, "refused the credentials of user kubeagent (401)", "  naming the user");
        ok(!strstr(err.msg, "deadbeef"), "  never the token");
        is_int(jk_client_health(c), JK_UNAUTHORIZED, "  health: unauthorized");
        _cleanup_free_ char *good = jsim_text(&sim, "token-kubeagent");
        ka_write_file_atomic(tf, good, strlen(good), 0600, &werr);
        is_int(jk_client_hello(c, &err), 0, "the token file is read again after a 401");
        is_int(jk_client_health(c), JK_OK, "  health: OK again");
        jk_client_free(c);
        unlink(tf);
        rmdir(dir);

        /* the controller revokes the token and the file is rotated */
        c = client_for(&sim, "kubeagent");
        is_int(jk_client_hello(c, &err), 0, "a client with the current token");
        ok(jsim_admin(&sim, "POST", "/revoke-token", "{\"user\": \"kubeagent\"}", NULL) == 200, "the token is rotated");
        is_int(jk_client_hello(c, &err), 0, "the next request re-reads the rotated file after its 401");
        jk_client_free(c);

        /* a password instead of a token: POSTs need a crumb and its session cookie */
        _cleanup_free_ char *pw = jsim_file(&sim, "password-kubeagent");
        c = client_as(&sim, "kubeagent", pw, NULL, &err);
        long before = simproc_count(&sim.p, "POST /computer/doCreateItem 403");
        spec.name = "kubeagent-pw-00001";
        is_int(jk_node_create(c, &spec, &err), 0, "password auth: create a node (a crumb is fetched)");
        spec.name = "kubeagent-pw-00002";
        is_int(jk_node_create(c, &spec, &err), 0, "password auth: a second POST");
        is_int(simproc_count(&sim.p, "POST /computer/doCreateItem 403") - before, 1,
               "only the first POST was refused for want of a crumb");
        ok(simproc_count(&sim.p, "GET /crumbIssuer/api/json 200") >= 1, "the crumb was fetched");
        is_int(jk_node_delete(c, "kubeagent-pw-00001", &err), 0, "password auth: delete");
        is_int(jk_node_delete(c, "kubeagent-pw-00002", &err), 0, "password auth: delete the other");
        jk_client_free(c);
}

static void test_faults_restart(struct jk_client *c) {
        struct ka_error err = {0};
        struct jk_queue q = {0};
        jsim_admin(&sim, "POST", "/faults", "{\"match\": {\"path\": \"/queue/api/json\"}, \"status\": 500, \"count\": 2}",
              NULL);
        is_int(jk_queue_poll(c, &q, &err), -EIO, "a 500: -EIO");
        is_int(jk_client_health(c), JK_FAILING, "  health: failing");
        jk_queue_poll(c, &q, &err);
        jsim_admin(&sim, "POST", "/faults", "{\"match\": {\"path\": \"/queue/api/json\"}, \"status\": 503, \"count\": 1}",
              NULL);
        is_int(jk_queue_poll(c, &q, &err), -EAGAIN, "a 503: -EAGAIN");
        is_int(jk_client_health(c), JK_STARTING, "  health: starting");
        is_int(jk_queue_poll(c, &q, &err), 0, "then it answers");
        is_int(jk_client_health(c), JK_OK, "  health: OK");
        jk_queue_clear(&q);

        _cleanup_free_ char *pw = jsim_file(&sim, "password-kubeagent");
        struct jk_client *pc = client_as(&sim, "kubeagent", pw, NULL, &err);
        struct jk_node_spec spec = {.name = "kubeagent-rs-00001", .remote_fs = "/a", .labels = "rs"};
        is_int(jk_node_create(pc, &spec, &err), 0, "password client: a node before the restart");

        unsigned restarts = jk_client_restarts(c);
        jsim_admin(&sim, "POST", "/restart", "{\"downMs\": 600, \"loadingMs\": 600}", NULL);
        int seen_down = 0, seen_loading = 0, up = 0;
        for (int64_t end = ka_time_now_ms() + 15000; !up && ka_time_now_ms() < end; usleep(30000)) {
                int r = jk_queue_poll(c, &q, &err);
                jk_queue_clear(&q);
                if (r == -ECONNREFUSED && jk_client_health(c) == JK_DOWN)
                        seen_down++;
                else if (r == -EAGAIN && jk_client_health(c) == JK_STARTING)
                        seen_loading++;
                else if (r == 0 && seen_down)
                        up = 1;
        }
        ok(seen_down, "restart: connection refused while it is down (-ECONNREFUSED, health down)");
        ok(seen_loading, "restart: 503 while it starts (-EAGAIN, health starting)");
        ok(up, "restart: answers again");
        is_int(jk_client_restarts(c), restarts + 1, "restart: seen once through X-Jenkins-Session");
        is_int(jk_node_delete(pc, spec.name, &err), 0, "password client: its old crumb and cookie are replaced");
        jk_client_free(pc);
}

static void test_tls(void) {
        struct jsim tls;
        const char *extra[] = {"--tls", "--prefix", "/jenkins", NULL};
        if (!jsim_start(&tls, extra)) {
                ok(false, "a TLS simulator starts");
                return;
        }
        struct ka_error err = {0};
        _cleanup_free_ char *tf = jsim_file(&tls, "token-kubeagent");
        _cleanup_free_ char *ca = jsim_file(&tls, "ca.crt");
        char extra_yaml[512];
        snprintf(extra_yaml, sizeof(extra_yaml), ", caFile: \"%s\"", ca);
        struct jk_client *c = client_as(&tls, "kubeagent", tf, extra_yaml, &err);
        is_int(c ? jk_client_hello(c, &err) : -1, 0, "https with caFile, under a context path");
        struct jk_node_spec spec = {.name = "kubeagent-tls-00001", .remote_fs = "/a", .labels = "t"};
        is_int(jk_node_create(c, &spec, &err), 0, "create a node under /jenkins/");
        char *secret = NULL;
        is_int(jk_node_secret(c, spec.name, &secret, &err), 0, "its secret");
        ka_secret_free(secret);
        _cleanup_free_ char *rel = jk_client_relative(c, "https://jenkins.example.com/jenkins/job/x/3/");
        is_str(rel, "job/x/3/", "a run URL under another host name maps to our context path");
        jk_client_free(c);

        c = client_as(&tls, "kubeagent", tf, NULL, &err);
        is_int(jk_client_hello(c, &err), -EPROTO, "without caFile the simulator's certificate is refused");
        like(err.msg, "not trusted", "  saying why");
        jk_client_free(c);
        c = client_as(&tls, "kubeagent", tf, ", insecure: true", &err);
        is_int(jk_client_hello(c, &err), 0, "insecure: true accepts it");
        jk_client_free(c);
        jsim_stop(&tls);
}

int main(void) {
        ka_mem_init();
        struct ka_error err = {0};
        plugin = jsim_plugin(&reg, &err);
        if (!plugin) {
                printf("1..0 # SKIP %s\n", err.msg);
                return 0;
        }

        test_config();
        test_why();
        test_task_job();
        test_jnlp();
        if (!jsim_start(&sim, NULL)) {
                ok(false, "the Jenkins simulator starts");
                ka_registry_free(&reg);
                return tap_done();
        }
        struct jk_client *c = client_for(&sim, "kubeagent");
        test_queue_and_nodes(c);
        test_auth();
        test_faults_restart(c);
        jk_client_free(c);
        test_tls();

        char *log = jsim_log();
        _cleanup_free_ char *token = jsim_text(&sim, "token-kubeagent");
        _cleanup_free_ char *password = jsim_text(&sim, "password-kubeagent");
        _cleanup_free_ char *agent = jsim_secret(&sim, "kubeagent-linux-a1b2c");
        ok(log && !strstr(log, token) && !strstr(log, password) && !strstr(log, agent),
           "no token, password or agent secret in the log");
        int forbidden = 0;
        for (const char *p = log; p && (p = strstr(p, "lacks the Jenkins permission hudson.model.Computer.Create:"));
             p++)
                forbidden++;
        is_int(forbidden, 1, "a lasting 403 is logged once");
        like(log ? log : "", "is failing: poll the build queue: Jenkins answered 500", "a 500 is logged");
        like(log ? log : "", "is reachable again", "recovery is logged");
        like(log ? log : "", "restarted (X-Jenkins-Session", "a restart is logged");
        int rc = tap_done();
        if (rc != 0 && log)
                tap_diag("log:\n%s", log);
        free(log);
        jsim_log_end();
        jsim_stop(&sim);
        ka_registry_free(&reg);
        ka_secret_reset();
        return rc;
}
