#include "status.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

#define TEXT_MESSAGE_MAX 300

static char *dup_member(const cJSON *obj, const char *key) {
        return ka_strdup(ka_json_str(obj, key));
}

void ka_kube_status_from_json(int code, const cJSON *obj, struct ka_kube_status *ret) {
        *ret = (struct ka_kube_status){.code = code};
        if (!cJSON_IsObject(obj))
                return;
        int64_t c = ka_json_int(obj, "code", 0);
        if (c >= 100 && c <= 599)
                ret->code = (int)c;
        ret->status = dup_member(obj, "status");
        ret->reason = dup_member(obj, "reason");
        ret->message = dup_member(obj, "message");
        const cJSON *details = cJSON_GetObjectItemCaseSensitive(obj, "details");
        if (!cJSON_IsObject(details))
                return;
        ret->kind = dup_member(details, "kind");
        ret->name = dup_member(details, "name");
        int64_t ra = ka_json_int(details, "retryAfterSeconds", 0);
        ret->retry_after_s = ra > 0 && ra < 3600 ? (int)ra : 0;
        const cJSON *causes = cJSON_GetObjectItemCaseSensitive(details, "causes");
        int n = cJSON_IsArray(causes) ? cJSON_GetArraySize(causes) : 0;
        if (n <= 0)
                return;
        n = KA_MIN(n, 64);
        ret->causes = ka_new0(struct ka_kube_cause, (size_t)n);
        const cJSON *c0;
        cJSON_ArrayForEach(c0, causes) {
                if (ret->n_causes == (size_t)n)
                        break;
                if (!cJSON_IsObject(c0))
                        continue;
                struct ka_kube_cause *k = &ret->causes[ret->n_causes++];
                k->type = dup_member(c0, "reason");
                k->message = dup_member(c0, "message");
                k->field = dup_member(c0, "field");
        }
}

void ka_kube_status_parse(int code, const char *body, size_t len, struct ka_kube_status *ret) {
        cJSON *j = NULL;
        if (body && len > 0 && ka_json_parse(body, len, &j, NULL) == 0 && cJSON_IsObject(j) &&
            ka_streq(ka_json_str(j, "kind"), "Status")) {
                ka_kube_status_from_json(code, j, ret);
                cJSON_Delete(j);
                return;
        }
        cJSON_Delete(j);
        *ret = (struct ka_kube_status){.code = code};
        if (!body || len == 0)
                return;
        /* plain text (a proxy, the kubelet): its first line, printable only */
        size_t n = 0;
        while (n < len && n < TEXT_MESSAGE_MAX && body[n] != '\n' && body[n] != '\r')
                n++;
        char *m = ka_strndup(body, n);
        for (char *p = m; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                        *p = ' ';
        ret->message = m;
}

void ka_kube_status_clear(struct ka_kube_status *s) {
        if (!s)
                return;
        free(s->status);
        free(s->reason);
        free(s->message);
        free(s->kind);
        free(s->name);
        for (size_t i = 0; i < s->n_causes; i++) {
                free(s->causes[i].type);
                free(s->causes[i].message);
                free(s->causes[i].field);
        }
        free(s->causes);
        *s = (struct ka_kube_status){0};
}

static bool has(const struct ka_kube_status *s, const char *text) {
        return s->message && strstr(s->message, text);
}

/* 403 comes from RBAC or from an admission decision; only the text tells. */
enum forbidden_kind { FORBIDDEN_RBAC, FORBIDDEN_QUOTA, FORBIDDEN_POD_SECURITY, FORBIDDEN_ADMISSION };

static enum forbidden_kind forbidden_kind(const struct ka_kube_status *s) {
        if (has(s, "exceeded quota"))
                return FORBIDDEN_QUOTA;
        if (has(s, "violates PodSecurity"))
                return FORBIDDEN_POD_SECURITY;
        if (has(s, " cannot ") && (has(s, "User \"") || has(s, "cannot get path")))
                return FORBIDDEN_RBAC;
        return FORBIDDEN_ADMISSION;
}

int ka_kube_status_errno(const struct ka_kube_status *s) {
        const char *r = s->reason ? s->reason : "";
        if (strcmp(r, "AlreadyExists") == 0)
                return -EEXIST;
        if (strcmp(r, "Conflict") == 0)
                return -EBUSY;
        if (strcmp(r, "Expired") == 0 || strcmp(r, "Gone") == 0)
                return -ESTALE;
        if (strcmp(r, "Timeout") == 0 || strcmp(r, "ServerTimeout") == 0)
                return -EIO;
        switch (s->code) {
        case 400:
        case 422:
                return -EINVAL;
        case 401:
                return -EKEYREJECTED;
        case 403:
                switch (forbidden_kind(s)) {
                case FORBIDDEN_RBAC:
                        return -EACCES;
                case FORBIDDEN_QUOTA:
                        return -EDQUOT;
                default:
                        return -EPERM;
                }
        case 404:
                return -ENOENT;
        case 409:
                return -EBUSY;
        case 410:
                return -ESTALE;
        case 413:
                return -E2BIG;
        case 429:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

static const char *what_happened(const struct ka_kube_status *s, const char **ret_hint) {
        *ret_hint = NULL;
        switch (s->code) {
        case 400:
                return "bad request";
        case 401:
                *ret_hint = "the server refused the credentials: check the token, certificate or kubeconfig";
                return "unauthorized";
        case 403:
                switch (forbidden_kind(s)) {
                case FORBIDDEN_RBAC:
                        *ret_hint = "grant the missing permission with a Role and RoleBinding "
                                    "(config/kubernetes/rbac.yaml); 'kubeagent doctor' lists what is missing";
                        return "forbidden by RBAC";
                case FORBIDDEN_QUOTA:
                        *ret_hint = "the namespace's ResourceQuota is used up; pods can start once others finish "
                                    "or the quota is raised";
                        return "resource quota exceeded";
                case FORBIDDEN_POD_SECURITY:
                        *ret_hint = "the pod breaks the namespace's PodSecurity level; adjust its securityContext";
                        return "rejected by PodSecurity admission";
                case FORBIDDEN_ADMISSION:
                        return "forbidden by an admission check";
                }
                break;
        case 404:
                return "not found";
        case 409:
                return ka_streq(s->reason, "AlreadyExists") ? "already exists" : "conflict";
        case 410:
                return "expired";
        case 422:
                return "invalid";
        case 429:
                return "too many requests";
        }
        if (s->code >= 500)
                return "server error";
        return "request failed";
}

int ka_kube_status_error(const struct ka_kube_status *s, const char *what, struct ka_error *err) {
        int code = ka_kube_status_errno(s);
        if (!err)
                return code;
        const char *hint;
        const char *head = what_happened(s, &hint);
        struct ka_buf b = KA_BUF_INIT(0);
        if (what)
                ka_buf_printf(&b, "%s: ", what);
        ka_buf_printf(&b, "%s (%d%s%s)", head, s->code, s->reason && *s->reason ? " " : "", s->reason ? s->reason : "");
        if (s->n_causes > 0) {
                /* one entry per field, the way kubectl prints them */
                for (size_t i = 0; i < s->n_causes; i++) {
                        const struct ka_kube_cause *c = &s->causes[i];
                        ka_buf_puts(&b, i == 0 ? ": " : "; ");
                        if (c->field && *c->field)
                                ka_buf_printf(&b, "%s: ", c->field);
                        ka_buf_puts(&b, c->message && *c->message ? c->message : (c->type ? c->type : "?"));
                }
        } else if (s->message && *s->message) {
                ka_buf_printf(&b, ": %s", s->message);
        }
        if (hint)
                ka_buf_printf(&b, " (%s)", hint);
        ka_error_set(err, code, "%s", b.data);
        ka_buf_free(&b);
        return code;
}
