#include "sim/tui/tui_glass.h"

#include <stdio.h>
#include <string.h>

#define CELL_W 8                /* columns per position */
#define DIGIT0 4                /* column of position 0 (after the sign) */
#define UNIT_COL 68
#define ICON_ROW 8

/* The icons drawn by name on the icon row, at fixed columns. */
static const struct { uint32_t bit; int col; const char *name; } names[] = {
    { LCD_ICON_T1, 0, "T1" }, { LCD_ICON_T2, 3, "T2" },
    { LCD_ICON_T3, 6, "T3" }, { LCD_ICON_T4, 9, "T4" },
    { LCD_ICON_TOTAL, 13, "TOTAL" }, { LCD_ICON_IMP, 19, "IMP" },
    { LCD_ICON_EXP, 23, "EXP" }, { LCD_ICON_LAST, 27, "LAST" },
    { LCD_ICON_CLOCK, 33, "CLOCK" }, { LCD_ICON_SET, 39, "SET" },
    { LCD_ICON_RELAY_OFF, 44, "RELAY OFF" }, { LCD_ICON_COMM, 55, "COM" },
    { LCD_ICON_4G, 59, "4G" }, { LCD_ICON_ALARM, 63, "ALARM" },
};

/* The units, by the same rule: shown right of the last position. */
static const struct { uint32_t bit; const char *name; } units[] = {
    { LCD_ICON_V, "V" }, { LCD_ICON_A, "A" }, { LCD_ICON_KW, "kW" },
    { LCD_ICON_KVAR, "kvar" }, { LCD_ICON_KVA, "kVA" },
    { LCD_ICON_HZ, "Hz" }, { LCD_ICON_PF, "PF" }, { LCD_ICON_KWH, "kWh" },
    { LCD_ICON_KVARH, "kvarh" },
};

static void hbar(WINDOW *w, int y, int x, int n, const struct tui_glass_style *st)
{
    for (int k = 0; k < n; k++)
        mvwaddstr(w, y, x + k, st->unicode ? "\u2501" : "-");
}

static void vbar(WINDOW *w, int y, int x, const struct tui_glass_style *st)
{
    mvwaddstr(w, y, x, st->unicode ? "\u2503" : "|");
    mvwaddstr(w, y + 1, x, st->unicode ? "\u2503" : "|");
}

static void draw_digit(WINDOW *w, int y, int x, uint8_t seg,
                       const struct tui_glass_style *st)
{
    if (seg & SEG_A) hbar(w, y, x + 1, 4, st);
    if (seg & SEG_F) vbar(w, y + 1, x, st);
    if (seg & SEG_B) vbar(w, y + 1, x + 5, st);
    if (seg & SEG_G) hbar(w, y + 3, x + 1, 4, st);
    if (seg & SEG_E) vbar(w, y + 4, x, st);
    if (seg & SEG_C) vbar(w, y + 4, x + 5, st);
    if (seg & SEG_D) hbar(w, y + 6, x + 1, 4, st);
    if (seg & SEG_DP)
        mvwaddstr(w, y + 6, x + 6, st->unicode ? "\u25aa" : "o");
}

void tui_box(WINDOW *w, int y, int x, int h, int width, const char *title,
             const struct tui_glass_style *st)
{
    const char *hz = st->unicode ? "\u2500" : "-";
    const char *vt = st->unicode ? "\u2502" : "|";

    wattron(w, st->frame);
    mvwaddstr(w, y, x, st->unicode ? "\u250c" : "+");
    mvwaddstr(w, y, x + width - 1, st->unicode ? "\u2510" : "+");
    mvwaddstr(w, y + h - 1, x, st->unicode ? "\u2514" : "+");
    mvwaddstr(w, y + h - 1, x + width - 1, st->unicode ? "\u2518" : "+");
    for (int k = 1; k < width - 1; k++) {
        mvwaddstr(w, y, x + k, hz);
        mvwaddstr(w, y + h - 1, x + k, hz);
    }
    for (int r = 1; r < h - 1; r++) {
        mvwaddstr(w, y + r, x, vt);
        mvwaddstr(w, y + r, x + width - 1, vt);
    }
    if (title)
        mvwprintw(w, y, x + 2, " %s ", title);
    wattroff(w, st->frame);
}

void tui_glass_draw(WINDOW *w, int y, int x, const struct lcd_frame *f,
                    const char *title, const struct tui_glass_style *st)
{
    int iy = y + 1, ix = x + 2;
    char unit[32] = "";

    tui_box(w, y, x, TUI_GLASS_H, TUI_GLASS_W, title, st);
    wattron(w, st->lit);
    if (f->minus)
        hbar(w, iy + 3, ix, 3, st);
    for (int k = 0; k < LCD_DIGITS; k++)
        draw_digit(w, iy, ix + DIGIT0 + CELL_W * k, f->digit[k], st);
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        if (!(f->icons & units[k].bit))
            continue;
        if (unit[0])
            strncat(unit, " ", sizeof unit - strlen(unit) - 1);
        strncat(unit, units[k].name, sizeof unit - strlen(unit) - 1);
    }
    unit[TUI_GLASS_W - 3 - UNIT_COL] = '\0';   /* up to the border */
    mvwaddstr(w, iy + 6, ix + UNIT_COL, unit);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (f->icons & names[k].bit)
            mvwaddstr(w, iy + ICON_ROW, ix + names[k].col, names[k].name);
    wattroff(w, st->lit);
}

void tui_glass_keys(WINDOW *w, int y, int x, const bool down[3],
                    const struct tui_glass_style *st)
{
    static const char *const uni[3] = { "[ \u25c0 ]", "[ \u25bc ]", "[ENTER]" };
    static const char *const asc[3] = { "[ < ]", "[ v ]", "[ENTER]" };
    int col = x + 2;

    for (int k = 0; k < 3; k++) {
        if (down[k])
            wattron(w, st->pressed);
        mvwaddstr(w, y, col, st->unicode ? uni[k] : asc[k]);
        if (down[k])
            wattroff(w, st->pressed);
        col += k == 2 ? 9 : 7;
    }
    mvwaddstr(w, y, col, st->unicode ?
              "\u2190 h  \u2193 j  \u21b5 Enter  L = hold \u2190 3 s  "
              "Tab meter  q quit" :
              "< h  v j  Enter  L = hold < 3 s  Tab meter  q quit");
}

void tui_glass_text(const struct lcd_frame *f, char *out, size_t len)
{
    size_t n = 0;

    if (len == 0)
        return;
    if (f->minus && len > 1)
        out[n++] = '~';
    seg_row_text(f->digit, LCD_DIGITS, out + n, (unsigned)(len - n));
}
