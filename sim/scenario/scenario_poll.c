/*
 * modbus.poll{}: a SCADA master inside the scenario's process. It polls
 * the process's own Modbus TCP listener over a real connection (so the
 * frames show wherever the bus is watched: the terminal's Modbus panel,
 * the web face), every `every` real seconds, and counts what came back.
 * The handle reads the counts and the latest registers, waits for
 * replies, and stops it; every poller stops with the scenario (the Lua
 * state keeps the handles until it is closed).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "sim/base/log.h"
#include "sim/base/monotonic.h"
#include "sim/ports/poller.h"
#include "sim/ports/ports.h"
#include "protocols/modbus_tcp.h"
#include "sim/scenario/scenario_call.h"
#include "sim/scenario/scenario_poll.h"

#define POLL_MT "kpm31c.poller"
#define POLL_KEEP "kpm31c.pollers"      /* registry: every handle */

#define EVERY_DEFAULT 2.0       /* real s, as a SCADA master polls */
#define TIMEOUT_DEFAULT 1.0     /* real s */
#define WAIT_DEFAULT 10.0       /* real s p:wait() gives up after */

/* What a poller reads unless told: the measurements (U..F) and the
 * lifetime energies, as a SCADA master does. */
static const struct { uint16_t addr, count; } default_reads[] = {
    { 0x0030, 14 }, { 0x0080, 12 },
};

struct sc_poll_handle {
    struct poller *p;           /* NULL once stopped */
    struct poller_stats last;   /* the counts when it stopped */
    unsigned nblocks;
    uint16_t counts[POLLER_BLOCKS_MAX]; /* registers each read asks for */
    double every;
    char address[96];
    uint64_t want;              /* p:wait(): the reply count it waits for */
    double deadline;            /* ... until this real s */
};

/* The Modbus TCP listener's address to connect to; false without one. */
static bool listener(const struct scenario *sc, char *host, size_t len,
                     int *port)
{
    return sc->ports && sc->ports->tcp &&
           mb_tcp_address(sc->ports->tcp, host, len, port) == 0;
}

static int l_listening(lua_State *L)
{
    SC_NEED_METERS(L, l_listening);
    char host[64];
    int port;

    if (!listener(sc_of(L), host, sizeof host, &port)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushfstring(L, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    return 1;
}

/* A number field in (lo, hi], or def when absent. */
static double number_field(lua_State *L, const char *key, double def,
                           double lo, double hi)
{
    int t = lua_getfield(L, 1, key);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (t == LUA_TNIL)
        return def;
    if (t != LUA_TNUMBER || !(v > lo && v <= hi))
        sc_error(L, "modbus.poll{%s}: real seconds, more than %g and at "
                 "most %g", key, lo, hi);
    return v;
}

/* An integer at index idx in lo..hi, named what in the error. */
static unsigned integer_at(lua_State *L, int idx, lua_Integer lo,
                           lua_Integer hi, const char *what)
{
    lua_Integer v = lua_tointeger(L, idx);
    if (!lua_isinteger(L, idx) || v < lo || v > hi)
        sc_error(L, "modbus.poll{}: %s is %s, not %lld..%lld", what,
                 luaL_tolstring(L, idx, NULL), (long long)lo, (long long)hi);
    return (unsigned)v;
}

/* slave = 1 or {1, 2, 3}: the unit ids, in order. */
static unsigned slaves_field(lua_State *L, uint8_t *out)
{
    int t = lua_getfield(L, 1, "slave");
    unsigned n = 0;

    if (t == LUA_TNIL) {
        out[n++] = 1;
    } else if (t == LUA_TTABLE) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
        if (len < 1 || len > POLLER_BLOCKS_MAX)
            sc_error(L, "modbus.poll{slave}: 1..%d addresses",
                     POLLER_BLOCKS_MAX);
        for (lua_Integer k = 1; k <= len; k++) {
            lua_rawgeti(L, -1, k);
            out[n++] = (uint8_t)integer_at(L, -1, 1, MB_SLAVE_MAX, "a slave");
            lua_pop(L, 1);
        }
    } else {
        out[n++] = (uint8_t)integer_at(L, -1, 1, MB_SLAVE_MAX, "slave");
    }
    lua_pop(L, 1);
    return n;
}

/* A read of count registers at addr: within the register space. */
static void check_span(lua_State *L, uint16_t addr, uint16_t count)
{
    if ((unsigned)addr + count > 0x10000u)
        sc_error(L, "modbus.poll{}: 0x%04X x%u runs past 0xFFFF", addr,
                 count);
}

/* One read {addr, count} at the top of the stack. */
static void read_at(lua_State *L, uint16_t *addr, uint16_t *count)
{
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) != 2)
        sc_error(L, "modbus.poll{reads}: each read is {address, count}");
    lua_rawgeti(L, -1, 1);
    *addr = (uint16_t)integer_at(L, -1, 0, 0xFFFF, "an address");
    lua_rawgeti(L, -2, 2);
    *count = (uint16_t)integer_at(L, -1, 1, MB_MAX_READ, "a count");
    lua_pop(L, 2);
    check_span(L, *addr, *count);
}

/* reads = {{addr, count}, ...}, or from = addr, count = n, or the
 * defaults. */
static unsigned reads_field(lua_State *L, uint16_t *addr, uint16_t *count)
{
    bool reads = lua_getfield(L, 1, "reads") != LUA_TNIL;
    bool from = lua_getfield(L, 1, "from") != LUA_TNIL;
    bool n = lua_getfield(L, 1, "count") != LUA_TNIL;
    unsigned k = 0;

    if (reads && (from || n))
        sc_error(L, "modbus.poll{}: reads, or from and count, not both");
    if (from != n)
        sc_error(L, "modbus.poll{}: from and count go together");
    if (from) {
        addr[0] = (uint16_t)integer_at(L, -2, 0, 0xFFFF, "from");
        count[0] = (uint16_t)integer_at(L, -1, 1, MB_MAX_READ, "count");
        check_span(L, addr[0], count[0]);
        lua_pop(L, 3);
        return 1;
    }
    lua_pop(L, 2);
    if (!reads) {
        lua_pop(L, 1);
        for (; k < sizeof default_reads / sizeof default_reads[0]; k++) {
            addr[k] = default_reads[k].addr;
            count[k] = default_reads[k].count;
        }
        return k;
    }
    lua_Integer len = lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0;
    if (len < 1 || len > POLLER_BLOCKS_MAX)
        sc_error(L, "modbus.poll{reads}: a list of 1..%d {address, count}",
                 POLLER_BLOCKS_MAX);
    for (lua_Integer j = 1; j <= len; j++, k++) {
        lua_rawgeti(L, -1, j);
        read_at(L, &addr[k], &count[k]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return k;
}

static void check_keys(lua_State *L)
{
    static const char *const known[] = { "every", "slave", "reads", "from",
                                         "count", "timeout", NULL };
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        bool ok = false;
        for (unsigned k = 0; known[k] && lua_type(L, -1) == LUA_TSTRING; k++)
            ok |= !strcmp(lua_tostring(L, -1), known[k]);
        if (!ok)
            sc_error(L, "modbus.poll{}: unknown key '%s' (every, slave, "
                     "reads, from, count, timeout)",
                     luaL_tolstring(L, -1, NULL));
    }
}

static int l_poll(lua_State *L)
{
    SC_NEED_METERS(L, l_poll);
    struct scenario *sc = sc_of(L);
    struct poller_block blocks[POLLER_BLOCKS_MAX];
    uint8_t slaves[POLLER_BLOCKS_MAX];
    uint16_t addr[POLLER_BLOCKS_MAX], count[POLLER_BLOCKS_MAX];
    char host[64], err[256];
    int port;

    if (lua_isnoneornil(L, 1)) {        /* modbus.poll(): the defaults */
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L);
    double every = number_field(L, "every", EVERY_DEFAULT, 0.05, 3600);
    double timeout = number_field(L, "timeout", TIMEOUT_DEFAULT, 0, 60);
    unsigned ns = slaves_field(L, slaves);
    unsigned nr = reads_field(L, addr, count);
    if (ns * nr > POLLER_BLOCKS_MAX)
        return sc_error(L, "modbus.poll{}: %u slaves x %u reads is more "
                          "than %d requests a round", ns, nr,
                          POLLER_BLOCKS_MAX);
    if (!listener(sc, host, sizeof host, &port))
        return sc_error(L, "modbus.poll{}: this run has no Modbus TCP "
                          "listener to poll (a scenario opens none unless "
                          "told: --tcp HOST:PORT, or setup{tcp = "
                          "\"127.0.0.1:0\"})");
    unsigned n = 0;
    for (unsigned s = 0; s < ns; s++)
        for (unsigned r = 0; r < nr; r++, n++)
            blocks[n] = (struct poller_block){ .slave = slaves[s],
                                               .addr = addr[r],
                                               .count = count[r] };
    struct sc_poll_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, POLL_MT);
    h->p = poller_new(sc->ports->loop, &(struct poller_config){
                          .host = host, .port = port, .every = every,
                          .timeout = timeout, .blocks = blocks,
                          .nblocks = n }, err, sizeof err);
    if (!h->p)
        return sc_error(L, "modbus.poll{}: %s", err);
    h->nblocks = n;
    h->every = every;
    for (unsigned k = 0; k < n; k++)
        h->counts[k] = blocks[k].count;
    snprintf(h->address, sizeof h->address, "%s", poller_address(h->p));
    /* kept until the scenario ends, whether the script keeps it or not */
    lua_getfield(L, LUA_REGISTRYINDEX, POLL_KEEP);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
    log_info("scenario: Modbus poller: %u read%s every %g s from %s", n,
             n == 1 ? "" : "s", every, h->address);
    return 1;
}

static struct sc_poll_handle *check_poller(lua_State *L)
{
    return luaL_checkudata(L, 1, POLL_MT);
}

static const struct poller_stats *stats_of(const struct sc_poll_handle *h)
{
    return h->p ? poller_stats(h->p) : &h->last;
}

static void set_count(lua_State *L, const char *key, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
}

static int poll_stats(lua_State *L)
{
    const struct poller_stats *st = stats_of(check_poller(L));

    lua_createtable(L, 0, 11);
    set_count(L, "rounds", st->rounds);
    set_count(L, "sent", st->sent);
    set_count(L, "replies", st->replies);
    set_count(L, "exceptions", st->exceptions);
    set_count(L, "timeouts", st->timeouts);
    set_count(L, "stale", st->stale);
    set_count(L, "bad", st->bad);
    set_count(L, "connects", st->connects);
    set_count(L, "disconnects", st->disconnects);
    set_count(L, "refused", st->refused);
    lua_pushboolean(L, st->connected);
    lua_setfield(L, -2, "connected");
    return 1;
}

/* p:regs(k): read k's registers from its latest reply, or nil and the
 * exception code (0: no reply yet). */
static int poll_regs(lua_State *L)
{
    struct sc_poll_handle *h = check_poller(L);
    lua_Integer k = luaL_checkinteger(L, 2);
    uint16_t regs[MB_MAX_READ];
    int ex = 0;

    luaL_argcheck(L, k >= 1 && k <= (lua_Integer)h->nblocks, 2,
                  lua_pushfstring(L, "a read 1..%d", (int)h->nblocks));
    if (!h->p || !poller_regs(h->p, (unsigned)k - 1, regs, &ex)) {
        lua_pushnil(L);
        lua_pushinteger(L, ex);
        return 2;
    }
    unsigned n = h->counts[k - 1];
    lua_createtable(L, (int)n, 0);
    for (unsigned r = 0; r < n; r++) {
        lua_pushinteger(L, regs[r]);
        lua_rawseti(L, -2, r + 1);
    }
    return 1;
}

/* p:wait() holds virtual time while this says true. */
static bool waiting(void *ctx)
{
    struct sc_poll_handle *h = ctx;
    return h->p && poller_stats(h->p)->replies < h->want &&
           monotonic_s() <= h->deadline;
}

static int poll_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    struct sc_poll_handle *h = check_poller(L);
    (void)status, (void)ctx;

    lua_pushboolean(L, stats_of(h)->replies >= h->want);
    return 1;
}

/* p:wait([n [, timeout]]): n more good replies (default 1), at most
 * timeout real seconds (default 10). Virtual time stands still
 * meanwhile: the replies read what the meter shows when it returns. */
static int poll_wait(lua_State *L)
{
    struct sc_poll_handle *h = check_poller(L);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    lua_Number timeout = luaL_optnumber(L, 3, WAIT_DEFAULT);

    luaL_argcheck(L, n >= 1 && n <= 1000000, 2, "a count of replies >= 1");
    luaL_argcheck(L, timeout > 0 && timeout <= 3600, 3,
                  "real seconds, > 0 and at most 3600");
    h->want = stats_of(h)->replies + (uint64_t)n;
    h->deadline = monotonic_s() + timeout;
    if (!waiting(h))
        return poll_wait_k(L, LUA_OK, 0);
    return sc_hold(L, waiting, h, "p:wait", poll_wait_k);
}

static void halt(struct sc_poll_handle *h)
{
    if (!h->p)
        return;
    h->last = *poller_stats(h->p);
    h->last.connected = false;
    poller_free(h->p);
    h->p = NULL;
}

static int poll_stop(lua_State *L)
{
    halt(check_poller(L));
    return 0;
}

static int poll_gc(lua_State *L)
{
    halt(luaL_checkudata(L, 1, POLL_MT));
    return 0;
}

static int poll_tostring(lua_State *L)
{
    struct sc_poll_handle *h = check_poller(L);
    char every[32];

    snprintf(every, sizeof every, "%g", h->every);
    lua_pushfstring(L, "modbus poller %s (%d read%s every %s s%s)",
                    h->address, (int)h->nblocks, h->nblocks == 1 ? "" : "s",
                    every, h->p ? "" : ", stopped");
    return 1;
}

static const luaL_Reg poll_methods[] = {
    { "stats", poll_stats },
    { "regs", poll_regs },
    { "wait", poll_wait },
    { "stop", poll_stop },
    { NULL, NULL },
};

void sc_poll_register(lua_State *L)
{
    lua_pushcfunction(L, l_poll);
    lua_setfield(L, -2, "poll");
    lua_pushcfunction(L, l_listening);
    lua_setfield(L, -2, "listening");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, POLL_KEEP);
    sc_class(L, POLL_MT, poll_methods, poll_tostring);
    lua_pushcfunction(L, poll_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}
