/* core/template/template.h — pod templates at work: label expressions and
 * matching, inheritance, YAML merge strategies, names, and rendering a
 * template into the exact Pod the Jenkins kubernetes-plugin would create.
 *
 * Everything here works on the model of core/config/config.h and never
 * talks to Kubernetes, Jenkins or the bus: the daemon passes what it knows
 * (agent name, secret, Jenkins URL) as parameters.
 *
 * Ownership: functions returning a struct ka_template (unwrap, combine)
 * return a new object that BORROWS the strings, items, fragments and volumes
 * of the templates it was made from (it owns only its own arrays and the
 * containers it combined): free it with ka_template_free() before those.
 * Pods and other cJSON trees returned are the caller's. */
#ifndef KA_TEMPLATE_TEMPLATE_H
#define KA_TEMPLATE_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "util/error.h"
#include "yaml/locmap.h"

/* ---- labels (label.c) ----------------------------------------------------- */

/* A Jenkins label expression: atoms (plain or "quoted"), !, &&, ||, ->
 * (implies, not chainable), <-> (iff), parentheses; precedence from !
 * (tightest) to <->.  Errors name the column (1-based) in err->col. */
struct ka_labelexpr;
int ka_labelexpr_parse(const char *text, struct ka_labelexpr **ret, struct ka_error *err);
void ka_labelexpr_free(struct ka_labelexpr *e);
KA_DEFINE_CLEANUP(struct ka_labelexpr, ka_labelexpr_free)
/* Whether the expression holds when exactly `atoms` (NULL-terminated) are true. */
bool ka_labelexpr_eval(const struct ka_labelexpr *e, char *const *atoms);
/* Jenkins' canonical spelling: no spaces, parentheses only where needed,
 * atoms quoted only when they must be ("a&&(b||c)"). */
char *ka_labelexpr_format(const struct ka_labelexpr *e);

/* The atoms of a label string: whitespace-separated, "double" or 'single'
 * quotes group (with \ escapes inside quotes).  Never NULL. */
char **ka_label_atoms(const char *label);

/* sanitizeLabel (§2.4): the last 57 characters, [^_a-zA-Z0-9-] → '_', a
 * non-alphanumeric first or last character → 'x'. */
char *ka_label_sanitize(const char *s);
/* A Kubernetes label value: [a-zA-Z0-9]([_.-a-zA-Z0-9]*[a-zA-Z0-9])?, ≤ 63, or "". */
bool ka_label_value_valid(const char *s);
/* jenkins/label-digest: lowercase hex SHA-1 of the label, "0" for none. */
char *ka_label_digest(const char *label);

/* ---- matching (match.c) ------------------------------------------------------ */

/* Whether a template serves a label expression (§5.1): an empty or NULL
 * expression matches NORMAL templates, anything else is evaluated on the
 * template's label atoms. */
bool ka_template_matches(const struct ka_template *t, const struct ka_labelexpr *e);

/* The first template serving `expression`: the templates of `cloud` (NULL:
 * of every cloud, in order), `extra` counting as templates of that cloud
 * (or of the first) after its own.  -EINVAL for a bad expression, -ENOENT
 * when none matches, with a message listing the templates and their labels. */
int ka_template_match(const struct ka_config *cfg, const struct ka_cloud *cloud, const char *expression,
                      const struct ka_template *const *extra, size_t n_extra, const struct ka_cloud **ret_cloud,
                      const struct ka_template **ret, struct ka_error *err);

/* ---- names (names.c) -------------------------------------------------------- */

#define KA_POD_SUFFIX_LEN 5
/* The agent (= pod) name for a template (§2.5): the template name (or
 * "jenkins-agent") lower-cased, spaces and '_' → '-', cut to 57, then '-'
 * and `suffix` (5 random characters when NULL); "jenkins-agent-<suffix>"
 * when that is not a DNS subdomain. */
char *ka_agent_name(const char *template_name, const char *suffix);
/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
bool ka_dns_subdomain_valid(const char *s);

/* ---- inheritance (inherit.c) ---------------------------------------------- */

/* PodTemplateUtils.combine(parent, child) (§3.2, §3.3); parent may be NULL. */
struct ka_template *ka_template_combine(const struct ka_template *parent, const struct ka_template *child);

/* A template with its parents applied (§3.1): the cloud's
 * defaultsProviderTemplate, then each name of inheritFrom in order, found
 * among the cloud's templates and then `extra` (e.g. a pipeline's own
 * templates).  A missing parent is a warning in diags; a cycle is an error
 * naming it. */
int ka_template_unwrap(const struct ka_cloud *cloud, const struct ka_template *t,
                       const struct ka_template *const *extra, size_t n_extra, struct ka_template **ret,
                       struct ka_diags *diags);

/* ---- pod merging (podmerge.c) ---------------------------------------------- */

/* The plugin's Pod combine (§3.4, §3.5): what `merge` and the YAML⊕fields
 * step use.  parent may be NULL. */
cJSON *ka_pod_combine(const cJSON *parent, const cJSON *child, struct ka_locmap *prov);
/* Strategic merge: lists of containers, volumes, env, ... merged by their
 * Kubernetes merge keys, tolerations as a set, everything else deep-merged;
 * `$patch: delete` and `$patch: replace` as in kubectl. */
cJSON *ka_pod_strategic(const cJSON *parent, const cJSON *child, struct ka_locmap *prov);
cJSON *ka_pod_merge(enum ka_yaml_merge strategy, const cJSON *parent, const cJSON *child, struct ka_locmap *prov);
/* A template's YAML pod (§2.8): the last fragment (override), or all of
 * them merged in order (merge, strategic); NULL when it has none.  With
 * prov, every node's origin is recorded (see render.c). */
cJSON *ka_template_yaml_pod(const struct ka_template *t, struct ka_locmap *prov);

/* ---- rendering (render.c) ------------------------------------------------------ */

/* The plugin's default agent image (§2.2); a cloud's jnlpregistry prefixes it. */
#define KA_DEFAULT_AGENT_IMAGE "jenkins/inbound-agent:3355.v388858a_47b_33-3-jdk21"

struct ka_render_params {
        const char *agent_name; /* the pod (= agent) name; NULL: the template's name + 5 random characters */
        const char *secret;     /* JENKINS_SECRET and ${computer.jnlpmac}: required */
        /* The Jenkins URL the agents use, first set wins: jenkins_url (an
         * override, e.g. `render --jenkins-url`), the cloud's jenkinsUrl,
         * $KUBERNETES_JENKINS_URL (not for a WebSocket cloud with
         * credentials), jenkins_root_url (the controller's own root URL, as a
         * frontend knows it).  A trailing '/' is added. */
        const char *jenkins_url;
        const char *jenkins_root_url;
        /* directConnection clouds: Jenkins' advertised inbound TCP HOST:PORT
         * and its instance identity (base64 public key). */
        const char *direct_endpoint;
        const char *instance_identity;
        /* Templates inheritFrom may also name (a pipeline's, registered ones). */
        const struct ka_template *const *extra;
        size_t n_extra;
        bool explain; /* fill ka_rendered.prov */
};

struct ka_rendered {
        cJSON *pod;             /* apiVersion v1, kind Pod, keys sorted as kubectl prints them */
        cJSON *extra_objects;   /* array: objects to create after the pod (dynamic PVCs), labelled
                                 * like it; the worker sets their namespace and owner */
        struct ka_locmap *prov; /* with explain: where each node came from (ka_prov_get) */
};

/* Render a template of `cloud` (its parents applied first).  Problems go to
 * diags: warnings (a missing parent) and errors (a cycle, no Jenkins URL,
 * an invalid agent name, a volume plugin failing). */
int ka_template_render(const struct ka_cloud *cloud, const struct ka_template *t, const struct ka_render_params *params,
                       struct ka_rendered *ret, struct ka_diags *diags);
void ka_rendered_free(struct ka_rendered *r);

/* For --explain: the origin text of a node of a rendered pod, or NULL. */
const char *ka_prov_get(const struct ka_locmap *prov, const cJSON *node);

#endif
