#include "link.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macro.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

/* ---- schemas ---- */

#define END                                                                                                            \
        { NULL, 0, 0, 0, NULL }
#define REQ KA_BUS_F_REQUIRED

const struct ka_bus_field ka_bus_hello_fields[] = {
        {"proto", KA_BUS_F_UINT, REQ, 0, NULL},
        {"role", KA_BUS_F_STRING, REQ, 16, NULL},
        {"instance", KA_BUS_F_NAME, REQ, 0, NULL},
        {"nonce", KA_BUS_F_STRING, REQ, 64, NULL},
        {"serves", KA_BUS_F_STRINGS, 0, 256, NULL},
        {"capacity", KA_BUS_F_UINT, 0, 0, NULL},
        END,
};

const struct ka_bus_field ka_bus_welcome_fields[] = {
        {"proto", KA_BUS_F_UINT, REQ, 0, NULL},
        {"instance", KA_BUS_F_NAME, REQ, 0, NULL},
        {"nonce", KA_BUS_F_STRING, REQ, 64, NULL},
        {"peerNonce", KA_BUS_F_STRING, REQ, 64, NULL},
        {"leaseDuration", KA_BUS_F_UINT, REQ, 0, NULL},
        {"renewInterval", KA_BUS_F_UINT, REQ, 0, NULL},
        {"resendInterval", KA_BUS_F_UINT, REQ, 0, NULL},
        {"stream", KA_BUS_F_NAME, REQ, 0, NULL},
        END,
};

const struct ka_bus_field ka_bus_empty_fields[] = {END};

const struct ka_bus_field ka_bus_ack_fields[] = {
        {"seq", KA_BUS_F_UINT, REQ, 0, NULL},
        END,
};

static const struct ka_bus_field lease_fields[] = {
        {"job", KA_BUS_F_ID, REQ, 0, NULL},
        {"epoch", KA_BUS_F_UINT, REQ, 0, NULL},
        {"seq", KA_BUS_F_UINT, REQ, 0, NULL},
        END,
};

const struct ka_bus_field ka_bus_renew_fields[] = {
        {"leases", KA_BUS_F_ARRAY, REQ, 10000, lease_fields},
        END,
};

const struct ka_bus_field ka_bus_job_fields[] = {
        {"job", KA_BUS_F_ID, REQ, 0, NULL},
        {"epoch", KA_BUS_F_UINT, REQ, 0, NULL},
        {"lease", KA_BUS_F_UINT, REQ, 0, NULL},
        {"work", KA_BUS_F_OBJECT, REQ, 0, NULL},
        END,
};

const struct ka_bus_field ka_bus_jobref_fields[] = {
        {"job", KA_BUS_F_ID, REQ, 0, NULL},
        {"epoch", KA_BUS_F_UINT, REQ, 0, NULL},
        END,
};

const struct ka_bus_field ka_bus_reject_fields[] = {
        {"job", KA_BUS_F_ID, REQ, 0, NULL},
        {"epoch", KA_BUS_F_UINT, REQ, 0, NULL},
        {"reason", KA_BUS_F_STRING, 0, 512, NULL},
        END,
};

const struct ka_bus_field ka_bus_event_fields[] = {
        {"job", KA_BUS_F_ID, REQ, 0, NULL},      {"epoch", KA_BUS_F_UINT, REQ, 0, NULL},
        {"seq", KA_BUS_F_UINT, REQ, 0, NULL},    {"final", KA_BUS_F_BOOL, 0, 0, NULL},
        {"data", KA_BUS_F_OBJECT, REQ, 0, NULL}, END,
};

const struct ka_bus_field ka_bus_stop_fields[] = {
        {"reason", KA_BUS_F_STRING, 0, 512, NULL},
        END,
};

bool ka_bus_reserved_type(const char *type) {
        static const char *const reserved[] = {"hello", "welcome", "reset",  "ack",   "heartbeat", "renew",
                                               "job",   "accept",  "reject", "event", "revoke",    "stop"};
        for (size_t i = 0; i < KA_ARRAY_SIZE(reserved); i++)
                if (strcmp(type, reserved[i]) == 0)
                        return true;
        return false;
}

const char *ka_bus_role_name(enum ka_bus_role r) {
        return r == KA_BUS_ROLE_WORKER ? "worker" : r == KA_BUS_ROLE_FRONTEND ? "frontend" : "?";
}

/* ---- the endpoint ---- */

static void random_hex(char *out, size_t digits) {
        unsigned char raw[32] = {0};
        ka_bus_random(raw, digits / 2);
        for (size_t i = 0; i < digits / 2; i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static int64_t ms_or(int64_t v, int64_t fallback) {
        return v > 0 ? v : fallback;
}

int ka_bus_base_init(struct ka_bus_base *b, const struct ka_bus_config *cfg, const char *name,
                     const struct ka_bus_clock *clock, struct ka_error *err) {
        *b = (struct ka_bus_base){.epfd = -1, .cancelfd = -1};
        if (!ka_bus_valid_name(name))
                return ka_error_set(err, -EINVAL, "\"%s\" is not a valid bus name", name ? name : "");
        ka_strlcpy(b->name, name, sizeof(b->name));
        b->clock = clock ? clock : ka_bus_clock_real();
        b->lease_ms = ms_or(cfg->lease_duration, 30000);
        b->renew_ms = ms_or(cfg->renew_interval, 10000);
        b->resend_ms = ms_or(cfg->resend_interval, 1000);
        b->skew_ms = ms_or(cfg->max_clock_skew, 60000);
        b->reconnect_max_ms = ms_or(cfg->reconnect_interval_max, 5000);
        b->max_message = (size_t)ms_or(cfg->max_message_size, 1 << 20);
        b->out = (struct ka_buf)KA_BUF_INIT_SECRET(b->max_message + KA_BUS_FRAME_HDR + KA_BUS_TAG_LEN);
        b->plain = (struct ka_buf)KA_BUF_INIT_SECRET(b->max_message);
        random_hex(b->instance, KA_BUS_INSTANCE_LEN);
        int r;
        if (!ka_isempty(cfg->key_file)) {
                if ((r = ka_bus_key_load(cfg->key_file, &b->psk, err)) < 0)
                        return r;
                if ((r = ka_bus_handshake_key(&b->psk, &b->hs)) < 0) {
                        ka_bus_key_wipe(&b->psk);
                        return ka_error_set(err, r, "cannot derive the bus handshake key");
                }
                b->sealed = true;
        } else if (ka_bus_config_needs_key(cfg)) {
                return ka_error_set(err, -EINVAL, "a tcp:// bus needs keyFile: messages on it are sealed");
        }
        b->epfd = epoll_create1(EPOLL_CLOEXEC);
        b->cancelfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (b->epfd < 0 || b->cancelfd < 0) {
                int e = errno;
                ka_bus_base_fini(b);
                return ka_error_set(err, -e, "bus: %s", strerror(e));
        }
        if ((r = ka_bus_base_watch(b, b->cancelfd, err)) < 0) {
                ka_bus_base_fini(b);
                return r;
        }
        ka_metric_register(NULL, "kubeagent_bus_messages_sent_total", "Bus frames sent, by message type",
                           KUBEAGENT_METRIC_COUNTER, "type", &b->m_sent, NULL);
        ka_metric_register(NULL, "kubeagent_bus_messages_received_total", "Bus messages accepted, by message type",
                           KUBEAGENT_METRIC_COUNTER, "type", &b->m_received, NULL);
        ka_metric_register(NULL, "kubeagent_bus_rejected_total",
                           "Bus messages refused: oversized, malformed, invalid, unsealed, unkeyed, forged, "
                           "replayed, stale, unknown_session, spoofed, unexpected",
                           KUBEAGENT_METRIC_COUNTER, "reason", &b->m_rejected, NULL);
        ka_metric_register(NULL, "kubeagent_bus_resent_total", "Bus messages sent again for want of an ack",
                           KUBEAGENT_METRIC_COUNTER, NULL, &b->m_resent, NULL);
        return 0;
}

void ka_bus_base_fini(struct ka_bus_base *b) {
        if (b->epfd >= 0)
                close(b->epfd);
        if (b->cancelfd >= 0)
                close(b->cancelfd);
        b->epfd = b->cancelfd = -1;
        ka_bus_key_wipe(&b->psk);
        ka_bus_key_wipe(&b->hs);
        ka_buf_free_secret(&b->out);
        ka_buf_free_secret(&b->plain);
}

int ka_bus_base_watch(struct ka_bus_base *b, int fd, struct ka_error *err) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return ka_error_set(err, -errno, "bus: cannot watch a socket: %s", strerror(errno));
        return 0;
}

bool ka_bus_base_cancelled(struct ka_bus_base *b) {
        return atomic_load(&b->cancelled);
}

void ka_bus_base_cancel(struct ka_bus_base *b) {
        atomic_store(&b->cancelled, true);
        uint64_t one = 1;
        ssize_t r = write(b->cancelfd, &one, sizeof(one));
        (void)r; /* a full counter still wakes the waiter */
}

int ka_bus_base_wait(struct ka_bus_base *b, int timeout_ms) {
        if (ka_bus_base_cancelled(b))
                return -ECANCELED;
        struct epoll_event ev[8];
        int n = epoll_wait(b->epfd, ev, KA_ARRAY_SIZE(ev), timeout_ms);
        if (n < 0 && errno != EINTR)
                return -errno;
        return ka_bus_base_cancelled(b) ? -ECANCELED : 0;
}

int64_t ka_bus_deadline(int timeout_ms) {
        return timeout_ms < 0 ? INT64_MAX : ka_time_now_ms() + timeout_ms;
}

int ka_bus_base_pause(struct ka_bus_base *b, int64_t end, int timers_ms) {
        int wait = timers_ms;
        if (end != INT64_MAX) {
                int64_t left = end - ka_time_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                if (wait < 0 || wait > left)
                        wait = (int)KA_MIN(left, (int64_t)INT32_MAX);
        }
        return ka_bus_base_wait(b, wait);
}

int64_t ka_bus_base_now(const struct ka_bus_base *b) {
        return ka_bus_now(b->clock);
}

int ka_bus_channel_open(struct ka_bus_base *b, struct ka_bus_channel *c, const char *address, bool bind,
                        enum ka_bus_role role, struct ka_error *err) {
        *c = (struct ka_bus_channel){.sock = KA_BUS_SOCKET_INIT, .role = role};
        int r = ka_bus_socket_open(&c->sock, address, bind, b->max_message, b->reconnect_max_ms, err);
        if (r < 0)
                return r;
        if ((r = ka_bus_base_watch(b, c->sock.rcvfd, err)) < 0) {
                ka_bus_socket_close(&c->sock);
                return r;
        }
        return 0;
}

void ka_bus_channel_close(struct ka_bus_channel *c) {
        ka_bus_socket_close(&c->sock);
}

/* ---- counting ---- */

void ka_bus_reject(struct ka_bus_base *b, enum ka_bus_reject reason, const char *fmt, ...) {
        b->stats.rejected[reason]++;
        ka_metric_add(b->m_rejected, ka_bus_reject_name(reason), 1);
        if (!ka_log_enabled(KA_LOG_DEBUG))
                return;
        char msg[KA_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ka_log_debug("bus", "%s: refused a message (%s): %s", b->name, ka_bus_reject_name(reason), msg);
}

/* Metric labels: the bus's own types by name, everything else as "message". */
static const char *type_label(const char *type) {
        return ka_bus_reserved_type(type) ? type : "message";
}

void ka_bus_count_received(struct ka_bus_base *b, const char *type) {
        b->stats.received++;
        ka_metric_add(b->m_received, type_label(type), 1);
}

static void count_sent(struct ka_bus_base *b, const char *type, bool resend) {
        b->stats.sent++;
        ka_metric_add(b->m_sent, type_label(type), 1);
        if (resend) {
                b->stats.resent++;
                ka_metric_add(b->m_resent, NULL, 1);
        }
}

/* ---- frames in ---- */

int ka_bus_frame_check(struct ka_bus_base *b, const void *data, size_t len, struct ka_bus_frame *ret) {
        struct ka_error err = {0};
        if (len > b->max_message + KA_BUS_FRAME_HDR + KA_BUS_TAG_LEN) {
                ka_bus_reject(b, KA_BUS_REJECT_OVERSIZED, "a frame of %zu bytes (the limit is %zu)", len,
                              b->max_message);
                return -EMSGSIZE;
        }
        if (ka_bus_frame_parse(data, len, ret, &err) < 0) {
                ka_bus_reject(b, KA_BUS_REJECT_MALFORMED, "%s", err.msg);
                return -EBADMSG;
        }
        if (ret->sealed != b->sealed) {
                ka_bus_reject(b, b->sealed ? KA_BUS_REJECT_UNSEALED : KA_BUS_REJECT_UNKEYED,
                              b->sealed ? "a frame in clear on a sealed bus" : "a sealed frame, but no keyFile here");
                return -EPERM;
        }
        if (b->sealed) {
                int64_t skew = ret->time - ka_bus_wall(b->clock);
                if (skew > b->skew_ms || skew < -b->skew_ms) {
                        ka_bus_reject(b, KA_BUS_REJECT_STALE, "sent %lldms from now (maxClockSkew is %lldms)",
                                      (long long)skew, (long long)b->skew_ms);
                        return -ETIME;
                }
        }
        return 0;
}

static int decode(struct ka_bus_base *b, const char *text, size_t len, struct ka_bus_msg *ret) {
        struct ka_error err = {0};
        enum ka_bus_reject reason;
        if (ka_bus_msg_decode(text, len, b->max_message, ret, &reason, &err) < 0) {
                ka_bus_reject(b, reason, "%s", err.msg);
                return -EBADMSG;
        }
        return 0;
}

static void wipe_plain(struct ka_bus_base *b) {
        if (b->plain.data)
                ka_wipe(b->plain.data, b->plain.len);
        ka_buf_reset(&b->plain);
}

static const char *handshake_type(enum ka_bus_frame_kind k) {
        return k == KA_BUS_FRAME_HELLO ? "hello" : k == KA_BUS_FRAME_WELCOME ? "welcome" : "reset";
}

int ka_bus_open_handshake(struct ka_bus_base *b, const struct ka_bus_frame *f, struct ka_bus_msg *ret) {
        int r;
        if (f->sealed) {
                if (ka_bus_frame_open(f, &b->hs, &b->plain) < 0) {
                        ka_bus_reject(b, KA_BUS_REJECT_FORGED, "a %s that does not authenticate",
                                      handshake_type(f->kind));
                        return -EBADMSG;
                }
                r = decode(b, b->plain.data, b->plain.len, ret);
                wipe_plain(b);
        } else {
                r = decode(b, (const char *)f->body, f->body_len, ret);
        }
        if (r < 0)
                return r;
        if (strcmp(ret->type, handshake_type(f->kind)) != 0 || ret->seq) {
                ka_bus_reject(b, KA_BUS_REJECT_INVALID, "a %s frame carrying a \"%s\" message", handshake_type(f->kind),
                              ret->type);
                ka_bus_msg_clear(ret);
                return -EBADMSG;
        }
        return 0;
}

/* ---- frames out ---- */

static void msg_init(struct ka_bus_base *b, struct ka_bus_msg *m, const char *type, const char *to, uint64_t seq,
                     cJSON *payload) {
        *m = (struct ka_bus_msg){.time = ka_bus_wall(b->clock), .seq = seq, .payload = payload};
        ka_strlcpy(m->type, type, sizeof(m->type));
        ka_strlcpy(m->sender, b->name, sizeof(m->sender));
        ka_strlcpy(m->to, to, sizeof(m->to));
        snprintf(m->id, sizeof(m->id), "%s.%llx", b->instance, (unsigned long long)++b->next_id);
}

/* Encode m into b->plain; false (logged) when it cannot be. */
static bool encode(struct ka_bus_base *b, const struct ka_bus_msg *m) {
        struct ka_error err = {0};
        ka_buf_reset(&b->plain);
        if (ka_bus_msg_encode(m, &b->plain, &err) < 0) {
                ka_log_debug("bus", "%s: cannot send: %s", b->name, err.msg);
                wipe_plain(b);
                return false;
        }
        return true;
}

static void transmit(struct ka_bus_base *b, struct ka_bus_channel *c, const char *type, bool resend) {
        int r = ka_bus_socket_send(&c->sock, b->out.data, b->out.len);
        if (r < 0)
                ka_log_debug("bus", "%s: %s: send failed: %s", b->name, c->sock.address, strerror(-r));
        count_sent(b, type, resend);
        ka_wipe(b->out.data, b->out.len);
        ka_buf_reset(&b->out);
}

void ka_bus_send_handshake(struct ka_bus_base *b, struct ka_bus_channel *c, enum ka_bus_frame_kind kind,
                           uint64_t session, const char *to, cJSON *payload) {
        struct ka_bus_msg m;
        msg_init(b, &m, handshake_type(kind), to, 0, payload);
        bool good = encode(b, &m);
        ka_bus_msg_clear(&m);
        if (!good)
                return;
        unsigned char iv[KA_BUS_IV_LEN] = {0};
        if (b->sealed && ka_bus_random(iv, sizeof(iv)) < 0) {
                wipe_plain(b);
                return;
        }
        ka_buf_reset(&b->out);
        int r = ka_bus_frame_write(&b->out, kind, session, ka_bus_wall(b->clock), iv, b->sealed ? &b->hs : NULL,
                                   b->plain.data, b->plain.len);
        wipe_plain(b);
        if (r == 0)
                transmit(b, c, m.type, false);
}

/* ---- links ---- */

void ka_bus_link_init(struct ka_bus_link *l, struct ka_bus_channel *c, const char *peer) {
        *l = (struct ka_bus_link){.chan = c, .rx_next = 1};
        ka_strlcpy(l->peer, peer, sizeof(l->peer));
        random_hex(l->stream, KA_BUS_INSTANCE_LEN);
}

static void pending_clear(struct ka_bus_pending *p) {
        cJSON_Delete(p->payload);
        p->payload = NULL;
}

static void unwire(struct ka_bus_link *l) {
        for (size_t i = 0; i < l->sent; i++)
                l->q[i].wire = 0;
        l->chan->inflight -= KA_MIN(l->chan->inflight, l->inflight);
        l->inflight = 0;
        l->sent = 0;
}

void ka_bus_link_reset(struct ka_bus_link *l) {
        unwire(l);
        for (size_t i = 0; i < l->qn; i++)
                pending_clear(&l->q[i]);
        l->qn = 0;
        l->tx_seq = 0;
        l->rx_next = 1;
        l->ack_due = false;
        l->backoff = 0;
        random_hex(l->stream, KA_BUS_INSTANCE_LEN);
}

void ka_bus_link_renumber(struct ka_bus_link *l) {
        unwire(l);
        for (size_t i = 0; i < l->qn; i++)
                l->q[i].seq = i + 1;
        l->tx_seq = l->qn;
        l->rx_next = 1;
        l->ack_due = false;
        l->backoff = 0;
}

void ka_bus_link_fini(struct ka_bus_link *l) {
        ka_bus_link_reset(l);
        free(l->q);
        l->q = NULL;
        l->qcap = 0;
        ka_bus_keys_wipe(&l->keys);
}

int ka_bus_link_open(struct ka_bus_base *b, struct ka_bus_link *l, const struct ka_bus_frame *f,
                     struct ka_bus_msg *ret) {
        int r;
        if (f->sealed) {
                r = ka_bus_open_data(&l->keys, f, &b->plain);
                if (r == -EALREADY) {
                        ka_bus_reject(b, KA_BUS_REJECT_REPLAYED, "a frame from %s seen before", l->peer);
                        return r;
                }
                if (r < 0) {
                        ka_bus_reject(b, KA_BUS_REJECT_FORGED, "a frame for %s's session that does not authenticate",
                                      l->peer);
                        return r;
                }
                r = decode(b, b->plain.data, b->plain.len, ret);
                wipe_plain(b);
        } else {
                r = decode(b, (const char *)f->body, f->body_len, ret);
        }
        if (r < 0)
                return r;
        if (strcmp(ret->sender, l->peer) != 0 || strcmp(ret->to, b->name) != 0) {
                ka_bus_reject(b, KA_BUS_REJECT_SPOOFED, "a message from \"%s\" to \"%s\" in the session of %s",
                              ret->sender, ret->to, l->peer);
                ka_bus_msg_clear(ret);
                return -EPERM;
        }
        l->last_rx = ka_bus_base_now(b);
        l->down = false;
        return 0;
}

/* Frame a message of the link into b->out. */
static int frame(struct ka_bus_base *b, struct ka_bus_link *l, const struct ka_bus_msg *m) {
        if (!encode(b, m))
                return -EINVAL;
        ka_buf_reset(&b->out);
        int r;
        if (b->sealed) {
                r = ka_bus_seal_data(&l->keys, &b->out, l->session, m->time, b->plain.data, b->plain.len);
        } else {
                unsigned char iv[KA_BUS_IV_LEN] = {0};
                r = ka_bus_frame_write(&b->out, KA_BUS_FRAME_DATA, l->session, m->time, iv, NULL, b->plain.data,
                                       b->plain.len);
        }
        wipe_plain(b);
        if (r == -EKEYEXPIRED) {
                /* the agent notices and says hello again; until then nothing goes out */
                ka_log_debug("bus", "%s: session with %s is due for new keys", b->name, l->peer);
                l->session = 0;
        }
        return r;
}

void ka_bus_link_send(struct ka_bus_base *b, struct ka_bus_link *l, const char *type, cJSON *payload) {
        if (!l->session) {
                cJSON_Delete(payload);
                return;
        }
        struct ka_bus_msg m;
        msg_init(b, &m, type, l->peer, 0, payload);
        int r = frame(b, l, &m);
        ka_bus_msg_clear(&m);
        if (r < 0)
                return;
        transmit(b, l->chan, type, false);
        l->last_tx = ka_bus_base_now(b);
}

/* Put q[i] on the wire (again). */
static bool transmit_pending(struct ka_bus_base *b, struct ka_bus_link *l, size_t i, bool check_window) {
        struct ka_bus_pending *p = &l->q[i];
        struct ka_bus_msg m = {.time = ka_bus_wall(b->clock), .seq = p->seq, .payload = p->payload};
        ka_strlcpy(m.type, p->type, sizeof(m.type));
        ka_strlcpy(m.id, p->id, sizeof(m.id));
        ka_strlcpy(m.sender, b->name, sizeof(m.sender));
        ka_strlcpy(m.to, l->peer, sizeof(m.to));
        if (frame(b, l, &m) < 0)
                return false;
        size_t len = b->out.len;
        if (check_window && i > 0 &&
            (l->inflight + len > KA_BUS_WINDOW_BYTES || l->chan->inflight + len > KA_BUS_CHANNEL_BYTES)) {
                /* no room: it goes out when acks make some (its counter is burnt, which is fine) */
                ka_wipe(b->out.data, b->out.len);
                ka_buf_reset(&b->out);
                return false;
        }
        bool resend = p->wire > 0;
        if (!resend) {
                l->inflight += len;
                l->chan->inflight += len;
                p->wire = len;
        }
        transmit(b, l->chan, p->type, resend);
        l->last_tx = ka_bus_base_now(b);
        return true;
}

void ka_bus_link_pump(struct ka_bus_base *b, struct ka_bus_link *l) {
        if (!l->session)
                return;
        while (l->sent < l->qn && l->sent < KA_BUS_WINDOW_MESSAGES) {
                if (!transmit_pending(b, l, l->sent, true))
                        return;
                if (l->sent == 0) {
                        l->last_progress = ka_bus_base_now(b);
                        l->backoff = 0;
                }
                l->sent++;
        }
}

void ka_bus_link_rewind(struct ka_bus_base *b, struct ka_bus_link *l) {
        unwire(l);
        ka_bus_link_pump(b, l);
}

void ka_bus_link_queue(struct ka_bus_base *b, struct ka_bus_link *l, const char *type, cJSON *payload,
                       const struct ka_bus_note *note) {
        if (l->qn == l->qcap) {
                l->qcap = l->qcap ? l->qcap * 2 : 16;
                l->q = ka_reallocarray(l->q, l->qcap, sizeof(*l->q));
        }
        struct ka_bus_pending *p = &l->q[l->qn++];
        *p = (struct ka_bus_pending){.seq = ++l->tx_seq, .payload = payload};
        ka_strlcpy(p->type, type, sizeof(p->type));
        snprintf(p->id, sizeof(p->id), "%s.%llx", b->instance, (unsigned long long)++b->next_id);
        if (note)
                p->note = *note;
        ka_bus_link_pump(b, l);
}

enum ka_bus_rx ka_bus_link_receive(struct ka_bus_base *b, struct ka_bus_link *l, uint64_t seq) {
        l->ack_due = true;
        if (seq == l->rx_next) {
                l->rx_next++;
                return KA_BUS_RX_NEW;
        }
        if (seq < l->rx_next) {
                b->stats.duplicates++;
                return KA_BUS_RX_DUPLICATE;
        }
        return KA_BUS_RX_GAP;
}

void ka_bus_link_acked(struct ka_bus_base *b, struct ka_bus_link *l, uint64_t seq,
                       void (*acked)(void *data, const struct ka_bus_note *note), void *data) {
        size_t n = 0;
        while (n < l->sent && l->q[n].seq <= seq)
                n++;
        if (n == 0) {
                /* The peer got something after a loss and is still missing
                 * the first one on the wire: resend the window once now
                 * rather than after resendInterval. */
                if (l->sent && !l->fast_resent && seq + 1 == l->q[0].seq) {
                        l->fast_resent = true;
                        for (size_t i = 0; i < l->sent; i++)
                                transmit_pending(b, l, i, false);
                }
                return;
        }
        for (size_t i = 0; i < n; i++) {
                l->inflight -= KA_MIN(l->inflight, l->q[i].wire);
                l->chan->inflight -= KA_MIN(l->chan->inflight, l->q[i].wire);
                if (acked && l->q[i].note.job[0])
                        acked(data, &l->q[i].note);
                pending_clear(&l->q[i]);
        }
        memmove(l->q, l->q + n, (l->qn - n) * sizeof(*l->q));
        l->qn -= n;
        l->sent -= n;
        l->last_progress = ka_bus_base_now(b);
        l->backoff = 0;
        l->fast_resent = false;
        ka_bus_link_pump(b, l);
}

void ka_bus_link_flush_ack(struct ka_bus_base *b, struct ka_bus_link *l) {
        if (!l->ack_due)
                return;
        l->ack_due = false;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "seq", (double)(l->rx_next - 1));
        ka_bus_link_send(b, l, "ack", p);
}

/* resendInterval, doubling while nothing is acknowledged, up to renewInterval */
static int64_t resend_delay(const struct ka_bus_base *b, const struct ka_bus_link *l) {
        return KA_MIN(b->resend_ms << KA_MIN(l->backoff, 16u), KA_MAX(b->renew_ms, b->resend_ms));
}

int64_t ka_bus_link_due(const struct ka_bus_base *b, const struct ka_bus_link *l) {
        if (!l->session || !l->sent)
                return INT64_MAX;
        return l->last_progress + resend_delay(b, l);
}

void ka_bus_link_timers(struct ka_bus_base *b, struct ka_bus_link *l) {
        int64_t now = ka_bus_base_now(b);
        if (now < ka_bus_link_due(b, l))
                return;
        for (size_t i = 0; i < l->sent; i++)
                transmit_pending(b, l, i, false);
        l->last_progress = now;
        l->backoff++;
        l->fast_resent = false;
}
