/* From the syntax tree to pod templates: the podTemplate step and the
 * declarative kubernetes agent, as the kubernetes plugin runs them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval.h"
#include "pipeline.h"
#include "template/template.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml/yaml.h"

#define ARENA_MAX (64u << 20)
#define MAX_TREE_NODES 200000u
#define MAX_DIAGS 500u

static const char RFC1123_ERROR[] =
        "Container Names MUST match RFC 1123 - They can only contain lowercase letters, numbers or dashes: %s";
static const char LABEL_ERROR[] = "Labels must follow required specs - "
                                  "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
                                  "#syntax-and-character-set: %s";

struct reader {
        const char *text;
        const char *file; /* interned in locs */
        const struct ka_pipeline_options *opts;
        const char *base_dir;
        struct ka_arena *arena;
        struct ka_eval ev;
        struct ka_diags *diags;
        size_t first_diag; /* the first diagnostic this reading added */
        struct ka_locmap *locs;
        struct ka_pipeline_block *blocks;
        size_t n_blocks;
        size_t tree_nodes;
        bool too_big;  /* a value would make too large a tree */
        bool one_call; /* reading a single call: no body needed */
};

/* What a podTemplate body runs in: the enclosing template. */
struct podctx {
        const char *ns;     /* its namespace, or NULL */
        const char *parent; /* its template's name, or NULL */
};

/* A named argument (or declarative option) with its value. */
struct arg {
        const char *key;
        unsigned line, col;
        struct ka_val *v;
};

/* ---- diagnostics ---- */

/* Add a diagnostic once, up to MAX_DIAGS of them; errors past that are
 * still counted. */
static void diag_in(struct reader *r, enum ka_diag_severity sev, const char *file, unsigned line, unsigned col,
                    const char *fmt, ...) KA_PRINTF(6, 7);
static void diag_in(struct reader *r, enum ka_diag_severity sev, const char *file, unsigned line, unsigned col,
                    const char *fmt, ...) {
        char msg[KA_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        for (size_t i = r->first_diag; i < r->diags->n; i++) {
                const struct ka_diag *d = &r->diags->v[i];
                if (d->severity == sev && d->line == line && d->col == col && strcmp(d->msg, msg) == 0)
                        return;
        }
        if (r->diags->n - r->first_diag >= MAX_DIAGS) {
                if (r->diags->n - r->first_diag == MAX_DIAGS)
                        ka_diags_add(r->diags, KA_DIAG_WARNING, file, line, col,
                                     "too many problems; the rest are not shown");
                if (sev == KA_DIAG_ERROR)
                        r->diags->errors++;
                return;
        }
        ka_diags_add(r->diags, sev, file, line, col, "%s", msg);
}

#define warn(r, line, col, ...) diag_in((r), KA_DIAG_WARNING, (r)->file, (line), (col), __VA_ARGS__)
#define error(r, line, col, ...) diag_in((r), KA_DIAG_ERROR, (r)->file, (line), (col), __VA_ARGS__)

/* An interpolation kept as text. */
static void warn_gaps(struct reader *r, const struct ka_val *v, const char *what) {
        for (size_t i = 0; i < v->n_gaps; i++)
                warn(r, v->gaps[i].line, v->gaps[i].col,
                     "%s: %s is only known when the build runs; kubeagent keeps it as text", what, v->gaps[i].text);
}

/* A value only known when the build runs, where it cannot be kept as text. */
static void warn_dropped(struct reader *r, const struct ka_val *v, const char *what) {
        warn(r, v->line, v->col, "%s: %s is only known when the build runs; kubeagent %s", what, v->src,
             strcmp(what, "label") == 0 ? "uses a generated label" : "leaves it unset");
}

static const char *kind_name(enum ka_val_kind k) {
        switch (k) {
        case KA_VAL_NULL:
                return "null";
        case KA_VAL_BOOL:
                return "a boolean";
        case KA_VAL_NUM:
                return "a number";
        case KA_VAL_STR:
                return "a string";
        case KA_VAL_LIST:
                return "a list";
        case KA_VAL_MAP:
                return "a map";
        case KA_VAL_CALL:
                return "a call";
        case KA_VAL_CLOSURE:
                return "a closure";
        case KA_VAL_RUNTIME:
                return "an expression";
        }
        return "a value";
}

/* ---- building the tree ---- */

static void place(struct reader *r, const cJSON *node, unsigned line, unsigned col) {
        struct ka_loc l = {.file = r->file, .line = line, .col = col};
        ka_locmap_set(r->locs, node, l, l);
}

static cJSON *counted(struct reader *r, cJSON *j, unsigned line, unsigned col) {
        if (++r->tree_nodes > MAX_TREE_NODES) {
                r->too_big = true;
                cJSON_Delete(j);
                return NULL;
        }
        place(r, j, line, col);
        return j;
}

/* Add obj[key] = value (replacing), the key placed at line:col. */
static void put(struct reader *r, cJSON *obj, const char *key, cJSON *value, unsigned line, unsigned col) {
        if (!obj || !value) {
                cJSON_Delete(value);
                return;
        }
        struct ka_loc vl, kl = {.file = r->file, .line = line, .col = col};
        if (!ka_locmap_get(r->locs, value, &vl))
                vl = kl;
        ka_locmap_set(r->locs, value, vl, kl);
        if (cJSON_GetObjectItemCaseSensitive(obj, key))
                cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
        else
                cJSON_AddItemToObject(obj, key, value);
}

static void push(cJSON *arr, cJSON *item) {
        if (arr && item)
                cJSON_AddItemToArray(arr, item);
        else
                cJSON_Delete(item);
}

/* The text of a scalar for a string field; NULL when it is not one (an
 * error or warning was given) or is null.  *gaps is set when part of it is
 * only known at run time. */
static char *text_of(struct reader *r, const struct ka_val *v, const char *what, bool keep_runtime, bool *gaps) {
        int64_t i;
        if (gaps)
                *gaps = false;
        switch (v->kind) {
        case KA_VAL_STR:
                if (strlen(v->s) != v->len) {
                        error(r, v->line, v->col, "%s: a NUL character cannot be part of it", what);
                        return NULL;
                }
                warn_gaps(r, v, what);
                if (gaps)
                        *gaps = v->n_gaps > 0;
                return ka_strndup(v->s, v->len);
        case KA_VAL_NUM:
                if (ka_eval_int(v, &i))
                        return ka_asprintf("%lld", (long long)i);
                return ka_strdup(v->num);
        case KA_VAL_BOOL:
                return ka_strdup(v->b ? "true" : "false");
        case KA_VAL_NULL:
                return NULL;
        case KA_VAL_RUNTIME:
        case KA_VAL_CALL:
                if (!keep_runtime) {
                        warn_dropped(r, v, what);
                        return NULL;
                }
                warn(r, v->line, v->col, "%s: %s is only known when the build runs; kubeagent keeps it as text", what,
                     v->src);
                if (gaps)
                        *gaps = true;
                return ka_asprintf("${%s}", v->src);
        default:
                error(r, v->line, v->col, "%s: expected a string, not %s", what, kind_name(v->kind));
                return NULL;
        }
}

static cJSON *conv_str(struct reader *r, const struct ka_val *v, const char *what) {
        _cleanup_free_ char *s = text_of(r, v, what, true, NULL);
        return s ? counted(r, cJSON_CreateString(s), v->line, v->col) : NULL;
}

static bool int_of(struct reader *r, const struct ka_val *v, const char *what, int64_t *ret) {
        if (v->kind == KA_VAL_NULL)
                return false;
        if (v->kind == KA_VAL_RUNTIME || v->kind == KA_VAL_CALL) {
                warn_dropped(r, v, what);
                return false;
        }
        int64_t i;
        if (!(ka_eval_int(v, &i) || (v->kind == KA_VAL_STR && v->n_gaps == 0 && ka_parse_int64(v->s, &i) == 0))) {
                error(r, v->line, v->col, "%s: expected a whole number, not %s", what, kind_name(v->kind));
                return false;
        }
        if (i < INT32_MIN || i > INT32_MAX) {
                error(r, v->line, v->col, "%s: %lld is out of range", what, (long long)i);
                return false;
        }
        *ret = i;
        return true;
}

static cJSON *conv_int(struct reader *r, const struct ka_val *v, const char *what) {
        int64_t i;
        return int_of(r, v, what, &i) ? counted(r, cJSON_CreateNumber((double)i), v->line, v->col) : NULL;
}

static cJSON *conv_bool(struct reader *r, const struct ka_val *v, const char *what) {
        bool b;
        if (v->kind == KA_VAL_NULL)
                return NULL;
        if (v->kind == KA_VAL_RUNTIME || v->kind == KA_VAL_CALL) {
                warn_dropped(r, v, what);
                return NULL;
        }
        if (v->kind == KA_VAL_BOOL)
                b = v->b;
        else if (v->kind == KA_VAL_STR && v->n_gaps == 0 && (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0))
                b = v->s[0] == 't';
        else {
                error(r, v->line, v->col, "%s: expected true or false, not %s", what, kind_name(v->kind));
                return NULL;
        }
        return counted(r, cJSON_CreateBool(b), v->line, v->col);
}

/* Any value as JSON (for plugin keys of any shape, and without plugins).
 * Variables can nest values deeper than the script's own nesting, hence
 * the depth limit. */
static cJSON *conv_any_at(struct reader *r, const struct ka_val *v, const char *what, unsigned depth) {
        cJSON *j;
        int64_t i;
        if (depth > KA_PIPELINE_MAX_DEPTH) {
                error(r, v->line, v->col, "%s: nested more than %u levels deep", what, KA_PIPELINE_MAX_DEPTH);
                return NULL;
        }
        switch (v->kind) {
        case KA_VAL_NULL:
                return counted(r, cJSON_CreateNull(), v->line, v->col);
        case KA_VAL_BOOL:
                return conv_bool(r, v, what);
        case KA_VAL_NUM:
                if (ka_eval_int(v, &i))
                        return counted(r, cJSON_CreateNumber((double)i), v->line, v->col);
                return counted(r, cJSON_CreateNumber(strtod(v->num, NULL)), v->line, v->col);
        case KA_VAL_LIST:
                j = counted(r, cJSON_CreateArray(), v->line, v->col);
                for (size_t k = 0; j && k < v->n_items; k++)
                        push(j, conv_any_at(r, v->items[k], what, depth + 1));
                return j;
        case KA_VAL_MAP:
                j = counted(r, cJSON_CreateObject(), v->line, v->col);
                for (size_t k = 0; j && k < v->n_ents; k++)
                        put(r, j, v->ents[k].key, conv_any_at(r, v->ents[k].v, what, depth + 1), v->ents[k].line,
                            v->ents[k].col);
                return j;
        default:
                return conv_str(r, v, what);
        }
}

static cJSON *conv_any(struct reader *r, const struct ka_val *v, const char *what) {
        return conv_any_at(r, v, what, 0);
}

/* ---- describables: containerTemplate(...), envVar(...), ... ---- */

enum kind {
        K_STR = 1,
        K_INT,
        K_BOOL,
        K_INT_POSITIVE, /* omitted unless > 0 */
        K_INT_NONZERO,  /* omitted when 0 */
        K_CLOUD,
        K_LABEL,
        K_NAME,
        K_NAMESPACE,
        K_INHERIT,
        K_YAML,
        K_CONTAINERS,
        K_ENVS,
        K_VOLUMES,
        K_WORKSPACE,
        K_ANNOTATIONS,
        K_PULL_SECRETS,
        K_RETENTION,
        K_STRATEGY,
        K_PORTS,
        K_PROBE,
        K_UNUSED, /* accepted by the step but not used */
};

struct param {
        const char *name;
        enum kind kind;
};

static const struct param step_params[] = {
        {"cloud", K_CLOUD},
        {"label", K_LABEL},
        {"name", K_NAME},
        {"namespace", K_NAMESPACE},
        {"inheritFrom", K_INHERIT},
        {"containers", K_CONTAINERS},
        {"envVars", K_ENVS},
        {"volumes", K_VOLUMES},
        {"workspaceVolume", K_WORKSPACE},
        {"annotations", K_ANNOTATIONS},
        {"imagePullSecrets", K_PULL_SECRETS},
        {"instanceCap", K_INT_POSITIVE},
        {"idleMinutes", K_INT_NONZERO},
        {"slaveConnectTimeout", K_INT_POSITIVE},
        {"activeDeadlineSeconds", K_INT_NONZERO},
        {"hostNetwork", K_BOOL},
        {"serviceAccount", K_STR},
        {"schedulerName", K_STR},
        {"nodeSelector", K_STR},
        {"nodeUsageMode", K_STR},
        {"runAsUser", K_STR},
        {"runAsGroup", K_STR},
        {"supplementalGroups", K_UNUSED},
        {"workingDir", K_UNUSED},
        {"yaml", K_YAML},
        {"yamlMergeStrategy", K_STRATEGY},
        {"inheritYamlMergeStrategy", K_BOOL},
        {"showRawYaml", K_BOOL},
        {"podRetention", K_RETENTION},
        {"agentContainer", K_STR},
        {"agentInjection", K_BOOL},
        {NULL, 0},
};

static const struct param container_params[] = {
        {"name", K_STR},
        {"image", K_STR},
        {"alwaysPullImage", K_BOOL},
        {"workingDir", K_STR},
        {"command", K_STR},
        {"args", K_STR},
        {"ttyEnabled", K_BOOL},
        {"privileged", K_BOOL},
        {"runAsUser", K_STR},
        {"runAsGroup", K_STR},
        {"resourceRequestCpu", K_STR},
        {"resourceRequestMemory", K_STR},
        {"resourceRequestEphemeralStorage", K_STR},
        {"resourceLimitCpu", K_STR},
        {"resourceLimitMemory", K_STR},
        {"resourceLimitEphemeralStorage", K_STR},
        {"shell", K_STR},
        {"envVars", K_ENVS},
        {"ports", K_PORTS},
        {"livenessProbe", K_PROBE},
        {NULL, 0},
};

static const struct param env_params[] = {{"key", K_STR}, {"value", K_STR}, {NULL, 0}};
static const struct param secret_env_params[] = {
        {"key", K_STR}, {"secretName", K_STR}, {"secretKey", K_STR}, {"optional", K_BOOL}, {NULL, 0}};
static const struct param annotation_params[] = {{"key", K_STR}, {"value", K_STR}, {NULL, 0}};
static const struct param port_params[] = {{"name", K_STR}, {"containerPort", K_INT}, {"hostPort", K_INT}, {NULL, 0}};
static const struct param probe_params[] = {
        {"execArgs", K_STR},
        {"timeoutSeconds", K_INT},
        {"initialDelaySeconds", K_INT},
        {"failureThreshold", K_INT},
        {"periodSeconds", K_INT},
        {"successThreshold", K_INT},
        {NULL, 0},
};

static const struct param *find_param(const struct param *table, const char *name) {
        for (; table->name; table++)
                if (strcmp(table->name, name) == 0)
                        return table;
        return NULL;
}

static void unknown_param(struct reader *r, const struct param *table, const char *what, const struct arg *a) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        for (const struct param *p = table; p->name; p++) {
                size_t d = ka_strdistance(a->key, p->name);
                if (d < best_d)
                        best_d = d, best = p->name;
        }
        if (best && best_d <= 2)
                warn(r, a->line, a->col,
                     "unknown parameter \"%s\" of %s, ignored as Jenkins does (did you mean \"%s\"?)", a->key, what,
                     best);
        else
                warn(r, a->line, a->col, "unknown parameter \"%s\" of %s, ignored as Jenkins does", a->key, what);
}

struct build;
static cJSON *conv_param(struct reader *r, struct build *b, const struct param *p, const struct ka_val *v);

/* The named arguments of a call (or the entries of a map) as args. */
static struct arg *args_of(struct reader *r, const struct ka_val *v, size_t *n) {
        struct arg *a = ka_arena_array(r->arena, v->n_ents, sizeof(*a));
        if (!a) {
                *n = 0;
                return NULL;
        }
        for (size_t i = 0; i < v->n_ents; i++)
                a[i] = (struct arg){
                        .key = v->ents[i].key, .line = v->ents[i].line, .col = v->ents[i].col, .v = v->ents[i].v};
        *n = v->n_ents;
        return a;
}

/* Is a[i] overridden by a later argument of the same name?  (Groovy keeps
 * the last.) */
static bool overridden(struct reader *r, const struct arg *a, size_t n, size_t i) {
        for (size_t j = i + 1; j < n; j++)
                if (strcmp(a[j].key, a[i].key) == 0) {
                        warn(r, a[j].line, a[j].col, "\"%s\" is given twice; this one counts", a[j].key);
                        return true;
                }
        return false;
}

/* `symbol(name: value, ...)` (or, where allowed, a map) into an object. */
static cJSON *conv_describable(struct reader *r, struct build *b, const struct ka_val *v, const char *symbol,
                               const struct param *table, bool map_ok) {
        bool is_call = v->kind == KA_VAL_CALL && strcmp(v->name, symbol) == 0;
        if (!is_call && !(map_ok && v->kind == KA_VAL_MAP)) {
                if (v->kind == KA_VAL_RUNTIME || v->kind == KA_VAL_CALL)
                        error(r, v->line, v->col, "expected %s(...), found %s", symbol, v->src);
                else
                        error(r, v->line, v->col, "expected %s(...), not %s", symbol, kind_name(v->kind));
                return NULL;
        }
        if (is_call && (v->n_items || v->body)) {
                error(r, v->line, v->col, "%s takes named arguments only (name: value, ...)", symbol);
                return NULL;
        }
        cJSON *obj = counted(r, cJSON_CreateObject(), v->line, v->col);
        size_t n;
        struct arg *a = args_of(r, v, &n);
        for (size_t i = 0; obj && i < n; i++) {
                if (overridden(r, a, n, i))
                        continue;
                const struct param *p = find_param(table, a[i].key);
                if (!p) {
                        unknown_param(r, table, symbol, &a[i]);
                        continue;
                }
                put(r, obj, p->name, conv_param(r, b, p, a[i].v), a[i].line, a[i].col);
        }
        return obj;
}

/* A list argument; `item` is the symbol its items are written with, for a
 * single one given without brackets. */
static bool expect_list(struct reader *r, const struct ka_val *v, const char *what, const char *item) {
        if (v->kind == KA_VAL_LIST)
                return true;
        if (v->kind == KA_VAL_CALL && item && strcmp(v->name, item) == 0)
                error(r, v->line, v->col, "%s: expected a list: [%s(...), ...]", what, item);
        else if (v->kind == KA_VAL_RUNTIME || v->kind == KA_VAL_CALL)
                warn_dropped(r, v, what);
        else if (v->kind != KA_VAL_NULL)
                error(r, v->line, v->col, "%s: expected a list [...], not %s", what, kind_name(v->kind));
        return false;
}

static cJSON *conv_envs(struct reader *r, struct build *b, const struct ka_val *v) {
        if (!expect_list(r, v, "envVars", "envVar"))
                return NULL;
        cJSON *arr = counted(r, cJSON_CreateArray(), v->line, v->col);
        for (size_t i = 0; arr && i < v->n_items; i++) {
                const struct ka_val *x = v->items[i];
                const char *sym = x->kind == KA_VAL_CALL ? x->name : NULL;
                /* containerEnvVar and podEnvVar are the same as envVar */
                bool plain = sym && (strcmp(sym, "envVar") == 0 || strcmp(sym, "containerEnvVar") == 0 ||
                                     strcmp(sym, "podEnvVar") == 0);
                bool secret = sym && strcmp(sym, "secretEnvVar") == 0;
                if (!plain && !secret) {
                        error(r, x->line, x->col, "envVars: expected envVar(...) or secretEnvVar(...), found %s",
                              x->kind == KA_VAL_CALL || x->kind == KA_VAL_RUNTIME ? x->src : kind_name(x->kind));
                        continue;
                }
                cJSON *e = conv_describable(r, b, x, sym, plain ? env_params : secret_env_params, false);
                cJSON *wrap = counted(r, cJSON_CreateObject(), x->line, x->col);
                put(r, wrap, plain ? "envVar" : "secretEnvVar", e, x->line, x->col);
                push(arr, wrap);
        }
        return arr;
}

static cJSON *conv_list_of(struct reader *r, struct build *b, const struct ka_val *v, const char *what,
                           const char *symbol, const struct param *table) {
        if (!expect_list(r, v, what, symbol))
                return NULL;
        cJSON *arr = counted(r, cJSON_CreateArray(), v->line, v->col);
        for (size_t i = 0; arr && i < v->n_items; i++)
                push(arr, conv_describable(r, b, v->items[i], symbol, table, false));
        return arr;
}

/* ---- plugins: volumes, retention ---- */

/* Symbols of a kind are checked when plugins of that kind are loaded (else
 * they are left to the template's validation). */
static bool have_kind(const struct ka_registry *reg, enum kubeagent_plugin_kind kind) {
        for (size_t i = 0; reg && i < reg->n; i++)
                if (reg->v[i]->desc->kind == kind)
                        return true;
        return false;
}

/* The volume plugin serving `symbol` in the given form, if one is loaded. */
static const struct kubeagent_plugin_handle *volume_plugin(const struct ka_registry *reg, const char *symbol,
                                                           int form) {
        int found;
        const struct kubeagent_plugin_handle *h = ka_registry_find_symbol(reg, KUBEAGENT_KIND_VOLUME, symbol, &found);
        if (!h || found == form)
                return h;
        const struct kubeagent_volume_form_spec *spec =
                form == KUBEAGENT_VOLUME_WORKSPACE ? &h->desc->volume->workspace : &h->desc->volume->pod;
        for (const char *const *s = spec->symbols; s && *s; s++)
                if (strcmp(*s, symbol) == 0)
                        return h;
        return NULL;
}

/* "a(), b(), c()": the symbols of a kind/form that are loaded. */
static char *known_symbols(const struct ka_registry *reg, enum kubeagent_plugin_kind kind, int form) {
        struct ka_buf b = KA_BUF_INIT(0);
        for (size_t i = 0; i < reg->n; i++) {
                const struct kubeagent_plugin *d = reg->v[i]->desc;
                if (d->kind != kind)
                        continue;
                const char *const *s = kind == KUBEAGENT_KIND_RETENTION     ? d->retention->symbols
                                       : form == KUBEAGENT_VOLUME_WORKSPACE ? d->volume->workspace.symbols
                                                                            : d->volume->pod.symbols;
                /* the first symbol of each is its pipeline spelling */
                if (s && *s)
                        ka_buf_printf(&b, "%s%s()", b.len ? ", " : "", *s);
        }
        return b.data ? ka_buf_steal(&b) : ka_strdup("none");
}

static cJSON *conv_plugin_key(struct reader *r, const struct kubeagent_config_key *k, const struct ka_val *v) {
        switch (k->type) {
        case KUBEAGENT_CFG_BOOL:
                return conv_bool(r, v, k->name);
        case KUBEAGENT_CFG_INT:
                return conv_int(r, v, k->name);
        case KUBEAGENT_CFG_STRING:
        case KUBEAGENT_CFG_PATH:
        case KUBEAGENT_CFG_SECRET:
        case KUBEAGENT_CFG_DURATION:
                return v->kind == KA_VAL_NUM ? conv_any(r, v, k->name) : conv_str(r, v, k->name);
        default:
                return conv_any(r, v, k->name);
        }
}

/* `hostPathVolume(hostPath: '/x', mountPath: '/y')` → {hostPathVolume: {...}} */
static cJSON *conv_volume(struct reader *r, const struct ka_val *v, int form) {
        const char *what = form == KUBEAGENT_VOLUME_WORKSPACE ? "workspaceVolume" : "volumes";
        if (v->kind != KA_VAL_CALL) {
                if (v->kind == KA_VAL_RUNTIME)
                        warn_dropped(r, v, what);
                else if (v->kind != KA_VAL_NULL)
                        error(r, v->line, v->col, "%s: expected a volume such as %s(...), not %s", what,
                              form == KUBEAGENT_VOLUME_WORKSPACE ? "emptyDirWorkspaceVolume" : "hostPathVolume",
                              kind_name(v->kind));
                return NULL;
        }
        const struct ka_registry *reg = r->opts->plugins;
        const struct kubeagent_config_key *keys = NULL;
        if (have_kind(reg, KUBEAGENT_KIND_VOLUME)) {
                const struct kubeagent_plugin_handle *h = volume_plugin(reg, v->name, form);
                if (!h) {
                        _cleanup_free_ char *known = known_symbols(reg, KUBEAGENT_KIND_VOLUME, form);
                        error(r, v->line, v->col, "%s: %s() is not a %s type of the loaded volume plugins (%s)", what,
                              v->name, form == KUBEAGENT_VOLUME_WORKSPACE ? "workspace volume" : "volume", known);
                        return NULL;
                }
                size_t size;
                keys = ka_plugin_keys(h, form, &size);
        }
        if (v->body) {
                error(r, v->line, v->col, "%s() takes no closure", v->name);
                return NULL;
        }
        cJSON *conf = counted(r, cJSON_CreateObject(), v->line, v->col);
        if (v->n_items) {
                /* one unnamed argument: the volume type's only required key (or its only key) */
                const struct kubeagent_config_key *only = NULL;
                size_t n_required = 0, n_keys = 0;
                for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                        n_keys++;
                        if (k->flags & KUBEAGENT_CFG_REQUIRED)
                                n_required++, only = k;
                }
                if (n_required != 1)
                        only = n_keys == 1 ? keys : NULL;
                if (v->n_items > 1 || v->n_ents || !only) {
                        error(r, v->line, v->col, "%s() takes named arguments (name: value, ...)", v->name);
                        cJSON_Delete(conf);
                        return NULL;
                }
                put(r, conf, only->name, conv_plugin_key(r, only, v->items[0]), v->items[0]->line, v->items[0]->col);
        }
        size_t n;
        struct arg *a = args_of(r, v, &n);
        for (size_t i = 0; conf && i < n; i++) {
                if (overridden(r, a, n, i))
                        continue;
                if (!keys) {
                        put(r, conf, a[i].key, conv_any(r, a[i].v, a[i].key), a[i].line, a[i].col);
                        continue;
                }
                const struct kubeagent_config_key *k = keys;
                while (k->name && strcmp(k->name, a[i].key) != 0)
                        k++;
                if (!k->name) {
                        const char *best = NULL;
                        size_t best_d = SIZE_MAX;
                        for (const struct kubeagent_config_key *q = keys; q->name; q++)
                                if (ka_strdistance(a[i].key, q->name) < best_d)
                                        best_d = ka_strdistance(a[i].key, q->name), best = q->name;
                        if (best && best_d <= 2)
                                warn(r, a[i].line, a[i].col,
                                     "unknown parameter \"%s\" of %s, ignored as Jenkins does (did you mean \"%s\"?)",
                                     a[i].key, v->name, best);
                        else
                                warn(r, a[i].line, a[i].col, "unknown parameter \"%s\" of %s, ignored as Jenkins does",
                                     a[i].key, v->name);
                        continue;
                }
                put(r, conf, k->name, conv_plugin_key(r, k, a[i].v), a[i].line, a[i].col);
        }
        cJSON *wrap = counted(r, cJSON_CreateObject(), v->line, v->col);
        put(r, wrap, v->name, conf, v->line, v->col);
        return wrap;
}

/* `never()`, `merge()`: a describable without arguments, as its symbol. */
static cJSON *conv_symbol(struct reader *r, const struct ka_val *v, const char *what, const char *example) {
        if (v->kind == KA_VAL_NULL)
                return NULL;
        if (v->kind == KA_VAL_RUNTIME) {
                warn_dropped(r, v, what);
                return NULL;
        }
        if (v->kind != KA_VAL_CALL) {
                error(r, v->line, v->col, "%s: expected %s, not %s", what, example, kind_name(v->kind));
                return NULL;
        }
        if (v->n_items || v->n_ents || v->body) {
                error(r, v->line, v->col, "%s: %s() takes no arguments", what, v->name);
                return NULL;
        }
        return counted(r, cJSON_CreateString(v->name), v->line, v->col);
}

static cJSON *conv_retention(struct reader *r, const struct ka_val *v) {
        cJSON *j = conv_symbol(r, v, "podRetention", "a retention policy such as never()");
        const struct ka_registry *reg = r->opts->plugins;
        if (j && have_kind(reg, KUBEAGENT_KIND_RETENTION) &&
            !ka_registry_find_symbol(reg, KUBEAGENT_KIND_RETENTION, v->name, NULL)) {
                _cleanup_free_ char *known = known_symbols(reg, KUBEAGENT_KIND_RETENTION, 0);
                error(r, v->line, v->col, "podRetention: %s() is not a retention policy of the loaded plugins (%s)",
                      v->name, known);
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* ---- the template of one block ---- */

/* What one block's conversion found along the way. */
struct build {
        char *bad_name; /* the first container name that is not RFC 1123 */
        unsigned bad_line, bad_col;
        bool yaml_gaps; /* the YAML has parts known only at run time */
};

static bool valid_container_name(const char *s) {
        if (!*s)
                return true;
        size_t n = strlen(s);
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (!alnum && !(c == '-' && i > 0 && i + 1 < n))
                        return false;
        }
        return true;
}

static cJSON *conv_container(struct reader *r, struct build *b, const struct ka_val *v) {
        cJSON *c = conv_describable(r, b, v, "containerTemplate", container_params, true);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (cJSON_IsString(name) && !b->bad_name && !strchr(name->valuestring, '$') &&
            !valid_container_name(name->valuestring)) {
                struct ka_loc l;
                ka_locmap_get(r->locs, name, &l);
                b->bad_name = ka_strdup(name->valuestring);
                b->bad_line = l.line;
                b->bad_col = l.col;
        }
        return c;
}

static cJSON *conv_yaml(struct reader *r, struct build *b, const struct ka_val *v) {
        if (v->kind == KA_VAL_RUNTIME || v->kind == KA_VAL_CALL) {
                warn_dropped(r, v, "yaml");
                return NULL;
        }
        bool gaps;
        _cleanup_free_ char *s = text_of(r, v, "yaml", true, &gaps);
        if (!s || ka_isempty(s) || strspn(s, " \t\r\n") == strlen(s))
                return NULL; /* blank means none */
        b->yaml_gaps = gaps;
        cJSON *j = counted(r, cJSON_CreateString(s), v->line, v->col);
        if (j && v->kind == KA_VAL_STR) {
                struct ka_loc l = {.file = v->text_file ? ka_locmap_intern(r->locs, v->text_file) : r->file,
                                   .line = v->text_line,
                                   .col = v->text_col};
                ka_locmap_set(r->locs, j, l, l);
        }
        return j;
}

static cJSON *conv_param(struct reader *r, struct build *b, const struct param *p, const struct ka_val *v) {
        int64_t i;
        cJSON *arr;
        switch (p->kind) {
        case K_STR:
        case K_NAMESPACE:
                return conv_str(r, v, p->name);
        case K_INT:
                return conv_int(r, v, p->name);
        case K_BOOL:
                return conv_bool(r, v, p->name);
        case K_INT_POSITIVE:
        case K_INT_NONZERO:
                if (!int_of(r, v, p->name, &i) || i == 0 || (p->kind == K_INT_POSITIVE && i < 0))
                        return NULL;
                return counted(r, cJSON_CreateNumber((double)i), v->line, v->col);
        case K_YAML:
                return conv_yaml(r, b, v);
        case K_CONTAINERS:
                if (!expect_list(r, v, "containers", "containerTemplate"))
                        return NULL;
                arr = counted(r, cJSON_CreateArray(), v->line, v->col);
                for (size_t k = 0; arr && k < v->n_items; k++)
                        push(arr, conv_container(r, b, v->items[k]));
                return arr;
        case K_ENVS:
                return conv_envs(r, b, v);
        case K_PORTS:
                return conv_list_of(r, b, v, "ports", "portMapping", port_params);
        case K_PROBE:
                if (v->kind == KA_VAL_NULL)
                        return NULL;
                return conv_describable(r, b, v, "containerLivenessProbe", probe_params, false);
        case K_ANNOTATIONS:
                return conv_list_of(r, b, v, "annotations", "podAnnotation", annotation_params);
        case K_PULL_SECRETS:
                if (!expect_list(r, v, "imagePullSecrets", NULL))
                        return NULL;
                arr = counted(r, cJSON_CreateArray(), v->line, v->col);
                for (size_t k = 0; arr && k < v->n_items; k++) {
                        cJSON *name = conv_str(r, v->items[k], "imagePullSecrets");
                        cJSON *o = name ? counted(r, cJSON_CreateObject(), v->items[k]->line, v->items[k]->col) : NULL;
                        put(r, o, "name", name, v->items[k]->line, v->items[k]->col);
                        push(arr, o);
                }
                return arr;
        case K_VOLUMES:
                if (!expect_list(r, v, "volumes", NULL))
                        return NULL;
                arr = counted(r, cJSON_CreateArray(), v->line, v->col);
                for (size_t k = 0; arr && k < v->n_items; k++)
                        push(arr, conv_volume(r, v->items[k], KUBEAGENT_VOLUME_POD));
                return arr;
        case K_WORKSPACE:
                return conv_volume(r, v, KUBEAGENT_VOLUME_WORKSPACE);
        case K_RETENTION:
                return conv_retention(r, v);
        case K_STRATEGY:
                return conv_symbol(r, v, "yamlMergeStrategy", "merge() or override()");
        case K_UNUSED:
                warn(r, v->line, v->col, "%s is accepted by the podTemplate step but not used by the kubernetes plugin",
                     p->name);
                return NULL;
        default:
                return NULL;
        }
}

/* Check container names in the template's YAML, as the step does. */
static void check_yaml_container_names(struct reader *r, const cJSON *tmpl, const struct build *b) {
        const cJSON *yaml = cJSON_GetObjectItemCaseSensitive(tmpl, "yaml");
        struct ka_loc at;
        if (!cJSON_IsString(yaml) || !ka_locmap_get(r->locs, yaml, &at))
                return;
        struct ka_yaml_origin o = {.file = at.file, .line_offset = at.line - 1, .col_offset = at.col - 1};
        _cleanup_(ka_locmap_freep) struct ka_locmap *locs = ka_locmap_new();
        cJSON *pod = NULL;
        struct ka_error err = {0};
        /* a YAML that does not parse is reported by the template's validation */
        if (ka_yaml_parse(yaml->valuestring, strlen(yaml->valuestring), &o, locs, &pod, &err) < 0)
                return;
        struct ka_buf names = KA_BUF_INIT(0);
        struct ka_loc first = {0};
        const cJSON *containers = ka_json_path(pod, "spec.containers");
        const cJSON *c;
        if (!cJSON_IsArray(containers))
                containers = NULL;
        cJSON_ArrayForEach(c, containers) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
                if (!cJSON_IsString(name) || valid_container_name(name->valuestring) ||
                    (b->yaml_gaps && strchr(name->valuestring, '$')))
                        continue;
                if (!names.len)
                        ka_locmap_get(locs, name, &first);
                ka_buf_printf(&names, "%s%s", names.len ? ", " : "", name->valuestring);
        }
        if (names.len)
                diag_in(r, KA_DIAG_ERROR, first.file, first.line, first.col, RFC1123_ERROR, names.data);
        ka_buf_free(&names);
        cJSON_Delete(pod);
}

/* "job#3" → "job_3-bcd12": the plugin's POD_LABEL, with a suffix derived
 * from the block's place instead of a random one. */
static void suffix(const char *salt, unsigned line, unsigned col, char out[6]) {
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz0123456789";
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%s:%u:%u", salt, line, col);
        uint64_t h = 1469598103934665603ULL;
        for (int i = 0; i < n; i++)
                h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
        for (int k = 0; k < 5; k++) {
                out[k] = alphabet[h % 30];
                h /= 30;
        }
        out[5] = 0;
}

static char *pod_label(const struct ka_pipeline_options *o, unsigned line, unsigned col) {
        _cleanup_free_ char *id = ka_asprintf("%s#%u", o->job ? o->job : "pipeline", o->build ? o->build : 1);
        const char *s = id;
        size_t max = 63 - 1 - 5;
        if (strlen(s) > max)
                s += strlen(s) - max;
        char *label = ka_asprintf("%s-xxxxx", s);
        for (char *p = label; p < label + strlen(s); p++) {
                char c = *p;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-'))
                        *p = '_';
        }
        if (!((label[0] >= 'a' && label[0] <= 'z') || (label[0] >= 'A' && label[0] <= 'Z') ||
              (label[0] >= '0' && label[0] <= '9')))
                label[0] = 'x';
        suffix("label", line, col, label + strlen(s) + 1);
        return label;
}

/* The text of a special parameter (label, name, cloud, ...): NULL when absent
 * or empty, or when only known at run time (a warning then says so). */
static char *special_text(struct reader *r, const struct arg *a, bool *gaps) {
        if (!a)
                return NULL;
        char *s = text_of(r, a->v, a->key, false, gaps);
        if (s && !*s) {
                free(s);
                return NULL;
        }
        return s;
}

/* Build the block of one podTemplate step (args are its named arguments) and
 * return its index; *inner is the context its body runs in.  The block's
 * errors are those reported since diags counted `errors`. */
static size_t build_block(struct reader *r, const struct arg *args, size_t n, enum ka_pipeline_kind kind,
                          const struct podctx *pc, unsigned line, unsigned col, size_t errors, struct podctx *inner) {
        const struct arg *sp[K_INHERIT + 1] = {0};
        for (size_t i = 0; i < n; i++) {
                const struct param *p = find_param(step_params, args[i].key);
                if (p && p->kind >= K_CLOUD && p->kind <= K_INHERIT && !overridden(r, args, n, i))
                        sp[p->kind] = &args[i];
        }
        struct ka_pipeline_block blk = {.kind = kind, .where = {.file = r->file, .line = line, .col = col}};
        blk.cloud = special_text(r, sp[K_CLOUD], NULL);

        bool gaps = false;
        blk.label = special_text(r, sp[K_LABEL], &gaps);
        if (blk.label && !gaps && !ka_label_value_valid(blk.label))
                error(r, sp[K_LABEL]->v->line, sp[K_LABEL]->v->col, LABEL_ERROR, blk.label);
        if (!blk.label) {
                blk.label = pod_label(r->opts, line, col);
                blk.label_generated = true;
        }
        _cleanup_free_ char *given_name = special_text(r, sp[K_NAME], NULL);
        char sfx[6];
        suffix("name", line, col, sfx);
        _cleanup_free_ char *name = ka_asprintf("%s-%s", given_name ? given_name : blk.label, sfx);
        _cleanup_free_ char *ns = special_text(r, sp[K_NAMESPACE], NULL);
        if (!ns && pc->ns)
                ns = ka_strdup(pc->ns);
        /* inheritFrom: absent means the enclosing template (for the step) or
         * none (for a declarative agent); '' means none */
        _cleanup_free_ char *inherit = NULL;
        if (sp[K_INHERIT] && sp[K_INHERIT]->v->kind != KA_VAL_NULL)
                inherit = special_text(r, sp[K_INHERIT], NULL);
        else if (kind == KA_PIPELINE_STEP && pc->parent)
                inherit = ka_strdup(pc->parent);

        cJSON *t = counted(r, cJSON_CreateObject(), line, col);
        put(r, t, "name", counted(r, cJSON_CreateString(name), line, col), line, col);
        if (ns) {
                const struct arg *a = sp[K_NAMESPACE];
                put(r, t, "namespace", counted(r, cJSON_CreateString(ns), a ? a->v->line : line, a ? a->v->col : col),
                    a ? a->line : line, a ? a->col : col);
        }
        const struct arg *la = blk.label_generated ? NULL : sp[K_LABEL];
        put(r, t, "label", counted(r, cJSON_CreateString(blk.label), la ? la->v->line : line, la ? la->v->col : col),
            la ? la->line : line, la ? la->col : col);
        if (inherit) {
                const struct arg *a = sp[K_INHERIT];
                put(r, t, "inheritFrom",
                    counted(r, cJSON_CreateString(inherit), a ? a->v->line : line, a ? a->v->col : col),
                    a ? a->line : line, a ? a->col : col);
        }
        struct build b = {0};
        for (size_t i = 0; t && i < n; i++) {
                const struct param *p = find_param(step_params, args[i].key);
                if (p && p->kind >= K_CLOUD && p->kind <= K_INHERIT)
                        continue;
                if (!p) {
                        unknown_param(r, step_params, "podTemplate", &args[i]);
                        continue;
                }
                if (overridden(r, args, n, i))
                        continue;
                put(r, t, p->name, conv_param(r, &b, p, args[i].v), args[i].line, args[i].col);
        }
        /* container names, as the step checks them: fields first, then YAML */
        if (b.bad_name)
                error(r, b.bad_line, b.bad_col, RFC1123_ERROR, b.bad_name);
        else if (t)
                check_yaml_container_names(r, t, &b);
        free(b.bad_name);

        inner->ns = ns ? ka_arena_strndup(r->arena, ns, strlen(ns)) : NULL;
        inner->parent = ka_arena_strndup(r->arena, name, strlen(name));
        blk.tmpl = t;
        blk.errors = (unsigned)(r->diags->errors - errors);
        r->blocks = ka_reallocarray(r->blocks, r->n_blocks + 1, sizeof(*r->blocks));
        r->blocks[r->n_blocks] = blk;
        return r->n_blocks++;
}

/* ---- the podTemplate step ---- */

static bool is_pod_template(const struct ka_pnode *n) {
        return n->kind == KA_PN_CALL && strcmp(n->name, "podTemplate") == 0 &&
               (!n->target || n->target->kind == KA_PN_IDENT);
}

/* The named arguments of a call node, evaluated; a single map argument
 * stands for them (podTemplate(args) with args = [label: ...]). */
static struct arg *call_args(struct reader *r, const struct ka_pnode *call, size_t *n) {
        struct ka_val *v = ka_eval_call(&r->ev, call);
        *n = 0;
        if (!v)
                return NULL;
        if (v->kind != KA_VAL_CALL) {
                warn(r, call->line, call->col,
                     "the arguments of %s are only known when the build runs; kubeagent reads it without them",
                     call->name);
                return NULL;
        }
        if (v->n_items == 1 && v->n_ents == 0 && v->items[0]->kind == KA_VAL_MAP)
                return args_of(r, v->items[0], n);
        if (v->n_items == 1 && v->n_ents == 0 && v->items[0]->kind == KA_VAL_RUNTIME) {
                warn(r, v->items[0]->line, v->items[0]->col,
                     "%s is only known when the build runs; kubeagent reads %s without its arguments", v->items[0]->src,
                     call->name);
                return NULL;
        }
        for (size_t i = 0; i < v->n_items; i++)
                error(r, v->items[i]->line, v->items[i]->col, "%s takes named arguments only (name: value, ...)",
                      call->name);
        return args_of(r, v, n);
}

static void walk_block(struct reader *r, const struct ka_pnode *block, const struct podctx *pc, bool declarative);
static void walk_expr(struct reader *r, const struct ka_pnode *e, const struct podctx *pc, bool declarative);

static void pod_template_step(struct reader *r, const struct ka_pnode *call, const struct podctx *pc) {
        size_t n, errors = r->diags->errors;
        struct arg *args = call_args(r, call, &n);
        if (!call->body && !r->one_call)
                error(r, call->line, call->col,
                      "podTemplate needs a body { ... }: its template exists only while the body runs");
        struct podctx inner;
        build_block(r, args, n, KA_PIPELINE_STEP, pc, call->line, call->col, errors, &inner);
        if (call->body) {
                ka_scope_push(&r->ev, KA_SCOPE_PLAIN);
                for (size_t i = 0; i < call->body->n_ents; i++)
                        ka_scope_declare(&r->ev, call->body->ents[i].key, NULL);
                walk_block(r, call->body->body, &inner, false);
                ka_scope_pop(&r->ev);
        }
}

/* ---- the declarative agent ---- */

enum option {
        O_STEP = 1, /* passed to podTemplate under the same name */
        O_LABEL,    /* passed, deprecated */
        O_YAML_FILE,
        O_DEFAULT_CONTAINER,
        O_CONTAINER,  /* containerTemplate (deprecated, single) */
        O_CONTAINERS, /* containerTemplates */
        O_IGNORED,    /* only about the checkout or retries, not the pod */
        O_NOT_PASSED, /* settable but not passed on by the plugin */
};

/* In the order Declarative lists them. */
static const struct {
        const char *name;
        enum option kind;
} agent_options[] = {
        {"activeDeadlineSeconds", O_STEP},
        {"agentContainer", O_STEP},
        {"agentInjection", O_STEP},
        {"cloud", O_STEP},
        {"containerTemplate", O_CONTAINER},
        {"containerTemplates", O_CONTAINERS},
        {"customWorkspace", O_IGNORED},
        {"defaultContainer", O_DEFAULT_CONTAINER},
        {"idleMinutes", O_STEP},
        {"inheritFrom", O_STEP},
        {"inheritYamlMergeStrategy", O_STEP},
        {"instanceCap", O_STEP},
        {"label", O_LABEL},
        {"namespace", O_STEP},
        {"nodeSelector", O_STEP},
        {"podRetention", O_STEP},
        {"retries", O_IGNORED},
        {"schedulerName", O_NOT_PASSED},
        {"serviceAccount", O_STEP},
        {"showRawYaml", O_STEP},
        {"slaveConnectTimeout", O_STEP},
        {"supplementalGroups", O_STEP},
        {"workingDir", O_STEP},
        {"workspaceVolume", O_STEP},
        {"yaml", O_STEP},
        {"yamlFile", O_YAML_FILE},
        {"yamlMergeStrategy", O_STEP},
};

/* `name value` statements of a block into a map value (for the options of
 * the agent and a containerTemplate { ... } inside it). */
static struct ka_val *options_map(struct reader *r, const struct ka_pnode *closure) {
        struct ka_val *m = ka_arena_alloc(r->arena, sizeof(*m));
        const struct ka_pnode *body = closure->body;
        if (!m)
                return NULL;
        m->kind = KA_VAL_MAP;
        m->line = closure->line;
        m->col = closure->col;
        m->ents = ka_arena_array(r->arena, body->n_kids, sizeof(*m->ents));
        if (!m->ents)
                return NULL;
        for (size_t i = 0; i < body->n_kids; i++) {
                const struct ka_pnode *s = body->kids[i];
                const struct ka_pnode *c = s->kind == KA_PN_EXPR ? s->kids[0] : NULL;
                if (!c || c->kind != KA_PN_CALL || c->target) {
                        error(r, s->line, s->col, "expected an option such as label 'x' or yaml '...'");
                        continue;
                }
                struct ka_val *v = NULL;
                if (c->body && !c->n_kids && !c->n_ents) {
                        v = options_map(r, c->body);
                } else if (c->n_kids == 1 && !c->n_ents && !c->body) {
                        v = ka_eval(&r->ev, c->kids[0]);
                } else if (c->n_ents && !c->n_kids && !c->body) {
                        struct ka_val *call = ka_eval(&r->ev, c);
                        if (call && call->kind == KA_VAL_CALL) {
                                call->kind = KA_VAL_MAP;
                                v = call;
                        }
                } else {
                        error(r, c->line, c->col, "option %s: expected one value, as in %s 'value'", c->name, c->name);
                        continue;
                }
                if (!v)
                        return NULL;
                m->ents[m->n_ents++] = (struct ka_vent){.key = c->name, .line = c->line, .col = c->col, .v = v};
        }
        return m;
}

static struct ka_val *read_yaml_file(struct reader *r, const struct arg *a) {
        const struct ka_val *v = a->v;
        if (v->kind != KA_VAL_STR || v->n_gaps) {
                if (v->kind == KA_VAL_STR)
                        warn(r, v->line, v->col,
                             "yamlFile: the file name is only known when the build runs; kubeagent leaves yaml unset");
                else
                        warn_dropped(r, v, "yamlFile");
                return NULL;
        }
        if (!r->base_dir) {
                error(r, v->line, v->col, "yamlFile cannot be read here: there is no folder to read it from");
                return NULL;
        }
        /* like readTrusted: a file of the same checkout, nothing outside it */
        bool escapes = v->s[0] == '/' || v->s[0] == '~' || strcmp(v->s, "..") == 0 || ka_startswith(v->s, "../") ||
                       strstr(v->s, "/../") || ka_endswith(v->s, "/..");
        if (escapes || !*v->s) {
                error(r, v->line, v->col, "yamlFile: \"%s\" must be a relative path inside the Jenkinsfile's folder",
                      v->s);
                return NULL;
        }
        _cleanup_free_ char *path = ka_path_join(r->base_dir, v->s);
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
                error(r, v->line, v->col, "yamlFile: %s is not a regular file", path);
                return NULL;
        }
        char *data;
        size_t len;
        struct ka_error err = {0};
        if (ka_read_file(path, KA_YAML_MAX_BYTES, &data, &len, &err) < 0) {
                error(r, v->line, v->col, "yamlFile: %s", err.msg);
                return NULL;
        }
        struct ka_val *y = ka_arena_alloc(r->arena, sizeof(*y));
        if (y) {
                y->kind = KA_VAL_STR;
                y->line = v->line;
                y->col = v->col;
                y->s = ka_arena_strndup(r->arena, data, len);
                y->len = len;
                y->text_line = y->text_col = 1;
                y->text_file = ka_arena_strndup(r->arena, path, strlen(path));
                if (!y->s || !y->text_file)
                        y = NULL;
        }
        free(data);
        return y;
}

static struct ka_val *list_of_one(struct reader *r, struct ka_val *item) {
        struct ka_val *l = ka_arena_alloc(r->arena, sizeof(*l));
        if (!l || !(l->items = ka_arena_array(r->arena, 1, sizeof(*l->items))))
                return NULL;
        l->kind = KA_VAL_LIST;
        l->line = item->line;
        l->col = item->col;
        l->items[0] = item;
        l->n_items = 1;
        return l;
}

static void kubernetes_agent(struct reader *r, const struct ka_pnode *call, const struct podctx *pc,
                             struct podctx *inner) {
        *inner = *pc;
        size_t errors = r->diags->errors;
        struct ka_val *opts;
        if (call->body && !call->n_kids && !call->n_ents) {
                opts = options_map(r, call->body);
        } else if (!call->body && call->n_kids == 1 && !call->n_ents && call->kids[0]->kind == KA_PN_BOOL &&
                   call->kids[0]->flag) {
                opts = ka_arena_alloc(r->arena, sizeof(*opts)); /* `kubernetes true`: no options */
                if (opts)
                        opts->kind = KA_VAL_MAP;
        } else {
                error(r, call->line, call->col, "kubernetes agent: expected its options in a block { ... }");
                return;
        }
        if (!opts)
                return;
        size_t n = opts->n_ents;
        struct arg *args = ka_arena_array(r->arena, n, sizeof(*args));
        if (!args && n)
                return;
        size_t k = 0;
        struct arg *yaml_file = NULL, *yaml = NULL, *single = NULL, *list = NULL;
        _cleanup_free_ char *default_container = NULL;
        for (size_t i = 0; i < n; i++) {
                struct arg a = {.key = opts->ents[i].key,
                                .line = opts->ents[i].line,
                                .col = opts->ents[i].col,
                                .v = opts->ents[i].v};
                size_t o = 0;
                while (o < KA_ARRAY_SIZE(agent_options) && strcmp(agent_options[o].name, a.key) != 0)
                        o++;
                if (o == KA_ARRAY_SIZE(agent_options)) {
                        struct ka_buf valid = KA_BUF_INIT(0);
                        for (size_t q = 0; q < KA_ARRAY_SIZE(agent_options); q++)
                                ka_buf_printf(&valid, "%s%s", q ? ", " : "", agent_options[q].name);
                        error(r, a.line, a.col,
                              "Invalid config option \"%s\" for agent type \"kubernetes\". Valid config options are "
                              "[%s]",
                              a.key, valid.data);
                        ka_buf_free(&valid);
                        continue;
                }
                switch (agent_options[o].kind) {
                case O_LABEL:
                        warn(r, a.line, a.col,
                             "label option is deprecated. To use a static pod template, use the 'inheritFrom' option.");
                        args[k++] = a;
                        break;
                case O_STEP:
                        if (strcmp(a.key, "yaml") == 0)
                                yaml = &args[k];
                        args[k++] = a;
                        break;
                case O_YAML_FILE:
                        args[k] = a;
                        yaml_file = &args[k++];
                        break;
                case O_DEFAULT_CONTAINER:
                        free(default_container);
                        default_container = text_of(r, a.v, "defaultContainer", true, NULL);
                        break;
                case O_CONTAINER:
                        args[k] = a;
                        single = &args[k++];
                        break;
                case O_CONTAINERS:
                        args[k] = a;
                        list = &args[k++];
                        break;
                case O_IGNORED:
                        break;
                case O_NOT_PASSED:
                        warn(r, a.line, a.col, "%s is not passed on to the pod by the kubernetes agent; ignored",
                             a.key);
                        break;
                }
        }
        /* what KubernetesDeclarativeAgent.getAsArgs() makes of them */
        for (size_t i = 0; i < k; i++) {
                struct arg *a = &args[i];
                if (a == yaml_file) {
                        if (yaml)
                                warn(r, yaml->line, yaml->col, "yaml is ignored: yamlFile is also given, and wins");
                        a->key = "yaml";
                        a->v = read_yaml_file(r, a);
                        if (yaml)
                                yaml->v = NULL;
                } else if (a == single) {
                        a->key = "containers";
                        if (list) {
                                warn(r, a->line, a->col,
                                     "Ignoring containerTemplate option as containerTemplates is also defined");
                                a->v = NULL;
                        } else {
                                warn(r, a->line, a->col,
                                     "containerTemplate option in declarative pipeline is deprecated, use yaml syntax "
                                     "to define containers");
                                a->v = list_of_one(r, a->v);
                        }
                } else if (a == list) {
                        a->key = "containers";
                }
        }
        size_t m = 0;
        for (size_t i = 0; i < k; i++)
                if (args[i].v)
                        args[m++] = args[i];
        size_t idx = build_block(r, args, m, KA_PIPELINE_AGENT, pc, call->line, call->col, errors, inner);
        r->blocks[idx].default_container = KA_TAKE(default_container);
}

/* `agent { kubernetes { ... } }` (other agent types have no pod template). */
static void agent_section(struct reader *r, const struct ka_pnode *call, const struct podctx *pc,
                          struct podctx *inner) {
        *inner = *pc;
        if (!call->body)
                return;
        const struct ka_pnode *body = call->body->body;
        const struct ka_pnode *k8s = NULL;
        for (size_t i = 0; i < body->n_kids; i++) {
                const struct ka_pnode *s = body->kids[i];
                const struct ka_pnode *c = s->kind == KA_PN_EXPR ? s->kids[0] : NULL;
                if (c && c->kind == KA_PN_CALL && !c->target && strcmp(c->name, "kubernetes") == 0) {
                        if (k8s)
                                error(r, c->line, c->col,
                                      "an agent can only be of one type: kubernetes is given twice");
                        else
                                k8s = c;
                }
        }
        if (k8s)
                kubernetes_agent(r, k8s, pc, inner);
}

static const struct ka_pnode *call_of(const struct ka_pnode *stmt, const char *name) {
        const struct ka_pnode *c = stmt->kind == KA_PN_EXPR ? stmt->kids[0] : NULL;
        return c && c->kind == KA_PN_CALL && !c->target && strcmp(c->name, name) == 0 ? c : NULL;
}

/* The body of `pipeline`, a `stage` or a `matrix`: its agent first (its
 * pod is the context of everything else in it), then the rest. */
static void section(struct reader *r, const struct ka_pnode *closure, const struct podctx *pc) {
        const struct ka_pnode *body = closure->body;
        const struct ka_pnode *agent = NULL;
        for (size_t i = 0; i < body->n_kids; i++) {
                const struct ka_pnode *c = call_of(body->kids[i], "agent");
                if (!c)
                        continue;
                if (agent)
                        error(r, c->line, c->col, "Multiple occurrences of the agent section");
                else
                        agent = c;
        }
        struct podctx inner = *pc;
        if (agent)
                agent_section(r, agent, pc, &inner);
        ka_scope_push(&r->ev, KA_SCOPE_PLAIN);
        for (size_t i = 0; i < body->n_kids; i++)
                if (!call_of(body->kids[i], "agent")) {
                        const struct ka_pnode *s = body->kids[i];
                        if (s->kind == KA_PN_EXPR)
                                walk_expr(r, s->kids[0], &inner, true);
                        else
                                walk_block(r, s, &inner, true);
                }
        ka_scope_pop(&r->ev);
}

/* ---- walking the script ---- */

static void walk_closure(struct reader *r, const struct ka_pnode *c, const struct podctx *pc, enum ka_scope_kind kind) {
        ka_scope_push(&r->ev, kind);
        for (size_t i = 0; i < c->n_ents; i++)
                ka_scope_declare(&r->ev, c->ents[i].key, NULL);
        walk_block(r, c->body, pc, false);
        ka_scope_pop(&r->ev);
}

/* Arguments of a call: closures given to a step run where they are written. */
static void walk_arg(struct reader *r, const struct ka_pnode *e, const struct podctx *pc) {
        if (e && e->kind == KA_PN_CLOSURE)
                walk_closure(r, e, pc, KA_SCOPE_CONDITIONAL);
        else
                walk_expr(r, e, pc, false);
}

static void walk_expr(struct reader *r, const struct ka_pnode *e, const struct podctx *pc, bool declarative) {
        if (!e)
                return;
        switch (e->kind) {
        case KA_PN_CALL:
                if (is_pod_template(e)) {
                        pod_template_step(r, e, pc);
                        return;
                }
                if (!e->target && e->body && strcmp(e->name, "pipeline") == 0) {
                        section(r, e->body, pc);
                        return;
                }
                if (declarative && !e->target && e->body &&
                    (strcmp(e->name, "stage") == 0 || strcmp(e->name, "matrix") == 0)) {
                        section(r, e->body, pc);
                        return;
                }
                if (declarative && !e->target && e->body &&
                    (strcmp(e->name, "stages") == 0 || strcmp(e->name, "parallel") == 0)) {
                        ka_scope_push(&r->ev, KA_SCOPE_PLAIN);
                        walk_block(r, e->body->body, pc, true);
                        ka_scope_pop(&r->ev);
                        return;
                }
                /* a method called on a variable may change it (list.add(x)) */
                if (e->target && e->target->kind == KA_PN_IDENT)
                        ka_scope_spoil(&r->ev, e->target->name);
                walk_expr(r, e->target, pc, false);
                for (size_t i = 0; i < e->n_kids; i++)
                        walk_arg(r, e->kids[i], pc);
                for (size_t i = 0; i < e->n_ents; i++)
                        walk_arg(r, e->ents[i].value, pc);
                if (e->body)
                        walk_closure(r, e->body, pc, KA_SCOPE_CONDITIONAL);
                return;
        case KA_PN_CLOSURE:
                /* kept somewhere: it may run later, or never */
                walk_closure(r, e, pc, KA_SCOPE_LATER);
                return;
        case KA_PN_ASSIGN: {
                walk_expr(r, e->kids[1], pc, false);
                const struct ka_pnode *target = e->kids[0];
                if (target->kind == KA_PN_IDENT) {
                        struct ka_val *v = strcmp(e->name, "=") == 0 ? ka_eval(&r->ev, e->kids[1]) : NULL;
                        ka_scope_assign(&r->ev, target->name, v);
                        return;
                }
                while (target && target->kind != KA_PN_IDENT)
                        target = target->kind == KA_PN_PROP || target->kind == KA_PN_CALL ? target->target
                                 : target->n_kids                                         ? target->kids[0]
                                                                                          : NULL;
                if (target)
                        ka_scope_spoil(&r->ev, target->name);
                walk_expr(r, e->kids[0], pc, false);
                return;
        }
        case KA_PN_OTHER:
                if (e->name && (strcmp(e->name, "++") == 0 || strcmp(e->name, "--") == 0) && e->n_kids == 1 &&
                    e->kids[0]->kind == KA_PN_IDENT)
                        ka_scope_spoil(&r->ev, e->kids[0]->name);
                break;
        default:
                break;
        }
        walk_expr(r, e->target, pc, false);
        for (size_t i = 0; i < e->n_kids; i++)
                walk_expr(r, e->kids[i], pc, false);
        for (size_t i = 0; i < e->n_ents; i++) {
                walk_expr(r, e->ents[i].key_expr, pc, false);
                walk_expr(r, e->ents[i].value, pc, false);
        }
}

static void walk_body(struct reader *r, const struct ka_pnode *s, const struct podctx *pc, bool declarative) {
        if (!s)
                return;
        ka_scope_push(&r->ev, KA_SCOPE_CONDITIONAL);
        walk_block(r, s, pc, declarative);
        ka_scope_pop(&r->ev);
}

static void walk_stmt(struct reader *r, const struct ka_pnode *s, const struct podctx *pc, bool declarative) {
        static const struct podctx none = {0};
        switch (s->kind) {
        case KA_PN_BLOCK:
                for (size_t i = 0; i < s->n_kids; i++)
                        walk_stmt(r, s->kids[i], pc, declarative);
                return;
        case KA_PN_EXPR:
                walk_expr(r, s->kids[0], pc, declarative);
                return;
        case KA_PN_DECL:
                if (s->flag) { /* def (a, b) = ... */
                        walk_expr(r, s->kids[0], pc, false);
                        for (size_t i = 0; i < s->n_ents; i++)
                                ka_scope_declare(&r->ev, s->ents[i].key, NULL);
                        return;
                }
                for (size_t i = 0; i < s->n_ents; i++) {
                        const struct ka_pnode *v = s->ents[i].value;
                        walk_expr(r, v, pc, false);
                        ka_scope_declare(&r->ev, s->ents[i].key, v ? ka_eval(&r->ev, v) : NULL);
                }
                return;
        case KA_PN_IF:
                walk_expr(r, s->kids[0], pc, false);
                walk_body(r, s->kids[1], pc, declarative);
                walk_body(r, s->kids[2], pc, declarative);
                return;
        case KA_PN_LOOP:
                for (size_t i = 0; i < s->n_ents; i++) /* the loop changes them */
                        ka_scope_assign(&r->ev, s->ents[i].key, NULL);
                for (size_t i = 0; i + 1 < s->n_kids; i++)
                        walk_expr(r, s->kids[i], pc, false);
                ka_scope_push(&r->ev, KA_SCOPE_CONDITIONAL);
                for (size_t i = 0; i < s->n_ents; i++)
                        ka_scope_declare(&r->ev, s->ents[i].key, NULL);
                walk_block(r, s->kids[s->n_kids - 1], pc, declarative);
                ka_scope_pop(&r->ev);
                return;
        case KA_PN_TRY:
                for (size_t i = 0; i < s->n_kids; i++) {
                        ka_scope_push(&r->ev, KA_SCOPE_CONDITIONAL);
                        for (size_t k = 0; i > 0 && k < s->n_ents; k++)
                                ka_scope_declare(&r->ev, s->ents[k].key, NULL);
                        walk_block(r, s->kids[i], pc, declarative);
                        ka_scope_pop(&r->ev);
                }
                return;
        case KA_PN_SWITCH:
                walk_expr(r, s->kids[0], pc, false);
                walk_body(r, s->kids[1], pc, declarative);
                return;
        case KA_PN_METHOD:
                /* a method runs whenever it is called: no enclosing template known */
                ka_scope_push(&r->ev, KA_SCOPE_METHOD);
                for (size_t i = 0; i < s->n_ents; i++)
                        ka_scope_declare(&r->ev, s->ents[i].key, NULL);
                walk_block(r, s->body, &none, false);
                ka_scope_pop(&r->ev);
                return;
        case KA_PN_JUMP:
                for (size_t i = 0; i < s->n_kids; i++)
                        walk_expr(r, s->kids[i], pc, false);
                return;
        default:
                walk_expr(r, s, pc, declarative);
                return;
        }
}

static void walk_block(struct reader *r, const struct ka_pnode *block, const struct podctx *pc, bool declarative) {
        walk_stmt(r, block, pc, declarative);
}

/* ---- entry points ---- */

/* The diagnostics from index `from` on, in the order of their places
 * (stable: the order found breaks ties). */
static void sort_diags(struct ka_diags *d, size_t from) {
        for (size_t i = from + 1; i < d->n; i++) {
                struct ka_diag x = d->v[i];
                size_t j = i;
                while (j > from &&
                       (d->v[j - 1].line > x.line || (d->v[j - 1].line == x.line && d->v[j - 1].col > x.col)))
                        d->v[j] = d->v[j - 1], j--;
                d->v[j] = x;
        }
}

static int cmp_blocks(const void *a, const void *b) {
        const struct ka_pipeline_block *x = a, *y = b;
        if (x->where.line != y->where.line)
                return x->where.line < y->where.line ? -1 : 1;
        if (x->where.col != y->where.col)
                return x->where.col < y->where.col ? -1 : 1;
        return 0;
}

static void free_blocks(struct ka_pipeline_block *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].cloud);
                free(v[i].label);
                free(v[i].default_container);
                cJSON_Delete(v[i].tmpl);
        }
        free(v);
}

/* Lex and parse; a refusal becomes a located error in diags. */
static int parse(struct reader *r, const char *text, size_t len, struct ka_pnode **root) {
        struct ka_tokens toks;
        struct ka_error err = {0};
        int k = ka_lex(text, len, r->file, r->arena, &toks, &err);
        if (k == 0)
                k = ka_parse(&toks, r->file, r->arena, root, &err);
        if (k == 0 && !ka_eval_init(&r->ev, text, r->arena, *root))
                k = ka_error_at(&err, r->file, 1, 1, -E2BIG, "script too large to read");
        if (k < 0)
                ka_diags_add(r->diags, KA_DIAG_ERROR, err.file, err.line, err.col, "%s", err.msg);
        return k;
}

static int finish(struct reader *r) {
        int k = 0;
        if (r->arena->full || r->too_big) {
                error(r, 1, 1, "script too large to read: its values would make more than %u nodes", MAX_TREE_NODES);
                k = -E2BIG;
        }
        ka_eval_fini(&r->ev);
        return k;
}

int ka_pipeline_read(const char *text, size_t len, const char *file, const struct ka_pipeline_options *opts,
                     struct ka_pipeline *ret, struct ka_diags *diags) {
        static const struct ka_pipeline_options defaults = {0};
        static const struct podctx none = {0};
        struct ka_arena arena = KA_ARENA_INIT(ARENA_MAX);
        struct ka_locmap *locs = ka_locmap_new();
        _cleanup_free_ char *dir = file ? ka_path_dirname(file) : NULL;
        struct reader r = {
                .text = text,
                .file = ka_locmap_intern(locs, file ? file : "Jenkinsfile"),
                .opts = opts ? opts : &defaults,
                .arena = &arena,
                .diags = diags,
                .first_diag = diags->n,
                .locs = locs,
        };
        r.base_dir = r.opts->base_dir ? r.opts->base_dir : dir;
        struct ka_pnode *root;
        size_t errors = diags->errors, first = diags->n;
        int k = parse(&r, text, len, &root);
        if (k == 0) {
                walk_block(&r, root, &none, false);
                k = finish(&r);
        }
        sort_diags(diags, first);
        ka_arena_free(&arena);
        if (k < 0) {
                free_blocks(r.blocks, r.n_blocks);
                ka_locmap_free(locs);
                return k;
        }
        if (r.n_blocks)
                qsort(r.blocks, r.n_blocks, sizeof(*r.blocks), cmp_blocks);
        *ret = (struct ka_pipeline){
                .file = ka_strdup(r.file), .blocks = r.blocks, .n_blocks = r.n_blocks, .locs = locs};
        return diags->errors > errors ? -EINVAL : 0;
}

int ka_pipeline_read_file(const char *path, const struct ka_pipeline_options *opts, struct ka_pipeline *ret,
                          struct ka_diags *diags) {
        char *data;
        size_t len;
        struct ka_error err = {0};
        if (ka_read_file(path, KA_PIPELINE_MAX_BYTES, &data, &len, &err) < 0) {
                ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0, "%s", err.msg);
                return err.code;
        }
        int k = ka_pipeline_read(data, len, path, opts, ret, diags);
        free(data);
        return k;
}

void ka_pipeline_free(struct ka_pipeline *p) {
        if (!p)
                return;
        free_blocks(p->blocks, p->n_blocks);
        ka_locmap_free(p->locs);
        free(p->file);
        memset(p, 0, sizeof(*p));
}

int ka_pipeline_template_from_call(const char *text, size_t len, const char *origin,
                                   const struct ka_pipeline_options *opts, struct ka_locmap *locs, cJSON **ret,
                                   struct ka_diags *diags) {
        static const struct ka_pipeline_options defaults = {0};
        static const struct podctx none = {0};
        struct ka_arena arena = KA_ARENA_INIT(ARENA_MAX);
        struct reader r = {
                .text = text,
                .file = ka_locmap_intern(locs, origin ? origin : "podTemplate"),
                .opts = opts ? opts : &defaults,
                .base_dir = opts ? opts->base_dir : NULL,
                .arena = &arena,
                .diags = diags,
                .first_diag = diags->n,
                .locs = locs,
                .one_call = true,
        };
        struct ka_pnode *root;
        size_t errors = diags->errors;
        int k = parse(&r, text, len, &root);
        if (k == 0) {
                const struct ka_pnode *call =
                        root->n_kids == 1 && root->kids[0]->kind == KA_PN_EXPR ? root->kids[0]->kids[0] : NULL;
                if (!call || !is_pod_template(call)) {
                        const struct ka_pnode *at = root->n_kids ? root->kids[0] : root;
                        error(&r, at->line ? at->line : 1, at->col ? at->col : 1,
                              "expected exactly one podTemplate(...) call");
                } else {
                        size_t n;
                        struct arg *args = call_args(&r, call, &n);
                        struct podctx inner;
                        build_block(&r, args, n, KA_PIPELINE_STEP, &none, call->line, call->col, errors, &inner);
                }
                k = finish(&r);
        }
        ka_arena_free(&arena);
        if (k == 0 && diags->errors > errors)
                k = -EINVAL;
        if (k == 0)
                *ret = KA_TAKE(r.blocks[0].tmpl);
        free_blocks(r.blocks, r.n_blocks);
        return k;
}
