/*
 * The scenario's global functions (scenario_api.c): setup, time, hooks,
 * faults, the in-process Modbus client, MQTT, files.
 */
#ifndef SIM_SCENARIO_API_H
#define SIM_SCENARIO_API_H

#include <lua.h>

/* Set the globals and metatables; leaves the private table for the
 * prelude on the stack. */
void sc_api_register(lua_State *L);

#endif
