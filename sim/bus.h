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

/* Fill ops for the engine's fleet. */
void bus_ops_init(struct mb_bus_ops *ops, struct engine *e);

/* The meter at a slave address, or NULL. */
struct sim_meter *bus_find(struct engine *e, int slave);

#endif
