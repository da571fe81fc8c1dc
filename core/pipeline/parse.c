#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ast.h"
#include "util/str.h"

#define MAX_NODES 400000u

struct parser {
        const struct ka_token *t;
        size_t n, i;
        const char *file;
        struct ka_arena *arena;
        struct ka_error *err;
        unsigned depth;
        size_t nodes;
        bool nl_sig; /* line breaks end statements here (not inside ( ) or [ ]) */
        bool failed;
};

/* ---- tokens ---- */

static const struct ka_token *cur(const struct parser *p) {
        return &p->t[p->i];
}

static const struct ka_token *ahead(const struct parser *p, size_t k) {
        return &p->t[KA_MIN(p->i + k, p->n - 1)];
}

static const struct ka_token *prev(const struct parser *p) {
        return &p->t[p->i ? p->i - 1 : 0];
}

static void next(struct parser *p) {
        if (p->i + 1 < p->n)
                p->i++;
}

static bool is(const struct parser *p, const char *op) {
        return ka_tok_is(cur(p), op);
}

static bool word(const struct parser *p, const char *w) {
        return ka_tok_word(cur(p), w);
}

/* The current token starts a new line where that ends a statement. */
static bool nl(const struct parser *p) {
        return p->nl_sig && cur(p)->nl_before;
}

static bool accept(struct parser *p, const char *op) {
        if (!is(p, op))
                return false;
        next(p);
        return true;
}

static void *fail_at(struct parser *p, const struct ka_token *t, const char *fmt, ...) KA_PRINTF(3, 4);
static void *fail_at(struct parser *p, const struct ka_token *t, const char *fmt, ...) {
        if (!p->failed) {
                va_list ap;
                va_start(ap, fmt);
                ka_error_vat(p->err, p->file, t->line, t->col, -EBADMSG, fmt, ap);
                va_end(ap);
                p->failed = true;
        }
        return NULL;
}

static void *unexpected(struct parser *p, const char *expected) {
        char d[64];
        ka_tok_describe(cur(p), d, sizeof(d));
        if (expected)
                return fail_at(p, cur(p), "unexpected %s; expected %s", d, expected);
        return fail_at(p, cur(p), "unexpected %s", d);
}

static bool expect(struct parser *p, const char *op, const char *expected) {
        if (accept(p, op))
                return true;
        unexpected(p, expected);
        return false;
}

static void *out_of_room(struct parser *p) {
        if (!p->failed) {
                ka_error_at(p->err, p->file, cur(p)->line, cur(p)->col, -E2BIG,
                            "script too large to read (more than %zu bytes of syntax tree)", p->arena->max);
                p->failed = true;
        }
        return NULL;
}

static bool enter(struct parser *p) {
        if (++p->depth <= KA_PIPELINE_MAX_DEPTH)
                return true;
        if (!p->failed) {
                ka_error_at(p->err, p->file, cur(p)->line, cur(p)->col, -E2BIG, "nested more than %u levels deep",
                            KA_PIPELINE_MAX_DEPTH);
                p->failed = true;
        }
        return false;
}

static void leave(struct parser *p) {
        p->depth--;
}

/* ---- nodes and growing arrays ---- */

static struct ka_pnode *node(struct parser *p, enum ka_pn_kind kind, const struct ka_token *at) {
        if (++p->nodes > MAX_NODES) {
                if (!p->failed)
                        ka_error_at(p->err, p->file, at->line, at->col, -E2BIG,
                                    "script too large: more than %u syntax nodes", MAX_NODES);
                p->failed = true;
                return NULL;
        }
        struct ka_pnode *n = ka_arena_alloc(p->arena, sizeof(*n));
        if (!n)
                return out_of_room(p);
        n->kind = kind;
        n->line = at->line;
        n->col = at->col;
        n->off = at->off;
        n->end = at->end;
        return n;
}

static void finish(struct parser *p, struct ka_pnode *n) {
        if (n && prev(p)->end > n->end)
                n->end = prev(p)->end;
}

/* Append to an arena array that doubles as it grows. */
static bool grow(struct parser *p, void **v, size_t n, size_t *cap, size_t size) {
        if (n < *cap)
                return true;
        size_t nc = *cap ? *cap * 2 : 4;
        void *nv = ka_arena_array(p->arena, nc, size);
        if (!nv) {
                out_of_room(p);
                return false;
        }
        if (n)
                memcpy(nv, *v, n * size);
        *v = nv;
        *cap = nc;
        return true;
}

struct kids {
        struct ka_pnode **v;
        size_t n, cap;
};

static bool push_kid(struct parser *p, struct kids *k, struct ka_pnode *kid) {
        if (!grow(p, (void **)&k->v, k->n, &k->cap, sizeof(*k->v)))
                return false;
        k->v[k->n++] = kid;
        return true;
}

struct ents {
        struct ka_pentry *v;
        size_t n, cap;
};

static bool push_ent(struct parser *p, struct ents *e, struct ka_pentry ent) {
        if (!grow(p, (void **)&e->v, e->n, &e->cap, sizeof(*e->v)))
                return false;
        e->v[e->n++] = ent;
        return true;
}

static void set_kids(struct ka_pnode *n, struct kids *k) {
        n->kids = k->v;
        n->n_kids = k->n;
}

static void set_ents(struct ka_pnode *n, struct ents *e) {
        n->ents = e->v;
        n->n_ents = e->n;
}

/* Give a statement node its parts (n NULL or a part NULL for "failed"; a
 * missing else is passed as the literal NULL and `optional_last`). */
static struct ka_pnode *with_kids(struct parser *p, struct ka_pnode *n, size_t count, struct ka_pnode *const *parts,
                                  bool optional_last) {
        struct kids k = {0};
        for (size_t i = 0; n && i < count; i++)
                if ((!parts[i] && !(optional_last && i + 1 == count)) || !push_kid(p, &k, parts[i]))
                        return NULL;
        if (!n)
                return NULL;
        set_kids(n, &k);
        finish(p, n);
        return n;
}

static struct ka_pnode *wrap(struct parser *p, enum ka_pn_kind kind, const char *name, const struct ka_token *at,
                             struct ka_pnode *a, struct ka_pnode *b) {
        struct ka_pnode *n = node(p, kind, at);
        struct kids k = {0};
        if (!n || (a && !push_kid(p, &k, a)) || (b && !push_kid(p, &k, b)))
                return NULL;
        n->name = name;
        set_kids(n, &k);
        if (a && a->off < n->off) {
                n->off = a->off;
                n->line = a->line;
                n->col = a->col;
        }
        finish(p, n);
        return n;
}

/* ---- words ---- */

static bool in_set(const char *s, const char *const *set) {
        for (; *set; set++)
                if ((*set)[0] == s[0] && strcmp(s, *set) == 0)
                        return true;
        return false;
}

static const char *const modifiers[] = {"public", "protected",    "private",   "static",   "final",    "abstract",
                                        "native", "synchronized", "transient", "volatile", "strictfp", NULL};
static const char *const primitives[] = {"boolean", "byte",  "char",   "short", "int",
                                         "long",    "float", "double", "void",  NULL};
/* Words that cannot start an expression. */
static const char *const statement_words[] = {"if",    "else",    "for",     "while",  "do",    "try",
                                              "catch", "finally", "switch",  "case",   "class", "interface",
                                              "enum",  "import",  "package", "return", "break", "continue",
                                              "throw", "assert",  "def",     "trait",  NULL};

static bool is_reserved(const struct ka_token *t) {
        /* every reserved word is lower case */
        return t->kind == KA_TOK_IDENT && t->text[0] >= 'a' && t->text[0] <= 'z' &&
               (in_set(t->text, statement_words) || in_set(t->text, modifiers) || in_set(t->text, primitives));
}

static bool is_type_name(const char *s) {
        return (s[0] >= 'A' && s[0] <= 'Z') || in_set(s, primitives);
}

/* ---- skipping what is not read ---- */

static bool opens(const struct ka_token *t) {
        return ka_tok_is(t, "(") || ka_tok_is(t, "[") || ka_tok_is(t, "{");
}

static bool closes(const struct ka_token *t) {
        return ka_tok_is(t, ")") || ka_tok_is(t, "]") || ka_tok_is(t, "}");
}

/* At an opening bracket: consume up to and including its match. */
static bool skip_balanced(struct parser *p) {
        const struct ka_token *start = cur(p);
        unsigned depth = 0;
        char stack[KA_PIPELINE_MAX_DEPTH];
        do {
                const struct ka_token *t = cur(p);
                if (t->kind == KA_TOK_EOF) {
                        fail_at(p, start, "'%s' is never closed", start->op);
                        return false;
                }
                if (opens(t)) {
                        if (depth == KA_PIPELINE_MAX_DEPTH) {
                                fail_at(p, t, "nested more than %u levels deep", KA_PIPELINE_MAX_DEPTH);
                                return false;
                        }
                        stack[depth++] = t->op[0] == '(' ? ')' : t->op[0] == '[' ? ']' : '}';
                } else if (closes(t)) {
                        if (t->op[0] != stack[depth - 1]) {
                                char want[2] = {stack[depth - 1], 0};
                                fail_at(p, t, "unexpected '%s'; expected '%s'", t->op, want);
                                return false;
                        }
                        depth--;
                }
                next(p);
        } while (depth > 0);
        return true;
}

/* Tokens up to the end of the statement (imports, packages). */
static bool skip_statement(struct parser *p) {
        while (cur(p)->kind != KA_TOK_EOF && !is(p, ";") && !is(p, "}") && !nl(p)) {
                if (opens(cur(p))) {
                        if (!skip_balanced(p))
                                return false;
                } else if (closes(cur(p))) {
                        unexpected(p, NULL);
                        return false;
                } else {
                        next(p);
                }
        }
        return true;
}

/* At `<`: a generic type argument list; consumes it and returns true, or
 * leaves the position alone and returns false when it is not one. */
static bool skip_generics(struct parser *p) {
        size_t save = p->i;
        int depth = 0;
        do {
                const struct ka_token *t = cur(p);
                if (ka_tok_is(t, "<"))
                        depth++;
                else if (ka_tok_is(t, ">"))
                        depth--;
                else if (ka_tok_is(t, ">>"))
                        depth -= 2;
                else if (ka_tok_is(t, ">>>"))
                        depth -= 3;
                else if (!(t->kind == KA_TOK_IDENT || ka_tok_is(t, ",") || ka_tok_is(t, ".") || ka_tok_is(t, "?") ||
                           ka_tok_is(t, "[") || ka_tok_is(t, "]") || ka_tok_is(t, "&"))) {
                        p->i = save;
                        return false;
                }
                next(p);
        } while (depth > 0);
        if (depth < 0) {
                p->i = save;
                return false;
        }
        return true;
}

/* A type: Name(.Name)*<...>?([])*.  Returns false (position unchanged) when
 * the tokens do not form one. */
static bool skip_type(struct parser *p) {
        size_t save = p->i;
        if (cur(p)->kind != KA_TOK_IDENT)
                return false;
        next(p);
        while (is(p, ".") && ahead(p, 1)->kind == KA_TOK_IDENT) {
                next(p);
                next(p);
        }
        if (is(p, "<") && !skip_generics(p)) {
                p->i = save;
                return false;
        }
        while (is(p, "[") && ka_tok_is(ahead(p, 1), "]")) {
                next(p);
                next(p);
        }
        return true;
}

/* The names a parameter list declares, tokens [from, to) at one bracket
 * depth: in `a, String b, c = [1, 2]` the last name before each `,` or `=`
 * (a, b, c); types and default values are skipped. */
static bool collect_names(struct parser *p, size_t from, size_t to, struct ents *out) {
        const struct ka_token *last = NULL;
        int depth = 0;
        bool in_default = false;
        for (size_t k = from; k <= to; k++) {
                const struct ka_token *t = &p->t[k];
                if (k == to || (depth == 0 && ka_tok_is(t, ","))) {
                        if (last &&
                            !push_ent(p, out,
                                      (struct ka_pentry){.key = last->text, .line = last->line, .col = last->col}))
                                return false;
                        last = NULL;
                        in_default = false;
                } else if (opens(t)) {
                        depth++;
                } else if (closes(t)) {
                        depth--;
                } else if (depth == 0 && ka_tok_is(t, "=")) {
                        in_default = true;
                } else if (depth == 0 && !in_default && t->kind == KA_TOK_IDENT) {
                        last = t;
                }
        }
        return true;
}

/* ---- expressions ---- */

static struct ka_pnode *parse_expression(struct parser *p);
static struct ka_pnode *parse_ternary(struct parser *p);
static struct ka_pnode *parse_unary(struct parser *p);
static struct ka_pnode *parse_block(struct parser *p);
static struct ka_pnode *parse_closure(struct parser *p);
static struct ka_pnode *parse_statement(struct parser *p);

/* An argument: `name: value`, `'name': value`, or a value (not an
 * assignment when the call has no parentheses). */
static bool parse_arg(struct parser *p, struct kids *pos, struct ents *named, bool command) {
        const struct ka_token *t = cur(p);
        const struct ka_token *n1 = ahead(p, 1);
        if ((t->kind == KA_TOK_IDENT || t->kind == KA_TOK_STRING || t->kind == KA_TOK_NUMBER) && ka_tok_is(n1, ":")) {
                next(p);
                next(p);
                struct ka_pnode *v = parse_expression(p);
                return v && push_ent(p, named,
                                     (struct ka_pentry){.key = t->text, .line = t->line, .col = t->col, .value = v});
        }
        if (t->kind == KA_TOK_GSTRING && ka_tok_is(n1, ":")) {
                struct ka_pnode *k = node(p, KA_PN_GSTRING, t);
                if (!k)
                        return false;
                k->tok = t;
                next(p);
                next(p);
                struct ka_pnode *v = parse_expression(p);
                return v && push_ent(p, named,
                                     (struct ka_pentry){.line = t->line, .col = t->col, .key_expr = k, .value = v});
        }
        if (ka_tok_is(t, "*") && ka_tok_is(n1, ":")) {
                next(p);
                next(p);
                struct ka_pnode *v = parse_expression(p);
                return v && push_ent(p, named, (struct ka_pentry){.line = t->line, .col = t->col, .value = v});
        }
        struct ka_pnode *v = command ? parse_ternary(p) : parse_expression(p);
        return v && push_kid(p, pos, v);
}

/* After `(`: arguments up to `)`. */
static bool parse_paren_args(struct parser *p, struct ka_pnode *call) {
        bool save = p->nl_sig;
        p->nl_sig = false;
        struct kids pos = {0};
        struct ents named = {0};
        while (!is(p, ")")) {
                if (!parse_arg(p, &pos, &named, false))
                        return false;
                if (!accept(p, ",")) {
                        if (!is(p, ")")) {
                                unexpected(p, "',' or ')'");
                                return false;
                        }
                }
        }
        next(p);
        p->nl_sig = save;
        set_kids(call, &pos);
        set_ents(call, &named);
        return true;
}

/* Closures written after a call's arguments on the same line: the first is
 * its body, more are added to its positional arguments. */
static bool parse_trailing_closures(struct parser *p, struct ka_pnode *call) {
        while (is(p, "{") && !nl(p)) {
                struct ka_pnode *c = parse_closure(p);
                if (!c)
                        return false;
                if (!call->body) {
                        call->body = c;
                } else {
                        struct kids k = {.v = call->kids, .n = call->n_kids, .cap = call->n_kids};
                        if (!push_kid(p, &k, c))
                                return false;
                        set_kids(call, &k);
                }
        }
        return true;
}

/* Turn `e` (a name or a property) into a call of it. */
static struct ka_pnode *make_call(struct parser *p, struct ka_pnode *e) {
        struct ka_pnode *c = node(p, KA_PN_CALL, cur(p));
        if (!c)
                return NULL;
        c->line = e->line, c->col = e->col, c->off = e->off;
        c->name = e->name;
        c->target = e->kind == KA_PN_PROP ? e->target : NULL;
        return c;
}

/* `target.name`, the name token being the one just read. */
static struct ka_pnode *make_prop(struct parser *p, struct ka_pnode *target, const char *name) {
        struct ka_pnode *pr = node(p, KA_PN_PROP, prev(p));
        if (!pr)
                return NULL;
        pr->name = name;
        pr->target = target;
        pr->line = target->line, pr->col = target->col, pr->off = target->off;
        finish(p, pr);
        return pr;
}

/* At an operator: `left op right`, right read by `rhs`. */
static struct ka_pnode *operator_node(struct parser *p, enum ka_pn_kind kind, struct ka_pnode *left,
                                      struct ka_pnode *(*rhs)(struct parser *)) {
        const struct ka_token *op = cur(p);
        next(p);
        struct ka_pnode *right = rhs(p);
        return right ? wrap(p, kind, op->op, op, left, right) : NULL;
}

/* At `(` after an expression that is not a plain name: a call we do not
 * read, kept as an opaque node whose operands (arguments, closures) are
 * still walked. */
static struct ka_pnode *opaque_call(struct parser *p, struct ka_pnode *callee) {
        const struct ka_token *t = cur(p);
        next(p);
        struct ka_pnode *c = node(p, KA_PN_CALL, t);
        if (!c || !parse_paren_args(p, c) || !parse_trailing_closures(p, c))
                return NULL;
        struct kids k = {0};
        if (!push_kid(p, &k, callee))
                return NULL;
        for (size_t i = 0; i < c->n_kids; i++)
                if (!push_kid(p, &k, c->kids[i]))
                        return NULL;
        for (size_t i = 0; i < c->n_ents; i++)
                if (!push_kid(p, &k, c->ents[i].value))
                        return NULL;
        if (c->body && !push_kid(p, &k, c->body))
                return NULL;
        struct ka_pnode *o = wrap(p, KA_PN_OTHER, "call", t, NULL, NULL);
        if (!o)
                return NULL;
        set_kids(o, &k);
        o->off = callee->off, o->line = callee->line, o->col = callee->col;
        return o;
}

static struct ka_pnode *parse_postfix(struct parser *p, struct ka_pnode *e) {
        while (e) {
                const struct ka_token *t = cur(p);
                bool dot = ka_tok_is(t, ".") || ka_tok_is(t, "?.") || ka_tok_is(t, "*.");
                if (dot || ka_tok_is(t, ".&") || ka_tok_is(t, ".@")) {
                        /* a line may start with `.name` to continue the previous one */
                        if (!dot && nl(p))
                                break;
                        next(p);
                        const struct ka_token *m = cur(p);
                        if (ka_tok_is(m, "<") && !skip_generics(p))
                                return unexpected(p, "a name after '.'");
                        m = cur(p);
                        if (m->kind != KA_TOK_IDENT && m->kind != KA_TOK_STRING && m->kind != KA_TOK_GSTRING)
                                return unexpected(p, "a name after '.'");
                        next(p);
                        const char *name = m->kind == KA_TOK_IDENT || m->kind == KA_TOK_STRING ? m->text : "?";
                        if (!dot || ka_tok_is(t, "*.") || m->kind == KA_TOK_GSTRING) {
                                /* method pointers, field access, spread, dynamic names: not values we read */
                                e = wrap(p, KA_PN_OTHER, t->op, t, e, NULL);
                                if (e && is(p, "(") && !nl(p))
                                        e = opaque_call(p, e);
                                continue;
                        }
                        e = make_prop(p, e, name);
                } else if (ka_tok_is(t, "(") && !nl(p)) {
                        if (e->kind != KA_PN_IDENT && e->kind != KA_PN_PROP) {
                                e = opaque_call(p, e);
                                continue;
                        }
                        next(p);
                        struct ka_pnode *c = make_call(p, e);
                        if (!c || !parse_paren_args(p, c) || !parse_trailing_closures(p, c))
                                return NULL;
                        finish(p, c);
                        e = c;
                } else if (ka_tok_is(t, "{") && !nl(p) &&
                           (e->kind == KA_PN_IDENT || e->kind == KA_PN_PROP || e->kind == KA_PN_CALL)) {
                        struct ka_pnode *c = e->kind == KA_PN_CALL ? e : make_call(p, e);
                        if (!c || !parse_trailing_closures(p, c))
                                return NULL;
                        finish(p, c);
                        e = c;
                } else if (ka_tok_is(t, "[") && !nl(p)) {
                        bool save = p->nl_sig;
                        p->nl_sig = false;
                        next(p);
                        struct kids k = {0};
                        if (!push_kid(p, &k, e))
                                return NULL;
                        while (!is(p, "]")) {
                                struct ka_pnode *x = parse_expression(p);
                                if (!x || !push_kid(p, &k, x))
                                        return NULL;
                                if (!accept(p, ",") && !is(p, "]"))
                                        return unexpected(p, "',' or ']'");
                        }
                        next(p);
                        p->nl_sig = save;
                        struct ka_pnode *o = wrap(p, KA_PN_OTHER, "[]", t, NULL, NULL);
                        if (!o)
                                return NULL;
                        set_kids(o, &k);
                        o->off = e->off, o->line = e->line, o->col = e->col;
                        e = o;
                } else if ((ka_tok_is(t, "++") || ka_tok_is(t, "--")) && !nl(p)) {
                        next(p);
                        e = wrap(p, KA_PN_OTHER, t->op, t, e, NULL);
                } else {
                        break;
                }
        }
        return e;
}

/* After `[`: a list or a map literal. */
static struct ka_pnode *parse_list_or_map(struct parser *p) {
        const struct ka_token *open = cur(p);
        bool save = p->nl_sig;
        p->nl_sig = false;
        next(p);
        struct ka_pnode *n;
        if (is(p, ":") && ka_tok_is(ahead(p, 1), "]")) {
                next(p);
                next(p);
                n = node(p, KA_PN_MAP, open);
        } else if (is(p, "]")) {
                next(p);
                n = node(p, KA_PN_LIST, open);
        } else {
                const struct ka_token *t = cur(p), *n1 = ahead(p, 1);
                bool map = ((t->kind == KA_TOK_IDENT || t->kind == KA_TOK_STRING || t->kind == KA_TOK_NUMBER ||
                             t->kind == KA_TOK_GSTRING || ka_tok_is(t, "*")) &&
                            ka_tok_is(n1, ":"));
                if (!map && ka_tok_is(t, "(")) { /* (expr): value */
                        size_t save_i = p->i;
                        if (!skip_balanced(p))
                                return NULL;
                        map = is(p, ":");
                        p->i = save_i;
                }
                n = node(p, map ? KA_PN_MAP : KA_PN_LIST, open);
                if (!n)
                        return NULL;
                struct kids items = {0};
                struct ents ents = {0};
                while (!is(p, "]")) {
                        if (map) {
                                if (ka_tok_is(cur(p), "(")) {
                                        const struct ka_token *kt = cur(p);
                                        next(p);
                                        struct ka_pnode *k = parse_expression(p);
                                        if (!k || !expect(p, ")", "')'") || !expect(p, ":", "':'"))
                                                return NULL;
                                        struct ka_pnode *v = parse_expression(p);
                                        if (!v || !push_ent(p, &ents,
                                                            (struct ka_pentry){.line = kt->line,
                                                                               .col = kt->col,
                                                                               .key_expr = k,
                                                                               .value = v}))
                                                return NULL;
                                } else {
                                        const struct ka_token *kt = cur(p);
                                        bool ok = (kt->kind == KA_TOK_IDENT || kt->kind == KA_TOK_STRING ||
                                                   kt->kind == KA_TOK_NUMBER || kt->kind == KA_TOK_GSTRING ||
                                                   ka_tok_is(kt, "*")) &&
                                                  ka_tok_is(ahead(p, 1), ":");
                                        if (!ok)
                                                return unexpected(p, "a map key followed by ':'");
                                        struct kids unused = {0};
                                        if (!parse_arg(p, &unused, &ents, false))
                                                return NULL;
                                }
                        } else {
                                struct ka_pnode *v = parse_expression(p);
                                if (!v || !push_kid(p, &items, v))
                                        return NULL;
                        }
                        if (!accept(p, ",") && !is(p, "]"))
                                return unexpected(p, "',' or ']'");
                }
                next(p);
                set_kids(n, &items);
                set_ents(n, &ents);
        }
        p->nl_sig = save;
        finish(p, n);
        return n;
}

/* After `new`: a constructor call or an array; read as an opaque expression
 * whose arguments are still walked. */
static struct ka_pnode *parse_new(struct parser *p) {
        const struct ka_token *t = cur(p);
        next(p);
        if (!skip_type(p))
                return unexpected(p, "a class name after 'new'");
        bool array_type = ka_tok_is(prev(p), "]");
        struct ka_pnode *o = node(p, KA_PN_OTHER, t);
        if (!o)
                return NULL;
        o->name = "new";
        if (is(p, "(")) {
                next(p);
                struct ka_pnode *args = node(p, KA_PN_CALL, t);
                if (!args || !parse_paren_args(p, args))
                        return NULL;
                struct kids k = {.v = args->kids, .n = args->n_kids, .cap = args->n_kids};
                for (size_t i = 0; i < args->n_ents; i++)
                        if (!push_kid(p, &k, args->ents[i].value))
                                return NULL;
                set_kids(o, &k);
                if (is(p, "{") && !nl(p) && !skip_balanced(p)) /* anonymous class body */
                        return NULL;
        } else if (array_type && is(p, "{") && !nl(p)) {
                if (!skip_balanced(p)) /* new String[] {...} */
                        return NULL;
        } else if (is(p, "[")) {
                while (is(p, "[") && !nl(p))
                        if (!skip_balanced(p))
                                return NULL;
                if (is(p, "{") && !nl(p) && !skip_balanced(p)) /* array initialiser */
                        return NULL;
        } else {
                return unexpected(p, "'(' or '['");
        }
        finish(p, o);
        return o;
}

static struct ka_pnode *parse_primary(struct parser *p) {
        const struct ka_token *t = cur(p);
        struct ka_pnode *n;
        switch (t->kind) {
        case KA_TOK_NUMBER:
        case KA_TOK_STRING:
        case KA_TOK_GSTRING:
                n = node(p,
                         t->kind == KA_TOK_NUMBER   ? KA_PN_NUMBER
                         : t->kind == KA_TOK_STRING ? KA_PN_STRING
                                                    : KA_PN_GSTRING,
                         t);
                if (n)
                        n->tok = t;
                next(p);
                return n;
        case KA_TOK_IDENT:
                if (ka_tok_word(t, "new"))
                        return parse_new(p);
                if (is_reserved(t) && !in_set(t->text, primitives))
                        return unexpected(p, "an expression");
                if (ka_tok_word(t, "true") || ka_tok_word(t, "false")) {
                        n = node(p, KA_PN_BOOL, t);
                        if (n)
                                n->flag = ka_tok_word(t, "true");
                } else if (ka_tok_word(t, "null")) {
                        n = node(p, KA_PN_NULL, t);
                } else {
                        n = node(p, KA_PN_IDENT, t);
                        if (n)
                                n->name = t->text;
                }
                next(p);
                return n;
        case KA_TOK_OP:
                if (ka_tok_is(t, "(")) {
                        bool save = p->nl_sig;
                        p->nl_sig = false;
                        next(p);
                        n = parse_expression(p);
                        if (!n || !expect(p, ")", "')'"))
                                return NULL;
                        p->nl_sig = save;
                        return n;
                }
                if (ka_tok_is(t, "["))
                        return parse_list_or_map(p);
                if (ka_tok_is(t, "{"))
                        return parse_closure(p);
                return unexpected(p, "an expression");
        case KA_TOK_EOF:
                return unexpected(p, "an expression");
        }
        return unexpected(p, "an expression");
}

/* `(Type) value`: a cast, when the parenthesised tokens form a type name and
 * a value follows on the same line. */
static bool at_cast(struct parser *p) {
        if (!is(p, "(") || ahead(p, 1)->kind != KA_TOK_IDENT || !is_type_name(ahead(p, 1)->text))
                return false;
        size_t save = p->i;
        next(p);
        bool cast = skip_type(p) && is(p, ")");
        if (cast) {
                next(p);
                const struct ka_token *t = cur(p);
                cast = !t->nl_before &&
                       (t->kind == KA_TOK_IDENT || t->kind == KA_TOK_STRING || t->kind == KA_TOK_GSTRING ||
                        t->kind == KA_TOK_NUMBER || ka_tok_is(t, "(") || ka_tok_is(t, "[") || ka_tok_is(t, "!"));
        }
        p->i = save;
        return cast;
}

static struct ka_pnode *parse_unary(struct parser *p) {
        if (!enter(p))
                return NULL;
        const struct ka_token *t = cur(p);
        struct ka_pnode *n;
        if (ka_tok_is(t, "!") || ka_tok_is(t, "~") || ka_tok_is(t, "-") || ka_tok_is(t, "+") || ka_tok_is(t, "++") ||
            ka_tok_is(t, "--") || ka_tok_is(t, "*")) {
                next(p);
                struct ka_pnode *x = parse_unary(p);
                n = x ? wrap(p, KA_PN_OTHER, t->op, t, NULL, x) : NULL;
                if (n)
                        n->off = t->off, n->line = t->line, n->col = t->col;
        } else if (at_cast(p)) {
                next(p);
                skip_type(p);
                next(p);
                struct ka_pnode *x = parse_unary(p);
                n = x ? wrap(p, KA_PN_OTHER, "cast", t, NULL, x) : NULL;
                if (n)
                        n->off = t->off, n->line = t->line, n->col = t->col;
        } else {
                n = parse_postfix(p, parse_primary(p));
                if (n && is(p, "**") && !nl(p))
                        n = operator_node(p, KA_PN_OTHER, n, parse_unary);
        }
        leave(p);
        return n;
}

/* Binary operators by precedence, loosest first. */
static int precedence(const struct ka_token *t) {
        static const char *const levels[][8] = {
                {"||", NULL},
                {"&&", NULL},
                {"|", NULL},
                {"^", NULL},
                {"&", NULL},
                {"==", "!=", "<=>", "=~", "==~", "===", "!==", NULL},
                {"<", "<=", ">", ">=", NULL},
                {"<<", ">>", ">>>", "..", "..<", NULL},
                {"+", "-", NULL},
                {"*", "/", "%", NULL},
        };
        if (t->kind == KA_TOK_IDENT)
                return ka_tok_word(t, "in") || ka_tok_word(t, "instanceof") || ka_tok_word(t, "as") ? 7 : 0;
        if (t->kind != KA_TOK_OP)
                return 0;
        if (!strchr("|&^=!<>.+-*/%", t->op[0]))
                return 0;
        for (size_t l = 0; l < KA_ARRAY_SIZE(levels); l++)
                for (size_t k = 0; levels[l][k]; k++)
                        if (levels[l][k][0] == t->op[0] && strcmp(t->op, levels[l][k]) == 0)
                                return (int)l + 1;
        return 0;
}

static struct ka_pnode *parse_binary(struct parser *p, int min) {
        if (!enter(p))
                return NULL;
        struct ka_pnode *l = parse_unary(p);
        for (;;) {
                const struct ka_token *t = cur(p);
                int prec = precedence(t);
                if (!l || prec < min || prec == 0 || nl(p))
                        break;
                next(p);
                struct ka_pnode *r;
                if (ka_tok_word(t, "instanceof") || ka_tok_word(t, "as")) {
                        const struct ka_token *ty = cur(p);
                        if (!skip_type(p)) {
                                l = unexpected(p, "a type");
                                break;
                        }
                        l = wrap(p, KA_PN_OTHER, t->text, ty, l, NULL);
                        continue;
                }
                r = parse_binary(p, prec + 1);
                if (!r) {
                        l = NULL;
                        break;
                }
                l = wrap(p, ka_tok_is(t, "+") ? KA_PN_BINARY : KA_PN_OTHER, t->kind == KA_TOK_OP ? t->op : t->text, t,
                         l, r);
        }
        leave(p);
        return l;
}

static struct ka_pnode *parse_ternary(struct parser *p) {
        if (!enter(p))
                return NULL;
        struct ka_pnode *c = parse_binary(p, 1);
        if (c && is(p, "?") && !nl(p)) {
                const struct ka_token *q = cur(p);
                next(p);
                struct ka_pnode *a = parse_ternary(p);
                if (!a || !expect(p, ":", "':' of the ?: operator")) {
                        c = NULL;
                } else {
                        struct ka_pnode *b = parse_ternary(p);
                        struct ka_pnode *o = b ? wrap(p, KA_PN_OTHER, "?:", q, c, a) : NULL;
                        struct kids k = {0};
                        if (o && push_kid(p, &k, c) && push_kid(p, &k, a) && push_kid(p, &k, b)) {
                                set_kids(o, &k);
                                c = o;
                        } else {
                                c = NULL;
                        }
                }
        } else if (c && is(p, "?:") && !nl(p)) {
                c = operator_node(p, KA_PN_OTHER, c, parse_ternary);
        }
        leave(p);
        return c;
}

static bool is_assign_op(const struct ka_token *t) {
        static const char *const ops[] = {
                "=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "^=", "|=", NULL};
        return t->kind == KA_TOK_OP && in_set(t->op, ops);
}

static struct ka_pnode *parse_expression(struct parser *p) {
        if (!enter(p))
                return NULL;
        struct ka_pnode *l = parse_ternary(p);
        if (l && is_assign_op(cur(p)) && !nl(p))
                l = operator_node(p, KA_PN_ASSIGN, l, parse_expression);
        leave(p);
        return l;
}

/* ---- closures and blocks ---- */

/* At `{`: the index of the `->` ending a parameter list `a, b ->`, or 0
 * when the closure has none. */
static size_t closure_arrow(const struct parser *p) {
        int depth = 0;
        for (size_t k = 1;; k++) {
                const struct ka_token *t = ahead(p, k);
                if (t->kind == KA_TOK_EOF || ka_tok_is(t, "{") || ka_tok_is(t, "}") || ka_tok_is(t, ";"))
                        return 0;
                if (ka_tok_is(t, "(") || ka_tok_is(t, "["))
                        depth++;
                else if (ka_tok_is(t, ")") || ka_tok_is(t, "]"))
                        depth--;
                else if (ka_tok_is(t, "->") && depth == 0)
                        return p->i + k;
        }
}

static bool parse_statements(struct parser *p, struct kids *stmts, bool until_brace);

/* Statements are separated by a line break or `;`; one that ends with a
 * block's `}` may be followed directly by the next. */
static bool statement_ended(const struct parser *p) {
        return is(p, ";") || is(p, "}") || cur(p)->kind == KA_TOK_EOF || cur(p)->nl_before || ka_tok_is(prev(p), "}");
}

/* After `{`: the statements up to the matching `}` into block b. */
static bool fill_block(struct parser *p, struct ka_pnode *b) {
        bool save = p->nl_sig;
        p->nl_sig = true;
        struct kids stmts = {0};
        if (!parse_statements(p, &stmts, true))
                return false;
        p->nl_sig = save;
        set_kids(b, &stmts);
        finish(p, b);
        return true;
}

static struct ka_pnode *parse_closure(struct parser *p) {
        if (!enter(p))
                return NULL;
        const struct ka_token *open = cur(p);
        struct ka_pnode *c = node(p, KA_PN_CLOSURE, open);
        struct ka_pnode *body = node(p, KA_PN_BLOCK, open);
        if (!c || !body)
                return NULL;
        size_t arrow = closure_arrow(p);
        next(p);
        struct ents params = {0};
        if (arrow) {
                if (!collect_names(p, p->i, arrow, &params))
                        return NULL;
                p->i = arrow + 1;
        }
        set_ents(c, &params);
        if (!fill_block(p, body))
                return NULL;
        c->body = body;
        finish(p, c);
        leave(p);
        return c;
}

/* At `{`: a block of statements. */
static struct ka_pnode *parse_block(struct parser *p) {
        if (!is(p, "{"))
                return unexpected(p, "'{'");
        if (!enter(p))
                return NULL;
        struct ka_pnode *b = node(p, KA_PN_BLOCK, cur(p));
        if (!b)
                return NULL;
        next(p);
        if (!fill_block(p, b))
                return NULL;
        leave(p);
        return b;
}

/* A block, or a single statement (after if/else/for/while). */
static struct ka_pnode *parse_body(struct parser *p) {
        if (is(p, "{"))
                return parse_block(p);
        return parse_statement(p);
}

/* `( expression )` */
static struct ka_pnode *parse_condition(struct parser *p) {
        if (!expect(p, "(", "'('"))
                return NULL;
        bool save = p->nl_sig;
        p->nl_sig = false;
        struct ka_pnode *c = parse_expression(p);
        if (!c || !expect(p, ")", "')'"))
                return NULL;
        p->nl_sig = save;
        return c;
}

/* ---- statements ---- */

static struct ka_pnode *parse_if(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_IF, cur(p));
        next(p);
        struct ka_pnode *c = parse_condition(p);
        struct ka_pnode *then = c ? parse_body(p) : NULL;
        if (!n || !then)
                return NULL;
        struct ka_pnode *els = NULL;
        size_t save = p->i;
        while (is(p, ";"))
                next(p);
        if (word(p, "else")) {
                next(p);
                els = parse_body(p);
                if (!els)
                        return NULL;
        } else {
                p->i = save;
        }
        return with_kids(p, n, 3, (struct ka_pnode *[]){c, then, els}, true);
}

/* `for (...)`: the header is not evaluated; the names it declares or
 * assigns are recorded so that they hide (and spoil) outer variables. */
static struct ka_pnode *parse_for(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_LOOP, cur(p));
        next(p);
        if (!n || !is(p, "("))
                return n ? unexpected(p, "'('") : NULL;
        size_t start = p->i;
        if (!skip_balanced(p))
                return NULL;
        size_t end = p->i - 1;
        struct ents vars = {0};
        for (size_t k = start + 1; k + 1 < end; k++) {
                const struct ka_token *t = &p->t[k], *n1 = &p->t[k + 1];
                if (t->kind == KA_TOK_IDENT && !is_reserved(t) &&
                    (ka_tok_word(n1, "in") || ka_tok_is(n1, ":") || ka_tok_is(n1, "=")) &&
                    !push_ent(p, &vars, (struct ka_pentry){.key = t->text, .line = t->line, .col = t->col}))
                        return NULL;
        }
        set_ents(n, &vars);
        return with_kids(p, n, 1, (struct ka_pnode *[]){parse_body(p)}, false);
}

static struct ka_pnode *parse_while(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_LOOP, cur(p));
        next(p);
        struct ka_pnode *c = parse_condition(p);
        struct ka_pnode *body = c ? parse_body(p) : NULL;
        return with_kids(p, n, 2, (struct ka_pnode *[]){c, body}, false);
}

static struct ka_pnode *parse_do(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_LOOP, cur(p));
        next(p);
        struct ka_pnode *body = parse_body(p);
        if (!n || !body)
                return NULL;
        if (!word(p, "while"))
                return unexpected(p, "'while'");
        next(p);
        return with_kids(p, n, 2, (struct ka_pnode *[]){parse_condition(p), body}, false);
}

static struct ka_pnode *parse_try(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_TRY, cur(p));
        next(p);
        if (!n)
                return NULL;
        if (is(p, "(") && !skip_balanced(p)) /* try-with-resources */
                return NULL;
        struct kids k = {0};
        struct ents vars = {0};
        struct ka_pnode *b = parse_block(p);
        if (!b || !push_kid(p, &k, b))
                return NULL;
        bool any = false;
        while (word(p, "catch")) {
                next(p);
                if (!is(p, "("))
                        return unexpected(p, "'('");
                size_t start = p->i;
                if (!skip_balanced(p))
                        return NULL;
                const struct ka_token *var = &p->t[p->i - 2];
                if (var->kind == KA_TOK_IDENT && p->i - 2 > start &&
                    !push_ent(p, &vars, (struct ka_pentry){.key = var->text, .line = var->line, .col = var->col}))
                        return NULL;
                b = parse_block(p);
                if (!b || !push_kid(p, &k, b))
                        return NULL;
                any = true;
        }
        if (word(p, "finally")) {
                next(p);
                b = parse_block(p);
                if (!b || !push_kid(p, &k, b))
                        return NULL;
                any = true;
        }
        if (!any)
                return unexpected(p, "'catch' or 'finally'");
        set_kids(n, &k);
        set_ents(n, &vars);
        finish(p, n);
        return n;
}

static struct ka_pnode *parse_switch(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_SWITCH, cur(p));
        next(p);
        struct ka_pnode *subject = parse_condition(p);
        if (!n || !subject)
                return NULL;
        struct ka_pnode *body = node(p, KA_PN_BLOCK, cur(p));
        if (!body || !expect(p, "{", "'{'"))
                return NULL;
        bool save = p->nl_sig;
        p->nl_sig = true;
        struct kids stmts = {0};
        while (!is(p, "}")) {
                if (cur(p)->kind == KA_TOK_EOF)
                        return unexpected(p, "'}'");
                if (accept(p, ";"))
                        continue;
                if (word(p, "case") || word(p, "default")) {
                        bool is_case = word(p, "case");
                        next(p);
                        if (is_case) {
                                bool s = p->nl_sig;
                                p->nl_sig = false;
                                struct ka_pnode *e = parse_ternary(p);
                                p->nl_sig = s;
                                if (!e)
                                        return NULL;
                        }
                        if (!expect(p, ":", "':'"))
                                return NULL;
                        continue;
                }
                struct ka_pnode *s = parse_statement(p);
                if (!s || !push_kid(p, &stmts, s))
                        return NULL;
                if (!statement_ended(p) && !word(p, "case") && !word(p, "default"))
                        return unexpected(p, "the end of the statement");
        }
        next(p);
        p->nl_sig = save;
        set_kids(body, &stmts);
        finish(p, body);
        return with_kids(p, n, 2, (struct ka_pnode *[]){subject, body}, false);
}

/* class/interface/enum/trait: skipped whole. */
static struct ka_pnode *skip_type_declaration(struct parser *p) {
        struct ka_pnode *n = node(p, KA_PN_SKIPPED, cur(p));
        if (!n)
                return NULL;
        n->name = cur(p)->text;
        next(p);
        while (!is(p, "{")) {
                if (cur(p)->kind == KA_TOK_EOF || is(p, ";") || is(p, "}"))
                        return unexpected(p, "'{'");
                if (opens(cur(p))) {
                        if (!skip_balanced(p))
                                return NULL;
                } else {
                        next(p);
                }
        }
        if (!skip_balanced(p))
                return NULL;
        finish(p, n);
        return n;
}

/* At `name (`: a method definition; parameters are recorded by name. */
static struct ka_pnode *parse_method(struct parser *p, const struct ka_token *start) {
        struct ka_pnode *m = node(p, KA_PN_METHOD, start);
        if (!m)
                return NULL;
        m->name = cur(p)->text;
        next(p);
        size_t open = p->i;
        if (!skip_balanced(p))
                return NULL;
        struct ents params = {0};
        if (!collect_names(p, open + 1, p->i - 1, &params))
                return NULL;
        if (word(p, "throws")) {
                next(p);
                while (skip_type(p) && accept(p, ","))
                        ;
        }
        struct ka_pnode *body = parse_block(p);
        if (!body)
                return NULL;
        set_ents(m, &params);
        m->body = body;
        finish(p, m);
        return m;
}

/* Declarations: `def x = 1`, `String a, b = 'x'`, `final x = 2`,
 * `def (a, b) = list`, and method definitions.  Returns NULL with
 * *matched false (position unchanged) when the statement is not one. */
static struct ka_pnode *parse_declaration(struct parser *p, bool *matched) {
        const struct ka_token *start = cur(p);
        size_t save = p->i;
        bool mods = false, typed = false, is_def = false;
        *matched = false;
        while (cur(p)->kind == KA_TOK_IDENT && in_set(cur(p)->text, modifiers) && !ka_tok_is(ahead(p, 1), "(")) {
                next(p);
                mods = true;
        }
        if (word(p, "def")) {
                next(p);
                typed = is_def = true;
        } else if (cur(p)->kind == KA_TOK_IDENT && is_type_name(cur(p)->text)) {
                size_t before = p->i;
                if (skip_type(p) && cur(p)->kind == KA_TOK_IDENT && !is_reserved(cur(p)) &&
                    !ka_tok_word(cur(p), "in") && !ka_tok_word(cur(p), "instanceof") && !ka_tok_word(cur(p), "as") &&
                    !nl(p))
                        typed = true;
                else
                        p->i = before;
        }
        if (!typed && !mods) {
                p->i = save;
                return NULL;
        }
        if (is_def && is(p, "(")) {
                /* def (a, b) = value */
                struct ka_pnode *d = node(p, KA_PN_DECL, start);
                if (!d)
                        return NULL;
                *matched = true;
                struct ents names = {0};
                next(p);
                while (!is(p, ")")) {
                        if (cur(p)->kind == KA_TOK_IDENT &&
                            (ka_tok_is(ahead(p, 1), ",") || ka_tok_is(ahead(p, 1), ")")) &&
                            !push_ent(
                                    p, &names,
                                    (struct ka_pentry){.key = cur(p)->text, .line = cur(p)->line, .col = cur(p)->col}))
                                return NULL;
                        if (cur(p)->kind == KA_TOK_EOF)
                                return unexpected(p, "')'");
                        next(p);
                }
                next(p);
                if (!expect(p, "=", "'='"))
                        return NULL;
                struct ka_pnode *v = parse_expression(p);
                struct kids k = {0};
                if (!v || !push_kid(p, &k, v))
                        return NULL;
                set_kids(d, &k);
                set_ents(d, &names);
                d->flag = true;
                finish(p, d);
                return d;
        }
        if (cur(p)->kind != KA_TOK_IDENT || is_reserved(cur(p))) {
                if (!mods || typed) {
                        p->i = save;
                        return NULL;
                }
                return unexpected(p, "a name");
        }
        const struct ka_token *after = ahead(p, 1);
        if (ka_tok_is(after, "(") && !after->nl_before) {
                *matched = true;
                return parse_method(p, start);
        }
        if (!(ka_tok_is(after, "=") || ka_tok_is(after, ",") || ka_tok_is(after, ";") || ka_tok_is(after, "}") ||
              after->kind == KA_TOK_EOF || after->nl_before)) {
                p->i = save;
                return NULL;
        }
        *matched = true;
        struct ka_pnode *d = node(p, KA_PN_DECL, start);
        if (!d)
                return NULL;
        struct ents vars = {0};
        for (;;) {
                const struct ka_token *v = cur(p);
                if (v->kind != KA_TOK_IDENT || is_reserved(v))
                        return unexpected(p, "a variable name");
                next(p);
                struct ka_pnode *init = NULL;
                if (accept(p, "=")) {
                        init = parse_expression(p);
                        if (!init)
                                return NULL;
                }
                if (!push_ent(p, &vars,
                              (struct ka_pentry){.key = v->text, .line = v->line, .col = v->col, .value = init}))
                        return NULL;
                if (!is(p, ",") || nl(p))
                        break;
                next(p);
        }
        set_ents(d, &vars);
        finish(p, d);
        return d;
}

/* `@Name` or `@Name(...)` */
static bool skip_annotation(struct parser *p) {
        next(p);
        if (cur(p)->kind != KA_TOK_IDENT) {
                unexpected(p, "an annotation name");
                return false;
        }
        next(p);
        while (is(p, ".") && ahead(p, 1)->kind == KA_TOK_IDENT) {
                next(p);
                next(p);
        }
        if (is(p, "(") && !nl(p))
                return skip_balanced(p);
        return true;
}

/* Can the current token start the arguments of a command expression
 * (`label 'x'`, `agent any`, `podRetention never()`)? */
static bool starts_command_arg(const struct ka_token *t) {
        if (t->nl_before)
                return false;
        switch (t->kind) {
        case KA_TOK_STRING:
        case KA_TOK_GSTRING:
        case KA_TOK_NUMBER:
                return true;
        case KA_TOK_IDENT:
                return !ka_tok_word(t, "in") && !ka_tok_word(t, "instanceof") && !ka_tok_word(t, "as") &&
                       (!is_reserved(t) || in_set(t->text, primitives));
        default:
                return false;
        }
}

/* `name args` or `a.b.name args`, possibly chained: `a b c d` is a(b).c(d). */
static struct ka_pnode *parse_command(struct parser *p) {
        const struct ka_token *first = cur(p);
        struct ka_pnode *e = node(p, KA_PN_IDENT, first);
        if (!e)
                return NULL;
        e->name = first->text;
        next(p);
        while (is(p, ".") && ahead(p, 1)->kind == KA_TOK_IDENT) {
                next(p);
                next(p);
                if (!(e = make_prop(p, e, prev(p)->text)))
                        return NULL;
        }
        for (;;) {
                struct ka_pnode *c = make_call(p, e);
                if (!c)
                        return NULL;
                c->flag = true;
                struct kids pos = {0};
                struct ents named = {0};
                for (;;) {
                        if (!parse_arg(p, &pos, &named, true))
                                return NULL;
                        if (!is(p, ",") || nl(p))
                                break;
                        next(p);
                }
                set_kids(c, &pos);
                set_ents(c, &named);
                finish(p, c);
                e = c;
                /* a chained command: `a b c d` */
                if (cur(p)->kind != KA_TOK_IDENT || cur(p)->nl_before || is_reserved(cur(p)) || precedence(cur(p)))
                        break;
                next(p);
                if (!(e = make_prop(p, e, prev(p)->text)))
                        return NULL;
                if (!starts_command_arg(cur(p)))
                        break;
        }
        return parse_postfix(p, e);
}

static bool at_command(const struct parser *p) {
        const struct ka_token *t = cur(p);
        if (t->kind != KA_TOK_IDENT || is_reserved(t) || ka_tok_word(t, "new"))
                return false;
        size_t k = 1;
        while (ka_tok_is(ahead(p, k), ".") && ahead(p, k + 1)->kind == KA_TOK_IDENT && !ahead(p, k)->nl_before)
                k += 2;
        return starts_command_arg(ahead(p, k));
}

static struct ka_pnode *parse_statement(struct parser *p) {
        if (!enter(p))
                return NULL;
        const struct ka_token *t = cur(p);
        struct ka_pnode *n = NULL;
        if (ka_tok_is(t, "@")) {
                if (skip_annotation(p))
                        n = parse_statement(p);
        } else if (ka_tok_is(t, "{")) {
                n = fail_at(p, t,
                            "Ambiguous expression could be a parameterless closure expression, an isolated open code "
                            "block, or it may continue a previous statement");
        } else if (t->kind == KA_TOK_IDENT && (ka_tok_word(t, "import") || ka_tok_word(t, "package"))) {
                n = node(p, KA_PN_SKIPPED, t);
                if (n) {
                        n->name = t->text;
                        next(p);
                        if (!skip_statement(p))
                                n = NULL;
                        finish(p, n);
                }
        } else if (ka_tok_word(t, "if")) {
                n = parse_if(p);
        } else if (ka_tok_word(t, "for")) {
                n = parse_for(p);
        } else if (ka_tok_word(t, "while")) {
                n = parse_while(p);
        } else if (ka_tok_word(t, "do")) {
                n = parse_do(p);
        } else if (ka_tok_word(t, "try")) {
                n = parse_try(p);
        } else if (ka_tok_word(t, "switch")) {
                n = parse_switch(p);
        } else if (ka_tok_word(t, "synchronized") && ka_tok_is(ahead(p, 1), "(")) {
                n = node(p, KA_PN_IF, t);
                next(p);
                struct ka_pnode *c = parse_condition(p);
                struct ka_pnode *b = c ? parse_block(p) : NULL;
                n = with_kids(p, n, 3, (struct ka_pnode *[]){c, b, NULL}, true);
        } else if (ka_tok_word(t, "return") || ka_tok_word(t, "throw") || ka_tok_word(t, "assert") ||
                   ka_tok_word(t, "break") || ka_tok_word(t, "continue")) {
                n = node(p, KA_PN_JUMP, t);
                if (n) {
                        n->name = t->text;
                        next(p);
                        struct kids k = {0};
                        bool loop_word = ka_tok_word(t, "break") || ka_tok_word(t, "continue");
                        if (loop_word) {
                                if (cur(p)->kind == KA_TOK_IDENT && !nl(p))
                                        next(p);
                        } else if (!(cur(p)->kind == KA_TOK_EOF || is(p, ";") || is(p, "}") || nl(p))) {
                                struct ka_pnode *e = parse_expression(p);
                                if (!e || !push_kid(p, &k, e))
                                        n = NULL;
                                else if (ka_tok_word(t, "assert") && (is(p, ":") || is(p, ","))) {
                                        next(p);
                                        e = parse_expression(p);
                                        if (!e || !push_kid(p, &k, e))
                                                n = NULL;
                                }
                        }
                        if (n) {
                                set_kids(n, &k);
                                finish(p, n);
                        }
                }
        } else if (t->kind == KA_TOK_IDENT && (ka_tok_word(t, "class") || ka_tok_word(t, "interface") ||
                                               ka_tok_word(t, "enum") || ka_tok_word(t, "trait"))) {
                n = skip_type_declaration(p);
        } else if (t->kind == KA_TOK_IDENT && !is_reserved(t) && ka_tok_is(ahead(p, 1), ":") &&
                   !ahead(p, 1)->nl_before) {
                /* a label: `outer: for (...)` */
                next(p);
                next(p);
                n = parse_statement(p);
        } else {
                bool matched = false;
                if (t->kind == KA_TOK_IDENT)
                        n = parse_declaration(p, &matched);
                if (!matched && !p->failed) {
                        if ((ka_tok_word(t, "else") || ka_tok_word(t, "catch") || ka_tok_word(t, "finally") ||
                             ka_tok_word(t, "case") || ka_tok_word(t, "default")) &&
                            !ka_tok_is(ahead(p, 1), "("))
                                n = unexpected(p, NULL);
                        else {
                                struct ka_pnode *e = at_command(p) ? parse_command(p) : parse_expression(p);
                                n = e ? wrap(p, KA_PN_EXPR, NULL, t, e, NULL) : NULL;
                        }
                }
        }
        leave(p);
        return p->failed ? NULL : n;
}

/* Statements until `}` (consumed) or the end of the file. */
static bool parse_statements(struct parser *p, struct kids *stmts, bool until_brace) {
        for (;;) {
                while (accept(p, ";"))
                        ;
                if (cur(p)->kind == KA_TOK_EOF) {
                        if (until_brace) {
                                unexpected(p, "'}'");
                                return false;
                        }
                        return true;
                }
                if (is(p, "}")) {
                        if (!until_brace) {
                                unexpected(p, NULL);
                                return false;
                        }
                        next(p);
                        return true;
                }
                struct ka_pnode *s = parse_statement(p);
                if (!s || !push_kid(p, stmts, s))
                        return false;
                if (!statement_ended(p)) {
                        unexpected(p, "the end of the statement");
                        return false;
                }
        }
}

int ka_parse(const struct ka_tokens *toks, const char *file, struct ka_arena *arena, struct ka_pnode **ret,
             struct ka_error *err) {
        struct parser p = {.t = toks->v, .n = toks->n, .file = file, .arena = arena, .err = err, .nl_sig = true};
        struct ka_pnode *root = node(&p, KA_PN_BLOCK, cur(&p));
        struct kids stmts = {0};
        if (!root || !parse_statements(&p, &stmts, false)) {
                if (!p.failed)
                        ka_error_at(err, file, cur(&p)->line, cur(&p)->col, -EBADMSG, "syntax error");
                return err && err->code ? err->code : -EBADMSG;
        }
        set_kids(root, &stmts);
        root->end = cur(&p)->end;
        *ret = root;
        return 0;
}

/* ---- dump ---- */

static void dump_text(struct ka_buf *out, const char *s, size_t len) {
        ka_buf_putc(out, '"');
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\')
                        ka_buf_printf(out, "\\%c", c);
                else if (c == '\n')
                        ka_buf_puts(out, "\\n");
                else if (c < 0x20)
                        ka_buf_printf(out, "\\x%02x", c);
                else
                        ka_buf_putc(out, (char)c);
        }
        ka_buf_putc(out, '"');
}

static void dump_ents(const struct ka_pnode *n, struct ka_buf *out) {
        for (size_t i = 0; i < n->n_ents; i++) {
                const struct ka_pentry *e = &n->ents[i];
                ka_buf_putc(out, ' ');
                if (e->key)
                        ka_buf_puts(out, e->key);
                else if (e->key_expr)
                        ka_pnode_dump(e->key_expr, out);
                else
                        ka_buf_putc(out, '*');
                if (e->value) {
                        ka_buf_puts(out, ": ");
                        ka_pnode_dump(e->value, out);
                }
        }
}

void ka_pnode_dump(const struct ka_pnode *n, struct ka_buf *out) {
        static const char *const names[] = {
                [KA_PN_NULL] = "null",     [KA_PN_BOOL] = "bool",       [KA_PN_NUMBER] = "num",
                [KA_PN_STRING] = "str",    [KA_PN_GSTRING] = "gstr",    [KA_PN_LIST] = "list",
                [KA_PN_MAP] = "map",       [KA_PN_IDENT] = "id",        [KA_PN_PROP] = "prop",
                [KA_PN_CALL] = "call",     [KA_PN_CLOSURE] = "closure", [KA_PN_BINARY] = "bin",
                [KA_PN_ASSIGN] = "assign", [KA_PN_OTHER] = "other",     [KA_PN_BLOCK] = "block",
                [KA_PN_EXPR] = "expr",     [KA_PN_DECL] = "decl",       [KA_PN_IF] = "if",
                [KA_PN_LOOP] = "loop",     [KA_PN_TRY] = "try",         [KA_PN_SWITCH] = "switch",
                [KA_PN_METHOD] = "method", [KA_PN_SKIPPED] = "skipped", [KA_PN_JUMP] = "jump",
        };
        if (!n) {
                ka_buf_puts(out, "nil");
                return;
        }
        ka_buf_printf(out, "(%s", names[n->kind]);
        switch (n->kind) {
        case KA_PN_BOOL:
                ka_buf_puts(out, n->flag ? " true" : " false");
                break;
        case KA_PN_NUMBER:
                ka_buf_printf(out, " %s", n->tok->text);
                break;
        case KA_PN_STRING:
                ka_buf_putc(out, ' ');
                dump_text(out, n->tok->text, n->tok->len);
                break;
        case KA_PN_GSTRING:
                for (size_t i = 0; i < n->tok->n_parts; i++) {
                        const struct ka_gpart *g = &n->tok->parts[i];
                        ka_buf_puts(out, g->interp ? (g->braced ? " ${" : " $") : " ");
                        if (g->interp)
                                ka_buf_append(out, g->text, g->len);
                        else
                                dump_text(out, g->text, g->len);
                        if (g->interp && g->braced)
                                ka_buf_putc(out, '}');
                }
                break;
        default:
                if (n->name)
                        ka_buf_printf(out, " %s", n->name);
                break;
        }
        if (n->target) {
                ka_buf_puts(out, " on ");
                ka_pnode_dump(n->target, out);
        }
        for (size_t i = 0; i < n->n_kids; i++) {
                ka_buf_putc(out, ' ');
                ka_pnode_dump(n->kids[i], out);
        }
        dump_ents(n, out);
        if (n->body) {
                ka_buf_putc(out, ' ');
                ka_pnode_dump(n->body, out);
        }
        ka_buf_putc(out, ')');
}
