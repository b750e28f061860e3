/*
 * The terminal UI's key driver (sim/tui/tui_keys.c): terminal characters in,
 * key press and release events out. Auto-repeat holds ←, a burst of ←
 * is separate taps, L is a 3.2 s hold, another key releases ←; and with
 * a real meter behind it, a held ← opens the password page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <curses.h>

#include "sim/tui/tui_keys.h"

#define T0 INT64_C(5000)

struct event {
    enum meter_key key;
    enum meter_key_event ev;
    int64_t t;
};

struct log {
    struct event e[64];
    unsigned n;
};

static void record(void *ctx, enum meter_key key, enum meter_key_event ev,
                   int64_t now_ms)
{
    struct log *l = ctx;

    assert_true(l->n < 64);
    l->e[l->n++] = (struct event){ key, ev, now_ms };
}

static void expect(const struct log *l, unsigned k, enum meter_key key,
                   enum meter_key_event ev, int64_t t)
{
    assert_true(k < l->n);
    assert_int_equal(l->e[k].key, key);
    assert_int_equal(l->e[k].ev, ev);
    assert_int_equal(l->e[k].t, t);
}

/* One character in its own read (a burst of one). */
static void one(struct tui_keys *k, enum tui_action a, int64_t t)
{
    tui_keys_burst(k);
    tui_keys_action(k, a, t);
}

static void test_map(void **state)
{
    static const struct { int ch; enum tui_action a; } map[] = {
        { KEY_LEFT, TUI_ACT_LEFT }, { 'h', TUI_ACT_LEFT },
        { KEY_UP, TUI_ACT_LEFT }, { KEY_DOWN, TUI_ACT_DOWN },
        { 'j', TUI_ACT_DOWN }, { '\n', TUI_ACT_ENTER },
        { '\r', TUI_ACT_ENTER }, { KEY_ENTER, TUI_ACT_ENTER },
        { 'L', TUI_ACT_LONG_LEFT }, { 'l', TUI_ACT_NONE },
        { '\t', TUI_ACT_NEXT_METER }, { KEY_BTAB, TUI_ACT_PREV_METER },
        { 'q', TUI_ACT_QUIT }, { 'x', TUI_ACT_NONE }, { ERR, TUI_ACT_NONE },
    };
    (void)state;

    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        assert_int_equal(tui_keys_map(map[k].ch), map[k].a);
}

static void test_down_and_enter_are_taps(void **state)
{
    struct log l = { .n = 0 };
    struct tui_keys k;
    (void)state;

    tui_keys_init(&k, record, &l);
    one(&k, TUI_ACT_DOWN, T0);
    one(&k, TUI_ACT_DOWN, T0 + 30);     /* a repeat is another press */
    one(&k, TUI_ACT_ENTER, T0 + 60);
    assert_int_equal(l.n, 6);
    expect(&l, 0, METER_KEY_DOWN, METER_KEY_PRESS, T0);
    expect(&l, 1, METER_KEY_DOWN, METER_KEY_RELEASE, T0);
    expect(&l, 2, METER_KEY_DOWN, METER_KEY_PRESS, T0 + 30);
    expect(&l, 5, METER_KEY_ENTER, METER_KEY_RELEASE, T0 + 60);
    assert_true(tui_keys_shown_down(&k, METER_KEY_ENTER, T0 + 100));
    assert_false(tui_keys_shown_down(&k, METER_KEY_ENTER, T0 + 1000));
}

static void test_left_held_by_repeats(void **state)
{
    struct log l = { .n = 0 };
    struct tui_keys k;
    int64_t t;
    (void)state;

    tui_keys_init(&k, record, &l);
    one(&k, TUI_ACT_LEFT, T0);
    tui_keys_poll(&k, T0 + TUI_KEYS_GAP_MS - 1);
    assert_int_equal(l.n, 1);
    for (t = T0 + 40; t < T0 + 3500; t += 40) {
        one(&k, TUI_ACT_LEFT, t);       /* auto-repeat, one per read */
        tui_keys_poll(&k, t + 20);
    }
    assert_int_equal(l.n, 1);           /* still the first press */
    assert_true(tui_keys_shown_down(&k, METER_KEY_LEFT, t));
    tui_keys_poll(&k, t - 40 + TUI_KEYS_GAP_MS);
    assert_int_equal(l.n, 2);
    expect(&l, 1, METER_KEY_LEFT, METER_KEY_RELEASE,
           t - 40 + TUI_KEYS_GAP_MS);
}

static void test_left_burst_is_taps(void **state)
{
    struct log l = { .n = 0 };
    struct tui_keys k;
    (void)state;

    tui_keys_init(&k, record, &l);
    tui_keys_burst(&k);                 /* "hhh" in one read */
    tui_keys_action(&k, TUI_ACT_LEFT, T0);
    tui_keys_action(&k, TUI_ACT_LEFT, T0);
    tui_keys_action(&k, TUI_ACT_LEFT, T0);
    tui_keys_poll(&k, T0 + TUI_KEYS_GAP_MS);
    assert_int_equal(l.n, 6);
    for (unsigned j = 0; j < 6; j++)
        expect(&l, j, METER_KEY_LEFT, j % 2 ? METER_KEY_RELEASE :
               METER_KEY_PRESS, j == 5 ? T0 + TUI_KEYS_GAP_MS : T0);
}

static void test_long_and_other_keys(void **state)
{
    struct log l = { .n = 0 };
    struct tui_keys k;
    (void)state;

    tui_keys_init(&k, record, &l);
    one(&k, TUI_ACT_LONG_LEFT, T0);
    tui_keys_poll(&k, T0 + 1000);
    tui_keys_poll(&k, T0 + TUI_KEYS_LONG_MS - 1);
    assert_int_equal(l.n, 1);
    tui_keys_poll(&k, T0 + TUI_KEYS_LONG_MS);
    expect(&l, 1, METER_KEY_LEFT, METER_KEY_RELEASE, T0 + TUI_KEYS_LONG_MS);

    /* ← held, then ↓: ← comes up first */
    one(&k, TUI_ACT_LEFT, T0 + 5000);
    one(&k, TUI_ACT_DOWN, T0 + 5100);
    expect(&l, 3, METER_KEY_LEFT, METER_KEY_RELEASE, T0 + 5100);
    expect(&l, 4, METER_KEY_DOWN, METER_KEY_PRESS, T0 + 5100);
    tui_keys_release_all(&k, T0 + 6000);    /* nothing held: nothing */
    assert_int_equal(l.n, 6);
}

/* The driver and the firmware together: held ← opens the password page. */
static struct meter meter;

static void to_meter(void *ctx, enum meter_key key, enum meter_key_event ev,
                     int64_t now_ms)
{
    assert_true(meter_key(ctx, key, ev, now_ms) >= 0);
}

static void test_held_left_opens_password(void **state)
{
    struct tui_keys k;
    int64_t t;
    (void)state;

    assert_int_equal(meter_init(&meter, NULL, NULL, 1767225600), CORE_OK);
    tui_keys_init(&k, to_meter, &meter);
    one(&k, TUI_ACT_LEFT, T0);
    /* the terminal's repeat delay breaks the first hold, then repeats */
    tui_keys_poll(&k, T0 + 300);
    for (t = T0 + 500; t < T0 + 500 + LCD_LONG_MS; t += 33) {
        one(&k, TUI_ACT_LEFT, t);
        tui_keys_poll(&k, t);
        meter_lcd_tick(&meter, t);
        assert_int_not_equal(meter.lcd.mode, LCD_PASSWORD);
    }
    one(&k, TUI_ACT_LEFT, t);
    meter_lcd_tick(&meter, t);
    assert_int_equal(meter.lcd.mode, LCD_PASSWORD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_down_and_enter_are_taps),
        cmocka_unit_test(test_left_held_by_repeats),
        cmocka_unit_test(test_left_burst_is_taps),
        cmocka_unit_test(test_long_and_other_keys),
        cmocka_unit_test(test_held_left_opens_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
