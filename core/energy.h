/*
 * Four-quadrant energy accumulators, one set per tariff rate.
 *
 * Unit: the millijoule (mW.s, 1 Wh = 3 600 000 mJ), in 64-bit integers:
 * 2.5e9 kWh before overflow, and one pulse of the 1600 imp/kWh output is
 * exactly 2 250 000 mJ. Each increment P x t is rounded down to whole mJ;
 * the fraction (< 1 mJ) is carried to the next increment, so nothing is
 * lost and no float ever holds a total.
 *
 * Quadrants (design.md section 2): P > 0 import, P < 0 export; Q > 0 in
 * quadrants I (P >= 0) and II (P < 0), Q < 0 in III (P < 0) and IV
 * (P >= 0). Reactive import = QI + QII, reactive export = QIII + QIV.
 */
#ifndef CORE_ENERGY_H
#define CORE_ENERGY_H

#include "port.h"

#define ENERGY_RATES 4

/* mJ per Wh and per kWh. */
#define ENERGY_MJ_PER_WH INT64_C(3600000)
#define ENERGY_MJ_PER_KWH INT64_C(3600000000)

/* The accumulated quantities. */
enum energy_qty {
    EN_IMP = 0,             /* active import, P > 0 */
    EN_EXP = 1,             /* active export, |P| for P < 0 */
    EN_Q1 = 2,              /* reactive, quadrant I */
    EN_Q2 = 3,              /* reactive, quadrant II */
    EN_Q3 = 4,              /* reactive, quadrant III, |Q| */
    EN_Q4 = 5,              /* reactive, quadrant IV, |Q| */
    EN_QTY = 6,
};

/* One set of accumulators, mJ (never negative). */
struct energy_set {
    int64_t v[EN_QTY];
};

/*
 * Combination words (after DL/T 645): which quantities add into, or
 * subtract from, the combined ("total") energy. Two bits per quantity,
 * bit 2k = add, bit 2k+1 = subtract; both set is invalid.
 *   active:   k = 0 import, 1 export               default 0x05 = imp + exp
 *   reactive: k = 0 QI, 1 QII, 2 QIII, 3 QIV       default 0x55 = all four
 */
#define ENERGY_COMB_ACTIVE_DEFAULT 0x05
#define ENERGY_COMB_REACTIVE_DEFAULT 0x55

/* The meter's accumulators. */
struct energy {
    struct energy_set rate[ENERGY_RATES];   /* lifetime, by rate 1..4 */
    double frac[EN_QTY];    /* carried fraction of a mJ, 0 <= frac < 1 */
};

/* What one increment added, mJ. */
struct energy_inc {
    int64_t imp;            /* active import */
    int64_t exp;            /* active export */
};

void energy_init(struct energy *e);

/* Add power p (W) and q (var) held for ms milliseconds, at rate 1..4. */
void energy_add(struct energy *e, unsigned rate, double p, double q,
                double ms, struct energy_inc *inc);

/* The sum over all rates. */
void energy_total(const struct energy *e, struct energy_set *out);

/* out = a - b, quantity by quantity. */
void energy_diff(const struct energy_set *a, const struct energy_set *b,
                 struct energy_set *out);

/* CORE_OK if a combination word is valid (width 2 or 4 quantities). */
int energy_comb_check(unsigned word, unsigned nqty);

/* Combined active (word over import, export) and reactive (word over
 * QI..QIV) energy of a set, mJ; may be negative with subtracting words. */
int64_t energy_comb_active(const struct energy_set *s, unsigned word);
int64_t energy_comb_reactive(const struct energy_set *s, unsigned word);

/* Reactive import (QI + QII) and export (QIII + QIV) of a set, mJ. */
int64_t energy_reactive_imp(const struct energy_set *s);
int64_t energy_reactive_exp(const struct energy_set *s);

#endif
