/* The frontend's side of the provisioning protocol (core/bus/PROTOCOL.md,
 * "Frontend → core" and "Core → frontend") on top of the client: the agents
 * it manages, the demand it finds in the queue, and what the core asks of
 * it (jenkins.h, "frontend.c"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../credentials/common/credutil.h"
#include "jenkins.h"

#define SINGLE_USE_REASON "single-use agent: taken offline when its build started; kubeagent deletes it afterwards"
#define SINGLE_USE_MARK " [single-use]"     /* at the end of a node's description */
#define ANCHOR_REASON "kubeagent: a placeholder so that Jenkins names the labels pipelines wait for; it never runs builds"
#define BACKOFF_MAX_MS 30000
#define DELETED_KEPT 64                 /* names of nodes deleted lately, see on_delete() */
/* How often the nodes are looked at while a single-use agent waits for its
 * first build (jk_frontend_cycle()). */
#define FIRST_BUILD_POLL_MS 250

enum agent_state { ST_OFFLINE, ST_ONLINE, ST_BUSY, ST_IDLE, ST_GONE };
static const char *const state_names[] = {"offline", "online", "busy", "idle", "gone"};

struct agent {
        char *name;
        char *expression;               /* the label expression it was planned for, or NULL */
        bool single_use;
        bool retired;                   /* its node is offline as single use (maybe from before a restart) */
        enum agent_state state;
        char *reason;                   /* offline cause text */
        char *run;                      /* the run on it now, or its last one */
        char *result;                   /* that run's result, once it is not building */
        bool result_final;              /* no more to learn about run */
        char *failure;                  /* agent.offline: the cause to show; applied while it is set */
        bool deleting;                  /* agent.delete: retried until done */
        bool seen;
        char *sent;                     /* the last agent.state sent (JSON text) */
};

struct item {
        int64_t id;
        char *expression;               /* demand by expression (sticky once known)... */
        char *node;                     /* ...or by node: resume this node */
        char *label;                    /* the label Jenkins named for it (why, labelExpression), or NULL */
        char *job, *url;
        int64_t since;
        bool seen;
};

struct group {
        char *key;                      /* "e:EXPRESSION" or "n:NODE" */
        char *sent;                     /* the last demand sent for it (JSON text) */
        bool present;
};

struct jk_frontend {
        const struct jk_conf *conf;
        struct jk_client *client;
        jk_emit_fn emit;
        void *ud;
        struct agent **agents;
        size_t n_agents;
        struct item **items;
        size_t n_items;
        struct group **groups;
        size_t n_groups;
        bool connected;                 /* the core welcomed us: messages may go */
        bool resync;                    /* connected: send the whole state after the next good look */
        bool said_hello;                /* the controller's root URL is known */
        char *anchor;                   /* "<namePrefix>anchor": see need_anchor() */
        bool anchor_tried;
        int failures;                   /* consecutive failed looks */
        struct jk_computers computers;  /* the last poll */
        char *deleted[DELETED_KEPT];    /* nodes deleted lately (a ring) */
        size_t deleted_next;
        struct jk_computers before;     /* the one before it */
        int64_t next_full;              /* when the queue is due to be looked at again */
        int64_t due;                    /* when the next look is (jk_frontend_due()) */
        bool started;                   /* this look saw a build start on one of our agents */
};

/* ---- small helpers ----------------------------------------------------------- */

static void *grow(void *v, size_t n, size_t size) {
        void *p = realloc(v, (n + 1) * size);
        if (!p)
                abort();
        return p;
}

static void set_str(char **slot, const char *value) {
        if ((*slot && value && strcmp(*slot, value) == 0) || (!*slot && !value))
                return;
        free(*slot);
        *slot = cu_strdup(value);
}

static bool starts_with(const char *s, const char *prefix) {
        return s && prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void emit(struct jk_frontend *fe, cJSON *msg) {
        fe->emit(fe->ud, msg);
        cJSON_Delete(msg);
}

static cJSON *message(const char *type) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "type", type);
        return m;
}

static bool our_name(const struct jk_frontend *fe, const char *name);
static bool retryable(int r);

/* ---- agents ------------------------------------------------------------------------ */

static struct agent *agent_find(struct jk_frontend *fe, const char *name) {
        for (size_t i = 0; i < fe->n_agents; i++)
                if (strcmp(fe->agents[i]->name, name) == 0)
                        return fe->agents[i];
        return NULL;
}

static struct agent *agent_add(struct jk_frontend *fe, const char *name) {
        struct agent *a = calloc(1, sizeof(*a));
        if (!a)
                abort();
        a->name = cu_strdup(name);
        fe->agents = grow(fe->agents, fe->n_agents, sizeof(*fe->agents));
        fe->agents[fe->n_agents++] = a;
        return a;
}

static void agent_free(struct agent *a) {
        free(a->name);
        free(a->expression);
        free(a->reason);
        free(a->run);
        free(a->result);
        free(a->failure);
        free(a->sent);
        free(a);
}

static void agent_remove(struct jk_frontend *fe, struct agent *a) {
        for (size_t i = 0; i < fe->n_agents; i++)
                if (fe->agents[i] == a) {
                        fe->agents[i] = fe->agents[--fe->n_agents];
                        break;
                }
        agent_free(a);
}

/* Send agent.state when it differs from what was sent last. */
static void report(struct jk_frontend *fe, struct agent *a) {
        if (!fe->connected)
                return;         /* everything is sent once the core welcomes us */
        cJSON *m = message("agent.state");
        cJSON_AddStringToObject(m, "name", a->name);
        cJSON_AddStringToObject(m, "state", state_names[a->state]);
        if ((a->state == ST_BUSY || a->state == ST_IDLE) && a->run)
                cJSON_AddStringToObject(m, "run", a->run);
        if (a->state == ST_IDLE && a->result_final && a->result)
                cJSON_AddStringToObject(m, "result", a->result);
        if (a->state == ST_OFFLINE && a->reason && *a->reason)
                cJSON_AddStringToObject(m, "reason", a->reason);
        char *text = cJSON_PrintUnformatted(m);
        if (!text)
                abort();
        if (a->sent && strcmp(a->sent, text) == 0) {
                free(text);
                cJSON_Delete(m);
                return;
        }
        free(a->sent);
        a->sent = text;
        emit(fe, m);
}

/* The nodes kubeagent deleted lately: an agent.delete sent again for one of
 * them (the core says it again when a report written before the first
 * delete reaches it after) is answered without a second request. */
static char **deleted_slot(struct jk_frontend *fe, const char *name) {
        for (size_t i = 0; i < DELETED_KEPT; i++)
                if (fe->deleted[i] && strcmp(fe->deleted[i], name) == 0)
                        return &fe->deleted[i];
        return NULL;
}

static void deleted_forget(struct jk_frontend *fe, const char *name) {
        char **slot = deleted_slot(fe, name);
        if (slot) {
                free(*slot);
                *slot = NULL;
        }
}

static void deleted_remember(struct jk_frontend *fe, const char *name) {
        if (deleted_slot(fe, name))
                return;
        free(fe->deleted[fe->deleted_next]);
        fe->deleted[fe->deleted_next] = cu_strdup(name);
        fe->deleted_next = (fe->deleted_next + 1) % DELETED_KEPT;
}

static void gone(struct jk_frontend *fe, struct agent *a) {
        if (a->deleting)
                deleted_remember(fe, a->name);
        a->state = ST_GONE;
        report(fe, a);
        agent_remove(fe, a);
}

/* The reason for a node taken offline by kubeagent: a failure's, or single use. */
static bool ours_offline(const struct agent *a, const struct jk_computer *x) {
        if (!x->temporarily_offline)
                return false;
        return starts_with(x->offline_reason, "single-use agent") ||
               (a->failure && strcmp(x->offline_reason, a->failure) == 0);
}

/* A single-use agent not seen busy yet: its pod may be starting or its
 * agent connected.  Jenkins gives it a build the moment it connects, and a
 * second one as soon as the first ends, until kubeagent has seen the first. */
static bool awaits_first_build(const struct agent *a) {
        return a->single_use && !a->run && !a->failure && !a->deleting && !a->retired &&
               (a->state == ST_OFFLINE || a->state == ST_ONLINE);
}

/* Take a freshly busy single-use agent offline so Jenkins gives it nothing more. */
static void retire_single_use(struct jk_frontend *fe, struct agent *a, const struct jk_computer *x) {
        if (!a->single_use || a->failure || x->temporarily_offline)
                return;
        struct ka_error err;
        if (jk_node_offline(fe->client, a->name, SINGLE_USE_REASON, &err) == 0)
                jk_log(DEBUG, "%s: single-use agent taken offline while its build runs", a->name);
        else
                jk_log(WARN, "%s: %s", a->name, err.msg);
}

/* Learn the result of the agent's last run once it is no longer building. */
static void fetch_result(struct jk_frontend *fe, struct agent *a) {
        if (!a->run || a->result_final)
                return;
        struct jk_run run = {0};
        struct ka_error err;
        int r = jk_run_get(fe->client, a->run, &run, &err);
        if (r == 0 && !run.building) {
                set_str(&a->result, run.result);
                a->result_final = true;
        } else if (r == -ENOENT) {
                a->result_final = true;         /* the run was deleted: no result to give */
        } else if (r < 0) {
                jk_log(DEBUG, "%s: %s", a->name, err.msg);
        }
        jk_run_clear(&run);
}

/* The state of a managed agent from its computer. */
static void update(struct jk_frontend *fe, struct agent *a, const struct jk_computer *x) {
        a->retired = x->temporarily_offline && starts_with(x->offline_reason, "single-use agent");
        if (x->busy > 0) {
                bool other = !a->run || !x->run_url || strcmp(a->run, x->run_url) != 0;
                fe->started |= other || a->state != ST_BUSY;
                if (other) {
                        set_str(&a->run, x->run_url);
                        set_str(&a->result, NULL);
                        a->result_final = false;
                }
                a->state = ST_BUSY;
                retire_single_use(fe, a, x);
        } else if (!x->connected || (x->temporarily_offline && !ours_offline(a, x)) || a->failure) {
                /* not connected, or taken offline by someone (or for a failure): it takes no build */
                a->state = ST_OFFLINE;
                set_str(&a->reason, x->offline_reason);
        } else if (a->run || x->temporarily_offline) {
                /* after a run; or taken offline as single use (ours_offline()) and so past its
                 * build, which ended unseen (kubeagent was down, or restarted meanwhile) */
                fetch_result(fe, a);
                a->state = ST_IDLE;
        } else {
                a->state = ST_ONLINE;
        }
}

/* A node with our prefix that we do not know yet: one we created before a
 * restart of kubeagent (or another instance with the same prefix: don't). */
static struct agent *adopt(struct jk_frontend *fe, const struct jk_computer *x) {
        deleted_forget(fe, x->name);
        struct agent *a = agent_add(fe, x->name);
        size_t dl = x->description ? strlen(x->description) : 0, ml = strlen(SINGLE_USE_MARK);
        a->single_use = dl >= ml && strcmp(x->description + dl - ml, SINGLE_USE_MARK) == 0;
        jk_log(INFO, "%s: found on the controller, managed again (%s)", a->name,
               a->single_use ? "single use" : "reusable");
        return a;
}

/* Deletions and failure marks that did not go through yet. */
static void retry_pending(struct jk_frontend *fe) {
        for (size_t i = 0; i < fe->n_agents;) {
                struct agent *a = fe->agents[i];
                struct ka_error err;
                if (a->deleting) {
                        if (jk_node_delete(fe->client, a->name, &err) == 0) {
                                gone(fe, a);
                                continue;
                        }
                        jk_log(DEBUG, "%s", err.msg);
                }
                i++;
        }
}

static int look_at_nodes(struct jk_frontend *fe, struct ka_error *err) {
        struct jk_computers cs = {0};
        int r = jk_computers_poll(fe->client, &cs, err);
        if (r < 0)
                return r;
        jk_computers_clear(&fe->before);
        fe->before = fe->computers;
        fe->computers = cs;
        for (size_t i = 0; i < fe->n_agents; i++)
                fe->agents[i]->seen = false;
        for (size_t i = 0; i < cs.n; i++) {
                const struct jk_computer *x = &cs.v[i];
                if (x->built_in || !our_name(fe, x->name))
                        continue;       /* a node kubeagent did not make, even with our prefix */
                struct agent *a = agent_find(fe, x->name);
                if (!a)
                        a = adopt(fe, x);
                a->seen = true;
                if (a->failure && !x->temporarily_offline) {
                        struct ka_error e2;
                        if (jk_node_offline(fe->client, a->name, a->failure, &e2) < 0)
                                jk_log(DEBUG, "%s", e2.msg);
                }
                update(fe, a, x);
        }
        /* managed nodes that are no longer there were deleted (by us or by someone) */
        for (size_t i = 0; i < fe->n_agents;) {
                struct agent *a = fe->agents[i];
                if (!a->seen) {
                        if (!a->deleting)
                                jk_log(INFO, "%s: the node was deleted outside kubeagent", a->name);
                        gone(fe, a);
                        continue;
                }
                i++;
        }
        return 0;
}

/* ---- demand ----------------------------------------------------------------------------- */

static struct item *item_find(struct jk_frontend *fe, int64_t id) {
        for (size_t i = 0; i < fe->n_items; i++)
                if (fe->items[i]->id == id)
                        return fe->items[i];
        return NULL;
}

static void item_free(struct item *it) {
        free(it->expression);
        free(it->node);
        free(it->label);
        free(it->job);
        free(it->url);
        free(it);
}

/* An atom as a label expression would write it: quoted when needed. */
static void append_atom(char **out, const char *atom) {
        bool plain = *atom && strspn(atom, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                                      strlen(atom) &&
                     !strstr(atom, "->");
        char *q = NULL;
        if (!plain) {
                size_t n = strlen(atom);
                q = malloc(2 * n + 3);
                if (!q)
                        abort();
                size_t o = 0;
                q[o++] = '"';
                for (size_t i = 0; i < n; i++) {
                        if (atom[i] == '"' || atom[i] == '\\')
                                q[o++] = '\\';
                        q[o++] = atom[i];
                }
                q[o++] = '"';
                q[o] = '\0';
        }
        char *next = cu_printf("%s%s%s", *out ? *out : "", *out ? "&&" : "", q ? q : atom);
        free(q);
        free(*out);
        *out = next;
}

/* What a node offers, as an expression: its labels without its own name. */
static char *labels_of(const struct jk_computer *x) {
        char *out = NULL;
        for (size_t i = 0; x && x->labels && x->labels[i]; i++)
                if (strcmp(x->labels[i], x->name) != 0)
                        append_atom(&out, x->labels[i]);
        return out;
}

static const struct jk_computer *computer_named(const struct jk_frontend *fe, const char *name) {
        for (size_t i = 0; i < fe->computers.n; i++)
                if (strcmp(fe->computers.v[i].name, name) == 0)
                        return &fe->computers.v[i];
        return NULL;
}

/* Whether name has the shape of our agents' names (PROTOCOL.md): the
 * prefix, the template name, "-" and 5 random characters; a DNS label. */
static bool our_name(const struct jk_frontend *fe, const char *name) {
        size_t n = strlen(name), pl = strlen(fe->conf->name_prefix);
        return starts_with(name, fe->conf->name_prefix) && n >= pl + 6 && n <= 63 && name[n - 6] == '-' &&
               strspn(name + n - 5, "abcdefghijklmnopqrstuvwxyz0123456789") == 5 &&
               strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n && name[n - 1] != '-';
}

/* A pipeline block that ran on agent a before a controller restart waits
 * for that very node (its label became the node name, §10). */
static bool resumes(struct jk_frontend *fe, const struct jk_item *q, const struct agent *a) {
        if (!q->pipeline_block || !q->task_url)
                return false;
        if (!a)
                return true;    /* our node, not there any more: bring it back */
        if (!a->run)
                return false;
        char *rel = jk_client_relative(fe->client, a->run);
        bool same = strcmp(rel, q->task_url) == 0;
        free(rel);
        return same;
}

/* Whether the controller has a node besides the built-in one. */
static bool has_agents(const struct jk_frontend *fe) {
        for (size_t i = 0; i < fe->computers.n; i++)
                if (!fe->computers.v[i].built_in)
                        return true;
        return false;
}

/* Where an item's demand goes: *ret_expr (a label expression, "" for none)
 * or *ret_node (resume that node); false when it is no demand for us. */
static bool classify(struct jk_frontend *fe, const struct jk_item *q, const struct item *prev, char **ret_expr,
                     char **ret_node) {
        const char *x = q->why.subject;
        *ret_expr = *ret_node = NULL;
        switch (q->why.kind) {
        case JK_WHY_NONE:
                return false;
        case JK_WHY_ANY:
                /* no label, or no agents at all on the controller: then Jenkins does not tell the
                 * label; a pipeline block's shows once the placeholder node exists (need_anchor()),
                 * and until then it is no demand (not demand for no label, which fails it) */
                if (!prev && !q->task_label && q->pipeline_block && !has_agents(fe))
                        return false;
                *ret_expr = cu_strdup(prev && prev->expression ? prev->expression : q->task_label ? q->task_label : "");
                return true;
        case JK_WHY_LABEL:
                if (our_name(fe, x) && resumes(fe, q, agent_find(fe, x))) {
                        *ret_node = cu_strdup(x);       /* "no nodes with the label 'N'": our node was deleted */
                        return true;
                }
                *ret_expr = cu_strdup(x);
                return true;
        case JK_WHY_NODE:
        case JK_WHY_LABEL_OR_NODE:
                break;
        }
        const struct jk_computer *c = computer_named(fe, x);
        if (!c && q->why.kind == JK_WHY_LABEL_OR_NODE) {
                *ret_expr = cu_strdup(x);               /* "waiting for an executor on 'L'" */
                return true;
        }
        if (our_name(fe, x)) {
                struct agent *a = agent_find(fe, x);
                if (resumes(fe, q, a)) {
                        *ret_node = cu_strdup(x);
                        return true;
                }
                if (prev && (prev->expression || prev->node)) {
                        *ret_expr = cu_strdup(prev->expression);
                        *ret_node = cu_strdup(prev->node);
                        return true;
                }
                if (a && a->expression) {
                        *ret_expr = cu_strdup(a->expression);
                        return true;
                }
        } else if (prev && prev->expression) {
                *ret_expr = cu_strdup(prev->expression);
                return true;
        }
        /* one node matches the label: what that node offers stands for it */
        *ret_expr = labels_of(c);
        return *ret_expr != NULL;
}

static struct group *group_find(struct jk_frontend *fe, const char *key) {
        for (size_t i = 0; i < fe->n_groups; i++)
                if (strcmp(fe->groups[i]->key, key) == 0)
                        return fe->groups[i];
        struct group *g = calloc(1, sizeof(*g));
        if (!g)
                abort();
        g->key = cu_strdup(key);
        fe->groups = grow(fe->groups, fe->n_groups, sizeof(*fe->groups));
        fe->groups[fe->n_groups++] = g;
        return g;
}

static int by_id(const void *a, const void *b) {
        int64_t x = (*(struct item *const *)a)->id, y = (*(struct item *const *)b)->id;
        return x < y ? -1 : x > y;
}

/* Send the whole set of each group that changed; an empty set withdraws it. */
static void send_demand(struct jk_frontend *fe) {
        if (!fe->connected)
                return;
        if (fe->n_items > 1)
                qsort(fe->items, fe->n_items, sizeof(*fe->items), by_id);
        for (size_t i = 0; i < fe->n_groups; i++)
                fe->groups[i]->present = false;
        for (size_t i = 0; i < fe->n_items; i++) {
                const struct item *it = fe->items[i];
                char *key = it->node ? cu_printf("n:%s", it->node) : cu_printf("e:%s", it->expression);
                group_find(fe, key)->present = true;
                free(key);
        }
        for (size_t g = 0; g < fe->n_groups;) {
                struct group *gr = fe->groups[g];
                cJSON *m = message("demand");
                cJSON_AddStringToObject(m, gr->key[0] == 'n' ? "node" : "expression", gr->key + 2);
                cJSON *items = cJSON_AddArrayToObject(m, "items");
                for (size_t i = 0; gr->present && i < fe->n_items; i++) {
                        const struct item *it = fe->items[i];
                        bool mine = gr->key[0] == 'n' ? it->node && strcmp(it->node, gr->key + 2) == 0
                                                      : !it->node && strcmp(it->expression, gr->key + 2) == 0;
                        if (!mine)
                                continue;
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddNumberToObject(o, "id", (double)it->id);
                        if (it->job)
                                cJSON_AddStringToObject(o, "job", it->job);
                        if (it->url)
                                cJSON_AddStringToObject(o, "url", it->url);
                        if (it->since > 0)
                                cJSON_AddNumberToObject(o, "since", (double)it->since);
                        cJSON_AddItemToArray(items, o);
                }
                char *text = cJSON_PrintUnformatted(m);
                if (!text)
                        abort();
                if (!gr->sent || strcmp(gr->sent, text) != 0) {
                        free(gr->sent);
                        gr->sent = text;
                        emit(fe, m);
                } else {
                        free(text);
                        cJSON_Delete(m);
                }
                if (!gr->present) {             /* withdrawn: forget the group */
                        free(gr->key);
                        free(gr->sent);
                        free(gr);
                        fe->groups[g] = fe->groups[--fe->n_groups];
                        continue;
                }
                g++;
        }
}

/* A controller with no agent at all does not say which label a pipeline
 * block waits for ("Waiting for next available executor", reference §2.4);
 * one node, even offline, is enough for the label to show.  So when that
 * hides demand, create one that never runs a build: EXCLUSIVE, no label,
 * temporarily offline, never connected.  It stays (it costs nothing). */
static void need_anchor(struct jk_frontend *fe, const struct jk_queue *q) {
        if (fe->anchor_tried || has_agents(fe))
                return;
        bool hidden = false;
        for (size_t i = 0; i < q->n && !hidden; i++)
                hidden = q->v[i].buildable && q->v[i].pipeline_block && q->v[i].why.kind == JK_WHY_ANY;
        if (!hidden)
                return;
        struct jk_node_spec spec = {.name = fe->anchor, .description = ANCHOR_REASON, .remote_fs = "/nonexistent",
                                    .labels = "", .exclusive = true};
        struct ka_error err = {0};
        int r = jk_node_create(fe->client, &spec, &err);
        if (r == 0 || r == -EEXIST)
                r = jk_node_offline(fe->client, fe->anchor, ANCHOR_REASON, &err);
        if (r == 0)
                jk_log(INFO, "created node %s: Jenkins has no agents, so it hides the labels pipelines wait for",
                       fe->anchor);
        else if (!retryable(r))
                jk_log(WARN, "could not create the placeholder node %s (%s): pipelines wait with no label shown "
                             "until an agent exists",
                       fe->anchor, err.msg);
        fe->anchor_tried = r == 0 || !retryable(r);     /* a passing condition: try again next time */
}

/* The label expression Jenkins itself names for an item -- the job's
 * labelExpression, or a why that names a label -- or NULL. */
static const char *named_label(const struct jk_frontend *fe, const struct jk_item *x) {
        if (x->task_label)
                return x->task_label;
        if (x->why.kind == JK_WHY_LABEL || (x->why.kind == JK_WHY_LABEL_OR_NODE && !computer_named(fe, x->why.subject)))
                return x->why.subject;
        return NULL;
}

/* The computer of a node ("": the built-in node) in a poll, or NULL. */
static const struct jk_computer *computer_in(const struct jk_computers *cs, const char *node) {
        for (size_t i = 0; i < cs->n; i++)
                if (*node ? !cs->v[i].built_in && strcmp(cs->v[i].name, node) == 0 : cs->v[i].built_in)
                        return &cs->v[i];
        return NULL;
}

/* Whether a computer could be given a build: connected, not taken offline, with executors. */
static bool takes_builds(const struct jk_computer *x) {
        return x && !x->offline && x->executors > 0;
}

/* The nodes of the labels asked about during one look (each read once). */
struct label_nodes {
        size_t n;
        char **label;
        char ***nodes;          /* NULL: could not be read */
};

static char **nodes_of_label(struct jk_frontend *fe, struct label_nodes *ln, const char *label) {
        for (size_t i = 0; i < ln->n; i++)
                if (strcmp(ln->label[i], label) == 0)
                        return ln->nodes[i];
        ln->label = grow(ln->label, ln->n, sizeof(*ln->label));
        ln->nodes = grow(ln->nodes, ln->n, sizeof(*ln->nodes));
        ln->label[ln->n] = cu_strdup(label);
        struct ka_error err;
        if (jk_label_nodes(fe->client, label, &ln->nodes[ln->n], &err) < 0) {
                jk_log(DEBUG, "%s", err.msg);
                ln->nodes[ln->n] = NULL;
        }
        return ln->nodes[ln->n++];
}

static void label_nodes_clear(struct label_nodes *ln) {
        for (size_t i = 0; i < ln->n; i++) {
                free(ln->label[i]);
                jk_strv_free(ln->nodes[i]);
        }
        free(ln->label);
        free(ln->nodes);
}

/* How many of a label's nodes could have run a build: our single-use agents
 * waiting for their first build (*ret_used: one of them), and every other
 * node taking builds at this look, the one before, or in `again`. */
static size_t could_run(struct jk_frontend *fe, char **nodes, const struct jk_computers *again,
                        struct agent **ret_used) {
        size_t could = 0;
        *ret_used = NULL;
        for (size_t i = 0; nodes[i]; i++) {
                struct agent *a = *nodes[i] ? agent_find(fe, nodes[i]) : NULL;
                if (a && awaits_first_build(a) && a->state == ST_ONLINE)
                        *ret_used = a;
                else if (!takes_builds(computer_in(&fe->computers, nodes[i])) &&
                         !takes_builds(computer_in(&fe->before, nodes[i])) && !takes_builds(computer_in(again, nodes[i])))
                        continue;
                could++;
        }
        return could;
}

/* Whether a poll shows run on a node. */
static bool shows_run(const struct jk_computers *cs, const char *run) {
        for (size_t i = 0; i < cs->n; i++)
                if (cs->v[i].run_url && strcmp(cs->v[i].run_url, run) == 0)
                        return true;
        return false;
}

/* An item counted as demand left the queue.  A build that starts and ends
 * between two looks is never seen on its node: when the only node that
 * could have run the item -- matching its label as Jenkins evaluates it,
 * taking builds at this look or the one before -- is a single-use agent of
 * ours waiting for its first build, and no node shows the run the item
 * started, not even when read once more (the build may have started after
 * this look read them), that agent was used: take it offline as single use,
 * and report it idle with the run (and the run's result once it no longer
 * builds).  When another node could have run it, nothing is guessed
 * (reference §2.1, §3.1, §6, §7). */
static void missed_build(struct jk_frontend *fe, const struct item *it, struct label_nodes *ln) {
        bool waiting = false;
        for (size_t i = 0; i < fe->n_agents && !waiting; i++)
                waiting = awaits_first_build(fe->agents[i]) && fe->agents[i]->state == ST_ONLINE;
        char **nodes = waiting && !it->node && it->label ? nodes_of_label(fe, ln, it->label) : NULL;
        struct jk_computers again = {0};
        struct agent *used;
        if (!nodes || could_run(fe, nodes, &again, &used) != 1 || !used)
                return;
        char *run = NULL;
        struct ka_error err = {0};
        bool unseen = jk_left_item_run(fe->client, it->id, &run, &err) == 0 && run && !shows_run(&fe->computers, run);
        for (size_t i = 0; i < fe->n_agents && unseen; i++)
                unseen = !fe->agents[i]->run || strcmp(fe->agents[i]->run, run) != 0;
        /* it may have started after this look read the nodes: read them again */
        unseen = unseen && jk_computers_poll(fe->client, &again, &err) == 0 && !shows_run(&again, run) &&
                 could_run(fe, nodes, &again, &used) == 1 && used;
        const struct jk_computer *x = unseen ? computer_in(&again, used->name) : NULL;
        if (!x || x->busy > 0) {
                if (err.msg[0])
                        jk_log(DEBUG, "%s", err.msg);
                jk_computers_clear(&again);
                free(run);
                return;
        }
        jk_computers_clear(&again);
        jk_log(INFO, "%s: ran %s between two looks; single use: it takes no other build", used->name, run);
        set_str(&used->run, run);
        set_str(&used->result, NULL);
        used->result_final = false;
        free(run);
        if (jk_node_offline(fe->client, used->name, SINGLE_USE_REASON, &err) < 0)
                jk_log(WARN, "%s: %s", used->name, err.msg);
        fetch_result(fe, used);
        used->state = ST_IDLE;
}

static int look_at_queue(struct jk_frontend *fe, struct ka_error *err) {
        struct jk_queue q = {0};
        int r = jk_queue_poll(fe->client, &q, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < fe->n_items; i++)
                fe->items[i]->seen = false;
        for (size_t i = 0; i < q.n; i++) {
                const struct jk_item *x = &q.v[i];
                if (x->blocked || !x->buildable || x->flyweight)
                        continue;
                struct item *prev = item_find(fe, x->id);
                char *expr, *node;
                if (!classify(fe, x, prev, &expr, &node))
                        continue;
                if (!prev) {
                        prev = calloc(1, sizeof(*prev));
                        if (!prev)
                                abort();
                        prev->id = x->id;
                        fe->items = grow(fe->items, fe->n_items, sizeof(*fe->items));
                        fe->items[fe->n_items++] = prev;
                }
                free(prev->expression);
                free(prev->node);
                prev->expression = expr;
                prev->node = node;
                if (!prev->label)
                        prev->label = cu_strdup(named_label(fe, x));
                set_str(&prev->job, x->job);
                set_str(&prev->url, x->task_url);
                prev->since = x->in_queue_since;
                prev->seen = true;
                /* a resumed block waits for a node we took offline (single use): let it back
                 * -- once the build another item ran there meanwhile is over (Jenkins gives a
                 * node back online to whichever waiting item it may take first) */
                struct agent *a = node ? agent_find(fe, node) : NULL;
                const struct jk_computer *c = node ? computer_named(fe, node) : NULL;
                if (a && c && c->temporarily_offline && c->busy == 0 && !a->failure && !a->deleting &&
                    starts_with(c->offline_reason, "single-use agent")) {
                        struct ka_error e2;
                        if (jk_node_online(fe->client, node, &e2) == 0)
                                jk_log(INFO, "%s: back online for the build that resumes on it", node);
                }
        }
        struct label_nodes ln = {0};
        for (size_t i = 0; i < fe->n_items;) {
                if (!fe->items[i]->seen) {
                        missed_build(fe, fe->items[i], &ln);
                        item_free(fe->items[i]);
                        fe->items[i] = fe->items[--fe->n_items];
                        continue;
                }
                i++;
        }
        label_nodes_clear(&ln);
        need_anchor(fe, &q);
        jk_queue_clear(&q);
        send_demand(fe);
        return 0;
}

/* ---- what the core asks ------------------------------------------------------------------ */

/* Members of a message: each name with its JSON type ('s' string, 'b'
 * bool, 'n' number, 'a' array, 'o' object) and '?' when optional.  A message
 * with a missing or mistyped member, or an unknown one, is refused. */
static bool check_members(const cJSON *msg, const char *const *spec, struct ka_error *err) {
        const cJSON *m;
        cJSON_ArrayForEach(m, msg) {
                bool known = strcmp(m->string, "type") == 0;
                for (size_t i = 0; !known && spec[i]; i++)
                        known = strcmp(spec[i] + 2, m->string) == 0;
                if (!known)
                        return jk_host->error_set(err, -EINVAL, "unknown member \"%s\"", m->string), false;
        }
        for (size_t i = 0; spec[i]; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, spec[i] + 2);
                if (!v) {
                        if (spec[i][1] == '?')
                                continue;
                        return jk_host->error_set(err, -EINVAL, "no \"%s\"", spec[i] + 2), false;
                }
                bool good;
                switch (spec[i][0]) {
                case 's': good = cJSON_IsString(v); break;
                case 'b': good = cJSON_IsBool(v); break;
                case 'n': good = cJSON_IsNumber(v); break;
                case 'a': good = cJSON_IsArray(v); break;
                default: good = cJSON_IsObject(v); break;
                }
                if (!good)
                        return jk_host->error_set(err, -EINVAL, "\"%s\" has the wrong type", spec[i] + 2), false;
        }
        return true;
}

static bool retryable(int r) {
        return r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EAGAIN || r == -EIO || r == -EACCES || r == -E2BIG ||
               r == -EPROTO || r == -ENOENT;
}

static void register_failed(struct jk_frontend *fe, const char *name, const char *error, bool retry) {
        cJSON *m = message("agent.register-failed");
        cJSON_AddStringToObject(m, "name", name);
        cJSON_AddStringToObject(m, "error", error);
        cJSON_AddBoolToObject(m, "retry", retry);
        emit(fe, m);
}

static void on_register(struct jk_frontend *fe, const cJSON *msg) {
        const char *name = jk_json_str(msg, "name");
        const char *mode = jk_json_str(msg, "mode");
        double idle = cJSON_GetObjectItemCaseSensitive(msg, "idleMinutes")->valuedouble;
        if (!our_name(fe, name) || (strcmp(mode, "NORMAL") != 0 && strcmp(mode, "EXCLUSIVE") != 0) || idle < 0) {
                char *why = cu_printf("refused: the name must be %s<template>-<5 characters> and mode NORMAL or "
                                      "EXCLUSIVE", fe->conf->name_prefix);
                register_failed(fe, name, why, false);
                free(why);
                return;
        }
        bool single = idle == 0;
        const char *desc = jk_json_str(msg, "description");
        char *description = cu_printf("%s%s", desc, single ? SINGLE_USE_MARK : "");
        struct jk_node_spec spec = {.name = name, .description = description,
                                    .remote_fs = jk_json_str(msg, "remoteFs"), .labels = jk_json_str(msg, "labels"),
                                    .exclusive = strcmp(mode, "EXCLUSIVE") == 0,
                                    .websocket = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "webSocket")),
                                    .tunnel = jk_json_str(msg, "tunnel")};
        struct ka_error err = {0};
        int r = jk_node_create(fe->client, &spec, &err);
        free(description);
        if (r == -EEXIST)
                r = 0;  /* "or keep it when it exists": a repeated register */
        struct agent *a = agent_find(fe, name);
        if (r == 0) {
                deleted_forget(fe, name);
                if (!a)
                        a = agent_add(fe, name);
                a->single_use = single;
                if (single && fe->due > jk_host->now_ms() + FIRST_BUILD_POLL_MS)
                        fe->due = jk_host->now_ms() + FIRST_BUILD_POLL_MS;     /* it waits for its first build */
                /* the expression its items wait for, to map a why naming it */
                const cJSON *id;
                cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(msg, "items")) {
                        int64_t n = jk_json_int(id, NULL);
                        struct item *it = n >= 0 ? item_find(fe, n) : NULL;
                        if (it && it->expression && !a->expression)
                                a->expression = cu_strdup(it->expression);
                }
                jk_log(INFO, "%s: node created (%s, labels \"%s\")", name, single ? "single use" : "reusable",
                       spec.labels);
        }
        char *secret = NULL;
        if (r == 0)
                r = jk_node_secret(fe->client, name, &secret, &err);
        if (r < 0) {
                register_failed(fe, name, err.msg, retryable(r));
                return;
        }
        cJSON *m = message("agent.registered");
        cJSON_AddStringToObject(m, "name", name);
        cJSON_AddStringToObject(m, "secret", secret);
        emit(fe, m);
        jk_host->secret_free(secret);
}

static void on_offline(struct jk_frontend *fe, const cJSON *msg) {
        const char *name = jk_json_str(msg, "name"), *reason = jk_json_str(msg, "reason");
        struct agent *a = agent_find(fe, name);
        if (!a) {
                jk_log(DEBUG, "agent.offline for %s, which this frontend does not manage", name);
                return;
        }
        set_str(&a->failure, reason);
        struct ka_error err;
        int r = jk_node_offline(fe->client, name, reason, &err);
        if (r == -ENOENT)
                gone(fe, a);
        else if (r < 0)
                jk_log(DEBUG, "%s (retried)", err.msg);
}

static void on_delete(struct jk_frontend *fe, const cJSON *msg) {
        const char *name = jk_json_str(msg, "name");
        struct agent *a = agent_find(fe, name);
        bool again = !a && deleted_slot(fe, name);
        if (!a)
                a = agent_add(fe, name);        /* not known (yet): delete it anyway */
        a->deleting = true;
        if (again) {
                gone(fe, a);
                return;
        }
        struct ka_error err;
        if (jk_node_delete(fe->client, name, &err) == 0)
                gone(fe, a);
        else
                jk_log(DEBUG, "%s (retried)", err.msg);
}

static void on_demand_failed(struct jk_frontend *fe, const cJSON *msg) {
        (void)fe;
        const char *error = jk_json_str(msg, "error");
        const char *what = jk_json_str(msg, "expression");
        const char *node = jk_json_str(msg, "node");
        char ids[256] = "";
        size_t n = 0;
        const cJSON *id;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(msg, "items")) {
                int64_t v = jk_json_int(id, NULL);
                if (v >= 0 && n + 24 < sizeof(ids))
                        n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%lld", n ? ", " : "", (long long)v);
        }
        jk_log(WARN, "kubeagent cannot serve queue items %s (%s %s): %s", ids, node ? "node" : "label",
               node ? node : what && *what ? what : "(none)", error);
}

void jk_frontend_handle(struct jk_frontend *fe, const cJSON *msg) {
        static const char *const reg[] = {"s name", "s cloud", "s template", "s labels", "s mode", "s remoteFs",
                                          "b webSocket", "s?tunnel", "n idleMinutes", "s description", "a items",
                                          NULL};
        static const char *const off[] = {"s name", "s reason", NULL};
        static const char *const del[] = {"s name", NULL};
        static const char *const failed[] = {"a items", "s error", "s?expression", "s?node", NULL};
        const char *type = jk_json_str(msg, "type");
        struct {
                const char *type;
                const char *const *spec;
                void (*fn)(struct jk_frontend *, const cJSON *);
        } handlers[] = {{"agent.register", reg, on_register},
                        {"agent.offline", off, on_offline},
                        {"agent.delete", del, on_delete},
                        {"demand.failed", failed, on_demand_failed}};
        for (size_t i = 0; type && i < sizeof(handlers) / sizeof(*handlers); i++) {
                if (strcmp(type, handlers[i].type) != 0)
                        continue;
                struct ka_error err = {0};
                if (check_members(msg, handlers[i].spec, &err))
                        handlers[i].fn(fe, msg);
                else
                        jk_log(ERROR, "bus: refused a %s message: %s", type, err.msg);
                return;
        }
        if (!type || strcmp(type, "bus.connected") != 0)
                jk_log(ERROR, "bus: refused a message of unknown type \"%s\"", type ? type : "(none)");
        else
                jk_frontend_connected(fe);
}

/* ---- the frontend ---------------------------------------------------------------------------- */

int jk_frontend_new(const struct jk_conf *conf, jk_emit_fn emit_fn, void *ud, struct jk_frontend **ret,
                    struct ka_error *err) {
        struct jk_frontend *fe = calloc(1, sizeof(*fe));
        if (!fe)
                abort();
        fe->conf = conf;
        fe->anchor = cu_printf("%sanchor", conf->name_prefix);
        fe->emit = emit_fn;
        fe->ud = ud;
        int r = jk_client_new(conf, &fe->client, err);
        if (r < 0) {
                free(fe->anchor);
                free(fe);
                return r;
        }
        *ret = fe;
        return 0;
}

void jk_frontend_free(struct jk_frontend *fe) {
        if (!fe)
                return;
        for (size_t i = 0; i < fe->n_agents; i++)
                agent_free(fe->agents[i]);
        free(fe->agents);
        for (size_t i = 0; i < fe->n_items; i++)
                item_free(fe->items[i]);
        free(fe->items);
        for (size_t i = 0; i < fe->n_groups; i++) {
                free(fe->groups[i]->key);
                free(fe->groups[i]->sent);
                free(fe->groups[i]);
        }
        free(fe->groups);
        jk_computers_clear(&fe->computers);
        for (size_t i = 0; i < DELETED_KEPT; i++)
                free(fe->deleted[i]);
        jk_computers_clear(&fe->before);
        jk_client_free(fe->client);
        free(fe->anchor);
        free(fe);
}

void jk_frontend_connected(struct jk_frontend *fe) {
        fe->connected = true;
        cJSON *m = message("frontend.hello");
        cJSON_AddStringToObject(m, "url", jk_client_root(fe->client));
        cJSON_AddStringToObject(m, "namePrefix", fe->conf->name_prefix);
        emit(fe, m);
        /* the core forgot our demand: everything is sent again after the next good look */
        for (size_t i = 0; i < fe->n_agents; i++) {
                free(fe->agents[i]->sent);
                fe->agents[i]->sent = NULL;
        }
        for (size_t i = 0; i < fe->n_groups; i++) {
                free(fe->groups[i]->sent);
                fe->groups[i]->sent = NULL;
        }
        fe->resync = true;
}

int64_t jk_frontend_cycle(struct jk_frontend *fe) {
        struct ka_error err = {0};
        int r = 0;
        int64_t now = jk_host->now_ms();
        bool full = now >= fe->next_full || fe->resync || fe->failures > 0 || !fe->said_hello;
        if (!fe->said_hello || fe->failures > 0)
                r = jk_client_hello(fe->client, &err);  /* the root URL: at first and after failures */
        fe->said_hello = r == 0;
        fe->started = false;
        if (r == 0) {
                retry_pending(fe);
                r = look_at_nodes(fe, &err);
        }
        /* the queue before the nodes' states: a core told that an agent is busy before it
         * learns that the item the agent took left the queue would plan a second agent for
         * the item that agent had been planned for */
        if (r == 0 && (full || fe->started)) {
                r = look_at_queue(fe, &err);
                fe->next_full = now + fe->conf->poll_interval_ms;
        }
        if (r == 0)
                for (size_t i = 0; i < fe->n_agents; i++)
                        report(fe, fe->agents[i]);
        if (r < 0) {
                jk_log(DEBUG, "%s", err.msg);   /* the client logged the change of health */
                fe->failures++;
                int64_t d = fe->conf->poll_interval_ms;
                for (int i = 0; i < fe->failures && d < BACKOFF_MAX_MS; i++)
                        d *= 2;
                if (d > BACKOFF_MAX_MS)
                        d = BACKOFF_MAX_MS;
                d = d - d / 5 + (int64_t)(jk_host->now_ms() % (d / 5 + 1));     /* jitter: 80-100 % */
                fe->due = jk_host->now_ms() + d;
                return d;
        }
        fe->failures = 0;
        if (fe->resync && fe->connected) {
                fe->resync = false;
                emit(fe, message("frontend.synced"));
        }
        /* a single-use agent waits for its first build: look at the nodes (only) often, so
         * that it is taken offline before that build ends and Jenkins gives it another */
        int64_t delay = fe->next_full - jk_host->now_ms();
        for (size_t i = 0; i < fe->n_agents && delay > FIRST_BUILD_POLL_MS; i++)
                if (awaits_first_build(fe->agents[i]))
                        delay = FIRST_BUILD_POLL_MS;
        delay = delay > 0 ? delay : 0;
        fe->due = jk_host->now_ms() + delay;
        return delay;
}

int64_t jk_frontend_due(const struct jk_frontend *fe) {
        return fe->due;
}
