#define _GNU_SOURCE
#include "sim/base/timeparse.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/meter_host.h"

int time_parse_iso(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    s += n;
    if (*s == 'T' || *s == ' ') {
        int m2 = 0;
        s++;
        if (sscanf(s, "%2d:%2d%n", &h, &mi, &m2) != 2 || m2 != 5)
            return -1;
        s += m2;
        if (*s == ':') {
            if (sscanf(s, ":%2d%n", &sec, &m2) != 1 || m2 != 3)
                return -1;
            s += m2;
        }
    }
    if (*s == 'Z')
        s++;
    if (*s)
        return -1;
    if (y < RTC_YEAR_MIN || y > RTC_YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59 || h < 0 ||
        mi < 0 || sec < 0)
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;

    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec };
    *out = (int64_t)timegm(&tm);
    return 0;
}

int time_parse_duration(const char *s, int64_t *out)
{
    int64_t total = 0;

    if (!*s)
        return -1;
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s))
            return -1;
        long long v = strtoll(s, &end, 10);
        int64_t unit;
        switch (*end) {
        case '\0':
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return -1;
        }
        if (v > 100LL * 366 * 86400 / unit)
            return -1;
        total += v * unit;
        s = *end ? end + 1 : end;
    }
    *out = total;
    return 0;
}

void time_format_iso(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

int64_t time_wall_now(void)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    return (int64_t)timegm(&tm);
}
