/*
 * The meter's face over HTTP, for the browser face (docs/http.md, "The
 * face"): the LCD's segment frame as the firmware computes it, keys held
 * and released as a person holds them, and the front end's sample blocks
 * (the scope).
 *
 * The held keys and the LCD's timers run on the key driver's counter
 * (control_int.h's key_ms): between two key events it follows real time,
 * so a hold of 3 real seconds is a long press at any speed of virtual
 * time, and it never goes backwards. While the terminal face draws the
 * panel, its counter is used instead (both faces on one clock).
 */
#define _GNU_SOURCE
#include "sim/control/control_int.h"

#include <stdio.h>
#include <string.h>

#include "sim/base/monotonic.h"
#include "sim/engine/wave.h"

#define SCOPE_CYCLES 3          /* cycles of samples a scope answer has */
#define SCOPE_MAX 2048          /* samples it has at most */

/* enum lcd_icon's bits, in order (the names of the scenario's m:lcd()) */
static const char *const icon_names[] = {
    "V", "A", "kW", "kvar", "kVA", "Hz", "PF", "kWh", "kvarh", "T1",
    "T2", "T3", "T4", "total", "imp", "exp", "last", "clock", "set",
    "relay_off", "comm", "4G", "alarm",
};

int64_t ctl_key_now(struct control *c, unsigned k, bool virtual_floor)
{
    const struct control_host *h = &c->cfg.host;
    int64_t panel = h->panel_ms ? h->panel_ms(h->ctx) : INT64_MIN;
    int64_t real = monotonic_ms(), t;

    if (panel != INT64_MIN)     /* the terminal's counter: share it */
        return panel > c->key_ms[k] ? panel : c->key_ms[k];
    if (!c->key_real[k]) {
        /* no key event yet: start from virtual time, as key presses do */
        if (c->key_ms[k] < c->e->now_ms)
            c->key_ms[k] = c->e->now_ms;
        c->key_real[k] = real;
    }
    t = c->key_ms[k] + (real - c->key_real[k]);
    return virtual_floor && t < c->e->now_ms ? c->e->now_ms : t;
}

void ctl_key_mark(struct control *c, unsigned k, int64_t t)
{
    c->key_ms[k] = t;
    c->key_real[k] = monotonic_ms();
}

static json_t *frame_json(const struct lcd_frame *f, uint8_t held)
{
    json_t *o = json_object(), *digits = json_array(), *icons = json_array();
    char text[2 * LCD_DIGITS + 2];

    text[0] = '-';
    seg_row_text(f->digit, LCD_DIGITS, text + f->minus,
                 (unsigned)sizeof text - 1);
    for (unsigned k = 0; k < LCD_DIGITS; k++)
        json_array_append_new(digits, json_integer(f->digit[k]));
    for (unsigned b = 0; b < sizeof icon_names / sizeof *icon_names; b++)
        if (f->icons & 1u << b)
            json_array_append_new(icons, json_string(icon_names[b]));
    json_object_set_new(o, "text", json_string(text));
    json_object_set_new(o, "digits", digits);
    json_object_set_new(o, "minus", json_boolean(f->minus));
    json_object_set_new(o, "icons", icons);
    json_object_set_new(o, "flash", json_integer(f->flash));
    json_object_set_new(o, "held", json_pack("{s:b,s:b,s:b}",
        "left", held & 1, "down", held >> 1 & 1, "enter", held >> 2 & 1));
    return o;
}

/* GET .../lcd: the display refresh (meter_lcd_tick) and the frame. */
enum MHD_Result ctl_meter_lcd(struct ctl_call *call)
{
    METER_OR_404(call, k);
    struct meter *m = &call->c->e->meters[k].core;
    int64_t t = ctl_key_now(call->c, (unsigned)k, false);
    struct lcd_frame f;

    meter_lcd_tick(m, t);
    meter_lcd_frame(m, t, &f);
    return ctl_json(call->conn, MHD_HTTP_OK, frame_json(&f, m->lcd.held));
}

/* POST .../keys {"key": K, "action": "press" | "release"}: one edge of a
 * key, now on the key counter; the frame after it is answered. */
enum MHD_Result ctl_key_action(struct ctl_call *call, int k, int key,
                               bool press)
{
    struct meter *m = &call->c->e->meters[k].core;
    int64_t t = ctl_key_now(call->c, (unsigned)k, false);
    bool down = m->lcd.held & 1u << key;
    int changed = 0;

    meter_lcd_tick(m, t);       /* a long hold acts before its release */
    if (press != down)
        changed = meter_key(m, (enum meter_key)key,
                            press ? METER_KEY_PRESS : METER_KEY_RELEASE,
                            t) > 0;
    ctl_key_mark(call->c, (unsigned)k, t);
    struct lcd_frame f;
    meter_lcd_frame(m, t, &f);
    json_t *o = frame_json(&f, m->lcd.held);
    json_object_set_new(o, "settings_changed", json_boolean(changed));
    return ctl_json(call->conn, MHD_HTTP_OK, o);
}

/* GET .../scope: SCOPE_CYCLES cycles of the samples the meter's ADC
 * takes next (from a copy of its front end: the engine's is untouched),
 * scaled to V and A. */
enum MHD_Result ctl_meter_scope(struct ctl_call *call)
{
    static int32_t vc[SCOPE_MAX], ic[SCOPE_MAX];
    METER_OR_404(call, k);
    struct wave copy = call->c->e->meters[k].wave;
    double f = copy.cfg.f > 1.0 ? copy.cfg.f : 50.0;
    size_t n = (size_t)(SCOPE_CYCLES * copy.cfg.sample_rate / f + 0.5);
    json_t *v = json_array(), *i = json_array();

    if (n > SCOPE_MAX)
        n = SCOPE_MAX;
    wave_generate(&copy, vc, ic, n);
    for (size_t j = 0; j < n; j++) {
        json_array_append_new(v, json_real(vc[j] * copy.cfg.ch[WAVE_V].lsb));
        json_array_append_new(i, json_real(ic[j] * copy.cfg.ch[WAVE_I].lsb));
    }
    return ctl_json(call->conn, MHD_HTTP_OK, json_pack(
        "{s:i,s:f,s:o,s:o}", "sample_rate", (int)copy.cfg.sample_rate,
        "f", f, "v", v, "i", i));
}
