/*
 * Populations (docs/fleet.md, "Populations"): each meter's load drawn from
 * a seeded mix of kinds (households, EV chargers, PV exporters, shops,
 * heat pumps), so a large fleet is not copies of one load. Everything a
 * meter gets is a function of the population's seed, the meter's global
 * index and the virtual time alone: the same meter draws the same loads
 * whichever process or shard runs it, and a restart resumes them.
 *
 * Loads change only at the population's interval boundaries (whole
 * multiples of it since 1970), all meters at once, and carry no noise:
 * between boundaries the fleet stays quiet, so fast fidelity runs it a
 * minute a step.
 */
#ifndef SIM_POPULATION_H
#define SIM_POPULATION_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/engine/load.h"

#define POPULATION_KINDS 16     /* entries of a mix at most */

/* A closed range a value is drawn from, uniformly; lo == hi: fixed. */
struct population_range {
    double lo, hi;
};

enum population_shape {
    POP_HOUSEHOLD, POP_EV_CHARGER, POP_PV_EXPORTER, POP_SHOP, POP_HEAT_PUMP,
    POP_NSHAPES
};

/* One entry of the mix: a kind and its parameters (its defaults filled
 * by population_kind_default, then overridden by the file). */
struct population_kind {
    enum population_shape shape;
    double share;               /* fraction of the fleet, 0..1 */
    struct population_range kw; /* the meter's peak power, kW */
    struct population_range pf; /* its power factor (inductive) */
    struct population_range u;  /* its voltage, V */
    struct population_range shift;  /* whole hours its day is shifted */
    double profile[24];         /* fraction of the peak, hour by hour */
    double weekend;             /* multiplier on Saturdays and Sundays */
    double season;              /* -1..1: > 0 the profile is the summer's
                                   and winter has 1 - season of it (PV);
                                   < 0 the winter's, summer 1 + season */
    double variation;           /* each interval x (1 +- variation) */
    bool export;                /* the power flows out (PV) */
    /* ev_charger: a session a day with probability chance, starting at a
     * whole hour drawn from start, lasting a whole number of hours drawn
     * from hours, at the meter's kW; standby otherwise */
    double chance;
    struct population_range start, hours;
};

struct population {
    uint64_t seed;
    int64_t interval;           /* s between load changes, divides a day */
    struct population_kind kinds[POPULATION_KINDS];
    unsigned nkinds;
};

/* The kinds' names, indexed by enum population_shape. */
extern const char *const population_shape_names[POP_NSHAPES];

/* k filled with the defaults of the kind named name: 0, or -1 when there
 * is no such kind. */
int population_kind_default(const char *name, struct population_kind *k);

/* The load of meter g over the interval starting at virtual s t. */
void population_load(const struct population *p, unsigned g, int64_t t,
                     struct load *out);

/* The first interval boundary after t, s. */
int64_t population_next(const struct population *p, int64_t t);

#endif
