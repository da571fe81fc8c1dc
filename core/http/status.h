/* core/http/status.h — kubeagentd's own routes on its HTTP endpoint:
 *
 *   GET /metrics     Prometheus text format (every metric of the process)
 *   GET /healthz     200 "ok" while the process serves
 *   GET /readyz      200 when the scheduler has listed every cloud and every
 *                    frontend reaches its controller (role core), and the
 *                    worker is connected to the core and reaches every API
 *                    server (role worker); else 503 with what is missing
 *   GET /v1/agents   the scheduler's agents (JSON)
 *   GET /v1/status   clouds, caps, frontends, bus peers (JSON)
 *   GET /v1/gc       what garbage collection did lately (JSON)
 *   POST /v1/gc      run one garbage collection now (?dryRun=true: delete
 *                    nothing) and answer {dryRun, collected: [...]}
 *   GET /            a small HTML page of agents and clouds
 *
 * The scheduler's views are read under its lock; nothing here changes
 * anything. */
#ifndef KA_HTTP_STATUS_H
#define KA_HTTP_STATUS_H

#include "http.h"
#include "provision/provision.h"
#include "provision/worker.h"

struct ka_http_status {
        struct ka_prov *prov;     /* NULL when this process runs no scheduler */
        struct ka_worker *worker; /* NULL when it runs no worker */
        const char *role;         /* "core", "worker" or "all" */
};

/* Register the routes; st must outlive the server. */
int ka_http_status_routes(struct ka_http *s, struct ka_http_status *st);

#endif
