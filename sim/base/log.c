#include "sim/base/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level max_level = LOG_INFO;
static log_sink_fn *sink;
static void *sink_ctx;

void log_set_sink(log_sink_fn *fn, void *ctx)
{
    sink = fn;
    sink_ctx = ctx;
}

static log_sink_fn *tap;
static void *tap_ctx;

void log_set_tap(log_sink_fn *fn, void *ctx)
{
    tap = fn;
    tap_ctx = ctx;
}

static log_interrupt_fn *interrupt_fn;
static void *interrupt_ctx;

void log_set_interrupt(log_interrupt_fn *fn, void *ctx)
{
    interrupt_fn = fn;
    interrupt_ctx = ctx;
}

void log_interrupt(void)
{
    if (interrupt_fn)
        interrupt_fn(interrupt_ctx);
}

void log_set_level(enum log_level level)
{
    max_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const tag[] = { "error: ", "warning: ", "", "" };
    char line[1024];
    va_list ap;

    if (level > max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tap)
        tap(tap_ctx, level, line);
    if (sink) {
        char tagged[1100];
        snprintf(tagged, sizeof tagged, "%s%s", tag[level], line);
        sink(sink_ctx, level, tagged);
        return;
    }
    log_interrupt();
    /* one write per line, so lines from several sources never interleave */
    fprintf(stderr, "kpm31c-sim: %s%s\n", tag[level], line);
}
