/* core/pipeline/lex.h — Groovy source text to tokens.
 *
 * The whole script is cut into tokens before parsing: identifiers (keywords
 * included), numbers, strings and operators, each with its line:col (columns
 * count characters, as the YAML reader does) and byte span.  Strings come out
 * decoded (escapes, line continuations, CRLF); a double-quoted, slashy or
 * dollar-slashy string with `${...}` or `$name` in it is a GString, kept as
 * literal pieces and the source text of each interpolation.  Groovy's
 * compile-time errors in this layer are reported as Groovy reports them (an
 * unterminated string, `$` followed by something that is not a name or `{`,
 * a bad escape), with the place.  Everything is allocated in the caller's
 * arena, and the token count is capped. */
#ifndef KA_PIPELINE_LEX_H
#define KA_PIPELINE_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "util/error.h"

#define KA_PIPELINE_MAX_BYTES (1u << 20)
#define KA_PIPELINE_MAX_TOKENS 200000u
#define KA_PIPELINE_MAX_DEPTH 200u

enum ka_tok_kind {
        KA_TOK_EOF = 0,
        KA_TOK_IDENT,   /* names and keywords: text */
        KA_TOK_NUMBER,  /* text is the spelling */
        KA_TOK_STRING,  /* text/len is the decoded value */
        KA_TOK_GSTRING, /* parts */
        KA_TOK_OP,      /* op is the spelling, a static string */
};

/* One piece of a GString: literal text, or an interpolated expression. */
struct ka_gpart {
        bool interp;
        const char *text; /* literal: decoded text; interp: the expression's source ("a.b", "x + 1") */
        size_t len;
        bool braced;        /* interp: written ${...} rather than $name */
        unsigned line, col; /* interp: the place of its `$` */
};

struct ka_token {
        enum ka_tok_kind kind;
        unsigned line, col;
        uint32_t off, end; /* byte span in the source */
        bool nl_before;    /* a line break separates it from the previous token */
        const char *op;
        const char *text;
        size_t len;
        struct ka_gpart *parts;
        size_t n_parts;
        uint8_t quote; /* strings: length of the opening delimiter (1, 2 or 3) */
};

struct ka_tokens {
        struct ka_token *v; /* ends with a KA_TOK_EOF token */
        size_t n;
};

/* Errors are "file:line:col: message" in err.  The caller frees the arena. */
int ka_lex(const char *src, size_t len, const char *file, struct ka_arena *arena, struct ka_tokens *ret,
           struct ka_error *err);

bool ka_tok_is(const struct ka_token *t, const char *op);     /* an OP with that spelling */
bool ka_tok_word(const struct ka_token *t, const char *word); /* an IDENT with that name */
/* A short description for messages: "')'", "identifier \"x\"", "string", "end of file". */
const char *ka_tok_describe(const struct ka_token *t, char *buf, size_t size);

#endif
