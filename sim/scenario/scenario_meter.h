/*
 * The meter object of scenarios (scenario_meter.c): meter(n) and its
 * methods, and the per-meter state the runner keeps for them.
 */
#ifndef SIM_SCENARIO_METER_H
#define SIM_SCENARIO_METER_H

#include <stdbool.h>

#include "sim/scenario/scenario_int.h"

/* The metatable of meter objects and the global meter(). */
void sc_meter_register(lua_State *L);
/* Push the meter object of meter index (0-based). */
void sc_meter_push(lua_State *L, unsigned index);
/* The meter at idx: a meter object or its number (1..); false when it is
 * neither (nothing raised). */
bool sc_meter_arg(lua_State *L, int idx, unsigned *index);
/* The meters exist: their scenario state, from the engine's loads. 0, or
 * -1 when out of memory. */
int sc_meters_init(struct scenario *sc);
void sc_meters_free(struct scenario *sc);
/* A meter timer came up (outage end, ramp step, profile slot). */
void sc_meter_timer(struct scenario *sc, const struct sc_timer *t);

#endif
