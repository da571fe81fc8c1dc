/* A run's state and result (jenkins.h; reference §6.3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../credentials/common/credutil.h"
#include "jenkins.h"

static const char *const results[] = {"SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"};

int jk_run_get(struct jk_client *c, const char *run_url, struct jk_run *ret, struct ka_error *err) {
        char *rel = jk_client_relative(c, run_url);
        size_t n = strlen(rel);
        char *path = cu_printf("%s%sapi/json?tree=number,building,result", rel, n && rel[n - 1] == '/' ? "" : "/");
        char *what = cu_printf("read run %s", rel);
        cJSON *j;
        int rc = jk_get_json(c, path, what, JK_PERM_ITEM_READ, &j, err);
        if (rc == 0) {
                const cJSON *building = cJSON_GetObjectItemCaseSensitive(j, "building");
                const cJSON *result = cJSON_GetObjectItemCaseSensitive(j, "result");
                int64_t number = jk_json_int(j, "number");
                *ret = (struct jk_run){.number = number > 0 ? (long)number : 0, .building = !cJSON_IsFalse(building)};
                /* only Jenkins' five results count; anything else is "no result yet" */
                for (size_t i = 0; cJSON_IsString(result) && i < sizeof(results) / sizeof(*results); i++)
                        if (strcmp(result->valuestring, results[i]) == 0)
                                ret->result = cu_strdup(results[i]);
                if (!ret->building && !ret->result)
                        rc = jk_host->error_set(err, -EPROTO, "%s: finished without a result", what);
                cJSON_Delete(j);
        }
        free(what);
        free(path);
        free(rel);
        return rc;
}

void jk_run_clear(struct jk_run *r) {
        free(r->result);
        *r = (struct jk_run){0};
}
