/* RFC 6455 client: framing, the opening handshake, one connection. */
#include "ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/base64.h"
#include "util/error.h"
#include "util/mem.h"
#include "util/str.h"
#include "util/timeutil.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX (16u << 10)
#define REFUSAL_BODY_MAX (64u << 10)
#define HEADERS_MAX 100
#define RECEIVE_BUDGET (1u << 20)
#define READ_CHUNK (64u << 10)

static void random_bytes(uint8_t *p, size_t n) {
        if (RAND_bytes(p, (int)n) != 1) {
                /* no randomness means no safe masking key or nonce: stop */
                fprintf(stderr, "kubeagent: the system random generator failed\n");
                abort();
        }
}

/* ---- framing ------------------------------------------------------------- */

static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]) {
        uint64_t k8;
        uint8_t kk[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
        memcpy(&k8, kk, 8);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t v;
                memcpy(&v, src + i, 8);
                v ^= k8;
                memcpy(dst + i, &v, 8);
        }
        for (; i < n; i++)
                dst[i] = src[i] ^ key[i & 3];
}

int ka_ws_encode(struct ka_buf *out, uint8_t opcode, bool fin, const void *payload, size_t len) {
        uint8_t head[14];
        size_t hl = 0;
        head[hl++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
        if (len < 126) {
                head[hl++] = (uint8_t)(0x80 | len);
        } else if (len <= 0xFFFF) {
                head[hl++] = 0x80 | 126;
                head[hl++] = (uint8_t)(len >> 8);
                head[hl++] = (uint8_t)len;
        } else {
                head[hl++] = 0x80 | 127;
                for (int s = 56; s >= 0; s -= 8)
                        head[hl++] = (uint8_t)((uint64_t)len >> s);
        }
        uint8_t *key = head + hl;
        random_bytes(key, 4);
        hl += 4;
        size_t old = out->len;
        if (ka_buf_append(out, head, hl) < 0 || ka_buf_append(out, payload, len) < 0) {
                out->len = old;
                if (out->data)
                        out->data[old] = '\0';
                return -E2BIG;
        }
        if (len)
                mask_copy((uint8_t *)out->data + old + hl, (const uint8_t *)out->data + old + hl, len, key);
        return 0;
}

void ka_ws_decoder_init(struct ka_ws_decoder *d) {
        *d = (struct ka_ws_decoder){.first = true};
}

static int fail(struct ka_ws_decoder *d, uint16_t code, struct ka_error *err, const char *what) {
        d->close_code = code;
        return ka_error_set(err, -EPROTO, "malformed WebSocket frame from the server: %s", what);
}

/* UTF-8 as RFC 3629 allows it: no overlong forms, surrogates or values past U+10FFFF. */
static bool utf8_valid(const uint8_t *p, size_t n) {
        size_t i = 0;
        while (i < n) {
                uint8_t c = p[i];
                size_t more;
                uint8_t lo = 0x80, hi = 0xBF;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xC2 && c <= 0xDF) {
                        more = 1;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        more = 2;
                        if (c == 0xE0)
                                lo = 0xA0;
                        else if (c == 0xED)
                                hi = 0x9F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        more = 3;
                        if (c == 0xF0)
                                lo = 0x90;
                        else if (c == 0xF4)
                                hi = 0x8F;
                } else {
                        return false;
                }
                if (n - i <= more || p[i + 1] < lo || p[i + 1] > hi)
                        return false;
                for (size_t k = 2; k <= more; k++)
                        if ((p[i + k] & 0xC0) != 0x80)
                                return false;
                i += more + 1;
        }
        return true;
}

int ka_ws_close_payload(const uint8_t *p, size_t n, uint16_t *ret_code, struct ka_error *err) {
        if (n == 0) {
                *ret_code = KA_WS_CLOSE_NO_STATUS;
                return 0;
        }
        if (n == 1)
                return ka_error_set(err, -EPROTO,
                                    "malformed WebSocket frame from the server: a close frame with a "
                                    "1-byte payload");
        uint16_t code = (uint16_t)(p[0] << 8 | p[1]);
        bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
        if (!valid)
                return ka_error_set(err, -EPROTO, "malformed WebSocket frame from the server: close code %u",
                                    (unsigned)code);
        if (!utf8_valid(p + 2, n - 2))
                return ka_error_set(err, -EILSEQ,
                                    "malformed WebSocket frame from the server: a close reason that "
                                    "is not UTF-8");
        *ret_code = code;
        return 0;
}

/* Bytes the header needs once its first two bytes are known. */
static size_t head_size(const uint8_t *h) {
        size_t len7 = h[1] & 0x7F;
        return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

static int start_frame(struct ka_ws_decoder *d, struct ka_error *err) {
        const uint8_t *h = d->head;
        uint8_t op = h[0] & 0x0F;
        bool fin = h[0] & 0x80;
        if (h[0] & 0x70)
                return fail(d, KA_WS_CLOSE_PROTOCOL, err, "reserved bits set (no extension was negotiated)");
        bool control = op >= 0x8;
        if (op != KA_WS_CONT && op != KA_WS_TEXT && op != KA_WS_BINARY && op != KA_WS_CLOSE && op != KA_WS_PING &&
            op != KA_WS_PONG) {
                char what[48];
                snprintf(what, sizeof(what), "unknown opcode 0x%X", op);
                return fail(d, KA_WS_CLOSE_PROTOCOL, err, what);
        }
        if (h[1] & 0x80)
                return fail(d, KA_WS_CLOSE_PROTOCOL, err, "masked (a server must not mask its frames)");
        uint64_t len = h[1] & 0x7F;
        if (len == 126) {
                len = (uint64_t)h[2] << 8 | h[3];
                if (len < 126)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "length not in its shortest form");
        } else if (len == 127) {
                len = 0;
                for (int i = 2; i < 10; i++)
                        len = len << 8 | h[i];
                if (len >> 63)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "length over 2^63");
                if (len <= 0xFFFF)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "length not in its shortest form");
        }
        if (control) {
                if (!fin)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "a fragmented control frame");
                if (len > 125)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "a control frame over 125 bytes");
                d->control_len = 0;
        } else if (op == KA_WS_CONT) {
                if (!d->message)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "a continuation frame outside a message");
        } else {
                if (d->message)
                        return fail(d, KA_WS_CLOSE_PROTOCOL, err, "a new message inside a fragmented one");
                d->message = op;
                d->first = true;
        }
        d->opcode = op;
        d->fin = fin;
        d->left = len;
        d->in_payload = true;
        return 0;
}

/* The payload of the current frame is complete (or empty). */
static int end_frame(struct ka_ws_decoder *d, const struct ka_ws_handler *h, void *ud, struct ka_error *err) {
        d->in_payload = false;
        d->head_len = 0;
        if (d->opcode >= 0x8) {
                if (d->opcode == KA_WS_CLOSE) {
                        uint16_t code;
                        int r = ka_ws_close_payload(d->control, d->control_len, &code, err);
                        if (r < 0) {
                                d->close_code = r == -EILSEQ ? KA_WS_CLOSE_INVALID_DATA : KA_WS_CLOSE_PROTOCOL;
                                if (err)
                                        err->code = -EPROTO;
                                return -EPROTO;
                        }
                }
                return h->control ? h->control(ud, d->opcode, d->control, d->control_len, err) : 0;
        }
        if (d->fin) {
                d->message = 0;
                d->first = true;
        }
        return 0;
}

int ka_ws_decode(struct ka_ws_decoder *d, const uint8_t *buf, size_t len, const struct ka_ws_handler *h, void *ud,
                 struct ka_error *err) {
        while (len > 0 || (d->in_payload && d->left == 0)) {
                if (!d->in_payload) {
                        size_t need = d->head_len < 2 ? 2 : head_size(d->head);
                        size_t n = KA_MIN(need - d->head_len, len);
                        memcpy(d->head + d->head_len, buf, n);
                        d->head_len += n;
                        buf += n;
                        len -= n;
                        if (d->head_len < need)
                                return 0;
                        if (need == 2 && head_size(d->head) > 2)
                                continue; /* extended length or mask still to come */
                        int r = start_frame(d, err);
                        if (r < 0)
                                return r;
                }
                size_t n = (size_t)KA_MIN((uint64_t)len, d->left);
                if (d->opcode >= 0x8) {
                        memcpy(d->control + d->control_len, buf, n);
                        d->control_len += n;
                } else if (n > 0 || d->left == 0) {
                        bool last = d->fin && n == d->left;
                        int r = h->data ? h->data(ud, d->message, d->first, last, buf, n, err) : 0;
                        if (r < 0)
                                return r;
                        d->first = false;
                }
                buf += n;
                len -= n;
                d->left -= n;
                if (d->left == 0) {
                        int r = end_frame(d, h, ud, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- the opening handshake --------------------------------------------- */

char *ka_ws_key_new(void) {
        uint8_t nonce[16];
        random_bytes(nonce, sizeof(nonce));
        return ka_base64_encode(nonce, sizeof(nonce));
}

char *ka_ws_accept_for(const char *key) {
        _cleanup_free_ char *text = ka_asprintf("%s" WS_GUID, key);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL) != 1) {
                fprintf(stderr, "kubeagent: SHA-1 is not available from OpenSSL\n");
                abort();
        }
        return ka_base64_encode(md, n);
}

static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

void ka_http_head_clear(struct ka_http_head *h) {
        if (!h)
                return;
        free(h->reason);
        for (size_t i = 0; i < h->n_headers; i++) {
                free(h->headers[i].name);
                free(h->headers[i].value);
        }
        free(h->headers);
        *h = (struct ka_http_head){0};
}

static int head_error(struct ka_http_head *h, struct ka_error *err, const char *what) {
        ka_http_head_clear(h);
        return ka_error_set(err, -EPROTO, "malformed HTTP answer to the WebSocket upgrade: %s", what);
}

int ka_http_head_parse(const char *buf, size_t len, struct ka_http_head *ret, struct ka_error *err) {
        struct ka_http_head h = {0};
        if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
                return head_error(&h, err, "the head does not end with a blank line");
        const char *end = buf + len - 2; /* at the final CRLF */
        const char *eol = memmem(buf, len, "\r\n", 2);
        /* "HTTP/1.x NNN[ reason]" */
        if (eol - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
            buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
            (eol - buf > 12 && buf[12] != ' '))
                return head_error(&h, err, "no valid status line");
        h.code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
        const char *reason = buf + KA_MIN(13, eol - buf);
        for (const char *p = reason; p < eol; p++)
                if ((unsigned char)*p < 0x20 && *p != '\t')
                        return head_error(&h, err, "a control character in the status line");
        h.reason = ka_strndup(reason, (size_t)(eol - reason));
        for (const char *line = eol + 2; line < end;) {
                const char *le = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
                const char *colon = memchr(line, ':', (size_t)(le - line));
                if (!colon || colon == line)
                        return head_error(&h, err, "a header line without a name");
                for (const char *p = line; p < colon; p++)
                        if (!is_tchar(*p))
                                return head_error(&h, err, "a header name with a character HTTP forbids");
                const char *v = colon + 1, *ve = le;
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                for (const char *p = v; p < ve; p++)
                        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
                                return head_error(&h, err, "a control character in a header value");
                if (h.n_headers == HEADERS_MAX)
                        return head_error(&h, err, "more than 100 headers");
                h.headers = ka_reallocarray(h.headers, h.n_headers + 1, sizeof(*h.headers));
                h.headers[h.n_headers++] = (struct ka_http_header){
                        .name = ka_strndup(line, (size_t)(colon - line)),
                        .value = ka_strndup(v, (size_t)(ve - v)),
                };
                line = le + 2;
        }
        *ret = h;
        return 0;
}

const char *ka_http_head_get(const struct ka_http_head *h, const char *name) {
        for (size_t i = 0; i < h->n_headers; i++)
                if (strcasecmp(h->headers[i].name, name) == 0)
                        return h->headers[i].value;
        return NULL;
}

bool ka_http_has_token(const char *value, const char *token) {
        size_t tl = strlen(token);
        for (const char *p = value; p && *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                const char *e = p;
                while (*e && *e != ',')
                        e++;
                const char *t = e;
                while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
                        t--;
                if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
                        return true;
                p = e;
        }
        return false;
}

/* ---- a connection -------------------------------------------------------- */

struct ka_ws {
        struct ka_ws_io io;
        char *protocol;
        size_t max_queue;
        struct ka_buf out; /* frames to write; out_pos of them written */
        size_t out_pos;
        struct ka_ws_decoder dec;
        uint8_t *rbuf;
        uint8_t *early; /* frame bytes that came with the handshake answer */
        size_t early_len;
        bool close_sent, close_received, eof;
        uint16_t peer_code;
        int64_t last_rx_ms;
        /* during ka_ws_receive */
        const struct ka_ws_handler *user;
        void *user_ud;
};

void ka_ws_refusal_clear(struct ka_ws_refusal *r) {
        if (!r)
                return;
        free(r->content_type);
        free(r->body);
        *r = (struct ka_ws_refusal){0};
}

void ka_ws_free(struct ka_ws *w) {
        if (!w)
                return;
        free(w->protocol);
        ka_buf_free_secret(&w->out);
        free(w->rbuf);
        free(w->early);
        free(w);
}

const char *ka_ws_protocol(const struct ka_ws *w) {
        return w->protocol;
}

/* Wait until the transport can move data in `events`, or the deadline. */
static int wait_io(int fd, short events, int64_t deadline, struct ka_error *err) {
        for (;;) {
                int64_t left = deadline - ka_time_now_ms();
                if (left <= 0)
                        return ka_error_set(err, -ETIMEDOUT, "the WebSocket handshake timed out");
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, (int)KA_MIN(left, 1000));
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return ka_error_set(err, -errno, "poll: %s", strerror(errno));
        }
}

static int send_all(const struct ka_ws_io *io, const char *p, size_t n, int64_t deadline, struct ka_error *err) {
        while (n > 0) {
                ssize_t r = io->send(io->ud, p, n);
                if (r == -EAGAIN) {
                        int w = wait_io(io->fd, POLLOUT, deadline, err);
                        if (w < 0)
                                return w;
                        continue;
                }
                if (r < 0)
                        return ka_error_set(err, (int)r, "sending the WebSocket upgrade failed: %s", strerror((int)-r));
                p += r;
                n -= (size_t)r;
        }
        return 0;
}

/* Read more into b; 0 at EOF (*eof set), >0 bytes read. */
static int recv_some(const struct ka_ws_io *io, struct ka_buf *b, size_t want, int64_t deadline, bool *eof,
                     struct ka_error *err) {
        char tmp[4096];
        for (;;) {
                ssize_t r = io->recv(io->ud, tmp, KA_MIN(sizeof(tmp), want));
                if (r == -EAGAIN) {
                        int w = wait_io(io->fd, POLLIN, deadline, err);
                        if (w < 0)
                                return w;
                        continue;
                }
                if (r < 0)
                        return ka_error_set(err, (int)r, "reading the answer to the WebSocket upgrade failed: %s",
                                            strerror((int)-r));
                if (r == 0) {
                        *eof = true;
                        return 0;
                }
                if (ka_buf_append(b, tmp, (size_t)r) < 0)
                        return ka_error_set(err, -E2BIG, "the answer to the WebSocket upgrade is too long");
                return (int)r;
        }
}

int ka_http_dechunk(const char *raw, size_t len, struct ka_buf *out, bool *ret_done) {
        size_t pos = 0;
        *ret_done = false;
        ka_buf_reset(out);
        for (;;) {
                const char *eol = memmem(raw + pos, len - pos, "\r\n", 2);
                if (!eol)
                        return 0;
                uint64_t size = 0;
                const char *p = raw + pos;
                if (p == eol)
                        return -EPROTO;
                for (; p < eol && *p != ';'; p++) {
                        int v = (*p >= '0' && *p <= '9')   ? *p - '0'
                                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                                           : -1;
                        if (v < 0 || size > (UINT64_MAX >> 4))
                                return -EPROTO;
                        size = size << 4 | (uint64_t)v;
                }
                pos = (size_t)(eol - raw) + 2;
                if (size == 0) {
                        *ret_done = true; /* trailers, if any, are not needed */
                        return 0;
                }
                if (size > len - pos || len - pos - size < 2)
                        return 0;
                if (memcmp(raw + pos + size, "\r\n", 2) != 0)
                        return -EPROTO;
                if (ka_buf_append(out, raw + pos, size) < 0)
                        return -E2BIG;
                pos += size + 2;
        }
}

/* The body of a refusal: by Content-Length, chunked, or up to EOF; capped.
 * A timeout or a transport error keeps what came: the status and the start
 * of the body still say a lot. */
static int read_refusal(const struct ka_ws_io *io, const struct ka_http_head *h, struct ka_buf *raw, int64_t deadline,
                        struct ka_ws_refusal *ref, struct ka_error *err) {
        const char *cl = ka_http_head_get(h, "Content-Length");
        const char *te = ka_http_head_get(h, "Transfer-Encoding");
        bool chunked = te && ka_http_has_token(te, "chunked");
        uint64_t want = UINT64_MAX;
        if (!chunked && cl && ka_parse_uint64(cl, &want) < 0)
                return ka_error_set(err, -EPROTO,
                                    "malformed HTTP answer to the WebSocket upgrade: Content-Length \"%s\"", cl);
        if (h->code == 204 || h->code == 304 || h->code < 200)
                want = 0;
        struct ka_buf body = KA_BUF_INIT(REFUSAL_BODY_MAX);
        bool eof = false;
        for (;;) {
                bool done;
                if (chunked) {
                        int r = ka_http_dechunk(raw->data ? raw->data : "", raw->len, &body, &done);
                        if (r == -EPROTO) {
                                ka_buf_free(&body);
                                return ka_error_set(err, -EPROTO,
                                                    "malformed HTTP answer to the WebSocket upgrade: bad chunked body");
                        }
                        done = done || r == -E2BIG;
                } else {
                        done = raw->len >= want;
                }
                if (done || eof || raw->len >= REFUSAL_BODY_MAX + 4096)
                        break;
                size_t chunk = chunked ? 4096 : (size_t)KA_MIN(want - raw->len, (uint64_t)4096);
                if (recv_some(io, raw, chunk, deadline, &eof, NULL) < 0)
                        break;
        }
        if (!chunked)
                ka_buf_append(&body, raw->data ? raw->data : "",
                              (size_t)KA_MIN((uint64_t)KA_MIN(raw->len, (size_t)REFUSAL_BODY_MAX), want));
        ref->code = h->code;
        ref->content_type = ka_strdup(ka_http_head_get(h, "Content-Type"));
        ref->len = body.len;
        ref->body = body.data ? ka_buf_steal(&body) : ka_strdup("");
        ka_buf_free(&body);
        return 0;
}

static int check_upgrade(const struct ka_http_head *h, const char *key, const struct ka_ws_options *o,
                         char **ret_protocol, struct ka_error *err) {
        const char *up = ka_http_head_get(h, "Upgrade"), *conn = ka_http_head_get(h, "Connection");
        if (!up || strcasecmp(up, "websocket") != 0 || !conn || !ka_http_has_token(conn, "upgrade"))
                return ka_error_set(err, -EPROTO,
                                    "the server answered 101 without \"Upgrade: websocket\" and "
                                    "\"Connection: Upgrade\"");
        _cleanup_free_ char *want = ka_ws_accept_for(key);
        const char *accept = ka_http_head_get(h, "Sec-WebSocket-Accept");
        if (!accept || strcmp(accept, want) != 0)
                return ka_error_set(err, -EPROTO,
                                    "the server's Sec-WebSocket-Accept does not match the key sent "
                                    "(a proxy that does not understand WebSocket?)");
        if (ka_http_head_get(h, "Sec-WebSocket-Extensions"))
                return ka_error_set(err, -EPROTO, "the server chose a WebSocket extension none was offered");
        const char *proto = ka_http_head_get(h, "Sec-WebSocket-Protocol");
        if (proto && *proto) {
                bool offered = false;
                for (size_t i = 0; o->protocols && o->protocols[i]; i++)
                        offered = offered || strcmp(o->protocols[i], proto) == 0;
                if (!offered)
                        return ka_error_set(err, -EPROTO, "the server chose subprotocol \"%s\", which was not offered",
                                            proto);
        }
        *ret_protocol = ka_strdup(proto ? proto : "");
        return 0;
}

int ka_ws_connect(const struct ka_ws_io *io, const struct ka_ws_options *o, struct ka_ws **ret,
                  struct ka_ws_refusal *refusal, struct ka_error *err) {
        int64_t deadline = ka_time_now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 30000);
        _cleanup_free_ char *key = ka_ws_key_new();
        struct ka_buf req = KA_BUF_INIT_SECRET(0);
        ka_buf_printf(&req,
                      "%sConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: %s\r\n",
                      o->request, key);
        for (size_t i = 0; o->protocols && o->protocols[i]; i++)
                ka_buf_printf(&req, "%s%s", i ? ", " : "Sec-WebSocket-Protocol: ", o->protocols[i]);
        ka_buf_puts(&req, o->protocols && o->protocols[0] ? "\r\n\r\n" : "\r\n");
        int r = send_all(io, req.data, req.len, deadline, err);
        ka_buf_free_secret(&req); /* it carried the credentials */
        if (r < 0)
                return r;

        struct ka_buf raw = KA_BUF_INIT(HEAD_MAX + REFUSAL_BODY_MAX + 8192);
        const char *end = NULL;
        bool eof = false;
        while (!(end = raw.len ? memmem(raw.data, raw.len, "\r\n\r\n", 4) : NULL)) {
                if (raw.len > HEAD_MAX) {
                        ka_buf_free(&raw);
                        return ka_error_set(err, -EPROTO, "the answer to the WebSocket upgrade has a head over 16 KiB");
                }
                r = recv_some(io, &raw, 4096, deadline, &eof, err);
                if (r < 0 || eof) {
                        ka_buf_free(&raw);
                        return r < 0 ? r
                                     : ka_error_set(err, -ECONNRESET,
                                                    "the server closed the connection instead of "
                                                    "answering the WebSocket upgrade");
                }
        }
        size_t head_len = (size_t)(end - raw.data) + 4;
        struct ka_http_head h;
        r = ka_http_head_parse(raw.data, head_len, &h, err);
        if (r < 0) {
                ka_buf_free(&raw);
                return r;
        }
        ka_buf_consume(&raw, head_len);
        if (h.code != 101) {
                r = read_refusal(io, &h, &raw, deadline, refusal, err);
                if (r == 0)
                        r = ka_error_set(err, -ECONNREFUSED, "the server refused the WebSocket upgrade: HTTP %d %s",
                                         h.code, h.reason);
                ka_http_head_clear(&h);
                ka_buf_free(&raw);
                return r;
        }
        char *protocol = NULL;
        r = check_upgrade(&h, key, o, &protocol, err);
        ka_http_head_clear(&h);
        if (r < 0) {
                ka_buf_free(&raw);
                return r;
        }
        struct ka_ws *w = ka_new0(struct ka_ws, 1);
        w->io = *io;
        w->protocol = protocol;
        w->max_queue = o->max_queue ? o->max_queue : 4u << 20;
        w->out = (struct ka_buf)KA_BUF_INIT_SECRET(0);
        ka_ws_decoder_init(&w->dec);
        w->rbuf = ka_malloc(READ_CHUNK);
        w->early_len = raw.len;
        w->early = raw.len ? (uint8_t *)ka_buf_steal(&raw) : NULL;
        ka_buf_free(&raw);
        w->last_rx_ms = ka_time_now_ms();
        *ret = w;
        return 0;
}

size_t ka_ws_queued(const struct ka_ws *w) {
        return w->out.len - w->out_pos;
}

int ka_ws_send(struct ka_ws *w, uint8_t opcode, const void *data, size_t len, struct ka_error *err) {
        if (w->close_sent)
                return ka_error_set(err, -EPIPE, "the WebSocket is closing");
        if (ka_ws_queued(w) + len + 14 > w->max_queue)
                return ka_error_set(err, -ENOBUFS, "the WebSocket send queue is full");
        ka_ws_encode(&w->out, opcode, true, data, len);
        return 0;
}

void ka_ws_close(struct ka_ws *w, uint16_t code) {
        if (w->close_sent)
                return;
        w->close_sent = true;
        uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        ka_ws_encode(&w->out, KA_WS_CLOSE, true, p, code == KA_WS_CLOSE_NO_STATUS ? 0 : 2);
}

int ka_ws_flush(struct ka_ws *w, struct ka_error *err) {
        while (w->out_pos < w->out.len) {
                ssize_t r = w->io.send(w->io.ud, w->out.data + w->out_pos, w->out.len - w->out_pos);
                if (r == -EAGAIN)
                        break;
                if (r < 0 && w->close_received) {
                        /* the peer closed first and did not wait for our answer */
                        w->eof = true;
                        w->out_pos = w->out.len;
                        break;
                }
                if (r < 0)
                        return ka_error_set(err, (int)r, "writing to the WebSocket failed: %s", strerror((int)-r));
                w->out_pos += (size_t)r;
        }
        if (w->out_pos == w->out.len) {
                ka_buf_reset(&w->out);
                w->out_pos = 0;
        } else if (w->out_pos > (1u << 20)) {
                ka_buf_consume(&w->out, w->out_pos);
                w->out_pos = 0;
        }
        return 0;
}

static int on_data(void *ud, uint8_t opcode, bool first, bool last, const uint8_t *p, size_t n, struct ka_error *err) {
        struct ka_ws *w = ud;
        if (w->close_received) {
                w->dec.close_code = KA_WS_CLOSE_PROTOCOL;
                return ka_error_set(err, -EPROTO, "malformed WebSocket stream: data after the close frame");
        }
        return w->user->data ? w->user->data(w->user_ud, opcode, first, last, p, n, err) : 0;
}

static int on_control(void *ud, uint8_t opcode, const uint8_t *p, size_t n, struct ka_error *err) {
        struct ka_ws *w = ud;
        switch (opcode) {
        case KA_WS_PING:
                /* answer only the latest pings when the queue is backed up */
                if (!w->close_sent && ka_ws_queued(w) < w->max_queue)
                        ka_ws_encode(&w->out, KA_WS_PONG, true, p, n);
                break;
        case KA_WS_CLOSE:
                if (!w->close_received) {
                        w->close_received = true;
                        ka_ws_close_payload(p, n, &w->peer_code, NULL);
                        ka_ws_close(w, w->peer_code);
                }
                break;
        default:
                break;
        }
        return w->user->control ? w->user->control(w->user_ud, opcode, p, n, err) : 0;
}

static int decode(struct ka_ws *w, const uint8_t *p, size_t n, struct ka_error *err) {
        static const struct ka_ws_handler inner = {.data = on_data, .control = on_control};
        int r = ka_ws_decode(&w->dec, p, n, &inner, w, err);
        if (r < 0 && w->dec.close_code)
                ka_ws_close(w, w->dec.close_code);
        return r;
}

int ka_ws_receive(struct ka_ws *w, const struct ka_ws_handler *h, void *ud, struct ka_error *err) {
        w->user = h;
        w->user_ud = ud;
        if (w->early) {
                _cleanup_free_ uint8_t *early = w->early;
                w->early = NULL;
                int r = decode(w, early, w->early_len, err);
                if (r < 0)
                        return r;
        }
        size_t budget = RECEIVE_BUDGET;
        while (!w->eof) {
                if (budget == 0)
                        return 1;
                ssize_t r = w->io.recv(w->io.ud, w->rbuf, KA_MIN((size_t)READ_CHUNK, budget));
                if (r == -EAGAIN)
                        return 0;
                if (r < 0)
                        return ka_error_set(err, (int)r, "reading from the WebSocket failed: %s", strerror((int)-r));
                if (r == 0) {
                        w->eof = true;
                        break;
                }
                w->last_rx_ms = ka_time_now_ms();
                budget -= (size_t)r;
                int d = decode(w, w->rbuf, (size_t)r, err);
                if (d < 0)
                        return d;
        }
        return 0;
}

bool ka_ws_ended(const struct ka_ws *w) {
        return w->eof || (w->close_sent && w->close_received && ka_ws_queued(w) == 0);
}

uint16_t ka_ws_peer_close_code(const struct ka_ws *w) {
        return w->close_received ? w->peer_code : 0;
}

int64_t ka_ws_last_receive_ms(const struct ka_ws *w) {
        return w->last_rx_ms;
}
