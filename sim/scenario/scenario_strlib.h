/*
 * string.find, match, gmatch, gsub, string.rep and table.move with the
 * watchdog inside their C loops (scenario_strlib.c).
 */
#ifndef SIM_SCENARIO_STRLIB_H
#define SIM_SCENARIO_STRLIB_H

#include <lua.h>

/* Replace them in the string and table libraries already open. */
void sc_strlib_open(lua_State *L);

#endif
