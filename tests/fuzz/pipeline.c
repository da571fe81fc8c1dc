/* Fuzz target: the Jenkinsfile reader (lexer and parser). */
#include <stddef.h>
#include <stdint.h>

#include "pipeline/ast.h"
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
        return 0;
}
