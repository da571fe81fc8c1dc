#include "cfgmap.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/fs.h"
#include "util/mem.h"
#include "util/secret.h"
#include "util/str.h"
#include "util/timeutil.h"
#include "yaml/yaml.h"

struct kubeagent_config_source ka_cfgsrc(const cJSON *node, const struct ka_locmap *locs, struct ka_loc fallback) {
        struct kubeagent_config_source s = {.node = node, .locs = locs, .where = fallback};
        struct ka_loc l;
        if (node && ka_locmap_get(locs, node, &l))
                s.where = l;
        return s;
}

struct ka_loc ka_cfgsrc_where(const struct kubeagent_config_source *src, const char *key) {
        const cJSON *n = key && cJSON_IsObject(src->node) ? cJSON_GetObjectItemCaseSensitive(src->node, key) : NULL;
        struct ka_loc l;
        if (n && ka_locmap_get_key(src->locs, n, &l))
                return l;
        return src->where;
}

const char *ka_cfgmap_type_name(enum kubeagent_config_type t) {
        switch (t) {
        case KUBEAGENT_CFG_STRING:
                return "string";
        case KUBEAGENT_CFG_BOOL:
                return "boolean";
        case KUBEAGENT_CFG_INT:
                return "integer";
        case KUBEAGENT_CFG_DURATION:
                return "duration";
        case KUBEAGENT_CFG_PATH:
                return "path";
        case KUBEAGENT_CFG_SECRET:
                return "secret";
        case KUBEAGENT_CFG_STRLIST:
                return "list of strings";
        case KUBEAGENT_CFG_JSON:
                return "any";
        }
        return "?";
}

static void *member(void *conf, const struct kubeagent_config_key *k) {
        return (char *)conf + k->offset;
}

static void set_unset(void *conf, const struct kubeagent_config_key *k) {
        if (k->flags & KUBEAGENT_CFG_IGNORED)
                return; /* not stored: its offset means nothing */
        switch (k->type) {
        case KUBEAGENT_CFG_BOOL:
                *(int *)member(conf, k) = -1;
                break;
        case KUBEAGENT_CFG_INT:
        case KUBEAGENT_CFG_DURATION:
                *(int64_t *)member(conf, k) = INT64_MIN;
                break;
        default:
                break;
        }
}

static void clear_one(void *conf, const struct kubeagent_config_key *k) {
        if (k->flags & KUBEAGENT_CFG_IGNORED)
                return;
        void *m = member(conf, k);
        switch (k->type) {
        case KUBEAGENT_CFG_STRING:
        case KUBEAGENT_CFG_PATH:
                free(*(char **)m);
                *(char **)m = NULL;
                break;
        case KUBEAGENT_CFG_SECRET:
                ka_secret_free(*(char **)m);
                *(char **)m = NULL;
                break;
        case KUBEAGENT_CFG_STRLIST:
                ka_strv_free(*(char ***)m);
                *(char ***)m = NULL;
                break;
        case KUBEAGENT_CFG_JSON:
                cJSON_Delete(*(cJSON **)m);
                *(cJSON **)m = NULL;
                break;
        default:
                break;
        }
        set_unset(conf, k);
}

/* The text of a scalar node, for types that accept any scalar. */
static char *scalar_text(const cJSON *v) {
        if (cJSON_IsString(v))
                return ka_strdup(v->valuestring);
        if (cJSON_IsBool(v))
                return ka_strdup(cJSON_IsTrue(v) ? "true" : "false");
        if (cJSON_IsNumber(v)) {
                if (v->valuedouble == (double)(int64_t)v->valuedouble)
                        return ka_asprintf("%lld", (long long)v->valuedouble);
                return ka_asprintf("%g", v->valuedouble);
        }
        return NULL;
}

static char **split_list(const char *s) {
        char **v = ka_new0(char *, 1);
        const char *p = s;
        while (*p) {
                size_t skip = strspn(p, ", \t\n");
                p += skip;
                size_t n = strcspn(p, ", \t\n");
                if (n) {
                        _cleanup_free_ char *item = ka_strndup(p, n);
                        v = ka_strv_push(v, item);
                }
                p += n;
        }
        return v;
}

/* Convert one value; on failure return a static description of what was expected. */
static const char *convert(const struct kubeagent_config_key *k, const cJSON *v, const char *base_dir, void *conf) {
        void *m = member(conf, k);
        switch (k->type) {
        case KUBEAGENT_CFG_STRING:
        case KUBEAGENT_CFG_SECRET:
        case KUBEAGENT_CFG_PATH: {
                char *s = scalar_text(v);
                if (!s)
                        return "a string";
                if (k->type == KUBEAGENT_CFG_PATH) {
                        char *r = ka_path_resolve(s, base_dir);
                        free(s);
                        s = r;
                }
                if (k->type == KUBEAGENT_CFG_SECRET)
                        ka_secret_register(s);
                *(char **)m = s;
                return NULL;
        }
        case KUBEAGENT_CFG_BOOL: {
                bool b;
                if (cJSON_IsBool(v))
                        b = cJSON_IsTrue(v);
                else if (!cJSON_IsString(v) || ka_parse_bool(v->valuestring, &b) < 0)
                        return "true or false";
                *(int *)m = b;
                return NULL;
        }
        case KUBEAGENT_CFG_INT: {
                int64_t i;
                if (cJSON_IsNumber(v)) {
                        if (v->valuedouble != (double)(int64_t)v->valuedouble)
                                return "an integer";
                        i = (int64_t)v->valuedouble;
                } else if (!cJSON_IsString(v) || ka_parse_int64(v->valuestring, &i) < 0)
                        return "an integer";
                *(int64_t *)m = i;
                return NULL;
        }
        case KUBEAGENT_CFG_DURATION: {
                int64_t ms;
                if (cJSON_IsNumber(v)) {
                        if (v->valuedouble < 0 || v->valuedouble > 9e15)
                                return "a duration (seconds, or e.g. \"500ms\", \"2s\", \"1m\")";
                        ms = (int64_t)(v->valuedouble * 1000);
                } else if (!cJSON_IsString(v) || ka_time_parse_duration(v->valuestring, 1000, &ms) < 0)
                        return "a duration (seconds, or e.g. \"500ms\", \"2s\", \"1m\")";
                *(int64_t *)m = ms;
                return NULL;
        }
        case KUBEAGENT_CFG_STRLIST: {
                if (cJSON_IsString(v)) {
                        *(char ***)m = split_list(v->valuestring);
                        return NULL;
                }
                if (!cJSON_IsArray(v))
                        return "a list of strings";
                char **list = ka_new0(char *, 1);
                for (const cJSON *c = v->child; c; c = c->next) {
                        _cleanup_free_ char *s = scalar_text(c);
                        if (!s) {
                                ka_strv_free(list);
                                return "a list of strings";
                        }
                        list = ka_strv_push(list, s);
                }
                *(char ***)m = list;
                return NULL;
        }
        case KUBEAGENT_CFG_JSON:
                *(cJSON **)m = cJSON_Duplicate(v, true);
                return NULL;
        }
        return "a known type";
}

static const struct kubeagent_config_key *find_key(const struct kubeagent_config_key *keys, const char *name) {
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++)
                if (strcmp(k->name, name) == 0)
                        return k;
        return NULL;
}

static void unknown_key(const struct kubeagent_config_key *keys, const char *name, struct ka_loc l,
                        struct ka_diags *diags) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                size_t d = ka_strdistance(name, k->name);
                if (d < best_d)
                        best_d = d, best = k->name;
        }
        if (best && best_d <= 2)
                ka_diags_add(diags, KA_DIAG_ERROR, l.file, l.line, l.col, "unknown key \"%s\" (did you mean \"%s\"?)",
                             name, best);
        else
                ka_diags_add(diags, KA_DIAG_ERROR, l.file, l.line, l.col, "unknown key \"%s\"", name);
}

int ka_cfgmap_fill(const struct kubeagent_config_key *keys, const struct kubeagent_config_source *src,
                   const char *const *ignore, void *conf, struct ka_diags *diags) {
        size_t errors_before = diags->errors;
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++)
                set_unset(conf, k);

        const cJSON *block = src->node;
        if (block && !cJSON_IsObject(block)) {
                ka_diags_add(diags, KA_DIAG_ERROR, src->where.file, src->where.line, src->where.col,
                             "expected a mapping of keys");
                block = NULL;
        }
        _cleanup_free_ char *base_dir = src->where.file ? ka_path_dirname(src->where.file) : NULL;

        for (const cJSON *v = block ? block->child : NULL; v; v = v->next) {
                struct ka_loc kl, vl;
                if (!ka_locmap_get_key(src->locs, v, &kl))
                        kl = src->where;
                if (!ka_locmap_get(src->locs, v, &vl))
                        vl = kl;
                bool skip = false;
                for (const char *const *i = ignore; i && *i; i++)
                        skip = skip || strcmp(*i, v->string) == 0;
                if (skip)
                        continue;
                const struct kubeagent_config_key *k = find_key(keys, v->string);
                if (!k) {
                        unknown_key(keys, v->string, kl, diags);
                        continue;
                }
                if (k->flags & KUBEAGENT_CFG_IGNORED) {
                        ka_diags_add(diags, KA_DIAG_WARNING, kl.file, kl.line, kl.col,
                                     "\"%s\" only has a meaning inside Jenkins; ignored", k->name);
                        continue;
                }
                if (k->flags & KUBEAGENT_CFG_DEPRECATED)
                        ka_diags_add(diags, KA_DIAG_WARNING, kl.file, kl.line, kl.col, "\"%s\" is deprecated", k->name);
                if (cJSON_IsNull(v))
                        continue;
                const char *expected = convert(k, v, base_dir, conf);
                if (expected)
                        ka_diags_add(diags, KA_DIAG_ERROR, vl.file, vl.line, vl.col, "\"%s\": expected %s", k->name,
                                     expected);
        }

        for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                const cJSON *v = block ? cJSON_GetObjectItemCaseSensitive(block, k->name) : NULL;
                if (v && !cJSON_IsNull(v))
                        continue;
                if (k->default_value) {
                        cJSON *d = ka_yaml_resolve_plain(k->default_value);
                        if (k->type == KUBEAGENT_CFG_STRING || k->type == KUBEAGENT_CFG_PATH ||
                            k->type == KUBEAGENT_CFG_SECRET) {
                                cJSON_Delete(d);
                                d = cJSON_CreateString(k->default_value);
                        }
                        const char *expected = convert(k, d, base_dir, conf);
                        cJSON_Delete(d);
                        if (expected)
                                ka_diags_add(diags, KA_DIAG_ERROR, NULL, 0, 0, "internal: default of \"%s\" is not %s",
                                             k->name, expected);
                } else if (k->flags & KUBEAGENT_CFG_REQUIRED) {
                        ka_diags_add(diags, KA_DIAG_ERROR, src->where.file, src->where.line, src->where.col,
                                     "missing required key \"%s\"", k->name);
                }
        }
        return diags->errors > errors_before ? -EINVAL : 0;
}

int ka_cfgmap_fill_err(const struct kubeagent_config_key *keys, const struct kubeagent_config_source *src, void *conf,
                       struct ka_error *err) {
        struct ka_diags d = {0};
        int r = ka_cfgmap_fill(keys, src, NULL, conf, &d);
        for (size_t i = 0; i < d.n; i++)
                if (d.v[i].severity == KA_DIAG_ERROR) {
                        ka_error_at(err, d.v[i].file, d.v[i].line, d.v[i].col, -EINVAL, "%s", d.v[i].msg);
                        break;
                }
        ka_diags_free(&d);
        return r;
}

void ka_cfgmap_clear(const struct kubeagent_config_key *keys, void *conf) {
        if (!conf)
                return;
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++)
                clear_one(conf, k);
}

static size_t type_size(enum kubeagent_config_type t) {
        switch (t) {
        case KUBEAGENT_CFG_BOOL:
                return sizeof(int);
        case KUBEAGENT_CFG_INT:
        case KUBEAGENT_CFG_DURATION:
                return sizeof(int64_t);
        default:
                return sizeof(void *);
        }
}

int ka_cfgmap_check_table(const struct kubeagent_config_key *keys, size_t conf_size, struct ka_error *err) {
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                if (k->type < KUBEAGENT_CFG_STRING || k->type > KUBEAGENT_CFG_JSON)
                        return ka_error_set(err, -EINVAL, "config key \"%s\" has an unknown type %d", k->name,
                                            (int)k->type);
                if (!(k->flags & KUBEAGENT_CFG_IGNORED) && k->offset + type_size(k->type) > conf_size)
                        return ka_error_set(err, -EINVAL, "config key \"%s\" lies outside the %zu-byte config struct",
                                            k->name, conf_size);
                if (find_key(keys, k->name) != k)
                        return ka_error_set(err, -EINVAL, "config key \"%s\" is declared twice", k->name);
        }
        return 0;
}

void ka_cfgmap_print_help(const struct kubeagent_config_key *keys, const char *indent, FILE *f) {
        size_t w = 0;
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++)
                w = KA_MAX(w, strlen(k->name));
        for (const struct kubeagent_config_key *k = keys; k && k->name; k++) {
                fprintf(f, "%s%-*s  %-15s", indent, (int)w, k->name, ka_cfgmap_type_name(k->type));
                if (k->flags & KUBEAGENT_CFG_REQUIRED)
                        fprintf(f, "  required");
                else if (k->default_value)
                        fprintf(f, "  default: %s", k->default_value);
                if (k->flags & KUBEAGENT_CFG_IGNORED)
                        fprintf(f, "  (Jenkins only, ignored)");
                if (k->flags & KUBEAGENT_CFG_DEPRECATED)
                        fprintf(f, "  (deprecated)");
                if (k->description)
                        fprintf(f, "\n%s%*s  %s", indent, (int)w, "", k->description);
                fputc('\n', f);
        }
}
