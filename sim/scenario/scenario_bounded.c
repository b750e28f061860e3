/*
 * The string and table functions whose C loops run long without
 * allocating and without returning to Lua, bounded (docs/scenarios.md,
 * "Limits"): string.rep of empty strings answers at once, and table.move
 * over a huge range moves a chunk at a time with the watchdog between.
 * Pattern matching (string.find, match, gmatch, gsub) is Lua's own; a
 * match that outlasts the watchdog meets the backstop
 * (scenario_backstop.h).
 */
#include <lua.h>
#include <lauxlib.h>
#include <stdbool.h>

#include "sim/scenario/scenario_call.h"
#include "sim/scenario/scenario_bounded.h"

/* string.rep: with an empty string and separator the original loops n
 * times producing nothing (n up to 2^63). */
static int str_rep_bounded(lua_State *L)
{
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

#define SC_MOVE_CHUNK ((lua_Integer)1 << 16)

/* table.move(a1, f, e, t [,a2]): the original, a chunk of elements at a
 * time with the watchdog between (it loops without allocating over a
 * range of up to 2^63). Chunks go the way the elements must: upwards,
 * or downwards when the destination overlaps the source from above. */
static int tab_move_bounded(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    bool down = t > f && t <= e && (tt == 1 || lua_compare(L, 1, tt,
                                                            LUA_OPEQ));

    if (e < f || (f <= 0 && e >= LUA_MAXINTEGER + f) ||
        e - f < SC_MOVE_CHUNK || t > LUA_MAXINTEGER - (e - f)) {
        /* short, or an error the original reports */
        lua_settop(L, 5);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, 5, 1);
        return 1;
    }
    for (lua_Integer k = 0, n = e - f + 1; k < n; k += SC_MOVE_CHUNK) {
        lua_Integer len = n - k < SC_MOVE_CHUNK ? n - k : SC_MOVE_CHUNK;
        lua_Integer from = down ? e - k - len + 1 : f + k;
        sc_watchdog(L);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, 1);
        lua_pushinteger(L, from);
        lua_pushinteger(L, from + len - 1);
        lua_pushinteger(L, t + (from - f));
        lua_pushvalue(L, tt);
        lua_call(L, 5, 0);
    }
    lua_pushvalue(L, tt);
    return 1;
}

static void wrap(lua_State *L, const char *lib, const char *name,
                 lua_CFunction fn)
{
    lua_getglobal(L, lib);
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void sc_bounded_open(lua_State *L)
{
    wrap(L, "string", "rep", str_rep_bounded);
    wrap(L, "table", "move", tab_move_bounded);
}
