/* Pod templates registered at run time: the store, its rules and expiry. */
#include "tmplstore.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "template/template.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/str.h"
#include "util/timeutil.h"

struct ka_tmplstore {
        struct ka_tmplstore_options o;
        pthread_mutex_t lock;
        struct ka_tmplref **v; /* in registration order */
        size_t n;
        struct ka_metric *m_registered;
};

void ka_tmplstore_reg_clear(struct ka_tmplstore_reg *r) {
        free(r->label);
        ka_strv_free(r->folders);
        ka_strv_free(r->jobs);
        ka_template_free(r->tmpl);
        cJSON_Delete(r->tree);
        ka_locmap_free(r->locs);
        free(r->source);
        *r = (struct ka_tmplstore_reg){0};
}

/* ---- names ---- */

static bool alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool ka_tmplstore_label_valid(const char *label) {
        size_t n = label ? strlen(label) : 0;
        if (n == 0 || n > KA_TMPLSTORE_LABEL_MAX || !alnum(label[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!alnum(label[i]) && !strchr("._-", label[i]))
                        return false;
        return true;
}

bool ka_tmplstore_name_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > KA_TMPLSTORE_NAME_MAX || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//"))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
                        return false;
        /* no "." or ".." part: a name means the folder it spells */
        for (const char *p = name; p; p = strchr(p, '/')) {
                p += *p == '/';
                size_t k = strcspn(p, "/");
                if ((k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
        }
        return true;
}

bool ka_job_in_folder(const char *job, const char *folder) {
        size_t n = strlen(folder);
        while (n && folder[n - 1] == '/')
                n--;
        return job && n && strncmp(job, folder, n) == 0 && job[n] == '/';
}

/* Whether a cloud restricted to folders (§5.10) lets `name` use it: a job
 * under one of them, or (a folder) one of them or under one. */
static bool cloud_allows(const struct ka_cloud *c, const char *name, bool folder) {
        if (!c->usage_restricted)
                return true;
        for (size_t i = 0; c->allowed_folders[i]; i++) {
                const char *f = c->allowed_folders[i];
                size_t n = strlen(f);
                while (n && f[n - 1] == '/')
                        n--;
                if (ka_job_in_folder(name, f) || (folder && n && strlen(name) == n && !strncmp(name, f, n)))
                        return true;
        }
        return false;
}

/* ---- references ---- */

static int64_t now_of(const struct ka_bus_clock *c) {
        return c ? ka_bus_now(c) : ka_time_now_ms();
}

static void ref_free(struct ka_tmplref *r) {
        free(r->label);
        ka_strv_free(r->folders);
        ka_strv_free(r->jobs);
        ka_template_free(r->tmpl); /* before the tree and the places it borrows */
        cJSON_Delete(r->tree);
        ka_locmap_free(r->locs);
        free(r->source);
        free(r);
}

struct ka_tmplref *ka_tmplref_get(struct ka_tmplref *r) {
        atomic_fetch_add(&r->refs, 1);
        return r;
}

void ka_tmplref_touch(struct ka_tmplref *r) {
        atomic_store(&r->last_used, now_of(r->clock));
}

void ka_tmplref_put(struct ka_tmplref *r) {
        if (!r)
                return;
        ka_tmplref_touch(r);
        if (atomic_fetch_sub(&r->refs, 1) == 1)
                ref_free(r);
}

bool ka_tmplref_allows(const struct ka_tmplref *r, const char *job) {
        if (!job)
                return false;
        if (ka_strv_contains(r->jobs, job))
                return true;
        for (size_t i = 0; r->folders[i]; i++)
                if (ka_job_in_folder(job, r->folders[i]))
                        return true;
        return false;
}

/* ---- the store ---- */

int ka_tmplstore_new(const struct ka_tmplstore_options *o, struct ka_tmplstore **ret) {
        struct ka_tmplstore *s = ka_new0(struct ka_tmplstore, 1);
        s->o = *o;
        if (!s->o.max)
                s->o.max = KA_TMPLSTORE_DEFAULT_MAX;
        pthread_mutex_init(&s->lock, NULL);
        ka_metric_register(NULL, "kubeagent_templates_registered", "Pod templates registered at run time",
                           KUBEAGENT_METRIC_GAUGE, NULL, &s->m_registered, NULL);
        *ret = s;
        return 0;
}

void ka_tmplstore_free(struct ka_tmplstore *s) {
        if (!s)
                return;
        ka_tmplstore_drop(s->v, s->n);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

/* Remove entry i (under the lock); the store's reference goes. */
static void remove_at(struct ka_tmplstore *s, size_t i) {
        struct ka_tmplref *r = s->v[i];
        memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
        s->n--;
        ka_metric_set(s->m_registered, NULL, (double)s->n);
        ka_tmplref_put(r);
}

/* Remove what nobody used for expire_after (under the lock). */
static void expire(struct ka_tmplstore *s) {
        if (s->o.expire_after_ms <= 0)
                return;
        int64_t now = now_of(s->o.clock);
        for (size_t i = 0; i < s->n;) {
                struct ka_tmplref *r = s->v[i];
                if (atomic_load(&r->refs) == 1 && now - atomic_load(&r->last_used) >= s->o.expire_after_ms) {
                        ka_log_info("templates", "registered template %s expired (unused for %" PRId64 "s)", r->label,
                                    s->o.expire_after_ms / 1000);
                        remove_at(s, i);
                } else {
                        i++;
                }
        }
}

static ssize_t find(const struct ka_tmplstore *s, const char *label) {
        for (size_t i = 0; i < s->n; i++)
                if (ka_streq(s->v[i]->label, label))
                        return (ssize_t)i;
        return -1;
}

/* The rules a registration must pass, before the store is looked at. */
static int check(const struct ka_tmplstore *s, const struct ka_tmplstore_reg *r, size_t *ret_ci, struct ka_error *err) {
        const struct ka_config *cfg = s->o.cfg;
        if (!ka_tmplstore_label_valid(r->label))
                return ka_error_set(err, -EINVAL,
                                    "label \"%s\" is not 1 to %d letters, digits, '.', '_' or '-' starting with a "
                                    "letter or digit",
                                    r->label ? r->label : "", KA_TMPLSTORE_LABEL_MAX);
        if (!ka_strv_len(r->folders) && !ka_strv_len(r->jobs))
                return ka_error_set(err, -EINVAL, "a registration names the folders or jobs that may use it");
        char **lists[] = {r->folders, r->jobs};
        for (size_t l = 0; l < 2; l++)
                for (size_t i = 0; lists[l] && lists[l][i]; i++) {
                        const char *name = lists[l][i];
                        if (!ka_tmplstore_name_valid(name))
                                return ka_error_set(err, -EINVAL, "\"%.64s\" is not a %s's full name (a/b/c)", name,
                                                    l ? "job" : "folder");
                        if (!cloud_allows(r->cloud, name, l == 0))
                                return ka_error_set(err, -EACCES, "Kubernetes cloud %s is not allowed for %s %s",
                                                    r->cloud->name, l ? "job" : "folder", name);
                }
        size_t ci = SIZE_MAX;
        for (size_t c = 0; c < cfg->n_clouds; c++) {
                if (cfg->clouds[c] == r->cloud)
                        ci = c;
                for (size_t t = 0; t < cfg->clouds[c]->n_templates; t++) {
                        const struct ka_template *ct = cfg->clouds[c]->templates[t];
                        char **atoms = ka_label_atoms(ct->label);
                        bool taken = ka_strv_contains(atoms, r->label);
                        ka_strv_free(atoms);
                        if (taken)
                                return ka_error_set(err, -EEXIST,
                                                    "label %s is served by template %s of cloud %s in the "
                                                    "configuration",
                                                    r->label, ct->name ? ct->name : "(unnamed)", cfg->clouds[c]->name);
                }
        }
        if (ci == SIZE_MAX)
                return ka_error_set(err, -EINVAL, "the registration's cloud is not in the configuration");
        *ret_ci = ci;
        return 0;
}

int ka_tmplstore_add(struct ka_tmplstore *s, struct ka_tmplstore_reg *r, bool *ret_replaced, struct ka_error *err) {
        size_t ci = 0; /* set by check(); GCC -O2 cannot see it */
        int rc = check(s, r, &ci, err);
        if (rc < 0)
                return rc;
        pthread_mutex_lock(&s->lock);
        expire(s);
        ssize_t old = find(s, r->label);
        if (old < 0 && s->n >= s->o.max) {
                pthread_mutex_unlock(&s->lock);
                return ka_error_set(err, -ENOSPC,
                                    "%zu templates are registered, the most kubeagent.templates.maxTemplates allows",
                                    s->o.max);
        }
        struct ka_tmplref *e = ka_new0(struct ka_tmplref, 1);
        e->label = KA_TAKE(r->label);
        e->folders = r->folders ? KA_TAKE(r->folders) : ka_new0(char *, 1);
        e->jobs = r->jobs ? KA_TAKE(r->jobs) : ka_new0(char *, 1);
        e->ci = ci;
        e->cloud = r->cloud;
        e->tmpl = KA_TAKE(r->tmpl);
        e->tree = KA_TAKE(r->tree);
        e->locs = KA_TAKE(r->locs);
        e->source = KA_TAKE(r->source);
        e->clock = s->o.clock;
        e->registered_wall = s->o.clock ? ka_bus_wall(s->o.clock) : ka_time_wall_ms_real();
        atomic_init(&e->refs, 1);
        atomic_init(&e->last_used, now_of(s->o.clock));
        ka_tmplstore_reg_clear(r);
        if (old >= 0)
                remove_at(s, (size_t)old);
        s->v = ka_reallocarray(s->v, s->n + 1, sizeof(*s->v));
        s->v[s->n++] = e;
        ka_metric_set(s->m_registered, NULL, (double)s->n);
        pthread_mutex_unlock(&s->lock);
        ka_log_info("templates", "%s template %s for cloud %s", old >= 0 ? "replaced" : "registered", e->label,
                    e->cloud->name);
        if (ret_replaced)
                *ret_replaced = old >= 0;
        return 0;
}

int ka_tmplstore_remove(struct ka_tmplstore *s, const char *label) {
        pthread_mutex_lock(&s->lock);
        expire(s);
        ssize_t i = find(s, label);
        if (i >= 0)
                remove_at(s, (size_t)i);
        pthread_mutex_unlock(&s->lock);
        if (i < 0)
                return -ENOENT;
        ka_log_info("templates", "removed registered template %s", label);
        return 0;
}

static cJSON *strv_json(char *const *v) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; v[i]; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

static cJSON *entry_json(const struct ka_tmplstore *s, const struct ka_tmplref *r, int64_t now) {
        cJSON *o = cJSON_CreateObject();
        ka_json_set_str(o, "label", r->label);
        ka_json_set_str(o, "cloud", r->cloud->name);
        ka_json_set(o, "folders", strv_json(r->folders));
        ka_json_set(o, "jobs", strv_json(r->jobs));
        ka_json_set_str(o, "source", r->source);
        char when[40];
        ka_json_set_str(o, "registeredAt", ka_time_format_rfc3339(r->registered_wall, when, sizeof(when)));
        bool in_use = atomic_load(&r->refs) > 1;
        int64_t idle = in_use ? 0 : now - atomic_load(&r->last_used);
        ka_json_set_bool(o, "inUse", in_use);
        ka_json_set_num(o, "idleSeconds", (double)(idle / 1000));
        if (s->o.expire_after_ms > 0 && !in_use)
                ka_json_set_num(o, "expiresInSeconds", (double)(KA_MAX(0, s->o.expire_after_ms - idle) / 1000));
        return o;
}

cJSON *ka_tmplstore_json(struct ka_tmplstore *s, const char *label) {
        pthread_mutex_lock(&s->lock);
        expire(s);
        int64_t now = now_of(s->o.clock);
        cJSON *ret = NULL;
        if (!label) {
                ret = cJSON_CreateArray();
                for (size_t i = 0; i < s->n; i++)
                        cJSON_AddItemToArray(ret, entry_json(s, s->v[i], now));
        } else {
                ssize_t i = find(s, label);
                if (i >= 0) {
                        ret = entry_json(s, s->v[i], now);
                        ka_json_set(ret, "template", cJSON_Duplicate(s->v[i]->tmpl->src, true));
                }
        }
        pthread_mutex_unlock(&s->lock);
        return ret;
}

size_t ka_tmplstore_count(struct ka_tmplstore *s) {
        pthread_mutex_lock(&s->lock);
        expire(s);
        size_t n = s->n;
        pthread_mutex_unlock(&s->lock);
        return n;
}

size_t ka_tmplstore_take(struct ka_tmplstore *s, struct ka_tmplref ***ret) {
        *ret = NULL;
        if (!s)
                return 0;
        pthread_mutex_lock(&s->lock);
        expire(s);
        size_t n = s->n;
        if (n) {
                *ret = ka_new0(struct ka_tmplref *, n);
                for (size_t i = 0; i < n; i++)
                        (*ret)[i] = ka_tmplref_get(s->v[i]);
        }
        pthread_mutex_unlock(&s->lock);
        return n;
}

void ka_tmplstore_drop(struct ka_tmplref **v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                /* a snapshot's reference is no use: keep the time of the last real one */
                struct ka_tmplref *r = v[i];
                if (atomic_fetch_sub(&r->refs, 1) == 1)
                        ref_free(r);
        }
        free(v);
}
