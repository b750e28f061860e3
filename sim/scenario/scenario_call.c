/*
 * What every C function the script calls needs (scenario_call.h): errors
 * raised at the script's line, durations and times from Lua values, the
 * scenario's clock and timers, and the yield that waits for the meters.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/meter.h"
#include "sim/base/monotonic.h"
#include "sim/scenario/scenario_call.h"
#include "sim/base/timeparse.h"

/* ---- errors at the script's line ---- */

int sc_error(lua_State *L, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sc_raise(L, 1, msg);
}

int sc_raise(lua_State *L, int level, const char *msg)
{
    char where[300];

    /* the script's line, past the prelude's frames (csv(), require()) */
    sc_where(L, level, where, sizeof where);
    lua_pushfstring(L, "%s%s%s", where, where[0] ? " " : "", msg);
    return lua_error(L);
}

void sc_mem_message(const struct scenario *sc, char *buf, size_t len)
{
    if (sc->mem.limit)
        snprintf(buf, len, "out of memory: the scenario uses more than "
                 "%zu MiB (the sandbox's cap, --lua-memory)",
                 sc->mem.limit >> 20);
    else
        snprintf(buf, len, "out of memory");
}

int sc_error_mem(lua_State *L)
{
    char msg[160];
    sc_mem_message(sc_of(L), msg, sizeof msg);
    return sc_raise(L, 1, msg);
}

/* ---- the watchdog ---- */

static void watchdog_hook(lua_State *L, lua_Debug *ar)
{
    sc_watchdog(L);
}

void sc_watchdog_arm(lua_State *L, bool fired)
{
    lua_sethook(L, watchdog_hook, LUA_MASKCOUNT,
                fired ? 1 : SC_WATCHDOG_COUNT);
}

void sc_watchdog(lua_State *L)
{
    struct scenario *sc = sc_of(L);
    char where[300], msg[512];

    if (!sc->killed && (sc->watchdog <= 0 || sc->busy_since <= 0 ||
                        monotonic_s() - sc->busy_since <= sc->watchdog))
        return;
    if (!sc->killed) {
        /* from now on every instruction raises it again: a pcall() that
         * caught it cannot go on */
        sc->killed = true;
        sc_watchdog_arm(sc->L, true);
        if (sc->co)
            sc_watchdog_arm(sc->co, true);
    }
    sc_where(L, 0, where, sizeof where);
    snprintf(msg, sizeof msg, "%s%sthe script ran for %g s of real time "
             "without letting virtual time pass (an endless loop? "
             "--lua-watchdog sets the limit)", where, where[0] ? " " : "",
             sc->watchdog);
    lua_pushstring(L, msg);
    lua_error(L);
}

void sc_where(lua_State *L, int level, char *buf, size_t len)
{
    lua_Debug ar;

    buf[0] = '\0';
    for (int k = level; lua_getstack(L, k, &ar); k++) {
        if (!lua_getinfo(L, "Sl", &ar))
            break;
        if (ar.currentline > 0 && strcmp(ar.short_src, "prelude") != 0) {
            snprintf(buf, len, "%s:%d:", ar.short_src, ar.currentline);
            return;
        }
    }
}

/* ---- the clock and the timers ---- */

int64_t sc_now_ms(const struct scenario *sc)
{
    return sc->e ? sc->e->now_ms : 0;
}

int64_t sc_second_ms(const struct scenario *sc)
{
    int64_t now = sc_now_ms(sc);
    return now - now % 1000;
}

int sc_schedule(lua_State *L, const struct sc_timer *t)
{
    int id = sc_timers_add(&sc_of(L)->timers, t);
    if (id < 0)
        return sc_error_mem(L);
    return id;
}

/* ---- durations and times ---- */

static int64_t duration_at(lua_State *L, int idx, const char *what)
{
    int64_t s;

    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, idx);
        if (!(v >= 0) || v > 4e9 || v != floor(v))
            return sc_error(L, "%s: %s is not a whole number of seconds "
                              ">= 0", what, lua_tostring(L, idx)), 0;
        return (int64_t)v;
    }
    if (lua_type(L, idx) == LUA_TSTRING &&
        time_parse_duration(lua_tostring(L, idx), &s) == 0)
        return s;
    return sc_error(L, "%s: %s is not a duration (seconds, or '90s', "
                      "'15m', '2h', '1d', '1w', '1h30m')", what,
                      luaL_tolstring(L, idx, NULL)), 0;
}

int64_t sc_time_at(lua_State *L, int idx, const char *what)
{
    int64_t t;

    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, idx);
        if (!(v >= (double)RTC_MIN) || v > (double)RTC_MAX || v != floor(v))
            return sc_error(L, "%s: %s is not a time (whole seconds since "
                              "1970, up to %d)", what,
                              lua_tostring(L, idx), RTC_YEAR_MAX), 0;
        return (int64_t)v;
    }
    if (lua_type(L, idx) == LUA_TSTRING &&
        time_parse_iso(lua_tostring(L, idx), &t) == 0)
        return t;
    return sc_error(L, "%s: %s is not a date-time such as "
                      "'2026-01-01T06:00' (%d..%d)", what,
                      luaL_tolstring(L, idx, NULL), RTC_YEAR_MIN,
                      RTC_YEAR_MAX), 0;
}

static const char *fname(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name)
        return ar.name;
    return "?";
}

int64_t sc_check_duration(lua_State *L, int arg)
{
    char what[64];
    snprintf(what, sizeof what, "%s(): argument #%d", fname(L), arg);
    return duration_at(L, arg, what);
}

int64_t sc_check_time(lua_State *L, int arg)
{
    char what[64];
    snprintf(what, sizeof what, "%s(): argument #%d", fname(L), arg);
    return sc_time_at(L, arg, what);
}

int64_t sc_field_duration(lua_State *L, int t, const char *key, bool *found)
{
    int64_t v = 0;
    *found = lua_getfield(L, t, key) != LUA_TNIL;
    if (*found)
        v = duration_at(L, -1, key);
    lua_pop(L, 1);
    return v;
}

/* ---- waiting for the meters ---- */

static int retry_k(lua_State *L, int status, lua_KContext ctx)
{
    return sc_of(L)->retry(L);
}

int sc_yield_for_meters(lua_State *L, lua_CFunction again)
{
    struct scenario *sc = sc_of(L);
    char where[300];

    if (L != sc->co || !lua_isyieldable(L)) {
        sc_where(L, 1, where, sizeof where);
        return sc_error(L, "%sthe meters do not exist yet: use them from "
                          "the script's main flow first", where);
    }
    sc->retry = again;
    sc->state = SC_STARTING;
    sc_where(L, 1, sc->started_at, sizeof sc->started_at);
    return lua_yieldk(L, 0, 0, retry_k);
}

int sc_wait_until(lua_State *L, int64_t target_ms, const char *fn,
                  lua_KFunction k)
{
    struct scenario *sc = sc_of(L);

    if (L != sc->co || !lua_isyieldable(L))
        return sc_error(L, "%s() lets time pass: call it from the "
                          "script's main flow, not from a hook or a "
                          "function Lua cannot suspend", fn);
    sc->wait_from = sc_now_ms(sc);
    sc->wait_until = target_ms < sc->wait_from ? sc->wait_from : target_ms;
    sc->state = SC_WAITING;
    return lua_yieldk(L, 0, 0, k);
}

int sc_hold(lua_State *L, bool (*hold)(void *ctx), void *ctx, const char *fn,
            lua_KFunction k)
{
    struct scenario *sc = sc_of(L);

    if (L == sc->co && lua_isyieldable(L)) {    /* else the error below */
        sc->hold = hold;
        sc->hold_ctx = ctx;
    }
    return sc_wait_until(L, sc_now_ms(sc), fn, k);
}

/* ---- objects ---- */

void sc_class(lua_State *L, const char *name, const luaL_Reg *methods,
              lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    sc_lock_metatable(L);
}

void sc_lock_metatable(lua_State *L)
{
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
}

/* ---- the host ---- */

bool sc_ui(const struct scenario *sc)
{
    return sc->host.ui && sc->host.ui(sc->host.ctx);
}
