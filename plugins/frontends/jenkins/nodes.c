/* Inbound nodes: create, secret, poll, offline, delete (jenkins.h;
 * reference §4, §5, §6). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memmem */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../credentials/common/credutil.h"
#include "jenkins.h"

/* ---- create ------------------------------------------------------------------ */

static char *node_json(const struct jk_node_spec *s) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", s->name);
        cJSON_AddStringToObject(j, "nodeDescription", s->description ? s->description : "");
        cJSON_AddNumberToObject(j, "numExecutors", 1);
        cJSON_AddStringToObject(j, "remoteFS", s->remote_fs);
        cJSON_AddStringToObject(j, "labelString", s->labels ? s->labels : "");
        cJSON_AddStringToObject(j, "mode", s->exclusive ? "EXCLUSIVE" : "NORMAL");
        cJSON *l = cJSON_AddObjectToObject(j, "launcher");
        cJSON_AddStringToObject(l, "$class", "hudson.slaves.JNLPLauncher");
        cJSON_AddBoolToObject(l, "webSocket", s->websocket);
        if (s->tunnel && *s->tunnel)
                cJSON_AddStringToObject(l, "tunnel", s->tunnel);
        cJSON *w = cJSON_AddObjectToObject(l, "workDirSettings");
        cJSON_AddBoolToObject(w, "disabled", false);
        cJSON_AddStringToObject(w, "workDirPath", "");
        cJSON_AddStringToObject(w, "internalDir", "remoting");
        cJSON_AddBoolToObject(w, "failIfWorkDirIsMissing", false);
        /* kubeagent decides when the node goes: Jenkins keeps it */
        cJSON *r = cJSON_AddObjectToObject(j, "retentionStrategy");
        cJSON_AddStringToObject(r, "$class", "hudson.slaves.RetentionStrategy$Always");
        cJSON *np = cJSON_AddObjectToObject(j, "nodeProperties");
        cJSON_AddStringToObject(np, "stapler-class-bag", "true");
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!text)
                abort();
        return text;
}

int jk_node_create(struct jk_client *c, const struct jk_node_spec *spec, struct ka_error *err) {
        char *json = node_json(spec);
        char *form = NULL;
        jk_form_add(c, &form, "name", spec->name);
        jk_form_add(c, &form, "type", "hudson.slaves.DumbSlave");
        jk_form_add(c, &form, "json", json);
        free(json);
        char *what = cu_printf("create node %s", spec->name);
        struct jk_response r = {0};
        int rc = jk_request(c, "POST", "computer/doCreateItem", form, what, JK_PERM_CREATE, &r, err);
        if (rc == 0 && r.code != 302 && r.code != 200)
                rc = jk_host->error_set(err, -EPROTO, "%s: expected a redirect, Jenkins answered %ld", what, r.code);
        /* 400 "Agent called 'N' already exists" (the X-Error header's quotes may arrive as '?') */
        if (rc == -EINVAL && ((r.x_error && strstr(r.x_error, "already exists")) || strstr(r.body, "already exists")))
                rc = jk_host->error_set(err, -EEXIST, "%s: a node of that name exists", what);
        jk_response_clear(&r);
        free(what);
        free(form);
        return rc;
}

/* ---- the secret ------------------------------------------------------------------ */

/* XML character data to text: the five entities and numeric references. */
static char *xml_text(const char *s, size_t n) {
        char *out = malloc(n + 1);
        if (!out)
                abort();
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                static const struct {
                        const char *ent;
                        char c;
                } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
                bool done = false;
                for (size_t e = 0; s[i] == '&' && e < sizeof(ents) / sizeof(*ents); e++) {
                        size_t el = strlen(ents[e].ent);
                        if (i + el <= n && memcmp(s + i, ents[e].ent, el) == 0) {
                                out[o++] = ents[e].c;
                                i += el - 1;
                                done = true;
                                break;
                        }
                }
                if (!done && s[i] == '&' && i + 2 < n && s[i + 1] == '#') {
                        char *end;
                        bool hex = s[i + 2] == 'x';
                        long v = strtol(s + i + (hex ? 3 : 2), &end, hex ? 16 : 10);
                        if (end < s + n && *end == ';' && v > 0 && v < 128) {
                                out[o++] = (char)v;
                                i = (size_t)(end - s);
                                done = true;
                        }
                }
                if (!done)
                        out[o++] = s[i];
        }
        out[o] = '\0';
        return out;
}

/* The text of the idx-th <argument> element (0-based), or NULL. */
static char *argument(const char *doc, size_t len, int idx) {
        const char *end = doc + len, *p = doc;
        for (int i = 0;; i++) {
                const char *open = memmem(p, (size_t)(end - p), "<argument>", 10);
                if (!open)
                        return NULL;
                const char *text = open + 10;
                const char *close = memmem(text, (size_t)(end - text), "</argument>", 11);
                if (!close)
                        return NULL;
                if (i == idx)
                        return xml_text(text, (size_t)(close - text));
                p = close + 11;
        }
}

int jk_jnlp_secret(const char *doc, size_t len, const char *name, char **ret_secret, struct ka_error *err) {
        char *secret = argument(doc, len, 0);
        char *second = argument(doc, len, 1);
        int rc = 0;
        size_t n = secret ? strlen(secret) : 0;
        if (!secret || !second)
                rc = jk_host->error_set(err, -EPROTO, "jenkins-agent.jnlp of %s has no secret and name arguments", name);
        else if (strcmp(second, name) != 0)
                rc = jk_host->error_set(err, -EPROTO, "jenkins-agent.jnlp of %s is for another node", name);
        else if (n != 64 || strspn(secret, "0123456789abcdef") != n)
                rc = jk_host->error_set(err, -EPROTO, "jenkins-agent.jnlp of %s: the secret is not 64 hex characters",
                                        name);
        free(second);
        if (rc < 0) {
                if (secret)
                        memset(secret, 0, strlen(secret));
                free(secret);
                return rc;
        }
        *ret_secret = secret;
        return 0;
}

int jk_node_secret(struct jk_client *c, const char *name, char **ret_secret, struct ka_error *err) {
        char *en = jk_escape(c, name);
        char *path = cu_printf("computer/%s/jenkins-agent.jnlp", en);
        char *what = cu_printf("read the secret of node %s", name);
        struct jk_response r = {0};
        int rc = jk_request(c, "GET", path, NULL, what, JK_PERM_CONNECT, &r, err);
        if (rc == 0 && r.code != 200)
                rc = jk_host->error_set(err, -EPROTO, "%s: expected 200, Jenkins answered %ld", what, r.code);
        char *secret = NULL;
        if (rc == 0 && (rc = jk_jnlp_secret(r.body, r.len, name, &secret, err)) == 0) {
                jk_host->secret_register(secret);
                *ret_secret = secret;
        }
        if (r.body)
                memset(r.body, 0, r.len);       /* it held the secret */
        jk_response_clear(&r);
        free(what);
        free(path);
        free(en);
        return rc;
}

/* ---- offline, online, delete ------------------------------------------------------ */

static int node_post(struct jk_client *c, const char *name, const char *action, const char *form, const char *what,
                     const char *perm, struct ka_error *err) {
        char *en = jk_escape(c, name);
        char *path = cu_printf("computer/%s/%s", en, action);
        int rc = jk_request(c, "POST", path, form, what, perm, NULL, err);
        free(path);
        free(en);
        return rc;
}

int jk_node_offline(struct jk_client *c, const char *name, const char *reason, struct ka_error *err) {
        char *form = NULL;
        jk_form_add(c, &form, "offlineMessage", reason);
        char *what = cu_printf("mark node %s offline", name);
        int rc = node_post(c, name, "changeOfflineCause", form, what, JK_PERM_DISCONNECT, err);
        free(what);
        free(form);
        return rc;
}

int jk_node_online(struct jk_client *c, const char *name, struct ka_error *err) {
        char *en = jk_escape(c, name);
        char *path = cu_printf("computer/%s/api/json?tree=temporarilyOffline", en);
        char *what = cu_printf("bring node %s back online", name);
        cJSON *j;
        int rc = jk_get_json(c, path, what, JK_PERM_READ, &j, err);
        if (rc == 0) {
                bool temp = jk_json_true(j, "temporarilyOffline");
                cJSON_Delete(j);
                if (temp)
                        rc = node_post(c, name, "toggleOffline", NULL, what, JK_PERM_CONNECT, err);
        }
        free(what);
        free(path);
        free(en);
        return rc;
}

int jk_node_delete(struct jk_client *c, const char *name, struct ka_error *err) {
        char *what = cu_printf("delete node %s", name);
        int rc = node_post(c, name, "doDelete", NULL, what, JK_PERM_DELETE, err);
        free(what);
        return rc == -ENOENT ? 0 : rc;  /* already gone: done */
}

/* ---- one poll of every computer ----------------------------------------------------- */

static char *str_dup_of(const cJSON *o, const char *key) {
        return cu_strdup(jk_json_str(o, key));
}

int jk_computers_parse(const char *json, size_t len, struct jk_computers *ret, struct ka_error *err) {
        struct jk_computers cs = {0};
        const cJSON *list;
        cJSON *j = jk_json_list(json, len, "computer", sizeof(*cs.v), (void **)&cs.v, &list);
        if (!j)
                return jk_host->error_set(err, -EPROTO, "the node list is not a JSON object with computer");
        const cJSON *o;
        cJSON_ArrayForEach(o, list) {
                char *name = str_dup_of(o, "displayName");
                if (!cJSON_IsObject(o) || !name) {
                        free(name);
                        continue;
                }
                struct jk_computer *x = &cs.v[cs.n++];
                x->name = name;
                const cJSON *cls = cJSON_GetObjectItemCaseSensitive(o, "_class");
                x->built_in = cJSON_IsString(cls) && strcmp(cls->valuestring, "hudson.model.Hudson$MasterComputer") == 0;
                x->description = str_dup_of(o, "description");
                x->offline = jk_json_true(o, "offline");
                x->temporarily_offline = jk_json_true(o, "temporarilyOffline");
                x->idle = jk_json_true(o, "idle");
                /* a temporarily-offline node may still have its agent: absoluteRemotePath
                 * is set while a channel is (it needs Agent/Connect, which kubeagent has) */
                x->connected = !x->offline || jk_json_str(o, "absoluteRemotePath") != NULL;
                x->offline_reason = str_dup_of(o, "offlineCauseReason");
                if (!x->offline_reason)
                        x->offline_reason = cu_strdup("");
                const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "assignedLabels");
                x->labels = calloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(char *));
                if (!x->labels)
                        abort();
                size_t nl = 0;
                const cJSON *l;
                cJSON_ArrayForEach(l, labels) {
                        char *ln = str_dup_of(l, "name");
                        if (ln)
                                x->labels[nl++] = ln;
                }
                const cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "executors")) {
                        x->executors++;
                        if (jk_json_true(e, "idle"))
                                continue;
                        x->busy++;
                        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(e, "currentExecutable");
                        if (!x->run_url && cJSON_IsObject(cur)) {
                                x->run_url = str_dup_of(cur, "url");
                                x->run_number = (long)jk_json_int(cur, "number");
                        }
                }
        }
        cJSON_Delete(j);
        *ret = cs;
        return 0;
}

int jk_computers_poll(struct jk_client *c, struct jk_computers *ret, struct ka_error *err) {
        static const char what[] = "poll the nodes";
        struct jk_response r = {0};
        int rc = jk_request(c, "GET",
                            "computer/api/json?tree=computer%5BdisplayName,description,offline,"
                            "temporarilyOffline,idle,offlineCauseReason,absoluteRemotePath,assignedLabels%5Bname%5D,"
                            "executors%5Bidle,currentExecutable%5Burl,number%5D%5D%5D",
                            NULL, what, JK_PERM_READ, &r, err);
        if (rc == 0 && (rc = jk_computers_parse(r.body, r.len, ret, err)) < 0)
                jk_error_prefix(err, what);
        jk_response_clear(&r);
        return rc;
}

const struct jk_computer *jk_computers_find(const struct jk_computers *cs, const char *name) {
        for (size_t i = 0; i < cs->n; i++)
                if (!cs->v[i].built_in && strcmp(cs->v[i].name, name) == 0)
                        return &cs->v[i];
        return NULL;
}

void jk_computers_clear(struct jk_computers *cs) {
        for (size_t i = 0; i < cs->n; i++) {
                struct jk_computer *x = &cs->v[i];
                free(x->name);
                free(x->description);
                free(x->offline_reason);
                jk_strv_free(x->labels);
                free(x->run_url);
        }
        free(cs->v);
        *cs = (struct jk_computers){0};
}

/* ---- the nodes a label expression matches ------------------------------------------- */

int jk_label_nodes_parse(const char *json, size_t len, char ***ret, struct ka_error *err) {
        cJSON *j = cJSON_ParseWithLength(json, len);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "nodes");
        if (!cJSON_IsObject(j) || !cJSON_IsArray(list)) {
                cJSON_Delete(j);
                return jk_host->error_set(err, -EPROTO, "the label is not a JSON object with nodes");
        }
        char **v = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*v));
        if (!v)
                abort();
        size_t n = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, list) {
                const char *name = jk_json_str(o, "nodeName");
                if (name)
                        v[n++] = cu_strdup(name);
        }
        cJSON_Delete(j);
        *ret = v;
        return 0;
}

int jk_label_nodes(struct jk_client *c, const char *expr, char ***ret, struct ka_error *err) {
        char *e = jk_escape(c, expr);
        char *path = cu_printf("label/%s/api/json?tree=nodes%%5BnodeName%%5D", e);
        char *what = cu_printf("read the nodes of label %s", expr);
        struct jk_response r = {0};
        int rc = jk_request(c, "GET", path, NULL, what, JK_PERM_READ, &r, err);
        if (rc == 0 && (rc = jk_label_nodes_parse(r.body, r.len, ret, err)) < 0)
                jk_error_prefix(err, what);
        jk_response_clear(&r);
        free(what);
        free(path);
        free(e);
        return rc;
}
