/* kubeagent gc: one garbage collection, run by the running kubeagentd.
 *
 * Only the daemon knows which pods and nodes its agents own, and only it
 * reaches the frontends, so the command asks it (POST /v1/gc on its HTTP
 * endpoint) and prints what it did. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http/http.h"
#include "plugin/cfgmap.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

#define MAX_ANSWER (16u << 20)

static void usage(FILE *f) {
        fputs("Usage: kubeagent gc [-c CONFIG] [--dry-run] [--url URL]\n"
              "\n"
              "Run one garbage collection through the running kubeagentd: delete the pods\n"
              "carrying kubeagent's labels whose heartbeat is stale and that no agent owns\n"
              "(clouds with a garbageCollection block), and the Jenkins nodes kubeagent\n"
              "manages that have no pod behind them.  With --dry-run nothing is deleted.\n"
              "\n"
              "Options:\n"
              "  -c, --config PATH  the daemon's config: kubeagentd is reached at its\n"
              "                     kubeagent.http.listen\n"
              "      --dry-run      only say what would be deleted\n"
              "      --url URL      kubeagentd's endpoint (http://HOST:PORT) instead\n"
              "\n"
              "Prints one line per pod or node deleted (\"would delete\" with --dry-run),\n"
              "then how many.  Exit status: 0 done, 1 kubeagentd unreachable or failing,\n"
              "2 usage or config error.\n",
              f);
}

/* The URL of the endpoint kubeagent.http.listen names, as a client reaches it. */
static char *endpoint_of(const char *listen) {
        const char *colon = strrchr(listen, ':');
        if (!colon || !strcmp(colon + 1, "0"))
                return NULL;
        char *host = ka_strndup(listen, (size_t)(colon - listen));
        const char *h = host;
        if (!*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "*"))
                h = "127.0.0.1";
        else if (!strcmp(h, "[::]"))
                h = "[::1]";
        char *url = ka_asprintf("http://%s:%s", h, colon + 1);
        free(host);
        return url;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
        return ka_buf_append(ud, data, size * n) < 0 ? 0 : size * n;
}

static void print_entry(const cJSON *e, bool dry) {
        const char *what = ka_json_str(e, "what");
        const char *verb = ka_json_bool(e, "deleted", !dry) ? "deleted" : "would delete";
        if (ka_streq(what, "pod"))
                printf("%s pod %s/%s (cloud %s): %s\n", verb, ka_json_str(e, "namespace"), ka_json_str(e, "name"),
                       ka_json_str(e, "cloud"), ka_json_str(e, "reason"));
        else
                printf("%s node %s (frontend %s): %s\n", verb, ka_json_str(e, "name"), ka_json_str(e, "frontend"),
                       ka_json_str(e, "reason"));
}

int ka_cmd_gc(struct ka_cli *cli, int argc, char **argv) {
        enum { OPT_DRY_RUN = 256, OPT_URL };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                {"url", required_argument, NULL, OPT_URL},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool dry = false;
        const char *url_opt = NULL;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        cli->config_path = optarg;
                        break;
                case OPT_DRY_RUN:
                        dry = true;
                        break;
                case OPT_URL:
                        url_opt = optarg;
                        break;
                case 'h':
                        return ka_cli_usage(usage, true);
                default:
                        return ka_cli_usage(usage, false);
                }
        }
        if (optind < argc)
                return ka_cli_usage(usage, false);

        _cleanup_free_ char *base = NULL;
        if (url_opt) {
                base = ka_strdup(url_opt);
        } else {
                struct ka_diags diags = {0};
                struct ka_config *cfg = NULL;
                int rc = ka_cli_config(cli, &cfg, &diags);
                ka_diags_free(&diags);
                if (rc == KA_EXIT_USAGE)
                        return rc;
                struct kubeagent_config_source src = ka_config_section(cfg, "http");
                struct ka_http_config hc = {0};
                if (ka_cfgmap_fill(ka_http_config_keys, &src, NULL, &hc, &diags) < 0) {
                        ka_cli_print_diags(&diags);
                        ka_diags_free(&diags);
                        ka_config_free(cfg);
                        return KA_EXIT_USAGE;
                }
                ka_diags_free(&diags);
                if (ka_isempty(hc.listen) || !strcmp(hc.listen, "off") || !(base = endpoint_of(hc.listen)))
                        fprintf(stderr,
                                "kubeagent: kubeagent.http.listen is %s: say where kubeagentd listens with --url\n",
                                ka_isempty(hc.listen) ? "off" : hc.listen);
                ka_cfgmap_clear(ka_http_config_keys, &hc);
                ka_config_free(cfg);
                if (!base)
                        return KA_EXIT_USAGE;
        }
        while (ka_endswith(base, "/"))
                base[strlen(base) - 1] = '\0';
        _cleanup_free_ char *url = ka_asprintf("%s/v1/gc%s", base, dry ? "?dryRun=true" : "");
        CURL *h = curl_easy_init();
        struct ka_buf body = KA_BUF_INIT(MAX_ANSWER);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 90000L);
        CURLcode cc = curl_easy_perform(h);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(h);
        int rc = KA_EXIT_FAILURE;
        cJSON *answer = NULL;
        struct ka_error err = {0};
        if (cc != CURLE_OK) {
                fprintf(stderr, "kubeagent: cannot reach kubeagentd at %s: %s\n", base, curl_easy_strerror(cc));
        } else if (code != 200) {
                fprintf(stderr, "kubeagent: kubeagentd at %s answered %ld: %s", base, code,
                        body.data ? body.data : "\n");
        } else if (ka_json_parse(body.data, body.len, &answer, &err) < 0 ||
                   !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(answer, "collected"))) {
                fprintf(stderr, "kubeagent: kubeagentd at %s: not a garbage collection's answer\n", base);
        } else {
                size_t pods = 0, nodes = 0;
                const cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(answer, "collected")) {
                        print_entry(e, dry);
                        pods += ka_streq(ka_json_str(e, "what"), "pod");
                        nodes += !ka_streq(ka_json_str(e, "what"), "pod");
                }
                if (!pods && !nodes)
                        printf("nothing to collect\n");
                else
                        printf("%zu pod%s and %zu node%s %s\n", pods, pods == 1 ? "" : "s", nodes,
                               nodes == 1 ? "" : "s", dry ? "would be deleted" : "deleted");
                rc = KA_EXIT_OK;
        }
        cJSON_Delete(answer);
        ka_buf_free(&body);
        return rc;
}
