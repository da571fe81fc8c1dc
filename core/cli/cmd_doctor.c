/* kubeagent doctor — can kubeagent work with this cluster?  Connection,
 * identity, and every RBAC permission it needs (reference §8), one line
 * each, ok or FAIL with the fix. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kube/pods.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"

static void usage(FILE *f) {
        fprintf(f, "Usage: kubeagent [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] doctor [--cloud NAME]\n"
                   "\n"
                   "Check the connection to the cloud's API server, who kubeagent is authenticated\n"
                   "as, and whether RBAC allows everything it needs.  Exit status 1 when a check fails.\n");
}

static int failed;

static void line(bool good, const char *what, const char *detail, const char *fix) {
        printf("%-5s %s%s%s", good ? "ok" : "FAIL", what, detail ? ": " : "", detail ? detail : "");
        if (!good && fix)
                printf(" (fix: %s)", fix);
        printf("\n");
        if (!good)
                failed++;
}

static const char *connection_fix(int r) {
        switch (r) {
        case -EPROTO:
                return "the server's certificate is not signed by the CA kubeagent trusts: set the cloud's "
                       "serverCertificate or the kubeconfig's certificate-authority to the cluster CA";
        case -ECONNREFUSED:
                return "check the server URL (the cloud's serverUrl, the kubeconfig's server) and that the API "
                       "server is reachable from here";
        case -ETIMEDOUT:
                return "the API server did not answer in time: check the network path, or raise the cloud's "
                       "readTimeout";
        case -EKEYREJECTED:
                return "the credentials were refused: renew the token or certificate (kubeconfig, credentials entry)";
        default:
                return "see the error; kubeagent --log-http doctor shows every request";
        }
}

int ka_cmd_doctor(struct ka_cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                {"cloud", required_argument, NULL, 'C'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        optind = 0; /* 0: glibc re-reads the option string (main parsed with "+") */
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'C':
                        cli->cloud = optarg;
                        break;
                default:
                        return ka_cli_usage(usage, c == 'h');
                }
        }
        if (optind < argc)
                return ka_cli_usage(usage, false);
        struct ka_cli_kube k;
        int rc = ka_cli_kube_open(cli, &k);
        if (rc)
                return rc;
        failed = 0;
        struct ka_error err = {0};
        char *where = NULL;
        if (ka_kube_describe(k.kube, &where, &err) < 0) {
                line(false, "credentials", err.msg, "fix the credentials entry or the kubeconfig");
                ka_cli_kube_close(&k);
                return KA_EXIT_FAILURE;
        }
        const char *ns = ka_kube_namespace(k.kube);
        cJSON *version = NULL;
        int r = ka_kube_server_version(k.kube, &version, &err);
        struct ka_buf d = KA_BUF_INIT(0);
        if (r == 0) {
                const char *v = ka_json_str(version, "gitVersion");
                ka_buf_printf(&d, "%s, Kubernetes %s", where, v ? v : "(version unknown)");
                line(true, "connection", d.data, NULL);
        } else {
                line(false, "connection", err.msg, connection_fix(r));
        }
        cJSON_Delete(version);
        free(where);
        if (r < 0) {
                ka_buf_free(&d);
                ka_cli_kube_close(&k);
                return KA_EXIT_FAILURE;
        }

        cJSON *user = NULL;
        _cleanup_free_ char *username = NULL;
        ka_buf_reset(&d);
        r = ka_kube_whoami(k.kube, &user, &err);
        if (r == 0) {
                username = ka_strdup(ka_json_str(user, "username"));
                ka_buf_printf(&d, "%s", username ? username : "(anonymous)");
                const char *uid = ka_json_str(user, "uid");
                if (uid)
                        ka_buf_printf(&d, " (uid %s)", uid);
                const cJSON *g, *x;
                int n = 0;
                cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(user, "groups")) if (cJSON_IsString(g))
                        ka_buf_printf(&d, "%s%s", n++ ? ", " : " (groups: ", g->valuestring);
                if (n)
                        ka_buf_putc(&d, ')');
                /* extra (kubectl auth whoami's Extra: rows), e.g. from impersonation */
                cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(user, "extra")) {
                        ka_buf_printf(&d, " (extra %s: ", x->string);
                        n = 0;
                        cJSON_ArrayForEach(g, x) if (cJSON_IsString(g))
                                ka_buf_printf(&d, "%s%s", n++ ? ", " : "", g->valuestring);
                        ka_buf_putc(&d, ')');
                }
                line(true, "authenticated as", d.data, NULL);
        } else {
                line(false, "authenticated as", err.msg,
                     r == -ENOENT ? "the server has no SelfSubjectReview API (Kubernetes 1.28+); the checks below "
                                    "still apply"
                                  : connection_fix(r));
        }
        cJSON_Delete(user);

        ka_buf_reset(&d);
        ka_buf_printf(&d, "%s", ns);
        line(true, "namespace", d.data, NULL);

        for (const struct ka_kube_permission *p = ka_kube_permissions; p->resource; p++) {
                bool allowed = false;
                _cleanup_free_ char *what = ka_asprintf("%s%s%s %s", p->resource, p->subresource ? "/" : "",
                                                        p->subresource ? p->subresource : "", p->verb);
                r = ka_kube_can_i(k.kube, NULL, p->verb, p->resource, p->subresource, &allowed, NULL, &err);
                if (r < 0) {
                        line(false, what, err.msg, connection_fix(r));
                        continue;
                }
                _cleanup_free_ char *fix =
                        ka_asprintf("grant verb \"%s\" on \"%s%s%s\" in namespace %s to %s: kubectl apply -n %s -f "
                                    "config/kubernetes/rbac.yaml binds all of them to the kubeagent service account",
                                    p->verb, p->resource, p->subresource ? "/" : "",
                                    p->subresource ? p->subresource : "", ns, username ? username : "this user", ns);
                ka_buf_reset(&d);
                if (allowed)
                        ka_buf_printf(&d, "allowed (%s)", p->why);
                else
                        ka_buf_printf(&d, "not allowed, needed for %s", p->why);
                line(allowed, what, d.data, fix);
        }
        ka_buf_free(&d);
        printf("%d check%s failed\n", failed, failed == 1 ? "" : "s");
        ka_cli_kube_close(&k);
        return failed ? KA_EXIT_FAILURE : KA_EXIT_OK;
}
