/* The Jenkins simulator for the frontend's tests (jsim.h). */
#include "jsim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../plugins/credentials/common/credutil.h"
#include "../../plugins/frontends/jenkins/jenkins.h"
#include "tap.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"

bool jsim_start(struct jsim *j, const char *const *extra) {
        const char *why;
        *j = (struct jsim){0};
        if (!simproc_start(&j->p, "jenkins_sim.py", "KA_JENKINS_SIM", extra, &why)) {
                tap_diag("jenkins_sim: %s", why);
                return false;
        }
        _cleanup_free_ char *ready = jsim_file(j, "ready.json");
        char *text = NULL;
        size_t len;
        struct ka_error err;
        cJSON *doc = NULL;
        if (ka_read_file(ready, 1 << 16, &text, &len, &err) == 0 && ka_json_parse(text, len, &doc, &err) == 0) {
                snprintf(j->url, sizeof(j->url), "%s", ka_json_path_str(doc, "url"));
                j->agent_port = (int)ka_json_path(doc, "agentPort")->valuedouble;
        }
        cJSON_Delete(doc);
        free(text);
        return j->url[0] != '\0';
}

void jsim_stop(struct jsim *j) {
        simproc_stop(&j->p);
}

char *jsim_file(const struct jsim *j, const char *name) {
        return simproc_path(&j->p, name);
}

char *jsim_text(const struct jsim *j, const char *name) {
        _cleanup_free_ char *p = jsim_file(j, name);
        char *data = NULL;
        size_t len;
        struct ka_error err;
        if (ka_read_file(p, 1 << 20, &data, &len, &err) < 0)
                return ka_strdup("");
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
                data[--len] = '\0';
        return data;
}

int jsim_admin(const struct jsim *j, const char *method, const char *path, const char *json, char **ret_body) {
        return simproc_admin(&j->p, method, path, json, ret_body);
}

cJSON *jsim_node(const struct jsim *j, const char *name) {
        _cleanup_free_ char *body = NULL;
        cJSON *list = NULL, *found = NULL;
        if (jsim_admin(j, "GET", "/nodes", NULL, &body) != 200 || ka_json_parse(body, strlen(body), &list, NULL) < 0)
                return NULL;
        const cJSON *n;
        cJSON_ArrayForEach(n, list) if (!found && strcmp(ka_json_path_str(n, "name"), name) == 0) found =
                cJSON_Duplicate(n, true);
        cJSON_Delete(list);
        return found;
}

void jsim_build(const struct jsim *j, const char *json) {
        if (jsim_admin(j, "POST", "/builds", json, NULL) != 201)
                tap_diag("could not queue %s", json);
}

char *jsim_secret(const struct jsim *j, const char *name) {
        _cleanup_free_ char *keyhex = jsim_text(j, "secret.key");
        unsigned char key[64], mac[32];
        size_t kl = strlen(keyhex) / 2;
        for (size_t i = 0; i < kl && i < sizeof(key); i++)
                sscanf(keyhex + 2 * i, "%2hhx", &key[i]);
        unsigned int ml = sizeof(mac);
        HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)name, strlen(name), mac, &ml);
        char *out = ka_malloc(65);
        for (unsigned i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", mac[i]);
        return out;
}

int jsim_agent(const struct jsim *j, const char *name, const char *secret) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)j->agent_port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                close(fd);
                return -1;
        }
        char line[256];
        int n = snprintf(line, sizeof(line), "JNLP4-connect-sim %s %s\n", name, secret);
        if (write(fd, line, (size_t)n) != n) {
                close(fd);
                return -1;
        }
        char answer[128] = "";
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got = poll(&p, 1, 5000) > 0 ? read(fd, answer, sizeof(answer) - 1) : -1;
        if (got < 3 || strncmp(answer, "OK\n", 3) != 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static char logpath[] = "/tmp/ka-jenkins-test-log-XXXXXX";

const struct kubeagent_plugin_handle *jsim_plugin(struct ka_registry *reg, struct ka_error *err) {
        int fd = mkstemp(logpath);
        ka_log_setup("test", KA_LOG_DEBUG, KA_LOG_TOOL);
        if (fd >= 0)
                ka_log_set_fd(fd);
        const char *dir = getenv("KUBEAGENT_PLUGIN_PATH");
        _cleanup_free_ char *file = ka_path_join(dir ? dir : "plugins/.libs", "frontend-jenkins.so");
        if (ka_registry_load_file(reg, file, err) < 0)
                return NULL;
        const struct kubeagent_plugin_handle *p = ka_registry_find(reg, KUBEAGENT_KIND_FRONTEND, "jenkins");
        /* the client compiled into the test reports through the same host table */
        jk_host = cu_host = ka_host();
        jk_self = (struct kubeagent_plugin_handle *)p;
        return p;
}

char *jsim_log(void) {
        char *log = NULL;
        size_t len = 0;
        struct ka_error err;
        if (ka_read_file(logpath, 1 << 24, &log, &len, &err) < 0)
                return ka_strdup("");
        return log;
}

void jsim_log_end(void) {
        unlink(logpath);
}
