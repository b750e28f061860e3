/*
 * The scenario's Modbus poller (scenario_poll.c): modbus.poll{} starts a
 * real Modbus TCP master (sim/ports/poller.h) on the process's own
 * listener, modbus.listening() says where that listener is.
 */
#ifndef SIM_SCENARIO_POLL_H
#define SIM_SCENARIO_POLL_H

#include <lua.h>

/* Add poll and listening to the table on top of the stack (modbus), and
 * the pollers' metatable. */
void sc_poll_register(lua_State *L);

#endif
