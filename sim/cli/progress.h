/*
 * The progress line of long accelerated runs: the virtual date, how far
 * along (when the end is known) and the speed reached, redrawn in place
 * on stderr a few times a second. For terminals only: the caller turns it
 * on when stderr is a terminal (CI logs stay quiet).
 */
#ifndef SIM_PROGRESS_H
#define SIM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* All zero: off, nothing drawn, no update yet. */
struct progress {
    bool on;                /* draw at all */
    bool drawn;             /* a line is on the screen now */
    bool started;           /* an update came: first, last, last_ms hold */
    double first;           /* real s of the first update */
    double last;            /* real s the line was last drawn */
    int64_t last_ms;        /* virtual ms then */
    double rate;            /* virtual s per real s, smoothed */
};

/* The run is at now_ms (virtual) at real time real_s; from_ms..to_ms is
 * the span being run (to_ms <= from_ms: its end is unknown). Draws at
 * most 4 times a second, and only once the run has lasted half a second. */
void progress_update(struct progress *p, int64_t now_ms, int64_t from_ms,
                     int64_t to_ms, double real_s);

/* Erase the line (before other output, and at the end). */
void progress_clear(struct progress *p);

#endif
