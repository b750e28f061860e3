/*
 * Private to the scenario files: the scenario's state. The files, bottom
 * layer first (each calls only the ones above it in this list):
 *   scenario_timers.c   the timer queue (scenario_timers.h)
 *   scenario_results.c  assertion results: TAP, JUnit, the closing line
 *                       (scenario_results.h)
 *   scenario_call.c     what every function called from Lua needs: errors
 *                       at the script's line, durations and times, the
 *                       clock, scheduling, waiting for the meters
 *                       (scenario_call.h)
 *   scenario_meter.c    the meter object: loads, ramps, profiles, events,
 *                       reads (scenario_meter.h)
 *   scenario_poll.c     modbus.poll{}: a Modbus TCP master on the run's
 *                       own listener (scenario_poll.h)
 *   scenario_api.c      global functions: setup, time, hooks, faults,
 *                       the in-process Modbus client, MQTT, files
 *                       (scenario_api.h)
 *   scenario.c          the runner: the Lua state, the sandbox, the
 *                       script's coroutine, the scheduler, the results
 *                       (scenario.h)
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
#include "sim/engine/load_want.h"
#include "sim/cli/options.h"
#include "sim/scenario/scenario.h"
#include "sim/scenario/scenario_backstop.h"
#include "sim/scenario/scenario_mem.h"
#include "sim/scenario/scenario_results.h"
#include "sim/scenario/scenario_timers.h"

/* ---- the meters as the scenario drives them ---- */

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
    struct load_want want;  /* the script's load, before events and
                               faults */
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
    uint8_t kind;           /* 0 settlement, 1 relay, 2 pulse */
    unsigned meter;
    int64_t t;              /* settlement: the month's end, s; pulse: ms */
    bool closed;            /* relay */
    uint64_t count;         /* pulse: the meter's count after it */
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
    bool (*hold)(void *ctx);    /* while it says true, a wait holds virtual
                                   time still (a real-time wait), NULL none */
    void *hold_ctx;
    struct sc_timers timers;
    int running_timer;          /* the hook running now, 0 none */
    bool running_cancelled;     /* ... and it cancelled itself */
    struct sc_meter *m;         /* one per meter of the engine */
    struct sc_event *ev;
    size_t nev, evcap;
    int hooks_ref;              /* table: event name -> list of functions */
    bool settle_hooks;          /* on("settlement") has functions: stop at
                                   every month end a meter reaches */
    bool pulse_hooks;           /* on("pulse") has functions */
    struct sc_results res;
    struct sc_check check;
    struct sc_mqtt *mqtt;       /* NULL until a message comes */
    struct sc_mem mem;          /* the Lua heap and what is kept for the
                                   script (results, timers); the cap */
    double busy_since;          /* real s the running dispatch began */
    double watchdog;            /* real s a dispatch may take; 0 none */
    double watchdog_max;        /* --lua-watchdog: setup{} may only lower */
    bool killed;                /* the watchdog fired: the script ends */
    struct sc_backstop *backstop;   /* ends the process when a C function
                                       outlasts the watchdog */
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

#endif
