/* core/kube/ws.h — an RFC 6455 WebSocket client, as the exec subresource
 * needs it (reference kubernetes-api.md §5.6–5.8).
 *
 * Debian 12's libcurl has no WebSocket support, so the protocol is done here,
 * in three layers that each work alone:
 *
 *  - framing: ka_ws_encode() appends a client frame, always masked with a
 *    fresh random key; struct ka_ws_decoder reads server frames
 *    incrementally in constant memory whatever their size, hands data to a
 *    callback as it arrives (a message may span many frames and many reads)
 *    and rejects a malformed frame with an error that says what was wrong
 *    and the close code to answer with;
 *  - the opening handshake: ka_ws_key_new() / ka_ws_accept_for() and
 *    ka_http_head_parse() for the server's answer;
 *  - struct ka_ws: one connection over a non-blocking byte transport
 *    (struct ka_ws_io; core/kube gives a TLS one made with the client's
 *    settings): the handshake, a bounded send queue, pongs, the close
 *    handshake.  The caller owns the poll() loop and the ping policy.
 *
 * Nothing here logs; errors go to the caller's struct ka_error. */
#ifndef KA_KUBE_WS_H
#define KA_KUBE_WS_H

#include <kubeagent/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/macro.h"

enum {
        KA_WS_CONT = 0x0,
        KA_WS_TEXT = 0x1,
        KA_WS_BINARY = 0x2,
        KA_WS_CLOSE = 0x8,
        KA_WS_PING = 0x9,
        KA_WS_PONG = 0xA,
};

enum {
        KA_WS_CLOSE_NORMAL = 1000,
        KA_WS_CLOSE_GOING_AWAY = 1001,
        KA_WS_CLOSE_PROTOCOL = 1002,
        KA_WS_CLOSE_NO_STATUS = 1005, /* never sent: a close frame without a code */
        KA_WS_CLOSE_INVALID_DATA = 1007,
};

/* ---- framing ------------------------------------------------------------- */

/* Append one client frame (masked with a fresh random key) to out; -E2BIG
 * when out's cap would be passed (out is then unchanged). */
int ka_ws_encode(struct ka_buf *out, uint8_t opcode, bool fin, const void *payload, size_t len);

struct ka_ws_handler {
        /* A piece of a data message (opcode KA_WS_TEXT or KA_WS_BINARY): first
         * on its first piece, last on its final one; a message may come in
         * any number of pieces, empty ones included.  <0 stops decoding. */
        int (*data)(void *ud, uint8_t opcode, bool first, bool last, const uint8_t *p, size_t n, struct ka_error *err);
        /* A whole control frame (close, ping, pong; at most 125 bytes). */
        int (*control)(void *ud, uint8_t opcode, const uint8_t *p, size_t n, struct ka_error *err);
};

struct ka_ws_decoder {
        uint8_t head[14]; /* the header being read */
        size_t head_len;
        bool in_payload;
        uint8_t opcode; /* of the frame being read */
        bool fin;
        uint64_t left;   /* payload bytes still to come */
        uint8_t message; /* opcode of the data message in progress, 0 between messages */
        bool first;      /* the next data piece starts the message */
        uint8_t control[125];
        size_t control_len;
        uint16_t close_code; /* after an error: the code to close the connection with */
};

void ka_ws_decoder_init(struct ka_ws_decoder *d);
/* Feed received bytes.  0, a handler's negative return, or -EPROTO with err
 * saying what was malformed (d->close_code then says 1002 or 1007).  After
 * an error the decoder must not be fed again. */
int ka_ws_decode(struct ka_ws_decoder *d, const uint8_t *buf, size_t len, const struct ka_ws_handler *h, void *ud,
                 struct ka_error *err);
/* Check a close frame's payload (code and UTF-8 reason); *ret_code is 1005
 * for an empty payload.  -EPROTO (-EILSEQ for a reason that is not UTF-8)
 * with err when it is malformed. */
int ka_ws_close_payload(const uint8_t *p, size_t n, uint16_t *ret_code, struct ka_error *err);

/* ---- the opening handshake --------------------------------------------- */

/* A fresh Sec-WebSocket-Key: base64 of 16 random bytes, malloc()ed. */
char *ka_ws_key_new(void);
/* The Sec-WebSocket-Accept a server must answer to key, malloc()ed. */
char *ka_ws_accept_for(const char *key);

struct ka_http_header {
        char *name;
        char *value; /* surrounding blanks removed */
};

struct ka_http_head {
        int code; /* 100..599 */
        char *reason;
        struct ka_http_header *headers;
        size_t n_headers;
};

/* Parse a response head, "HTTP/1.x NNN reason\r\n(Name: value\r\n)*\r\n"
 * (buf holds exactly that, blank line included).  -EPROTO with err when it
 * is malformed; ret is filled only on success. */
int ka_http_head_parse(const char *buf, size_t len, struct ka_http_head *ret, struct ka_error *err);
/* The first value of a header (name compared case-insensitively), or NULL. */
const char *ka_http_head_get(const struct ka_http_head *h, const char *name);
/* Decode a whole chunked body held in raw into out (reset first; out's cap
 * applies): 0 with *ret_done once the last chunk was seen, 0 with it false
 * when more is needed, -EPROTO when malformed, -E2BIG past out's cap. */
int ka_http_dechunk(const char *raw, size_t len, struct ka_buf *out, bool *ret_done);
/* Whether a comma-separated header value contains token (case-insensitive). */
bool ka_http_has_token(const char *value, const char *token);
void ka_http_head_clear(struct ka_http_head *h);

/* ---- a connection -------------------------------------------------------- */

struct ka_ws_io {
        /* Move bytes without blocking: >0 bytes moved, -EAGAIN nothing now,
         * 0 (recv) the peer ended the stream, other <0 a transport error. */
        ssize_t (*send)(void *ud, const void *buf, size_t len);
        ssize_t (*recv)(void *ud, void *buf, size_t len);
        int fd; /* to poll() */
        void *ud;
};

struct ka_ws_options {
        /* The request head without its final blank line: "GET /p?q HTTP/1.1\r\n"
         * "Host: h\r\n" and authentication; the WebSocket headers are added. */
        const char *request;
        const char *const *protocols; /* offered in this order; NULL-terminated, or NULL */
        int64_t timeout_ms;           /* for the whole handshake; 0: 30000 */
        size_t max_queue;             /* send queue cap; 0: 4 MiB */
};

/* What the server answered instead of 101 Switching Protocols. */
struct ka_ws_refusal {
        int code;           /* HTTP status */
        char *content_type; /* or NULL */
        char *body;         /* NUL-terminated, at most 64 KiB kept */
        size_t len;
};
void ka_ws_refusal_clear(struct ka_ws_refusal *r);

struct ka_ws;

/* Send the upgrade request and read the answer.  0 with *ret connected;
 * -ECONNREFUSED with *refusal filled (err too) when the server answered
 * anything but 101; -EPROTO for an answer that breaks RFC 6455 (wrong
 * Sec-WebSocket-Accept, a subprotocol that was not offered); -ETIMEDOUT;
 * or the transport's error.  The transport stays the caller's. */
int ka_ws_connect(const struct ka_ws_io *io, const struct ka_ws_options *o, struct ka_ws **ret,
                  struct ka_ws_refusal *refusal, struct ka_error *err);
void ka_ws_free(struct ka_ws *w);
KA_DEFINE_CLEANUP(struct ka_ws, ka_ws_free)

/* The subprotocol the server chose ("" for none). */
const char *ka_ws_protocol(const struct ka_ws *w);

/* Queue one message (a single frame); -ENOBUFS when the send queue is
 * full, -EPIPE after a close frame was queued.  Nothing is written yet. */
int ka_ws_send(struct ka_ws *w, uint8_t opcode, const void *data, size_t len, struct ka_error *err);
/* Queue a close frame (once; later calls do nothing). */
void ka_ws_close(struct ka_ws *w, uint16_t code);
/* Write what the transport takes now: 0, or the transport's error. */
int ka_ws_flush(struct ka_ws *w, struct ka_error *err);
/* Bytes waiting to be written (poll for POLLOUT while non-zero). */
size_t ka_ws_queued(const struct ka_ws *w);

/* Read what the transport has (up to 1 MiB per call) and decode it: data
 * to h->data; pings are answered, a close frame is answered and recorded.
 * Returns 1 when it stopped with more possibly buffered (call again
 * before polling: TLS may hold bytes poll() cannot see), 0 when the
 * transport has nothing more now or the stream ended (ka_ws_ended()), or an
 * error (a malformed frame is answered with a close frame first). */
int ka_ws_receive(struct ka_ws *w, const struct ka_ws_handler *h, void *ud, struct ka_error *err);
/* The peer ended the stream (EOF), or both sides sent close frames. */
bool ka_ws_ended(const struct ka_ws *w);
/* The peer's close code: 0 when no close frame came, 1005 when it had none. */
uint16_t ka_ws_peer_close_code(const struct ka_ws *w);
/* When the last bytes arrived (CLOCK_MONOTONIC ms), for a liveness check. */
int64_t ka_ws_last_receive_ms(const struct ka_ws *w);

#endif
