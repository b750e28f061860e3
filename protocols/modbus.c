/*
 * What the Modbus transports share: logging, the CRC, and the request
 * engine (validate, call the meter, let libmodbus build the reply).
 */
#include "modbus_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int mb_first_slave(const struct mb_bus_ops *ops)
{
    for (int s = MB_SLAVE_MIN; s <= MB_SLAVE_MAX; s++)
        if (ops->present(ops->ctx, s))
            return s;
    return -1;
}

void mb_log(const struct mb_bus_ops *ops, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ops && ops->log)
        ops->log(ops->ctx, level, line);
    else if (level <= MB_LOG_INFO)
        fprintf(stderr, "kpm31c-sim: %s\n", line);
}

uint16_t mb_crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xFFFF;

    for (size_t k = 0; k < len; k++) {
        crc ^= buf[k];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : crc >> 1;
    }
    return crc;
}

int mb_engine_init(struct mb_engine *e, bool rtu, char *err, size_t errlen)
{
    int sv[2];

    memset(e, 0, sizeof(*e));
    e->cap_tx = e->cap_rx = -1;
    /* Datagram boundaries: one send by libmodbus is one reply. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0) {
        int e0 = errno;
        snprintf(err, errlen, "socketpair: %s", strerror(e0));
        return -e0;
    }
    e->cap_tx = sv[0];
    e->cap_rx = sv[1];
    /* The device name and port are never used: no connect, no listen. */
    e->mb = rtu ? modbus_new_rtu("/dev/null", 9600, 'E', 8, 1)
                : modbus_new_tcp("127.0.0.1", 502);
    if (!e->mb) {
        int e0 = errno ? errno : ENOMEM;
        snprintf(err, errlen, "libmodbus context: %s", modbus_strerror(e0));
        mb_engine_fini(e);
        return -e0;
    }
    modbus_set_socket(e->mb, e->cap_tx);
    e->map.tab_registers = e->regs;
    return 0;
}

void mb_engine_fini(struct mb_engine *e)
{
    if (e->mb)
        modbus_free(e->mb);
    if (e->cap_tx >= 0)
        close(e->cap_tx);
    if (e->cap_rx >= 0)
        close(e->cap_rx);
    e->mb = NULL;
    e->cap_tx = e->cap_rx = -1;
}

void mb_request_parse(const uint8_t *pdu, size_t len, struct mb_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    if (len < 1) {
        rq->invalid = MB_EX_ILLEGAL_FUNCTION;
        return;
    }
    rq->fc = pdu[0];
    switch (rq->fc) {
    case MB_FC_READ_HOLDING:
        if (len != 5) {
            rq->invalid = MB_EX_ILLEGAL_VALUE;
            return;
        }
        rq->addr = (uint16_t)(pdu[1] << 8 | pdu[2]);
        rq->count = (uint16_t)(pdu[3] << 8 | pdu[4]);
        rq->has_addr = true;
        if (rq->count < 1 || rq->count > MB_MAX_READ)
            rq->invalid = MB_EX_ILLEGAL_VALUE;
        return;
    case MB_FC_WRITE_SINGLE:
        if (len != 5) {
            rq->invalid = MB_EX_ILLEGAL_VALUE;
            return;
        }
        rq->addr = (uint16_t)(pdu[1] << 8 | pdu[2]);
        rq->count = 1;
        rq->values = pdu + 3;
        rq->has_addr = true;
        return;
    case MB_FC_WRITE_MULTIPLE:
        if (len < 6) {
            rq->invalid = MB_EX_ILLEGAL_VALUE;
            return;
        }
        rq->addr = (uint16_t)(pdu[1] << 8 | pdu[2]);
        rq->count = (uint16_t)(pdu[3] << 8 | pdu[4]);
        rq->values = pdu + 6;
        rq->has_addr = true;
        if (rq->count < 1 || rq->count > MB_MAX_WRITE ||
            pdu[5] != rq->count * 2 || len != 6u + pdu[5])
            rq->invalid = MB_EX_ILLEGAL_VALUE;
        return;
    default:
        rq->invalid = MB_EX_ILLEGAL_FUNCTION;
        return;
    }
}

/* A code the ops may return, else "server device failure". */
static int sane_exception(int ex)
{
    if (ex > 0 && ex < MODBUS_EXCEPTION_MAX && ex != MODBUS_EXCEPTION_NOT_DEFINED)
        return ex;
    return MB_EX_DEVICE_FAILURE;
}

int mb_engine_execute(struct mb_engine *e, const struct mb_bus_ops *ops,
                      int slave, const struct mb_request *rq)
{
    uint16_t in[MB_MAX_WRITE];
    int ex;

    if (rq->invalid)
        return rq->invalid;
    switch (rq->fc) {
    case MB_FC_READ_HOLDING:
        ex = ops->read(ops->ctx, slave, rq->addr, rq->count, e->regs);
        break;
    case MB_FC_WRITE_SINGLE:
    case MB_FC_WRITE_MULTIPLE:
        for (unsigned k = 0; k < rq->count; k++)
            in[k] = (uint16_t)(rq->values[2 * k] << 8 | rq->values[2 * k + 1]);
        ex = ops->write(ops->ctx, slave, rq->fc, rq->addr, rq->count,
                        in);
        break;
    default:
        return MB_EX_ILLEGAL_FUNCTION;
    }
    if (ex)
        return sane_exception(ex);
    /* A mapping of exactly the request's registers: modbus_reply finds
     * them in range and echoes writes into this scratch copy. */
    e->map.start_registers = rq->addr;
    e->map.nb_registers = rq->count;
    return 0;
}

int mb_engine_serve(struct mb_engine *e, const struct mb_bus_ops *ops,
                    struct mb_faults *faults,
                    enum mb_fault_transport transport, struct mb_stats *stats,
                    int slave, const struct mb_request *rq,
                    struct mb_fault_action *act)
{
    stats->requests++;
    if (mb_faults_decide(faults, transport, slave, rq->has_addr, rq->addr,
                         rq->count, act))
        stats->faults++;
    if (act->noreply) {
        stats->dropped++;
        return -1;
    }
    if (act->busy)
        return MB_EX_BUSY;
    return mb_engine_execute(e, ops, slave, rq);
}

int mb_engine_reply(struct mb_engine *e, const uint8_t *adu, size_t len,
                    int ex, uint8_t *rsp, size_t cap)
{
    int rc;

    if (ex) {
        /* An exception's code is the request's with bit 7 set; libmodbus
         * adds 0x80, which wraps a code that has it already (0x83 would
         * answer 0x03, a normal reply): give it the code without bit 7.
         * Only the header and the code are read. */
        uint8_t head[8];            /* MBAP (7 bytes) and the code */
        int h = modbus_get_header_length(e->mb);
        if (h < 0 || len < (size_t)h + 1 || (size_t)h + 1 > sizeof head)
            return -1;
        memcpy(head, adu, (size_t)h + 1);
        head[h] &= 0x7F;
        rc = modbus_reply_exception(e->mb, head, (unsigned)ex);
    } else
        rc = modbus_reply(e->mb, adu, (int)len, &e->map);
    if (rc <= 0)
        return rc;
    ssize_t n = recv(e->cap_rx, rsp, cap, MSG_DONTWAIT);
    if (n != rc)
        return -1;
    return (int)n;
}
