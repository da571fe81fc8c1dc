/* Combining two Pod objects (cJSON): the plugin's `merge` rules (§3.4,
 * §3.5) and kubeagent's `strategic` (Kubernetes strategic-merge-patch
 * semantics).  Neither input is changed; the result is new.  When `prov` is
 * given, every node of the result keeps the provenance of the node it was
 * copied from. */
#include <string.h>

#include "prov.h"
#include "template.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

static cJSON *dup(const cJSON *n, struct ka_locmap *prov) {
        cJSON *c = cJSON_Duplicate(n, true);
        ka_locmap_copy_tree(prov, n, c);
        return c;
}

static cJSON *get(const cJSON *obj, const char *key) {
        return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static bool nonempty_str(const cJSON *v) {
        return cJSON_IsString(v) && *v->valuestring;
}

static bool nonempty_list(const cJSON *v) {
        return cJSON_IsArray(v) && v->child;
}

static bool present(const cJSON *v) {
        return v && !cJSON_IsNull(v);
}

/* obj[key] = copy of v. */
static void put(cJSON *obj, const char *key, const cJSON *v, struct ka_locmap *prov) {
        ka_json_set(obj, key, dup(v, prov));
}

/* Map merge, child wins per key (labels, annotations, nodeSelector, resources). */
static void merge_map(cJSON *dst, const char *key, const cJSON *child, struct ka_locmap *prov) {
        if (!cJSON_IsObject(child))
                return;
        cJSON *m = ka_json_object(dst, key);
        for (const cJSON *c = child->child; c; c = c->next)
                put(m, c->string, c, prov);
}

/* The item of `list` whose `key` member equals that of `item` (strings and
 * numbers), or NULL. */
static cJSON *find_by(const cJSON *list, const char *key, const cJSON *item) {
        const cJSON *want = get(item, key);
        if (!present(want))
                return NULL;
        for (cJSON *i = list ? list->child : NULL; i; i = i->next) {
                const cJSON *have = get(i, key);
                if (have && cJSON_Compare(have, want, true))
                        return i;
        }
        return NULL;
}

/* ---- the plugin's rules (§3.4, §3.5) ------------------------------------- */

/* Env by name: parent order, child replaces in place, new ones appended,
 * nameless entries dropped. */
static void combine_named(cJSON *dst, const char *field, const char *key, const cJSON *parent_list,
                          const cJSON *child_list, struct ka_locmap *prov) {
        if (!cJSON_IsArray(child_list) && !cJSON_IsArray(parent_list))
                return;
        cJSON *out = cJSON_CreateArray();
        const cJSON *lists[] = {parent_list, child_list};
        for (size_t l = 0; l < 2; l++)
                for (const cJSON *i = cJSON_IsArray(lists[l]) ? lists[l]->child : NULL; i; i = i->next) {
                        const cJSON *k = get(i, key);
                        if (!present(k) || (cJSON_IsString(k) && !*k->valuestring))
                                continue;
                        cJSON *have = find_by(out, key, i);
                        if (have)
                                cJSON_ReplaceItemViaPointer(out, have, dup(i, prov));
                        else
                                cJSON_AddItemToArray(out, dup(i, prov));
                }
        ka_json_set(dst, field, out);
}

static bool env_from_ok(const cJSON *e) {
        return nonempty_str(get(get(e, "configMapRef"), "name")) || nonempty_str(get(get(e, "secretRef"), "name"));
}

static void combine_security_context(cJSON *out, const cJSON *parent, const cJSON *child, struct ka_locmap *prov) {
        const cJSON *ps = get(parent, "securityContext"), *cs = get(child, "securityContext");
        const cJSON *priv = present(get(cs, "privileged")) ? get(cs, "privileged") : get(ps, "privileged");
        const cJSON *user = present(get(cs, "runAsUser")) ? get(cs, "runAsUser") : get(ps, "runAsUser");
        const cJSON *group = present(get(cs, "runAsGroup")) ? get(cs, "runAsGroup") : get(ps, "runAsGroup");
        const cJSON *pc = get(ps, "capabilities"), *cc = get(cs, "capabilities");
        const cJSON *add = present(get(cc, "add")) ? get(cc, "add") : get(pc, "add");
        const cJSON *drop = present(get(cc, "drop")) ? get(cc, "drop") : get(pc, "drop");
        if (!cJSON_IsTrue(priv) && !present(user) && !present(group) && !present(add) && !present(drop))
                return; /* the parent's stays as it is */
        cJSON *sc = cJSON_IsObject(ps) ? dup(ps, prov) : cJSON_CreateObject();
        if (cJSON_IsBool(priv))
                put(sc, "privileged", priv, prov);
        else
                ka_json_set_bool(sc, "privileged", false);
        if (present(user))
                put(sc, "runAsUser", user, prov);
        if (present(group))
                put(sc, "runAsGroup", group, prov);
        if (present(add) || present(drop)) {
                cJSON *caps = cJSON_CreateObject();
                if (present(add))
                        put(caps, "add", add, prov);
                if (present(drop))
                        put(caps, "drop", drop, prov);
                ka_json_set(sc, "capabilities", caps);
        }
        ka_json_set(out, "securityContext", sc);
}

static cJSON *combine_container(const cJSON *parent, const cJSON *child, struct ka_locmap *prov) {
        cJSON *out = dup(parent, prov);
        put(out, "name", get(child, "name"), prov);
        static const char *const strs[] = {"image", "imagePullPolicy", "workingDir"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(strs); i++)
                if (nonempty_str(get(child, strs[i])))
                        put(out, strs[i], get(child, strs[i]), prov);
        static const char *const lists[] = {"command", "args"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(lists); i++)
                if (nonempty_list(get(child, lists[i])))
                        put(out, lists[i], get(child, lists[i]), prov);
        if (present(get(child, "tty")))
                put(out, "tty", get(child, "tty"), prov);
        const cJSON *cr = get(child, "resources");
        if (cJSON_IsObject(cr)) {
                cJSON *r = ka_json_object(out, "resources");
                merge_map(r, "requests", get(cr, "requests"), prov);
                merge_map(r, "limits", get(cr, "limits"), prov);
        }
        combine_named(out, "env", "name", get(parent, "env"), get(child, "env"), prov);
        const cJSON *pf = get(parent, "envFrom"), *cf = get(child, "envFrom");
        if (cJSON_IsArray(pf) || cJSON_IsArray(cf)) {
                cJSON *ef = cJSON_CreateArray();
                for (const cJSON *l = pf; l; l = l == pf ? cf : NULL)
                        for (const cJSON *e = cJSON_IsArray(l) ? l->child : NULL; e; e = e->next)
                                if (env_from_ok(e))
                                        cJSON_AddItemToArray(ef, dup(e, prov));
                ka_json_set(out, "envFrom", ef);
        }
        combine_named(out, "volumeMounts", "mountPath", get(parent, "volumeMounts"), get(child, "volumeMounts"), prov);
        combine_security_context(out, parent, child, prov);
        return out;
}

/* Containers by name: parent order, same name combined, child's new ones
 * appended in order. */
static void combine_containers(cJSON *spec, const char *field, const cJSON *parent_list, const cJSON *child_list,
                               struct ka_locmap *prov) {
        if (!cJSON_IsArray(child_list))
                return;
        cJSON *out = cJSON_IsArray(parent_list) ? dup(parent_list, prov) : cJSON_CreateArray();
        for (const cJSON *c = child_list->child; c; c = c->next) {
                cJSON *have = find_by(out, "name", c);
                if (have) {
                        const cJSON *p = find_by(parent_list, "name", c);
                        cJSON_ReplaceItemViaPointer(out, have, combine_container(p, c, prov));
                } else {
                        cJSON_AddItemToArray(out, dup(c, prov));
                }
        }
        ka_json_set(spec, field, out);
}

cJSON *ka_pod_combine(const cJSON *parent, const cJSON *child, struct ka_locmap *prov) {
        if (!parent)
                return dup(child, prov);
        cJSON *out = dup(parent, prov);
        const cJSON *cm = get(child, "metadata");
        if (cJSON_IsObject(cm)) {
                cJSON *m = ka_json_object(out, "metadata");
                merge_map(m, "labels", get(cm, "labels"), prov);
                merge_map(m, "annotations", get(cm, "annotations"), prov);
                static const char *const strs[] = {"name", "namespace"};
                for (size_t i = 0; i < KA_ARRAY_SIZE(strs); i++)
                        if (nonempty_str(get(cm, strs[i])))
                                put(m, strs[i], get(cm, strs[i]), prov);
        }
        const cJSON *cs = get(child, "spec"), *ps = get(parent, "spec");
        if (!cJSON_IsObject(cs))
                return out;
        cJSON *s = ka_json_object(out, "spec");
        merge_map(s, "nodeSelector", get(cs, "nodeSelector"), prov);
        static const char *const strs[] = {"serviceAccount", "serviceAccountName", "schedulerName"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(strs); i++)
                if (nonempty_str(get(cs, strs[i])))
                        put(s, strs[i], get(cs, strs[i]), prov);
        static const char *const vals[] = {"activeDeadlineSeconds", "hostNetwork", "shareProcessNamespace"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(vals); i++)
                if (present(get(cs, vals[i])))
                        put(s, vals[i], get(cs, vals[i]), prov);
        combine_containers(s, "containers", get(ps, "containers"), get(cs, "containers"), prov);
        combine_containers(s, "initContainers", get(ps, "initContainers"), get(cs, "initContainers"), prov);
        const cJSON *cv = get(cs, "volumes");
        if (cJSON_IsArray(cv)) {
                cJSON *vols = ka_json_array(s, "volumes");
                for (const cJSON *v = cv->child; v; v = v->next) {
                        cJSON *have = find_by(vols, "name", v);
                        if (have)
                                cJSON_ReplaceItemViaPointer(vols, have, dup(v, prov));
                        else
                                cJSON_AddItemToArray(vols, dup(v, prov));
                }
        }
        const cJSON *ct = get(cs, "tolerations");
        if (cJSON_IsArray(ct)) {
                cJSON *t = ka_json_array(s, "tolerations");
                for (const cJSON *i = ct->child; i; i = i->next)
                        cJSON_AddItemToArray(t, dup(i, prov));
        }
        const cJSON *cp = get(cs, "imagePullSecrets");
        if (cJSON_IsArray(cp)) {
                cJSON *p = ka_json_array(s, "imagePullSecrets");
                for (const cJSON *i = cp->child; i; i = i->next) {
                        bool have = false;
                        for (const cJSON *j = p->child; j && !have; j = j->next)
                                have = cJSON_Compare(i, j, true);
                        if (!have)
                                cJSON_AddItemToArray(p, dup(i, prov));
                }
        }
        const cJSON *csc = get(cs, "securityContext");
        const cJSON *user = get(csc, "runAsUser"), *group = get(csc, "runAsGroup");
        if (present(user) || present(group)) {
                cJSON *sc = ka_json_object(s, "securityContext");
                if (present(user))
                        put(sc, "runAsUser", user, prov);
                if (present(group))
                        put(sc, "runAsGroup", group, prov);
        }
        return out;
}

/* ---- strategic merge ----------------------------------------------------- */

/* How a list merges: by a key member (Kubernetes' patchMergeKey), as a set
 * (parent items, then the child's not already there), or atomically (the
 * child's replaces the parent's: every list not named here). */
enum list_kind { BY_KEY, AS_SET };

struct schema;
struct list_rule {
        const char *field;
        enum list_kind kind;
        const char *key;
        bool retain_keys; /* items: keys the child lacks are dropped (volumes) */
        const struct schema *items;
};
struct object_rule {
        const char *field;
        const struct schema *schema;
};
struct schema {
        const struct list_rule *lists;
        const struct object_rule *objects;
};

static const struct list_rule container_lists[] = {
        {"env", BY_KEY, "name", false, NULL},
        {"ports", BY_KEY, "containerPort", false, NULL},
        {"volumeMounts", BY_KEY, "mountPath", false, NULL},
        {"volumeDevices", BY_KEY, "devicePath", false, NULL},
        {"envFrom", AS_SET, NULL, false, NULL},
        {0},
};
static const struct schema container_schema = {container_lists, NULL};
static const struct list_rule spec_lists[] = {
        {"containers", BY_KEY, "name", false, &container_schema},
        {"initContainers", BY_KEY, "name", false, &container_schema},
        {"ephemeralContainers", BY_KEY, "name", false, &container_schema},
        {"volumes", BY_KEY, "name", true, NULL},
        {"imagePullSecrets", BY_KEY, "name", false, NULL},
        {"hostAliases", BY_KEY, "ip", false, NULL},
        {"topologySpreadConstraints", BY_KEY, "topologyKey", false, NULL},
        {"resourceClaims", BY_KEY, "name", false, NULL},
        {"schedulingGates", BY_KEY, "name", false, NULL},
        {"tolerations", AS_SET, NULL, false, NULL},
        {0},
};
static const struct schema spec_schema = {spec_lists, NULL};
static const struct list_rule metadata_lists[] = {
        {"ownerReferences", BY_KEY, "uid", false, NULL},
        {"finalizers", AS_SET, NULL, false, NULL},
        {0},
};
static const struct schema metadata_schema = {metadata_lists, NULL};
static const struct object_rule pod_objects[] = {
        {"metadata", &metadata_schema},
        {"spec", &spec_schema},
        {0},
};
static const struct schema pod_schema = {NULL, pod_objects};

static const char *patch_directive(const cJSON *obj) {
        const cJSON *d = get(obj, "$patch");
        return cJSON_IsString(d) ? d->valuestring : NULL;
}

/* A copy without $patch directives. */
static cJSON *clean_dup(const cJSON *n, struct ka_locmap *prov) {
        cJSON *c = dup(n, prov);
        if (cJSON_IsObject(c))
                cJSON_DeleteItemFromObjectCaseSensitive(c, "$patch");
        return c;
}

static void smp_object(cJSON *dst, const cJSON *child, const struct schema *schema, struct ka_locmap *prov);

static void smp_list(cJSON *dst, const char *field, const cJSON *child_list, const struct list_rule *rule,
                     struct ka_locmap *prov) {
        cJSON *have = get(dst, field);
        bool replace = false;
        for (const cJSON *i = child_list->child; i; i = i->next)
                replace = replace || ka_streq(patch_directive(i), "replace");
        if (!cJSON_IsArray(have) || replace) {
                cJSON *out = cJSON_CreateArray();
                for (const cJSON *i = child_list->child; i; i = i->next)
                        if (!patch_directive(i))
                                cJSON_AddItemToArray(out, clean_dup(i, prov));
                ka_json_set(dst, field, out);
                return;
        }
        for (const cJSON *i = child_list->child; i; i = i->next) {
                if (rule->kind == AS_SET) {
                        bool found = false;
                        for (const cJSON *j = have->child; j && !found; j = j->next)
                                found = cJSON_Compare(i, j, true);
                        if (!found)
                                cJSON_AddItemToArray(have, dup(i, prov));
                        continue;
                }
                cJSON *match = find_by(have, rule->key, i);
                const char *directive = patch_directive(i);
                if (ka_streq(directive, "delete")) {
                        if (match)
                                cJSON_Delete(cJSON_DetachItemViaPointer(have, match));
                        continue;
                }
                if (!match) {
                        cJSON_AddItemToArray(have, clean_dup(i, prov));
                        continue;
                }
                if (rule->retain_keys)
                        for (cJSON *k = match->child, *next; k; k = next) {
                                next = k->next;
                                if (!get(i, k->string))
                                        cJSON_Delete(cJSON_DetachItemViaPointer(match, k));
                        }
                smp_object(match, i, rule->items, prov);
        }
}

/* Deep merge of child into dst.  null in the child means "not given" (a
 * template fragment's bare `spec:` must not erase its parent's spec);
 * `$patch: delete` removes, `$patch: replace` replaces. */
static void smp_object(cJSON *dst, const cJSON *child, const struct schema *schema, struct ka_locmap *prov) {
        for (const cJSON *c = child->child; c; c = c->next) {
                if (strcmp(c->string, "$patch") == 0 || cJSON_IsNull(c))
                        continue;
                const char *directive = patch_directive(c);
                if (ka_streq(directive, "delete")) {
                        cJSON_DeleteItemFromObjectCaseSensitive(dst, c->string);
                        continue;
                }
                cJSON *have = get(dst, c->string);
                if (ka_streq(directive, "replace") || !have || cJSON_IsNull(have)) {
                        ka_json_set(dst, c->string, clean_dup(c, prov));
                        continue;
                }
                if (cJSON_IsObject(c) && cJSON_IsObject(have)) {
                        const struct schema *sub = NULL;
                        for (const struct object_rule *o = schema ? schema->objects : NULL; o && o->field; o++)
                                if (strcmp(o->field, c->string) == 0)
                                        sub = o->schema;
                        smp_object(have, c, sub, prov);
                        continue;
                }
                const struct list_rule *rule = NULL;
                for (const struct list_rule *l = schema ? schema->lists : NULL; l && l->field; l++)
                        if (strcmp(l->field, c->string) == 0)
                                rule = l;
                if (cJSON_IsArray(c) && cJSON_IsArray(have) && rule)
                        smp_list(dst, c->string, c, rule, prov);
                else
                        put(dst, c->string, c, prov);
        }
}

cJSON *ka_pod_strategic(const cJSON *parent, const cJSON *child, struct ka_locmap *prov) {
        if (!parent)
                return clean_dup(child, prov);
        cJSON *out = dup(parent, prov);
        if (cJSON_IsObject(child))
                smp_object(out, child, &pod_schema, prov);
        return out;
}

cJSON *ka_pod_merge(enum ka_yaml_merge strategy, const cJSON *parent, const cJSON *child, struct ka_locmap *prov) {
        return strategy == KA_MERGE_STRATEGIC ? ka_pod_strategic(parent, child, prov)
                                              : ka_pod_combine(parent, child, prov);
}

cJSON *ka_template_yaml_pod(const struct ka_template *t, struct ka_locmap *prov) {
        if (!t->n_yamls)
                return NULL;
        enum ka_yaml_merge strategy = t->yaml_merge_strategy;
        if (strategy == KA_MERGE_UNSET || strategy == KA_MERGE_OVERRIDE)
                return ka_prov_fragment_copy(prov, t->yamls[t->n_yamls - 1]);
        cJSON *pod = NULL;
        for (size_t i = 0; i < t->n_yamls; i++) {
                cJSON *f = ka_prov_fragment_copy(prov, t->yamls[i]);
                cJSON *next = ka_pod_merge(strategy, pod, f, prov);
                cJSON_Delete(pod);
                cJSON_Delete(f);
                pod = next;
        }
        return pod;
}
