/*
 * Calendar arithmetic on days since the epoch, after Howard Hinnant's
 * days_from_civil / civil_from_days: eras of 400 years (146097 days) make
 * every step exact integer arithmetic, valid for negative days too.
 */
#include "rtc.h"

bool rtc_is_leap(int32_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned rtc_month_days(int32_t year, unsigned month)
{
    static const uint8_t days[12] = { 31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31 };
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && rtc_is_leap(year))
        return 29;
    return days[month - 1];
}

int64_t rtc_days_from_civil(int32_t year, unsigned month, unsigned day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                            /* 0..399 */
    int64_t mp = (month + 9) % 12;                          /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;    /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;    /* 0..146096 */
    return era * 146097 + doe - 719468;
}

/* Floor division for the negative side of the epoch. */
static int64_t div_floor(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void rtc_to_date(int64_t t, struct rtc_date *d)
{
    int64_t days = div_floor(t, 86400);
    int64_t sod = t - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;

    d->year = (int32_t)(yoe + era * 400 + (month <= 2));
    d->month = (uint8_t)month;
    d->day = (uint8_t)day;
    d->hour = (uint8_t)(sod / 3600);
    d->min = (uint8_t)(sod / 60 % 60);
    d->sec = (uint8_t)(sod % 60);
    /* 1970-01-01 was a Thursday */
    d->wday = (uint8_t)(days + 4 - div_floor(days + 4, 7) * 7);
}

int rtc_from_date(const struct rtc_date *d, int64_t *t)
{
    if (d->month < 1 || d->month > 12 || d->day < 1 ||
        d->day > rtc_month_days(d->year, d->month) ||
        d->hour > 23 || d->min > 59 || d->sec > 59)
        return CORE_EINVAL;
    int64_t v = rtc_days_from_civil(d->year, d->month, d->day) * 86400 +
                d->hour * 3600 + d->min * 60 + d->sec;
    if (v < RTC_MIN || v > RTC_MAX)
        return CORE_ERANGE;
    *t = v;
    return CORE_OK;
}

void rtc_date(struct rtc *r, struct rtc_date *d)
{
    int64_t sod = r->now - r->day0;

    if (!r->cached || sod < 0 || sod >= 86400) {
        rtc_to_date(r->now, d);
        r->day0 = r->now - (d->hour * 3600 + d->min * 60 + d->sec);
        r->date0 = *d;
        r->cached = true;
        return;
    }
    *d = r->date0;
    d->hour = (uint8_t)(sod / 3600);
    d->min = (uint8_t)(sod / 60 % 60);
    d->sec = (uint8_t)(sod % 60);
}

int32_t rtc_date_month_index(const struct rtc_date *d)
{
    return (d->year - 1970) * 12 + d->month - 1;
}

int32_t rtc_month_index(int64_t t)
{
    struct rtc_date d;

    rtc_to_date(t, &d);
    return rtc_date_month_index(&d);
}

int64_t rtc_month_start(int32_t index)
{
    int32_t y = 1970 + (int32_t)div_floor(index, 12);
    unsigned mo = (unsigned)(index - (y - 1970) * 12) + 1;

    return rtc_days_from_civil(y, mo, 1) * 86400;
}

int rtc_set(struct rtc *r, int64_t t)
{
    if (t < RTC_MIN || t > RTC_MAX)
        return CORE_ERANGE;
    r->now = t;
    return CORE_OK;
}

int rtc_step(struct rtc *r, int64_t delta)
{
    if ((delta > 0 && r->now > RTC_MAX - delta) ||
        (delta < 0 && r->now < RTC_MIN - delta))
        return CORE_ERANGE;
    return rtc_set(r, r->now + delta);
}
