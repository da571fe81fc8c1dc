/* Pod templates (§1.3): one JCasC `templates:` item to a struct ka_template. */
#include <errno.h>
#include <string.h>

#include "load.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml/yaml.h"

const char *const ka_template_field_keys[KA_TF__N] = {
        [KA_TF_NAME] = "name",
        [KA_TF_NAMESPACE] = "namespace",
        [KA_TF_LABEL] = "label",
        [KA_TF_NODE_USAGE_MODE] = "nodeUsageMode",
        [KA_TF_INHERIT_FROM] = "inheritFrom",
        [KA_TF_AGENT_CONTAINER] = "agentContainer",
        [KA_TF_AGENT_INJECTION] = "agentInjection",
        [KA_TF_INSTANCE_CAP] = "instanceCap",
        [KA_TF_IDLE_MINUTES] = "idleMinutes",
        [KA_TF_ACTIVE_DEADLINE] = "activeDeadlineSeconds",
        [KA_TF_SLAVE_CONNECT_TIMEOUT] = "slaveConnectTimeout",
        [KA_TF_SERVICE_ACCOUNT] = "serviceAccount",
        [KA_TF_SCHEDULER_NAME] = "schedulerName",
        [KA_TF_NODE_SELECTOR] = "nodeSelector",
        [KA_TF_RUN_AS_USER] = "runAsUser",
        [KA_TF_RUN_AS_GROUP] = "runAsGroup",
        [KA_TF_SUPPLEMENTAL_GROUPS] = "supplementalGroups",
        [KA_TF_HOST_NETWORK] = "hostNetwork",
        [KA_TF_SHOW_RAW_YAML] = "showRawYaml",
        [KA_TF_YAML_MERGE_STRATEGY] = "yamlMergeStrategy",
        [KA_TF_INHERIT_YAML_MERGE_STRATEGY] = "inheritYamlMergeStrategy",
        [KA_TF_POD_RETENTION] = "podRetention",
        [KA_TF_WORKSPACE_VOLUME] = "workspaceVolume",
        [KA_TF_TERMINATION_GRACE] = "terminationGracePeriodSeconds",
};

#define T(f) offsetof(struct ka_template, f)
static const struct kubeagent_config_key template_keys[] = {
        {"id", KUBEAGENT_CFG_STRING, NULL, 0, T(id), "identifier (Jenkins nodes refer to their template by it)"},
        {"name", KUBEAGENT_CFG_STRING, NULL, 0, T(name), "name: for inheritFrom and as the pod-name prefix"},
        {"namespace", KUBEAGENT_CFG_STRING, NULL, 0, T(namespace_), "pod namespace (default: the cloud's)"},
        {"label", KUBEAGENT_CFG_STRING, NULL, 0, T(label), "whitespace-separated labels the template serves"},
        {"inheritFrom", KUBEAGENT_CFG_STRING, NULL, 0, T(inherit_from), "space-separated parent templates"},
        {"agentContainer", KUBEAGENT_CFG_STRING, NULL, 0, T(agent_container), "the agent's container (jnlp)"},
        {"agentInjection", KUBEAGENT_CFG_BOOL, NULL, 0, T(agent_injection), "inject the agent into any image"},
        {"serviceAccount", KUBEAGENT_CFG_STRING, NULL, 0, T(service_account), "spec.serviceAccountName"},
        {"schedulerName", KUBEAGENT_CFG_STRING, NULL, 0, T(scheduler_name), "spec.schedulerName"},
        {"nodeSelector", KUBEAGENT_CFG_STRING, NULL, 0, T(node_selector), "k=v,k2=v2"},
        {"supplementalGroups", KUBEAGENT_CFG_STRING, NULL, 0, T(supplemental_groups), "comma-separated group ids"},
        {"hostNetwork", KUBEAGENT_CFG_BOOL, NULL, 0, T(host_network), "spec.hostNetwork"},
        {"showRawYaml", KUBEAGENT_CFG_BOOL, NULL, 0, T(show_raw_yaml), "print the pod in the build log"},
        {"inheritYamlMergeStrategy", KUBEAGENT_CFG_BOOL, NULL, 0, T(inherit_yaml_merge_strategy),
         "children inherit yamlMergeStrategy"},
        {"terminationGracePeriodSeconds", KUBEAGENT_CFG_INT, NULL, 0, T(termination_grace_period_seconds),
         "spec.terminationGracePeriodSeconds"},
        {"nodeProperties", KUBEAGENT_CFG_JSON, NULL, KUBEAGENT_CFG_IGNORED, 0, "Jenkins node properties"},
        {0},
};
#undef T

static const char *const template_manual[] = {"nodeUsageMode",
                                              "instanceCap",
                                              "instanceCapStr",
                                              "idleMinutes",
                                              "idleMinutesStr",
                                              "activeDeadlineSeconds",
                                              "activeDeadlineSecondsStr",
                                              "slaveConnectTimeout",
                                              "slaveConnectTimeoutStr",
                                              "runAsUser",
                                              "runAsGroup",
                                              "yaml",
                                              "yamlMergeStrategy",
                                              "podRetention",
                                              "workspaceVolume",
                                              "containers",
                                              "envVars",
                                              "volumes",
                                              "annotations",
                                              "imagePullSecrets",
                                              NULL};

/* Fields of pre-0.9 templates, which the plugin moves into a jnlp container. */
static const char *const legacy_fields[] = {"image",
                                            "command",
                                            "args",
                                            "remoteFs",
                                            "privileged",
                                            "alwaysPullImage",
                                            "resourceRequestCpu",
                                            "resourceRequestMemory",
                                            "resourceLimitCpu",
                                            "resourceLimitMemory",
                                            NULL};

const char *ka_yaml_merge_name(enum ka_yaml_merge m) {
        switch (m) {
        case KA_MERGE_MERGE:
                return "merge";
        case KA_MERGE_STRATEGIC:
                return "strategic";
        case KA_MERGE_OVERRIDE:
        case KA_MERGE_UNSET:
                break;
        }
        return "override";
}

const char *ka_template_agent_container(const struct ka_template *t) {
        return t->agent_container ? t->agent_container : "jnlp";
}

/* ---- volumes ------------------------------------------------------------- */

static void volume_free(struct ka_volume *v) {
        if (!v)
                return;
        ka_plugin_conf_free(v->plugin, v->form, v->conf);
        free(v->mount_path);
        free(v);
}

/* "a/./b//c/../d\e" → "a/b/d/e" (java.nio normalize, then '\' → '/'). */
static char *normalize_path(const char *in) {
        _cleanup_free_ char *s = ka_strdup(in);
        for (char *p = s; *p; p++)
                if (*p == '\\')
                        *p = '/';
        bool absolute = s[0] == '/';
        char **parts = ka_new0(char *, 1);
        size_t n = 0;
        for (char *save = NULL, *tok = strtok_r(s, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
                if (strcmp(tok, ".") == 0)
                        continue;
                if (strcmp(tok, "..") == 0 && n > 0 && strcmp(parts[n - 1], "..") != 0) {
                        free(parts[--n]);
                        parts[n] = NULL;
                        continue;
                }
                if (strcmp(tok, "..") == 0 && absolute)
                        continue;
                parts = ka_strv_push(parts, tok);
                n++;
        }
        struct ka_buf b = KA_BUF_INIT(0);
        ka_buf_puts(&b, absolute ? "/" : "");
        for (size_t i = 0; i < n; i++)
                ka_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
        ka_strv_free(parts);
        return ka_buf_steal(&b);
}

static bool is_default_workspace(const cJSON *source) {
        cJSON *def = cJSON_Parse("{\"emptyDir\":{\"medium\":\"\"}}");
        bool same = cJSON_Compare(source, def, true);
        cJSON_Delete(def);
        return same;
}

static const struct kubeagent_plugin_handle *find_volume_plugin(const struct ka_registry *reg, int form,
                                                                const char *symbol) {
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin *d = reg->v[i]->desc;
                if (d->kind != KUBEAGENT_KIND_VOLUME)
                        continue;
                const char *const *s =
                        form == KUBEAGENT_VOLUME_POD ? d->volume->pod.symbols : d->volume->workspace.symbols;
                for (; s && *s; s++)
                        if (strcmp(*s, symbol) == 0)
                                return reg->v[i];
        }
        return NULL;
}

static void unknown_volume(const struct ka_loader *ld, const cJSON *at, int form, const char *symbol) {
        struct ka_buf b = KA_BUF_INIT(0);
        for (size_t i = 0; i < ld->reg->n; i++) {
                const struct kubeagent_plugin *d = ld->reg->v[i]->desc;
                if (d->kind != KUBEAGENT_KIND_VOLUME)
                        continue;
                const char *const *s =
                        form == KUBEAGENT_VOLUME_POD ? d->volume->pod.symbols : d->volume->workspace.symbols;
                for (; s && *s; s++)
                        ka_buf_printf(&b, "%s%s", b.len ? ", " : "", *s);
        }
        ka_load_key_error(ld, at, "unknown %s type \"%s\" (known: %s)",
                          form == KUBEAGENT_VOLUME_POD ? "volume" : "workspace volume", symbol,
                          b.len ? b.data : "none: no volume plugin is loaded");
        ka_buf_free(&b);
}

/* {symbol: {params}}: the plugin serving the symbol fills and validates its
 * conf, then renders it once (so that rendering a pod later cannot fail on
 * it, and so that the core knows the mount path). */
static int load_volume(const struct ka_loader *ld, const cJSON *node, int form, const struct ka_template *tmpl,
                       struct ka_volume **ret) {
        const char *sym;
        const cJSON *body;
        const char *what = form == KUBEAGENT_VOLUME_POD ? "volumes item" : "workspaceVolume";
        if (ka_load_describable(ld, node, what, false, &sym, &body) < 0)
                return -EINVAL;
        const struct kubeagent_plugin_handle *p = find_volume_plugin(ld->reg, form, sym);
        if (!p) {
                unknown_volume(ld, body, form, sym);
                return -EINVAL;
        }
        struct kubeagent_config_source src =
                ka_cfgsrc(cJSON_IsNull(body) ? NULL : body, ld->locs, ka_load_key_where(ld, body));
        void *conf;
        int r = ka_plugin_conf_new(p, form, &src, NULL, &conf, ld->diags);
        if (r < 0)
                return r;
        struct ka_volume *v = ka_new0(struct ka_volume, 1);
        v->plugin = p;
        v->form = form;
        v->conf = conf;
        v->from = (struct ka_origin){tmpl, ka_load_key_where(ld, body)};
        const char *const *syms =
                form == KUBEAGENT_VOLUME_POD ? p->desc->volume->pod.symbols : p->desc->volume->workspace.symbols;
        for (; *syms && strcmp(*syms, sym) != 0; syms++)
                ;
        v->symbol = *syms;

        struct kubeagent_volume_ctx ctx = {.form = form, .pod_name = "pod-name"};
        struct kubeagent_volume_out out = {0};
        struct ka_error err = {0};
        r = p->desc->volume->render(p->state, conf, &ctx, &out, &err);
        if (r < 0 || !cJSON_IsObject(out.source)) {
                ka_load_key_error(ld, body, "%s: %s", sym, r < 0 ? err.msg : "the volume plugin rendered nothing");
                r = -EINVAL;
        } else if (form == KUBEAGENT_VOLUME_POD && ka_isempty(out.mount_path)) {
                ka_load_key_error(ld, body, "%s: mountPath must not be empty", sym);
                r = -EINVAL;
        } else if (form == KUBEAGENT_VOLUME_POD) {
                v->mount_path = normalize_path(out.mount_path);
        } else if (is_default_workspace(out.source)) {
                r = 1; /* equal to the default: "not set" for inheritance (§1.7) */
        }
        cJSON_Delete(out.source);
        cJSON_Delete(out.extra_objects);
        free(out.mount_path);
        free(out.sub_path);
        if (r != 0) {
                volume_free(v);
                return r < 0 ? r : 0;
        }
        *ret = v;
        return 0;
}

/* ---- yaml fragments ------------------------------------------------------- */

static void fragment_free(struct ka_fragment *f) {
        if (!f)
                return;
        free(f->text);
        cJSON_Delete(f->pod);
        ka_locmap_free(f->locs);
        free(f);
}

/* Where the fragment's first line is in its file.  For a block scalar
 * (`yaml: |`) that is the line after the indicator, indented like its first
 * non-blank line; for other scalars the scalar itself. */
static struct ka_yaml_origin fragment_origin(struct ka_loc l) {
        struct ka_yaml_origin o = {.file = l.file};
        if (!l.line)
                return o;
        o.line_offset = l.line - 1;
        o.col_offset = l.col ? l.col - 1 : 0;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (!l.file || ka_read_file(l.file, KA_YAML_MAX_BYTES, &text, &len, NULL) < 0)
                return o;
        const char *p = text;
        for (unsigned i = 1; i < l.line && p; i++)
                p = (p = strchr(p, '\n')) ? p + 1 : NULL;
        if (!p || strlen(p) < l.col)
                return o;
        if (p[l.col - 1] == '"' || p[l.col - 1] == '\'') {
                o.col_offset = l.col; /* the text starts after the quote */
                return o;
        }
        if (p[l.col - 1] != '|' && p[l.col - 1] != '>')
                return o;
        for (p = strchr(p, '\n'); p; p = strchr(p, '\n')) {
                p++;
                size_t ind = strspn(p, " ");
                if (p[ind] != '\n' && p[ind] != '\0') {
                        o.line_offset = l.line;
                        o.col_offset = (unsigned)ind;
                        return o;
                }
        }
        return o;
}

static int check_fragment_containers(const struct ka_loader *ld, const struct ka_fragment *f, const char *list) {
        const cJSON *cs = ka_json_path(f->pod, list);
        struct ka_loader fl = {.locs = f->locs, .reg = ld->reg, .diags = ld->diags};
        if (!cs || cJSON_IsNull(cs))
                return 0;
        if (!cJSON_IsArray(cs)) {
                ka_load_error(&fl, cs, "yaml: %s must be a list", list);
                return -EINVAL;
        }
        int r = 0;
        for (const cJSON *c = cs->child; c; c = c->next) {
                const char *name = ka_json_str(c, "name");
                if (!cJSON_IsObject(c) || !name) {
                        ka_load_error(&fl, c, "yaml: every item of %s needs a name", list);
                        r = -EINVAL;
                        continue;
                }
                if (!ka_load_rfc1123_label(name)) {
                        ka_load_error(&fl, cJSON_GetObjectItemCaseSensitive(c, "name"),
                                      "yaml: container name \"%s\" must match RFC 1123: lower-case letters, "
                                      "digits and '-', starting and ending with a letter or digit",
                                      name);
                        r = -EINVAL;
                }
                for (const cJSON *o = cs->child; o != c; o = o->next)
                        if (ka_streq(ka_json_str(o, "name"), name)) {
                                ka_load_error(&fl, cJSON_GetObjectItemCaseSensitive(c, "name"),
                                              "yaml: container \"%s\" is listed twice", name);
                                r = -EINVAL;
                                break;
                        }
        }
        return r;
}

static int load_fragment(const struct ka_loader *ld, const cJSON *node, const struct ka_template *tmpl,
                         struct ka_fragment **ret) {
        if (!cJSON_IsString(node)) {
                ka_load_error(ld, node, "\"yaml\": expected a string holding a Pod in YAML");
                return -EINVAL;
        }
        struct ka_fragment *f = ka_new0(struct ka_fragment, 1);
        f->text = ka_strdup(node->valuestring);
        f->locs = ka_locmap_new();
        f->from = (struct ka_origin){tmpl, ka_load_key_where(ld, node)};
        struct ka_loc at = ka_load_where(ld, node);
        struct ka_yaml_origin origin = fragment_origin(at);
        struct ka_error err = {0};
        int r = ka_yaml_parse(f->text, strlen(f->text), &origin, f->locs, &f->pod, &err);
        if (r < 0) {
                ka_error_prefix(&err, "yaml");
                ka_diags_add_error(ld->diags, &err);
                fragment_free(f);
                return r;
        }
        struct ka_loader fl = {.locs = f->locs, .reg = ld->reg, .diags = ld->diags};
        if (!f->pod)
                f->pod = cJSON_CreateObject();
        if (!cJSON_IsObject(f->pod)) {
                ka_load_error(&fl, f->pod, "yaml: expected a Pod (a mapping with metadata and spec)");
                fragment_free(f);
                return -EINVAL;
        }
        const char *kind = ka_json_str(f->pod, "kind");
        if (kind && strcmp(kind, "Pod") != 0)
                ka_load_warn(&fl, cJSON_GetObjectItemCaseSensitive(f->pod, "kind"),
                             "yaml: kind \"%s\" is not Pod; only its metadata and spec are used", kind);
        r = 0;
        for (const char *const *k = (const char *const[]){"metadata", "spec", NULL}; *k; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->pod, *k);
                if (v && !cJSON_IsObject(v) && !cJSON_IsNull(v)) {
                        ka_load_error(&fl, v, "yaml: %s must be a mapping", *k);
                        r = -EINVAL;
                }
        }
        if (r == 0 && (check_fragment_containers(ld, f, "spec.containers") < 0 ||
                       check_fragment_containers(ld, f, "spec.initContainers") < 0))
                r = -EINVAL;
        if (r < 0) {
                fragment_free(f);
                return r;
        }
        *ret = f;
        return 0;
}

/* ---- the template ----------------------------------------------------------- */

void ka_template_free(struct ka_template *t) {
        if (!t)
                return;
        if (!t->borrowed) {
                ka_cfgmap_clear(template_keys, t);
                free(t->pod_retention);
                volume_free(t->workspace_volume);
                for (size_t i = 0; i < t->n_containers; i++)
                        ka_container_free(t->containers[i]);
                ka_env_free_list(t->env, t->n_env);
                t->env = NULL;
                for (size_t i = 0; i < t->n_volumes; i++)
                        volume_free(t->volumes[i]);
                ka_keyvals_free(t->annotations, t->n_annotations);
                ka_keyvals_free(t->image_pull_secrets, t->n_image_pull_secrets);
                t->annotations = t->image_pull_secrets = NULL;
                for (size_t i = 0; i < t->n_yamls; i++)
                        fragment_free(t->yamls[i]);
        } else {
                for (size_t i = 0; i < t->n_containers; i++)
                        if (t->containers[i]->borrowed)
                                ka_container_free(t->containers[i]);
        }
        free(t->containers);
        free(t->env);
        free(t->volumes);
        free(t->annotations);
        free(t->image_pull_secrets);
        free(t->yamls);
        free(t);
}

static void warn_node_selector(const struct ka_loader *ld, const cJSON *node, const char *sel) {
        for (const char *p = sel; *p;) {
                size_t n = strcspn(p, ",");
                _cleanup_free_ char *raw = ka_strndup(p, n);
                _cleanup_free_ char *pair = ka_strip(raw);
                char *eq = strchr(pair, '=');
                if (*pair && (!eq || eq == pair || !eq[1] || strchr(eq + 1, '=')))
                        ka_load_warn(ld, node, "nodeSelector: \"%s\" is not key=value; ignored", pair);
                p += n + (p[n] == ',');
        }
}

static void warn_supplemental_groups(const struct ka_loader *ld, const cJSON *node, const char *groups) {
        for (const char *p = groups; *p;) {
                size_t n = strcspn(p, ",");
                _cleanup_free_ char *raw = ka_strndup(p, n);
                _cleanup_free_ char *g = ka_strip(raw);
                int64_t id;
                if (*g && ka_parse_int64(g, &id) < 0)
                        ka_load_warn(ld, node, "supplementalGroups: \"%s\" is not a number; ignored", g);
                p += n + (p[n] == ',');
        }
}

static int load_merge_strategy(const struct ka_loader *ld, const cJSON *node, enum ka_yaml_merge *ret) {
        const char *sym;
        const cJSON *body;
        if (ka_load_describable(ld, node, "yamlMergeStrategy", true, &sym, &body) < 0)
                return -EINVAL;
        if (strcmp(sym, "override") == 0)
                *ret = KA_MERGE_OVERRIDE;
        else if (strcmp(sym, "merge") == 0)
                *ret = KA_MERGE_MERGE;
        else if (strcmp(sym, "strategic") == 0)
                *ret = KA_MERGE_STRATEGIC;
        else {
                ka_load_error(ld, body ? body : node,
                              "unknown yamlMergeStrategy \"%s\" (known: override, merge, strategic)", sym);
                return -EINVAL;
        }
        return 0;
}

static void set_from(const struct ka_loader *ld, struct ka_template *t, enum ka_template_field f, const cJSON *node) {
        if (node && !cJSON_IsNull(node))
                t->from[f] = (struct ka_origin){t, ka_load_key_where(ld, node)};
}

int ka_template_load(const cJSON *node, const struct ka_locmap *locs, const struct ka_registry *reg,
                     struct ka_template **ret, struct ka_diags *diags) {
        const struct ka_loader l = {.locs = locs, .reg = reg, .diags = diags}, *ld = &l;
        size_t errors = diags->errors;
        _cleanup_(ka_template_freep) struct ka_template *t = ka_new0(struct ka_template, 1);
        t->src = node;
        t->locs = locs;
        t->loc = ka_load_where(ld, node);
        const char *manual[KA_ARRAY_SIZE(template_manual) + KA_ARRAY_SIZE(legacy_fields)];
        size_t n_manual = 0;
        for (const char *const *k = template_manual; *k; k++)
                manual[n_manual++] = *k;
        for (const char *const *k = legacy_fields; *k; k++)
                manual[n_manual++] = *k;
        manual[n_manual] = NULL;
        ka_load_fill(ld, template_keys, node, manual, t);
        if (!cJSON_IsObject(node))
                return -EINVAL;
        for (size_t f = 0; f < KA_TF__N; f++)
                set_from(ld, t, f, cJSON_GetObjectItemCaseSensitive(node, ka_template_field_keys[f]));

        for (const char *const *k = legacy_fields; *k; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, *k);
                if (v)
                        ka_load_key_error(ld, v,
                                          "\"%s\" is a pre-0.9 template field: set it on a container instead "
                                          "(containers: [{name: jnlp, ...}])",
                                          *k);
        }

        char **strs[] = {&t->name,
                         &t->namespace_,
                         &t->label,
                         &t->inherit_from,
                         &t->agent_container,
                         &t->service_account,
                         &t->scheduler_name,
                         &t->node_selector,
                         &t->supplemental_groups,
                         &t->id};
        for (size_t i = 0; i < KA_ARRAY_SIZE(strs); i++)
                ka_load_normalize(strs[i]);
        static const enum ka_template_field str_fields[] = {
                KA_TF_NAME,           KA_TF_NAMESPACE,       KA_TF_LABEL,
                KA_TF_INHERIT_FROM,   KA_TF_AGENT_CONTAINER, KA_TF_SERVICE_ACCOUNT,
                KA_TF_SCHEDULER_NAME, KA_TF_NODE_SELECTOR,   KA_TF_SUPPLEMENTAL_GROUPS};
        for (size_t i = 0; i < KA_ARRAY_SIZE(str_fields); i++)
                if (!*strs[i])
                        t->from[str_fields[i]].tmpl = NULL;
        if (t->agent_container && !ka_load_rfc1123_label(t->agent_container))
                ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(node, "agentContainer"),
                              "agentContainer \"%s\" is not a valid container name (RFC 1123)", t->agent_container);
        if (t->node_selector)
                warn_node_selector(ld, cJSON_GetObjectItemCaseSensitive(node, "nodeSelector"), t->node_selector);
        if (t->supplemental_groups)
                warn_supplemental_groups(ld, cJSON_GetObjectItemCaseSensitive(node, "supplementalGroups"),
                                         t->supplemental_groups);

        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(node, "nodeUsageMode");
        if (mode && !cJSON_IsNull(mode)) {
                if (cJSON_IsString(mode) && strcmp(mode->valuestring, "NORMAL") == 0)
                        t->node_usage_mode = KA_USAGE_NORMAL;
                else if (!cJSON_IsString(mode) || strcmp(mode->valuestring, "EXCLUSIVE") != 0)
                        ka_load_error(ld, mode, "nodeUsageMode: expected NORMAL or EXCLUSIVE");
        }

        const cJSON *v = ka_load_int(ld, node, "instanceCap", "instanceCapStr", KA_UNLIMITED, &t->instance_cap);
        set_from(ld, t, KA_TF_INSTANCE_CAP, v);
        if (t->instance_cap < 0)
                t->instance_cap = KA_UNLIMITED;
        if (t->instance_cap == 0)
                ka_load_warn(ld, v, "instanceCap 0 blocks every agent of this template (remove it for no limit)");
        v = ka_load_int(ld, node, "idleMinutes", "idleMinutesStr", 0, &t->idle_minutes);
        set_from(ld, t, KA_TF_IDLE_MINUTES, v);
        if (t->idle_minutes < 0)
                ka_load_error(ld, v, "idleMinutes must not be negative");
        v = ka_load_int(ld, node, "activeDeadlineSeconds", "activeDeadlineSecondsStr", 0, &t->active_deadline_seconds);
        set_from(ld, t, KA_TF_ACTIVE_DEADLINE, v);
        if (t->active_deadline_seconds < 0)
                ka_load_error(ld, v, "activeDeadlineSeconds must not be negative");
        v = ka_load_int(ld, node, "slaveConnectTimeout", "slaveConnectTimeoutStr", KA_SLAVE_CONNECT_TIMEOUT_DEFAULT,
                        &t->slave_connect_timeout);
        set_from(ld, t, KA_TF_SLAVE_CONNECT_TIMEOUT, v);
        if (t->slave_connect_timeout <= 0) {
                ka_load_warn(ld, v, "slaveConnectTimeout must be positive; using %d", KA_SLAVE_CONNECT_TIMEOUT_DEFAULT);
                t->slave_connect_timeout = KA_SLAVE_CONNECT_TIMEOUT_DEFAULT;
        }
        t->run_as_user = ka_load_user_id(ld, node, "runAsUser", &v);
        if (!v)
                t->from[KA_TF_RUN_AS_USER].tmpl = NULL;
        t->run_as_group = ka_load_user_id(ld, node, "runAsGroup", &v);
        if (!v)
                t->from[KA_TF_RUN_AS_GROUP].tmpl = NULL;

        v = cJSON_GetObjectItemCaseSensitive(node, "yamlMergeStrategy");
        if (v && !cJSON_IsNull(v))
                load_merge_strategy(ld, v, &t->yaml_merge_strategy);
        v = cJSON_GetObjectItemCaseSensitive(node, "podRetention");
        if (v && !cJSON_IsNull(v))
                t->pod_retention_plugin = ka_load_retention(ld, v, &t->pod_retention);
        v = cJSON_GetObjectItemCaseSensitive(node, "workspaceVolume");
        if (v && !cJSON_IsNull(v)) {
                load_volume(ld, v, KUBEAGENT_VOLUME_WORKSPACE, t, &t->workspace_volume);
                if (!t->workspace_volume)
                        t->from[KA_TF_WORKSPACE_VOLUME].tmpl = NULL;
        }
        v = cJSON_GetObjectItemCaseSensitive(node, "yaml");
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && ka_isempty(v->valuestring))) {
                struct ka_fragment *f;
                if (load_fragment(ld, v, t, &f) == 0)
                        KA_PUSH(t->yamls, t->n_yamls, f);
        }

        const cJSON *list = ka_load_list(ld, node, "containers");
        for (const cJSON *c = list ? list->child : NULL; c; c = c->next) {
                struct ka_container *ct;
                if (ka_container_load(ld, c, t, &ct) < 0)
                        continue;
                for (size_t i = 0; i < t->n_containers; i++)
                        if (strcmp(t->containers[i]->name, ct->name) == 0) {
                                ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(c, "name"),
                                              "container \"%s\" is listed twice in this template", ct->name);
                                break;
                        }
                KA_PUSH(t->containers, t->n_containers, ct);
        }
        ka_env_load_list(ld, ka_load_list(ld, node, "envVars"), t, &t->env, &t->n_env);
        list = ka_load_list(ld, node, "volumes");
        for (const cJSON *c = list ? list->child : NULL; c; c = c->next) {
                struct ka_volume *vol;
                if (load_volume(ld, c, KUBEAGENT_VOLUME_POD, t, &vol) == 0)
                        KA_PUSH(t->volumes, t->n_volumes, vol);
        }
        ka_load_keyvals(ld, ka_load_list(ld, node, "annotations"), false, t, &t->annotations, &t->n_annotations);
        ka_load_keyvals(ld, ka_load_list(ld, node, "imagePullSecrets"), true, t, &t->image_pull_secrets,
                        &t->n_image_pull_secrets);

        if (diags->errors > errors)
                return -EINVAL;
        *ret = KA_TAKE(t);
        return 0;
}
