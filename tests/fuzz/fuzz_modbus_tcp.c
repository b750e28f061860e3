/*
 * libFuzzer target: Modbus TCP as the binary serves it. Each input is
 * what one client sends on one connection (any bytes: MBAP headers,
 * partial frames, many frames); the real listener (protocols/modbus_tcp.c)
 * frames it and serves the meters' register image through the bus
 * (sim/ports/bus.c). The client then closes its side; the server must
 * answer what was whole and close. tests/fuzz/README.md says how to run it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "protocols/modbus_tcp.h"
#include "tests/fuzz/fuzz_fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct mb_tcp *tcp;

static void start(void)
{
    struct mb_tcp_config cfg;

    loop = ev_loop_new(EVFLAG_AUTO);
    mb_tcp_config_default(&cfg);
    cfg.port = 0;
    if (!loop || mb_tcp_open(&tcp, loop, &cfg, &fuzz_fleet()->ops, NULL)) {
        fprintf(stderr, "fuzz: cannot listen\n");
        abort();
    }
}

static int connect_to(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 &&
                   errno != EINPROGRESS)) {
        perror("fuzz: connect");
        abort();
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t buf[4096];
    size_t sent = 0;
    bool shut = false;

    if (!loop)
        start();
    int fd = connect_to(mb_tcp_port(tcp));
    /* send, serve, read the answers, until the server closes */
    for (long spins = 0;; spins++) {
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        } else if (!shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        ev_run(loop, EVRUN_NOWAIT);
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR &&
                       errno != ENOTCONN))
            break;
        if (spins > 1000000) {
            fprintf(stderr, "fuzz: the server neither answered nor "
                    "closed the connection\n");
            abort();
        }
    }
    close(fd);
    ev_run(loop, EVRUN_NOWAIT);
    return 0;
}
