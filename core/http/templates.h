/* core/http/templates.h — the run-time template registration API on
 * kubeagentd's HTTP endpoint (`kubeagent.templates`; README, "Register pod
 * templates at run time"):
 *
 *   POST   /v1/templates         register (201, Location) or replace (200)
 *   GET    /v1/templates         the registrations
 *   GET    /v1/templates/LABEL   one, with its template
 *   DELETE /v1/templates/LABEL   remove it (204)
 *
 * Every route needs "Authorization: Bearer <token>" with the token of
 * tokenFile (401 with WWW-Authenticate otherwise); without tokenFile the
 * API is open, which is only allowed on a loopback address.  Error bodies
 * are JSON: {"error": "...", "problems": [{"where": "request:3:14",
 * "severity": "error", "message": "..."}]} — "request" is the body,
 * "podTemplate" the text of a podTemplate call.  Statuses: 400 an invalid
 * request or template, 403 a folder or job the cloud may not serve, 404 an
 * unknown label, 409 a label a configured template serves, 507 the store is
 * full.
 *
 * This module does HTTP: authentication, statuses and bodies.  Reading a
 * request into a validated template is the parser it is given (the
 * daemon's, core/daemon/register.h); keeping registrations is the store's
 * (core/provision/tmplstore.h). */
#ifndef KA_HTTP_TEMPLATES_H
#define KA_HTTP_TEMPLATES_H

#include <stdbool.h>

#include "http.h"
#include "provision/tmplstore.h"

/* kubeagent.templates (present: the API is served) */
struct ka_http_templates_config {
        char *token_file;
        int64_t expire_after; /* ms; 0: never */
        int64_t max_templates;
};
extern const struct kubeagent_config_key ka_http_templates_config_keys[];

/* A request body to a registration: 0, or a negative code with each
 * problem, located, in diags (which may also hold warnings either way). */
typedef int (*ka_http_template_parser)(void *ud, const char *body, size_t len, struct ka_tmplstore_reg *ret,
                                       struct ka_diags *diags);

struct ka_http_templates {
        struct ka_tmplstore *store;
        ka_http_template_parser parse;
        void *parse_ud;
        char *token; /* from tokenFile (a registered secret), or NULL: open */
};

/* Check c against the endpoint's address (kubeagent.http.listen) and read
 * tokenFile into t->token: the API needs an endpoint, and one listening
 * beyond loopback needs a token.  On error, *ret_key names the key of
 * kubeagent.templates to blame (NULL: the block). */
int ka_http_templates_init(struct ka_http_templates *t, const struct ka_http_templates_config *c, const char *listen,
                           const char **ret_key, struct ka_error *err);
void ka_http_templates_clear(struct ka_http_templates *t);
/* Register the routes; t must outlive the server. */
int ka_http_templates_routes(struct ka_http *s, struct ka_http_templates *t);

#endif
