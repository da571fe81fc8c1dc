/* Unit tests for core/pipeline's lexer and parser: Groovy strings and
 * GStrings, numbers, comments, places, statements and expressions of the
 * subset Jenkinsfiles use, located syntax errors, and the bounds. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/ast.h"
#include "tap.h"
#include "util/mem.h"

/* The dump of every statement, one per line, or "ERROR l:c: message". */
static char *parse(const char *src, size_t len) {
        struct ka_arena arena = KA_ARENA_INIT(64u << 20);
        struct ka_tokens toks;
        struct ka_pnode *root;
        struct ka_error err = {0};
        struct ka_buf out = KA_BUF_INIT(0);
        if (ka_lex(src, len, "Jenkinsfile", &arena, &toks, &err) < 0 ||
            ka_parse(&toks, "Jenkinsfile", &arena, &root, &err) < 0) {
                ka_buf_printf(&out, "ERROR %u:%u: %s", err.line, err.col, err.msg);
        } else {
                for (size_t i = 0; i < root->n_kids; i++) {
                        if (i)
                                ka_buf_putc(&out, '\n');
                        ka_pnode_dump(root->kids[i], &out);
                }
        }
        ka_arena_free(&arena);
        return ka_buf_steal(&out);
}

#define PARSES(src, want, name)                                                                                        \
        do {                                                                                                           \
                char *got_ = parse((src), strlen(src));                                                                \
                is_str(got_, (want), "%s", (name));                                                                    \
                free(got_);                                                                                            \
        } while (0)

#define FAILS(src, want, name)                                                                                         \
        do {                                                                                                           \
                char *got_ = parse((src), strlen(src));                                                                \
                like(got_, (want), "%s", (name));                                                                      \
                ok(strncmp(got_, "ERROR ", 6) == 0, "%s: refused", (name));                                            \
                free(got_);                                                                                            \
        } while (0)

static void test_strings(void) {
        PARSES("x = 'a\\'b\\n\\t\\\\\\$'", "(expr (assign = (id x) (str \"a'b\\n\\x09\\\\$\")))",
               "single quotes: escapes, no interpolation");
        PARSES("x = '$HOME'", "(expr (assign = (id x) (str \"$HOME\")))", "a dollar in single quotes is text");
        PARSES("x = \"a\\u00e9\\101\\0\"",
               "(expr (assign = (id x) (str \"a\xc3\xa9"
               "A\\x00\")))",
               "unicode and octal escapes");
        PARSES("x = \"\\uD83D\\uDE00\"", "(expr (assign = (id x) (str \"\xf0\x9f\x98\x80\")))", "surrogate pair");
        PARSES("x = '''a\r\nb\\\nc'''", "(expr (assign = (id x) (str \"a\\nbc\")))",
               "triple quotes: CRLF becomes LF, backslash-newline joins");
        PARSES("x = \"\"\"\nkind: Pod\n  a: \"b\"\n\"\"\"",
               "(expr (assign = (id x) (str \"\\nkind: Pod\\n  a: \\\"b\\\"\\n\")))",
               "triple double quotes without interpolation are plain text");
        PARSES("x = \"a${b}c$d.e.f ${ m[\"k\"] } \\${no}\"",
               "(expr (assign = (id x) (gstr \"a\" ${b} \"c\" $d.e.f \" \" ${ m[\"k\"] } \" ${no}\")))",
               "GString pieces: ${expr}, $a.b.c, escaped dollar");
        PARSES("x = \"${ \"${'}'}\" }\"", "(expr (assign = (id x) (gstr ${ \"${'}'}\" })))",
               "nested strings inside an interpolation");
        PARSES("x = \"$a$b.\"", "(expr (assign = (id x) (gstr $a $b \".\")))", "$a$b and a trailing dot");
        PARSES("x = /a\\/b\\d$/", "(expr (assign = (id x) (str \"a/b\\\\d$\")))",
               "slashy string: only \\/ is an escape, $ before the end is text");
        PARSES("x = $/a $$ $/ \\d ${y}/$", "(expr (assign = (id x) (gstr \"a $ / \\\\d \" ${y})))",
               "dollar-slashy string");
        PARSES("x = a / b / c", "(expr (assign = (id x) (other / (other / (id a) (id b)) (id c))))",
               "after an operand, / divides");
        PARSES("x = (a) / 2", "(expr (assign = (id x) (other / (id a) (num 2))))", "after ')', / divides");
        FAILS("x = 'abc\ny'", "ERROR 1:5: string not closed before the end of the line", "single-line string");
        FAILS("x = '''abc", "ERROR 1:5: string not closed before the end of the file", "triple-quoted string");
        FAILS("x = \"a\\qb\"", "ERROR 1:7: unknown escape sequence \\q in a string", "bad escape");
        FAILS("x = \"\\u12\"", "ERROR 1:6: bad \\u escape", "short unicode escape");
        FAILS("args: ['$(JENKINS_SECRET)']\nx = \"$(JENKINS_SECRET)\"",
              "ERROR 2:6: illegal string body character after dollar sign; solution: either escape a literal dollar "
              "sign \"\\$5\" or bracket the value expression \"${5}\"",
              "Groovy's message for $( in a GString");
        FAILS("x = \"${a\n", "ERROR ", "unclosed interpolation");
        FAILS("x = \"${a", "1:", "unclosed interpolation at the end");
}

static void test_lexemes(void) {
        PARSES("x = [1, 2.5, 1e3, 1.5e-2, 0x1F, 0b101, 1_000L, 2G, 3.0d]",
               "(expr (assign = (id x) (list (num 1) (num 2.5) (num 1e3) (num 1.5e-2) (num 0x1F) (num 0b101) "
               "(num 1_000L) (num 2G) (num 3.0d))))",
               "number forms");
        PARSES("x = 1..3", "(expr (assign = (id x) (other .. (num 1) (num 3))))", "a range is not a decimal");
        FAILS("x = 12ab", "ERROR 1:5: malformed number", "letters after digits");
        FAILS("x = 0x", "ERROR 1:5: malformed number", "hex without digits");
        PARSES("#!/usr/bin/env groovy\n// line\nx = 1 /* block\n */ y = 2",
               "(expr (assign = (id x) (num 1)))\n(expr (assign = (id y) (num 2)))",
               "shebang and comments; a block comment with a line break separates statements");
        PARSES("\xef\xbb\xbf"
               "def x = 1",
               "(decl x: (num 1))", "a byte order mark is skipped");
        FAILS("/* open\nx", "ERROR 1:1: comment not closed: missing */", "unclosed comment");
        FAILS("x = 1 # 2", "ERROR 1:7: unexpected character '#'", "stray character");
        FAILS("x = 1\n\x01", "ERROR 2:1: unexpected byte 0x01", "control byte");
        FAILS("s = 'é'; x = #", "ERROR 1:14: unexpected character '#'", "columns count characters, not bytes");
        PARSES("x = $class", "(expr (assign = (id x) (id $class)))", "$ in names");
        PARSES("x = a \\\n + b", "(expr (assign = (id x) (bin + (id a) (id b))))", "backslash continues a line");
}

static void test_statements(void) {
        PARSES("def a = 1, b\nString c = 'x'\nfinal d = 2\nMap<String, List<String>> e = [:]\nint f",
               "(decl a: (num 1) b)\n(decl c: (str \"x\"))\n(decl d: (num 2))\n(decl e: (map))\n(decl f)",
               "declarations");
        PARSES("def (a, b) = [1, 2]", "(decl (list (num 1) (num 2)) a b)", "multiple assignment");
        PARSES("x = 1\nx += 2\ny.z = 3\nw['k'] = 4",
               "(expr (assign = (id x) (num 1)))\n(expr (assign += (id x) (num 2)))\n"
               "(expr (assign = (prop z on (id y)) (num 3)))\n(expr (assign = (other [] (id w) (str \"k\")) (num 4)))",
               "assignments");
        PARSES("if (a) b() else if (c) { d() } else e()",
               "(if (id a) (expr (call b)) (if (id c) (block (expr (call d))) (expr (call e))))",
               "if / else if / else");
        PARSES("if (a) {\n}\nelse {\n}", "(if (id a) (block) (block))", "else on its own line");
        PARSES("for (x in xs) { f(x) }\nfor (int i = 0; i < 3; i++) g(i)\nfor (Map.Entry e : m) {}",
               "(loop (block (expr (call f (id x)))) x)\n(loop (expr (call g (id i))) i)\n(loop (block) e)",
               "for loops record the names they declare");
        PARSES("while (a) { break }\ndo { continue } while (b)",
               "(loop (id a) (block (jump break)))\n(loop (id b) (block (jump continue)))", "while and do");
        PARSES("try { a() } catch (IOException | RuntimeException e) { b(e) } finally { c() }",
               "(try (block (expr (call a))) (block (expr (call b (id e)))) (block (expr (call c))) e)",
               "try / catch / finally");
        PARSES("switch (x) {\ncase 'a':\n case ~/b/: f(); break\ndefault: g()\n}",
               "(switch (id x) (block (expr (call f)) (jump break) (expr (call g))))", "switch");
        PARSES("def f(String a, b = [1, 2], Closure c) { c() }\npublic static void g() {}\nString h() throws "
               "IOException { return 'x' }",
               "(method f a b c (block (expr (call c))))\n(method g (block))\n(method h (block (jump return (str "
               "\"x\"))))",
               "method definitions");
        PARSES("class A extends B implements C { def x = { podTemplate() }; void m() {} }\nx = 1",
               "(skipped class)\n(expr (assign = (id x) (num 1)))", "class bodies are skipped");
        PARSES("@Library('lib@1') _\nimport a.b.C\npackage x.y\n@NonCPS\ndef f() {}",
               "(expr (id _))\n(skipped import)\n(skipped package)\n(method f (block))", "annotations and imports");
        PARSES("outer: for (x in y) { break outer }", "(loop (block (jump break)) x)", "labels");
        PARSES("return\nassert a : 'msg'\nthrow new Exception('x')",
               "(jump return)\n(jump assert (id a) (str \"msg\"))\n(jump throw (other new (str \"x\")))",
               "return, assert, throw");
        PARSES("a(); b()\nc() ; ; d()", "(expr (call a))\n(expr (call b))\n(expr (call c))\n(expr (call d))",
               "semicolons");
        PARSES("synchronized (x) { y() }", "(if (id x) (block (expr (call y))) nil)", "synchronized block");
}

static void test_expressions(void) {
        PARSES("podTemplate(label: 'x', containers: [containerTemplate(name: 'a')]) {\n  node('x') { sh 'hi' }\n}",
               "(expr (call podTemplate label: (str \"x\") containers: (list (call containerTemplate name: (str "
               "\"a\"))) (closure (block (expr (call node (str \"x\") (closure (block (expr (call sh (str "
               "\"hi\")))))))))))",
               "named arguments, lists, trailing closure");
        PARSES("label 'mypod'\nagent any\npodRetention onFailure()\nworkspaceVolume dynamicPVC(requestsSize: '1Gi')",
               "(expr (call label (str \"mypod\")))\n(expr (call agent (id any)))\n(expr (call podRetention (call "
               "onFailure)))\n(expr (call workspaceVolume (call dynamicPVC requestsSize: (str \"1Gi\"))))",
               "command expressions");
        PARSES("git url: 'u', branch: 'b'\nsh script: 'x',\n   returnStdout: true",
               "(expr (call git url: (str \"u\") branch: (str \"b\")))\n(expr (call sh script: (str \"x\") "
               "returnStdout: (bool true)))",
               "command expressions with named arguments, continued after a comma");
        PARSES("values 'a', 'b'", "(expr (call values (str \"a\") (str \"b\")))", "command with two arguments");
        PARSES("script.sh 'x'", "(expr (call sh on (id script) (str \"x\")))", "command on a qualified name");
        PARSES("a b c d", "(expr (call c on (call a (id b)) (id d)))", "command chain: a(b).c(d)");
        PARSES("x = [a: 1, 'b': 2, (c): 3, \"${d}\": 4, *: e, default: 5]",
               "(expr (assign = (id x) (map a: (num 1) b: (num 2) (id c): (num 3) (gstr ${d}): (num 4) *: (id e) "
               "default: (num 5))))",
               "map keys");
        PARSES("x = [\n  1,\n  2,\n]", "(expr (assign = (id x) (list (num 1) (num 2))))",
               "lines and a trailing comma inside brackets");
        PARSES("f(\n  a: 1,\n  b: 2\n)", "(expr (call f a: (num 1) b: (num 2)))", "lines inside parentheses");
        PARSES("x = { a, String b = 'c' -> a }\ny = { -> 1 }\nz = { it }",
               "(expr (assign = (id x) (closure a b (block (expr (id a))))))\n"
               "(expr (assign = (id y) (closure (block (expr (num 1))))))\n"
               "(expr (assign = (id z) (closure (block (expr (id it))))))",
               "closure parameters");
        PARSES("x = a ? b : c ?: d", "(expr (assign = (id x) (other ?: (id a) (id b) (other ?: (id c) (id d)))))",
               "ternary and elvis");
        PARSES("x = a || b && c == d + e * f ** g",
               "(expr (assign = (id x) (other || (id a) (other && (id b) (other == (id c) (bin + (id d) (other * (id "
               "e) (other ** (id f) (id g)))))))))",
               "precedence");
        PARSES("x = 'a' +\n  'b'\ny = 1\n- 2",
               "(expr (assign = (id x) (bin + (str \"a\") (str \"b\"))))\n"
               "(expr (assign = (id y) (num 1)))\n(expr (other - (num 2)))",
               "an operator ends a line to continue it, not starts the next");
        PARSES("x = a\n  .b()\n  ?.c", "(expr (assign = (id x) (prop c on (call b on (id a)))))",
               "a line starting with . continues the previous");
        PARSES("x = (String) y\nz = (a) + 1\nw = x as List\nv = x instanceof Map<String, String>",
               "(expr (assign = (id x) (other cast (id y))))\n(expr (assign = (id z) (bin + (id a) (num 1))))\n"
               "(expr (assign = (id w) (other as (id x))))\n(expr (assign = (id v) (other instanceof (id x))))",
               "casts and type operators");
        PARSES("x = new Foo<Bar>(a, b: c) { void m() {} }\ny = new int[3]\nz = new String[] {'a'}",
               "(expr (assign = (id x) (other new (id a) (id c))))\n(expr (assign = (id y) (other new)))\n"
               "(expr (assign = (id z) (other new)))",
               "constructors");
        PARSES("x = a.&b\ny = a*.b\nz = a.@b\nw = a.\"$n\"(1) { }",
               "(expr (assign = (id x) (other .& (id a))))\n(expr (assign = (id y) (other *. (id a))))\n"
               "(expr (assign = (id z) (other .@ (id a))))\n"
               "(expr (assign = (id w) (other call (other . (id a)) (num 1) (closure (block)))))",
               "member access forms that are not read as values");
        PARSES("x = a[1][2]\ny = m['k']\nz++\n--w",
               "(expr (assign = (id x) (other [] (other [] (id a) (num 1)) (num 2))))\n"
               "(expr (assign = (id y) (other [] (id m) (str \"k\"))))\n(expr (other ++ (id z)))\n"
               "(expr (other -- (id w)))",
               "index and increments");
        PARSES("parallel a: { x() }, b: { y() }",
               "(expr (call parallel a: (closure (block (expr (call x)))) b: (closure (block (expr (call y))))))",
               "parallel branches");
        PARSES("f(*args)\ng(x) { } { }",
               "(expr (call f (other * (id args))))\n(expr (call g (id x) (closure "
               "(block)) (closure (block))))",
               "spread argument, two trailing closures");
        PARSES("x = '''y'''.stripIndent().trim()",
               "(expr (assign = (id x) (call trim on (call stripIndent on (str "
               "\"y\")))))",
               "methods on a string");
        PARSES("podRetention default()", "(expr (call podRetention (call default)))", "default() is a call");
}

static void test_errors(void) {
        FAILS("podTemplate(label: 'anotherpod', inheritFrom: 'mypod' containers: [\n"
              "  containerTemplate(name: 'maven', image: 'maven:3.3.9-jdk-7-alpine')\n]) {\n}",
              "ERROR 1:55: unexpected \"containers\"; expected ',' or ')'",
              "the README's inheritFrom example misses a comma");
        FAILS("f(a: 1\n", "ERROR 2:1: unexpected end of file; expected ',' or ')'", "unclosed call");
        FAILS("x = [1, 2", "ERROR 1:10: unexpected end of file; expected ',' or ']'", "unclosed list");
        FAILS("node {\n  sh 'x'\n", "ERROR 3:1: unexpected end of file; expected '}'", "unclosed closure");
        FAILS("}", "ERROR 1:1: unexpected '}'", "stray }");
        FAILS("f(]", "ERROR 1:3: unexpected ']'; expected an expression", "wrong closer");
        FAILS("{ a() }", "ERROR 1:1: Ambiguous expression could be a parameterless closure expression", "open block");
        FAILS("f()\n{\n}", "ERROR 2:1: Ambiguous expression", "a closure on the next line is not the call's");
        FAILS("a b = 1", "ERROR 1:5: unexpected '='; expected the end of the statement", "junk after a command");
        FAILS("x = 1 2", "ERROR 1:7: unexpected number 2; expected the end of the statement", "two values");
        FAILS("else { }", "ERROR 1:1: unexpected \"else\"", "else without if");
        FAILS("try { }", "ERROR 1:8: unexpected end of file; expected 'catch' or 'finally'", "try alone");
        FAILS("x = if (a) 1", "ERROR 1:5: unexpected \"if\"; expected an expression", "if is not an expression");
        FAILS("class { ", "ERROR ", "class without a body");
        FAILS("x = [a: 1, 2]", "ERROR 1:12: unexpected number 2; expected a map key followed by ':'",
              "map and list mixed");
        FAILS("x = new", "ERROR 1:8: unexpected end of file; expected a class name after 'new'", "new alone");
}

static void test_bounds(void) {
        size_t n = 5000;
        char *deep = ka_malloc(2 * n + 8);
        memcpy(deep, "x = ", 4);
        memset(deep + 4, '[', n);
        memset(deep + 4 + n, ']', n);
        deep[4 + 2 * n] = 0;
        char *got = parse(deep, strlen(deep));
        like(got, "nested more than 200 levels deep", "deep lists: refused, no stack overflow");
        free(got);
        for (size_t i = 0; i < n; i++)
                deep[i] = i % 2 ? '{' : 'f';
        deep[n] = 0;
        got = parse(deep, strlen(deep));
        like(got, "nested more than 200 levels deep", "deep closures: refused");
        free(got);
        free(deep);

        size_t big = KA_PIPELINE_MAX_BYTES + 1;
        char *huge = ka_malloc(big);
        memset(huge, ' ', big);
        got = parse(huge, big);
        like(got, "larger than 1048576 bytes", "a script over the size cap is refused");
        free(got);
        for (size_t i = 0; i + 1 < big; i += 2)
                huge[i] = ';';
        got = parse(huge, KA_PIPELINE_MAX_BYTES);
        like(got, "script too large: more than 200000 tokens", "token cap");
        free(got);
        free(huge);

        char *nest = ka_malloc(64 * 6 + 64);
        size_t k = 0;
        k += (size_t)sprintf(nest + k, "x = ");
        for (int i = 0; i < 40; i++)
                k += (size_t)sprintf(nest + k, "\"${");
        k += (size_t)sprintf(nest + k, "1");
        for (int i = 0; i < 40; i++)
                k += (size_t)sprintf(nest + k, "}\"");
        got = parse(nest, k);
        like(got, "strings nested too deeply", "interpolations nested too deeply");
        free(got);
        free(nest);
}

int main(void) {
        ka_mem_init();
        test_strings();
        test_lexemes();
        test_statements();
        test_expressions();
        test_errors();
        test_bounds();
        return tap_done();
}
