/*
 * Tariff schedules: the default schedule to the second, periods that wrap
 * past midnight, several zones (with the wrap past New Year), February
 * 29th, and every kind of invalid table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tariff.h"

static unsigned rate_at(const struct tariff_table *t, int32_t y,
                        unsigned mo, unsigned d, unsigned h, unsigned mi,
                        unsigned s)
{
    struct rtc_date date = { y, (uint8_t)mo, (uint8_t)d, (uint8_t)h,
                             (uint8_t)mi, (uint8_t)s, 0 };
    return tariff_rate(t, &date);
}

/* The manual's example, at and around every boundary. */
static void test_default_boundaries(void **state)
{
    static const struct { unsigned h, m, s, rate; } cases[] = {
        { 0, 0, 0, 4 }, { 5, 59, 59, 4 }, { 6, 0, 0, 1 }, { 9, 59, 59, 1 },
        { 10, 0, 0, 2 }, { 11, 59, 59, 2 }, { 12, 0, 0, 1 },
        { 14, 59, 59, 1 }, { 15, 0, 0, 3 }, { 22, 59, 59, 3 },
        { 23, 0, 0, 4 }, { 23, 59, 59, 4 },
    };
    struct tariff_table t;

    tariff_default(&t);
    assert_int_equal(tariff_check(&t), CORE_OK);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        assert_int_equal(rate_at(&t, 2026, 7, 14, cases[k].h, cases[k].m,
                                 cases[k].s), cases[k].rate);
}

/* A day of the default schedule: 7 h sharp, 2 peak, 8 flat, 7 valley. */
static void test_default_day_hours(void **state)
{
    struct tariff_table t;
    unsigned minutes[5] = { 0 };

    tariff_default(&t);
    for (unsigned m = 0; m < 24 * 60; m++)
        minutes[rate_at(&t, 2026, 1, 1, m / 60, m % 60, 30)]++;
    assert_int_equal(minutes[1], 7 * 60);
    assert_int_equal(minutes[2], 2 * 60);
    assert_int_equal(minutes[3], 8 * 60);
    assert_int_equal(minutes[4], 7 * 60);
}

/* Periods from 08:30 and 20:15: the night is the 20:15 period's. */
static void test_period_wraps_midnight(void **state)
{
    struct tariff_table t;

    tariff_default(&t);
    t.zone[0].nperiods = 2;
    t.zone[0].period[0] = (struct tariff_period){ 8, 30, TARIFF_PEAK };
    t.zone[0].period[1] = (struct tariff_period){ 20, 15, TARIFF_VALLEY };
    assert_int_equal(tariff_check(&t), CORE_OK);
    assert_int_equal(rate_at(&t, 2026, 5, 5, 20, 14, 59), TARIFF_PEAK);
    assert_int_equal(rate_at(&t, 2026, 5, 5, 20, 15, 0), TARIFF_VALLEY);
    assert_int_equal(rate_at(&t, 2026, 5, 5, 23, 59, 59), TARIFF_VALLEY);
    assert_int_equal(rate_at(&t, 2026, 5, 6, 0, 0, 0), TARIFF_VALLEY);
    assert_int_equal(rate_at(&t, 2026, 5, 6, 8, 29, 59), TARIFF_VALLEY);
    assert_int_equal(rate_at(&t, 2026, 5, 6, 8, 30, 0), TARIFF_PEAK);

    /* a single period is the whole day */
    t.zone[0].nperiods = 1;
    assert_int_equal(rate_at(&t, 2026, 5, 6, 0, 0, 0), TARIFF_PEAK);
    assert_int_equal(rate_at(&t, 2026, 5, 6, 23, 59, 59), TARIFF_PEAK);
}

/* Zone z's day: one period, rate z + 1, so the rate names the zone. */
static void set_zones(struct tariff_table *t, unsigned n,
                      const unsigned (*start)[2])
{
    tariff_default(t);
    t->nzones = (uint8_t)n;
    for (unsigned z = 0; z < n; z++) {
        t->zone[z].month = (uint8_t)start[z][0];
        t->zone[z].day = (uint8_t)start[z][1];
        t->zone[z].nperiods = 1;
        t->zone[z].period[0] = (struct tariff_period){ 0, 0,
                                                       (uint8_t)(z + 1) };
    }
}

static void test_several_zones(void **state)
{
    static const unsigned quarters[4][2] = { { 1, 1 }, { 4, 1 }, { 7, 1 },
                                             { 10, 1 } };
    static const unsigned late[2][2] = { { 3, 15 }, { 11, 1 } };
    static const struct { unsigned mo, d, h, m, s, rate; } q[] = {
        { 1, 1, 0, 0, 0, 1 }, { 3, 31, 23, 59, 59, 1 }, { 4, 1, 0, 0, 0, 2 },
        { 6, 30, 23, 59, 59, 2 }, { 7, 1, 0, 0, 0, 3 }, { 9, 30, 12, 0, 0, 3 },
        { 10, 1, 0, 0, 0, 4 }, { 12, 31, 23, 59, 59, 4 },
    };
    static const struct { unsigned mo, d, rate; } w[] = {
        /* before the first start: the last zone, from last year */
        { 1, 1, 2 }, { 3, 14, 2 }, { 3, 15, 1 }, { 10, 31, 1 },
        { 11, 1, 2 }, { 12, 31, 2 },
    };
    struct tariff_table t;

    set_zones(&t, 4, quarters);
    assert_int_equal(tariff_check(&t), CORE_OK);
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++)
        assert_int_equal(rate_at(&t, 2026, q[k].mo, q[k].d, q[k].h, q[k].m,
                                 q[k].s), q[k].rate);
    set_zones(&t, 2, late);
    assert_int_equal(tariff_check(&t), CORE_OK);
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        assert_int_equal(rate_at(&t, 2027, w[k].mo, w[k].d, 12, 0, 0),
                         w[k].rate);
}

/* A zone starting February 29th: on that day in leap years, on March 1st
 * in the others. */
static void test_february_29(void **state)
{
    static const unsigned z[2][2] = { { 1, 1 }, { 2, 29 } };
    struct tariff_table t;

    set_zones(&t, 2, z);
    assert_int_equal(tariff_check(&t), CORE_OK);
    assert_int_equal(rate_at(&t, 2028, 2, 28, 23, 59, 59), 1);
    assert_int_equal(rate_at(&t, 2028, 2, 29, 0, 0, 0), 2);
    assert_int_equal(rate_at(&t, 2028, 3, 1, 0, 0, 0), 2);
    assert_int_equal(rate_at(&t, 2026, 2, 28, 23, 59, 59), 1);
    assert_int_equal(rate_at(&t, 2026, 3, 1, 0, 0, 0), 2);
    /* the default daily schedule on February 29th itself */
    tariff_default(&t);
    assert_int_equal(rate_at(&t, 2028, 2, 29, 10, 0, 0), TARIFF_PEAK);
    assert_int_equal(rate_at(&t, 2028, 2, 29, 23, 0, 0), TARIFF_VALLEY);
}

enum breakage {
    B_NONE, B_NZONES_0, B_NZONES_5, B_ZONE_MONTH_0, B_ZONE_MONTH_13,
    B_ZONE_DAY_0, B_ZONE_FEB_30, B_ZONE_APR_31, B_ZONES_UNSORTED,
    B_ZONES_EQUAL, B_NPERIODS_0, B_NPERIODS_9, B_HOUR_24, B_MIN_60,
    B_RATE_0, B_RATE_5, B_PERIODS_UNSORTED, B_PERIODS_EQUAL,
    B_UNUSED_GARBAGE, B_COUNT,
};

static void breakit(struct tariff_table *t, enum breakage b)
{
    static const unsigned two[2][2] = { { 1, 1 }, { 6, 1 } };
    struct tariff_zone *z;

    set_zones(t, 2, two);
    t->zone[1].nperiods = 3;
    t->zone[1].period[0] = (struct tariff_period){ 7, 0, 1 };
    t->zone[1].period[1] = (struct tariff_period){ 19, 0, 2 };
    t->zone[1].period[2] = (struct tariff_period){ 22, 30, 4 };
    z = &t->zone[1];
    switch (b) {
    case B_NONE: break;
    case B_NZONES_0: t->nzones = 0; break;
    case B_NZONES_5: t->nzones = 5; break;
    case B_ZONE_MONTH_0: z->month = 0; break;
    case B_ZONE_MONTH_13: z->month = 13; break;
    case B_ZONE_DAY_0: z->day = 0; break;
    case B_ZONE_FEB_30: z->month = 2; z->day = 30; break;
    case B_ZONE_APR_31: z->month = 4; z->day = 31; break;
    case B_ZONES_UNSORTED: t->zone[0].month = 7; break;
    case B_ZONES_EQUAL: t->zone[0].month = 6; break;
    case B_NPERIODS_0: z->nperiods = 0; break;
    case B_NPERIODS_9: z->nperiods = 9; break;
    case B_HOUR_24: z->period[2].hour = 24; break;
    case B_MIN_60: z->period[1].min = 60; break;
    case B_RATE_0: z->period[0].rate = 0; break;
    case B_RATE_5: z->period[1].rate = 5; break;
    case B_PERIODS_UNSORTED: z->period[1].hour = 6; break;
    case B_PERIODS_EQUAL: z->period[2] = z->period[1]; break;
    case B_UNUSED_GARBAGE:
        /* slots beyond the counts are not part of the schedule */
        z->period[5] = (struct tariff_period){ 99, 99, 9 };
        t->zone[3].month = 77;
        break;
    default: break;
    }
}

static void test_invalid_tables(void **state)
{
    struct tariff_table t;

    for (int b = B_NONE; b < B_COUNT; b++) {
        breakit(&t, (enum breakage)b);
        int want = b == B_NONE || b == B_UNUSED_GARBAGE ? CORE_OK
                                                        : CORE_EINVAL;
        if (tariff_check(&t) != want)
            fail_msg("breakage %d: got %d, want %d", b, tariff_check(&t),
                     want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_boundaries),
        cmocka_unit_test(test_default_day_hours),
        cmocka_unit_test(test_period_wraps_midnight),
        cmocka_unit_test(test_several_zones),
        cmocka_unit_test(test_february_29),
        cmocka_unit_test(test_invalid_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
