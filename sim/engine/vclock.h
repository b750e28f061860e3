/*
 * The virtual clock's pacing: where virtual time should be now, given
 * the real time and the speed. The engine then steps up to that target.
 */
#ifndef SIM_VCLOCK_H
#define SIM_VCLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct vclock {
    bool max;               /* as fast as possible */
    double speed;           /* virtual s per real s; 0 = frozen */
    int64_t base_virtual;   /* virtual ms at base_real */
    double base_real;       /* real s (monotonic) */
    double achieved;        /* virtual s per real s over the last real
                               second, as measured by the host; 0 not yet */
};

void vclock_init(struct vclock *c, int64_t virtual_ms, double speed,
                 bool max, double real_now);

/* The virtual ms the clock should have reached at real_now
 * (INT64_MAX at max speed). */
int64_t vclock_target(const struct vclock *c, double real_now);

/* Change the speed from virtual_ms onwards, without a jump. */
void vclock_set_speed(struct vclock *c, double speed, bool max,
                      int64_t virtual_ms, double real_now);

#endif
