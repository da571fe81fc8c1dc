/* Rendering a template into the Pod the Jenkins kubernetes-plugin's
 * PodTemplateBuilder would produce (§2): fields pod, YAML pod, combine,
 * namespace, agent container, working directories, agent image and env,
 * agent injection, default resources, decorators.  With params->explain,
 * every node of the result is noted with where it came from (prov.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"
#include "template.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

#define DEFAULT_WORKDIR "/home/jenkins/agent"
#define AGENT_VOLUME "jenkins-agent"
#define AGENT_MOUNT "/jenkins-agent"

struct render {
        const struct ka_cloud *cloud;
        const struct ka_template *t; /* unwrapped */
        const struct ka_render_params *p;
        const char *name;
        const char *url;        /* resolved Jenkins URL with its '/', or NULL */
        struct ka_locmap *prov; /* NULL unless explaining */
        cJSON *mounts;          /* the pod volumes' mounts, for field containers */
        cJSON *extra;           /* objects to create after the pod */
        struct ka_diags *diags;
};

/* ---- small builders ---------------------------------------------------------- */

static cJSON *add_str(cJSON *obj, const char *key, const char *value) {
        cJSON *v = cJSON_CreateString(value);
        ka_json_set(obj, key, v);
        return v;
}

static cJSON *get(const cJSON *obj, const char *key) {
        return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static bool blank(const cJSON *v) {
        return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && !*v->valuestring);
}

static cJSON *named(const cJSON *list, const char *name) {
        for (cJSON *i = cJSON_IsArray(list) ? list->child : NULL; i; i = i->next)
                if (ka_streq(ka_json_str(i, "name"), name))
                        return i;
        return NULL;
}

static cJSON *words(const char *line) {
        char **w = NULL;
        if (ka_split_command_line(line, &w) < 0 || !w)
                return NULL; /* blank (quotes were checked at load) */
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; w[i]; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(w[i]));
        ka_strv_free(w);
        return a;
}

static cJSON *env_entry(const char *name, const char *value) {
        cJSON *e = cJSON_CreateObject();
        add_str(e, "name", name);
        add_str(e, "value", value);
        return e;
}

/* Set env var `e` in list: replace an entry of the same name in place, or append. */
static void env_put(cJSON *list, cJSON *e) {
        cJSON *have = named(list, ka_json_str(e, "name"));
        if (have)
                cJSON_ReplaceItemViaPointer(list, have, e);
        else
                cJSON_AddItemToArray(list, e);
}

static cJSON *env_of(struct render *r, const struct ka_env *e, const char *where) {
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", e->key);
        if (e->secret) {
                cJSON *ref = ka_json_object(ka_json_object(j, "valueFrom"), "secretKeyRef");
                add_str(ref, "name", e->secret_name);
                add_str(ref, "key", e->secret_key);
                if (e->optional >= 0)
                        ka_json_set_bool(ref, "optional", e->optional);
        } else {
                add_str(j, "value", e->value ? e->value : "");
        }
        char what[320];
        snprintf(what, sizeof(what), "%senvVars %s", where, e->key);
        ka_prov_origin(r->prov, j, &e->from, what);
        return j;
}

static cJSON *mount(const char *name, const char *path, bool read_only, const char *sub_path) {
        cJSON *m = cJSON_CreateObject();
        add_str(m, "name", name);
        add_str(m, "mountPath", path);
        ka_json_set_bool(m, "readOnly", read_only);
        if (sub_path)
                add_str(m, "subPath", sub_path);
        return m;
}

static const char *registry(struct render *r) {
        return r->cloud && r->cloud->jnlpregistry ? r->cloud->jnlpregistry : NULL;
}

/* The default agent image with the cloud's registry prefix (§2.2). */
static char *default_image(struct render *r) {
        const char *reg = registry(r);
        if (!reg)
                return ka_strdup(KA_DEFAULT_AGENT_IMAGE);
        return ka_asprintf("%s%s%s", reg, ka_endswith(reg, "/") ? "" : "/", KA_DEFAULT_AGENT_IMAGE);
}

/* ---- the agent's environment (§2.3) ----------------------------------------- */

static cJSON *agent_env(struct render *r, const char *workdir) {
        const struct ka_render_params *p = r->p;
        const struct ka_cloud *c = r->cloud;
        cJSON *env = cJSON_CreateArray();
        struct {
                const char *name, *value, *why;
        } vars[] = {
                {"JENKINS_SECRET", p->secret, "agent secret"},
                {"JENKINS_AGENT_NAME", r->name, "agent name"},
                {"JENKINS_NAME", r->name, "agent name"},
                {"JENKINS_AGENT_WORKDIR", workdir ? workdir : DEFAULT_WORKDIR, "agent container's working directory"},
                {"JENKINS_TUNNEL", c ? c->jenkins_tunnel : NULL, "cloud jenkinsTunnel"},
                {"JENKINS_URL", c && c->direct_connection ? NULL : r->url, "Jenkins URL"},
                {"JENKINS_WEB_SOCKET", c && c->websocket && !c->direct_connection ? "true" : NULL, "cloud webSocket"},
                {"JENKINS_DIRECT_CONNECTION", c && c->direct_connection ? p->direct_endpoint : NULL,
                 "inbound TCP port"},
                {"JENKINS_PROTOCOLS", c && c->direct_connection ? "JNLP4-connect" : NULL, "directConnection"},
                {"JENKINS_INSTANCE_IDENTITY", c && c->direct_connection ? p->instance_identity : NULL,
                 "Jenkins instance identity"},
                {"REMOTING_OPTS", "-noReconnectAfter 1d", "default"},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(vars); i++) {
                if (ka_isempty(vars[i].value))
                        continue;
                cJSON *e = env_entry(vars[i].name, vars[i].value);
                ka_prov_note_tree(r->prov, e, "agent: %s", vars[i].why);
                cJSON_AddItemToArray(env, e);
        }
        return env;
}

/* ---- the fields pod (§2.1 steps 1–4) ---------------------------------------- */

static int render_volumes(struct render *r, cJSON *spec) {
        const struct ka_template *t = r->t;
        cJSON *vols = cJSON_CreateArray();
        ka_json_set(spec, "volumes", vols);
        struct kubeagent_volume_ctx ctx = {.pod_name = r->name,
                                           .namespace_ = t->namespace_ ? t->namespace_
                                                         : r->cloud    ? r->cloud->namespace_
                                                                       : NULL};
        size_t unique = 0;
        for (size_t i = 0; i < t->n_volumes + 1; i++) {
                const struct ka_volume *v = i < t->n_volumes ? t->volumes[i] : t->workspace_volume;
                bool workspace = i == t->n_volumes;
                if (!workspace) {
                        /* the first volume at a mount path wins */
                        bool dup = false;
                        for (size_t j = 0; j < i && !dup; j++)
                                dup = strcmp(t->volumes[j]->mount_path, v->mount_path) == 0;
                        if (dup)
                                continue;
                }
                cJSON *vol = cJSON_CreateObject();
                char name[32];
                snprintf(name, sizeof(name), "volume-%zu", unique);
                add_str(vol, "name", workspace ? "workspace-volume" : name);
                if (!v) {
                        /* the default workspace volume; with strategic, a YAML one is kept */
                        if (t->yaml_merge_strategy == KA_MERGE_STRATEGIC) {
                                cJSON_Delete(vol);
                                break;
                        }
                        add_str(ka_json_object(vol, "emptyDir"), "medium", "");
                        ka_prov_note_tree(r->prov, vol, "default: workspace volume");
                        cJSON_AddItemToArray(vols, vol);
                        break;
                }
                ctx.form = v->form;
                struct kubeagent_volume_out out = {0};
                struct ka_error err = {0};
                int rc = v->plugin->desc->volume->render(v->plugin->state, v->conf, &ctx, &out, &err);
                if (rc < 0 || !cJSON_IsObject(out.source)) {
                        ka_diags_add(r->diags, KA_DIAG_ERROR, v->from.loc.file, v->from.loc.line, v->from.loc.col,
                                     "%s: %s", v->symbol, rc < 0 ? err.msg : "the volume plugin rendered nothing");
                        cJSON_Delete(out.source);
                        cJSON_Delete(out.extra_objects);
                        free(out.mount_path);
                        free(out.sub_path);
                        cJSON_Delete(vol);
                        return -EINVAL;
                }
                while (out.source->child) {
                        cJSON *item = cJSON_DetachItemViaPointer(out.source, out.source->child);
                        cJSON_AddItemToObject(vol, item->string, item);
                }
                cJSON_Delete(out.source);
                char what[320];
                snprintf(what, sizeof(what), "%s %s", workspace ? "workspaceVolume" : "volumes", v->symbol);
                ka_prov_origin(r->prov, vol, &v->from, what);
                cJSON_AddItemToArray(vols, vol);
                for (cJSON *o = out.extra_objects ? out.extra_objects->child : NULL; o;) {
                        cJSON *next = o->next;
                        cJSON_AddItemToArray(r->extra, cJSON_DetachItemViaPointer(out.extra_objects, o));
                        o = next;
                }
                cJSON_Delete(out.extra_objects);
                if (!workspace) {
                        cJSON *m = mount(name, v->mount_path, out.read_only, out.sub_path);
                        ka_prov_origin(r->prov, m, &v->from, what);
                        cJSON_AddItemToArray(r->mounts, m);
                        unique++;
                }
                free(out.mount_path);
                free(out.sub_path);
        }
        return 0;
}

static void set_origin(struct render *r, cJSON *obj, const char *key, cJSON *v, const struct ka_origin *o,
                       const char *what) {
        ka_json_set(obj, key, v);
        ka_prov_origin(r->prov, v, o, what);
}

static cJSON *render_container(struct render *r, const struct ka_container *c) {
        const struct ka_template *t = r->t;
        cJSON *j = cJSON_CreateObject();
        char what[320];
#define FIELD(key, value, f)                                                                                           \
        do {                                                                                                           \
                snprintf(what, sizeof(what), "containers %s %s", c->name, ka_container_field_keys[f]);                 \
                set_origin(r, j, key, value, &c->from[f], what);                                                       \
        } while (0)
        FIELD("name", cJSON_CreateString(c->name), KA_CF_NAME);
        FIELD("image", cJSON_CreateString(c->image), KA_CF_IMAGE);
        cJSON *cmd = words(c->command);
        if (cmd)
                FIELD("command", cmd, KA_CF_COMMAND);
        if (!ka_isempty(c->args)) {
                /* ${computer.jnlpmac} and ${computer.name}, then split */
                struct ka_buf b = KA_BUF_INIT(0);
                for (const char *p = c->args; *p;) {
                        if (ka_startswith(p, "${computer.jnlpmac}")) {
                                ka_buf_puts(&b, r->p->secret);
                                p += strlen("${computer.jnlpmac}");
                        } else if (ka_startswith(p, "${computer.name}")) {
                                ka_buf_puts(&b, r->name);
                                p += strlen("${computer.name}");
                        } else {
                                ka_buf_putc(&b, *p++);
                        }
                }
                cJSON *args = words(b.data);
                ka_buf_free(&b);
                if (args)
                        FIELD("args", args, KA_CF_ARGS);
        }
        if (c->working_dir)
                FIELD("workingDir", cJSON_CreateString(c->working_dir), KA_CF_WORKING_DIR);
        if (c->n_ports) {
                cJSON *ports = cJSON_CreateArray();
                for (size_t i = 0; i < c->n_ports; i++) {
                        const struct ka_port *p = c->ports[i];
                        cJSON *pj = cJSON_CreateObject();
                        if (p->name)
                                add_str(pj, "name", p->name);
                        if (p->container_port != KA_UNSET)
                                ka_json_set_num(pj, "containerPort", (double)p->container_port);
                        if (p->host_port != KA_UNSET)
                                ka_json_set_num(pj, "hostPort", (double)p->host_port);
                        snprintf(what, sizeof(what), "containers %s ports", c->name);
                        ka_prov_origin(r->prov, pj, &p->from, what);
                        cJSON_AddItemToArray(ports, pj);
                }
                ka_json_set(j, "ports", ports);
        }
        /* env: the agent's variables for a container named jnlp, then the
         * template's, then the container's own (later wins) */
        cJSON *env = strcmp(c->name, "jnlp") == 0 ? agent_env(r, c->working_dir) : cJSON_CreateArray();
        for (size_t i = 0; i < t->n_env; i++)
                env_put(env, env_of(r, t->env[i], ""));
        snprintf(what, sizeof(what), "containers %s ", c->name);
        for (size_t i = 0; i < c->n_env; i++)
                env_put(env, env_of(r, c->env[i], what));
        if (env->child)
                ka_json_set(j, "env", env);
        else
                cJSON_Delete(env);
        cJSON *res = ka_json_object(j, "resources");
        for (size_t i = 0; i < KA_RES__N; i++) {
                if (c->requests[i]) {
                        cJSON *v = add_str(ka_json_object(res, "requests"), ka_resource_names[i], c->requests[i]);
                        snprintf(what, sizeof(what), "containers %s %s", c->name,
                                 ka_container_field_keys[KA_CF_REQUEST + i]);
                        ka_prov_origin(r->prov, v, &c->from[KA_CF_REQUEST + i], what);
                }
                if (c->limits[i]) {
                        cJSON *v = add_str(ka_json_object(res, "limits"), ka_resource_names[i], c->limits[i]);
                        snprintf(what, sizeof(what), "containers %s %s", c->name,
                                 ka_container_field_keys[KA_CF_LIMIT + i]);
                        ka_prov_origin(r->prov, v, &c->from[KA_CF_LIMIT + i], what);
                }
        }
        /* mounts: every pod volume, and the workspace at the working directory */
        cJSON *mounts = cJSON_Duplicate(r->mounts, true);
        ka_locmap_copy_tree(r->prov, r->mounts, mounts);
        if (c->working_dir) {
                bool taken = false;
                for (const cJSON *m = mounts->child; m && !taken; m = m->next)
                        taken = ka_streq(ka_json_str(m, "mountPath"), c->working_dir);
                if (!taken) {
                        cJSON *m = mount("workspace-volume", c->working_dir, false, NULL);
                        ka_prov_note_tree(r->prov, m, "workspace volume at containers %s workingDir", c->name);
                        cJSON_AddItemToArray(mounts, m);
                }
        }
        if (mounts->child)
                ka_json_set(j, "volumeMounts", mounts);
        else
                cJSON_Delete(mounts);
        if (c->probe && !ka_isempty(c->probe->exec_args)) {
                cJSON *probe = cJSON_CreateObject();
                ka_json_set(ka_json_object(probe, "exec"), "command", words(c->probe->exec_args));
                const struct ka_probe *p = c->probe;
                ka_json_set_num(probe, "initialDelaySeconds", (double)p->initial_delay_seconds);
                ka_json_set_num(probe, "timeoutSeconds", (double)p->timeout_seconds);
                ka_json_set_num(probe, "failureThreshold", (double)p->failure_threshold);
                ka_json_set_num(probe, "periodSeconds", (double)p->period_seconds);
                ka_json_set_num(probe, "successThreshold", (double)p->success_threshold);
                FIELD("livenessProbe", probe, KA_CF_PROBE);
        }
        FIELD("imagePullPolicy", cJSON_CreateString(c->always_pull == 1 ? "Always" : "IfNotPresent"),
              KA_CF_ALWAYS_PULL);
        if (c->privileged == 1 || c->run_as_user != KA_UNSET || c->run_as_group != KA_UNSET) {
                cJSON *sc = cJSON_CreateObject();
                FIELD("securityContext", sc, KA_CF_PRIVILEGED);
                ka_json_set_bool(sc, "privileged", c->privileged == 1);
                if (c->run_as_user != KA_UNSET) {
                        ka_json_set_num(sc, "runAsUser", (double)c->run_as_user);
                        snprintf(what, sizeof(what), "containers %s runAsUser", c->name);
                        ka_prov_origin(r->prov, get(sc, "runAsUser"), &c->from[KA_CF_RUN_AS_USER], what);
                }
                if (c->run_as_group != KA_UNSET) {
                        ka_json_set_num(sc, "runAsGroup", (double)c->run_as_group);
                        snprintf(what, sizeof(what), "containers %s runAsGroup", c->name);
                        ka_prov_origin(r->prov, get(sc, "runAsGroup"), &c->from[KA_CF_RUN_AS_GROUP], what);
                }
        }
        FIELD("tty", cJSON_CreateBool(c->tty == 1), KA_CF_TTY);
#undef FIELD
        return j;
}

/* "k=v,k2=v2" (malformed pairs were warned about at load and are skipped) */
static cJSON *node_selector(const char *sel) {
        cJSON *m = cJSON_CreateObject();
        for (const char *p = sel; *p;) {
                size_t n = strcspn(p, ",");
                _cleanup_free_ char *raw = ka_strndup(p, n);
                _cleanup_free_ char *pair = ka_strip(raw);
                char *eq = strchr(pair, '=');
                if (eq && eq != pair && eq[1] && !strchr(eq + 1, '=')) {
                        *eq = '\0';
                        add_str(m, pair, eq + 1);
                }
                p += n + (p[n] == ',');
        }
        return m;
}

static cJSON *fields_pod(struct render *r) {
        const struct ka_template *t = r->t;
        cJSON *pod = cJSON_CreateObject();
        cJSON *meta = ka_json_object(pod, "metadata");
        ka_prov_note(r->prov, add_str(meta, "name", r->name),
                     r->p->agent_name ? "agent name (given)" : "agent name: template name and a random suffix");

        cJSON *labels = ka_json_object(meta, "labels");
        const struct ka_keyval *const *pl;
        size_t n = ka_cloud_pod_labels(r->cloud, &pl);
        for (size_t i = 0; i < n; i++) {
                cJSON *v = add_str(labels, pl[i]->key, pl[i]->value);
                if (r->cloud && r->cloud->n_pod_labels)
                        ka_prov_note(r->prov, v, "cloud %s podLabels (%s:%u:%u)", r->cloud->name, pl[i]->from.loc.file,
                                     pl[i]->from.loc.line, pl[i]->from.loc.col);
                else
                        ka_prov_note(r->prov, v, "default pod label (the cloud has no podLabels)");
        }
        _cleanup_free_ char *sanitized = t->label ? ka_label_sanitize(t->label) : ka_strdup("slave-default");
        _cleanup_free_ char *digest = ka_label_digest(t->label);
        ka_prov_origin(r->prov, add_str(labels, "jenkins/label", sanitized), &t->from[KA_TF_LABEL], "label");
        ka_prov_origin(r->prov, add_str(labels, "jenkins/label-digest", digest), &t->from[KA_TF_LABEL],
                       "label (SHA-1)");
        if (r->url) {
                _cleanup_free_ char *controller = ka_label_sanitize(r->url);
                ka_prov_note(r->prov, add_str(labels, "kubernetes.jenkins.io/controller", controller),
                             "the Jenkins URL, sanitised");
        }
        cJSON *ann = ka_json_object(meta, "annotations");
        for (size_t i = 0; i < t->n_annotations; i++)
                ka_prov_origin(r->prov, add_str(ann, t->annotations[i]->key, t->annotations[i]->value),
                               &t->annotations[i]->from, "annotations");
        char now[32];
        snprintf(now, sizeof(now), "%lld", (long long)ka_time_wall_ms());
        ka_prov_note(r->prov, add_str(ann, "kubernetes.jenkins.io/last-refresh", now),
                     "render time (SOURCE_DATE_EPOCH when set)");

        cJSON *spec = ka_json_object(pod, "spec");
        if (render_volumes(r, spec) < 0) {
                cJSON_Delete(pod);
                return NULL;
        }
        if (t->active_deadline_seconds > 0)
                set_origin(r, spec, "activeDeadlineSeconds", cJSON_CreateNumber((double)t->active_deadline_seconds),
                           &t->from[KA_TF_ACTIVE_DEADLINE], "activeDeadlineSeconds");
        if (t->service_account)
                set_origin(r, spec, "serviceAccountName", cJSON_CreateString(t->service_account),
                           &t->from[KA_TF_SERVICE_ACCOUNT], "serviceAccount");
        if (t->scheduler_name)
                set_origin(r, spec, "schedulerName", cJSON_CreateString(t->scheduler_name),
                           &t->from[KA_TF_SCHEDULER_NAME], "schedulerName");
        if (t->n_image_pull_secrets) {
                cJSON *s = ka_json_array(spec, "imagePullSecrets");
                for (size_t i = 0; i < t->n_image_pull_secrets; i++) {
                        cJSON *o = cJSON_CreateObject();
                        add_str(o, "name", t->image_pull_secrets[i]->key);
                        ka_prov_origin(r->prov, o, &t->image_pull_secrets[i]->from, "imagePullSecrets");
                        cJSON_AddItemToArray(s, o);
                }
        }
        if (t->node_selector) {
                cJSON *sel = node_selector(t->node_selector);
                if (sel->child)
                        set_origin(r, spec, "nodeSelector", sel, &t->from[KA_TF_NODE_SELECTOR], "nodeSelector");
                else
                        cJSON_Delete(sel);
        }
        if (t->termination_grace_period_seconds != KA_UNSET)
                set_origin(r, spec, "terminationGracePeriodSeconds",
                           cJSON_CreateNumber((double)t->termination_grace_period_seconds),
                           &t->from[KA_TF_TERMINATION_GRACE], "terminationGracePeriodSeconds");
        cJSON *containers = ka_json_array(spec, "containers");
        for (size_t i = 0; i < t->n_containers; i++)
                cJSON_AddItemToArray(containers, render_container(r, t->containers[i]));
        cJSON *groups = NULL;
        for (const char *p = t->supplemental_groups ? t->supplemental_groups : ""; *p;) {
                size_t len = strcspn(p, ",");
                _cleanup_free_ char *raw = ka_strndup(p, len);
                _cleanup_free_ char *g = ka_strip(raw);
                int64_t id;
                if (*g && ka_parse_int64(g, &id) == 0) {
                        groups = groups ? groups : cJSON_CreateArray();
                        cJSON_AddItemToArray(groups, cJSON_CreateNumber((double)id));
                }
                p += len + (p[len] == ',');
        }
        if (t->run_as_user != KA_UNSET || t->run_as_group != KA_UNSET || groups) {
                cJSON *sc = ka_json_object(spec, "securityContext");
                if (t->run_as_user != KA_UNSET)
                        set_origin(r, sc, "runAsUser", cJSON_CreateNumber((double)t->run_as_user),
                                   &t->from[KA_TF_RUN_AS_USER], "runAsUser");
                if (t->run_as_group != KA_UNSET)
                        set_origin(r, sc, "runAsGroup", cJSON_CreateNumber((double)t->run_as_group),
                                   &t->from[KA_TF_RUN_AS_GROUP], "runAsGroup");
                if (groups)
                        set_origin(r, sc, "supplementalGroups", groups, &t->from[KA_TF_SUPPLEMENTAL_GROUPS],
                                   "supplementalGroups");
        }
        if (t->host_network != -1)
                set_origin(r, spec, "hostNetwork", cJSON_CreateBool(t->host_network), &t->from[KA_TF_HOST_NETWORK],
                           "hostNetwork");
        return pod;
}

/* ---- after the merge (§2.1 steps 6–12) ---------------------------------------- */

static void default_namespace(struct render *r, cJSON *pod) {
        cJSON *meta = ka_json_object(pod, "metadata");
        if (!blank(get(meta, "namespace")))
                return;
        if (r->t->namespace_)
                ka_prov_origin(r->prov, add_str(meta, "namespace", r->t->namespace_), &r->t->from[KA_TF_NAMESPACE],
                               "namespace");
        else if (r->cloud && r->cloud->namespace_)
                ka_prov_note(r->prov, add_str(meta, "namespace", r->cloud->namespace_), "cloud %s namespace",
                             r->cloud->name);
}

static void agent_injection(struct render *r, cJSON *spec, cJSON *agent) {
        _cleanup_free_ char *image = default_image(r);
        cJSON *init = cJSON_CreateObject();
        add_str(init, "name", "set-up-jenkins-agent");
        add_str(init, "image", image);
        cJSON *cmd = ka_json_array(init, "command");
        cJSON_AddItemToArray(cmd, cJSON_CreateString("/bin/sh"));
        cJSON_AddItemToArray(cmd, cJSON_CreateString("-c"));
        cJSON_AddItemToArray(cmd, cJSON_CreateString("cp $(command -v jenkins-agent) " AGENT_MOUNT "/jenkins-agent;"
                                                     "cp -r /usr/share/jenkins/* " AGENT_MOUNT));
        cJSON_AddItemToArray(ka_json_array(init, "volumeMounts"), mount(AGENT_VOLUME, AGENT_MOUNT, false, NULL));
        ka_prov_origin(r->prov, init, &r->t->from[KA_TF_AGENT_INJECTION], "agentInjection");
        cJSON_AddItemToArray(ka_json_array(spec, "initContainers"), init);

        cJSON *vol = cJSON_CreateObject();
        add_str(vol, "name", AGENT_VOLUME);
        ka_json_object(vol, "emptyDir");
        ka_prov_origin(r->prov, vol, &r->t->from[KA_TF_AGENT_INJECTION], "agentInjection");
        cJSON_AddItemToArray(ka_json_array(spec, "volumes"), vol);

        cJSON *m = mount(AGENT_VOLUME, AGENT_MOUNT, true, NULL);
        cJSON_AddItemToArray(ka_json_array(agent, "volumeMounts"), m);
        cJSON *wd = add_str(agent, "workingDir", DEFAULT_WORKDIR);
        cJSON *c = cJSON_CreateArray();
        cJSON_AddItemToArray(c, cJSON_CreateString(AGENT_MOUNT "/jenkins-agent"));
        ka_json_set(agent, "command", c);
        cJSON_DeleteItemFromObjectCaseSensitive(agent, "args");
        cJSON *e = env_entry("JENKINS_AGENT_FILE", AGENT_MOUNT "/agent.jar");
        env_put(ka_json_array(agent, "env"), e);
        const cJSON *nodes[] = {m, wd, c, e};
        for (size_t i = 0; i < KA_ARRAY_SIZE(nodes); i++)
                ka_prov_origin(r->prov, nodes[i], &r->t->from[KA_TF_AGENT_INJECTION], "agentInjection");
}

static void finish_agent(struct render *r, cJSON *pod) {
        const struct ka_template *t = r->t;
        cJSON *spec = ka_json_object(pod, "spec");
        cJSON *containers = ka_json_array(spec, "containers");
        const char *agent_name = ka_template_agent_container(t);
        cJSON *agent = named(containers, agent_name);
        if (!agent) {
                agent = cJSON_CreateObject();
                add_str(agent, "name", agent_name);
                if (r->mounts->child) {
                        cJSON *mounts = cJSON_Duplicate(r->mounts, true);
                        ka_locmap_copy_tree(r->prov, r->mounts, mounts);
                        ka_json_set(agent, "volumeMounts", mounts);
                }
                ka_prov_note(r->prov, get(agent, "name"), "default: the agent container");
                cJSON_AddItemToArray(containers, agent);
        }
        /* working directories */
        const cJSON *wd = get(agent, "workingDir");
        const char *workdir = cJSON_IsString(wd) && *wd->valuestring ? wd->valuestring : NULL;
        for (cJSON *c = containers->child; c && workdir; c = c->next)
                if (blank(get(c, "workingDir")))
                        ka_prov_note(r->prov, add_str(c, "workingDir", workdir), "the agent container's workingDir");
        /* image */
        if (blank(get(agent, "image"))) {
                _cleanup_free_ char *image = default_image(r);
                if (registry(r))
                        ka_prov_note(r->prov, add_str(agent, "image", image),
                                     "default agent image, with cloud %s jnlpregistry", r->cloud->name);
                else
                        ka_prov_note(r->prov, add_str(agent, "image", image), "default agent image");
        }
        /* env: the agent's, the template's, then the container's own */
        cJSON *env = agent_env(r, workdir);
        for (size_t i = 0; i < t->n_env; i++)
                env_put(env, env_of(r, t->env[i], ""));
        cJSON *own = get(agent, "env");
        for (cJSON *e = cJSON_IsArray(own) ? own->child : NULL; e;) {
                cJSON *next = e->next;
                if (!blank(get(e, "name")))
                        env_put(env, cJSON_DetachItemViaPointer(own, e));
                e = next;
        }
        ka_json_set(agent, "env", env);
        if (t->agent_injection == 1)
                agent_injection(r, spec, agent);
        if (!get(agent, "resources")) {
                cJSON *req = ka_json_object(ka_json_object(agent, "resources"), "requests");
                add_str(req, "cpu", "100m");
                add_str(req, "memory", "256Mi");
                ka_prov_note_tree(r->prov, get(agent, "resources"), "default: agent resources");
        }
}

/* ---- decorators (§2.7) ------------------------------------------------------------ */

static void decorate(struct render *r, cJSON *pod) {
        cJSON *spec = ka_json_object(pod, "spec");
        if (blank(get(spec, "restartPolicy")))
                ka_prov_note(r->prov, add_str(spec, "restartPolicy", "Never"), "decorator: default restart policy");
        const cJSON *sel = get(spec, "nodeSelector");
        if (blank(get(spec, "runtimeClassName")) && !(cJSON_IsObject(sel) && sel->child) &&
            !ka_json_path(spec, "affinity.nodeAffinity")) {
                cJSON *s = cJSON_CreateObject();
                add_str(s, "kubernetes.io/os", "linux");
                ka_json_set(spec, "nodeSelector", s);
                ka_prov_note_tree(r->prov, s, "decorator: default node selector");
        }
        cJSON *vols = ka_json_array(spec, "volumes");
        if (!named(vols, "workspace-volume")) {
                cJSON *v = cJSON_CreateObject();
                add_str(v, "name", "workspace-volume");
                ka_json_object(v, "emptyDir");
                ka_prov_note_tree(r->prov, v, "decorator: default workspace volume");
                cJSON_AddItemToArray(vols, v);
        }
        for (cJSON *c = ka_json_array(spec, "containers")->child; c; c = c->next) {
                const char *wd = ka_json_str(c, "workingDir");
                const char *path = wd && *wd ? wd : DEFAULT_WORKDIR;
                cJSON *mounts = ka_json_array(c, "volumeMounts");
                bool have = false;
                for (const cJSON *m = mounts->child; m && !have; m = m->next)
                        have = ka_streq(ka_json_str(m, "mountPath"), path);
                if (!have) {
                        cJSON *m = mount("workspace-volume", path, false, NULL);
                        ka_prov_note_tree(r->prov, m, "decorator: workspace volume at the working directory");
                        cJSON_AddItemToArray(mounts, m);
                }
        }
        if (!r->cloud || !r->cloud->restricted_pss)
                return;
        static const char *const lists[] = {"containers", "initContainers"};
        for (size_t l = 0; l < KA_ARRAY_SIZE(lists); l++)
                for (cJSON *c = cJSON_IsArray(get(spec, lists[l])) ? get(spec, lists[l])->child : NULL; c;
                     c = c->next) {
                        cJSON *sc = ka_json_object(c, "securityContext");
                        const char *why = "decorator: restricted Pod Security Standard";
                        if (blank(get(sc, "allowPrivilegeEscalation")))
                                ka_json_set_bool(sc, "allowPrivilegeEscalation", false),
                                        ka_prov_note(r->prov, get(sc, "allowPrivilegeEscalation"), "%s", why);
                        if (blank(get(sc, "runAsNonRoot")))
                                ka_json_set_bool(sc, "runAsNonRoot", true),
                                        ka_prov_note(r->prov, get(sc, "runAsNonRoot"), "%s", why);
                        if (!get(sc, "seccompProfile")) {
                                add_str(ka_json_object(sc, "seccompProfile"), "type", "RuntimeDefault");
                                ka_prov_note_tree(r->prov, get(sc, "seccompProfile"), "%s", why);
                        }
                        if (!get(sc, "capabilities")) {
                                cJSON *drop = ka_json_array(ka_json_object(sc, "capabilities"), "drop");
                                cJSON_AddItemToArray(drop, cJSON_CreateString("ALL"));
                                ka_prov_note_tree(r->prov, get(sc, "capabilities"), "%s", why);
                        }
                }
}

/* ---- output form --------------------------------------------------------------- */

/* Empty lists mean "none" to Kubernetes and the plugin never writes them. */
static void drop_empty_lists(cJSON *n) {
        for (cJSON *c = n->child, *next; c; c = next) {
                next = c->next;
                if (cJSON_IsArray(c) && !c->child && cJSON_IsObject(n))
                        cJSON_Delete(cJSON_DetachItemViaPointer(n, c));
                else
                        drop_empty_lists(c);
        }
}

/* Keys in alphabetical order at every level, as kubectl and the plugin print
 * them, with apiVersion, kind, metadata, spec first. */
static int key_rank(const char *k) {
        static const char *const first[] = {"apiVersion", "kind", "metadata", "spec"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(first); i++)
                if (strcmp(k, first[i]) == 0)
                        return (int)i;
        return (int)KA_ARRAY_SIZE(first);
}

static void sort_keys(cJSON *n, bool top) {
        for (cJSON *c = n->child; c; c = c->next)
                sort_keys(c, false);
        if (!cJSON_IsObject(n) || !n->child)
                return;
        /* insertion sort of the member list: objects are small */
        cJSON *sorted = NULL;
        while (n->child) {
                cJSON *c = cJSON_DetachItemViaPointer(n, n->child);
                cJSON **at = &sorted;
                while (*at) {
                        int rc = top ? key_rank((*at)->string) - key_rank(c->string) : 0;
                        if (rc > 0 || (rc == 0 && strcmp((*at)->string, c->string) > 0))
                                break;
                        at = &(*at)->next;
                }
                c->next = *at;
                *at = c;
        }
        /* relink prev pointers the way cJSON keeps them (child->prev = last) */
        cJSON *prev = NULL;
        for (cJSON *c = sorted; c; c = c->next) {
                c->prev = prev;
                prev = c;
        }
        if (sorted)
                sorted->prev = prev;
        n->child = sorted;
}

/* ---- the whole render ---------------------------------------------------------- */

static char *resolve_url(const struct ka_cloud *c, const struct ka_render_params *p) {
        const char *url = p->jenkins_url;
        if (ka_isempty(url) && c)
                url = c->jenkins_url;
        if (ka_isempty(url) && !(c && c->websocket && c->credentials_id))
                url = getenv("KUBERNETES_JENKINS_URL");
        if (ka_isempty(url))
                url = p->jenkins_root_url;
        if (ka_isempty(url))
                return NULL;
        _cleanup_free_ char *s = ka_strip(url);
        return ka_endswith(s, "/") ? KA_TAKE(s) : ka_asprintf("%s/", s);
}

int ka_template_render(const struct ka_cloud *cloud, const struct ka_template *tmpl,
                       const struct ka_render_params *params, struct ka_rendered *ret, struct ka_diags *diags) {
        size_t errors = diags->errors;
        struct ka_template *t;
        int rc = ka_template_unwrap(cloud, tmpl, params->extra, params->n_extra, &t, diags);
        if (rc < 0)
                return rc;
        struct render r = {
                .cloud = cloud,
                .t = t,
                .p = params,
                .diags = diags,
                .prov = params->explain ? ka_locmap_new() : NULL,
                .mounts = cJSON_CreateArray(),
                .extra = cJSON_CreateArray(),
        };
        _cleanup_free_ char *name = params->agent_name ? ka_strdup(params->agent_name) : ka_agent_name(t->name, NULL);
        _cleanup_free_ char *url = resolve_url(cloud, params);
        r.name = name;
        r.url = url;
        struct ka_loc at = tmpl->loc;
        cJSON *pod = NULL;
        if (!ka_dns_subdomain_valid(name) || strlen(name) > 253)
                ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0,
                             "agent name \"%s\" is not a valid pod name (lower-case letters, digits, '-' and '.')",
                             name);
        else if (ka_isempty(params->secret))
                ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0, "no agent secret to render with");
        else if (!url && !(cloud && cloud->direct_connection))
                ka_diags_add(diags, KA_DIAG_ERROR, at.file, at.line, at.col,
                             "no Jenkins URL for the agents of template %s: set jenkinsUrl on cloud %s",
                             t->name ? t->name : "(unnamed)", cloud && cloud->name ? cloud->name : "-");
        else if (cloud && cloud->direct_connection &&
                 (ka_isempty(params->direct_endpoint) || ka_isempty(params->instance_identity)))
                ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0,
                             "directConnection needs Jenkins' inbound TCP endpoint and instance identity");
        else
                pod = fields_pod(&r);
        if (pod) {
                cJSON *yaml = ka_template_yaml_pod(t, r.prov);
                if (yaml) {
                        cJSON *merged = ka_pod_merge(t->yaml_merge_strategy, yaml, pod, r.prov);
                        cJSON_Delete(yaml);
                        cJSON_Delete(pod);
                        pod = merged;
                }
                ka_json_set_str(pod, "apiVersion", "v1");
                ka_json_set_str(pod, "kind", "Pod");
                default_namespace(&r, pod);
                finish_agent(&r, pod);
                decorate(&r, pod);
                drop_empty_lists(pod);
                sort_keys(pod, true);
                const cJSON *labels = ka_json_path(pod, "metadata.labels");
                for (cJSON *o = r.extra->child; o; o = o->next) {
                        ka_json_set(ka_json_object(o, "metadata"), "labels", cJSON_Duplicate(labels, true));
                        sort_keys(o, true);
                }
        }
        cJSON_Delete(r.mounts);
        ka_template_free(t);
        if (!pod || diags->errors > errors) {
                cJSON_Delete(pod);
                cJSON_Delete(r.extra);
                ka_locmap_free(r.prov);
                return -EINVAL;
        }
        *ret = (struct ka_rendered){.pod = pod, .extra_objects = r.extra, .prov = r.prov};
        return 0;
}

void ka_rendered_free(struct ka_rendered *r) {
        cJSON_Delete(r->pod);
        cJSON_Delete(r->extra_objects);
        ka_locmap_free(r->prov);
        memset(r, 0, sizeof(*r));
}
