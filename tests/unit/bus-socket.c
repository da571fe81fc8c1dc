/* Unit tests for core/bus/socket: addresses, and NN_BUS sockets over ipc://
 * and tcp:// (owner-only ipc socket files, a message each way). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/freeport.h"
#include "bus/socket.h"
#include "tap.h"
#include "util/mem.h"

static void address(const char *a, int want, const char *msg_part) {
        enum ka_bus_transport t;
        struct ka_error err = {0};
        is_int(ka_bus_address_parse(a, &t, &err), want, "address \"%s\"", a);
        if (msg_part)
                like(err.msg, msg_part, "\"%s\": says why", a);
}

static void test_addresses(void) {
        address("inproc://kubeagent-workers", 0, NULL);
        address("ipc:///run/kubeagent/bus.sock", 0, NULL);
        address("tcp://127.0.0.1:7070", 0, NULL);
        address("tcp://*:7070", 0, NULL);
        address("tcp://core.example.com:7070", 0, NULL);
        address("tcp://[::1]:7070", 0, NULL);
        address("", -EINVAL, "empty bus address");
        address("inproc://", -EINVAL, "expected inproc://NAME");
        address("ipc://", -EINVAL, "expected ipc://PATH");
        address("tcp://host", -EINVAL, "expected tcp://HOST:PORT");
        address("tcp://host:0", -EINVAL, "from 1 to 65535");
        address("tcp://host:70000", -EINVAL, "from 1 to 65535");
        address("tcp://ho st:70", -EINVAL, "bad host name");
        address("tcp://[::1:70", -EINVAL, "[ADDRESS]");
        address("ws://host:80", -EINVAL, "websocket transports are not supported");
        address("udp://host:80", -EINVAL, "expected inproc://, ipc:// or tcp://");
        char long_path[200] = "ipc:///";
        memset(long_path + 7, 'x', 150);
        address(long_path, -EINVAL, "at most 107 bytes");
}

static bool exchange(struct ka_bus_socket *a, struct ka_bus_socket *b, const char *what) {
        /* the connection comes up in nanomsg's own thread: send until it is there */
        for (int i = 0; i < 200; i++) {
                ka_bus_socket_send(a, "ping", 4);
                struct pollfd p = {.fd = b->rcvfd, .events = POLLIN};
                if (poll(&p, 1, 10) > 0) {
                        void *data;
                        size_t len;
                        if (ka_bus_socket_recv(b, &data, &len) == 0) {
                                bool good = len == 4 && memcmp(data, "ping", 4) == 0;
                                ka_bus_socket_msg_free(data);
                                /* on a loaded machine several pings may be on their way:
                                 * take them all, so that the next check starts empty */
                                while (poll(&p, 1, 100) > 0 && ka_bus_socket_recv(b, &data, &len) == 0)
                                        ka_bus_socket_msg_free(data);
                                return good;
                        }
                }
        }
        tap_diag("%s: nothing arrived", what);
        return false;
}

static void test_pair(const char *addr, const char *what) {
        struct ka_bus_socket core = KA_BUS_SOCKET_INIT, peer = KA_BUS_SOCKET_INIT;
        struct ka_error err = {0};
        is_int(ka_bus_socket_open(&core, addr, true, 65536, 1000, &err), 0, "%s: bind", what);
        is_int(ka_bus_socket_open(&peer, addr, false, 65536, 1000, &err), 0, "%s: connect", what);
        ok(exchange(&peer, &core, what), "%s: peer to core", what);
        ok(exchange(&core, &peer, what), "%s: core to peer", what);
        void *data;
        size_t len;
        is_int(ka_bus_socket_recv(&core, &data, &len), -EAGAIN, "%s: recv never blocks", what);
        struct ka_bus_socket again = KA_BUS_SOCKET_INIT;
        if (strncmp(addr, "tcp", 3) == 0) {
                is_int(ka_bus_socket_open(&again, addr, true, 65536, 1000, &err), -EADDRINUSE,
                       "%s: a second listener is refused", what);
                like(err.msg, addr, "%s: naming the address", what);
        }
        ka_bus_socket_close(&peer);
        ka_bus_socket_close(&core);
        ka_bus_socket_close(&core); /* closing twice is harmless */
}

int main(void) {
        ka_mem_init();
        test_addresses();
        char dir[] = "/tmp/ka-bus-socket-XXXXXX";
        if (!mkdtemp(dir))
                abort();
        char addr[160], path[128];
        snprintf(path, sizeof(path), "%s/bus.sock", dir);
        snprintf(addr, sizeof(addr), "ipc://%s", path);
        struct ka_bus_socket s = KA_BUS_SOCKET_INIT;
        struct ka_error err = {0};
        is_int(ka_bus_socket_open(&s, addr, true, 65536, 1000, &err), 0, "ipc: bind");
        struct stat st;
        is_int(stat(path, &st), 0, "ipc: the socket file exists");
        is_int(st.st_mode & 077, 0, "ipc: only its owner may connect (mode %04o)", (unsigned)(st.st_mode & 0777));
        ka_bus_socket_close(&s);
        test_pair(addr, "ipc");
        snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", ka_test_free_port());
        test_pair(addr, "tcp");
        test_pair("inproc://socket-test", "inproc");
        unlink(path);
        rmdir(dir);
        return tap_done();
}
