/* Fuzz target: what the Jenkins frontend reads from a controller — `why`
 * texts, task URLs, jenkins-agent.jnlp documents, the queue and the node
 * list.  The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/credentials/common/credutil.h"
#include "../../plugins/frontends/jenkins/jenkins.h"
#include "plugin/plugin.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                jk_host = cu_host = ka_host();
                init = 1;
        }
        if (size == 0)
                return 0;
        char *text = malloc(size);      /* NUL-terminated copy of the rest */
        if (!text)
                abort();
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        struct ka_error err = {0};
        switch (data[0] % 5) {
        case 0: {
                struct jk_why w;
                jk_why_parse(text, &w);
                if ((w.kind == JK_WHY_LABEL || w.kind == JK_WHY_NODE || w.kind == JK_WHY_LABEL_OR_NODE) &&
                    (!w.subject || !*w.subject))
                        __builtin_trap();       /* a subject is never empty */
                jk_why_clear(&w);
                break;
        }
        case 1: {
                char *full = NULL;
                long n;
                if (jk_task_job(text, "http://ci.example/jenkins/", &full, &n) == 0 && (!full || !*full || n < 0))
                        __builtin_trap();
                free(full);
                break;
        }
        case 2: {
                char *secret = NULL;
                if (jk_jnlp_secret(text, size - 1, "k8s-1", &secret, &err) == 0) {
                        if (strlen(secret) != 64)
                                __builtin_trap();
                        free(secret);
                }
                break;
        }
        case 3: {
                struct jk_queue q = {0};
                if (jk_queue_parse(text, size - 1, "http://ci.example/", &q, &err) == 0)
                        jk_queue_clear(&q);
                break;
        }
        default: {
                struct jk_computers cs = {0};
                if (jk_computers_parse(text, size - 1, &cs, &err) == 0)
                        jk_computers_clear(&cs);
                break;
        }
        }
        free(text);
        return 0;
}
