/* Run-time template registration through kubeagentd: the daemon (role all,
 * with kubeagent.templates and a token file) against the Kubernetes
 * simulator, the test playing Jenkins on the bus and a pipeline on the
 * HTTP endpoint.  Requests without the token or with a wrong one are
 * refused, an invalid template is refused with its problems located, a
 * podTemplate call registered for a folder serves a build of a job in that
 * folder end to end (its pod is the registered template's, the agent comes
 * online, builds, and its pod goes), a job outside the folder is refused,
 * and a removed registration serves no more. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "http/client.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

#define TOKEN "registration-t0ken"

static const char clouds[] = "    - kubernetes:\n"
                             "        name: kubernetes\n"
                             "        credentialsId: @CRED@\n"
                             "        namespace: ci\n"
                             "        qps: 200\n"
                             "        burst: 400\n"
                             "        templates:\n"
                             "          - name: build\n"
                             "            label: build\n"
                             "            containers:\n"
                             "              - {name: jnlp, image: busybox, command: sleep, args: infinity}\n";

/* What a pipeline's sh step does: curl -H 'Authorization: Bearer ...' -d @- URL. */
static int request(int port, const char *method, const char *path, const char *token, const char *body, cJSON **ret) {
        struct t_reply r = {0};
        t_request(port, method, path, token, body, &r);
        if (ret)
                *ret = KA_TAKE(r.json);
        int code = (int)r.code;
        t_reply_clear(&r);
        return code;
}

static bool have_msg(struct harness *h, void *ud) {
        return h_count(h, ud) > 0;
}

struct more {
        const char *type;
        size_t than;
};

static bool more_msgs(struct harness *h, void *ud) {
        const struct more *m = ud;
        return h_count(h, m->type) > m->than;
}

static bool online(struct harness *h, void *ud) {
        struct h_node *n = h_node(h, ud);
        return n && ka_streq(n->state, "online");
}

static bool all_gone(struct harness *h, void *ud) {
        (void)ud;
        cJSON *a = h_agents(h);
        bool empty = cJSON_GetArraySize(a) == 0;
        cJSON_Delete(a);
        return empty && h->live == 0;
}

static const char *container_image(const cJSON *pod, const char *name) {
        const cJSON *c;
        cJSON_ArrayForEach(c, ka_json_path(pod, "spec.containers")) if (ka_streq(ka_json_str(c, "name"),
                                                                                 name)) return ka_json_str(c, "image");
        return NULL;
}

static const char registration[] =
        "{\"label\": \"dyn-42\", \"folders\": [\"team-a\"],\n"
        " \"podTemplate\": \"podTemplate(containers: [\\n"
        "   containerTemplate(name: 'jnlp', image: 'busybox', command: 'sleep', args: 'infinity'),\\n"
        "   containerTemplate(name: 'tools', image: 'busybox:1.36', command: 'sleep', args: 'infinity')]) {\\n"
        "  node(POD_LABEL) { sh 'make' }\\n"
        "}\"}";

static void refused(int port) {
        cJSON *r = NULL;
        is_int(request(port, "POST", "/v1/templates", NULL, registration, &r), 401, "no token: 401");
        cJSON_Delete(r);
        is_int(request(port, "POST", "/v1/templates", "not-the-token", registration, &r), 401, "a wrong token: 401");
        cJSON_Delete(r);
        is_int(request(port, "POST", "/v1/templates", TOKEN,
                       "{\"label\": \"dyn-bad\", \"folders\": [\"team-a\"],\n"
                       " \"podTemplate\": \"podTemplate(containers: [containerTemplate(name: 'Jnlp', image: 'x')])\"}",
                       &r),
               400, "an invalid template: 400");
        const cJSON *p = cJSON_GetArrayItem(ka_json_path(r, "problems"), 0);
        is_str(ka_json_str(p, "where"), "podTemplate:1:50", "its problem is located in the call's text");
        like(ka_json_str(p, "message"), "Jnlp", "and names the bad container name");
        cJSON_Delete(r);
        is_int(request(port, "GET", "/v1/templates", TOKEN, NULL, &r), 200, "GET /v1/templates");
        is_int(cJSON_GetArraySize(r), 0, "nothing was registered");
        cJSON_Delete(r);
}

static void serves(struct harness *h, int port) {
        cJSON *r = NULL;
        is_int(request(port, "POST", "/v1/templates", TOKEN, registration, &r), 201, "a podTemplate call registers");
        cJSON_Delete(r);

        /* a job outside the folder */
        int64_t outsider = 7;
        h_demand_job(h, "dyn-42", "team-b/app", &outsider, 1);
        ok(h_until(h, 20000, have_msg, "demand.failed"), "a build of a job outside team-a is refused");
        like(ka_json_str(h_msg(h, "demand.failed", 0), "error"),
             "registered for label dyn-42 is not for job team-b/app", "saying why");
        h_demand_job(h, "dyn-42", "team-b/app", &outsider, 0);

        /* a job in the folder, end to end */
        int64_t id = 8;
        h_demand_job(h, "dyn-42", "team-a/app/main", &id, 1);
        ok(h_until(h, 20000, have_msg, "agent.register"), "a build of team-a/app/main gets an agent");
        const cJSON *reg = h_msg(h, "agent.register", 0);
        char *agent = ka_strdup(ka_json_str(reg, "name"));
        is_str(ka_json_str(reg, "labels"), "dyn-42", "with the registered label");
        ok(ka_startswith(agent, "t-dyn-42-"), "named after the registered template (%s)", agent);
        ok(h_until(h, 30000, online, agent), "its pod runs and the agent comes online");
        const cJSON *pod = h_pod(h, agent);
        is_str(container_image(pod, "tools"), "busybox:1.36", "the pod has the registered call's containers");
        is_str(ka_json_str(ka_json_path(pod, "metadata.annotations"), "kubeagent.io/template"), "dyn-42",
               "and is annotated with its template");
        is_int(request(port, "GET", "/v1/templates/dyn-42", TOKEN, NULL, &r), 200, "GET the registration");
        ok(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "inUse")), "it is in use while its agent lives");
        cJSON_Delete(r);
        int64_t none = 0;
        h_demand_job(h, "dyn-42", "team-a/app/main", &none, 0);
        h_node_state(h, agent, "busy", NULL);
        h_node_state(h, agent, "idle", "SUCCESS");
        ok(h_until(h, 30000, all_gone, NULL), "after its build the agent ends and its pod is deleted");
        free(agent);

        /* removed, it serves no more */
        is_int(request(port, "DELETE", "/v1/templates/dyn-42", TOKEN, NULL, NULL), 204, "DELETE the registration");
        struct more failed = {"demand.failed", h_count(h, "demand.failed")};
        id = 9;
        h_demand_job(h, "dyn-42", "team-a/app/main", &id, 1);
        ok(h_until(h, 20000, more_msgs, &failed), "demand for its label is refused then");
        like(ka_json_str(h_msg(h, "demand.failed", h_count(h, "demand.failed") - 1), "error"),
             "no pod template serves the label expression \"dyn-42\"", "as for any unknown label");
        is_int(request(port, "DELETE", "/v1/templates/dyn-42", TOKEN, NULL, NULL), 404, "DELETE again: 404");
}

int main(void) {
        char dir[] = "/tmp/ka-register-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        char *token = ka_path_join(dir, "token");
        struct ka_error err = {0};
        ka_write_file_atomic(token, TOKEN "\n", strlen(TOKEN) + 1, 0600, &err);
        char *extra = ka_asprintf("  templates: {tokenFile: %s, expireAfter: 1h}\n", token);
        struct harness h;
        const char *why = NULL;
        struct h_options o = {.transport = "ipc", .kubeagent_extra = extra};
        if (!h_start_ex(&h, clouds, &o, &why)) {
                printf("1..0 # SKIP %s\n", why);
                h_stop(&h);
                return 0;
        }
        struct h_proc *d = h_spawn(&h, "all");
        ok(d != NULL, "kubeagentd starts with the registration API");
        ok(d && h_wait_connected(&h, 30000), "the test's frontend is welcomed by it");
        if (d) {
                refused(d->http_port);
                serves(&h, d->http_port);
                is_int(h_kill(&h, d, SIGTERM), 0, "SIGTERM: kubeagentd exits 0");
        }
        h_stop(&h);
        unlink(token);
        rmdir(dir);
        free(token);
        free(extra);
        return tap_done();
}
