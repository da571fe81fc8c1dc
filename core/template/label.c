/* Jenkins labels: label strings to atoms, label expressions (parse,
 * evaluate, print), and the pod labels derived from a template's label. */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "template.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

/* ---- label strings -------------------------------------------------------- */

char **ka_label_atoms(const char *label) {
        char **atoms = ka_new0(char *, 1);
        struct ka_buf cur = KA_BUF_INIT(0);
        bool in_word = false;
        char quote = 0;
        for (const char *p = label ? label : ""; *p; p++) {
                if (quote) {
                        if (*p == '\\' && p[1])
                                ka_buf_putc(&cur, *++p);
                        else if (*p == quote)
                                quote = 0;
                        else
                                ka_buf_putc(&cur, *p);
                } else if (*p == '"' || *p == '\'') {
                        quote = *p;
                        in_word = true;
                } else if (isspace((unsigned char)*p)) {
                        if (in_word)
                                atoms = ka_strv_push(atoms, cur.data ? cur.data : "");
                        ka_buf_reset(&cur);
                        in_word = false;
                } else {
                        ka_buf_putc(&cur, *p);
                        in_word = true;
                }
        }
        if (in_word)
                atoms = ka_strv_push(atoms, cur.data ? cur.data : "");
        ka_buf_free(&cur);
        return atoms;
}

/* ---- label expressions ---------------------------------------------------- */

/* In order of precedence, tightest first (Jenkins' LabelOperatorPrecedence). */
enum op { OP_ATOM, OP_NOT, OP_AND, OP_OR, OP_IMPLIES, OP_IFF };
static const char *const op_text[] = {"", "!", "&&", "||", "->", "<->"};

struct ka_labelexpr {
        enum op op;
        char *atom;
        struct ka_labelexpr *l, *r;
};

void ka_labelexpr_free(struct ka_labelexpr *e) {
        if (!e)
                return;
        ka_labelexpr_free(e->l);
        ka_labelexpr_free(e->r);
        free(e->atom);
        free(e);
}

enum tok { T_EOF, T_ATOM, T_NOT, T_AND, T_OR, T_IMPLIES, T_IFF, T_LPAREN, T_RPAREN };

#define MAX_DEPTH 100

struct lexer {
        const char *text, *p;
        enum tok tok;
        const char *tok_start;
        char *atom; /* T_ATOM */
        struct ka_error *err;
        unsigned depth;
};

static bool atom_char(const char *p) {
        if (!*p || strchr("&|!<>()\"' \t\r\n\f\v", *p))
                return false;
        return !(p[0] == '-' && p[1] == '>');
}

static int fail(struct lexer *lx, const char *at, const char *what) {
        unsigned col = (unsigned)(at - lx->text) + 1;
        ka_error_at(lx->err, NULL, 1, col, -EINVAL, "label expression \"%s\": %s at column %u", lx->text, what, col);
        return -EINVAL;
}

static int next(struct lexer *lx) {
        free(lx->atom);
        lx->atom = NULL;
        while (isspace((unsigned char)*lx->p))
                lx->p++;
        lx->tok_start = lx->p;
        const char *p = lx->p;
        static const struct {
                const char *text;
                enum tok tok;
        } ops[] = {{"&&", T_AND}, {"||", T_OR},    {"<->", T_IFF}, {"->", T_IMPLIES},
                   {"!", T_NOT},  {"(", T_LPAREN}, {")", T_RPAREN}};
        if (!*p) {
                lx->tok = T_EOF;
                return 0;
        }
        for (size_t i = 0; i < KA_ARRAY_SIZE(ops); i++)
                if (ka_startswith(p, ops[i].text)) {
                        lx->tok = ops[i].tok;
                        lx->p += strlen(ops[i].text);
                        return 0;
                }
        struct ka_buf b = KA_BUF_INIT(0);
        if (*p == '"') {
                for (p++; *p && *p != '"'; p++) {
                        if (*p == '\\' && p[1])
                                p++;
                        ka_buf_putc(&b, *p);
                }
                if (*p != '"') {
                        ka_buf_free(&b);
                        return fail(lx, lx->tok_start, "unterminated quoted label");
                }
                p++;
        } else if (atom_char(p)) {
                for (; atom_char(p); p++)
                        ka_buf_putc(&b, *p);
        } else {
                ka_buf_free(&b);
                return fail(lx, p, "unexpected character");
        }
        lx->p = p;
        lx->tok = T_ATOM;
        lx->atom = b.data ? ka_buf_steal(&b) : ka_strdup("");
        return 0;
}

static struct ka_labelexpr *node(enum op op, struct ka_labelexpr *l, struct ka_labelexpr *r) {
        struct ka_labelexpr *e = ka_new0(struct ka_labelexpr, 1);
        e->op = op;
        e->l = l;
        e->r = r;
        return e;
}

static int parse_iff(struct lexer *lx, struct ka_labelexpr **ret);

/* term6: ( term1 ) | atom */
static int parse_primary(struct lexer *lx, struct ka_labelexpr **ret) {
        if (lx->tok == T_LPAREN) {
                const char *open = lx->tok_start;
                struct ka_labelexpr *e;
                int r = next(lx);
                if (r == 0)
                        r = parse_iff(lx, &e);
                if (r < 0)
                        return r;
                if (lx->tok != T_RPAREN) {
                        ka_labelexpr_free(e);
                        return fail(lx, open, "unbalanced '('");
                }
                r = next(lx);
                if (r < 0) {
                        ka_labelexpr_free(e);
                        return r;
                }
                *ret = e;
                return 0;
        }
        if (lx->tok != T_ATOM)
                return fail(lx, lx->tok_start,
                            lx->tok == T_EOF ? "expected a label, '!' or '(' at the end"
                                             : "expected a label, '!' or '('");
        struct ka_labelexpr *e = node(OP_ATOM, NULL, NULL);
        e->atom = KA_TAKE(lx->atom);
        int r = next(lx);
        if (r < 0) {
                ka_labelexpr_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

/* term5: ! term6 | term6 (Jenkins allows one '!' before a term) */
static int parse_not(struct lexer *lx, struct ka_labelexpr **ret) {
        if (lx->tok != T_NOT)
                return parse_primary(lx, ret);
        int r = next(lx);
        struct ka_labelexpr *e;
        if (r == 0)
                r = parse_primary(lx, &e);
        if (r < 0)
                return r;
        *ret = node(OP_NOT, e, NULL);
        return 0;
}

/* A left-associative chain of `op` over `sub`; `once`: at most one op. */
static int parse_chain(struct lexer *lx, enum tok tok, enum op op, int (*sub)(struct lexer *, struct ka_labelexpr **),
                       bool once, struct ka_labelexpr **ret) {
        if (++lx->depth > MAX_DEPTH)
                return fail(lx, lx->tok_start, "nested too deeply");
        struct ka_labelexpr *l = NULL;
        int r = sub(lx, &l);
        while (r == 0 && lx->tok == tok) {
                struct ka_labelexpr *rhs;
                r = next(lx);
                if (r == 0)
                        r = sub(lx, &rhs);
                if (r == 0)
                        l = node(op, l, rhs);
                if (r == 0 && once && lx->tok == tok)
                        r = fail(lx, lx->tok_start, "'->' cannot be chained: add parentheses");
        }
        lx->depth--;
        if (r < 0) {
                ka_labelexpr_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

static int parse_and(struct lexer *lx, struct ka_labelexpr **ret) {
        return parse_chain(lx, T_AND, OP_AND, parse_not, false, ret);
}

static int parse_or(struct lexer *lx, struct ka_labelexpr **ret) {
        return parse_chain(lx, T_OR, OP_OR, parse_and, false, ret);
}

static int parse_implies(struct lexer *lx, struct ka_labelexpr **ret) {
        return parse_chain(lx, T_IMPLIES, OP_IMPLIES, parse_or, true, ret);
}

static int parse_iff(struct lexer *lx, struct ka_labelexpr **ret) {
        return parse_chain(lx, T_IFF, OP_IFF, parse_implies, false, ret);
}

int ka_labelexpr_parse(const char *text, struct ka_labelexpr **ret, struct ka_error *err) {
        struct lexer lx = {.text = text, .p = text, .err = err};
        struct ka_labelexpr *e = NULL;
        int r = next(&lx);
        if (r == 0)
                r = parse_iff(&lx, &e);
        if (r == 0 && lx.tok != T_EOF) {
                r = fail(&lx, lx.tok_start,
                         lx.tok == T_RPAREN ? "unbalanced ')'" : "expected '&&', '||', '->' or '<->'");
                ka_labelexpr_free(e);
        }
        free(lx.atom);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

bool ka_labelexpr_eval(const struct ka_labelexpr *e, char *const *atoms) {
        switch (e->op) {
        case OP_ATOM:
                return ka_strv_contains(atoms, e->atom);
        case OP_NOT:
                return !ka_labelexpr_eval(e->l, atoms);
        case OP_AND:
                return ka_labelexpr_eval(e->l, atoms) & ka_labelexpr_eval(e->r, atoms);
        case OP_OR:
                return ka_labelexpr_eval(e->l, atoms) | ka_labelexpr_eval(e->r, atoms);
        case OP_IMPLIES:
                return !ka_labelexpr_eval(e->l, atoms) | ka_labelexpr_eval(e->r, atoms);
        case OP_IFF:
                return ka_labelexpr_eval(e->l, atoms) == ka_labelexpr_eval(e->r, atoms);
        }
        return false;
}

static void format(const struct ka_labelexpr *e, struct ka_buf *b);

/* Parentheses when the operand binds more loosely than the operator (and
 * around a nested '->', which does not chain). */
static void operand(const struct ka_labelexpr *e, enum op op, struct ka_buf *b) {
        bool paren = e->op > op || (e->op == op && op == OP_IMPLIES);
        ka_buf_puts(b, paren ? "(" : "");
        format(e, b);
        ka_buf_puts(b, paren ? ")" : "");
}

static void format(const struct ka_labelexpr *e, struct ka_buf *b) {
        if (e->op == OP_ATOM) {
                bool plain = *e->atom;
                for (const char *p = e->atom; *p && plain; p++)
                        plain = atom_char(p);
                if (plain) {
                        ka_buf_puts(b, e->atom);
                        return;
                }
                ka_buf_putc(b, '"');
                for (const char *p = e->atom; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                ka_buf_putc(b, '\\');
                        ka_buf_putc(b, *p);
                }
                ka_buf_putc(b, '"');
                return;
        }
        if (e->op == OP_NOT) {
                ka_buf_puts(b, "!");
                operand(e->l, OP_NOT, b);
                return;
        }
        operand(e->l, e->op, b);
        ka_buf_puts(b, op_text[e->op]);
        operand(e->r, e->op, b);
}

char *ka_labelexpr_format(const struct ka_labelexpr *e) {
        struct ka_buf b = KA_BUF_INIT(0);
        format(e, &b);
        return ka_buf_steal(&b);
}

/* ---- pod labels from a template label (§2.4) ------------------------------- */

static bool alnum(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Java counts UTF-16 units and replaces whole code points: walk UTF-8 code
 * points, each non-ASCII one becoming one '_' (two units for one outside
 * the BMP). */
char *ka_label_sanitize(const char *s) {
        enum { MAX = 63 - 1 - 5 };
        size_t n = strlen(s);
        /* the start of the last MAX UTF-16 units */
        size_t units = 0, start = n;
        bool half = false; /* the cut splits a surrogate pair */
        while (start > 0 && units < MAX) {
                size_t cp = start - 1;
                while (cp > 0 && ((unsigned char)s[cp] & 0xC0) == 0x80)
                        cp--;
                size_t w = ((unsigned char)s[cp] & 0xF8) == 0xF0 ? 2 : 1;
                if (units + w > MAX) {
                        half = true;
                        break;
                }
                units += w;
                start = cp;
        }
        struct ka_buf b = KA_BUF_INIT(0);
        if (half)
                ka_buf_putc(&b, '_');
        for (size_t i = start; i < n;) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x80) {
                        ka_buf_putc(&b, alnum(c) || c == '_' || c == '-' ? (char)c : '_');
                        i++;
                        continue;
                }
                ka_buf_putc(&b, '_');
                for (i++; i < n && ((unsigned char)s[i] & 0xC0) == 0x80; i++)
                        ;
        }
        if (!b.len)
                return ka_strdup("");
        if (!alnum((unsigned char)b.data[0]))
                b.data[0] = 'x';
        if (!alnum((unsigned char)b.data[b.len - 1]))
                b.data[b.len - 1] = 'x';
        return ka_buf_steal(&b);
}

bool ka_label_value_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0)
                return true;
        if (n > 63 || !alnum((unsigned char)s[0]) || !alnum((unsigned char)s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!alnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

char *ka_label_digest(const char *label) {
        if (!label)
                return ka_strdup("0");
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (!EVP_Digest(label, strlen(label), md, &len, EVP_sha1(), NULL))
                abort(); /* only fails without memory */
        char *hex = ka_malloc(2 * len + 1);
        for (unsigned i = 0; i < len; i++) {
                hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
                hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
        }
        hex[2 * len] = '\0';
        return hex;
}
