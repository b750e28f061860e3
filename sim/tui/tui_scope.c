#include "sim/tui/tui_scope.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void tui_scope_capture(struct tui_scope *s, const struct wave *w)
{
    static int32_t vc[TUI_SCOPE_MAX], ic[TUI_SCOPE_MAX];
    struct wave copy = *w;      /* the engine's front end stays as it is */
    double f = copy.cfg.f > 1.0 ? copy.cfg.f : 50.0;
    unsigned cycle = (unsigned)(copy.cfg.sample_rate / f + 0.5);
    unsigned take, start = 0;

    if (cycle < 8)
        cycle = 8;
    if (cycle > TUI_SCOPE_MAX / 3)
        cycle = TUI_SCOPE_MAX / 3;
    take = 3 * cycle;
    wave_generate(&copy, vc, ic, take);
    /* trigger: the first rising zero crossing of the voltage */
    for (unsigned k = 1; k < cycle + 1; k++) {
        if (vc[k - 1] < 0 && vc[k] >= 0) {
            start = k;
            break;
        }
    }
    s->n = 2 * cycle;
    s->f = f;
    s->v_peak = s->i_peak = 0.0;
    for (unsigned k = 0; k < s->n; k++) {
        s->v[k] = vc[start + k] * copy.cfg.ch[WAVE_V].lsb;
        s->i[k] = ic[start + k] * copy.cfg.ch[WAVE_I].lsb;
        if (fabs(s->v[k]) > s->v_peak)
            s->v_peak = fabs(s->v[k]);
        if (fabs(s->i[k]) > s->i_peak)
            s->i_peak = fabs(s->i[k]);
    }
}

/* The row of value x in a plot of `rows` rows, full scale at +-peak. */
static int row_of(double x, double peak, int rows)
{
    double half = (rows - 1) / 2.0;
    int r = (int)lround(half - x / peak * half);
    return r < 0 ? 0 : r >= rows ? rows - 1 : r;
}

/* The sample shown in column c of `cols`. */
static unsigned sample_at(const struct tui_scope *s, int c, int cols)
{
    unsigned k = (unsigned)((double)c * s->n / cols);
    return k < s->n ? k : s->n - 1;
}

/* Braille cells (U+2800 + 8 dot bits): dot (dx, dy) of a 2 x 4 cell. */
static const uint8_t braille_bit[4][2] = {
    { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 },
};

/* One trace in dots: each dot column joined to the previous one, so a
 * steep edge stays a line. */
static void braille_trace(uint8_t *cells, int rows, int cols,
                          const struct tui_scope *s, const double *x,
                          double peak)
{
    int dots_y = rows * 4, dots_x = cols * 2, prev = -1;

    for (int dx = 0; dx < dots_x; dx++) {
        int dy = row_of(x[sample_at(s, dx, dots_x)], peak, dots_y);
        int lo = prev < 0 ? dy : prev < dy ? prev + 1 : dy;
        int hi = prev < 0 ? dy : prev > dy ? prev - 1 : dy;
        for (int y = lo; y <= hi; y++)
            cells[(y / 4) * cols + dx / 2] |= braille_bit[y % 4][dx % 2];
        prev = dy;
    }
}

static void put_braille(WINDOW *win, int y, int x, uint8_t bits)
{
    /* U+2800 + bits in UTF-8: E2 A0|bits>>6 80|bits&3F */
    char cell[4] = { (char)0xe2, (char)(0xa0 | bits >> 6),
                     (char)(0x80 | (bits & 0x3f)), 0 };
    mvwaddstr(win, y, x, cell);
}

/* Unicode terminals: Braille dots, 2 x 4 per cell, the voltage's cells
 * in its colour, the current's in its own (a cell both cross: voltage). */
static void draw_braille(WINDOW *win, int y, int x, int rows, int cols,
                         const struct tui_scope *s, double vp, double ip,
                         attr_t v_attr, attr_t i_attr)
{
    uint8_t v[TUI_SCOPE_CELLS], i[TUI_SCOPE_CELLS];

    if (rows * cols > TUI_SCOPE_CELLS)
        rows = TUI_SCOPE_CELLS / cols;
    int axis = (rows * 4 - 1) / 2;      /* of the rows drawn */
    memset(v, 0, sizeof v);
    memset(i, 0, sizeof i);
    braille_trace(v, rows, cols, s, s->v, vp);
    braille_trace(i, rows, cols, s, s->i, ip);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            uint8_t vb = v[r * cols + c], ib = i[r * cols + c];
            uint8_t bits = vb | ib;
            if (axis / 4 == r && !bits)
                bits = braille_bit[axis % 4][0];  /* the zero line */
            attr_t a = vb ? v_attr : ib ? i_attr : 0;
            if (a)
                wattron(win, a);
            put_braille(win, y + r, x + c, bits);
            if (a)
                wattroff(win, a);
        }
    }
}

/* Other terminals: a character a column, voltage '*', current 'o'. */
static void draw_chars(WINDOW *win, int y, int x, int rows, int cols,
                       const struct tui_scope *s, double vp, double ip,
                       attr_t v_attr, attr_t i_attr)
{
    int mid = (rows - 1) / 2;

    for (int c = 0; c < cols; c++)
        mvwaddch(win, y + mid, x + c, '.');
    for (int c = 0; c < cols; c++) {
        unsigned k = sample_at(s, c, cols);
        wattron(win, i_attr);
        mvwaddch(win, y + row_of(s->i[k], ip, rows), x + c, 'o');
        wattroff(win, i_attr);
        wattron(win, v_attr);
        mvwaddch(win, y + row_of(s->v[k], vp, rows), x + c, '*');
        wattroff(win, v_attr);
    }
}

void tui_scope_draw(WINDOW *win, int y, int x, int h, int width,
                    const struct tui_scope *s,
                    const struct tui_glass_style *st, attr_t v_attr,
                    attr_t i_attr)
{
    int rows = h - 2, cols = width - 2;
    char title[128];
    double vp = s->v_peak > 1.0 ? s->v_peak * 1.1 : 1.0;
    double ip = s->i_peak > 0.01 ? s->i_peak * 1.1 : 0.01;

    if (rows < 1 || cols < 8)
        return;
    snprintf(title, sizeof title, "scope %.2f Hz  %sU %.0f Vpk  %sI %.2f Apk",
             s->f, st->unicode ? "" : "*", s->v_peak, st->unicode ? "" : "o",
             s->i_peak);
    tui_box(win, y, x, h, width, title, st);
    if (s->n == 0)
        return;
    if (st->unicode)
        draw_braille(win, y + 1, x + 1, rows, cols, s, vp, ip, v_attr,
                     i_attr);
    else
        draw_chars(win, y + 1, x + 1, rows, cols, s, vp, ip, v_attr, i_attr);
}
