/*
 * Virtual time as users write it. The meter's clock is civil time with no
 * zone (a meter on a DIN rail knows no time zones): seconds since
 * 1970-01-01 00:00 of that clock.
 */
#ifndef SIM_TIMEPARSE_H
#define SIM_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* "2026-01-01", "2026-01-01T06:00", "2026-01-01 06:00:30", an optional
 * trailing "Z". Returns 0, or -1 when s is not such a date-time of the
 * meter's years (RTC_YEAR_MIN..RTC_YEAR_MAX, core/rtc.h). */
int time_parse_iso(const char *s, int64_t *out);

/* "90", "90s", "15m", "2h", "3d", "1w", and sums such as "1h30m".
 * Returns 0, or -1. */
int time_parse_duration(const char *s, int64_t *out);

/* "2026-01-01T06:00:00" into buf (at least 20 bytes). */
void time_format_iso(int64_t t, char *buf, size_t len);

/* The host's wall clock as the meter's civil time. */
int64_t time_wall_now(void);

#endif
