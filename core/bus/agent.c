#include "agent.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fifo.h"
#include "link.h"
#include "util/base64.h"
#include "util/hashmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

/* Leases listed in one renew message. */
#define RENEW_CHUNK 1000

enum state {
        SAYING_HELLO, /* hello sent (or due); waiting for the welcome */
        ESTABLISHED,
};

struct held {
        uint64_t epoch;
        uint64_t next_seq; /* of the next report */
        uint64_t acked;    /* the last report the core has */
        bool final_sent;
};

struct kubeagent_bus {
        struct ka_bus_agent *agent;
};

struct ka_bus_agent {
        struct ka_bus_base base;
        struct ka_bus_channel chan;
        struct ka_bus_link link;
        enum ka_bus_role role;
        char **serves;
        size_t capacity;
        enum state state;
        unsigned char nonce[KA_BUS_NONCE_LEN];
        char *nonce_b64;
        int64_t next_hello;
        unsigned hellos; /* sent in this attempt */
        char core_instance[KA_BUS_INSTANCE_LEN + 1];
        int64_t last_renew;
        struct ka_hashmap jobs;    /* id -> struct held */
        struct ka_bus_fifo events; /* struct ka_bus_agent_event */
        bool stopped;
        struct kubeagent_bus handle;
};

/* ---- events ---- */

static struct ka_bus_agent_event *emit(struct ka_bus_agent *a, enum ka_bus_agent_event_kind kind) {
        struct ka_bus_agent_event *ev = ka_bus_fifo_push(&a->events);
        ev->kind = kind;
        return ev;
}

void ka_bus_agent_event_clear(struct ka_bus_agent_event *ev) {
        if (!ev)
                return;
        cJSON_Delete(ev->data);
        ev->data = NULL;
}

static void event_clear(void *ev) {
        ka_bus_agent_event_clear(ev);
}

/* ---- hello ---- */

/* Say hello: a new attempt (fresh nonce) or a retry of the current one
 * (same nonce, so that a welcome slower than our retries still counts),
 * retried at resendInterval doubling up to renewInterval. */
static void say_hello(struct ka_bus_agent *a, bool retry) {
        struct ka_bus_base *b = &a->base;
        if (!retry || !a->nonce_b64) {
                if (ka_bus_random(a->nonce, sizeof(a->nonce)) < 0)
                        return;
                free(a->nonce_b64);
                a->nonce_b64 = ka_base64_encode(a->nonce, sizeof(a->nonce));
                a->hellos = 0;
        }
        cJSON *h = cJSON_CreateObject();
        ka_json_set_num(h, "proto", KA_BUS_PROTO);
        ka_json_set_str(h, "role", ka_bus_role_name(a->role));
        ka_json_set_str(h, "instance", b->instance);
        ka_json_set_str(h, "nonce", a->nonce_b64);
        if (a->role == KA_BUS_ROLE_WORKER) {
                cJSON *s = ka_json_array(h, "serves");
                for (char **t = a->serves; t && *t; t++)
                        cJSON_AddItemToArray(s, cJSON_CreateString(*t));
                if (a->capacity)
                        ka_json_set_num(h, "capacity", (double)a->capacity);
        }
        ka_bus_send_handshake(b, &a->chan, KA_BUS_FRAME_HELLO, 0, KA_BUS_CORE_NAME, h);
        a->state = SAYING_HELLO;
        int64_t delay = KA_MIN(b->resend_ms << KA_MIN(a->hellos, 16u), KA_MAX(b->renew_ms, b->resend_ms));
        a->hellos++;
        a->next_hello = ka_bus_base_now(b) + delay;
}

static void send_renew(struct ka_bus_agent *a) {
        cJSON *p = cJSON_CreateObject();
        cJSON *leases = ka_json_array(p, "leases");
        size_t n = 0, it = 0;
        const char *id;
        void *v;
        while (ka_hashmap_next(&a->jobs, &it, &id, &v)) {
                const struct held *h = v;
                cJSON *l = cJSON_CreateObject();
                ka_json_set_str(l, "job", id);
                ka_json_set_num(l, "epoch", (double)h->epoch);
                ka_json_set_num(l, "seq", (double)h->acked);
                cJSON_AddItemToArray(leases, l);
                if (++n % RENEW_CHUNK == 0) {
                        ka_bus_link_send(&a->base, &a->link, "renew", p);
                        p = cJSON_CreateObject();
                        leases = ka_json_array(p, "leases");
                }
        }
        if (n == 0 || n % RENEW_CHUNK)
                ka_bus_link_send(&a->base, &a->link, "renew", p);
        else
                cJSON_Delete(p);
        a->last_renew = ka_bus_base_now(&a->base);
}

static void handle_welcome(struct ka_bus_agent *a, const struct ka_bus_frame *f) {
        struct ka_bus_base *b = &a->base;
        struct ka_bus_msg m = {0};
        if (ka_bus_open_handshake(b, f, &m) < 0)
                return;
        struct ka_error err = {0};
        if (ka_bus_payload_check(m.payload, ka_bus_welcome_fields, &err) < 0) {
                ka_bus_reject(b, KA_BUS_REJECT_INVALID, "welcome: %s", err.msg);
                goto out;
        }
        if (a->state != SAYING_HELLO || !a->nonce_b64 || strcmp(m.to, b->name) != 0 ||
            !ka_streq(ka_json_str(m.payload, "peerNonce"), a->nonce_b64)) {
                b->stats.ignored++; /* the answer to someone else's hello, or to an old one of ours */
                goto out;
        }
        unsigned char core_nonce[KA_BUS_NONCE_LEN] = {0};
        unsigned char *raw = NULL;
        size_t len = 0;
        const char *cn = ka_json_str(m.payload, "nonce");
        bool good = ka_base64_decode(cn, strlen(cn), &raw, &len) == 0 && len == KA_BUS_NONCE_LEN;
        if (good)
                memcpy(core_nonce, raw, len);
        free(raw);
        if (!good) {
                ka_bus_reject(b, KA_BUS_REJECT_INVALID, "welcome: the nonce must be 32 bytes in base64");
                goto out;
        }
        uint64_t session = f->session;
        if (b->sealed) {
                struct ka_bus_keys keys;
                if (ka_bus_session_keys(&b->psk, a->nonce, core_nonce, false, &keys, &session) < 0)
                        goto out;
                if (session != f->session) {
                        ka_bus_keys_wipe(&keys);
                        ka_bus_reject(b, KA_BUS_REJECT_SPOOFED, "welcome for a session that its nonces do not give");
                        goto out;
                }
                ka_bus_keys_wipe(&a->link.keys);
                a->link.keys = keys;
                ka_bus_keys_wipe(&keys);
        }
        ka_wipe(core_nonce, sizeof(core_nonce));
        if (session == 0) {
                ka_bus_reject(b, KA_BUS_REJECT_INVALID, "welcome without a session");
                goto out;
        }
        const char *instance = ka_json_str(m.payload, "instance");
        bool restarted = a->core_instance[0] && strcmp(a->core_instance, instance) != 0;
        const char *stream = ka_json_str(m.payload, "stream");
        if (strcmp(stream, a->link.stream) != 0) {
                /* The core starts its stream with us afresh (it is new, or it
                 * forgot us): number what we still have to send from 1. */
                if (a->link.stream[0])
                        ka_bus_link_renumber(&a->link);
                ka_strlcpy(a->link.stream, stream, sizeof(a->link.stream));
        }
        ka_strlcpy(a->core_instance, instance, sizeof(a->core_instance));
        b->lease_ms = ka_json_int(m.payload, "leaseDuration", b->lease_ms);
        b->renew_ms = ka_json_int(m.payload, "renewInterval", b->renew_ms);
        b->resend_ms = ka_json_int(m.payload, "resendInterval", b->resend_ms);
        a->link.session = session;
        a->link.last_rx = ka_bus_base_now(b);
        a->state = ESTABLISHED;
        ka_bus_count_received(b, "welcome");
        ka_log_debug("bus", "%s: welcomed by core %s", b->name, instance);
        /* Speak at once: our first frame on the session tells the core it is
         * the one we took.  A worker re-announces what it holds first. */
        if (a->role == KA_BUS_ROLE_WORKER)
                send_renew(a);
        else
                ka_bus_link_send(b, &a->link, "heartbeat", cJSON_CreateObject());
        ka_bus_link_rewind(b, &a->link);
        emit(a, KA_BUS_AGENT_CONNECTED)->restarted = restarted;
out:
        ka_bus_msg_clear(&m);
}

static void handle_reset(struct ka_bus_agent *a, const struct ka_bus_frame *f) {
        struct ka_bus_msg m = {0};
        if (ka_bus_open_handshake(&a->base, f, &m) < 0)
                return;
        ka_bus_msg_clear(&m);
        if (a->state != ESTABLISHED || f->session != a->link.session) {
                a->base.stats.ignored++;
                return;
        }
        ka_log_debug("bus", "%s: the core does not know our session; saying hello again", a->base.name);
        ka_bus_count_received(&a->base, "reset");
        a->link.session = 0;
        say_hello(a, false);
}

/* ---- data ---- */

static void drop_job(struct ka_bus_agent *a, const char *id) {
        free(ka_hashmap_remove(&a->jobs, id));
}

static void on_acked(void *data, const struct ka_bus_note *note) {
        struct ka_bus_agent *a = data;
        struct held *h = ka_hashmap_get(&a->jobs, note->job);
        if (!h || h->epoch != note->epoch)
                return;
        h->acked = KA_MAX(h->acked, note->seq);
        if (note->final)
                drop_job(a, note->job);
}

static bool check(struct ka_bus_agent *a, const struct ka_bus_msg *m, const struct ka_bus_field *fields) {
        struct ka_error err = {0};
        if (ka_bus_payload_check(m->payload, fields, &err) == 0)
                return true;
        ka_bus_reject(&a->base, KA_BUS_REJECT_INVALID, "%s: %s", m->type, err.msg);
        return false;
}

static void queue_jobref(struct ka_bus_agent *a, const char *type, const char *job, uint64_t epoch,
                         const char *reason) {
        cJSON *p = cJSON_CreateObject();
        ka_json_set_str(p, "job", job);
        ka_json_set_num(p, "epoch", (double)epoch);
        if (reason)
                ka_json_set_str(p, "reason", reason);
        ka_bus_link_queue(&a->base, &a->link, type, p, NULL);
}

static void handle_job(struct ka_bus_agent *a, struct ka_bus_msg *m) {
        if (!check(a, m, ka_bus_job_fields))
                return;
        const char *id = ka_json_str(m->payload, "job");
        uint64_t epoch = (uint64_t)ka_json_int(m->payload, "epoch", 0);
        struct held *h = ka_hashmap_get(&a->jobs, id);
        if (h && epoch <= h->epoch) {
                if (epoch == h->epoch)
                        queue_jobref(a, "accept", id, epoch, NULL);
                return;
        }
        if (!h && a->capacity && a->jobs.n >= a->capacity) {
                queue_jobref(a, "reject", id, epoch, "at capacity");
                return;
        }
        bool resumed = h != NULL;
        if (!h) {
                h = ka_new0(struct held, 1);
                ka_hashmap_put(&a->jobs, id, h);
        }
        *h = (struct held){.epoch = epoch, .next_seq = 1};
        queue_jobref(a, "accept", id, epoch, NULL);
        struct ka_bus_agent_event *ev = emit(a, KA_BUS_AGENT_JOB);
        ka_strlcpy(ev->job, id, sizeof(ev->job));
        ev->epoch = epoch;
        ev->resumed = resumed;
        ev->data = cJSON_DetachItemFromObjectCaseSensitive(m->payload, "work");
}

static void handle_revoke(struct ka_bus_agent *a, struct ka_bus_msg *m) {
        if (!check(a, m, ka_bus_jobref_fields))
                return;
        const char *id = ka_json_str(m->payload, "job");
        struct held *h = ka_hashmap_get(&a->jobs, id);
        if (!h || h->epoch != (uint64_t)ka_json_int(m->payload, "epoch", 0))
                return; /* about a lease we no longer hold */
        bool tell = !h->final_sent;
        drop_job(a, id);
        if (tell) {
                struct ka_bus_agent_event *ev = emit(a, KA_BUS_AGENT_REVOKED);
                ka_strlcpy(ev->job, id, sizeof(ev->job));
                ev->epoch = (uint64_t)ka_json_int(m->payload, "epoch", 0);
        }
}

static void handle_data(struct ka_bus_agent *a, const struct ka_bus_frame *f) {
        struct ka_bus_base *b = &a->base;
        if (a->state != ESTABLISHED || f->session != a->link.session) {
                b->stats.ignored++; /* for another peer on the channel */
                return;
        }
        struct ka_bus_msg m = {0};
        if (ka_bus_link_open(b, &a->link, f, &m) < 0)
                return;
        bool worker = a->role == KA_BUS_ROLE_WORKER;
        if (m.seq) {
                bool known = !strcmp(m.type, "job") || !strcmp(m.type, "stop") || !ka_bus_reserved_type(m.type);
                if (!known || (!strcmp(m.type, "job") && !worker)) {
                        ka_bus_reject(b, KA_BUS_REJECT_UNEXPECTED, "%s on the stream", m.type);
                } else if (ka_bus_link_receive(b, &a->link, m.seq) == KA_BUS_RX_NEW) {
                        if (!strcmp(m.type, "job")) {
                                handle_job(a, &m);
                        } else if (!strcmp(m.type, "stop")) {
                                if (check(a, &m, ka_bus_stop_fields)) {
                                        const char *reason = ka_json_str(m.payload, "reason");
                                        struct ka_bus_agent_event *ev = emit(a, KA_BUS_AGENT_STOP);
                                        ka_strlcpy(ev->reason, reason ? reason : "", sizeof(ev->reason));
                                }
                        } else {
                                struct ka_bus_agent_event *ev = emit(a, KA_BUS_AGENT_MESSAGE);
                                ka_strlcpy(ev->type, m.type, sizeof(ev->type));
                                ev->data = KA_TAKE(m.payload);
                        }
                        ka_bus_count_received(b, m.type);
                }
        } else if (!strcmp(m.type, "ack")) {
                if (check(a, &m, ka_bus_ack_fields)) {
                        ka_bus_link_acked(b, &a->link, (uint64_t)ka_json_int(m.payload, "seq", 0), on_acked, a);
                        ka_bus_count_received(b, m.type);
                }
        } else if (!strcmp(m.type, "heartbeat")) {
                if (check(a, &m, ka_bus_empty_fields))
                        ka_bus_count_received(b, m.type);
        } else if (!strcmp(m.type, "revoke") && worker) {
                handle_revoke(a, &m);
                ka_bus_count_received(b, m.type);
        } else {
                ka_bus_reject(b, KA_BUS_REJECT_UNEXPECTED, "%s off the stream", m.type);
        }
        ka_bus_msg_clear(&m);
}

static void handle_frame(struct ka_bus_agent *a, const void *data, size_t len) {
        struct ka_bus_frame f;
        if (ka_bus_frame_check(&a->base, data, len, &f) < 0)
                return;
        switch (f.kind) {
        case KA_BUS_FRAME_WELCOME:
                handle_welcome(a, &f);
                break;
        case KA_BUS_FRAME_RESET:
                handle_reset(a, &f);
                break;
        case KA_BUS_FRAME_DATA:
                handle_data(a, &f);
                break;
        case KA_BUS_FRAME_HELLO:
                ka_bus_reject(&a->base, KA_BUS_REJECT_UNEXPECTED, "a hello sent to a %s", ka_bus_role_name(a->role));
                break;
        }
}

/* ---- the loop ---- */

static void timers(struct ka_bus_agent *a) {
        struct ka_bus_base *b = &a->base;
        int64_t now = ka_bus_base_now(b);
        if (a->state == ESTABLISHED && !a->link.session)
                say_hello(a, false); /* the session ran out of counters: new keys */
        if (a->state == SAYING_HELLO) {
                if (now >= a->next_hello)
                        say_hello(a, true);
                return;
        }
        ka_bus_link_timers(b, &a->link);
        if (a->role == KA_BUS_ROLE_WORKER && now - a->last_renew >= b->renew_ms)
                send_renew(a);
        else if (a->role != KA_BUS_ROLE_WORKER && now - a->link.last_tx >= b->renew_ms)
                ka_bus_link_send(b, &a->link, "heartbeat", cJSON_CreateObject());
}

void ka_bus_agent_process(struct ka_bus_agent *a) {
        for (int n = 0; n < 1024; n++) {
                void *data;
                size_t len;
                if (ka_bus_socket_recv(&a->chan.sock, &data, &len) < 0)
                        break;
                handle_frame(a, data, len);
                ka_bus_socket_msg_free(data);
        }
        ka_bus_link_flush_ack(&a->base, &a->link);
        timers(a);
}

int ka_bus_agent_timeout(struct ka_bus_agent *a) {
        struct ka_bus_base *b = &a->base;
        int64_t now = ka_bus_base_now(b), due;
        if (a->state == SAYING_HELLO) {
                due = a->next_hello;
        } else {
                due = a->role == KA_BUS_ROLE_WORKER ? a->last_renew + b->renew_ms : a->link.last_tx + b->renew_ms;
                due = KA_MIN(due, ka_bus_link_due(b, &a->link));
                if (!a->link.session)
                        due = now; /* the session ran out: hello at once */
        }
        return due <= now ? 0 : (int)KA_MIN(due - now, (int64_t)INT32_MAX);
}

int ka_bus_agent_fd(struct ka_bus_agent *a) {
        return a->base.epfd;
}

int ka_bus_agent_next(struct ka_bus_agent *a, int timeout_ms, struct ka_bus_agent_event *ret) {
        int64_t end = ka_bus_deadline(timeout_ms);
        for (bool processed = false;; processed = true) {
                if (a->stopped || ka_bus_base_cancelled(&a->base))
                        return -ECANCELED;
                if (ka_bus_fifo_pop(&a->events, ret)) {
                        a->stopped = ret->kind == KA_BUS_AGENT_STOP;
                        return 0;
                }
                if (processed) {
                        int r = ka_bus_base_pause(&a->base, end, ka_bus_agent_timeout(a));
                        if (r < 0)
                                return r;
                }
                ka_bus_agent_process(a);
        }
}

void ka_bus_agent_cancel(struct ka_bus_agent *a) {
        ka_bus_base_cancel(&a->base);
}

/* ---- the API ---- */

int ka_bus_agent_new(const struct ka_bus_config *cfg, const struct ka_bus_agent_options *o,
                     const struct ka_bus_clock *clock, struct ka_bus_agent **ret, struct ka_error *err) {
        char host[256] = "";
        const char *name = o->name ? o->name : cfg->name;
        if (!name) {
                if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                        ka_strlcpy(host, "worker", sizeof(host));
                host[KA_BUS_NAME_MAX] = '\0';
                name = host;
        }
        if (o->role != KA_BUS_ROLE_WORKER && o->role != KA_BUS_ROLE_FRONTEND)
                return ka_error_set(err, -EINVAL, "an agent is a worker or a frontend");
        struct ka_bus_agent *a = ka_new0(struct ka_bus_agent, 1);
        a->events = (struct ka_bus_fifo)KA_BUS_FIFO_INIT(struct ka_bus_agent_event);
        a->chan.sock = (struct ka_bus_socket)KA_BUS_SOCKET_INIT;
        int r = ka_bus_base_init(&a->base, cfg, name, clock, err);
        if (r < 0) {
                free(a);
                return r;
        }
        const char *address = o->role == KA_BUS_ROLE_WORKER ? cfg->workers : cfg->frontends;
        if ((r = ka_bus_channel_open(&a->base, &a->chan, address, false, o->role, err)) < 0) {
                ka_bus_base_fini(&a->base);
                free(a);
                return r;
        }
        ka_bus_link_init(&a->link, &a->chan, KA_BUS_CORE_NAME);
        a->link.stream[0] = '\0'; /* the core names the stream */
        a->role = o->role;
        for (char *const *s = o->serves; s && *s; s++)
                a->serves = ka_strv_push(a->serves ? a->serves : ka_new0(char *, 1), *s);
        a->capacity = o->capacity;
        a->handle.agent = a;
        a->state = SAYING_HELLO;
        a->next_hello = ka_bus_base_now(&a->base); /* at once */
        *ret = a;
        return 0;
}

void ka_bus_agent_free(struct ka_bus_agent *a) {
        if (!a)
                return;
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&a->jobs, &it, NULL, &v))
                free(v);
        ka_hashmap_free(&a->jobs);
        ka_bus_fifo_free(&a->events, event_clear);
        ka_bus_link_fini(&a->link);
        ka_bus_channel_close(&a->chan);
        ka_bus_base_fini(&a->base);
        ka_strv_free(a->serves);
        free(a->nonce_b64);
        ka_wipe(a->nonce, sizeof(a->nonce));
        free(a);
}

int ka_bus_agent_report(struct ka_bus_agent *a, const char *job, const cJSON *data, bool final, struct ka_error *err) {
        struct held *h = job ? ka_hashmap_get(&a->jobs, job) : NULL;
        if (!h)
                return ka_error_set(err, -ENOENT, "this worker does not hold job %s", job ? job : "");
        if (h->final_sent)
                return ka_error_set(err, -EALREADY, "job %s is already finished", job);
        if (data && !cJSON_IsObject(data))
                return ka_error_set(err, -EINVAL, "a report must be an object");
        struct ka_bus_note note = {.seq = h->next_seq++, .epoch = h->epoch, .final = final};
        ka_strlcpy(note.job, job, sizeof(note.job));
        cJSON *p = cJSON_CreateObject();
        ka_json_set_str(p, "job", job);
        ka_json_set_num(p, "epoch", (double)h->epoch);
        ka_json_set_num(p, "seq", (double)note.seq);
        if (final)
                ka_json_set_bool(p, "final", true);
        ka_json_set(p, "data", data ? cJSON_Duplicate(data, true) : cJSON_CreateObject());
        h->final_sent = final;
        ka_bus_link_queue(&a->base, &a->link, "event", p, &note);
        return 0;
}

int ka_bus_agent_reject(struct ka_bus_agent *a, const char *job, const char *reason, struct ka_error *err) {
        struct held *h = job ? ka_hashmap_get(&a->jobs, job) : NULL;
        if (!h)
                return ka_error_set(err, -ENOENT, "this worker does not hold job %s", job ? job : "");
        queue_jobref(a, "reject", job, h->epoch, reason);
        drop_job(a, job);
        return 0;
}

int ka_bus_agent_send(struct ka_bus_agent *a, const char *type, const cJSON *payload, struct ka_error *err) {
        if (!ka_bus_valid_type(type) || ka_bus_reserved_type(type) || ka_startswith(type, "bus."))
                return ka_error_set(err, -EINVAL, "\"%s\" cannot be the type of an application message",
                                    type ? type : "");
        if (payload && !cJSON_IsObject(payload))
                return ka_error_set(err, -EINVAL, "the payload of a %s message must be an object", type);
        ka_bus_link_queue(&a->base, &a->link, type, payload ? cJSON_Duplicate(payload, true) : cJSON_CreateObject(),
                          NULL);
        return 0;
}

bool ka_bus_agent_connected(const struct ka_bus_agent *a) {
        return a->state == ESTABLISHED && ka_bus_base_now(&a->base) - a->link.last_rx <= a->base.lease_ms;
}

size_t ka_bus_agent_jobs(const struct ka_bus_agent *a) {
        return a->jobs.n;
}

const char *ka_bus_agent_name(const struct ka_bus_agent *a) {
        return a->base.name;
}

const struct ka_bus_stats *ka_bus_agent_stats(const struct ka_bus_agent *a) {
        return &a->base.stats;
}

/* ---- host table ---- */

struct kubeagent_bus *ka_bus_agent_handle(struct ka_bus_agent *a) {
        return &a->handle;
}

int ka_bus_host_send(struct kubeagent_bus *bus, const cJSON *message, struct ka_error *err) {
        if (!bus)
                return ka_error_set(err, -EINVAL, "no bus");
        const char *type = ka_json_str(message, "type");
        if (!type)
                return ka_error_set(err, -EINVAL, "a bus message must be an object with a \"type\" string");
        cJSON *payload = cJSON_Duplicate(message, true);
        cJSON_DeleteItemFromObjectCaseSensitive(payload, "type");
        int r = ka_bus_agent_send(bus->agent, type, payload, err);
        cJSON_Delete(payload);
        return r;
}

int ka_bus_host_recv(struct kubeagent_bus *bus, int timeout_ms, cJSON **ret_message, struct ka_error *err) {
        if (!bus)
                return ka_error_set(err, -EINVAL, "no bus");
        int64_t end = ka_bus_deadline(timeout_ms);
        for (;;) {
                int left = end == INT64_MAX ? -1 : (int)KA_MAX(0, end - ka_time_now_ms());
                struct ka_bus_agent_event ev;
                int r = ka_bus_agent_next(bus->agent, left, &ev);
                if (r == -ETIMEDOUT)
                        return ka_error_set(err, r, "nothing on the bus for %dms", timeout_ms);
                if (r == -ECANCELED)
                        return ka_error_set(err, r, "the core asked this frontend to stop");
                if (r < 0)
                        return ka_error_set(err, r, "bus: %s", strerror(-r));
                cJSON *msg = NULL;
                if (ev.kind == KA_BUS_AGENT_MESSAGE) {
                        msg = KA_TAKE(ev.data);
                        cJSON_DeleteItemFromObjectCaseSensitive(msg, "type");
                        cJSON_AddItemToObject(msg, "type", cJSON_CreateString(ev.type));
                } else if (ev.kind == KA_BUS_AGENT_CONNECTED) {
                        msg = cJSON_CreateObject();
                        ka_json_set_str(msg, "type", "bus.connected");
                        ka_json_set_bool(msg, "restarted", ev.restarted);
                }
                bool stop = ev.kind == KA_BUS_AGENT_STOP;
                ka_bus_agent_event_clear(&ev);
                if (stop)
                        return ka_error_set(err, -ECANCELED, "the core asked this frontend to stop");
                if (msg) {
                        *ret_message = msg;
                        return 0;
                }
        }
}
