/* core/pipeline/eval.h — what a Jenkinsfile expression is worth before the
 * build runs.
 *
 * Literals, lists, maps, calls of describable symbols (`containerTemplate(...)`),
 * string concatenation, `stripIndent()`/`stripMargin()`/`trim()` on strings,
 * and variables assigned such values evaluate to a struct ka_val; anything
 * else is KA_VAL_RUNTIME (known only when the build runs) and keeps its
 * source text.  A string keeps the interpolations it could not resolve as
 * their text (`${...}`), each with its place, so that whoever uses the string
 * can warn about them.
 *
 * Variables follow Groovy's scopes closely enough never to give a wrong
 * value: a variable assigned in a block that may not run (a branch, a loop,
 * a closure, a method) becomes unknown in the enclosing scopes; code that
 * may run later than it is written (a method body, a closure kept in a
 * variable) sees an outer variable only if the script assigns it once;
 * method bodies see only the script's binding variables, and a binding
 * variable that a method assigns is never known.  Values live in the
 * reader's arena. */
#ifndef KA_PIPELINE_EVAL_H
#define KA_PIPELINE_EVAL_H

#include "ast.h"

enum ka_val_kind {
        KA_VAL_NULL = 1,
        KA_VAL_BOOL,
        KA_VAL_NUM,
        KA_VAL_STR,
        KA_VAL_LIST,
        KA_VAL_MAP,
        KA_VAL_CALL, /* a call of a name: name(items, ents) { body } */
        KA_VAL_CLOSURE,
        KA_VAL_RUNTIME, /* only known when the build runs: src is its text */
};

/* An interpolation kept as text. */
struct ka_gap {
        unsigned line, col;
        const char *text; /* as written: "${x.y}" or "$x" */
};

struct ka_val;

struct ka_vent {
        const char *key;
        unsigned line, col;
        struct ka_val *v;
};

struct ka_val {
        enum ka_val_kind kind;
        unsigned line, col; /* where it is written, or where the variable is used */
        /* STR */
        const char *s;
        size_t len;
        struct ka_gap *gaps;
        size_t n_gaps;
        unsigned text_line, text_col; /* where the text's first line starts (literals) */
        const char *text_file;        /* the file the text comes from (yamlFile); NULL: the script */
        /* NUM: the spelling; BOOL */
        const char *num;
        bool b;
        /* LIST items, CALL positional arguments */
        struct ka_val **items;
        size_t n_items;
        /* MAP entries, CALL named arguments */
        struct ka_vent *ents;
        size_t n_ents;
        /* CALL: name and closure */
        const char *name;
        const struct ka_pnode *body;
        /* CALL, RUNTIME: the source text */
        const char *src;
};

struct ka_scope;

struct ka_eval {
        const char *text; /* the script */
        struct ka_arena *arena;
        struct ka_scope *scope; /* innermost */
        const char **multi;     /* names assigned more than once (NULL-terminated) */
        const char **spoiled;   /* names assigned inside a method body */
};

/* Evaluate; NULL only when the arena is full. */
struct ka_val *ka_eval(struct ka_eval *ev, const struct ka_pnode *n);
/* A call's arguments as a CALL value, whatever it is called on
 * (`steps.podTemplate(...)`). */
struct ka_val *ka_eval_call(struct ka_eval *ev, const struct ka_pnode *call);

/* Prepare for a script: the root scope, and which names are assigned more
 * than once or inside methods.  Returns false when the arena is full. */
bool ka_eval_init(struct ka_eval *ev, const char *text, struct ka_arena *arena, const struct ka_pnode *root);
/* Drop every scope. */
void ka_eval_fini(struct ka_eval *ev);

enum ka_scope_kind {
        KA_SCOPE_PLAIN,       /* runs once, where it is written */
        KA_SCOPE_CONDITIONAL, /* may run or not, or many times (branches, loops, closures given to steps) */
        KA_SCOPE_LATER,       /* may run later than written (closures kept in variables) */
        KA_SCOPE_METHOD,      /* a method body */
};

void ka_scope_push(struct ka_eval *ev, enum ka_scope_kind kind);
void ka_scope_pop(struct ka_eval *ev);
/* `def name = v` (v NULL: unknown) in the innermost scope. */
void ka_scope_declare(struct ka_eval *ev, const char *name, struct ka_val *v);
/* `name = v` (v NULL: unknown) */
void ka_scope_assign(struct ka_eval *ev, const char *name, struct ka_val *v);
/* The variable's value may have changed in a way not followed (x++, x.add(...)). */
void ka_scope_spoil(struct ka_eval *ev, const char *name);

/* The value of an integer literal ("0x1F", "1_000L", "017" is octal). */
bool ka_eval_int(const struct ka_val *v, int64_t *ret);

/* The source text of a node (arena copy). */
const char *ka_eval_source(struct ka_eval *ev, const struct ka_pnode *n);

#endif
