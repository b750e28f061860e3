#include "sim/cli/progress.h"

#include <stdio.h>

#include "sim/base/log.h"
#include "sim/base/timeparse.h"

#define PROGRESS_DELAY 0.5      /* real s before the first line */
#define PROGRESS_PERIOD 0.25    /* real s between lines */

/* Real seconds as "42 s", "3:05" or "2h05m". */
static void span_text(double s, char *buf, size_t len)
{
    long t = (long)(s + 0.5);

    if (t < 60)
        snprintf(buf, len, "%ld s", t);
    else if (t < 3600)
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
    else
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

/* "2026-07-14T09:00:00   53%  x8.1M  0:12 left" (tail: "left" or the
 * run's length when it is over). */
static void line_text(const struct progress *p, int64_t now_ms,
                      int64_t from_ms, int64_t to_ms, double real_s,
                      bool over, char *buf, size_t len)
{
    char when[32], pct[16] = "", rate[32] = "", tail[48] = "", t[24];

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
    if (over) {
        span_text(real_s - p->first, t, sizeof t);
        snprintf(tail, sizeof tail, "  in %s", t);
    } else if (to_ms > now_ms && p->rate > 0) {
        span_text((double)(to_ms - now_ms) / 1000.0 / p->rate, t, sizeof t);
        snprintf(tail, sizeof tail, "  %s left", t);
    }
    snprintf(buf, len, "%s%s%s%s", when, pct, rate, tail);
}

/* The speed since the last measure, smoothed. */
static void measure(struct progress *p, int64_t now_ms, double real_s)
{
    if (real_s <= p->last)
        return;
    double r = (double)(now_ms - p->last_ms) / 1000.0 / (real_s - p->last);
    p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * r : r;
    p->last = real_s;
    p->last_ms = now_ms;
}

void progress_update(struct progress *p, int64_t now_ms, int64_t from_ms,
                     int64_t to_ms, double real_s)
{
    char line[160];

    if (!p->on && !p->plain)
        return;
    if (to_ms > from_ms) {
        p->span_from = from_ms;
        p->span_to = to_ms;
    }
    if (!p->started) {
        p->started = true;
        p->first = p->last = p->last_plain = real_s;
        p->last_ms = p->first_ms = now_ms;
        return;
    }
    if (real_s - p->first < PROGRESS_DELAY ||
        real_s - p->last < PROGRESS_PERIOD)
        return;
    measure(p, now_ms, real_s);
    if (p->on) {
        line_text(p, now_ms, from_ms, to_ms, real_s, false, line,
                  sizeof line);
        fprintf(stderr, "\r%s\033[K", line);
        fflush(stderr);
        p->drawn = true;
    } else if (real_s - p->last_plain >= PROGRESS_PLAIN_PERIOD) {
        line_text(p, now_ms, from_ms, to_ms, real_s, false, line,
                  sizeof line);
        p->last_plain = real_s;
        p->said = true;
        log_info("progress: %s", line);
    }
}

void progress_finish(struct progress *p, int64_t now_ms, int64_t from_ms,
                     int64_t to_ms, double real_s)
{
    char line[160];

    if (!p->drawn && !p->said)
        return;
    if (to_ms <= from_ms) {
        from_ms = p->span_from;
        to_ms = p->span_to;
    }
    /* the whole run's speed, not the last moment's */
    if (real_s > p->first)
        p->rate = (double)(now_ms - p->first_ms) / 1000.0 /
                  (real_s - p->first);
    line_text(p, now_ms, from_ms, to_ms, real_s, true, line, sizeof line);
    if (p->drawn) {
        fprintf(stderr, "\r%s\033[K\n", line);
        fflush(stderr);
        p->drawn = false;
    } else {
        log_info("progress: %s", line);
    }
    p->said = false;
    p->started = false;
}

void progress_clear(struct progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}
