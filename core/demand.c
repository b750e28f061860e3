#include "demand.h"

void demand_config_default(struct demand_config *c)
{
    c->period_min = 15;
    c->slide_min = 1;
}

int demand_config_check(const struct demand_config *c)
{
    if (c->period_min < 1 || c->period_min > 60 || c->slide_min < 1 ||
        c->slide_min > c->period_min || c->period_min % c->slide_min)
        return CORE_EINVAL;
    return CORE_OK;
}

void demand_restart(struct demand *d, const struct demand_config *c,
                    int64_t now)
{
    for (unsigned k = 0; k < DEMAND_SLOTS; k++)
        d->slot[k] = 0.0;
    d->head = 0;
    d->nslots = (uint8_t)(c->period_min / c->slide_min);
    d->open = 0.0;
    d->open_start = now;
    d->last = now;
    d->value = 0.0;
}

void demand_add(struct demand *d, double va_s)
{
    if (va_s > 0.0)
        d->open += va_s;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Close one subinterval ending at t with energy e. */
static void close_slot(struct demand *d, const struct demand_config *c,
                       double e, int64_t t)
{
    double sum = 0.0;

    d->slot[d->head] = e;
    d->head = (uint8_t)((d->head + 1u) % d->nslots);
    for (unsigned k = 0; k < d->nslots; k++)
        sum += d->slot[k];
    d->value = sum / (c->period_min * 60.0);
    if (d->value > d->max) {
        d->max = d->value;
        d->max_t = t;
    }
}

void demand_tick(struct demand *d, const struct demand_config *c,
                 int64_t now)
{
    int64_t step = c->slide_min * INT64_C(60);
    int64_t nb, first, elapsed;

    if (now < d->last) {
        demand_restart(d, c, now);
        return;
    }
    nb = floor_div(now, step) - floor_div(d->last, step);
    d->last = now;
    if (nb <= 0)
        return;
    first = (floor_div(now, step) - nb + 1) * step;
    elapsed = now - d->open_start;
    if (nb == 1 && now == first) {
        /* the usual case: one subinterval ends on this very second */
        close_slot(d, c, d->open, now);
        d->open = 0.0;
        d->open_start = now;
        return;
    }
    /* ticks skipped seconds: share the energy by time; only the last
     * nslots subintervals can still be in the window */
    int64_t k0 = nb > d->nslots ? nb - d->nslots : 0;
    for (int64_t k = k0; k < nb; k++) {
        int64_t end = first + k * step;
        int64_t begin = k == 0 ? d->open_start : end - step;
        close_slot(d, c, d->open * (double)(end - begin) / (double)elapsed,
                   end);
    }
    int64_t last_end = first + (nb - 1) * step;
    d->open = d->open * (double)(now - last_end) / (double)elapsed;
    d->open_start = last_end;
}

void demand_settle(struct demand *d)
{
    d->prev_max = d->max;
    d->prev_max_t = d->max_t;
    d->max = 0.0;
    d->max_t = 0;
}

void demand_reset_max(struct demand *d)
{
    d->max = 0.0;
    d->max_t = 0;
}
