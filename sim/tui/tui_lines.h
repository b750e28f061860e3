/*
 * The TUI's scrolling panels: the latest lines of the log, of Modbus
 * traffic (each frame summarized: transport, slave, function, registers,
 * answer, request bytes) and of MQTT traffic, kept in fixed rings and
 * drawn newest at the bottom.
 */
#ifndef SIM_TUI_LINES_H
#define SIM_TUI_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "sim/tui/tui_glass.h"

#define TUI_LINES_MAX 200
#define TUI_LINE_LEN 256

enum tui_line_kind { TUI_LINE_NORMAL = 0, TUI_LINE_WARN, TUI_LINE_ERROR };

struct tui_lines {
    char text[TUI_LINES_MAX][TUI_LINE_LEN];
    uint8_t kind[TUI_LINES_MAX];    /* enum tui_line_kind */
    unsigned next;                  /* where the next line goes */
    unsigned count;                 /* lines held, <= TUI_LINES_MAX */
};

void tui_lines_add(struct tui_lines *l, enum tui_line_kind kind,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The line `back` lines before the newest (0 = newest), or NULL. */
const char *tui_lines_get(const struct tui_lines *l, unsigned back,
                          enum tui_line_kind *kind);

/* One Modbus frame as one line: "tcp #1   03 read  0x0030 x14  -> ok
 * 00 01 00 00 00 06 01 03 00 30 00 0e" (the request's bytes last). rsp
 * NULL: no reply. */
void tui_lines_modbus(char *out, size_t len, const char *transport,
                      int slave, const uint8_t *req, size_t reqlen,
                      const uint8_t *rsp, size_t rsplen);

/* A box of h rows and `width` columns at (y, x) holding the newest lines
 * (cut to the width), or `empty` while there are none; warn and error
 * lines in their attributes. */
void tui_lines_draw(WINDOW *w, int y, int x, int h, int width,
                    const char *title, const struct tui_lines *l,
                    const char *empty, const struct tui_glass_style *st,
                    attr_t warn, attr_t error);

#endif
