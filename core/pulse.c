#include "pulse.h"

#include <math.h>

void pulse_init(struct pulse *p)
{
    *p = (struct pulse){ 0, 0 };
}

uint64_t pulse_add(struct pulse *p, int64_t mj, int64_t base_ms,
                   double off_ms, double dur_ms, pulse_fn *fn, void *ctx)
{
    int64_t before = p->rest;
    uint64_t n;

    CORE_ASSERT(mj >= 0);
    if (mj <= 0)
        return 0;
    n = (uint64_t)((before + mj) / PULSE_MJ);
    p->rest = (before + mj) % PULSE_MJ;
    if (fn) {
        for (uint64_t k = 1; k <= n; k++) {
            /* energy into this increment when pulse k completes */
            double need = (double)((int64_t)k * PULSE_MJ - before);
            double at = off_ms + dur_ms * (need / (double)mj);
            fn(ctx, p->count + k, base_ms + (int64_t)floor(at));
        }
    }
    p->count += n;
    return n;
}

int pulse_check(const struct pulse *p)
{
    return p->rest >= 0 && p->rest < PULSE_MJ ? CORE_OK : CORE_EBADMSG;
}
