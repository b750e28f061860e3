/*
 * Monthly settlement and the 12-month history.
 *
 * The billing month is the calendar month whose consumption is "this
 * month". At 00:00:00 on the 1st, this month's combined active and
 * reactive energies (total and by rate) are frozen into previous 1, the
 * older months move down, previous 12 drops off, and this month restarts
 * from zero.
 *
 * Catch-up: when the RTC reaches a later month by a jump (ticks that skip
 * time, the clock set forward, power off across month ends), one
 * settlement is applied per month end passed: the first freezes what was
 * measured, the others freeze empty months. After more than 12 the whole
 * history is empty months, so the work never exceeds 12 shifts.
 *
 * The billing month only moves forward: with the clock set backwards the
 * meter keeps filling the same billing month and settles again only when
 * the clock enters a month after it, so no month is settled twice.
 */
#ifndef CORE_BILLING_H
#define CORE_BILLING_H

#include "energy.h"

#define BILLING_MONTHS 12

/* One month's values: combined energies, mJ; [0] all rates, [1..4] by
 * rate. Frozen with the combination words in force at settlement. */
struct billing_month {
    int64_t active[1 + ENERGY_RATES];
    int64_t reactive[1 + ENERGY_RATES];
};

/* Called for each month end reported: t = 00:00 on the 1st that ended it.
 * The month it ended is then previous (b->month - rtc_month_index(t) + 1)
 * in the history (meter_billing_month). */
typedef void billing_fn(void *ctx, int64_t t);

struct billing {
    int32_t month;          /* the billing month, rtc_month_index() */
    struct energy_set start[ENERGY_RATES];  /* lifetime energies at its start */
    struct billing_month prev[BILLING_MONTHS];  /* [0] = previous 1 */
};

/* Start the history empty, this month beginning at the energies in e. */
void billing_init(struct billing *b, const struct energy *e, int32_t month);

/* This month's values so far, combined with words ca (active) and cr
 * (reactive). */
void billing_current(const struct billing *b, const struct energy *e,
                     unsigned ca, unsigned cr, struct billing_month *out);

/* Apply the settlements due when the RTC is in month `now_month`.
 * Returns the month ends passed (0 if none, or if now_month is not after
 * the billing month). fn (may be NULL) is told of each applied one, oldest
 * first; after more than 12 at once, of the first (the month that was
 * measured, while it is previous 1) and of the 12 latest (empty). */
int32_t billing_catch_up(struct billing *b, const struct energy *e,
                         unsigned ca, unsigned cr, int32_t now_month,
                         billing_fn *fn, void *ctx);

#endif
