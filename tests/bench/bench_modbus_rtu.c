/*
 * Modbus RTU reply timing on the simulator's pty, against the real line.
 * For several read sizes, sends FC03 requests to slave 1 and measures
 * from the request's last byte (write() returned: the pty has it all) to
 * the reply's first byte and to its last, compared with the times a real
 * line takes: the 3.5-character silence that ends the request, then the
 * reply's characters, 11 bits each (the first arrives one character after
 * the silence). See docs/performance.md; run by scripts/bench-modbus.
 *
 * usage: bench_modbus_rtu PTY [BAUD [ITERATIONS]]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint16_t crc16(const uint8_t *b, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t k = 0; k < n; k++) {
        crc ^= b[k];
        for (int i = 0; i < 8; i++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : crc >> 1;
    }
    return crc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Read exactly len bytes within 5 s; *first: when the first came. */
static int read_reply(int fd, uint8_t *buf, size_t len, double *first)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0 && got == 0)
            *first = now();
        if (n > 0)
            got += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PTY [BAUD [ITERATIONS]]\n", argv[0]);
        return 2;
    }
    int baud = argc > 2 ? atoi(argv[2]) : 9600;
    int iters = argc > 3 ? atoi(argv[3]) : 100;
    static const int sizes[] = { 1, 10, 60, 125 };
    int fd = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK);
    struct termios t;

    if (fd < 0 || tcgetattr(fd, &t) < 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
        return 3;
    }
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
    tcflush(fd, TCIOFLUSH);
    double tchar = 11.0 / baud;
    double gap = baud > 19200 ? 0.00175 : 3.5 * tchar;
    double *lat = calloc((size_t)iters, sizeof(*lat));
    double *lat1 = calloc((size_t)iters, sizeof(*lat1));

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int regs = sizes[s];
        uint8_t req[8] = { 1, 3, 0, 0, 0, (uint8_t)regs };
        uint16_t crc = crc16(req, 6);
        req[6] = (uint8_t)crc;
        req[7] = (uint8_t)(crc >> 8);
        size_t rsplen = 5 + 2 * (size_t)regs;
        uint8_t rsp[260];
        double sum = 0, t1 = 0;

        for (int k = 0; k < iters; k++) {
            if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
                fprintf(stderr, "%s: write: %s\n", argv[0], strerror(errno));
                return 3;
            }
            double t0 = now();
            if (read_reply(fd, rsp, rsplen, &t1) < 0) {
                fprintf(stderr, "%s: no reply to a %d-register read\n",
                        argv[0], regs);
                return 3;
            }
            lat[k] = now() - t0;
            lat1[k] = t1 - t0;
            sum += lat[k];
        }
        qsort(lat, (size_t)iters, sizeof(*lat), cmp_d);
        qsort(lat1, (size_t)iters, sizeof(*lat1), cmp_d);
        double line1 = gap + tchar;
        double line = gap + (double)rsplen * tchar;
        printf("registers=%d reply=%zuB first byte: line=%.2fms p50=%.2fms "
               "p99=%.2fms (p50 - line = %+.2fms); last byte: line=%.2fms "
               "p50=%.2fms p99=%.2fms mean=%.2fms (p50 - line = %+.2fms)\n",
               regs, rsplen, line1 * 1e3, lat1[iters / 2] * 1e3,
               lat1[(int)(iters * 0.99)] * 1e3,
               (lat1[iters / 2] - line1) * 1e3, line * 1e3,
               lat[iters / 2] * 1e3, lat[(int)(iters * 0.99)] * 1e3,
               sum / iters * 1e3, (lat[iters / 2] - line) * 1e3);
    }
    free(lat);
    free(lat1);
    close(fd);
    return 0;
}
