/* The run-time template registration API: authentication, statuses and
 * JSON bodies around the parser and the store it is given. */
#include "templates.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"

#define TOKEN_MAX 4096
#define PREFIX "/v1/templates/"

#define KEY(name_, type_, default_, member_, description_)                                                             \
        { name_, type_, default_, 0, offsetof(struct ka_http_templates_config, member_), description_ }

const struct kubeagent_config_key ka_http_templates_config_keys[] = {
        KEY("tokenFile", KUBEAGENT_CFG_PATH, NULL, token_file,
            "file holding the bearer token the API requires (needed unless kubeagent.http listens on loopback)"),
        KEY("expireAfter", KUBEAGENT_CFG_DURATION, "1h", expire_after,
            "a registered template nobody used for this long is removed (0: never)"),
        KEY("maxTemplates", KUBEAGENT_CFG_INT, "100", max_templates, "registered templates kept at once"),
        {NULL, 0, NULL, 0, 0, NULL},
};

int ka_http_templates_init(struct ka_http_templates *t, const struct ka_http_templates_config *c, const char *listen,
                           const char **ret_key, struct ka_error *err) {
        *ret_key = NULL;
        if (ka_isempty(listen) || strcmp(listen, "off") == 0)
                return ka_error_set(err, -EINVAL,
                                    "the template registration API needs the HTTP endpoint "
                                    "(kubeagent.http.listen)");
        struct ka_http *s = NULL;
        int r = ka_http_new(listen, 0, &s, err);
        if (r < 0)
                return r;
        bool loopback = ka_http_loopback(s);
        ka_http_free(s);
        if (c->max_templates < 1) {
                *ret_key = "maxTemplates";
                return ka_error_set(err, -EINVAL, "maxTemplates must be at least 1");
        }
        if (c->expire_after < 0) {
                *ret_key = "expireAfter";
                return ka_error_set(err, -EINVAL, "expireAfter must not be negative");
        }
        if (!c->token_file) {
                if (loopback)
                        return 0;
                *ret_key = "tokenFile";
                return ka_error_set(err, -EPERM,
                                    "the template registration API needs tokenFile when kubeagent.http.listen is not a "
                                    "loopback address (anyone who reaches it could run pods)");
        }
        char *data = NULL;
        size_t len;
        *ret_key = "tokenFile";
        r = ka_read_file(c->token_file, TOKEN_MAX, &data, &len, err);
        if (r < 0)
                return r;
        char *token = ka_strip(data);
        ka_free_secret(data);
        if (strlen(token) < KA_SECRET_MIN_LEN || strpbrk(token, " \t\r\n")) {
                ka_free_secret(token);
                return ka_error_set(err, -EINVAL, "%s: the token must be one word of at least %d characters",
                                    c->token_file, KA_SECRET_MIN_LEN);
        }
        ka_secret_register(token);
        t->token = token;
        return 0;
}

void ka_http_templates_clear(struct ka_http_templates *t) {
        ka_secret_free(t->token);
        t->token = NULL;
}

/* ---- bodies ---- */

static void reply_error(struct ka_http_response *res, int status, const char *msg) {
        cJSON *e = cJSON_CreateObject();
        ka_json_set_str(e, "error", msg);
        ka_http_reply_json(res, status, e);
        cJSON_Delete(e);
}

static cJSON *problems_json(const struct ka_diags *d, enum ka_diag_severity only) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < d->n; i++) {
                const struct ka_diag *x = &d->v[i];
                if (x->severity != only)
                        continue;
                cJSON *p = cJSON_CreateObject();
                if (x->file) {
                        char *where = x->line ? ka_asprintf("%s:%u:%u", x->file, x->line, x->col) : ka_strdup(x->file);
                        ka_json_set_str(p, "where", where);
                        free(where);
                }
                ka_json_set_str(p, "severity", only == KA_DIAG_ERROR ? "error" : "warning");
                ka_json_set_str(p, "message", x->msg);
                cJSON_AddItemToArray(a, p);
        }
        return a;
}

/* The label of /v1/templates/LABEL, or NULL (then res is a 404). */
static const char *path_label(const struct ka_http_request *req, struct ka_http_response *res) {
        const char *label = req->path + strlen(PREFIX);
        if (ka_tmplstore_label_valid(label))
                return label;
        reply_error(res, 404, "no template is registered for that label");
        return NULL;
}

/* ---- routes ---- */

static void on_post(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        struct ka_http_templates *t = ud;
        if (!ka_http_authorized(req, t->token, res))
                return;
        struct ka_tmplstore_reg r = {0};
        struct ka_diags diags = {0};
        char *label = NULL, *location = NULL;
        if (t->parse(t->parse_ud, req->body, req->body_len, &r, &diags) < 0) {
                cJSON *e = cJSON_CreateObject();
                ka_json_set_str(e, "error", "the registration is not valid");
                ka_json_set(e, "problems", problems_json(&diags, KA_DIAG_ERROR));
                ka_http_reply_json(res, 400, e);
                cJSON_Delete(e);
                goto out;
        }
        label = ka_strdup(r.label);
        bool replaced = false;
        struct ka_error err = {0};
        int rc = ka_tmplstore_add(t->store, &r, &replaced, &err);
        if (rc < 0) {
                reply_error(res, rc == -EACCES ? 403 : rc == -EEXIST ? 409 : rc == -ENOSPC ? 507 : 400, err.msg);
                goto out;
        }
        /* what was registered, as GET shows it (without the template) */
        cJSON *o = ka_tmplstore_json(t->store, label);
        if (!o)
                o = cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(o, "template");
        ka_json_set(o, "warnings", problems_json(&diags, KA_DIAG_WARNING));
        ka_http_reply_json(res, replaced ? 200 : 201, o);
        cJSON_Delete(o);
        location = ka_asprintf(PREFIX "%s", label);
        ka_http_set_header(res, "Location", location);
out:
        free(label);
        free(location);
        ka_tmplstore_reg_clear(&r);
        ka_diags_free(&diags);
}

static void on_list(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        struct ka_http_templates *t = ud;
        if (!ka_http_authorized(req, t->token, res))
                return;
        cJSON *a = ka_tmplstore_json(t->store, NULL);
        ka_http_reply_json(res, 200, a);
        cJSON_Delete(a);
}

static void on_get(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        struct ka_http_templates *t = ud;
        const char *label;
        if (!ka_http_authorized(req, t->token, res) || !(label = path_label(req, res)))
                return;
        cJSON *o = ka_tmplstore_json(t->store, label);
        if (o)
                ka_http_reply_json(res, 200, o);
        else
                reply_error(res, 404, "no template is registered for that label");
        cJSON_Delete(o);
}

static void on_delete(void *ud, const struct ka_http_request *req, struct ka_http_response *res) {
        struct ka_http_templates *t = ud;
        const char *label;
        if (!ka_http_authorized(req, t->token, res) || !(label = path_label(req, res)))
                return;
        if (ka_tmplstore_remove(t->store, label) < 0)
                reply_error(res, 404, "no template is registered for that label");
        else
                ka_http_reply(res, 204, NULL, "%s", "");
}

int ka_http_templates_routes(struct ka_http *s, struct ka_http_templates *t) {
        int r;
        if ((r = ka_http_route(s, "POST", "/v1/templates", on_post, t)) < 0 ||
            (r = ka_http_route(s, "GET", "/v1/templates", on_list, t)) < 0 ||
            (r = ka_http_route(s, "GET", PREFIX "*", on_get, t)) < 0 ||
            (r = ka_http_route(s, "DELETE", PREFIX "*", on_delete, t)) < 0)
                return r;
        return 0;
}
