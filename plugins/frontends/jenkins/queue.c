/* The build queue: one tree=-limited poll, the label in `why`, the job of a
 * task URL (jenkins.h; reference §2, §7). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memmem */
#endif
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../credentials/common/credutil.h"
#include "jenkins.h"

#define LQ "\xe2\x80\x98"               /* U+2018 */
#define RQ "\xe2\x80\x99"               /* U+2019 */

/* ---- why ------------------------------------------------------------------- */

static bool starts(const char *s, size_t len, const char *prefix, size_t *plen) {
        *plen = strlen(prefix);
        return len >= *plen && memcmp(s, prefix, *plen) == 0;
}

static bool ends(const char *s, size_t len, const char *suffix, size_t *slen) {
        *slen = strlen(suffix);
        return len >= *slen && memcmp(s + len - *slen, suffix, *slen) == 0;
}

/* s[0..len) is exactly one quoted subject: 'X' with curly or straight
 * quotes (the English texts use U+2018/U+2019; older ones used '). */
static char *quoted(const char *s, size_t len) {
        size_t a, b;
        if (!(starts(s, len, LQ, &a) || starts(s, len, "'", &a)))
                return NULL;
        if (!(ends(s, len, RQ, &b) || ends(s, len, "'", &b)))
                return NULL;
        if (len < a + b + 1)
                return NULL;
        return cu_strndup(s + a, len - a - b);
}

/* The subject of "PREFIX 'X' SUFFIX" when text has that shape. */
static char *shaped(const char *text, size_t len, const char *prefix, const char *suffix) {
        size_t pl, sl;
        if (!starts(text, len, prefix, &pl) || !ends(text, len, suffix, &sl) || len < pl + sl)
                return NULL;
        return quoted(text + pl, len - pl - sl);
}

/* One per-node reason of a composite `why`: the label a node lacks, or that
 * the task is unlabelled and a node is reserved for labelled jobs. */
static void composite_part(const char *p, size_t len, struct jk_why *w) {
        static const char *const lacks[] = {" doesn" RQ "t have label ", " doesn't have label "};
        for (size_t i = 0; i < sizeof(lacks) / sizeof(*lacks); i++) {
                const char *at = memmem(p, len, lacks[i], strlen(lacks[i]));
                if (!at)
                        continue;
                const char *l = at + strlen(lacks[i]);
                char *label = quoted(l, (size_t)(p + len - l));
                if (label && w->kind != JK_WHY_LABEL) {
                        jk_why_clear(w);
                        w->kind = JK_WHY_LABEL;
                        w->subject = label;
                } else {
                        free(label);
                }
                return;
        }
        size_t sl;
        if (w->kind == JK_WHY_NONE && ends(p, len, " is reserved for jobs with matching label expression", &sl))
                w->kind = JK_WHY_ANY;
}

void jk_why_clear(struct jk_why *w) {
        free(w->subject);
        *w = (struct jk_why){0};
}

void jk_why_parse(const char *why, struct jk_why *w) {
        *w = (struct jk_why){0};
        if (!why)
                return;
        size_t len = strlen(why);
        char *x;
        if (strcmp(why, "Waiting for next available executor") == 0) {
                w->kind = JK_WHY_ANY;
        } else if ((x = shaped(why, len, "There are no nodes with the label ", ""))) {
                *w = (struct jk_why){JK_WHY_LABEL, x, true};
        } else if ((x = shaped(why, len, "All nodes of label ", " are offline"))) {
                *w = (struct jk_why){JK_WHY_LABEL, x, true};
        } else if ((x = shaped(why, len, "Waiting for next available executor on ", ""))) {
                *w = (struct jk_why){JK_WHY_LABEL_OR_NODE, x, false};
        } else if (!strstr(why, "; ") && (x = shaped(why, len, "", " is offline"))) {
                *w = (struct jk_why){JK_WHY_NODE, x, true};
        } else {
                /* per-node reasons joined with "; " (maybe "; ... and K more") */
                const char *p = why;
                while (*p) {
                        const char *end = strstr(p, "; ");
                        size_t n = end ? (size_t)(end - p) : strlen(p);
                        composite_part(p, n, w);
                        p += n + (end ? 2 : 0);
                }
        }
}

/* ---- task URL -> job ----------------------------------------------------------- */

/* Percent-decode one segment, exactly once; NULL when it hides a NUL. */
static char *decode(const char *s, size_t n) {
        int len = 0;
        char *d = curl_easy_unescape(NULL, s, (int)n, &len);
        if (!d)
                abort();
        char *out = memchr(d, '\0', (size_t)len) ? NULL : cu_strndup(d, (size_t)len);
        curl_free(d);
        return out;
}

int jk_task_job(const char *url, const char *root, char **ret_full_name, long *ret_number) {
        const char *p = url;
        if (!p)
                return -EINVAL;
        if (root && *root && strncmp(p, root, strlen(root)) == 0) {
                p += strlen(root);
        } else if (strstr(p, "://")) {
                /* an absolute URL under another host name: skip to the path, then
                 * past the root's own path (its context path) when present */
                const char *path = strchr(strstr(p, "://") + 3, '/');
                if (!path)
                        return -EINVAL;
                const char *rp = root ? strstr(root, "://") : NULL;
                rp = rp ? strchr(rp + 3, '/') : NULL;
                p = rp && strncmp(path, rp, strlen(rp)) == 0 ? path + strlen(rp) : path;
        }
        while (*p == '/')
                p++;
        char *full = NULL;
        long number = 0;
        for (;;) {
                const char *kw_end = strchr(p, '/');
                if (!kw_end)
                        break;
                size_t kwl = (size_t)(kw_end - p);
                const char *name = kw_end + 1;
                const char *name_end = strchr(name, '/');
                size_t nl = name_end ? (size_t)(name_end - name) : strlen(name);
                if (kwl == 4 && memcmp(p, "view", 4) == 0 && !full && nl) {
                        /* view/NAME/ before the first job/: skipped */
                } else if (kwl == 3 && memcmp(p, "job", 3) == 0 && nl) {
                        char *seg = decode(name, nl);
                        if (!seg) {
                                free(full);
                                return -EINVAL;
                        }
                        char *next = full ? cu_printf("%s/%s", full, seg) : cu_strdup(seg);
                        free(seg);
                        free(full);
                        full = next;
                } else {
                        break;
                }
                if (!name_end) {
                        p = name + nl;
                        break;
                }
                p = name_end + 1;
        }
        if (!full)
                return -EINVAL;
        /* what is left: "", "N/" or "N" */
        if (*p >= '0' && *p <= '9') {
                char *end;
                number = strtol(p, &end, 10);
                if ((*end != '\0' && strcmp(end, "/") != 0) || number <= 0)
                        number = 0;
        }
        *ret_full_name = full;
        *ret_number = number;
        return 0;
}

/* ---- the poll -------------------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

int jk_queue_parse(const char *json, size_t len, const char *root, struct jk_queue *ret, struct ka_error *err) {
        struct jk_queue q = {0};
        const cJSON *items;
        cJSON *j = jk_json_list(json, len, "items", sizeof(*q.v), (void **)&q.v, &items);
        if (!j)
                return jk_host->error_set(err, -EPROTO, "the queue is not a JSON object with items");
        const cJSON *it;
        cJSON_ArrayForEach(it, items) {
                const cJSON *task = cJSON_GetObjectItemCaseSensitive(it, "task");
                int64_t id = jk_json_int(it, "id");
                if (!cJSON_IsObject(it) || id < 0 || !cJSON_IsObject(task))
                        continue;       /* not an item as Jenkins writes them: skip it */
                struct jk_item *x = &q.v[q.n++];
                x->id = id;
                x->blocked = jk_json_true(it, "blocked");
                x->buildable = jk_json_true(it, "buildable");
                x->stuck = jk_json_true(it, "stuck");
                x->in_queue_since = jk_json_int(it, "inQueueSince");
                x->why_text = cu_strdup(jk_json_str(it, "why"));
                jk_why_parse(x->why_text, &x->why);
                x->task_class = cu_strdup(jk_json_str(task, "_class"));
                x->task_url = cu_strdup(jk_json_str(task, "url"));
                const char *label = jk_json_str(task, "labelExpression");
                x->task_label = label && *label ? cu_strdup(label) : NULL;
                x->pipeline_block = x->task_class && has_suffix(x->task_class, "$PlaceholderTask");
                x->flyweight = x->task_class && strcmp(x->task_class, "org.jenkinsci.plugins.workflow.job.WorkflowJob") == 0;
                long number;
                if (!x->task_url || jk_task_job(x->task_url, root, &x->job, &number) < 0)
                        x->job = NULL;
        }
        cJSON_Delete(j);
        *ret = q;
        return 0;
}

int jk_queue_poll(struct jk_client *c, struct jk_queue *ret, struct ka_error *err) {
        static const char what[] = "poll the build queue";
        struct jk_response r = {0};
        int rc = jk_request(c, "GET",
                            "queue/api/json?tree=items%5Bid,why,blocked,buildable,stuck,inQueueSince,"
                            "task%5Burl,labelExpression%5D%5D",
                            NULL, what, JK_PERM_READ, &r, err);
        if (rc == 0 && (rc = jk_queue_parse(r.body, r.len, jk_client_root(c), ret, err)) < 0)
                jk_error_prefix(err, what);
        jk_response_clear(&r);
        return rc;
}

/* ---- an item that left the queue ---------------------------------------------------- */

int jk_left_item_parse(const char *json, size_t len, char **ret_run, struct ka_error *err) {
        cJSON *j = cJSON_ParseWithLength(json, len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return jk_host->error_set(err, -EPROTO, "the queue item is not a JSON object");
        }
        const cJSON *exe = cJSON_GetObjectItemCaseSensitive(j, "executable");
        const char *url = jk_json_true(j, "cancelled") ? NULL : jk_json_str(exe, "url");
        *ret_run = url && *url ? cu_strdup(url) : NULL;
        cJSON_Delete(j);
        return 0;
}

int jk_left_item_run(struct jk_client *c, int64_t id, char **ret_run, struct ka_error *err) {
        char *path = cu_printf("queue/item/%lld/api/json?tree=cancelled,executable%%5Burl%%5D", (long long)id);
        char *what = cu_printf("read queue item %lld", (long long)id);
        struct jk_response r = {0};
        int rc = jk_request(c, "GET", path, NULL, what, JK_PERM_ITEM_READ, &r, err);
        if (rc == 0 && (rc = jk_left_item_parse(r.body, r.len, ret_run, err)) < 0)
                jk_error_prefix(err, what);
        jk_response_clear(&r);
        free(what);
        free(path);
        return rc;
}

void jk_queue_clear(struct jk_queue *q) {
        for (size_t i = 0; i < q->n; i++) {
                struct jk_item *x = &q->v[i];
                free(x->why_text);
                jk_why_clear(&x->why);
                free(x->task_class);
                free(x->task_url);
                free(x->task_label);
                free(x->job);
        }
        free(q->v);
        *q = (struct jk_queue){0};
}
