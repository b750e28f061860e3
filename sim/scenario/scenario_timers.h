/*
 * The scenario's timer queue (scenario_timers.c): everything that happens
 * at a virtual time, in a binary heap ordered by (t, seq).
 */
#ifndef SIM_SCENARIO_TIMERS_H
#define SIM_SCENARIO_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario/scenario_mem.h"

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
    struct sc_mem *mem;     /* the queue's memory is counted here */
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

#endif
