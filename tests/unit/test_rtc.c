/*
 * Calendar: known instants (reference values from an independent
 * calendar), every day of the RTC's range, leap years, month lengths,
 * invalid dates, and setting and stepping the clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rtc.h"

struct known {
    int32_t y;
    unsigned mo, d, h, mi, s, wday;
    int64_t t;
};

static const struct known known[] = {
    { 1970, 1, 1, 0, 0, 0, 4, 0 },
    { 1999, 12, 31, 23, 59, 59, 5, 946684799 },
    { 2000, 2, 29, 12, 34, 56, 2, 951827696 },
    { 2024, 12, 31, 23, 59, 59, 2, 1735689599 },
    { 2026, 1, 1, 0, 0, 0, 4, 1767225600 },
    { 2026, 3, 1, 0, 0, 0, 0, 1772323200 },
    { 2028, 2, 29, 0, 0, 0, 2, 1835395200 },
    { 2038, 1, 19, 3, 14, 7, 2, 2147483647 },
    { 2099, 12, 31, 23, 59, 59, 4, 4102444799 },
};

static void test_known_instants(void **state)
{
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        const struct known *c = &known[k];
        struct rtc_date d;
        int64_t t = -1;

        rtc_to_date(c->t, &d);
        assert_int_equal(d.year, c->y);
        assert_int_equal(d.month, c->mo);
        assert_int_equal(d.day, c->d);
        assert_int_equal(d.hour, c->h);
        assert_int_equal(d.min, c->mi);
        assert_int_equal(d.sec, c->s);
        assert_int_equal(d.wday, c->wday);
        assert_int_equal(rtc_from_date(&d, &t), CORE_OK);
        assert_true(t == c->t);
    }
}

static void test_leap_years_and_month_lengths(void **state)
{
    static const struct { int32_t y; bool leap; } years[] = {
        { 1900, false }, { 1970, false }, { 1972, true }, { 2000, true },
        { 2024, true }, { 2026, false }, { 2028, true }, { 2100, false },
        { 2400, true },
    };
    static const unsigned len[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31,
                                      30, 31, 30, 31 };

    for (size_t k = 0; k < sizeof years / sizeof years[0]; k++) {
        assert_int_equal(rtc_is_leap(years[k].y), years[k].leap);
        for (unsigned mo = 1; mo <= 12; mo++)
            assert_int_equal(rtc_month_days(years[k].y, mo),
                             len[mo] + (mo == 2 && years[k].leap));
    }
    assert_int_equal(rtc_month_days(2026, 0), 0);
    assert_int_equal(rtc_month_days(2026, 13), 0);
}

/* Every day of the range: dates advance by one, weekdays by one, and
 * the date -> time -> date round trip holds at both ends of the day. */
static void test_every_day(void **state)
{
    struct rtc_date prev, d;
    int64_t t;

    rtc_to_date(0, &prev);
    for (t = 86400; t <= RTC_MAX; t += 86400) {
        rtc_to_date(t, &d);
        assert_int_equal(d.wday, (prev.wday + 1) % 7);
        if (d.day == 1) {
            assert_int_equal(prev.day, rtc_month_days(prev.year, prev.month));
            assert_int_equal(d.month, prev.month % 12 + 1);
            assert_int_equal(d.year, prev.year + (prev.month == 12));
        } else {
            assert_int_equal(d.day, prev.day + 1);
            assert_int_equal(d.month, prev.month);
        }
        int64_t back;
        assert_int_equal(rtc_from_date(&d, &back), CORE_OK);
        assert_true(back == t);
        struct rtc_date end;
        rtc_to_date(t + 86399, &end);
        assert_int_equal(end.day, d.day);
        assert_int_equal(end.hour * 3600 + end.min * 60 + end.sec, 86399);
        prev = d;
    }
    assert_int_equal(prev.year, 2099);
    assert_int_equal(prev.month, 12);
    assert_int_equal(prev.day, 31);
}

static void test_invalid_dates(void **state)
{
    static const struct { struct rtc_date d; int err; } bad[] = {
        { { 2026, 2, 29, 0, 0, 0, 0 }, CORE_EINVAL },
        { { 2100, 2, 29, 0, 0, 0, 0 }, CORE_EINVAL },
        { { 2026, 4, 31, 0, 0, 0, 0 }, CORE_EINVAL },
        { { 2026, 0, 1, 0, 0, 0, 0 }, CORE_EINVAL },
        { { 2026, 13, 1, 0, 0, 0, 0 }, CORE_EINVAL },
        { { 2026, 1, 0, 0, 0, 0, 0 }, CORE_EINVAL },
        { { 2026, 1, 1, 24, 0, 0, 0 }, CORE_EINVAL },
        { { 2026, 1, 1, 0, 60, 0, 0 }, CORE_EINVAL },
        { { 2026, 1, 1, 0, 0, 60, 0 }, CORE_EINVAL },
        { { 1969, 12, 31, 23, 59, 59, 0 }, CORE_ERANGE },
        { { 2100, 1, 1, 0, 0, 0, 0 }, CORE_ERANGE },
    };

    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t t = 12345;
        assert_int_equal(rtc_from_date(&bad[k].d, &t), bad[k].err);
        assert_true(t == 12345);
    }
}

static void test_month_index(void **state)
{
    assert_int_equal(rtc_month_index(0), 0);
    assert_int_equal(rtc_month_index(1767225600), (2026 - 1970) * 12);
    assert_int_equal(rtc_month_index(1772323199), (2026 - 1970) * 12 + 1);
    assert_int_equal(rtc_month_index(1772323200), (2026 - 1970) * 12 + 2);
    for (int32_t i = 0; i <= rtc_month_index(RTC_MAX); i++) {
        int64_t t = rtc_month_start(i);
        struct rtc_date d;
        rtc_to_date(t, &d);
        assert_int_equal(d.day, 1);
        assert_int_equal(d.hour + d.min + d.sec, 0);
        assert_int_equal(rtc_month_index(t), i);
        assert_int_equal(rtc_month_index(t - 1), i - 1);
    }
}

static void test_set_and_step(void **state)
{
    struct rtc r = { 0 };

    assert_int_equal(rtc_set(&r, 1767225600), CORE_OK);
    assert_int_equal(rtc_step(&r, 86400 * 59), CORE_OK);   /* to Mar 1 */
    assert_true(r.now == 1772323200);
    assert_int_equal(rtc_step(&r, -1), CORE_OK);           /* Feb 28 */
    struct rtc_date d;
    rtc_to_date(r.now, &d);
    assert_int_equal(d.month, 2);
    assert_int_equal(d.day, 28);
    assert_int_equal(d.sec, 59);
    assert_int_equal(rtc_step(&r, -(r.now + 1)), CORE_ERANGE);
    assert_true(r.now == 1772323199);
    assert_int_equal(rtc_set(&r, RTC_MAX + 1), CORE_ERANGE);
    assert_int_equal(rtc_set(&r, -1), CORE_ERANGE);
    assert_true(r.now == 1772323199);
    assert_int_equal(rtc_set(&r, RTC_MAX), CORE_OK);
    assert_int_equal(rtc_step(&r, 1), CORE_ERANGE);
    assert_int_equal(rtc_step(&r, INT64_MAX), CORE_ERANGE);
    assert_true(r.now == RTC_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_instants),
        cmocka_unit_test(test_leap_years_and_month_lengths),
        cmocka_unit_test(test_every_day),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_month_index),
        cmocka_unit_test(test_set_and_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
