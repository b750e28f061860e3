#include "billing.h"
#include "rtc.h"

void billing_init(struct billing *b, const struct energy *e, int32_t month)
{
    *b = (struct billing){ .month = month };
    for (unsigned r = 0; r < ENERGY_RATES; r++)
        b->start[r] = e->rate[r];
}

/* This month's quantities so far, by rate (rate 1..4) or all (rate 0). */
static void current_set(const struct billing *b, const struct energy *e,
                        unsigned rate, struct energy_set *out)
{
    struct energy_set d;

    *out = (struct energy_set){ { 0 } };
    for (unsigned r = 0; r < ENERGY_RATES; r++) {
        if (rate != 0 && rate != r + 1)
            continue;
        energy_diff(&e->rate[r], &b->start[r], &d);
        for (unsigned k = 0; k < EN_QTY; k++)
            out->v[k] += d.v[k];
    }
}

void billing_current(const struct billing *b, const struct energy *e,
                     unsigned ca, unsigned cr, struct billing_month *out)
{
    struct energy_set s;

    for (unsigned r = 0; r <= ENERGY_RATES; r++) {
        current_set(b, e, r, &s);
        out->active[r] = energy_comb_active(&s, ca);
        out->reactive[r] = energy_comb_reactive(&s, cr);
    }
}

/* One settlement: shift the history by one and freeze `frozen`. */
static void shift(struct billing *b, const struct billing_month *frozen)
{
    for (unsigned k = BILLING_MONTHS - 1; k > 0; k--)
        b->prev[k] = b->prev[k - 1];
    b->prev[0] = *frozen;
}

int32_t billing_catch_up(struct billing *b, const struct energy *e,
                         unsigned ca, unsigned cr, int32_t now_month,
                         billing_fn *fn, void *ctx)
{
    static const struct billing_month empty;
    struct billing_month cur;
    int32_t n = now_month - b->month;

    if (n <= 0)
        return 0;
    billing_current(b, e, ca, cr, &cur);
    if (n > BILLING_MONTHS) {
        /* what was measured would be previous n > 12: reported first,
         * while it is previous 1 (the billing month the one after it),
         * then gone */
        shift(b, &cur);
        b->month++;
        if (fn)
            fn(ctx, rtc_month_start(b->month));
        for (unsigned k = 0; k < BILLING_MONTHS; k++)
            b->prev[k] = empty;
    } else {
        shift(b, &cur);
        for (int32_t k = 1; k < n; k++)
            shift(b, &empty);
    }
    for (unsigned r = 0; r < ENERGY_RATES; r++)
        b->start[r] = e->rate[r];
    b->month = now_month;
    if (fn) {
        /* report the (at most 12) latest month ends, oldest first: the
         * month settled at t is previous (month - month of t + 1) */
        int32_t first = n > BILLING_MONTHS ? n - BILLING_MONTHS : 0;
        for (int32_t k = first; k < n; k++)
            fn(ctx, rtc_month_start(now_month - n + 1 + k));
    }
    return n;
}
