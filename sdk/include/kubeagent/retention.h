/* kubeagent SDK — retention plugins.
 *
 * When an agent is done, a retention policy decides from a fresh view of its
 * pod whether the pod is deleted or kept for inspection (the Jenkins
 * kubernetes-plugin's podRetention: never, always, onFailure, evicted,
 * default).  A template names a policy by one of its symbols; `default`
 * answers DEFER and the core then asks the cloud's policy. */
#ifndef KUBEAGENT_RETENTION_H
#define KUBEAGENT_RETENTION_H

#include <cjson/cJSON.h>

#include <kubeagent/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kubeagent_retention_decision {
        KUBEAGENT_RETENTION_DELETE = 0,
        KUBEAGENT_RETENTION_KEEP = 1,
        KUBEAGENT_RETENTION_DEFER = 2, /* use the cloud's policy */
};

struct kubeagent_retention_input {
        const cJSON *pod;         /* the pod as just fetched; NULL if it could not be */
        const char *build_result; /* SUCCESS, FAILURE, ABORTED, ... or NULL if unknown */
        const char *end_reason;   /* why the agent ended (e.g. ImagePullBackOff), or NULL */
};

struct kubeagent_retention_ops {
        /* Config/pipeline spellings, e.g. {"onFailure", "OnFailure", NULL}. */
        const char *const *symbols;
        enum kubeagent_retention_decision (*decide)(void *state, const struct kubeagent_retention_input *in);
        void *reserved[4];
};

#ifdef __cplusplus
}
#endif
#endif
