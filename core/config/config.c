/* The whole config file: kubeagent's own blocks beside the JCasC document. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "load.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

/* Sub-blocks of `kubeagent:`.  pluginPath is read by the document (the
 * plugins must be loaded before the config); the others belong to the
 * daemon's parts, which read them with ka_config_section() and their own key
 * tables.  Add a part's block here. */
static const char *const daemon_sections[] = {"pluginPath", "http", "bus", "roles", "provision", "templates", NULL};

/* Top-level JCasC roots other than `jenkins:`: Jenkins-only. */
static const char *const jcasc_roots[] = {"unclassified", "tool", "security", "appearance", "jobs", NULL};

static bool in(const char *const *list, const char *s) {
        for (; *list; list++)
                if (strcmp(*list, s) == 0)
                        return true;
        return false;
}

static void list_text(struct ka_buf *b, const char *const *list) {
        for (size_t i = 0; list[i]; i++)
                ka_buf_printf(b, "%s%s", i ? ", " : "", list[i]);
}

static void credential_free(struct ka_credential *c) {
        if (!c)
                return;
        if (c->plugin)
                ka_plugin_conf_free(c->plugin, 0, c->conf);
        free(c->id);
        free(c);
}

static void frontend_free(struct ka_frontend *f) {
        if (!f)
                return;
        if (f->plugin)
                ka_plugin_conf_free(f->plugin, 0, f->conf);
        free(f->name);
        free(f);
}

void ka_config_free(struct ka_config *cfg) {
        if (!cfg)
                return;
        for (size_t i = 0; i < cfg->n_credentials; i++)
                credential_free(cfg->credentials[i]);
        free(cfg->credentials);
        for (size_t i = 0; i < cfg->n_frontends; i++)
                frontend_free(cfg->frontends[i]);
        free(cfg->frontends);
        for (size_t i = 0; i < cfg->n_clouds; i++)
                ka_cloud_free(cfg->clouds[i]);
        free(cfg->clouds);
        free(cfg);
}

const struct ka_cloud *ka_config_cloud(const struct ka_config *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_clouds; i++)
                if (!name || ka_streq(cfg->clouds[i]->name, name))
                        return cfg->clouds[i];
        return NULL;
}

const struct ka_credential *ka_config_credential(const struct ka_config *cfg, const char *id) {
        for (size_t i = 0; i < cfg->n_credentials; i++)
                if (ka_streq(cfg->credentials[i]->id, id))
                        return cfg->credentials[i];
        return NULL;
}

const struct ka_frontend *ka_config_frontend(const struct ka_config *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_frontends; i++)
                if (ka_streq(cfg->frontends[i]->name, name))
                        return cfg->frontends[i];
        return NULL;
}

struct kubeagent_config_source ka_config_section(const struct ka_config *cfg, const char *key) {
        const cJSON *n = cJSON_IsObject(cfg->kubeagent) ? cJSON_GetObjectItemCaseSensitive(cfg->kubeagent, key) : NULL;
        struct ka_loc where = {0};
        if (cfg->kubeagent)
                ka_locmap_get(cfg->doc->locs, cfg->kubeagent, &where);
        if (n)
                ka_locmap_get_key(cfg->doc->locs, n, &where);
        return ka_cfgsrc(cJSON_IsNull(n) ? NULL : n, cfg->doc->locs, where);
}

static const cJSON *mapping(const struct ka_loader *ld, const cJSON *root, const char *key) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!n || cJSON_IsNull(n))
                return NULL;
        if (!cJSON_IsObject(n)) {
                ka_load_error(ld, n, "\"%s\": expected a mapping", key);
                return NULL;
        }
        return n;
}

static void load_kubeagent(const struct ka_loader *ld, const cJSON *block) {
        for (const cJSON *k = block ? block->child : NULL; k; k = k->next)
                if (!in(daemon_sections, k->string)) {
                        struct ka_buf b = KA_BUF_INIT(0);
                        list_text(&b, daemon_sections);
                        ka_load_key_error(ld, k, "unknown key \"%s\" under kubeagent (known: %s)", k->string, b.data);
                        ka_buf_free(&b);
                }
}

static void plugin_names(const struct ka_registry *reg, enum kubeagent_plugin_kind kind, struct ka_buf *b) {
        for (size_t i = 0; i < reg->n; i++)
                if (reg->v[i]->desc->kind == kind)
                        ka_buf_printf(b, "%s%s", b->len ? ", " : "", reg->v[i]->desc->name);
        if (!b->len)
                ka_buf_printf(b, "none: no %s plugin is loaded", ka_plugin_kind_name(kind));
}

static void load_credentials(const struct ka_loader *ld, struct ka_config *cfg, const cJSON *block) {
        for (const cJSON *e = block ? block->child : NULL; e; e = e->next) {
                /* a pasted JCasC `credentials: system: domainCredentials:` */
                if (strcmp(e->string, "system") == 0 && cJSON_GetObjectItemCaseSensitive(e, "domainCredentials")) {
                        ka_load_key_warn(ld, e,
                                         "Jenkins credentials (credentials.system) only have a meaning inside "
                                         "Jenkins; ignored");
                        continue;
                }
                const char *type = ka_json_str(e, "type");
                if (!cJSON_IsObject(e) || !type) {
                        ka_load_key_error(ld, e,
                                          "credentials \"%s\": expected a mapping with a type (a credential "
                                          "plugin) and its keys",
                                          e->string);
                        continue;
                }
                const struct kubeagent_plugin_handle *p = ka_registry_find(ld->reg, KUBEAGENT_KIND_CREDENTIAL, type);
                if (!p) {
                        struct ka_buf b = KA_BUF_INIT(0);
                        plugin_names(ld->reg, KUBEAGENT_KIND_CREDENTIAL, &b);
                        ka_load_error(ld, cJSON_GetObjectItemCaseSensitive(e, "type"),
                                      "unknown credentials type \"%s\" (known: %s)", type, b.data);
                        ka_buf_free(&b);
                        continue;
                }
                struct kubeagent_config_source src = ka_load_source(ld, e);
                void *conf;
                if (ka_plugin_conf_new(p, 0, &src, (const char *const[]){"type", NULL}, &conf, ld->diags) < 0)
                        continue;
                struct ka_credential *c = ka_new0(struct ka_credential, 1);
                c->id = ka_strdup(e->string);
                c->plugin = p;
                c->conf = conf;
                c->loc = ka_load_key_where(ld, e);
                KA_PUSH(cfg->credentials, cfg->n_credentials, c);
        }
}

static void load_frontends(const struct ka_loader *ld, struct ka_config *cfg, const cJSON *block) {
        for (const cJSON *e = block ? block->child : NULL; e; e = e->next) {
                const struct kubeagent_plugin_handle *p = ka_registry_find(ld->reg, KUBEAGENT_KIND_FRONTEND, e->string);
                if (!p) {
                        struct ka_buf b = KA_BUF_INIT(0);
                        plugin_names(ld->reg, KUBEAGENT_KIND_FRONTEND, &b);
                        ka_load_key_error(ld, e, "unknown frontend \"%s\" (known: %s)", e->string, b.data);
                        ka_buf_free(&b);
                        continue;
                }
                struct kubeagent_config_source src = ka_load_source(ld, cJSON_IsNull(e) ? NULL : e);
                if (cJSON_IsNull(e))
                        src.where = ka_load_key_where(ld, e);
                void *conf;
                if (ka_plugin_conf_new(p, 0, &src, NULL, &conf, ld->diags) < 0)
                        continue;
                struct ka_frontend *f = ka_new0(struct ka_frontend, 1);
                f->name = ka_strdup(e->string);
                f->plugin = p;
                f->conf = conf;
                f->loc = ka_load_key_where(ld, e);
                KA_PUSH(cfg->frontends, cfg->n_frontends, f);
        }
}

/* A second `kubernetes:` item with the name of an earlier one continues it
 * (so that templates can live in their own files of a config folder): it
 * may only repeat the earlier item's settings and add templates. */
static bool continue_cloud(const struct ka_loader *ld, struct ka_cloud *c, const cJSON *first, const cJSON *body) {
        bool ok = true;
        for (const cJSON *k = body->child; k; k = k->next) {
                if (strcmp(k->string, "name") == 0 || strcmp(k->string, "templates") == 0)
                        continue;
                const cJSON *had = cJSON_GetObjectItemCaseSensitive(first, k->string);
                if (!had || !cJSON_Compare(had, k, true)) {
                        struct ka_loc l = ka_load_where(ld, first);
                        ka_load_key_error(ld, k,
                                          "cloud \"%s\" is also defined at %s:%u:%u, with another \"%s\" (a "
                                          "cloud repeated in another file may only add templates)",
                                          c->name, l.file ? l.file : "?", l.line, l.col, k->string);
                        ok = false;
                }
        }
        if (ok)
                ka_cloud_add_templates(ld, c, ka_load_list(ld, body, "templates"));
        return ok;
}

static void load_clouds(const struct ka_loader *ld, struct ka_config *cfg, const cJSON *jenkins) {
        for (const cJSON *k = jenkins ? jenkins->child : NULL; k; k = k->next)
                if (strcmp(k->string, "clouds") != 0)
                        ka_load_key_warn(ld, k, "\"jenkins.%s\" only has a meaning inside Jenkins; ignored", k->string);
        const cJSON *clouds = jenkins ? ka_load_list(ld, jenkins, "clouds") : NULL;
        const cJSON **bodies = NULL; /* the node each cloud was loaded from */
        size_t n_bodies = 0;
        for (const cJSON *item = clouds ? clouds->child : NULL; item; item = item->next) {
                const char *type;
                const cJSON *body;
                if (ka_load_describable(ld, item, "clouds item", false, &type, &body) < 0)
                        continue;
                if (strcmp(type, "kubernetes") != 0) {
                        ka_load_key_warn(ld, body, "\"%s\" clouds are not served by kubeagent; ignored", type);
                        continue;
                }
                if (!cJSON_IsObject(body)) {
                        ka_load_error(ld, body, "kubernetes: expected a mapping of cloud keys");
                        continue;
                }
                const char *name = ka_json_str(body, "name");
                size_t i = 0;
                while (name && i < cfg->n_clouds && !ka_streq(cfg->clouds[i]->name, name))
                        i++;
                if (name && i < cfg->n_clouds) {
                        continue_cloud(ld, cfg->clouds[i], bodies[i], body);
                        continue;
                }
                struct ka_cloud *c;
                if (ka_cloud_load(ld, cfg, body, &c) < 0)
                        continue;
                KA_PUSH(cfg->clouds, cfg->n_clouds, c);
                KA_PUSH(bodies, n_bodies, body);
        }
        for (size_t i = 0; i < cfg->n_clouds; i++)
                ka_cloud_finish(ld, cfg->clouds[i], bodies[i]);
        free(bodies);
}

static int cmp_place(const struct ka_diag *x, const struct ka_diag *y) {
        int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
        if (c)
                return c;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->col < y->col ? -1 : x->col > y->col;
}

/* A Jenkins-only key warns once: in fifty templates it is one warning
 * ("... (and 49 more times)"), not fifty. */
static bool jenkins_only(const struct ka_diag *x) {
        return x->severity == KA_DIAG_WARNING && strstr(x->msg, "only has a meaning inside Jenkins");
}

/* The diagnostics from `start` in file order, Jenkins-only warnings folded. */
static void sort_and_fold(struct ka_diags *d, size_t start) {
        for (size_t i = start + 1; i < d->n; i++) { /* insertion sort: stable, and lists are short */
                struct ka_diag x = d->v[i];
                size_t j = i;
                for (; j > start && cmp_place(&d->v[j - 1], &x) > 0; j--)
                        d->v[j] = d->v[j - 1];
                d->v[j] = x;
        }
        size_t out = start;
        size_t *more = ka_new0(size_t, d->n - start + 1);
        for (size_t i = start; i < d->n; i++) {
                struct ka_diag *x = &d->v[i];
                size_t first = start;
                while (first < out && !(jenkins_only(x) && strcmp(d->v[first].msg, x->msg) == 0))
                        first++;
                if (first < out) {
                        more[first - start]++;
                        free(x->file);
                        free(x->msg);
                        d->warnings--;
                        continue;
                }
                d->v[out++] = *x;
        }
        d->n = out;
        for (size_t i = start; i < out; i++)
                if (more[i - start]) {
                        char *msg = ka_asprintf("%s (and %zu more time%s)", d->v[i].msg, more[i - start],
                                                more[i - start] == 1 ? "" : "s");
                        free(d->v[i].msg);
                        d->v[i].msg = msg;
                }
        free(more);
}

int ka_config_load(const struct ka_document *doc, const struct ka_registry *reg, struct ka_config **ret,
                   struct ka_diags *diags) {
        const struct ka_loader l = {.locs = doc->locs, .reg = reg, .diags = diags}, *ld = &l;
        size_t start = diags->n, errors = diags->errors;
        _cleanup_(ka_config_freep) struct ka_config *cfg = ka_new0(struct ka_config, 1);
        cfg->doc = doc;
        cfg->plugins = reg;
        for (const cJSON *k = doc->root ? doc->root->child : NULL; k; k = k->next) {
                if (in(jcasc_roots, k->string))
                        ka_load_key_warn(ld, k, "\"%s\" only has a meaning inside Jenkins; ignored", k->string);
                else if (!in((const char *const[]){"kubeagent", "credentials", "frontends", "jenkins", NULL},
                             k->string))
                        ka_load_key_error(ld, k,
                                          "unknown key \"%s\" (known: kubeagent, credentials, frontends, jenkins)",
                                          k->string);
        }
        cfg->kubeagent = mapping(ld, doc->root, "kubeagent");
        load_kubeagent(ld, cfg->kubeagent);
        load_credentials(ld, cfg, mapping(ld, doc->root, "credentials"));
        load_frontends(ld, cfg, mapping(ld, doc->root, "frontends"));
        load_clouds(ld, cfg, mapping(ld, doc->root, "jenkins"));
        sort_and_fold(diags, start);
        if (diags->errors > errors)
                return -EINVAL;
        *ret = KA_TAKE(cfg);
        return 0;
}
