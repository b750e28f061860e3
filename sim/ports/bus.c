#include "sim/ports/bus.h"

#include <stddef.h>
#include <string.h>

#include "sim/base/log.h"

void bus_refresh(struct bus *bus)
{
    struct engine *e = bus->engine;

    memset(bus->by_slave, 0, sizeof bus->by_slave);
    /* the first meter at an address answers, as the first to reply on a
     * real bus would be heard */
    for (unsigned k = e->count; k-- > 0;) {
        unsigned a = meter_comm(&e->meters[k].core)->slave;
        if (a >= MB_SLAVE_MIN && a <= MB_SLAVE_MAX)
            bus->by_slave[a] = &e->meters[k];
    }
}

struct sim_meter *bus_find(struct bus *bus, int slave)
{
    if (slave < MB_SLAVE_MIN || slave > MB_SLAVE_MAX)
        return NULL;
    struct sim_meter *sm = bus->by_slave[slave];
    if (sm && meter_comm(&sm->core)->slave != slave) {
        bus_refresh(bus);       /* changed since the last refresh */
        sm = bus->by_slave[slave];
    }
    return sm;
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

static int bus_write(void *ctx, int slave, uint8_t fc, uint16_t addr,
                     uint16_t count, const uint16_t *in)
{
    struct bus *bus = ctx;
    struct sim_meter *sm = bus_find(bus, slave);
    if (!sm)
        return MB_EX_GATEWAY_TARGET;
    bus->engine->store_failing = false;
    const char *before = engine_cause(bus->engine, fc == 6 ? "Modbus FC06" :
                                      "Modbus FC16");
    int rc = meter_reg_write(&sm->core, addr, count, in,
                             bus->engine->now_ms / 1000);
    engine_cause(bus->engine, before);
    if (rc == 0)
        bus_refresh(bus);       /* the write may have moved an address */
    /* installed, but the state file could not keep it: as a meter whose
     * EEPROM write failed, say so rather than acknowledge */
    if (rc == 0 && bus->engine->store_failing)
        return MB_EX_DEVICE_FAILURE;
    return rc;
}

static void bus_traffic(void *ctx, const char *transport, int slave,
                        const uint8_t *req, size_t reqlen,
                        const uint8_t *rsp, size_t rsplen)
{
    struct bus *bus = ctx;

    if (bus->observer)
        bus->observer(bus->observer_ctx, bus_find(bus, slave), transport,
                      slave, req, reqlen, rsp, rsplen);
}

static void bus_log(void *ctx, int level, const char *line)
{
    log_msg(level <= MB_LOG_ERR ? LOG_ERROR : level == MB_LOG_WARN ?
            LOG_WARN : level == MB_LOG_INFO ? LOG_INFO : LOG_DEBUG,
            "%s", line);
}

void bus_set_observer(struct bus *bus, bus_traffic_fn *fn, void *ctx)
{
    bus->observer = fn;
    bus->observer_ctx = ctx;
}

void bus_ops_init(struct mb_bus_ops *ops, struct bus *bus, struct engine *e)
{
    bus->engine = e;
    bus_refresh(bus);
    *ops = (struct mb_bus_ops){
        .ctx = bus,
        .present = bus_present,
        .read = bus_read,
        .write = bus_write,
        .traffic = bus_traffic,
        .log = bus_log,
    };
}
