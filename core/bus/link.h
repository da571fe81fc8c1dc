/* core/bus/link.h — internal to core/bus: what the core endpoint (core.h)
 * and the agent endpoint (agent.h) share.
 *
 * struct ka_bus_base is one endpoint: its name and instance, settings,
 * clock, keys, counters, and the epoll set its owner thread waits on.
 * struct ka_bus_link is its relationship with one peer (the agent has one,
 * with the core): the session — id, keys, replay window — and the reliable
 * stream — sequence numbers, cumulative acknowledgements, resends with
 * backoff, and a window that keeps what is unacknowledged small enough for
 * nanomsg's buffers (a full NN_BUS pipe drops messages).
 *
 * Everything here runs on the endpoint's owner thread, except
 * ka_bus_base_cancel(). */
#ifndef KA_BUS_LINK_H
#define KA_BUS_LINK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "seal.h"
#include "socket.h"
#include "util/buf.h"
#include "util/metrics.h"

#define KA_BUS_INSTANCE_LEN 16           /* hex digits */
#define KA_BUS_WINDOW_MESSAGES 64        /* unacknowledged messages on the wire, per link */
#define KA_BUS_WINDOW_BYTES (256 << 10)  /* and their bytes */
#define KA_BUS_CHANNEL_BYTES (768 << 10) /* all links of a channel together (every peer sees every frame) */
#define KA_BUS_CORE_NAME "core"
#define KA_BUS_ALL "all" /* the recipient of a reset: whoever holds that session */
#define KA_BUS_PROTO 1

const char *ka_bus_role_name(enum ka_bus_role r);

/* Payload schemas of the messages the bus itself speaks (PROTOCOL.md). */
extern const struct ka_bus_field ka_bus_hello_fields[], ka_bus_welcome_fields[], ka_bus_empty_fields[],
        ka_bus_ack_fields[], ka_bus_renew_fields[], ka_bus_job_fields[], ka_bus_jobref_fields[], ka_bus_reject_fields[],
        ka_bus_event_fields[], ka_bus_stop_fields[];
/* Whether type is one of them (applications may not send those). */
bool ka_bus_reserved_type(const char *type);

/* A channel: one socket and what its links have on the wire. */
struct ka_bus_channel {
        struct ka_bus_socket sock;
        enum ka_bus_role role;
        size_t inflight;
};

struct ka_bus_base {
        char name[KA_BUS_NAME_MAX + 1];
        char instance[KA_BUS_INSTANCE_LEN + 1];
        uint64_t next_id;
        int64_t lease_ms, renew_ms, resend_ms, skew_ms, reconnect_max_ms;
        size_t max_message;
        const struct ka_bus_clock *clock;
        bool sealed;
        struct ka_bus_key psk, hs;
        int epfd, cancelfd;
        _Atomic bool cancelled;
        struct ka_bus_stats stats;
        struct ka_buf out, plain; /* scratch, wiped after each use */
        struct ka_metric *m_sent, *m_received, *m_rejected, *m_resent;
};

/* What a queued reliable message is about, for the agent's bookkeeping. */
struct ka_bus_note {
        char job[KA_BUS_ID_MAX + 1]; /* "" unless it is a job event */
        uint64_t seq;                /* the event's seq within (job, epoch) */
        uint64_t epoch;
        bool final;
};

struct ka_bus_pending {
        uint64_t seq;
        char type[KA_BUS_TYPE_MAX + 1];
        char id[KA_BUS_MSGID_MAX + 1];
        cJSON *payload;
        size_t wire; /* bytes of its last transmission (0: not on the wire) */
        struct ka_bus_note note;
};

struct ka_bus_link {
        char peer[KA_BUS_NAME_MAX + 1];
        char peer_instance[KA_BUS_INSTANCE_LEN + 1];
        enum ka_bus_role role;
        struct ka_bus_channel *chan;
        uint64_t session;                     /* 0: no session (yet) */
        char stream[KA_BUS_INSTANCE_LEN + 1]; /* names this incarnation of the stream */
        struct ka_bus_keys keys;
        /* the stream */
        uint64_t tx_seq;          /* last seq given out */
        uint64_t rx_next;         /* next seq expected */
        struct ka_bus_pending *q; /* unacknowledged, in seq order */
        size_t qn, qcap;
        size_t sent;           /* q[0..sent) are on the wire */
        size_t inflight;       /* their bytes */
        int64_t last_progress; /* last ack that moved, or first transmission */
        unsigned backoff;      /* resends since */
        bool fast_resent;
        bool ack_due;
        int64_t last_rx, last_tx;
        bool down; /* silent for a lease */
};

/* ---- the endpoint ---- */

/* Settings from cfg, a fresh instance id, the key (when cfg has keyFile),
 * the epoll set and the cancel eventfd. */
int ka_bus_base_init(struct ka_bus_base *b, const struct ka_bus_config *cfg, const char *name,
                     const struct ka_bus_clock *clock, struct ka_error *err);
void ka_bus_base_fini(struct ka_bus_base *b);
int ka_bus_base_watch(struct ka_bus_base *b, int fd, struct ka_error *err);
/* Wait for a watched fd or the cancel, up to timeout_ms (-1: forever).
 * -ECANCELED once ka_bus_base_cancel() was called (from any thread). */
int ka_bus_base_wait(struct ka_bus_base *b, int timeout_ms);
void ka_bus_base_cancel(struct ka_bus_base *b);
/* The end of a wait of timeout_ms from now (real ms; -1: INT64_MAX, never). */
int64_t ka_bus_deadline(int timeout_ms);
/* Wait for a watched fd until `end` (from ka_bus_deadline()) or for at most
 * timers_ms (the endpoint's own timers; -1: none), whichever is sooner:
 * 0 (woken or due), -ETIMEDOUT once end has passed, -ECANCELED. */
int ka_bus_base_pause(struct ka_bus_base *b, int64_t end, int timers_ms);
bool ka_bus_base_cancelled(struct ka_bus_base *b);
int64_t ka_bus_base_now(const struct ka_bus_base *b);

int ka_bus_channel_open(struct ka_bus_base *b, struct ka_bus_channel *c, const char *address, bool bind,
                        enum ka_bus_role role, struct ka_error *err);
void ka_bus_channel_close(struct ka_bus_channel *c);

/* Count (and log at debug) a refused message. */
void ka_bus_reject(struct ka_bus_base *b, enum ka_bus_reject reason, const char *fmt, ...) KA_PRINTF(3, 4);
void ka_bus_count_received(struct ka_bus_base *b, const char *type);

/* First checks of a received frame: size, header, sealed or not as this bus
 * is, and (sealed) its time within maxClockSkew.  <0: rejected and counted. */
int ka_bus_frame_check(struct ka_bus_base *b, const void *data, size_t len, struct ka_bus_frame *ret);
/* Open a hello, welcome or reset frame and decode its envelope, whose type
 * must match the frame.  <0: rejected and counted. */
int ka_bus_open_handshake(struct ka_bus_base *b, const struct ka_bus_frame *f, struct ka_bus_msg *ret);
/* Send a handshake frame; takes payload. */
void ka_bus_send_handshake(struct ka_bus_base *b, struct ka_bus_channel *c, enum ka_bus_frame_kind kind,
                           uint64_t session, const char *to, cJSON *payload);

/* ---- links ---- */

void ka_bus_link_init(struct ka_bus_link *l, struct ka_bus_channel *c, const char *peer);
void ka_bus_link_fini(struct ka_bus_link *l);
/* Forget the stream: what is queued is dropped, numbering starts again,
 * under a new stream name. */
void ka_bus_link_reset(struct ka_bus_link *l);
/* Keep what is queued but number it from 1 again, for a new core. */
void ka_bus_link_renumber(struct ka_bus_link *l);

/* Open a data frame of this link's session and decode it; check who sent
 * it and to whom.  <0: rejected and counted. */
int ka_bus_link_open(struct ka_bus_base *b, struct ka_bus_link *l, const struct ka_bus_frame *f,
                     struct ka_bus_msg *ret);
/* Send a message off the stream (ack, heartbeat, renew, revoke); takes payload. */
void ka_bus_link_send(struct ka_bus_base *b, struct ka_bus_link *l, const char *type, cJSON *payload);
/* Queue a message on the stream and send what the window allows; takes
 * payload.  note may be NULL. */
void ka_bus_link_queue(struct ka_bus_base *b, struct ka_bus_link *l, const char *type, cJSON *payload,
                       const struct ka_bus_note *note);
/* Send what the window allows (after a session is established, an ack). */
void ka_bus_link_pump(struct ka_bus_base *b, struct ka_bus_link *l);
/* Send everything unacknowledged again now (the session changed). */
void ka_bus_link_rewind(struct ka_bus_base *b, struct ka_bus_link *l);

enum ka_bus_rx {
        KA_BUS_RX_NEW = 1,   /* next in order: handle it */
        KA_BUS_RX_DUPLICATE, /* handled before */
        KA_BUS_RX_GAP,       /* something before it was lost: drop it, the sender will resend */
};
/* A message with seq > 0 arrived; an ack is now due. */
enum ka_bus_rx ka_bus_link_receive(struct ka_bus_base *b, struct ka_bus_link *l, uint64_t seq);
/* The peer acknowledged everything up to seq: drop it from the queue,
 * calling acked(note) for each message that carried one. */
void ka_bus_link_acked(struct ka_bus_base *b, struct ka_bus_link *l, uint64_t seq,
                       void (*acked)(void *data, const struct ka_bus_note *note), void *data);
/* Send the ack that is due, if one is. */
void ka_bus_link_flush_ack(struct ka_bus_base *b, struct ka_bus_link *l);
/* Resend what waited too long for its ack. */
void ka_bus_link_timers(struct ka_bus_base *b, struct ka_bus_link *l);
/* When the next resend is due (monotonic ms; INT64_MAX: nothing waits). */
int64_t ka_bus_link_due(const struct ka_bus_base *b, const struct ka_bus_link *l);

#endif
