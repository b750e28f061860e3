/*
 * --pulses FILE: the meters' pulse output as a stream of events, one line
 * per pulse: the meter's serial, its pulse count after the pulse, and the
 * virtual time the pulse completed, ms since 1970. CSV (a header line,
 * then serial,count,t_ms) for FILE ending in .csv, JSON lines
 * ({"serial":..,"count":..,"t_ms":..}) for .jsonl, JSON lines on stdout
 * for "-". Every pulse the meters count is written, in the order they
 * happen, so the last line of a meter carries its count.
 */
#ifndef SIM_PULSES_H
#define SIM_PULSES_H

#include <stddef.h>

#include "sim/engine/engine.h"

struct pulses;

/* Can the stream be written there? Checked at start. 0, or -1 with a
 * message naming the path. */
int pulses_check(const char *path, char *err, size_t errlen);

/* Open the stream for the fleet e and hook it to e's pulses, ahead of the
 * hooks e has (they still hear every event). NULL with a message. */
struct pulses *pulses_open(const char *path, struct engine *e, char *err,
                           size_t errlen);

/* Flush and close; -1 with a message when something could not be
 * written. NULL is fine. */
int pulses_close(struct pulses *p, char *err, size_t errlen);

#endif
