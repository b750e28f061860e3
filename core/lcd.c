/*
 * The menu: which page the glass shows, how keys move between pages, the
 * password, editing a parameter digit by digit, and the timers (long
 * press, "Err", the 30 s return to the measurement display).
 *
 *   measurement --ENTER--> energy --ENTER--> clock --ENTER--> measurement
 *        ← and ↓ page up and down inside each group (wrapping)
 *   hold ← 3 s on any of them --> password --ENTER (right)--> parameters
 *   parameters: ↓ next, ← previous, ENTER edits (ENTER on "End" leaves)
 *   editing: ← next digit, ↓ digit + 1 (9 wraps to 0), ENTER installs
 *   a wrong password or a refused value shows "Err" for 2 s (or until a
 *   key), then goes back
 */
#include "lcd_menu.h"

#define PASSWORD_DIGITS 4

void lcd_init(struct lcd *l)
{
    *l = (struct lcd){ .mode = LCD_MEASURE };
}

void lcd_comm(struct meter *m, int64_t now_ms)
{
    m->lcd.comm_ms = now_ms;
    m->lcd.comm_seen = true;
}

static void go(struct lcd *l, enum lcd_mode mode)
{
    l->mode = (uint8_t)mode;
    l->page = 0;
    l->cursor = 0;
}

static void start_password(struct lcd *l)
{
    go(l, LCD_PASSWORD);
    for (unsigned k = 0; k < LCD_EDIT_MAX; k++)
        l->val[k] = 0;
}

static void show_error(struct lcd *l, enum lcd_mode back, int64_t now_ms)
{
    l->back = (uint8_t)back;
    l->mode = LCD_ERROR;
    l->error_ms = now_ms;
}

static void leave_error(struct lcd *l)
{
    if (l->back == LCD_PASSWORD)
        start_password(l);
    else
        l->mode = LCD_SETTINGS;
}

static bool display_group(const struct lcd *l)
{
    return l->mode == LCD_MEASURE || l->mode == LCD_ENERGY ||
           l->mode == LCD_CLOCK;
}

/* Elapsed ms, never negative (a host clock that steps back). */
static int64_t since(int64_t now_ms, int64_t then)
{
    return now_ms > then ? now_ms - then : 0;
}

int lcd_tick(struct meter *m, int64_t now_ms)
{
    struct lcd *l = &m->lcd;
    int changed = 0;

    if ((l->held & (1u << METER_KEY_LEFT)) && !l->long_done &&
        display_group(l) && since(now_ms, l->left_ms) >= LCD_LONG_MS) {
        l->long_done = true;
        l->key_ms = now_ms;
        start_password(l);
        changed = 1;
    }
    if (l->mode == LCD_ERROR && since(now_ms, l->error_ms) >= LCD_MESSAGE_MS) {
        leave_error(l);
        changed = 1;
    }
    if (l->mode != LCD_MEASURE && since(now_ms, l->key_ms) >= LCD_TIMEOUT_MS) {
        go(l, LCD_MEASURE);
        changed = 1;
    }
    return changed;
}

static unsigned password_value(const struct lcd *l)
{
    unsigned v = 0;

    for (unsigned k = 0; k < PASSWORD_DIGITS; k++)
        v = v * 10 + l->val[k];
    return v;
}

static int press_display(struct meter *m, enum meter_key key)
{
    struct lcd *l = &m->lcd;
    unsigned n = lcd_pages(m, l->mode);
    unsigned page = l->page % n;

    switch (key) {
    case METER_KEY_LEFT:
        l->page = (uint8_t)((page + n - 1) % n);
        break;
    case METER_KEY_DOWN:
        l->page = (uint8_t)((page + 1) % n);
        break;
    case METER_KEY_ENTER:
        go(l, l->mode == LCD_MEASURE ? LCD_ENERGY :
              l->mode == LCD_ENERGY ? LCD_CLOCK : LCD_MEASURE);
        break;
    }
    return 0;
}

static int press_password(struct meter *m, enum meter_key key,
                          int64_t now_ms)
{
    struct lcd *l = &m->lcd;

    switch (key) {
    case METER_KEY_LEFT:
        l->cursor = (uint8_t)((l->cursor + 1) % PASSWORD_DIGITS);
        break;
    case METER_KEY_DOWN:
        l->val[l->cursor] = (uint8_t)((l->val[l->cursor] + 1) % 10);
        break;
    case METER_KEY_ENTER:
        if (password_value(l) == m->set.password) {
            go(l, LCD_SETTINGS);
            l->item = 0;
        } else {
            show_error(l, LCD_PASSWORD, now_ms);
        }
        break;
    }
    return 0;
}

static int press_settings(struct meter *m, enum meter_key key)
{
    struct lcd *l = &m->lcd;
    unsigned n = lcd_items();

    switch (key) {
    case METER_KEY_LEFT:
        l->item = (uint8_t)((l->item + n - 1) % n);
        break;
    case METER_KEY_DOWN:
        l->item = (uint8_t)((l->item + 1) % n);
        break;
    case METER_KEY_ENTER:
        if (lcd_item_kind(l->item) == LCD_ITEM_END) {
            go(l, LCD_MEASURE);
        } else {
            lcd_item_load(m, l->item, l->val);
            l->cursor = 0;
            l->mode = LCD_EDIT;
        }
        break;
    }
    return 0;
}

static int press_edit(struct meter *m, enum meter_key key, int64_t now_ms)
{
    struct lcd *l = &m->lcd;
    unsigned size = lcd_item_size(l->item);
    bool digits = lcd_item_kind(l->item) == LCD_ITEM_DIGITS;

    switch (key) {
    case METER_KEY_LEFT:
        if (digits)
            l->cursor = (uint8_t)((l->cursor + 1) % size);
        break;
    case METER_KEY_DOWN:
        if (digits)
            l->val[l->cursor] = (uint8_t)((l->val[l->cursor] + 1) % 10);
        else
            l->val[0] = (uint8_t)((l->val[0] + 1) % size);
        break;
    case METER_KEY_ENTER:
        if (lcd_item_store(m, l->item, l->val) != CORE_OK) {
            show_error(l, LCD_SETTINGS, now_ms);
            return 0;
        }
        l->mode = LCD_SETTINGS;
        return 1;
    }
    return 0;
}

int lcd_key(struct meter *m, enum meter_key key, enum meter_key_event ev,
            int64_t now_ms)
{
    struct lcd *l = &m->lcd;
    unsigned bit;

    if ((unsigned)key > METER_KEY_ENTER || (unsigned)ev > METER_KEY_RELEASE)
        return CORE_EINVAL;
    bit = 1u << key;
    lcd_tick(m, now_ms);
    if (ev == METER_KEY_RELEASE) {
        l->held &= (uint8_t)~bit;
        return 0;
    }
    l->held |= (uint8_t)bit;
    l->key_ms = now_ms;
    if (key == METER_KEY_LEFT) {
        l->left_ms = now_ms;
        l->long_done = false;
    }
    switch (l->mode) {
    case LCD_PASSWORD:
        return press_password(m, key, now_ms);
    case LCD_SETTINGS:
        return press_settings(m, key);
    case LCD_EDIT:
        return press_edit(m, key, now_ms);
    case LCD_ERROR:
        leave_error(l);     /* any key acknowledges the message */
        return 0;
    default:
        return press_display(m, key);
    }
}

/* The icons every page shares: relay, communication, uplink, alarm, the
 * set-up marker, and the rate in force on measurement and clock pages. */
static uint32_t status_icons(const struct meter *m, int64_t now_ms)
{
    const struct lcd *l = &m->lcd;
    uint32_t icons = 0;

    if (!m->relay_closed)
        icons |= LCD_ICON_RELAY_OFF;
    if (l->comm_seen && now_ms >= l->comm_ms &&
        now_ms - l->comm_ms < LCD_COMM_MS)
        icons |= LCD_ICON_COMM;
    if (m->set.comm.uplink == METER_UPLINK_MQTT)
        icons |= LCD_ICON_4G;
    if (m->prepaid.alarm)
        icons |= LCD_ICON_ALARM;
    if (!display_group(l))
        icons |= LCD_ICON_SET;
    if ((l->mode == LCD_MEASURE || l->mode == LCD_CLOCK) &&
        m->rate >= 1 && m->rate <= 4)
        icons |= (uint32_t)LCD_ICON_T1 << (m->rate - 1);
    return icons;
}

void lcd_frame(const struct meter *m, int64_t now_ms, struct lcd_frame *out)
{
    const struct lcd *l = &m->lcd;

    *out = (struct lcd_frame){ .minus = false };
    switch (l->mode) {
    case LCD_PASSWORD:
        seg_text(out->digit, LCD_DIGITS, 0, "CodE");
        for (unsigned k = 0; k < PASSWORD_DIGITS; k++)
            out->digit[4 + k] = seg_char((char)('0' + l->val[k]));
        out->flash = (uint8_t)(1u << (4 + l->cursor));
        break;
    case LCD_SETTINGS: {
        uint8_t val[LCD_EDIT_MAX] = { 0 };
        lcd_item_load(m, l->item, val);
        lcd_item_render(m, l->item, val, -1, out);
        break;
    }
    case LCD_EDIT:
        lcd_item_render(m, l->item, l->val, l->cursor, out);
        break;
    case LCD_ERROR:
        seg_text(out->digit, LCD_DIGITS, 2, "Err");
        break;
    default:
        lcd_page_render(m, l->mode, l->page, out);
        break;
    }
    out->icons |= status_icons(m, now_ms);
    /* the edited value blinks, starting visible at each key press */
    if (out->flash && since(now_ms, l->key_ms) % (2 * LCD_BLINK_MS) >=
                      LCD_BLINK_MS) {
        for (unsigned k = 0; k < LCD_DIGITS; k++)
            if (out->flash & (1u << k))
                out->digit[k] &= SEG_DP;
    }
}
