/*
 * The fleet as a Modbus bus sees it: which meter answers at an address,
 * and its register image. The transports (protocols/) call these through
 * struct mb_bus_ops; requests go to the core's register entry points, so
 * Modbus sees exactly what every other channel sees.
 */
#ifndef SIM_BUS_H
#define SIM_BUS_H

#include "engine.h"
#include "protocols/modbus.h"

/* Addresses are the meters' own settings and change at run time (a
 * register write, the LCD, a scenario): a table from address to meter,
 * rebuilt after each write over the bus and at each engine step. */
struct bus {
    struct engine *engine;
    struct sim_meter *by_slave[MB_SLAVE_MAX + 1];
};

/* Fill ops for the engine's fleet, served through bus. */
void bus_ops_init(struct mb_bus_ops *ops, struct bus *bus, struct engine *e);

/* Rebuild the address table from the meters' settings. */
void bus_refresh(struct bus *bus);

/* The meter at a slave address, or NULL. */
struct sim_meter *bus_find(struct bus *bus, int slave);

#endif
