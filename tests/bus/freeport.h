/* tests/bus/freeport.h — a TCP port on 127.0.0.1 that nobody listens on now
 * (the kernel picks one; a test then listens on it itself). */
#ifndef KA_TESTS_BUS_FREEPORT_H
#define KA_TESTS_BUS_FREEPORT_H

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int ka_test_free_port(void) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0)
                abort();
        close(s);
        return ntohs(a.sin_port);
}

#endif
