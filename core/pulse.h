/*
 * The 1600 imp/kWh active-energy pulse output.
 *
 * One pulse is 1/1600 kWh = 0.625 Wh = 2 250 000 mJ exactly, so the count
 * is integer arithmetic on the energy: after any sequence of increments,
 * count = floor(E_mJ / 2 250 000) = floor(E_Wh x 1.6), and rest holds the
 * energy toward the next pulse. The pulsed energy is import + export
 * (|P|): it never runs backwards, whatever the combination words say.
 */
#ifndef CORE_PULSE_H
#define CORE_PULSE_H

#include "port.h"

#define PULSE_PER_KWH 1600
#define PULSE_MJ INT64_C(2250000)   /* mJ per pulse */

/* Called once per pulse: the running count, the pulse's time (ms). */
typedef void pulse_fn(void *ctx, uint64_t count, int64_t t_ms);

struct pulse {
    uint64_t count;         /* pulses emitted since the meter was made */
    int64_t rest;           /* mJ toward the next pulse, 0..PULSE_MJ-1 */
};

void pulse_init(struct pulse *p);

/*
 * Add mj (>= 0) of active energy measured evenly over dur_ms starting at
 * base_ms + off_ms. Each pulse completed is reported through fn (may be
 * NULL) at the time the energy crossed its threshold, rounded down to the
 * ms. Returns the pulses completed.
 */
uint64_t pulse_add(struct pulse *p, int64_t mj, int64_t base_ms,
                   double off_ms, double dur_ms, pulse_fn *fn, void *ctx);

/* CORE_OK if a restored state is consistent. */
int pulse_check(const struct pulse *p);

#endif
