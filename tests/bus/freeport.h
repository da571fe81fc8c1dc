/* tests/bus/freeport.h — a TCP port on 127.0.0.1 that nobody listens on now
 * (a test then listens on it itself).
 *
 * The port is below the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range), never in it: a peer that keeps
 * dialling a port of that range while nobody listens (a core not started
 * yet, or killed and starting again) may be given that very port as its
 * own source port, and Linux then connects the socket to itself (TCP
 * simultaneous open) -- the peer talks to itself for ever and never
 * reaches the listener that comes up afterwards. */
#ifndef KA_TESTS_BUS_FREEPORT_H
#define KA_TESTS_BUS_FREEPORT_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline int ka_test_free_port(void) {
        int low = 32768; /* the kernel's default start of the range */
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
                if (fscanf(f, "%d", &low) != 1)
                        low = 32768;
                fclose(f);
        }
        const int first = 10000;
        /* no room below the range: a test would risk the self-connection */
        if (low <= first + 100)
                abort();
        /* one sequence per program: two calls give two ports */
        static unsigned seed;
        if (!seed)
                seed = ((unsigned)getpid() << 16) ^ (unsigned)time(NULL) ^ 1u;
        for (int tries = 0; tries < 1000; tries++) {
                int port = first + (int)(rand_r(&seed) % (unsigned)(low - first));
                int s = socket(AF_INET, SOCK_STREAM, 0);
                if (s < 0)
                        abort();
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_port = htons((uint16_t)port),
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int r = bind(s, (struct sockaddr *)&a, sizeof(a));
                close(s);
                if (r == 0)
                        return port;
        }
        abort();
}

#endif
