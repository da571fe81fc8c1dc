/* core/bus/socket.h — the nanomsg sockets under the bus.
 *
 * Each channel (core <-> workers, core <-> frontends) is one NN_BUS socket:
 * the core binds the channel's address, peers connect to it.  A message the
 * core sends reaches every peer on the channel (each keeps only what is
 * addressed to it); a message a peer sends reaches only the core.  Sends
 * never block: NN_BUS drops a message for a peer whose pipe is full, and a
 * connection that breaks loses what it held — the reliable stream above
 * (link.h) numbers, acknowledges and resends what matters.  Why this pattern
 * and not PUSH/PULL or REQ/REP is in PROTOCOL.md.
 *
 * Options set on every socket: NN_RCVMAXSIZE (twice maxMessageSize, so a
 * frame a little too large is still read and counted as oversized, and a
 * bogus length can never make nanomsg allocate without bound), 1 MiB send
 * and receive buffers, NN_RECONNECT_IVL 100 ms doubling up to
 * NN_RECONNECT_IVL_MAX.  ipc:// sockets are created with umask 077 (owner
 * only).  A socket is used by one thread only; its NN_RCVFD is readable while
 * a message waits, for poll()/epoll. */
#ifndef KA_BUS_SOCKET_H
#define KA_BUS_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum ka_bus_transport {
        KA_BUS_INPROC = 1,
        KA_BUS_IPC,
        KA_BUS_TCP,
};

struct ka_bus_socket {
        int nn; /* -1 when closed */
        int rcvfd;
        char *address;
        bool bound;
};

#define KA_BUS_SOCKET_INIT                                                                                             \
        { .nn = -1, .rcvfd = -1, .address = NULL, .bound = false }

/* Check an address: inproc://NAME, ipc://PATH or tcp://HOST:PORT (HOST may
 * be * to bind every interface, or [an IPv6 address]).  Sets *ret. */
int ka_bus_address_parse(const char *address, enum ka_bus_transport *ret, struct ka_error *err);

int ka_bus_socket_open(struct ka_bus_socket *s, const char *address, bool bind, size_t max_message_size,
                       int64_t reconnect_max_ms, struct ka_error *err);
/* 0, or -EAGAIN when nanomsg refuses it right now. */
int ka_bus_socket_send(struct ka_bus_socket *s, const void *data, size_t len);
/* 0 with a message to free with ka_bus_socket_msg_free(), or -EAGAIN. */
int ka_bus_socket_recv(struct ka_bus_socket *s, void **ret_data, size_t *ret_len);
void ka_bus_socket_msg_free(void *data);
/* Connections the socket has now (nanomsg's own count). */
int ka_bus_socket_connections(const struct ka_bus_socket *s);
void ka_bus_socket_close(struct ka_bus_socket *s);

#endif
