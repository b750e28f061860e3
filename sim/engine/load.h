/*
 * The load model: what is connected to the meter, in the terms people use
 * (volts, amperes, power factor, harmonics), turned into the synthesizer's
 * channel components. The relay sits between the two: open, no current.
 */
#ifndef SIM_LOAD_H
#define SIM_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "sim/engine/wave.h"

#define LOAD_MAX_HARMONICS 8

/* What a load can be set to (the CLI, scenarios, later the control API):
 * the analog front end clips beyond the meter's rating, but a user may
 * still ask for a fault current. */
#define LOAD_U_MAX 500.0    /* V RMS */
#define LOAD_I_MAX 100.0    /* A RMS */

/* One harmonic of the load, relative to the fundamentals. */
struct load_harmonic {
    unsigned order;         /* 2..50 */
    double v_pct;           /* voltage harmonic, % of the fundamental */
    double v_phase;         /* its phase, degrees */
    double i_pct;           /* current harmonic, % of the fundamental */
    double i_phase;         /* its phase, degrees */
};

struct load {
    double u;               /* fundamental voltage, V RMS */
    double i;               /* fundamental current, A RMS, >= 0 */
    double phi;             /* current lag behind voltage, degrees; 0..90
                               import inductive, -90..0 import capacitive,
                               180 +- 90 export */
    double f;               /* line frequency, Hz */
    struct load_harmonic harm[LOAD_MAX_HARMONICS];
    unsigned nharm;
    double v_noise;         /* V RMS */
    double i_noise;         /* A RMS */
};

/* 230 V, 0 A, 50 Hz, no harmonics. */
void load_default(struct load *l);

/* Parse "U=230,I=5,PF=0.95[,F=50]" (design.md section 5) with the
 * extensions PF=0.8C (capacitive; L, the default, is inductive) and
 * DIR=export (or a negative I). On error writes a message naming the bad
 * part to err and returns -1. */
int load_parse(const char *spec, struct load *l, char *err, size_t errlen);

/* The power factor and direction as a phase angle, degrees. */
double load_phi(double pf, bool capacitive, bool export);

/* Set the synthesizer's channels for the load; an open relay carries no
 * current (the voltage is still measured: the meter sits upstream). */
void load_apply(const struct load *l, bool relay_closed,
                struct wave_config *wc);

#endif
