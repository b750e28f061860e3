/*
 * The scenario's global functions: setup, time (now, advance, run_until,
 * speed), hooks (every, at, after, on), faults of the Modbus ports and
 * the broker, an in-process Modbus client that goes through those
 * faults, the MQTT traffic the uplink saw, and the files a scenario may
 * read (beside it, through the API only). Also the private table the
 * prelude (the Lua half of the API) is given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/base/caption.h"
#include "sim/ports/bus.h"
#include "sim/base/log.h"
#include "sim/ports/ports.h"
#include "core/meter.h"
#include "protocols/modbus.h"
#include "protocols/modbus_fault.h"
#include "sim/scenario/scenario_api.h"
#include "sim/scenario/scenario_call.h"
#include "sim/scenario/scenario_meter.h"
#include "sim/scenario/scenario_poll.h"
#include "sim/base/timeparse.h"

#define SC_FILE_MAX (64u << 20)     /* bytes a scenario may read at once */

/* ---- setup ---- */

/* setup{} keys, each read from the value on top of the stack; what the
 * command line gave is left alone. */

static void setup_start(lua_State *L, struct scenario *sc)
{
    int64_t t = sc_time_at(L, -1, "setup{start}");
    if (!sc->cli.start)
        sc->opt->start = t;
}

static void setup_meters(lua_State *L, struct scenario *sc)
{
    lua_Integer n = lua_tointeger(L, -1);
    if (!lua_isinteger(L, -1) || n < 1 || n > 10000)
        sc_error(L, "setup{meters}: a count 1..10000");
    if (!sc->cli.meters)
        sc->opt->meters = (unsigned)n;
}

static void setup_seed(lua_State *L, struct scenario *sc)
{
    lua_Integer n = lua_tointeger(L, -1);
    if (!lua_isinteger(L, -1) || n < 0)
        sc_error(L, "setup{seed}: a whole number >= 0");
    if (sc->cli.seed)
        return;
    sc->opt->seed = (uint64_t)n;
    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, n);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
}

static void setup_speed(lua_State *L, struct scenario *sc)
{
    bool max = lua_type(L, -1) == LUA_TSTRING &&
               !strcmp(lua_tostring(L, -1), "max");
    lua_Number v = lua_tonumber(L, -1);
    if (!max && !(lua_type(L, -1) == LUA_TNUMBER && v > 0 && v <= 1e9))
        sc_error(L, "setup{speed}: 'max' or virtual seconds per real "
                    "second (> 0)");
    if (sc->cli.speed)
        return;
    sc->opt->speed_max = max;
    if (!max)
        sc->opt->speed = v;
}

static void setup_fidelity(lua_State *L, struct scenario *sc)
{
    const char *f = lua_tostring(L, -1);
    if (!f || (strcmp(f, "full") && strcmp(f, "fast")))
        sc_error(L, "setup{fidelity}: 'full' or 'fast'");
    if (sc->cli.fidelity)
        return;
    sc->opt->fidelity = !strcmp(f, "full") ? ENGINE_FULL : ENGINE_FAST;
    sc->opt->fidelity_set = true;
}

static void setup_slave(lua_State *L, struct scenario *sc)
{
    lua_Integer n = lua_tointeger(L, -1);
    if (!lua_isinteger(L, -1) || n < 1 || n > METER_SLAVE_MAX)
        sc_error(L, "setup{slave}: an address 1..%d", METER_SLAVE_MAX);
    if (!sc->cli.slave)
        sc->opt->slave = (int)n;
}

static void setup_fail_fast(lua_State *L, struct scenario *sc)
{
    sc->fail_fast = lua_toboolean(L, -1);
}

/* A script may lower the watchdog, never switch it off or lift it past
 * --lua-watchdog (above it: the command line's limit holds). */
static void setup_watchdog(lua_State *L, struct scenario *sc)
{
    lua_Number v = lua_tonumber(L, -1);
    if (!(lua_type(L, -1) == LUA_TNUMBER && v > 0))
        sc_error(L, "setup{watchdog}: real seconds > 0 (a script cannot "
                 "switch the watchdog off: --lua-watchdog 0 does)");
    if (sc->watchdog_max <= 0 || v < sc->watchdog_max)
        sc->watchdog = v;
    sc_backstop_limit(sc->backstop, sc->watchdog);
}

/* setup{tcp = "HOST:PORT"}: a Modbus TCP listener (a scenario has none
 * by default), "off" none; --tcp wins. */
static void setup_tcp(lua_State *L, struct scenario *sc)
{
    const char *a = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    char host[sizeof sc->opt->tcp_host];
    int port;
    bool off = !strcmp(a, "off");

    if (!off && options_parse_hostport(a, host, sizeof host, &port))
        sc_error(L, "setup{tcp}: \"HOST:PORT\" (\"127.0.0.1:0\": a free "
                 "port) or \"off\", not %s", luaL_tolstring(L, -1, NULL));
    if (sc->opt->tcp_set)
        return;
    sc->opt->tcp_off = off;
    if (!off) {
        memcpy(sc->opt->tcp_host, host, sizeof host);
        sc->opt->tcp_port = port;
    }
}

/* The keys, in the order they are applied. */
static const struct {
    const char *key;
    void (*set)(lua_State *L, struct scenario *sc);
} setup_keys[] = {
    { "start", setup_start }, { "meters", setup_meters },
    { "seed", setup_seed }, { "speed", setup_speed },
    { "fidelity", setup_fidelity }, { "slave", setup_slave },
    { "fail_fast", setup_fail_fast }, { "watchdog", setup_watchdog },
    { "tcp", setup_tcp },
};
#define NSETUP_KEYS (sizeof setup_keys / sizeof setup_keys[0])

static int l_setup(lua_State *L)
{
    struct scenario *sc = sc_of(L);

    luaL_checktype(L, 1, LUA_TTABLE);
    if (sc->e)
        return sc_error(L, "setup{} comes before the meters are first "
                          "used (%s started them)", sc->started_at);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        bool known = false;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (size_t k = 0; k < NSETUP_KEYS; k++)
                known |= !strcmp(lua_tostring(L, -1), setup_keys[k].key);
        if (!known)
            return sc_error(L, "setup{}: unknown key '%s' (start, meters, "
                              "seed, speed, fidelity, slave, fail_fast, "
                              "watchdog, tcp)", luaL_tolstring(L, -1, NULL));
    }
    for (size_t k = 0; k < NSETUP_KEYS; k++) {
        if (lua_getfield(L, 1, setup_keys[k].key) != LUA_TNIL)
            setup_keys[k].set(L, sc);
        lua_pop(L, 1);
    }
    return 0;
}

/* ---- time ---- */

static int l_now(lua_State *L)
{
    SC_NEED_METERS(L, l_now);
    lua_pushinteger(L, sc_now_ms(sc_of(L)) / 1000);
    return 1;
}

static int l_date(lua_State *L)
{
    char buf[32];
    int64_t t;

    if (lua_isnoneornil(L, 1)) {
        SC_NEED_METERS(L, l_date);
        t = sc_now_ms(sc_of(L)) / 1000;
    } else {
        t = sc_check_time(L, 1);
    }
    time_format_iso(t, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

static int l_time(lua_State *L)
{
    lua_pushinteger(L, sc_check_time(L, 1));
    return 1;
}

static int l_duration(lua_State *L)
{
    lua_pushinteger(L, sc_check_duration(L, 1));
    return 1;
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    lua_pushinteger(L, sc_now_ms(sc_of(L)) / 1000);
    return 1;
}

static int wait_until(lua_State *L, int64_t target_ms, const char *fn)
{
    return sc_wait_until(L, target_ms, fn, wait_k);
}

static int l_advance(lua_State *L)
{
    SC_NEED_METERS(L, l_advance);
    struct scenario *sc = sc_of(L);
    int64_t d = sc_check_duration(L, 1);
    return wait_until(L, sc_second_ms(sc) + d * 1000, "advance");
}

static int l_run_until(lua_State *L)
{
    SC_NEED_METERS(L, l_run_until);
    struct scenario *sc = sc_of(L);
    int64_t t = sc_check_time(L, 1);
    char now[32];

    if (t * 1000 < sc_second_ms(sc)) {
        time_format_iso(sc_now_ms(sc) / 1000, now, sizeof now);
        return sc_error(L, "run_until(%s): that is in the past (the "
                          "virtual time is %s)", lua_tostring(L, 1), now);
    }
    return wait_until(L, t * 1000, "run_until");
}

static int l_speed(lua_State *L)
{
    SC_NEED_METERS(L, l_speed);
    struct scenario *sc = sc_of(L);
    bool max = lua_type(L, 1) == LUA_TSTRING &&
               !strcmp(lua_tostring(L, 1), "max");
    lua_Number v = lua_tonumber(L, 1);

    if (!max && !(lua_type(L, 1) == LUA_TNUMBER && v > 0 && v <= 1e9))
        return sc_error(L, "speed(): 'max' or virtual seconds per real "
                          "second (> 0)");
    if (sc->speed_locked) {
        log_debug("speed(%s) ignored: --speed was given",
                  lua_tostring(L, 1));
        return 0;
    }
    if (sc->host.speed)
        sc->host.speed(sc->host.ctx, max ? 0 : v, max);
    return 0;
}

/* ---- hooks ---- */

struct sc_hook_handle {
    int id;                 /* timer handle */
};

#define HOOK_MT "kpm31c.hook"

/* Schedule a hook function (at index fn) at t_ms, repeating every
 * period_ms when > 0. Pushes its handle object. */
static void push_hook(lua_State *L, int fn, int64_t t_ms, int64_t period_ms)
{
    struct scenario *sc = sc_of(L);
    struct sc_hook_handle *h;

    if (t_ms < sc_now_ms(sc))
        t_ms = sc_now_ms(sc);
    lua_pushvalue(L, fn);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    struct sc_timer t = { .t = t_ms, .kind = SC_T_HOOK, .period = period_ms,
                          .ref = ref };
    int id = sc_timers_add(&sc->timers, &t);
    if (id < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        sc_error_mem(L);
        return;
    }
    h = lua_newuserdatauv(L, sizeof *h, 0);
    h->id = id;
    luaL_setmetatable(L, HOOK_MT);
}

static int l_every(lua_State *L)
{
    SC_NEED_METERS(L, l_every);
    struct scenario *sc = sc_of(L);
    int64_t d = sc_check_duration(L, 1), first;

    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (d <= 0)
        return sc_error(L, "every(): the period must be at least 1 s");
    first = lua_isnoneornil(L, 3) ? sc_second_ms(sc) + d * 1000
                                  : sc_check_time(L, 3) * 1000;
    push_hook(L, 2, first, d * 1000);
    return 1;
}

static int l_after(lua_State *L)
{
    SC_NEED_METERS(L, l_after);
    struct scenario *sc = sc_of(L);
    int64_t d = sc_check_duration(L, 1);

    luaL_checktype(L, 2, LUA_TFUNCTION);
    push_hook(L, 2, sc_second_ms(sc) + d * 1000, 0);
    return 1;
}

/* at("2026-01-15T12:00", fn), or at("12:00", fn): the next 12:00. */
static int l_at(lua_State *L)
{
    SC_NEED_METERS(L, l_at);
    struct scenario *sc = sc_of(L);
    int64_t t, base = sc_second_ms(sc) / 1000;
    unsigned hh, mm, ss = 0;
    int n = 0;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;

    luaL_checktype(L, 2, LUA_TFUNCTION);
    bool hms = s && sscanf(s, "%2u:%2u:%2u%n", &hh, &mm, &ss, &n) == 3 &&
               s[n] == '\0';
    if (!hms && s) {
        n = 0;
        ss = 0;
        hms = sscanf(s, "%2u:%2u%n", &hh, &mm, &n) == 2 && s[n] == '\0';
    }
    if (hms && hh < 24 && mm < 60 && ss < 60) {
        int64_t day = base - base % 86400;
        t = day + hh * 3600 + mm * 60 + ss;
        if (t < base)
            t += 86400;
    } else {
        t = sc_check_time(L, 1);
        if (t < base) {
            char now[32];
            time_format_iso(base, now, sizeof now);
            return sc_error(L, "at(%s): that is in the past (the virtual "
                              "time is %s)", s ? s : "?", now);
        }
    }
    push_hook(L, 2, t * 1000, 0);
    return 1;
}

static int l_on(lua_State *L)
{
    const char *ev = luaL_checkstring(L, 1);
    struct scenario *sc = sc_of(L);

    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (strcmp(ev, "settlement") && strcmp(ev, "relay") &&
        strcmp(ev, "pulse"))
        return sc_error(L, "on('%s'): the events are 'settlement', "
                          "'relay' and 'pulse'", ev);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sc->hooks_ref);
    if (lua_getfield(L, -1, ev) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, ev);
    }
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    if (!strcmp(ev, "settlement"))
        sc->settle_hooks = true;
    if (!strcmp(ev, "pulse")) {
        sc->pulse_hooks = true;
        if (sc->e)
            sc->e->per_second = true;   /* hooks at the pulse's second */
    }
    return 0;
}

static int hook_cancel(lua_State *L)
{
    struct sc_hook_handle *h = luaL_checkudata(L, 1, HOOK_MT);
    struct scenario *sc = sc_of(L);
    bool was = sc_timers_cancel(&sc->timers, h->id);

    if (sc->running_timer == h->id) {
        sc->running_cancelled = true;
        was = true;
    }
    lua_pushboolean(L, was);
    return 1;
}

static int hook_tostring(lua_State *L)
{
    struct sc_hook_handle *h = luaL_checkudata(L, 1, HOOK_MT);
    lua_pushfstring(L, "hook %d", h->id);
    return 1;
}

/* ---- faults ---- */

struct sc_fault_handle {
    int id;                 /* mb_faults handle */
};

#define FAULT_MT "kpm31c.fault"

static int l_fault_modbus(lua_State *L)
{
    SC_NEED_METERS(L, l_fault_modbus);
    struct scenario *sc = sc_of(L);
    const char *spec = luaL_checkstring(L, 1);
    char why[256];

    if (!sc->ports)
        return sc_error(L, "fault.modbus(): no Modbus ports in this run");
    int id = mb_faults_add_spec(&sc->ports->faults, spec, why, sizeof why);
    if (id < 0)
        return sc_error(L, "fault.modbus('%s'): %s", spec, why);
    if (!lua_isnoneornil(L, 2)) {
        int64_t d = sc_check_duration(L, 2);
        struct sc_timer t = { .t = sc_second_ms(sc) + d * 1000,
                              .kind = SC_T_FAULT_END, .ref = id };
        sc_schedule(L, &t);
    }
    struct sc_fault_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->id = id;
    luaL_setmetatable(L, FAULT_MT);
    return 1;
}

static int l_fault_clear(lua_State *L)
{
    SC_NEED_METERS(L, l_fault_clear);
    struct scenario *sc = sc_of(L);
    if (sc->ports)
        mb_faults_clear(&sc->ports->faults);
    if (sc->host.mqtt && sc->host.broker)
        sc->host.broker(sc->host.ctx, false);
    return 0;
}

static int l_fault_hits(lua_State *L)
{
    SC_NEED_METERS(L, l_fault_hits);
    struct scenario *sc = sc_of(L);
    lua_pushinteger(L, sc->ports ? (lua_Integer)sc->ports->faults.hits : 0);
    return 1;
}

/* fault.broker([d]): the meters lose their broker, for d or until
 * fault.clear(). */
static int l_fault_broker(lua_State *L)
{
    SC_NEED_METERS(L, l_fault_broker);
    struct scenario *sc = sc_of(L);

    if (!sc->host.mqtt || !sc->host.broker)
        return sc_error(L, "fault.broker(): this run has no MQTT uplink "
                           "(--mqtt URI)");
    int64_t d = lua_isnoneornil(L, 1) ? 0 : sc_check_duration(L, 1);
    sc->host.broker(sc->host.ctx, true);
    if (d > 0) {
        struct sc_timer t = { .t = sc_second_ms(sc) + d * 1000,
                              .kind = SC_T_BROKER_END };
        sc_schedule(L, &t);
    }
    return 0;
}

static int fault_remove(lua_State *L)
{
    struct sc_fault_handle *h = luaL_checkudata(L, 1, FAULT_MT);
    struct scenario *sc = sc_of(L);
    lua_pushboolean(L, sc->ports &&
                    mb_faults_remove(&sc->ports->faults, h->id) == 0);
    return 1;
}

static int fault_tostring(lua_State *L)
{
    struct sc_fault_handle *h = luaL_checkudata(L, 1, FAULT_MT);
    struct scenario *sc = sc_of(L);
    char spec[128] = "removed";

    for (int k = 0; sc->ports && k < sc->ports->faults.n; k++)
        if (sc->ports->faults.id[k] == h->id)
            mb_fault_format(&sc->ports->faults.rule[k], spec, sizeof spec);
    lua_pushfstring(L, "modbus fault %d (%s)", h->id, spec);
    return 1;
}

/* ---- an in-process Modbus client, through the faults ---- */

static void check_slave(lua_State *L, lua_Integer slave)
{
    luaL_argcheck(L, slave >= 1 && slave <= METER_SLAVE_MAX, 1,
                  lua_pushfstring(L, "a slave address 1..%d",
                                  METER_SLAVE_MAX));
}

static enum mb_fault_transport transport_arg(lua_State *L, int idx)
{
    const char *t = luaL_optstring(L, idx, "tcp");
    if (!strcmp(t, "tcp"))
        return MB_FAULT_TCP;
    if (!strcmp(t, "rtu"))
        return MB_FAULT_RTU;
    sc_error(L, "modbus: transport '%s' is not 'tcp' or 'rtu'", t);
    return MB_FAULT_TCP;
}

/* What a request met: faults first, as the transports decide them. Pushes
 * the result table and returns true when the request reaches the meter. */
static bool modbus_begin(lua_State *L, int slave, uint16_t addr,
                         uint16_t count, enum mb_fault_transport tr)
{
    struct scenario *sc = sc_of(L);
    struct mb_fault_action act = { 0 };

    lua_createtable(L, 0, 6);
    if (sc->ports)
        mb_faults_decide(&sc->ports->faults, tr, slave, true, addr, count,
                         &act);
    lua_pushinteger(L, act.delay_ms);
    lua_setfield(L, -2, "delay");
    if (act.noreply) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "ok");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "lost");
        return false;
    }
    if (act.busy) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "ok");
        lua_pushinteger(L, MB_EX_BUSY);
        lua_setfield(L, -2, "exception");
        return false;
    }
    if (act.badcrc && tr == MB_FAULT_RTU) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "badcrc");
    }
    if (!sc->ports || !sc->ports->ops.present ||
        !sc->ports->ops.present(sc->ports->ops.ctx, slave)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "ok");
        if (tr == MB_FAULT_TCP) {
            lua_pushinteger(L, MB_EX_GATEWAY_TARGET);
            lua_setfield(L, -2, "exception");
        } else {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "lost");
        }
        return false;
    }
    return true;
}

static void modbus_end(lua_State *L, int ex)
{
    lua_pushboolean(L, ex == 0);
    lua_setfield(L, -2, "ok");
    if (ex) {
        lua_pushinteger(L, ex);
        lua_setfield(L, -2, "exception");
    }
}

static int l_modbus_read(lua_State *L)
{
    SC_NEED_METERS(L, l_modbus_read);
    struct scenario *sc = sc_of(L);
    lua_Integer slave = luaL_checkinteger(L, 1);
    lua_Integer addr = luaL_checkinteger(L, 2);
    lua_Integer count = luaL_optinteger(L, 3, 1);
    enum mb_fault_transport tr = transport_arg(L, 4);
    uint16_t regs[MB_MAX_READ];

    check_slave(L, slave);
    luaL_argcheck(L, addr >= 0 && addr <= 0xFFFF, 2, "an address 0..0xFFFF");
    luaL_argcheck(L, count >= 1 && count <= MB_MAX_READ &&
                  addr + count <= 0x10000, 3, "a count 1..125");
    if (!modbus_begin(L, (int)slave, (uint16_t)addr, (uint16_t)count, tr))
        return 1;
    int ex = sc->ports->ops.read(sc->ports->ops.ctx, (int)slave,
                                 (uint16_t)addr, (uint16_t)count, regs);
    modbus_end(L, ex);
    if (!ex) {
        lua_createtable(L, (int)count, 0);
        for (lua_Integer k = 0; k < count; k++) {
            lua_pushinteger(L, regs[k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "regs");
    }
    return 1;
}

static int l_modbus_write(lua_State *L)
{
    SC_NEED_METERS(L, l_modbus_write);
    struct scenario *sc = sc_of(L);
    lua_Integer slave = luaL_checkinteger(L, 1);
    lua_Integer addr = luaL_checkinteger(L, 2);
    enum mb_fault_transport tr = transport_arg(L, 4);
    uint16_t regs[MB_MAX_WRITE];
    lua_Integer n = 0;

    check_slave(L, slave);
    luaL_argcheck(L, addr >= 0 && addr <= 0xFFFF, 2, "an address 0..0xFFFF");
    if (lua_type(L, 3) == LUA_TTABLE) {
        n = (lua_Integer)lua_rawlen(L, 3);
        luaL_argcheck(L, n >= 1 && n <= MB_MAX_WRITE, 3,
                      "1..123 register values");
        for (lua_Integer k = 1; k <= n; k++) {
            lua_rawgeti(L, 3, k);
            lua_Integer v = lua_tointeger(L, -1);
            luaL_argcheck(L, lua_isinteger(L, -1) && v >= 0 && v <= 0xFFFF,
                          3, "register values are integers 0..65535");
            regs[k - 1] = (uint16_t)v;
            lua_pop(L, 1);
        }
    } else {
        lua_Integer v = luaL_checkinteger(L, 3);
        luaL_argcheck(L, v >= 0 && v <= 0xFFFF, 3, "a value 0..65535");
        regs[0] = (uint16_t)v;
        n = 1;
    }
    luaL_argcheck(L, addr + n <= 0x10000, 2, "the values run past 0xFFFF");
    if (!modbus_begin(L, (int)slave, (uint16_t)addr, (uint16_t)n, tr))
        return 1;
    int ex = sc->ports->ops.write(sc->ports->ops.ctx, (int)slave,
                                  n == 1 ? 6 : 16, (uint16_t)addr,
                                  (uint16_t)n, regs);
    modbus_end(L, ex);
    return 1;
}

/* ---- MQTT: what the uplink sent and received ---- */

void scenario_mqtt(struct scenario *sc, unsigned meter, bool out,
                   const char *topic, const void *payload, size_t len)
{
    struct sc_mqtt *q = sc->mqtt;

    if (!sc->e || meter >= sc->e->count)
        return;
    if (!q) {
        q = sc->mqtt = calloc(1, sizeof *q);
        if (q) {
            q->sent = calloc(sc->e->count, sizeof *q->sent);
            q->received = calloc(sc->e->count, sizeof *q->received);
        }
        if (!q || !q->sent || !q->received) {
            if (q) {
                free(q->sent);
                free(q->received);
            }
            free(q);
            sc->mqtt = NULL;
            return;
        }
    }
    if (out)
        q->sent[meter]++;
    else
        q->received[meter]++;
    struct sc_msg *m;
    if (q->count == SC_MQTT_KEEP) {         /* the oldest makes room */
        m = &q->ring[q->head];
        free(m->topic);
        free(m->payload);
        q->head = (q->head + 1) % SC_MQTT_KEEP;
        q->count--;
    }
    m = &q->ring[(q->head + q->count) % SC_MQTT_KEEP];
    *m = (struct sc_msg){ .meter = meter, .out = out, .t_ms = sc->e->now_ms,
                          .topic = strdup(topic), .payload = malloc(len + 1),
                          .len = len };
    if (m->payload) {
        memcpy(m->payload, payload, len);
        m->payload[len] = '\0';
    }
    q->count++;
}

static struct scenario *mqtt_check(lua_State *L, const char *fn)
{
    struct scenario *sc = sc_of(L);
    if (!sc->host.mqtt)
        sc_error(L, "mqtt.%s(): this run has no MQTT uplink (--mqtt URI)",
                 fn);
    return sc;
}

/* JSON as Lua values: objects as tables, arrays as lists, null as nil. */
static void push_json(lua_State *L, json_t *j, int depth)
{
    luaL_checkstack(L, 3, "JSON nested too deep");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *v;
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach(j, key, v) {
            if (depth < 32 && !json_is_null(v)) {
                push_json(L, v, depth + 1);
                lua_setfield(L, -2, key);
            }
        }
        break;
    }
    case JSON_ARRAY: {
        size_t k;
        json_t *v;
        lua_createtable(L, (int)json_array_size(j), 0);
        json_array_foreach(j, k, v) {
            if (depth < 32) {
                push_json(L, v, depth + 1);
                lua_rawseti(L, -2, (lua_Integer)k + 1);
            }
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* mqtt.sent([meter]) / mqtt.received([meter]): the messages kept (the
 * latest 1024), oldest first: {meter, topic, payload, data, time}. */
static int mqtt_messages(lua_State *L, bool out, const char *fn)
{
    struct scenario *sc = mqtt_check(L, fn);
    unsigned only = 0;
    bool filter = !lua_isnoneornil(L, 1);
    int n = 0;

    if (filter && !sc_meter_arg(L, 1, &only))
        return sc_error(L, "mqtt.%s(meter): a meter, or its number", fn);
    lua_newtable(L);
    for (unsigned k = 0; sc->mqtt && k < sc->mqtt->count; k++) {
        const struct sc_msg *m = &sc->mqtt->ring[(sc->mqtt->head + k) %
                                                 SC_MQTT_KEEP];
        if (m->out != out || (filter && m->meter != only) || !m->topic ||
            !m->payload)
            continue;
        lua_createtable(L, 0, 5);
        sc_meter_push(L, m->meter);
        lua_setfield(L, -2, "meter");
        lua_pushstring(L, m->topic);
        lua_setfield(L, -2, "topic");
        lua_pushlstring(L, m->payload, m->len);
        lua_setfield(L, -2, "payload");
        lua_pushinteger(L, m->t_ms / 1000);
        lua_setfield(L, -2, "time");
        json_t *j = json_loadb(m->payload, m->len, JSON_DECODE_ANY, NULL);
        if (j) {
            push_json(L, j, 0);
            lua_setfield(L, -2, "data");
            json_decref(j);
        }
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static int l_mqtt_sent(lua_State *L)
{
    SC_NEED_METERS(L, l_mqtt_sent);
    return mqtt_messages(L, true, "sent");
}

static int l_mqtt_received(lua_State *L)
{
    SC_NEED_METERS(L, l_mqtt_received);
    return mqtt_messages(L, false, "received");
}

/* mqtt.count([meter]): messages published so far (all of them). */
static int l_mqtt_count(lua_State *L)
{
    SC_NEED_METERS(L, l_mqtt_count);
    struct scenario *sc = mqtt_check(L, "count");
    unsigned only;
    uint64_t n = 0;

    if (!lua_isnoneornil(L, 1)) {
        if (!sc_meter_arg(L, 1, &only))
            return sc_error(L, "mqtt.count(meter): a meter, or its number");
        n = sc->mqtt ? sc->mqtt->sent[only] : 0;
    } else {
        for (unsigned k = 0; sc->mqtt && k < sc->e->count; k++)
            n += sc->mqtt->sent[k];
    }
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* ---- files beside the scenario ---- */

static int file_error(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An error at the script's line that asked for the file, past csv() and
 * require() in the prelude. */
static int file_error(lua_State *L, const char *fmt, ...)
{
    char where[256], msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sc_where(L, 1, where, sizeof where);
    lua_pushfstring(L, "%s%s%s", where, *where ? " " : "", msg);
    return lua_error(L);
}

/* A path relative to the scenario's directory that stays inside it. */
static const char *checked_path(lua_State *L, int idx)
{
    struct scenario *sc = sc_of(L);
    const char *rel = luaL_checkstring(L, idx);

    if (!*rel || rel[0] == '/' || !strcmp(rel, "..") ||
        !strncmp(rel, "../", 3) || strstr(rel, "/../") ||
        (strlen(rel) >= 3 && !strcmp(rel + strlen(rel) - 3, "/..")))
        file_error(L, "'%s': scenario files are read relative to the "
                   "scenario's directory, without '..' or a leading '/'",
                   rel);
    return lua_pushfstring(L, "%s%s", sc->dir, rel);
}

static int api_path_of(lua_State *L)
{
    checked_path(L, 1);
    return 1;
}

static int api_read_file(lua_State *L)
{
    struct scenario *sc = sc_of(L);
    const char *path = checked_path(L, 1);
    FILE *f = fopen(path, "rb");
    luaL_Buffer b;
    char *p;
    size_t got, total = 0;

    if (!f)
        return file_error(L, "cannot read %s: %s", path, strerror(errno));
    luaL_buffinit(L, &b);
    do {
        p = luaL_prepbuffer(&b);
        got = fread(p, 1, LUAL_BUFFERSIZE, f);
        luaL_addsize(&b, got);
        total += got;
        if (total > SC_FILE_MAX && !sc->opt->unsafe_lua) {
            fclose(f);
            return file_error(L, "%s: larger than %u MiB", path,
                              SC_FILE_MAX >> 20);
        }
    } while (got == LUAL_BUFFERSIZE);
    bool bad = ferror(f);
    fclose(f);
    if (bad)
        return file_error(L, "cannot read %s", path);
    luaL_pushresult(&b);
    return 1;
}

/* ---- the private table for the prelude ---- */

/* An assertion: into the open check(), else a case of its own. */
static void record(lua_State *L, bool ok, const char *name,
                   const char *where, const char *detail)
{
    struct scenario *sc = sc_of(L);
    struct sc_check *c = &sc->check;

    if (c->active) {
        if (!ok && c->failures++ == 0) {
            size_t len = strlen(detail ? detail : "failed") +
                         strlen(where ? where : "") +
                         strlen(name ? name : "") + 8;
            c->detail = malloc(len);
            if (c->detail)
                snprintf(c->detail, len, "%s %s: %s", where ? where : "",
                         name ? name : "", detail ? detail : "failed");
        }
        return;
    }
    sc->res.log = sc_ui(sc);
    if (!sc_results_add(&sc->res, ok, name, where, detail, sc_now_ms(sc)))
        sc_error_mem(L);
}

static int api_record(lua_State *L)
{
    bool ok = lua_toboolean(L, 1);
    const char *name = luaL_optstring(L, 2, NULL);
    const char *detail = luaL_optstring(L, 3, NULL);
    char where[300];

    sc_where(L, 1, where, sizeof where);
    size_t n = strlen(where);
    if (n && where[n - 1] == ':')
        where[n - 1] = '\0';
    record(L, ok, name, where, detail);
    lua_pushboolean(L, ok);
    return 1;
}

static int api_stop(lua_State *L)
{
    sc_of(L)->stop = true;
    return 0;
}

static int api_fail_fast(lua_State *L)
{
    lua_pushboolean(L, sc_of(L)->fail_fast);
    return 1;
}

static int api_where(lua_State *L)
{
    char where[300];
    sc_where(L, 1, where, sizeof where);
    lua_pushstring(L, where);
    return 1;
}

static int api_check_begin(lua_State *L)
{
    struct scenario *sc = sc_of(L);
    const char *name = luaL_checkstring(L, 1);
    char where[300];

    if (sc->check.active)
        return sc_error(L, "check('%s') inside check('%s'): checks do not "
                          "nest", name, sc->check.name);
    sc_where(L, 1, where, sizeof where);
    size_t n = strlen(where);
    if (n && where[n - 1] == ':')
        where[n - 1] = '\0';
    sc->check = (struct sc_check){ .active = true, .name = strdup(name),
                                   .where = strdup(where) };
    return 0;
}

/* check_end(ok, err): one case for the whole check. */
static int api_check_end(lua_State *L)
{
    struct scenario *sc = sc_of(L);
    struct sc_check c = sc->check;
    bool ok = lua_toboolean(L, 1) && c.failures == 0;
    const char *err = lua_tostring(L, 2);
    char *detail = NULL;

    sc->check = (struct sc_check){ 0 };
    if (!c.active)
        return 0;
    if (err) {
        size_t len = strlen(err) + 32;
        detail = malloc(len);
        if (detail)
            snprintf(detail, len, "error: %s", err);
        ok = false;
    } else if (c.failures) {
        size_t len = strlen(c.detail ? c.detail : "") + 64;
        detail = malloc(len);
        if (detail)
            snprintf(detail, len, "%u expectation%s failed; first: %s",
                     c.failures, c.failures > 1 ? "s" : "",
                     c.detail ? c.detail : "?");
    }
    sc->res.log = sc_ui(sc);
    bool kept = sc_results_add(&sc->res, ok, c.name, c.where, detail,
                               sc_now_ms(sc));
    free(detail);
    free(c.name);
    free(c.where);
    free(c.detail);
    if (!kept)
        return sc_error_mem(L);
    lua_pushboolean(L, ok);
    return 1;
}

static int api_traceback(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING)
        return 1;
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

static int api_count(lua_State *L)
{
    SC_NEED_METERS(L, api_count);
    lua_pushinteger(L, sc_of(L)->e->count);
    return 1;
}

/* ---- captions ---- */

/* caption(text): the story's line on the faces (caption bar, web face)
 * and in the log; caption() or caption("") clears it. */
static int l_caption(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        caption_show("");
        return 0;
    }
    if (lua_type(L, 1) != LUA_TSTRING)
        return sc_error(L, "caption(text): text is a string, not a %s",
                        luaL_typename(L, 1));
    caption_show(lua_tostring(L, 1));
    return 0;
}

/* ---- registration ---- */

static const luaL_Reg global_fns[] = {
    { "setup", l_setup },
    { "now", l_now },
    { "date", l_date },
    { "time", l_time },
    { "duration", l_duration },
    { "advance", l_advance },
    { "run_until", l_run_until },
    { "speed", l_speed },
    { "every", l_every },
    { "after", l_after },
    { "at", l_at },
    { "on", l_on },
    { "caption", l_caption },
    { NULL, NULL },
};

static const luaL_Reg fault_fns[] = {
    { "modbus", l_fault_modbus },
    { "clear", l_fault_clear },
    { "hits", l_fault_hits },
    { "broker", l_fault_broker },
    { NULL, NULL },
};

static const luaL_Reg modbus_fns[] = {
    { "read", l_modbus_read },
    { "write", l_modbus_write },
    { NULL, NULL },
};

static const luaL_Reg mqtt_fns[] = {
    { "sent", l_mqtt_sent },
    { "received", l_mqtt_received },
    { "count", l_mqtt_count },
    { NULL, NULL },
};

static const luaL_Reg hook_methods[] = {
    { "cancel", hook_cancel },
    { NULL, NULL },
};

static const luaL_Reg fault_methods[] = {
    { "remove", fault_remove },
    { NULL, NULL },
};

static const luaL_Reg private_fns[] = {
    { "record", api_record },
    { "stop", api_stop },
    { "fail_fast", api_fail_fast },
    { "where", api_where },
    { "check_begin", api_check_begin },
    { "check_end", api_check_end },
    { "traceback", api_traceback },
    { "read_file", api_read_file },
    { "path_of", api_path_of },
    { "count", api_count },
    { NULL, NULL },
};

void sc_api_register(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, global_fns, 0);
    lua_pop(L, 1);
    luaL_newlib(L, fault_fns);
    lua_setglobal(L, "fault");
    luaL_newlib(L, modbus_fns);
    sc_poll_register(L);
    lua_setglobal(L, "modbus");
    luaL_newlib(L, mqtt_fns);
    lua_setglobal(L, "mqtt");

    sc_class(L, HOOK_MT, hook_methods, hook_tostring);
    lua_pop(L, 1);
    sc_class(L, FAULT_MT, fault_methods, fault_tostring);
    lua_pop(L, 1);

    luaL_newlib(L, private_fns);        /* left for the prelude */
}
