/* plugins/frontends/jenkins — the Jenkins frontend's client of a stock
 * Jenkins controller, over its HTTP interface only (reference
 * jenkins-rest.md; section numbers below refer to it).
 *
 * One file per concern:
 *   http.c    requests, basic auth with an API token or a password (then
 *             CSRF crumbs with the session cookie, §1), Accept-Language: en,
 *             TLS options, error mapping, X-Jenkins-Session (restarts), and
 *             the health state logged once per change;
 *   queue.c   the queue poll with tree=, the label in every `why` form
 *             (§2.4), a task URL to its job's full name (§7);
 *   nodes.c   creating inbound nodes (§4), the secret from
 *             jenkins-agent.jnlp (§5), one poll of every computer (§6),
 *             temporarily offline, deletion;
 *   runs.c    a run's building flag and result (§6.3).
 *
 * The client is used by one thread (the frontend's); nothing here is
 * thread-safe.  Strings returned are malloc()ed and owned by the caller;
 * secrets (token, agent secrets) are registered with the host so that they
 * are masked in every log line and error, and are freed with
 * host->secret_free().  Functions return 0 or a negative errno with a
 * message in err: -ECONNREFUSED/-ETIMEDOUT (Jenkins unreachable), -EPROTO
 * (TLS or a malformed answer), -EACCES (401), -EPERM (403; the missing
 * permission is in the message), -ENOENT (404), -EINVAL (400), -EAGAIN
 * (503: starting or restarting), -EIO (other 5xx). */
#ifndef KA_PLUGINS_FRONTEND_JENKINS_H
#define KA_PLUGINS_FRONTEND_JENKINS_H

#include <cjson/cJSON.h>
#include <kubeagent/kubeagent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct kubeagent_host *jk_host;
extern struct kubeagent_plugin_handle *jk_self;

#define jk_log(level, ...) jk_host->log(jk_self, KUBEAGENT_LOG_##level, __VA_ARGS__)

/* ---- configuration (frontends.jenkins) -------------------------------- */

struct jk_conf {
        char *url;                      /* the controller's root URL */
        char *user;
        char *token_file;               /* an API token, or the user's password */
        char *ca_file;                  /* trust only this CA (PEM) */
        int insecure;                   /* skip certificate checks: only when asked */
        int64_t poll_interval_ms;       /* queue and computer polls; default 2 s */
        int64_t timeout_ms;             /* one request; default 30 s */
        char *name_prefix;              /* names of this instance's nodes start with it */
};

/* ---- http.c ------------------------------------------------------------- */

/* The controller's health as the last request saw it; a change is logged
 * once (warning when it goes bad, info when it recovers).  A missing
 * permission is not a health: see jk_client_denied(). */
enum jk_health {
        JK_OK = 0,
        JK_DOWN,                        /* connection refused, timeout, DNS */
        JK_STARTING,                    /* 503: starting or restarting */
        JK_UNAUTHORIZED,                /* 401 */
        JK_FAILING,                     /* other 5xx, TLS */
};

/* The permissions the requests need (reference §1.4; X-Required-Permission
 * values).  A 403 naming one is logged once, and again when it is granted. */
#define JK_PERM_READ "hudson.model.Hudson.Read"
#define JK_PERM_ITEM_READ "hudson.model.Item.Read"
#define JK_PERM_CREATE "hudson.model.Computer.Create"
#define JK_PERM_CONNECT "hudson.model.Computer.Connect"
#define JK_PERM_DISCONNECT "hudson.model.Computer.Disconnect"
#define JK_PERM_DELETE "hudson.model.Computer.Delete"

struct jk_client;

struct jk_response {
        long code;                      /* 0 when no answer arrived */
        char *body;                     /* NUL-terminated, may be "" */
        size_t len;
        char *location;                 /* Location, for 3xx */
        char *x_error;                  /* X-Error (Jetty writes '?' for non-Latin-1 characters) */
        char *required_permission;      /* X-Required-Permission (403) */
};

void jk_response_clear(struct jk_response *r);

int jk_client_new(const struct jk_conf *conf, struct jk_client **ret, struct ka_error *err);
void jk_client_free(struct jk_client *c);

/* Send one request to url + path (path relative to the root URL, escaped
 * by the caller, optional "?query"); form: an x-www-form-urlencoded body for
 * POST, or NULL.  A POST refused for want of a crumb (password auth) is
 * retried once with a fresh crumb and session cookie.  Returns 0 for 2xx
 * and 3xx; otherwise the mapping above, with *ret filled either way (may be
 * NULL).  `what` names the operation in errors ("create node k8s-1");
 * `perm` is the permission it needs (JK_PERM_*). */
int jk_request(struct jk_client *c, const char *method, const char *path, const char *form, const char *what,
               const char *perm, struct jk_response *ret, struct ka_error *err);
/* GET path, expecting JSON (a 200 with an object). */
int jk_get_json(struct jk_client *c, const char *path, const char *what, const char *perm, cJSON **ret,
                struct ka_error *err);

/* Members of a JSON answer: a string (or NULL), true, an integer within
 * ±2^53 (or -1; key NULL: o itself). */
const char *jk_json_str(const cJSON *o, const char *key);
bool jk_json_true(const cJSON *o, const char *key);
int64_t jk_json_int(const cJSON *o, const char *key);
/* Parse an answer whose member `key` is an array; *ret_v gets a zeroed
 * array of as many elem_size elements (NULL when empty).  Returns the
 * document (free with cJSON_Delete) or NULL when it is not shaped so. */
cJSON *jk_json_list(const char *json, size_t len, const char *key, size_t elem_size, void **ret_v,
                    const cJSON **ret_list);

/* Free a NULL-terminated array of strings (NULL is fine). */
void jk_strv_free(char **v);

/* Put "what: " before the message in err (keeping its code). */
void jk_error_prefix(struct ka_error *err, const char *what);

/* Percent-encode one path segment or form value (never NULL). */
char *jk_escape(struct jk_client *c, const char *s);
/* Append "&key=value" (or "key=value" when form is empty) to a form. */
void jk_form_add(struct jk_client *c, char **form, const char *key, const char *value);

enum jk_health jk_client_health(const struct jk_client *c);
/* Whether the last request needing perm was refused for want of it. */
bool jk_client_denied(const struct jk_client *c, const char *perm);
/* Counts the restarts seen: X-Jenkins-Session differed from the one before. */
unsigned jk_client_restarts(const struct jk_client *c);
/* The root URL the controller reports (api/json "url"), once known; else ours. */
const char *jk_client_root(const struct jk_client *c);
/* Ask the controller who it is: GET api/json?tree=url,... and whoAmI
 * (reports the version and the user in the log). */
int jk_client_hello(struct jk_client *c, struct ka_error *err);
/* Turn a URL the controller printed (absolute, with its root URL, or
 * relative) into a path relative to our root URL. */
char *jk_client_relative(const struct jk_client *c, const char *url);

/* ---- queue.c ------------------------------------------------------------ */

enum jk_why_kind {
        JK_WHY_NONE = 0,                /* not waiting for an agent: quiet period, blocked, shutdown, ... */
        JK_WHY_ANY,                     /* "Waiting for next available executor": no label (or no agents at all) */
        JK_WHY_LABEL,                   /* the subject is a label expression */
        JK_WHY_NODE,                    /* the subject is a node name ("'N' is offline") */
        JK_WHY_LABEL_OR_NODE,           /* "... executor on 'X'": a node when X names one, else a label */
};

struct jk_why {
        enum jk_why_kind kind;
        char *subject;                  /* label expression or node name, unquoted; NULL for NONE/ANY */
        bool offline;                   /* the matching nodes exist but are offline */
};

/* Parse a `why` text (English; curly or straight quotes).  Never fails:
 * anything not recognised is JK_WHY_NONE.  Clear with jk_why_clear(). */
void jk_why_parse(const char *why, struct jk_why *ret);
void jk_why_clear(struct jk_why *w);

/* The job's full name ("team-a/app") and build number (0 when none) from a
 * queue task's URL: relative ("job/team-a/job/app/12/") or absolute under
 * root.  -EINVAL when it names no job. */
int jk_task_job(const char *url, const char *root, char **ret_full_name, long *ret_number);

struct jk_item {
        int64_t id;
        bool blocked, buildable, stuck;
        int64_t in_queue_since;         /* ms */
        char *why_text;
        struct jk_why why;
        char *task_class;
        char *task_url;                 /* as printed: relative for node blocks, absolute for jobs */
        char *task_label;               /* free-style jobs: the configured labelExpression, else NULL */
        char *job;                      /* the job's full name, NULL when the URL names none */
        bool pipeline_block;            /* a PlaceholderTask (a pipeline node block) */
        bool flyweight;                 /* a pipeline run itself: runs on the built-in node, needs no agent */
};

struct jk_queue {
        struct jk_item *v;
        size_t n;
};

/* One tree=-limited GET of queue/api/json. */
int jk_queue_poll(struct jk_client *c, struct jk_queue *ret, struct ka_error *err);
/* Its answer into items (root: to name the jobs of absolute task URLs);
 * items that are not shaped like Jenkins' are skipped. */
int jk_queue_parse(const char *json, size_t len, const char *root, struct jk_queue *ret, struct ka_error *err);
void jk_queue_clear(struct jk_queue *q);

/* The run an item that left the queue started: GET queue/item/ID/api/json
 * with tree=cancelled,executable[url] (Jenkins keeps left items for 5
 * minutes, §2.1).  *ret_run: the run's absolute URL, or NULL when the item
 * was cancelled or has not started (still queued).  -ENOENT: no such item. */
int jk_left_item_run(struct jk_client *c, int64_t id, char **ret_run, struct ka_error *err);
int jk_left_item_parse(const char *json, size_t len, char **ret_run, struct ka_error *err);

/* ---- nodes.c ------------------------------------------------------------ */

struct jk_node_spec {
        const char *name;
        const char *description;
        const char *remote_fs;          /* the agent container's working directory */
        const char *labels;             /* the template's label string */
        bool exclusive;                 /* nodeUsageMode EXCLUSIVE */
        bool websocket;
        const char *tunnel;             /* jenkinsTunnel, or NULL */
};

/* POST computer/doCreateItem (one executor, inbound launcher, retention
 * Always).  -EEXIST when a node of that name exists. */
int jk_node_create(struct jk_client *c, const struct jk_node_spec *spec, struct ka_error *err);
/* GET computer/NAME/jenkins-agent.jnlp; the secret is registered. */
int jk_node_secret(struct jk_client *c, const char *name, char **ret_secret, struct ka_error *err);
/* The secret in a jnlp document: the first <argument>, 64 hex characters,
 * with `name` as the second.  Not registered (the caller does it). */
int jk_jnlp_secret(const char *doc, size_t len, const char *name, char **ret_secret, struct ka_error *err);
/* POST changeOfflineCause: temporarily offline with a reason. */
int jk_node_offline(struct jk_client *c, const char *name, const char *reason, struct ka_error *err);
/* Back online: toggleOffline, only when it is temporarily offline. */
int jk_node_online(struct jk_client *c, const char *name, struct ka_error *err);
/* POST doDelete; a node already gone (404) is success. */
int jk_node_delete(struct jk_client *c, const char *name, struct ka_error *err);

struct jk_computer {
        char *name;                     /* displayName (= node name for agents) */
        char *description;
        bool built_in;
        bool offline, temporarily_offline, idle;
        bool connected;                 /* its agent is connected (also when temporarily offline) */
        char *offline_reason;           /* offlineCauseReason, "" when none */
        char **labels;                  /* assigned labels, NULL-terminated */
        int executors, busy;            /* executors and how many are busy */
        char *run_url;                  /* the first busy executor's currentExecutable.url (or NULL) */
        long run_number;
};

struct jk_computers {
        struct jk_computer *v;
        size_t n;
};

/* One GET of computer/api/json with a tree= for every computer. */
int jk_computers_poll(struct jk_client *c, struct jk_computers *ret, struct ka_error *err);
int jk_computers_parse(const char *json, size_t len, struct jk_computers *ret, struct ka_error *err);
const struct jk_computer *jk_computers_find(const struct jk_computers *cs, const char *name);
void jk_computers_clear(struct jk_computers *cs);

/* The names of the nodes a label expression matches, as Jenkins evaluates
 * it (GET label/EXPR/api/json?tree=nodes[nodeName], §3.1; "" is the
 * built-in node): NULL-terminated, free with jk_strv_free(). */
int jk_label_nodes(struct jk_client *c, const char *expr, char ***ret, struct ka_error *err);
int jk_label_nodes_parse(const char *json, size_t len, char ***ret, struct ka_error *err);

/* ---- runs.c --------------------------------------------------------------- */

struct jk_run {
        long number;
        bool building;
        char *result;                   /* SUCCESS, UNSTABLE, FAILURE, NOT_BUILT, ABORTED; NULL while none */
};

/* GET <run URL>api/json?tree=number,building,result.  -ENOENT: the run was deleted. */
int jk_run_get(struct jk_client *c, const char *run_url, struct jk_run *ret, struct ka_error *err);
void jk_run_clear(struct jk_run *r);

/* ---- frontend.c ------------------------------------------------------------
 *
 * The frontend's side of the provisioning protocol (core/bus/PROTOCOL.md):
 * it keeps the agents it manages (created through agent.register, or nodes
 * with its namePrefix found on the controller: adopted after a restart of
 * kubeagent) and the queue items waiting for agents, and sends the core
 * what changed after each look at the controller:
 *   - agent.state for every managed node (offline, online, busy with its run,
 *     idle with the result once the run is no longer building, gone);
 *   - demand per label expression, the whole set of waiting items each time
 *     it changes; an item keeps the expression it was first seen with when
 *     its why later names a node (one of ours starting for it, a single
 *     match), so it is never counted twice; a pipeline block waiting for one
 *     of our nodes it ran on before a controller restart is demand for that
 *     node (bring its pod back), and the node is let back online when we had
 *     taken it offline;
 *   - a single-use agent (idleMinutes 0) is taken temporarily offline as
 *     soon as its build started, so Jenkins gives it nothing more; while
 *     one waits for its first build the nodes are looked at every 250 ms,
 *     and a build that began and ended between two looks is found from the
 *     queue item it came from, when only that agent could have run it.
 * What the core asks (agent.register, agent.offline, agent.delete,
 * demand.failed) is done at once; a deletion or an offline mark that fails
 * is tried again at every look, so no node is ever lost track of.  Nothing
 * is sent before jk_frontend_connected() (then frontend.hello, the whole
 * state after the next good look, and frontend.synced). */

typedef void (*jk_emit_fn)(void *ud, const cJSON *message);

struct jk_frontend;

/* conf must outlive the frontend. */
int jk_frontend_new(const struct jk_conf *conf, jk_emit_fn emit, void *ud, struct jk_frontend **ret,
                    struct ka_error *err);
void jk_frontend_free(struct jk_frontend *fe);
/* The core welcomed us (bus.connected). */
void jk_frontend_connected(struct jk_frontend *fe);
/* A message from the core; one that does not follow the protocol is logged
 * and ignored. */
void jk_frontend_handle(struct jk_frontend *fe, const cJSON *msg);
/* One look at the controller: its nodes, then its queue when pollInterval
 * has passed since it was last read (or a build started on one of ours);
 * returns the milliseconds until the next one: at most 250 while a
 * single-use agent waits for its first build, longer while the controller
 * fails. */
int64_t jk_frontend_cycle(struct jk_frontend *fe);
/* When the next look is due (host clock, ms): what the last cycle said,
 * sooner once a single-use agent was registered since. */
int64_t jk_frontend_due(const struct jk_frontend *fe);

#endif
