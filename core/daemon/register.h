/* core/daemon/register.h — a registration request (POST /v1/templates,
 * core/http/templates.h) read into a validated template.
 *
 * The body is a JSON object (read as YAML, so that every problem is placed
 * as request:line:col):
 *
 *   {"label": "build-42",                  required: the label it serves
 *    "folders": ["team-a", "team-b/app"],  jobs under these folders may use it
 *    "jobs": ["team-c/tool/main"],         and these jobs (one of the two lists is needed)
 *    "cloud": "kubernetes",                optional: the cloud it runs in (default: the first)
 *    "template": {...}                     a template as in the config (templates: item),
 *    "podTemplate": "podTemplate(...)"}    or the text of a podTemplate call (exactly one)
 *
 * The template's own name and label, if it has any, become the
 * registration's label.  It is validated completely — loaded as a config
 * template is (volume and retention symbols among the loaded plugins) and
 * rendered once for its cloud — before the store sees it; a podTemplate's
 * problems are placed as podTemplate:line:col in its text, and yamlFile is
 * refused (there is no Jenkinsfile to read it beside). */
#ifndef KA_DAEMON_REGISTER_H
#define KA_DAEMON_REGISTER_H

#include "config/config.h"
#include "provision/tmplstore.h"

struct ka_register_ctx {
        const struct ka_config *cfg;
        const struct ka_registry *reg;
};

/* A ka_http_template_parser; ud is a struct ka_register_ctx. */
int ka_register_parse(void *ud, const char *body, size_t len, struct ka_tmplstore_reg *ret, struct ka_diags *diags);

#endif
