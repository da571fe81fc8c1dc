/* tests/jenkins/jsim.h — the Jenkins simulator (tests/sim/jenkins_sim.py)
 * for a test program, and the helpers the Jenkins frontend's tests share:
 * its state files, the admin API, the agent secret as the controller
 * computes it, and an inbound agent over the TCP line protocol. */
#ifndef KA_TESTS_JENKINS_JSIM_H
#define KA_TESTS_JENKINS_JSIM_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "plugin/plugin.h"
#include "simproc.h"

struct jsim {
        struct simproc p;
        char url[128];          /* the root URL, with a trailing '/' */
        int agent_port;
};

/* Start it (extra arguments: NULL-terminated, or NULL). */
bool jsim_start(struct jsim *j, const char *const *extra);
void jsim_stop(struct jsim *j);
/* STATEDIR/name (malloc()ed) and its text without the final newline. */
char *jsim_file(const struct jsim *j, const char *name);
char *jsim_text(const struct jsim *j, const char *name);
/* An admin call: the HTTP status (0 when it failed). */
int jsim_admin(const struct jsim *j, const char *method, const char *path, const char *json, char **ret_body);
/* The simulator's view of one node (admin GET /nodes), or NULL. */
cJSON *jsim_node(const struct jsim *j, const char *name);
/* Queue builds: POST /builds with this JSON body. */
void jsim_build(const struct jsim *j, const char *json);
/* The agent secret: HMAC-SHA256 of the name under STATEDIR/secret.key, hex. */
char *jsim_secret(const struct jsim *j, const char *name);
/* An inbound agent over the TCP protocol: the socket, or -1 when refused. */
int jsim_agent(const struct jsim *j, const char *name, const char *secret);

/* Load frontend-jenkins.so through the real loader into reg, point the
 * client compiled into the test at the same host table, and send the log
 * to a file (jsim_log() reads it).  NULL when the plugin is not built. */
const struct kubeagent_plugin_handle *jsim_plugin(struct ka_registry *reg, struct ka_error *err);
/* All that was logged since jsim_plugin(); jsim_log_end() removes the file. */
char *jsim_log(void);
void jsim_log_end(void);

#endif
