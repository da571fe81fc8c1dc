/* plugins/volumes/common — helpers compiled into every volume plugin (they
 * see only the SDK, so this is not a library of the core). */
#ifndef KA_VOLUTIL_H
#define KA_VOLUTIL_H

#include <kubeagent/kubeagent.h>

/* A copy of s without surrounding blanks; `fallback` (copied, may be NULL)
 * when s is NULL or blank. */
char *volutil_trimmed(const char *s, const char *fallback);

/* The host table, and the plugin's handle, kept by volutil_init() (the
 * init() of a volume plugin that reports errors or warnings). */
extern const struct kubeagent_host *volutil_host;
extern struct kubeagent_plugin_handle *volutil_self;
int volutil_init(const struct kubeagent_host *host, struct kubeagent_plugin_handle *self, void **ret_state,
                 struct ka_error *err);

/* The pod form's mountPath key, into member mount_path of `type`. */
/* clang-format off */
#define VOLUTIL_KEY_MOUNT_PATH(type) \
        {"mountPath", KUBEAGENT_CFG_STRING, NULL, KUBEAGENT_CFG_REQUIRED, offsetof(type, mount_path), \
         "where the containers see it"}
/* clang-format on */

/* out->mount_path = a copy of path; 0 or -ENOMEM. */
int volutil_mount(struct kubeagent_volume_out *out, const char *path);

/* The keys of a claim asked for on the pod's behalf (genericEphemeralVolume,
 * dynamicPVC), in both forms. */
struct volutil_claim {
        char *mount_path;
        char *access_modes;
        char *storage_class;
        char *size;
};
extern const struct kubeagent_config_key volutil_claim_pod_keys[];
extern const struct kubeagent_config_key volutil_claim_workspace_keys[];

/* Fill a PersistentVolumeClaim spec: accessModes [mode or ReadWriteOnce],
 * storageClassName when given, resources.requests.storage (size or 10Gi). */
void volutil_claim_spec(cJSON *spec, const struct volutil_claim *c);

#endif
