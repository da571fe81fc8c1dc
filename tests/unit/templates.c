/* The run-time template registration API over a real loopback socket, with
 * the daemon's request parser and the store behind it: bearer-token
 * authentication (none, wrong, right), invalid requests and templates
 * refused with located problems (request:line:col, podTemplate:line:col),
 * the folder rules of restricted clouds (403), labels configured templates
 * serve (409), a full store (507), Location, GET, DELETE (204, then 404),
 * replacing a registration; and the store itself: its references (a
 * removed registration lives on for its agents), what jobs it allows, and
 * expiry on a clock the test moves. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/register.h"
#include "fixture.h"
#include "http/client.h"
#include "http/templates.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/secret.h"

#define TOKEN "t0ken-for-the-test"

static const char config[] =
        "jenkins:\n"
        "  clouds:\n"
        "    - kubernetes:\n"
        "        name: open\n"
        "        jenkinsUrl: http://jenkins.example/\n"
        "        templates:\n"
        "          - {name: maven, label: maven jdk17, containers: [{name: maven, image: maven:3}]}\n"
        "    - kubernetes:\n"
        "        name: restricted\n"
        "        jenkinsUrl: http://jenkins.example/\n"
        "        usageRestricted: true\n"
        "        allowedFolders: [team-a, team-b/apps]\n";

/* The request and the headers these tests look at. */
struct got {
        long code;
        char *body, *location, *www_auth;
        cJSON *json;
        struct t_reply r;
};

static void got_clear(struct got *g) {
        free(g->location);
        free(g->www_auth);
        t_reply_clear(&g->r);
        *g = (struct got){0};
}

/* token NULL: no Authorization header. */
static void request(int port, const char *method, const char *path, const char *token, const char *body,
                    struct got *g) {
        got_clear(g);
        t_request(port, method, path, token, body, &g->r);
        g->code = g->r.code;
        g->body = g->r.body;
        g->json = g->r.json;
        g->location = t_header(&g->r, "Location");
        g->www_auth = t_header(&g->r, "WWW-Authenticate");
}

/* The problems of a 400, one "where: message" per line. */
static char *problems(const struct got *g) {
        struct ka_buf b = KA_BUF_INIT(0);
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(g->json, "problems"))
                ka_buf_printf(&b, "%s: %s\n", ka_json_str(p, "where"), ka_json_str(p, "message"));
        return b.data ? ka_buf_steal(&b) : ka_strdup("");
}

#define has_problem(g, want, ...)                                                                                      \
        do {                                                                                                           \
                char *p_ = problems(g);                                                                                \
                like(p_, want, __VA_ARGS__);                                                                           \
                free(p_);                                                                                              \
        } while (0)

static void test_http(const struct ka_config *cfg, struct ka_tmplstore *store, int port) {
        struct got g = {0};
        const char *good = "{\"label\": \"build-1\", \"folders\": [\"team-a\"],\n"
                           " \"template\": {\"containers\": [{\"name\": \"maven\", \"image\": \"maven:3\"}]}}";

        /* authentication */
        request(port, "POST", "/v1/templates", NULL, good, &g);
        is_int(g.code, 401, "no token: 401");
        is_str(g.www_auth, "Bearer realm=\"kubeagent\"", "with WWW-Authenticate: Bearer");
        like(ka_json_str(g.json, "error"), "Authorization: Bearer", "and a JSON error saying what is needed");
        request(port, "POST", "/v1/templates", "wrong-token", good, &g);
        is_int(g.code, 401, "a wrong token: 401");
        like(g.www_auth, "error=\"invalid_token\"", "WWW-Authenticate says the token is invalid");
        ok(!strstr(g.body, "wrong-token") && !strstr(g.body, TOKEN), "the body shows neither token");
        request(port, "POST", "/v1/templates", TOKEN "x", good, &g);
        is_int(g.code, 401, "the token with one more character: 401");
        request(port, "GET", "/v1/templates", NULL, NULL, &g);
        is_int(g.code, 401, "listing needs the token too");
        request(port, "DELETE", "/v1/templates/build-1", "nope", NULL, &g);
        is_int(g.code, 401, "and deleting");
        is_int((int)ka_tmplstore_count(store), 0, "nothing was registered without the token");

        /* a good registration */
        request(port, "POST", "/v1/templates", TOKEN, good, &g);
        is_int(g.code, 201, "the right token: 201 Created");
        is_str(g.location, "/v1/templates/build-1", "Location names the registration");
        is_str(ka_json_str(g.json, "label"), "build-1", "the body shows it");
        is_str(ka_json_str(g.json, "cloud"), "open", "in the first cloud by default");
        is_str(ka_json_str(g.json, "source"), "template", "from a JSON template");
        request(port, "GET", "/v1/templates/build-1", TOKEN, NULL, &g);
        is_int(g.code, 200, "GET the Location");
        is_str(ka_json_path_str(g.json, "template.label"), "build-1", "its template has the registered label");
        is_str(ka_json_path_str(g.json, "template.name"), "build-1", "and that name");
        request(port, "GET", "/v1/templates", TOKEN, NULL, &g);
        is_int(cJSON_GetArraySize(g.json), 1, "GET /v1/templates lists it");
        is_str(ka_json_str(cJSON_GetArrayItem(g.json, 0), "label"), "build-1", "by label");

        /* a podTemplate call, replacing it */
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"build-1\", \"jobs\": [\"team-a/app/main\"], \"cloud\": \"restricted\",\n"
                " \"podTemplate\": \"podTemplate(label: 'other', containers: [containerTemplate(name: 'go', image: "
                "'golang:1.22', command: 'sleep', args: 'infinity')]) {}\"}",
                &g);
        is_int(g.code, 200, "registering the label again replaces it: 200");
        is_str(ka_json_str(g.json, "source"), "podTemplate", "from a podTemplate call");
        is_str(ka_json_str(g.json, "cloud"), "restricted", "in the cloud it names");
        request(port, "GET", "/v1/templates/build-1", TOKEN, NULL, &g);
        is_str(ka_json_path_str(g.json, "template.label"), "build-1", "the call's label gives way to the registered");
        is_str(ka_json_str(cJSON_GetArrayItem(ka_json_path(g.json, "template.containers"), 0), "image"), "golang:1.22",
               "the call's container");
        is_int((int)ka_tmplstore_count(store), 1, "still one registration");

        /* invalid requests and templates: 400 with located problems */
        request(port, "POST", "/v1/templates", TOKEN, "{\"label\": \"x\",\n  \"folders\": [\"a\"\n", &g);
        is_int(g.code, 400, "a body that does not parse: 400");
        has_problem(&g, "request:3:1: ", "its problem is located in the request");
        request(port, "POST", "/v1/templates", TOKEN, "[1, 2]", &g);
        is_int(g.code, 400, "a body that is not an object: 400");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"bad label\", \"folders\": [\"/abs\"],\n \"colour\": 1,\n"
                " \"template\": {\"containers\": []}}",
                &g);
        is_int(g.code, 400, "a bad label, folder and key: 400");
        has_problem(&g, "request:1:11: label \"bad label\"", "the label, at its place");
        has_problem(&g, "request:1:36: folders: not a folder's full name", "the folder, at its place");
        has_problem(&g, "request:2:2: unknown key \"colour\"", "the unknown key, at its place");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b2\", \"folders\": [\"team-a\"],\n"
                " \"template\": {\"containers\": [{\"name\": \"Bad_Name\", \"image\": \"x\"}],\n"
                "              \"instanceCap\": \"many\"}}",
                &g);
        is_int(g.code, 400, "an invalid JSON template: 400");
        has_problem(&g, "request:3:30: ", "a bad value is located in the request");
        has_problem(&g, "request:2:39: container name \"Bad_Name\" must match RFC 1123", "a bad container name too");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b3\", \"folders\": [\"team-a\"],\n"
                " \"podTemplate\": \"podTemplate(containers: [containerTemplate(name: 'x', image: 'y'),\\n"
                "  containerTemplate(name: 'Bad_Name', image: 'z')]) {}\"}",
                &g);
        is_int(g.code, 400, "an invalid podTemplate call: 400");
        has_problem(&g,
                    "podTemplate:2:27: Container Names MUST match RFC 1123 - They can only contain lowercase letters, "
                    "numbers or dashes: Bad_Name",
                    "located in the call's text");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b4\", \"folders\": [\"team-a\"], \"podTemplate\": \"podTemplate(label: 'x'\"}", &g);
        is_int(g.code, 400, "a podTemplate call that does not parse: 400");
        has_problem(&g, "podTemplate:1:", "located in the call's text");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b5\", \"folders\": [\"team-a\"], \"podTemplate\": \"x\", \"template\": {}}", &g);
        is_int(g.code, 400, "both template and podTemplate: 400");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b6\", \"template\": {\"containers\": [{\"name\": \"a\", \"image\": \"b\"}]}}", &g);
        is_int(g.code, 400, "no folder and no job: 400");
        has_problem(&g, "name the folders or jobs", "says who must be named");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b7\", \"folders\": [\"team-a\"], \"cloud\": \"nowhere\",\n"
                " \"template\": {\"containers\": [{\"name\": \"a\", \"image\": \"b\"}]}}",
                &g);
        has_problem(&g, "request:1:49: no cloud is named nowhere (clouds: open, restricted)", "an unknown cloud");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"b8\", \"folders\": [\"team-a\"],\n"
                " \"template\": {\"inheritFrom\": \"b8\", \"containers\": [{\"name\": \"a\", \"image\": \"b\"}]}}",
                &g);
        is_int(g.code, 201, "a template whose parent is unknown is registered ...");
        is_str(ka_json_path_str(cJSON_GetArrayItem(ka_json_path(g.json, "warnings"), 0), "where"), "request:2:30",
               "... with a located warning");
        request(port, "DELETE", "/v1/templates/b8", TOKEN, NULL, &g);
        is_int((int)ka_tmplstore_count(store), 1, "nothing invalid was registered");

        /* the rules */
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"r1\", \"folders\": [\"team-c\"], \"cloud\": \"restricted\",\n"
                " \"template\": {\"containers\": [{\"name\": \"a\", \"image\": \"b\"}]}}",
                &g);
        is_int(g.code, 403, "a folder the restricted cloud does not allow: 403");
        like(ka_json_str(g.json, "error"), "cloud restricted is not allowed for folder team-c", "says which");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"r1\", \"folders\": [\"team-b/apps/x\"], \"jobs\": [\"team-a/j\"], \"cloud\": "
                "\"restricted\",\n \"template\": {\"containers\": [{\"name\": \"a\", \"image\": \"b\"}]}}",
                &g);
        is_int(g.code, 201, "folders and jobs inside the allowed folders: 201");
        request(port, "POST", "/v1/templates", TOKEN,
                "{\"label\": \"jdk17\", \"folders\": [\"team-a\"],\n"
                " \"template\": {\"containers\": [{\"name\": \"a\", \"image\": \"b\"}]}}",
                &g);
        is_int(g.code, 409, "a label a configured template serves: 409");
        like(ka_json_str(g.json, "error"), "served by template maven of cloud open", "names the template");

        /* DELETE */
        request(port, "DELETE", "/v1/templates/r1", TOKEN, NULL, &g);
        is_int(g.code, 204, "DELETE: 204");
        request(port, "DELETE", "/v1/templates/r1", TOKEN, NULL, &g);
        is_int(g.code, 404, "DELETE again: 404");
        request(port, "GET", "/v1/templates/r1", TOKEN, NULL, &g);
        is_int(g.code, 404, "GET a removed one: 404");
        request(port, "DELETE", "/v1/templates/no%20such", TOKEN, NULL, &g);
        is_int(g.code, 404, "DELETE a label that cannot be: 404");
        request(port, "PUT", "/v1/templates/build-1", TOKEN, NULL, &g);
        is_int(g.code, 405, "PUT: 405");
        (void)cfg;
        got_clear(&g);
}

/* ---- the store ---- */

struct hand_clock {
        int64_t now;
};

static int64_t hand_now(void *data) {
        return ((struct hand_clock *)data)->now;
}

static struct ka_tmplstore_reg reg_of(const struct ka_config *cfg, const char *label, const char *folder) {
        struct ka_register_ctx ctx = {.cfg = cfg, .reg = fixture_registry()};
        char *body =
                ka_asprintf("{label: %s, folders: [%s], template: {containers: [{name: a, image: b}]}}", label, folder);
        struct ka_tmplstore_reg r = {0};
        struct ka_diags d = {0};
        if (ka_register_parse(&ctx, body, strlen(body), &r, &d) < 0)
                ka_diags_print(&d, stdout);
        ka_diags_free(&d);
        free(body);
        return r;
}

static void test_store(const struct ka_config *cfg) {
        struct hand_clock hc = {.now = 1000};
        struct ka_bus_clock clock = {.now_ms = hand_now, .wall_ms = hand_now, .data = &hc};
        struct ka_tmplstore *s = NULL;
        struct ka_tmplstore_options o = {.cfg = cfg, .expire_after_ms = 60000, .max = 2, .clock = &clock};
        ka_tmplstore_new(&o, &s);
        struct ka_error err = {0};
        struct ka_tmplstore_reg r = reg_of(cfg, "a", "team-a");
        is_int(ka_tmplstore_add(s, &r, NULL, &err), 0, "register a");
        ok(!r.tmpl && !r.label, "the store took it all");
        r = reg_of(cfg, "b", "team-b");
        is_int(ka_tmplstore_add(s, &r, NULL, &err), 0, "register b");
        r = reg_of(cfg, "c", "team-c");
        is_int(ka_tmplstore_add(s, &r, NULL, &err), -ENOSPC, "a third when two are the most: -ENOSPC");
        like(err.msg, "maxTemplates", "names the key that says so");
        ka_tmplstore_reg_clear(&r);

        struct ka_tmplref **v;
        size_t n = ka_tmplstore_take(s, &v);
        is_int((int)n, 2, "the scheduler takes both");
        is_str(v[0]->label, "a", "in the order they came");
        ok(ka_tmplref_allows(v[0], "team-a/app/main"), "a job under its folder may use it");
        ok(!ka_tmplref_allows(v[0], "team-ab/x") && !ka_tmplref_allows(v[0], "team-a") &&
                   !ka_tmplref_allows(v[0], NULL),
           "a job beside, the folder itself and an unknown job may not");
        struct ka_tmplref *agent = ka_tmplref_get(v[0]); /* an agent of a */
        ka_tmplstore_drop(v, n);

        hc.now += 30000;
        n = ka_tmplstore_take(s, &v);
        ka_tmplref_touch(v[1]); /* demand for b */
        ka_tmplstore_drop(v, n);
        hc.now += 40000; /* a: in use; b: used 40 s ago */
        is_int((int)ka_tmplstore_count(s), 2, "in use or used lately: nothing expires");
        hc.now += 20000;
        is_int((int)ka_tmplstore_count(s), 1, "b, unused for 60 s, expired");
        ok(ka_tmplstore_json(s, "b") == NULL, "and is gone");
        is_int(ka_tmplstore_remove(s, "a"), 0, "remove a while its agent lives");
        is_int(ka_tmplstore_remove(s, "a"), -ENOENT, "it is gone from the store");
        is_str(agent->tmpl->label, "a", "but its agent still has its template");
        ka_tmplref_put(agent); /* freed here: ASan tells */
        r = reg_of(cfg, "a", "team-a");
        is_int(ka_tmplstore_add(s, &r, NULL, &err), 0, "the label can be registered again");
        r = reg_of(cfg, "maven", "team-a");
        is_int(ka_tmplstore_add(s, &r, NULL, &err), -EEXIST, "a configured label: -EEXIST");
        ka_tmplstore_reg_clear(&r);
        ka_tmplstore_free(s);

        ok(ka_tmplstore_label_valid("build-42_x.y") && !ka_tmplstore_label_valid("-x") &&
                   !ka_tmplstore_label_valid("a b") && !ka_tmplstore_label_valid("") &&
                   !ka_tmplstore_label_valid("a/b"),
           "label validity");
        ok(ka_tmplstore_name_valid("a/b c/d") && !ka_tmplstore_name_valid("a//b") && !ka_tmplstore_name_valid("a/") &&
                   !ka_tmplstore_name_valid("/a") && !ka_tmplstore_name_valid("a\nb") &&
                   !ka_tmplstore_name_valid("a/../b") && !ka_tmplstore_name_valid(".") &&
                   ka_tmplstore_name_valid("a/.b/c..d"),
           "folder and job name validity");
}

/* ---- the endpoint's rule ---- */

static void test_init(const char *dir) {
        struct ka_http_templates t = {0};
        struct ka_http_templates_config c = {.expire_after = 1000, .max_templates = 10};
        const char *key;
        struct ka_error err = {0};
        is_int(ka_http_templates_init(&t, &c, "0.0.0.0:0", &key, &err), -EPERM,
               "no tokenFile on a non-loopback address: refused");
        is_str(key, "tokenFile", "blaming tokenFile");
        is_int(ka_http_templates_init(&t, &c, "127.0.0.1:0", &key, &err), 0, "no tokenFile on loopback: open");
        ok(t.token == NULL, "no token is required then");
        is_int(ka_http_templates_init(&t, &c, "off", &key, &err), -EINVAL, "no endpoint: refused");
        char *path = ka_asprintf("%s/token", dir);
        ka_write_file_atomic(path, "  s3cret-token\n", 15, 0600, &err);
        c.token_file = path;
        is_int(ka_http_templates_init(&t, &c, "0.0.0.0:0", &key, &err), 0, "a token file: fine anywhere");
        is_str(t.token, "s3cret-token", "the token, stripped");
        ka_error_set(&err, -EPERM, "token %s", t.token);
        is_str(err.msg, "token ********", "and masked in messages");
        ka_http_templates_clear(&t);
        ka_write_file_atomic(path, "\n", 1, 0600, &err);
        is_int(ka_http_templates_init(&t, &c, "0.0.0.0:0", &key, &err), -EINVAL, "an empty token file: refused");
        unlink(path);
        is_int(ka_http_templates_init(&t, &c, "0.0.0.0:0", &key, &err), -ENOENT, "a missing one too");
        free(path);
}

int main(void) {
        ka_log_setup("test", KA_LOG_WARN, KA_LOG_TEXT);
        ok(fixture_start(), "plugins from the test environment");
        const struct ka_config *cfg = fixture_config(config);
        char dir[] = "/tmp/ka-templates-XXXXXX";
        mkdtemp(dir);

        test_store(cfg);
        test_init(dir);

        struct ka_tmplstore *store = NULL;
        ka_tmplstore_new(&(struct ka_tmplstore_options){.cfg = cfg}, &store);
        struct ka_register_ctx ctx = {.cfg = cfg, .reg = fixture_registry()};
        struct ka_http_templates api = {
                .store = store, .parse = ka_register_parse, .parse_ud = &ctx, .token = ka_strdup(TOKEN)};
        ka_secret_register(api.token);
        struct ka_http *s = NULL;
        struct ka_error err = {0};
        ka_http_new("127.0.0.1:0", 0, &s, &err);
        is_int(ka_http_templates_routes(s, &api), 0, "the routes");
        is_int(ka_http_start(s, &err), 0, "start");
        test_http(cfg, store, ka_http_port(s));
        ka_http_free(s);
        ka_http_templates_clear(&api);
        ka_tmplstore_free(store);
        rmdir(dir);
        fixture_end();
        ka_metrics_reset();
        return tap_done();
}
