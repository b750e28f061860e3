/*
 * Modbus TCP server on a libev loop: many clients, each framed by its
 * MBAP header without blocking, the unit id selecting the meter. The same
 * server speaks "RTU over TCP" (serial-to-Ethernet gateways): RTU frames,
 * address and CRC, no MBAP header, answered as the serial line answers.
 *
 * Unit ids (docs/modbus.md): 1..247 address that meter; 0 and 255 address
 * the meter with the lowest address (a TCP server is one device to its
 * clients, and most clients send 0, 1 or 255 by default); a unit no meter
 * answers gets exception 0x0B (gateway target failed to respond).
 */
#ifndef PROTOCOLS_MODBUS_TCP_H
#define PROTOCOLS_MODBUS_TCP_H

#include <stddef.h>

#include "modbus.h"
#include "modbus_fault.h"

struct ev_loop;
struct mb_tcp;

/* Connections served at once unless told otherwise: the one default of
 * the library and of kpm31c-sim --tcp-max-clients. */
#define MB_TCP_MAX_CLIENTS_DEFAULT 64

/* Seconds a client may take to complete a frame it has begun, unless told
 * otherwise: the one default of the library and of kpm31c-sim
 * --tcp-frame-timeout. */
#define MB_TCP_FRAME_TIMEOUT_DEFAULT 1.0

enum mb_tcp_framing {
    MB_TCP_FRAMING_MBAP = 0,    /* Modbus TCP */
    MB_TCP_FRAMING_RTU = 1,     /* RTU over TCP: the RTU frame, CRC included */
};

/* The listener's settings. mb_tcp_config_default() fills the defaults. */
struct mb_tcp_config {
    const char *host;           /* address to bind (default "127.0.0.1") */
    int port;                   /* port (default 1502; 0: any free one) */
    int max_clients;            /* connections served at once (default
                                   MB_TCP_MAX_CLIENTS_DEFAULT) */
    double idle_timeout;        /* s without a whole request before a client
                                   is closed (default 60; 0: never) */
    double frame_timeout;       /* s a begun frame may stay incomplete before
                                   the client is closed (default
                                   MB_TCP_FRAME_TIMEOUT_DEFAULT; 0: never) */
    enum mb_tcp_framing framing; /* default MB_TCP_FRAMING_MBAP */
};

void mb_tcp_config_default(struct mb_tcp_config *cfg);

/* Bind, listen and start serving on loop. With every slot taken, a new
 * connection closes the idlest client (one that never sent a whole
 * request first, stalled mid-frame before silent; then the one whose last
 * request is oldest). ops is copied; faults (may be
 * NULL) is shared and must outlive the server. Returns 0 and *out, or
 * -errno (-EADDRINUSE, -EACCES, ...) after logging the reason with the
 * address (through ops->log). */
int mb_tcp_open(struct mb_tcp **out, struct ev_loop *loop,
                const struct mb_tcp_config *cfg, const struct mb_bus_ops *ops,
                struct mb_faults *faults);

/* Close every client and the listener. */
void mb_tcp_close(struct mb_tcp *tcp);

/* The port actually bound (useful with port "0"). */
int mb_tcp_port(const struct mb_tcp *tcp);

/* The address actually bound, as the listening socket reports it:
 * host[0..hostlen) ("127.0.0.1", "::1", "0.0.0.0") and the port. 0, or
 * -errno. */
int mb_tcp_address(const struct mb_tcp *tcp, char *host, size_t hostlen,
                   int *port);

/* Clients connected now. */
int mb_tcp_clients(const struct mb_tcp *tcp);

/* Counters since open. */
const struct mb_stats *mb_tcp_stats(const struct mb_tcp *tcp);

#endif
