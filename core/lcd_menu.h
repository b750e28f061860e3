/*
 * Internal to the core: the menu's entry points (lcd.c, behind meter_key
 * and the meter_lcd_* calls of meter.h), and what the menu asks of the
 * display pages (lcd_pages.c) and of the parameter list (lcd_settings.c).
 */
#ifndef CORE_LCD_MENU_H
#define CORE_LCD_MENU_H

#include "lcd.h"
#include "meter.h"

/* Power-on: the first measurement page, nothing held. */
void lcd_init(struct lcd *l);

/* The implementations of meter_key, meter_lcd_tick, meter_lcd_frame and
 * meter_lcd_comm (meter.h). */
int lcd_key(struct meter *m, enum meter_key key, enum meter_key_event ev,
            int64_t now_ms);
int lcd_tick(struct meter *m, int64_t now_ms);
void lcd_frame(const struct meter *m, int64_t now_ms, struct lcd_frame *out);
void lcd_comm(struct meter *m, int64_t now_ms);

/* ---- display pages: LCD_MEASURE, LCD_ENERGY, LCD_CLOCK ---- */

/* Pages in a display group (the credit page only with prepaid on). */
unsigned lcd_pages(const struct meter *m, unsigned group);

/* Draw a page (page taken modulo the group's pages) into a blank frame. */
void lcd_page_render(const struct meter *m, unsigned group, unsigned page,
                     struct lcd_frame *f);

/* ---- the parameter list: LCD_SETTINGS, LCD_EDIT ---- */

enum lcd_item_kind {
    LCD_ITEM_DIGITS = 0,        /* decimal digits, ← picks, ↓ adds 1 */
    LCD_ITEM_CHOICE = 1,        /* one of a list, ↓ steps through it */
    LCD_ITEM_END = 2,           /* ENTER leaves the set-up */
};

/* Parameters in the list. */
unsigned lcd_items(void);

/* An item's kind, and its size: digits edited, or choices. */
unsigned lcd_item_kind(unsigned item);
unsigned lcd_item_size(unsigned item);

/* The item's current value as the editor holds it. */
void lcd_item_load(const struct meter *m, unsigned item, uint8_t *val);

/* Install an edited value, checked like a register write: CORE_OK (the
 * host is told: settings_changed), or CORE_ERANGE / CORE_EINVAL and
 * nothing changes. */
int lcd_item_store(struct meter *m, unsigned item, const uint8_t *val);

/* Draw an item holding val into a blank frame; cursor: the edited digit
 * (or 0 for a choice) made to flash, or -1 when not editing. */
void lcd_item_render(const struct meter *m, unsigned item,
                     const uint8_t *val, int cursor, struct lcd_frame *f);

#endif
