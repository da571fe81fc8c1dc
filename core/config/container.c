/* Container templates (§1.4), their env vars (§1.5), ports and probes. */
#include <errno.h>
#include <string.h>

#include "load.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

const char *const ka_resource_names[KA_RES__N] = {"cpu", "memory", "ephemeral-storage"};

const char *const ka_container_field_keys[KA_CF__N] = {
        [KA_CF_NAME] = "name",
        [KA_CF_IMAGE] = "image",
        [KA_CF_COMMAND] = "command",
        [KA_CF_ARGS] = "args",
        [KA_CF_WORKING_DIR] = "workingDir",
        [KA_CF_TTY] = "ttyEnabled",
        [KA_CF_ALWAYS_PULL] = "alwaysPullImage",
        [KA_CF_PRIVILEGED] = "privileged",
        [KA_CF_RUN_AS_USER] = "runAsUser",
        [KA_CF_RUN_AS_GROUP] = "runAsGroup",
        [KA_CF_SHELL] = "shell",
        [KA_CF_REQUEST + KA_RES_CPU] = "resourceRequestCpu",
        [KA_CF_REQUEST + KA_RES_MEMORY] = "resourceRequestMemory",
        [KA_CF_REQUEST + KA_RES_EPHEMERAL] = "resourceRequestEphemeralStorage",
        [KA_CF_LIMIT + KA_RES_CPU] = "resourceLimitCpu",
        [KA_CF_LIMIT + KA_RES_MEMORY] = "resourceLimitMemory",
        [KA_CF_LIMIT + KA_RES_EPHEMERAL] = "resourceLimitEphemeralStorage",
        [KA_CF_PROBE] = "livenessProbe",
};

#define C(f) offsetof(struct ka_container, f)
static const struct kubeagent_config_key container_keys[] = {
        {"name", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, C(name),
         "container name (RFC 1123 label: a-z, 0-9, '-')"},
        {"image", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, C(image), "image, without whitespace"},
        {"command", KUBEAGENT_CFG_STRING, NULL, 0, C(command), "command line, split like a shell would"},
        {"args", KUBEAGENT_CFG_STRING, NULL, 0, C(args),
         "arguments, split like a shell would; ${computer.jnlpmac} and ${computer.name} are replaced"},
        {"workingDir", KUBEAGENT_CFG_STRING, NULL, 0, C(working_dir), "working directory"},
        {"ttyEnabled", KUBEAGENT_CFG_BOOL, NULL, 0, C(tty), "allocate a TTY"},
        {"alwaysPullImage", KUBEAGENT_CFG_BOOL, NULL, 0, C(always_pull), "imagePullPolicy Always"},
        {"privileged", KUBEAGENT_CFG_BOOL, NULL, 0, C(privileged), "run privileged"},
        {"shell", KUBEAGENT_CFG_STRING, NULL, 0, C(shell), "shell for the container step"},
        {"resourceRequestCpu", KUBEAGENT_CFG_STRING, NULL, 0, C(requests[KA_RES_CPU]), "CPU request"},
        {"resourceRequestMemory", KUBEAGENT_CFG_STRING, NULL, 0, C(requests[KA_RES_MEMORY]), "memory request"},
        {"resourceRequestEphemeralStorage", KUBEAGENT_CFG_STRING, NULL, 0, C(requests[KA_RES_EPHEMERAL]),
         "ephemeral storage request"},
        {"resourceLimitCpu", KUBEAGENT_CFG_STRING, NULL, 0, C(limits[KA_RES_CPU]), "CPU limit"},
        {"resourceLimitMemory", KUBEAGENT_CFG_STRING, NULL, 0, C(limits[KA_RES_MEMORY]), "memory limit"},
        {"resourceLimitEphemeralStorage", KUBEAGENT_CFG_STRING, NULL, 0, C(limits[KA_RES_EPHEMERAL]),
         "ephemeral storage limit"},
        {0},
};
#undef C
static const char *const container_manual[] = {"runAsUser", "runAsGroup", "envVars", "ports", "livenessProbe", NULL};

#define P(f) offsetof(struct ka_probe, f)
static const struct kubeagent_config_key probe_keys[] = {
        {"execArgs", KUBEAGENT_CFG_STRING, NULL, 0, P(exec_args), "command to run, split like a shell would"},
        {"initialDelaySeconds", KUBEAGENT_CFG_INT, "0", 0, P(initial_delay_seconds), "seconds before the first"},
        {"timeoutSeconds", KUBEAGENT_CFG_INT, "0", 0, P(timeout_seconds), "seconds before a probe times out"},
        {"failureThreshold", KUBEAGENT_CFG_INT, "0", 0, P(failure_threshold), "failures before restart"},
        {"periodSeconds", KUBEAGENT_CFG_INT, "0", 0, P(period_seconds), "seconds between probes"},
        {"successThreshold", KUBEAGENT_CFG_INT, "0", 0, P(success_threshold), "successes to pass"},
        {0},
};
#undef P

static const struct kubeagent_config_key port_keys[] = {
        {"name", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct ka_port, name), "port name"},
        {"containerPort", KUBEAGENT_CFG_INT, NULL, 0, offsetof(struct ka_port, container_port), "container port"},
        {"hostPort", KUBEAGENT_CFG_INT, NULL, 0, offsetof(struct ka_port, host_port), "host port"},
        {0},
};

#define E(f) offsetof(struct ka_env, f)
static const struct kubeagent_config_key keyvalue_env_keys[] = {
        {"key", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, E(key), "variable name"},
        {"value", KUBEAGENT_CFG_STRING, "", 0, E(value), "value, verbatim"},
        {0},
};
static const struct kubeagent_config_key secret_env_keys[] = {
        {"key", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, E(key), "variable name"},
        {"secretName", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, E(secret_name), "Kubernetes secret"},
        {"secretKey", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, E(secret_key), "key in the secret"},
        {"optional", KUBEAGENT_CFG_BOOL, NULL, 0, E(optional), "whether the secret may be missing"},
        {0},
};
#undef E

static void env_free(struct ka_env *e) {
        if (!e)
                return;
        free(e->key);
        free(e->value);
        free(e->secret_name);
        free(e->secret_key);
        free(e);
}

void ka_env_free_list(struct ka_env **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                env_free(v[i]);
        free(v);
}

/* envVars: [{envVar: {key, value}}, {secretEnvVar: {...}}, ...].  A
 * duplicate key in one list is an error, as in the plugin ("Duplicate key"). */
int ka_env_load_list(const struct ka_loader *ld, const cJSON *list, const struct ka_template *tmpl,
                     struct ka_env ***ret, size_t *ret_n) {
        int r = 0;
        for (const cJSON *item = list ? list->child : NULL; item; item = item->next) {
                const char *sym;
                const cJSON *body;
                if (ka_load_describable(ld, item, "envVars item", false, &sym, &body) < 0) {
                        r = -EINVAL;
                        continue;
                }
                bool secret = strcmp(sym, "secretEnvVar") == 0;
                if (!secret && strcmp(sym, "envVar") != 0 && strcmp(sym, "containerEnvVar") != 0 &&
                    strcmp(sym, "podEnvVar") != 0) {
                        ka_load_key_error(ld, body,
                                          "unknown env var type \"%s\" (known: envVar, secretEnvVar, "
                                          "containerEnvVar, podEnvVar)",
                                          sym);
                        r = -EINVAL;
                        continue;
                }
                struct ka_env *e = ka_new0(struct ka_env, 1);
                e->secret = secret;
                if (ka_load_fill(ld, secret ? secret_env_keys : keyvalue_env_keys, body, NULL, e) < 0) {
                        env_free(e);
                        r = -EINVAL;
                        continue;
                }
                e->from = (struct ka_origin){tmpl, ka_load_where(ld, body)};
                if (!secret)
                        e->optional = -1;
                ka_load_normalize(&e->key);
                /* the plugin drops entries without a name when combining */
                if (!e->key) {
                        ka_load_warn(ld, body, "env var without a key; ignored");
                        env_free(e);
                        continue;
                }
                bool dup = false;
                for (size_t i = 0; i < *ret_n && !dup; i++)
                        dup = strcmp((*ret)[i]->key, e->key) == 0;
                if (dup) {
                        ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(body, "key"),
                                      "duplicate env var \"%s\" in this list", e->key);
                        env_free(e);
                        r = -EINVAL;
                        continue;
                }
                KA_PUSH(*ret, *ret_n, e);
        }
        return r;
}

/* runAsUser/runAsGroup: a number as text; anything else is dropped with a
 * warning (the plugin drops it silently). */
int64_t ka_load_user_id(const struct ka_loader *ld, const cJSON *obj, const char *key, const cJSON **ret_node) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        *ret_node = NULL;
        if (!v || cJSON_IsNull(v))
                return KA_UNSET;
        int64_t id;
        if (cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble)
                id = (int64_t)v->valuedouble;
        else if (cJSON_IsString(v) && ka_isempty(v->valuestring))
                return KA_UNSET;
        else if (!cJSON_IsString(v) || ka_parse_int64(v->valuestring, &id) < 0) {
                ka_load_warn(ld, v, "\"%s\" is not a number; ignored", key);
                return KA_UNSET;
        }
        *ret_node = v;
        return id;
}

bool ka_load_rfc1123_label(const char *s) {
        size_t n = strlen(s);
        if (!n)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (!alnum && !(c == '-' && i > 0 && i < n - 1))
                        return false;
        }
        return true;
}

void ka_container_free(struct ka_container *c) {
        if (!c)
                return;
        if (!c->borrowed) {
                ka_cfgmap_clear(container_keys, c);
                for (size_t i = 0; i < c->n_env; i++)
                        env_free(c->env[i]);
                for (size_t i = 0; i < c->n_ports; i++) {
                        free(c->ports[i]->name);
                        free(c->ports[i]);
                }
                if (c->probe) {
                        free(c->probe->exec_args);
                        free(c->probe);
                }
        }
        free(c->env);
        free(c->ports);
        free(c);
}

static int load_ports(const struct ka_loader *ld, const cJSON *list, const struct ka_template *tmpl,
                      struct ka_container *c) {
        int r = 0;
        for (const cJSON *item = list ? list->child : NULL; item; item = item->next) {
                struct ka_port *p = ka_new0(struct ka_port, 1);
                if (ka_load_fill(ld, port_keys, item, NULL, p) < 0) {
                        free(p->name);
                        free(p);
                        r = -EINVAL;
                        continue;
                }
                ka_load_normalize(&p->name);
                p->from = (struct ka_origin){tmpl, ka_load_where(ld, item)};
                const cJSON *cp = cJSON_GetObjectItemCaseSensitive(item, "containerPort");
                if (p->container_port != KA_UNSET && (p->container_port < 1 || p->container_port > 65535)) {
                        ka_load_error(ld, cp, "containerPort must be between 1 and 65535");
                        r = -EINVAL;
                }
                if (p->host_port != KA_UNSET && (p->host_port < 0 || p->host_port > 65535)) {
                        ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(item, "hostPort"),
                                      "hostPort must be between 0 and 65535");
                        r = -EINVAL;
                }
                KA_PUSH(c->ports, c->n_ports, p);
        }
        return r;
}

int ka_container_load(const struct ka_loader *ld, const cJSON *node, const struct ka_template *tmpl,
                      struct ka_container **ret) {
        _cleanup_(ka_container_freep) struct ka_container *c = ka_new0(struct ka_container, 1);
        c->loc = ka_load_where(ld, node);
        int r = ka_load_fill(ld, container_keys, node, container_manual, c);
        if (!cJSON_IsObject(node))
                return -EINVAL;
        for (size_t f = 0; f < KA_CF__N; f++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, ka_container_field_keys[f]);
                if (v && !cJSON_IsNull(v))
                        c->from[f] = (struct ka_origin){tmpl, ka_load_key_where(ld, v)};
        }
        const cJSON *v;
        c->run_as_user = ka_load_user_id(ld, node, "runAsUser", &v);
        c->run_as_group = ka_load_user_id(ld, node, "runAsGroup", &v);
        if (c->run_as_user == KA_UNSET)
                c->from[KA_CF_RUN_AS_USER].tmpl = NULL;
        if (c->run_as_group == KA_UNSET)
                c->from[KA_CF_RUN_AS_GROUP].tmpl = NULL;

        ka_load_normalize(&c->name);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(node, "name");
        if (name && !c->name) {
                ka_load_error(ld, name, "container name must not be empty");
                r = -EINVAL;
        } else if (c->name && !ka_load_rfc1123_label(c->name)) {
                ka_load_error(ld, name,
                              "container name \"%s\" must match RFC 1123: lower-case letters, digits and '-', "
                              "starting and ending with a letter or digit",
                              c->name);
                r = -EINVAL;
        }
        const cJSON *image = cJSON_GetObjectItemCaseSensitive(node, "image");
        if (image && ka_isempty(c->image)) {
                ka_load_error(ld, image, "image must not be empty");
                r = -EINVAL;
        } else if (c->image && c->image[strcspn(c->image, " \t\r\n\f\v")]) {
                ka_load_error(ld, image, "malformed image \"%s\": it must not contain whitespace", c->image);
                r = -EINVAL;
        }
        ka_load_normalize(&c->working_dir);
        ka_load_normalize(&c->shell);
        for (size_t i = 0; i < KA_RES__N; i++) {
                ka_load_normalize(&c->requests[i]);
                ka_load_normalize(&c->limits[i]);
                if (!c->requests[i])
                        c->from[KA_CF_REQUEST + i].tmpl = NULL;
                if (!c->limits[i])
                        c->from[KA_CF_LIMIT + i].tmpl = NULL;
        }
        if (c->command && !*c->command)
                c->from[KA_CF_COMMAND].tmpl = NULL;
        if (c->args && !*c->args)
                c->from[KA_CF_ARGS].tmpl = NULL;
        if (!c->working_dir)
                c->from[KA_CF_WORKING_DIR].tmpl = NULL;
        if (!c->shell)
                c->from[KA_CF_SHELL].tmpl = NULL;

        const char *lines[] = {"command", "args"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(lines); i++) {
                char **words = NULL;
                const char *text = i == 0 ? c->command : c->args;
                if (ka_split_command_line(text, &words) < 0) {
                        ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(node, lines[i]), "%s: unbalanced quote",
                                      lines[i]);
                        r = -EINVAL;
                }
                ka_strv_free(words);
        }
        if (ka_env_load_list(ld, ka_load_list(ld, node, "envVars"), tmpl, &c->env, &c->n_env) < 0)
                r = -EINVAL;
        if (load_ports(ld, ka_load_list(ld, node, "ports"), tmpl, c) < 0)
                r = -EINVAL;
        const cJSON *probe = cJSON_GetObjectItemCaseSensitive(node, "livenessProbe");
        if (probe && !cJSON_IsNull(probe)) {
                c->probe = ka_new0(struct ka_probe, 1);
                char **words = NULL;
                if (ka_load_fill(ld, probe_keys, probe, NULL, c->probe) < 0)
                        r = -EINVAL;
                else if (ka_split_command_line(c->probe->exec_args, &words) < 0) {
                        ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(probe, "execArgs"),
                                      "execArgs: unbalanced quote");
                        r = -EINVAL;
                }
                ka_strv_free(words);
        }
        if (r < 0)
                return r;
        *ret = KA_TAKE(c);
        return 0;
}

int ka_split_command_line(const char *s, char ***ret) {
        enum { NORMAL, SINGLE, DOUBLE } state = NORMAL;
        _cleanup_(ka_strv_freep) char **words = NULL;
        struct ka_buf cur = KA_BUF_INIT(0);
        bool quoted = false; /* the current word had quotes: "" is a word */
        for (const char *p = s ? s : ""; *p; p++) {
                char c = *p;
                if (state == SINGLE && c == '\'') {
                        state = NORMAL;
                } else if (state == DOUBLE && c == '"') {
                        state = NORMAL;
                } else if (state != NORMAL) {
                        ka_buf_putc(&cur, c);
                } else if (c == '\'' || c == '"') {
                        state = c == '\'' ? SINGLE : DOUBLE;
                        quoted = true;
                } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
                        if (quoted || cur.len) {
                                words = ka_strv_push(words ? words : ka_new0(char *, 1), cur.data ? cur.data : "");
                                ka_buf_reset(&cur);
                                quoted = false;
                        }
                } else {
                        ka_buf_putc(&cur, c);
                }
        }
        if (quoted || cur.len)
                words = ka_strv_push(words ? words : ka_new0(char *, 1), cur.data ? cur.data : "");
        ka_buf_free(&cur);
        if (state != NORMAL)
                return -EINVAL;
        *ret = KA_TAKE(words);
        return 0;
}
