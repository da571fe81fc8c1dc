#include "lex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

/* Nesting of strings inside interpolations inside strings. */
#define MAX_STRING_NESTING 32u

struct lexer {
        const char *src;
        size_t len, i;
        unsigned line, col;
        const char *file;
        struct ka_arena *arena;
        struct ka_error *err;
        unsigned nesting;  /* GString interpolations being read */
        bool prev_operand; /* the previous token ends an operand: `/` divides */
        bool failed;       /* an error was reported */
};

static int fail(struct lexer *lx, unsigned line, unsigned col, int code, const char *fmt, ...) KA_PRINTF(5, 6);
static int fail(struct lexer *lx, unsigned line, unsigned col, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ka_error_vat(lx->err, lx->file, line, col, code, fmt, ap);
        va_end(ap);
        lx->failed = true;
        return code;
}

static int out_of_room(struct lexer *lx) {
        return fail(lx, lx->line, lx->col, -E2BIG, "script too large to read (more than %u bytes of tokens)",
                    (unsigned)lx->arena->max);
}

static bool at_end(const struct lexer *lx, size_t k) {
        return lx->i + k >= lx->len;
}

static unsigned char peek(const struct lexer *lx, size_t k) {
        return at_end(lx, k) ? 0 : (unsigned char)lx->src[lx->i + k];
}

static void adv(struct lexer *lx) {
        unsigned char c = (unsigned char)lx->src[lx->i++];
        if (c == '\n') {
                lx->line++;
                lx->col = 1;
        } else if ((c & 0xC0) != 0x80) {
                lx->col++;
        }
}

static void advn(struct lexer *lx, size_t n) {
        while (n-- && !at_end(lx, 0))
                adv(lx);
}

static bool is_ident_start(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}

static bool is_ident_char(unsigned char c) {
        return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool at_newline(const struct lexer *lx) {
        return peek(lx, 0) == '\n' || (peek(lx, 0) == '\r' && peek(lx, 1) == '\n');
}

/* Blanks, comments and line continuations; *nl is set when a line ends. */
static int skip_space(struct lexer *lx, bool *nl) {
        while (!at_end(lx, 0)) {
                unsigned char c = peek(lx, 0);
                if (c == ' ' || c == '\t' || c == '\f' || c == '\r') {
                        adv(lx);
                } else if (c == '\n') {
                        *nl = true;
                        adv(lx);
                } else if (c == '\\' && (peek(lx, 1) == '\n' || (peek(lx, 1) == '\r' && peek(lx, 2) == '\n'))) {
                        advn(lx, peek(lx, 1) == '\r' ? 3 : 2);
                } else if (c == '/' && peek(lx, 1) == '/') {
                        while (!at_end(lx, 0) && peek(lx, 0) != '\n')
                                adv(lx);
                } else if (c == '/' && peek(lx, 1) == '*') {
                        unsigned line = lx->line, col = lx->col;
                        advn(lx, 2);
                        while (!(peek(lx, 0) == '*' && peek(lx, 1) == '/')) {
                                if (at_end(lx, 0))
                                        return fail(lx, line, col, -EBADMSG, "comment not closed: missing */");
                                if (peek(lx, 0) == '\n')
                                        *nl = true;
                                adv(lx);
                        }
                        advn(lx, 2);
                } else if (c == 0xEF && lx->i == 0 && peek(lx, 1) == 0xBB && peek(lx, 2) == 0xBF) {
                        advn(lx, 3); /* a UTF-8 byte order mark */
                        lx->col = 1;
                } else if (c == '#' && lx->i == 0 && peek(lx, 1) == '!') {
                        while (!at_end(lx, 0) && peek(lx, 0) != '\n')
                                adv(lx);
                } else {
                        break;
                }
        }
        return 0;
}

/* Longest first. */
static const char *const operators[] = {
        ">>>=", ">>>", ">>=", "<<=", "<=>", "..<", "**=", "===", "!==", "==~", "->", "==", "!=", "<=", ">=", "&&",
        "||",   "++",  "--",  "+=",  "-=",  "*=",  "/=",  "%=",  "&=",  "|=",  "^=", "<<", ">>", "**", "..", "?.",
        "*.",   ".&",  ".@",  "?:",  "=~",  "::",  "(",   ")",   "[",   "]",   "{",  "}",  ",",  ";",  ":",  ".",
        "=",    "+",   "-",   "*",   "/",   "%",   "<",   ">",   "!",   "~",   "?",  "&",  "|",  "^",  "@",  NULL,
};

static const char *match_operator(const struct lexer *lx) {
        char c = lx->src[lx->i];
        for (const char *const *o = operators; *o; o++) {
                if ((*o)[0] != c)
                        continue;
                size_t n = strlen(*o);
                if (lx->len - lx->i >= n && memcmp(lx->src + lx->i, *o, n) == 0)
                        return *o;
        }
        return NULL;
}

/* Keywords after which an operand is expected (so `/` starts a slashy string). */
static bool keyword_expects_operand(const char *s) {
        static const char *const kw[] = {"return", "case", "in", "throw", "assert", "else", "yield", "def", NULL};
        for (const char *const *k = kw; *k; k++)
                if ((*k)[0] == s[0] && strcmp(s, *k) == 0)
                        return true;
        return false;
}

/* ---- strings ---- */

enum string_kind { SQ1, SQ3, DQ1, DQ3, SLASHY, DOLLAR_SLASHY };

struct string_reader {
        enum string_kind kind;
        struct ka_buf text;     /* the current literal piece */
        struct ka_gpart *parts; /* malloc()ed while reading */
        size_t n_parts;
        bool has_interp;
};

static void put_utf8(struct ka_buf *b, unsigned cp) {
        char u[4];
        size_t n;
        if (cp < 0x80) {
                u[0] = (char)cp, n = 1;
        } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
        } else {
                u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
        }
        ka_buf_append(b, u, n);
}

static int read_hex4(struct lexer *lx, unsigned *ret) {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
                unsigned char c = peek(lx, 0);
                if (!is_hex(c))
                        return -1;
                v = v * 16 + (unsigned)(is_digit(c) ? c - '0' : (c | 32) - 'a' + 10);
                adv(lx);
        }
        *ret = v;
        return 0;
}

/* After a backslash in a quoted string. */
static int read_escape(struct lexer *lx, struct ka_buf *b) {
        unsigned line = lx->line, col = lx->col;
        adv(lx); /* the backslash */
        unsigned char c = peek(lx, 0);
        if (at_end(lx, 0))
                return fail(lx, line, col, -EBADMSG, "string not closed before the end of the file");
        static const char from[] = "btnfr\"'\\$/", to[] = "\b\t\n\f\r\"'\\$/";
        const char *p = c ? strchr(from, c) : NULL;
        if (p) {
                adv(lx);
                return ka_buf_putc(b, to[p - from]);
        }
        if (c == '\n' || (c == '\r' && peek(lx, 1) == '\n')) { /* line continuation */
                advn(lx, c == '\r' ? 2 : 1);
                return 0;
        }
        if (c == 'u') {
                while (peek(lx, 0) == 'u')
                        adv(lx);
                unsigned cp;
                if (read_hex4(lx, &cp) < 0)
                        return fail(lx, line, col, -EBADMSG, "bad \\u escape: four hexadecimal digits expected");
                if (cp >= 0xD800 && cp <= 0xDBFF && peek(lx, 0) == '\\' && peek(lx, 1) == 'u') {
                        size_t save_i = lx->i;
                        unsigned save_line = lx->line, save_col = lx->col, lo;
                        advn(lx, 2);
                        while (peek(lx, 0) == 'u')
                                adv(lx);
                        if (read_hex4(lx, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else {
                                lx->i = save_i, lx->line = save_line, lx->col = save_col;
                        }
                }
                if (cp >= 0xD800 && cp <= 0xDFFF)
                        cp = 0xFFFD;
                put_utf8(b, cp);
                return 0;
        }
        if (c >= '0' && c <= '7') {
                unsigned v = 0, max = c <= '3' ? 3 : 2;
                for (unsigned k = 0; k < max && peek(lx, 0) >= '0' && peek(lx, 0) <= '7'; k++) {
                        v = v * 8 + (unsigned)(peek(lx, 0) - '0');
                        adv(lx);
                }
                put_utf8(b, v);
                return 0;
        }
        if (c >= 0x20 && c < 0x7f)
                return fail(lx, line, col, -EBADMSG, "unknown escape sequence \\%c in a string", c);
        return fail(lx, line, col, -EBADMSG, "unknown escape sequence in a string");
}

static int next_token(struct lexer *lx, struct ka_token *t);

static void push_part(struct string_reader *sr, struct ka_gpart part) {
        sr->parts = ka_reallocarray(sr->parts, sr->n_parts + 1, sizeof(*sr->parts));
        sr->parts[sr->n_parts++] = part;
}

static int flush_literal(struct lexer *lx, struct string_reader *sr) {
        if (sr->text.len == 0)
                return 0;
        char *s = ka_arena_strndup(lx->arena, sr->text.data, sr->text.len);
        if (!s)
                return out_of_room(lx);
        push_part(sr, (struct ka_gpart){.text = s, .len = sr->text.len});
        ka_buf_reset(&sr->text);
        return 0;
}

/* At a `$` that starts an interpolation: `${ expression }` or `$name.name`. */
static int read_interpolation(struct lexer *lx, struct string_reader *sr) {
        unsigned line = lx->line, col = lx->col;
        int r = flush_literal(lx, sr);
        if (r < 0)
                return r;
        adv(lx); /* $ */
        struct ka_gpart part = {.interp = true, .line = line, .col = col};
        if (peek(lx, 0) == '{') {
                adv(lx);
                if (++lx->nesting > MAX_STRING_NESTING)
                        return fail(lx, line, col, -E2BIG, "strings nested too deeply");
                size_t start = lx->i;
                bool save_operand = lx->prev_operand;
                lx->prev_operand = false;
                unsigned depth = 0;
                for (;;) {
                        struct ka_token t;
                        r = next_token(lx, &t);
                        if (r < 0)
                                return r;
                        if (t.kind == KA_TOK_EOF)
                                return fail(lx, line, col, -EBADMSG, "${ not closed: missing }");
                        if (ka_tok_is(&t, "{")) {
                                depth++;
                        } else if (ka_tok_is(&t, "}")) {
                                if (depth == 0) {
                                        part.text = ka_arena_strndup(lx->arena, lx->src + start, t.off - start);
                                        part.len = t.off - start;
                                        break;
                                }
                                depth--;
                        }
                }
                lx->nesting--;
                lx->prev_operand = save_operand;
                part.braced = true;
        } else {
                size_t start = lx->i;
                while (is_ident_char(peek(lx, 0)) && peek(lx, 0) != '$')
                        adv(lx);
                while (peek(lx, 0) == '.' && is_ident_start(peek(lx, 1)) && peek(lx, 1) != '$' &&
                       !is_digit(peek(lx, 1))) {
                        adv(lx);
                        while (is_ident_char(peek(lx, 0)) && peek(lx, 0) != '$')
                                adv(lx);
                }
                part.text = ka_arena_strndup(lx->arena, lx->src + start, lx->i - start);
                part.len = lx->i - start;
        }
        if (!part.text)
                return out_of_room(lx);
        push_part(sr, part);
        sr->has_interp = true;
        return 0;
}

static bool closes(const struct lexer *lx, enum string_kind k) {
        switch (k) {
        case SQ1:
                return peek(lx, 0) == '\'';
        case SQ3:
                return peek(lx, 0) == '\'' && peek(lx, 1) == '\'' && peek(lx, 2) == '\'';
        case DQ1:
                return peek(lx, 0) == '"';
        case DQ3:
                return peek(lx, 0) == '"' && peek(lx, 1) == '"' && peek(lx, 2) == '"';
        case SLASHY:
                return peek(lx, 0) == '/';
        case DOLLAR_SLASHY:
                return peek(lx, 0) == '/' && peek(lx, 1) == '$';
        }
        return false;
}

static int read_string_body(struct lexer *lx, struct string_reader *sr, unsigned line, unsigned col) {
        enum string_kind k = sr->kind;
        bool single_line = k == SQ1 || k == DQ1;
        bool interpolates = k != SQ1 && k != SQ3;
        for (;;) {
                if (at_end(lx, 0))
                        return fail(lx, line, col, -EBADMSG, "string not closed before the end of the file");
                if (closes(lx, k))
                        return 0;
                unsigned char c = peek(lx, 0);
                int r = 0;
                if (single_line && at_newline(lx)) {
                        return fail(lx, line, col, -EBADMSG,
                                    "string not closed before the end of the line (use ''' or \"\"\" for text "
                                    "on several lines)");
                } else if (c == '\r' && peek(lx, 1) == '\n') {
                        adv(lx);
                } else if (c == '\\' && (k == SLASHY || k == DOLLAR_SLASHY)) {
                        if (k == SLASHY && peek(lx, 1) == '/') {
                                adv(lx);
                                adv(lx);
                                r = ka_buf_putc(&sr->text, '/');
                        } else {
                                adv(lx);
                                r = ka_buf_putc(&sr->text, '\\');
                        }
                } else if (c == '\\') {
                        r = read_escape(lx, &sr->text);
                } else if (c == '$' && k == DOLLAR_SLASHY && (peek(lx, 1) == '$' || peek(lx, 1) == '/')) {
                        adv(lx);
                        r = ka_buf_putc(&sr->text, (char)peek(lx, 0));
                        adv(lx);
                } else if (c == '$' && interpolates) {
                        unsigned char n = peek(lx, 1);
                        if (n == '{' || (is_ident_start(n) && n != '$')) {
                                r = read_interpolation(lx, sr);
                        } else if (k == SLASHY || k == DOLLAR_SLASHY) {
                                adv(lx);
                                r = ka_buf_putc(&sr->text, '$');
                        } else {
                                return fail(lx, lx->line, lx->col, -EBADMSG,
                                            "illegal string body character after dollar sign; solution: either "
                                            "escape a literal dollar sign \"\\$5\" or bracket the value expression "
                                            "\"${5}\"");
                        }
                } else {
                        adv(lx);
                        r = ka_buf_putc(&sr->text, (char)c);
                }
                if (r < 0)
                        return lx->failed ? r : out_of_room(lx); /* only a full buffer reports nothing */
        }
}

static int read_string(struct lexer *lx, struct ka_token *t, enum string_kind k) {
        static const uint8_t open_len[] = {
                [SQ1] = 1, [SQ3] = 3, [DQ1] = 1, [DQ3] = 3, [SLASHY] = 1, [DOLLAR_SLASHY] = 2};
        static const uint8_t close_len[] = {
                [SQ1] = 1, [SQ3] = 3, [DQ1] = 1, [DQ3] = 3, [SLASHY] = 1, [DOLLAR_SLASHY] = 2};
        struct string_reader sr = {.kind = k, .text = KA_BUF_INIT(KA_PIPELINE_MAX_BYTES)};
        advn(lx, open_len[k]);
        int r = read_string_body(lx, &sr, t->line, t->col);
        if (r == 0) {
                advn(lx, close_len[k]);
                t->quote = open_len[k];
                if (sr.has_interp) {
                        r = flush_literal(lx, &sr);
                        t->kind = KA_TOK_GSTRING;
                        t->parts = ka_arena_array(lx->arena, sr.n_parts, sizeof(*t->parts));
                        if (r == 0 && !t->parts)
                                r = out_of_room(lx);
                        if (r == 0) {
                                memcpy(t->parts, sr.parts, sr.n_parts * sizeof(*t->parts));
                                t->n_parts = sr.n_parts;
                        }
                } else {
                        t->kind = KA_TOK_STRING;
                        t->text = ka_arena_strndup(lx->arena, sr.text.data ? sr.text.data : "", sr.text.len);
                        t->len = sr.text.len;
                        if (!t->text)
                                r = out_of_room(lx);
                }
        }
        ka_buf_free(&sr.text);
        free(sr.parts);
        return r;
}

/* ---- numbers ---- */

static int read_number(struct lexer *lx, struct ka_token *t) {
        size_t start = lx->i;
        bool digits = false;
        if (peek(lx, 0) == '0' && (peek(lx, 1) | 32) == 'x') {
                advn(lx, 2);
                while (is_hex(peek(lx, 0)) || peek(lx, 0) == '_')
                        digits = digits || peek(lx, 0) != '_', adv(lx);
        } else if (peek(lx, 0) == '0' && (peek(lx, 1) | 32) == 'b') {
                advn(lx, 2);
                while (peek(lx, 0) == '0' || peek(lx, 0) == '1' || peek(lx, 0) == '_')
                        digits = digits || peek(lx, 0) != '_', adv(lx);
        } else {
                digits = true;
                while (is_digit(peek(lx, 0)) || peek(lx, 0) == '_')
                        adv(lx);
                if (peek(lx, 0) == '.' && is_digit(peek(lx, 1))) {
                        adv(lx);
                        while (is_digit(peek(lx, 0)) || peek(lx, 0) == '_')
                                adv(lx);
                }
                if ((peek(lx, 0) | 32) == 'e' &&
                    (is_digit(peek(lx, 1)) || ((peek(lx, 1) == '+' || peek(lx, 1) == '-') && is_digit(peek(lx, 2))))) {
                        advn(lx, 2);
                        while (is_digit(peek(lx, 0)))
                                adv(lx);
                }
        }
        if (peek(lx, 0) && strchr("gGlLiIdDfF", peek(lx, 0)))
                adv(lx);
        if (!digits || is_ident_char(peek(lx, 0)))
                return fail(lx, t->line, t->col, -EBADMSG, "malformed number");
        t->kind = KA_TOK_NUMBER;
        t->len = lx->i - start;
        t->text = ka_arena_strndup(lx->arena, lx->src + start, t->len);
        return t->text ? 0 : out_of_room(lx);
}

/* One token, after blanks and comments. */
static int next_token(struct lexer *lx, struct ka_token *t) {
        bool nl = false;
        int r = skip_space(lx, &nl);
        if (r < 0)
                return r;
        *t = (struct ka_token){.line = lx->line, .col = lx->col, .off = (uint32_t)lx->i, .nl_before = nl};
        if (at_end(lx, 0)) {
                t->kind = KA_TOK_EOF;
                t->end = t->off;
                return 0;
        }
        bool regex_ok = !lx->prev_operand || nl;
        unsigned char c = peek(lx, 0);
        if (c == '$' && peek(lx, 1) == '/' && regex_ok) {
                r = read_string(lx, t, DOLLAR_SLASHY);
        } else if (is_ident_start(c)) {
                size_t start = lx->i;
                while (is_ident_char(peek(lx, 0)))
                        adv(lx);
                t->kind = KA_TOK_IDENT;
                t->len = lx->i - start;
                t->text = ka_arena_strndup(lx->arena, lx->src + start, t->len);
                if (!t->text)
                        r = out_of_room(lx);
        } else if (is_digit(c)) {
                r = read_number(lx, t);
        } else if (c == '\'') {
                r = read_string(lx, t, peek(lx, 1) == '\'' && peek(lx, 2) == '\'' ? SQ3 : SQ1);
        } else if (c == '"') {
                r = read_string(lx, t, peek(lx, 1) == '"' && peek(lx, 2) == '"' ? DQ3 : DQ1);
        } else if (c == '/' && regex_ok && peek(lx, 1) != '=') {
                r = read_string(lx, t, SLASHY);
        } else {
                const char *op = match_operator(lx);
                if (!op) {
                        if (c >= 0x20 && c < 0x7f)
                                return fail(lx, t->line, t->col, -EBADMSG, "unexpected character '%c'", c);
                        return fail(lx, t->line, t->col, -EBADMSG, "unexpected byte 0x%02x", c);
                }
                advn(lx, strlen(op));
                t->kind = KA_TOK_OP;
                t->op = op;
        }
        if (r < 0)
                return r;
        t->end = (uint32_t)lx->i;
        if (t->kind == KA_TOK_OP)
                lx->prev_operand = ka_tok_is(t, ")") || ka_tok_is(t, "]") || ka_tok_is(t, "}");
        else if (t->kind == KA_TOK_IDENT)
                lx->prev_operand = !keyword_expects_operand(t->text);
        else
                lx->prev_operand = true;
        return 0;
}

int ka_lex(const char *src, size_t len, const char *file, struct ka_arena *arena, struct ka_tokens *ret,
           struct ka_error *err) {
        struct lexer lx = {.src = src, .len = len, .line = 1, .col = 1, .file = file, .arena = arena, .err = err};
        if (len > KA_PIPELINE_MAX_BYTES)
                return ka_error_at(err, file, 0, 0, -E2BIG, "larger than %u bytes", KA_PIPELINE_MAX_BYTES);
        struct ka_token *v = NULL;
        size_t n = 0, cap = 0;
        int r;
        for (;;) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 256;
                        v = ka_reallocarray(v, cap, sizeof(*v));
                }
                r = next_token(&lx, &v[n]);
                if (r < 0)
                        break;
                if (v[n++].kind == KA_TOK_EOF)
                        break;
                if (n > KA_PIPELINE_MAX_TOKENS) {
                        r = fail(&lx, v[n - 1].line, v[n - 1].col, -E2BIG, "script too large: more than %u tokens",
                                 KA_PIPELINE_MAX_TOKENS);
                        break;
                }
        }
        if (r == 0) {
                ret->v = ka_arena_array(arena, n, sizeof(*v));
                if (!ret->v) {
                        r = out_of_room(&lx);
                } else {
                        memcpy(ret->v, v, n * sizeof(*v));
                        ret->n = n;
                }
        }
        free(v);
        return r;
}

bool ka_tok_is(const struct ka_token *t, const char *op) {
        return t->kind == KA_TOK_OP && t->op[0] == op[0] && strcmp(t->op, op) == 0;
}

bool ka_tok_word(const struct ka_token *t, const char *word) {
        return t->kind == KA_TOK_IDENT && t->text[0] == word[0] && strcmp(t->text, word) == 0;
}

const char *ka_tok_describe(const struct ka_token *t, char *buf, size_t size) {
        switch (t->kind) {
        case KA_TOK_EOF:
                snprintf(buf, size, "end of file");
                break;
        case KA_TOK_IDENT:
                snprintf(buf, size, "\"%.40s\"", t->text);
                break;
        case KA_TOK_NUMBER:
                snprintf(buf, size, "number %.40s", t->text);
                break;
        case KA_TOK_STRING:
        case KA_TOK_GSTRING:
                snprintf(buf, size, "a string");
                break;
        case KA_TOK_OP:
                snprintf(buf, size, "'%s'", t->op);
                break;
        }
        return buf;
}
