/* core/util/metrics.h — counters, gauges and histograms, rendered in the
 * Prometheus text format (version 0.0.4) by the daemon's /metrics endpoint.
 *
 * Metrics live in one process-wide registry; registration returns a handle
 * that is valid until ka_metrics_unregister_owner() or ka_metrics_reset().
 * Updates are thread-safe. */
#ifndef KA_UTIL_METRICS_H
#define KA_UTIL_METRICS_H

#include <kubeagent/error.h>
#include <kubeagent/host.h>

#include <stdint.h>

#include "buf.h"

struct ka_metric;

/* name: [a-zA-Z_:][a-zA-Z0-9_:]*; label_names comma-separated or NULL.
 * Registering an existing name with the same type and labels returns the
 * same metric; anything else is -EEXIST.  owner tags the metric for
 * ka_metrics_unregister_owner() (a plugin handle, or NULL for the core). */
int ka_metric_register(const void *owner, const char *name, const char *help, enum kubeagent_metric_type type,
                       const char *label_names, struct ka_metric **ret, struct ka_error *err);
/* label_values comma-separated, matching the label names in number. */
void ka_metric_add(struct ka_metric *m, const char *label_values, double delta);
void ka_metric_set(struct ka_metric *m, const char *label_values, double value);
double ka_metric_get(struct ka_metric *m, const char *label_values);

/* Histograms: bounds are the buckets' upper bounds, ascending, ended by
 * KA_HISTOGRAM_END (the +Inf bucket is implicit).  Rendered as NAME_bucket
 * {le=...} (cumulative), NAME_sum and NAME_count. */
#define KA_HISTOGRAM_END (-1.0)
/* 50 ms to 10 min: provisioning latencies. */
extern const double ka_histogram_latency_buckets[];
int ka_histogram_register(const void *owner, const char *name, const char *help, const char *label_names,
                          const double *bounds, struct ka_metric **ret, struct ka_error *err);
void ka_histogram_observe(struct ka_metric *m, const char *label_values, double value);
/* Observations so far (tests). */
uint64_t ka_histogram_count(struct ka_metric *m, const char *label_values);

void ka_metrics_unregister_owner(const void *owner);
int ka_metrics_render(struct ka_buf *out);
void ka_metrics_reset(void);

#endif
