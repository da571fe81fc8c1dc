/* Every credential plugin in each auth mode, against the Kubernetes API
 * simulator over real TLS: token (inline, file with rotation), certificate
 * (PEM, PKCS#12 modern and legacy), service account (in-cluster, rotation),
 * kubeconfig (token, tokenFile, cert, cert-data, exec with caching, 401
 * refresh and failure, insecure); wrong CA refused, insecure only when asked,
 * autodetection, and no secret in errors or --log-http lines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"

static struct sim sim;
static struct ka_registry reg;
#define PODS "/api/v1/namespaces/ci/pods"

static char *path(const char *name) {
        return sim_path(&sim, name);
}

static char *file_text(const char *name) {
        _cleanup_free_ char *p = path(name);
        char *data = NULL;
        size_t len;
        struct ka_error err = {0};
        if (ka_read_file(p, 1u << 20, &data, &len, &err) < 0)
                return ka_strdup("");
        while (len > 0 && data[len - 1] == '\n')
                data[--len] = '\0';
        return data;
}

/* Open plugin `name` with conf `yaml`, GET the pods of ci, return the result. */
static int try_get(const char *name, const char *yaml, bool insecure, struct ka_error *err) {
        struct ka_kube_cred *cred;
        ka_error_clear(err);
        int r = cred_open(&reg, name, yaml, &cred, err);
        if (r < 0)
                return r;
        struct ka_kube_options o;
        ka_kube_options_init(&o);
        o.retry_base_ms = 10;
        o.max_retries = 1;
        o.qps = -1;
        o.skip_tls_verify = insecure;
        o.server_url = strstr(yaml, "server:") || strcmp(name, "kubeconfig") == 0 ||
                                       strcmp(name, "service-account") == 0
                               ? NULL
                               : sim.server;
        struct ka_kube *k = client_new(cred, &o);
        if (!k)
                return -EINVAL;
        r = get(k, PODS, err);
        ka_kube_free(k);
        return r;
}

static void test_token(void) {
        _cleanup_free_ char *ca = path("ca.crt"), *other = path("other-ca.crt"), *tf = path("sa-token");
        _cleanup_free_ char *admin = file_text("token-admin");
        struct ka_error err = {0};
        char yaml[2048];

        snprintf(yaml, sizeof(yaml), "{token: \"%s\", caFile: %s}", admin, ca);
        is_int(try_get("token", yaml, false, &err), 0, "token: inline token with the cluster CA");
        snprintf(yaml, sizeof(yaml), "{tokenFile: %s, caFile: %s}", tf, ca);
        is_int(try_get("token", yaml, false, &err), 0, "token: tokenFile");

        snprintf(yaml, sizeof(yaml), "{token: \"%s\", caFile: %s}", admin, other);
        is_int(try_get("token", yaml, false, &err), -EPROTO, "token: a server certificate from another CA is refused");
        like(err.msg, "is not trusted", "wrong CA: says the certificate is not trusted");
        snprintf(yaml, sizeof(yaml), "{token: \"%s\"}", admin);
        is_int(try_get("token", yaml, false, &err), -EPROTO, "token: no CA means system roots, which refuse it");
        is_int(try_get("token", yaml, true, &err), 0, "token: accepted when insecure is asked for explicitly");

        snprintf(yaml, sizeof(yaml), "{token: not-a-valid-token-at-all, caFile: %s}", ca);
        is_int(try_get("token", yaml, false, &err), -EKEYREJECTED, "token: a wrong token is a 401");
        like(err.msg, "unauthorized (401", "401: says unauthorized");
        ok(!strstr(err.msg, "not-a-valid-token-at-all"), "401: the token is not in the message");

        snprintf(yaml, sizeof(yaml), "{caFile: %s}", ca);
        ok(try_get("token", yaml, false, &err) < 0 && strstr(err.msg, "token or tokenFile"),
           "token: neither token nor tokenFile is an error");
}

/* A client on the sa-token file; rotate the token; the next request gets a
 * 401, re-reads the file and succeeds. */
static void test_rotation(const char *plugin, const char *yaml, const char *what) {
        struct ka_kube_cred *cred;
        struct ka_error err = {0};
        if (cred_open(&reg, plugin, yaml, &cred, &err) < 0) {
                ok(false, "%s: open: %s", what, err.msg);
                return;
        }
        struct ka_kube *k = client_new(cred, NULL);
        is_int(get(k, PODS, &err), 0, "%s: works before rotation", what);
        is_int(sim_admin(&sim, "POST", "/rotate-token", "{\"name\":\"sa\"}", NULL), 200, "%s: token rotated", what);
        is_int(get(k, PODS, &err), 0, "%s: works after rotation (%s)", what, err.msg);
        struct ka_kube_counters c;
        ka_kube_counters(k, &c);
        is_int(c.refreshes, 1, "%s: exactly one refresh after the 401", what);
        is_int(get(k, PODS, &err), 0, "%s: and keeps working", what);
        ka_kube_counters(k, &c);
        is_int(c.refreshes, 1, "%s: with no more refreshes", what);
        ka_kube_free(k);
}

static void test_certificate(void) {
        _cleanup_free_ char *ca = path("ca.crt"), *crt = path("admin.crt"), *key = path("admin.key");
        _cleanup_free_ char *p12 = path("client.p12"), *legacy = path("client-legacy.p12"), *pass = path("client.p12.pass");
        _cleanup_free_ char *other_key = path("cert-user.key");
        struct ka_error err = {0};
        char yaml[2048];

        snprintf(yaml, sizeof(yaml), "{certFile: %s, keyFile: %s, caFile: %s}", crt, key, ca);
        is_int(try_get("certificate", yaml, false, &err), 0, "certificate: PEM certificate and key");
        snprintf(yaml, sizeof(yaml), "{p12File: %s, passwordFile: %s, caFile: %s}", p12, pass, ca);
        is_int(try_get("certificate", yaml, false, &err), 0, "certificate: PKCS#12 (modern) with a password file");
        snprintf(yaml, sizeof(yaml), "{p12File: %s, passwordFile: %s, caFile: %s}", legacy, pass, ca);
        is_int(try_get("certificate", yaml, false, &err), 0, "certificate: PKCS#12 made with legacy algorithms (%s)",
               err.msg);
        snprintf(yaml, sizeof(yaml), "{p12File: %s, password: wrong-password, caFile: %s}", p12, ca);
        ok(try_get("certificate", yaml, false, &err) < 0 && strstr(err.msg, "wrong password"),
           "certificate: a wrong password is named as such (%s)", err.msg);
        ok(!strstr(err.msg, "wrong-password"), "certificate: the password is not in the message");
        snprintf(yaml, sizeof(yaml), "{certFile: %s, keyFile: %s, caFile: %s}", crt, other_key, ca);
        ok(try_get("certificate", yaml, false, &err) < 0 && strstr(err.msg, "does not belong"),
           "certificate: a key of another certificate is refused before connecting");
        snprintf(yaml, sizeof(yaml), "{certFile: %s, caFile: %s}", crt, ca);
        ok(try_get("certificate", yaml, false, &err) < 0 && strstr(err.msg, "keyFile"),
           "certificate: certFile without keyFile is an error");
}

static void test_service_account(void) {
        _cleanup_free_ char *dir = path("incluster");
        char port[16];
        snprintf(port, sizeof(port), "%d", sim.proc.port);
        setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
        setenv("KUBERNETES_SERVICE_PORT", port, 1);
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "{dir: %s}", dir);
        struct ka_error err = {0};
        is_int(try_get("service-account", yaml, false, &err), 0, "service-account: in-cluster token and CA (%s)",
               err.msg);
        struct ka_kube_cred *cred;
        if (cred_open(&reg, "service-account", yaml, &cred, &err) == 0) {
                struct ka_kube *k = client_new(cred, NULL);
                char *desc = NULL;
                is_int(ka_kube_describe(k, &desc, &err), 0, "service-account: describe");
                like(desc, sim.server, "service-account: server from KUBERNETES_SERVICE_HOST/PORT");
                is_str(ka_kube_namespace(k), "ci", "service-account: namespace from the namespace file");
                free(desc);
                ka_kube_free(k);
        }
        setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
        if (cred_open(&reg, "service-account", yaml, &cred, &err) == 0) {
                struct ka_kube *k = client_new(cred, NULL);
                char *desc = NULL;
                ka_kube_describe(k, &desc, &err);
                like(desc, "https://[fd00::1]:", "service-account: an IPv6 host is bracketed");
                free(desc);
                ka_kube_free(k);
        }
        setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
        test_rotation("service-account", yaml, "service-account");
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("KUBERNETES_SERVICE_PORT");
        ok(try_get("service-account", yaml, false, &err) < 0 && strstr(err.msg, "KUBERNETES_SERVICE_HOST"),
           "service-account: outside a cluster, a clear error");
}

static int exec_calls(const char *file) {
        _cleanup_free_ char *t = file_text(file);
        int n = 0;
        for (const char *p = t; *p; p++)
                n += *p == '\n';
        return *t ? n + 1 : 0;
}

static void test_kubeconfig(void) {
        static const char *const modes[] = {"kubeconfig-token", "kubeconfig-tokenfile", "kubeconfig-cert",
                                            "kubeconfig-cert-data", "kubeconfig-exec", "kubeconfig-insecure"};
        struct ka_error err = {0};
        char yaml[1024];
        for (size_t i = 0; i < KA_ARRAY_SIZE(modes); i++) {
                _cleanup_free_ char *kc = path(modes[i]);
                snprintf(yaml, sizeof(yaml), "{path: %s}", kc);
                is_int(try_get("kubeconfig", yaml, false, &err), 0, "kubeconfig: %s (%s)", modes[i], err.msg);
        }

        /* exec plugin: one run serves many requests */
        _cleanup_free_ char *calls = path("exec-plugin.calls");
        unlink(calls);
        _cleanup_free_ char *kc = path("kubeconfig-exec");
        snprintf(yaml, sizeof(yaml), "{path: %s}", kc);
        struct ka_kube_cred *cred;
        if (cred_open(&reg, "kubeconfig", yaml, &cred, &err) == 0) {
                struct ka_kube *k = client_new(cred, NULL);
                for (int i = 0; i < 5; i++)
                        get(k, PODS, &err);
                is_int(exec_calls("exec-plugin.calls"), 1, "kubeconfig exec: the credential is cached until it expires");
                ka_kube_free(k);
        }

        /* exec plugin without expiry: re-run after a 401 */
        _cleanup_free_ char *script = path("test-exec.sh"), *mine = path("kubeconfig-myexec");
        _cleanup_free_ char *ca = path("ca.crt"), *sa = path("sa-token"), *mycalls = path("myexec.calls");
        _cleanup_free_ char *text = ka_asprintf(
                "#!/bin/sh\necho run >> %s\n"
                "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
                "\"status\":{\"token\":\"%%s\"}}' \"$(cat %s)\"\n",
                mycalls, sa);
        write_text(script, text, 0755);
        free(text);
        text = ka_asprintf("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                           "clusters: [{name: s, cluster: {server: \"%s\", certificate-authority: %s}}]\n"
                           "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
                           "command: ./test-exec.sh}}}]\n"
                           "contexts: [{name: c, context: {cluster: s, user: u, namespace: ci}}]\n",
                           sim.server, ca);
        write_text(mine, text, 0600);
        free(text);
        snprintf(yaml, sizeof(yaml), "{path: %s}", mine);
        if (cred_open(&reg, "kubeconfig", yaml, &cred, &err) == 0) {
                struct ka_kube *k = client_new(cred, NULL);
                get(k, PODS, &err);
                get(k, PODS, &err);
                is_int(exec_calls("myexec.calls"), 1, "kubeconfig exec: run once (relative command resolved)");
                sim_admin(&sim, "POST", "/rotate-token", "{\"name\":\"sa\"}", NULL);
                is_int(get(k, PODS, &err), 0, "kubeconfig exec: works after the token was revoked (%s)", err.msg);
                is_int(exec_calls("myexec.calls"), 2, "kubeconfig exec: re-run once after the 401");
                ka_kube_free(k);
        } else {
                ok(false, "open my exec kubeconfig: %s", err.msg);
        }

        /* a broken exec plugin: a clear error that names it, and not a
         * word of what it printed */
        _cleanup_free_ char *bad = path("bad-exec.sh"), *badkc = path("kubeconfig-bad-exec");
        write_text(bad,
                   "#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                   "\"status\":{\"token\":\"exec-token-never-shown\"}}'\nexit \"$1\"\n",
                   0755);
        for (int status = 0; status <= 3; status += 3) {
                text = ka_asprintf("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                                   "clusters: [{name: s, cluster: {server: \"%s\", certificate-authority: %s}}]\n"
                                   "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
                                   "command: %s, args: [\"%d\"]}}}]\n"
                                   "contexts: [{name: c, context: {cluster: s, user: u, namespace: ci}}]\n",
                                   sim.server, ca, bad, status);
                write_text(badkc, text, 0600);
                free(text);
                snprintf(yaml, sizeof(yaml), "{path: %s}", badkc);
                ok(try_get("kubeconfig", yaml, false, &err) < 0, "kubeconfig exec: a broken plugin fails (exit %d)",
                   status);
                _cleanup_free_ char *want =
                        status ? ka_asprintf("exec plugin %s failed with exit status 3", bad)
                               : ka_asprintf("exec plugin %s: answered apiVersion client.authentication.k8s.io/v1, "
                                             "expected client.authentication.k8s.io/v1beta1",
                                             bad);
                like(err.msg, want, "kubeconfig exec: the error names the plugin and what is wrong");
                ok(!strstr(err.msg, "exec-token-never-shown"), "kubeconfig exec: its output is not in the message");
        }

        /* tls-server-name: connect to the URL's address, verify (and send
         * SNI for) another name; KUBERNETES_EXEC_INFO with provideClusterInfo */
        _cleanup_free_ char *tsn = path("kubeconfig-tls-name"), *info = path("exec-info.json");
        _cleanup_free_ char *dump = path("dump-exec.sh");
        text = ka_asprintf("#!/bin/sh\nprintf '%%s' \"$KUBERNETES_EXEC_INFO\" > %s\n"
                           "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                           "\"status\":{\"token\":\"%%s\"}}' \"$(cat %s)\"\n",
                           info, sa);
        write_text(dump, text, 0755);
        free(text);
        for (int good = 1; good >= 0; good--) {
                text = ka_asprintf("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                                   "clusters: [{name: s, cluster: {server: \"%s\", certificate-authority: %s, "
                                   "tls-server-name: %s}}]\n"
                                   "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
                                   "command: %s, interactiveMode: Never, provideClusterInfo: true}}}]\n"
                                   "contexts: [{name: c, context: {cluster: s, user: u}}]\n",
                                   sim.server, ca, good ? "localhost" : "wrong.example", dump);
                write_text(tsn, text, 0600);
                free(text);
                snprintf(yaml, sizeof(yaml), "{path: %s}", tsn);
                if (good) {
                        is_int(try_get("kubeconfig", yaml, false, &err), 0,
                               "tls-server-name matching the certificate: accepted (%s)", err.msg);
                        _cleanup_free_ char *got = file_text("exec-info.json");
                        like(got, "\"kind\":\"ExecCredential\"", "KUBERNETES_EXEC_INFO: an ExecCredential");
                        like(got, "\"interactive\":false", "KUBERNETES_EXEC_INFO: not interactive");
                        _cleanup_free_ char *want = ka_asprintf("\"server\":\"%s\"", sim.server);
                        like(got, want, "KUBERNETES_EXEC_INFO: provideClusterInfo gives the server");
                        like(got, "\"certificate-authority-data\":\"", "KUBERNETES_EXEC_INFO: and the CA");
                } else {
                        is_int(try_get("kubeconfig", yaml, false, &err), -EPROTO,
                               "tls-server-name the certificate does not name: refused");
                }
        }

        /* tokenFile in a kubeconfig rotates too */
        _cleanup_free_ char *tfk = path("kubeconfig-tokenfile");
        snprintf(yaml, sizeof(yaml), "{path: %s}", tfk);
        test_rotation("kubeconfig", yaml, "kubeconfig tokenFile");

        /* wrong CA in a kubeconfig */
        _cleanup_free_ char *other = path("other-ca.crt"), *wrong = path("kubeconfig-wrong-ca");
        _cleanup_free_ char *admin = file_text("token-admin");
        text = ka_asprintf("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                           "clusters: [{name: s, cluster: {server: \"%s\", certificate-authority: %s}}]\n"
                           "users: [{name: u, user: {token: %s}}]\n"
                           "contexts: [{name: c, context: {cluster: s, user: u}}]\n",
                           sim.server, other, admin);
        write_text(wrong, text, 0600);
        snprintf(yaml, sizeof(yaml), "{path: %s}", wrong);
        is_int(try_get("kubeconfig", yaml, false, &err), -EPROTO, "kubeconfig: a cluster CA that did not sign the "
                                                                  "server is refused");
        ok(!strstr(err.msg, admin), "kubeconfig: the token is not in the message");

        /* broken kubeconfig: named with file:line:col */
        _cleanup_free_ char *broken = path("kubeconfig-broken");
        write_text(broken, "apiVersion: v1\nclusters:\n- name: s\n  cluster: {server: 12}\ncurrent-context: c\n"
                           "contexts: [{name: c, context: {cluster: s}}]\n", 0600);
        snprintf(yaml, sizeof(yaml), "{path: %s}", broken);
        struct ka_kube_cred *c2;
        ok(cred_open(&reg, "kubeconfig", yaml, &c2, &err) < 0, "kubeconfig: a wrong field type is refused");
        ok(strstr(err.file, "kubeconfig-broken") && err.line == 4, "kubeconfig: the error names file and line (%s:%u)",
           err.file, err.line);
        like(err.msg, "server must be a string", "kubeconfig: and the problem");
}

static void test_autodetect(void) {
        _cleanup_free_ char *kc = path("kubeconfig-token"), *home = path("nohome");
        struct ka_kube_cred *cred = NULL;
        struct ka_error err = {0};
        unsetenv("KUBERNETES_SERVICE_HOST");
        setenv("KUBECONFIG", kc, 1);
        is_int(ka_kube_cred_autodetect(&reg, &cred, &err), 0, "autodetect: finds a kubeconfig");
        is_str(cred ? ka_kube_cred_plugin(cred) : NULL, "kubeconfig", "autodetect: through the kubeconfig plugin");
        if (cred) {
                struct ka_kube *k = client_new(cred, NULL);
                is_int(get(k, PODS, &err), 0, "autodetect: and it works");
                ka_kube_free(k);
        }
        unsetenv("KUBECONFIG");
        setenv("HOME", home, 1);
        is_int(ka_kube_cred_autodetect(&reg, &cred, &err), -ENOENT, "autodetect: nothing to find");
        like(err.msg, "tried service-account, kubeconfig", "autodetect: asked in priority order, in-cluster first");
        is_int(ka_kube_cred_kubeconfig(&reg, kc, NULL, &cred, &err), 0, "kubeconfig role: --kubeconfig");
        if (cred) {
                struct ka_kube *k = client_new(cred, NULL);
                is_int(get(k, PODS, &err), 0, "kubeconfig role: works");
                ka_kube_free(k);
        }
        ok(ka_kube_cred_kubeconfig(&reg, kc, "nope", &cred, &err) < 0 && strstr(err.msg, "context \"nope\" does not exist"),
           "kubeconfig role: --context that does not exist");
}

static struct ka_buf http_log = KA_BUF_INIT(0);

static void log_cb(void *ud, const char *line) {
        (void)ud;
        ka_buf_printf(&http_log, "%s\n", line);
}

static void test_log_http(void) {
        _cleanup_free_ char *ca = path("ca.crt"), *admin = file_text("token-admin");
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "{token: \"%s\", caFile: %s}", admin, ca);
        struct ka_kube_cred *cred;
        struct ka_error err = {0};
        if (cred_open(&reg, "token", yaml, &cred, &err) < 0) {
                ok(false, "open: %s", err.msg);
                return;
        }
        struct ka_kube_options o;
        ka_kube_options_init(&o);
        o.server_url = sim.server;
        o.http_log = log_cb;
        struct ka_kube *k = client_new(cred, &o);
        is_int(get(k, PODS, &err), 0, "log-http: request");
        like(http_log.data, "> GET https://127.0.0.1:", "log-http: the request line");
        like(http_log.data, "> Authorization: Bearer ********", "log-http: Authorization shown redacted");
        like(http_log.data, "< 200", "log-http: the status");
        like(http_log.data, "\"kind\":\"PodList\"", "log-http: the response body");
        ok(!strstr(http_log.data, admin), "log-http: the token appears nowhere");
        ka_kube_free(k);
        ka_buf_free(&http_log);
}

int main(void) {
        ka_mem_init();
        const char *why;
        if (!sim_start(&sim, NULL, &why)) {
                printf("1..0 # SKIP %s\n", why);
                return 0;
        }
        plugins_load(&reg);
        test_token();
        _cleanup_free_ char *ca = path("ca.crt"), *tf = path("sa-token");
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "{tokenFile: %s, caFile: %s, server: \"%s\"}", tf, ca, sim.server);
        test_rotation("token", yaml, "token tokenFile");
        test_certificate();
        test_service_account();
        test_kubeconfig();
        test_autodetect();
        test_log_http();
        ka_registry_free(&reg);
        sim_stop(&sim);
        ka_secret_reset();
        return tap_done();
}
