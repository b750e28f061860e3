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

#include "sim/engine/engine.h"

struct changes;

/* Start logging e's changes (after engine_init and the fleet's set-up).
 * NULL when out of memory or out of watcher slots (reported). */
struct changes *changes_open(struct engine *e);
void changes_close(struct changes *c);

#endif
