/* Reaching the cluster for pods, logs and doctor: config, cloud, credentials. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"
#include "kube/kube.h"
#include "provision/cloud.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

static void log_http_line(void *ud, const char *line) {
        (void)ud;
        fprintf(stderr, "kubeagent: http: %s\n", line);
}

/* The config and cloud, when there is a config file (or one was asked
 * for); a refused plugin does not stop a command that needs none. */
static int load_config(struct ka_cli *cli, struct ka_cli_kube *k) {
        const struct ka_document *doc;
        int rc = ka_cli_document(cli, cli->config_path || cli->cloud, &doc);
        if (rc || !doc)
                return rc;
        struct ka_diags diags = {0};
        rc = ka_cli_config(cli, &k->cfg, &diags);
        ka_diags_free(&diags);
        if (rc == KA_EXIT_USAGE)
                return rc;
        return ka_cli_cloud(cli, k->cfg, &k->cloud);
}

static char *agent_selector(const struct ka_cloud *cloud) {
        if (!cloud)
                return ka_strdup("jenkins=slave");
        const struct ka_keyval *const *labels;
        size_t n = ka_cloud_pod_labels(cloud, &labels);
        struct ka_buf b = KA_BUF_INIT(0);
        for (size_t i = 0; i < n; i++)
                ka_buf_printf(&b, "%s%s=%s", i ? "," : "", labels[i]->key, labels[i]->value ? labels[i]->value : "");
        if (b.len == 0)
                ka_buf_puts(&b, "jenkins=slave");
        return ka_buf_steal(&b);
}

static int kube_open(struct ka_cli *cli, struct ka_cli_kube *k) {
        int rc = load_config(cli, k);
        if (rc)
                return rc;
        const struct ka_registry *reg;
        rc = ka_cli_plugins(cli, &reg);
        if (rc == KA_EXIT_USAGE)
                return rc;
        const struct ka_cloud *c = k->cloud;
        struct ka_kube_options o;
        ka_kube_options_init(&o);
        struct ka_error err = {0};
        int r;
        if (cli->kubeconfig || cli->context)
                r = ka_kube_cred_kubeconfig(reg, cli->kubeconfig, cli->context, &o.cred, &err);
        else if (c && c->credentials)
                r = ka_kube_cred_open(c->credentials->plugin, c->credentials->conf, &o.cred, &err);
        else
                r = ka_kube_cred_autodetect(reg, &o.cred, &err);
        if (r < 0) {
                char buf[KA_ERROR_FORMAT_MAX];
                fprintf(stderr, "kubeagent: %s\n", ka_error_format(&err, buf, sizeof(buf)));
                return r == -ENOENT || r == -EINVAL ? KA_EXIT_USAGE : KA_EXIT_FAILURE;
        }
        ka_cloud_kube_options(c, &o);
        /* an explicit kubeconfig decides the server; otherwise the cloud's serverUrl wins */
        if (cli->kubeconfig || cli->context)
                o.server_url = NULL;
        if (cli->namespace_)
                o.namespace_ = cli->namespace_;
        if (cli->log_http)
                o.http_log = log_http_line;
        o.impersonate_user = cli->as_user;
        o.impersonate_uid = cli->as_uid;
        o.impersonate_groups = cli->as_groups;
        r = ka_kube_new(&o, &k->kube, &err);
        if (r < 0) {
                fprintf(stderr, "kubeagent: %s\n", err.msg);
                return KA_EXIT_USAGE;
        }
        k->selector = agent_selector(c);
        return 0;
}

int ka_cli_kube_open(struct ka_cli *cli, struct ka_cli_kube *k) {
        *k = (struct ka_cli_kube){0};
        int rc = kube_open(cli, k);
        if (rc)
                ka_cli_kube_close(k);
        return rc;
}

void ka_cli_kube_close(struct ka_cli_kube *k) {
        ka_kube_free(k->kube);
        ka_config_free(k->cfg);
        free(k->selector);
        *k = (struct ka_cli_kube){0};
}
