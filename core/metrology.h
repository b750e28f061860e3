/*
 * Metrology: simultaneous voltage and current ADC samples in, one set of
 * measurements per window of whole line cycles out.
 *
 * Windows start and end on interpolated rising zero crossings of the
 * voltage, so every integral covers an exact number of cycles (10 on a
 * 50 Hz system, 12 on a 60 Hz one: 200 ms, as IEC 61000-4-30). Definitions and sign
 * conventions are in docs/metrology.md.
 */
#ifndef CORE_METROLOGY_H
#define CORE_METROLOGY_H

#include "port.h"

/* The emulated front end: signed 24-bit codes, symmetric full scale. */
#define METRO_ADC_BITS 24
#define METRO_ADC_MAX ((int32_t)((1L << (METRO_ADC_BITS - 1)) - 1))
#define METRO_ADC_MIN (-METRO_ADC_MAX)

/* Default front-end full scale, peak values. The voltage channel covers
 * 2 x 220 V with headroom; the current channel covers Imax = 60 A RMS at
 * a crest factor of 2. Beyond these the ADC clips. */
#define METRO_V_FULLSCALE_PEAK 700.0
#define METRO_I_FULLSCALE_PEAK 120.0

/* Calibration and set-up of one metrology channel pair. */
struct metro_config {
    uint32_t sample_rate;   /* samples per second per channel */
    double v_lsb;           /* volts per voltage ADC code */
    double i_lsb;           /* amperes per current ADC code */
    double v_gain;          /* voltage gain correction, 1.0 = none */
    double i_gain;          /* current gain correction, 1.0 = none */
    double phase_deg;       /* current phase correction at the fundamental,
                               degrees; positive advances the current */
    double i_start;         /* starting current, A: below it P = Q = 0 */
    double f_nominal;       /* nominal line frequency, Hz: 50 or 60 picks
                               10 or 12 cycles a window */
    int32_t zc_hyst;        /* codes the voltage must fall below -hyst to
                               arm the next rising zero crossing */
};

/* One window's measurements. Quantities are primary-side SI units. */
struct metro_result {
    double vrms;            /* V, true RMS after DC removal */
    double irms;            /* A, true RMS after DC removal; 0 below start */
    double p;               /* W, mean of v*i; > 0 import, < 0 export */
    double q;               /* var, fundamental Q1; > 0 current lagging */
    double s;               /* VA, Vrms * Irms */
    double pf;              /* P / S, carries the sign of P; 1 at no load */
    double f;               /* Hz; 0 when the window is not synchronized */
    double duration;        /* s, exact window length */
    double f_ref;           /* Hz, the reference the fundamental phasors
                               (Q) were taken at: the previous window's F */
    uint32_t seq;           /* window sequence number, from 0 */
    bool synced;            /* true when the window spans whole cycles */
    bool timed_out;         /* closed for want of crossings (no voltage) */
};

/* Running state of one channel pair. Caller-owned; fields are private. */
struct metro {
    struct metro_config cfg;
    /* hot-loop sums over the current window, all integer (exact, no
     * double-precision arithmetic per sample; see metrology.c) */
    int64_t sv, si, svv, sii, svi;  /* ADC codes */
    int64_t vre, vim, ire, iim;     /* fundamental phasor sums, codes x
                                       the oscillator in Q21 */
    int32_t osc_c, osc_s;           /* reference oscillator e^{-jwk}, Q30 */
    int32_t step_c, step_s;         /* its per-sample rotation, Q30 */
    /* the previous sample, for zero-crossing interpolation */
    int32_t prev_v, prev_i;
    int32_t prev_c, prev_s;         /* its oscillator, Q30 */
    /* window bookkeeping */
    uint32_t count;                 /* samples in the window so far */
    uint32_t timeout;               /* samples before an unsynced close */
    uint16_t crossings;             /* rising crossings seen in window */
    uint16_t cycles;                /* crossings that close this window */
    bool armed;                     /* voltage went below -hyst */
    bool synced_start;              /* window began on a crossing */
    double u0;                      /* start crossing: fraction before 1st sample */
    double e0[9];                   /* start-edge corrections, see .c */
    int32_t dc_v;                   /* voltage DC estimate, codes */
    bool dc_known;                  /* dc_v is of whole cycles */
    double f_ref;                   /* reference frequency, Hz */
    uint32_t seq;
    bool ready;
    struct metro_result result;
};

/* Fill a configuration with the defaults of the emulated meter. */
void metro_config_default(struct metro_config *cfg);

/* Start (or restart) metrology. Returns CORE_EINVAL for a bad config. */
int metro_init(struct metro *m, const struct metro_config *cfg);

/*
 * Feed n simultaneous sample pairs. Consumes samples up to and including
 * the end of the next window and returns how many it consumed; call again
 * with the rest. After a window completes, metro_take() hands it out.
 */
size_t metro_feed(struct metro *m, const int32_t *v, const int32_t *i,
                  size_t n);

/* Drop the window in progress (its samples are of a signal that is gone)
 * and start the next one afresh; the frequency reference and the DC
 * estimate are kept. */
void metro_restart(struct metro *m);

/* Take the completed window, if any. Returns true once per window. */
bool metro_take(struct metro *m, struct metro_result *out);

/* Close the window in progress now (unsynchronized, F = 0), so that its
 * samples are measured too: before a power-down or the end of a run.
 * Returns true when there was one; metro_take then hands it out. */
bool metro_flush(struct metro *m);

#endif
