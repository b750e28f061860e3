/*
 * The progress line of long accelerated runs: the virtual date, how far
 * along (when the end is known), the speed reached and the time left.
 * On a terminal it is redrawn in place on stderr a few times a second,
 * erased before any other output (the log calls log_interrupt) and left
 * at its last state when the run ends; when stderr is no terminal (CI) a
 * plain log line says the same every PROGRESS_PLAIN_PERIOD real seconds.
 */
#ifndef SIM_PROGRESS_H
#define SIM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PROGRESS_PLAIN_PERIOD 10.0  /* real s between plain lines */

/* All zero: off, nothing drawn, no update yet. */
struct progress {
    bool on;                /* draw in place (stderr is a terminal) */
    bool plain;             /* periodic log lines (stderr is not) */
    bool drawn;             /* a line is on the screen now */
    bool started;           /* an update came: first, last, last_ms hold */
    bool said;              /* a plain line was logged */
    double first;           /* real s of the first update */
    double last;            /* real s the rate was last measured */
    double last_plain;      /* real s of the last plain line */
    int64_t last_ms;        /* virtual ms then */
    int64_t first_ms;       /* virtual ms at the first update */
    double rate;            /* virtual s per real s, smoothed */
    int64_t span_from, span_to; /* the last span with a known end */
};

/* The run is at now_ms (virtual) at real time real_s; from_ms..to_ms is
 * the span being run (to_ms <= from_ms: its end is unknown). Draws at
 * most 4 times a second, and only once the run has lasted half a second. */
void progress_update(struct progress *p, int64_t now_ms, int64_t from_ms,
                     int64_t to_ms, double real_s);

/* The run ended at now_ms: a line that was drawn is drawn a last time,
 * with how long the run took, and left on the screen (a newline after
 * it); after plain lines, a last plain one. An unknown end (to_ms <=
 * from_ms) is the last known one's. */
void progress_finish(struct progress *p, int64_t now_ms, int64_t from_ms,
                     int64_t to_ms, double real_s);

/* Erase the line (before other output). */
void progress_clear(struct progress *p);

#endif
