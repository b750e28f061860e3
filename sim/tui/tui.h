/*
 * The meter's face in a terminal (ncurses): the LCD glass drawn segment
 * by segment from the frame core/lcd computes, its icons and three keys,
 * and panels for demos and integrators: the clock and the load, a scope
 * of the voltage and current, the latest Modbus and MQTT traffic, the log.
 *
 * Runs on the libev loop: a stdin watcher turns terminal keys into key
 * press/release events (docs/lcd.md: key map, holding ←), a 10 Hz timer
 * runs the menu's timers and redraws. It never blocks the loop and never
 * changes what the meters compute: it reads frames and submits keys
 * through the core's entry points, like every other channel.
 *
 * While it is up the log goes to its panel, not over the screen; warnings
 * and errors are repeated on stderr when it closes. The terminal is
 * restored on every way out: tui_close (normal exit, SIGINT/SIGTERM via
 * the loop), SIGHUP (stops the loop like SIGTERM), and SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT, SIGQUIT (a handler writes the terminal's reset
 * strings and restores its modes with async-signal-safe calls, then lets
 * the signal go on: core dump and exit status as without the TUI).
 */
#ifndef SIM_TUI_H
#define SIM_TUI_H

#include <stdbool.h>
#include <stddef.h>

#include "sim/engine/engine.h"
#include "sim/ports/ports.h"
#include "sim/engine/vclock.h"

struct ev_loop;
struct tui;

/* What the meter process gives the TUI. */
struct tui_config {
    struct engine *engine;      /* the fleet (meter 0 shown first) */
    struct ports *ports;        /* for the Modbus traffic observer */
    const struct vclock *clock; /* the pacing: speed */
    const char *scenario;       /* shown in the status panel; NULL: the
                                   steady --load */
    bool mqtt;                  /* an uplink is configured (--mqtt) */
    bool state;                 /* a state file is kept (not --no-state) */
    void *ctx;                  /* for the callbacks */
    /* a key changed a setting or the clock: apply it (ports_sync) and
     * save the state now */
    void (*changed)(void *ctx);
};

/* Take over the terminal. Returns 0, or -1 with the reason in err (no
 * terminal on stdin/stdout, unknown TERM): the caller runs headless. */
int tui_open(struct tui **out, struct ev_loop *loop,
             const struct tui_config *cfg, char *err, size_t errlen);

/* Give the terminal back (NULL: nothing to do). */
void tui_close(struct tui *t);

/* The MQTT uplink's observer (uplink_set_observer; ctx: the struct tui):
 * one message, out (published) or in (a command), shown in the MQTT
 * panel, the payload cut to the width. */
void tui_mqtt(void *ctx, unsigned meter, bool out, const char *topic,
              const void *payload, size_t len);

#endif
