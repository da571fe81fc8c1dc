/* A registration request read into a validated template. */
#include "register.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "yaml/yaml.h"

#define ORIGIN_REQUEST "request"
#define ORIGIN_POD_TEMPLATE "podTemplate"

static const char *const request_keys[] = {"label", "folders", "jobs", "cloud", "template", "podTemplate", NULL};

KA_PRINTF(5, 6)
static void problem(struct ka_diags *d, const struct ka_locmap *locs, const cJSON *node, bool at_key, const char *fmt,
                    ...) {
        struct ka_loc l = {0};
        if (at_key)
                ka_locmap_get_key(locs, node, &l);
        else
                ka_locmap_get(locs, node, &l);
        va_list ap;
        va_start(ap, fmt);
        ka_diags_vadd(d, KA_DIAG_ERROR, l.file ? l.file : ORIGIN_REQUEST, l.line, l.col, fmt, ap);
        va_end(ap);
}

/* "folders" or "jobs": a list of full names (absent: NULL). */
static char **names(const cJSON *root, const char *key, const struct ka_locmap *locs, struct ka_diags *d) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!v || cJSON_IsNull(v))
                return NULL;
        if (!cJSON_IsArray(v)) {
                problem(d, locs, v, false, "%s must be a list of full names (\"team-a/app\")", key);
                return NULL;
        }
        char **ret = ka_new0(char *, 1);
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
                if (!cJSON_IsString(e) || !ka_tmplstore_name_valid(e->valuestring))
                        problem(d, locs, e, false, "%s: not a %s's full name (\"a/b/c\", at most %d bytes)", key,
                                strcmp(key, "jobs") ? "folder" : "job", KA_TMPLSTORE_NAME_MAX);
                else
                        ret = ka_strv_push(ret, e->valuestring);
        }
        return ret;
}

/* The template's name and label become the registration's label, placed
 * where the request gave it. */
static void set_label(cJSON *tmpl, const char *label, const cJSON *label_node, struct ka_locmap *locs) {
        struct ka_loc at = {0}, key = {0};
        ka_locmap_get(locs, label_node, &at);
        ka_locmap_get_key(locs, label_node, &key);
        static const char *const keys[] = {"name", "label"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(keys); i++) {
                cJSON_DeleteItemFromObjectCaseSensitive(tmpl, keys[i]);
                cJSON *v = cJSON_CreateString(label);
                cJSON_AddItemToObject(tmpl, keys[i], v);
                ka_locmap_set(locs, v, at, key);
        }
}

/* One render for its cloud, with placeholders: what would fail for an
 * agent fails now. */
static int try_render(const struct ka_cloud *cloud, const struct ka_template *t, struct ka_diags *diags) {
        struct ka_render_params params = {.agent_name = "kubeagent-check-00000",
                                          .secret = "placeholder",
                                          .jenkins_root_url = "http://kubeagent.invalid/"};
        struct ka_rendered r = {0};
        int rc = ka_template_render(cloud, t, &params, &r, diags);
        ka_rendered_free(&r);
        return rc;
}

int ka_register_parse(void *ud, const char *body, size_t len, struct ka_tmplstore_reg *ret, struct ka_diags *diags) {
        const struct ka_register_ctx *ctx = ud;
        struct ka_locmap *locs = ka_locmap_new();
        cJSON *root = NULL, *tree = NULL;
        struct ka_template *tmpl = NULL;
        char **folders = NULL, **jobs = NULL;
        size_t errors = diags->errors;
        const struct ka_yaml_origin origin = {.file = ORIGIN_REQUEST};
        struct ka_error err = {0};
        if (ka_yaml_parse(body, len, &origin, locs, &root, &err) < 0) {
                ka_diags_add_error(diags, &err);
                goto fail;
        }
        if (!cJSON_IsObject(root)) {
                ka_diags_add(diags, KA_DIAG_ERROR, ORIGIN_REQUEST, 1, 1,
                             "the body must be a JSON object: {\"label\": ..., \"folders\": [...], \"template\": {...} "
                             "or \"podTemplate\": \"podTemplate(...)\"}");
                goto fail;
        }
        const cJSON *k;
        cJSON_ArrayForEach(k, root) {
                bool known = false;
                for (size_t i = 0; request_keys[i] && !known; i++)
                        known = strcmp(k->string, request_keys[i]) == 0;
                if (!known)
                        problem(diags, locs, k, true,
                                "unknown key \"%s\" (known: label, folders, jobs, cloud, template, podTemplate)",
                                k->string);
        }
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(root, "label");
        if (!cJSON_IsString(label))
                problem(diags, locs, label ? label : root, false, "label: a string is required");
        else if (!ka_tmplstore_label_valid(label->valuestring))
                problem(diags, locs, label, false,
                        "label \"%s\": 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit",
                        label->valuestring, KA_TMPLSTORE_LABEL_MAX);
        folders = names(root, "folders", locs, diags);
        jobs = names(root, "jobs", locs, diags);
        if (!ka_strv_len(folders) && !ka_strv_len(jobs) && diags->errors == errors)
                problem(diags, locs, root, false,
                        "name the folders or jobs that may use the template: \"folders\": [\"team-a\"] or "
                        "\"jobs\": [\"team-a/app/main\"]");
        const cJSON *cloud_node = cJSON_GetObjectItemCaseSensitive(root, "cloud");
        const struct ka_cloud *cloud = NULL;
        if (cloud_node && !cJSON_IsString(cloud_node)) {
                problem(diags, locs, cloud_node, false, "cloud: a cloud's name is a string");
        } else if (!(cloud = ka_config_cloud(ctx->cfg, cloud_node ? cloud_node->valuestring : NULL))) {
                struct ka_buf known = KA_BUF_INIT(0);
                for (size_t i = 0; i < ctx->cfg->n_clouds; i++)
                        ka_buf_printf(&known, "%s%s", i ? ", " : "", ctx->cfg->clouds[i]->name);
                if (cloud_node)
                        problem(diags, locs, cloud_node, false, "no cloud is named %s (clouds: %s)",
                                cloud_node->valuestring, known.len ? known.data : "none");
                else
                        problem(diags, locs, root, false, "the configuration has no cloud to run the template in");
                ka_buf_free(&known);
        }
        cJSON *given = cJSON_GetObjectItemCaseSensitive(root, "template");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "podTemplate");
        if (!given == !text) {
                problem(diags, locs,
                        given  ? given
                        : text ? text
                               : root,
                        given != NULL,
                        "give exactly one of \"template\" (a template as in the config) and \"podTemplate\" (the "
                        "text of a podTemplate(...) call)");
                goto fail;
        }
        if (given && !cJSON_IsObject(given)) {
                problem(diags, locs, given, false, "template: a template is a mapping, as an item of templates:");
                goto fail;
        }
        if (text && !cJSON_IsString(text)) {
                problem(diags, locs, text, false, "podTemplate: the text of a podTemplate(...) call, as a string");
                goto fail;
        }
        if (diags->errors > errors)
                goto fail;
        if (text) {
                struct ka_pipeline_options po = {.plugins = ctx->reg}; /* no base_dir: yamlFile is refused */
                if (ka_pipeline_template_from_call(text->valuestring, strlen(text->valuestring), ORIGIN_POD_TEMPLATE,
                                                   &po, locs, &tree, diags) < 0)
                        goto fail;
                set_label(tree, label->valuestring, label, locs);
        } else {
                set_label(given, label->valuestring, label, locs);
                tree = cJSON_DetachItemViaPointer(root, given);
        }
        if (ka_template_load(tree, locs, ctx->reg, &tmpl, diags) < 0 || try_render(cloud, tmpl, diags) < 0)
                goto fail;
        *ret = (struct ka_tmplstore_reg){.label = ka_strdup(label->valuestring),
                                         .folders = folders,
                                         .jobs = jobs,
                                         .cloud = cloud,
                                         .tmpl = tmpl,
                                         .tree = tree,
                                         .locs = locs,
                                         .source = ka_strdup(text ? "podTemplate" : "template")};
        ka_locmap_forget_tree(locs, root); /* tree, which stays, is none of its nodes now */
        cJSON_Delete(root);
        return 0;
fail:
        if (diags->errors == errors)
                ka_diags_add(diags, KA_DIAG_ERROR, ORIGIN_REQUEST, 0, 0, "the template is not valid");
        ka_template_free(tmpl);
        cJSON_Delete(tree);
        cJSON_Delete(root);
        ka_locmap_free(locs);
        ka_strv_free(folders);
        ka_strv_free(jobs);
        return -EINVAL;
}
