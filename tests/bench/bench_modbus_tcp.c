/*
 * Modbus TCP load: CONNS connections, each a thread sending one FC03
 * request and waiting for its reply, again and again, for SECONDS.
 * Prints requests/s and the p50/p99 round-trip latency over all requests.
 * See docs/performance.md; run by scripts/bench-modbus.
 *
 * usage: bench_modbus_tcp HOST PORT CONNS SECONDS [REGISTERS [UNIT]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
    pthread_t th;
    const char *host, *port;
    int regs, unit;
    double seconds;
    uint32_t *lat_ns;           /* one per completed request */
    size_t n, cap;
    int failed;                 /* errno-ish reason, 0 ok */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = { 0 }, *res;
    int fd = -1;

    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res))
        return -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    uint8_t req[12], rsp[7 + 2 + 250];
    size_t rsplen = 9 + 2 * (size_t)w->regs;
    uint16_t tid = 0;
    int fd = connect_to(w->host, w->port);

    if (fd < 0) {
        w->failed = errno ? errno : ECONNREFUSED;
        return NULL;
    }
    double end = now() + w->seconds;
    for (;;) {
        double t0 = now();
        if (t0 >= end)
            break;
        tid++;
        uint8_t q[] = { (uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6,
                        (uint8_t)w->unit, 3, 0, 0x30, 0, (uint8_t)w->regs };
        memcpy(req, q, sizeof(req));
        if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req) ||
            read_all(fd, rsp, rsplen) < 0) {
            w->failed = EPIPE;
            break;
        }
        if (rsp[0] != req[0] || rsp[1] != req[1] || rsp[7] != 3) {
            w->failed = EPROTO;
            break;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 65536;
            w->lat_ns = realloc(w->lat_ns, w->cap * sizeof(*w->lat_ns));
            if (!w->lat_ns) {
                w->failed = ENOMEM;
                break;
            }
        }
        w->lat_ns[w->n++] = (uint32_t)((now() - t0) * 1e9);
    }
    close(fd);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST PORT CONNS SECONDS [REGISTERS [UNIT]]"
                "\n", argv[0]);
        return 2;
    }
    int conns = atoi(argv[3]);
    double seconds = atof(argv[4]);
    int regs = argc > 5 ? atoi(argv[5]) : 10;
    int unit = argc > 6 ? atoi(argv[6]) : 1;
    if (conns < 1 || conns > 1000 || seconds <= 0 || regs < 1 || regs > 125) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    struct worker *w = calloc((size_t)conns, sizeof(*w));
    for (int k = 0; k < conns; k++) {
        w[k] = (struct worker){ .host = argv[1], .port = argv[2],
                                .regs = regs, .unit = unit,
                                .seconds = seconds };
        pthread_create(&w[k].th, NULL, run, &w[k]);
    }
    size_t total = 0;
    int failed = 0;
    for (int k = 0; k < conns; k++) {
        pthread_join(w[k].th, NULL);
        total += w[k].n;
        if (w[k].failed) {
            fprintf(stderr, "%s: connection %d: %s\n", argv[0], k,
                    strerror(w[k].failed));
            failed = 1;
        }
    }
    uint32_t *all = malloc((total ? total : 1) * sizeof(*all));
    size_t at = 0;
    for (int k = 0; k < conns; k++) {
        if (w[k].n)
            memcpy(all + at, w[k].lat_ns, w[k].n * sizeof(*all));
        at += w[k].n;
        free(w[k].lat_ns);
    }
    qsort(all, total, sizeof(*all), cmp_u32);
    double p50 = total ? all[total / 2] / 1e3 : 0;
    double p99 = total ? all[(size_t)((double)total * 0.99)] / 1e3 : 0;
    printf("conns=%d registers=%d requests=%zu rate=%.0f/s p50=%.1fus "
           "p99=%.1fus\n", conns, regs, total, (double)total / seconds, p50,
           p99);
    free(all);
    free(w);
    return failed;
}
