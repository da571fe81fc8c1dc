/* Runs a libFuzzer target over its corpus as a plain program, so every fuzz
 * target is also a regression test in `make check`.  Prints one TAP line per
 * input; an input that crashes the target crashes the test (under the
 * sanitizers, with a report). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
        ka_mem_init();
        const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS;
        DIR *d = opendir(dir);
        if (!d) {
                printf("Bail out! cannot open corpus %s\n", dir);
                return 1;
        }
        char **names = ka_new0(char *, 1);
        struct dirent *e;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        names = ka_strv_push(names, e->d_name);
        closedir(d);
        qsort(names, ka_strv_len(names), sizeof(char *), cmp);
        for (size_t i = 0; names[i]; i++) {
                char *path = ka_path_join(dir, names[i]);
                char *data;
                size_t len;
                struct ka_error err = {0};
                if (ka_read_file(path, 1u << 20, &data, &len, &err) < 0) {
                        ok(false, "%s: %s", names[i], err.msg);
                } else {
                        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
                        ok(true, "%s", names[i]);
                        free(data);
                }
                free(path);
        }
        ka_strv_free(names);
        return tap_done();
}
