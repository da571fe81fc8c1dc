/* core/provision/worker.h — a worker: the part that acts on Kubernetes.
 *
 * A worker serves the clouds of its config: it opens each cloud's
 * credentials and Kubernetes client (credentials never leave it), connects
 * to the core's workers channel announcing the cloud names it serves, and
 * does the jobs the core leases to it (core/bus/PROTOCOL.md, "Jobs"):
 * creates or adopts pods and follows each for its life on one shared watch
 * per namespace (core/kube/informer.h), reporting status changes; ends pods
 * as their retention policy says; lists and deletes pods.  Everything it
 * does is idempotent, so a job the core gives again (the lease ran out, the
 * core restarted) does no harm: a repeated create adopts the pod.
 *
 * Threads: ka_worker_run() is the worker's loop and owns its bus end; API
 * requests run on a small pool of threads so that a slow API server never
 * stalls the bus (leases keep being renewed); watch events arrive from the
 * informers' threads.  ka_worker_stop() may be called from any thread: the
 * loop returns soon, requests in flight are cancelled, and no pod is
 * touched on the way out. */
#ifndef KA_PROVISION_WORKER_H
#define KA_PROVISION_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "bus/clock.h"
#include "bus/config.h"
#include "config/config.h"
#include "kube/kube.h"

struct ka_worker_options {
        const struct ka_config *cfg;     /* its clouds are the ones served */
        const struct ka_registry *reg;   /* credential and retention plugins */
        const struct ka_bus_config *bus; /* validated */
        const char *name;                /* on the bus; NULL: the bus config's, else the host name */
        size_t threads;                  /* API requests at once; 0: 8 */
        /* Adjust each cloud's client options after the cloud's settings are
         * filled in (tests: fast retries; --log-http); may be NULL. */
        void (*kube_options)(void *ud, const struct ka_cloud *cloud, struct ka_kube_options *o);
        void *kube_options_ud;
        const struct ka_bus_clock *clock; /* NULL: the real clocks */
};

struct ka_worker;

/* Open every cloud's client and connect to the bus.  Errors name the
 * cloud. */
int ka_worker_new(const struct ka_worker_options *o, struct ka_worker **ret, struct ka_error *err);
void ka_worker_free(struct ka_worker *w);
/* The worker's loop, on the calling thread, until ka_worker_stop() or the
 * core asks it to stop.  0, or <0 on a fatal error (logged). */
int ka_worker_run(struct ka_worker *w);
/* ka_worker_run(arg) as a pthread start routine. */
void *ka_worker_thread(void *arg);
void ka_worker_stop(struct ka_worker *w);
/* The pods this worker follows now (any thread). */
size_t ka_worker_following(struct ka_worker *w);
/* Whether the worker can work (any thread): connected to the core, and
 * every cloud's API server answers (GET /version, remembered for a few
 * seconds).  *ret_why (malloc()ed) says what is missing. */
bool ka_worker_ready(struct ka_worker *w, char **ret_why);

#endif
