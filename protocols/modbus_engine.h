/*
 * Private to protocols/: the request engine both transports share.
 *
 * A transport frames a request (RTU by silence, TCP by its MBAP header),
 * resolves the meter, then:
 *   mb_request_parse    decode and validate the PDU (function, counts)
 *   mb_engine_serve     let the faults decide, then (unless dropped or
 *                       "busy") mb_engine_execute: call ops->read /
 *                       ops->write for the meter
 *   mb_engine_reply     let libmodbus build the reply (modbus_reply over a
 *                       mapping of just the request's registers, or
 *                       modbus_reply_exception) and capture its bytes
 *
 * libmodbus only ever sends: its context's socket is one end of a local
 * socketpair, so a reply is never written half to a slow client. The
 * transport owns the bytes and sends them when and how it likes (paced,
 * delayed, queued), and libmodbus's blocking receive is never used.
 */
#ifndef PROTOCOLS_MODBUS_ENGINE_H
#define PROTOCOLS_MODBUS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <modbus.h>     /* libmodbus: protocols/ is not on the include path */

#include "modbus.h"
#include "modbus_fault.h"

/* Largest ADU either transport sends or takes (TCP: 7 + 253). */
#define MB_ADU_MAX 260

/* One decoded request PDU. */
struct mb_request {
    uint8_t fc;                 /* function code */
    bool has_addr;              /* fc is one we serve, addr/count decoded */
    uint16_t addr;              /* first register */
    uint16_t count;             /* registers (1 for FC06) */
    int invalid;                /* exception found by validation, or 0 */
    const uint8_t *values;      /* FC06/FC16: big-endian values in the PDU */
};

/* A libmodbus context and the capture socketpair. */
struct mb_engine {
    modbus_t *mb;               /* builds every reply */
    int cap_tx;                 /* libmodbus writes replies here */
    int cap_rx;                 /* ... and the engine reads them back here */
    modbus_mapping_t map;       /* the request's registers only */
    uint16_t regs[MB_MAX_READ]; /* backing store of map */
};

/* rtu: an RTU context (1-byte header, CRC) or a TCP one (MBAP). Returns 0
 * or -errno with a message in err. */
int mb_engine_init(struct mb_engine *e, bool rtu, char *err, size_t errlen);
void mb_engine_fini(struct mb_engine *e);

/* Decode pdu[0..len-1] (function code first). */
void mb_request_parse(const uint8_t *pdu, size_t len, struct mb_request *rq);

/* Apply rq to the meter at slave through ops and prepare the mapping for
 * the reply. Returns 0 or the exception code to answer. */
int mb_engine_execute(struct mb_engine *e, const struct mb_bus_ops *ops,
                      int slave, const struct mb_request *rq);

/* A request for a present meter, as both transports serve it: counted in
 * stats, then the faults for transport decide (*act: delay, bad CRC, ...).
 * Returns -1 when a fault drops it (counted; no reply, nothing applied),
 * MB_EX_BUSY when a fault answers "busy" instead, else what
 * mb_engine_execute returns. faults may be NULL. */
int mb_engine_serve(struct mb_engine *e, const struct mb_bus_ops *ops,
                    struct mb_faults *faults,
                    enum mb_fault_transport transport, struct mb_stats *stats,
                    int slave, const struct mb_request *rq,
                    struct mb_fault_action *act);

/* Build the reply to adu (the whole frame as received: RTU with its CRC,
 * TCP with its MBAP header) with libmodbus: the normal reply when ex is 0,
 * else exception ex. Copies it to rsp; returns its length, or -1. */
int mb_engine_reply(struct mb_engine *e, const uint8_t *adu, size_t len,
                    int ex, uint8_t *rsp, size_t cap);

#endif
