#include "sim/tui/tui_scope.h"

#include <math.h>
#include <stdio.h>

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

void tui_scope_draw(WINDOW *win, int y, int x, int h, int width,
                    const struct tui_scope *s,
                    const struct tui_glass_style *st, attr_t v_attr,
                    attr_t i_attr)
{
    int rows = h - 2, cols = width - 2;
    char title[128];
    double vp = s->v_peak > 1.0 ? s->v_peak * 1.1 : 1.0;
    double ip = s->i_peak > 0.01 ? s->i_peak * 1.1 : 0.01;

    if (rows < 3 || cols < 8)
        return;
    snprintf(title, sizeof title, "scope %.2f Hz  *U %.0f Vpk  oI %.2f Apk",
             s->f, s->v_peak, s->i_peak);
    tui_box(win, y, x, h, width, title, st);
    int mid = (rows - 1) / 2;
    for (int c = 0; c < cols; c++)
        mvwaddstr(win, y + 1 + mid, x + 1 + c, st->unicode ? "\u00b7" : ".");
    if (s->n == 0)
        return;
    for (int c = 0; c < cols; c++) {
        unsigned k = (unsigned)((double)c * s->n / cols);
        if (k >= s->n)
            k = s->n - 1;
        wattron(win, i_attr);
        mvwaddch(win, y + 1 + row_of(s->i[k], ip, rows), x + 1 + c, 'o');
        wattroff(win, i_attr);
        wattron(win, v_attr);
        mvwaddch(win, y + 1 + row_of(s->v[k], vp, rows), x + 1 + c, '*');
        wattroff(win, v_attr);
    }
}
