/* Fuzz target: kubeconfig files through the kubeconfig plugin's loader
 * (merge, context selection, field checks, relative paths), compiled in
 * with the core's host table.  The input is a file read from a memfd. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../plugins/credentials/common/credutil.h"
#include "../../plugins/credentials/kubeconfig/kubeconfig.h"
#include "plugin/plugin.h"
#include "util/mem.h"
#include "util/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int fd = -1;
        if (fd < 0) {
                ka_mem_init();
                cu_host = ka_host();
                fd = memfd_create("kubeconfig", 0);
                if (fd < 0)
                        return 0;
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
                return 0;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        struct kc_resolved r;
        struct ka_error err = {0};
        if (kc_load(path, NULL, &r, &err) == 0)
                kc_resolved_clear(&r);
        if (kc_load(path, "other", &r, &err) == 0)
                kc_resolved_clear(&r);
        ka_secret_reset();
        return 0;
}
