/* core/kube/pods.h — pods, their logs and events, and who-am-I checks.
 *
 * Thin, typed calls over ka_kube_request() (kube.h) for what kubeagent
 * needs (reference §1, §4, §8).  A NULL namespace means the client's.
 * Objects come back as cJSON trees the caller owns.  Errors are those of
 * ka_kube_request(); in particular create reports -EEXIST for AlreadyExists
 * (the caller adopts the pod: names are deterministic), and delete treats
 * 404 as done. */
#ifndef KA_KUBE_PODS_H
#define KA_KUBE_PODS_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube.h"

/* POST the pod; *ret_pod (may be NULL) is the stored pod (201). */
int ka_kube_pod_create(struct ka_kube *k, const char *ns, const cJSON *pod, cJSON **ret_pod, struct ka_error *err);
int ka_kube_pod_get(struct ka_kube *k, const char *ns, const char *name, cJSON **ret_pod, struct ka_error *err);
/* PATCH the pod with a JSON merge patch (RFC 7386: labels, annotations);
 * *ret_pod (may be NULL) is the pod after it. */
int ka_kube_pod_patch(struct ka_kube *k, const char *ns, const char *name, const cJSON *patch, cJSON **ret_pod,
                      struct ka_error *err);

struct ka_kube_delete_options {
        int64_t grace_period_s;  /* <0: the pod's own (terminationGracePeriodSeconds) */
        const char *propagation; /* "Background", "Foreground", "Orphan" or NULL */
        const char *uid;         /* precondition: delete only this incarnation, or NULL */
};
#define KA_KUBE_DELETE_DEFAULTS                                                                                        \
        { .grace_period_s = -1 }

/* 0 when deleted or already gone (*ret_existed says which; may be NULL);
 * -EBUSY when the uid precondition does not match (a newer pod took the name). */
int ka_kube_pod_delete(struct ka_kube *k, const char *ns, const char *name, const struct ka_kube_delete_options *o,
                       bool *ret_existed, struct ka_error *err);

struct ka_kube_list_options {
        const char *label_selector;
        const char *field_selector;
        const char *resource_version; /* NULL: consistent read; "0": any (cache) */
        int limit;                    /* page size; 0: 500 */
};

/* Every page of a list; *ret_items is a JSON array, *ret_rv (may be NULL)
 * the list's resourceVersion (where a watch starts).  An expired continue
 * token restarts the list once. */
int ka_kube_pod_list(struct ka_kube *k, const char *ns, const struct ka_kube_list_options *o, cJSON **ret_items,
                     char **ret_rv, struct ka_error *err);

struct ka_kube_log_options {
        const char *container; /* required for pods with more than one container */
        int64_t tail_lines;    /* <0: all */
        int64_t since_seconds; /* 0: from the start */
        int64_t limit_bytes;   /* 0: no limit */
        bool timestamps;
        bool follow;   /* stream until the container stops */
        bool previous; /* the previous, terminated instance */
};
#define KA_KUBE_LOG_DEFAULTS                                                                                           \
        { .tail_lines = -1 }

/* Stream a container's log to sink as it arrives (no size cap: nothing is
 * kept).  stop (may be NULL) ends a follow. */
int ka_kube_pod_logs(struct ka_kube *k, const char *ns, const char *name, const struct ka_kube_log_options *o,
                     int (*sink)(void *ud, const char *data, size_t len), void *ud, const atomic_bool *stop,
                     struct ka_error *err);

/* Events about one pod, oldest first (by lastTimestamp/eventTime). */
int ka_kube_pod_events(struct ka_kube *k, const char *ns, const char *name, cJSON **ret_items, struct ka_error *err);

/* GET /version: {"major":..., "gitVersion":...}. */
int ka_kube_server_version(struct ka_kube *k, cJSON **ret, struct ka_error *err);
/* SelfSubjectReview: status.userInfo {username, groups, ...}. */
int ka_kube_whoami(struct ka_kube *k, cJSON **ret_user_info, struct ka_error *err);
/* SelfSubjectAccessReview: may we `verb` `resource`[/`subresource`] in ns? */
int ka_kube_can_i(struct ka_kube *k, const char *ns, const char *verb, const char *resource, const char *subresource,
                  bool *ret_allowed, char **ret_reason, struct ka_error *err);

/* Every permission kubeagent needs in a namespace (reference §8), ended by
 * an entry whose resource is NULL: what `kubeagent doctor` checks and
 * config/kubernetes/rbac.yaml grants. */
struct ka_kube_permission {
        const char *resource, *subresource, *verb;
        const char *why; /* "starting agents" */
};
extern const struct ka_kube_permission ka_kube_permissions[];

#endif
