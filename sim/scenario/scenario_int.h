/*
 * Private to the scenario files: the scenario's state, shared by
 *   scenario.c          the Lua state, the sandbox, the runner and its
 *                       scheduler (the script's coroutine, hooks, events)
 *   scenario_api.c      global functions: setup, time, hooks, faults,
 *                       the in-process Modbus client, files
 *   scenario_meter.c    the meter object: loads, ramps, profiles, events,
 *                       reads
 *   scenario_timers.c   the timer queue
 *   scenario_results.c  assertion results: TAP, JUnit, the closing line
 */
#ifndef SIM_SCENARIO_INT_H
#define SIM_SCENARIO_INT_H

#include <lua.h>
#include <lauxlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/engine/engine.h"
#include "sim/engine/load.h"
#include "sim/cli/options.h"
#include "sim/scenario/scenario.h"

/* ---- timers: everything that happens at a virtual time ---- */

enum sc_timer_kind {
    SC_T_HOOK = 0,          /* a Lua function: at, after, every */
    SC_T_OUTAGE_END = 1,    /* the voltage comes back on a meter */
    SC_T_RAMP = 2,          /* the next step of a meter's ramp */
    SC_T_PROFILE = 3,       /* the next slot of a meter's profile */
    SC_T_FAULT_END = 4,     /* a Modbus fault's duration is over */
    SC_T_BROKER_END = 5,    /* a broker loss is over */
};

struct sc_timer {
    int64_t t;              /* virtual ms it is due */
    uint64_t seq;           /* order of scheduling: ties run in it */
    int id;                 /* handle, > 0 */
    uint8_t kind;           /* enum sc_timer_kind */
    bool dead;              /* cancelled, dropped when it comes up */
    unsigned meter;         /* meter index, for the meter kinds */
    int64_t period;         /* ms between runs of a repeating hook, 0 once */
    int ref;                /* hook: registry ref of the function;
                               fault end: the fault's handle */
};

/* A binary heap ordered by (t, seq). */
struct sc_timers {
    struct sc_timer *v;
    size_t n, cap;
    uint64_t seq;           /* next sequence number */
    int next_id;            /* next handle */
};

/* Schedule a copy of *t (its t, kind, meter, period, ref; id 0 gets a
 * new handle, else keeps the given one). Returns the handle, -1 when out
 * of memory. */
int sc_timers_add(struct sc_timers *q, const struct sc_timer *t);
/* The due time of the earliest live timer; false when there is none. */
bool sc_timers_next(struct sc_timers *q, int64_t *t);
/* Take the earliest live timer if it is due at now; false otherwise. */
bool sc_timers_pop_due(struct sc_timers *q, int64_t now, struct sc_timer *out);
/* Cancel by handle: true when it was pending. */
bool sc_timers_cancel(struct sc_timers *q, int id);
/* Cancel every timer of a kind for a meter. */
void sc_timers_cancel_meter(struct sc_timers *q, enum sc_timer_kind kind,
                            unsigned meter);
void sc_timers_free(struct sc_timers *q);

/* ---- results ---- */

struct sc_case {
    char *name;             /* the assertion's message or check's name */
    char *where;            /* "file:line" */
    char *detail;           /* why it failed; NULL when it passed */
    bool ok;
    bool error;             /* a scenario error, not an assertion */
    int64_t t_ms;           /* virtual time it was decided */
};

struct sc_results {
    struct sc_case *v;
    size_t n, cap;
    unsigned passed, failed, errors;
    bool tap;               /* stream TAP on stdout */
    bool verbose;           /* also list passing cases */
    bool log;               /* a UI owns stdout: results to the log */
};

void sc_results_init(struct sc_results *r, bool tap, bool verbose);
/* Record one case (and stream it). */
void sc_results_add(struct sc_results *r, bool ok, const char *name,
                    const char *where, const char *detail, int64_t t_ms);
/* Record the scenario error that ended the run. */
void sc_results_error(struct sc_results *r, const char *message,
                      const char *trace, int64_t t_ms);
/* The TAP plan and the closing line ("N passed, N failed"). */
void sc_results_close(struct sc_results *r, const char *note);
/* JUnit XML: one testsuite, one testcase per case. 0, or -1 with err. */
int sc_results_junit(const struct sc_results *r, const char *path,
                     const char *suite, double real_s, char *err,
                     size_t errlen);
void sc_results_free(struct sc_results *r);

/* ---- the meters as the scenario drives them ---- */

/* What the script asked for a meter's load, before events and faults. */
struct sc_load {
    double u;               /* V RMS */
    double i;               /* A RMS, signed: < 0 exports */
    double f;               /* Hz */
    double pf;              /* 0..1 */
    bool capacitive;        /* leading current */
    bool angle_set;         /* angle below instead of pf */
    double angle;           /* degrees the current lags the voltage */
    struct load_harmonic harm[LOAD_MAX_HARMONICS];
    unsigned nharm;
    double v_noise, i_noise;    /* V, A RMS */
};

/* Quantities a ramp moves. */
enum { SC_R_U, SC_R_I, SC_R_F, SC_R_PF, SC_R_N };

struct sc_ramp {
    bool on;
    unsigned mask;          /* 1 << SC_R_* moving */
    double from[SC_R_N], to[SC_R_N];
    int64_t t0, t1;         /* virtual ms */
    int64_t step;           /* ms between updates */
};

struct sc_profile {
    bool on;
    double *shape;          /* multipliers */
    unsigned n;
    int64_t interval;       /* ms per point */
    int64_t anchor;         /* ms where point 0 starts */
    bool smooth;            /* interpolate between points */
    int64_t step;           /* ms between updates when smooth */
};

struct sc_meter {
    struct sc_load want;    /* the script's load */
    double factor;          /* the profile's multiplier on the current */
    struct sc_ramp ramp;
    struct sc_profile prof;
    bool outage;            /* no voltage */
    bool ct_reversed;       /* current transformer mounted backwards */
    int64_t key_ms;         /* the key driver's counter after the last
                               press (virtual ms, or later) */
};

/* ---- MQTT traffic the scenario saw ---- */

#define SC_MQTT_KEEP 1024       /* messages kept, the latest */

struct sc_msg {
    unsigned meter;
    bool out;               /* published, else a command received */
    int64_t t_ms;           /* virtual time it passed */
    char *topic;
    char *payload;          /* a NUL-terminated copy */
    size_t len;
};

struct sc_mqtt {
    struct sc_msg ring[SC_MQTT_KEEP];
    unsigned head, count;   /* oldest kept, how many */
    uint64_t *sent;         /* published so far, per meter */
    uint64_t *received;     /* commands so far, per meter */
};

/* ---- the scenario ---- */

enum sc_state {
    SC_SETUP = 0,           /* the script runs before the meters exist */
    SC_STARTING,            /* it needs the meters: waiting for start */
    SC_RUNNABLE,            /* resume it at the next dispatch */
    SC_WAITING,             /* it waits for wait_until */
    SC_DONE,                /* it ended */
};

/* An engine event for the hooks, queued until the step is over. */
struct sc_event {
    uint8_t kind;           /* 0 settlement, 1 relay */
    unsigned meter;
    int64_t t;              /* settlement: the month's end, s */
    bool closed;            /* relay */
};

/* An assertion group in progress: check(name, fn). */
struct sc_check {
    bool active;
    char *name, *where;
    unsigned failures;
    char *detail;           /* the first failure */
};

struct scenario {
    lua_State *L;               /* the main thread: hooks run on it */
    lua_State *co;              /* the script's coroutine */
    int co_ref;                 /* keeps co alive */
    struct sim_options *opt;
    char path[4096];            /* the script, as given */
    char dir[4096];             /* where its files are read from */
    char suite[256];            /* its name, for JUnit */
    struct engine *e;
    struct ports *ports;
    struct scenario_host host;
    struct engine_hooks chained;    /* the engine's hooks before ours */
    enum sc_state state;
    lua_CFunction retry;        /* the call that waits for the meters */
    char started_at[256];       /* "file:line" that started the meters */
    int64_t wait_from, wait_until;  /* the script's wait, ms */
    struct sc_timers timers;
    int running_timer;          /* the hook running now, 0 none */
    bool running_cancelled;     /* ... and it cancelled itself */
    struct sc_meter *m;         /* one per meter of the engine */
    struct sc_event *ev;
    size_t nev, evcap;
    int hooks_ref;              /* table: event name -> list of functions */
    bool settle_hooks;          /* on("settlement") has functions: stop at
                                   every month end a meter reaches */
    struct sc_results res;
    struct sc_check check;
    struct sc_mqtt *mqtt;       /* NULL until a message comes */
    size_t mem, mem_limit;      /* Lua heap bytes, and the cap (0: none) */
    double busy_since;          /* real s the running dispatch began */
    double watchdog;            /* real s a dispatch may take; 0 none */
    bool stop;                  /* stop() or a failed must(): end */
    bool error;                 /* a scenario error ended it */
    bool fail_fast;             /* every expect is a must */
    bool speed_locked;          /* --speed given: the script's speed() is
                                   ignored */
    struct {                    /* given on the command line: setup{}
                                   leaves these alone */
        bool start, meters, seed, speed, fidelity, slave;
    } cli;
    double real_start;          /* real s at load */
};

/* The scenario a Lua state belongs to. */
static inline struct scenario *sc_of(lua_State *L)
{
    return *(struct scenario **)lua_getextraspace(L);
}

/* Run a call that needs the meters: before they exist, yield (the runner
 * starts them) and run the function again. Use as the first statement:
 *   SC_NEED_METERS(L, this_function);                                  */
int sc_yield_for_meters(lua_State *L, lua_CFunction again);
#define SC_NEED_METERS(L, fn) do { \
        if (sc_of(L)->e == NULL) return sc_yield_for_meters(L, fn); \
    } while (0)

/* Raise an error "file:line: message" at the script line that called the
 * running C function (luaL_error's, with all of printf's formats). */
int sc_error(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "file:line" of the Lua function level frames up (1 = the caller of
 * the running C function). */
void sc_where(lua_State *L, int level, char *buf, size_t len);

/* Virtual time now, ms, and the whole second it is in. */
int64_t sc_now_ms(const struct scenario *sc);

/* Argument parsers: a duration (seconds as a number, or "15m", "1h30m")
 * and a time (seconds since 1970 as a number, or "2026-01-01T06:00").
 * Both raise a Lua error naming the argument. */
int64_t sc_check_duration(lua_State *L, int arg);
int64_t sc_check_time(lua_State *L, int arg);
/* The same for a field of a table at index t (0 when absent, *found
 * false). */
int64_t sc_field_duration(lua_State *L, int t, const char *key, bool *found);

/* Schedule a hook function (at index fn) at t_ms, repeating every
 * period_ms when > 0. Pushes its handle object. */
void sc_push_hook(lua_State *L, int fn, int64_t t_ms, int64_t period_ms);
/* Schedule an internal timer; its handle. Raises on out of memory. */
int sc_schedule(lua_State *L, const struct sc_timer *t);

/* Record an assertion (ok, message, where, detail). With stop, the
 * scenario ends after it. */
void sc_record(struct scenario *sc, bool ok, const char *name,
               const char *where, const char *detail);

/* true while a full-screen UI owns stdout (print and results to the log) */
bool sc_ui(const struct scenario *sc);

/* Meter objects (scenario_meter.c). */
void sc_meter_register(lua_State *L);
void sc_meter_push(lua_State *L, unsigned index);
/* The meter at idx: a meter object or its number (1..); false when it is
 * neither (nothing raised). */
bool sc_meter_arg(lua_State *L, int idx, unsigned *index);
int sc_meters_init(struct scenario *sc);
void sc_meters_free(struct scenario *sc);
/* A meter timer came up (outage end, ramp step, profile slot). */
void sc_meter_timer(struct scenario *sc, const struct sc_timer *t);

/* Global functions (scenario_api.c). */
void sc_api_register(lua_State *L);

#endif
