/*
 * What every C function the script calls needs, below the meter object,
 * the global API and the runner: errors raised at the script's line, the
 * checks of durations and times, the scenario's clock and timers, and
 * waiting for the meters. It calls none of the files above it.
 */
#ifndef SIM_SCENARIO_CALL_H
#define SIM_SCENARIO_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario/scenario_int.h"

/* Run a call that needs the meters: before they exist, yield (the runner
 * starts them) and run the function again. Use as the first statement:
 *   SC_NEED_METERS(L, this_function);                                  */
int sc_yield_for_meters(lua_State *L, lua_CFunction again);
#define SC_NEED_METERS(L, fn) do { \
        if (sc_of(L)->e == NULL) return sc_yield_for_meters(L, fn); \
    } while (0)

/* Let virtual time pass to target_ms: suspend the script, which goes on
 * in k once the engine is there. fn names the caller in the error raised
 * where the script cannot be suspended (a hook). */
int sc_wait_until(lua_State *L, int64_t target_ms, const char *fn,
                  lua_KFunction k);

/* Suspend the script with virtual time held still while hold(ctx) says
 * true (a wait on something real: replies over a socket); it goes on in
 * k once hold says false. */
int sc_hold(lua_State *L, bool (*hold)(void *ctx), void *ctx, const char *fn,
            lua_KFunction k);

/* Raise an error "file:line: message" at the script line that called the
 * running C function (luaL_error's, with all of printf's formats). */
int sc_error(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Raise msg at the script line level frames up (1: the caller of the
 * running C function), skipping the prelude's frames. */
int sc_raise(lua_State *L, int level, const char *msg);
/* "out of memory: ... N MiB (the sandbox's cap ...)", and that error
 * raised at the script's line. */
void sc_mem_message(const struct scenario *sc, char *buf, size_t len);
int sc_error_mem(lua_State *L);

/* Instructions between the watchdog's looks at the clock. */
#define SC_WATCHDOG_COUNT 1000000
/* Set the watchdog's count hook on a thread; fired: on every instruction
 * (once it has fired, the script cannot go on). */
void sc_watchdog_arm(lua_State *L, bool fired);
/* Raise the watchdog's error when the running dispatch has taken longer
 * than the watchdog allows (or it fired already). For C code that loops
 * where no hook runs (table.move). */
void sc_watchdog(lua_State *L);

/* "file:line" of the Lua function level frames up (1 = the caller of
 * the running C function). */
void sc_where(lua_State *L, int level, char *buf, size_t len);

/* Virtual time now, ms (0 before the meters exist). */
int64_t sc_now_ms(const struct scenario *sc);
/* The whole second it is in, ms: where scenario events happen. */
int64_t sc_second_ms(const struct scenario *sc);

/* A time at idx (seconds since 1970 as a number, or "2026-01-01T06:00");
 * what names the value in the error raised when it is not one. */
int64_t sc_time_at(lua_State *L, int idx, const char *what);
/* A duration (seconds as a number, or "15m", "1h30m") and a time as
 * argument arg of the running function ("fn(): argument #arg" in the
 * error). */
int64_t sc_check_duration(lua_State *L, int arg);
int64_t sc_check_time(lua_State *L, int arg);
/* A duration in field key of the table at index t (0 when absent, *found
 * false). */
int64_t sc_field_duration(lua_State *L, int t, const char *key, bool *found);

/* Schedule an internal timer; its handle. Raises on out of memory. */
int sc_schedule(lua_State *L, const struct sc_timer *t);

/* A metatable for userdata objects named name: methods as __index, and
 * __tostring. Leaves it on the stack. */
void sc_class(lua_State *L, const char *name, const luaL_Reg *methods,
              lua_CFunction tostring);
/* Hide the metatable on top of the stack from getmetatable() (so that no
 * script adds a __gc to a class's objects). */
void sc_lock_metatable(lua_State *L);

/* true while a full-screen UI owns stdout (print and results to the log) */
bool sc_ui(const struct scenario *sc);

#endif
