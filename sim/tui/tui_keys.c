#include "sim/tui/tui_keys.h"

#include <curses.h>

#define SHOW_MS 150             /* a tapped key shows pressed this long */

enum tui_action tui_keys_map(int ch)
{
    switch (ch) {
    case KEY_LEFT: case KEY_UP: case 'h': case 'k':
        return TUI_ACT_LEFT;
    case KEY_DOWN: case 'j':
        return TUI_ACT_DOWN;
    case '\n': case '\r': case KEY_ENTER:
        return TUI_ACT_ENTER;
    case 'L':
        return TUI_ACT_LONG_LEFT;
    case '\t': case 'n':
        return TUI_ACT_NEXT_METER;
    case KEY_BTAB: case 'p':
        return TUI_ACT_PREV_METER;
    case 'q': case 'Q':
        return TUI_ACT_QUIT;
    default:
        return TUI_ACT_NONE;
    }
}

void tui_keys_init(struct tui_keys *k, tui_key_fn *emit, void *ctx)
{
    *k = (struct tui_keys){ .emit = emit, .ctx = ctx };
}

void tui_keys_burst(struct tui_keys *k)
{
    k->left_fresh = false;
}

static void show(struct tui_keys *k, enum meter_key key, int64_t until)
{
    if (until > k->flash_until[key])
        k->flash_until[key] = until;
}

static void left_release(struct tui_keys *k, int64_t now_ms)
{
    if (!k->left_down)
        return;
    k->left_down = false;
    k->emit(k->ctx, METER_KEY_LEFT, METER_KEY_RELEASE, now_ms);
}

static void left_press(struct tui_keys *k, int64_t now_ms, int64_t until)
{
    k->left_down = true;
    k->left_fresh = true;
    k->left_last = now_ms;
    k->left_until = until;
    k->emit(k->ctx, METER_KEY_LEFT, METER_KEY_PRESS, now_ms);
}

static void tap(struct tui_keys *k, enum meter_key key, int64_t now_ms)
{
    k->emit(k->ctx, key, METER_KEY_PRESS, now_ms);
    k->emit(k->ctx, key, METER_KEY_RELEASE, now_ms);
    show(k, key, now_ms + SHOW_MS);
}

void tui_keys_action(struct tui_keys *k, enum tui_action a, int64_t now_ms)
{
    switch (a) {
    case TUI_ACT_LEFT:
        if (!k->left_down) {
            left_press(k, now_ms, now_ms);
        } else if (k->left_fresh) {
            /* a second ← in the burst that pressed it: another tap */
            left_release(k, now_ms);
            left_press(k, now_ms, now_ms);
        } else {
            k->left_last = now_ms;      /* auto-repeat: still held */
        }
        break;
    case TUI_ACT_LONG_LEFT:
        left_release(k, now_ms);
        left_press(k, now_ms, now_ms + TUI_KEYS_LONG_MS);
        break;
    case TUI_ACT_DOWN:
        left_release(k, now_ms);
        tap(k, METER_KEY_DOWN, now_ms);
        break;
    case TUI_ACT_ENTER:
        left_release(k, now_ms);
        tap(k, METER_KEY_ENTER, now_ms);
        break;
    default:
        break;
    }
}

void tui_keys_poll(struct tui_keys *k, int64_t now_ms)
{
    if (k->left_down && now_ms - k->left_last >= TUI_KEYS_GAP_MS &&
        now_ms >= k->left_until)
        left_release(k, now_ms);
}

void tui_keys_release_all(struct tui_keys *k, int64_t now_ms)
{
    left_release(k, now_ms);
}

bool tui_keys_shown_down(const struct tui_keys *k, enum meter_key key,
                         int64_t now_ms)
{
    if (key == METER_KEY_LEFT && k->left_down)
        return true;
    return now_ms < k->flash_until[key];
}
