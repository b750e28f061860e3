/*
 * Modbus RTU server on a pseudo-terminal or a serial device, on a libev
 * loop.
 *
 * The meter's RS-485 port: clients (mbpoll, pymodbus, a SCADA driver)
 * open the pty's slave side, through a stable symlink, as a serial port.
 * A pty moves bytes instantly and ignores baud and parity, so the line is
 * modelled here: a frame ends after 3.5 characters of silence at the
 * configured speed, and the reply follows byte by byte as a real line
 * would carry it (docs/modbus.md). Given an existing serial device (a
 * USB-RS485 adapter), the port opens it at the line settings and serves it
 * the same way; its UART paces the bytes.
 */
#ifndef PROTOCOLS_MODBUS_RTU_H
#define PROTOCOLS_MODBUS_RTU_H

#include <stdbool.h>

#include "modbus.h"
#include "modbus_fault.h"

struct ev_loop;
struct mb_rtu;

/* How the port is set up. mb_rtu_config_default() fills the defaults. */
struct mb_rtu_config {
    const char *link;           /* symlink to create at the pty (NULL: none),
                                   or an existing serial device to serve */
    int baud;                   /* 1200, 2400, 4800, 9600 (the meter's), also
                                   19200, 38400, 57600, 115200 for tests */
    char parity;                /* 'E', 'O' or 'N' (none: 2 stop bits) */
    bool pace;                  /* replies leave at line speed */
    /* The line has a speed, and a meter set to another one hears garbage
     * and stays silent. hears(hears_ctx, slave, baud): does the meter at
     * slave listen at baud now? On a pty the speed is the client's own
     * (its termios, read at each frame); on a device, the port's. NULL
     * (the default): every meter answers at any speed, timed at the
     * port's. */
    bool (*hears)(void *hears_ctx, int slave, int baud);
    void *hears_ctx;
};

/* link NULL, 9600 baud, even parity, paced: the meter's factory setting. */
void mb_rtu_config_default(struct mb_rtu_config *cfg);

/* Bits on the line per character: 11 (start, 8 data, parity or a second
 * stop bit, stop). */
#define MB_RTU_BITS_PER_CHAR 11

/* Open the pty, make the symlink (or open the device at cfg->link: a
 * character device, or a symlink to one that is not a pty), start serving
 * on loop. ops is copied;
 * faults (may be NULL) is shared and must outlive the port. A symlink
 * already at cfg->link is replaced when it dangles or points at a pty;
 * anything else there is left alone and the open fails (-EEXIST). Returns
 * 0 and *out, or -errno after logging what failed (through ops->log). */
int mb_rtu_open(struct mb_rtu **out, struct ev_loop *loop,
                const struct mb_rtu_config *cfg, const struct mb_bus_ops *ops,
                struct mb_faults *faults);

/* Stop serving, remove the symlink (if it is still ours), close the pty. */
void mb_rtu_close(struct mb_rtu *rtu);

/* The pty's slave device, e.g. "/dev/pts/3". */
const char *mb_rtu_pty(const struct mb_rtu *rtu);

/* The symlink, or NULL. */
const char *mb_rtu_link(const struct mb_rtu *rtu);

/* Change the line settings at run time (a register write or the LCD did):
 * they apply from the next character. Returns 0 or -EINVAL. */
int mb_rtu_set_line(struct mb_rtu *rtu, int baud, char parity);

/* Pace replies at line speed (true) or send them as soon as the frame
 * has ended (false). The 3.5-character frame end applies either way. */
void mb_rtu_set_pacing(struct mb_rtu *rtu, bool on);

/* Counters since open. */
const struct mb_stats *mb_rtu_stats(const struct mb_rtu *rtu);

struct mb_engine;

/* Serve one RTU frame f[0..len-1] as received (address, PDU, CRC), the
 * way the line does, for RTU framing on any transport: a bad CRC, a runt
 * or an overlong frame, a broadcast (applied) and an absent slave get
 * silence (0, counted in stats); otherwise the reply is built into rsp and
 * its length returned, with the faults' verdict in *act (a bad-CRC fault
 * is already applied). -1: libmodbus built no reply (logged). hears
 * (may be NULL: all do): which present meters heard the frame at all. */
int mb_rtu_answer(struct mb_engine *eng, const struct mb_bus_ops *ops,
                  struct mb_faults *faults, struct mb_stats *stats,
                  bool (*hears)(void *ctx, int slave), void *hears_ctx,
                  const uint8_t *f, size_t len, uint8_t *rsp, size_t cap,
                  struct mb_fault_action *act);


#endif
