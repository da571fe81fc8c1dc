#include "volutil.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

char *volutil_trimmed(const char *s, const char *fallback) {
        s = s ? s + strspn(s, " \t") : "";
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        return n ? strndup(s, n) : fallback ? strdup(fallback) : NULL;
}

int volutil_mount(struct kubeagent_volume_out *out, const char *path) {
        out->mount_path = strdup(path);
        return out->mount_path ? 0 : -ENOMEM;
}

#define CLAIM_KEYS                                                                                                     \
        {"accessModes",                                                                                                \
         KUBEAGENT_CFG_STRING,                                                                                         \
         "ReadWriteOnce",                                                                                              \
         0,                                                                                                            \
         offsetof(struct volutil_claim, access_modes),                                                                 \
         "access mode of the claim"},                                                                                  \
                {"storageClassName",                                                                                   \
                 KUBEAGENT_CFG_STRING,                                                                                 \
                 NULL,                                                                                                 \
                 0,                                                                                                    \
                 offsetof(struct volutil_claim, storage_class),                                                        \
                 "storage class (default: the cluster's)"},                                                            \
        {                                                                                                              \
                "requestsSize", KUBEAGENT_CFG_STRING, "10Gi", 0, offsetof(struct volutil_claim, size),                 \
                        "size of the claim"                                                                            \
        }

const struct kubeagent_config_key volutil_claim_pod_keys[] = {
        {"mountPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(struct volutil_claim, mount_path),
         "where the containers see it"},
        CLAIM_KEYS,
        {0},
};

const struct kubeagent_config_key volutil_claim_workspace_keys[] = {CLAIM_KEYS, {0}};

void volutil_claim_spec(cJSON *spec, const struct volutil_claim *c) {
        char *mode = volutil_trimmed(c->access_modes, "ReadWriteOnce"), *size = volutil_trimmed(c->size, "10Gi"),
             *class = volutil_trimmed(c->storage_class, NULL);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "accessModes"), cJSON_CreateString(mode));
        if (class)
                cJSON_AddStringToObject(spec, "storageClassName", class);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "resources"), "requests"),
                                "storage", size);
        free(mode);
        free(size);
        free(class);
}
