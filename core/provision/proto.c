/* The provisioning messages (core/bus/PROTOCOL.md), one schema each. */
#include "proto.h"

#include <errno.h>
#include <string.h>

#include "template/template.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/str.h"

#define REQ KA_BUS_F_REQUIRED
#define END {NULL, 0, 0, 0, NULL}
#define NAME_MAX_ 253 /* agent and node names, namespaces */
#define TEXT_MAX 8192 /* errors, reasons, messages */
#define URL_MAX 4096

/* ---- frontend -> core ---- */

static const struct ka_bus_field hello[] = {
        {"url", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"namePrefix", KA_BUS_F_STRING, 0, 30, NULL},
        END,
};
static const struct ka_bus_field none[] = {END};
static const struct ka_bus_field demand_item[] = {
        {"id", KA_BUS_F_UINT, REQ, 0, NULL},
        {"job", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"url", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"since", KA_BUS_F_UINT, 0, 0, NULL},
        END,
};
static const struct ka_bus_field demand[] = {
        {"expression", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"node", KA_BUS_F_STRING, 0, NAME_MAX_, NULL},
        {"items", KA_BUS_F_ARRAY, REQ, 100000, demand_item},
        END,
};
static const struct ka_bus_field registered[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"secret", KA_BUS_F_STRING, REQ, 1024, NULL},
        END,
};
static const struct ka_bus_field register_failed[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"error", KA_BUS_F_STRING, REQ, TEXT_MAX, NULL},
        {"retry", KA_BUS_F_BOOL, REQ, 0, NULL},
        END,
};
static const struct ka_bus_field state[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"state", KA_BUS_F_STRING, REQ, 16, NULL},
        {"run", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"result", KA_BUS_F_STRING, 0, 32, NULL},
        {"reason", KA_BUS_F_STRING, 0, TEXT_MAX, NULL},
        {"labels", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        END,
};

/* ---- core -> frontend (checked by the tests that play a frontend) ---- */

static const struct ka_bus_field reg[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"cloud", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"template", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"labels", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"mode", KA_BUS_F_STRING, REQ, 16, NULL},
        {"remoteFs", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"webSocket", KA_BUS_F_BOOL, REQ, 0, NULL},
        {"tunnel", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"idleMinutes", KA_BUS_F_UINT, REQ, 0, NULL},
        {"description", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"items", KA_BUS_F_ARRAY, REQ, 0, NULL},
        END,
};
static const struct ka_bus_field offline[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"reason", KA_BUS_F_STRING, REQ, TEXT_MAX, NULL},
        END,
};
static const struct ka_bus_field del[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        END,
};
static const struct ka_bus_field demand_failed[] = {
        {"items", KA_BUS_F_ARRAY, REQ, 100000, NULL},
        {"error", KA_BUS_F_STRING, REQ, TEXT_MAX, NULL},
        {"expression", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"node", KA_BUS_F_STRING, 0, NAME_MAX_, NULL},
        END,
};

static const struct {
        const char *type;
        const struct ka_bus_field *fields;
} frontend_msgs[] = {
        {"frontend.hello", hello},
        {"frontend.synced", none},
        {"demand", demand},
        {"agent.registered", registered},
        {"agent.register-failed", register_failed},
        {"agent.state", state},
        {"agent.register", reg},
        {"agent.offline", offline},
        {"agent.delete", del},
        {"demand.failed", demand_failed},
};

const struct ka_bus_field *ka_proto_frontend_fields(const char *type) {
        for (size_t i = 0; type && i < KA_ARRAY_SIZE(frontend_msgs); i++)
                if (strcmp(frontend_msgs[i].type, type) == 0)
                        return frontend_msgs[i].fields;
        return NULL;
}

/* ---- jobs ---- */

static const struct ka_bus_field work_pod[] = {
        {"op", KA_BUS_F_STRING, REQ, 16, NULL},
        {"cloud", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"namespace", KA_BUS_F_STRING, 0, NAME_MAX_, NULL},
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"pod", KA_BUS_F_OBJECT, 0, 0, NULL},
        {"extra", KA_BUS_F_ARRAY, 0, 64, NULL},
        {"heartbeatMs", KA_BUS_F_UINT, 0, 0, NULL},
        END,
};
static const struct ka_bus_field work_end[] = {
        {"op", KA_BUS_F_STRING, REQ, 16, NULL},
        {"cloud", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"namespace", KA_BUS_F_STRING, 0, NAME_MAX_, NULL},
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"uid", KA_BUS_F_STRING, 0, 64, NULL},
        {"retention", KA_BUS_F_STRINGS, REQ, 4, NULL},
        {"buildResult", KA_BUS_F_STRING, 0, 32, NULL},
        {"reason", KA_BUS_F_STRING, 0, TEXT_MAX, NULL},
        {"graceSeconds", KA_BUS_F_UINT, 0, 0, NULL},
        END,
};
static const struct ka_bus_field work_list[] = {
        {"op", KA_BUS_F_STRING, REQ, 16, NULL},
        {"cloud", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"namespaces", KA_BUS_F_STRINGS, REQ, 256, NULL},
        END,
};
static const struct ka_bus_field work_delete[] = {
        {"op", KA_BUS_F_STRING, REQ, 16, NULL},
        {"cloud", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"namespace", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"uid", KA_BUS_F_STRING, 0, 64, NULL},
        {"graceSeconds", KA_BUS_F_UINT, 0, 0, NULL},
        END,
};

const struct ka_bus_field *ka_proto_work_fields(const char *op) {
        if (ka_streq(op, "pod"))
                return work_pod;
        if (ka_streq(op, "end"))
                return work_end;
        if (ka_streq(op, "list"))
                return work_list;
        if (ka_streq(op, "delete"))
                return work_delete;
        return NULL;
}

/* ---- job events ---- */

#define SUMMARY                                                                                                        \
        {"uid", KA_BUS_F_STRING, 0, 64, NULL}, {"phase", KA_BUS_F_STRING, REQ, 32, NULL},                              \
                {"outlook", KA_BUS_F_STRING, REQ, 16, NULL}, {"ready", KA_BUS_F_BOOL, REQ, 0, NULL},                   \
                {"deleting", KA_BUS_F_BOOL, REQ, 0, NULL}, {"reason", KA_BUS_F_STRING, 0, TEXT_MAX, NULL},             \
                {"message", KA_BUS_F_STRING, 0, TEXT_MAX, NULL}, {"container", KA_BUS_F_STRING, 0, NAME_MAX_, NULL},   \
                {"exitCode", KA_BUS_F_UINT, 0, 0, NULL}, {"node", KA_BUS_F_STRING, 0, NAME_MAX_, NULL},                \
                {"backoffs", KA_BUS_F_UINT, REQ, 0, NULL}, {                                                           \
                "log", KA_BUS_F_STRING, 0, 2 * KA_LOG_TAIL_BYTES, NULL                                                 \
        }

static const struct ka_bus_field ev_created[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"cloud", KA_BUS_F_STRING, REQ, URL_MAX, NULL},
        {"namespace", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"uid", KA_BUS_F_STRING, REQ, 64, NULL},
        {"adopted", KA_BUS_F_BOOL, REQ, 0, NULL},
        {"template", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"frontend", KA_BUS_F_STRING, 0, KA_BUS_NAME_MAX, NULL},
        {"plannedAt", KA_BUS_F_UINT, 0, 0, NULL},
        END,
};
static const struct ka_bus_field ev_waiting[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"error", KA_BUS_F_STRING, REQ, TEXT_MAX, NULL},
        {"code", KA_BUS_F_UINT, REQ, 0, NULL},
        END,
};
static const struct ka_bus_field ev_status[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        SUMMARY,
        END,
};
static const struct ka_bus_field cause[] = {
        {"field", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"message", KA_BUS_F_STRING, 0, TEXT_MAX, NULL},
        END,
};
static const struct ka_bus_field ev_create_failed[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"error", KA_BUS_F_STRING, REQ, TEXT_MAX, NULL},
        {"code", KA_BUS_F_UINT, REQ, 0, NULL},
        {"causes", KA_BUS_F_ARRAY, 0, 64, cause},
        END,
};
static const struct ka_bus_field ev_gone[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        SUMMARY,
        {"deletedBy", KA_BUS_F_STRING, REQ, 16, NULL},
        END,
};
static const struct ka_bus_field ev_ended[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"decision", KA_BUS_F_STRING, REQ, 16, NULL},
        {"deleted", KA_BUS_F_BOOL, REQ, 0, NULL},
        {"phase", KA_BUS_F_STRING, 0, 32, NULL},
        {"error", KA_BUS_F_STRING, 0, TEXT_MAX, NULL},
        END,
};
static const struct ka_bus_field listed_pod[] = {
        {"name", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"namespace", KA_BUS_F_STRING, REQ, NAME_MAX_, NULL},
        {"kept", KA_BUS_F_BOOL, REQ, 0, NULL},
        {"lastRefresh", KA_BUS_F_UINT, 0, 0, NULL},
        {"template", KA_BUS_F_STRING, 0, URL_MAX, NULL},
        {"frontend", KA_BUS_F_STRING, 0, KA_BUS_NAME_MAX, NULL},
        {"plannedAt", KA_BUS_F_UINT, 0, 0, NULL},
        SUMMARY,
        END,
};
static const struct ka_bus_field ev_pods[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"pods", KA_BUS_F_ARRAY, REQ, 200, listed_pod},
        END,
};
static const struct ka_bus_field ev_listed[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"count", KA_BUS_F_UINT, REQ, 0, NULL},
        {"errors", KA_BUS_F_STRINGS, 0, 256, NULL},
        END,
};
static const struct ka_bus_field ev_deleted[] = {
        {"kind", KA_BUS_F_STRING, REQ, 16, NULL},
        {"existed", KA_BUS_F_BOOL, REQ, 0, NULL},
        {"error", KA_BUS_F_STRING, 0, TEXT_MAX, NULL},
        END,
};

static const struct {
        const char *kind;
        const struct ka_bus_field *fields;
} events[] = {
        {"created", ev_created}, {"waiting", ev_waiting}, {"status", ev_status}, {"create-failed", ev_create_failed},
        {"gone", ev_gone},       {"ended", ev_ended},     {"pods", ev_pods},     {"listed", ev_listed},
        {"deleted", ev_deleted},
};

const struct ka_bus_field *ka_proto_event_fields(const char *kind) {
        for (size_t i = 0; kind && i < KA_ARRAY_SIZE(events); i++)
                if (strcmp(events[i].kind, kind) == 0)
                        return events[i].fields;
        return NULL;
}

int ka_proto_check_frontend(const char *type, const cJSON *payload, struct ka_error *err) {
        const struct ka_bus_field *f = ka_proto_frontend_fields(type);
        if (!f)
                return ka_error_set(err, -EINVAL, "unknown message type \"%s\"", type ? type : "");
        int r = ka_bus_payload_check(payload, f, err);
        if (r < 0)
                return ka_error_prefix(err, "%s", type);
        return 0;
}

int ka_proto_check_work(const cJSON *work, struct ka_error *err) {
        const char *op = ka_json_str(work, "op");
        const struct ka_bus_field *f = ka_proto_work_fields(op);
        if (!f)
                return ka_error_set(err, -EINVAL, "unknown job op \"%s\"", op ? op : "");
        int r = ka_bus_payload_check(work, f, err);
        if (r < 0)
                return ka_error_prefix(err, "%s job", op);
        return 0;
}

int ka_proto_check_event(const cJSON *data, struct ka_error *err) {
        const char *kind = ka_json_str(data, "kind");
        const struct ka_bus_field *f = ka_proto_event_fields(kind);
        if (!f)
                return ka_error_set(err, -EINVAL, "unknown event kind \"%s\"", kind ? kind : "");
        int r = ka_bus_payload_check(data, f, err);
        if (r < 0)
                return ka_error_prefix(err, "%s event", kind);
        return 0;
}

/* ---- labels ---- */

char *ka_cloud_label(const char *cloud_name) {
        return ka_label_sanitize(cloud_name);
}

/* ---- the status summary ---- */

static char *dup_or_null(const char *s) {
        return s ? ka_strdup(s) : NULL;
}

void ka_pod_summary_of(const cJSON *pod, struct ka_pod_summary *ret) {
        struct ka_pod_state st;
        ka_pod_state_of(pod, &st);
        *ret = (struct ka_pod_summary){
                .uid = dup_or_null(ka_json_path_str(pod, "metadata.uid")),
                .phase = ka_strdup(st.phase),
                .outlook = st.outlook,
                .ready = st.ready,
                .deleting = st.deleting,
                .reason = dup_or_null(st.reason),
                .message = dup_or_null(st.message),
                .container = dup_or_null(st.container),
                .exit_code = st.exit_code,
                .node = dup_or_null(ka_json_path_str(pod, "spec.nodeName")),
        };
}

void ka_pod_summary_clear(struct ka_pod_summary *s) {
        if (!s)
                return;
        free(s->uid);
        free(s->phase);
        free(s->reason);
        free(s->message);
        free(s->container);
        free(s->node);
        free(s->log);
        *s = (struct ka_pod_summary){.exit_code = -1};
}

void ka_pod_summary_copy(struct ka_pod_summary *dst, const struct ka_pod_summary *src) {
        *dst = *src;
        dst->uid = dup_or_null(src->uid);
        dst->phase = dup_or_null(src->phase);
        dst->reason = dup_or_null(src->reason);
        dst->message = dup_or_null(src->message);
        dst->container = dup_or_null(src->container);
        dst->node = dup_or_null(src->node);
        dst->log = dup_or_null(src->log);
}

bool ka_pod_summary_same(const struct ka_pod_summary *a, const struct ka_pod_summary *b) {
        return ka_streq(a->uid, b->uid) && ka_streq(a->phase, b->phase) && a->outlook == b->outlook &&
               a->ready == b->ready && a->deleting == b->deleting && ka_streq(a->reason, b->reason) &&
               ka_streq(a->message, b->message) && ka_streq(a->container, b->container) &&
               a->exit_code == b->exit_code && ka_streq(a->node, b->node) && a->backoffs == b->backoffs;
}

static void set_opt(cJSON *o, const char *key, const char *v) {
        if (v)
                ka_json_set_str(o, key, v);
}

void ka_pod_summary_to_json(const struct ka_pod_summary *s, cJSON *o) {
        set_opt(o, "uid", s->uid);
        ka_json_set_str(o, "phase", s->phase ? s->phase : "Unknown");
        ka_json_set_str(o, "outlook", ka_pod_outlook_name(s->outlook));
        ka_json_set_bool(o, "ready", s->ready);
        ka_json_set_bool(o, "deleting", s->deleting);
        set_opt(o, "reason", s->reason);
        set_opt(o, "message", s->message);
        set_opt(o, "container", s->container);
        if (s->exit_code >= 0)
                ka_json_set_num(o, "exitCode", s->exit_code);
        set_opt(o, "node", s->node);
        ka_json_set_num(o, "backoffs", s->backoffs);
        set_opt(o, "log", s->log);
}

enum ka_pod_outlook ka_pod_outlook_parse(const char *s) {
        for (int o = KA_POD_STARTING; o <= KA_POD_FINISHED; o++)
                if (ka_streq(s, ka_pod_outlook_name((enum ka_pod_outlook)o)))
                        return (enum ka_pod_outlook)o;
        return KA_POD_STARTING;
}

void ka_pod_summary_from_json(const cJSON *o, struct ka_pod_summary *ret) {
        *ret = (struct ka_pod_summary){
                .uid = dup_or_null(ka_json_str(o, "uid")),
                .phase = ka_strdup(ka_json_str(o, "phase") ? ka_json_str(o, "phase") : "Unknown"),
                .outlook = ka_pod_outlook_parse(ka_json_str(o, "outlook")),
                .ready = ka_json_bool(o, "ready", false),
                .deleting = ka_json_bool(o, "deleting", false),
                .reason = dup_or_null(ka_json_str(o, "reason")),
                .message = dup_or_null(ka_json_str(o, "message")),
                .container = dup_or_null(ka_json_str(o, "container")),
                .exit_code = (int)ka_json_int(o, "exitCode", -1),
                .node = dup_or_null(ka_json_str(o, "node")),
                .backoffs = (unsigned)ka_json_int(o, "backoffs", 0),
                .log = dup_or_null(ka_json_str(o, "log")),
        };
}

bool ka_pod_summary_backing_off(const struct ka_pod_summary *s) {
        return s->outlook == KA_POD_STUCK && ka_streq(s->reason, "ImagePullBackOff");
}
