/* core/provision/tmplstore.h — pod templates registered at run time
 * (POST /v1/templates), for pipelines that build their templates as they run.
 *
 * A registration is a validated template, the label it serves, the cloud
 * it runs in and who may use it: the jobs it names and the jobs under the
 * folders it names (jobs are Jenkins full names, "team-a/app/main"; a job
 * is under folder "team-a" when its name starts with "team-a/").  The
 * scheduler serves demand for its label with it after the configured
 * templates, like one of them; it expires once nobody used it for
 * expireAfter (no agent of it lives, no demand for its label came).
 *
 *     HTTP thread                        scheduler thread
 *     ka_tmplstore_add(s, &reg, ...)     n = ka_tmplstore_take(s, &refs)   (a snapshot)
 *     ka_tmplstore_remove(s, label)      ... an agent keeps ka_tmplref_get(refs[i]) ...
 *                                        ka_tmplstore_drop(refs, n)
 *
 * Thread-safe: the store has its own lock, taken after the scheduler's and
 * never around a call out.  A registration is reference-counted: removed
 * or expired, it lives on for the agents that still use it and is freed
 * with the last of them.  The store must outlive the scheduler. */
#ifndef KA_PROVISION_TMPLSTORE_H
#define KA_PROVISION_TMPLSTORE_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/clock.h"
#include "config/config.h"
#include "util/error.h"
#include "yaml/locmap.h"

#define KA_TMPLSTORE_DEFAULT_MAX 100
#define KA_TMPLSTORE_LABEL_MAX 63
#define KA_TMPLSTORE_NAME_MAX 1024 /* a folder's or a job's full name */

struct ka_tmplstore_options {
        const struct ka_config *cfg;      /* the clouds and the configured templates */
        int64_t expire_after_ms;          /* unused this long: removed (0: never) */
        size_t max;                       /* registrations at once (0: KA_TMPLSTORE_DEFAULT_MAX) */
        const struct ka_bus_clock *clock; /* NULL: the real one */
};

/* What a registration brings; ka_tmplstore_add() takes all of it. */
struct ka_tmplstore_reg {
        char *label;
        char **folders, **jobs; /* NULL-terminated, or NULL; at least one name in all */
        const struct ka_cloud *cloud;
        struct ka_template *tmpl; /* loaded from tree and locs, which it borrows */
        cJSON *tree;
        struct ka_locmap *locs;
        char *source; /* "template" or "podTemplate": what the request gave */
};
void ka_tmplstore_reg_clear(struct ka_tmplstore_reg *r);

/* A registration, as the scheduler sees it (fields read-only). */
struct ka_tmplref {
        char *label;
        char **folders, **jobs; /* never NULL */
        size_t ci;              /* the cloud's index in the config */
        const struct ka_cloud *cloud;
        struct ka_template *tmpl;
        char *source;
        int64_t registered_wall; /* Unix ms */
        /* internal */
        cJSON *tree;
        struct ka_locmap *locs;
        const struct ka_bus_clock *clock;
        atomic_int refs;
        _Atomic int64_t last_used; /* monotonic ms */
};

struct ka_tmplstore;

int ka_tmplstore_new(const struct ka_tmplstore_options *o, struct ka_tmplstore **ret);
void ka_tmplstore_free(struct ka_tmplstore *s);

/* A label a registration may have: 1 to 63 of [A-Za-z0-9._-], starting
 * with a letter or digit (one label atom, safe in a URL path). */
bool ka_tmplstore_label_valid(const char *label);
/* A folder's or a job's full name: "a/b/c", no empty, "." or ".." part,
 * no control character, at most KA_TMPLSTORE_NAME_MAX bytes. */
bool ka_tmplstore_name_valid(const char *name);
/* Whether job is under folder (trailing slashes of folder ignored). */
bool ka_job_in_folder(const char *job, const char *folder);

/* Register, or replace the registration of the same label (*ret_replaced;
 * the old one lives on for its agents).  Refused, with err saying why and
 * r left to the caller: -EINVAL a bad label, folder or job name, or none
 * given; -EEXIST a configured template serves the label; -EACCES the
 * cloud is restricted to folders that do not hold a folder or job named;
 * -ENOSPC the store is full. */
int ka_tmplstore_add(struct ka_tmplstore *s, struct ka_tmplstore_reg *r, bool *ret_replaced, struct ka_error *err);
/* -ENOENT when no registration has the label. */
int ka_tmplstore_remove(struct ka_tmplstore *s, const char *label);
/* label NULL: every registration, [{label, cloud, folders, jobs, source,
 * registeredAt, idleSeconds, inUse, expiresInSeconds}]; else that one with
 * its template ({..., template: {...}}), or NULL. */
cJSON *ka_tmplstore_json(struct ka_tmplstore *s, const char *label);
size_t ka_tmplstore_count(struct ka_tmplstore *s);

/* ---- the scheduler's side ---- */

/* The registrations, in the order they were made, each with a reference
 * (expired ones are removed first).  s NULL: none. */
size_t ka_tmplstore_take(struct ka_tmplstore *s, struct ka_tmplref ***ret);
void ka_tmplstore_drop(struct ka_tmplref **v, size_t n);
struct ka_tmplref *ka_tmplref_get(struct ka_tmplref *r);
/* Release a reference (NULL is fine); counts as a use. */
void ka_tmplref_put(struct ka_tmplref *r);
/* Mark it used now (demand for its label came). */
void ka_tmplref_touch(struct ka_tmplref *r);
/* Whether job (NULL: unknown) is named by it or under a folder it names. */
bool ka_tmplref_allows(const struct ka_tmplref *r, const char *job);

#endif
