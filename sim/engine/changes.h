/*
 * The log of settings changes: each time a meter's core says a command
 * changed what it keeps (settings_changed, from any path), one line says
 * what changed to what, and through which path:
 *
 *   meter 31000001: baud 9600 -> 19200, parity E -> N (Modbus FC16)
 *
 * The lines come from comparing the meter with what it was after its
 * last change, so every path (Modbus, MQTT, HTTP, keys, scenario) is
 * logged the same way; the path's name is the engine's cause of the
 * moment (engine_cause), set by the path around its call into the core.
 */
#ifndef SIM_ENGINE_CHANGES_H
#define SIM_ENGINE_CHANGES_H

#include <stddef.h>

#include "sim/engine/engine.h"

struct changes;

/* Start logging e's changes (after engine_init and the fleet's set-up).
 * NULL when out of memory or out of watcher slots (reported). */
struct changes *changes_open(struct engine *e);
void changes_close(struct changes *c);

/* What changed on meter sm since `before`, as "baud 9600 -> 19200, ..."
 * in out ("" for nothing): exposed for the unit test. */
struct changes_seen {
    struct meter_settings set;
    uint32_t credit_wh;         /* credit after the last change */
    float import_kwh;           /* import energy then (credit used since) */
    int64_t rtc_offset;         /* s the RTC was set off virtual time */
    bool remote_open;           /* a remote open command held */
    float max_demand;           /* VA */
};
void changes_seen_take(const struct sim_meter *sm, struct changes_seen *s);
void changes_describe(const struct sim_meter *sm,
                      const struct changes_seen *before, char *out,
                      size_t len);

#endif
