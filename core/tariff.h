/*
 * Time-of-use tariffs: which of the four rates applies to a second.
 *
 * Up to 4 time zones, each starting on a month/day and holding up to 8
 * daily periods (start hh:mm, rate). A zone runs until the next zone's
 * start and wraps past New Year; a period runs until the next period's
 * start and wraps past midnight. The rate changes exactly at hh:mm:00.
 */
#ifndef CORE_TARIFF_H
#define CORE_TARIFF_H

#include "port.h"
#include "rtc.h"

#define TARIFF_ZONES 4
#define TARIFF_PERIODS 8
#define TARIFF_RATES 4

/* Rates, as numbered by the manual. */
enum tariff_rate {
    TARIFF_SHARP = 1,
    TARIFF_PEAK = 2,
    TARIFF_FLAT = 3,
    TARIFF_VALLEY = 4,
};

/* One daily period: from hour:min to the next period's start. */
struct tariff_period {
    uint8_t hour;           /* 0..23 */
    uint8_t min;            /* 0..59 */
    uint8_t rate;           /* enum tariff_rate */
};

/* One time zone: from month/day to the next zone's start. */
struct tariff_zone {
    uint8_t month;          /* 1..12 */
    uint8_t day;            /* 1..31, valid for the month in a leap year */
    uint8_t nperiods;       /* periods in use, 1..TARIFF_PERIODS */
    struct tariff_period period[TARIFF_PERIODS];  /* sorted by start;
                               slots at and after nperiods are kept but unused */
};

/* The whole schedule. */
struct tariff_table {
    uint8_t nzones;         /* zones in use, 1..TARIFF_ZONES */
    struct tariff_zone zone[TARIFF_ZONES];  /* sorted by start */
};

/* The manual's example: one zone from January 1st; 06:00 sharp, 10:00
 * peak, 12:00 sharp, 15:00 flat, 23:00 valley (valley until 06:00). */
void tariff_default(struct tariff_table *t);

/* CORE_OK if the table can be installed; CORE_EINVAL if a count, a date,
 * a time or a rate is bad, or starts are not strictly ascending. Unused
 * slots are not checked. */
int tariff_check(const struct tariff_table *t);

/* The zone index in use on a date (month, day of d). */
unsigned tariff_zone_at(const struct tariff_table *t, const struct rtc_date *d);

/* The rate (1..4) of the second at date d. The table must be valid. */
unsigned tariff_rate(const struct tariff_table *t, const struct rtc_date *d);

#endif
