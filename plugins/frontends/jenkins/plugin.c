/* Frontend plugin `jenkins`: kubeagent's side of a stock Jenkins controller.
 *
 * The descriptor, the `frontends.jenkins` keys and their checks, and run(),
 * the frontend's thread.  The client of the controller's HTTP interface is
 * in http.c, queue.c, nodes.c and runs.c, the protocol with the core in
 * frontend.c (jenkins.h). */
#include <curl/curl.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "../../credentials/common/credutil.h"
#include "jenkins.h"

static const struct kubeagent_config_key keys[] = {
        {"url", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct jk_conf, url),
         "the controller's root URL, e.g. https://jenkins.example.com/"},
        {"user", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct jk_conf, user),
         "the Jenkins user kubeagent acts as"},
        {"tokenFile", KUBEAGENT_CFG_PATH, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct jk_conf, token_file),
         "file holding the user's API token (a password works too, with CSRF crumbs)"},
        {"caFile", KUBEAGENT_CFG_PATH, NULL, 0, offsetof(struct jk_conf, ca_file),
         "CA certificate (PEM) to trust for an https URL, instead of the system's"},
        {"insecure", KUBEAGENT_CFG_BOOL, "false", 0, offsetof(struct jk_conf, insecure),
         "do not check the controller's certificate (tests only)"},
        {"pollInterval", KUBEAGENT_CFG_DURATION, "2", 0, offsetof(struct jk_conf, poll_interval_ms),
         "how often the queue and the nodes are read (the nodes every 250ms while a single-use agent waits for "
         "its first build)"},
        {"timeout", KUBEAGENT_CFG_DURATION, "30", 0, offsetof(struct jk_conf, timeout_ms),
         "time limit of one request"},
        {"namePrefix", KUBEAGENT_CFG_STRING, "kubeagent-", 0, offsetof(struct jk_conf, name_prefix),
         "names of this kubeagent's nodes (and pods) start with it; one per kubeagent on a controller"},
        {0},
};

static int init(const struct kubeagent_host *host, struct kubeagent_plugin_handle *self, void **ret_state,
                struct ka_error *err) {
        jk_host = host;
        cu_host = host;
        jk_self = self;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return host->error_set(err, -EIO, "cannot initialise libcurl");
        *ret_state = NULL;
        return 0;
}

static void fini(void *state) {
        (void)state;
        curl_global_cleanup();
}

static int validate(void *state, const void *conf_, const struct kubeagent_config_source *src, struct ka_error *err) {
        (void)state;
        const struct jk_conf *conf = conf_;
        const char *url = conf->url;
        const char *rest = strncmp(url, "https://", 8) == 0 ? url + 8 : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
        if (!rest || !*rest || *rest == '/')
                return jk_host->error_at(err, src, "url", -EINVAL, "url must be http://HOST[:PORT][/PATH] or https://...");
        const char *at = strchr(rest, '@'), *slash = strchr(rest, '/');
        if (at && (!slash || at < slash))
                return jk_host->error_at(err, src, "url", -EINVAL,
                                         "url must not carry credentials: use user and tokenFile");
        if (strpbrk(url, "?# \t\r\n"))
                return jk_host->error_at(err, src, "url", -EINVAL, "url must be the root URL, without query or spaces");
        if (conf->insecure == 1 && conf->ca_file)
                return jk_host->error_at(err, src, "insecure", -EINVAL,
                                         "insecure: true turns off the checks caFile asks for; set only one");
        if (conf->poll_interval_ms < 200)
                return jk_host->error_at(err, src, "pollInterval", -EINVAL, "pollInterval must be at least 200ms");
        if (conf->timeout_ms < 1000)
                return jk_host->error_at(err, src, "timeout", -EINVAL, "timeout must be at least 1s");
        const char *p = conf->name_prefix;
        size_t n = p ? strlen(p) : 0;
        if (n < 2 || n > 30 || !(p[0] >= 'a' && p[0] <= 'z') || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
                return jk_host->error_at(err, src, "namePrefix", -EINVAL,
                                         "namePrefix must be 2 to 30 characters of a-z, 0-9 and '-', starting "
                                         "with a letter (it begins pod names)");
        return 0;
}

static void bus_emit(void *ud, const cJSON *msg) {
        struct ka_error err = {0};
        if (jk_host->bus_send(ud, msg, &err) < 0)
                jk_log(WARN, "bus: %s", err.msg);
}

/* The frontend's thread: look at the controller when jk_frontend_cycle() says (longer
 * while it fails) and do what the core asks in between, until it says stop. */
static int run(void *state, const void *conf, struct kubeagent_bus *bus, struct ka_error *err) {
        (void)state;
        struct jk_frontend *fe;
        int r = jk_frontend_new(conf, bus_emit, bus, &fe, err);
        if (r < 0)
                return r;
        bool bus_failing = false;
        for (;;) {
                int64_t now = jk_host->now_ms();
                if (now >= jk_frontend_due(fe)) {
                        jk_frontend_cycle(fe);
                        continue;
                }
                cJSON *msg = NULL;
                struct ka_error e = {0};
                r = jk_host->bus_recv(bus, (int)(jk_frontend_due(fe) - now), &msg, &e);
                if (r == 0) {
                        bus_failing = false;
                        jk_frontend_handle(fe, msg);
                        cJSON_Delete(msg);
                } else if (r == -ECANCELED) {
                        r = 0;
                        break;
                } else if (r == -ENOSYS || r == -EINVAL) {
                        jk_host->error_set(err, r, "%s", e.msg);
                        break;
                } else if (r != -ETIMEDOUT && !bus_failing) {
                        bus_failing = true;     /* logged once; the bus reconnects by itself */
                        jk_log(WARN, "%s", e.msg);
                }
        }
        jk_frontend_free(fe);
        return r;
}

static const struct kubeagent_frontend_ops ops = {.run = run};

static const struct kubeagent_plugin plugin = {
        KUBEAGENT_PLUGIN_HEADER(KUBEAGENT_KIND_FRONTEND),
        .name = "jenkins",
        .version = PACKAGE_VERSION,
        .description = "a stock Jenkins controller, over its HTTP interface",
        .config_keys = keys,
        .config_size = sizeof(struct jk_conf),
        .init = init,
        .fini = fini,
        .validate = validate,
        .frontend = &ops,
};

const struct kubeagent_plugin *kubeagent_plugin_entry(void) {
        return &plugin;
}
