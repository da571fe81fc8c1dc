#include "socket.h"

#include <errno.h>
#include <nanomsg/bus.h>
#include <nanomsg/nn.h>
#include <string.h>
#include <sys/stat.h>

#include "util/mem.h"
#include "util/str.h"

#define SOCKET_BUFFER (1 << 20)
#define IPC_PATH_MAX 107 /* sizeof(sun_path) - 1 */

static bool host_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_';
}

static int parse_tcp(const char *address, const char *rest, struct ka_error *err) {
        const char *colon = strrchr(rest, ':');
        if (!colon || colon == rest)
                return ka_error_set(err, -EINVAL, "bus address \"%s\": expected tcp://HOST:PORT", address);
        int port;
        if (ka_parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535)
                return ka_error_set(err, -EINVAL, "bus address \"%s\": the port must be a number from 1 to 65535",
                                    address);
        size_t n = (size_t)(colon - rest);
        if (rest[0] == '[') {
                if (rest[n - 1] != ']' || n < 3)
                        return ka_error_set(err, -EINVAL, "bus address \"%s\": an IPv6 host is written [ADDRESS]",
                                            address);
                for (size_t i = 1; i + 1 < n; i++)
                        if (!(rest[i] == ':' || rest[i] == '.' || host_char(rest[i])))
                                return ka_error_set(err, -EINVAL, "bus address \"%s\": bad IPv6 host", address);
                return 0;
        }
        if (n == 1 && rest[0] == '*')
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!host_char(rest[i]))
                        return ka_error_set(err, -EINVAL, "bus address \"%s\": bad host name", address);
        return 0;
}

int ka_bus_address_parse(const char *address, enum ka_bus_transport *ret, struct ka_error *err) {
        if (ka_isempty(address))
                return ka_error_set(err, -EINVAL, "empty bus address");
        if (ka_startswith(address, "inproc://")) {
                const char *name = address + strlen("inproc://");
                if (!*name || strlen(name) > 100)
                        return ka_error_set(err, -EINVAL, "bus address \"%s\": expected inproc://NAME", address);
                *ret = KA_BUS_INPROC;
                return 0;
        }
        if (ka_startswith(address, "ipc://")) {
                const char *path = address + strlen("ipc://");
                if (!*path || strlen(path) > IPC_PATH_MAX)
                        return ka_error_set(err, -EINVAL, "bus address \"%s\": expected ipc://PATH of at most %d bytes",
                                            address, IPC_PATH_MAX);
                *ret = KA_BUS_IPC;
                return 0;
        }
        if (ka_startswith(address, "tcp://")) {
                int r = parse_tcp(address, address + strlen("tcp://"), err);
                if (r < 0)
                        return r;
                *ret = KA_BUS_TCP;
                return 0;
        }
        if (ka_startswith(address, "ws://") || ka_startswith(address, "wss://"))
                return ka_error_set(err, -EINVAL,
                                    "bus address \"%s\": websocket transports are not supported; use tcp:// (sealed "
                                    "with keyFile)",
                                    address);
        return ka_error_set(err, -EINVAL, "bus address \"%s\": expected inproc://, ipc:// or tcp://", address);
}

static int setopt(int s, int option, int value) {
        return nn_setsockopt(s, NN_SOL_SOCKET, option, &value, sizeof(value));
}

int ka_bus_socket_open(struct ka_bus_socket *s, const char *address, bool bind, size_t max_message_size,
                       int64_t reconnect_max_ms, struct ka_error *err) {
        enum ka_bus_transport t;
        int r = ka_bus_address_parse(address, &t, err);
        if (r < 0)
                return r;
        int nn = nn_socket(AF_SP, NN_BUS);
        if (nn < 0)
                return ka_error_set(err, -errno, "bus %s: cannot create a socket: %s", address, nn_strerror(errno));
        size_t maxsize = max_message_size > INT32_MAX / 2 ? INT32_MAX : max_message_size * 2;
        int64_t ivl_max = reconnect_max_ms < 100 ? 100 : reconnect_max_ms > INT32_MAX ? INT32_MAX : reconnect_max_ms;
        if (setopt(nn, NN_RCVMAXSIZE, (int)maxsize) < 0 || setopt(nn, NN_SNDBUF, SOCKET_BUFFER) < 0 ||
            setopt(nn, NN_RCVBUF, SOCKET_BUFFER) < 0 || setopt(nn, NN_RECONNECT_IVL, 100) < 0 ||
            setopt(nn, NN_RECONNECT_IVL_MAX, (int)ivl_max) < 0 ||
            (t == KA_BUS_TCP && strchr(address, '[') && setopt(nn, NN_IPV4ONLY, 0) < 0)) {
                int e = errno;
                nn_close(nn);
                return ka_error_set(err, -e, "bus %s: cannot set socket options: %s", address, nn_strerror(e));
        }
        int ep;
        if (bind && t == KA_BUS_IPC) {
                /* The socket file is the access control of ipc://: owner only.
                 * umask is per process; nothing else in kubeagent changes it. */
                mode_t old = umask(077);
                ep = nn_bind(nn, address);
                umask(old);
        } else {
                ep = bind ? nn_bind(nn, address) : nn_connect(nn, address);
        }
        if (ep < 0) {
                int e = errno;
                nn_close(nn);
                return ka_error_set(err, -e, "bus %s: cannot %s: %s", address, bind ? "listen" : "connect",
                                    nn_strerror(e));
        }
        int fd;
        size_t sz = sizeof(fd);
        if (nn_getsockopt(nn, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0) {
                int e = errno;
                nn_close(nn);
                return ka_error_set(err, -e, "bus %s: no pollable descriptor: %s", address, nn_strerror(e));
        }
        *s = (struct ka_bus_socket){.nn = nn, .rcvfd = fd, .address = ka_strdup(address), .bound = bind};
        return 0;
}

int ka_bus_socket_send(struct ka_bus_socket *s, const void *data, size_t len) {
        for (;;) {
                if (nn_send(s->nn, data, len, NN_DONTWAIT) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int ka_bus_socket_recv(struct ka_bus_socket *s, void **ret_data, size_t *ret_len) {
        for (;;) {
                void *msg = NULL;
                int n = nn_recv(s->nn, &msg, NN_MSG, NN_DONTWAIT);
                if (n >= 0) {
                        *ret_data = msg;
                        *ret_len = (size_t)n;
                        return 0;
                }
                if (errno != EINTR)
                        return -errno;
        }
}

void ka_bus_socket_msg_free(void *data) {
        if (data)
                nn_freemsg(data);
}

int ka_bus_socket_connections(const struct ka_bus_socket *s) {
        uint64_t n = nn_get_statistic(s->nn, NN_STAT_CURRENT_CONNECTIONS);
        return n == (uint64_t)-1 ? 0 : (int)n;
}

void ka_bus_socket_close(struct ka_bus_socket *s) {
        if (s->nn >= 0)
                nn_close(s->nn);
        free(s->address);
        *s = (struct ka_bus_socket)KA_BUS_SOCKET_INIT;
}
