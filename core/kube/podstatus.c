#include "podstatus.h"

#include <string.h>

#include "util/json.h"
#include "util/macro.h"
#include "util/str.h"

const char *ka_pod_outlook_name(enum ka_pod_outlook o) {
        switch (o) {
        case KA_POD_STARTING:
                return "starting";
        case KA_POD_RUNNING:
                return "running";
        case KA_POD_STUCK:
                return "stuck";
        case KA_POD_NEVER:
                return "never";
        case KA_POD_FINISHED:
                return "finished";
        }
        return "?";
}

static bool one_of(const char *s, const char *const *set) {
        for (size_t i = 0; s && set[i]; i++)
                if (strcmp(s, set[i]) == 0)
                        return true;
        return false;
}

/* Waiting reasons that cannot fix themselves. */
static const char *const never[] = {"InvalidImageName", "ErrImageNeverPull", NULL};
/* Waiting reasons that may recover: a registry outage, a Secret created later, a crash that stops. */
static const char *const stuck[] = {"ErrImagePull",
                                    "ImagePullBackOff",
                                    "CreateContainerConfigError",
                                    "CrashLoopBackOff",
                                    "CreateContainerError",
                                    "RunContainerError",
                                    "PreCreateHookError",
                                    "PreStartHookError",
                                    "PostStartHookError",
                                    "ImageInspectError",
                                    "RegistryUnavailable",
                                    "SignatureValidationFailed",
                                    NULL};

static const cJSON *condition(const cJSON *status, const char *type) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
                                      status, "conditions")) if (ka_streq(ka_json_str(c, "type"), type)) return c;
        return NULL;
}

static void set(struct ka_pod_state *s, enum ka_pod_outlook o, const char *reason, const char *message,
                const char *container) {
        s->outlook = o;
        s->reason = reason;
        s->message = message;
        s->container = container;
}

/* Look at one list of container statuses; true when it decided. */
static bool containers(const cJSON *list, bool init, struct ka_pod_state *s) {
        const cJSON *cs;
        /* the worst first: never > terminated > stuck */
        cJSON_ArrayForEach(cs, list) {
                const cJSON *w = ka_json_path(cs, "state.waiting");
                if (w && one_of(ka_json_str(w, "reason"), never)) {
                        set(s, KA_POD_NEVER, ka_json_str(w, "reason"), ka_json_str(w, "message"),
                            ka_json_str(cs, "name"));
                        return true;
                }
        }
        cJSON_ArrayForEach(cs, list) {
                const cJSON *t = ka_json_path(cs, "state.terminated");
                if (!t)
                        continue;
                /* a finished init container is normal; a failed one either
                 * restarts (CrashLoopBackOff) or fails the pod (the phase says) */
                if (init)
                        continue;
                int64_t code = ka_json_int(t, "exitCode", -1);
                set(s, KA_POD_FINISHED, ka_json_str(t, "reason"), ka_json_str(t, "message"), ka_json_str(cs, "name"));
                s->exit_code = (int)code;
                return true;
        }
        cJSON_ArrayForEach(cs, list) {
                const cJSON *w = ka_json_path(cs, "state.waiting");
                if (w && one_of(ka_json_str(w, "reason"), stuck)) {
                        set(s, KA_POD_STUCK, ka_json_str(w, "reason"), ka_json_str(w, "message"),
                            ka_json_str(cs, "name"));
                        return true;
                }
        }
        return false;
}

/* The reason of a container still on its way (ContainerCreating, PodInitializing). */
static void starting_reason(const cJSON *list, struct ka_pod_state *s) {
        const cJSON *cs;
        cJSON_ArrayForEach(cs, list) {
                const cJSON *w = ka_json_path(cs, "state.waiting");
                if (w && ka_json_str(w, "reason")) {
                        set(s, KA_POD_STARTING, ka_json_str(w, "reason"), ka_json_str(w, "message"),
                            ka_json_str(cs, "name"));
                        return;
                }
        }
}

void ka_pod_state_of(const cJSON *pod, struct ka_pod_state *s) {
        *s = (struct ka_pod_state){.phase = "Unknown", .exit_code = -1};
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(pod, "status");
        const char *phase = ka_json_str(status, "phase");
        if (phase)
                s->phase = phase;
        const cJSON *ready = condition(status, "Ready");
        s->ready = ready && ka_streq(ka_json_str(ready, "status"), "True");
        s->deleting = ka_json_path(pod, "metadata.deletionTimestamp") != NULL;

        /* final: the phase, the pod-level reason (Evicted, DeadlineExceeded) */
        if (ka_streq(phase, "Failed") || ka_streq(phase, "Succeeded")) {
                set(s, KA_POD_FINISHED, ka_json_str(status, "reason"), ka_json_str(status, "message"), NULL);
                if (!s->reason) {
                        /* the first terminated container tells why */
                        struct ka_pod_state c = *s;
                        if (containers(cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"), false, &c) &&
                            c.outlook == KA_POD_FINISHED) {
                                s->reason = c.reason;
                                s->message = c.message;
                                s->container = c.container;
                                s->exit_code = c.exit_code;
                        }
                }
                if (!s->reason)
                        s->reason = phase;
                return;
        }
        /* about to be terminated (preemption, eviction API, taint manager) */
        const cJSON *dt = condition(status, "DisruptionTarget");
        if (dt && ka_streq(ka_json_str(dt, "status"), "True")) {
                set(s, KA_POD_FINISHED, ka_json_str(dt, "reason"), ka_json_str(dt, "message"), NULL);
                return;
        }
        if (containers(cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses"), true, s) ||
            containers(cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"), false, s)) {
                if (s->deleting && s->outlook != KA_POD_FINISHED)
                        set(s, KA_POD_FINISHED, "Terminating", NULL, NULL);
                return;
        }
        if (s->deleting) {
                set(s, KA_POD_FINISHED, "Terminating", NULL, NULL);
                return;
        }
        const cJSON *sched = condition(status, "PodScheduled");
        if (sched && ka_streq(ka_json_str(sched, "status"), "False")) {
                const char *reason = ka_json_str(sched, "reason");
                set(s, ka_streq(reason, "Unschedulable") ? KA_POD_STUCK : KA_POD_STARTING, reason,
                    ka_json_str(sched, "message"), NULL);
                return;
        }
        if (ka_streq(phase, "Running")) {
                s->outlook = KA_POD_RUNNING;
                return;
        }
        starting_reason(cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses"), s);
        if (!s->reason)
                starting_reason(cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"), s);
}
