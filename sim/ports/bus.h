/*
 * The fleet as a Modbus bus sees it: which meter answers at an address,
 * and its register image. The transports (protocols/) call these through
 * struct mb_bus_ops; requests go to the core's register entry points, so
 * Modbus sees exactly what every other channel sees.
 */
#ifndef SIM_BUS_H
#define SIM_BUS_H

#include "sim/engine/engine.h"
#include "protocols/modbus.h"

/* Addresses are the meters' own settings and change at run time (a
 * register write, the LCD, a scenario): a table from address to meter,
 * rebuilt after each write over the bus and at each engine step. */
struct bus;

/* Who watches every Modbus frame of every transport (the TUI's traffic
 * panel and its communication icon). Arguments as struct
 * mb_bus_ops.traffic, plus the meter addressed (NULL: none answers). */
typedef void bus_traffic_fn(void *ctx, struct sim_meter *sm,
                            const char *transport, int slave,
                            const uint8_t *req, size_t reqlen,
                            const uint8_t *rsp, size_t rsplen);

struct bus {
    struct engine *engine;
    struct sim_meter *by_slave[MB_SLAVE_MAX + 1];
    bus_traffic_fn *observer;   /* optional, see bus_set_observer */
    void *observer_ctx;
};

/* Fill ops for the engine's fleet, served through bus. Transport log
 * lines go to the host's log (sim/base/log.h), frames to the observer. */
void bus_ops_init(struct mb_bus_ops *ops, struct bus *bus, struct engine *e);

/* Watch every frame from now on (fn NULL: stop). */
void bus_set_observer(struct bus *bus, bus_traffic_fn *fn, void *ctx);

/* Rebuild the address table from the meters' settings. */
void bus_refresh(struct bus *bus);

/* The meter at a slave address, or NULL. */
struct sim_meter *bus_find(struct bus *bus, int slave);

#endif
