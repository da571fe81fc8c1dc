/* The WebSocket client (core/kube/ws.c): frames against RFC 6455's own
 * examples, every malformed-frame rule, the handshake helpers, and whole
 * connections against a scripted server thread over a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/ws.h"
#include "tap.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/str.h"

/* ---- decoding helpers ---------------------------------------------------- */

struct got {
        struct ka_buf data; /* every data piece, concatenated */
        int pieces, firsts, lasts;
        uint8_t opcode;
        struct ka_buf control; /* "opcode:payload;" per control frame */
};

static int got_data(void *ud, uint8_t opcode, bool first, bool last, const uint8_t *p, size_t n, struct ka_error *err) {
        (void)err;
        struct got *g = ud;
        g->pieces++;
        g->firsts += first;
        g->lasts += last;
        g->opcode = opcode;
        ka_buf_append(&g->data, p, n);
        return 0;
}

static int got_control(void *ud, uint8_t opcode, const uint8_t *p, size_t n, struct ka_error *err) {
        (void)err;
        struct got *g = ud;
        ka_buf_printf(&g->control, "%x:%.*s;", opcode, (int)n, (const char *)p);
        return 0;
}

static const struct ka_ws_handler handler = {.data = got_data, .control = got_control};

static void got_free(struct got *g) {
        ka_buf_free(&g->data);
        ka_buf_free(&g->control);
        *g = (struct got){0};
}

/* Decode bytes in pieces of `step` (0: all at once). */
static int decode(const uint8_t *p, size_t n, size_t step, struct got *g, struct ka_ws_decoder *d,
                  struct ka_error *err) {
        ka_ws_decoder_init(d);
        *g = (struct got){.data = KA_BUF_INIT(0), .control = KA_BUF_INIT(0)};
        for (size_t i = 0; i < n;) {
                size_t k = step ? KA_MIN(step, n - i) : n;
                int r = ka_ws_decode(d, p + i, k, &handler, g, err);
                if (r < 0)
                        return r;
                i += k;
        }
        return 0;
}

static void test_rfc_examples(void) {
        struct ka_ws_decoder d;
        struct got g;
        struct ka_error err = {0};
        /* RFC 6455 §5.7 */
        static const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
        for (size_t step = 0; step <= 1; step++) {
                is_int(decode(hello, sizeof(hello), step, &g, &d, &err), 0, "unmasked text frame (step %zu)", step);
                ok(g.data.len == 5 && memcmp(g.data.data, "Hello", 5) == 0 && g.opcode == KA_WS_TEXT && g.firsts == 1 &&
                           g.lasts == 1,
                   "... is \"Hello\", one message");
                got_free(&g);
        }
        static const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
        is_int(decode(frag, sizeof(frag), 1, &g, &d, &err), 0, "fragmented text message");
        ok(g.data.len == 5 && memcmp(g.data.data, "Hello", 5) == 0 && g.firsts == 1 && g.lasts == 1 && g.pieces >= 2,
           "... reassembles to \"Hello\" with one first and one last piece");
        got_free(&g);
        static const uint8_t ping_in_frag[] = {0x02, 0x01, 'a', 0x89, 0x05, 'H', 'e', 'l', 'l', 'o', 0x80, 0x01, 'b'};
        is_int(decode(ping_in_frag, sizeof(ping_in_frag), 0, &g, &d, &err), 0, "a ping between fragments");
        is_str(g.control.data, "9:Hello;", "... the ping is delivered whole");
        ok(g.data.len == 2 && memcmp(g.data.data, "ab", 2) == 0 && g.opcode == KA_WS_BINARY, "... the message too");
        got_free(&g);
        /* 256 bytes with a 16-bit length, 65536 with a 64-bit one */
        size_t sizes[] = {256, 65536};
        for (size_t i = 0; i < 2; i++) {
                size_t n = sizes[i], hl = n == 256 ? 4 : 10;
                uint8_t *f = ka_malloc(hl + n);
                f[0] = 0x82;
                if (n == 256) {
                        f[1] = 126, f[2] = 1, f[3] = 0;
                } else {
                        f[1] = 127;
                        memset(f + 2, 0, 8);
                        f[7] = 1;
                }
                for (size_t k = 0; k < n; k++)
                        f[hl + k] = (uint8_t)k;
                is_int(decode(f, hl + n, 1000, &g, &d, &err), 0, "%zu-byte binary frame", n);
                ok(g.data.len == n && memcmp(g.data.data, f + hl, n) == 0 && g.lasts == 1, "... delivered intact");
                got_free(&g);
                free(f);
        }
        static const uint8_t empty[] = {0x82, 0x00, 0x8A, 0x00};
        is_int(decode(empty, sizeof(empty), 1, &g, &d, &err), 0, "an empty binary message and an empty pong");
        ok(g.pieces == 1 && g.firsts == 1 && g.lasts == 1 && g.data.len == 0, "... the empty message is one piece");
        is_str(g.control.data, "a:;", "... and the pong is seen");
        got_free(&g);
}

static void test_malformed(void) {
        static const struct {
                const char *name;
                uint8_t bytes[16];
                size_t len;
                const char *says;
                uint16_t code;
        } cases[] = {
                {"reserved bit", {0xC2, 0x00}, 2, "reserved bits", 1002},
                {"unknown opcode", {0x83, 0x00}, 2, "unknown opcode 0x3", 1002},
                {"control opcode 0xB", {0x8B, 0x00}, 2, "unknown opcode 0xB", 1002},
                {"masked server frame", {0x82, 0x81, 1, 2, 3, 4, 5}, 7, "masked", 1002},
                {"fragmented ping", {0x09, 0x00}, 2, "fragmented control", 1002},
                {"126-byte ping", {0x89, 0x7E, 0x00, 0x7E}, 4, "control frame over 125", 1002},
                {"16-bit length under 126", {0x82, 0x7E, 0x00, 0x10}, 4, "shortest form", 1002},
                {"64-bit length under 65536", {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, 10, "shortest form", 1002},
                {"64-bit length with the top bit", {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, "over 2^63", 1002},
                {"continuation first", {0x80, 0x00}, 2, "continuation frame outside", 1002},
                {"new message inside one", {0x02, 0x00, 0x82, 0x00}, 4, "new message inside", 1002},
                {"close with one byte", {0x88, 0x01, 0x03}, 3, "1-byte payload", 1002},
                {"close code 1005", {0x88, 0x02, 0x03, 0xED}, 4, "close code 1005", 1002},
                {"close code 999", {0x88, 0x02, 0x03, 0xE7}, 4, "close code 999", 1002},
                {"close code 2000", {0x88, 0x02, 0x07, 0xD0}, 4, "close code 2000", 1002},
                {"close reason not UTF-8", {0x88, 0x04, 0x03, 0xE8, 0xC0, 0xAF}, 6, "not UTF-8", 1007},
                {"close reason with a surrogate", {0x88, 0x05, 0x03, 0xE8, 0xED, 0xA0, 0x80}, 7, "not UTF-8", 1007},
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(cases); i++) {
                struct ka_ws_decoder d;
                struct got g;
                struct ka_error err = {0};
                int r = decode(cases[i].bytes, cases[i].len, 1, &g, &d, &err);
                ok(r == -EPROTO && strstr(err.msg, cases[i].says) && d.close_code == cases[i].code,
                   "%s is refused (%d, close %u): %s", cases[i].name, r, d.close_code, err.msg);
                got_free(&g);
        }
        static const uint8_t fine[] = {0x88, 0x08, 0x0F, 0xA0, 'b', 'y', 'e', 0xE2, 0x82, 0xAC};
        struct ka_ws_decoder d;
        struct got g;
        struct ka_error err = {0};
        is_int(decode(fine, sizeof(fine), 1, &g, &d, &err), 0, "close 4000 with a UTF-8 reason is fine");
        got_free(&g);
}

static void test_encode(void) {
        size_t sizes[] = {0, 5, 125, 126, 65535, 65536, 70000};
        for (size_t i = 0; i < KA_ARRAY_SIZE(sizes); i++) {
                size_t n = sizes[i];
                uint8_t *payload = ka_malloc(n + 1);
                for (size_t k = 0; k < n; k++)
                        payload[k] = (uint8_t)(k * 7 + 1);
                struct ka_buf out = KA_BUF_INIT(0);
                is_int(ka_ws_encode(&out, KA_WS_BINARY, true, payload, n), 0, "encode %zu bytes", n);
                const uint8_t *f = (const uint8_t *)out.data;
                size_t hl = n < 126 ? 2 : n < 65536 ? 4 : 10;
                uint64_t len = f[1] & 0x7F;
                if (len == 126)
                        len = (uint64_t)f[2] << 8 | f[3];
                else if (len == 127)
                        for (int k = 2, s = 0; k < 10; k++, s++)
                                len = (s == 0 ? 0 : len << 8) | f[k];
                ok(f[0] == 0x82 && (f[1] & 0x80) && len == n && out.len == hl + 4 + n,
                   "... FIN, binary, masked, shortest length form");
                const uint8_t *key = f + hl;
                bool same = true;
                for (size_t k = 0; k < n; k++)
                        same = same && (uint8_t)(f[hl + 4 + k] ^ key[k & 3]) == payload[k];
                ok(same, "... the payload unmasks to what was sent");
                ka_buf_free(&out);
                free(payload);
        }
        struct ka_buf a = KA_BUF_INIT(0), b = KA_BUF_INIT(0);
        ka_ws_encode(&a, KA_WS_PING, true, "x", 1);
        ka_ws_encode(&b, KA_WS_PING, true, "x", 1);
        ok(memcmp(a.data + 2, b.data + 2, 4) != 0, "every frame gets a fresh masking key");
        struct ka_buf small = KA_BUF_INIT(10);
        is_int(ka_ws_encode(&small, KA_WS_BINARY, false, "0123456789", 10), -E2BIG, "a capped buffer refuses");
        is_int(small.len, 0, "... and is left as it was");
        ka_buf_free(&a);
        ka_buf_free(&b);
        ka_buf_free(&small);
}

static void test_handshake_helpers(void) {
        /* RFC 6455 §1.3 */
        char *acc = ka_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==");
        is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Accept of the RFC's example key");
        free(acc);
        char *k1 = ka_ws_key_new(), *k2 = ka_ws_key_new();
        ok(strlen(k1) == 24 && ka_endswith(k1, "==") && strcmp(k1, k2) != 0, "keys: 16 random bytes in base64");
        free(k1);
        free(k2);

        const char good[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nconnection:  Upgrade \r\n"
                            "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\nX-Empty:\r\n\r\n";
        struct ka_http_head h;
        struct ka_error err = {0};
        is_int(ka_http_head_parse(good, strlen(good), &h, &err), 0, "a 101 head parses");
        ok(h.code == 101 && ka_streq(h.reason, "Switching Protocols") && h.n_headers == 4, "... status and headers");
        is_str(ka_http_head_get(&h, "CONNECTION"), "Upgrade", "... names are case-insensitive, values trimmed");
        is_str(ka_http_head_get(&h, "x-empty"), "", "... empty values are kept");
        ok(ka_http_head_get(&h, "nope") == NULL, "... a missing header is NULL");
        ka_http_head_clear(&h);
        const char bare[] = "HTTP/1.1 403 Forbidden\r\n\r\n";
        is_int(ka_http_head_parse(bare, strlen(bare), &h, &err), 0, "x/net/websocket's bare 403 parses");
        ka_http_head_clear(&h);
        const char noreason[] = "HTTP/1.0 500\r\n\r\n";
        is_int(ka_http_head_parse(noreason, strlen(noreason), &h, &err), 0, "a status line without a reason");
        ka_http_head_clear(&h);
        static const char *const bad[] = {
                "HTTP/1.1 101 OK\r\n",     /* no blank line */
                "HTTP/2 101 OK\r\n\r\n",   /* not HTTP/1.x */
                "HTTP/1.1 1O1 OK\r\n\r\n", /* not a number */
                "HTTP/1.1 101OK\r\n\r\n",  /* no space */
                "HTTP/1.1 101 OK\r\nNo colon\r\n\r\n",
                "HTTP/1.1 101 OK\r\n: empty name\r\n\r\n",
                "HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n",
                "HTTP/1.1 101 OK\r\n folded: x\r\n\r\n",
                "HTTP/1.1 101 OK\r\nX: a\x01z\r\n\r\n",
                "HTTP/1.1 101 O\x02K\r\n\r\n",
                "HTTP/1.1 101 OK\r\nX: a\nY: b\r\n\r\n",
        };
        for (size_t i = 0; i < KA_ARRAY_SIZE(bad); i++) {
                int r = ka_http_head_parse(bad[i], strlen(bad[i]), &h, &err);
                ok(r == -EPROTO && strstr(err.msg, "malformed HTTP answer"), "malformed head %zu refused: %s", i,
                   err.msg);
        }
        ok(ka_http_has_token("keep-alive, Upgrade", "upgrade") && !ka_http_has_token("upgrades", "upgrade") &&
                   !ka_http_has_token(NULL, "x"),
           "header tokens");

        struct ka_buf out = KA_BUF_INIT(100);
        bool done;
        const char chunked[] = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        is_int(ka_http_dechunk(chunked, strlen(chunked), &out, &done), 0, "a chunked body decodes");
        ok(done && ka_streq(out.data, "hello, world"), "... completely: %s", out.data);
        is_int(ka_http_dechunk(chunked, 12, &out, &done), 0, "a partial chunked body");
        ok(!done && ka_streq(out.data, "hello"), "... gives what is complete");
        is_int(ka_http_dechunk("zz\r\nab\r\n", 8, &out, &done), -EPROTO, "a bad chunk size is refused");
        is_int(ka_http_dechunk("2\r\nabc\r\n", 8, &out, &done), -EPROTO, "a chunk longer than its size is refused");
        is_int(ka_http_dechunk("ffffffffffffffffff\r\n", 20, &out, &done), -EPROTO, "an overflowing size is refused");
        char big[300];
        int n = snprintf(big, sizeof(big), "%x\r\n%0*d\r\n", 150, 150, 0);
        is_int(ka_http_dechunk(big, (size_t)n, &out, &done), -E2BIG, "the output cap holds");
        ka_buf_free(&out);
}

/* ---- connections against a scripted server --------------------------------- */

static ssize_t fd_send(void *ud, const void *buf, size_t len) {
        ssize_t r = send(*(int *)ud, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        return r >= 0 ? r : (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
}

static ssize_t fd_recv(void *ud, void *buf, size_t len) {
        ssize_t r = recv(*(int *)ud, buf, len, MSG_DONTWAIT);
        return r >= 0 ? r : (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
}

struct server {
        int fd;
        const char *answer;   /* "accept" is replaced by the right Sec-WebSocket-Accept */
        const uint8_t *after; /* bytes sent right after the answer (same write) */
        size_t after_len;
        bool expect_close; /* read frames until a close frame, check its code */
        bool answer_close; /* echo that close frame */
        char request[4096];
        struct ka_buf from_client; /* everything after the request head */
        pthread_t thread;
};

static void *serve(void *arg) {
        struct server *s = arg;
        size_t len = 0;
        while (len < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
                ssize_t r = recv(s->fd, s->request + len, sizeof(s->request) - 1 - len, 0);
                if (r <= 0)
                        return NULL;
                len += (size_t)r;
                s->request[len] = '\0';
        }
        if (!s->answer) {
                shutdown(s->fd, SHUT_RDWR);
                return NULL;
        }
        char *end = strstr(s->request, "\r\n\r\n") + 4;
        s->from_client = (struct ka_buf)KA_BUF_INIT(0);
        ka_buf_append(&s->from_client, end, len - (size_t)(end - s->request));
        *end = '\0';
        struct ka_buf out = KA_BUF_INIT(0);
        const char *k = strstr(s->request, "Sec-WebSocket-Key: ");
        const char *acc = strstr(s->answer, "ACCEPT");
        if (acc && k) {
                char key[32] = {0};
                memcpy(key, k + 19, 24);
                char *a = ka_ws_accept_for(key);
                ka_buf_printf(&out, "%.*s%s%s", (int)(acc - s->answer), s->answer, a, acc + 6);
                free(a);
        } else {
                ka_buf_puts(&out, s->answer);
        }
        ka_buf_append(&out, s->after, s->after_len);
        send(s->fd, out.data, out.len, MSG_NOSIGNAL);
        ka_buf_free(&out);
        uint8_t buf[4096];
        while (s->expect_close) {
                ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
                if (r <= 0)
                        break;
                ka_buf_append(&s->from_client, buf, (size_t)r);
                /* a masked close frame from the client: 0x88 0x82 key(4) code(2) */
                const uint8_t *p = (const uint8_t *)s->from_client.data;
                bool closed = false;
                for (size_t i = 0; i + 8 <= s->from_client.len; i++)
                        if (p[i] == 0x88 && p[i + 1] == 0x82)
                                closed = true;
                if (closed) {
                        if (s->answer_close) {
                                static const uint8_t close[] = {0x88, 0x02, 0x03, 0xE8};
                                send(s->fd, close, sizeof(close), MSG_NOSIGNAL);
                        }
                        break;
                }
        }
        shutdown(s->fd, SHUT_WR);
        return NULL;
}

static const char *const protocols[] = {"v5.channel.k8s.io", "v4.channel.k8s.io", NULL};

static int connect_to(struct server *s, int *client_fd, struct ka_ws **ret, struct ka_ws_refusal *ref,
                      struct ka_error *err, int64_t timeout_ms) {
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        s->fd = sv[1];
        *client_fd = sv[0];
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        pthread_create(&s->thread, NULL, serve, s);
        struct ka_ws_io io = {.send = fd_send, .recv = fd_recv, .fd = sv[0], .ud = client_fd};
        struct ka_ws_options o = {.request = "GET /api/v1/namespaces/ci/pods/p/exec?command=ls HTTP/1.1\r\n"
                                             "Host: example:443\r\nAuthorization: Bearer t0ken\r\n",
                                  .protocols = protocols,
                                  .timeout_ms = timeout_ms};
        return ka_ws_connect(&io, &o, ret, ref, err);
}

/* Stop the exchange; with keep, s->from_client stays for the caller to check and free. */
static void server_done(struct server *s, int client_fd, bool keep) {
        shutdown(client_fd, SHUT_WR);
        pthread_join(s->thread, NULL);
        close(client_fd);
        close(s->fd);
        if (!keep)
                ka_buf_free(&s->from_client);
}

/* Receive until the stream ends, flushing as a caller's loop would. */
static int pump(struct ka_ws *w, struct got *g, struct ka_error *err) {
        int r = 0;
        for (int i = 0; i < 2000 && !ka_ws_ended(w); i++) {
                r = ka_ws_receive(w, &handler, g, err);
                if (r < 0)
                        break;
                if (ka_ws_flush(w, err) < 0)
                        return -EIO;
                if (r == 0)
                        usleep(1000);
        }
        ka_ws_flush(w, err);
        return r < 0 ? r : 0;
}

static void test_connection(void) {
        struct ka_error err = {0};
        struct ka_ws_refusal ref = {0};
        struct ka_ws *w = NULL;
        int cfd;
        /* a full session: early frames with the answer, ping, fragments, close */
        static const uint8_t frames[] = {0x82, 0x01, 0x01,            /* empty stdout message */
                                         0x89, 0x02, 'h',  'i',       /* ping */
                                         0x02, 0x03, 0x01, 'a',  'b', /* fragmented message... */
                                         0x80, 0x02, 'c',  '\n',      /* ...ends */
                                         0x88, 0x02, 0x03, 0xE8};     /* close 1000 */
        struct server s = {.answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\nSec-WebSocket-Accept: ACCEPT\r\n"
                                     "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
                           .after = frames,
                           .after_len = sizeof(frames),
                           .expect_close = true};
        is_int(connect_to(&s, &cfd, &w, &ref, &err, 5000), 0, "handshake succeeds: %s", err.msg);
        like(s.request, "Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n", "v5 is offered before v4");
        like(s.request, "Sec-WebSocket-Version: 13\r\n", "version 13");
        like(s.request, "Upgrade: websocket\r\n", "Upgrade header");
        like(s.request, "Authorization: Bearer t0ken\r\n", "the caller's head is kept");
        if (w) {
                is_str(ka_ws_protocol(w), "v5.channel.k8s.io", "the chosen subprotocol is recorded");
                struct got g = {.data = KA_BUF_INIT(0), .control = KA_BUF_INIT(0)};
                is_int(pump(w, &g, &err), 0, "the stream is read to its end: %s", err.msg);
                ok(g.data.len == 6 &&
                           memcmp(g.data.data,
                                  "\x01\x01"
                                  "abc\n",
                                  6) == 0 &&
                           g.firsts == 2 && g.lasts == 2,
                   "two messages, the second in fragments");
                is_str(g.control.data, "9:hi;8:\x03\xe8;", "ping and close were seen");
                ok(ka_ws_ended(w) && ka_ws_peer_close_code(w) == 1000, "the close handshake completed (1000)");
                is_int(ka_ws_send(w, KA_WS_BINARY, "x", 1, &err), -EPIPE, "no data after close");
                got_free(&g);
        }
        server_done(&s, cfd, true);
        /* the client answered the ping with a masked pong carrying "hi" and echoed the close */
        const uint8_t *c = (const uint8_t *)s.from_client.data;
        bool pong = false;
        for (size_t i = 0; s.from_client.len >= 8 && i + 8 <= s.from_client.len; i++)
                if (c[i] == 0x8A && c[i + 1] == 0x82 && (c[i + 6] ^ c[i + 2]) == 'h' && (c[i + 7] ^ c[i + 3]) == 'i')
                        pong = true;
        ok(pong, "the ping got a masked pong with its payload");
        ka_buf_free(&s.from_client);
        ka_ws_free(w);
        w = NULL;

        struct server wrong = {.answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
                                         "\r\n"};
        int r = connect_to(&wrong, &cfd, &w, &ref, &err, 5000);
        ok(r == -EPROTO && strstr(err.msg, "Sec-WebSocket-Accept does not match"), "a wrong accept is refused: %s",
           err.msg);
        server_done(&wrong, cfd, false);

        struct server other = {.answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         "Connection: Upgrade\r\nSec-WebSocket-Accept: ACCEPT\r\n"
                                         "Sec-WebSocket-Protocol: channel.k8s.io\r\n\r\n"};
        r = connect_to(&other, &cfd, &w, &ref, &err, 5000);
        ok(r == -EPROTO && strstr(err.msg, "\"channel.k8s.io\", which was not offered"),
           "a subprotocol that was not offered is refused: %s", err.msg);
        server_done(&other, cfd, false);

        struct server status = {.answer = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                                          "Content-Length: 16\r\n\r\n{\"kind\":\"Status\",\"code\":403}"};
        r = connect_to(&status, &cfd, &w, &ref, &err, 5000);
        ok(r == -ECONNREFUSED && ref.code == 403 && ka_streq(ref.body, "{\"kind\":\"Status\"") &&
                   ka_streq(ref.content_type, "application/json"),
           "a refusal with Content-Length: body kept to its length (%s)", ref.body);
        like(err.msg, "HTTP 403 Forbidden", "... and said");
        ka_ws_refusal_clear(&ref);
        server_done(&status, cfd, false);

        struct server bare = {.answer = "HTTP/1.1 403 Forbidden\r\n\r\n"};
        r = connect_to(&bare, &cfd, &w, &ref, &err, 5000);
        ok(r == -ECONNREFUSED && ref.code == 403 && ref.len == 0, "x/net/websocket's bare 403, read to EOF");
        ka_ws_refusal_clear(&ref);
        server_done(&bare, cfd, false);

        struct server chunked = {.answer = "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           "a\r\ncontainer \r\n5\r\nfound\r\n0\r\n\r\n"};
        r = connect_to(&chunked, &cfd, &w, &ref, &err, 5000);
        ok(r == -ECONNREFUSED && ref.code == 500 && ka_streq(ref.body, "container found"), "a chunked refusal: %s",
           ref.body);
        ka_ws_refusal_clear(&ref);
        server_done(&chunked, cfd, false);

        struct server hangup = {.answer = NULL};
        r = connect_to(&hangup, &cfd, &w, &ref, &err, 5000);
        ok(r == -ECONNRESET && strstr(err.msg, "closed the connection"), "a server that hangs up: %s", err.msg);
        server_done(&hangup, cfd, false);

        struct server mute = {.answer = "", .expect_close = true};
        r = connect_to(&mute, &cfd, &w, &ref, &err, 200);
        ok(r == -ETIMEDOUT && strstr(err.msg, "timed out"), "a server that never answers: %s", err.msg);
        server_done(&mute, cfd, false);

        static const uint8_t masked[] = {0x82, 0x81, 1, 2, 3, 4, 5};
        struct server bad = {.answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                       "Connection: Upgrade\r\nSec-WebSocket-Accept: ACCEPT\r\n\r\n",
                             .after = masked,
                             .after_len = sizeof(masked),
                             .expect_close = true};
        is_int(connect_to(&bad, &cfd, &w, &ref, &err, 5000), 0, "a server that answers no subprotocol");
        if (w) {
                is_str(ka_ws_protocol(w), "", "... has protocol \"\"");
                struct got g = {.data = KA_BUF_INIT(0), .control = KA_BUF_INIT(0)};
                is_int(ka_ws_receive(w, &handler, &g, &err), -EPROTO, "a masked server frame is an error");
                ka_ws_flush(w, &err);
                got_free(&g);
        }
        server_done(&bad, cfd, true);
        const uint8_t *b = (const uint8_t *)bad.from_client.data;
        unsigned code = 0;
        for (size_t i = 0; bad.from_client.len >= 8 && i + 8 <= bad.from_client.len; i++)
                if (b[i] == 0x88 && b[i + 1] == 0x82)
                        code = (unsigned)(b[i + 6] ^ b[i + 2]) << 8 | (unsigned)(b[i + 7] ^ b[i + 3]);
        is_int(code, 1002, "... answered with close 1002");
        ka_buf_free(&bad.from_client);
        ka_ws_free(w);
}

int main(void) {
        ka_mem_init();
        test_rfc_examples();
        test_malformed();
        test_encode();
        test_handshake_helpers();
        test_connection();
        return tap_done();
}
