/* core/kube/status.h — the Kubernetes `Status` error object, and what an
 * error response means for the caller.
 *
 * Every non-2xx answer of the API server carries a Status (reference §1.3);
 * some proxies and kubelet paths answer plain text instead.  ka_kube_status
 * keeps what a caller decides on (HTTP code, reason, field causes, retry
 * hint) and ka_kube_status_error() turns it into one clear line and a
 * negative errno:
 *
 *     -ENOENT     404 NotFound          -EEXIST     409 AlreadyExists
 *     -EBUSY      409 Conflict          -ESTALE     410 Expired/Gone
 *     -EINVAL     400, 422 Invalid      -EACCES     403 denied by RBAC
 *     -EDQUOT     403 quota exceeded    -EPERM      403 other admission (PodSecurity, webhooks)
 *     -EKEYREJECTED 401                 -EAGAIN     429 TooManyRequests
 *     -E2BIG      413                   -EIO        5xx and anything else
 *
 * The struct owns its strings; ka_kube_status_clear() frees them. */
#ifndef KA_KUBE_STATUS_H
#define KA_KUBE_STATUS_H

#include <cjson/cJSON.h>
#include <kubeagent/error.h>
#include <stddef.h>

struct ka_kube_cause {
        char *type; /* "FieldValueRequired" (JSON key "reason") */
        char *message;
        char *field; /* "spec.containers[0].image", or NULL */
};

struct ka_kube_status {
        int code;      /* HTTP status (the body's code when it has one) */
        char *status;  /* "Success" / "Failure", or NULL when the body was not a Status */
        char *reason;  /* "AlreadyExists", ..., or NULL */
        char *message; /* the server's message, or the first line of a text body */
        char *kind;    /* details.kind ("pods") or NULL */
        char *name;    /* details.name or NULL */
        struct ka_kube_cause *causes;
        size_t n_causes;
        int retry_after_s; /* details.retryAfterSeconds, 0 when absent */
};

/* Read a Status out of a response body of `code`.  A body that is not a
 * Status object keeps its first line (capped) as the message.  Never fails. */
void ka_kube_status_parse(int code, const char *body, size_t len, struct ka_kube_status *ret);
/* The same from an already parsed object (a watch ERROR event's object). */
void ka_kube_status_from_json(int code, const cJSON *obj, struct ka_kube_status *ret);
void ka_kube_status_clear(struct ka_kube_status *s);

/* The errno of the table above. */
int ka_kube_status_errno(const struct ka_kube_status *s);
/* Fill err with one line saying what happened and, where kubeagent knows,
 * what to do (for 403: RBAC vs quota vs admission), prefixed with `what`
 * ("create pod ci/x"); returns ka_kube_status_errno(). */
int ka_kube_status_error(const struct ka_kube_status *s, const char *what, struct ka_error *err);

#endif
