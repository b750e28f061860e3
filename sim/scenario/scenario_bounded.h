/*
 * string.rep and table.move with the watchdog inside their C loops
 * (scenario_bounded.c).
 */
#ifndef SIM_SCENARIO_BOUNDED_H
#define SIM_SCENARIO_BOUNDED_H

#include <lua.h>

/* Replace them in the string and table libraries already open. */
void sc_bounded_open(lua_State *L);

#endif
