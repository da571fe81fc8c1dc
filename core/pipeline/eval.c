#include "eval.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

struct var {
        const char *name;
        struct ka_val *v; /* NULL: unknown */
        bool binding;     /* a script binding variable (assigned without def at the top) */
        struct var *next;
};

struct ka_scope {
        struct ka_scope *up;
        struct var *vars;
        enum ka_scope_kind kind;
};

/* ---- names assigned more than once, or in methods ---- */

struct names {
        const char **v;
        size_t n, cap;
        unsigned *count;
};

static void note(struct names *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], name) == 0) {
                        s->count[i]++;
                        return;
                }
        if (s->n == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 16;
                s->v = ka_reallocarray(s->v, s->cap, sizeof(*s->v));
                s->count = ka_reallocarray(s->count, s->cap, sizeof(*s->count));
        }
        s->v[s->n] = name;
        s->count[s->n++] = 1;
}

static void collect(const struct ka_pnode *n, struct names *all, struct names *in_methods, bool in_method) {
        if (!n)
                return;
        if (n->kind == KA_PN_METHOD)
                in_method = true;
        if (n->kind == KA_PN_DECL)
                for (size_t i = 0; i < n->n_ents; i++)
                        note(all, n->ents[i].key);
        if (n->kind == KA_PN_LOOP)
                for (size_t i = 0; i < n->n_ents; i++)
                        note(all, n->ents[i].key);
        const struct ka_pnode *assigned = NULL;
        if (n->kind == KA_PN_ASSIGN && n->kids[0]->kind == KA_PN_IDENT)
                assigned = n->kids[0];
        if (n->kind == KA_PN_OTHER && n->n_kids == 1 && n->kids[0]->kind == KA_PN_IDENT && n->name &&
            (strcmp(n->name, "++") == 0 || strcmp(n->name, "--") == 0))
                assigned = n->kids[0];
        if (assigned) {
                note(all, assigned->name);
                if (in_method)
                        note(in_methods, assigned->name);
        }
        collect(n->target, all, in_methods, in_method);
        for (size_t i = 0; i < n->n_kids; i++)
                collect(n->kids[i], all, in_methods, in_method);
        for (size_t i = 0; i < n->n_ents; i++) {
                collect(n->ents[i].key_expr, all, in_methods, in_method);
                collect(n->ents[i].value, all, in_methods, in_method);
        }
        collect(n->body, all, in_methods, in_method);
}

/* The names (of s) counted at least `min` times, NULL-terminated, in the arena. */
static const char **keep(struct ka_arena *a, const struct names *s, unsigned min) {
        const char **v = ka_arena_array(a, s->n + 1, sizeof(*v));
        if (!v)
                return NULL;
        size_t k = 0;
        for (size_t i = 0; i < s->n; i++)
                if (s->count[i] >= min)
                        v[k++] = s->v[i];
        v[k] = NULL;
        return v;
}

bool ka_eval_init(struct ka_eval *ev, const char *text, struct ka_arena *arena, const struct ka_pnode *root) {
        struct names all = {0}, in_methods = {0};
        collect(root, &all, &in_methods, false);
        *ev = (struct ka_eval){.text = text, .arena = arena};
        ev->multi = keep(arena, &all, 2);
        ev->spoiled = keep(arena, &in_methods, 1);
        free(all.v);
        free(all.count);
        free(in_methods.v);
        free(in_methods.count);
        ka_scope_push(ev, KA_SCOPE_PLAIN);
        return ev->multi && ev->spoiled;
}

void ka_eval_fini(struct ka_eval *ev) {
        while (ev->scope)
                ka_scope_pop(ev);
}

/* ---- scopes ---- */

void ka_scope_push(struct ka_eval *ev, enum ka_scope_kind kind) {
        struct ka_scope *s = ka_new0(struct ka_scope, 1);
        s->up = ev->scope;
        s->kind = kind;
        ev->scope = s;
}

void ka_scope_pop(struct ka_eval *ev) {
        struct ka_scope *s = ev->scope;
        if (!s)
                return;
        while (s->vars) {
                struct var *v = s->vars;
                s->vars = v->next;
                free(v);
        }
        ev->scope = s->up;
        free(s);
}

static bool listed(const char *const *list, const char *name) {
        for (; list && *list; list++)
                if (strcmp(*list, name) == 0)
                        return true;
        return false;
}

static struct var *add_var(struct ka_scope *s, const char *name, struct ka_val *v, bool binding) {
        struct var *x = ka_new0(struct var, 1);
        x->name = name;
        x->v = v;
        x->binding = binding;
        x->next = s->vars;
        s->vars = x;
        return x;
}

/* The variable `name` as seen from the innermost scope; *known is false when
 * its value cannot be trusted from here. */
static struct var *lookup(struct ka_eval *ev, const char *name, bool *known) {
        bool later = false, method = false;
        for (struct ka_scope *s = ev->scope; s; s = s->up) {
                for (struct var *x = s->vars; x; x = x->next) {
                        if (strcmp(x->name, name) != 0 || (method && !x->binding))
                                continue;
                        *known = !(x->binding && listed(ev->spoiled, name)) && !(later && listed(ev->multi, name));
                        return x;
                }
                later = later || s->kind == KA_SCOPE_LATER || s->kind == KA_SCOPE_METHOD;
                method = method || s->kind == KA_SCOPE_METHOD;
        }
        return NULL;
}

void ka_scope_declare(struct ka_eval *ev, const char *name, struct ka_val *v) {
        add_var(ev->scope, name, v, false);
}

void ka_scope_assign(struct ka_eval *ev, const char *name, struct ka_val *v) {
        /* is any scope between here and the variable's own one not sure to run once, now? */
        bool unsure = false, method = false;
        struct ka_scope *s;
        for (s = ev->scope; s; s = s->up) {
                for (struct var *x = s->vars; x; x = x->next)
                        if (strcmp(x->name, name) == 0 && (!method || x->binding)) {
                                x->v = unsure ? NULL : v;
                                return;
                        }
                unsure = unsure || s->kind != KA_SCOPE_PLAIN;
                method = method || s->kind == KA_SCOPE_METHOD;
                if (!s->up)
                        break;
        }
        /* a new binding variable of the script */
        add_var(s, name, unsure ? NULL : v, true);
}

void ka_scope_spoil(struct ka_eval *ev, const char *name) {
        bool known;
        struct var *x = lookup(ev, name, &known);
        if (x)
                x->v = NULL;
}

/* ---- values ---- */

static struct ka_val *new_val(struct ka_eval *ev, enum ka_val_kind kind, unsigned line, unsigned col) {
        struct ka_val *v = ka_arena_alloc(ev->arena, sizeof(*v));
        if (v) {
                v->kind = kind;
                v->line = line;
                v->col = col;
                v->text_line = line;
                v->text_col = col;
        }
        return v;
}

const char *ka_eval_source(struct ka_eval *ev, const struct ka_pnode *n) {
        return ka_arena_strndup(ev->arena, ev->text + n->off, n->end - n->off);
}

static struct ka_val *runtime(struct ka_eval *ev, const struct ka_pnode *n) {
        struct ka_val *v = new_val(ev, KA_VAL_RUNTIME, n->line, n->col);
        if (v && !(v->src = ka_eval_source(ev, n)))
                return NULL;
        return v;
}

/* A string value being built: text and gaps. */
struct strb {
        struct ka_buf text;
        struct ka_gap *gaps;
        size_t n_gaps;
        bool too_long;
};

static void strb_text(struct strb *b, const char *s, size_t len) {
        if (ka_buf_append(&b->text, s, len) < 0)
                b->too_long = true;
}

static void strb_gap(struct strb *b, struct ka_gap g) {
        strb_text(b, g.text, strlen(g.text));
        b->gaps = ka_reallocarray(b->gaps, b->n_gaps + 1, sizeof(*b->gaps));
        b->gaps[b->n_gaps++] = g;
}

/* Finish into v (a STR); NULL when the arena is full.  Frees b. */
static struct ka_val *strb_finish(struct ka_eval *ev, struct strb *b, struct ka_val *v) {
        if (v && !b->too_long) {
                v->kind = KA_VAL_STR;
                v->len = b->text.len;
                v->s = ka_arena_strndup(ev->arena, b->text.data ? b->text.data : "", b->text.len);
                v->gaps = ka_arena_array(ev->arena, b->n_gaps, sizeof(*v->gaps));
                if (!v->s || !v->gaps)
                        v = NULL;
                else if (b->n_gaps)
                        memcpy(v->gaps, b->gaps, b->n_gaps * sizeof(*b->gaps));
                if (v)
                        v->n_gaps = b->n_gaps;
        }
        ka_buf_free(&b->text);
        free(b->gaps);
        return v;
}

/* The value of a Groovy integer literal ("0x1F", "1_000L", "017", "-3"). */
static bool int_literal(const char *spelling, int64_t *ret) {
        bool negative = spelling[0] == '-';
        if (negative)
                spelling++;
        char digits[64];
        size_t k = 0;
        for (const char *p = spelling; *p; p++) {
                if (*p == '_')
                        continue;
                if (k + 1 >= sizeof(digits))
                        return false;
                digits[k++] = *p;
        }
        digits[k] = 0;
        if (k && strchr("lLiIgG", digits[k - 1]))
                digits[--k] = 0;
        if (!k)
                return false;
        int base = 10;
        const char *d = digits;
        if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))
                base = 16, d += 2;
        else if (d[0] == '0' && (d[1] == 'b' || d[1] == 'B'))
                base = 2, d += 2;
        else if (d[0] == '0' && d[1])
                base = 8, d += 1;
        if (!*d)
                return false;
        uint64_t v = 0;
        for (; *d; d++) {
                int x;
                if (*d >= '0' && *d <= '9')
                        x = *d - '0';
                else if ((*d | 32) >= 'a' && (*d | 32) <= 'f')
                        x = (*d | 32) - 'a' + 10;
                else
                        return false;
                if (x >= base || v > (UINT64_MAX - (uint64_t)x) / (uint64_t)base)
                        return false;
                v = v * (uint64_t)base + (uint64_t)x;
        }
        if (v > INT64_MAX)
                return false;
        *ret = negative ? -(int64_t)v : (int64_t)v;
        return true;
}

bool ka_eval_int(const struct ka_val *v, int64_t *ret) {
        return v->kind == KA_VAL_NUM && int_literal(v->num, ret);
}

/* How a value reads inside a string, if it is known: "x", "12", "true". */
static bool as_text(struct ka_eval *ev, const struct ka_val *v, struct strb *b) {
        char num[32];
        int64_t i;
        switch (v->kind) {
        case KA_VAL_STR:
                strb_text(b, v->s, v->len);
                for (size_t k = 0; k < v->n_gaps; k++) {
                        b->gaps = ka_reallocarray(b->gaps, b->n_gaps + 1, sizeof(*b->gaps));
                        b->gaps[b->n_gaps++] = v->gaps[k];
                }
                return true;
        case KA_VAL_NUM:
                if (!int_literal(v->num, &i))
                        return false;
                snprintf(num, sizeof(num), "%lld", (long long)i);
                strb_text(b, num, strlen(num));
                return true;
        case KA_VAL_BOOL:
                strb_text(b, v->b ? "true" : "false", v->b ? 4 : 5);
                return true;
        case KA_VAL_NULL:
                strb_text(b, "null", 4);
                return true;
        default:
                (void)ev;
                return false;
        }
}

static bool is_simple_name(const char *s, size_t len) {
        if (!len || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '$' || c >= 0x80))
                        return false;
        }
        return true;
}

/* The value of a variable if it is known from here, else NULL. */
static const struct ka_val *variable(struct ka_eval *ev, const char *name) {
        bool known;
        struct var *x = lookup(ev, name, &known);
        return x && known ? x->v : NULL;
}

/* Where a literal string's text starts: its first line after the quote, or,
 * for text on several lines, column 1 of the quote's line (so that lines
 * 2.. keep their columns). */
static void place_text(struct ka_val *v, const struct ka_token *t) {
        v->text_line = t->line;
        v->text_col = memchr(v->s, '\n', v->len) ? 1 : t->col + t->quote;
}

static struct ka_val *eval_gstring(struct ka_eval *ev, const struct ka_pnode *n) {
        const struct ka_token *t = n->tok;
        struct strb b = {.text = KA_BUF_INIT(KA_PIPELINE_MAX_BYTES)};
        for (size_t i = 0; i < t->n_parts; i++) {
                const struct ka_gpart *g = &t->parts[i];
                if (!g->interp) {
                        strb_text(&b, g->text, g->len);
                        continue;
                }
                const char *s = g->text;
                size_t len = g->len;
                while (len && (*s == ' ' || *s == '\t'))
                        s++, len--;
                while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                        len--;
                const struct ka_val *v = NULL;
                if (is_simple_name(s, len)) {
                        char *name = ka_strndup(s, len);
                        v = variable(ev, name);
                        free(name);
                }
                if (v && as_text(ev, v, &b))
                        continue;
                char *text = g->braced ? ka_asprintf("${%.*s}", (int)g->len, g->text)
                                       : ka_asprintf("$%.*s", (int)g->len, g->text);
                const char *kept = ka_arena_strndup(ev->arena, text, strlen(text));
                free(text);
                if (!kept) {
                        b.too_long = true;
                        break;
                }
                strb_gap(&b, (struct ka_gap){.line = g->line, .col = g->col, .text = kept});
        }
        bool too_long = b.too_long;
        struct ka_val *v = strb_finish(ev, &b, new_val(ev, KA_VAL_STR, n->line, n->col));
        if (too_long)
                return runtime(ev, n);
        if (v)
                place_text(v, t);
        return v;
}

/* A line of a text: [start, end) without its '\n', `text` where its blanks end. */
struct line {
        size_t start, end, text;
};

/* The line at *i, moving *i past it; false at the end of the text. */
static bool next_line(const char *s, size_t len, size_t *i, struct line *l) {
        if (*i >= len)
                return false;
        l->start = l->end = *i;
        while (l->end < len && s[l->end] != '\n')
                l->end++;
        l->text = l->start;
        while (l->text < l->end &&
               (s[l->text] == ' ' || s[l->text] == '\t' || s[l->text] == '\r' || s[l->text] == '\f'))
                l->text++;
        *i = l->end + 1;
        return true;
}

/* Groovy's String.stripIndent(): the smallest indentation of the lines that
 * are not blank is removed from every line; blank lines become empty. */
static char *strip_indent(const char *s, size_t len, size_t *ret_len, size_t *ret_indent) {
        size_t indent = SIZE_MAX;
        struct line l;
        for (size_t i = 0; next_line(s, len, &i, &l);)
                if (l.text < l.end && l.text - l.start < indent)
                        indent = l.text - l.start;
        if (indent == SIZE_MAX)
                indent = 0;
        struct ka_buf b = KA_BUF_INIT(0);
        for (size_t i = 0; next_line(s, len, &i, &l);) {
                if (l.text < l.end)
                        ka_buf_append(&b, s + l.start + indent, l.end - l.start - indent);
                if (l.end < len)
                        ka_buf_putc(&b, '\n');
        }
        *ret_len = b.len;
        *ret_indent = indent;
        return b.data ? ka_buf_steal(&b) : ka_strdup("");
}

/* Groovy's String.stripMargin(): on each line, blanks then `|` are removed. */
static char *strip_margin(const char *s, size_t len, size_t *ret_len) {
        struct ka_buf b = KA_BUF_INIT(0);
        struct line l;
        for (size_t i = 0; next_line(s, len, &i, &l);) {
                if (l.text < l.end && s[l.text] == '|')
                        ka_buf_append(&b, s + l.text + 1, l.end - l.text - 1);
                else
                        ka_buf_append(&b, s + l.start, l.end - l.start);
                if (l.end < len)
                        ka_buf_putc(&b, '\n');
        }
        *ret_len = b.len;
        return b.data ? ka_buf_steal(&b) : ka_strdup("");
}

/* `'...'.stripIndent()` and friends. */
static struct ka_val *string_method(struct ka_eval *ev, const struct ka_pnode *n, const struct ka_val *str) {
        size_t len = 0, indent = 0;
        char *out;
        unsigned text_line = str->text_line, text_col = str->text_col;
        if (strcmp(n->name, "stripIndent") == 0) {
                out = strip_indent(str->s, str->len, &len, &indent);
                if (text_col == 1)
                        text_col += (unsigned)indent;
        } else if (strcmp(n->name, "stripMargin") == 0) {
                out = strip_margin(str->s, str->len, &len);
        } else if (strcmp(n->name, "trim") == 0) {
                size_t a = 0, z = str->len;
                while (a < z && (unsigned char)str->s[a] <= ' ') {
                        if (str->s[a] == '\n')
                                text_line++;
                        a++;
                }
                while (z > a && (unsigned char)str->s[z - 1] <= ' ')
                        z--;
                out = ka_strndup(str->s + a, z - a);
                len = z - a;
        } else if (strcmp(n->name, "toString") == 0) {
                out = ka_strndup(str->s, str->len);
                len = str->len;
        } else {
                return runtime(ev, n);
        }
        struct ka_val *v = new_val(ev, KA_VAL_STR, n->line, n->col);
        if (v) {
                *v = *str;
                v->line = n->line;
                v->col = n->col;
                v->s = ka_arena_strndup(ev->arena, out, len);
                v->len = len;
                v->text_line = text_line;
                v->text_col = text_col;
                if (!v->s)
                        v = NULL;
        }
        free(out);
        return v;
}

static struct ka_val *eval_plus(struct ka_eval *ev, const struct ka_pnode *n) {
        struct ka_val *l = ka_eval(ev, n->kids[0]), *r = ka_eval(ev, n->kids[1]);
        if (!l || !r)
                return NULL;
        bool l_str = l->kind == KA_VAL_STR, l_unknown = l->kind == KA_VAL_RUNTIME || l->kind == KA_VAL_CALL;
        if (!l_str && !(l_unknown && r->kind == KA_VAL_STR))
                return runtime(ev, n);
        struct strb b = {.text = KA_BUF_INIT(KA_PIPELINE_MAX_BYTES)};
        struct ka_val *parts[2] = {l, r};
        for (int k = 0; k < 2; k++) {
                struct ka_val *x = parts[k];
                if (as_text(ev, x, &b))
                        continue;
                if (x->kind != KA_VAL_RUNTIME && x->kind != KA_VAL_CALL) {
                        strb_finish(ev, &b, NULL);
                        return runtime(ev, n);
                }
                char *text = ka_asprintf("${%s}", x->src);
                const char *kept = ka_arena_strndup(ev->arena, text, strlen(text));
                free(text);
                if (!kept) {
                        strb_finish(ev, &b, NULL);
                        return NULL;
                }
                strb_gap(&b, (struct ka_gap){.line = x->line, .col = x->col, .text = kept});
        }
        bool too_long = b.too_long;
        struct ka_val *v = strb_finish(ev, &b, new_val(ev, KA_VAL_STR, n->line, n->col));
        if (too_long)
                return runtime(ev, n);
        if (v && l_str) {
                v->text_line = l->text_line;
                v->text_col = l->text_col;
        }
        return v;
}

/* Entries of a map literal or named arguments; false when a key is computed
 * from something not known before the build. */
static bool eval_entries(struct ka_eval *ev, const struct ka_pnode *n, struct ka_val *v, bool *full) {
        v->n_ents = n->n_ents;
        v->ents = ka_arena_array(ev->arena, n->n_ents, sizeof(*v->ents));
        if (!v->ents) {
                *full = true;
                return false;
        }
        for (size_t i = 0; i < n->n_ents; i++) {
                const struct ka_pentry *e = &n->ents[i];
                const char *key = e->key;
                if (!key && e->key_expr) {
                        struct ka_val *k = ka_eval(ev, e->key_expr);
                        if (!k) {
                                *full = true;
                                return false;
                        }
                        if (k->kind == KA_VAL_STR && k->n_gaps == 0 && strlen(k->s) == k->len)
                                key = k->s;
                }
                if (!key)
                        return false;
                struct ka_val *x = ka_eval(ev, e->value);
                if (!x) {
                        *full = true;
                        return false;
                }
                v->ents[i] = (struct ka_vent){.key = key, .line = e->line, .col = e->col, .v = x};
        }
        return true;
}

static bool eval_items(struct ka_eval *ev, const struct ka_pnode *n, struct ka_val *v) {
        v->n_items = n->n_kids;
        v->items = ka_arena_array(ev->arena, n->n_kids, sizeof(*v->items));
        if (!v->items)
                return false;
        for (size_t i = 0; i < n->n_kids; i++)
                if (!(v->items[i] = ka_eval(ev, n->kids[i])))
                        return false;
        return true;
}

struct ka_val *ka_eval_call(struct ka_eval *ev, const struct ka_pnode *n) {
        bool full = false;
        struct ka_val *v = new_val(ev, KA_VAL_CALL, n->line, n->col);
        if (!v || !(v->src = ka_eval_source(ev, n)))
                return NULL;
        v->name = n->name;
        v->body = n->body;
        if (!eval_items(ev, n, v))
                return NULL;
        if (!eval_entries(ev, n, v, &full))
                return full ? NULL : runtime(ev, n);
        return v;
}

struct ka_val *ka_eval(struct ka_eval *ev, const struct ka_pnode *n) {
        struct ka_val *v;
        bool full = false;
        switch (n->kind) {
        case KA_PN_NULL:
                return new_val(ev, KA_VAL_NULL, n->line, n->col);
        case KA_PN_BOOL:
                v = new_val(ev, KA_VAL_BOOL, n->line, n->col);
                if (v)
                        v->b = n->flag;
                return v;
        case KA_PN_NUMBER:
                v = new_val(ev, KA_VAL_NUM, n->line, n->col);
                if (v)
                        v->num = n->tok->text;
                return v;
        case KA_PN_STRING:
                v = new_val(ev, KA_VAL_STR, n->line, n->col);
                if (v) {
                        v->s = n->tok->text;
                        v->len = n->tok->len;
                        place_text(v, n->tok);
                }
                return v;
        case KA_PN_GSTRING:
                return eval_gstring(ev, n);
        case KA_PN_LIST:
                v = new_val(ev, KA_VAL_LIST, n->line, n->col);
                return v && eval_items(ev, n, v) ? v : NULL;
        case KA_PN_MAP:
                v = new_val(ev, KA_VAL_MAP, n->line, n->col);
                if (!v)
                        return NULL;
                if (!eval_entries(ev, n, v, &full))
                        return full ? NULL : runtime(ev, n);
                return v;
        case KA_PN_IDENT: {
                const struct ka_val *x = variable(ev, n->name);
                if (!x)
                        return runtime(ev, n);
                v = new_val(ev, x->kind, n->line, n->col);
                if (v) {
                        unsigned line = v->line, col = v->col;
                        *v = *x;
                        v->line = line;
                        v->col = col;
                }
                return v;
        }
        case KA_PN_CALL:
                if (n->target) {
                        struct ka_val *t = ka_eval(ev, n->target);
                        if (!t)
                                return NULL;
                        if (t->kind == KA_VAL_STR && !n->n_kids && !n->n_ents && !n->body)
                                return string_method(ev, n, t);
                        return runtime(ev, n);
                }
                return ka_eval_call(ev, n);
        case KA_PN_CLOSURE:
                v = new_val(ev, KA_VAL_CLOSURE, n->line, n->col);
                if (v)
                        v->body = n;
                return v;
        case KA_PN_BINARY:
                if (strcmp(n->name, "+") == 0)
                        return eval_plus(ev, n);
                return runtime(ev, n);
        case KA_PN_OTHER:
                /* a negative number */
                if (n->name && strcmp(n->name, "-") == 0 && n->n_kids == 1 && n->kids[0]->kind == KA_PN_NUMBER &&
                    n->kids[0]->tok->text[0] != '-') {
                        v = new_val(ev, KA_VAL_NUM, n->line, n->col);
                        char *neg = ka_asprintf("-%s", n->kids[0]->tok->text);
                        if (v && !(v->num = ka_arena_strndup(ev->arena, neg, strlen(neg))))
                                v = NULL;
                        free(neg);
                        return v;
                }
                return runtime(ev, n);
        default:
                return runtime(ev, n);
        }
}
