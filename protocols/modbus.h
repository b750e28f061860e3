/*
 * The Modbus transports' side of the meter: what a transport (RTU on a
 * pseudo-terminal, Modbus TCP) asks of the meters behind it, and what the
 * transports share. A transport knows nothing of the core: the host hands
 * it a struct mb_bus_ops and it calls back for every request.
 *
 * Include as "protocols/modbus.h" (the project root is on the include
 * path): libmodbus has a header of the same name.
 *
 * Everything here runs on one libev loop; nothing blocks and nothing is
 * thread-safe.
 */
#ifndef PROTOCOLS_MODBUS_H
#define PROTOCOLS_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modbus exception codes the transports send. The ops return the first
 * four (the core's METER_EX_* have the same values); the others come from
 * the transports themselves. */
enum mb_exception {
    MB_EX_NONE = 0,
    MB_EX_ILLEGAL_FUNCTION = 0x01,
    MB_EX_ILLEGAL_ADDRESS = 0x02,
    MB_EX_ILLEGAL_VALUE = 0x03,
    MB_EX_DEVICE_FAILURE = 0x04,
    MB_EX_BUSY = 0x06,              /* fault injection: "busy" */
    MB_EX_GATEWAY_TARGET = 0x0B,    /* TCP: no meter at that unit id */
};

/* Addresses on a bus: 0 is broadcast, 248..255 are reserved. */
#define MB_BROADCAST 0
#define MB_SLAVE_MIN 1
#define MB_SLAVE_MAX 247

/* Function codes served; every other one gets MB_EX_ILLEGAL_FUNCTION. */
#define MB_FC_READ_HOLDING 0x03
#define MB_FC_WRITE_SINGLE 0x06
#define MB_FC_WRITE_MULTIPLE 0x10

/* Register counts per request (Modbus application protocol 1.1b3). */
#define MB_MAX_READ 125
#define MB_MAX_WRITE 123

/* Severity of a log line. */
enum mb_log_level { MB_LOG_ERR = 0, MB_LOG_WARN = 1, MB_LOG_INFO = 2,
                    MB_LOG_DEBUG = 3 };

/* What a Modbus transport asks of the meters behind it. Every callback
 * is called on the loop; read and write are called only for a slave
 * present() said yes to. */
struct mb_bus_ops {
    void *ctx;                  /* passed back to every callback */
    /* a meter answers at this address (addresses change at run time) */
    bool (*present)(void *ctx, int slave);
    /* FC03: fill out[0..count-1]; 0 or a Modbus exception code */
    int (*read)(void *ctx, int slave, uint16_t addr, uint16_t count,
                uint16_t *out);
    /* FC06 (count 1) and FC16 (fc says which): 0 or a Modbus exception
     * code */
    int (*write)(void *ctx, int slave, uint8_t fc, uint16_t addr,
                 uint16_t count, const uint16_t *in);
    /* optional observer of every frame: transport "rtu" or "tcp", slave
     * the address / unit id byte on the wire; rsp NULL when the frame got
     * no reply (silence, broadcast, fault). Called when the reply leaves. */
    void (*traffic)(void *ctx, const char *transport, int slave,
                    const uint8_t *req, size_t reqlen,
                    const uint8_t *rsp, size_t rsplen);
    /* optional log sink: one line, no prefix, no newline. NULL: lines up
     * to MB_LOG_INFO go to stderr as "kpm31c-sim: <line>". */
    void (*log)(void *ctx, int level, const char *line);
};

/* Counters a transport keeps since it opened. */
struct mb_stats {
    uint64_t requests;          /* frames addressed to a present meter */
    uint64_t replies;           /* replies sent, exceptions included */
    uint64_t exceptions;        /* exception replies sent */
    uint64_t broadcasts;        /* RTU broadcast writes delivered */
    uint64_t ignored;           /* RTU: other slave; TCP: unknown unit */
    uint64_t bad_frames;        /* RTU: bad CRC, too short or too long */
    uint64_t dropped;           /* replies lost: fault, line busy, full */
    uint64_t faults;            /* requests a fault acted on */
};

/* The lowest address present() says yes to, or -1 when none answers. */
int mb_first_slave(const struct mb_bus_ops *ops);

/* Log through ops->log, or to stderr with the "kpm31c-sim: " prefix. */
void mb_log(const struct mb_bus_ops *ops, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CRC-16/MODBUS of buf (the RTU frame check, sent low byte first). */
uint16_t mb_crc16(const uint8_t *buf, size_t len);

#endif
