/*
 * The real-time clock's calendar: seconds since 1970-01-01 00:00:00 <->
 * civil date and time, weekdays, month lengths and leap years (proleptic
 * Gregorian). No libc time functions: the firmware has none.
 *
 * The meter keeps wall-clock time without zones or DST, like a real meter:
 * whatever the host passes as "now" is read as the meter's civil time.
 */
#ifndef CORE_RTC_H
#define CORE_RTC_H

#include "port.h"

/* The range the RTC accepts, like a real RTC chip's 2000..2099 stretched
 * down to the epoch: 1970-01-01 00:00:00 .. 2099-12-31 23:59:59. */
#define RTC_MIN ((int64_t)0)
#define RTC_MAX ((int64_t)4102444799)
#define RTC_YEAR_MIN 1970
#define RTC_YEAR_MAX 2099

/* A civil date and time. */
struct rtc_date {
    int32_t year;           /* 1970..2099 within the RTC's range */
    uint8_t month;          /* 1..12 */
    uint8_t day;            /* 1..28/29/30/31 */
    uint8_t hour;           /* 0..23 */
    uint8_t min;            /* 0..59 */
    uint8_t sec;            /* 0..59 (no leap seconds) */
    uint8_t wday;           /* 0 = Sunday .. 6 = Saturday (output only) */
};

/* The RTC: the current second. It steps like a real one: set, or moved by
 * a signed number of seconds. */
struct rtc {
    int64_t now;            /* s since 1970-01-01 00:00:00 */
    /* the calendar of one day, for rtc_date: a tick within it needs no
     * conversion */
    bool cached;
    int64_t day0;           /* 00:00:00 of that day */
    struct rtc_date date0;  /* its date */
};

bool rtc_is_leap(int32_t year);

/* Days in a month of a year (month 1..12), 0 for a bad month. */
unsigned rtc_month_days(int32_t year, unsigned month);

/* Days since 1970-01-01 of a civil date (no range check). */
int64_t rtc_days_from_civil(int32_t year, unsigned month, unsigned day);

/* Civil date and time (with weekday) of a time. */
void rtc_to_date(int64_t t, struct rtc_date *d);

/* The same for the clock's own time, converted once a day (the clock
 * remembers the day it is in). */
void rtc_date(struct rtc *r, struct rtc_date *d);

/* rtc_month_index of a date. */
int32_t rtc_date_month_index(const struct rtc_date *d);

/* Time of a civil date and time; CORE_EINVAL for an impossible date or
 * time, CORE_ERANGE outside RTC_MIN..RTC_MAX. wday is ignored. */
int rtc_from_date(const struct rtc_date *d, int64_t *t);

/* Months since January 1970 of a time: year * 12 + month - 1 - 1970 * 12.
 * Monthly settlement compares these. */
int32_t rtc_month_index(int64_t t);

/* The time of 00:00:00 on the 1st of a month index. */
int64_t rtc_month_start(int32_t index);

/* Set the clock (CORE_ERANGE outside the RTC's range, clock unchanged). */
int rtc_set(struct rtc *r, int64_t t);

/* Step the clock by delta seconds, forward or backward (CORE_ERANGE if the
 * result leaves the RTC's range, clock unchanged). */
int rtc_step(struct rtc *r, int64_t delta);

#endif
