#include "sim/cli/progress.h"

#include <stdio.h>

#include "sim/base/timeparse.h"

#define PROGRESS_DELAY 0.5      /* real s before the first line */
#define PROGRESS_PERIOD 0.25    /* real s between lines */

void progress_update(struct progress *p, int64_t now_ms, int64_t from_ms,
                     int64_t to_ms, double real_s)
{
    char when[32], pct[16] = "", rate[32] = "";

    if (!p->on)
        return;
    if (!p->started) {
        p->started = true;
        p->first = p->last = real_s;
        p->last_ms = now_ms;
        return;
    }
    if (real_s - p->first < PROGRESS_DELAY ||
        real_s - p->last < PROGRESS_PERIOD)
        return;
    double r = (double)(now_ms - p->last_ms) / 1000.0 / (real_s - p->last);
    p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * r : r;
    p->last = real_s;
    p->last_ms = now_ms;
    time_format_iso(now_ms / 1000, when, sizeof when);
    if (to_ms > from_ms) {
        double f = (double)(now_ms - from_ms) / (double)(to_ms - from_ms);
        snprintf(pct, sizeof pct, "  %3.0f%%",
                 100.0 * (f < 0 ? 0 : f > 1 ? 1 : f));
    }
    if (p->rate >= 1e6)
        snprintf(rate, sizeof rate, "  x%.1fM", p->rate / 1e6);
    else if (p->rate >= 1e4)
        snprintf(rate, sizeof rate, "  x%.0fk", p->rate / 1e3);
    else
        snprintf(rate, sizeof rate, "  x%.0f", p->rate);
    fprintf(stderr, "\r%s%s%s\033[K", when, pct, rate);
    fflush(stderr);
    p->drawn = true;
}

void progress_clear(struct progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}
