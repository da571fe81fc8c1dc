#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/error.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/str.h"
#include "yaml.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
        char *name;
        const cJSON *node;
};

struct parser {
        yaml_parser_t yp;
        const char *file; /* interned in locs, or the origin's */
        unsigned line_offset, col_offset;
        struct ka_locmap *locs;
        struct anchor *anchors;
        size_t n_anchors;
        size_t nodes;
        unsigned depth;
        cJSON *graveyard; /* merge sources: anchors may point into them */
        struct ka_error *err;
};

static struct ka_loc loc_of(const struct parser *p, yaml_mark_t m) {
        return (struct ka_loc){.file = p->file,
                               .line = (unsigned)m.line + 1 + p->line_offset,
                               .col = (unsigned)m.column + 1 + p->col_offset};
}

static int fail_at(struct parser *p, yaml_mark_t m, int code, const char *fmt, ...) KA_PRINTF(4, 5);
static int fail_at(struct parser *p, yaml_mark_t m, int code, const char *fmt, ...) {
        struct ka_loc l = loc_of(p, m);
        va_list ap;
        va_start(ap, fmt);
        ka_error_vat(p->err, p->file, l.line, l.col, code, fmt, ap);
        va_end(ap);
        return code;
}

static int next_event(struct parser *p, yaml_event_t *ev) {
        if (yaml_parser_parse(&p->yp, ev))
                return 0;
        yaml_mark_t m = p->yp.problem_mark;
        if (p->yp.context)
                return fail_at(p, m, -EBADMSG, "%s %s", p->yp.problem ? p->yp.problem : "invalid YAML", p->yp.context);
        return fail_at(p, m, -EBADMSG, "%s", p->yp.problem ? p->yp.problem : "invalid YAML");
}

static int count_node(struct parser *p, size_t n, yaml_mark_t m) {
        p->nodes += n;
        if (p->nodes > KA_YAML_MAX_NODES)
                return fail_at(p, m, -E2BIG, "document too large: more than %u nodes after expanding aliases",
                               KA_YAML_MAX_NODES);
        return 0;
}

static size_t tree_size(const cJSON *n) {
        size_t s = 1;
        for (const cJSON *c = n->child; c; c = c->next)
                s += tree_size(c);
        return s;
}

/* ---- plain scalar resolution (YAML 1.1, as go-yaml v2 and SnakeYAML) ---- */

static bool in_list(const char *s, const char *const *list) {
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const trues[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
static const char *const falses[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};

/* Integer forms: [-+]? then 0b..., 0x..., 0o..., 0... (octal), or decimal;
 * underscores allowed between digits.  Returns false when not an integer. */
static bool parse_int(const char *s, double *ret) {
        int sign = 1;
        if (*s == '-' || *s == '+')
                sign = *s++ == '-' ? -1 : 1;
        int base = 10;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                base = 16, s += 2;
        else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
                base = 2, s += 2;
        else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
                base = 8, s += 2;
        else if (s[0] == '0' && s[1])
                base = 8, s += 1;
        if (!*s || *s == '_')
                return false;
        double v = 0;
        for (; *s; s++) {
                if (*s == '_')
                        continue;
                int d;
                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        return false;
                if (d >= base)
                        return false;
                v = v * base + d;
        }
        *ret = sign * v;
        return true;
}

/* Float: [-+]?(digits)?.digits([eE][-+]?digits)? or digits[eE]... */
static bool parse_float(const char *s, double *ret) {
        const char *p = s;
        if (*p == '-' || *p == '+')
                p++;
        bool digits = false, dot = false, exp = false;
        for (; *p; p++) {
                if ((*p >= '0' && *p <= '9') || (*p == '_' && digits))
                        digits = true;
                else if (*p == '.' && !dot && !exp)
                        dot = true;
                else if ((*p == 'e' || *p == 'E') && digits && !exp) {
                        exp = true;
                        if (p[1] == '-' || p[1] == '+')
                                p++;
                        if (!(p[1] >= '0' && p[1] <= '9'))
                                return false;
                } else
                        return false;
        }
        if (!digits || (!dot && !exp))
                return false;
        char clean[128];
        size_t n = 0;
        for (p = s; *p && n + 1 < sizeof(clean); p++)
                if (*p != '_')
                        clean[n++] = *p;
        clean[n] = '\0';
        char *end;
        double v = strtod(clean, &end);
        if (*end || !isfinite(v))
                return false;
        *ret = v;
        return true;
}

cJSON *ka_yaml_resolve_plain(const char *s) {
        double v;
        if (in_list(s, nulls))
                return cJSON_CreateNull();
        if (in_list(s, trues))
                return cJSON_CreateTrue();
        if (in_list(s, falses))
                return cJSON_CreateFalse();
        if (strlen(s) < 64 && (parse_int(s, &v) || parse_float(s, &v)))
                return cJSON_CreateNumber(v);
        return cJSON_CreateString(s);
}

static int scalar_node(struct parser *p, yaml_event_t *ev, cJSON **ret) {
        const char *value = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (strlen(value) != ev->data.scalar.length)
                return fail_at(p, ev->start_mark, -EBADMSG, "NUL byte in a scalar");
        if (!tag || strcmp(tag, "!") == 0) {
                bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag;
                *ret = plain ? ka_yaml_resolve_plain(value) : cJSON_CreateString(value);
                return 0;
        }
        if (!ka_startswith(tag, TAG_PREFIX))
                return fail_at(p, ev->start_mark, -EBADMSG, "unsupported tag \"%s\"", tag);
        const char *t = tag + strlen(TAG_PREFIX);
        cJSON *r = NULL;
        if (strcmp(t, "str") == 0)
                r = cJSON_CreateString(value);
        else if (strcmp(t, "null") == 0 || strcmp(t, "bool") == 0 || strcmp(t, "int") == 0 || strcmp(t, "float") == 0) {
                r = ka_yaml_resolve_plain(value);
                bool ok = (t[0] == 'n' && cJSON_IsNull(r)) || (t[0] == 'b' && cJSON_IsBool(r)) ||
                          ((t[0] == 'i' || t[0] == 'f') && cJSON_IsNumber(r));
                if (!ok) {
                        cJSON_Delete(r);
                        return fail_at(p, ev->start_mark, -EBADMSG, "\"%s\" is not a valid !!%s", value, t);
                }
        } else
                return fail_at(p, ev->start_mark, -EBADMSG, "unsupported tag \"!!%s\" on a scalar", t);
        *ret = r;
        return 0;
}

static int parse_node(struct parser *p, yaml_event_t *ev, cJSON **ret);

/* Free a tree the locmap may know, so its addresses cannot be mistaken for
 * nodes allocated later. */
static void discard(struct ka_locmap *locs, cJSON *node) {
        ka_locmap_forget_tree(locs, node);
        cJSON_Delete(node);
}

static const cJSON *find_anchor(struct parser *p, const char *name) {
        for (size_t i = p->n_anchors; i-- > 0;)
                if (strcmp(p->anchors[i].name, name) == 0)
                        return p->anchors[i].node;
        return NULL;
}

static void add_anchor(struct parser *p, const char *name, const cJSON *node) {
        p->anchors = ka_reallocarray(p->anchors, p->n_anchors + 1, sizeof(*p->anchors));
        p->anchors[p->n_anchors++] = (struct anchor){.name = ka_strdup(name), .node = node};
}

/* Apply `<<` merges: members of the merged mappings that the mapping does not
 * define itself, earlier merge sources winning over later ones. */
static int apply_merge(struct parser *p, cJSON *map, cJSON *src, yaml_mark_t m) {
        cJSON *sources = cJSON_IsArray(src) ? src : NULL;
        for (cJSON *s = sources ? sources->child : src; s; s = sources ? s->next : NULL) {
                if (!cJSON_IsObject(s))
                        return fail_at(p, m, -EBADMSG, "a << merge key needs a mapping or a list of mappings");
                for (cJSON *c = s->child; c; c = c->next) {
                        if (cJSON_GetObjectItemCaseSensitive(map, c->string))
                                continue;
                        cJSON *copy = cJSON_Duplicate(c, true);
                        ka_locmap_copy_tree(p->locs, c, copy);
                        cJSON_AddItemToObject(map, c->string, copy);
                }
        }
        return 0;
}

static int mapping_node(struct parser *p, cJSON **ret) {
        cJSON *map = cJSON_CreateObject(), *merges = cJSON_CreateArray();
        yaml_mark_t merge_mark = {0};
        int r = 0;
        for (;;) {
                yaml_event_t kev;
                if ((r = next_event(p, &kev)) < 0)
                        break;
                if (kev.type == YAML_MAPPING_END_EVENT) {
                        yaml_event_delete(&kev);
                        break;
                }
                if (kev.type != YAML_SCALAR_EVENT) {
                        r = fail_at(p, kev.start_mark, -EBADMSG,
                                    kev.type == YAML_ALIAS_EVENT ? "an alias cannot be a mapping key"
                                                                 : "only scalars can be mapping keys");
                        yaml_event_delete(&kev);
                        break;
                }
                _cleanup_free_ char *key = ka_strdup((const char *)kev.data.scalar.value);
                bool is_merge = strcmp(key, "<<") == 0 && kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                struct ka_loc key_loc = loc_of(p, kev.start_mark);
                yaml_mark_t key_mark = kev.start_mark;
                yaml_event_delete(&kev);

                yaml_event_t vev;
                if ((r = next_event(p, &vev)) < 0)
                        break;
                struct ka_loc value_loc = loc_of(p, vev.start_mark);
                cJSON *value = NULL;
                if ((r = parse_node(p, &vev, &value)) < 0)
                        break;
                if (is_merge) {
                        merge_mark = key_mark;
                        cJSON_AddItemToArray(merges, value);
                        continue;
                }
                const cJSON *prev = cJSON_GetObjectItemCaseSensitive(map, key);
                if (prev) {
                        struct ka_loc pl;
                        ka_locmap_get_key(p->locs, prev, &pl);
                        discard(p->locs, value);
                        r = fail_at(p, key_mark, -EBADMSG, "duplicate key \"%s\" (first defined at line %u)", key,
                                    pl.line);
                        break;
                }
                cJSON_AddItemToObject(map, key, value);
                ka_locmap_set(p->locs, value, value_loc, key_loc);
        }
        if (r == 0)
                for (cJSON *m = merges->child; m && r == 0; m = m->next)
                        r = apply_merge(p, map, m, merge_mark);
        cJSON_AddItemToArray(p->graveyard, merges);
        if (r < 0) {
                discard(p->locs, map);
                return r;
        }
        *ret = map;
        return 0;
}

static int sequence_node(struct parser *p, cJSON **ret) {
        cJSON *seq = cJSON_CreateArray();
        for (;;) {
                yaml_event_t ev;
                int r = next_event(p, &ev);
                if (r < 0) {
                        discard(p->locs, seq);
                        return r;
                }
                if (ev.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                cJSON *item = NULL;
                if ((r = parse_node(p, &ev, &item)) < 0) {
                        discard(p->locs, seq);
                        return r;
                }
                cJSON_AddItemToArray(seq, item);
        }
        *ret = seq;
        return 0;
}

/* Consumes *ev. */
static int parse_node(struct parser *p, yaml_event_t *ev, cJSON **ret) {
        int r;
        const char *anchor = NULL;
        cJSON *node = NULL;
        yaml_mark_t start = ev->start_mark;

        if ((r = count_node(p, 1, start)) < 0)
                goto out;
        if (++p->depth > KA_YAML_MAX_DEPTH) {
                r = fail_at(p, start, -E2BIG, "nesting deeper than %u levels", KA_YAML_MAX_DEPTH);
                goto out;
        }
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                anchor = (const char *)ev->data.scalar.anchor;
                r = scalar_node(p, ev, &node);
                break;
        case YAML_SEQUENCE_START_EVENT:
                anchor = (const char *)ev->data.sequence_start.anchor;
                r = sequence_node(p, &node);
                break;
        case YAML_MAPPING_START_EVENT:
                anchor = (const char *)ev->data.mapping_start.anchor;
                r = mapping_node(p, &node);
                break;
        case YAML_ALIAS_EVENT: {
                const char *name = (const char *)ev->data.alias.anchor;
                const cJSON *target = find_anchor(p, name);
                if (!target) {
                        r = fail_at(p, start, -EBADMSG, "unknown anchor \"%s\"", name);
                        break;
                }
                if ((r = count_node(p, tree_size(target), start)) < 0)
                        break;
                node = cJSON_Duplicate(target, true);
                ka_locmap_copy_tree(p->locs, target, node);
                break;
        }
        default:
                r = fail_at(p, start, -EBADMSG, "unexpected YAML event");
        }
        p->depth--;
        if (r == 0) {
                ka_locmap_set(p->locs, node, loc_of(p, start), (struct ka_loc){0});
                if (anchor)
                        add_anchor(p, anchor, node);
                *ret = node;
        }
out:
        yaml_event_delete(ev);
        return r;
}

static int parse_stream(const char *text, size_t len, const struct ka_yaml_origin *origin, struct ka_locmap *locs,
                        bool all, cJSON **ret, struct ka_error *err) {
        const char *file = origin && origin->file ? origin->file : "<input>";
        if (len > KA_YAML_MAX_BYTES)
                return ka_error_at(err, file, 0, 0, -E2BIG, "larger than %u bytes", KA_YAML_MAX_BYTES);
        /* positions are needed for our own messages even when the caller
         * does not keep them */
        struct ka_locmap *own = locs ? NULL : ka_locmap_new();
        if (own)
                locs = own;
        struct parser p = {
                .file = ka_locmap_intern(locs, file),
                .line_offset = origin ? origin->line_offset : 0,
                .col_offset = origin ? origin->col_offset : 0,
                .locs = locs,
                .err = err,
                .graveyard = cJSON_CreateArray(),
        };
        if (!yaml_parser_initialize(&p.yp))
                return ka_error_set(err, -ENOMEM, "cannot initialise the YAML parser");
        yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);

        cJSON *docs = cJSON_CreateArray();
        int r = 0;
        bool done = false;
        while (!done && r == 0) {
                yaml_event_t ev;
                if ((r = next_event(&p, &ev)) < 0)
                        break;
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        yaml_event_delete(&ev);
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (!all && cJSON_GetArraySize(docs) > 0)
                                r = fail_at(&p, ev.start_mark, -EBADMSG,
                                            "expected a single YAML document, found a second one");
                        yaml_event_delete(&ev);
                        break;
                case YAML_STREAM_START_EVENT:
                case YAML_DOCUMENT_END_EVENT:
                        yaml_event_delete(&ev);
                        break;
                default: {
                        cJSON *node = NULL;
                        if ((r = parse_node(&p, &ev, &node)) == 0)
                                cJSON_AddItemToArray(docs, node);
                }
                }
        }
        for (size_t i = 0; i < p.n_anchors; i++)
                free(p.anchors[i].name);
        free(p.anchors);
        discard(locs, p.graveyard);
        yaml_parser_delete(&p.yp);
        if (own) {
                /* the tree outlives our private map: nothing to forget */
                ka_locmap_free(own);
                locs = NULL;
        }
        if (r < 0) {
                discard(locs, docs);
                return r;
        }
        if (all) {
                /* drop empty documents, as kubectl does */
                for (cJSON *d = docs->child, *next; d; d = next) {
                        next = d->next;
                        if (cJSON_IsNull(d))
                                discard(locs, cJSON_DetachItemViaPointer(docs, d));
                }
                *ret = docs;
                return 0;
        }
        cJSON *only = docs->child ? cJSON_DetachItemFromArray(docs, 0) : NULL;
        cJSON_Delete(docs);
        if (only && cJSON_IsNull(only)) {
                discard(locs, only);
                only = NULL;
        }
        *ret = only;
        return 0;
}

int ka_yaml_parse(const char *text, size_t len, const struct ka_yaml_origin *origin, struct ka_locmap *locs,
                  cJSON **ret, struct ka_error *err) {
        return parse_stream(text, len, origin, locs, false, ret, err);
}

int ka_yaml_parse_all(const char *text, size_t len, const struct ka_yaml_origin *origin, struct ka_locmap *locs,
                      cJSON **ret_array, struct ka_error *err) {
        return parse_stream(text, len, origin, locs, true, ret_array, err);
}

int ka_yaml_load_file(const char *path, struct ka_locmap *locs, cJSON **ret, struct ka_error *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = ka_read_file(path, KA_YAML_MAX_BYTES, &text, &len, err);
        if (r < 0)
                return r;
        struct ka_yaml_origin o = {.file = path};
        return ka_yaml_parse(text, len, &o, locs, ret, err);
}
