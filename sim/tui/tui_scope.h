/*
 * The TUI's scope: the voltage and current a meter's ADC sees, two line
 * cycles from a rising zero crossing of the voltage (a triggered scope).
 *
 * The samples come from a copy of the meter's front end (struct wave is
 * plain state: phase, time, noise generator): they are exactly the samples
 * the engine feeds the firmware next, and the engine's own front end is
 * never touched, so a run with the TUI computes the same as one without.
 * In fast fidelity they are the samples of its next measured window.
 */
#ifndef SIM_TUI_SCOPE_H
#define SIM_TUI_SCOPE_H

#include "sim/tui/tui_glass.h"
#include "sim/engine/wave.h"

#define TUI_SCOPE_MAX 2048      /* samples taken per redraw, at most */
#define TUI_SCOPE_CELLS 16384   /* character cells of a plot, at most */

struct tui_scope {
    double v[TUI_SCOPE_MAX];    /* V, from the ADC codes */
    double i[TUI_SCOPE_MAX];    /* A */
    unsigned n;                 /* samples shown: two cycles */
    double v_peak, i_peak;      /* largest magnitudes shown */
    double f;                   /* line frequency of the front end, Hz */
};

/* Take two triggered cycles from a copy of front end w. */
void tui_scope_capture(struct tui_scope *s, const struct wave *w);

/* Draw it in a box h x width at (y, x): in Braille dots (2 x 4 a cell)
 * on a Unicode terminal, else voltage '*' and current 'o' a column. */
void tui_scope_draw(WINDOW *win, int y, int x, int h, int width,
                    const struct tui_scope *s,
                    const struct tui_glass_style *st, attr_t v_attr,
                    attr_t i_attr);

#endif
