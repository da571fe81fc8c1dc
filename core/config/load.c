#include "load.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

struct ka_loc ka_load_where(const struct ka_loader *ld, const cJSON *node) {
        struct ka_loc l;
        ka_locmap_get(ld->locs, node, &l);
        return l;
}

struct ka_loc ka_load_key_where(const struct ka_loader *ld, const cJSON *node) {
        struct ka_loc l;
        ka_locmap_get_key(ld->locs, node, &l);
        return l;
}

struct kubeagent_config_source ka_load_source(const struct ka_loader *ld, const cJSON *node) {
        return ka_cfgsrc(node, ld->locs, ka_load_where(ld, node));
}

static void vdiag(const struct ka_loader *ld, enum ka_diag_severity sev, struct ka_loc l, const char *fmt, va_list ap) {
        ka_diags_vadd(ld->diags, sev, l.file, l.line, l.col, fmt, ap);
}

void ka_load_error(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vdiag(ld, KA_DIAG_ERROR, ka_load_where(ld, node), fmt, ap);
        va_end(ap);
}

void ka_load_key_error(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vdiag(ld, KA_DIAG_ERROR, ka_load_key_where(ld, node), fmt, ap);
        va_end(ap);
}

void ka_load_warn(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vdiag(ld, KA_DIAG_WARNING, ka_load_where(ld, node), fmt, ap);
        va_end(ap);
}

void ka_load_key_warn(const struct ka_loader *ld, const cJSON *node, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vdiag(ld, KA_DIAG_WARNING, ka_load_key_where(ld, node), fmt, ap);
        va_end(ap);
}

int ka_load_fill(const struct ka_loader *ld, const struct kubeagent_config_key *keys, const cJSON *node,
                 const char *const *manual, void *conf) {
        struct kubeagent_config_source src = ka_load_source(ld, node);
        return ka_cfgmap_fill(keys, &src, manual, conf, ld->diags);
}

void ka_load_normalize(char **s) {
        if (!*s)
                return;
        char *t = ka_strip(*s);
        free(*s);
        *s = *t ? t : NULL;
        if (!*s)
                free(t);
}

const cJSON *ka_load_int(const struct ka_loader *ld, const cJSON *obj, const char *key, const char *alt_key,
                         int64_t blank, int64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if ((!v || cJSON_IsNull(v)) && alt_key)
                v = cJSON_GetObjectItemCaseSensitive(obj, alt_key);
        *ret = blank;
        if (!v || cJSON_IsNull(v))
                return NULL;
        if (cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble) {
                *ret = (int64_t)v->valuedouble;
                return v;
        }
        if (cJSON_IsString(v)) {
                _cleanup_free_ char *s = ka_strip(v->valuestring);
                if (!*s)
                        return v;
                if (ka_parse_int64(s, ret) == 0)
                        return v;
                *ret = blank;
        }
        ka_load_error(ld, v, "\"%s\": expected an integer", v->string);
        return NULL;
}

int ka_load_describable(const struct ka_loader *ld, const cJSON *node, const char *what, bool bare_ok,
                        const char **ret_symbol, const cJSON **ret_body) {
        if (bare_ok && cJSON_IsString(node) && *node->valuestring) {
                *ret_symbol = node->valuestring;
                *ret_body = NULL;
                return 0;
        }
        if (!cJSON_IsObject(node) || !node->child || node->child->next) {
                ka_load_error(ld, node, "%s: expected a mapping with one key naming the type%s", what,
                              bare_ok ? " (or just the type's name)" : "");
                return -EINVAL;
        }
        *ret_symbol = node->child->string;
        *ret_body = node->child;
        return 0;
}

const cJSON *ka_load_list(const struct ka_loader *ld, const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!v || cJSON_IsNull(v))
                return NULL;
        if (!cJSON_IsArray(v)) {
                ka_load_error(ld, v, "\"%s\": expected a list", key);
                return NULL;
        }
        return v;
}

static const struct kubeagent_config_key keyval_keys[] = {
        {"key", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct ka_keyval, key), "the key"},
        {"value", KUBEAGENT_CFG_STRING, "", 0, offsetof(struct ka_keyval, value), "the value"},
        {0},
};

static const struct kubeagent_config_key name_keys[] = {
        {"name", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct ka_keyval, key), "the name"},
        {0},
};

static void keyval_free(struct ka_keyval *kv) {
        free(kv->key);
        free(kv->value);
        free(kv);
}

void ka_keyvals_free(struct ka_keyval **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                keyval_free(v[i]);
        free(v);
}

int ka_load_keyvals(const struct ka_loader *ld, const cJSON *list, bool name_only, const struct ka_template *tmpl,
                    struct ka_keyval ***ret, size_t *ret_n) {
        int r = 0;
        for (const cJSON *item = list ? list->child : NULL; item; item = item->next) {
                struct ka_keyval *kv = ka_new0(struct ka_keyval, 1);
                const struct kubeagent_config_key *keys = name_only ? name_keys : keyval_keys;
                if (ka_load_fill(ld, keys, item, NULL, kv) < 0) {
                        keyval_free(kv);
                        r = -EINVAL;
                        continue;
                }
                ka_load_normalize(&kv->key);
                if (!kv->key) {
                        ka_load_error(ld, item, "%s must not be empty", name_only ? "name" : "key");
                        keyval_free(kv);
                        r = -EINVAL;
                        continue;
                }
                /* the same key twice: the later one wins, in place */
                size_t i = 0;
                while (i < *ret_n && strcmp((*ret)[i]->key, kv->key) != 0)
                        i++;
                kv->from = (struct ka_origin){tmpl, ka_load_where(ld, item)};
                if (i < *ret_n) {
                        keyval_free((*ret)[i]);
                        (*ret)[i] = kv;
                } else {
                        KA_PUSH(*ret, *ret_n, kv);
                }
        }
        return r;
}

/* A bare `never` or `{never: {}}`. */
const struct kubeagent_plugin_handle *ka_load_retention(const struct ka_loader *ld, const cJSON *node,
                                                        char **ret_symbol) {
        const char *sym;
        const cJSON *body;
        if (ka_load_describable(ld, node, "podRetention", true, &sym, &body) < 0)
                return NULL;
        if (body && !cJSON_IsNull(body) && !(cJSON_IsObject(body) && !body->child)) {
                ka_load_error(ld, body, "podRetention \"%s\" takes no parameters", sym);
                return NULL;
        }
        const struct kubeagent_plugin_handle *p = ka_registry_find_symbol(ld->reg, KUBEAGENT_KIND_RETENTION, sym, NULL);
        if (!p) {
                struct ka_buf known = KA_BUF_INIT(0);
                for (size_t i = 0; i < ld->reg->n; i++) {
                        const struct kubeagent_plugin *d = ld->reg->v[i]->desc;
                        if (d->kind == KUBEAGENT_KIND_RETENTION)
                                ka_buf_printf(&known, "%s%s", known.len ? ", " : "", d->retention->symbols[0]);
                }
                ka_load_error(ld, body ? body : node, "unknown podRetention \"%s\" (known: %s)", sym,
                              known.len ? known.data : "none: no retention plugin is loaded");
                ka_buf_free(&known);
                return NULL;
        }
        *ret_symbol = ka_strdup(sym);
        return p;
}
