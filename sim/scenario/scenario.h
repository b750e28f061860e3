/*
 * Lua scenarios: a script that drives the meters' loads, time, events and
 * faults, and asserts on what they measure (docs/scenarios.md).
 *
 * The script runs as a coroutine on the process's loop. Whenever it lets
 * time pass (advance, run_until) it yields; the loop steps the engine, at
 * the chosen speed, up to the next thing the scenario waits for (the
 * script, a hook, a ramp step, the end of an outage) and runs it there.
 * Scenario events happen at whole virtual seconds, fixed by virtual time
 * alone, so a scenario gives the same results at every speed.
 *
 * Life cycle, as main.c drives it:
 *   scenario_load      the Lua state, the sandbox, the script; runs the
 *                      script up to its first use of the meters, so that
 *                      setup{} can still change the options
 *   scenario_start     the meters exist: bind them, the ports' faults,
 *                      the host's callbacks
 *   scenario_advance   instead of engine_advance, every loop turn
 *   scenario_finish    results (TAP, JUnit, the closing line), exit code
 *   scenario_free
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/engine/engine.h"
#include "sim/cli/options.h"

struct ports;
struct scenario;

/* What the scenario asks of the process around it. */
struct scenario_host {
    void *ctx;
    /* the script changed the speed (max, or virtual s per real s > 0) */
    void (*speed)(void *ctx, double speed, bool max);
    /* the front panel's key counter now, ms (a terminal UI presses keys
     * on its own counter); NULL: virtual time */
    int64_t (*panel_ms)(void *ctx);
    /* true while a full-screen UI owns the terminal: print() and results
     * go to the log (its panel) instead of stdout; NULL: never */
    bool (*ui)(void *ctx);
    /* the run has an MQTT uplink whose traffic comes to scenario_mqtt */
    bool mqtt;
    /* cut (true) or restore the meters' link to the broker */
    void (*broker)(void *ctx, bool cut);
};

/* Create the scenario for o->scenario and run its script up to the first
 * call that needs the meters (setup{} may change *o until then). Options
 * the command line left alone get the scenario defaults: no state file,
 * no Modbus TCP listener, start 2026-01-01T00:00:00, speed max. Returns
 * NULL when no Lua state can be made (reported; exit status 2); a script
 * that does not load comes back done, with its error recorded. */
struct scenario *scenario_load(struct sim_options *o);

/* The meters and ports exist. The script goes on at the engine's time
 * when the loop first calls scenario_advance. */
void scenario_start(struct scenario *sc, struct engine *e, struct ports *p,
                    const struct scenario_host *host);

/* Step the engine toward target_ms (at most max_steps steps), stopping at
 * the scenario's own events to run them. false once the scenario has
 * ended (its script returned, stopped or failed). */
bool scenario_advance(struct scenario *sc, int64_t target_ms,
                      unsigned max_steps);

/* One MQTT message of the uplink (uplink_set_observer's arguments):
 * published (out) or a command received, kept for mqtt.sent() and
 * mqtt.received(). */
void scenario_mqtt(struct scenario *sc, unsigned meter, bool out,
                   const char *topic, const void *payload, size_t len);

/* true once the scenario has ended. */
bool scenario_done(const struct scenario *sc);

/* The virtual time span the current wait covers (for a progress line):
 * false when the scenario is not waiting on a known end. */
bool scenario_span(const struct scenario *sc, int64_t *from_ms,
                   int64_t *to_ms);

/* Report the results (TAP on stdout with --tap, JUnit with --junit, the
 * closing "N passed, N failed" line) and return the exit status: 0 all
 * passed, 1 an assertion failed, 2 a scenario error. why_stopped: NULL
 * when the scenario ended by itself, else why the run stopped early
 * ("--until", a signal's name). */
int scenario_finish(struct scenario *sc, const char *why_stopped);

void scenario_free(struct scenario *sc);

#endif
