/* tests/kube/sim.h — run the Kubernetes API simulator (tests/sim/kube_sim.py)
 * for one test program: a fresh state folder, free loopback ports, the READY
 * line awaited, stopped by PID.  Also the admin API and plugin helpers the
 * Kubernetes tests share. */
#ifndef KA_TESTS_KUBE_SIM_H
#define KA_TESTS_KUBE_SIM_H

#include <stdbool.h>
#include <sys/types.h>

#include "kube/kube.h"
#include "plugin/plugin.h"
#include "simproc.h"

struct sim {
        struct simproc proc;            /* pid, ports, state folder */
        char server[64];                /* https://127.0.0.1:PORT */
};

/* Start the simulator; false (with *why set) when it cannot run here, so
 * the caller can skip_all.  extra: more arguments, NULL-terminated, or NULL. */
bool sim_start(struct sim *s, const char *const *extra, const char **why);
void sim_stop(struct sim *s);
/* dir/name, malloc()ed. */
char *sim_path(const struct sim *s, const char *name);
/* An admin call; returns the HTTP status (0 when the call failed). */
int sim_admin(const struct sim *s, const char *method, const char *path, const char *json, char **ret_body);
/* Count of requests in /stats whose key ("METHOD /template CODE") starts with prefix. */
long sim_count(const struct sim *s, const char *prefix);

/* Load the build's plugins (KUBEAGENT_PLUGIN_PATH). */
void plugins_load(struct ka_registry *reg);
/* A credential session of plugin `name` with a conf given as YAML text
 * (flow style is handy: "{tokenFile: /x, caFile: /y}"). */
int cred_open(const struct ka_registry *reg, const char *name, const char *yaml, struct ka_kube_cred **ret,
              struct ka_error *err);
/* A client on a credential session, with fast retries for tests. */
struct ka_kube *client_new(struct ka_kube_cred *cred, struct ka_kube_options *o);
/* A client of the simulator's API as the holder of token file `token_file`
 * (token-admin, token-restricted, sa-token) in namespace ci, through the
 * token plugin; o NULL: client_new()'s test defaults.  NULL on failure. */
struct ka_kube *sim_client(const struct sim *s, const struct ka_registry *reg, const char *token_file,
                           struct ka_kube_options *o);
/* GET path; returns the ka_kube_request result. */
int get(struct ka_kube *k, const char *path, struct ka_error *err);

/* Write a file (tests' own kubeconfigs, scripts). */
void write_text(const char *path, const char *text, unsigned mode);

/* Watch pod `name` in ci until one of its events contains every string of
 * `all` (NULL-terminated; e.g. "\"running\""): waits on the server's events,
 * not a clock.  false after timeout_s. */
bool sim_wait_pod(struct ka_kube *k, const char *name, const char *const *all, int timeout_s);
/* CPU seconds this process used so far (user + system), for benchmarks. */
double cpu_seconds(void);

#endif
