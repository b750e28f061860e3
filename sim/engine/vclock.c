#include "sim/engine/vclock.h"

void vclock_init(struct vclock *c, int64_t virtual_ms, double speed,
                 bool max, double real_now)
{
    c->max = max;
    c->speed = speed;
    c->base_virtual = virtual_ms;
    c->base_real = real_now;
}

int64_t vclock_target(const struct vclock *c, double real_now)
{
    if (c->max)
        return INT64_MAX;
    double ahead = (real_now - c->base_real) * c->speed * 1000.0;
    if (ahead < 0)
        ahead = 0;
    if (ahead > 9e15)
        return INT64_MAX;
    return c->base_virtual + (int64_t)ahead;
}

void vclock_set_speed(struct vclock *c, double speed, bool max,
                      int64_t virtual_ms, double real_now)
{
    vclock_init(c, virtual_ms, speed, max, real_now);
}
