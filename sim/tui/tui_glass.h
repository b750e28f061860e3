/*
 * The LCD glass in a terminal: each of the 8 positions drawn as a large
 * 7-segment digit from the frame's segment bits (never from numbers), the
 * points, the sign, and the icons lit in the frame; unlit segments and
 * icons are blank, as on the glass. Below it, the three keys.
 *
 * Geometry (tests/integration/test_tui.py reads it back from the screen):
 * the glass is a box TUI_GLASS_W x TUI_GLASS_H at (y, x); inside it, at
 * (y + 1, x + 2), position k's cell starts at column 4 + 8k and is 7 rows
 * high: a = row 0, f b = rows 1-2 at columns 0 and 5, g = row 3, e c =
 * rows 4-5, d = row 6, segments a g d over columns 1..4; the point at row
 * 6, column 6; the sign is g-style at row 3, columns 0..2. The units show
 * at row 6 from column 68, the other icons on row 8 by name.
 */
#ifndef SIM_TUI_GLASS_H
#define SIM_TUI_GLASS_H

#include <curses.h>
#include <stdbool.h>

#include "core/meter.h"

#define TUI_GLASS_W 76
#define TUI_GLASS_H 11
#define TUI_KEYS_H 1            /* the key row under the glass */

struct tui_glass_style {
    bool unicode;               /* box-drawing segments, else ASCII */
    attr_t lit;                 /* attribute of lit segments and icons */
    attr_t frame;               /* the box */
    attr_t pressed;             /* a key drawn pressed */
};

/* A box h x width at (y, x) with a title in its top border (the
 * panels use it too). */
void tui_box(WINDOW *w, int y, int x, int h, int width, const char *title,
             const struct tui_glass_style *st);

/* Draw the glass with frame f and its title at (y, x). */
void tui_glass_draw(WINDOW *w, int y, int x, const struct lcd_frame *f,
                    const char *title, const struct tui_glass_style *st);

/* The key row at (y, x): down[k] draws key k pressed. */
void tui_glass_keys(WINDOW *w, int y, int x, const bool down[3],
                    const struct tui_glass_style *st);

/* The frame as one line of text ('.' after a position with its point,
 * '~' for the sign, '?' for a pattern no character has), for terminals
 * too small for the glass. */
void tui_glass_text(const struct lcd_frame *f, char *out, size_t len);

#endif
