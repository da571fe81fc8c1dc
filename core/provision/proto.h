/* core/provision/proto.h — the provisioning messages of core/bus/PROTOCOL.md
 * ("Provisioning messages"): their schemas, the labels and annotations
 * kubeagent puts on its pods, and a pod's status summary.
 *
 * The scheduler (sched.c), the worker (worker.c) and the tests share these,
 * so a message is spelled in one place.  Frontend plugins cannot include
 * core headers; they follow PROTOCOL.md.
 *
 * A struct ka_pod_summary owns its strings; ka_pod_summary_clear() frees
 * them. */
#ifndef KA_PROVISION_PROTO_H
#define KA_PROVISION_PROTO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/envelope.h"
#include "kube/podstatus.h"
#include "util/error.h"

/* ---- what kubeagent writes on its pods ---------------------------------- */

#define KA_LABEL_CLOUD "kubeagent.io/cloud" /* the cloud name as a label value */
#define KA_LABEL_AGENT "kubeagent.io/agent" /* the agent (= pod) name */
#define KA_ANN_CLOUD "kubeagent.io/cloud"
#define KA_ANN_TEMPLATE "kubeagent.io/template"
#define KA_ANN_FRONTEND "kubeagent.io/frontend"
#define KA_ANN_PLANNED_AT "kubeagent.io/planned-at"
#define KA_ANN_KEPT "kubeagent.io/kept"                          /* "<RFC 3339 time> <reason>" */
#define KA_ANN_LAST_REFRESH "kubernetes.jenkins.io/last-refresh" /* the GC heartbeat, Unix ms */

/* The cloud's label value (sanitised like the plugin's labels); malloc()ed. */
char *ka_cloud_label(const char *cloud_name);

/* The last lines of a failing container's log that go with a summary. */
#define KA_LOG_TAIL_LINES 30
#define KA_LOG_TAIL_BYTES 4096
/* Image-pull back-offs after which an agent ends (the plugin's
 * Reaper.backoffEventsLimit). */
#define KA_IMAGE_PULL_BACKOFF_LIMIT 3

/* ---- message schemas ------------------------------------------------------ */

/* frontend -> core, by type; NULL for a type that is not one of them. */
const struct ka_bus_field *ka_proto_frontend_fields(const char *type);
/* The work of a job, by its `op` ("pod", "end", "list", "delete"). */
const struct ka_bus_field *ka_proto_work_fields(const char *op);
/* The data of a job event, by its `kind`. */
const struct ka_bus_field *ka_proto_event_fields(const char *kind);
/* Check a message (a payload or job data) against the table its `key`
 * member ("type" is not a member: pass it as `type`) selects; err names the
 * problem.  For job work key is "op", for events "kind". */
int ka_proto_check_frontend(const char *type, const cJSON *payload, struct ka_error *err);
int ka_proto_check_work(const cJSON *work, struct ka_error *err);
int ka_proto_check_event(const cJSON *data, struct ka_error *err);

/* ---- a pod's status summary ---------------------------------------------- */

struct ka_pod_summary {
        char *uid;
        char *phase;
        enum ka_pod_outlook outlook;
        bool ready, deleting;
        char *reason, *message, *container;
        int exit_code; /* of container, -1 when it did not terminate */
        char *node;    /* spec.nodeName */
        unsigned backoffs;
        char *log; /* the last lines of container's log, or NULL */
};

/* The summary of a pod (backoffs and log left 0/NULL). */
void ka_pod_summary_of(const cJSON *pod, struct ka_pod_summary *ret);
void ka_pod_summary_clear(struct ka_pod_summary *s);
void ka_pod_summary_copy(struct ka_pod_summary *dst, const struct ka_pod_summary *src);
/* Whether two summaries say the same (the log aside). */
bool ka_pod_summary_same(const struct ka_pod_summary *a, const struct ka_pod_summary *b);
/* Into the members of obj, and back (a checked event). */
void ka_pod_summary_to_json(const struct ka_pod_summary *s, cJSON *obj);
void ka_pod_summary_from_json(const cJSON *obj, struct ka_pod_summary *ret);
enum ka_pod_outlook ka_pod_outlook_parse(const char *s);
/* Whether the pod's waiting state is an image-pull back-off. */
bool ka_pod_summary_backing_off(const struct ka_pod_summary *s);

#endif
