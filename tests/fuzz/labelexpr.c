/* Fuzz target: Jenkins label expressions and label strings.  What parses
 * must print in a canonical form that parses again to an expression with the
 * same truth table over the atoms involved. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "template/template.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                init = 1;
        }
        if (size > 4096)
                return 0;
        char *text = ka_strndup((const char *)data, size);
        char **atoms = ka_label_atoms(text);
        char *sanitized = ka_label_sanitize(text);
        ka_label_value_valid(sanitized);
        free(sanitized);

        struct ka_labelexpr *e = NULL;
        struct ka_error err = {0};
        if (ka_labelexpr_parse(text, &e, &err) == 0) {
                char *canonical = ka_labelexpr_format(e);
                struct ka_labelexpr *again = NULL;
                if (ka_labelexpr_parse(canonical, &again, &err) < 0)
                        __builtin_trap();
                /* the same answer for every subset of (up to 8 of) the atoms */
                size_t n = ka_strv_len(atoms) < 8 ? ka_strv_len(atoms) : 8;
                for (unsigned mask = 0; mask < (1u << n); mask++) {
                        char *set[9] = {0};
                        size_t k = 0;
                        for (size_t i = 0; i < n; i++)
                                if (mask & (1u << i))
                                        set[k++] = atoms[i];
                        if (ka_labelexpr_eval(e, set) != ka_labelexpr_eval(again, set))
                                __builtin_trap();
                }
                ka_labelexpr_free(again);
                free(canonical);
                ka_labelexpr_free(e);
        }
        ka_strv_free(atoms);
        free(text);
        return 0;
}
