#include "sim/tui/tui_lines.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void tui_lines_add(struct tui_lines *l, enum tui_line_kind kind,
                   const char *fmt, ...)
{
    va_list ap;
    char *dst = l->text[l->next];

    va_start(ap, fmt);
    vsnprintf(dst, TUI_LINE_LEN, fmt, ap);
    va_end(ap);
    /* one screen line each: control characters would move the cursor */
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = ' ';
    l->kind[l->next] = (uint8_t)kind;
    l->next = (l->next + 1) % TUI_LINES_MAX;
    if (l->count < TUI_LINES_MAX)
        l->count++;
}

const char *tui_lines_get(const struct tui_lines *l, unsigned back,
                          enum tui_line_kind *kind)
{
    if (back >= l->count)
        return NULL;
    unsigned k = (l->next + TUI_LINES_MAX - 1 - back) % TUI_LINES_MAX;
    if (kind)
        *kind = (enum tui_line_kind)l->kind[k];
    return l->text[k];
}

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static const char *exception_name(unsigned code)
{
    switch (code) {
    case 1: return "illegal function";
    case 2: return "illegal address";
    case 3: return "illegal value";
    case 4: return "device failure";
    case 6: return "busy";
    case 0x0B: return "no such unit";
    default: return "exception";
    }
}

void tui_lines_modbus(char *out, size_t len, const char *transport,
                      int slave, const uint8_t *req, size_t reqlen,
                      const uint8_t *rsp, size_t rsplen)
{
    bool tcp = transport && !strcmp(transport, "tcp");
    size_t head = tcp ? 7 : 1, tail = tcp ? 0 : 2;
    const uint8_t *pdu = req + head;
    size_t pdulen = reqlen >= head + tail ? reqlen - head - tail : 0;
    char what[64], answer[64];
    int n;

    if (pdulen == 0)
        snprintf(what, sizeof what, "(short frame)");
    else if ((pdu[0] == 3 || pdu[0] == 16) && pdulen >= 5)
        snprintf(what, sizeof what, "%02X %s 0x%04X x%u", pdu[0],
                 pdu[0] == 3 ? "read " : "write", be16(pdu + 1),
                 be16(pdu + 3));
    else if (pdu[0] == 6 && pdulen >= 5)
        snprintf(what, sizeof what, "06 write 0x%04X = %u", be16(pdu + 1),
                 be16(pdu + 3));
    else
        snprintf(what, sizeof what, "%02X", pdu[0]);

    if (!rsp) {
        snprintf(answer, sizeof answer, "no reply");
    } else {
        const uint8_t *r = rsp + head;
        size_t rlen = rsplen >= head + tail ? rsplen - head - tail : 0;
        if (rlen >= 2 && (r[0] & 0x80))
            snprintf(answer, sizeof answer, "ex %02X %s", r[1],
                     exception_name(r[1]));
        else
            snprintf(answer, sizeof answer, "ok");
    }
    n = snprintf(out, len, "%-3s #%-3d %-22s -> %s ", transport ? transport :
                 "?", slave, what, answer);
    for (size_t k = 0; k < reqlen && n > 0 && (size_t)n + 4 < len; k++)
        n += snprintf(out + n, len - (size_t)n, " %02x", req[k]);
}

void tui_lines_draw(WINDOW *w, int y, int x, int h, int width,
                    const char *title, const struct tui_lines *l,
                    const char *empty, const struct tui_glass_style *st,
                    attr_t warn, attr_t error)
{
    int rows = h - 2, cols = width - 2;

    if (rows < 1 || cols < 1)
        return;
    tui_box(w, y, x, h, width, title, st);
    if (l->count == 0 && empty)
        mvwaddnstr(w, y + 1, x + 1, empty, cols);
    for (int r = 0; r < rows; r++) {
        enum tui_line_kind kind = TUI_LINE_NORMAL;
        const char *text = tui_lines_get(l, (unsigned)(rows - 1 - r), &kind);
        if (!text)
            continue;
        attr_t a = kind == TUI_LINE_ERROR ? error :
                   kind == TUI_LINE_WARN ? warn : 0;
        if (a)
            wattron(w, a);
        mvwaddnstr(w, y + 1 + r, x + 1, text, cols);
        if (a)
            wattroff(w, a);
    }
}
