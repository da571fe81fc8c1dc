#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "str.h"

struct series {
        char *label_values; /* comma-separated, as given */
        double value;       /* histograms: the sum */
        uint64_t *buckets;  /* histograms: per bound, not cumulative; then +Inf */
        uint64_t count;
};

#define HISTOGRAM 3 /* a third type, for the core only (plugins see counters and gauges) */

struct ka_metric {
        const void *owner;
        char *name, *help, *label_names;
        int type; /* enum kubeagent_metric_type, or HISTOGRAM */
        size_t n_labels;
        struct series *series;
        size_t n_series;
        double *bounds; /* histograms */
        size_t n_bounds;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ka_metric **metrics;
static size_t n_metrics;

static bool valid_name(const char *s) {
        if (!s || !*s || isdigit((unsigned char)*s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_' && *s != ':')
                        return false;
        return true;
}

static size_t count_fields(const char *csv) {
        if (ka_isempty(csv))
                return 0;
        size_t n = 1;
        for (; *csv; csv++)
                n += *csv == ',';
        return n;
}

static int do_register(const void *owner, const char *name, const char *help, int type, const char *label_names,
                       const double *bounds, struct ka_metric **ret, struct ka_error *err) {
        if (!valid_name(name))
                return ka_error_set(err, -EINVAL, "invalid metric name \"%s\"", name ? name : "");
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_metrics; i++) {
                struct ka_metric *m = metrics[i];
                if (strcmp(m->name, name) != 0)
                        continue;
                pthread_mutex_unlock(&lock);
                if (m->type == type && ka_streq(m->label_names, ka_isempty(label_names) ? NULL : label_names)) {
                        *ret = m;
                        return 0;
                }
                return ka_error_set(err, -EEXIST, "metric %s is already registered differently", name);
        }
        struct ka_metric *m = ka_new0(struct ka_metric, 1);
        m->owner = owner;
        m->name = ka_strdup(name);
        m->help = ka_strdup(help ? help : "");
        m->label_names = ka_isempty(label_names) ? NULL : ka_strdup(label_names);
        m->n_labels = count_fields(label_names);
        m->type = type;
        while (bounds && bounds[m->n_bounds] != KA_HISTOGRAM_END)
                m->n_bounds++;
        m->bounds = ka_new0(double, m->n_bounds + 1);
        for (size_t i = 0; i < m->n_bounds; i++)
                m->bounds[i] = bounds[i];
        metrics = ka_reallocarray(metrics, n_metrics + 1, sizeof(*metrics));
        metrics[n_metrics++] = m;
        pthread_mutex_unlock(&lock);
        *ret = m;
        return 0;
}

int ka_metric_register(const void *owner, const char *name, const char *help, enum kubeagent_metric_type type,
                       const char *label_names, struct ka_metric **ret, struct ka_error *err) {
        if (type != KUBEAGENT_METRIC_COUNTER && type != KUBEAGENT_METRIC_GAUGE)
                return ka_error_set(err, -EINVAL, "metric %s: unknown type %d", name ? name : "", (int)type);
        return do_register(owner, name, help, (int)type, label_names, NULL, ret, err);
}

const double ka_histogram_latency_buckets[] = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                               10,   30,  60,   120, 300, 600, KA_HISTOGRAM_END};

int ka_histogram_register(const void *owner, const char *name, const char *help, const char *label_names,
                          const double *bounds, struct ka_metric **ret, struct ka_error *err) {
        for (size_t i = 0; bounds && bounds[i] != KA_HISTOGRAM_END; i++)
                if (bounds[i] < 0 || (i && bounds[i] <= bounds[i - 1]))
                        return ka_error_set(err, -EINVAL, "histogram %s: bounds must be positive and ascending",
                                            name ? name : "");
        return do_register(owner, name, help, HISTOGRAM, label_names, bounds, ret, err);
}

static struct series *find_series(struct ka_metric *m, const char *label_values) {
        const char *lv = label_values ? label_values : "";
        for (size_t i = 0; i < m->n_series; i++)
                if (strcmp(m->series[i].label_values, lv) == 0)
                        return &m->series[i];
        if (count_fields(lv) != m->n_labels)
                return NULL;
        m->series = ka_reallocarray(m->series, m->n_series + 1, sizeof(*m->series));
        m->series[m->n_series] = (struct series){.label_values = ka_strdup(lv), .value = 0};
        if (m->type == HISTOGRAM)
                m->series[m->n_series].buckets = ka_new0(uint64_t, m->n_bounds + 1);
        return &m->series[m->n_series++];
}

void ka_metric_add(struct ka_metric *m, const char *label_values, double delta) {
        if (!m || m->type == HISTOGRAM)
                return;
        pthread_mutex_lock(&lock);
        struct series *s = find_series(m, label_values);
        if (s)
                s->value += delta;
        pthread_mutex_unlock(&lock);
}

void ka_metric_set(struct ka_metric *m, const char *label_values, double value) {
        if (!m || m->type == HISTOGRAM)
                return;
        pthread_mutex_lock(&lock);
        struct series *s = find_series(m, label_values);
        if (s)
                s->value = value;
        pthread_mutex_unlock(&lock);
}

void ka_histogram_observe(struct ka_metric *m, const char *label_values, double value) {
        if (!m || m->type != HISTOGRAM)
                return;
        pthread_mutex_lock(&lock);
        struct series *s = find_series(m, label_values);
        if (s) {
                size_t b = 0;
                while (b < m->n_bounds && value > m->bounds[b])
                        b++;
                s->buckets[b]++;
                s->count++;
                s->value += value;
        }
        pthread_mutex_unlock(&lock);
}

uint64_t ka_histogram_count(struct ka_metric *m, const char *label_values) {
        uint64_t n = 0;
        if (!m)
                return 0;
        pthread_mutex_lock(&lock);
        struct series *s = find_series(m, label_values);
        if (s)
                n = s->count;
        pthread_mutex_unlock(&lock);
        return n;
}

double ka_metric_get(struct ka_metric *m, const char *label_values) {
        double v = 0;
        pthread_mutex_lock(&lock);
        struct series *s = find_series(m, label_values);
        if (s)
                v = s->value;
        pthread_mutex_unlock(&lock);
        return v;
}

static void metric_free(struct ka_metric *m) {
        for (size_t i = 0; i < m->n_series; i++) {
                free(m->series[i].label_values);
                free(m->series[i].buckets);
        }
        free(m->bounds);
        free(m->series);
        free(m->name);
        free(m->help);
        free(m->label_names);
        free(m);
}

void ka_metrics_unregister_owner(const void *owner) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_metrics;)
                if (metrics[i]->owner == owner && owner) {
                        metric_free(metrics[i]);
                        memmove(&metrics[i], &metrics[i + 1], (n_metrics - i - 1) * sizeof(*metrics));
                        n_metrics--;
                } else {
                        i++;
                }
        pthread_mutex_unlock(&lock);
}

void ka_metrics_reset(void) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_metrics; i++)
                metric_free(metrics[i]);
        free(metrics);
        metrics = NULL;
        n_metrics = 0;
        pthread_mutex_unlock(&lock);
}

/* Label value escaping per the text format: backslash, quote, newline. */
static void put_label_value(struct ka_buf *out, const char *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (v[i] == '\\' || v[i] == '"')
                        ka_buf_putc(out, '\\');
                if (v[i] == '\n') {
                        ka_buf_puts(out, "\\n");
                        continue;
                }
                ka_buf_putc(out, v[i]);
        }
}

static void put_labels(struct ka_buf *out, const char *names, const char *values);

static void put_labels(struct ka_buf *out, const char *names, const char *values) {
        if (ka_isempty(names))
                return;
        ka_buf_putc(out, '{');
        const char *n = names, *v = values;
        for (int first = 1; *n; first = 0) {
                size_t nl = strcspn(n, ","), vl = strcspn(v, ",");
                if (!first)
                        ka_buf_putc(out, ',');
                ka_buf_append(out, n, nl);
                ka_buf_puts(out, "=\"");
                put_label_value(out, v, vl);
                ka_buf_putc(out, '"');
                n += nl + (n[nl] == ',');
                v += vl + (v[vl] == ',');
        }
        ka_buf_putc(out, '}');
}

static void render_histogram(struct ka_buf *out, const struct ka_metric *m, const struct series *s) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= m->n_bounds; b++) {
                cum += s->buckets[b];
                char le[32];
                if (b < m->n_bounds)
                        snprintf(le, sizeof(le), "%g", m->bounds[b]);
                else
                        snprintf(le, sizeof(le), "+Inf");
                ka_buf_printf(out, "%s_bucket{", m->name);
                if (m->label_names) {
                        struct ka_buf l = KA_BUF_INIT(0);
                        put_labels(&l, m->label_names, s->label_values);
                        /* "{a="x"}" without its braces, then le */
                        ka_buf_append(out, l.data + 1, l.len - 2);
                        ka_buf_putc(out, ',');
                        ka_buf_free(&l);
                }
                ka_buf_printf(out, "le=\"%s\"} %llu\n", le, (unsigned long long)cum);
        }
        ka_buf_printf(out, "%s_sum", m->name);
        put_labels(out, m->label_names, s->label_values);
        ka_buf_printf(out, " %.17g\n%s_count", s->value, m->name);
        put_labels(out, m->label_names, s->label_values);
        ka_buf_printf(out, " %llu\n", (unsigned long long)s->count);
}

int ka_metrics_render(struct ka_buf *out) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_metrics; i++) {
                struct ka_metric *m = metrics[i];
                ka_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                              m->type == KUBEAGENT_METRIC_COUNTER ? "counter"
                              : m->type == HISTOGRAM              ? "histogram"
                                                                  : "gauge");
                if (m->type == HISTOGRAM) {
                        for (size_t j = 0; j < m->n_series; j++)
                                render_histogram(out, m, &m->series[j]);
                        continue;
                }
                if (!m->n_series && !m->n_labels)
                        ka_buf_printf(out, "%s 0\n", m->name);
                for (size_t j = 0; j < m->n_series; j++) {
                        ka_buf_puts(out, m->name);
                        put_labels(out, m->label_names, m->series[j].label_values);
                        ka_buf_printf(out, " %.17g\n", m->series[j].value);
                }
        }
        pthread_mutex_unlock(&lock);
        return 0;
}
