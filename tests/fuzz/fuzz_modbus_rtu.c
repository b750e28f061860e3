/*
 * libFuzzer target: Modbus RTU as the binary serves it. Each input is one
 * frame without its CRC, sent on the real pty line
 * (protocols/modbus_rtu.c, 115200 baud, no pacing) with the right CRC
 * appended, so that framing, broadcasts, the request path and the meters'
 * register image (sim/ports/bus.c) all see it; the first byte of the
 * input chosen odd sends it with a wrong CRC instead. Waits for the frame
 * to be decided (or 5 ms for one nothing counts) and drains the reply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <ev.h>

#include "protocols/modbus_rtu.h"
#include "tests/fuzz/fuzz_fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct mb_rtu *rtu;
static int line = -1;

static void start(void)
{
    struct mb_rtu_config cfg;
    struct termios t;

    loop = ev_loop_new(EVFLAG_AUTO);
    mb_rtu_config_default(&cfg);
    cfg.baud = 115200;
    cfg.parity = 'N';
    cfg.pace = false;
    if (!loop || mb_rtu_open(&rtu, loop, &cfg, &fuzz_fleet()->ops, NULL)) {
        fprintf(stderr, "fuzz: cannot open the RTU line\n");
        abort();
    }
    line = open(mb_rtu_pty(rtu), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (line < 0 || tcgetattr(line, &t) < 0) {
        perror("fuzz: the pty");
        abort();
    }
    cfmakeraw(&t);
    tcsetattr(line, TCSANOW, &t);
}

static uint64_t decided(void)
{
    const struct mb_stats *s = mb_rtu_stats(rtu);
    return s->requests + s->ignored + s->bad_frames + s->broadcasts +
           s->replies + s->dropped;
}

static void timeout_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)revents;
    *(bool *)w->data = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t frame[600], buf[512];
    bool late = false;
    ev_timer limit;

    if (!loop)
        start();
    if (size < 2 || size > 512)
        return 0;
    bool bad_crc = data[0] & 1;
    size--;
    memcpy(frame, data + 1, size);
    uint16_t crc = (uint16_t)(mb_crc16(frame, size) ^ (bad_crc ? 0x5A5A : 0));
    frame[size++] = (uint8_t)(crc & 0xFF);
    frame[size++] = (uint8_t)(crc >> 8);

    uint64_t before = decided();
    if (write(line, frame, size) != (ssize_t)size) {
        perror("fuzz: write");
        abort();
    }
    ev_timer_init(&limit, timeout_cb, 0.005, 0.);
    limit.data = &late;
    ev_timer_start(loop, &limit);
    while (decided() == before && !late)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &limit);
    ev_run(loop, EVRUN_NOWAIT);
    while (read(line, buf, sizeof buf) > 0)
        ;
    return 0;
}
