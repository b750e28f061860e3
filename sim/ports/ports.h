/*
 * The meter's ports as the command line asks for them: Modbus TCP, Modbus
 * RTU on a pty or a serial device, RTU over TCP, and the faults injected
 * into all of them. The RTU line follows
 * the meter's own baud and parity settings, whoever changes them.
 */
#ifndef SIM_PORTS_H
#define SIM_PORTS_H

#include <stddef.h>

#include <ev.h>

#include "sim/base/lockfile.h"
#include "sim/ports/bus.h"
#include "sim/ports/endpoints.h"
#include "sim/engine/engine.h"
#include "sim/cli/options.h"
#include "protocols/modbus.h"
#include "protocols/modbus_fault.h"

struct mb_rtu;
struct mb_tcp;

struct ports {
    struct bus bus;             /* the fleet's addresses */
    struct mb_bus_ops ops;      /* the fleet, as the transports see it */
    struct mb_faults faults;    /* shared by both transports */
    struct mb_tcp *tcp;         /* NULL with --tcp off */
    struct mb_tcp *rtu_tcp;     /* RTU over TCP, NULL without --rtu-tcp */
    struct mb_rtu *rtu;         /* NULL without --rtu */
    int rtu_baud;               /* line settings the RTU port has now */
    char rtu_parity;
    struct ev_loop *loop;
    ev_timer line_due;          /* meter 0's settings changed: follow them
                                   once the request in progress is done */
    bool watching;              /* subscribed to the engine's changes */
    struct lockfile rtu_lock;   /* --rtu PATH.lock: one process per link */
};

/* Apply the command line's communication settings (--slave, --baud,
 * --parity) to the meters; they then persist like any setting. 0, or -1
 * with a message. */
int ports_configure_meters(struct engine *e, const struct sim_options *o,
                           char *err, size_t errlen);

/* Open the listeners. 0, or -1 with a message (port busy, ...). */
int ports_open(struct ports *p, struct ev_loop *loop, struct engine *e,
               const struct sim_options *o, char *err, size_t errlen);

/* Follow the meters' settings (their addresses, the RTU line speed and
 * parity) now. The open ports also follow every change by themselves:
 * they watch the engine's settings changes. */
void ports_sync(struct ports *p, const struct engine *e);

/* Add the open listeners to eps as bound: the TCP ports' own addresses,
 * the RTU link and its pty (or the serial device). */
void ports_endpoints(const struct ports *p, const struct sim_options *o,
                     struct endpoints *eps);

void ports_close(struct ports *p);

#endif
