/*
 * The TUI's key driver: terminal characters in, the meter's key press and
 * release events out, the way a board's debounced key driver reports them.
 *
 * A terminal reports no key releases, only characters, repeated while a
 * key is held (after the terminal's repeat delay). So:
 *   ↓ and ENTER   each character is a press and its release (holding the
 *                 key repeats it, as the manual's keys act on a press);
 *   ←             the first character presses it; characters that keep
 *                 coming no more than TUI_KEYS_GAP_MS apart keep it held
 *                 (auto-repeat), and it is released when they stop. Held
 *                 for 3 s it opens the password page. Several ← in one
 *                 burst (a paste, tmux send-keys) are separate taps;
 *   L             a long ←: pressed now and released 3.2 s later.
 * Pure logic (no curses): times are ms of a monotonic clock.
 */
#ifndef SIM_TUI_KEYS_H
#define SIM_TUI_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/meter.h"

#define TUI_KEYS_GAP_MS 250     /* ← released this long after its last char */
#define TUI_KEYS_LONG_MS 3200   /* how long L holds ← */

/* What a terminal key means. */
enum tui_action {
    TUI_ACT_NONE = 0,
    TUI_ACT_LEFT,               /* ←, h, ↑ (page up) */
    TUI_ACT_DOWN,               /* ↓, j */
    TUI_ACT_ENTER,              /* Enter */
    TUI_ACT_LONG_LEFT,          /* L */
    TUI_ACT_NEXT_METER,         /* Tab, n: show the next meter of a fleet */
    TUI_ACT_PREV_METER,         /* p */
    TUI_ACT_QUIT,               /* q: stop, saving the state */
};

/* Map an ncurses key code (getch) to an action. */
enum tui_action tui_keys_map(int ch);

/* Where key events go: the meter's meter_key, in the TUI. */
typedef void tui_key_fn(void *ctx, enum meter_key key,
                        enum meter_key_event ev, int64_t now_ms);

struct tui_keys {
    tui_key_fn *emit;
    void *ctx;
    bool left_down;             /* ← is held as far as the meter knows */
    bool left_fresh;            /* it went down in the current burst */
    int64_t left_last;          /* ms of its last character */
    int64_t left_until;         /* not released before (L) */
    int64_t flash_until[3];     /* ms each key shows pressed until */
};

void tui_keys_init(struct tui_keys *k, tui_key_fn *emit, void *ctx);

/* A burst of characters (all those one read returned) begins. */
void tui_keys_burst(struct tui_keys *k);

/* One key action of the burst at now_ms. */
void tui_keys_action(struct tui_keys *k, enum tui_action a, int64_t now_ms);

/* Time passes: release ← when its characters stopped (call at the
 * display's refresh rate). */
void tui_keys_poll(struct tui_keys *k, int64_t now_ms);

/* Release whatever is held (the meter shown changes, the TUI closes). */
void tui_keys_release_all(struct tui_keys *k, int64_t now_ms);

/* Whether a key should be drawn pressed now. */
bool tui_keys_shown_down(const struct tui_keys *k, enum meter_key key,
                         int64_t now_ms);

#endif
