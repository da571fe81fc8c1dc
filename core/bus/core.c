#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fifo.h"
#include "link.h"
#include "util/base64.h"
#include "util/hashmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

/* Peers silent this many leases are forgotten altogether. */
#define FORGET_AFTER_LEASES 10
/* Hellos remembered to refuse replays (they are also refused once older than maxClockSkew). */
#define HELLO_CACHE 4096
/* Sessions offered to one peer and not used by it yet.  A peer that says
 * hello again before our welcome reaches it takes whichever welcome comes
 * first; the session it then uses is the one that counts. */
#define CANDIDATES 4
/* Messages taken from one channel per process() call, so that one busy
 * channel cannot starve the other or the timers. */
#define RECV_BATCH 1024

struct candidate {
        uint64_t session;
        struct ka_bus_keys keys;
};

struct peer {
        struct ka_bus_link link; /* its session is the one the peer uses (0: none yet) */
        struct candidate cand[CANDIDATES];
        size_t n_cand;
        char **serves;
        size_t capacity;
        bool up; /* PEER_UP sent, PEER_DOWN not (yet) */
};

struct seen_hello {
        unsigned char iv[KA_BUS_IV_LEN];
        int64_t time;
};

struct ka_bus_core {
        struct ka_bus_base base;
        struct ka_bus_channel workers, frontends;
        struct ka_hashmap by_name, by_session;
        struct ka_bus_jobs *jobs;
        struct ka_bus_fifo events; /* struct ka_bus_core_event */
        struct seen_hello hellos[HELLO_CACHE];
        size_t n_hellos, next_hello;
        struct ka_metric *m_jobs, *m_peers;
        int64_t settled_at;
};

static void session_key(uint64_t session, char out[17]) {
        snprintf(out, 17, "%016llx", (unsigned long long)session);
}

/* ---- events ---- */

static struct ka_bus_core_event *emit(struct ka_bus_core *c, enum ka_bus_core_event_kind kind, const char *peer) {
        struct ka_bus_core_event *ev = ka_bus_fifo_push(&c->events);
        ev->kind = kind;
        ka_strlcpy(ev->peer, peer ? peer : "", sizeof(ev->peer));
        return ev;
}

void ka_bus_core_event_clear(struct ka_bus_core_event *ev) {
        if (!ev)
                return;
        cJSON_Delete(ev->data);
        ev->data = NULL;
}

static void event_clear(void *ev) {
        ka_bus_core_event_clear(ev);
}

/* ---- peers ---- */

static void peer_free(struct peer *p) {
        for (size_t i = 0; i < p->n_cand; i++)
                ka_bus_keys_wipe(&p->cand[i].keys);
        ka_bus_link_fini(&p->link);
        ka_strv_free(p->serves);
        free(p);
}

static void unmap_session(struct ka_bus_core *c, uint64_t session) {
        char key[17];
        if (!session)
                return;
        session_key(session, key);
        ka_hashmap_remove(&c->by_session, key);
}

static void peer_forget(struct ka_bus_core *c, struct peer *p) {
        unmap_session(c, p->link.session);
        for (size_t i = 0; i < p->n_cand; i++)
                unmap_session(c, p->cand[i].session);
        ka_hashmap_remove(&c->by_name, p->link.peer);
        peer_free(p);
}

/* The peer used session: make it the link's, forget the others. */
static bool confirm(struct ka_bus_core *c, struct peer *p, uint64_t session) {
        if (session == p->link.session)
                return true;
        size_t i = 0;
        while (i < p->n_cand && p->cand[i].session != session)
                i++;
        if (i == p->n_cand)
                return false;
        unmap_session(c, p->link.session);
        ka_bus_keys_wipe(&p->link.keys);
        p->link.session = session;
        p->link.keys = p->cand[i].keys;
        for (size_t k = 0; k < p->n_cand; k++) {
                if (p->cand[k].session != session)
                        unmap_session(c, p->cand[k].session);
                ka_bus_keys_wipe(&p->cand[k].keys);
        }
        p->n_cand = 0;
        ka_bus_link_rewind(&c->base, &p->link); /* what went out on the old session is lost */
        return true;
}

static void peer_down(struct ka_bus_core *c, struct peer *p) {
        if (!p->up)
                return;
        p->up = false;
        emit(c, KA_BUS_CORE_PEER_DOWN, p->link.peer);
        if (p->link.role == KA_BUS_ROLE_WORKER)
                ka_bus_jobs_worker_down(c->jobs, p->link.peer);
}

/* ---- hello ---- */

static bool hello_replayed(struct ka_bus_core *c, const unsigned char iv[KA_BUS_IV_LEN], int64_t time) {
        int64_t now = ka_bus_wall(c->base.clock);
        for (size_t i = 0; i < c->n_hellos; i++) {
                if (memcmp(c->hellos[i].iv, iv, KA_BUS_IV_LEN) == 0 && c->hellos[i].time >= now - 2 * c->base.skew_ms)
                        return true;
        }
        struct seen_hello *s = &c->hellos[c->next_hello];
        memcpy(s->iv, iv, KA_BUS_IV_LEN);
        s->time = time;
        c->next_hello = (c->next_hello + 1) % HELLO_CACHE;
        c->n_hellos = KA_MIN(c->n_hellos + 1, (size_t)HELLO_CACHE);
        return false;
}

static bool decode_nonce(const char *b64, unsigned char out[KA_BUS_NONCE_LEN]) {
        unsigned char *raw;
        size_t len;
        if (!b64 || ka_base64_decode(b64, strlen(b64), &raw, &len) < 0)
                return false;
        bool good = len == KA_BUS_NONCE_LEN;
        if (good)
                memcpy(out, raw, KA_BUS_NONCE_LEN);
        free(raw);
        return good;
}

static void handle_hello(struct ka_bus_core *c, struct ka_bus_channel *chan, const struct ka_bus_frame *f) {
        struct ka_bus_base *b = &c->base;
        struct ka_bus_msg m = {0};
        if (ka_bus_open_handshake(b, f, &m) < 0)
                return;
        struct ka_error err = {0};
        unsigned char peer_nonce[KA_BUS_NONCE_LEN];
        const char *role = ka_json_str(m.payload, "role");
        if (ka_bus_payload_check(m.payload, ka_bus_hello_fields, &err) < 0 ||
            !decode_nonce(ka_json_str(m.payload, "nonce"), peer_nonce)) {
                ka_bus_reject(b, KA_BUS_REJECT_INVALID, "hello from %s: %s", m.sender,
                              err.msg[0] ? err.msg : "the nonce must be 32 bytes in base64");
                goto out;
        }
        if (b->sealed && hello_replayed(c, f->iv, f->time)) {
                ka_bus_reject(b, KA_BUS_REJECT_REPLAYED, "a hello from %s seen before", m.sender);
                goto out;
        }
        if (ka_json_int(m.payload, "proto", 0) != KA_BUS_PROTO) {
                ka_bus_reject(b, KA_BUS_REJECT_UNEXPECTED, "%s speaks bus protocol %lld, this core %d", m.sender,
                              (long long)ka_json_int(m.payload, "proto", 0), KA_BUS_PROTO);
                goto out;
        }
        if (strcmp(role, ka_bus_role_name(chan->role)) != 0 || strcmp(m.to, KA_BUS_CORE_NAME) != 0) {
                ka_bus_reject(b, KA_BUS_REJECT_UNEXPECTED, "a %s named %s on the %ss' channel", role, m.sender,
                              ka_bus_role_name(chan->role));
                goto out;
        }
        const char *instance = ka_json_str(m.payload, "instance");
        struct peer *p = ka_hashmap_get(&c->by_name, m.sender);
        if (p && p->link.chan != chan) {
                ka_bus_reject(b, KA_BUS_REJECT_UNEXPECTED, "%s is already the name of a %s", m.sender,
                              ka_bus_role_name(p->link.role));
                goto out;
        }
        bool restarted = false, known = false;
        if (p && strcmp(p->link.peer_instance, instance) != 0) {
                /* the same name from a new process: the old one is gone */
                restarted = true;
                peer_down(c, p);
                ka_bus_link_reset(&p->link);
                unmap_session(c, p->link.session);
                p->link.session = 0;
                for (size_t i = 0; i < p->n_cand; i++) {
                        unmap_session(c, p->cand[i].session);
                        ka_bus_keys_wipe(&p->cand[i].keys);
                }
                p->n_cand = 0;
        } else if (p) {
                known = p->up;
        } else {
                p = ka_new0(struct peer, 1);
                ka_bus_link_init(&p->link, chan, m.sender);
                p->link.role = chan->role;
                ka_hashmap_put(&c->by_name, m.sender, p);
        }
        unsigned char core_nonce[KA_BUS_NONCE_LEN];
        struct candidate cand = {0};
        if (ka_bus_random(core_nonce, sizeof(core_nonce)) < 0)
                goto out;
        if (b->sealed) {
                if (ka_bus_session_keys(&b->psk, peer_nonce, core_nonce, true, &cand.keys, &cand.session) < 0)
                        goto out;
        } else {
                memcpy(&cand.session, core_nonce, sizeof(cand.session));
                cand.session |= 1; /* never 0 */
        }
        if (p->n_cand == CANDIDATES) {
                unmap_session(c, p->cand[0].session);
                ka_bus_keys_wipe(&p->cand[0].keys);
                memmove(p->cand, p->cand + 1, (CANDIDATES - 1) * sizeof(*p->cand));
                p->n_cand--;
        }
        p->cand[p->n_cand++] = cand;
        ka_bus_keys_wipe(&cand.keys);
        char key[17];
        session_key(cand.session, key);
        ka_hashmap_put(&c->by_session, key, p);
        uint64_t session = cand.session;
        ka_strlcpy(p->link.peer_instance, instance, sizeof(p->link.peer_instance));
        p->link.last_rx = ka_bus_base_now(b);
        p->link.down = false;
        ka_strv_free(p->serves);
        p->serves = NULL;
        const cJSON *serves = cJSON_GetObjectItemCaseSensitive(m.payload, "serves");
        for (const cJSON *s = serves ? serves->child : NULL; s; s = s->next)
                p->serves = ka_strv_push(p->serves ? p->serves : ka_new0(char *, 1), s->valuestring);
        p->capacity = (size_t)ka_json_int(m.payload, "capacity", 0);
        if (p->link.role == KA_BUS_ROLE_WORKER) {
                ka_bus_jobs_worker_up(c->jobs, m.sender, instance, p->serves, p->capacity);
                /* Offer it nothing before its first word on the session, the
                 * renew that re-announces what it holds: a job it holds from
                 * a core before this one, submitted again meanwhile, is then
                 * adopted, not offered twice (a worker slower to come back
                 * than the start-up grace). */
                ka_bus_jobs_worker_down(c->jobs, m.sender);
        }
        ka_bus_count_received(b, "hello");

        cJSON *w = cJSON_CreateObject();
        char *cn = ka_base64_encode(core_nonce, sizeof(core_nonce));
        ka_json_set_num(w, "proto", KA_BUS_PROTO);
        ka_json_set_str(w, "instance", b->instance);
        ka_json_set_str(w, "nonce", cn);
        free(cn);
        ka_json_set_str(w, "peerNonce", ka_json_str(m.payload, "nonce"));
        ka_json_set_num(w, "leaseDuration", (double)b->lease_ms);
        ka_json_set_num(w, "renewInterval", (double)b->renew_ms);
        ka_json_set_num(w, "resendInterval", (double)b->resend_ms);
        ka_json_set_str(w, "stream", p->link.stream);
        ka_bus_send_handshake(b, chan, KA_BUS_FRAME_WELCOME, session, m.sender, w);
        p->link.last_tx = ka_bus_base_now(b);
        ka_wipe(core_nonce, sizeof(core_nonce));

        if (!known) {
                p->up = true;
                struct ka_bus_core_event *ev = emit(c, KA_BUS_CORE_PEER_UP, m.sender);
                ev->role = ka_bus_role_name(p->link.role);
                ev->restarted = restarted;
                ka_log_debug("bus", "core: %s %s (instance %s) is up", ev->role, m.sender, instance);
        }
        ka_bus_link_pump(b, &p->link);
out:
        ka_wipe(peer_nonce, sizeof(peer_nonce));
        ka_bus_msg_clear(&m);
}

/* ---- data ---- */

static bool check(struct ka_bus_core *c, const struct ka_bus_msg *m, const struct ka_bus_field *fields) {
        struct ka_error err = {0};
        if (ka_bus_payload_check(m->payload, fields, &err) == 0)
                return true;
        ka_bus_reject(&c->base, KA_BUS_REJECT_INVALID, "%s from %s: %s", m->type, m->sender, err.msg);
        return false;
}

static void revoke(struct ka_bus_core *c, struct peer *p, const char *job, uint64_t epoch) {
        cJSON *r = cJSON_CreateObject();
        ka_json_set_str(r, "job", job);
        ka_json_set_num(r, "epoch", (double)epoch);
        ka_bus_link_send(&c->base, &p->link, "revoke", r);
}

static void handle_reliable(struct ka_bus_core *c, struct peer *p, struct ka_bus_msg *m) {
        const char *type = m->type;
        bool worker = p->link.role == KA_BUS_ROLE_WORKER;
        bool job_msg = !strcmp(type, "accept") || !strcmp(type, "reject") || !strcmp(type, "event");
        if ((job_msg && !worker) || (!job_msg && ka_bus_reserved_type(type))) {
                ka_bus_reject(&c->base, KA_BUS_REJECT_UNEXPECTED, "%s from %s %s", type, ka_bus_role_name(p->link.role),
                              m->sender);
                return;
        }
        if (ka_bus_link_receive(&c->base, &p->link, m->seq) != KA_BUS_RX_NEW)
                return;
        const char *job = ka_json_str(m->payload, "job");
        uint64_t epoch = (uint64_t)ka_json_int(m->payload, "epoch", 0);
        if (!strcmp(type, "accept")) {
                if (check(c, m, ka_bus_jobref_fields))
                        ka_bus_jobs_accepted(c->jobs, m->sender, job, epoch);
        } else if (!strcmp(type, "reject")) {
                if (!check(c, m, ka_bus_reject_fields))
                        return;
                enum ka_bus_job_state st;
                const char *holder;
                uint64_t e;
                bool current = ka_bus_jobs_get(c->jobs, job, &st, &holder, &e) == 0 && holder &&
                               !strcmp(holder, m->sender) && e == epoch;
                ka_bus_jobs_rejected(c->jobs, m->sender, job, epoch);
                if (current) {
                        struct ka_bus_core_event *ev = emit(c, KA_BUS_CORE_JOB_REJECTED, m->sender);
                        ka_strlcpy(ev->job, job, sizeof(ev->job));
                        ev->epoch = epoch;
                        const char *reason = ka_json_str(m->payload, "reason");
                        ka_strlcpy(ev->reason, reason ? reason : "", sizeof(ev->reason));
                }
        } else if (!strcmp(type, "event")) {
                if (!check(c, m, ka_bus_event_fields))
                        return;
                uint64_t seq = (uint64_t)ka_json_int(m->payload, "seq", 0);
                bool final = ka_json_bool(m->payload, "final", false);
                switch (ka_bus_jobs_event(c->jobs, m->sender, job, epoch, seq, final)) {
                case KA_BUS_HANDLE: {
                        struct ka_bus_core_event *ev = emit(c, KA_BUS_CORE_JOB_EVENT, m->sender);
                        ka_strlcpy(ev->job, job, sizeof(ev->job));
                        ev->epoch = epoch;
                        ev->seq = seq;
                        ev->final = final;
                        ev->data = cJSON_DetachItemFromObjectCaseSensitive(m->payload, "data");
                        break;
                }
                case KA_BUS_DUPLICATE:
                        break;
                case KA_BUS_STALE:
                        revoke(c, p, job, epoch);
                        break;
                }
        } else {
                struct ka_bus_core_event *ev = emit(c, KA_BUS_CORE_MESSAGE, m->sender);
                ka_strlcpy(ev->type, type, sizeof(ev->type));
                ev->data = KA_TAKE(m->payload);
        }
        ka_bus_count_received(&c->base, type);
}

static void handle_data(struct ka_bus_core *c, struct ka_bus_channel *chan, const struct ka_bus_frame *f) {
        struct ka_bus_base *b = &c->base;
        char key[17];
        session_key(f->session, key);
        struct peer *p = ka_hashmap_get(&c->by_session, key);
        if (!p || p->link.chan != chan || !confirm(c, p, f->session)) {
                /* the core restarted, or this session was replaced: tell the peer to say hello */
                ka_bus_reject(b, KA_BUS_REJECT_UNKNOWN_SESSION, "a frame of session %s", key);
                ka_bus_send_handshake(b, chan, KA_BUS_FRAME_RESET, f->session, KA_BUS_ALL, cJSON_CreateObject());
                return;
        }
        struct ka_bus_msg m = {0};
        if (ka_bus_link_open(b, &p->link, f, &m) < 0)
                return;
        if (!p->up) {
                /* back after a silence longer than a lease */
                p->up = true;
                struct ka_bus_core_event *ev = emit(c, KA_BUS_CORE_PEER_UP, p->link.peer);
                ev->role = ka_bus_role_name(p->link.role);
                if (p->link.role == KA_BUS_ROLE_WORKER)
                        ka_bus_jobs_worker_up(c->jobs, p->link.peer, p->link.peer_instance, p->serves, p->capacity);
        }
        if (p->link.role == KA_BUS_ROLE_WORKER)
                ka_bus_jobs_worker_heard(c->jobs, p->link.peer);
        if (m.seq) {
                handle_reliable(c, p, &m);
        } else if (!strcmp(m.type, "ack")) {
                if (check(c, &m, ka_bus_ack_fields)) {
                        ka_bus_link_acked(b, &p->link, (uint64_t)ka_json_int(m.payload, "seq", 0), NULL, NULL);
                        ka_bus_count_received(b, m.type);
                }
        } else if (!strcmp(m.type, "heartbeat")) {
                if (check(c, &m, ka_bus_empty_fields))
                        ka_bus_count_received(b, m.type);
        } else if (!strcmp(m.type, "renew") && p->link.role == KA_BUS_ROLE_WORKER) {
                if (check(c, &m, ka_bus_renew_fields)) {
                        const cJSON *leases = cJSON_GetObjectItemCaseSensitive(m.payload, "leases");
                        for (const cJSON *l = leases->child; l; l = l->next)
                                ka_bus_jobs_renewed(c->jobs, m.sender, ka_json_str(l, "job"),
                                                    (uint64_t)ka_json_int(l, "epoch", 0),
                                                    (uint64_t)ka_json_int(l, "seq", 0));
                        ka_bus_count_received(b, m.type);
                }
        } else {
                ka_bus_reject(b, KA_BUS_REJECT_UNEXPECTED, "%s from %s %s off the stream", m.type,
                              ka_bus_role_name(p->link.role), m.sender);
        }
        ka_bus_msg_clear(&m);
}

static void handle_frame(struct ka_bus_core *c, struct ka_bus_channel *chan, const void *data, size_t len) {
        struct ka_bus_frame f;
        if (ka_bus_frame_check(&c->base, data, len, &f) < 0)
                return;
        switch (f.kind) {
        case KA_BUS_FRAME_HELLO:
                handle_hello(c, chan, &f);
                break;
        case KA_BUS_FRAME_DATA:
                handle_data(c, chan, &f);
                break;
        default:
                ka_bus_reject(&c->base, KA_BUS_REJECT_UNEXPECTED, "a %s frame sent to the core",
                              f.kind == KA_BUS_FRAME_WELCOME ? "welcome" : "reset");
        }
}

/* ---- the loop ---- */

static void run_actions(struct ka_bus_core *c) {
        struct ka_bus_action a;
        while (ka_bus_jobs_next_action(c->jobs, &a)) {
                struct peer *p = ka_hashmap_get(&c->by_name, a.worker);
                struct ka_bus_core_event *ev;
                switch (a.kind) {
                case KA_BUS_ACT_DISPATCH: {
                        if (!p)
                                break; /* forgotten meanwhile: the lease runs out and it is offered again */
                        cJSON *j = cJSON_CreateObject();
                        ka_json_set_str(j, "job", a.job);
                        ka_json_set_num(j, "epoch", (double)a.epoch);
                        ka_json_set_num(j, "lease", (double)c->base.lease_ms);
                        ka_json_set(j, "work", cJSON_Duplicate(a.work, true));
                        ka_bus_link_queue(&c->base, &p->link, "job", j, NULL);
                        break;
                }
                case KA_BUS_ACT_REVOKE:
                        if (p)
                                revoke(c, p, a.job, a.epoch);
                        break;
                case KA_BUS_ACT_ADOPTED:
                case KA_BUS_ACT_EXPIRED:
                        ev = emit(c, a.kind == KA_BUS_ACT_ADOPTED ? KA_BUS_CORE_JOB_ADOPTED : KA_BUS_CORE_JOB_EXPIRED,
                                  a.worker);
                        ka_strlcpy(ev->job, a.job, sizeof(ev->job));
                        ev->epoch = a.epoch;
                        break;
                }
        }
}

static void timers(struct ka_bus_core *c) {
        struct ka_bus_base *b = &c->base;
        int64_t now = ka_bus_base_now(b);
        struct peer **forget = NULL;
        size_t n_forget = 0, it = 0;
        void *v;
        while (ka_hashmap_next(&c->by_name, &it, NULL, &v)) {
                struct peer *p = v;
                ka_bus_link_timers(b, &p->link);
                if (p->link.session && now - p->link.last_tx >= b->renew_ms)
                        ka_bus_link_send(b, &p->link, "heartbeat", cJSON_CreateObject());
                if (now - p->link.last_rx > b->lease_ms)
                        peer_down(c, p);
                if (now - p->link.last_rx > FORGET_AFTER_LEASES * b->lease_ms) {
                        forget = ka_reallocarray(forget, n_forget + 1, sizeof(*forget));
                        forget[n_forget++] = p;
                }
        }
        for (size_t i = 0; i < n_forget; i++)
                peer_forget(c, forget[i]);
        free(forget);
        ka_bus_jobs_tick(c->jobs);
        run_actions(c);
}

static void gauges(struct ka_bus_core *c) {
        struct ka_bus_job_counts n;
        ka_bus_jobs_counts(c->jobs, &n);
        ka_metric_set(c->m_jobs, "pending", (double)n.pending);
        ka_metric_set(c->m_jobs, "offered", (double)n.offered);
        ka_metric_set(c->m_jobs, "leased", (double)n.leased);
        ka_metric_set(c->m_peers, "worker", (double)ka_bus_core_peers(c, "worker"));
        ka_metric_set(c->m_peers, "frontend", (double)ka_bus_core_peers(c, "frontend"));
}

void ka_bus_core_process(struct ka_bus_core *c) {
        struct ka_bus_channel *chans[] = {&c->workers, &c->frontends};
        for (size_t i = 0; i < KA_ARRAY_SIZE(chans); i++) {
                for (int n = 0; n < RECV_BATCH; n++) {
                        void *data;
                        size_t len;
                        if (ka_bus_socket_recv(&chans[i]->sock, &data, &len) < 0)
                                break;
                        handle_frame(c, chans[i], data, len);
                        ka_bus_socket_msg_free(data);
                }
        }
        run_actions(c);
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&c->by_name, &it, NULL, &v))
                ka_bus_link_flush_ack(&c->base, &((struct peer *)v)->link);
        timers(c);
        gauges(c);
}

int ka_bus_core_timeout(struct ka_bus_core *c) {
        struct ka_bus_base *b = &c->base;
        int64_t now = ka_bus_base_now(b), due = ka_bus_jobs_deadline(c->jobs);
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&c->by_name, &it, NULL, &v)) {
                const struct peer *p = v;
                if (p->link.session) /* heartbeats go only on a session the peer took */
                        due = KA_MIN(due, p->link.last_tx + b->renew_ms);
                due = KA_MIN(due, p->link.last_rx + (p->up ? b->lease_ms : FORGET_AFTER_LEASES * b->lease_ms) + 1);
                due = KA_MIN(due, ka_bus_link_due(b, &p->link));
        }
        if (due == INT64_MAX)
                return -1;
        return due <= now ? 0 : (int)KA_MIN(due - now, (int64_t)INT32_MAX);
}

int ka_bus_core_fd(struct ka_bus_core *c) {
        return c->base.epfd;
}

int ka_bus_core_next(struct ka_bus_core *c, int timeout_ms, struct ka_bus_core_event *ret) {
        int64_t end = ka_bus_deadline(timeout_ms);
        for (bool processed = false;; processed = true) {
                if (ka_bus_fifo_pop(&c->events, ret))
                        return 0;
                if (ka_bus_base_cancelled(&c->base))
                        return -ECANCELED;
                if (processed) {
                        int r = ka_bus_base_pause(&c->base, end, ka_bus_core_timeout(c));
                        if (r < 0)
                                return r;
                }
                ka_bus_core_process(c);
        }
}

void ka_bus_core_cancel(struct ka_bus_core *c) {
        ka_bus_base_cancel(&c->base);
}

/* ---- the API ---- */

int ka_bus_core_new(const struct ka_bus_config *cfg, const struct ka_bus_clock *clock, struct ka_bus_core **ret,
                    struct ka_error *err) {
        struct ka_bus_core *c = ka_new0(struct ka_bus_core, 1);
        c->events = (struct ka_bus_fifo)KA_BUS_FIFO_INIT(struct ka_bus_core_event);
        c->workers.sock = c->frontends.sock = (struct ka_bus_socket)KA_BUS_SOCKET_INIT;
        int r = ka_bus_base_init(&c->base, cfg, KA_BUS_CORE_NAME, clock, err);
        if (r < 0) {
                free(c);
                return r;
        }
        if ((r = ka_bus_channel_open(&c->base, &c->workers, cfg->workers, true, KA_BUS_ROLE_WORKER, err)) < 0 ||
            (r = ka_bus_channel_open(&c->base, &c->frontends, cfg->frontends, true, KA_BUS_ROLE_FRONTEND, err)) < 0) {
                ka_bus_core_free(c);
                return r;
        }
        /* Workers on inproc:// live in this very process and start with
         * it: none can hold a lease from before, so there is nobody to wait
         * for (kubeagentd --role all starts provisioning at once). */
        bool local = ka_startswith(cfg->workers, "inproc://");
        struct ka_bus_jobs_options o = {
                .lease_ms = c->base.lease_ms,
                .grace_ms = local ? 0 : c->base.renew_ms + c->base.resend_ms + c->base.reconnect_max_ms,
        };
        c->settled_at = ka_bus_base_now(&c->base) + o.grace_ms;
        c->jobs = ka_bus_jobs_new(&o, c->base.clock);
        ka_metric_register(NULL, "kubeagent_bus_jobs", "Jobs in the core's table, by state", KUBEAGENT_METRIC_GAUGE,
                           "state", &c->m_jobs, NULL);
        ka_metric_register(NULL, "kubeagent_bus_peers", "Peers up, by role", KUBEAGENT_METRIC_GAUGE, "role",
                           &c->m_peers, NULL);
        *ret = c;
        return 0;
}

void ka_bus_core_free(struct ka_bus_core *c) {
        if (!c)
                return;
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&c->by_name, &it, NULL, &v))
                peer_free(v);
        ka_hashmap_free(&c->by_name);
        ka_hashmap_free(&c->by_session);
        ka_bus_jobs_free(c->jobs);
        ka_bus_fifo_free(&c->events, event_clear);
        ka_bus_channel_close(&c->workers);
        ka_bus_channel_close(&c->frontends);
        ka_bus_base_fini(&c->base);
        free(c);
}

int ka_bus_core_submit(struct ka_bus_core *c, const char *job, const char *target, const cJSON *work,
                       struct ka_error *err) {
        if (!ka_bus_valid_id(job))
                return ka_error_set(err, -EINVAL, "\"%s\" is not a valid job id", job ? job : "");
        if (work && !cJSON_IsObject(work))
                return ka_error_set(err, -EINVAL, "the work of job %s must be an object", job);
        int r = ka_bus_jobs_submit(c->jobs, job, target, work);
        if (r == -EEXIST)
                return ka_error_set(err, r, "job %s is already in progress", job);
        run_actions(c);
        return r;
}

int ka_bus_core_cancel_job(struct ka_bus_core *c, const char *job) {
        int r = ka_bus_jobs_cancel(c->jobs, job);
        run_actions(c);
        return r;
}

void ka_bus_core_job_counts(const struct ka_bus_core *c, struct ka_bus_job_counts *ret) {
        ka_bus_jobs_counts(c->jobs, ret);
}

int ka_bus_core_job_get(const struct ka_bus_core *c, const char *job, enum ka_bus_job_state *ret_state,
                        const char **ret_worker, uint64_t *ret_epoch) {
        return ka_bus_jobs_get(c->jobs, job, ret_state, ret_worker, ret_epoch);
}

int ka_bus_core_send(struct ka_bus_core *c, const char *peer, const char *type, const cJSON *payload,
                     struct ka_error *err) {
        if (!ka_bus_valid_type(type) || ka_bus_reserved_type(type))
                return ka_error_set(err, -EINVAL, "\"%s\" cannot be the type of an application message",
                                    type ? type : "");
        if (payload && !cJSON_IsObject(payload))
                return ka_error_set(err, -EINVAL, "the payload of a %s message must be an object", type);
        struct peer *p = peer ? ka_hashmap_get(&c->by_name, peer) : NULL;
        if (!p)
                return ka_error_set(err, -ENOENT, "no peer named \"%s\" on the bus", peer ? peer : "");
        ka_bus_link_queue(&c->base, &p->link, type, payload ? cJSON_Duplicate(payload, true) : cJSON_CreateObject(),
                          NULL);
        return 0;
}

void ka_bus_core_stop(struct ka_bus_core *c, const char *peer, const char *reason) {
        size_t it = 0;
        void *v;
        while (ka_hashmap_next(&c->by_name, &it, NULL, &v)) {
                struct peer *p = v;
                if (peer && strcmp(peer, p->link.peer) != 0)
                        continue;
                cJSON *s = cJSON_CreateObject();
                if (reason)
                        ka_json_set_str(s, "reason", reason);
                ka_bus_link_queue(&c->base, &p->link, "stop", s, NULL);
        }
}

size_t ka_bus_core_peers(const struct ka_bus_core *c, const char *role) {
        size_t n = 0, it = 0;
        void *v;
        while (ka_hashmap_next(&c->by_name, &it, NULL, &v)) {
                const struct peer *p = v;
                n += p->up && (!role || !strcmp(role, ka_bus_role_name(p->link.role)));
        }
        return n;
}

bool ka_bus_core_settled(const struct ka_bus_core *c) {
        return ka_bus_base_now(&c->base) >= c->settled_at;
}

const struct ka_bus_stats *ka_bus_core_stats(const struct ka_bus_core *c) {
        return &c->base.stats;
}

const char *ka_bus_core_instance(const struct ka_bus_core *c) {
        return c->base.instance;
}
