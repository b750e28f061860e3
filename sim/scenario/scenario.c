/*
 * The scenario runner: the Lua state and its sandbox, the script's
 * coroutine, and the scheduler that interleaves it with the engine.
 *
 * Every call into Lua is protected. The script's coroutine reports errors
 * through lua_resume (its stack is kept, so the traceback is the
 * coroutine's); hooks run on the main thread under lua_pcall with a
 * message handler that adds a traceback. Errors read "file:line: message".
 *
 * The sandbox opens base (without dofile, loadfile, and with load taking
 * text only), string (without dump), table, math and utf8, plus the
 * simulator's API; memory is capped by a counting allocator and a
 * watchdog stops a script that keeps the loop without letting virtual
 * time pass. --unsafe-lua opens every standard library and lifts the cap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/base/log.h"
#include "sim/base/monotonic.h"
#include "sim/ports/ports.h"
#include "core/meter_host.h"
#include "sim/scenario/scenario_int.h"
#include "sim/scenario/scenario_api.h"
#include "sim/scenario/scenario_bounded.h"
#include "sim/scenario/scenario_call.h"
#include "sim/scenario/scenario_meter.h"
#include "sim/scenario/scenario_prelude.h"
#include "sim/base/timeparse.h"

#define SC_DEFAULT_START "2026-01-01T00:00:00"

/* ---- memory and the watchdog ---- */

static void *sc_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct scenario *sc = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        sc_mem_free(&sc->mem, ptr, old);
        return NULL;
    }
    return sc_mem_realloc(&sc->mem, ptr, old, nsize);
}

/* An error outside any protected call (the runner's own pushes between
 * hooks, out of memory at the cap): nothing can be unwound, so say what
 * happened and end as a scenario error. */
static int on_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    log_error("the scenario's Lua state cannot go on: %s",
              msg ? msg : "(no message)");
    fflush(stdout);
    exit(2);
}

/* Does msg start with a position, "file:line:"? */
static bool has_position(const char *msg)
{
    const char *colon = strchr(msg, ':');
    const char *p = colon;

    if (!colon || colon == msg || memchr(msg, '\n', (size_t)(colon - msg)))
        return false;
    while (*++p >= '0' && *p <= '9')
        ;
    return p > colon + 1 && *p == ':';
}

/* The error object at idx as text with the script's position, in place:
 * where the error was raised on thread at, level frames up (the first
 * of the script's frames from there), when the message has none or
 * names the prelude (error({}), error(nil), error("x", 0)). text is the
 * object as text; no metamethod runs (this is also called outside any
 * protection). */
static const char *positioned(lua_State *L, int idx, lua_State *at,
                              int level, const char *text)
{
    char where[300];

    idx = lua_absindex(L, idx);
    if (!strncmp(text, "prelude:", 8) && has_position(text)) {
        text = strchr(text + 8, ':') + 1;   /* ours: the script's instead */
        if (*text == ' ')
            text++;
    } else if (has_position(text)) {
        return text;
    }
    sc_where(at, level, where, sizeof where);
    lua_pushfstring(L, "%s%s%s", where, where[0] ? " " : "", text);
    lua_replace(L, idx);
    return lua_tostring(L, idx);
}

/* The error object at idx as text (see positioned()). */
static const char *error_text(lua_State *L, int idx, lua_State *at,
                              int level)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER) {
        lua_pushfstring(L, "error object is a %s value",
                        luaL_typename(L, idx));
        lua_replace(L, idx);
    }
    return positioned(L, idx, at, level, lua_tostring(L, idx));
}

/* "file:line:" of the script's innermost frame in a traceback (lines
 * "\tfile:line: in ..."), skipping C and the prelude; "" when none. */
static void where_from_trace(const char *trace, char *buf, size_t len)
{
    buf[0] = '\0';
    for (const char *p = trace; p && (p = strchr(p, '\t')) != NULL; p++) {
        const char *colon = strchr(p + 1, ':');
        const char *colon2 = colon ? strchr(colon + 1, ':') : NULL;
        const char *nl = strchr(p, '\n');
        if (!colon2 || (nl && colon2 > nl) || colon2 == colon + 1)
            continue;
        if (!strncmp(p + 1, "[C]", 3) || !strncmp(p + 1, "prelude", 7) ||
            !strncmp(p + 1, "[string", 7))
            continue;
        snprintf(buf, len, "%.*s ", (int)(colon2 - p), p + 1);
        return;
    }
}

/* The scenario ends with an error: report it with its traceback. */
static void script_failed(struct scenario *sc, const char *msg,
                          const char *trace, int status)
{
    char mem[1200], where[512];

    if (status == LUA_ERRMEM) {
        /* the allocator failed: the message has no position, the
         * traceback has it */
        char what[160];
        where_from_trace(trace, where, sizeof where);
        sc_mem_message(sc, what, sizeof what);
        snprintf(mem, sizeof mem, "%s%s", where, what);
        msg = mem;
    }
    log_error("%s", msg);
    if (trace && *trace && sc_ui(sc)) {
        for (const char *p = trace; *p;) {      /* the UI's log panel */
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            log_error("%.*s", len, p);
            p += len + (nl ? 1 : 0);
        }
    } else if (trace && *trace) {
        fprintf(stderr, "%s\n", trace);
    }
    sc_results_error(&sc->res, msg, trace, sc_now_ms(sc));
    sc->error = true;
    sc->state = SC_DONE;
}

/* Message handler for hooks: the message and, kept aside, a traceback. */
static char *pending_trace;

static int msgh(lua_State *L)
{
    if (sc_of(L)->stop)
        return 1;                   /* a stop() marker: leave it */
    lua_settop(L, 1);
    const char *msg = luaL_tolstring(L, 1, NULL);
    if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER &&
        !luaL_getmetafield(L, 1, "__tostring")) {
        lua_pushfstring(L, "error object is a %s value",
                        luaL_typename(L, 1));
        msg = lua_tostring(L, -1);
    }
    msg = positioned(L, -1, L, 1, msg);
    luaL_traceback(L, L, NULL, 1);
    free(pending_trace);
    pending_trace = strdup(lua_tostring(L, -1));
    lua_pushstring(L, msg);
    return 1;
}

/* Call the function below nargs arguments on the main thread. */
static void protected_call(struct scenario *sc, int nargs)
{
    lua_State *L = sc->L;
    int base = lua_gettop(L) - nargs;
    lua_Debug ar;
    char defined[400];

    /* where the hook is defined: a memory error unwinds without calling
     * msgh, so that is the line it names */
    lua_pushvalue(L, base);
    lua_getinfo(L, ">S", &ar);
    snprintf(defined, sizeof defined, "stack traceback:\n\t%s:%d: in the "
             "hook defined there", ar.short_src, ar.linedefined);
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    sc_backstop_enter(sc->backstop);
    int st = lua_pcall(L, nargs, 0, base);
    sc_backstop_leave(sc->backstop);
    if (st != LUA_OK) {
        if (!sc->stop && st == LUA_ERRMEM)
            script_failed(sc, "", defined, st);
        else if (!sc->stop)
            script_failed(sc, error_text(L, -1, L, 0), pending_trace, st);
        lua_pop(L, 1);
    }
    free(pending_trace);
    pending_trace = NULL;
    lua_remove(L, base);
    if (sc->stop)
        sc->state = SC_DONE;
}

/* ---- the script's coroutine ---- */

static void resume_script(struct scenario *sc)
{
    int nres = 0;

    sc->state = SC_RUNNABLE;
    sc->hold = NULL;
    sc_backstop_enter(sc->backstop);
    int st = lua_resume(sc->co, sc->L, 0, &nres);
    sc_backstop_leave(sc->backstop);
    if (st == LUA_YIELD) {
        lua_pop(sc->co, nres);
        if (sc->state == SC_RUNNABLE) {
            /* a yield that is not ours: a coroutine trick we do not run */
            script_failed(sc, "the script yielded outside advance() or "
                          "run_until()", NULL, LUA_ERRRUN);
        }
    } else if (st == LUA_OK) {
        lua_pop(sc->co, nres);
        sc->state = SC_DONE;
    } else if (!sc->stop) {
        const char *msg = st == LUA_ERRMEM ? "" : error_text(sc->co, -1,
                                                              sc->co, 0);
        luaL_traceback(sc->L, sc->co, NULL, 0);
        script_failed(sc, msg, lua_tostring(sc->L, -1), st);
        lua_pop(sc->L, 1);
    }
    if (sc->stop)
        sc->state = SC_DONE;
}

/* ---- engine events ---- */

static void queue_event(struct scenario *sc, const struct sc_event *ev)
{
    if (sc->nev == sc->evcap) {
        size_t cap = sc->evcap ? 2 * sc->evcap : 16;
        struct sc_event *v = realloc(sc->ev, cap * sizeof *v);
        if (!v)
            return;
        sc->ev = v;
        sc->evcap = cap;
    }
    sc->ev[sc->nev++] = *ev;
}

static void on_settled(void *ctx, unsigned meter, int64_t t)
{
    struct scenario *sc = ctx;
    queue_event(sc, &(struct sc_event){ .kind = 0, .meter = meter, .t = t });
    sc->e->pause = true;
    if (sc->chained.settled)
        sc->chained.settled(sc->chained.ctx, meter, t);
}

static void on_relay(void *ctx, unsigned meter, bool closed)
{
    struct scenario *sc = ctx;
    queue_event(sc, &(struct sc_event){ .kind = 1, .meter = meter,
                                        .closed = closed });
    sc->e->pause = true;
    if (sc->chained.relay)
        sc->chained.relay(sc->chained.ctx, meter, closed);
}

static void on_pulse(void *ctx, unsigned meter, uint64_t count, int64_t t_ms)
{
    struct scenario *sc = ctx;
    if (sc->pulse_hooks) {
        sc->e->per_second = true;       /* hooks at the pulse's second */
        queue_event(sc, &(struct sc_event){ .kind = 2, .meter = meter,
                                            .t = t_ms, .count = count });
        sc->e->pause = true;
    }
    if (sc->chained.pulse)
        sc->chained.pulse(sc->chained.ctx, meter, count, t_ms);
}

/* Run the hooks of one event. */
static void run_event(struct scenario *sc, const struct sc_event *ev)
{
    lua_State *L = sc->L;
    static const char *const names[] = { "settlement", "relay", "pulse" };

    lua_rawgeti(L, LUA_REGISTRYINDEX, sc->hooks_ref);
    if (lua_getfield(L, -1, names[ev->kind]) != LUA_TTABLE) {
        lua_pop(L, 2);
        return;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer k = 1; k <= n && sc->state != SC_DONE; k++) {
        lua_rawgeti(L, -1, k);
        sc_meter_push(L, ev->meter);
        int nargs = 2;
        if (ev->kind == 0) {
            lua_pushinteger(L, ev->t);
        } else if (ev->kind == 1) {
            lua_pushstring(L, ev->closed ? "closed" : "open");
        } else {
            lua_pushinteger(L, (lua_Integer)ev->count);
            lua_pushinteger(L, ev->t);
            nargs = 3;
        }
        protected_call(sc, nargs);
    }
    lua_pop(L, 2);
}

/* ---- timers ---- */

static void run_timer(struct scenario *sc, struct sc_timer *t)
{
    lua_State *L = sc->L;

    switch (t->kind) {
    case SC_T_HOOK:
        sc->running_timer = t->id;
        sc->running_cancelled = false;
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
        lua_pushinteger(L, sc->e->now_ms / 1000);
        protected_call(sc, 1);
        sc->running_timer = 0;
        if (t->period > 0 && !sc->running_cancelled && sc->state != SC_DONE) {
            t->t += t->period;
            if (sc_timers_add(&sc->timers, t) < 0)
                luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
        } else {
            luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
        }
        break;
    case SC_T_FAULT_END:
        if (sc->ports)
            mb_faults_remove(&sc->ports->faults, t->ref);
        break;
    case SC_T_BROKER_END:
        if (sc->host.broker)
            sc->host.broker(sc->host.ctx, false);
        break;
    default:
        sc_meter_timer(sc, t);
        break;
    }
}

/* ---- the scheduler ---- */

/* With settlement hooks, the virtual ms of the next month end any meter's
 * RTC reaches (its own clock: set by a user, drifting), not yet ticked:
 * the engine stops there, so the hooks run at 00:00:00 on the 1st with
 * the new month still empty. INT64_MAX when none is waited for. (Should
 * a drift move it meanwhile, engine.pause still stops right after.) */
static int64_t next_settlement(const struct scenario *sc)
{
    const struct engine *e = sc->e;
    int64_t best = INT64_MAX;

    if (!sc->settle_hooks)
        return INT64_MAX;
    for (unsigned k = 0; k < e->count; k++) {
        const struct sim_meter *sm = &e->meters[k];
        int64_t rtc = meter_time(&sm->core);
        int64_t off = engine_rtc_offset(sm);
        int64_t b = rtc_month_start(rtc_month_index(rtc) + 1) - off;
        if (b > e->ticked && b * 1000 >= e->now_ms && b * 1000 < best)
            best = b * 1000;
    }
    return best;
}

/* The script's wait is over at now (a held wait: once its hold lets go). */
static bool wait_over(struct scenario *sc, int64_t now)
{
    return sc->state == SC_WAITING && sc->wait_until <= now &&
           !(sc->hold && sc->hold(sc->hold_ctx));
}

static bool due(struct scenario *sc, int64_t now)
{
    int64_t t;
    return sc->nev > 0 || sc->state == SC_RUNNABLE || wait_over(sc, now) ||
           (sc_timers_next(&sc->timers, &t) && t <= now) ||
           next_settlement(sc) <= now;
}

/* Run everything due at the engine's time: engine events, timers, then
 * the script. false once the scenario has ended. */
static bool dispatch(struct scenario *sc)
{
    struct engine *e = sc->e;
    int64_t now = e->now_ms;

    if (sc->state == SC_DONE)
        return false;
    if (!due(sc, now))
        return true;
    sc->busy_since = monotonic_s();
    engine_finish(e);           /* the RTCs read this second */
    while (sc->state != SC_DONE) {
        struct sc_timer t;
        if (sc->nev > 0) {
            struct sc_event ev = sc->ev[0];
            memmove(sc->ev, sc->ev + 1, --sc->nev * sizeof *sc->ev);
            run_event(sc, &ev);
        } else if (sc_timers_pop_due(&sc->timers, now, &t)) {
            run_timer(sc, &t);
        } else if (sc->state == SC_RUNNABLE || wait_over(sc, now)) {
            resume_script(sc);
        } else {
            break;
        }
    }
    e->pause = false;
    sc->busy_since = 0;
    return sc->state != SC_DONE;
}

bool scenario_advance(struct scenario *sc, int64_t target_ms,
                      unsigned max_steps)
{
    int64_t stop = target_ms, t;

    if (!dispatch(sc))
        return false;
    if (sc->state == SC_WAITING && sc->wait_until < stop)
        stop = sc->wait_until;
    if (sc_timers_next(&sc->timers, &t) && t < stop)
        stop = t;
    if ((t = next_settlement(sc)) < stop)
        stop = t;
    if (stop > sc->e->now_ms)
        engine_advance(sc->e, stop, max_steps);
    return dispatch(sc);
}

bool scenario_done(const struct scenario *sc)
{
    return sc->state == SC_DONE;
}

bool scenario_span(const struct scenario *sc, int64_t *from_ms,
                   int64_t *to_ms)
{
    if (sc->state != SC_WAITING || sc->wait_until <= sc->wait_from)
        return false;
    *from_ms = sc->wait_from;
    *to_ms = sc->wait_until;
    return true;
}

/* ---- the sandbox ---- */

/* print: stdout, as TAP comments with --tap. */
static int l_print(lua_State *L)
{
    struct scenario *sc = sc_of(L);
    int n = lua_gettop(L);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (int k = 1; k <= n; k++) {
        if (k > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, k, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    const char *text = lua_tostring(L, -1);
    log_interrupt();
    if (sc_ui(sc)) {
        log_info("%s", text);
    } else if (sc->res.tap) {
        for (const char *p = text; p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            printf("# %.*s\n", len, p);
            p = nl ? nl + 1 : NULL;
        }
    } else {
        printf("%s\n", text);
    }
    fflush(stdout);
    return 0;
}

/* load(chunk, name, mode, env): text chunks only, whatever mode says
 * (the original load is upvalue 1). */
static int l_load(lua_State *L)
{
    bool env = lua_gettop(L) >= 4;

    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (env)
        lua_pushvalue(L, 4);
    lua_call(L, env ? 4 : 3, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

/* setmetatable(t, mt) without finalizers: a __gc runs where no hook
 * does (Lua stops them inside finalizers), so one that loops would hang
 * the process, at the latest at exit. */
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return sc_error(L, "setmetatable(): a metatable with __gc: "
                            "finalizers do not run in scenarios");
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static void open_sandbox(struct scenario *sc, lua_State *L, bool unsafe)
{
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base },
        { LUA_STRLIBNAME, luaopen_string },
        { LUA_TABLIBNAME, luaopen_table },
        { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 },
        { NULL, NULL },
    };

    if (unsafe) {
        luaL_openlibs(L);
    } else {
        for (const luaL_Reg *lib = libs; lib->func; lib++) {
            luaL_requiref(L, lib->name, lib->func, 1);
            lua_pop(L, 1);
        }
        lua_pushnil(L);
        lua_setglobal(L, "dofile");
        lua_pushnil(L);
        lua_setglobal(L, "loadfile");
        lua_getglobal(L, "load");
        lua_pushcclosure(L, l_load, 1);
        lua_setglobal(L, "load");
        lua_getglobal(L, "string");
        lua_pushnil(L);
        lua_setfield(L, -2, "dump");
        lua_pop(L, 1);
    }
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    sc_bounded_open(L);
    if (!unsafe) {
        lua_getglobal(L, "setmetatable");
        lua_pushcclosure(L, l_setmetatable, 1);
        lua_setglobal(L, "setmetatable");
    }
}

/* The script's arguments: arg[0] the script, arg[1..] the words after
 * it, and arg.NAME for each NAME=VALUE (numbers as numbers). */
static void push_args(lua_State *L, const struct sim_options *o)
{
    lua_createtable(L, o->scenario_nargs, 4);
    lua_pushstring(L, o->scenario);
    lua_rawseti(L, -2, 0);
    for (int k = 0; k < o->scenario_nargs; k++) {
        const char *a = o->scenario_args[k];
        const char *eq = strchr(a, '=');
        lua_pushstring(L, a);
        lua_rawseti(L, -2, k + 1);
        if (eq && eq > a) {
            lua_pushlstring(L, a, (size_t)(eq - a));
            if (lua_stringtonumber(L, eq + 1) == 0)
                lua_pushstring(L, eq + 1);
            lua_rawset(L, -3);
        }
    }
    lua_setglobal(L, "arg");
}

/* Scenario defaults for what the command line left alone: no state
 * file, no Modbus TCP listener or RTU pty, no load, a fixed start, speed
 * max. */
static void apply_defaults(struct scenario *sc, struct sim_options *o)
{
    sc->cli.start = o->start_set;
    sc->cli.meters = o->meters_set;
    sc->cli.seed = o->seed_set;
    sc->cli.speed = o->speed_set;
    sc->cli.fidelity = o->fidelity_set;
    sc->cli.slave = o->slave != 0;
    if (!o->state_set)
        o->state_path = NULL;
    if (!o->tcp_set)
        o->tcp_off = true;
    /* a wrapper's defaults (KPM31C_DEFAULT_*) are not the scenario's */
    if (!o->rtu_set)
        o->rtu_path = NULL;
    if (!o->load_set)
        load_default(&o->load);
    if (!o->start_set) {
        time_parse_iso(SC_DEFAULT_START, &o->start);
        o->start_set = true;
    }
    if (!o->speed_set)
        o->speed_max = true;
}

static void set_names(struct scenario *sc, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t len = strlen(base);

    snprintf(sc->path, sizeof sc->path, "%s", path);
    if (slash)
        snprintf(sc->dir, sizeof sc->dir, "%.*s", (int)(slash - path + 1),
                 path);
    else
        sc->dir[0] = '\0';          /* the current directory */
    if (len > 4 && !strcmp(base + len - 4, ".lua"))
        len -= 4;
    snprintf(sc->suite, sizeof sc->suite, "%.*s", (int)len, base);
}

/* The Lua state's parts: the sandbox, the API, the script's arguments,
 * math.random seeded with --seed (same seed, same numbers). Leaves the
 * API's private table for the prelude. */
static void open_state(struct scenario *sc, lua_State *L,
                       const struct sim_options *o)
{
    *(struct scenario **)lua_getextraspace(L) = sc;
    lua_atpanic(L, on_panic);
    sc_watchdog_arm(L, false);       /* threads inherit it */
    open_sandbox(sc, L, o->unsafe_lua);
    lua_newtable(L);
    sc->hooks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    sc_meter_register(L);
    sc_api_register(L);                 /* leaves the private table */
    push_args(L, o);

    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, (lua_Integer)o->seed);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
}

/* Run the prelude (the Lua half of the API) with the private table on
 * the stack; false when it fails (reported). */
static bool run_prelude(struct scenario *sc, lua_State *L,
                        const struct sim_options *o)
{
    if (luaL_loadbufferx(L, (const char *)scenario_prelude,
                         sizeof scenario_prelude - 1,
                         "=prelude", "t") != LUA_OK) {
        log_error("the scenario prelude does not load: %s",
                  lua_tostring(L, -1));
        return false;
    }
    lua_insert(L, -2);
    lua_pushboolean(L, o->unsafe_lua);
    lua_pushstring(L, sc->dir);
    lua_pushinteger(L, (lua_Integer)o->seed);
    if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
        log_error("the scenario prelude fails: %s", lua_tostring(L, -1));
        return false;
    }
    return true;
}

/* The script as the coroutine's function; false when it does not load
 * (recorded as the scenario's error). */
static bool load_script(struct scenario *sc, const struct sim_options *o)
{
    sc->co = lua_newthread(sc->L);
    sc->co_ref = luaL_ref(sc->L, LUA_REGISTRYINDEX);
    int st = luaL_loadfilex(sc->co, o->scenario, "t");
    if (st == LUA_OK)
        return true;
    const char *msg = lua_tostring(sc->co, -1);
    if (st == LUA_ERRFILE)
        msg = lua_pushfstring(sc->co, "%s: cannot read the scenario: %s",
                              o->scenario, strerror(errno));
    script_failed(sc, msg, NULL, st);
    return false;
}

struct scenario *scenario_load(struct sim_options *o)
{
    struct scenario *sc = calloc(1, sizeof *sc);

    if (!sc) {
        log_error("%s: out of memory", o->scenario);
        return NULL;
    }
    sc->opt = o;
    apply_defaults(sc, o);
    sc->real_start = monotonic_s();
    sc->mem.limit = o->unsafe_lua ? 0 : (size_t)o->lua_memory << 20;
    sc->watchdog = sc->watchdog_max = o->lua_watchdog;
    sc->timers.mem = &sc->mem;
    sc->speed_locked = o->speed_set;
    sc->co_ref = sc->hooks_ref = LUA_NOREF;
    set_names(sc, o->scenario);
    sc->backstop = sc_backstop_start(sc->path);
    sc_backstop_limit(sc->backstop, sc->watchdog);
    sc_results_init(&sc->res, o->tap, o->verbosity > 0, &sc->mem);

    sc->L = lua_newstate(sc_alloc, sc);
    if (!sc->L) {
        log_error("%s: cannot create a Lua state", o->scenario);
        free(sc);
        return NULL;
    }
    open_state(sc, sc->L, o);
    if (!run_prelude(sc, sc->L, o)) {
        scenario_free(sc);
        return NULL;
    }
    if (!load_script(sc, o))
        return sc;

    /* the setup phase: up to the first use of the meters */
    sc->busy_since = monotonic_s();
    resume_script(sc);
    sc->busy_since = 0;
    if (!o->fidelity_set)
        o->fidelity = (!o->speed_max && o->speed <= 1.0) ? ENGINE_FULL
                                                         : ENGINE_FAST;
    return sc;
}

void scenario_start(struct scenario *sc, struct engine *e, struct ports *p,
                    const struct scenario_host *host)
{
    sc->e = e;
    sc->ports = p;
    if (host)
        sc->host = *host;
    sc->chained = e->hooks;
    e->hooks = (struct engine_hooks){
        .ctx = sc, .settled = on_settled, .relay = on_relay,
        .pulse = on_pulse,
    };
    e->per_second = sc->pulse_hooks;
    if (sc_meters_init(sc)) {
        script_failed(sc, "out of memory for the meters' scenario state",
                      NULL, LUA_ERRMEM);
        return;
    }
    if (sc->state == SC_STARTING)
        sc->state = SC_RUNNABLE;
    sc->wait_from = sc->wait_until = e->now_ms;
}

int scenario_finish(struct scenario *sc, const char *why_stopped)
{
    char note[256] = "", err[512];
    int rc;

    if (why_stopped && sc->state != SC_DONE) {
        char when[32];
        time_format_iso(sc_now_ms(sc) / 1000, when, sizeof when);
        snprintf(note, sizeof note, "scenario stopped at %s by %s, before "
                 "its end", when, why_stopped);
        log_info("%s", note);
    }
    sc_results_close(&sc->res, note[0] ? note : NULL, sc_now_ms(sc));
    if (sc->opt->junit_path &&
        sc_results_junit(&sc->res, sc->opt->junit_path, sc->suite,
                         monotonic_s() - sc->real_start, err, sizeof err)) {
        log_error("%s", err);
        return 3;
    }
    rc = sc->error ? 2 : sc->res.failed ? 1 : 0;
    return rc;
}

void scenario_free(struct scenario *sc)
{
    if (!sc)
        return;
    sc_backstop_stop(sc->backstop);
    if (sc->e && sc->e->hooks.ctx == sc)
        sc->e->hooks = sc->chained;
    if (sc->L)
        lua_close(sc->L);
    sc_meters_free(sc);
    sc_timers_free(&sc->timers);
    sc_results_free(&sc->res);
    free(sc->ev);
    if (sc->mqtt) {
        for (unsigned k = 0; k < sc->mqtt->count; k++) {
            struct sc_msg *m = &sc->mqtt->ring[(sc->mqtt->head + k) %
                                               SC_MQTT_KEEP];
            free(m->topic);
            free(m->payload);
        }
        free(sc->mqtt->sent);
        free(sc->mqtt->received);
        free(sc->mqtt);
    }
    free(sc->check.name);
    free(sc->check.where);
    free(sc->check.detail);
    free(sc);
}
