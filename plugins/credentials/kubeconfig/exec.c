#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* client.authentication.k8s.io exec credential plugins (reference §6.9):
 * run the command directly (no shell) with the parent's environment, the
 * configured env entries and KUBERNETES_EXEC_INFO; read its stdout (capped,
 * with a deadline); stdin is /dev/null and stderr is ours. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/credutil.h"
#include "kubeconfig.h"

#define EXEC_OUTPUT_MAX (1u << 20)
#define EXEC_DEADLINE_MS 60000

extern char **environ;

static bool overridden(char *const *env, const char *entry) {
        const char *eq = strchr(entry, '=');
        size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], entry, n) == 0 && env[i][n] == '=')
                        return true;
        return false;
}

static char **build_env(const struct kc_exec *e, char *info) {
        size_t n = 0, m = 0;
        while (environ[n])
                n++;
        while (e->env && e->env[m])
                m++;
        char **v = calloc(n + m + 2, sizeof(*v));
        if (!v)
                abort();
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (!overridden(e->env, environ[i]) && strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0)
                        v[k++] = environ[i];
        for (size_t i = 0; i < m; i++)
                v[k++] = e->env[i];
        v[k++] = info;
        return v;
}

static char *exec_info(const struct kc_exec *e) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kind", "ExecCredential");
        cJSON_AddStringToObject(j, "apiVersion", e->api_version);
        cJSON *spec = cJSON_AddObjectToObject(j, "spec");
        cJSON_AddBoolToObject(spec, "interactive", 0);
        if (e->cluster_json)
                cJSON_AddItemToObject(spec, "cluster", cJSON_Parse(e->cluster_json));
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        char *info = cu_printf("KUBERNETES_EXEC_INFO=%s", text);
        free(text);
        return info;
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spawn, collect stdout, wait. */
static int run(const struct kc_exec *e, char **ret_out, size_t *ret_len, struct ka_error *err) {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return cu_host->error_set(err, -errno, "exec plugin %s: pipe: %s", e->command, strerror(errno));
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        size_t nargs = 0;
        while (e->args && e->args[nargs])
                nargs++;
        char **argv = calloc(nargs + 2, sizeof(*argv));
        if (!argv)
                abort();
        argv[0] = e->command;
        for (size_t i = 0; i < nargs; i++)
                argv[i + 1] = e->args[i];
        char *info = exec_info(e);
        char **envp = build_env(e, info);
        pid_t pid;
        int sr = posix_spawnp(&pid, e->command, &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        free(argv);
        free(envp);
        free(info);
        close(pipefd[1]);
        if (sr != 0) {
                close(pipefd[0]);
                return cu_host->error_set(err, -sr, "exec plugin %s: cannot run it: %s%s%s", e->command, strerror(sr),
                                          e->install_hint ? ". " : "", e->install_hint ? e->install_hint : "");
        }
        size_t cap = 4096, len = 0;
        char *out = malloc(cap);
        if (!out)
                abort();
        int64_t deadline = mono_ms() + EXEC_DEADLINE_MS;
        int r = 0;
        for (;;) {
                int64_t left = deadline - mono_ms();
                if (left <= 0) {
                        r = cu_host->error_set(err, -ETIMEDOUT, "exec plugin %s: no answer within %d s", e->command,
                                               EXEC_DEADLINE_MS / 1000);
                        kill(pid, SIGKILL);
                        break;
                }
                struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
                if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
                        r = cu_host->error_set(err, -errno, "exec plugin %s: %s", e->command, strerror(errno));
                        kill(pid, SIGKILL);
                        break;
                }
                if (len + 1024 > cap) {
                        if (cap >= EXEC_OUTPUT_MAX) {
                                r = cu_host->error_set(err, -E2BIG, "exec plugin %s: output larger than %u bytes",
                                                       e->command, EXEC_OUTPUT_MAX);
                                kill(pid, SIGKILL);
                                break;
                        }
                        cap *= 2;
                        char *n = realloc(out, cap);
                        if (!n)
                                abort();
                        out = n;
                }
                ssize_t n = read(pipefd[0], out + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        close(pipefd[0]);
        out[len] = '\0';
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                if (WIFEXITED(status))
                        r = cu_host->error_set(err, -EIO, "exec plugin %s failed with exit status %d%s%s", e->command,
                                               WEXITSTATUS(status),
                                               WEXITSTATUS(status) == 127 && e->install_hint ? ". " : "",
                                               WEXITSTATUS(status) == 127 && e->install_hint ? e->install_hint : "");
                else
                        r = cu_host->error_set(err, -EIO, "exec plugin %s was killed by signal %d", e->command,
                                               WTERMSIG(status));
        }
        if (r < 0) {
                memset(out, 0, len);
                free(out);
                return r;
        }
        *ret_out = out;
        *ret_len = len;
        return 0;
}

void kc_exec_result_clear(struct kc_exec_result *r) {
        cu_host->secret_free(r->token);
        free(r->cert_pem);
        cu_host->secret_free(r->key_pem);
        *r = (struct kc_exec_result){0};
}

static int parse_output(const struct kc_exec *e, const char *out, size_t len, struct kc_exec_result *ret,
                        struct ka_error *err) {
        cJSON *j = cJSON_ParseWithLength(out, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return cu_host->error_set(
                        err, -EBADMSG, "exec plugin %s: its output is not an ExecCredential JSON object", e->command);
        }
        const cJSON *api = cJSON_GetObjectItemCaseSensitive(j, "apiVersion");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");
        int r = 0;
        if (!cJSON_IsString(api) || strcmp(api->valuestring, e->api_version) != 0)
                r = cu_host->error_set(err, -EBADMSG, "exec plugin %s: answered apiVersion %s, expected %s", e->command,
                                       cJSON_IsString(api) ? api->valuestring : "(none)", e->api_version);
        else if (!cJSON_IsObject(status))
                r = cu_host->error_set(err, -EBADMSG, "exec plugin %s: its ExecCredential has no status", e->command);
        struct kc_exec_result res = {0};
        if (r == 0) {
                const cJSON *tok = cJSON_GetObjectItemCaseSensitive(status, "token");
                const cJSON *cert = cJSON_GetObjectItemCaseSensitive(status, "clientCertificateData");
                const cJSON *key = cJSON_GetObjectItemCaseSensitive(status, "clientKeyData");
                const cJSON *exp = cJSON_GetObjectItemCaseSensitive(status, "expirationTimestamp");
                if (cJSON_IsString(tok) && *tok->valuestring)
                        res.token = cu_secret_dup(tok->valuestring);
                if (cJSON_IsString(key) && *key->valuestring)
                        res.key_pem = cu_secret_dup(key->valuestring);
                if (cJSON_IsString(cert) && *cert->valuestring)
                        res.cert_pem = cu_strdup(cert->valuestring);
                if (!res.cert_pem != !res.key_pem)
                        r = cu_host->error_set(
                                err, -EBADMSG,
                                "exec plugin %s: clientCertificateData and clientKeyData must come together",
                                e->command);
                else if (!res.token && !res.cert_pem)
                        r = cu_host->error_set(err, -EBADMSG,
                                               "exec plugin %s: status has neither token nor clientCertificateData",
                                               e->command);
                else if (res.cert_pem)
                        r = cu_check_pair(res.cert_pem, res.key_pem, e->command, err);
                if (r == 0 && cJSON_IsString(exp) && *exp->valuestring &&
                    cu_host->parse_time(exp->valuestring, &res.expires_ms) < 0)
                        r = cu_host->error_set(err, -EBADMSG,
                                               "exec plugin %s: expirationTimestamp \"%s\" is not RFC 3339", e->command,
                                               exp->valuestring);
        }
        /* the output held the token: wipe the parsed copy */
        if (cJSON_IsObject(status)) {
                cJSON *t = cJSON_GetObjectItemCaseSensitive(status, "token");
                if (cJSON_IsString(t))
                        memset(t->valuestring, 0, strlen(t->valuestring));
                t = cJSON_GetObjectItemCaseSensitive(status, "clientKeyData");
                if (cJSON_IsString(t))
                        memset(t->valuestring, 0, strlen(t->valuestring));
        }
        cJSON_Delete(j);
        if (r < 0) {
                kc_exec_result_clear(&res);
                return r;
        }
        *ret = res;
        return 0;
}

int kc_exec_run(const struct kc_exec *e, struct kc_exec_result *ret, struct ka_error *err) {
        if (e->interactive_always)
                return cu_host->error_set(err, -ENOTTY,
                                          "exec plugin %s needs an interactive terminal "
                                          "(interactiveMode: Always); kubeagent has none",
                                          e->command);
        char *out = NULL;
        size_t len = 0;
        int r = run(e, &out, &len, err);
        if (r < 0)
                return r;
        r = parse_output(e, out, len, ret, err);
        memset(out, 0, len);
        free(out);
        return r;
}
