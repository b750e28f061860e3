/*
 * What the fuzz targets share: a fleet of meters behind the same bus the
 * binary serves Modbus from (sim/ports/bus.c), built once per process.
 */
#ifndef TESTS_FUZZ_FLEET_H
#define TESTS_FUZZ_FLEET_H

#include "sim/engine/engine.h"
#include "sim/ports/bus.h"
#include "protocols/modbus.h"

struct fuzz_fleet {
    struct engine engine;
    struct bus bus;
    struct mb_bus_ops ops;
};

/* Three meters at slaves 1..3 with a steady load; aborts on failure. */
struct fuzz_fleet *fuzz_fleet(void);

#endif
