/* core/kube/podstatus.h — what a pod's status means, in one place.
 *
 * Phases, conditions and container states (reference §3) boiled down to
 * an outlook the provisioner acts on, and the one reason and message worth
 * showing a human.  Per reference §3.4: InvalidImageName and
 * ErrImageNeverPull will never start without a spec change; ErrImagePull,
 * ImagePullBackOff, CreateContainerConfigError, CrashLoopBackOff,
 * Unschedulable and the create/run errors may recover and get a bounded
 * time; Failed/Succeeded, eviction, deadline, a terminated agent container
 * and deletion are final.  Strings point into the pod: they live as long
 * as it does. */
#ifndef KA_KUBE_PODSTATUS_H
#define KA_KUBE_PODSTATUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

enum ka_pod_outlook {
        KA_POD_STARTING = 0, /* on its way: scheduling, pulling, creating containers */
        KA_POD_RUNNING,      /* phase Running */
        KA_POD_STUCK,        /* waiting in a state that may recover: give it a bounded time */
        KA_POD_NEVER,        /* will never start as specified */
        KA_POD_FINISHED,     /* terminal, or going away */
};

struct ka_pod_state {
        const char *phase; /* "Pending", "Running", ... or "Unknown" */
        enum ka_pod_outlook outlook;
        const char *reason;    /* "ImagePullBackOff", "Unschedulable", "Evicted", "Error", ... or NULL */
        const char *message;   /* its message, or NULL */
        const char *container; /* the container `reason` is about, or NULL */
        int exit_code;         /* of `container` when it terminated, else -1 */
        bool ready;            /* condition Ready is True */
        bool deleting;         /* metadata.deletionTimestamp is set */
};

void ka_pod_state_of(const cJSON *pod, struct ka_pod_state *ret);
const char *ka_pod_outlook_name(enum ka_pod_outlook o);

#endif
