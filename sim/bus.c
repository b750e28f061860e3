#include "bus.h"

#include <stddef.h>

struct sim_meter *bus_find(struct engine *e, int slave)
{
    /* addresses are the meters' own settings and change at run time (a
     * register write, the LCD), so look them up on every request */
    for (unsigned k = 0; k < e->count; k++)
        if (meter_comm(&e->meters[k].core)->slave == slave)
            return &e->meters[k];
    return NULL;
}

static bool bus_present(void *ctx, int slave)
{
    return bus_find(ctx, slave) != NULL;
}

static int bus_read(void *ctx, int slave, uint16_t addr, uint16_t count,
                    uint16_t *out)
{
    struct sim_meter *sm = bus_find(ctx, slave);
    if (!sm)
        return MB_EX_GATEWAY_TARGET;
    return meter_reg_read(&sm->core, addr, count, out);
}

static int bus_write(void *ctx, int slave, uint16_t addr, uint16_t count,
                     const uint16_t *in)
{
    struct engine *e = ctx;
    struct sim_meter *sm = bus_find(e, slave);
    if (!sm)
        return MB_EX_GATEWAY_TARGET;
    return meter_reg_write(&sm->core, addr, count, in, e->now_ms / 1000);
}

void bus_ops_init(struct mb_bus_ops *ops, struct engine *e)
{
    *ops = (struct mb_bus_ops){
        .ctx = e,
        .present = bus_present,
        .read = bus_read,
        .write = bus_write,
    };
}
