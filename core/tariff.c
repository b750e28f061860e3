#include "tariff.h"

void tariff_default(struct tariff_table *t)
{
    static const struct tariff_period day[] = {
        { 6, 0, TARIFF_SHARP }, { 10, 0, TARIFF_PEAK },
        { 12, 0, TARIFF_SHARP }, { 15, 0, TARIFF_FLAT },
        { 23, 0, TARIFF_VALLEY },
    };

    *t = (struct tariff_table){ .nzones = 1 };
    for (unsigned z = 0; z < TARIFF_ZONES; z++) {
        struct tariff_zone *zn = &t->zone[z];
        zn->month = 1;
        zn->day = 1;
        zn->nperiods = 5;
        for (unsigned k = 0; k < 5; k++)
            zn->period[k] = day[k];
        /* unused slots read as 00:00 flat, so the register image shows
         * values that would pass if someone raised the count */
        for (unsigned k = 5; k < TARIFF_PERIODS; k++)
            zn->period[k] = (struct tariff_period){ 0, 0, TARIFF_FLAT };
    }
}

static unsigned zone_key(unsigned month, unsigned day)
{
    return month * 32 + day;
}

int tariff_check(const struct tariff_table *t)
{
    if (t->nzones < 1 || t->nzones > TARIFF_ZONES)
        return CORE_EINVAL;
    for (unsigned z = 0; z < t->nzones; z++) {
        const struct tariff_zone *zn = &t->zone[z];
        /* 2000 is a leap year: February 29th is a valid zone start */
        if (zn->day < 1 || zn->day > rtc_month_days(2000, zn->month))
            return CORE_EINVAL;
        if (z > 0 && zone_key(zn->month, zn->day) <=
                     zone_key(t->zone[z - 1].month, t->zone[z - 1].day))
            return CORE_EINVAL;
        if (zn->nperiods < 1 || zn->nperiods > TARIFF_PERIODS)
            return CORE_EINVAL;
        for (unsigned k = 0; k < zn->nperiods; k++) {
            const struct tariff_period *p = &zn->period[k];
            if (p->hour > 23 || p->min > 59 ||
                p->rate < TARIFF_SHARP || p->rate > TARIFF_VALLEY)
                return CORE_EINVAL;
            if (k > 0 && p->hour * 60 + p->min <=
                         zn->period[k - 1].hour * 60 + zn->period[k - 1].min)
                return CORE_EINVAL;
        }
    }
    return CORE_OK;
}

unsigned tariff_zone_at(const struct tariff_table *t, const struct rtc_date *d)
{
    unsigned key = zone_key(d->month, d->day);
    /* before the first start: the last zone, carried over from last year */
    unsigned z = t->nzones - 1u;

    for (unsigned k = 0; k < t->nzones; k++)
        if (zone_key(t->zone[k].month, t->zone[k].day) <= key)
            z = k;
    return z;
}

unsigned tariff_rate(const struct tariff_table *t, const struct rtc_date *d)
{
    const struct tariff_zone *zn = &t->zone[tariff_zone_at(t, d)];
    unsigned minute = d->hour * 60u + d->min;
    /* before the first start: the last period, carried over midnight */
    unsigned r = zn->period[zn->nperiods - 1u].rate;

    for (unsigned k = 0; k < zn->nperiods; k++)
        if (zn->period[k].hour * 60u + zn->period[k].min <= minute)
            r = zn->period[k].rate;
    return r;
}
