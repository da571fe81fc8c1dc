/* kubeagent SDK — volume plugins.
 *
 * A volume plugin owns one Kubernetes volume source type in both of the forms
 * the Jenkins kubernetes-plugin has: a pod volume (mounted at its mountPath in
 * the template's containers) and a workspace volume (the volume named
 * `workspace-volume`, mounted at each container's working directory).  It
 * declares which config/pipeline symbols it serves, the keys of each form,
 * validates them, and renders the volume source JSON.  The core does the rest:
 * naming (volume-<i>), mount-path normalisation and de-duplication, and adding
 * mounts to containers.
 *
 * Ownership: members of struct kubeagent_volume_out are owned by the core once
 * render() returns 0 (cJSON trees freed with cJSON_Delete, strings with free()). */
#ifndef KUBEAGENT_VOLUME_H
#define KUBEAGENT_VOLUME_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include <kubeagent/error.h>
#include <kubeagent/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kubeagent_volume_form {
        KUBEAGENT_VOLUME_POD = 1,       /* an entry of a template's `volumes:` */
        KUBEAGENT_VOLUME_WORKSPACE = 2, /* a template's `workspaceVolume:` */
};

struct kubeagent_volume_ctx {
        enum kubeagent_volume_form form;
        const char *pod_name;   /* final pod name (for PVC names) */
        const char *namespace_; /* pod namespace, may be NULL (cloud default) */
};

struct kubeagent_volume_out {
        /* The volume without its name: e.g. {"hostPath": {"path": "/x"}}. */
        cJSON *source;
        /* Pod form only: where and how it is mounted. */
        char *mount_path;
        int read_only;
        char *sub_path; /* or NULL */
        /* Objects to create after the pod (e.g. a PersistentVolumeClaim for a
         * dynamic PVC), as a JSON array or NULL.  The worker creates them in
         * the pod's namespace and sets their ownerReferences to the pod. */
        cJSON *extra_objects;
};

struct kubeagent_volume_form_spec {
        /* Symbols that select this form: JCasC keys and pipeline step names,
         * e.g. {"hostPathVolume", NULL} or {"hostPath", "hostPathWorkspaceVolume", NULL}.
         * NULL when the plugin has no such form. */
        const char *const *symbols;
        const struct kubeagent_config_key *keys;
        size_t conf_size;
};

struct kubeagent_volume_ops {
        struct kubeagent_volume_form_spec pod;
        struct kubeagent_volume_form_spec workspace;

        /* Cross-field checks of one filled entry (types were checked by the
         * core).  May be NULL. */
        int (*validate)(void *state, enum kubeagent_volume_form form, const void *conf,
                        const struct kubeagent_config_source *src, struct ka_error *err);

        int (*render)(void *state, const void *conf, const struct kubeagent_volume_ctx *ctx,
                      struct kubeagent_volume_out *out, struct ka_error *err);

        void *reserved[4];
};

#ifdef __cplusplus
}
#endif
#endif
