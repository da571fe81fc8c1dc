/* Frontend plugin `jenkins`: kubeagent's side of a stock Jenkins controller.
 *
 * The descriptor, the `frontends.jenkins` keys and their checks.  The
 * client of the controller's HTTP interface is in http.c, queue.c, nodes.c
 * and runs.c (jenkins.h). */
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
         "how often the queue and the nodes are read"},
        {"timeout", KUBEAGENT_CFG_DURATION, "30", 0, offsetof(struct jk_conf, timeout_ms),
         "time limit of one request"},
        {"nodePrefix", KUBEAGENT_CFG_STRING, "kubeagent-", 0, offsetof(struct jk_conf, node_prefix),
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
        const char *p = conf->node_prefix;
        size_t n = p ? strlen(p) : 0;
        if (n < 2 || n > 30 || !(p[0] >= 'a' && p[0] <= 'z') || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
                return jk_host->error_at(err, src, "nodePrefix", -EINVAL,
                                         "nodePrefix must be 2 to 30 characters of a-z, 0-9 and '-', starting "
                                         "with a letter (it begins pod names)");
        return 0;
}

static int run(void *state, const void *conf, struct kubeagent_bus *bus, struct ka_error *err) {
        (void)state;
        (void)conf;
        (void)bus;
        return jk_host->error_set(err, -ENOSYS, "the Jenkins frontend needs the daemon's bus, not in this build yet");
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
