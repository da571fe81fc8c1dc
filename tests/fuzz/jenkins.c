/* Fuzz target: what the Jenkins frontend reads — from a controller: `why`
 * texts, task URLs, jenkins-agent.jnlp documents, the queue, the node
 * list, a label's nodes and an item that left the queue; from the core: bus messages (handled by a frontend whose controller
 * is unreachable).  The first byte picks the parser. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugins/credentials/common/credutil.h"
#include "../../plugins/frontends/jenkins/jenkins.h"
#include "plugin/plugin.h"
#include "util/log.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(void *ud, const cJSON *msg) {
        (void)ud;
        (void)msg;
}

static struct jk_frontend *frontend(void) {
        static struct jk_frontend *fe;
        static struct jk_conf conf = {.url = "http://127.0.0.1:1/", .user = "fuzz", .poll_interval_ms = 2000,
                                      .timeout_ms = 1000, .name_prefix = "ka-"};
        static char token[] = "/tmp/ka-fuzz-jenkins-token-XXXXXX";
        if (!fe) {
                int fd = mkstemp(token);
                if (fd < 0 || write(fd, "11aa\n", 5) != 5)
                        abort();
                close(fd);
                conf.token_file = token;
                struct ka_error err;
                if (jk_frontend_new(&conf, drop, NULL, &fe, &err) < 0)
                        abort();
                unlink(token);
        }
        return fe;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int init;
        if (!init) {
                ka_mem_init();
                jk_host = cu_host = ka_host();
                int devnull = open("/dev/null", O_WRONLY);
                if (devnull >= 0)
                        ka_log_set_fd(devnull);         /* refusals are expected: keep them quiet */
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
        switch (data[0] % 8) {
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
        case 4: {
                struct jk_computers cs = {0};
                if (jk_computers_parse(text, size - 1, &cs, &err) == 0)
                        jk_computers_clear(&cs);
                break;
        }
        case 6: {
                char **nodes = NULL;
                if (jk_label_nodes_parse(text, size - 1, &nodes, &err) == 0)
                        jk_strv_free(nodes);
                break;
        }
        case 7: {
                char *run = NULL;
                if (jk_left_item_parse(text, size - 1, &run, &err) == 0 && run && !*run)
                        __builtin_trap();       /* a run URL is never empty */
                free(run);
                break;
        }
        default: {
                cJSON *msg = cJSON_ParseWithLength(text, size - 1);
                if (cJSON_IsObject(msg))
                        jk_frontend_handle(frontend(), msg);
                cJSON_Delete(msg);
                break;
        }
        }
        free(text);
        return 0;
}
