/* Fuzz target: the Jenkinsfile reader (lexer, parser, and what it makes of
 * podTemplate steps and declarative agents). */
#include <stddef.h>
#include <stdint.h>

#include "pipeline/ast.h"
#include "pipeline/pipeline.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        struct ka_arena arena = KA_ARENA_INIT(64u << 20);
        struct ka_tokens toks;
        struct ka_pnode *root;
        struct ka_error err = {0};
        if (ka_lex((const char *)data, size, "fuzz.groovy", &arena, &toks, &err) == 0 &&
            ka_parse(&toks, "fuzz.groovy", &arena, &root, &err) == 0) {
                struct ka_buf out = KA_BUF_INIT(0);
                ka_pnode_dump(root, &out);
                ka_buf_free(&out);
        } else if (!err.msg[0] || !err.line) {
                __builtin_trap(); /* every refusal says where */
        }
        ka_arena_free(&arena);

        /* yamlFile can read nothing from a folder that does not exist */
        struct ka_pipeline_options o = {.base_dir = "/nonexistent/kubeagent-fuzz"};
        struct ka_pipeline p;
        struct ka_diags d = {0};
        int r = ka_pipeline_read((const char *)data, size, "fuzz.groovy", &o, &p, &d);
        if (r == 0 || r == -22)
                ka_pipeline_free(&p);
        else if (d.errors == 0)
                __builtin_trap(); /* a refusal comes with its reason */
        ka_diags_free(&d);
        return 0;
}
