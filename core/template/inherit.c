/* Template inheritance: PodTemplateUtils.combine and unwrap (§3.1–§3.3).
 *
 * Results borrow everything from their inputs except their arrays and the
 * containers they combine (see template.h), so combining is cheap and needs
 * no copies of plugin confs or parsed YAML.  Where the plugin keeps items in
 * hash maps (containers, volumes, env vars) kubeagent keeps the parent's
 * order, replaces in place, and appends the child's new items in order. */
#include <errno.h>
#include <string.h>

#include "template.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

#define PUSH(arr, n, item)                                                                                             \
        do {                                                                                                           \
                (arr) = ka_reallocarray((arr), (n) + 1, sizeof(*(arr)));                                               \
                (arr)[(n)++] = (item);                                                                                 \
        } while (0)

/* Env vars by key: parent order, the child's replace in place, new ones appended. */
static void merge_env(struct ka_env *const *parent, size_t np, struct ka_env *const *child, size_t nc,
                      struct ka_env ***ret, size_t *ret_n) {
        struct ka_env **out = NULL;
        size_t n = 0;
        for (size_t i = 0; i < np; i++)
                PUSH(out, n, parent[i]);
        for (size_t i = 0; i < nc; i++) {
                size_t j = 0;
                while (j < n && strcmp(out[j]->key, child[i]->key) != 0)
                        j++;
                if (j < n)
                        out[j] = child[i];
                else
                        PUSH(out, n, child[i]);
        }
        *ret = out;
        *ret_n = n;
}

/* A container of a result: the same object when it belongs to a loaded
 * template, a copy of its arrays when an earlier combine made it. */
static struct ka_container *take_container(struct ka_container *c) {
        if (!c->borrowed)
                return c;
        struct ka_container *copy = ka_new0(struct ka_container, 1);
        *copy = *c;
        copy->env = c->n_env ? ka_reallocarray(NULL, c->n_env, sizeof(*c->env)) : NULL;
        if (c->n_env)
                memcpy(copy->env, c->env, c->n_env * sizeof(*c->env));
        copy->ports = c->n_ports ? ka_reallocarray(NULL, c->n_ports, sizeof(*c->ports)) : NULL;
        if (c->n_ports)
                memcpy(copy->ports, c->ports, c->n_ports * sizeof(*c->ports));
        return copy;
}

/* ContainerTemplate combine (§3.3). */
static struct ka_container *combine_container(const struct ka_container *p, const struct ka_container *c) {
        struct ka_container *out = ka_new0(struct ka_container, 1);
        out->borrowed = true;
        out->loc = c->loc;
#define PICK(field, f, from_child)                                                                                     \
        do {                                                                                                           \
                const struct ka_container *s_ = (from_child) ? c : p;                                                  \
                out->field = s_->field;                                                                                \
                out->from[f] = s_->from[f];                                                                            \
        } while (0)
        PICK(name, KA_CF_NAME, true);
        PICK(image, KA_CF_IMAGE, !ka_isempty(c->image));
        PICK(command, KA_CF_COMMAND, !ka_isempty(c->command));
        PICK(args, KA_CF_ARGS, !ka_isempty(c->args));
        PICK(working_dir, KA_CF_WORKING_DIR, c->working_dir);
        PICK(shell, KA_CF_SHELL, c->shell);
        for (size_t i = 0; i < KA_RES__N; i++) {
                PICK(requests[i], KA_CF_REQUEST + i, c->requests[i]);
                PICK(limits[i], KA_CF_LIMIT + i, c->limits[i]);
        }
        PICK(tty, KA_CF_TTY, c->tty == 1);
        PICK(always_pull, KA_CF_ALWAYS_PULL, c->always_pull == 1);
        PICK(privileged, KA_CF_PRIVILEGED, c->privileged == 1);
        PICK(run_as_user, KA_CF_RUN_AS_USER, c->run_as_user != KA_UNSET);
        PICK(run_as_group, KA_CF_RUN_AS_GROUP, c->run_as_group != KA_UNSET);
        PICK(probe, KA_CF_PROBE, c->probe);
#undef PICK
        merge_env(p->env, p->n_env, c->env, c->n_env, &out->env, &out->n_env);
        /* ports by name */
        for (size_t i = 0; i < p->n_ports; i++)
                PUSH(out->ports, out->n_ports, p->ports[i]);
        for (size_t i = 0; i < c->n_ports; i++) {
                size_t j = 0;
                while (j < out->n_ports && !(c->ports[i]->name && ka_streq(out->ports[j]->name, c->ports[i]->name)))
                        j++;
                if (j < out->n_ports)
                        out->ports[j] = c->ports[i];
                else
                        PUSH(out->ports, out->n_ports, c->ports[i]);
        }
        return out;
}

static struct ka_container *find_container(struct ka_container *const *v, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i]->name, name) == 0)
                        return v[i];
        return NULL;
}

struct ka_template *ka_template_combine(const struct ka_template *parent, const struct ka_template *child) {
        const struct ka_template *p = parent, *c = child;
        struct ka_template *out = ka_new0(struct ka_template, 1);
        out->borrowed = true;
        out->src = c->src;
        out->locs = c->locs;
        out->loc = c->loc;
        if (!p) {
                /* a copy of the child that owns its arrays */
                static const struct ka_template none = {
                        .instance_cap = KA_UNLIMITED,
                        .slave_connect_timeout = KA_SLAVE_CONNECT_TIMEOUT_DEFAULT,
                        .run_as_user = KA_UNSET,
                        .run_as_group = KA_UNSET,
                        .agent_injection = -1,
                        .host_network = -1,
                        .show_raw_yaml = -1,
                        .inherit_yaml_merge_strategy = -1,
                        .termination_grace_period_seconds = KA_UNSET,
                };
                p = &none;
        }
#define PICK(field, f, from_child)                                                                                     \
        do {                                                                                                           \
                const struct ka_template *s_ = (from_child) ? c : p;                                                   \
                out->field = s_->field;                                                                                \
                out->from[f] = s_->from[f];                                                                            \
        } while (0)
        out->id = c->id;
        PICK(name, KA_TF_NAME, true);
        PICK(label, KA_TF_LABEL, true);
        PICK(node_usage_mode, KA_TF_NODE_USAGE_MODE, true);
        PICK(namespace_, KA_TF_NAMESPACE, c->namespace_);
        PICK(node_selector, KA_TF_NODE_SELECTOR, c->node_selector);
        PICK(service_account, KA_TF_SERVICE_ACCOUNT, c->service_account);
        PICK(scheduler_name, KA_TF_SCHEDULER_NAME, c->scheduler_name);
        PICK(agent_container, KA_TF_AGENT_CONTAINER, c->agent_container);
        PICK(inherit_from, KA_TF_INHERIT_FROM, c->inherit_from);
        PICK(run_as_user, KA_TF_RUN_AS_USER, c->run_as_user != KA_UNSET);
        PICK(run_as_group, KA_TF_RUN_AS_GROUP, c->run_as_group != KA_UNSET);
        PICK(supplemental_groups, KA_TF_SUPPLEMENTAL_GROUPS, c->supplemental_groups);
        PICK(instance_cap, KA_TF_INSTANCE_CAP, c->instance_cap != KA_UNLIMITED);
        PICK(slave_connect_timeout, KA_TF_SLAVE_CONNECT_TIMEOUT,
             c->slave_connect_timeout != KA_SLAVE_CONNECT_TIMEOUT_DEFAULT);
        PICK(idle_minutes, KA_TF_IDLE_MINUTES, c->idle_minutes != 0);
        PICK(active_deadline_seconds, KA_TF_ACTIVE_DEADLINE, c->active_deadline_seconds != 0);
        PICK(agent_injection, KA_TF_AGENT_INJECTION, c->agent_injection == 1);
        /* showRawYaml: false when either says false */
        PICK(show_raw_yaml, KA_TF_SHOW_RAW_YAML, c->show_raw_yaml == 0 || p->show_raw_yaml == -1);
        PICK(host_network, KA_TF_HOST_NETWORK, c->host_network != -1);
        PICK(pod_retention, KA_TF_POD_RETENTION, true);
        out->pod_retention_plugin = c->pod_retention_plugin;
        /* the child's, else the parent's when it lets children inherit it */
        if (c->yaml_merge_strategy != KA_MERGE_UNSET || p->inherit_yaml_merge_strategy == 1)
                PICK(yaml_merge_strategy, KA_TF_YAML_MERGE_STRATEGY, c->yaml_merge_strategy != KA_MERGE_UNSET);
        PICK(inherit_yaml_merge_strategy, KA_TF_INHERIT_YAML_MERGE_STRATEGY, !parent);
        PICK(workspace_volume, KA_TF_WORKSPACE_VOLUME, c->workspace_volume);
        /* not carried over by the plugin; kubeagent keeps the nearest one */
        PICK(termination_grace_period_seconds, KA_TF_TERMINATION_GRACE,
             c->termination_grace_period_seconds != KA_UNSET);
#undef PICK

        for (size_t i = 0; i < p->n_yamls; i++)
                PUSH(out->yamls, out->n_yamls, p->yamls[i]);
        for (size_t i = 0; i < c->n_yamls; i++)
                PUSH(out->yamls, out->n_yamls, c->yamls[i]);

        merge_env(p->env, p->n_env, c->env, c->n_env, &out->env, &out->n_env);

        for (size_t i = 0; i < p->n_containers; i++) {
                const struct ka_container *cc = find_container(c->containers, c->n_containers, p->containers[i]->name);
                PUSH(out->containers, out->n_containers,
                     cc ? combine_container(p->containers[i], cc) : take_container(p->containers[i]));
        }
        for (size_t i = 0; i < c->n_containers; i++)
                if (!find_container(p->containers, p->n_containers, c->containers[i]->name))
                        PUSH(out->containers, out->n_containers, take_container(c->containers[i]));

        /* volumes by mount path: a child's replaces a parent's (two of one
         * template at one path stay, and rendering keeps the first) */
        for (size_t i = 0; i < p->n_volumes; i++)
                PUSH(out->volumes, out->n_volumes, p->volumes[i]);
        for (size_t i = 0; i < c->n_volumes; i++) {
                size_t j = 0;
                while (j < p->n_volumes && strcmp(out->volumes[j]->mount_path, c->volumes[i]->mount_path) != 0)
                        j++;
                if (j < p->n_volumes)
                        out->volumes[j] = c->volumes[i];
                else
                        PUSH(out->volumes, out->n_volumes, c->volumes[i]);
        }

        /* image pull secrets: union, parent first */
        for (size_t l = 0; l < 2; l++) {
                const struct ka_template *s = l ? c : p;
                for (size_t i = 0; i < s->n_image_pull_secrets; i++) {
                        bool have = false;
                        for (size_t j = 0; j < out->n_image_pull_secrets && !have; j++)
                                have = strcmp(out->image_pull_secrets[j]->key, s->image_pull_secrets[i]->key) == 0;
                        if (!have)
                                PUSH(out->image_pull_secrets, out->n_image_pull_secrets, s->image_pull_secrets[i]);
                }
        }
        /* annotations: the child's first, then the parent's other keys */
        for (size_t i = 0; i < c->n_annotations; i++)
                PUSH(out->annotations, out->n_annotations, c->annotations[i]);
        for (size_t i = 0; i < p->n_annotations; i++) {
                bool have = false;
                for (size_t j = 0; j < c->n_annotations && !have; j++)
                        have = strcmp(c->annotations[j]->key, p->annotations[i]->key) == 0;
                if (!have)
                        PUSH(out->annotations, out->n_annotations, p->annotations[i]);
        }
        return out;
}

/* ---- unwrap ------------------------------------------------------------------ */

#define MAX_DEPTH 32

struct unwrapper {
        const struct ka_cloud *cloud;
        const struct ka_template *const *extra;
        size_t n_extra;
        struct ka_diags *diags;
        const struct ka_template *stack[MAX_DEPTH];
};

static const struct ka_template *find(const struct unwrapper *u, const char *name) {
        const struct ka_template *t = ka_cloud_template(u->cloud, name);
        for (size_t i = 0; !t && i < u->n_extra; i++)
                if (ka_streq(u->extra[i]->name, name))
                        t = u->extra[i];
        return t;
}

static struct ka_loc inherit_from_loc(const struct ka_template *t) {
        struct ka_loc l = t->from[KA_TF_INHERIT_FROM].loc;
        const cJSON *n = t->src ? cJSON_GetObjectItemCaseSensitive(t->src, "inheritFrom") : NULL;
        if (n)
                ka_locmap_get(t->locs, n, &l);
        return l.line ? l : t->loc;
}

static int unwrap(struct unwrapper *u, const struct ka_template *t, bool with_defaults, size_t depth,
                  struct ka_template **ret) {
        _cleanup_(ka_strv_freep) char **names = ka_new0(char *, 1);
        const char *dp = u->cloud ? u->cloud->defaults_provider_template : NULL;
        bool has_default = with_defaults && dp && !ka_streq(dp, t->name);
        if (has_default)
                names = ka_strv_push(names, dp);
        for (const char *p = t->inherit_from ? t->inherit_from : ""; *p;) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (n) {
                        _cleanup_free_ char *name = ka_strndup(p, n);
                        names = ka_strv_push(names, name);
                }
                p += n;
        }
        struct ka_template *parent = NULL;
        for (size_t i = 0; names[i]; i++) {
                bool is_default = has_default && i == 0;
                const struct ka_template *found = find(u, names[i]);
                if (!found) {
                        struct ka_loc l = inherit_from_loc(t);
                        if (!is_default)
                                ka_diags_add(u->diags, KA_DIAG_WARNING, l.file, l.line, l.col,
                                             "inheritFrom: no template named \"%s\" in cloud \"%s\"; ignored", names[i],
                                             u->cloud && u->cloud->name ? u->cloud->name : "-");
                        continue;
                }
                /* the defaults provider starts a chain of its own (the plugin
                 * does not apply it again while unwrapping it) */
                size_t base = is_default ? 0 : depth;
                size_t k = 0;
                while (k < base && u->stack[k] != found)
                        k++;
                if (k < base || base >= MAX_DEPTH) {
                        struct ka_buf b = KA_BUF_INIT(0);
                        for (size_t j = k < base ? k : 0; j < base; j++)
                                ka_buf_printf(&b, "%s -> ", u->stack[j]->name);
                        ka_buf_puts(&b, found->name);
                        struct ka_loc l = inherit_from_loc(t);
                        ka_diags_add(u->diags, KA_DIAG_ERROR, l.file, l.line, l.col, "inheritance %s: %s",
                                     k < base ? "cycle" : "too deep", b.data);
                        ka_buf_free(&b);
                        ka_template_free(parent);
                        return -ELOOP;
                }
                const struct ka_template *saved = u->stack[base];
                u->stack[base] = found;
                struct ka_template *up;
                int r = unwrap(u, found, false, base + 1, &up);
                u->stack[base] = saved;
                if (r < 0) {
                        ka_template_free(parent);
                        return r;
                }
                struct ka_template *next = ka_template_combine(parent, up);
                ka_template_free(parent);
                ka_template_free(up);
                parent = next;
        }
        *ret = ka_template_combine(parent, t);
        ka_template_free(parent);
        return 0;
}

int ka_template_unwrap(const struct ka_cloud *cloud, const struct ka_template *t,
                       const struct ka_template *const *extra, size_t n_extra, struct ka_template **ret,
                       struct ka_diags *diags) {
        struct unwrapper u = {.cloud = cloud, .extra = extra, .n_extra = n_extra, .diags = diags};
        u.stack[0] = t;
        return unwrap(&u, t, true, 1, ret);
}
