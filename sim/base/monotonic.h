/*
 * The host's one monotonic clock: real time that never jumps, for pacing,
 * timeouts and rates. Virtual (meter) time is sim/engine/vclock.h's.
 */
#ifndef SIM_MONOTONIC_H
#define SIM_MONOTONIC_H

#include <stdint.h>

/* Seconds since an arbitrary start, with nanosecond resolution. */
double monotonic_s(void);

/* Milliseconds since the same start. */
int64_t monotonic_ms(void);

#endif
