/* config/kubernetes/rbac.yaml grants every permission kubeagent needs
 * (ka_kube_permissions, what `kubeagent doctor` checks): read the manifest,
 * check its shape, then give its Role's rules to a user of the API simulator
 * that had fewer rights and ask the server (SelfSubjectAccessReview). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube/pods.h"
#include "sim.h"
#include "tap.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "yaml/yaml.h"

static const cJSON *find_kind(const cJSON *docs, const char *kind) {
        const cJSON *d;
        cJSON_ArrayForEach(d, docs) if (ka_streq(ka_json_str(d, "kind"), kind)) return d;
        return NULL;
}

static bool has_string(const cJSON *arr, const char *s) {
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0) return true;
        return false;
}

static bool role_allows(const cJSON *role, const struct ka_kube_permission *p) {
        _cleanup_free_ char *res = ka_asprintf("%s%s%s", p->resource, p->subresource ? "/" : "",
                                               p->subresource ? p->subresource : "");
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(role, "rules")) if (
                has_string(cJSON_GetObjectItem(r, "apiGroups"), "") &&
                has_string(cJSON_GetObjectItem(r, "resources"), res) &&
                has_string(cJSON_GetObjectItem(r, "verbs"), p->verb)) return true;
        return false;
}

int main(void) {
        ka_mem_init();
        const char *top = getenv("top_srcdir");
        _cleanup_free_ char *path = ka_asprintf("%s/config/kubernetes/rbac.yaml", top ? top : ".");
        char *text;
        size_t len;
        struct ka_error err = {0};
        cJSON *docs = NULL;
        if (ka_read_file(path, 1u << 20, &text, &len, &err) == 0) {
                struct ka_yaml_origin o = {.file = path};
                is_int(ka_yaml_parse_all(text, len, &o, NULL, &docs, &err), 0, "rbac.yaml parses (%s)", err.msg);
                free(text);
        } else {
                ok(false, "read %s: %s", path, err.msg);
        }
        const cJSON *sa = find_kind(docs, "ServiceAccount"), *role = find_kind(docs, "Role"),
                    *binding = find_kind(docs, "RoleBinding");
        ok(sa && role && binding, "a ServiceAccount, a Role and a RoleBinding");
        is_str(ka_json_path_str(binding, "roleRef.name"), ka_json_path_str(role, "metadata.name"),
               "the binding names the Role");
        const cJSON *subj = cJSON_GetArrayItem(cJSON_GetObjectItem(binding, "subjects"), 0);
        ok(ka_streq(ka_json_str(subj, "kind"), "ServiceAccount") &&
                   ka_streq(ka_json_str(subj, "name"), ka_json_path_str(sa, "metadata.name")),
           "and binds it to the ServiceAccount");
        for (const struct ka_kube_permission *p = ka_kube_permissions; p->resource; p++)
                ok(role_allows(role, p), "the Role grants %s%s%s %s", p->resource, p->subresource ? "/" : "",
                   p->subresource ? p->subresource : "", p->verb);

        struct sim sim;
        const char *why;
        if (!sim_start(&sim, NULL, &why)) {
                tap_skip(why, "the Role's rules against a server");
                cJSON_Delete(docs);
                return tap_done();
        }
        struct ka_registry reg = {0};
        plugins_load(&reg);
        /* the user "restricted" may only read pods; give it the Role's rules */
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(role, "rules")) {
                cJSON *grant = cJSON_CreateObject();
                cJSON_AddStringToObject(grant, "user", "restricted");
                cJSON_AddStringToObject(grant, "namespace", "ci");
                cJSON_AddItemToObject(grant, "resources", cJSON_Duplicate(cJSON_GetObjectItem(r, "resources"), 1));
                cJSON_AddItemToObject(grant, "verbs", cJSON_Duplicate(cJSON_GetObjectItem(r, "verbs"), 1));
                char *body = ka_json_print(grant);
                is_int(sim_admin(&sim, "POST", "/rbac", body, NULL), 201, "granted a rule of the Role");
                free(body);
                cJSON_Delete(grant);
        }
        struct ka_kube *k = sim_client(&sim, &reg, "token-restricted", NULL);
        if (k) {
                for (const struct ka_kube_permission *p = ka_kube_permissions; p->resource; p++) {
                        bool allowed = false;
                        ka_kube_can_i(k, NULL, p->verb, p->resource, p->subresource, &allowed, NULL, &err);
                        ok(allowed, "the server allows %s%s%s %s", p->resource, p->subresource ? "/" : "",
                           p->subresource ? p->subresource : "", p->verb);
                }
                ka_kube_free(k);
        }
        ka_registry_free(&reg);
        sim_stop(&sim);
        cJSON_Delete(docs);
        ka_secret_reset();
        return tap_done();
}
