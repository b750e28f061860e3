/*
 * Apparent-power demand: a sliding window over the last `period` minutes,
 * moved every `slide` minutes (15 and 1 by default).
 *
 * The window is made of period/slide subintervals aligned to the clock
 * (a subinterval ends when the RTC second is a multiple of slide x 60).
 * Demand = apparent energy of the window's subintervals / period, so it
 * ramps up after a restart (subintervals not yet seen count as zero), and
 * it changes only at subinterval ends. The maximum since the last monthly
 * settlement (or reset) is kept with the time of the subinterval end that
 * set it.
 */
#ifndef CORE_DEMAND_H
#define CORE_DEMAND_H

#include "port.h"

#define DEMAND_SLOTS 60     /* subintervals in a window, at most */

struct demand_config {
    uint8_t period_min;     /* window length, 1..60 minutes */
    uint8_t slide_min;      /* subinterval, 1..period_min, dividing it */
};

struct demand {
    double slot[DEMAND_SLOTS];  /* closed subintervals' energy, VA.s, ring */
    uint8_t head;           /* ring position of the next subinterval */
    uint8_t nslots;         /* period / slide */
    double open;            /* VA.s of the open subinterval so far */
    int64_t open_start;     /* s: where the open energy began */
    int64_t last;           /* s: the RTC second of the last tick */
    double value;           /* VA: the current demand */
    double max;             /* VA: the maximum this billing month */
    int64_t max_t;          /* s: when it was reached (0 = never) */
    double prev_max;        /* VA: the maximum of the previous month */
    int64_t prev_max_t;     /* s: when it was reached (0 = never) */
};

void demand_config_default(struct demand_config *c);
int demand_config_check(const struct demand_config *c);

/* Start with an empty window at time now (power-on, clock or set-up
 * change). The maxima are kept. */
void demand_restart(struct demand *d, const struct demand_config *c,
                    int64_t now);

/* Apparent energy measured, VA.s. */
void demand_add(struct demand *d, double va_s);

/* The RTC moved to second now: close every subinterval that ended since
 * the last tick (energy shared by time when ticks skip seconds). A step
 * backwards restarts the window. */
void demand_tick(struct demand *d, const struct demand_config *c,
                 int64_t now);

/* Monthly settlement: the maximum becomes the previous month's. */
void demand_settle(struct demand *d);

/* Clear the maximum (remote reset). */
void demand_reset_max(struct demand *d);

#endif
