/*
 * The TUI's life: taking the terminal and giving it back on every way
 * out, the loop's watchers (keys, redraw, resize, hangup), and the
 * layout of the glass and the panels.
 */
#define _GNU_SOURCE
#include "sim/tui/tui.h"

#include <curses.h>
#include <errno.h>
#include <ev.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "sim/base/caption.h"
#include "sim/base/log.h"
#include "core/meter.h"
#include "sim/base/timeparse.h"
#include "sim/base/monotonic.h"
#include "sim/tui/tui_glass.h"
#include "sim/tui/tui_keys.h"
#include "sim/tui/tui_lines.h"
#include "sim/tui/tui_scope.h"

#define REDRAW_S 0.1                /* 10 Hz */
#define STATUS_W 36                 /* the status box beside the glass */
#define CAPTION_H 1                 /* the caption bar, the top row */
#define MAX_EMPTY_READS 50          /* stdin readable with nothing: gone */

struct tui {
    struct tui_config cfg;
    struct ev_loop *loop;
    SCREEN *screen;
    ev_io input;
    ev_timer redraw;
    ev_signal winch, hup;
    struct tui_keys keys;
    unsigned shown;                 /* the meter on the glass */
    struct tui_glass_style style;
    attr_t warn, error, v_attr, i_attr, caption_attr;
    struct tui_lines log, modbus, mqtt;
    struct tui_scope scope;
    unsigned empty_reads;
    bool log_to_stderr;             /* stderr is no terminal: keep it too */
};

/* ---- the terminal on every way out ---- */

static const int fatal_signals[] = {
    SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT,
};
#define NFATAL (sizeof fatal_signals / sizeof fatal_signals[0])

static struct tui *active;          /* the TUI up now, for the handlers */
static struct termios saved_tio;    /* the terminal's modes before us */
static char reset_seq[256];         /* what puts the screen back */
static size_t reset_len;
static struct sigaction saved_act[NFATAL];

/* Async-signal-safe: restore the terminal's modes and screen. */
static void terminal_reset_raw(void)
{
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    if (reset_len) {
        ssize_t n = write(STDOUT_FILENO, reset_seq, reset_len);
        (void)n;
    }
}

static void on_fatal(int sig)
{
    /* SA_RESETHAND made the default action current again: after putting
     * the terminal back, the signal goes on to kill (and dump) as usual */
    terminal_reset_raw();
    raise(sig);
}

static void collect_reset(void)
{
    static const char *const caps[] = { "rmcup", "rmkx", "cnorm", "sgr0" };

    reset_len = 0;
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        char *s = tigetstr((char *)caps[k]);
        if (!s || s == (char *)-1)
            continue;
        size_t n = strlen(s);
        if (reset_len + n < sizeof reset_seq) {
            memcpy(reset_seq + reset_len, s, n);
            reset_len += n;
        }
    }
}

static void install_fatal(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < NFATAL; k++)
        sigaction(fatal_signals[k], &sa, &saved_act[k]);
}

static void remove_fatal(void)
{
    for (size_t k = 0; k < NFATAL; k++)
        sigaction(fatal_signals[k], &saved_act[k], NULL);
}

/* exit() while the TUI is up (a path that never returns to main). */
static void at_exit(void)
{
    if (active)
        tui_close(active);
}

static struct meter *shown_core(struct tui *t)
{
    return &t->cfg.engine->meters[t->shown].core;
}

/* ---- what comes in: keys, log lines, traffic ---- */

static void emit_key(void *ctx, enum meter_key key, enum meter_key_event ev,
                     int64_t now_ms)
{
    struct tui *t = ctx;
    const char *before = engine_cause(t->cfg.engine, "keys");
    int changed = meter_key(shown_core(t), key, ev, now_ms);

    engine_cause(t->cfg.engine, before);
    if (changed == 1) {
        if (t->cfg.changed)
            t->cfg.changed(t->cfg.ctx);
    }
}

static void on_log(void *ctx, enum log_level level, const char *line)
{
    struct tui *t = ctx;

    tui_lines_add(&t->log, level == LOG_ERROR ? TUI_LINE_ERROR :
                  level == LOG_WARN ? TUI_LINE_WARN : TUI_LINE_NORMAL,
                  "%s", line);
    if (t->log_to_stderr)
        fprintf(stderr, "kpm31c-sim: %s\n", line);
}

static void vtime(const struct tui *t, char *buf, size_t len)
{
    char iso[32];
    time_format_iso(t->cfg.engine->now_ms / 1000, iso, sizeof iso);
    snprintf(buf, len, "%s", strchr(iso, 'T') ? strchr(iso, 'T') + 1 : iso);
}

static void on_traffic(void *ctx, struct sim_meter *sm, const char *transport,
                       int slave, const uint8_t *req, size_t reqlen,
                       const uint8_t *rsp, size_t rsplen)
{
    struct tui *t = ctx;
    char line[TUI_LINE_LEN], when[32];

    if (sm && rsp)
        meter_lcd_comm(&sm->core, monotonic_ms());
    tui_lines_modbus(line, sizeof line, transport, slave, req, reqlen, rsp,
                     rsplen);
    vtime(t, when, sizeof when);
    tui_lines_add(&t->modbus, rsp && rsplen > 0 ? TUI_LINE_NORMAL :
                  TUI_LINE_WARN, "%s %s", when, line);
}

void tui_mqtt(void *ctx, unsigned meter, bool out, const char *topic,
              const void *payload, size_t len)
{
    struct tui *t = ctx;
    char when[32];

    if (!t)
        return;
    vtime(t, when, sizeof when);
    tui_lines_add(&t->mqtt, TUI_LINE_NORMAL, "%s %s #%u %s %.*s", when,
                  out ? "->" : "<-", meter + 1, topic,
                  (int)(len > 160 ? 160 : len), (const char *)payload);
}

/* ---- drawing ---- */

/* An integer of the extension block (docs/registers.md), 0 if unread. */
static uint32_t reg_u32(const struct meter *m, uint16_t addr, uint16_t n)
{
    uint16_t r[2] = { 0, 0 };

    if (meter_reg_read(m, addr, n, r))
        return 0;
    return n == 2 ? (uint32_t)r[0] << 16 | r[1] : r[0];
}

static void status_lines(struct tui *t, char out[][160], unsigned *n)
{
    const struct engine *e = t->cfg.engine;
    const struct sim_meter *sm = &e->meters[t->shown];
    const struct meter *m = &sm->core;
    const struct meter_comm *c = meter_comm(m);
    const struct meter_measure *v = meter_measure(m);
    const struct vclock *vc = t->cfg.clock;
    static const char *const rates[] = { "?", "sharp", "peak", "flat",
                                         "valley" };
    char clock[32], rtc[32], speed[32];
    unsigned k = 0, rate = meter_rate(m), reasons = meter_relay_reasons(m);
    float total = 0.0f;

    time_format_iso(e->now_ms / 1000, clock, sizeof clock);
    time_format_iso(meter_time(m), rtc, sizeof rtc);
    if (!vc || vc->max)
        snprintf(speed, sizeof speed, "max");
    else if (vc->speed == 0.0)
        snprintf(speed, sizeof speed, "frozen");
    else
        snprintf(speed, sizeof speed, "x%g", vc->speed);
    /* what the run achieves, when it is not what was asked */
    if (vc && vc->achieved > 0.0 &&
        (vc->max || vc->achieved < 0.98 * vc->speed)) {
        size_t len = strlen(speed);
        snprintf(speed + len, sizeof speed - len, " (x%.3g)", vc->achieved);
    }
    meter_reg_float(m, 0x0080, &total);

    snprintf(out[k++], 160, "clock  %s %s", clock, speed);
    snprintf(out[k++], 160, "RTC    %s T%u %s", rtc, rate,
             rates[rate <= 4 ? rate : 0]);
    snprintf(out[k++], 160, "scene  %s", t->cfg.scenario ?
             t->cfg.scenario : "steady load (--load)");
    snprintf(out[k++], 160, "load   %.1f V %.3f A %.1f W", (double)v->u,
             (double)v->i, (double)v->p);
    snprintf(out[k++], 160, "relay  %s%s%s%s", meter_relay_closed(m) ?
             "closed" : "OPEN:", reasons & PREPAID_OPEN_CREDIT ? " credit" : "",
             reasons & PREPAID_OPEN_POWER ? " over-power" : "",
             reasons & PREPAID_OPEN_REMOTE ? " remote" : "");
    if (meter_settings(m)->prepaid.enabled)
        snprintf(out[k++], 160, "credit %.3f kWh%s",
                 meter_credit_wh(m) / 1000.0,
                 reg_u32(m, REG_X_STATUS, 1) & 2u ? " LOW" : "");
    else
        snprintf(out[k++], 160, "credit - (prepaid off)");
    snprintf(out[k++], 160, "modbus slave %u %u 8%c1", c->slave, c->baud,
             c->parity == METER_PARITY_ODD ? 'O' :
             c->parity == METER_PARITY_NONE ? 'N' : 'E');
    snprintf(out[k++], 160, "4g_M   %s", c->uplink != METER_UPLINK_MQTT ?
             "Debug (uplink off)" : t->cfg.mqtt ? "Mqtt (uplink on)" :
             "Mqtt (no --mqtt broker)");
    snprintf(out[k++], 160, "energy %.2f kWh, %llu pulses", (double)total,
             (unsigned long long)meter_pulse_count(m));
    *n = k;
}

static void draw_small(struct tui *t, const struct lcd_frame *f, int rows,
                       int cols)
{
    char text[32];

    tui_glass_text(f, text, sizeof text);
    mvprintw(1, 0, "kpm31c-sim: the meter face needs %dx%d; this terminal "
             "is %dx%d", TUI_GLASS_W, CAPTION_H + TUI_GLASS_H + TUI_KEYS_H,
             cols, rows);
    mvprintw(2, 0, "meter %u: [%s]", t->shown + 1, text);
    mvprintw(3, 0, "keys: h/Left j/Down Enter, L = hold 3 s, q quit");
}

/* The status lines: in a box beside the glass (at row top) when the
 * terminal is wide enough, else in two rows under the keys. The first
 * row free below. */
static int draw_status(struct tui *t, int top, int rows, int cols)
{
    char status[12][160];
    unsigned nlines;
    int below = top + TUI_GLASS_H + TUI_KEYS_H;

    status_lines(t, status, &nlines);
    if (cols >= TUI_GLASS_W + STATUS_W) {
        int w = cols - TUI_GLASS_W;
        tui_box(stdscr, top, TUI_GLASS_W, TUI_GLASS_H, w, "status",
                &t->style);
        for (unsigned k = 0; k < nlines && (int)k < TUI_GLASS_H - 2; k++)
            mvaddnstr(top + 1 + (int)k, TUI_GLASS_W + 1, status[k], w - 2);
        return below;
    }
    /* two rows under the keys, the fields one after the other */
    int y = below, x = 0;
    for (unsigned k = 0; k < nlines; k++) {
        int len = (int)strlen(status[k]);
        if (x > 0 && x + 2 + len > cols) {
            if (y == below + 1)
                break;
            y++;
            x = 0;
        }
        if (y >= rows)
            break;
        mvaddnstr(y, x ? x + 2 : 0, status[k], cols - x);
        x += (x ? 2 : 0) + len;
    }
    return below + 2;
}

static void draw_scope(struct tui *t, int y, int x, int h, int w)
{
    tui_scope_capture(&t->scope, &t->cfg.engine->meters[t->shown].wave);
    tui_scope_draw(stdscr, y, x, h, w, &t->scope, &t->style, t->v_attr,
                   t->i_attr);
}

static void draw_lines(struct tui *t, int y, int x, int h, int w,
                       const char *title, const struct tui_lines *l,
                       const char *empty)
{
    tui_lines_draw(stdscr, y, x, h, w, title, l, empty, &t->style, t->warn,
                   t->error);
}

/* The panels from row y down: scope and MQTT on the left, Modbus and the
 * log on the right; in halves when there is room, else the scope and the
 * log get two thirds of their column; below 6 rows, the log alone. Every
 * panel shrinks before one goes, and the log goes last: errors stay in
 * sight at 80x24. */
static void draw_panels(struct tui *t, int y, int rows, int cols)
{
    int left = cols / 2, right = cols - left, h = rows - y;
    const char *mqtt_empty = t->cfg.mqtt ? "(no message yet)" :
                             "(no uplink: --mqtt URI)";

    if (h < 3)
        return;
    if (h < 6) {
        draw_lines(t, y, 0, h, cols, "log", &t->log, "");
        return;
    }
    int small = h >= 14 ? h / 2 : h / 3 < 3 ? 3 : h / 3;
    draw_scope(t, y, 0, h - small, left);
    draw_lines(t, y + h - small, 0, small, left, "MQTT", &t->mqtt,
               mqtt_empty);
    draw_lines(t, y, left, small, right, "Modbus", &t->modbus,
               "(no frame yet)");
    draw_lines(t, y + small, left, h - small, right, "log", &t->log, "");
}

/* The top row, full width: the story's caption, else the keys. */
static void draw_caption(struct tui *t, int cols)
{
    const char *text = caption_current();
    attr_t a = text[0] ? t->caption_attr : A_DIM;

    attron(a);
    mvhline(0, 0, ' ', cols);
    if (text[0])
        mvaddnstr(0, 1, text, cols - 2);
    else
        mvaddnstr(0, 1, t->style.unicode ?
                  "keys: h \u2190  j \u2193  Enter  L hold \u2190 3 s  "
                  "Tab next meter  q quit" :
                  "keys: h left  j down  Enter  L hold left 3 s  "
                  "Tab next meter  q quit", cols - 2);
    attroff(a);
}

static void draw(struct tui *t)
{
    int rows, cols;
    int64_t now = monotonic_ms();
    struct lcd_frame f;
    char title[96];
    bool down[3];
    const struct engine *e = t->cfg.engine;

    getmaxyx(stdscr, rows, cols);
    erase();
    draw_caption(t, cols);
    meter_lcd_frame(shown_core(t), now, &f);
    if (cols < TUI_GLASS_W || rows < CAPTION_H + TUI_GLASS_H + TUI_KEYS_H) {
        draw_small(t, &f, rows, cols);
        refresh();
        return;
    }
    snprintf(title, sizeof title, "KPM31C  meter %u/%u  #%u", t->shown + 1,
             e->count, (unsigned)reg_u32(shown_core(t), REG_X_SERIAL, 2));
    tui_glass_draw(stdscr, CAPTION_H, 0, &f, title, &t->style);
    for (int k = 0; k < 3; k++)
        down[k] = tui_keys_shown_down(&t->keys, (enum meter_key)k, now);
    tui_glass_keys(stdscr, CAPTION_H + TUI_GLASS_H, 0, down, &t->style);
    draw_panels(t, draw_status(t, CAPTION_H, rows, cols), rows, cols);
    refresh();
}

/* ---- the loop's watchers ---- */

static void on_input(struct ev_loop *loop, ev_io *w, int revents)
{
    struct tui *t = w->data;
    int64_t now = monotonic_ms();
    unsigned got = 0;
    int ch;

    tui_keys_burst(&t->keys);
    while ((ch = getch()) != ERR) {
        got++;
        if (ch == KEY_RESIZE)
            continue;           /* SIGWINCH is ours: see on_winch */
        enum tui_action a = tui_keys_map(ch);
        switch (a) {
        case TUI_ACT_QUIT:
            log_info("q: %s", t->cfg.state ? "saving state and stopping"
                                          : "stopping");
            ev_break(loop, EVBREAK_ALL);
            return;
        case TUI_ACT_NEXT_METER:
        case TUI_ACT_PREV_METER:
            tui_keys_release_all(&t->keys, now);
            t->shown = (t->shown + (a == TUI_ACT_NEXT_METER ? 1 :
                        t->cfg.engine->count - 1)) % t->cfg.engine->count;
            break;
        default:
            tui_keys_action(&t->keys, a, now);
            break;
        }
    }
    if (got == 0 && ++t->empty_reads > MAX_EMPTY_READS) {
        log_warn("the terminal's input is gone: keys are off");
        ev_io_stop(loop, w);
    } else if (got) {
        t->empty_reads = 0;
    }
    draw(t);
}

static void on_redraw(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tui *t = w->data;
    int64_t now = monotonic_ms();

    tui_keys_poll(&t->keys, now);
    meter_lcd_tick(shown_core(t), now);
    draw(t);
}

static void on_winch(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct tui *t = w->data;
    struct winsize ws;

    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
        ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
    clearok(curscr, TRUE);
    draw(t);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct tui *t = w->data;
    log_info("Hangup: %s", t->cfg.state ? "saving state and stopping"
                                         : "stopping");
    ev_break(loop, EVBREAK_ALL);
}

/* ---- open and close ---- */

static void setup_style(struct tui *t)
{
    const char *cs = nl_langinfo(CODESET);

    t->style.unicode = cs && (!strcasecmp(cs, "UTF-8") ||
                              !strcasecmp(cs, "utf8"));
    t->style.lit = A_BOLD;
    t->style.frame = 0;
    t->style.pressed = A_REVERSE;
    t->warn = A_BOLD;
    t->error = A_BOLD | A_REVERSE;
    t->v_attr = A_BOLD;
    t->i_attr = 0;
    t->caption_attr = A_BOLD | A_REVERSE;
    if (has_colors() && start_color() == OK) {
        use_default_colors();
        init_pair(1, COLOR_CYAN, -1);       /* the glass */
        init_pair(2, COLOR_YELLOW, -1);     /* voltage, warnings */
        init_pair(3, COLOR_GREEN, -1);      /* current */
        init_pair(4, COLOR_RED, -1);        /* errors */
        init_pair(5, COLOR_BLACK, COLOR_CYAN);  /* the caption bar */
        t->style.lit = A_BOLD | COLOR_PAIR(1);
        t->warn = COLOR_PAIR(2);
        t->error = A_BOLD | COLOR_PAIR(4);
        t->v_attr = A_BOLD | COLOR_PAIR(2);
        t->i_attr = A_BOLD | COLOR_PAIR(3);
        t->caption_attr = A_BOLD | COLOR_PAIR(5);
    }
}

/* Why the terminal UI cannot come up here (err), or 0. */
static int tui_possible(const char *term, char *err, size_t errlen)
{
    if (active) {
        snprintf(err, errlen, "the terminal UI is already up");
        return -1;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        snprintf(err, errlen, "no terminal UI: stdin or stdout is not a "
                 "terminal");
        return -1;
    }
    if (!term || !*term || !strcmp(term, "dumb")) {
        snprintf(err, errlen, "no terminal UI: TERM is %s", term && *term ?
                 "dumb" : "not set");
        return -1;
    }
    return 0;
}

/* Take the terminal: save its modes, start curses in the modes the face
 * needs, and make every way out give it back. 0, or -1 with err. */
static int take_terminal(struct tui *t, const char *term, char *err,
                         size_t errlen)
{
    static bool at_exit_set;

    /* LC_CTYPE only: numbers in files and logs keep their C format */
    setlocale(LC_CTYPE, "");
    if (tcgetattr(STDIN_FILENO, &saved_tio)) {
        snprintf(err, errlen, "no terminal UI: %s", strerror(errno));
        return -1;
    }
    t->screen = newterm(NULL, stdout, stdin);
    if (!t->screen) {
        snprintf(err, errlen, "no terminal UI: unknown terminal type '%s'",
                 term);
        return -1;
    }
    set_term(t->screen);
    cbreak();                   /* Ctrl-C still interrupts: SIGINT */
    noecho();
    keypad(stdscr, TRUE);
    /* keypad Enter in application mode (ESC O M): not every terminfo
     * entry names it (screen's has no kent), and unnamed it would arrive
     * as three stray characters */
    if (key_defined("\033OM") <= 0)
        define_key("\033OM", KEY_ENTER);
    nodelay(stdscr, TRUE);
    intrflush(stdscr, FALSE);
    set_escdelay(25);
    curs_set(0);
    setup_style(t);
    collect_reset();
    active = t;
    install_fatal();
    if (!at_exit_set) {
        atexit(at_exit);
        at_exit_set = true;
    }
    return 0;
}

static void start_watchers(struct tui *t, struct ev_loop *loop)
{
    ev_io_init(&t->input, on_input, STDIN_FILENO, EV_READ);
    ev_timer_init(&t->redraw, on_redraw, REDRAW_S, REDRAW_S);
    ev_signal_init(&t->winch, on_winch, SIGWINCH);
    ev_signal_init(&t->hup, on_hup, SIGHUP);
    t->input.data = t->redraw.data = t->winch.data = t->hup.data = t;
    ev_io_start(loop, &t->input);
    ev_timer_start(loop, &t->redraw);
    ev_signal_start(loop, &t->winch);
    ev_signal_start(loop, &t->hup);
}

int tui_open(struct tui **out, struct ev_loop *loop,
             const struct tui_config *cfg, char *err, size_t errlen)
{
    struct tui *t;
    const char *term = getenv("TERM");

    *out = NULL;
    if (tui_possible(term, err, errlen))
        return -1;
    t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "no terminal UI: out of memory");
        return -1;
    }
    t->cfg = *cfg;
    t->loop = loop;
    if (take_terminal(t, term, err, errlen)) {
        free(t);
        return -1;
    }

    t->log_to_stderr = !isatty(STDERR_FILENO);
    log_set_sink(on_log, t);
    if (cfg->ports)
        bus_set_observer(&cfg->ports->bus, on_traffic, t);
    tui_keys_init(&t->keys, emit_key, t);
    log_info("meter face up: keys h (\u2190), j (\u2193), Enter; L holds "
             "\u2190 3 s; q quits (docs/lcd.md)");
    start_watchers(t, loop);
    draw(t);
    *out = t;
    return 0;
}

void tui_close(struct tui *t)
{
    if (!t || t != active)
        return;
    tui_keys_release_all(&t->keys, monotonic_ms());
    ev_io_stop(t->loop, &t->input);
    ev_timer_stop(t->loop, &t->redraw);
    ev_signal_stop(t->loop, &t->winch);
    ev_signal_stop(t->loop, &t->hup);
    if (t->cfg.ports)
        bus_set_observer(&t->cfg.ports->bus, NULL, NULL);
    log_set_sink(NULL, NULL);
    endwin();
    delscreen(t->screen);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    remove_fatal();
    active = NULL;
    /* what the screen showed and a user should not miss: warnings,
     * errors, and the last line (why it stopped) */
    if (!t->log_to_stderr) {
        for (unsigned back = t->log.count; back-- > 0;) {
            enum tui_line_kind kind;
            const char *line = tui_lines_get(&t->log, back, &kind);
            if (line && (kind != TUI_LINE_NORMAL || back == 0))
                fprintf(stderr, "kpm31c-sim: %s\n", line);
        }
    }
    free(t);
}
