/* Fuzz target: proxy selection (core/kube/proxy.c) — NO_PROXY lists, host
 * names, ports and proxy URLs from the input (fields separated by NUL
 * bytes: no_proxy, host, port, https_proxy, proxy-url), and the masking of a
 * proxy URL's password, which must never leave the password in. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/proxy.h"
#include "util/mem.h"
#include "util/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* no_proxy, host, port, https_proxy, proxy-url */
        char *f[5] = {NULL, NULL, NULL, NULL, NULL};
        size_t nf = 0, start = 0;
        for (size_t i = 0; i <= size && nf < 5; i++)
                if (i == size || data[i] == '\0') {
                        f[nf++] = ka_strndup((const char *)data + start, i - start);
                        start = i + 1;
                }
        for (size_t i = 0; i < 3; i++)
                if (!f[i])
                        f[i] = ka_strdup(i == 2 ? "443" : "");
        struct ka_kube_proxy_env env = {.https_proxy = f[3], .no_proxy = f[0]};
        char *proxy = NULL;
        if (ka_kube_proxy_for(f[4], &env, true, f[1], f[2], &proxy, NULL) == 0 && proxy) {
                char *shown = ka_kube_proxy_display(proxy);
                if (strlen(shown) > strlen(proxy) + strlen(KA_SECRET_MASK))
                        __builtin_trap();
                free(shown);
        }
        free(proxy);
        for (size_t i = 0; i < 5; i++)
                free(f[i]);
        return 0;
}
