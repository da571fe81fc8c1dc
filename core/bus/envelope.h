/* core/bus/envelope.h — bus messages: the JSON envelope, its strict decoder,
 * and a checker for payloads.
 *
 * Every message on the bus is one JSON object (core/bus/PROTOCOL.md):
 *     {"type":"job","id":"w1-2a","sender":"core","to":"w1","time":1764133814123,
 *      "seq":7,"payload":{...}}
 * `seq` is present only on messages of the reliable stream.  The decoder
 * accepts nothing else: valid UTF-8 without NUL, exactly these members, each
 * of its type and size, no member twice.  A refusal says why in err and
 * names a rejection reason for the counters; it never crashes on any input
 * (tests/fuzz/bus-envelope.c).
 *
 * A decoded message owns its payload; ka_bus_msg_clear() frees it. */
#ifndef KA_BUS_ENVELOPE_H
#define KA_BUS_ENVELOPE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define KA_BUS_TYPE_MAX 32                 /* [a-z][a-z0-9.-]* */
#define KA_BUS_MSGID_MAX 64                /* [A-Za-z0-9._:-]+ */
#define KA_BUS_NAME_MAX 63                 /* peer names: [A-Za-z0-9][A-Za-z0-9._-]* */
#define KA_BUS_ID_MAX 255                  /* job ids: [A-Za-z0-9._:/@-]+ */
#define KA_BUS_UINT_MAX 9007199254740992.0 /* 2^53: integers JSON carries exactly */

/* What a peer is: a channel admits one role. */
enum ka_bus_role {
        KA_BUS_ROLE_WORKER = 1,
        KA_BUS_ROLE_FRONTEND = 2,
};

/* Why a received message was refused: the label of
 * kubeagent_bus_rejected_total{reason}. */
enum ka_bus_reject {
        KA_BUS_REJECT_NONE = 0,
        KA_BUS_REJECT_OVERSIZED,       /* larger than maxMessageSize */
        KA_BUS_REJECT_MALFORMED,       /* not a frame, not UTF-8, not JSON */
        KA_BUS_REJECT_INVALID,         /* JSON, but not a valid envelope or payload */
        KA_BUS_REJECT_UNSEALED,        /* a plain frame on a sealed bus */
        KA_BUS_REJECT_UNKEYED,         /* a sealed frame on a bus without a key */
        KA_BUS_REJECT_FORGED,          /* authentication failed: wrong key, forged or tampered */
        KA_BUS_REJECT_REPLAYED,        /* a frame (or a hello) seen before */
        KA_BUS_REJECT_STALE,           /* sent too far from now (maxClockSkew) */
        KA_BUS_REJECT_UNKNOWN_SESSION, /* no such session (the core restarted) */
        KA_BUS_REJECT_SPOOFED,         /* sender or recipient does not match the session */
        KA_BUS_REJECT_UNEXPECTED,      /* valid, but not allowed here (role, state) */
        KA_BUS_REJECT_COUNT_,
};

const char *ka_bus_reject_name(enum ka_bus_reject r);

/* What one endpoint has sent and received. */
struct ka_bus_stats {
        uint64_t sent;       /* frames sent, resends included */
        uint64_t resent;     /* of which resends of unacknowledged messages */
        uint64_t received;   /* messages accepted */
        uint64_t ignored;    /* frames addressed to another peer on the channel */
        uint64_t duplicates; /* reliable messages received twice (and acknowledged again) */
        uint64_t rejected[KA_BUS_REJECT_COUNT_];
};

struct ka_bus_msg {
        char type[KA_BUS_TYPE_MAX + 1];
        char id[KA_BUS_MSGID_MAX + 1];
        char sender[KA_BUS_NAME_MAX + 1];
        char to[KA_BUS_NAME_MAX + 1];
        int64_t time;   /* Unix ms when sent */
        uint64_t seq;   /* reliable stream position; 0 = not on the stream */
        cJSON *payload; /* an object, owned */
};

/* Encode m as compact JSON into out (appending).  The members must be
 * valid (they are checked: -EINVAL with err). */
int ka_bus_msg_encode(const struct ka_bus_msg *m, struct ka_buf *out, struct ka_error *err);
/* Decode and validate text of len bytes (at most max_size).  On failure
 * *ret_reason says which counter to bump and err says why. */
int ka_bus_msg_decode(const char *text, size_t len, size_t max_size, struct ka_bus_msg *ret,
                      enum ka_bus_reject *ret_reason, struct ka_error *err);
void ka_bus_msg_clear(struct ka_bus_msg *m);

bool ka_bus_valid_type(const char *s);
bool ka_bus_valid_name(const char *s);
bool ka_bus_valid_id(const char *s);

/* ---- payload schemas ----------------------------------------------------
 * A table of the members a payload may have, ended by {NULL}.  Members not
 * in the table are refused, so a typo in a peer's message is an error, not a
 * silently missing field. */
enum ka_bus_ftype {
        KA_BUS_F_STRING = 1, /* UTF-8 string of at most `max` bytes (0: 64 KiB) */
        KA_BUS_F_NAME,       /* a peer name */
        KA_BUS_F_ID,         /* a job id */
        KA_BUS_F_UINT,       /* an integer in [0, 2^53] */
        KA_BUS_F_BOOL,
        KA_BUS_F_OBJECT,  /* any object (checked by its user), or by `items` */
        KA_BUS_F_ARRAY,   /* at most `max` items (0: 4096); objects checked by `items` when set */
        KA_BUS_F_STRINGS, /* an array of at most `max` strings (0: 4096), each at most 1 KiB */
        KA_BUS_F_ANY,
};

#define KA_BUS_F_REQUIRED 1u

struct ka_bus_field {
        const char *name;
        enum ka_bus_ftype type;
        unsigned flags;
        size_t max;
        const struct ka_bus_field *items; /* OBJECT: its members; ARRAY: each item is such an object */
};

/* Check payload (an object) against fields; err names the member. */
int ka_bus_payload_check(const cJSON *payload, const struct ka_bus_field *fields, struct ka_error *err);

#endif
