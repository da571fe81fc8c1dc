/* tests/simproc.h — run one of the project's simulators (the scripts in tests/sim/)
 * for a test program: a fresh state folder, free loopback ports, the
 * "READY <port> <admin-port>" line awaited, stopped by PID (also when the
 * test crashes), the state folder removed (kept with KA_KEEP_SIM_DIR=1).
 * The simulator runs under $PYTHON3 without the sanitizer runtime. */
#ifndef KA_TESTS_SIMPROC_H
#define KA_TESTS_SIMPROC_H

#include <stdbool.h>
#include <sys/types.h>

struct simproc {
        pid_t pid;
        int port, admin_port;
        char dir[256];
};

/* Start tests/sim/<script> (or $env_override when that variable is set):
 * false with *why set when it cannot run here, so the caller can skip_all.
 * extra: more arguments, NULL-terminated, or NULL. */
bool simproc_start(struct simproc *p, const char *script, const char *env_override, const char *const *extra,
                   const char **why);
void simproc_stop(struct simproc *p);
/* dir/name, malloc()ed. */
char *simproc_path(const struct simproc *p, const char *name);
/* An admin call; returns the HTTP status (0 when the call failed). */
int simproc_admin(const struct simproc *p, const char *method, const char *path, const char *json,
                  char **ret_body);
/* A request to http://127.0.0.1:port/path (body may be NULL); returns the
 * HTTP status (0 when none came), the body in *ret_body (may be NULL). */
int test_http(int port, const char *method, const char *path, const char *body, char **ret_body);
/* Sum of /stats "requests" whose key ("METHOD /template CODE") starts with prefix. */
long simproc_count(const struct simproc *p, const char *prefix);

#endif
