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

const struct kubeagent_host *volutil_host;
struct kubeagent_plugin_handle *volutil_self;

int volutil_init(const struct kubeagent_host *host, struct kubeagent_plugin_handle *self, void **ret_state,
                 struct ka_error *err) {
        (void)ret_state;
        (void)err;
        volutil_host = host;
        volutil_self = self;
        return 0;
}

int volutil_mount(struct kubeagent_volume_out *out, const char *path) {
        out->mount_path = strdup(path);
        return out->mount_path ? 0 : -ENOMEM;
}

/* The keys of both forms; the pod form adds mountPath. */
/* clang-format off */
#define CLAIM_KEYS \
        {"accessModes", KUBEAGENT_CFG_STRING, "ReadWriteOnce", 0, offsetof(struct volutil_claim, access_modes), \
         "access mode of the claim"}, \
        {"storageClassName", KUBEAGENT_CFG_STRING, NULL, 0, offsetof(struct volutil_claim, storage_class), \
         "storage class (default: the cluster's)"}, \
        {"requestsSize", KUBEAGENT_CFG_STRING, "10Gi", 0, offsetof(struct volutil_claim, size), "size of the claim"}
/* clang-format on */

const struct kubeagent_config_key volutil_claim_pod_keys[] = {
        VOLUTIL_KEY_MOUNT_PATH(struct volutil_claim),
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
