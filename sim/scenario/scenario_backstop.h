/*
 * The watchdog's backstop: a thread that ends the process when the script
 * has been inside one call from the runner for longer than the watchdog
 * plus SC_BACKSTOP_GRACE_MS. The watchdog's count hook stops Lua code; a
 * C function that never returns to Lua (a string pattern that backtracks
 * 2^40 times) never meets it, and cannot be interrupted safely, so the
 * process ends as after a kill -9 (docs/scenarios.md, "Limits").
 *
 * The thread reads only its own atomics and immutable text and ends the
 * process with write(2) and _exit(2): no Lua, no meter state, no stdio.
 */
#ifndef SIM_SCENARIO_BACKSTOP_H
#define SIM_SCENARIO_BACKSTOP_H

/* How long past the watchdog the script may stay inside C. */
#define SC_BACKSTOP_GRACE_MS 2000
/* How often the thread looks. */
#define SC_BACKSTOP_PERIOD_MS 100

struct sc_backstop;

/* Start the thread for the script at path (named in its message); NULL
 * when it cannot start (reported as a warning: the watchdog still stops
 * Lua code). */
struct sc_backstop *sc_backstop_start(const char *path);
/* The watchdog's limit, real s (0: no watchdog, no backstop). */
void sc_backstop_limit(struct sc_backstop *b, double watchdog_s);
/* The runner enters the script (a resume, a hook's pcall) and returns
 * from it. Calls do not nest. NULL b: nothing. */
void sc_backstop_enter(struct sc_backstop *b);
void sc_backstop_leave(struct sc_backstop *b);
/* Stop and join the thread, free b (NULL: nothing). */
void sc_backstop_stop(struct sc_backstop *b);

#endif
