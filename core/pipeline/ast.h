/* core/pipeline/ast.h — the syntax tree of a Jenkinsfile.
 *
 * The parser reads the Groovy that Jenkinsfiles are written in: statements
 * (declarations, assignments, if/else, loops, try/catch, switch, method and
 * class definitions), expressions with Groovy's operators and precedence,
 * calls with named and positional arguments and trailing closures, command
 * expressions (`label 'x'`, `agent any`), maps, lists, closures and strings.
 * It keeps what the pipeline reader evaluates (literals, names, calls, maps,
 * lists, closures, `+`, declarations and assignments) as typed nodes; every
 * other expression becomes a KA_PN_OTHER node that keeps its operator and its
 * operands, so closures inside it are still found but nothing in it is taken
 * for a value.  Class bodies are skipped whole.  A syntax error is reported
 * with its line:col, as Groovy would refuse the script.
 *
 * Nodes live in the arena passed to ka_parse(), as do the tokens they point
 * to; recursion depth is capped (KA_PIPELINE_MAX_DEPTH). */
#ifndef KA_PIPELINE_AST_H
#define KA_PIPELINE_AST_H

#include <stdbool.h>
#include <stddef.h>

#include "lex.h"
#include "util/buf.h"

enum ka_pn_kind {
        /* expressions */
        KA_PN_NULL = 1,
        KA_PN_BOOL,    /* flag is the value */
        KA_PN_NUMBER,  /* tok */
        KA_PN_STRING,  /* tok: a string without interpolation */
        KA_PN_GSTRING, /* tok: parts */
        KA_PN_LIST,    /* kids */
        KA_PN_MAP,     /* ents */
        KA_PN_IDENT,   /* name */
        KA_PN_PROP,    /* target.name (also ?. and *.) */
        KA_PN_CALL,    /* [target.]name(kids, ents) body; flag: written without parentheses */
        KA_PN_CLOSURE, /* ents: parameters (names only); body: a BLOCK */
        KA_PN_BINARY,  /* kids[0] name kids[1], name is the operator */
        KA_PN_ASSIGN,  /* kids[0] name kids[1], name is "=", "+=", ... */
        KA_PN_OTHER,   /* any other expression; name: its operator or form; kids: its operands */
        /* statements */
        KA_PN_BLOCK,   /* kids: statements */
        KA_PN_EXPR,    /* kids[0] */
        KA_PN_DECL,    /* a declared variable: name, kids[0] the value or NULL */
        KA_PN_IF,      /* kids: condition, then, else (or NULL) */
        KA_PN_LOOP,    /* for/while/do: ents: variables it declares; kids: header expressions..., body last */
        KA_PN_TRY,     /* kids: blocks (try, catch..., finally); ents: catch variables */
        KA_PN_SWITCH,  /* kids: subject, then the case expressions and bodies */
        KA_PN_METHOD,  /* name; ents: parameters; body */
        KA_PN_SKIPPED, /* import, package, class ...: name says which */
        KA_PN_JUMP,    /* return, throw, assert, break, continue: name; kids: expressions */
};

struct ka_pnode;

/* A map entry, a named argument, or a parameter/variable name. */
struct ka_pentry {
        const char *key;           /* NULL when the key is computed: `(expr): value` or a GString */
        unsigned line, col;        /* of the key */
        struct ka_pnode *key_expr; /* computed key, or NULL */
        struct ka_pnode *value;    /* NULL for parameter names */
};

struct ka_pnode {
        enum ka_pn_kind kind;
        unsigned line, col;
        uint32_t off, end;          /* byte span in the source */
        const struct ka_token *tok; /* literals */
        const char *name;
        struct ka_pnode *target;
        struct ka_pnode **kids;
        size_t n_kids;
        struct ka_pentry *ents;
        size_t n_ents;
        struct ka_pnode *body;
        bool flag;
};

/* The whole script as a KA_PN_BLOCK. */
int ka_parse(const struct ka_tokens *toks, const char *file, struct ka_arena *arena, struct ka_pnode **ret,
             struct ka_error *err);

/* A compact one-line rendering of a tree, for tests and debugging:
 * (call podTemplate (label: "x") {block ...}). */
void ka_pnode_dump(const struct ka_pnode *n, struct ka_buf *out);

#endif
